//! API keys: created once and shown once, stored as SHA-256 only, bound to a
//! role (and a district or readers), revoked; what may be created or
//! revoked is `domain::api_keys`'s rule, shared with a node on PostgreSQL.

use crate::store::cached::CachedSql;
use rusqlite::{params, Row};
use zeroize::Zeroizing;

use super::{corrupt, select, to_i64, to_u64, Record, Tx};
use crate::domain::api_keys::{
    decide_create, decide_revoke, revoke_audit_detail, KeyFacts, KeyRefusal, KeyRequest,
};
use crate::domain::{api_key_hash, Actor, ApiKeyRecord, NewApiKey, PersonId, Role, API_KEY_PREFIX};
use crate::store::StoreError;

impl Tx<'_> {
    /// Creates an API key, as [`decide_create`] rules. The key is 32 random
    /// bytes from the OS CSPRNG, shown once; only its SHA-256 is stored.
    pub fn create_api_key(
        &mut self,
        name: &str,
        role: Role,
        district: Option<&str>,
        readers: &[String],
        person: Option<&PersonId>,
    ) -> Result<NewApiKey, StoreError> {
        let request = KeyRequest {
            name,
            role,
            district,
            readers,
            person,
        };
        let person_present = match request.person {
            Some(person) if request.needs_person() => !self.has_left(person)?,
            _ => false,
        };
        let held = match request.district {
            Some(code) if request.needs_district() => self.district_held(code)?,
            _ => None,
        };
        let facts = KeyFacts {
            actor: &self.actor,
            person_present,
            district: held.as_ref().map(Option::as_deref),
        };
        decide_create(&request, &facts)
            .map_err(|r| key_refused(&self.actor, r, district.unwrap_or_default()))?;
        let key = new_key_secret()?;
        let hash = api_key_hash(&key);
        let readers_json =
            serde_json::to_string(readers).map_err(|_| StoreError::Corrupt("reader list"))?;
        let now = to_i64(self.now, "time")?;
        self.db.execute_cached(
            "INSERT INTO api_keys (name, role, district, readers, hash, created_at, person)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                request.stored_name(),
                role.as_str(),
                district,
                readers_json,
                &hash[..],
                now,
                person.map(PersonId::as_str)
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit("apikey.create", &id.to_string(), &request.audit_detail())?;
        Ok(NewApiKey {
            record: ApiKeyRecord {
                id,
                name: request.stored_name().to_owned(),
                role,
                district: district.map(str::to_owned),
                readers: readers.to_vec(),
                person: person.map(|p| p.to_string()),
                created_at: self.now,
                revoked_at: None,
            },
            key,
        })
    }

    /// District `code` as a key decision reads it: `None` for no such
    /// district, else its inspector (its row checked first).
    fn district_held(&self, code: &str) -> Result<Option<Option<String>>, StoreError> {
        let inspector = self.inspector_login(code)?;
        let exists: bool = self.db.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM districts WHERE code = ?1)",
            [code],
            |r| r.get(0),
        )?;
        Ok(exists.then_some(inspector))
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        select(self.db, "", ())
    }

    /// The key with this SHA-256, revoked or not; refused if its row was
    /// changed outside keyward (e.g. a key inserted into the database).
    pub fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        let found = select::<ApiKeyRecord>(self.db, "WHERE hash = ?1", [&hash[..]])?
            .into_iter()
            .next();
        if let Some(record) = &found {
            self.check_row("api_keys", &record.id.to_string())?;
        }
        Ok(found)
    }

    pub fn revoke_api_key(&mut self, id: i64) -> Result<(), StoreError> {
        let key = select::<ApiKeyRecord>(self.db, "WHERE id = ?1", [id])?
            .into_iter()
            .next();
        decide_revoke(&self.actor, key.as_ref().map(|k| k.revoked_at))
            .map_err(|r| key_refused(&self.actor, r, &id.to_string()))?;
        let key = key.ok_or_else(|| StoreError::not_found("API key", id))?;
        self.db.execute_cached(
            "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2",
            params![to_i64(self.now, "time")?, id],
        )?;
        self.audit(
            "apikey.revoke",
            &id.to_string(),
            &revoke_audit_detail(&key.name),
        )
    }
}

/// A new API key: 32 random bytes from the OS CSPRNG, base32, prefixed.
/// Every store makes its keys here.
pub(crate) fn new_key_secret() -> Result<Zeroizing<String>, StoreError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    {
        use ring::rand::SecureRandom as _;
        ring::rand::SystemRandom::new()
            .fill(&mut bytes[..])
            .map_err(|_| StoreError::Crypto(crate::crypto::CryptoError::Random))?;
    }
    Ok(Zeroizing::new(format!(
        "{API_KEY_PREFIX}{}",
        data_encoding::BASE32_NOPAD.encode(&bytes[..])
    )))
}

/// A refusal of [`decide_create`] or [`decide_revoke`] as the store's
/// typed error, the same on every backend; `key` names what was not found
/// (the request's district, the key's id).
pub(crate) fn key_refused(actor: &Actor, refusal: KeyRefusal, key: &str) -> StoreError {
    match refusal {
        KeyRefusal::Invalid(err) => err.into(),
        KeyRefusal::Forbidden { action, why } => StoreError::Forbidden {
            actor: actor.to_string(),
            action,
            why,
        },
        KeyRefusal::NoSuchDistrict => StoreError::not_found("district", key),
        KeyRefusal::NoSuchKey => StoreError::not_found("API key", key),
    }
}

impl Record for ApiKeyRecord {
    const SELECT: &'static str =
        "SELECT id, name, role, district, readers, created_at, revoked_at, person FROM api_keys";
    const ORDER: &'static str = "id";

    fn decode(row: &Row<'_>) -> Result<Self, StoreError> {
        let role: String = row.get(2)?;
        let readers: String = row.get(4)?;
        Ok(ApiKeyRecord {
            id: row.get(0)?,
            name: row.get(1)?,
            role: Role::parse(&role).map_err(corrupt("API key role"))?,
            district: row.get(3)?,
            readers: serde_json::from_str(&readers)
                .map_err(|_| StoreError::Corrupt("API key readers"))?,
            created_at: to_u64(row.get(5)?, "time")?,
            revoked_at: row
                .get::<_, Option<i64>>(6)?
                .map(|t| to_u64(t, "time"))
                .transpose()?,
            person: row.get(7)?,
        })
    }
}
