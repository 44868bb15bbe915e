//! Per-tenant request rates (GCRA, via governor) and per-address limits on failed
//! authentication.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use governor::clock::Clock;
use governor::{Quota, RateLimiter};

use crate::clock::{self, Instant, RateClock};

type Direct = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    RateClock,
    governor::middleware::NoOpMiddleware<Duration>,
>;

/// A tenant's request budget: `rps` per second, bursts of up to one second's worth.
pub struct RateLimit {
    rps: f64,
    limiter: Direct,
}

impl RateLimit {
    /// A limiter allowing `rps` requests per second.
    pub fn new(rps: f64) -> Self {
        let burst = NonZeroU32::new(rps.ceil().clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(1.0 / rps);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        RateLimit {
            rps,
            limiter: RateLimiter::direct_with_clock(quota, RateClock),
        }
    }

    /// The configured rate.
    pub fn rps(&self) -> f64 {
        self.rps
    }

    /// Takes one request from the budget, or says how long until one is available.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(RateClock.now()))
    }
}

/// Counts failed authentications per client address in fixed windows; an address past
/// the limit is refused (429) until its window ends, whatever it presents.
pub struct AuthFailures {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// Whether any failure was ever recorded: every request asks, and the usual answer
    /// must not take a lock.
    any: AtomicBool,
}

/// Addresses remembered before old windows are swept.
const SWEEP_AT: usize = 10_000;

impl AuthFailures {
    /// At most `limit` failures per `window` per address.
    pub fn new(limit: u32, window: Duration) -> Self {
        AuthFailures {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
        }
    }

    /// If `ip` is over its limit, how long until it may try again.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let (start, count) = seen.get(&ip)?;
        let elapsed = start.elapsed();
        (elapsed < self.window && *count >= self.limit).then(|| self.window - elapsed)
    }

    /// Records a failed authentication from `ip`.
    pub fn record(&self, ip: IpAddr) {
        self.any.store(true, Ordering::Relaxed);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= SWEEP_AT {
            let window = self.window;
            seen.retain(|_, (start, _)| start.elapsed() < window);
        }
        let now = clock::now();
        let entry = seen.entry(ip).or_insert((now, 0));
        if entry.0.elapsed() >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_burst_then_waits() {
        let limit = RateLimit::new(5.0);
        for _ in 0..5 {
            assert!(limit.check().is_ok());
        }
        let wait = limit.check().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_waits_on_the_clock_not_on_a_sleep() {
        let limit = RateLimit::new(5.0);
        for _ in 0..5 {
            assert!(limit.check().is_ok());
        }
        let wait = limit.check().unwrap_err();
        tokio::time::advance(wait / 2).await;
        assert!(limit.check().is_err(), "half the wait is not enough");
        tokio::time::advance(wait).await;
        assert!(
            limit.check().is_ok(),
            "the paused clock moved the budget on"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_address_is_let_in_when_its_window_ends() {
        let failures = AuthFailures::new(2, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        failures.record(ip);
        failures.record(ip);
        let wait = failures.blocked(ip).expect("blocked");
        assert_eq!(wait, Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(failures.blocked(ip), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(failures.blocked(ip), None);
        failures.record(ip);
        assert_eq!(
            failures.blocked(ip),
            None,
            "a new window starts counting at one"
        );
    }

    #[test]
    fn failures_block_an_address_only() {
        let failures = AuthFailures::new(3, Duration::from_secs(60));
        let (bad, good): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert_eq!(failures.blocked(bad), None);
            failures.record(bad);
        }
        assert!(failures.blocked(bad).is_some());
        assert_eq!(failures.blocked(good), None);
    }
}
