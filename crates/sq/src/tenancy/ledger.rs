//! The tenants as decided: the config file with the admin changes since it was last
//! folded, indexed so that one admin change is checked and recorded in O(log n).
//!
//! ## How the file and the admin API combine
//!
//! - An admin change is checked against the other tenants through the indexes, appended
//!   to the change log ([`super::changes`]) and synced, and only then answered.
//! - In the background the changes are folded into the config file, which then says
//!   `"generation": N`: it holds every change up to N.
//! - Loading the file (at start or reload) replays the logged changes after its
//!   generation onto it. A hand-edited file keeps the generation it was edited from, so
//!   admin changes made meanwhile are not lost by the reload.
//! - A tenant changed both by hand and by an admin change the file has not seen is a
//!   conflict: the reload is refused and names the tenant (no hand edit is overwritten).
//! - The fold never replaces a file edited by hand since SQ last read it; it waits for the
//!   reload that takes the edit in.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::admin::AdminError;
use super::changes::{self, Change, ChangeLog, Entries, GroupSync};
use super::config::{self, Config, ConfigError, Defaults, TenantEntry};
use super::now_unix;
use super::token::TokenDigest;
use sq_store::TenantId;

/// How many changes the log keeps beyond those the file lacks, so that a file edited from
/// an older generation can still be reconciled.
const KEEP_CHANGES: u64 = 10_000;

/// What one tenant holds of the namespaces tenants may not share.
struct Held {
    tokens: Vec<TokenDigest>,
    dirs: Vec<PathBuf>,
    id: TenantId,
}

/// The config file's inode, size, modification and change times as SQ last read or
/// wrote it: an editor's save changes at least one of them.
type Stamp = Option<(u64, u64, SystemTime, i64, i64)>;

fn stamp_of(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.ino(),
        meta.len(),
        meta.modified().ok()?,
        meta.ctime(),
        meta.ctime_nsec(),
    ))
}

/// What `/metrics` shows of the fold, readable without the ledger lock.
#[derive(Debug, Default)]
pub struct FoldGauges {
    /// Admin changes decided but not yet in the config file.
    pub unfolded: AtomicU64,
    /// The file was edited by hand and not reloaded since: the fold waits.
    pub edited_by_hand: AtomicBool,
}

/// The decided tenants, their indexes and the change log.
pub struct Ledger {
    config_path: PathBuf,
    base: PathBuf,
    /// The file's other top-level fields (the admin key as a digest).
    top: Map<String, Value>,
    tenants: BTreeMap<String, Arc<Entries>>,
    defaults: Defaults,
    data_root: PathBuf,
    held: HashMap<String, Held>,
    tokens: HashMap<TokenDigest, String>,
    dirs: BTreeMap<PathBuf, String>,
    ids: HashMap<TenantId, String>,
    /// The last change decided.
    generation: u64,
    /// The last change the file on disk holds.
    folded: u64,
    file_stamp: Stamp,
    /// The file changed under SQ since it was read: no fold until a reload.
    hand_edited: bool,
    /// Counts reloads, so a fold prepared before one is not installed after it.
    epoch: u64,
    log: Option<ChangeLog>,
    broken: Option<String>,
    gauges: Arc<FoldGauges>,
}

/// An admin change checked against every other tenant, not yet recorded.
pub struct Prepared {
    action: &'static str,
    name: String,
    after: Option<Entries>,
    /// The tenant's validated entries after the change (none for a delete).
    pub entries: Vec<TenantEntry>,
}

/// What the background fold writes: the decided tenants at one generation.
pub struct Snapshot {
    top: Map<String, Value>,
    /// Every tenant's entries, in name order (taking them costs one `Arc` each).
    tenants: Vec<Arc<Entries>>,
    generation: u64,
    epoch: u64,
    config_path: PathBuf,
}

/// A fold's file, written and synced beside the config, waiting to be renamed over it.
pub struct Staged {
    temp: PathBuf,
}

impl Staged {
    /// The temp file, no longer removed when this is dropped (it is being renamed).
    fn into_path(mut self) -> PathBuf {
        std::mem::take(&mut self.temp)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // A fold that did not install its file leaves nothing behind.
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The tenants' entries in the array shape with digests only, grouped by name, and the
/// file's other fields with the admin key as a digest.
fn normalize(root: Value) -> (Map<String, Value>, BTreeMap<String, Arc<Entries>>, u64) {
    let Value::Object(mut top) = root else {
        return (Map::new(), BTreeMap::new(), 0);
    };
    let generation = top
        .remove("generation")
        .and_then(|g| g.as_u64())
        .unwrap_or(0);
    let digest = |token: &str| json!(TokenDigest::of(token.as_bytes()).to_hex());
    let listed: Vec<Map<String, Value>> = match top.remove("tenants") {
        Some(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(token, fields)| {
                let Value::Object(mut entry) = fields else {
                    return None;
                };
                entry.insert("token_sha256".into(), digest(&token));
                Some(entry)
            })
            .collect(),
        Some(Value::Array(list)) => list
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(entry) => Some(entry),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut tenants: BTreeMap<String, Entries> = BTreeMap::new();
    for mut entry in listed {
        if let Some(Value::String(token)) = entry.remove("token") {
            entry.insert("token_sha256".into(), digest(&token));
        }
        if let Some(name) = entry.get("name").and_then(Value::as_str) {
            tenants.entry(name.to_owned()).or_default().push(entry);
        }
    }
    if let Some(Value::String(key)) = top.remove("admin_key") {
        top.insert("admin_token_sha256".into(), digest(&key));
    }
    let tenants = tenants.into_iter().map(|(n, e)| (n, Arc::new(e))).collect();
    (top, tenants, generation)
}

/// The config file's JSON for these tenants at `generation`.
fn assemble<'a>(
    top: &Map<String, Value>,
    tenants: impl Iterator<Item = &'a Arc<Entries>>,
    generation: u64,
) -> Value {
    let mut root = top.clone();
    root.insert("generation".into(), json!(generation));
    let list = tenants
        .flat_map(|entries| entries.iter().cloned().map(Value::Object))
        .collect();
    root.insert("tenants".into(), Value::Array(list));
    Value::Object(root)
}

/// Replays the logged changes the file at `file_generation` lacks; returns how many.
fn replay(
    tenants: &mut BTreeMap<String, Arc<Entries>>,
    logged: &[Change],
    file_generation: u64,
    log_path: &Path,
) -> Result<usize, ConfigError> {
    let pending: Vec<&Change> = logged.iter().filter(|c| c.seq > file_generation).collect();
    if let Some(first) = pending.first().filter(|c| c.seq != file_generation + 1) {
        return Err(ConfigError(format!(
            "the config file holds the admin changes up to generation {file_generation}, but \
             {} keeps them only from change {}: this file was edited from an older copy. \
             Make the edit on the current file (keep its \"generation\" line)",
            log_path.display(),
            first.seq
        )));
    }
    for change in &pending {
        let current = tenants.get(&change.tenant).map(|e| e.as_slice());
        // Already there (a file written with the change but not its generation).
        if current == change.after.as_deref() {
            continue;
        }
        if current != change.before.as_deref() {
            return Err(ConfigError(format!(
                "tenant '{}' was edited in the config file and changed through the admin \
                 API ({}, change {}) since generation {file_generation}, which the file was \
                 edited from; nothing was changed. Undo the hand edit of '{}', or make it \
                 on the current file",
                change.tenant, change.action, change.seq, change.tenant
            )));
        }
        match &change.after {
            Some(after) => tenants.insert(change.tenant.clone(), Arc::new(after.clone())),
            None => tenants.remove(&change.tenant),
        };
    }
    Ok(pending.len())
}

impl Ledger {
    /// Reads the config file and its change log and decides the tenants; creates and
    /// changes nothing (see [`Ledger::open_log`]). A reload passes the ledger it replaces.
    pub fn load(
        config_path: &Path,
        base: &Path,
        previous: Option<&Ledger>,
    ) -> Result<(Ledger, Config), ConfigError> {
        let file_stamp = stamp_of(config_path);
        let bytes = std::fs::read(config_path).map_err(|e| {
            ConfigError(format!("cannot read config {}: {e}", config_path.display()))
        })?;
        let root: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ConfigError(format!("invalid JSON: {e}")))?;
        drop(bytes);
        let as_written = config::validate(&root, base)?;
        let (top, mut tenants, file_generation) = normalize(root);
        let log_path = changes::path_for(config_path);
        let (logged, _) = changes::read(&log_path)?;
        let replayed = replay(&mut tenants, &logged, file_generation, &log_path)?;
        let generation = logged
            .last()
            .map_or(file_generation, |c| c.seq.max(file_generation));
        let config = match replayed {
            0 => as_written,
            _ => config::validate(&assemble(&top, tenants.values(), generation), base)?,
        };
        let mut ledger = Ledger {
            config_path: config_path.to_path_buf(),
            base: base.to_path_buf(),
            top,
            tenants,
            defaults: config.defaults.clone(),
            data_root: config.data_root.clone(),
            held: HashMap::new(),
            tokens: HashMap::with_capacity(config.tenants.len()),
            dirs: BTreeMap::new(),
            ids: HashMap::new(),
            generation,
            folded: file_generation,
            file_stamp,
            hand_edited: false,
            epoch: previous.map_or(0, |p| p.epoch + 1),
            log: None,
            broken: None,
            gauges: previous.map_or_else(Arc::default, |p| p.gauges.clone()),
        };
        ledger.refresh_gauges();
        let mut by_name: BTreeMap<&str, Vec<&TenantEntry>> = BTreeMap::new();
        for entry in &config.tenants {
            by_name.entry(&entry.name).or_default().push(entry);
        }
        for (name, entries) in by_name {
            ledger.hold(name, entries.into_iter());
        }
        Ok((ledger, config))
    }

    /// Opens the change log for appending, once the load is accepted. A file ahead of
    /// every logged change (a log restored from an older copy) empties the log, so the
    /// next change does not leave a gap in it.
    pub fn open_log(&mut self) -> Result<(), ConfigError> {
        let (mut log, logged) = ChangeLog::open(&changes::path_for(&self.config_path))?;
        if logged.last().is_some_and(|last| last.seq < self.generation) {
            log.keep_after(self.generation)?;
        }
        self.log = Some(log);
        Ok(())
    }

    /// The data directory of tenant `name` (its first, if its tokens name several).
    pub fn data_dir_of(&self, name: &str) -> Option<&Path> {
        self.held.get(name)?.dirs.first().map(PathBuf::as_path)
    }

    /// The fold's gauges, shared by every ledger a reload makes.
    pub fn gauges(&self) -> Arc<FoldGauges> {
        self.gauges.clone()
    }

    fn refresh_gauges(&self) {
        self.gauges
            .unfolded
            .store(self.unfolded(), Ordering::Relaxed);
        self.gauges
            .edited_by_hand
            .store(self.hand_edited, Ordering::Relaxed);
    }

    /// Where tenants created without a directory get theirs.
    pub fn data_root(&self) -> &Path {
        &self.data_root
    }

    /// A tenant's entries, if it exists.
    pub fn entries(&self, name: &str) -> Option<&Arc<Entries>> {
        self.tenants.get(name)
    }

    /// Whether the config file is as SQ last read or wrote it.
    pub fn file_unchanged(&self) -> bool {
        self.file_stamp.is_some() && stamp_of(&self.config_path) == self.file_stamp
    }

    /// Admin changes decided but not yet in the config file.
    pub fn unfolded(&self) -> u64 {
        self.generation - self.folded
    }

    /// The number of tenants.
    pub fn tenant_count(&self) -> usize {
        self.tenants.len()
    }

    fn hold<'a>(&mut self, name: &str, entries: impl Iterator<Item = &'a TenantEntry>) {
        let mut held = Held {
            tokens: Vec::new(),
            dirs: Vec::new(),
            id: TenantId::for_name(name),
        };
        for entry in entries {
            held.tokens.push(entry.token);
            self.tokens.insert(entry.token, name.to_owned());
            if !held.dirs.contains(&entry.data_dir) {
                held.dirs.push(entry.data_dir.clone());
                self.dirs.insert(entry.data_dir.clone(), name.to_owned());
            }
            held.id = entry.id.clone();
        }
        self.ids.insert(held.id.clone(), name.to_owned());
        self.held.insert(name.to_owned(), held);
    }

    fn release(&mut self, name: &str) {
        if let Some(held) = self.held.remove(name) {
            for token in &held.tokens {
                self.tokens.remove(token);
            }
            for dir in &held.dirs {
                self.dirs.remove(dir);
            }
            self.ids.remove(&held.id);
        }
    }

    /// Validates the tenant `name` with entries `after` (deleted, with none) against
    /// every other tenant: the checks a whole file gets, through the indexes.
    pub fn prepare(
        &self,
        action: &'static str,
        name: &str,
        after: Option<Entries>,
    ) -> Result<Prepared, AdminError> {
        if let Some(why) = self.refusing() {
            return Err(AdminError::Io(why));
        }
        let mut warnings = Vec::new();
        let mut entries: Vec<TenantEntry> = Vec::new();
        for (position, fields) in after.iter().flatten().enumerate() {
            let entry = config::tenant_entry(
                position + 1,
                None,
                &Value::Object(fields.clone()),
                &self.base,
                &self.defaults,
                &mut warnings,
            )?;
            self.check_against_others(name, &entry)?;
            if entries.iter().any(|e| e.token == entry.token) {
                return Err(ConfigError(format!("tenant '{name}' lists one token twice")).into());
            }
            entries.push(entry);
        }
        Ok(Prepared {
            action,
            name: name.to_owned(),
            after,
            entries,
        })
    }

    fn check_against_others(&self, name: &str, entry: &TenantEntry) -> Result<(), ConfigError> {
        let other = |owner: Option<&String>| owner.filter(|o| o.as_str() != name).cloned();
        if let Some(other) = other(self.tokens.get(&entry.token)) {
            return Err(ConfigError(format!(
                "tenants '{other}' and '{name}' use the same token"
            )));
        }
        if let Some(other) = other(self.ids.get(&entry.id)) {
            return Err(ConfigError(format!(
                "tenants '{other}' and '{name}' have the same id '{}'",
                entry.id
            )));
        }
        let dir = entry.data_dir.as_path();
        if let Some(other) = other(self.dirs.get(dir)) {
            return Err(ConfigError(format!(
                "tenants '{other}' and '{name}' share the data directory {}",
                dir.display()
            )));
        }
        let nested = |outer: &Path, outer_name: &str, inner: &Path, inner_name: &str| {
            ConfigError(format!(
                "tenants '{outer_name}' and '{inner_name}' have nested data directories: {} \
                 lies inside {}",
                inner.display(),
                outer.display()
            ))
        };
        // Nested is refused whoever owns the other directory, as in a whole file.
        for ancestor in dir.ancestors().skip(1) {
            if let Some(owner) = self.dirs.get(ancestor) {
                return Err(nested(ancestor, owner, dir, name));
            }
        }
        // In component order the paths inside `dir` follow it directly.
        let inside = self
            .dirs
            .range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
            .take_while(|(path, _)| path.starts_with(dir));
        if let Some((path, owner)) = inside.into_iter().next() {
            return Err(nested(dir, name, path, owner));
        }
        Ok(())
    }

    /// Why admin changes are refused, if they are (the change log failed).
    fn refusing(&self) -> Option<String> {
        self.broken
            .clone()
            .or_else(|| self.log.as_ref().and_then(|log| log.group_sync().failed()))
    }

    /// The group commit of the change log (none before it is open).
    pub fn group_sync(&self) -> Option<Arc<GroupSync>> {
        self.log.as_ref().map(ChangeLog::group_sync)
    }

    /// Creates the tenant's directories, writes the change to the log and applies it
    /// here; it is durable once [`GroupSync::sync_through`] its seq returns.
    pub fn commit(&mut self, prepared: &Prepared) -> Result<Change, AdminError> {
        if let Some(why) = self.refusing() {
            return Err(AdminError::Io(why));
        }
        for entry in &prepared.entries {
            config::create_directory(&entry.name, &entry.data_dir)?;
        }
        let change = Change {
            seq: self.generation + 1,
            time: now_unix(),
            action: prepared.action.to_owned(),
            tenant: prepared.name.clone(),
            before: self.tenants.get(&prepared.name).map(|e| (**e).clone()),
            after: prepared.after.clone(),
        };
        let Some(log) = self.log.as_mut() else {
            return Err(AdminError::Io("the admin change log is not open".into()));
        };
        if let Err((error, cut_back)) = log.append(&change) {
            if !cut_back {
                self.broken = Some(format!(
                    "admin changes are refused until a reload: the change log could not \
                     be written ({error}) nor cut back"
                ));
            }
            return Err(AdminError::Io(format!(
                "cannot record the admin change: {error}"
            )));
        }
        self.generation = change.seq;
        self.release(&prepared.name);
        match &change.after {
            Some(after) => {
                self.hold(&prepared.name, prepared.entries.iter());
                self.tenants
                    .insert(prepared.name.clone(), Arc::new(after.clone()));
            }
            None => {
                self.tenants.remove(&prepared.name);
            }
        }
        self.refresh_gauges();
        Ok(change)
    }

    /// What a fold would write, unless there is nothing to fold or the file was edited
    /// by hand since it was read.
    pub fn snapshot(&self) -> Option<Snapshot> {
        (self.generation > self.folded && !self.hand_edited).then(|| Snapshot {
            top: self.top.clone(),
            tenants: self.tenants.values().cloned().collect(),
            generation: self.generation,
            epoch: self.epoch,
            config_path: self.config_path.clone(),
        })
    }

    /// Renames the fold's file over the config (made from `snapshot`) unless the file
    /// was edited by hand meanwhile or a reload came between; then keeps in the change
    /// log only what a file edited from an older generation may still need. Only the
    /// rename and the directory's sync happen here, under the ledger lock.
    pub fn install_fold(&mut self, snapshot: &Snapshot, staged: Staged) -> Result<(), String> {
        if snapshot.epoch != self.epoch {
            return Ok(());
        }
        // The file never holds a change that is not durable in the log.
        if let Some(sync) = self.group_sync() {
            sync.sync_through(snapshot.generation)?;
        }
        if stamp_of(&self.config_path) != self.file_stamp {
            self.hand_edited = true;
            self.refresh_gauges();
            return Err(format!(
                "{} was edited since SQ read it; admin changes stay in {} until a reload \
                 takes the edit in",
                self.config_path.display(),
                changes::path_for(&self.config_path).display()
            ));
        }
        let dir = match self.config_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::rename(&staged.temp, &self.config_path)
            .map_err(|e| format!("cannot write the config: {e}"))?;
        let _renamed = staged.into_path();
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync the config's directory: {e}"))?;
        self.file_stamp = stamp_of(&self.config_path);
        self.folded = snapshot.generation;
        self.refresh_gauges();
        if let Some(log) = self.log.as_mut() {
            if log.lines() as u64 > 2 * KEEP_CHANGES {
                let keep_after = self
                    .folded
                    .min(self.generation.saturating_sub(KEEP_CHANGES));
                if let Err(error) = log.keep_after(keep_after) {
                    // The log may now be a file SQ no longer writes to: stop until a
                    // reload opens the one on disk.
                    self.broken = Some(format!(
                        "admin changes are refused until a reload: the change log could \
                         not be compacted ({error})"
                    ));
                    return Err(error.0);
                }
            }
        }
        Ok(())
    }
}

/// Writes `bytes` a mebibyte at a time, each written back to the disk before the next:
/// a fold of a large file (21 MB at 100,000 tenants) would otherwise reach the disk in one
/// burst at its fsync, and the change log's fdatasync, which acknowledges admin changes,
/// would wait behind all of it.
fn write_paced(file: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    const CHUNK: usize = 1 << 20;
    let mut offset = 0usize;
    for chunk in bytes.chunks(CHUNK) {
        file.write_all(chunk)?;
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        let (start, len) = (offset as libc::off64_t, chunk.len() as libc::off64_t);
        // SAFETY: the descriptor is open for the duration of the call; sync_file_range
        // only starts and waits for write-back of that range.
        if unsafe { libc::sync_file_range(file.as_raw_fd(), start, len, flags) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        offset += chunk.len();
    }
    Ok(())
}

impl Snapshot {
    /// Renders the config file at this generation into a synced temp file beside it
    /// (named as the start-up sweep of leftovers expects), off the ledger lock.
    pub fn stage(&self) -> Result<Staged, String> {
        let bytes = self.render()?;
        let name = self
            .config_path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let temp = self.config_path.with_file_name(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            self.generation
        ));
        let staged = Staged { temp };
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged.temp)
            .and_then(|mut file| {
                write_paced(&mut file, &bytes)?;
                file.sync_all()
            })
            .map_err(|e| format!("cannot write the config: {e}"))?;
        Ok(staged)
    }

    /// The config file's text at this generation.
    fn render(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec_pretty(&assemble(&self.top, self.tenants.iter(), self.generation))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(name: &str, quota: u64) -> Entries {
        vec![
            json!({"name": name, "token_sha256": TokenDigest::of(name.as_bytes()).to_hex(),
                    "data_dir": name, "quota_mb": quota})
            .as_object()
            .cloned()
            .unwrap(),
        ]
    }

    fn change(seq: u64, tenant: &str, before: Option<Entries>, after: Option<Entries>) -> Change {
        Change {
            seq,
            time: 0,
            action: "test".into(),
            tenant: tenant.into(),
            before,
            after,
        }
    }

    #[test]
    fn changes_after_the_files_generation_replay_onto_it_and_a_hand_edit_of_the_same_tenant_conflicts(
    ) {
        let log = Path::new("log");
        let logged = vec![
            change(1, "a", None, Some(entries("a", 1))),
            change(2, "b", None, Some(entries("b", 1))),
            change(3, "a", Some(entries("a", 1)), Some(entries("a", 2))),
        ];
        // A file at generation 1 that also gained "c" by hand: b and a's change replay.
        let mut tenants: BTreeMap<String, Arc<Entries>> = [("a", 1), ("c", 5)]
            .iter()
            .map(|(n, q)| (n.to_string(), Arc::new(entries(n, *q))))
            .collect();
        assert_eq!(replay(&mut tenants, &logged, 1, log).unwrap(), 2);
        assert_eq!(*tenants["a"], entries("a", 2));
        assert_eq!(*tenants["b"], entries("b", 1));
        assert_eq!(*tenants["c"], entries("c", 5));

        // The same file where "a" was edited by hand: a conflict, naming the tenant.
        let mut edited: BTreeMap<String, Arc<Entries>> =
            [("a".to_string(), Arc::new(entries("a", 9)))].into();
        let refused = replay(&mut edited, &logged, 1, log).unwrap_err();
        assert!(refused.0.contains("tenant 'a'"), "{refused}");

        // A file older than what the log keeps is refused, not half-merged.
        let refused = replay(&mut BTreeMap::new(), &logged[1..], 0, log).unwrap_err();
        assert!(refused.0.contains("older copy"), "{refused}");
    }
}
