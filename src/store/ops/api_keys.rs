//! API keys: created once and shown once, stored as SHA-256 only, bound to a
//! role (and a district or readers), revoked.

use crate::store::cached::CachedSql;
use rusqlite::{params, Row};
use zeroize::Zeroizing;

use super::{corrupt, select, to_i64, to_u64, Record, Tx};
use crate::domain::{
    api_key_hash, ApiKeyRecord, DomainError, NewApiKey, PersonId, Role, API_KEY_PREFIX,
};
use crate::store::StoreError;

fn check_label(text: &str, what: &'static str) -> Result<(), StoreError> {
    if text.trim().is_empty() || text.len() > 128 || text.chars().any(char::is_control) {
        return Err(DomainError::BadIdentifier {
            what,
            rule: "1 to 128 characters on one line",
        }
        .into());
    }
    Ok(())
}

impl Tx<'_> {
    /// Creates an API key. The key is 32 random bytes from the OS CSPRNG,
    /// shown once; only its SHA-256 is stored.
    pub fn create_api_key(
        &mut self,
        name: &str,
        role: Role,
        district: Option<&str>,
        readers: &[String],
        person: Option<&PersonId>,
    ) -> Result<NewApiKey, StoreError> {
        self.require_desk("create an API key")?;
        check_label(name, "key name")?;
        self.check_key_person(role, district, person)?;
        match role {
            Role::Inspector => {
                let code = district.ok_or(DomainError::BadIdentifier {
                    what: "district",
                    rule: "an inspector key is bound to one district",
                })?;
                self.require_district(code)?;
            }
            _ if district.is_some() => {
                return Err(DomainError::BadIdentifier {
                    what: "district",
                    rule: "only inspector keys are bound to a district",
                }
                .into())
            }
            _ => {}
        }
        match role {
            Role::Station if readers.is_empty() => {
                return Err(DomainError::BadIdentifier {
                    what: "readers",
                    rule: "a station key is bound to at least one reader",
                }
                .into())
            }
            Role::Station => {
                for reader in readers {
                    check_label(reader, "reader name")?;
                }
            }
            _ if !readers.is_empty() => {
                return Err(DomainError::BadIdentifier {
                    what: "readers",
                    rule: "only station keys are bound to readers",
                }
                .into())
            }
            _ => {}
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        {
            use ring::rand::SecureRandom as _;
            ring::rand::SystemRandom::new()
                .fill(&mut bytes[..])
                .map_err(|_| StoreError::Crypto(crate::crypto::CryptoError::Random))?;
        }
        let key = Zeroizing::new(format!(
            "{API_KEY_PREFIX}{}",
            data_encoding::BASE32_NOPAD.encode(&bytes[..])
        ));
        let hash = api_key_hash(&key);
        let readers_json =
            serde_json::to_string(readers).map_err(|_| StoreError::Corrupt("reader list"))?;
        let now = to_i64(self.now, "time")?;
        self.db.execute_cached(
            "INSERT INTO api_keys (name, role, district, readers, hash, created_at, person)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                name.trim(),
                role.as_str(),
                district,
                readers_json,
                &hash[..],
                now,
                person.map(PersonId::as_str)
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "apikey.create",
            &id.to_string(),
            &format!(
                "name={} role={} person={} district={} readers={}",
                name.trim(),
                role.as_str(),
                person.map_or("-", PersonId::as_str),
                district.unwrap_or("-"),
                readers.join(",")
            ),
        )?;
        Ok(NewApiKey {
            record: ApiKeyRecord {
                id,
                name: name.trim().to_owned(),
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

    /// A staff key (admin, desk, inspector) belongs to a person still in
    /// post (an inspector key to its district's inspector); a device key
    /// (station, gateway) to nobody.
    fn check_key_person(
        &self,
        role: Role,
        district: Option<&str>,
        person: Option<&PersonId>,
    ) -> Result<(), StoreError> {
        let staff = matches!(role, Role::Admin | Role::Desk | Role::Inspector);
        let Some(person) = person else {
            return match staff {
                true => Err(DomainError::BadIdentifier {
                    what: "person",
                    rule: "an admin, desk or inspector key belongs to a person",
                }
                .into()),
                false => Ok(()),
            };
        };
        if !staff {
            return Err(DomainError::BadIdentifier {
                what: "person",
                rule: "station and gateway keys belong to a device, not a person",
            }
            .into());
        }
        if self.has_left(person)? {
            return Err(self.forbidden("create an API key", "that person has left"));
        }
        if let (Role::Inspector, Some(code)) = (role, district) {
            if self.inspector_login(code)?.as_deref() != Some(person.as_str()) {
                return Err(DomainError::BadIdentifier {
                    what: "person",
                    rule: "an inspector key belongs to its district's inspector",
                }
                .into());
            }
        }
        Ok(())
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
        self.require_desk("revoke an API key")?;
        let key = select::<ApiKeyRecord>(self.db, "WHERE id = ?1", [id])?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::not_found("API key", id))?;
        if key.revoked_at.is_some() {
            return Err(self.forbidden("revoke an API key", "it is already revoked"));
        }
        self.db.execute_cached(
            "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2",
            params![to_i64(self.now, "time")?, id],
        )?;
        self.audit(
            "apikey.revoke",
            &id.to_string(),
            &format!("name={}", key.name),
        )
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
