//! What the daemon needs from the store (issue 5): API keys (kept as SHA-256
//! only), pending device writes (SPEC §4), the desk's sealed device-PIN
//! resetting codes, and the scoped reads behind the HTTP API. Every change
//! runs inside [`Store::write`](crate::store::Store::write) like any other
//! lifecycle operation.

use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::{corrupt, to_i64, to_u64, Person, TokenInfo, Tx};
use crate::domain::receipt::SignedReceipt;
use crate::domain::{
    next_state, DomainError, MailAddress, PersonId, Role, TokenAction, TokenState,
};
use crate::otp::Secret;
use crate::store::StoreError;

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

/// A credential recorded as pending before it is written to a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    pub serial: String,
    pub holder: PersonId,
    /// The credential's id on the token (`[period/]issuer:name`).
    pub credential_id: Vec<u8>,
    pub reader: String,
    pub created_at: u64,
}

/// A district as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictRecord {
    pub code: String,
    pub name: String,
    pub inspector: Option<String>,
}

/// A school as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchoolRecord {
    pub uai: String,
    pub name: String,
    pub district: String,
}

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
    // ----- API keys ----------------------------------------------------------

    /// Creates an API key. The key is 32 random bytes from the OS CSPRNG,
    /// shown once; only its SHA-256 is stored.
    pub fn create_api_key(
        &mut self,
        name: &str,
        role: Role,
        district: Option<&str>,
        readers: &[String],
    ) -> Result<NewApiKey, StoreError> {
        self.require_desk("create an API key")?;
        check_label(name, "key name")?;
        match role {
            Role::Inspector => {
                let code = district.ok_or(DomainError::BadIdentifier {
                    what: "district",
                    rule: "an inspector key is bound to one district",
                })?;
                let exists: bool = self.db.query_row(
                    "SELECT EXISTS (SELECT 1 FROM districts WHERE code = ?1)",
                    [code],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Err(StoreError::NotFound {
                        what: "district",
                        key: code.to_owned(),
                    });
                }
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
        self.db.execute(
            "INSERT INTO api_keys (name, role, district, readers, hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                name.trim(),
                role.as_str(),
                district,
                readers_json,
                &hash[..],
                now
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "apikey.create",
            &id.to_string(),
            &format!(
                "name={} role={} district={} readers={}",
                name.trim(),
                role.as_str(),
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
                created_at: self.now,
                revoked_at: None,
            },
            key,
        })
    }

    fn api_keys_where(
        &self,
        clause: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT id, name, role, district, readers, created_at, revoked_at FROM api_keys {clause} ORDER BY id"
        );
        let mut stmt = self.db.prepare_cached(&sql)?;
        let mut rows = stmt.query([arg])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let role: String = row.get(2)?;
            let readers: String = row.get(4)?;
            out.push(ApiKeyRecord {
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
            });
        }
        Ok(out)
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.api_keys_where("WHERE ?1 = 1", &1)
    }

    /// The key with this SHA-256, revoked or not.
    pub fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self
            .api_keys_where("WHERE hash = ?1", &&hash[..])?
            .into_iter()
            .next())
    }

    pub fn revoke_api_key(&mut self, id: i64) -> Result<(), StoreError> {
        self.require_desk("revoke an API key")?;
        let key = self
            .api_keys_where("WHERE id = ?1", &id)?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                what: "API key",
                key: id.to_string(),
            })?;
        if key.revoked_at.is_some() {
            return Err(self.forbidden("revoke an API key", "it is already revoked"));
        }
        self.db.execute(
            "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2",
            params![to_i64(self.now, "time")?, id],
        )?;
        self.audit(
            "apikey.revoke",
            &id.to_string(),
            &format!("name={}", key.name),
        )
    }

    /// Audits a refusal decided outside the store (authentication, role,
    /// scope).
    pub fn record_refusal(&mut self, operation: &str, why: &str) -> Result<(), StoreError> {
        self.audit("refused", operation, why)
    }

    // ----- pending writes (SPEC §4) ------------------------------------------

    /// Records a credential as pending on a stock token, before anything is
    /// sent to the device. The same guards as the commit run now, so a write
    /// that could never be committed never reaches the token.
    /// With `replacement`, the request's old key may still be live: the
    /// commit revokes it in the same transaction that prepares the new one.
    pub fn begin_pending_write(
        &mut self,
        serial: &str,
        holder: &PersonId,
        credential_id: &[u8],
        reader: &str,
        replacement: Option<i64>,
    ) -> Result<(), StoreError> {
        self.require_desk("prepare a token")?;
        let token = self.token(serial)?;
        next_state(token.state, token.revoke_reason, TokenAction::Prepare)?;
        self.person(holder)?;
        let replaced = match replacement {
            Some(request) => {
                let row: Option<(String, String, Option<i64>)> = self
                    .db
                    .query_row(
                        "SELECT holder, old_token, fulfilled_at FROM replacement_requests WHERE id = ?1",
                        [request],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let (for_holder, old, fulfilled) = row.ok_or_else(|| StoreError::NotFound {
                    what: "replacement request",
                    key: request.to_string(),
                })?;
                if fulfilled.is_some() {
                    return Err(StoreError::RequestFulfilled(request));
                }
                if for_holder != holder.as_str() {
                    return Err(StoreError::Corrupt("replacement request holder"));
                }
                Some(old)
            }
            None => None,
        };
        if let Some(live) = self.live_token_of(holder)? {
            if replaced.as_deref() != Some(live.as_str()) {
                return Err(StoreError::HolderHasLiveToken {
                    holder: holder.to_string(),
                    serial: live,
                });
            }
        }
        if !self
            .rights(holder)?
            .iter()
            .any(|r| r.period.live_or_future_at(self.now))
        {
            return Err(StoreError::NoRight {
                holder: holder.to_string(),
            });
        }
        let inserted = self.db.execute(
            "INSERT OR IGNORE INTO pending_writes (serial, holder, credential_id, reader, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                serial,
                holder.as_str(),
                credential_id,
                reader,
                to_i64(self.now, "time")?
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                what: "pending write on token",
                key: serial.to_owned(),
            });
        }
        self.audit(
            "token.prepare.pending",
            serial,
            &format!("holder={holder} reader={reader}"),
        )
    }

    pub fn pending_write(&self, serial: &str) -> Result<Option<PendingWrite>, StoreError> {
        Ok(self
            .pending_writes_where("WHERE serial = ?1", &serial)?
            .into_iter()
            .next())
    }

    pub fn pending_writes(&self) -> Result<Vec<PendingWrite>, StoreError> {
        self.pending_writes_where("WHERE ?1 = 1", &1)
    }

    fn pending_writes_where(
        &self,
        clause: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> Result<Vec<PendingWrite>, StoreError> {
        let sql = format!(
            "SELECT serial, holder, credential_id, reader, created_at FROM pending_writes {clause} ORDER BY created_at, serial"
        );
        let mut stmt = self.db.prepare_cached(&sql)?;
        let mut rows = stmt.query([arg])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(PendingWrite {
                serial: row.get(0)?,
                holder: PersonId::parse(&row.get::<_, String>(1)?).map_err(corrupt("holder"))?,
                credential_id: row.get(2)?,
                reader: row.get(3)?,
                created_at: to_u64(row.get(4)?, "time")?,
            });
        }
        Ok(out)
    }

    /// Commits a pending write whose read-back matched: the credential record
    /// and sealed secret are written and the pending record removed in this
    /// one transaction. With `replacement`, the request's old key is revoked
    /// in it too.
    pub fn commit_pending_write(
        &mut self,
        serial: &str,
        secret: &Secret,
        params: super::CredentialParams,
        replacement: Option<i64>,
    ) -> Result<i64, StoreError> {
        let pending = self
            .pending_write(serial)?
            .ok_or_else(|| StoreError::NotFound {
                what: "pending write on token",
                key: serial.to_owned(),
            })?;
        let credential = match replacement {
            Some(request) => self.prepare_replacement(request, serial, secret, params)?,
            None => self.prepare_token(serial, &pending.holder, secret, params)?,
        };
        if self.token(serial)?.holder.as_ref() != Some(&pending.holder) {
            return Err(StoreError::Corrupt("pending write holder"));
        }
        self.db
            .execute("DELETE FROM pending_writes WHERE serial = ?1", [serial])?;
        Ok(credential)
    }

    /// Drops a pending write that was not committed (write failed, or
    /// recovery removed the credential from the token).
    pub fn abort_pending_write(&mut self, serial: &str, why: &str) -> Result<(), StoreError> {
        self.require_desk("abort a pending write")?;
        let removed = self
            .db
            .execute("DELETE FROM pending_writes WHERE serial = ?1", [serial])?;
        if removed == 0 {
            return Err(StoreError::NotFound {
                what: "pending write on token",
                key: serial.to_owned(),
            });
        }
        self.audit("token.prepare.abort", serial, why)
    }

    /// Keeps the desk's device-PIN resetting code of the token's live
    /// credential, sealed like a secret (bound to the credential, negated so
    /// it never opens as the OTP secret).
    pub fn seal_device_puk(&mut self, serial: &str, seed: &Secret) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        let credential = self.live_credential(&token)?;
        let sealed = self.shared.keys.seal_secret(-credential.id, serial, seed)?;
        self.db.execute(
            "INSERT OR REPLACE INTO device_puks (credential, sealed) VALUES (?1, ?2)",
            params![credential.id, sealed],
        )?;
        self.audit(
            "token.device_pin",
            serial,
            &format!("credential={}", credential.id),
        )
    }

    /// Opens the desk's device-PIN resetting code of the token's live
    /// credential, for an unblock, and audits it (`token.device_pin.unblock`;
    /// rolled back with the transaction if the token then refuses). Desk only.
    /// A token activated without a device PIN has no code: `NotFound`.
    pub fn open_device_puk(&mut self, serial: &str) -> Result<Secret, StoreError> {
        self.require_desk("reset a device PIN")?;
        let token = self.token(serial)?;
        let not_found = || StoreError::NotFound {
            what: "device PIN resetting code of token",
            key: serial.to_owned(),
        };
        let credential = self.credential_of(serial)?.ok_or_else(not_found)?;
        if token.holder.as_ref() != Some(&credential.holder) {
            return Err(not_found());
        }
        let sealed: Option<Vec<u8>> = self
            .db
            .query_row(
                "SELECT sealed FROM device_puks WHERE credential = ?1",
                [credential.id],
                |r| r.get(0),
            )
            .optional()?;
        let sealed = sealed.ok_or_else(not_found)?;
        let seed = self
            .shared
            .keys
            .open_secret(-credential.id, serial, &sealed)?;
        self.audit(
            "token.device_pin.unblock",
            serial,
            &format!("credential={}", credential.id),
        )?;
        Ok(seed)
    }

    /// Proof of possession before an activation: the token at the station's
    /// reader produced a correct code for its live credential. keyward read
    /// that code from the token itself, so a TOTP step already consumed by the
    /// handover a moment earlier still proves possession (handover and
    /// activation on the spot, case 5); a newer step is consumed. HOTP codes
    /// read from the token are always fresh and are consumed as usual.
    pub fn prove_possession(&mut self, serial: &str, code: &str) -> Result<(), StoreError> {
        use crate::domain::verify_policy::totp_window;
        use crate::otp::{Code, ReplayFloor, Totp};
        let token = self.token(serial)?;
        let credential = self
            .credential_of(serial)?
            .ok_or(StoreError::PossessionCheckFailed)?;
        if token.holder.as_ref() != Some(&credential.holder) {
            return Err(StoreError::PossessionCheckFailed);
        }
        let super::OtpKind::Totp { period } = credential.params.kind else {
            return self.check_possession(&credential, code);
        };
        let key = super::unseal_key(self.db, self.shared, &credential)?
            .ok_or(StoreError::PossessionCheckFailed)?;
        let code = Code::parse(code, credential.params.digits)
            .map_err(|_| StoreError::PossessionCheckFailed)?;
        let (behind, ahead) = totp_window(self.shared.config.totp_behind, credential.drift);
        let step = Totp::new(credential.params.digits, period)
            .with_window(behind, ahead)?
            .verify(&key, &code, self.now, 0, ReplayFloor::FRESH)?
            .ok_or(StoreError::PossessionCheckFailed)?
            .step();
        if credential.floor.is_none_or(|floor| step > floor) {
            self.db.execute(
                "UPDATE credentials SET floor = ?1 WHERE id = ?2",
                params![to_i64(step, "step")?, credential.id],
            )?;
        }
        Ok(())
    }

    /// The holder of a replacement request.
    pub fn replacement_holder(&self, request: i64) -> Result<PersonId, StoreError> {
        let holder: Option<String> = self
            .db
            .query_row(
                "SELECT holder FROM replacement_requests WHERE id = ?1",
                [request],
                |r| r.get(0),
            )
            .optional()?;
        let holder = holder.ok_or_else(|| StoreError::NotFound {
            what: "replacement request",
            key: request.to_string(),
        })?;
        PersonId::parse(&holder).map_err(corrupt("holder"))
    }

    // ----- scoped reads -------------------------------------------------------

    /// The district a person belongs to (that of their latest right).
    pub fn district_of_person(&self, person: &PersonId) -> Result<Option<String>, StoreError> {
        match self.holder_district(person) {
            Ok(d) => Ok(Some(d)),
            Err(StoreError::NoRight { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The district of a token: that of its holder, if bound.
    pub fn district_of_token(&self, token: &TokenInfo) -> Result<Option<String>, StoreError> {
        match &token.holder {
            Some(h) => self.district_of_person(h),
            None => Ok(None),
        }
    }

    pub fn district_of_right(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row(
                "SELECT s.district FROM rights r JOIN schools s ON s.uai = r.school WHERE r.id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn district_of_receipt(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row("SELECT district FROM receipts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn inspector_of_district(&self, code: &str) -> Result<Option<PersonId>, StoreError> {
        let id: Option<String> = self
            .db
            .query_row(
                "SELECT inspector FROM districts WHERE code = ?1",
                [code],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        id.map(|i| PersonId::parse(&i).map_err(corrupt("inspector id")))
            .transpose()
    }

    pub fn districts(&self) -> Result<Vec<DistrictRecord>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT code, name, inspector FROM districts ORDER BY code")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DistrictRecord {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    inspector: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub fn schools(&self, district: Option<&str>) -> Result<Vec<SchoolRecord>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT uai, name, district FROM schools WHERE ?1 IS NULL OR district = ?1 ORDER BY uai",
        )?;
        let rows = stmt
            .query_map([district], |r| {
                Ok(SchoolRecord {
                    uai: r.get(0)?,
                    name: r.get(1)?,
                    district: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// People, or those whose latest right is in `district`.
    pub fn people(&self, district: Option<&str>) -> Result<Vec<Person>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT id, full_name, mail FROM people ORDER BY id")?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, full_name, mail) in rows {
            let id = PersonId::parse(&id).map_err(corrupt("person id"))?;
            if let Some(wanted) = district {
                if self.district_of_person(&id)?.as_deref() != Some(wanted) {
                    continue;
                }
            }
            out.push(Person {
                id,
                full_name,
                mail: MailAddress::parse(&mail).map_err(corrupt("mail address"))?,
            });
        }
        Ok(out)
    }

    /// Tokens, optionally in one state and/or bound to a holder of `district`.
    pub fn tokens(
        &self,
        state: Option<TokenState>,
        district: Option<&str>,
    ) -> Result<Vec<TokenInfo>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT serial FROM tokens ORDER BY serial")?;
        let serials: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for serial in serials {
            let token = self.token(&serial)?;
            if state.is_some_and(|s| s != token.state) {
                continue;
            }
            if let Some(wanted) = district {
                if self.district_of_token(&token)?.as_deref() != Some(wanted) {
                    continue;
                }
            }
            out.push(token);
        }
        Ok(out)
    }

    pub fn right(&self, id: i64) -> Result<Option<super::RightRecord>, StoreError> {
        let person: Option<String> = self
            .db
            .query_row("SELECT person FROM rights WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(person) = person else {
            return Ok(None);
        };
        Ok(super::rights_of(self.db, &person)?
            .into_iter()
            .find(|r| r.id == id))
    }

    pub fn receipt(&self, id: i64) -> Result<Option<SignedReceipt>, StoreError> {
        let row: Option<(String, Vec<u8>)> = self
            .db
            .query_row(
                "SELECT canonical, signature FROM receipts WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((canonical, signature)) = row else {
            return Ok(None);
        };
        let exported = format!(
            "{canonical}signature={}\n",
            data_encoding::BASE64.encode(&signature)
        );
        SignedReceipt::parse(&exported)
            .map(Some)
            .map_err(corrupt("receipt"))
    }

    /// The public half of the receipt key.
    pub fn receipt_public_key(&self) -> [u8; 32] {
        self.shared.signer.public_key()
    }
}
