//! The YKOATH protocol (Yubico OATH applet), sans I/O and shared by both sides:
//! the host driver builds [`Request`]s into APDUs and parses the answers; the
//! virtual token parses APDUs into the same [`Request`]s and encodes the answers
//! with the same functions. Nothing here panics on any input.
//!
//! Wire facts: `docs/protocols.md` (YKOATH), checked against Yubico's host
//! library (yubikit, ykman 4.0.9).

mod request;
mod response;
pub mod tlv;

use std::fmt;

use zeroize::Zeroizing;

use crate::apdu::{Command, Status};
use crate::otp::Algorithm;

pub use request::{select_command, AccessKey, NewCredential, Request};
pub use response::{
    encode_calculate_all, encode_list, parse_calculate_all, parse_list, parse_validate,
    CodeResponse, ListEntry, SelectInfo,
};

/// AID of the OATH applet (Yubico and Nitrokey alike).
pub const OATH_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01];
/// AID of the YubiKey management applet.
pub const MGMT_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17];

pub const INS_PUT: u8 = 0x01;
pub const INS_DELETE: u8 = 0x02;
pub const INS_SET_CODE: u8 = 0x03;
pub const INS_RESET: u8 = 0x04;
pub const INS_RENAME: u8 = 0x05;
pub const INS_LIST: u8 = 0xA1;
pub const INS_CALCULATE: u8 = 0xA2;
pub const INS_VALIDATE: u8 = 0xA3;
/// SELECT when P1 = 04, CALCULATE ALL when P1 = 00.
pub const INS_SELECT: u8 = 0xA4;
pub const INS_CALCULATE_ALL: u8 = 0xA4;
pub const INS_SEND_REMAINING: u8 = 0xA5;

pub const TAG_NAME: u8 = 0x71;
pub const TAG_NAME_LIST: u8 = 0x72;
pub const TAG_KEY: u8 = 0x73;
pub const TAG_CHALLENGE: u8 = 0x74;
pub const TAG_RESPONSE: u8 = 0x75;
pub const TAG_TRUNCATED: u8 = 0x76;
pub const TAG_HOTP: u8 = 0x77;
pub const TAG_PROPERTY: u8 = 0x78;
pub const TAG_VERSION: u8 = 0x79;
pub const TAG_IMF: u8 = 0x7A;
pub const TAG_ALGORITHM: u8 = 0x7B;
pub const TAG_TOUCH: u8 = 0x7C;

pub const PROP_INCREASING: u8 = 0x01;
pub const PROP_TOUCH: u8 = 0x02;

/// Longest credential name the applet stores.
pub const MAX_NAME_LEN: usize = 64;
/// Longest key the applet stores (one SHA-512 block after host preprocessing).
pub const MAX_KEY_LEN: usize = 128;
/// Keys are right-padded with zeros to at least this length (yubikit).
pub const MIN_KEY_LEN: usize = 14;

/// Errors of the host side of the codec: answers that do not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OathError {
    #[error("malformed TLV in the card's answer")]
    BadTlv,
    #[error("the card's answer lacks tag {0:02X}")]
    MissingTag(u8),
    #[error("unknown credential type/algorithm byte {0:02X}")]
    BadTypeByte(u8),
    #[error("malformed {what} in the card's answer")]
    Malformed { what: &'static str },
    #[error("credential name is {len} bytes; 1 to {MAX_NAME_LEN} are allowed")]
    BadName { len: usize },
    #[error("{0} digits: the applet stores 6, 7 or 8")]
    BadDigits(u8),
}

/// HOTP or TOTP: the high nibble of the type/algorithm byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OathType {
    Hotp,
    Totp,
}

/// The type/algorithm byte: type in the high nibble, hash in the low one.
pub fn type_byte(kind: OathType, algorithm: Algorithm) -> u8 {
    let t = match kind {
        OathType::Hotp => 0x10,
        OathType::Totp => 0x20,
    };
    let a = match algorithm {
        Algorithm::Sha1 => 0x01,
        Algorithm::Sha256 => 0x02,
        Algorithm::Sha512 => 0x03,
    };
    t | a
}

/// Inverse of [`type_byte`].
pub fn parse_type_byte(byte: u8) -> Option<(OathType, Algorithm)> {
    let kind = match byte & 0xF0 {
        0x10 => OathType::Hotp,
        0x20 => OathType::Totp,
        _ => return None,
    };
    let algorithm = parse_algorithm(byte & 0x0F)?;
    Some((kind, algorithm))
}

fn parse_algorithm(nibble: u8) -> Option<Algorithm> {
    match nibble {
        0x01 => Some(Algorithm::Sha1),
        0x02 => Some(Algorithm::Sha256),
        0x03 => Some(Algorithm::Sha512),
        _ => None,
    }
}

/// Host-side key preprocessing (yubikit `_hmac_shorten_key` + padding): hash keys
/// longer than the block size, then right-pad with zeros to 14 bytes.
pub fn prepare_key(algorithm: Algorithm, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    use sha1::Digest as _;
    let block = match algorithm {
        Algorithm::Sha1 | Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    };
    let mut key = if secret.len() > block {
        Zeroizing::new(match algorithm {
            Algorithm::Sha1 => sha1::Sha1::digest(secret).to_vec(),
            Algorithm::Sha256 => sha2::Sha256::digest(secret).to_vec(),
            Algorithm::Sha512 => sha2::Sha512::digest(secret).to_vec(),
        })
    } else {
        Zeroizing::new(secret.to_vec())
    };
    if key.len() < MIN_KEY_LEN {
        key.resize(MIN_KEY_LEN, 0);
    }
    key
}

/// The credential id: `[period/][issuer:]name`, the period only when not 30.
pub fn credential_id(kind: OathType, period: u32, issuer: Option<&str>, name: &str) -> Vec<u8> {
    let mut id = String::new();
    if kind == OathType::Totp && period != 30 {
        id.push_str(&format!("{period}/"));
    }
    if let Some(issuer) = issuer {
        id.push_str(issuer);
        id.push(':');
    }
    id.push_str(name);
    id.into_bytes()
}

/// TOTP challenge: the 8-byte big-endian time step.
pub fn totp_challenge(unix_time: u64, period: u32) -> [u8; 8] {
    (unix_time / u64::from(period.max(1))).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put() -> Request {
        Request::Put(NewCredential {
            name: b"Iss:alice".to_vec(),
            kind: OathType::Hotp,
            algorithm: Algorithm::Sha256,
            digits: 8,
            key: Zeroizing::new(vec![0x11; 20]),
            touch: true,
            increasing: false,
            imf: 5,
        })
    }

    #[test]
    fn every_request_round_trips() {
        let requests = vec![
            put(),
            Request::Delete {
                name: b"a".to_vec(),
            },
            Request::SetCode(None),
            Request::SetCode(Some(AccessKey {
                algorithm: Algorithm::Sha1,
                key: Zeroizing::new(vec![1; 16]),
                challenge: vec![2; 8],
                response: vec![3; 20],
            })),
            Request::Reset,
            Request::Rename {
                from: b"a".to_vec(),
                to: b"b".to_vec(),
            },
            Request::List,
            Request::Calculate {
                name: b"a".to_vec(),
                challenge: vec![],
                truncate: true,
            },
            Request::Calculate {
                name: b"a".to_vec(),
                challenge: vec![0; 8],
                truncate: false,
            },
            Request::Validate {
                response: vec![1; 20],
                challenge: vec![2; 8],
            },
            Request::CalculateAll {
                challenge: vec![0; 8],
                truncate: true,
            },
            Request::SendRemaining,
        ];
        for r in requests {
            let cmd = r.to_command();
            for bytes in cmd.encode() {
                let parsed = Command::parse(&bytes).unwrap();
                assert_eq!(Request::parse(&parsed), Ok(r.clone()), "{r:?}");
            }
        }
    }

    #[test]
    fn put_masks_only_the_key() {
        let cmd = put().to_command();
        let shown = cmd.redacted_hex();
        assert!(shown.starts_with("00 01 00 00 2B 71 09"), "{shown}");
        assert!(!shown.contains("11"), "{shown}");
        assert!(shown.contains("73 16 12 08 ** **"), "{shown}");
        assert!(shown.ends_with("78 02 7A 04 00 00 00 05"), "{shown}");
    }

    #[test]
    fn debug_hides_keys_and_authenticators() {
        let shown = format!("{:?}", put());
        assert!(!shown.contains("17") && !shown.contains("0x11"), "{shown}");
        assert!(shown.contains("Iss:alice"), "{shown}");
        let v = Request::Validate {
            response: vec![0xAB; 20],
            challenge: vec![1; 8],
        };
        assert_eq!(format!("{v:?}"), "Validate([redacted])");
        let k = Request::SetCode(Some(AccessKey {
            algorithm: Algorithm::Sha1,
            key: Zeroizing::new(vec![0xCD; 16]),
            challenge: vec![2; 8],
            response: vec![0xEF; 20],
        }));
        let shown = format!("{k:?}");
        assert!(!shown.contains("205") && !shown.contains("239"), "{shown}");
    }

    #[test]
    fn key_preprocessing_like_yubikit() {
        assert_eq!(prepare_key(Algorithm::Sha1, &[1; 10]).len(), 14);
        assert_eq!(prepare_key(Algorithm::Sha1, &[1; 64]).len(), 64);
        assert_eq!(prepare_key(Algorithm::Sha1, &[1; 65]).len(), 20);
        assert_eq!(prepare_key(Algorithm::Sha512, &[1; 100]).len(), 100);
    }

    #[test]
    fn credential_ids() {
        assert_eq!(
            credential_id(OathType::Totp, 60, Some("Iss"), "slow"),
            b"60/Iss:slow"
        );
        assert_eq!(credential_id(OathType::Totp, 30, None, "a"), b"a");
        assert_eq!(credential_id(OathType::Hotp, 60, Some("I"), "a"), b"I:a");
    }

    #[test]
    fn truncated_code_text() {
        let c = CodeResponse::Truncated {
            digits: 6,
            value: 0x4c93cf18,
        };
        assert_eq!(c.code().as_deref(), Some("755224"));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(cmd) = Command::parse(&bytes) {
                let _ = Request::parse(&cmd);
            }
            let _ = SelectInfo::parse(&bytes);
            let _ = parse_list(&bytes);
            let _ = CodeResponse::parse(&bytes);
            let _ = parse_calculate_all(&bytes);
            let _ = parse_validate(&bytes);
            let _ = tlv::parse(&bytes, &[tlv::RAW_BYTE_TAG]);
        }

        #[test]
        fn any_ykoath_frame_parses_or_is_rejected(ins in proptest::sample::select(vec![1u8, 2, 3, 4, 5, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5]),
                                                  p1 in 0u8..2, p2 in 0u8..2,
                                                  data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..255)) {
            let cmd = Command::new(0, ins, p1, p2, data);
            if let Ok(req) = Request::parse(&cmd) {
                // Whatever parses re-encodes to a command that parses the same.
                let again = req.to_command();
                proptest::prop_assert_eq!(Request::parse(&again), Ok(req));
            }
        }
    }
}
