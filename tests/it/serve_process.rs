//! `keyward serve` as a real process over loopback: it initialises a fresh
//! data directory, prints its address when ready, answers /healthz, and on
//! SIGTERM finishes a request already in flight, then exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::cli::{init, keyward, run, stdout_ok, text};
use crate::support::serve::{serve, serve_init};

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
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
    let mut served = serve_init(&data, &["--virtual-token", "on", "--pcsc", "off"]);
    let (addr, key) = (served.addr, served.admin_key());

    // /healthz
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(r#"{"status":"ok","time_zone":"UTC"}"#),
        "{answer}"
    );

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

    served.sigterm();
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

    let status = served.wait();
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
    let printed = stdout_ok(keyward(["init", "--data"]).arg(&data));
    let last = printed.lines().last().unwrap();
    let key = last.split_whitespace().last().unwrap();
    assert!(key.starts_with("kw_") && key.len() == 55, "{last}");
    assert_eq!(printed.matches(key).count(), 1);
    let again = run(keyward(["init", "--json", "--data"]).arg(&data));
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("refusing to overwrite"));
    // --json for scripts.
    let other = dir.path().join("other");
    assert!(init(&other).starts_with("kw_"));
}

#[test]
fn serve_refuses_unsafe_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    stdout_ok(keyward(["init", "--data"]).arg(&data));
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = serve(&data, &["--virtual-token", "off", "--pcsc", "off"])
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stdout).unwrap().is_empty(),
        "must not start listening"
    );
}
