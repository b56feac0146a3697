//! `keyward serve --virtual-touch-key on` as a real process: the simulated
//! touch key is listed as `hid:<serial>` with the OTP HID profile, the HID
//! watcher runs alongside (no real key on this machine), and SIGTERM still
//! ends the daemon cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::serve::serve_init;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

fn get(addr: SocketAddr, path: &str, key: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn serve_lists_the_simulated_touch_key_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = serve_init(
        &data,
        &[
            "--virtual-token",
            "off",
            "--pcsc",
            "off",
            "--hid",
            "on",
            "--virtual-touch-key",
            "on",
        ],
    );

    let answer = get(served.addr, "/v1/devices", &served.admin_key());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let devices: serde_json::Value = serde_json::from_str(body).unwrap();
    let list = devices.as_array().unwrap();
    assert_eq!(list.len(), 1, "{devices}");
    let serial = list[0]["serial"].as_str().unwrap();
    assert_eq!(list[0]["reader"], format!("hid:{serial}"));
    assert_eq!(list[0]["profile"], "yubikey-otp-hid");
    assert_eq!(list[0]["state"], "stock");

    served.sigterm();
    let status = served.wait();
    assert!(status.success(), "{status:?}");
}
