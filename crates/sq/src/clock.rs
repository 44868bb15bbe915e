//! Time, through one handle. Whatever expires, waits or rates requests reads the
//! monotonic clock here, and this clock is tokio's: a test on a paused runtime
//! (`#[tokio::test(start_paused = true)]` with `tokio::time::advance`) moves rate limits,
//! login windows, timeouts and (next) leases forward without sleeping. Anywhere else it is
//! the operating system's monotonic clock. Wall-clock time (log lines, audit entries) and
//! latency measurement (metrics) are not this clock's business.

use std::sync::OnceLock;
use std::time::Duration;

pub use tokio::time::Instant;

/// Now, on the monotonic clock.
pub fn now() -> Instant {
    Instant::now()
}

/// A fixed point in the past (the first reading), so that a reading can be a `Duration`.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(now)
}

/// The clock governor's rate limiters read: the time since [`origin`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RateClock;

impl governor::clock::Clock for RateClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        now().saturating_duration_since(origin())
    }
}
