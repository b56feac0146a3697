//! Byte equality with Yubico's own implementation. Debian's yubikit
//! (`/usr/bin/python3`, package yubikey-manager) programs a fake OtpConnection
//! that records every feature report it sends; keyward's driver programs a
//! recording transport that answers the same way. For every configuration in
//! the matrix the 52-byte configuration and every 8-byte report must be equal.
//! A missing python or yubikit fails the test: it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use crate::support::cli::stdout_ok;

use keyward::hid::codec::crc::with_complemented_crc;
use keyward::hid::codec::frame::reply_reports;
use keyward::hid::{
    AccessCode, HidTransport, HotpConfig, HotpKey, Imf, OtpDevice, Slot, TokenId, TransportError,
};

const PYTHON: &str = "/usr/bin/python3";

/// yubikit side. The identifier handling is `ykman otp hotp --identifier`'s,
/// with `parse_modhex_or_bcd` imported from ykman itself.
const SCRIPT: &str = r#"
import sys, struct
from yubikit.core.otp import OtpConnection, calculate_crc
from yubikit.yubiotp import YubiOtpSession, HotpSlotConfiguration, SLOT
from ykman.cli.otp import parse_modhex_or_bcd

SERIAL = 0x00A1B2C3

class Recorder(OtpConnection):
    def __init__(self):
        self.pgm = 1
        self.sent = []
        self.pending = []
    def receive(self):
        if self.pending:
            return self.pending.pop(0)
        return bytes([0, 5, 4, 3, self.pgm, 3, 0, 0])
    def send(self, data):
        data = bytes(data)
        self.sent.append(data)
        if data[7] == 0x89:
            if data[1] == 0x10:
                reply = struct.pack(">I", SERIAL)
                reply += struct.pack("<H", 0xFFFF & ~calculate_crc(reply))
                self.pending = [reply[:7].ljust(7, b"\0") + b"\x40", b"\0" * 7 + b"\x40"]
            else:
                self.pgm += 1
    def close(self):
        pass

def token_id(identifier):
    if identifier == "-":
        return b"", False, False
    if len(identifier) == 8:
        identifier = "ubhe" + identifier
    omp_m, omp = parse_modhex_or_bcd(identifier[:2])
    tt_m, tt = parse_modhex_or_bcd(identifier[2:4])
    mui_m, mui = parse_modhex_or_bcd(identifier[4:])
    if tt_m and not omp_m or mui_m and not (omp_m and tt_m):
        raise ValueError("bad identifier")
    mh1 = mh2 = False
    if mui_m:
        mh1 = mh2 = True
    elif tt_m:
        mh2 = True
    elif omp_m:
        mh1 = True
    return omp + tt + mui, mh1, mh2

def code(text):
    return None if text == "-" else bytes.fromhex(text)

for line in sys.stdin:
    f = line.split()
    conn = Recorder()
    session = YubiOtpSession(conn)
    config = b""
    if f[0] == "hotp":
        _, slot, digits, ident, imf, acc, cur, key = f
        tid, mh1, mh2 = token_id(ident)
        cfg = (
            HotpSlotConfiguration(bytes.fromhex(key))
            .imf(int(imf))
            .token_id(tid, mh1, mh2)
            .digits8(digits == "8")
        )
        config = cfg.get_config(code(acc))
        session.put_configuration(SLOT(int(slot)), cfg, code(acc), code(cur))
    elif f[0] == "delete":
        _, slot, cur = f
        session.delete_slot(SLOT(int(slot)), code(cur))
    elif f[0] == "serial":
        assert session.get_serial() == SERIAL
    print(" ".join([config.hex() or "-"] + [r.hex() for r in conn.sent]))
"#;

const SERIAL: u32 = 0x00A1_B2C3;

/// Answers like the Python recorder: status 5.4.3 with pgmSeq counting the
/// frames written; a serial frame gets its data reply.
struct Recorder {
    pgm: u8,
    sent: Vec<[u8; 8]>,
    pending: Vec<[u8; 8]>,
}

impl HidTransport for Recorder {
    fn send_feature_report(&mut self, report: &[u8; 8]) -> Result<(), TransportError> {
        self.sent.push(*report);
        if report[7] == 0x89 {
            if report[1] == 0x10 {
                self.pending = reply_reports(&with_complemented_crc(&SERIAL.to_be_bytes()));
            } else {
                self.pgm += 1;
            }
        }
        Ok(())
    }
    fn get_feature_report(&mut self) -> Result<[u8; 8], TransportError> {
        if !self.pending.is_empty() {
            return Ok(self.pending.remove(0));
        }
        Ok([0, 5, 4, 3, self.pgm, 3, 0, 0])
    }
}

#[derive(Clone)]
/// One HOTP slot programming of the matrix.
struct Hotp {
    slot: u8,
    digits: u8,
    identifier: Option<&'static str>,
    imf: u32,
    access: bool,
    key: Vec<u8>,
}

enum Case {
    Hotp(Hotp),
    Delete { slot: u8, access: bool },
    Serial,
}

const NEW_CODE: &str = "a1a2a3a4a5a6";
const CURRENT_CODE: &str = "0102030405ff";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic keys with varied shapes: full random-looking 20 bytes, 16
/// bytes (padded by both sides), and zero runs that make frame parts skippable.
fn key_for(index: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (index as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let mut key: Vec<u8> = (0..20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    match index % 4 {
        1 => key.truncate(16),
        2 => key[..14].fill(0),
        _ => {}
    }
    key
}

fn matrix() -> Vec<Case> {
    let identifiers: [Option<&'static str>; 2] = [None, Some("ubhe12345678")];
    let mut cases = Vec::new();
    for slot in [1u8, 2] {
        for digits in [6u8, 8] {
            for identifier in identifiers {
                for imf in [0u32, 16, 4096] {
                    for access in [false, true] {
                        let key = key_for(cases.len());
                        cases.push(Case::Hotp(Hotp {
                            slot,
                            digits,
                            identifier,
                            imf,
                            access,
                            key,
                        }));
                    }
                }
            }
        }
    }
    // Other identifier forms ykman accepts: all modhex, OMP-only modhex, MUI only.
    for (n, identifier) in ["vvccccdddddd", "ub1212345678", "87654321"]
        .into_iter()
        .enumerate()
    {
        cases.push(Case::Hotp(Hotp {
            slot: 1 + (n % 2) as u8,
            digits: 8,
            identifier: Some(identifier),
            imf: 1_048_560,
            access: true,
            key: key_for(100 + n),
        }));
    }
    for slot in [1u8, 2] {
        for access in [false, true] {
            cases.push(Case::Delete { slot, access });
        }
    }
    cases.push(Case::Serial);
    cases
}

fn input_line(case: &Case) -> String {
    let code = |on: bool, c: &str| if on { c.to_owned() } else { "-".to_owned() };
    match case {
        Case::Hotp(h) => format!(
            "hotp {} {} {} {} {} {} {}\n",
            h.slot,
            h.digits,
            h.identifier.unwrap_or("-"),
            h.imf,
            code(h.access, NEW_CODE),
            code(h.access, CURRENT_CODE),
            hex(&h.key)
        ),
        Case::Delete { slot, access } => {
            format!("delete {slot} {}\n", code(*access, CURRENT_CODE))
        }
        Case::Serial => "serial\n".to_owned(),
    }
}

/// keyward's side: the configuration bytes and the reports its driver sends.
fn keyward_line(case: &Case) -> String {
    let mut recorder = Recorder {
        pgm: 1,
        sent: Vec::new(),
        pending: Vec::new(),
    };
    let mut device = OtpDevice::open_with(&mut recorder, |_| {}).unwrap();
    let new_code = AccessCode::from_hex(NEW_CODE).unwrap();
    let current = AccessCode::from_hex(CURRENT_CODE).unwrap();
    let mut config_hex = "-".to_owned();
    match case {
        Case::Hotp(h) => {
            let slot = Slot::from_number(h.slot).unwrap();
            let token_id = h
                .identifier
                .map(|i| TokenId::from_ykman_identifier(i).unwrap());
            let config = HotpConfig::new(HotpKey::new(&h.key).unwrap())
                .eight_digits(h.digits == 8)
                .token_id(token_id)
                .imf(Imf::new(h.imf).unwrap());
            let (new, cur) = if h.access {
                (Some(&new_code), Some(&current))
            } else {
                (None, None)
            };
            config_hex = hex(config.to_slot_config(new).as_bytes());
            device.program_hotp(slot, &config, new, cur).unwrap();
        }
        Case::Delete { slot, access } => {
            let slot = Slot::from_number(*slot).unwrap();
            device
                .delete_slot(slot, access.then_some(&current))
                .unwrap();
        }
        Case::Serial => assert_eq!(device.api_serial().unwrap(), SERIAL),
    }
    let mut line = vec![config_hex];
    line.extend(recorder.sent.iter().map(|r| hex(r)));
    line.join(" ")
}

fn describe(case: &Case) -> String {
    match case {
        Case::Hotp(h) => format!(
            "hotp  slot {}  digits {}  token id {:<12}  imf {:>7}  access code {:<3}  key {:>2} B",
            h.slot,
            h.digits,
            h.identifier.unwrap_or("no"),
            h.imf,
            if h.access { "yes" } else { "no" },
            h.key.len()
        ),
        Case::Delete { slot, access } => format!(
            "delete slot {slot}  access code {}",
            if *access { "yes" } else { "no" }
        ),
        Case::Serial => "serial (DEVICE_SERIAL read)".to_owned(),
    }
}

#[test]
fn frames_equal_yubikits_for_the_configuration_matrix() {
    assert!(
        std::path::Path::new(PYTHON).exists(),
        "{PYTHON} is missing: install Debian's python3 and yubikey-manager (.ci/setup)"
    );
    let cases = matrix();
    let input: String = cases.iter().map(input_line).collect();
    // A failure shows the script's stderr (is yubikey-manager installed?).
    let theirs: Vec<String> = stdout_ok(
        assert_cmd::Command::new(PYTHON)
            .args(["-c", SCRIPT])
            .write_stdin(input),
    )
    .lines()
    .map(str::to_owned)
    .collect();
    assert_eq!(theirs.len(), cases.len(), "one yubikit line per case");

    let mut failures = 0;
    println!("configuration matrix: keyward vs yubikit (config bytes and every feature report)");
    for (n, (case, theirs)) in cases.iter().zip(&theirs).enumerate() {
        let ours = keyward_line(case);
        let reports = ours.split(' ').count() - 1;
        let same = ours == *theirs;
        println!(
            "{n:>3}  {:<86} {reports:>2} reports  {}",
            describe(case),
            if same { "EQUAL" } else { "DIFFERENT" }
        );
        if !same {
            failures += 1;
            println!("     keyward: {ours}\n     yubikit: {theirs}");
        }
    }
    println!(
        "{} cases, {} equal, {failures} different",
        cases.len(),
        cases.len() - failures
    );
    assert_eq!(failures, 0, "keyward's frames differ from yubikit's");
}
