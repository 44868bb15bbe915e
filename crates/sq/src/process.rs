//! What the process may hold: its open-file limit, raised at start the way Redis and
//! nginx do it, and the descriptors it holds now (for `/metrics`).

use std::io;

/// Descriptors kept for the listener, the journal, directories and the runtime before any
/// is given to connections or document logs.
const RESERVED_FILES: u64 = 64;

/// The soft open-file limit now, if it can be read.
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and nothing else.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit.rlim_cur)
}

/// Raises the soft open-file limit to the hard one (a common default is 1,024 under
/// 524,288, too few for thousands of tenants and connections). Returns the limit before
/// and after.
pub fn raise_open_file_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        let before = limit.rlim_cur;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok((before, limit.rlim_cur))
    }
}

/// How many document log files may stay open under `limit` descriptors: half of what is
/// left after the reserve (the other half is the connections'), at least 16.
pub fn log_file_budget(limit: u64) -> usize {
    let half = limit.saturating_sub(RESERVED_FILES) / 2;
    usize::try_from(half).unwrap_or(usize::MAX).max(16)
}

/// Memory a busy connection may take (its request head and body buffers, the state of
/// the request), for sizing the default connection limit.
const BUSY_CONNECTION_BYTES: u64 = 64 * 1024;

/// The default connection limit: the descriptors the log files leave (see
/// [`log_file_budget`]), and no more than an eighth of `memory` at
/// [`BUSY_CONNECTION_BYTES`] each; at least 64.
pub fn connection_budget(file_limit: u64, memory: u64) -> usize {
    let files = file_limit
        .saturating_sub(RESERVED_FILES)
        .saturating_sub(log_file_budget(file_limit) as u64);
    let by_memory = memory / 8 / BUSY_CONNECTION_BYTES;
    usize::try_from(files.min(by_memory))
        .unwrap_or(usize::MAX)
        .max(64)
}

/// Physical memory in bytes (Linux: pages times page size), if the system says.
pub fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let pages = u64::try_from(pages).ok()?;
    let size = u64::try_from(size).ok()?;
    pages.checked_mul(size)
}

/// Descriptors the process holds now (Linux: the entries of `/proc/self/fd`).
pub fn open_files() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_for_connections() {
        assert_eq!(log_file_budget(1024), 480);
        assert_eq!(log_file_budget(256), 96);
        assert_eq!(log_file_budget(10), 16);
        assert_eq!(log_file_budget(524_288), 262_112);
    }

    #[test]
    fn the_connection_budget_follows_files_and_memory() {
        const GIB: u64 = 1 << 30;
        // A 1,024 soft limit: the descriptors decide.
        assert_eq!(connection_budget(1024, 8 * GIB), 480);
        // systemd's 524,288: memory decides (8 GiB / 8 / 64 KiB).
        assert_eq!(connection_budget(524_288, 8 * GIB), 16_384);
        assert_eq!(connection_budget(100, 64 * GIB), 64);
        assert!(physical_memory().unwrap() > 0);
    }

    #[test]
    fn the_limit_and_the_open_files_are_read() {
        let (_, after) = raise_open_file_limit().unwrap();
        assert_eq!(open_file_limit(), Some(after));
        assert!(open_files().unwrap() >= 3);
    }
}
