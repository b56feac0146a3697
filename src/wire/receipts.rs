//! `/v1/receipts/{id}`: signed handover and return receipts.

use serde::{Deserialize, Serialize};

use crate::domain::receipt::ReceiptKind;

/// `?format=json|text|html&lang=fr|en`, checked by the server (422 naming
/// the field), hence text.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    pub format: Option<String>,
    pub lang: Option<String>,
}

/// A receipt as JSON, enough to check it offline: also the `receipt` of
/// handover, return and activate answers and the items of
/// `GET /v1/tokens/{serial}/receipts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub canonical: String,
    /// The canonical text followed by its `signature=` line.
    pub export: String,
    pub id: u64,
    pub kind: ReceiptKind,
    /// Hex, as `keyward receipt public-key` prints it.
    pub public_key: String,
    /// Base64.
    pub signature: String,
}

/// `{"receipt":{...}}`: the answer of handover and return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAnswer {
    pub receipt: Receipt,
}
