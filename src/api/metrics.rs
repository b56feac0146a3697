//! Prometheus metrics in the text exposition format. Anyone may read `up`,
//! requests by route and status, verify latency and counts, RADIUS
//! datagrams by client and outcome, device events; verify outcomes by
//! reason (which part of a passcode was wrong) only an admin key reads
//! ([`Metrics::render`]'s `reasons`), since comparing two readings around
//! one verify would otherwise tell a guesser what it got right.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::devices::DeviceCounters;

/// Upper bounds of the verify latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    verify_outcomes: Mutex<BTreeMap<&'static str, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    /// Route, then status: looked up by `&str`, no allocation per request.
    requests: Mutex<HashMap<Box<str>, BTreeMap<u16, u64>>>,
    radius: Mutex<BTreeMap<String, BTreeMap<&'static str, u64>>>,
    directory: Mutex<BTreeMap<(&'static str, String, String), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    pub fn verify_outcome(&self, label: &'static str, took: Duration) {
        *lock(&self.verify_outcomes).entry(label).or_default() += 1;
        let seconds = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn request(&self, route: &str, status: u16) {
        let mut requests = lock(&self.requests);
        let by_status = match requests.get_mut(route) {
            Some(by_status) => by_status,
            None => requests.entry(route.into()).or_default(),
        };
        *by_status.entry(status).or_default() += 1;
    }

    /// A RADIUS datagram's fate, by declared client (empty: none matched).
    pub fn radius(&self, client: &str, outcome: &'static str) {
        // Per datagram: no allocation once the client has been seen.
        let mut radius = lock(&self.radius);
        let outcomes = match radius.get_mut(client) {
            Some(outcomes) => outcomes,
            None => radius.entry(client.to_owned()).or_default(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }

    /// A directory sync run: its outcome, its changes by kind and verb, its
    /// skipped entries.
    pub fn directory_run(&self, report: &crate::wire::directory::SyncReport) {
        let mut m = lock(&self.directory);
        let outcome = report.outcome.as_str().to_owned();
        *m.entry(("run", outcome, String::new())).or_default() += 1;
        for c in &report.counts {
            *m.entry(("change", c.kind.clone(), c.verb.clone()))
                .or_default() += c.count as u64;
        }
        let errors = report.errors.len() as u64;
        *m.entry(("entry_error", String::new(), String::new()))
            .or_default() += errors;
    }

    /// The exposition; `reasons` adds verify outcomes by reason (admin
    /// key only).
    pub fn render(&self, devices: &DeviceCounters, reasons: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP keyward_up The daemon answers.\n# TYPE keyward_up gauge\nkeyward_up 1\n",
        );
        if reasons {
            out.push_str("# HELP keyward_verify_total Verify outcomes by reason.\n# TYPE keyward_verify_total counter\n");
            for (label, n) in lock(&self.verify_outcomes).iter() {
                let _ = writeln!(out, "keyward_verify_total{{outcome=\"{label}\"}} {n}");
            }
        }
        out.push_str("# HELP keyward_verify_seconds Verify latency, decision durable.\n# TYPE keyward_verify_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "keyward_verify_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "keyward_verify_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "keyward_verify_seconds_sum {sum}");
        let _ = writeln!(out, "keyward_verify_seconds_count {count}");
        out.push_str("# HELP keyward_http_requests_total HTTP requests by route and status.\n# TYPE keyward_http_requests_total counter\n");
        let requests = lock(&self.requests);
        let mut routes: Vec<_> = requests.iter().collect();
        routes.sort_unstable_by_key(|(route, _)| *route);
        for (route, by_status) in routes {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            for (status, n) in by_status {
                let _ = writeln!(
                    out,
                    "keyward_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        drop(requests);
        out.push_str("# HELP keyward_radius_requests_total RADIUS datagrams by client and outcome.\n# TYPE keyward_radius_requests_total counter\n");
        for (client, outcomes) in lock(&self.radius).iter() {
            for (outcome, n) in outcomes {
                let _ = writeln!(
                    out,
                    "keyward_radius_requests_total{{client=\"{client}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP keyward_directory_total Directory sync runs by outcome, changes by kind and verb, entries skipped.\n# TYPE keyward_directory_total counter\n");
        for ((what, a, b), n) in lock(&self.directory).iter() {
            let labels = match *what {
                "run" => format!("what=\"run\",outcome=\"{a}\""),
                "change" => format!("what=\"change\",kind=\"{a}\",verb=\"{b}\""),
                _ => "what=\"entry_error\"".to_owned(),
            };
            let _ = writeln!(out, "keyward_directory_total{{{labels}}} {n}");
        }
        out.push_str("# HELP keyward_device_events_total Device events by kind.\n# TYPE keyward_device_events_total counter\n");
        for (kind, counter) in [
            ("inserted", &devices.inserted),
            ("removed", &devices.removed),
            ("token_state", &devices.state_changes),
            ("error", &devices.errors),
        ] {
            let _ = writeln!(
                out,
                "keyward_device_events_total{{kind=\"{kind}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}

// Verify writer (issue 11): room left on the data directory's disk.
/// The gauges of the data directory's file system (`store::disk`), in the
/// exposition format; nothing when it cannot be read.
pub fn disk_gauges(data_dir: &std::path::Path) -> String {
    let Ok(space) = crate::store::disk::DiskSpace::of(data_dir) else {
        return String::new();
    };
    format!(
        "# HELP keyward_disk_available_bytes Room left for keyward on the data directory's disk.\n\
         # TYPE keyward_disk_available_bytes gauge\nkeyward_disk_available_bytes {}\n\
         # HELP keyward_disk_total_bytes Size of the data directory's disk.\n\
         # TYPE keyward_disk_total_bytes gauge\nkeyward_disk_total_bytes {}\n",
        space.available, space.total
    )
}
