//! HOTP (RFC 4226) and TOTP (RFC 6238): pure, no I/O, no clock reads.
//!
//! - [`key`]: secrets and the precomputed HMAC states of a credential.
//! - [`code`]: digit counts, typed codes, constant-time dynamic truncation.
//! - [`raw`]: plain HMAC and truncation for the token side (virtual token).
//! - [`verify`]: window verification and resynchronisation, constant-time.
//!
//! Time enters as a Unix time argument; the caller owns the clock.

pub mod code;
pub mod key;
pub mod params;
pub mod raw;
pub mod verify;

pub use code::{code_at, Code, Digits};
pub use key::{Algorithm, CredentialKey, Secret, MIN_SECRET_LEN};
pub use params::{CredentialParams, OtpKind};
pub use verify::{Hotp, Match, Period, ReplayFloor, Totp, MAX_WINDOW, RESYNC_RANGE};

/// Errors of the OTP core. None of them carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtpError {
    #[error("secret is {len} bytes; at least {min} are required (RFC 4226 §4)")]
    SecretTooShort { len: usize, min: usize },
    #[error("secret is {len} bytes; at most {max} are accepted")]
    SecretTooLong { len: usize, max: usize },
    #[error("secret is not valid base32 (letters A-Z, digits 2-7, optional '=' padding)")]
    BadBase32,
    #[error("secret is not valid hexadecimal (an even number of 0-9, a-f)")]
    BadHex,
    #[error("unknown algorithm: expected sha1, sha256 or sha512")]
    UnknownAlgorithm,
    #[error("{0} digits is not supported: codes have 6, 7 or 8 digits")]
    BadDigits(u8),
    #[error("time step of {0} s is not supported: use 1 to 120 seconds")]
    BadPeriod(u32),
    #[error("window of {len} steps is not allowed: use 1 to {max}")]
    BadWindow { len: u32, max: u32 },
    #[error("drift of {drift} steps is beyond the allowed {max}")]
    DriftOutOfBounds { drift: i64, max: u32 },
    #[error("code must be exactly {expected_digits} digits")]
    MalformedCode { expected_digits: u8 },
    #[error("code has {got} digits but the credential uses {expected}")]
    DigitsMismatch { expected: u8, got: u8 },
    #[error("counter would overflow 64 bits")]
    CounterOverflow,
    #[error("time is before the credential's T0")]
    TimeBeforeT0,
    #[error("the system random number generator failed")]
    Random,
}
