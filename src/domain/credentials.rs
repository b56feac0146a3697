//! The public record of a credential (never its secret) and of a credential
//! pending before it is written to a token.

use super::calendar::UnixTime;
use super::people::PersonId;
use crate::otp::CredentialParams;

/// A credential's public record (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialInfo {
    pub id: i64,
    pub token: String,
    pub holder: PersonId,
    pub params: CredentialParams,
    /// Last accepted counter or time step.
    pub floor: Option<u64>,
    pub drift: i64,
    pub fails: u32,
    pub locked: bool,
    pub retry_at: UnixTime,
    pub has_pin: bool,
    pub live: bool,
}

/// A credential recorded as pending before it is written to a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    pub serial: String,
    pub holder: PersonId,
    /// The credential's id on the token (`[period/]issuer:name`).
    pub credential_id: Vec<u8>,
    pub reader: String,
    pub created_at: u64,
}
