//! The file operations the storage engine needs, behind a trait so tests can inject
//! faults (disk full, I/O errors) exactly where they want them.
//!
//! The real disk opens every file with `O_NOFOLLOW` and serves only regular files: a
//! symlink placed in a tenant directory (`alice/x.phext -> ../bob/secret.phext`, by an
//! operator or a restore) must not hand one tenant another's data, and a FIFO or device
//! must not hang or feed a read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Whole-file reads, atomic durable replacement, removal, and append-only logs.
pub trait Disk: Send + Sync + 'static {
    /// The file's bytes, or `None` if it does not exist.
    fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>>;
    /// Replaces `path` with `bytes` so that a crash leaves the old or the new content,
    /// whole, and returns once the new content is durable.
    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Like [`Disk::replace`], except that the rename becomes durable only with the next
    /// durable change in the same directory, which the caller makes right after (one
    /// directory sync for two files).
    fn replace_then(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.replace(path, bytes)
    }
    /// Removes `path` (absent is fine) and makes the removal durable.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Removes `path` (absent is fine) without waiting for the removal to be durable:
    /// for files that are harmless if a crash brings them back.
    fn remove_lazily(&self, path: &Path) -> io::Result<()> {
        self.remove(path)
    }
    /// Opens an existing file for appending.
    fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Opens an existing file for writing in place, at chosen offsets.
    fn open_in_place(&self, path: &Path) -> io::Result<Box<dyn InPlaceFile>>;
    /// A handle that makes everything written to the filesystem holding `dir` durable,
    /// and that filesystem's device id. Open it before writing to `dir`: it reports
    /// write-back errors from its opening on.
    fn filesystem(&self, dir: &Path) -> io::Result<(u64, Arc<dyn FsSync>)>;
}

/// Makes a whole filesystem durable at once: one call covers the logs of every document
/// on it, which is how writers to different documents share a sync.
pub trait FsSync: Send + Sync {
    /// Returns once every byte written to the filesystem so far is durable.
    fn sync(&self) -> io::Result<()>;
}

/// An append-only file.
pub trait LogFile: Send {
    /// Appends all of `bytes`.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file back to `len` bytes (and makes that durable).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// A file overwritten in place: writes that stay inside its length change no metadata,
/// so syncing them costs one data write instead of data and inode.
pub trait InPlaceFile: Send {
    /// Writes all of `bytes` at `offset` (extending the file if they reach past its end).
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Makes every written byte durable.
    fn sync(&mut self) -> io::Result<()>;
    /// The file's length.
    fn len(&self) -> io::Result<u64>;
    /// Cuts the file back to `len` bytes (not synced); needs no free space.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDisk;

/// The path names a symlink, a directory, a FIFO or anything else that is not a regular
/// file: refused, never followed or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotRegularFile;

impl std::fmt::Display for NotRegularFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a regular file")
    }
}

impl std::error::Error for NotRegularFile {}

impl NotRegularFile {
    /// Whether `error` is this refusal.
    pub fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|inner| inner.is::<NotRegularFile>())
    }
}

/// Opens an existing regular file without following a symlink at `path` (nor blocking
/// on a FIFO), refusing anything else.
fn open_regular(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let refused = || io::Error::new(io::ErrorKind::InvalidInput, NotRegularFile);
    let file = match options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => return Err(refused()),
        Err(error) => return Err(error),
    };
    if !file.metadata()?.file_type().is_file() {
        return Err(refused());
    }
    Ok(file)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The name of the temp file that [`Disk::replace`] writes before renaming it to
/// `file_name`: `.<file_name>.tmp-<pid>-<n>`.
fn temp_name(file_name: &str) -> String {
    format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The file a temp file of [`Disk::replace`] was to become, and the id of the process
/// that wrote it, if `name` is one.
pub fn temp_file_target(name: &str) -> Option<(&str, u32)> {
    let (target, suffix) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    let (pid, counter) = suffix.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if target.is_empty() || !digits(pid) || !digits(counter) {
        return None;
    }
    Some((target, pid.parse().ok()?))
}

/// Whether another process with this id is running (it may be a server still writing
/// its temp file). Our own id counts as not running: callers sweep before we write.
fn another_process_runs(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the regular files in `dir` that are temp files of [`Disk::replace`] for a
/// target `accept` recognises and whose writer is gone (a crash between their creation
/// and their rename leaves them for good), and returns how many went. Call before this
/// process replaces any such target in `dir`: the id it writes in its names may be the
/// same as a crashed predecessor's (a container's first process, say).
pub fn remove_stale_temp_files(dir: &Path, accept: impl Fn(&str) -> bool) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some((target, pid)) = name.to_str().and_then(temp_file_target) else {
            continue;
        };
        if accept(target) && !another_process_runs(pid) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no directory"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to a new temp file beside `path`, syncs it and renames it to `path`
/// (the directory is not synced).
fn write_and_rename(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let temp = dir.join(temp_name(&file_name.to_string_lossy()));
    let result = (|| {
        // A new file (O_EXCL): whatever sits at the temp name is never followed.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

impl Disk for RealDisk {
    fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        let mut file = match open_regular(path, OpenOptions::new().read(true)) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut bytes = Vec::new();
        let size = file.metadata().map_or(0, |m| m.len());
        // Fallible: a huge (or sparse) file is an error, not an abort.
        bytes
            .try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX))
            .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "file too large to read"))?;
        file.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        write_and_rename(path, bytes)?;
        sync_dir(parent(path)?)
    }

    fn replace_then(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        write_and_rename(path, bytes)
    }

    fn remove_lazily(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => sync_dir(parent(path)?),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }

    fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let file = open_regular(path, OpenOptions::new().append(true))?;
        Ok(Box::new(file))
    }

    fn open_in_place(&self, path: &Path) -> io::Result<Box<dyn InPlaceFile>> {
        // Not O_APPEND: Linux would append every positional write to the end.
        let file = open_regular(path, OpenOptions::new().write(true))?;
        Ok(Box::new(file))
    }

    fn filesystem(&self, dir: &Path) -> io::Result<(u64, Arc<dyn FsSync>)> {
        let handle = File::open(dir)?;
        let device = handle.metadata()?.dev();
        Ok((device, Arc::new(SyncFs(handle))))
    }
}

/// `syncfs(2)` on a descriptor of the filesystem. On Linux it waits for the writes and
/// gives the guarantees of fsync on every file of the filesystem, and it reports
/// write-back errors that happened since the descriptor was opened.
struct SyncFs(File);

impl FsSync for SyncFs {
    #[cfg(target_os = "linux")]
    fn sync(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs only reads the descriptor, which `self.0` keeps open.
        if unsafe { libc::syncfs(self.0.as_raw_fd()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn sync(&self) -> io::Result<()> {
        // Without syncfs, a full sync is the only filesystem-wide barrier.
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
        Ok(())
    }
}

impl LogFile for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_data()
    }
}

impl InPlaceFile for File {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, bytes, offset)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// A disk that fails on command, for the disk-full and I/O-error paths.
#[cfg(test)]
pub mod faulty {
    use std::io;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use super::{Disk, FsSync, InPlaceFile, LogFile, RealDisk};

    /// Which operation fails next, and how.
    #[derive(Debug, Default)]
    pub struct Faults {
        /// Fail every log append with this raw OS error.
        pub append: Option<i32>,
        /// Fail every in-place write that grows its file (the journal) with this raw OS
        /// error; overwriting space the file already has still works, as on a full disk.
        pub grow: Option<i32>,
        /// Fail every log or filesystem sync with this raw OS error.
        pub sync: Option<i32>,
        /// With `sync` set: fail only this many more syncs, then clear the fault.
        pub sync_failures_left: Option<u32>,
        /// Fail every checkpoint (replacement of a `.phext` file) with this raw OS error.
        pub checkpoint: Option<i32>,
        /// Fail every replacement of any file (a new log, a checkpoint, a new journal)
        /// with this raw OS error, as a disk without a free block does.
        pub replace: Option<i32>,
        /// Fail every truncation of a log with this raw OS error.
        pub truncate: Option<i32>,
    }

    /// The real disk, failing where [`Faults`] says, and counting syncs.
    #[derive(Clone, Default)]
    pub struct FaultyDisk {
        /// The switchboard; change it while the store runs.
        pub faults: Arc<Mutex<Faults>>,
        /// Successful log syncs so far.
        pub syncs: Arc<AtomicU64>,
    }

    impl FaultyDisk {
        fn check(&self, pick: impl Fn(&Faults) -> Option<i32>) -> io::Result<()> {
            let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
            match pick(&faults) {
                Some(code) => Err(io::Error::from_raw_os_error(code)),
                None => Ok(()),
            }
        }
    }

    impl Disk for FaultyDisk {
        fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
            RealDisk.read(path)
        }

        fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
            if path.extension().is_some_and(|e| e == "phext") {
                self.check(|f| f.checkpoint)?;
            }
            self.check(|f| f.replace)?;
            RealDisk.replace(path, bytes)
        }

        fn replace_then(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
            self.check(|f| f.replace)?;
            RealDisk.replace_then(path, bytes)
        }

        fn remove(&self, path: &Path) -> io::Result<()> {
            RealDisk.remove(path)
        }

        fn remove_lazily(&self, path: &Path) -> io::Result<()> {
            RealDisk.remove_lazily(path)
        }

        fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
            Ok(Box::new(FaultyLog {
                inner: RealDisk.open_log(path)?,
                disk: self.clone(),
            }))
        }

        fn open_in_place(&self, path: &Path) -> io::Result<Box<dyn InPlaceFile>> {
            Ok(Box::new(FaultyLog {
                inner: RealDisk.open_in_place(path)?,
                disk: self.clone(),
            }))
        }

        fn filesystem(&self, dir: &Path) -> io::Result<(u64, Arc<dyn FsSync>)> {
            let (device, inner) = RealDisk.filesystem(dir)?;
            Ok((
                device,
                Arc::new(FaultySync {
                    inner,
                    disk: self.clone(),
                }),
            ))
        }
    }

    struct FaultySync {
        inner: Arc<dyn FsSync>,
        disk: FaultyDisk,
    }

    impl FsSync for FaultySync {
        fn sync(&self) -> io::Result<()> {
            self.disk.sync_counted(|| self.inner.sync())
        }
    }

    /// A log or in-place file failing where the disk's [`Faults`] say.
    struct FaultyLog<F: ?Sized> {
        inner: Box<F>,
        disk: FaultyDisk,
    }

    impl FaultyDisk {
        fn sync_counted(&self, sync: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
            {
                let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(code) = faults.sync {
                    match &mut faults.sync_failures_left {
                        Some(0) => {
                            faults.sync = None;
                            faults.sync_failures_left = None;
                        }
                        Some(left) => {
                            *left -= 1;
                            return Err(io::Error::from_raw_os_error(code));
                        }
                        None => return Err(io::Error::from_raw_os_error(code)),
                    }
                }
            }
            sync()?;
            self.syncs.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    impl LogFile for FaultyLog<dyn LogFile> {
        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            if let Err(error) = self.disk.check(|f| f.append) {
                // Like a real full disk: part of the data may have made it.
                let _ = self.inner.append(&bytes[..bytes.len() / 2]);
                return Err(error);
            }
            self.inner.append(bytes)
        }

        fn sync(&mut self) -> io::Result<()> {
            self.disk.sync_counted(|| self.inner.sync())
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.disk.check(|f| f.truncate)?;
            self.inner.truncate(len)
        }
    }

    impl InPlaceFile for FaultyLog<dyn InPlaceFile> {
        fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
            let grows = offset + bytes.len() as u64 > self.inner.len()?;
            if grows {
                // A disk with no room left at all: nothing of the write lands.
                self.disk.check(|f| f.grow)?;
            }
            self.inner.write_at(offset, bytes)
        }

        fn sync(&mut self) -> io::Result<()> {
            self.disk.sync_counted(|| self.inner.sync())
        }

        fn len(&self) -> io::Result<u64> {
            self.inner.len()
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.inner.truncate(len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_swaps_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.phext");
        RealDisk.replace(&path, b"one").unwrap();
        RealDisk.replace(&path, b"two").unwrap();
        assert_eq!(RealDisk.read(&path).unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(RealDisk.read(&dir.path().join("absent")).unwrap(), None);
    }

    #[test]
    fn stale_temp_files_are_told_apart() {
        let ours = std::process::id();
        assert_eq!(
            temp_file_target(&temp_name("a.phext")),
            Some(("a.phext", ours))
        );
        assert_eq!(temp_file_target("..phext.tmp-12-0"), Some((".phext", 12)));
        assert_eq!(
            temp_file_target(".x.phext.wal.tmp-1-2"),
            Some(("x.phext.wal", 1))
        );
        for other in [
            "x.phext.tmp-1-2",
            ".x.phext.tmp-1",
            ".x.phext.tmp-a-2",
            ".x.phext.tmp-1-2-3",
            ".x.phext.tmp--2",
            "..tmp-1-2",
            ".x.phext",
        ] {
            assert_eq!(temp_file_target(other), None, "{other}");
        }
        // A process that has exited, ours, and a live one (a second server's temp file).
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let mut live = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let names = [
            format!(".a.phext.tmp-{gone_pid}-1"),
            format!(".b.phext.tmp-{ours}-1"),
            format!(".c.phext.tmp-{}-1", live.id()),
            ".a.phext.tmp-x".to_owned(),
            format!(".tenants.json.tmp-{gone_pid}-1"),
            "a.phext".to_owned(),
        ];
        for name in &names {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        fs::create_dir(dir.path().join(format!(".d.phext.tmp-{gone_pid}-2"))).unwrap();
        let removed =
            remove_stale_temp_files(dir.path(), |target| target.ends_with(".phext")).unwrap();
        let _ = live.kill();
        let _ = live.wait();
        assert_eq!(removed, 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![
            names[2].clone(),
            names[3].clone(),
            names[4].clone(),
            names[5].clone(),
            format!(".d.phext.tmp-{gone_pid}-2"),
        ];
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.phext");
        fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link.phext");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let sub = dir.path().join("sub.phext");
        fs::create_dir(&sub).unwrap();
        let fifo = dir.path().join("fifo.phext");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        for path in [&link, &sub, &fifo] {
            let read = RealDisk.read(path).unwrap_err();
            assert!(NotRegularFile::is(&read), "{path:?}: {read}");
            assert!(RealDisk.open_log(path).is_err(), "{path:?}");
            assert!(RealDisk.open_in_place(path).is_err(), "{path:?}");
        }
        assert_eq!(
            RealDisk.read(&target).unwrap().as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(fs::read(&target).unwrap(), b"secret");
    }

    #[test]
    fn logs_append_sync_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        RealDisk.replace(&path, b"head").unwrap();
        let mut log = RealDisk.open_log(&path).unwrap();
        log.append(b"-one").unwrap();
        log.sync().unwrap();
        log.append(b"-two").unwrap();
        log.truncate(8).unwrap();
        log.append(b"-three").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"head-one-three");
        RealDisk.remove(&path).unwrap();
        RealDisk.remove(&path).unwrap();
        assert!(!path.exists());
    }
}
