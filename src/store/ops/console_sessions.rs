//! The web console's sessions and the first admin's one-time bootstrap
//! link (`crate::console`): random ids from the OS CSPRNG, shown once to
//! the browser; only their SHA-256 is stored. Opening and ending a session
//! are audited; its rights are those of the API key it was opened for.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::{to_i64, to_u64, Tx};
use crate::store::StoreError;

/// A session as stored: the key it acts with and its times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSessionRow {
    pub api_key: i64,
    pub created_at: u64,
    pub last_seen: u64,
    pub ended_at: Option<u64>,
}

/// 32 random bytes as 52 base32 characters.
fn random_id() -> Result<Zeroizing<String>, StoreError> {
    use ring::rand::SecureRandom as _;
    let mut bytes = Zeroizing::new([0u8; 32]);
    ring::rand::SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| StoreError::Crypto(crate::crypto::CryptoError::Random))?;
    Ok(Zeroizing::new(
        data_encoding::BASE32_NOPAD.encode(&bytes[..]),
    ))
}

/// The stored form of a session id or bootstrap token.
pub fn id_hash(id: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(id.as_bytes()).into()
}

impl Tx<'_> {
    /// Opens a session for API key `api_key` (`how`: pin, bootstrap,
    /// station) and returns its id, which exists only in the browser's
    /// cookie from now on.
    pub fn open_console_session(
        &mut self,
        api_key: i64,
        how: &str,
    ) -> Result<Zeroizing<String>, StoreError> {
        let id = random_id()?;
        let now = to_i64(self.now, "time")?;
        self.db.execute_cached(
            "INSERT INTO console_sessions (id_hash, api_key, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?3)",
            params![&id_hash(&id)[..], api_key, now],
        )?;
        self.audit(
            "console.signin",
            &api_key.to_string(),
            &format!("key={api_key} how={how}"),
        )?;
        Ok(id)
    }

    /// The session whose id hashes to `hash`, ended or not.
    pub fn console_session(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<ConsoleSessionRow>, StoreError> {
        self.check_row_by("console_sessions", &&hash[..], "session")?;
        let row = self
            .db
            .query_row_cached(
                "SELECT api_key, created_at, last_seen, ended_at FROM console_sessions
                 WHERE id_hash = ?1",
                [&hash[..]],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(api_key, created, seen, ended)| {
            Ok(ConsoleSessionRow {
                api_key,
                created_at: to_u64(created, "time")?,
                last_seen: to_u64(seen, "time")?,
                ended_at: ended.map(|t| to_u64(t, "time")).transpose()?,
            })
        })
        .transpose()
    }

    /// Notes that the session was used now (its idle timeout restarts).
    pub fn touch_console_session(&mut self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.db.execute_cached(
            "UPDATE console_sessions SET last_seen = ?1 WHERE id_hash = ?2 AND ended_at IS NULL",
            params![to_i64(self.now, "time")?, &hash[..]],
        )?;
        Ok(())
    }

    /// Ends the session (`why`: signout, idle, absolute), audited once.
    pub fn end_console_session(&mut self, hash: &[u8; 32], why: &str) -> Result<(), StoreError> {
        let Some(session) = self.console_session(hash)? else {
            return Ok(());
        };
        if session.ended_at.is_some() {
            return Ok(());
        }
        self.db.execute_cached(
            "UPDATE console_sessions SET ended_at = ?1 WHERE id_hash = ?2",
            params![to_i64(self.now, "time")?, &hash[..]],
        )?;
        self.audit(
            "console.signout",
            &session.api_key.to_string(),
            &format!("key={} why={why}", session.api_key),
        )
    }

    /// A one-time link for the first admin's first sign-in to the console,
    /// acting with admin key `api_key`.
    pub fn create_console_bootstrap(
        &mut self,
        api_key: i64,
    ) -> Result<Zeroizing<String>, StoreError> {
        let token = random_id()?;
        self.db.execute_cached(
            "INSERT INTO console_bootstrap (hash, api_key, created_at) VALUES (?1, ?2, ?3)",
            params![&id_hash(&token)[..], api_key, to_i64(self.now, "time")?],
        )?;
        self.audit(
            "console.bootstrap",
            &api_key.to_string(),
            &format!("key={api_key}"),
        )?;
        Ok(token)
    }

    /// Uses the bootstrap link `token` once: the admin key it opens a
    /// session for, or `None` (unknown, used, or older than `max_age`
    /// seconds).
    pub fn use_console_bootstrap(
        &mut self,
        token: &str,
        max_age: u64,
    ) -> Result<Option<i64>, StoreError> {
        let hash = id_hash(token);
        let found = self
            .db
            .query_row_cached(
                "SELECT api_key, created_at FROM console_bootstrap
                 WHERE hash = ?1 AND used_at IS NULL",
                [&hash[..]],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        let Some((api_key, created)) = found else {
            return Ok(None);
        };
        if to_u64(created, "time")?.saturating_add(max_age) < self.now {
            return Ok(None);
        }
        self.db.execute_cached(
            "UPDATE console_bootstrap SET used_at = ?1 WHERE hash = ?2",
            params![to_i64(self.now, "time")?, &hash[..]],
        )?;
        Ok(Some(api_key))
    }

    /// The API key with this id, its row MAC checked.
    pub fn api_key_by_id(
        &self,
        id: i64,
    ) -> Result<Option<crate::domain::ApiKeyRecord>, StoreError> {
        let found = super::select::<crate::domain::ApiKeyRecord>(self.db, "WHERE id = ?1", [id])?
            .into_iter()
            .next();
        if found.is_some() {
            self.check_row("api_keys", &id.to_string())?;
        }
        Ok(found)
    }
}
