//! `sq host`: start-up, signals, graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use super::{log_format, log_sink, HostArgs, Sync};
use crate::api::{ApiSettings, App};
use crate::http::{serve, ConnectionStats, Limits};
use crate::tenancy::ledger::Ledger;
use crate::tenancy::{config, Tenancy};
use sq_store::{Store, StoreSettings, SyncMode};

/// Validates the flags, builds the tenancy, binds, and serves until SIGTERM/SIGINT.
pub fn run(args: HostArgs) -> Result<(), String> {
    let _log_flusher = init_logging()?;
    match args.key.as_deref() {
        Some("") => return Err("--key must not be empty".into()),
        Some(key) => config::check_presentable("--key", key).map_err(|e| e.0)?,
        None => {}
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let loaded = match &args.config {
        Some(path) => {
            // Absolute, so the fold can replace it (temp file and directory sync beside it).
            let path = cwd.join(path);
            let (mut ledger, loaded) = Ledger::load(&path, &cwd, None).map_err(|e| e.0)?;
            ledger.open_log().map_err(|e| e.0)?;
            loaded.create_directories().map_err(|e| e.0)?;
            for warning in &loaded.warnings {
                tracing::warn!("config: {warning}");
            }
            tracing::info!(
                tenants = loaded.tenant_count(),
                unfolded_admin_changes = ledger.unfolded(),
                "config loaded"
            );
            Some((path, (ledger, loaded)))
        }
        None => None,
    };
    let single_dir = match &loaded {
        Some(_) => None,
        None => {
            let dir = args.data_dir.clone().unwrap_or_else(|| cwd.clone());
            Some(config::prepare_directory("default", &dir).map_err(|e| e.0)?)
        }
    };
    // The journal lives beside the config (multi-tenant) or in the data directory.
    let journal: PathBuf = match (&loaded, &single_dir) {
        (Some((path, _)), _) => path.with_file_name("sq.journal"),
        (None, Some(dir)) => dir.join(".sq.journal"),
        (None, None) => cwd.join(".sq.journal"),
    };
    let file_limit = match crate::process::raise_open_file_limit() {
        Ok((before, after)) => {
            tracing::info!(before, after, "open-file limit");
            after
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit; assuming 1024");
            1024
        }
    };
    let max_open_logs = crate::process::log_file_budget(file_limit);
    tracing::info!(max_open_logs, "document log files kept open at most");
    let max_connections = match args.max_connections {
        Some(limit) => limit.max(1),
        None => crate::process::connection_budget(
            file_limit,
            crate::process::physical_memory().unwrap_or(1 << 30),
        ),
    };
    tracing::info!(max_connections, "connections served at once at most");
    let store = Store::new(StoreSettings {
        sync: match args.sync {
            Sync::Always => SyncMode::Always,
            Sync::Batch => SyncMode::Batch,
            Sync::Off => SyncMode::Off,
        },
        checkpoint_bytes: args.checkpoint_kb.saturating_mul(1024),
        max_resident_bytes: args.max_resident_mb.saturating_mul(1024 * 1024),
        max_view_bytes: args.max_response_mb.saturating_mul(1024 * 1024),
        journal: (args.sync == Sync::Batch).then_some(journal),
        idle_checkpoint: (args.idle_checkpoint_secs > 0)
            .then(|| Duration::from_secs(args.idle_checkpoint_secs)),
        max_open_logs,
        ..StoreSettings::default()
    })
    .map_err(|e| format!("cannot recover the journal: {e}"))?;
    let store = Arc::new(store);
    if let Some((path, _)) = &loaded {
        sweep_config_temp_files(path);
    }
    let tenancy = match (loaded, single_dir) {
        (Some((path, (ledger, loaded))), _) => {
            Tenancy::multi(path, cwd.clone(), ledger, loaded, store.clone())
        }
        (None, dir) => Tenancy::single(
            &store,
            dir.unwrap_or_else(|| cwd.clone()),
            args.key.as_deref(),
        ),
    };
    let tenancy = Arc::new(tenancy);
    let limits = Limits {
        max_header_bytes: args.max_header,
        max_body_bytes: args.max_body,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        request_timeout: Duration::from_secs(args.request_timeout),
        // A client that takes nothing for as long as a request may take to arrive has
        // stopped reading.
        write_idle_timeout: Duration::from_secs(args.request_timeout),
        max_connections,
        max_connections_per_address: args
            .max_connections_per_address
            .unwrap_or(max_connections.max(4) / 4),
        trusted_proxies: args.trust_proxy.clone(),
        ..Limits::default()
    };
    let connections = Arc::new(ConnectionStats::default());
    let app = Arc::new(App::new(
        tenancy.clone(),
        store.clone(),
        connections.clone(),
        ApiSettings {
            max_coordinate: args.max_coordinate,
            auth_failures_per_minute: args.auth_failures_per_minute,
        },
    ));

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        runtime.worker_threads(usize::from(workers));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        // Handlers go in before the port is announced: a signal sent right after must
        // find them, not the default action (which kills the process).
        let shutdown = shutdown_signal()?;
        let hangup =
            signal(SignalKind::hangup()).map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
        let address = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot bind {address}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        // Watching starts before the port is announced, so no change after it is missed.
        // Kept alive for the life of the server: dropping it stops the watching.
        let _watcher = match (&args.config, tenancy.as_multi()) {
            (Some(path), Some(_)) => match watch_config(tenancy.clone(), path) {
                Ok(watcher) => Some(watcher),
                Err(error) => {
                    tracing::warn!(%error, "cannot watch the config file; reload with SIGHUP or the API");
                    None
                }
            },
            _ => None,
        };
        // Scripts and tests wait for this line to know the port.
        println!("sq listening on http://{local}");
        tracing::info!(%local, "listening");
        tokio::spawn(reload_on_sighup(hangup, tenancy.clone()));

        tokio::spawn(store.clone().run_evictor());
        tokio::spawn(store.clone().run_idle_checkpoints());
        tokio::spawn(store.clone().checkpoint_leftover_logs());
        serve(listener, app, limits, connections, shutdown).await;
        store.checkpoint_all().await;
        // Leaves the config file with every admin change in it, for the operator to read.
        let folding = tenancy.clone();
        let _ = tokio::task::spawn_blocking(move || folding.as_multi().map(|m| m.fold_now())).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Removes temp files an admin edit left beside the config when the server was killed
/// between writing and renaming them.
fn sweep_config_temp_files(config: &std::path::Path) {
    let (Some(dir), Some(name)) = (config.parent(), config.file_name().and_then(|n| n.to_str()))
    else {
        return;
    };
    match sq_store::remove_stale_temp_files(dir, |target| target == name) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed temp files of the config a crash left"),
        Err(error) => tracing::warn!(%error, "cannot look for stale temp files of the config"),
    }
}

/// Logs go to stderr through a buffered background writer ([`log_sink`]): one line per
/// request written on the request path halved select throughput. The returned flusher
/// writes out what is buffered when the server stops.
fn init_logging() -> Result<log_sink::LogFlusher, String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (sink, flusher) = log_sink::start(std::io::stderr())
        .map_err(|e| format!("cannot start the log writer: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink);
    // A terminal gets tracing's coloured lines; files and pipes the cheaper plain ones.
    let _ = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder.try_init()
    } else {
        builder.event_format(log_format::LineFormat).try_init()
    };
    Ok(flusher)
}

/// Installs the SIGTERM and SIGINT handlers; the future resolves on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = int.recv() => tracing::info!("SIGINT: draining"),
        }
    })
}

/// Reloads the config on every SIGHUP (nothing to reload in single-tenant mode).
async fn reload_on_sighup(mut hangup: Signal, tenancy: Arc<Tenancy>) {
    while hangup.recv().await.is_some() {
        let tenancy = tenancy.clone();
        let outcome =
            tokio::task::spawn_blocking(move || tenancy.as_multi().map(|m| m.reload())).await;
        if let Ok(Some(Err(error))) = outcome {
            tracing::warn!(%error, "SIGHUP reload refused; keeping the current config");
        }
    }
}

/// Reloads the config when its file changes on disk (editors, `mv`, admin edits),
/// once changes have been quiet for a moment.
fn watch_config(
    tenancy: Arc<Tenancy>,
    path: &std::path::Path,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    const QUIET: Duration = Duration::from_millis(250);
    let path = std::path::absolute(path).map_err(notify::Error::io)?;
    let file_name = path.file_name().map(|n| n.to_owned());
    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Reads (ours included) touch access times: only content and names count.
        let relevant = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(notify::event::ModifyKind::Data(_))
                | EventKind::Modify(notify::event::ModifyKind::Name(_))
                | EventKind::Modify(notify::event::ModifyKind::Any)
        );
        if relevant
            && event
                .paths
                .iter()
                .any(|p| p.file_name() == file_name.as_deref())
        {
            let _ = changed.send(());
        }
    })?;
    let dir = path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            // Debounce: an editor's save is often several events.
            loop {
                match tokio::time::timeout(QUIET, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            let tenancy = tenancy.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                tenancy.as_multi().and_then(|m| m.reload_if_edited())
            })
            .await;
            if let Ok(Some(Err(error))) = outcome {
                tracing::warn!(%error, "changed config refused; keeping the current one");
            }
        }
    });
    Ok(watcher)
}
