//! `/v1/key-requests` and `/v1/replacement-requests`.

use serde::{Deserialize, Serialize};

/// `POST /v1/key-requests` `{"holder"}` (inspector).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequestBody {
    pub holder: String,
}

/// An item of `GET /v1/key-requests` (the open ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequestEntry {
    pub district: String,
    pub holder: String,
    pub id: i64,
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
