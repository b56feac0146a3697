//! YubiKey OTP slots over USB HID: programming an OATH-HOTP secret into a slot
//! that types its code on touch, byte for byte as Yubico's yubikit does
//! (`docs/protocols.md`, OTP HID).
//!
//! Pure codec, no I/O, no clock ([`codec`]):
//! - [`codec::crc`]: the protocol's CRC-16.
//! - [`codec::frame`]: frames ↔ 8-byte feature reports, status, reply reading, serial.
//! - [`codec::config`]: the 52-byte slot configuration, OATH-HOTP layout, access codes.
//! - [`codec::keyboard`]: typed codes on AZERTY and QWERTY stations.
//! - [`codec::profile`]: the strict parser of `firmware-profiles/yubikey-otp-hid.toml`.
//!
//! I/O side, around the codec ([`driver`]):
//! - [`driver::transport`]: the seam (8-byte feature reports, enumeration by USB ids).
//! - [`driver::hidapi`]: the seam on real hidraw devices.
//! - [`driver::device`]: the driver: status, serial, program and delete a slot.
//!
//! And [`sim`]: a simulated key behind the seam that types codes when touched.

pub mod codec;
pub mod driver;
pub mod sim;

pub use codec::config::{typed_code, AccessCode, HotpConfig, HotpKey, Imf, SlotConfig, TokenId};
pub use codec::frame::{FirmwareVersion, HidStatus, Slot};
pub use codec::keyboard::KeyboardLayout;
pub use codec::profile::{load_otp_profile, OtpProfile, OtpProfileError};
pub use driver::device::{HidError, OtpDevice, Sleep, ThreadSleep};
pub use driver::transport::{
    HidBus, HidDeviceInfo, HidInterfaceMatch, HidTransport, TransportError,
};
pub use sim::{SimulatedKey, SimulatedKeyError, Typed};

/// Errors of the pure codec. None carries key or access-code bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("payload of {len} bytes does not fit a frame ({max} at most)")]
    PayloadTooLong { len: usize, max: usize },
    #[error("feature report of {len} bytes; the protocol uses 8")]
    ReportLength { len: usize },
    #[error("report status byte {status:#04x} is not part of a frame (0x80 unset)")]
    NotAFramePart { status: u8 },
    #[error("frame part with sequence {seq} arrived out of order")]
    BadSequence { seq: u8 },
    #[error("frame CRC does not match its payload")]
    BadFrameCrc,
    #[error("data reply has {len} bytes; {expected} expected")]
    ReplyTooShort { len: usize, expected: usize },
    #[error("data reply CRC check failed")]
    BadReplyCrc,
    #[error("slot configuration has {len} bytes; 52 expected")]
    ConfigLength { len: usize },
    #[error("slot configuration CRC check failed")]
    BadConfigCrc,
    #[error("slot {0} does not exist: use 1 or 2")]
    BadSlot(u8),
    #[error("access code must be 6 bytes (12 hex digits), got {len}")]
    AccessCodeLength { len: usize },
    #[error("an all-zero access code means no code; pass none instead")]
    AccessCodeZero,
    #[error("HMAC key of {len} bytes cannot be stored: use at most 20 (or more than 64)")]
    KeyLength { len: usize },
    #[error("token identifier of {len} bytes is longer than the 16-byte fixed field")]
    TokenIdTooLong { len: usize },
    #[error("token identifier must be 12 characters OMP TT MUI (or 8 for the MUI), each modhex or decimal")]
    BadTokenId,
    #[error("the typed text does not start with this key's token identifier")]
    TokenIdMismatch,
    #[error("initial moving factor {0} must be a multiple of 16 up to 1048560")]
    BadImf(u32),
    #[error("the system random number generator failed")]
    Random,
}
