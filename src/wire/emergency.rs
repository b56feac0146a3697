//! `/v1/replacement-requests/{id}/emergency` and `/v1/emergency-access`
//! (docs/emergency.md).

use serde::{Deserialize, Serialize};

/// `POST /v1/replacement-requests/{id}/emergency` (inspector of the key's
/// district, or desk against a qualified request).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyGrantBody {
    /// `sheet` (printed one-time codes) or `app` (an `otpauth://` token).
    pub form: String,
    /// How many codes the sheet holds (1 to 40; 10 when absent).
    #[serde(default)]
    pub codes: Option<u32>,
    /// How long it lasts, in days (1 to 10).
    pub days: u32,
    /// The PIN the holder types at the station.
    pub pin: String,
}

impl std::fmt::Debug for EmergencyGrantBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencyGrantBody")
            .field("form", &self.form)
            .field("codes", &self.codes)
            .field("days", &self.days)
            .finish_non_exhaustive()
    }
}

/// The answer to a grant, given once to the granting person: the sheet's
/// codes or the URI to enrol; neither is stored nor shown again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyGranted {
    pub serial: String,
    pub holder: String,
    /// RFC 3339.
    pub expires_at: String,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub otpauth: Option<String>,
    /// The signed slip's text and its Ed25519 signature (base64).
    pub slip: String,
    pub signature: String,
}

impl std::fmt::Debug for EmergencyGranted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencyGranted")
            .field("serial", &self.serial)
            .field("holder", &self.holder)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An item of `GET /v1/emergency-access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyEntry {
    pub serial: String,
    pub holder: String,
    pub request: i64,
    /// `sheet` or `app`.
    pub form: String,
    pub granted_by: String,
    /// RFC 3339.
    pub granted_at: String,
    pub expires_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// `revoked`, `expired` or `new key activated`.
    #[serde(default)]
    pub end_reason: Option<String>,
    #[serde(default)]
    pub slip: String,
    #[serde(default)]
    pub signature: String,
}
