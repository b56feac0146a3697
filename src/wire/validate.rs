//! `POST /validate/check`: privacyIDEA's call, as its gateway plugins
//! (Keycloak, SimpleSAMLphp, Shibboleth, PAM, FreeRADIUS) make it, and the
//! part of privacyIDEA's answer they read.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// `user`, `pass` (PIN followed by the code), `realm`, `transaction_id`, as
/// a form or a JSON object. Other fields a plugin sends are ignored (see
/// docs/api.md for what each field does here).
#[derive(Clone, Serialize, Deserialize)]
pub struct ValidateCheckBody {
    pub user: String,
    pub pass: Zeroizing<String>,
    /// Accepted and ignored: keyward has one realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// The challenge this request answers (from `detail.transaction_id`).
    #[serde(default)]
    pub transaction_id: Option<String>,
}

impl std::fmt::Debug for ValidateCheckBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidateCheckBody")
            .field("user", &self.user)
            .field("pass", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// `{"detail":{"message"},"id":1,"jsonrpc":"2.0","result":{"status","value"},"version"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateCheckAnswer {
    pub detail: ValidateDetail,
    pub id: u32,
    pub jsonrpc: String,
    pub result: ValidateResult,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateDetail {
    pub message: String,
    /// A challenge's id, to send back with its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// `status`: the request was processed; `value`: the user is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateResult {
    pub status: bool,
    pub value: bool,
}

impl ValidateCheckAnswer {
    /// privacyIDEA's messages, which some plugins log.
    pub fn new(accepted: bool) -> ValidateCheckAnswer {
        ValidateCheckAnswer {
            detail: ValidateDetail {
                message: if accepted {
                    "matching 1 tokens"
                } else {
                    "wrong otp pin"
                }
                .to_owned(),
                transaction_id: None,
            },
            id: 1,
            jsonrpc: "2.0".to_owned(),
            result: ValidateResult {
                status: true,
                value: accepted,
            },
            version: format!("keyward {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// A challenge, as privacyIDEA answers one: not authenticated yet,
    /// `detail.message` says what to send with `transaction_id`.
    pub fn challenge(message: String, transaction_id: String) -> ValidateCheckAnswer {
        let mut answer = ValidateCheckAnswer::new(false);
        answer.detail = ValidateDetail {
            message,
            transaction_id: Some(transaction_id),
        };
        answer
    }
}
