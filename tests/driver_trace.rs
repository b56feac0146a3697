//! `RUST_LOG=trace` output of the driver: every APDU, secrets masked. In its own
//! test binary: tracing caches callsite interest per process, and a parallel
//! test without a subscriber could otherwise switch these callsites off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::io::Write;
use std::sync::{Arc, Mutex};

use keyward::apdu::pin::PinValue;
use keyward::otp::{Algorithm, Digits, Period, Secret};
use keyward::profile::Profile;
use keyward::sim::{CardOptions, CountingEntropy, MemoryStore, VirtualToken};
use keyward::token::{CredentialSpec, Link, Token, TokenError, Transport};
use keyward::ykoath::OathType;
use zeroize::Zeroizing;

type Card = VirtualToken<MemoryStore, CountingEntropy>;

/// The virtual token in-process; counts transactions and APDUs.
struct InProcess {
    card: Card,
    transactions: usize,
    apdus: usize,
}

struct InProcessLink<'a> {
    card: &'a mut Card,
    apdus: &'a mut usize,
}

impl Link for InProcessLink<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        *self.apdus += 1;
        Ok(Zeroizing::new(self.card.process(apdu)))
    }
}

impl Transport for InProcess {
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError> {
        self.transactions += 1;
        Ok(Box::new(InProcessLink {
            card: &mut self.card,
            apdus: &mut self.apdus,
        }))
    }
    fn reader(&self) -> &str {
        "Virtual PCD 00 00"
    }
}

fn in_process(chunk: usize) -> Token<InProcess> {
    let card = VirtualToken::open(
        MemoryStore::default(),
        CountingEntropy(0),
        99,
        CardOptions { chunk },
    )
    .unwrap();
    Token::new(InProcess {
        card,
        transactions: 0,
        apdus: 0,
    })
}

fn virtual_profile() -> Profile {
    Profile::parse(
        include_str!("../firmware-profiles/keyward-virtual.toml"),
        std::path::Path::new("keyward-virtual.toml"),
    )
    .unwrap()
}

fn virt() -> keyward::profile::Profile {
    keyward::profile::builtin()
        .unwrap()
        .into_iter()
        .find(|p| p.id == "keyward-virtual")
        .unwrap()
}

fn spec<'a>(name: &'a str, kind: OathType, secret: &'a Secret) -> CredentialSpec<'a> {
    CredentialSpec {
        name,
        issuer: None,
        kind,
        algorithm: Algorithm::Sha1,
        digits: Digits::SIX,
        period: Period::new(30).unwrap(),
        counter: 0,
        touch: false,
        secret,
    }
}

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
