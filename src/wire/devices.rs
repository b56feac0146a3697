//! `/v1/devices`: tokens present at the daemon's readers.

use serde::{Deserialize, Serialize};

use crate::domain::TokenState;

/// `{"reader"}`: the reader a device operation works at (wipe, unblock-pin,
/// prepare a replacement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderBody {
    pub reader: String,
}

/// An item of `GET /v1/devices`: a reader with a token present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    pub holder: Option<String>,
    pub present: bool,
    pub profile: Option<String>,
    pub reader: String,
    pub serial: Option<String>,
    /// keyward's state of the token; `null` for a token it does not know.
    pub state: Option<TokenState>,
}

/// `POST /v1/devices/{reader}/code` → `{"serial","code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCode {
    pub code: String,
    pub serial: String,
}

/// `POST /v1/devices/{reader}/touch` → `{"serial","typed"}`: what the
/// simulated touch key typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    pub serial: String,
    pub typed: String,
}
