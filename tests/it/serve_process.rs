//! `keyward serve` as a real process over loopback: it initialises a fresh
//! data directory, prints its address when ready, answers /healthz, and on
//! SIGTERM finishes a request already in flight, then exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::serve;
use serve::{serve_init, Served};

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn serve_starts_answers_and_finishes_in_flight_work_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Served {
        mut child,
        addr,
        admin_key: key,
    } = serve_init(&data, &["--virtual-token", "on", "--pcsc", "off"]);

    // /healthz
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");

    // A request in flight: its handler is reading the body (the server sent
    // 100 Continue) when SIGTERM arrives.
    let body = r#"{"id":"late","full_name":"Late Comer","mail":"late@ac-exemple.fr"}"#;
    let mut inflight = TcpStream::connect(addr).unwrap();
    inflight
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        inflight,
        "POST /v1/people HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    let head = read_head(&mut inflight);
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");

    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    // Wait until the server has stopped accepting: shutdown has begun.
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The in-flight request still completes.
    inflight.write_all(body.as_bytes()).unwrap();
    let head = read_head(&mut inflight);
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");

    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // And it was committed: the database opens cleanly with the person in it.
    let store = keyward::store::Store::open(
        &data,
        std::sync::Arc::new(keyward::store::SystemClock),
        keyward::store::Config::new("ac-exemple.fr"),
    )
    .unwrap();
    let person = store
        .read(|tx| tx.person(&keyward::domain::PersonId::parse("late").unwrap()))
        .unwrap();
    assert_eq!(person.full_name, "Late Comer");
    assert!(
        !data.join("keyward.db-wal").exists()
            || std::fs::metadata(data.join("keyward.db-wal"))
                .unwrap()
                .len()
                == 0
    );
}

#[test]
fn init_refuses_to_overwrite_and_prints_the_key_last() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["init", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    let key = last.split_whitespace().last().unwrap();
    assert!(key.starts_with("kw_") && key.len() == 55, "{last}");
    assert_eq!(text.matches(key).count(), 1);
    let again = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["init", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8(again.stderr)
        .unwrap()
        .contains("refusing to overwrite"));
    // --json for scripts.
    let other = dir.path().join("other");
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["init", "--json", "--data"])
        .arg(&other)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value["admin_key"].as_str().unwrap().starts_with("kw_"));
}

#[test]
fn serve_refuses_unsafe_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["init", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--virtual-token",
            "off",
            "--pcsc",
            "off",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stdout).unwrap().is_empty(),
        "must not start listening"
    );
}
