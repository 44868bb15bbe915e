//! What each tenant did: requests by verb and status, and when it was last active.
//! Kept by tenant name, so counts survive reloads and key rotations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Counters of one tenant.
#[derive(Default)]
pub struct TenantStats {
    requests: Mutex<HashMap<(&'static str, u16), u64>>,
    last_active: AtomicU64,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TenantStats {
    /// Counts one request.
    pub fn record(&self, verb: &'static str, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((verb, status))
            .or_default() += 1;
        self.last_active.store(now_unix(), Ordering::Relaxed);
    }

    /// Requests by (verb, status).
    pub fn requests(&self) -> Vec<((&'static str, u16), u64)> {
        let mut counts: Vec<_> = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        counts.sort();
        counts
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        self.requests().iter().map(|(_, n)| n).sum()
    }

    /// Unix time of the last request, if any.
    pub fn last_active(&self) -> Option<u64> {
        match self.last_active.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t),
        }
    }
}
