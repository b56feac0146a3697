//! A forgotten PIN (docs/forgotten-pin.md): the inspector's approval
//! `POST /v1/tokens/{serial}/pin-reset-approval` and the station's reset
//! `POST /v1/tokens/{serial}/forgotten-pin` (body as activate's,
//! [`super::tokens::ActivateBody`]).

use serde::{Deserialize, Serialize};

/// `POST /v1/tokens/{serial}/pin-reset-approval` `{"hours"}` (the key's
/// district inspector).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinResetApprovalBody {
    /// How long the approval lasts, in hours (1 to 168).
    pub hours: u32,
}

/// The answer to an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResetApproved {
    pub serial: String,
    pub holder: String,
    pub approval: i64,
    /// RFC 3339.
    pub expires_at: String,
}

/// The answer to a forgotten PIN's reset at the station: whether the
/// device PIN was reset too, and the signed slip (text and Ed25519
/// signature, base64). No PIN, no code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResetAnswer {
    pub serial: String,
    pub device_pin: bool,
    pub approval: i64,
    pub slip: String,
    pub signature: String,
}
