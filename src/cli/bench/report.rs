//! What a load run measured, printed as aligned lines or JSON.

use std::io::Write;

use serde_json::json;

use crate::cli::common::indented_fields;

/// What a run measured.
#[derive(Debug)]
pub struct Report {
    /// `verify load` (HTTP) or `RADIUS load`.
    pub label: &'static str,
    pub seconds: f64,
    pub concurrency: usize,
    pub credentials: usize,
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub accepts: u64,
    pub rejects: u64,
    pub valid_rejected: u64,
    pub wrong_accepted: u64,
    pub double_accepts: u64,
    pub server_errors: u64,
    pub rate_limited: u64,
    /// Requests whose answer never came (connection broken, timeout, 408).
    pub answers_lost: u64,
    pub other_errors: u64,
    pub first_error: Option<String>,
    /// The generator's CPU use during the run, in cores (of 1.0 each).
    pub generator_cores: f64,
    /// The bare handler's figures of the same run (`bench verify` only).
    pub floor: Option<FloorFigures>,
    /// Hostile connections held during the run, and how many times the
    /// daemon closed one (`--idle-connections`).
    pub hostile: Option<(usize, u64)>,
    /// How many daemons the workers were spread over (`--also`).
    pub daemons: usize,
}

/// The bare handler, served by the same HTTP shell, under the same load.
#[derive(Debug, Clone, Copy)]
pub struct FloorFigures {
    pub seconds: f64,
    pub per_second: f64,
    pub p99_ms: f64,
    pub generator_cores: f64,
}

/// How the generator keeps holders below the failure delay, said in every
/// report.
const WRONG_CODES: &str =
    "never two in a row per holder; each run starts with a valid code (delay from the 3rd)";

impl Report {
    pub(super) fn labelled(self, label: &'static str) -> Report {
        Report { label, ..self }
    }

    pub(super) fn to_json(&self) -> serde_json::Value {
        json!({
            "seconds": self.seconds, "concurrency": self.concurrency, "credentials": self.credentials,
            "requests": self.requests, "verifies_per_second": self.per_second,
            "daemons": self.daemons,
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms,
            "accepts": self.accepts, "rejects": self.rejects,
            "valid_rejected": self.valid_rejected, "wrong_accepted": self.wrong_accepted,
            "double_accepts": self.double_accepts, "http_5xx": self.server_errors,
            "rate_limited": self.rate_limited, "answers_lost": self.answers_lost,
            "other_errors": self.other_errors,
            "first_error": self.first_error,
            "generator_cores": self.generator_cores,
            "wrong_codes": WRONG_CODES,
            "floor": self.floor.map(|f| json!({
                "seconds": f.seconds, "requests_per_second": f.per_second,
                "p99_ms": f.p99_ms, "generator_cores": f.generator_cores,
            })),
            "hostile_connections": self.hostile.map(|(n, _)| n),
            "hostile_closed_by_daemon": self.hostile.map(|(_, c)| c),
            "ratio_to_floor": self.floor.map(|f| self.per_second / f.per_second.max(1e-9)),
        })
    }

    pub(super) fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{}: {:.1} s, concurrency {}, {} credentials",
            self.label, self.seconds, self.concurrency, self.credentials
        )?;
        let mut lines = vec![
            ("requests", self.requests.to_string()),
            ("verifies/s", format!("{:.0}", self.per_second)),
            ("latency p50", format!("{:.2} ms", self.p50_ms)),
            ("latency p99", format!("{:.2} ms", self.p99_ms)),
            ("latency max", format!("{:.2} ms", self.max_ms)),
            ("accepts", self.accepts.to_string()),
            ("rejects", self.rejects.to_string()),
            ("valid rejected", self.valid_rejected.to_string()),
            ("wrong accepted", self.wrong_accepted.to_string()),
            ("double accepts", self.double_accepts.to_string()),
            ("HTTP 5xx", self.server_errors.to_string()),
            ("rate limited", self.rate_limited.to_string()),
            ("answers lost", self.answers_lost.to_string()),
            ("other errors", self.other_errors.to_string()),
        ];
        if let Some(e) = &self.first_error {
            lines.push(("first error", e.clone()));
        }
        if self.daemons > 1 {
            lines.push((
                "daemons",
                format!("{} (workers spread over them in turn)", self.daemons),
            ));
        }
        if let Some((n, closed)) = self.hostile {
            lines.push((
                "hostile",
                format!("{n} idle or trickling connections held, {closed} closed by the daemon"),
            ));
        }
        lines.push((
            "generator CPU",
            format!("{:.2} cores", self.generator_cores),
        ));
        lines.push(("wrong codes", WRONG_CODES.to_owned()));
        if let Some(floor) = &self.floor {
            lines.push((
                "floor",
                format!(
                    "{:.0}/s, p99 {:.2} ms, generator CPU {:.2} cores (bare handler, same HTTP shell, {:.1} s)",
                    floor.per_second, floor.p99_ms, floor.generator_cores, floor.seconds
                ),
            ));
            lines.push((
                "ratio to floor",
                format!("{:.2}", self.per_second / floor.per_second.max(1e-9)),
            ));
        }
        indented_fields(out, "  ", &lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_human_report_keeps_its_aligned_lines() {
        let report = Report {
            label: "verify load",
            seconds: 2.04,
            concurrency: 4,
            credentials: 8,
            requests: 1200,
            per_second: 588.2,
            p50_ms: 1.234,
            p99_ms: 9.5,
            max_ms: 12.0,
            accepts: 1100,
            rejects: 100,
            valid_rejected: 0,
            wrong_accepted: 0,
            double_accepts: 0,
            server_errors: 0,
            rate_limited: 3,
            answers_lost: 2,
            other_errors: 1,
            first_error: Some("timeout".into()),
            generator_cores: 0.5,
            floor: Some(FloorFigures {
                seconds: 2.0,
                per_second: 2000.0,
                p99_ms: 1.0,
                generator_cores: 0.8,
            }),
            hostile: None,
            daemons: 1,
        };
        let mut out = Vec::new();
        report.print(&mut out).unwrap_or_default();
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "verify load: 2.0 s, concurrency 4, 8 credentials\n\
             \x20 requests        1200\n\
             \x20 verifies/s      588\n\
             \x20 latency p50     1.23 ms\n\
             \x20 latency p99     9.50 ms\n\
             \x20 latency max     12.00 ms\n\
             \x20 accepts         1100\n\
             \x20 rejects         100\n\
             \x20 valid rejected  0\n\
             \x20 wrong accepted  0\n\
             \x20 double accepts  0\n\
             \x20 HTTP 5xx        0\n\
             \x20 rate limited    3\n\
             \x20 answers lost    2\n\
             \x20 other errors    1\n\
             \x20 first error     timeout\n\
             \x20 generator CPU   0.50 cores\n\
             \x20 wrong codes     never two in a row per holder; each run starts with a valid code (delay from the 3rd)\n\
             \x20 floor           2000/s, p99 1.00 ms, generator CPU 0.80 cores (bare handler, same HTTP shell, 2.0 s)\n\
             \x20 ratio to floor  0.29\n"
        );
    }
}
