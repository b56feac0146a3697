//! `POST /v1/verify`: the gateway's question and keyward's answer.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::domain::RightOrigin;

/// `{"login","passcode","source"?}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub login: String,
    /// The holder's PIN followed by the code.
    pub passcode: Zeroizing<String>,
    /// The end user's address as the gateway saw it, for the per-source
    /// limiter. The gateway itself is one caller for everybody, so it is
    /// never the source.
    pub source: Option<String>,
}

impl std::fmt::Debug for VerifyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyBody")
            .field("login", &self.login)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// `{"result":"accept","rights":[...]}` or `{"result":"reject"}`: nothing
/// says which part was wrong, and a required delay is never a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum VerifyOutcome {
    Accept { rights: Vec<VerifiedRight> },
    Reject,
}

/// A right in force that an accepted login carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedRight {
    pub origin: RightOrigin,
    /// The school's UAI.
    pub school: String,
    /// Last day, `YYYY-MM-DD`; `null` when open-ended.
    pub until: Option<String>,
}
