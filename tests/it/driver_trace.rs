//! `RUST_LOG=trace` output of the driver: every APDU, secrets masked. In its own
//! test binary: tracing caches callsite interest per process, and a parallel
//! test without a subscriber could otherwise switch these callsites off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use crate::support::in_process;
use in_process::*;

use std::io::Write;
use std::sync::{Arc, Mutex};

use keyward::apdu::pin::PinValue;
use keyward::oath::codec::OathType;
use keyward::otp::Secret;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn trace_shows_every_apdu_with_secrets_masked() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A secret with a pattern that cannot occur by chance in the rest.
    let secret = Secret::from_hex("A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5").unwrap();
    let pin = PinValue::new(b"482915").unwrap();
    let puk = PinValue::new(b"73918264").unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let mut t = in_process(255);
        t.write(&virt(), &spec("masked", OathType::Totp, &secret), 59)
            .unwrap();
        t.set_pin(&virtual_profile(), &pin, &puk).unwrap();
        t.verify_pin(&pin).unwrap();
    });
    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("write credential >> 00 01 00 00"), "{log}");
    assert!(log.contains("73 16 21 06 ** **"), "{log}");
    assert!(log.contains("<< [0 data bytes masked] 9000"), "{log}");
    assert!(log.contains("<< 7903050403"), "{log}");
    assert!(log.contains("verify PIN >> 00 20 00 80 08 ** **"), "{log}");
    for secret_text in [
        "A5 A5",
        "A5A5",
        "34 38 32 39",
        "34383239",
        "37 33 39 31",
        "37333931",
    ] {
        assert!(!log.contains(secret_text), "{secret_text} leaked:\n{log}");
    }
}
