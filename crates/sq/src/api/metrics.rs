//! Server-wide counters and the Prometheus text rendering of `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::router::{label, Endpoint, LABEL_COUNT};
use crate::http::ConnectionStats;
use crate::tenancy::{now_unix, Tenancy};
use sq_store::Store;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];
/// A tenant counts as active if it made a request within this many seconds.
const ACTIVE_WINDOW: u64 = 300;

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Counters that are not per tenant.
pub struct Metrics {
    /// Latency by endpoint label (`router::label`).
    latency: Vec<Histogram>,
    /// Failed authentications (tenant or admin).
    pub auth_failures: AtomicU64,
    /// Requests refused for a tenant's rate limit or an address's failed logins.
    pub rate_limited: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            latency: (0..LABEL_COUNT).map(|_| Histogram::default()).collect(),
            auth_failures: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Records one request's latency under its endpoint's label.
    pub fn observe(&self, endpoint: &Endpoint, elapsed: Duration) {
        let Some(histogram) = self.latency.get(endpoint.label_index()) else {
            return;
        };
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&le| seconds <= le) {
            histogram.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        histogram.count.fetch_add(1, Ordering::Relaxed);
        histogram.sum_micros.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// The Prometheus text exposition of everything.
    pub fn render(
        &self,
        tenancy: &Tenancy,
        store: &Store,
        connections: &ConnectionStats,
    ) -> String {
        let mut out = String::new();
        let tenants = tenancy.tenants();
        let now = now_unix();

        header(
            &mut out,
            "sq_requests_total",
            "counter",
            "Requests answered, by tenant, verb and status.",
        );
        for tenant in &tenants {
            for ((verb, status), count) in tenant.stats.requests() {
                let _ = writeln!(
                    out,
                    "sq_requests_total{{tenant=\"{}\",verb=\"{verb}\",status=\"{status}\"}} {count}",
                    escape(&tenant.name)
                );
            }
        }

        header(
            &mut out,
            "sq_request_duration_seconds",
            "histogram",
            "Request latency, by verb.",
        );
        for (i, histogram) in self.latency.iter().enumerate() {
            let verb = label(i);
            let mut cumulative = 0;
            for (le, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(out, "sq_request_duration_seconds_bucket{{verb=\"{verb}\",le=\"{le}\"}} {cumulative}");
            }
            let count = histogram.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "sq_request_duration_seconds_bucket{{verb=\"{verb}\",le=\"+Inf\"}} {count}"
            );
            let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "sq_request_duration_seconds_sum{{verb=\"{verb}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "sq_request_duration_seconds_count{{verb=\"{verb}\"}} {count}"
            );
        }

        header(
            &mut out,
            "sq_storage_bytes",
            "gauge",
            "Canonical bytes stored per tenant (tenants whose usage is known).",
        );
        for tenant in &tenants {
            if let Some(bytes) = tenant.directory.known_usage() {
                let _ = writeln!(
                    out,
                    "sq_storage_bytes{{tenant=\"{}\"}} {bytes}",
                    escape(&tenant.name)
                );
            }
        }

        header(&mut out, "sq_tenants", "gauge", "Tenants configured.");
        let _ = writeln!(out, "sq_tenants {}", tenants.len());
        header(
            &mut out,
            "sq_active_tenants",
            "gauge",
            "Tenants with a request in the last 5 minutes.",
        );
        let active = tenants
            .iter()
            .filter(|t| {
                t.stats
                    .last_active()
                    .is_some_and(|at| now.saturating_sub(at) <= ACTIVE_WINDOW)
            })
            .count();
        let _ = writeln!(out, "sq_active_tenants {active}");
        header(
            &mut out,
            "sq_resident_bytes",
            "gauge",
            "Memory charged to resident documents.",
        );
        let _ = writeln!(out, "sq_resident_bytes {}", store.resident_bytes());
        header(
            &mut out,
            "sq_response_bytes",
            "gauge",
            "Memory of large response bodies that connections are still sending.",
        );
        let _ = writeln!(out, "sq_response_bytes {}", store.view_bytes());
        if let Some((open, budget)) = store.open_log_files() {
            header(
                &mut out,
                "sq_open_log_files",
                "gauge",
                "Document log files open now.",
            );
            let _ = writeln!(out, "sq_open_log_files {open}");
            header(
                &mut out,
                "sq_open_log_files_budget",
                "gauge",
                "Document log files kept open at most (the least recently used is closed past it).",
            );
            let _ = writeln!(out, "sq_open_log_files_budget {budget}");
        }
        if let Some(open) = crate::process::open_files() {
            header(
                &mut out,
                "sq_open_files",
                "gauge",
                "File descriptors the process holds.",
            );
            let _ = writeln!(out, "sq_open_files {open}");
        }
        if let Some(limit) = crate::process::open_file_limit() {
            header(
                &mut out,
                "sq_open_files_limit",
                "gauge",
                "The process's open-file limit (raised to the hard limit at start).",
            );
            let _ = writeln!(out, "sq_open_files_limit {limit}");
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            header(
                &mut out,
                "sq_worker_threads",
                "gauge",
                "Threads serving requests (--workers).",
            );
            let _ = writeln!(out, "sq_worker_threads {}", runtime.metrics().num_workers());
        }

        header(
            &mut out,
            "sq_reloads_total",
            "counter",
            "Config reloads, by result.",
        );
        let (reloads, failures) = tenancy.as_multi().map_or((0, 0), |m| {
            (
                m.reloads.load(Ordering::Relaxed),
                m.reload_failures.load(Ordering::Relaxed),
            )
        });
        let _ = writeln!(
            out,
            "sq_reloads_total{{result=\"ok\"}} {}",
            reloads - failures
        );
        let _ = writeln!(out, "sq_reloads_total{{result=\"failed\"}} {failures}");
        if let Some(multi) = tenancy.as_multi() {
            let gauges = &multi.fold_gauges;
            header(
                &mut out,
                "sq_admin_changes_unfolded",
                "gauge",
                "Admin changes in the change log that the config file does not hold yet.",
            );
            let _ = writeln!(
                out,
                "sq_admin_changes_unfolded {}",
                gauges.unfolded.load(Ordering::Relaxed)
            );
            header(
                &mut out,
                "sq_config_edited_by_hand",
                "gauge",
                "1 while the config file holds a hand edit not reloaded yet (admin changes wait in the change log).",
            );
            let _ = writeln!(
                out,
                "sq_config_edited_by_hand {}",
                u8::from(gauges.edited_by_hand.load(Ordering::Relaxed))
            );
        }
        header(
            &mut out,
            "sq_auth_failures_total",
            "counter",
            "Requests refused for a missing or wrong token.",
        );
        let _ = writeln!(
            out,
            "sq_auth_failures_total {}",
            self.auth_failures.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "sq_rate_limited_total",
            "counter",
            "Requests refused with 429.",
        );
        let _ = writeln!(
            out,
            "sq_rate_limited_total {}",
            self.rate_limited.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "sq_connections",
            "gauge",
            "Connections being served.",
        );
        let _ = writeln!(
            out,
            "sq_connections {}",
            connections.open.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "sq_connection_task_bytes",
            "gauge",
            "Memory of one connection's task state, held while it is open (idle or not).",
        );
        let _ = writeln!(
            out,
            "sq_connection_task_bytes {}",
            crate::http::connection_task_bytes()
        );
        header(
            &mut out,
            "sq_connection_buffer_bytes",
            "gauge",
            "Read buffers held by connections now (an idle connection holds none).",
        );
        let _ = writeln!(
            out,
            "sq_connection_buffer_bytes {}",
            crate::http::buffer_bytes()
        );
        header(
            &mut out,
            "sq_connections_refused_total",
            "counter",
            "Connections answered 503, by the cap they hit: the server's \
             (--max-connections) or their address's (--max-connections-per-address).",
        );
        let _ = writeln!(
            out,
            "sq_connections_refused_total{{reason=\"limit\"}} {}",
            connections.refused_at_limit.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "sq_connections_refused_total{{reason=\"per_address\"}} {}",
            connections.refused_per_address.load(Ordering::Relaxed)
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as Prometheus wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_cumulative_buckets() {
        let metrics = Metrics::default();
        let select = Endpoint::Verb(crate::api::Verb::Select);
        metrics.observe(&select, Duration::from_micros(300));
        metrics.observe(&select, Duration::from_secs(10));
        let histogram = &metrics.latency[select.label_index()];
        assert_eq!(histogram.count.load(Ordering::Relaxed), 2);
        assert_eq!(
            histogram.buckets[2].load(Ordering::Relaxed),
            1,
            "0.3 ms is in le=0.0005"
        );
        assert_eq!(label(Endpoint::Unknown.label_index()), "other");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
