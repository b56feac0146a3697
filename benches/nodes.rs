//! Verify throughput of one node on SQLite, one node on PostgreSQL and two
//! nodes on one PostgreSQL database, in the same run (issue 19): the same
//! holders, the same generator (`keyward bench verify`), one after the
//! other on the same machine.
//!
//! 1. `keyward init`, `keyward bench setup` (KEYWARD_BENCH_HOLDERS holders),
//!    `keyward serve` on that SQLite store, a gateway key; the load.
//! 2. A PostgreSQL 15 of its own (Debian's, `initdb` + `pg_ctl` on a
//!    loopback port, the tests' harness), `keyward store copy` of the
//!    SQLite store into it, one `keyward serve` node; the load.
//! 3. A second node on the same database; the load spread over both
//!    (`bench verify --also`).
//!
//! For each node on PostgreSQL it also prints where the node's time went
//! during the phase (`store::postgres::stats`, read from `GET /v1/health`
//! before and after): per batch, the round trips to PostgreSQL and the
//! time reading, deciding, writing, auditing and committing.
//!
//! Every phase must end with no valid code rejected, no wrong code or
//! replay accepted and no 5xx, or the bench stops. It prints one line per
//! phase and the machine's context (cores, load average, the fsync latency
//! of the directory the stores are in; PostgreSQL's data directory is in
//! the same temporary area).
//!
//! `cargo bench --bench nodes`. Environment: KEYWARD_BENCH_HOLDERS (2000),
//! KEYWARD_BENCH_SECONDS (20 a phase), KEYWARD_BENCH_CONCURRENCY (32).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/support/postgres.rs"]
mod postgres;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use keyward::store::postgres::stats::NodeStatsSnapshot;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_keyward");

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn keyward(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("KEYWARD_URL")
        .env_remove("KEYWARD_API_KEY")
        .env("KEYWARD_LANG", "en");
    cmd
}

/// Runs `cmd` to a successful end; its standard output.
fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run keyward");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A `keyward serve` child, stopped (SIGTERM, then waited for) when dropped.
struct Daemon {
    child: Child,
    url: String,
}

impl Daemon {
    fn start(data: &Path, extra: &[&str]) -> Daemon {
        let mut cmd = keyward(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--radius-listen",
            "127.0.0.1:0",
            "--pcsc",
            "off",
            "--hid",
            "off",
            "--virtual-token",
            "off",
        ]);
        cmd.args(extra)
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn keyward serve");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("keyward serve ended before listening")
                .expect("its output");
            if let Some(url) = line.strip_prefix("keyward: listening on ") {
                break url.to_owned();
            }
        };
        // Keep reading what it prints, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Daemon { child, url }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// One phase's figures, from `bench verify --json`, and each node's
/// writer stats over the phase (nodes on PostgreSQL).
struct Phase {
    label: &'static str,
    report: Value,
    writers: Vec<NodeStatsSnapshot>,
}

/// A node's writer stats now (`GET /v1/health`); `None` for a daemon on
/// SQLite, which does not show them there.
fn writer_stats(daemon: &Daemon) -> Option<NodeStatsSnapshot> {
    let mut answer = ureq::get(format!("{}/v1/health", daemon.url)).call().ok()?;
    let health: Value = answer.body_mut().read_json().ok()?;
    serde_json::from_value(health.get("writer")?.clone()).ok()
}

fn load(
    label: &'static str,
    daemons: &[&Daemon],
    gateway: &str,
    credentials: &Path,
    seconds: u64,
    concurrency: u64,
) -> Phase {
    let mut cmd = keyward(&[
        "bench",
        "verify",
        "--json",
        "--seconds",
        &seconds.to_string(),
        "--concurrency",
        &concurrency.to_string(),
    ]);
    cmd.arg("--credentials")
        .arg(credentials)
        .env("KEYWARD_URL", &daemons[0].url)
        .env("KEYWARD_API_KEY", gateway);
    for other in &daemons[1..] {
        cmd.arg("--also").arg(&other.url);
    }
    let before: Vec<_> = daemons.iter().map(|d| writer_stats(d)).collect();
    let out = cmd.output().expect("run keyward bench verify");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{label}: no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{label}: {report}");
    eprintln!("{label}: {report}");
    let writers = daemons
        .iter()
        .zip(before)
        .filter_map(|(d, before)| Some(writer_stats(d)?.since(&before?)))
        .collect();
    Phase {
        label,
        report,
        writers,
    }
}

/// Median latency of a 4 KiB write followed by `fdatasync`, in µs.
fn fsync_median_us(dir: &Path) -> f64 {
    use std::os::unix::fs::FileExt as _;
    let file = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    let block = [0x5au8; 4096];
    let mut times: Vec<f64> = (0..200)
        .map(|i| {
            let started = Instant::now();
            file.write_all_at(&block, (i % 16) * 4096).unwrap();
            file.sync_data().unwrap();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn private_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path.to_owned()
}

fn main() {
    // `cargo bench` passes `--bench`; this bench takes no filter.
    let holders = env("KEYWARD_BENCH_HOLDERS", 2000);
    let seconds = env("KEYWARD_BENCH_SECONDS", 20);
    let concurrency = env("KEYWARD_BENCH_CONCURRENCY", 32);
    postgres::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let credentials = dir.path().join("credentials");
    let init: Value =
        serde_json::from_str(&output(keyward(&["init", "--json", "--data"]).arg(&data))).unwrap();
    let admin = init["admin_key"].as_str().expect("admin key").to_owned();
    output(
        keyward(&[
            "bench",
            "setup",
            "--holders",
            &holders.to_string(),
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&credentials),
    );

    let mut phases = Vec::new();
    let gateway = {
        let sqlite = Daemon::start(&data, &[]);
        let gateway = keyward::client::Client::new(&sqlite.url, Some(admin))
            .create_api_key(&keyward::wire::apikeys::NewKeyBody {
                name: "bench-gateway".into(),
                role: "gateway".into(),
                district: None,
                person: None,
                readers: None,
            })
            .expect("a gateway key")
            .key
            .as_str()
            .to_owned();
        phases.push(load(
            "sqlite, 1 node",
            &[&sqlite],
            &gateway,
            &credentials,
            seconds,
            concurrency,
        ));
        gateway
    };

    // The same store, counters as the SQLite phase left them, copied.
    let db = postgres::database("bench_nodes");
    let nodes = private_dir(&dir.path().join("nodes"));
    let password = db.password_file(&nodes);
    output(
        keyward(&["store", "copy", "--data"])
            .arg(&data)
            .arg("--to")
            .arg(db.url())
            .arg("--password-file")
            .arg(&password),
    );
    let master = data.join("master.key");
    let node = |name: &str| {
        let home = private_dir(&nodes.join(name));
        let config = home.join("keyward.toml");
        std::fs::write(
            &config,
            format!(
                "authority_domain = \"ac-exemple.fr\"\n[store]\nurl = \"{}\"\npassword_file = \"{}\"\nnode = \"{name}\"\n",
                db.url(),
                password.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        Daemon::start(&home, &["--master-key", master.to_str().unwrap()])
    };
    let a = node("a");
    phases.push(load(
        "postgres, 1 node",
        &[&a],
        &gateway,
        &credentials,
        seconds,
        concurrency,
    ));
    let b = node("b");
    phases.push(load(
        "postgres, 2 nodes",
        &[&a, &b],
        &gateway,
        &credentials,
        seconds,
        concurrency,
    ));
    drop((a, b));

    let fsync = fsync_median_us(dir.path());
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "nodes: {holders} holders, concurrency {concurrency}, {seconds} s a phase, 30 % wrong; \
         {} cores, load average {}, fdatasync median {fsync:.0} µs",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    )
    .unwrap();
    let sqlite_rate = phases[0].report["verifies_per_second"]
        .as_f64()
        .unwrap_or(f64::NAN);
    for phase in &phases {
        let r = &phase.report;
        let rate = r["verifies_per_second"].as_f64().unwrap_or(f64::NAN);
        writeln!(
            out,
            "nodes phase={:?} verifies_per_second={rate:.0} p50_ms={:.2} p99_ms={:.2} \
             ratio_to_sqlite={:.2} ratio_to_floor={:.2} accepts={} rejects={} double_accepts={}",
            phase.label,
            r["p50_ms"].as_f64().unwrap_or(f64::NAN),
            r["p99_ms"].as_f64().unwrap_or(f64::NAN),
            rate / sqlite_rate,
            r["ratio_to_floor"].as_f64().unwrap_or(f64::NAN),
            r["accepts"],
            r["rejects"],
            r["double_accepts"],
        )
        .unwrap();
        for (n, writer) in phase.writers.iter().enumerate() {
            writeln!(out, "nodes phase={:?} node {n}:", phase.label).unwrap();
            for line in writer.report().lines() {
                writeln!(out, "  {line}").unwrap();
            }
        }
    }
}
