//! Admin mutations of the tenants file: create, rotate, disable/enable, remove. Each one
//! re-reads the file, edits it (keeping fields SQ does not know), validates the result as
//! a whole, writes it atomically, swaps the registry in, and appends an audit line.
//!
//! The first edit turns a map-shaped file into the array shape and replaces every
//! plaintext token by its SHA-256 digest: tokens are never written back in the clear.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{MutexGuard, PoisonError};

use serde_json::{json, Map, Value};

use super::config::{self, ConfigError};
use super::token::{self, TokenDigest};
use super::{now_unix, MultiTenant};
use sq_store::Disk;

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

fn name_of(entry: &Map<String, Value>) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// The tenants as array entries with digests only, expired tokens dropped.
fn entries_of(root: &Value) -> Vec<Map<String, Value>> {
    let now = now_unix();
    let mut entries: Vec<Map<String, Value>> = match root.get("tenants") {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(token, fields)| {
                let mut entry = fields.as_object()?.clone();
                entry.insert(
                    "token_sha256".into(),
                    json!(TokenDigest::of(token.as_bytes()).to_hex()),
                );
                Some(entry)
            })
            .collect(),
        Some(Value::Array(list)) => list.iter().filter_map(|v| v.as_object().cloned()).collect(),
        _ => Vec::new(),
    };
    for entry in &mut entries {
        if let Some(Value::String(token)) = entry.remove("token") {
            entry.insert(
                "token_sha256".into(),
                json!(TokenDigest::of(token.as_bytes()).to_hex()),
            );
        }
    }
    entries.retain(|e| {
        e.get("expires_at")
            .and_then(Value::as_u64)
            .is_none_or(|at| at > now)
    });
    entries
}

impl MultiTenant {
    /// Applies `change` to the tenant entries and persists the result (see module docs).
    fn edit<T>(
        &self,
        action: &str,
        tenant: &str,
        change: impl FnOnce(&mut Vec<Map<String, Value>>, &config::Config) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        self.edit_checked(action, tenant, change, |_, _| Ok(()))
            .map(|(out, _one_at_a_time)| out)
    }

    /// Like [`MultiTenant::edit`], with `check` run on the validated result before
    /// anything is created or written. Returns the edit lock still held, for work that
    /// must finish before the next edit (moving a removed tenant's data away).
    fn edit_checked<T>(
        &self,
        action: &str,
        tenant: &str,
        change: impl FnOnce(&mut Vec<Map<String, Value>>, &config::Config) -> Result<T, AdminError>,
        check: impl FnOnce(&T, &config::Config) -> Result<(), AdminError>,
    ) -> Result<(T, MutexGuard<'_, ()>), AdminError> {
        let one_at_a_time = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let current = config::load(&self.config_path, &self.base)?;
        let mut root = current.raw.clone();
        let mut entries = entries_of(&root);
        let out = change(&mut entries, &current)?;
        if let Value::Object(top) = &mut root {
            top.insert(
                "tenants".into(),
                Value::Array(entries.into_iter().map(Value::Object).collect()),
            );
            if let Some(Value::String(key)) = top.remove("admin_key") {
                top.insert(
                    "admin_token_sha256".into(),
                    json!(TokenDigest::of(key.as_bytes()).to_hex()),
                );
            }
        }
        let text = serde_json::to_vec_pretty(&root).map_err(|e| AdminError::Io(e.to_string()))?;
        let config = config::validate(root, &self.base)?;
        check(&out, &config)?;
        config.create_directories()?;
        sq_store::RealDisk
            .replace(&self.config_path, &text)
            .map_err(|e| AdminError::Io(format!("cannot write the config: {e}")))?;
        self.install(&config);
        self.audit(action, tenant);
        Ok((out, one_at_a_time))
    }

    fn audit(&self, action: &str, tenant: &str) {
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
        let change = |entries: &mut Vec<Map<String, Value>>, current: &config::Config| {
            if entries.iter().any(|e| name_of(e) == Some(name)) {
                return Err(AdminError::Exists(name.into()));
            }
            let token = token::generate();
            let data_dir = match data_dir {
                Some(dir) if !dir.is_empty() => dir.to_owned(),
                Some(_) => return Err(AdminError::Invalid("data_dir must not be empty".into())),
                None => current.data_root.join(name).to_string_lossy().into_owned(),
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
            entries.push(entry);
            Ok(Created {
                name: name.into(),
                token,
                data_dir,
            })
        };
        let starts_empty = |_: &Created, config: &config::Config| match config
            .tenants
            .iter()
            .find(|t| t.name == name)
        {
            Some(entry) => check_starts_empty(name, &entry.data_dir),
            None => Err(AdminError::Io(
                "the new tenant is missing from the config".into(),
            )),
        };
        self.edit_checked("create", name, change, starts_empty)
            .map(|(created, _one_at_a_time)| created)
    }

    /// Issues a new token; the old ones stop working now, or after `grace_seconds`.
    pub fn rotate(&self, name: &str, grace_seconds: Option<u64>) -> Result<String, AdminError> {
        self.edit("rotate", name, |entries, _| {
            let template = entries
                .iter()
                .find(|e| name_of(e) == Some(name))
                .cloned()
                .ok_or_else(|| AdminError::NotFound(name.into()))?;
            match grace_seconds {
                Some(grace) if grace > 0 => {
                    let until = now_unix().saturating_add(grace);
                    for entry in entries.iter_mut().filter(|e| name_of(e) == Some(name)) {
                        let sooner = entry
                            .get("expires_at")
                            .and_then(Value::as_u64)
                            .is_some_and(|at| at < until);
                        if !sooner {
                            entry.insert("expires_at".into(), json!(until));
                        }
                    }
                }
                _ => entries.retain(|e| name_of(e) != Some(name)),
            }
            let token = token::generate();
            let mut entry = template;
            entry.remove("expires_at");
            entry.insert(
                "token_sha256".into(),
                json!(TokenDigest::of(token.as_bytes()).to_hex()),
            );
            entries.push(entry);
            Ok(token)
        })
    }

    /// Enables or disables a tenant (all its tokens).
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), AdminError> {
        let action = if enabled { "enable" } else { "disable" };
        self.edit(action, name, |entries, _| {
            let mut found = false;
            for entry in entries.iter_mut().filter(|e| name_of(e) == Some(name)) {
                entry.insert("enabled".into(), json!(enabled));
                found = true;
            }
            found
                .then_some(())
                .ok_or_else(|| AdminError::NotFound(name.into()))
        })
    }

    /// Removes a tenant from the config (its tokens are refused at once; the store lets
    /// go of its directory) and moves its data to the archive, returning where. The move
    /// happens before the next admin edit, so no tenant created meanwhile at that path is
    /// moved away with it.
    pub fn remove_tenant(&self, name: &str) -> Result<PathBuf, AdminError> {
        let (data_dir, _one_at_a_time) = self.edit_checked(
            "delete",
            name,
            |entries, current| {
                let data_dir = current
                    .tenants
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| t.data_dir.clone())
                    .ok_or_else(|| AdminError::NotFound(name.into()))?;
                entries.retain(|e| name_of(e) != Some(name));
                Ok(data_dir)
            },
            |_, _| Ok(()),
        )?;
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
