//! `/v1/key-requests` and `/v1/replacement-requests`.

use serde::{Deserialize, Serialize};

/// `POST /v1/key-requests` `{"holder"}` (inspector).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequestBody {
    pub holder: String,
}

/// An item of `GET /v1/key-requests`: the open ones for the desk, an
/// inspector's own with their status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequestEntry {
    pub district: String,
    pub holder: String,
    pub id: i64,
    /// When it was filed (RFC 3339).
    #[serde(default)]
    pub requested_at: String,
    /// `open`, or `fulfilled` once the desk prepared a key.
    #[serde(default)]
    pub status: String,
    /// The key prepared for it.
    #[serde(default)]
    pub token: Option<String>,
}

/// An item of `GET /v1/replacement-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacementEntry {
    pub holder: String,
    pub id: i64,
    /// The new key.
    pub new_token: Option<String>,
    /// The key replaced.
    pub old_token: String,
    pub reason: String,
    /// When the help mail was recorded (RFC 3339).
    pub received_at: String,
    /// `open`, or `fulfilled` once the new key is prepared.
    pub status: String,
}

/// `POST /v1/replacement-requests`
/// `{"holder","reason","from","cc":[...],"subject"?}` (desk): the help mail.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementBody {
    pub cc: Vec<String>,
    /// The sender of the help mail.
    pub from: String,
    pub holder: String,
    /// `lost`, `stolen`, `broken` or `faulty`, checked by the server (422
    /// `reason`), hence text.
    pub reason: String,
    pub subject: Option<String>,
}
