//! Admin changes: create, rotate, disable/enable, remove. Each one is decided against
//! the ledger (O(log n) checks against every other tenant), recorded in the change log
//! and synced, applied to the registry in place, and audited, all under the ledger
//! lock; the config file catches up in the background ([`super::ledger`]).
//!
//! The config file is written in the array shape with every token as its SHA-256
//! digest: tokens are never written back in the clear.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};

use serde_json::{json, Map, Value};

use super::changes::{Entries, GroupSync};
use super::config::ConfigError;
use super::ledger::{Ledger, Prepared};
use super::token::{self, TokenDigest};
use super::{fold_every, now_unix, MultiTenant};

/// Why an admin request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No tenant of that name.
    #[error("no tenant named '{0}'")]
    NotFound(String),
    /// A tenant of that name exists already.
    #[error("a tenant named '{0}' exists already")]
    Exists(String),
    /// The new tenant's data directory already holds files.
    #[error(
        "the data directory {} of the new tenant '{name}' already holds files (a former \
         tenant's?); a new tenant starts empty: move them away, or add the tenant to the \
         config file by hand to adopt them",
        dir.display()
    )]
    NotEmpty {
        /// The tenant being created.
        name: String,
        /// Its data directory.
        dir: PathBuf,
    },
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The resulting config was refused (or the current file is unreadable).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Writing the config or moving data failed.
    #[error("{0}")]
    Io(String),
}

/// What creating a tenant produced; the token is shown this once.
#[derive(Debug, Clone)]
pub struct Created {
    /// The tenant's name.
    pub name: String,
    /// The new token (stored only as a digest).
    pub token: String,
    /// Its data directory as written in the config.
    pub data_dir: String,
}

/// A new tenant's name is its id, and so its directory name: the store's one rule.
fn check_name(name: &str) -> Result<(), AdminError> {
    match sq_store::TenantId::parse(name) {
        Ok(_) => Ok(()),
        Err(_) => Err(AdminError::Invalid(
            "name must be 1-64 characters of [A-Za-z0-9._-], not starting with '.'".into(),
        )),
    }
}

impl MultiTenant {
    /// Records a prepared change: written to the log under the ledger lock, then synced
    /// without it (concurrent changes share the fsync), then published to the registry
    /// and audited in log order. Returns once all of that is done for this change.
    fn record(
        &self,
        mut ledger: MutexGuard<'_, Ledger>,
        prepared: Prepared,
    ) -> Result<(), AdminError> {
        let (seq, sync) = self.write(&mut ledger, prepared)?;
        drop(ledger);
        self.settle_change(&sync, seq)
    }

    /// Writes a prepared change to the log and queues it for publishing.
    fn write(
        &self,
        ledger: &mut Ledger,
        prepared: Prepared,
    ) -> Result<(u64, Arc<GroupSync>), AdminError> {
        let change = ledger.commit(&prepared)?;
        let seq = change.seq;
        let sync = ledger
            .group_sync()
            .ok_or_else(|| AdminError::Io("the admin change log is not open".into()))?;
        self.lock_unpublished()
            .push_back((change, prepared.entries));
        if ledger.unfolded() >= fold_every(ledger.tenant_count()) {
            let _ = self.fold_soon.try_send(());
        }
        Ok((seq, sync))
    }

    /// Waits for change `seq` to be durable and publishes it (with those before it).
    fn settle_change(&self, sync: &GroupSync, seq: u64) -> Result<(), AdminError> {
        sync.sync_through(seq).map_err(AdminError::Io)?;
        self.publish_through(seq);
        Ok(())
    }

    /// A tenant's entries, to be changed.
    fn entries_of(ledger: &Ledger, name: &str) -> Result<Entries, AdminError> {
        ledger
            .entries(name)
            .map(|entries| (**entries).clone())
            .ok_or_else(|| AdminError::NotFound(name.into()))
    }

    pub(super) fn audit(&self, action: &str, tenant: &str) {
        tracing::info!(target: "sq::audit", action, tenant, "admin change persisted");
        let path = self.audit_path();
        let line = json!({"time": now_unix(), "action": action, "tenant": tenant}).to_string();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(error) = written {
            tracing::error!(path = %path.display(), %error, "cannot append to the audit log");
        }
    }

    /// `audit.log` beside the config file.
    pub fn audit_path(&self) -> PathBuf {
        self.config_path.with_file_name("audit.log")
    }

    /// Where deleted tenants' data goes: `archive/` beside the config file.
    pub fn archive_root(&self) -> PathBuf {
        self.config_path.with_file_name("archive")
    }

    /// Creates a tenant with a fresh token.
    pub fn create_tenant(
        &self,
        name: &str,
        quota_mb: Option<f64>,
        data_dir: Option<&str>,
    ) -> Result<Created, AdminError> {
        check_name(name)?;
        if quota_mb.is_some_and(|q| !(q >= 0.0 && q.is_finite())) {
            return Err(AdminError::Invalid(
                "quota_mb must be a non-negative number".into(),
            ));
        }
        let ledger = self.lock_ledger();
        if ledger.entries(name).is_some() {
            return Err(AdminError::Exists(name.into()));
        }
        let token = token::generate();
        let data_dir = match data_dir {
            Some(dir) if !dir.is_empty() => dir.to_owned(),
            Some(_) => return Err(AdminError::Invalid("data_dir must not be empty".into())),
            None => ledger.data_root().join(name).to_string_lossy().into_owned(),
        };
        let mut entry = Map::new();
        entry.insert("name".into(), json!(name));
        entry.insert(
            "token_sha256".into(),
            json!(TokenDigest::of(token.as_bytes()).to_hex()),
        );
        entry.insert("data_dir".into(), json!(data_dir));
        entry.insert("enabled".into(), json!(true));
        if let Some(quota) = quota_mb {
            entry.insert("quota_mb".into(), json!(quota));
        }
        let prepared = ledger.prepare("create", name, Some(vec![entry]))?;
        match prepared.entries.first() {
            Some(entry) => check_starts_empty(name, &entry.data_dir)?,
            None => return Err(AdminError::Io("the new tenant has no entry".into())),
        }
        self.record(ledger, prepared)?;
        Ok(Created {
            name: name.into(),
            token,
            data_dir,
        })
    }

    /// Issues a new token; the old ones stop working now, or after `grace_seconds`.
    pub fn rotate(&self, name: &str, grace_seconds: Option<u64>) -> Result<String, AdminError> {
        let ledger = self.lock_ledger();
        let mut entries = Self::entries_of(&ledger, name)?;
        let Some(template) = entries.first().cloned() else {
            return Err(AdminError::NotFound(name.into()));
        };
        // Tokens whose grace has passed leave the file with this change.
        let now = now_unix();
        entries.retain(|e| {
            e.get("expires_at")
                .and_then(Value::as_u64)
                .is_none_or(|at| at > now)
        });
        match grace_seconds {
            Some(grace) if grace > 0 => {
                let until = now.saturating_add(grace);
                for entry in &mut entries {
                    let sooner = entry
                        .get("expires_at")
                        .and_then(Value::as_u64)
                        .is_some_and(|at| at < until);
                    if !sooner {
                        entry.insert("expires_at".into(), json!(until));
                    }
                }
            }
            _ => entries.clear(),
        }
        let token = token::generate();
        let mut entry = template;
        entry.remove("expires_at");
        entry.insert(
            "token_sha256".into(),
            json!(TokenDigest::of(token.as_bytes()).to_hex()),
        );
        entries.push(entry);
        let prepared = ledger.prepare("rotate", name, Some(entries))?;
        self.record(ledger, prepared)?;
        Ok(token)
    }

    /// Enables or disables a tenant (all its tokens).
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), AdminError> {
        let action = if enabled { "enable" } else { "disable" };
        let ledger = self.lock_ledger();
        let mut entries = Self::entries_of(&ledger, name)?;
        for entry in &mut entries {
            entry.insert("enabled".into(), json!(enabled));
        }
        let prepared = ledger.prepare(action, name, Some(entries))?;
        self.record(ledger, prepared)
    }

    /// Removes a tenant from the config (its tokens are refused at once; the store lets
    /// go of its directory) and moves its data to the archive, returning where. The move
    /// happens before the next admin edit, so no tenant created meanwhile at that path is
    /// moved away with it.
    pub fn remove_tenant(&self, name: &str) -> Result<PathBuf, AdminError> {
        let mut ledger = self.lock_ledger();
        let Some(data_dir) = ledger.data_dir_of(name).map(Path::to_path_buf) else {
            return Err(AdminError::NotFound(name.into()));
        };
        let prepared = ledger.prepare("delete", name, None)?;
        let (seq, sync) = self.write(&mut ledger, prepared)?;
        // The lock is held until the data has moved: no change meanwhile can create a
        // tenant at that path and see its directory moved away.
        self.settle_change(&sync, seq)?;
        archive(&data_dir, &self.archive_root(), name)
    }
}

/// Moves a removed tenant's data into `archive_root/<name>-<unix time>` (with `-2`, `-3`…
/// when that name is taken); nothing is ever deleted. The target is claimed by creating
/// it empty first, so two archives of one name never meet, even within one second.
pub fn archive(data_dir: &Path, archive_root: &Path, name: &str) -> Result<PathBuf, AdminError> {
    let unarchived = |e: std::io::Error| {
        AdminError::Io(format!(
            "tenant removed, but its data could not be archived and stays in place: {e}"
        ))
    };
    std::fs::create_dir_all(archive_root).map_err(unarchived)?;
    let stem = format!("{name}-{}", now_unix());
    let mut attempt = 1u32;
    let target = loop {
        let target = match attempt {
            1 => archive_root.join(&stem),
            n => archive_root.join(format!("{stem}-{n}")),
        };
        match std::fs::create_dir(&target) {
            Ok(()) => break target,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 10_000 => {
                attempt += 1;
            }
            Err(e) => return Err(unarchived(e)),
        }
    };
    // Renaming a directory over an empty one replaces it.
    if let Err(error) = std::fs::rename(data_dir, &target) {
        let _ = std::fs::remove_dir(&target);
        return Err(unarchived(error));
    }
    Ok(target)
}

/// A new tenant starts empty: its directory must not exist yet or hold nothing (a former
/// tenant's data left in place by an archive that failed would otherwise be adopted).
fn check_starts_empty(name: &str, dir: &Path) -> Result<(), AdminError> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AdminError::Io(format!(
            "cannot inspect the data directory {}: {e}",
            dir.display()
        ))),
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(AdminError::NotEmpty {
                name: name.to_owned(),
                dir: dir.to_path_buf(),
            }),
        },
    }
}
