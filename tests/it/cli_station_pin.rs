//! `keyward station --forgotten-pin` through a pipe against a scripted
//! daemon: an active key at the reader, the new PIN typed twice (a weak or
//! mistyped one never reaches the daemon), the reset posted to
//! `/v1/tokens/{serial}/forgotten-pin`, and the signed slip saved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use crate::cli_station::{no_route, Answer, FakeDaemon, READER};
use crate::support::cli;

fn active_at_reader() -> Answer {
    (
        200,
        "application/json",
        format!(
            r#"[{{"reader":"{READER}","present":true,"profile":"keyward-virtual","serial":"12345678","state":"active","holder":"adurand"}}]"#
        ),
    )
}

#[test]
fn station_resets_a_forgotten_pin_and_saves_the_slip() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    let daemon = FakeDaemon::start(Arc::new(
        move |method: &str, path: &str, body: &str| match (method, path) {
            ("GET", "/v1/devices") => active_at_reader(),
            ("POST", "/v1/tokens/12345678/forgotten-pin") => {
                b.lock().unwrap().push(body.to_owned());
                (
                    200,
                    "application/json",
                    r#"{"serial":"12345678","device_pin":true,"approval":4,"slip":"keyward-pin-reset-slip-v1\ntoken=12345678\n","signature":"c2ln"}"#
                        .into(),
                )
            }
            _ => no_route(),
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    // 123456 → too easy; 593017/593018 → differ; 593017 twice → reset.
    let output = cli::run(
        cli::client(
            &daemon.url,
            "kw_station",
            [
                "station",
                "--forgotten-pin",
                "--reader",
                READER,
                "--once",
                "--receipts-dir",
            ],
        )
        .arg(dir.path())
        .write_stdin("123456\n593017\n593018\n593017\n593017\n"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("state:  active"), "{stdout}");
    assert!(stdout.contains("Forgotten PIN"), "{stdout}");
    assert!(stdout.contains("PIN refused: this PIN is too easy to guess"));
    assert!(stdout.contains("The two PINs differ."));
    assert!(stdout.contains("your old PIN no longer works"), "{stdout}");
    let path = dir.path().join("pin-reset-slip-4.txt");
    assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "keyward-pin-reset-slip-v1\ntoken=12345678\nsignature=c2ln\n"
    );
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "only the confirmed PIN reached the daemon");
    assert!(bodies[0].contains(r#""pin":"593017""#) && bodies[0].contains(READER));
    assert!(!stdout.contains("593017") && !stderr.contains("593017"));
}
