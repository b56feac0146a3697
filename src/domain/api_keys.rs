//! API keys: the record kept of a key (never the key itself), the key as
//! created, and the hash it is stored and looked up by.

use zeroize::Zeroizing;

use super::roles::Role;

/// An API key as stored: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The district an inspector key is bound to.
    pub district: Option<String>,
    /// The readers a station key is bound to.
    pub readers: Vec<String>,
    /// The person a staff key (admin, desk, inspector) belongs to.
    pub person: Option<String>,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
}

/// A key just created: the only moment the key itself exists outside the
/// caller's hands.
pub struct NewApiKey {
    pub record: ApiKeyRecord,
    pub key: Zeroizing<String>,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("record", &self.record)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "kw_";

/// SHA-256 of an API key, as stored and looked up.
pub fn api_key_hash(key: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).into()
}
