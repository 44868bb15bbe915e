//! The admin change log: `<config file>.changes` beside the config file, one JSON line
//! per acknowledged admin change, synced before the change is answered. The config file
//! stays the form an operator reads and edits; the change log carries what the admin API
//! did since, until it is folded into the file (see [`super::ledger`]).
//!
//! Each line names the tenant and holds its entries before and after the change, so a
//! change can be replayed onto a file whatever happened to the file's other tenants, and
//! a hand edit of the same tenant is recognised instead of overwritten.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::config::ConfigError;
use sq_store::{Disk, RealDisk};

/// A tenant's entries as the config file holds them (tokens as digests).
pub type Entries = Vec<Map<String, Value>>;

/// One admin change as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Its place in the sequence of changes, one more than the one before.
    pub seq: u64,
    /// Unix seconds when it was made.
    pub time: u64,
    /// What the admin API did: create, rotate, enable, disable, delete.
    pub action: String,
    /// The tenant it changed.
    pub tenant: String,
    /// The tenant's entries before the change; none when it created the tenant.
    pub before: Option<Entries>,
    /// The tenant's entries after the change; none when it deleted the tenant.
    pub after: Option<Entries>,
}

/// The open change log. Changes are written one at a time (under the ledger lock) and
/// made durable together by [`GroupSync`], so concurrent admin changes share an fsync.
pub struct ChangeLog {
    path: PathBuf,
    file: File,
    len: u64,
    lines: usize,
    sync: Arc<GroupSync>,
}

/// Group commit for the change log: whoever syncs makes every change written so far
/// durable, and the writers waiting behind find theirs done.
pub struct GroupSync {
    written: AtomicU64,
    synced: Mutex<Synced>,
    /// Set by a failed sync; read without the mutex, which a sync holds for its duration.
    failed: OnceLock<String>,
}

struct Synced {
    /// A handle on the log file (the writer's own is behind the ledger lock).
    file: File,
    through: u64,
}

impl GroupSync {
    fn new(file: File, through: u64) -> Self {
        GroupSync {
            written: AtomicU64::new(through),
            synced: Mutex::new(Synced { file, through }),
            failed: OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Synced> {
        self.synced.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once change `seq` (written before) is durable. After a failed sync the
    /// log's state on disk is unknown: every later call fails too, until a reload.
    pub fn sync_through(&self, seq: u64) -> Result<(), String> {
        let mut synced = self.lock();
        if let Some(why) = self.failed.get() {
            return Err(why.clone());
        }
        if synced.through >= seq {
            return Ok(());
        }
        let target = self.written.load(Ordering::Acquire);
        match synced.file.sync_data() {
            Ok(()) => {
                synced.through = target;
                Ok(())
            }
            Err(error) => {
                let why = format!(
                    "admin changes are refused until a reload: the change log could not be \
                     synced ({error})"
                );
                let _ = self.failed.set(why.clone());
                Err(why)
            }
        }
    }

    /// Why admin changes are refused, after a failed sync.
    pub fn failed(&self) -> Option<String> {
        self.failed.get().cloned()
    }
}

/// Where the change log of the config at `config` lives.
pub fn path_for(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".changes");
    config.with_file_name(name)
}

fn refused(path: &Path, why: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("admin change log {}: {why}", path.display()))
}

/// The changes in the log at `path` (none when there is no log), and the length of its
/// intact part. A last line cut short by a crash was never acknowledged and is ignored;
/// any other unreadable line refuses the log. So do unreadable lines that run to the end
/// (what a crash can leave of blocks allocated but never written), if nothing readable
/// follows them.
pub fn read(path: &Path) -> Result<(Vec<Change>, u64), ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(refused(path, e)),
    };
    let mut changes: Vec<Change> = Vec::new();
    let mut intact = 0usize;
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    for (number, line) in lines.iter().enumerate() {
        if !line.ends_with(b"\n") {
            break;
        }
        match serde_json::from_slice::<Change>(line) {
            Ok(change) => {
                if let Some(last) = changes.last() {
                    if change.seq != last.seq + 1 {
                        return Err(refused(
                            path,
                            format!(
                                "line {} has change {} after change {}; the log must count up by one",
                                number + 1,
                                change.seq,
                                last.seq
                            ),
                        ));
                    }
                }
                changes.push(change);
                intact += line.len();
            }
            Err(e) => {
                let readable_later = lines[number + 1..]
                    .iter()
                    .any(|later| serde_json::from_slice::<Change>(later).is_ok());
                if !readable_later {
                    break;
                }
                return Err(refused(
                    path,
                    format!("line {} is unreadable: {e}", number + 1),
                ));
            }
        }
    }
    Ok((changes, intact as u64))
}

impl ChangeLog {
    /// Opens the log at `path` for appending (creating it), cutting off a torn last line.
    pub fn open(path: &Path) -> Result<(ChangeLog, Vec<Change>), ConfigError> {
        let (changes, intact) = read(path)?;
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| refused(path, e))?;
        let len = file.metadata().map_err(|e| refused(path, e))?.len();
        if len > intact {
            file.set_len(intact).map_err(|e| refused(path, e))?;
        }
        if !existed {
            file.sync_all().map_err(|e| refused(path, e))?;
            if let Some(dir) = path.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| refused(path, e))?;
            }
        }
        let handle = file.try_clone().map_err(|e| refused(path, e))?;
        let last = changes.last().map_or(0, |c| c.seq);
        let log = ChangeLog {
            path: path.to_path_buf(),
            file,
            len: intact,
            lines: changes.len(),
            sync: Arc::new(GroupSync::new(handle, last)),
        };
        Ok((log, changes))
    }

    /// Writes `change` (durable once [`GroupSync::sync_through`] its seq returns). On
    /// failure the log is cut back to where it was, so a change that was refused never
    /// reappears at the next start; the error says whether that worked (false: the log
    /// may now end in a partial line).
    pub fn append(&mut self, change: &Change) -> Result<(), (io::Error, bool)> {
        let mut line = serde_json::to_vec(change)
            .map_err(|e| (io::Error::new(io::ErrorKind::InvalidData, e), true))?;
        line.push(b'\n');
        match self.file.write_all(&line) {
            Ok(()) => {
                self.len += line.len() as u64;
                self.lines += 1;
                self.sync.written.store(change.seq, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                let cut_back = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_data())
                    .is_ok();
                Err((error, cut_back))
            }
        }
    }

    /// The group commit of this log.
    pub fn group_sync(&self) -> Arc<GroupSync> {
        self.sync.clone()
    }

    /// How many changes the log holds.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Rewrites the log keeping only the changes after `seq` (atomically: a crash leaves
    /// the old log or the new one). Everything written is synced first; the group commit
    /// goes on with the new file.
    pub fn keep_after(&mut self, seq: u64) -> Result<(), ConfigError> {
        let written = self.sync.written.load(Ordering::Acquire);
        self.sync
            .sync_through(written)
            .map_err(|e| refused(&self.path, e))?;
        let (changes, _) = read(&self.path)?;
        let mut bytes = Vec::new();
        let mut kept = 0;
        for change in changes.iter().filter(|c| c.seq > seq) {
            serde_json::to_writer(&mut bytes, change).map_err(|e| refused(&self.path, e))?;
            bytes.push(b'\n');
            kept += 1;
        }
        RealDisk
            .replace(&self.path, &bytes)
            .map_err(|e| refused(&self.path, e))?;
        let (reopened, _) = ChangeLog::open(&self.path)?;
        debug_assert_eq!(reopened.lines, kept);
        let handle = reopened
            .file
            .try_clone()
            .map_err(|e| refused(&self.path, e))?;
        self.sync.lock().file = handle;
        self.file = reopened.file;
        self.len = reopened.len;
        self.lines = reopened.lines;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(seq: u64) -> Change {
        Change {
            seq,
            time: 1,
            action: "create".into(),
            tenant: format!("t{seq}"),
            before: None,
            after: Some(vec![json!({"name": format!("t{seq}")})
                .as_object()
                .cloned()
                .unwrap()]),
        }
    }

    #[test]
    fn changes_survive_reopening_and_a_torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.json.changes");
        let (mut log, none) = ChangeLog::open(&path).unwrap();
        assert!(none.is_empty());
        log.append(&change(1)).unwrap();
        log.append(&change(2)).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"seq":3,"time":1,"act"#).unwrap();
        drop(file);
        let (mut log, changes) = ChangeLog::open(&path).unwrap();
        assert_eq!(changes, vec![change(1), change(2)]);
        log.append(&change(3)).unwrap();
        let (changes, _) = read(&path).unwrap();
        assert_eq!(changes, vec![change(1), change(2), change(3)]);
    }

    #[test]
    fn a_damaged_line_before_the_end_or_a_gap_refuses_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let line = |c: &Change| format!("{}\n", serde_json::to_string(c).unwrap());
        std::fs::write(&path, format!("not json\n{}", line(&change(1)))).unwrap();
        assert!(read(&path).unwrap_err().0.contains("line 1 is unreadable"));
        std::fs::write(&path, format!("{}{}", line(&change(1)), line(&change(3)))).unwrap();
        assert!(read(&path).unwrap_err().0.contains("count up by one"));
        // Garbage to the end, newline-terminated: a torn tail, cut off.
        std::fs::write(&path, format!("{}\0\0\0\nxx\n", line(&change(1)))).unwrap();
        assert_eq!(read(&path).unwrap().0, vec![change(1)]);
    }

    #[test]
    fn keeping_only_later_changes_rewrites_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let (mut log, _) = ChangeLog::open(&path).unwrap();
        for seq in 1..=5 {
            log.append(&change(seq)).unwrap();
        }
        log.keep_after(3).unwrap();
        assert_eq!(log.lines(), 2);
        log.append(&change(6)).unwrap();
        let (changes, _) = read(&path).unwrap();
        assert_eq!(changes, vec![change(4), change(5), change(6)]);
    }
}
