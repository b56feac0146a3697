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
