//! `keyward bench setup` leaves holders whose codes the daemon's verify
//! service accepts once, and a private credentials file; `bench verify`
//! refuses to run on fewer credentials than workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use crate::support::cli::{client, exits, init, keyward, run, stdout_ok};
use crate::support::serve::{serve, Served};

use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use keyward::store::{Config, Store, SystemClock};

#[test]
fn bench_setup_writes_active_holders_and_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    stdout_ok(keyward(["init", "--data"]).arg(&data));
    let creds = dir.path().join("creds");
    let stdout = bench_setup(&data, 3, &creds);
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&creds).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    // No secret or PIN on the terminal.
    for line in &lines {
        for field in line.split(' ').skip(1).take(2) {
            assert!(!stdout.contains(field));
        }
    }

    let store = Store::open(&data, Arc::new(SystemClock), Config::new("ac-exemple.fr")).unwrap();
    let service = store.verify_service().unwrap();
    let [login, pin, secret, counter]: [&str; 4] =
        lines[1].split(' ').collect::<Vec<_>>().try_into().unwrap();
    let key = CredentialKey::new(Algorithm::Sha1, &Secret::from_hex(secret).unwrap());
    let passcode = format!(
        "{pin}{}",
        code_at(&key, counter.parse().unwrap(), Digits::SIX)
    );
    assert!(service.verify(login, &passcode).unwrap().is_accept());
    assert!(
        !service.verify(login, &passcode).unwrap().is_accept(),
        "replay"
    );

    let (_, stderr) = exits(&mut bench_verify("http://127.0.0.1:1", "kw_x", &creds), 1);
    assert!(stderr.contains("3 credentials for 4 workers"));
}

/// A gateway key made through the API of the daemon at `url` by `admin`.
pub fn gateway_key(url: &str, admin: String) -> String {
    keyward::client::Client::new(url, Some(admin))
        .create_api_key(&keyward::wire::apikeys::NewKeyBody {
            name: "gw".into(),
            role: "gateway".into(),
            district: None,
            person: None,
            readers: None,
        })
        .unwrap()
        .key
        .as_str()
        .to_owned()
}

/// `keyward bench setup --holders N --data DATA --out CREDS`; returns stdout.
pub fn bench_setup(data: &std::path::Path, holders: u32, creds: &std::path::Path) -> String {
    stdout_ok(
        keyward([
            "bench",
            "setup",
            "--holders",
            &holders.to_string(),
            "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(creds),
    )
}

/// `keyward bench verify` for one second with four workers.
fn bench_verify(url: &str, key: &str, creds: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = client(
        url,
        key,
        ["bench", "verify", "--seconds", "1", "--concurrency", "4"],
    );
    cmd.arg("--credentials").arg(creds);
    cmd
}

/// The generator against a real daemon: accepts and rejects as planned, no
/// valid code rejected, no replay accepted, no 5xx, counters saved for the
/// next run (a second run on the same file still gets its codes accepted).
#[test]
fn bench_verify_against_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = init(&data);
    let creds = dir.path().join("creds");
    bench_setup(&data, 8, &creds);
    let daemon = Served::start(&mut serve(
        &data,
        &["--pcsc", "off", "--virtual-token", "off"],
    ));
    let url = daemon.url.clone();
    let gateway = gateway_key(&url, admin);
    for _ in 0..2 {
        let out = run(bench_verify(&url, &gateway, &creds).arg("--json"));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(out.status.success(), "{report}");
        assert!(report["accepts"].as_u64().unwrap() > 0, "{report}");
        assert!(report["rejects"].as_u64().unwrap() > 0, "{report}");
        // The floor of the same run: a bare handler behind the same shell.
        assert!(report["floor"]["requests_per_second"].as_f64().unwrap() > 0.0);
        assert!(report["ratio_to_floor"].as_f64().unwrap() > 0.0, "{report}");
        assert!(
            report["generator_cores"].as_f64().unwrap() > 0.0,
            "{report}"
        );
        assert!(report["wrong_codes"]
            .as_str()
            .unwrap()
            .contains("never two"));
        for zero in [
            "valid_rejected",
            "wrong_accepted",
            "double_accepts",
            "http_5xx",
            "other_errors",
            "answers_lost",
        ] {
            assert_eq!(report[zero], 0, "{zero}: {report}");
        }
    }
}

/// `bench verify --also`: the workers spread over two nodes on one
/// PostgreSQL database (the bench's credentials copied by `store copy`);
/// every valid code accepted once, no replay accepted, both nodes asked.
#[test]
fn bench_verify_spreads_its_workers_over_two_postgres_nodes() {
    use crate::support::pg_nodes::{query, start_node, store_copy, target};
    use crate::support::postgres;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = init(&data);
    let creds = dir.path().join("creds");
    bench_setup(&data, 8, &creds);
    let gateway = {
        let daemon = Served::start(&mut serve(
            &data,
            &["--pcsc", "off", "--virtual-token", "off"],
        ));
        gateway_key(&daemon.url, admin)
    };
    let db = postgres::database("bench_two_nodes");
    let nodes = tempfile::tempdir().unwrap();
    let password = db.password_file(nodes.path());
    let clock = nodes.path().join("clock");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(&clock, now.to_string()).unwrap();
    store_copy(&data, &db.url(), &password, &clock);
    let master = data.join("master.key");
    let a = start_node(nodes.path(), "a", &db.url(), &password, &master, &clock, "");
    let b = start_node(nodes.path(), "b", &db.url(), &password, &master, &clock, "");

    let out = run(bench_verify(&a.url, &gateway, &creds)
        .arg("--also")
        .arg(&b.url)
        .arg("--json"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{report}");
    assert_eq!(report["daemons"], 2, "{report}");
    assert!(report["accepts"].as_u64().unwrap() > 0, "{report}");
    for zero in [
        "valid_rejected",
        "wrong_accepted",
        "double_accepts",
        "http_5xx",
    ] {
        assert_eq!(report[zero], 0, "{zero}: {report}");
    }
    // Both nodes decided: each appended verify entries under its name.
    let target = target(&db.url(), &password);
    for node in ["a", "b"] {
        let rows = query(
            &target,
            &format!("SELECT count(*) FROM audit WHERE detail LIKE '%node={node}%'"),
        );
        let count: i64 = rows[0].get(0);
        assert!(count > 0, "node {node} appended no audit entry");
    }
}
