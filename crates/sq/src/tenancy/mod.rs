//! Who may use the server: the single-tenant modes, the multi-tenant registry built
//! from the config file, its atomic reload, and the admin changes to it (recorded in a
//! change log beside the file and folded into it in the background).

pub mod admin;
pub mod changes;
pub mod config;
pub mod ledger;
pub mod limits;
pub mod stats;
pub mod token;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use changes::Change;
use config::{Config, ConfigError, TenantEntry};
use ledger::Ledger;
use limits::RateLimit;
use sq_store::{Directory, Store, TenantId};
use stats::TenantStats;
use token::TokenDigest;

/// A tenant as requests see it.
pub struct Tenant {
    /// Display name (logged; never the token).
    pub name: String,
    /// What the store knows it by.
    pub id: TenantId,
    /// A disabled tenant is refused with 403.
    pub enabled: bool,
    /// Where its documents live (canonical path).
    pub data_dir: PathBuf,
    /// Its documents.
    pub directory: Arc<Directory>,
    /// Storage quota in bytes, if any.
    pub quota_bytes: Option<u64>,
    /// Its request budget, if limited.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// Its counters (kept across reloads).
    pub stats: Arc<TenantStats>,
}

/// What a tenant keeps across reloads: its counters and its rate limiter.
type Kept = (Arc<TenantStats>, Option<Arc<RateLimit>>);

struct Keyed {
    tenant: Arc<Tenant>,
    expires_at: Option<u64>,
}

/// The tenants of one config generation, looked up by token digest.
pub struct Registry {
    by_token: HashMap<TokenDigest, Keyed>,
    by_name: BTreeMap<String, Arc<Tenant>>,
    admin: Option<TokenDigest>,
}

impl Registry {
    /// The number of distinct tenants.
    pub fn tenant_count(&self) -> usize {
        self.by_name.len()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_name.values()
    }

    /// The tenants named after `after` (all, without it), in name order.
    pub fn tenants_after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a Arc<Tenant>> + 'a {
        use std::ops::Bound;
        let from = match after {
            Some(name) => Bound::Excluded(name.to_owned()),
            None => Bound::Unbounded,
        };
        self.by_name
            .range((from, Bound::Unbounded))
            .map(|(_, tenant)| tenant)
    }

    /// One tenant by name.
    pub fn tenant(&self, name: &str) -> Option<&Arc<Tenant>> {
        self.by_name.get(name)
    }
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a key may do with its tenant's documents. Every key is an owner key today; read
/// and write keys come with scoped keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read documents.
    Read,
    /// Read and write documents.
    Write,
    /// Everything a tenant may do, including managing its own keys.
    Owner,
}

/// Who is calling, as their credential says.
#[derive(Clone)]
pub enum Principal {
    /// No credential, or one that opens nothing.
    Anonymous,
    /// A key of a tenant (multi-tenant mode).
    Key {
        /// The tenant it opens.
        tenant: Arc<Tenant>,
        /// What it may do there.
        scope: Scope,
    },
    /// The operator's admin token (multi-tenant mode).
    Operator,
    /// The caller of a single-tenant server: anyone when it is open, the holder of the
    /// key otherwise; both the tenant's owner and the operator.
    Sole(Arc<Tenant>),
}

impl Principal {
    /// The tenant this principal may use with `scope`.
    pub fn tenant(&self, scope: Scope) -> Option<&Arc<Tenant>> {
        match self {
            Principal::Key { tenant, scope: has } if *has >= scope => Some(tenant),
            Principal::Sole(tenant) => Some(tenant),
            _ => None,
        }
    }

    /// Whether this principal is the operator.
    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator | Principal::Sole(_))
    }
}

/// How requests are authenticated.
pub enum Tenancy {
    /// Single tenant, no authentication.
    Open(Arc<Tenant>),
    /// Single tenant behind one token.
    Key(TokenDigest, Arc<Tenant>),
    /// Tenants from a config file, swapped atomically on reload.
    Multi(Box<MultiTenant>),
}

/// The multi-tenant state: the current registry and what reloads and admin edits need.
pub struct MultiTenant {
    config_path: PathBuf,
    base: PathBuf,
    store: Arc<Store>,
    /// What requests see; changed in place by admin changes, replaced by reloads.
    current: RwLock<Registry>,
    /// The decided tenants. Held for the whole of a reload or an admin change, so none
    /// interleave, and each change is in the registry before the next one is decided.
    ledger: Arc<Mutex<Ledger>>,
    /// Changes written to the log, waiting for their sync to be published, in order.
    unpublished: Mutex<VecDeque<(Change, Vec<TenantEntry>)>>,
    /// Wakes the background fold early.
    fold_soon: SyncSender<()>,
    /// How far the config file is behind the admin changes.
    pub fold_gauges: Arc<ledger::FoldGauges>,
    /// Per-name state that outlives a registry.
    kept: Mutex<HashMap<String, Kept>>,
    /// Successful and refused reloads.
    pub reloads: AtomicU64,
    /// Refused reloads.
    pub reload_failures: AtomicU64,
}

fn single_tenant(store: &Store, data_dir: PathBuf) -> Arc<Tenant> {
    Arc::new(Tenant {
        name: "default".into(),
        id: TenantId::for_name("default"),
        enabled: true,
        directory: store.tenant(&TenantId::for_name("default"), &data_dir),
        data_dir,
        quota_bytes: None,
        rate_limit: None,
        stats: Arc::default(),
    })
}

impl Tenancy {
    /// The single-tenant modes: open, or behind `key`.
    pub fn single(store: &Store, data_dir: PathBuf, key: Option<&str>) -> Self {
        let tenant = single_tenant(store, data_dir);
        match key {
            Some(key) => Tenancy::Key(TokenDigest::of(key.as_bytes()), tenant),
            None => Tenancy::Open(tenant),
        }
    }

    /// Multi-tenant mode from a loaded ledger and its validated config; starts the
    /// background fold of admin changes into the config file.
    pub fn multi(
        config_path: PathBuf,
        base: PathBuf,
        ledger: Ledger,
        config: Config,
        store: Arc<Store>,
    ) -> Self {
        let fold_gauges = ledger.gauges();
        let ledger = Arc::new(Mutex::new(ledger));
        let (fold_soon, woken) = std::sync::mpsc::sync_channel(1);
        let folding = Arc::downgrade(&ledger);
        let started = std::thread::Builder::new()
            .name("sq-config-fold".into())
            .spawn(move || fold_in_background(&folding, &woken));
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the config fold; admin changes stay in the change log");
        }
        let multi = MultiTenant {
            config_path,
            base,
            store,
            current: RwLock::new(Registry {
                by_token: HashMap::new(),
                by_name: BTreeMap::new(),
                admin: None,
            }),
            ledger,
            unpublished: Mutex::new(VecDeque::new()),
            fold_soon,
            fold_gauges,
            kept: Mutex::new(HashMap::new()),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        };
        multi.install(&config);
        Tenancy::Multi(Box::new(multi))
    }

    /// Who presents `token` (open mode: always the one tenant's caller).
    pub fn principal(&self, token: Option<&[u8]>) -> Principal {
        match self {
            Tenancy::Open(tenant) => Principal::Sole(tenant.clone()),
            // Compared in constant time.
            Tenancy::Key(key, tenant) => match token {
                Some(token) if key.ct_eq(&TokenDigest::of(token)) => {
                    Principal::Sole(tenant.clone())
                }
                _ => Principal::Anonymous,
            },
            Tenancy::Multi(multi) => {
                let Some(token) = token else {
                    return Principal::Anonymous;
                };
                if multi.is_admin(Some(token)) {
                    return Principal::Operator;
                }
                let registry = multi.registry();
                match registry.by_token.get(&TokenDigest::of(token)) {
                    Some(keyed) if keyed.expires_at.is_none_or(|at| now_unix() < at) => {
                        Principal::Key {
                            tenant: keyed.tenant.clone(),
                            scope: Scope::Owner,
                        }
                    }
                    _ => Principal::Anonymous,
                }
            }
        }
    }

    /// Whether credentials count at all: an open server ignores them.
    pub fn reads_credentials(&self) -> bool {
        !matches!(self, Tenancy::Open(_))
    }

    /// Whether an admin token is configured (multi-tenant mode only).
    pub fn has_admin(&self) -> bool {
        self.as_multi().is_some_and(MultiTenant::has_admin)
    }

    /// The multi-tenant state, if in that mode.
    pub fn as_multi(&self) -> Option<&MultiTenant> {
        match self {
            Tenancy::Multi(multi) => Some(multi),
            _ => None,
        }
    }

    /// How many tenants there are (without listing them).
    pub fn tenant_count(&self) -> usize {
        match self {
            Tenancy::Open(_) | Tenancy::Key(..) => 1,
            Tenancy::Multi(multi) => multi.registry().tenant_count(),
        }
    }

    /// Every tenant.
    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        match self {
            Tenancy::Open(tenant) | Tenancy::Key(_, tenant) => vec![tenant.clone()],
            Tenancy::Multi(multi) => multi.registry().tenants().cloned().collect(),
        }
    }
}

impl MultiTenant {
    /// The current registry, read-locked: hold it only briefly, never across an await.
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The decided tenants, locked against other changes and reloads.
    fn lock_ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the admin changes not yet in the config file into it now (at shutdown).
    pub fn fold_now(&self) {
        fold(&self.ledger);
    }

    /// Whether `token` is the admin token (never true without one configured).
    pub fn is_admin(&self, token: Option<&[u8]>) -> bool {
        match (self.registry().admin, token) {
            (Some(admin), Some(token)) => admin.ct_eq(&TokenDigest::of(token)),
            _ => false,
        }
    }

    /// Whether an admin token is configured.
    pub fn has_admin(&self) -> bool {
        self.registry().admin.is_some()
    }

    /// Re-reads the config file and the admin changes not yet in it, validates all of
    /// it, and swaps it in; on any error the current registry stays and nothing is
    /// created. Blocking (file I/O): call off the async workers.
    pub fn reload(&self) -> Result<usize, ConfigError> {
        let mut ledger = self.lock_ledger();
        self.settle(&ledger);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let outcome = Ledger::load(&self.config_path, &self.base, Some(&ledger)).and_then(
            |(mut next, config)| {
                next.open_log()?;
                config.create_directories()?;
                Ok((next, config))
            },
        );
        let (next, config) = outcome.inspect_err(|_| {
            self.reload_failures.fetch_add(1, Ordering::Relaxed);
        })?;
        for warning in &config.warnings {
            tracing::warn!("config: {warning}");
        }
        let count = self.install(&config);
        *ledger = next;
        if ledger.unfolded() > 0 {
            let _ = self.fold_soon.try_send(());
        }
        tracing::info!(tenants = count, "config reloaded");
        Ok(count)
    }

    /// Publishes every change written so far once it is durable; with the ledger lock
    /// held, none is being decided meanwhile. After a failed sync the disk decides: what
    /// the reload finds in the log.
    fn settle(&self, ledger: &Ledger) {
        let Some(sync) = ledger.group_sync() else {
            return;
        };
        let last = self.lock_unpublished().back().map(|(change, _)| change.seq);
        match last.map(|seq| (seq, sync.sync_through(seq))) {
            Some((seq, Ok(()))) => self.publish_through(seq),
            Some((_, Err(_))) => self.lock_unpublished().clear(),
            None => {}
        }
    }

    fn lock_unpublished(&self) -> MutexGuard<'_, VecDeque<(Change, Vec<TenantEntry>)>> {
        self.unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes, in order, the written changes up to `seq` (all durable by now).
    fn publish_through(&self, seq: u64) {
        let mut unpublished = self.lock_unpublished();
        while unpublished.front().is_some_and(|(c, _)| c.seq <= seq) {
            if let Some((change, entries)) = unpublished.pop_front() {
                self.publish(&change, &entries);
                self.audit(&change.action, &change.tenant);
            }
        }
    }

    /// Reloads unless the config file is as SQ last read or wrote it (its own fold, say).
    pub fn reload_if_edited(&self) -> Option<Result<usize, ConfigError>> {
        if self.lock_ledger().file_unchanged() {
            return None;
        }
        Some(self.reload())
    }

    /// The tenant of `entry` (the first of its name), keeping its counters and limiter.
    fn build_tenant(&self, entry: &TenantEntry, kept: &mut HashMap<String, Kept>) -> Arc<Tenant> {
        let (stats, limit) = kept.entry(entry.name.clone()).or_default();
        if limit.as_ref().map(|l| l.rps()) != entry.rate_limit_rps {
            *limit = entry
                .rate_limit_rps
                .map(|rps| Arc::new(RateLimit::new(rps)));
        }
        Arc::new(Tenant {
            name: entry.name.clone(),
            id: entry.id.clone(),
            enabled: entry.enabled,
            directory: self.store.tenant(&entry.id, &entry.data_dir),
            data_dir: entry.data_dir.clone(),
            quota_bytes: entry.quota_bytes,
            rate_limit: limit.clone(),
            stats: stats.clone(),
        })
    }

    /// Applies one recorded admin change to the registry: O(log n), in place.
    fn publish(&self, change: &Change, entries: &[TenantEntry]) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let tenant = entries
            .first()
            .map(|first| self.build_tenant(first, &mut kept));
        let mut registry = self.current.write().unwrap_or_else(PoisonError::into_inner);
        for token in change.before.iter().flatten().filter_map(token_of) {
            registry.by_token.remove(&token);
        }
        let old = match &tenant {
            Some(tenant) => registry
                .by_name
                .insert(change.tenant.clone(), tenant.clone()),
            None => registry.by_name.remove(&change.tenant),
        };
        if let Some(tenant) = &tenant {
            for entry in entries {
                registry.by_token.insert(
                    entry.token,
                    Keyed {
                        tenant: tenant.clone(),
                        expires_at: entry.expires_at,
                    },
                );
            }
        }
        drop(registry);
        drop(kept);
        if let Some(old) = old {
            let moved = tenant
                .as_ref()
                .is_none_or(|t| t.id != old.id || t.data_dir != old.data_dir);
            if moved {
                self.retire(&[(&old.id, old.data_dir.as_path())]);
            }
        }
    }

    /// Builds the registry of `config` and swaps it in; returns the tenant count.
    fn install(&self, config: &Config) -> usize {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let mut by_name: BTreeMap<String, Arc<Tenant>> = BTreeMap::new();
        let mut by_token = HashMap::with_capacity(config.tenants.len());
        for entry in &config.tenants {
            let tenant = match by_name.get(&entry.name) {
                Some(tenant) => tenant.clone(),
                None => {
                    let tenant = self.build_tenant(entry, &mut kept);
                    by_name.insert(entry.name.clone(), tenant.clone());
                    tenant
                }
            };
            by_token.insert(
                entry.token,
                Keyed {
                    tenant,
                    expires_at: entry.expires_at,
                },
            );
        }
        let count = by_name.len();
        let registry = Registry {
            by_token,
            by_name,
            admin: config.admin,
        };
        let still_served: HashSet<(&TenantId, &Path)> = config
            .tenants
            .iter()
            .map(|e| (&e.id, e.data_dir.as_path()))
            .collect();
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(PoisonError::into_inner),
            registry,
        );
        drop(kept);
        let removed: Vec<(&TenantId, &Path)> = old
            .tenants()
            .map(|t| (&t.id, t.data_dir.as_path()))
            .filter(|served| !still_served.contains(served))
            .collect();
        self.retire(&removed);
        count
    }

    /// Lets the store go of the directories of removed tenants (their tokens are refused
    /// already), so that requests still under way touch nothing there and a tenant given
    /// one of those paths later starts from the files, not from a former tenant's memory.
    /// Waits for it when called off the async workers, as reloads and admin edits are.
    fn retire(&self, removed: &[(&TenantId, &Path)]) {
        if removed.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.block_on(async {
            for (id, dir) in removed {
                self.store.detach(id, dir).await;
            }
        });
    }
}

/// The digest of the token an entry of the config holds.
fn token_of(entry: &serde_json::Map<String, serde_json::Value>) -> Option<token::TokenDigest> {
    entry
        .get("token_sha256")
        .and_then(serde_json::Value::as_str)
        .and_then(token::TokenDigest::from_hex)
}

/// A fold is not worth its O(n) write before this many changes (a tenth of the tenants,
/// at least a thousand), unless the admin API has been quiet for [`QUIET_FOLD`].
fn fold_every(tenants: usize) -> u64 {
    (tenants as u64 / 10).max(1000)
}

/// How long the admin API is quiet before its changes are folded into the file anyway.
const QUIET_FOLD: Duration = Duration::from_secs(1);

/// Writes the decided tenants into the config file: rendered and synced outside the
/// ledger lock, renamed into place under it (see [`Ledger::install_fold`]).
fn fold(ledger: &Mutex<Ledger>) {
    let lock = || ledger.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(snapshot) = lock().snapshot() else {
        return;
    };
    let installed = snapshot
        .stage()
        .and_then(|staged| lock().install_fold(&snapshot, staged));
    if let Err(why) = installed {
        tracing::warn!("config fold: {why}");
    }
}

/// The fold thread: folds when woken (enough changes) or when the admin API has been
/// quiet a while; ends with the tenancy.
fn fold_in_background(ledger: &Weak<Mutex<Ledger>>, woken: &Receiver<()>) {
    let mut quiet_since = Instant::now();
    let mut last_seen = None;
    loop {
        let wake = woken.recv_timeout(QUIET_FOLD);
        let Some(ledger) = ledger.upgrade() else {
            return;
        };
        match wake {
            Ok(()) => fold(&ledger),
            Err(RecvTimeoutError::Timeout) => {
                let unfolded = ledger
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .unfolded();
                if Some(unfolded) != last_seen {
                    last_seen = Some(unfolded);
                    quiet_since = Instant::now();
                } else if unfolded > 0 && quiet_since.elapsed() >= QUIET_FOLD {
                    fold(&ledger);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
