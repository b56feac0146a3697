//! `keyward bench setup` leaves holders whose codes the daemon's verify
//! service accepts once, and a private credentials file; `bench verify`
//! refuses to run on fewer credentials than workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::sync::Arc;

use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use keyward::store::{Config, Store, SystemClock};

#[test]
fn bench_setup_writes_active_holders_and_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["init", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(init.status.success());
    let creds = dir.path().join("creds");
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["bench", "setup", "--holders", "3", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&creds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&creds).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    // No secret or PIN on the terminal.
    let stdout = String::from_utf8_lossy(&out.stdout);
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

    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "bench",
            "verify",
            "--seconds",
            "1",
            "--concurrency",
            "4",
            "--credentials",
        ])
        .arg(&creds)
        .env("KEYWARD_URL", "http://127.0.0.1:1")
        .env("KEYWARD_API_KEY", "kw_x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 credentials for 4 workers"));
}

/// The generator against a real daemon: accepts and rejects as planned, no
/// valid code rejected, no replay accepted, no 5xx, counters saved for the
/// next run (a second run on the same file still gets its codes accepted).
#[test]
fn bench_verify_against_a_running_daemon() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["init", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(init.status.success());
    let admin: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
    let admin = admin["admin_key"].as_str().unwrap().to_owned();
    let creds = dir.path().join("creds");
    let setup = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["bench", "setup", "--holders", "8", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&creds)
        .output()
        .unwrap();
    assert!(setup.status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "serve",
            "--pcsc",
            "off",
            "--virtual-token",
            "off",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg(self.0.id().to_string()).status();
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufReader::new(serve.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("listening on")));
    let _serve = Stop(serve);
    let gateway = keyward::client::Client::new(&url, Some(admin))
        .create_api_key(&keyward::wire::apikeys::NewKeyBody {
            name: "gw".into(),
            role: "gateway".into(),
            district: None,
            readers: None,
        })
        .unwrap()
        .key
        .as_str()
        .to_owned();
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args([
                "bench",
                "verify",
                "--json",
                "--seconds",
                "1",
                "--concurrency",
                "4",
                "--credentials",
            ])
            .arg(&creds)
            .env("KEYWARD_URL", &url)
            .env("KEYWARD_API_KEY", &gateway)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(out.status.success(), "{report}");
        assert!(report["accepts"].as_u64().unwrap() > 0, "{report}");
        assert!(report["rejects"].as_u64().unwrap() > 0, "{report}");
        for zero in [
            "valid_rejected",
            "wrong_accepted",
            "double_accepts",
            "http_5xx",
            "other_errors",
        ] {
            assert_eq!(report[zero], 0, "{zero}: {report}");
        }
    }
}
