//! What a credential's codes are computed with: HOTP or TOTP, hash
//! algorithm, number of digits.

use super::{Algorithm, Digits, Period};

/// HOTP or TOTP, with the part of the parameters that differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpKind {
    /// `counter`: the first counter value the token will use.
    Hotp {
        counter: u64,
    },
    Totp {
        period: Period,
    },
}

/// How a credential computes its codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialParams {
    pub kind: OtpKind,
    pub algorithm: Algorithm,
    pub digits: Digits,
}

impl CredentialParams {
    pub fn totp() -> Self {
        CredentialParams {
            kind: OtpKind::Totp {
                period: Period::DEFAULT,
            },
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
        }
    }

    pub fn hotp() -> Self {
        CredentialParams {
            kind: OtpKind::Hotp { counter: 0 },
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
        }
    }
}
