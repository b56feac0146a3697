//! PSKC (RFC 6030) key containers: the files token vendors ship beside
//! factory-seeded tokens (`docs/pskc.md`). Pure: bytes and the file's key
//! (or passphrase) in, typed [`KeyPackage`]s out, or one error naming the
//! key at fault and why. Nothing is returned unless the whole file is good:
//! every encrypted value's MAC is checked before any decryption is used.
//!
//! Accepted: RFC 6030 containers with plain values, a pre-shared AES key or
//! a PBKDF2 passphrase (AES-CBC, HMAC-SHA1 or HMAC-SHA256 `ValueMAC` with
//! the MAC key delivered encrypted); HOTP and TOTP; the early drafts'
//! layout (`Device`, `KeyId`, `Usage`) and container namespace (`draft`). Refused: DTDs and
//! entities, files over [`MAX_FILE_BYTES`] or [`MAX_KEYS`] keys, unknown
//! algorithms, unknown policy elements (RFC 6030 §5), keys already expired.

mod cipher;
mod draft;
mod xml;

use std::fmt;

use crate::otp::{CredentialParams, Secret};

/// Largest file accepted: a vendor's file holds some 500 bytes per key.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most keys in one file.
pub const MAX_KEYS: usize = 1000;
/// Most XML nodes in one file (bounds the parser's memory).
pub const MAX_NODES: u32 = 200_000;
/// Highest PBKDF2 iteration count accepted (bounds the work a file asks for).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// What unlocks the file's encrypted values.
#[derive(Default)]
pub enum Unlock {
    /// Plain-value files only.
    #[default]
    None,
    /// The pre-shared AES key (16, 24 or 32 bytes).
    Key(zeroize::Zeroizing<Vec<u8>>),
    /// The passphrase PBKDF2 derives the key from.
    Passphrase(zeroize::Zeroizing<Vec<u8>>),
}

impl fmt::Debug for Unlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unlock::None => "Unlock::None",
            Unlock::Key(_) => "Unlock::Key([redacted])",
            Unlock::Passphrase(_) => "Unlock::Passphrase([redacted])",
        })
    }
}

/// The PIN policy a file carries: recorded, never applied (keyward's own PIN
/// rules apply).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinPolicy {
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub max_failed_attempts: Option<u32>,
}

/// One decoded key with its token.
pub struct KeyPackage {
    /// The key's `Id` in the file (named in errors and the audit).
    pub key_id: String,
    /// The serial printed on the token, vendor prefix removed
    /// (`DeviceInfo/SerialNo`, else the key id).
    pub serial: String,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub params: CredentialParams,
    pub secret: Secret,
    /// `Policy/StartDate` and `Policy/ExpiryDate`, Unix seconds.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub pin_policy: Option<PinPolicy>,
}

impl fmt::Debug for KeyPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPackage")
            .field("key_id", &self.key_id)
            .field("serial", &self.serial)
            .field("manufacturer", &self.manufacturer)
            .field("model", &self.model)
            .field("params", &self.params)
            .field("secret", &"[redacted]")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("pin_policy", &self.pin_policy)
            .finish()
    }
}

/// Why a file was refused. Never carries a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PskcError {
    #[error("file too large ({len} bytes, at most {max})")]
    TooLarge { len: usize, max: usize },
    #[error("too many keys (more than {max})")]
    TooManyKeys { max: usize },
    #[error("a PSKC file may not declare a DOCTYPE, DTD or entities")]
    Doctype,
    #[error("not a well-formed XML file: {0}")]
    Xml(String),
    #[error("not a PSKC key container ({0})")]
    NotPskc(String),
    #[error("the file holds no key")]
    Empty,
    #[error("{0}")]
    File(Reason),
    #[error("key {key}: {reason}")]
    Key { key: String, reason: Reason },
}

/// What is wrong with a key or with the file's encryption.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unknown {what} {value:?}")]
    Unknown { what: &'static str, value: String },
    #[error("bad {what}: {why}")]
    Bad {
        what: &'static str,
        why: &'static str,
    },
    #[error("unknown policy element {0:?}: keyward cannot honour it (RFC 6030 §5)")]
    UnknownPolicy(String),
    #[error("the key may not be used for OTP (KeyUsage {0:?})")]
    NotForOtp(String),
    #[error("expired on {0}")]
    Expired(String),
    #[error("the values are encrypted: give the file's key or passphrase")]
    Locked,
    #[error("the MAC of the encrypted secret does not match (tampered file or wrong key)")]
    BadMac,
    #[error("the encrypted value does not decrypt (wrong key)")]
    WrongKey,
    #[error("serial {0:?} appears twice in the file")]
    DuplicateSerial(String),
}

/// Decodes a whole PSKC file: every key, or the first error. `now` (Unix
/// seconds) refuses keys already expired.
pub fn decode(bytes: &[u8], unlock: &Unlock, now: i64) -> Result<Vec<KeyPackage>, PskcError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(PskcError::TooLarge {
            len: bytes.len(),
            max: MAX_FILE_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| PskcError::Xml("the file is not UTF-8 text".into()))?;
    // roxmltree refuses DTDs too; this check names the reason plainly.
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") {
        return Err(PskcError::Doctype);
    }
    let packages = xml::read(text, unlock, now)?;
    let mut seen = std::collections::HashSet::new();
    for p in &packages {
        if !seen.insert(p.serial.as_str()) {
            return Err(PskcError::Key {
                key: p.key_id.clone(),
                reason: Reason::DuplicateSerial(p.serial.clone()),
            });
        }
    }
    Ok(packages)
}

/// The serial printed on a token from the file's `SerialNo`: vendors prefix
/// it with their own letters and a separator (`FT-`, `NAGRA:`...); the
/// printed serial is what follows the last `-`, `:` or space, if that is a
/// number, else the whole value trimmed.
pub fn printed_serial(raw: &str) -> String {
    let raw = raw.trim();
    match raw.rsplit_once(['-', ':', ' ']) {
        Some((prefix, tail))
            if !prefix.is_empty()
                && !tail.is_empty()
                && tail.bytes().all(|b| b.is_ascii_digit()) =>
        {
            tail.to_owned()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests;
