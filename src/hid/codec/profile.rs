//! The firmware profile of YubiKey OTP slots over HID
//! (`firmware-profiles/yubikey-otp-hid.toml`), parsed strictly: unknown keys,
//! missing keys and out-of-range values are errors, never defaults. A minimal
//! parser for this one file until the generic profile loader takes over.

use std::path::Path;

use serde::Deserialize;

use super::frame::FirmwareVersion;
use crate::hid::driver::transport::HidInterfaceMatch;

/// Errors loading the profile. Each names what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtpProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("profile {path} is not valid: {message}")]
    Syntax { path: String, message: String },
    #[error("profile {path}: {problem}")]
    Invalid { path: String, problem: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    description: String,
    transport: String,
    #[serde(rename = "match")]
    matching: RawMatch,
    capabilities: RawCapabilities,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    vendor_id: u16,
    product_ids: Vec<u16>,
    usage_page: u16,
    usage: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapabilities {
    slots: u8,
    digits: Vec<u8>,
    min_firmware: String,
    access_code: bool,
    touch: bool,
}

/// A validated YubiKey OTP HID profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpProfile {
    pub name: String,
    pub description: String,
    pub usb: HidInterfaceMatch,
    pub slots: u8,
    pub digits: Vec<u8>,
    pub min_firmware: FirmwareVersion,
    pub access_code: bool,
    pub touch: bool,
}

/// Reads and validates the profile at `path`.
pub fn load_otp_profile(path: impl AsRef<Path>) -> Result<OtpProfile, OtpProfileError> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| OtpProfileError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_otp_profile(&text, &shown)
}

/// Parses profile text; `origin` names it in errors.
pub fn parse_otp_profile(text: &str, origin: &str) -> Result<OtpProfile, OtpProfileError> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| OtpProfileError::Syntax {
        path: origin.to_owned(),
        message: e.message().to_owned(),
    })?;
    let invalid = |problem: String| OtpProfileError::Invalid {
        path: origin.to_owned(),
        problem,
    };
    if raw.transport != "hid" {
        return Err(invalid(format!(
            "transport is {:?}; this profile kind drives \"hid\"",
            raw.transport
        )));
    }
    if raw.name.trim().is_empty() {
        return Err(invalid("name is empty".to_owned()));
    }
    if raw.matching.vendor_id == 0 {
        return Err(invalid("match.vendor_id is 0".to_owned()));
    }
    if raw.matching.product_ids.is_empty() {
        return Err(invalid("match.product_ids is empty".to_owned()));
    }
    let mut sorted = raw.matching.product_ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != raw.matching.product_ids.len() {
        return Err(invalid(
            "match.product_ids lists a product twice".to_owned(),
        ));
    }
    if !(1..=2).contains(&raw.capabilities.slots) {
        return Err(invalid(format!(
            "capabilities.slots is {}; YubiKey OTP has 1 or 2",
            raw.capabilities.slots
        )));
    }
    if raw.capabilities.digits.is_empty()
        || raw.capabilities.digits.iter().any(|d| *d != 6 && *d != 8)
    {
        return Err(invalid(
            "capabilities.digits must list 6 and/or 8 (OATH_HOTP8)".to_owned(),
        ));
    }
    let min_firmware = parse_version(&raw.capabilities.min_firmware).ok_or_else(|| {
        invalid(format!(
            "capabilities.min_firmware {:?} is not MAJOR.MINOR.BUILD",
            raw.capabilities.min_firmware
        ))
    })?;
    Ok(OtpProfile {
        name: raw.name,
        description: raw.description,
        usb: HidInterfaceMatch {
            vendor_id: raw.matching.vendor_id,
            product_ids: raw.matching.product_ids,
            usage_page: raw.matching.usage_page,
            usage: raw.matching.usage,
        },
        slots: raw.capabilities.slots,
        digits: raw.capabilities.digits,
        min_firmware,
        access_code: raw.capabilities.access_code,
        touch: raw.capabilities.touch,
    })
}

fn parse_version(text: &str) -> Option<FirmwareVersion> {
    let mut parts = text.split('.').map(|p| p.parse::<u8>().ok());
    let version = FirmwareVersion::new(parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}
