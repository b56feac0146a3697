//! The virtual token in-process behind the driver's `Transport` seam, shared
//! by the driver test binaries.
#![allow(dead_code)]

use keyward::oath::codec::OathType;
use keyward::oath::driver::{CredentialSpec, Link, Token, TokenError, Transport};
use keyward::oath::sim::{CardOptions, CountingEntropy, MemoryStore, OathApplet};
use keyward::otp::{Algorithm, Digits, Period, Secret};
use keyward::profile::Profile;
use zeroize::Zeroizing;

pub type Card = OathApplet<MemoryStore, CountingEntropy>;

/// The virtual token in-process; counts transactions and APDUs.
pub struct InProcess {
    pub card: Card,
    pub transactions: usize,
    pub apdus: usize,
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

/// A fresh virtual card in memory, with deterministic entropy.
pub fn card(serial: u32, chunk: usize) -> Card {
    OathApplet::open(
        MemoryStore::default(),
        CountingEntropy(0),
        serial,
        CardOptions {
            chunk,
            ..CardOptions::default()
        },
    )
    .unwrap()
}

pub fn in_process(chunk: usize) -> Token<InProcess> {
    Token::new(InProcess {
        card: card(99, chunk),
        transactions: 0,
        apdus: 0,
    })
}

pub fn virtual_profile() -> Profile {
    Profile::parse(
        include_str!("../../../firmware-profiles/keyward-virtual.toml"),
        std::path::Path::new("keyward-virtual.toml"),
    )
    .unwrap()
}

pub fn virt() -> keyward::profile::Profile {
    keyward::profile::builtin()
        .unwrap()
        .into_iter()
        .find(|p| p.id == "keyward-virtual")
        .unwrap()
}

pub fn spec<'a>(name: &'a str, kind: OathType, secret: &'a Secret) -> CredentialSpec<'a> {
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
