//! `/v1/apikeys`: API keys and their roles (admin).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::domain::Role;

/// `POST /v1/apikeys` `{"name","role","person"?,"district"?,"readers"?}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    pub district: Option<String>,
    pub name: String,
    /// The person an admin, desk or inspector key belongs to.
    pub person: Option<String>,
    pub readers: Option<Vec<String>>,
    /// Checked by the server (422 `role`), hence text.
    pub role: String,
}

/// `201 {"id","name","role","key"}`: the only answer that shows a key.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub id: i64,
    pub key: Zeroizing<String>,
    pub name: String,
    pub role: Role,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// An item of `GET /v1/apikeys` (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyEntry {
    /// Unix seconds.
    pub created_at: u64,
    /// The district an inspector key is bound to.
    pub district: Option<String>,
    pub id: i64,
    pub name: String,
    /// The person a staff key belongs to.
    pub person: Option<String>,
    /// The readers a station key is bound to.
    pub readers: Vec<String>,
    pub revoked_at: Option<u64>,
    pub role: Role,
}
