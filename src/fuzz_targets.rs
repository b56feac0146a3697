//! The fuzz targets: pure functions that feed arbitrary bytes to every
//! parser of bytes from a device, the network or a file. Each must return
//! without panicking whatever it is given. The `fuzz/` crate runs them
//! under libFuzzer (`cargo fuzz`, docs/fuzzing.md); the test suite runs
//! them over the seed corpus in `fuzz/seeds/<target>/`, so CI exercises
//! them on the stable toolchain.

use std::path::Path;

use crate::apdu::{Command, Response};
use crate::hid::codec::frame::{parse_serial_reply, FrameAssembler, REPORT_LEN};
use crate::hid::{HidStatus, SlotConfig};
use crate::oath::codec::{self as oath, CodeResponse, Request, SelectInfo};
use crate::pskc::{self, Unlock};

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its `fuzz/fuzz_targets/*.rs` and of
/// its seed folder).
pub const TARGETS: &[(&str, Target)] = &[
    ("apdu_oath", apdu_oath),
    ("oath_tlv", oath_tlv),
    ("hid_reports", hid_reports),
    ("firmware_profile", firmware_profile),
    ("wire_bodies", wire_bodies),
    ("pskc", pskc_file),
    ("radius", crate::radius::fuzz_one),
    ("mail", mail_message),
    ("directory_exports", directory_exports),
];

/// A help request's message: parsing under a small and a large limit, the
/// kind read from its words, its `Authentication-Results` read.
pub fn mail_message(data: &[u8]) {
    use crate::mail::{auth, kind, message};
    let _ = message::parse(data, 64);
    if let Ok(m) = message::parse(data, message::DEFAULT_MAX_BYTES) {
        let _ = kind::detect(&m.subject, &m.text);
        let _ = auth::from_auth_results(&m.auth_results, "mx.ac-exemple.fr", "ac-exemple.fr");
    }
}

/// The academic directory's exports (LDIF, CSV) and the entries they give,
/// read as the sync reads them.
pub fn directory_exports(data: &[u8]) {
    use crate::directory::{DirectoryConfig, Snapshot};
    let config = DirectoryConfig::new("ldap://fuzz", "ou=people,dc=x", "ou=schools,dc=x");
    let mut entries = crate::directory::ldif::parse(data).unwrap_or_default();
    entries.extend(crate::directory::csv::parse(data, "uid", "ou=people,dc=x").unwrap_or_default());
    let _ = Snapshot::read(&entries, &entries, &config.reading, None);
    if let Ok(text) = std::str::from_utf8(data) {
        for value in text.lines() {
            let _ = crate::directory::values::delegation(value);
            let _ = crate::directory::values::date(value);
        }
        let _ = crate::directory::DistrictFile::parse(text);
    }
}

/// APDU responses and commands, and the YKOATH answers and requests they
/// carry.
pub fn apdu_oath(data: &[u8]) {
    if let Ok(response) = Response::parse(data) {
        let body = &response.data[..];
        let _ = SelectInfo::parse(body);
        let _ = oath::parse_list(body);
        let _ = CodeResponse::parse(body);
        let _ = oath::parse_calculate_all(body);
        let _ = oath::parse_validate(body);
    }
    if let Ok(command) = Command::parse(data) {
        let _ = Request::parse(&command);
    }
}

/// The YKOATH TLV parser, with and without raw-byte tags.
pub fn oath_tlv(data: &[u8]) {
    let _ = oath::tlv::parse(data, &[]);
    let _ = oath::tlv::parse(data, &[0x78, 0x7a, 0x7b]);
}

/// YubiKey OTP HID: status reports, serial replies, slot configurations and
/// frames reassembled from 8-byte feature reports.
pub fn hid_reports(data: &[u8]) {
    let _ = HidStatus::parse(data);
    let _ = parse_serial_reply(data);
    let _ = SlotConfig::parse(data);
    let mut assembler = FrameAssembler::default();
    for chunk in data.chunks_exact(REPORT_LEN) {
        let mut report = [0u8; REPORT_LEN];
        report.copy_from_slice(chunk);
        let _ = HidStatus::parse(&report);
        if assembler.push(&report).is_err() {
            assembler.reset();
        }
    }
}

/// Firmware profiles (`firmware-profiles/*.toml`), both kinds.
pub fn firmware_profile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::profile::Profile::parse(text, Path::new("fuzz.toml"));
        let _ = crate::hid::codec::profile::parse_otp_profile(text, "fuzz.toml");
    }
}

/// The JSON request body of every route that takes one.
pub fn wire_bodies(data: &[u8]) {
    use crate::wire::*;
    fn body<T: serde::de::DeserializeOwned>(data: &[u8]) {
        let de = &mut serde_json::Deserializer::from_slice(data);
        let _ = serde_path_to_error::deserialize::<_, T>(de);
    }
    body::<apikeys::NewKeyBody>(data);
    body::<people::DistrictBody>(data);
    body::<people::SchoolBody>(data);
    body::<people::PersonBody>(data);
    body::<rights::RightBody>(data);
    body::<requests::KeyRequestBody>(data);
    body::<requests::ReplacementBody>(data);
    body::<devices::ReaderBody>(data);
    body::<tokens::NewTokenBody>(data);
    body::<tokens::ImportBody>(data);
    body::<tokens::PrepareBody>(data);
    body::<tokens::BindBody>(data);
    body::<tokens::HandoverBody>(data);
    body::<tokens::ActivateBody>(data);
    body::<tokens::ReturnBody>(data);
    body::<tokens::RevokeBody>(data);
    body::<tokens::ResyncBody>(data);
    body::<verify::VerifyBody>(data);
}

/// PSKC files: plain, with a pre-shared key, with a passphrase (few
/// PBKDF2 iterations are what a fuzzer's files ask for, bounded anyway).
pub fn pskc_file(data: &[u8]) {
    let key = Unlock::Key(zeroize::Zeroizing::new(vec![0x42; 16]));
    let pass = Unlock::Passphrase(zeroize::Zeroizing::new(b"qwerty".to_vec()));
    for unlock in [Unlock::None, key, pass] {
        let _ = pskc::decode(data, &unlock, 1_800_000_000);
    }
}
