//! `/v1/tokens`: keys and their life (register, prepare, hand over,
//! activate, return, receive, wipe, unblock the device PIN, restock, revoke,
//! unlock, resync).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::domain::{RevokeReason, TokenState};

/// `?state=&district=&serial=&holder=&school=&limit=&offset=` of
/// `GET /v1/tokens`; the states (one, or several joined by commas) are
/// checked by the server (422 `state`), hence text. `serial`, `holder`
/// (login or name) and `school` (UAI or name) match a part. The answer's
/// `X-Total-Count` header says how many match in all.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFilter {
    pub district: Option<String>,
    pub state: Option<String>,
    pub serial: Option<String>,
    pub holder: Option<String>,
    pub school: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `GET /v1/tokens[/{serial}]`, and the answer of receive, restock,
/// revoke and unlock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// `null` in the answers of receive, restock, revoke and unlock.
    pub credential: Option<CredentialEntry>,
    pub holder: Option<String>,
    pub profile: String,
    pub revoke_reason: Option<RevokeReason>,
    pub serial: String,
    pub state: TokenState,
}

/// The OTP credential on a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialEntry {
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    pub digits: u8,
    pub failures: u32,
    pub kind: OtpKindName,
    pub locked: bool,
    /// TOTP step in seconds; `null` for HOTP.
    pub period: Option<u32>,
}

/// HOTP (counter) or TOTP (time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OtpKindName {
    Totp,
    Hotp,
}

impl OtpKindName {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpKindName::Totp => "totp",
            OtpKindName::Hotp => "hotp",
        }
    }
}

/// `POST /v1/tokens` `{"serial","profile"}`: registers a stock token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    pub profile: String,
    pub serial: String,
}

/// `201 {"serial","state":"stock"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredToken {
    pub serial: String,
    pub state: TokenState,
}

/// `POST /v1/tokens/{serial}/prepare`
/// `{"holder","reader","kind"?,"algorithm"?,"digits"?,"period"?}`; kind and
/// algorithm are checked by the server (422 naming the field), hence text.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareBody {
    pub algorithm: Option<String>,
    pub digits: Option<u8>,
    pub holder: String,
    pub kind: Option<String>,
    pub period: Option<u32>,
    pub reader: String,
}

/// `{"serial","holder","state":"prepared","apdus"}`: the answer of prepare
/// and of preparing a replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedToken {
    /// Commands sent to the token (0 for a touch key).
    pub apdus: u32,
    pub holder: String,
    pub serial: String,
    pub state: TokenState,
}

/// `POST /v1/tokens/{serial}/handover` `{"place","reader","typed"?}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    pub place: String,
    pub reader: String,
    /// What a touch key typed when touched (touch keys only).
    pub typed: Option<String>,
}

/// `POST /v1/tokens/{serial}/activate` `{"reader","pin","typed"?}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    pub pin: Zeroizing<String>,
    pub reader: String,
    /// What a touch key typed when touched (touch keys only).
    pub typed: Option<String>,
}

impl std::fmt::Debug for ActivateBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivateBody")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

/// `{"state":"active","receipt_id","receipt","device_pin"}`: the handover
/// receipt goes back to the station, whose role may not read receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activated {
    /// Whether a device PIN was set (never for a touch key).
    pub device_pin: bool,
    pub receipt: Option<super::receipts::Receipt>,
    pub receipt_id: Option<u64>,
    pub state: TokenState,
}

/// `POST /v1/tokens/{serial}/return` `{"place","reason","reader","typed"?}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    pub place: String,
    pub reader: String,
    /// Free text printed on the receipt ("end of appointment").
    pub reason: String,
    /// What a touch key typed when touched (touch keys only).
    pub typed: Option<String>,
}

/// `POST /v1/tokens/{serial}/wipe` → `{"serial","state"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipedToken {
    pub serial: String,
    pub state: TokenState,
}

/// `POST /v1/tokens/{serial}/unblock-pin` →
/// `{"serial","device_pin":"unblocked","tries_left"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinUnblocked {
    pub device_pin: DevicePinStatus,
    pub serial: String,
    pub tries_left: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevicePinStatus {
    Unblocked,
}

/// `POST /v1/tokens/{serial}/revoke` `{"reason"}`; checked by the server
/// (422 `reason`), hence text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    pub reason: String,
}

/// `POST /v1/tokens/{serial}/resync` `{"first","second"}`: two consecutive
/// HOTP codes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResyncBody {
    pub first: Zeroizing<String>,
    pub second: Zeroizing<String>,
}

impl std::fmt::Debug for ResyncBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResyncBody").finish_non_exhaustive()
    }
}

/// `→ {"resynchronised":true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resynchronised {
    pub resynchronised: bool,
}

/// The largest body of `POST /v1/tokens/import`: a PSKC file at its size
/// limit, escaped in JSON.
pub const MAX_IMPORT_BODY: usize = 2 * crate::pskc::MAX_FILE_BYTES + 4096;

/// `POST /v1/tokens/import` `{"pskc","key_hex"?,"passphrase"?,"dry_run"?}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    pub dry_run: Option<bool>,
    /// The file's pre-shared AES key, in hexadecimal.
    pub key_hex: Option<Zeroizing<String>>,
    pub passphrase: Option<Zeroizing<String>>,
    /// The PSKC file's text.
    pub pskc: String,
}

impl std::fmt::Debug for ImportBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportBody")
            .field("dry_run", &self.dry_run)
            .field("pskc_bytes", &self.pskc.len())
            .finish_non_exhaustive()
    }
}

/// One token of an import's answer.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedEntry {
    pub algorithm: String,
    pub digits: u8,
    pub key_id: String,
    pub kind: OtpKindName,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    /// Unix seconds of the key's `ExpiryDate`.
    pub not_after: Option<i64>,
    /// Unix seconds of the key's `StartDate`.
    pub not_before: Option<i64>,
    pub period: Option<u32>,
    /// The token was known (returned and wiped): its secret is replaced.
    pub reseeded: bool,
    pub serial: String,
}

/// `{"dry_run","tokens":[...]}`: what an import stored, or would store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedTokens {
    pub dry_run: bool,
    pub tokens: Vec<ImportedEntry>,
}

/// `POST /v1/tokens/{serial}/bind` `{"holder","code","replacement"?}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    /// The code the token shows.
    pub code: Zeroizing<String>,
    pub holder: String,
    /// The replacement request (its holder's) the token fulfils.
    pub replacement: Option<i64>,
}

impl std::fmt::Debug for BindBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindBody")
            .field("holder", &self.holder)
            .field("replacement", &self.replacement)
            .finish_non_exhaustive()
    }
}
