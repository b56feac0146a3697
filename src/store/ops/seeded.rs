//! Factory-seeded tokens (`docs/pskc.md`): their secrets imported from the
//! vendor's PSKC file, all or nothing, then bound to a holder through the
//! same prepare rules as a token keyward writes, with proof of possession
//! by a code the token shows.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{to_i64, Tx};
use crate::domain::{PersonId, TokenState};
use crate::otp::{Algorithm, CredentialParams, Digits, OtpKind, Period};
use crate::pskc::KeyPackage;
use crate::store::{SeededReuse, StoreError};

/// The firmware profile id of tokens whose secret comes from an import.
pub const SEEDED_PROFILE: &str = "seeded";

/// What an import did (or, dry, would do) for one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedToken {
    pub serial: String,
    pub key_id: String,
    pub params: CredentialParams,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// The token was known (returned and wiped): its secret is replaced.
    pub reseeded: bool,
}

impl Tx<'_> {
    /// Checks that every key of a decoded file may be imported, changing
    /// nothing (the dry run, and the first half of [`Self::import_seeded`]).
    pub fn check_import(&self, packages: &[KeyPackage]) -> Result<Vec<ImportedToken>, StoreError> {
        self.require_desk("import tokens")?;
        packages
            .iter()
            .map(|p| {
                let reseeded = self.may_import(&p.serial)?;
                Ok(ImportedToken {
                    serial: p.serial.clone(),
                    key_id: p.key_id.clone(),
                    params: p.params,
                    manufacturer: p.manufacturer.clone(),
                    model: p.model.clone(),
                    not_before: p.not_before,
                    not_after: p.not_after,
                    reseeded,
                })
            })
            .collect()
    }

    /// Whether `serial` may take an imported secret: a new serial, or a
    /// seeded token in stock or wiped with no secret waiting, when the
    /// configuration lets returned seeded tokens be bound again.
    /// Returns whether the token is already known.
    fn may_import(&self, serial: &str) -> Result<bool, StoreError> {
        let token = match self.token(serial) {
            Ok(t) => t,
            Err(StoreError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        if token.profile != SEEDED_PROFILE {
            return Err(StoreError::Duplicate {
                what: "token (registered with another profile)",
                key: serial.to_owned(),
            });
        }
        if self.imported_id(serial)?.is_some() {
            return Err(StoreError::Duplicate {
                what: "imported secret for token",
                key: serial.to_owned(),
            });
        }
        let refuse = |why| StoreError::Forbidden {
            actor: self.actor.to_string(),
            action: "import tokens",
            why,
        };
        // Known without a waiting secret: it was bound (or wiped) before.
        if self.shared.config.seeded_reuse == SeededReuse::Never {
            return Err(refuse(refusals::NEVER_AGAIN));
        }
        match token.state {
            TokenState::Stock | TokenState::Wiped => Ok(true),
            _ => Err(refuse(refusals::IN_USE)),
        }
    }

    /// Imports every key of a decoded file, or none: each token registered
    /// (or a wiped one restocked) with its secret sealed, waiting for a
    /// holder. The file itself is not kept; the audit names keys, never
    /// secrets.
    pub fn import_seeded(
        &mut self,
        packages: &[KeyPackage],
    ) -> Result<Vec<ImportedToken>, StoreError> {
        let report = self.check_import(packages)?;
        for (p, done) in packages.iter().zip(&report) {
            if done.reseeded {
                if self.token(&p.serial)?.state == TokenState::Wiped {
                    self.restock(&p.serial)?;
                }
            } else {
                self.add_token(&p.serial, SEEDED_PROFILE)?;
            }
            let (kind, period, counter) = match p.params.kind {
                OtpKind::Hotp { counter } => ("hotp", 0, to_i64(counter, "counter")?),
                OtpKind::Totp { period } => ("totp", period.seconds(), 0),
            };
            let pin_policy = p.pin_policy.as_ref().map(|pp| {
                format!(
                    "min={:?} max={:?} attempts={:?}",
                    pp.min_length, pp.max_length, pp.max_failed_attempts
                )
            });
            self.db.execute_cached(
                "INSERT INTO imported_secrets (serial, key_id, kind, algorithm, digits, period, counter,
                 not_before, not_after, manufacturer, model, pin_policy, sealed, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, x'', ?13)",
                params![
                    p.serial,
                    p.key_id,
                    kind,
                    p.params.algorithm.name(),
                    p.params.digits.get(),
                    period,
                    counter,
                    p.not_before,
                    p.not_after,
                    p.manufacturer,
                    p.model,
                    pin_policy,
                    to_i64(self.now, "time")?
                ],
            )?;
            let id = self.db.last_insert_rowid();
            let sealed = self.shared.keys.seal_secret(-id, &p.serial, &p.secret)?;
            self.db.execute_cached(
                "UPDATE imported_secrets SET sealed = ?1 WHERE id = ?2",
                params![sealed, id],
            )?;
            self.audit(
                "token.import",
                &p.serial,
                &format!(
                    "key_id={} kind={kind} algorithm={} digits={} manufacturer={} model={} pin_policy={}",
                    p.key_id,
                    p.params.algorithm,
                    p.params.digits.get(),
                    p.manufacturer.as_deref().unwrap_or("-"),
                    p.model.as_deref().unwrap_or("-"),
                    pin_policy.as_deref().unwrap_or("-"),
                ),
            )?;
        }
        Ok(report)
    }

    /// The imported secret waiting for `serial`, if any.
    fn imported(&self, serial: &str) -> Result<Option<Imported>, StoreError> {
        let mut stmt = self.db.prepare_cached(
            "SELECT id, kind, algorithm, digits, period, counter, not_before, not_after, sealed
             FROM imported_secrets WHERE serial = ?1",
        )?;
        let mut rows = stmt.query([serial])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let corrupt = |_| StoreError::Corrupt("imported secret parameters");
        let kind = match r.get::<_, String>(1)?.as_str() {
            "hotp" => OtpKind::Hotp {
                counter: u64::try_from(r.get::<_, i64>(5)?)
                    .map_err(|_| StoreError::Corrupt("counter"))?,
            },
            _ => OtpKind::Totp {
                period: Period::new(r.get(4)?).map_err(corrupt)?,
            },
        };
        Ok(Some(Imported {
            id: r.get(0)?,
            params: CredentialParams {
                kind,
                algorithm: r
                    .get::<_, String>(2)?
                    .parse::<Algorithm>()
                    .map_err(corrupt)?,
                digits: Digits::new(r.get(3)?).map_err(corrupt)?,
            },
            dates: (r.get(6)?, r.get(7)?),
            sealed: r.get(8)?,
        }))
    }

    fn imported_id(&self, serial: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .db
            .prepare_cached("SELECT id FROM imported_secrets WHERE serial = ?1")?
            .query_row([serial], |r| r.get(0))
            .optional()?)
    }

    /// Binds a seeded token to `holder` (or to a replacement request's
    /// holder): the prepare rules of every token, the secret moved from the
    /// import to a credential, and the code the token shows proving
    /// possession. Refused whole if any step fails.
    pub fn bind_seeded(
        &mut self,
        serial: &str,
        holder: &PersonId,
        code: &str,
        replacement: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.require_desk("bind a seeded token")?;
        let token = self.token(serial)?;
        if token.profile != SEEDED_PROFILE {
            return Err(self.forbidden("bind a token", refusals::ONLY));
        }
        let Some(imported) = self.imported(serial)? else {
            return Err(self.forbidden("bind a token", refusals::NOT_IMPORTED));
        };
        let now = to_i64(self.now, "time")?;
        let (not_before, not_after) = imported.dates;
        if not_before.is_some_and(|t| now < t) || not_after.is_some_and(|t| now >= t) {
            return Err(self.forbidden("bind a token", refusals::OUT_OF_DATES));
        }
        let (id, params) = (imported.id, imported.params);
        let sealed = imported.sealed;
        let secret = self.shared.keys.open_secret(-id, serial, &sealed)?;
        let credential = match replacement {
            Some(request) => {
                if &self.replacement_holder(request)? != holder {
                    return Err(self.forbidden("bind a token", refusals::OTHER_HOLDER));
                }
                self.prepare_replacement(request, serial, &secret, params)?
            }
            None => self.prepare_token(serial, holder, &secret, params)?,
        };
        let bound = self
            .credential_of(serial)?
            .ok_or(StoreError::Corrupt("bound token without credential"))?;
        self.check_possession(&bound, code)?;
        // The vendor's expiry date stays with the key: verify refuses it after.
        self.db.execute_cached(
            "UPDATE credentials SET expires_at = ?1 WHERE id = ?2",
            rusqlite::params![not_after, credential],
        )?;
        self.db
            .execute_cached("DELETE FROM imported_secrets WHERE id = ?1", [id])?;
        self.audit(
            "token.bind",
            serial,
            &format!("credential={credential} imported_secret=moved"),
        )?;
        Ok(credential)
    }

    /// Destroys a wiped seeded token's imported secret, if one is waiting.
    /// Returns whether one was destroyed.
    pub fn forget_imported(&mut self, serial: &str) -> Result<bool, StoreError> {
        let removed = self
            .db
            .execute_cached("DELETE FROM imported_secrets WHERE serial = ?1", [serial])?;
        if removed > 0 {
            self.audit("token.import.destroy", serial, "imported secret destroyed")?;
        }
        Ok(removed > 0)
    }
}

/// An imported secret as stored, still sealed.
struct Imported {
    id: i64,
    params: CredentialParams,
    /// `not_before`, `not_after` (Unix seconds).
    dates: (Option<i64>, Option<i64>),
    sealed: Vec<u8>,
}

/// Refusals about a seeded token's state (answered 409 by the API).
pub mod refusals {
    pub const IN_USE: &str =
        "the token is in use: only a seeded token in stock or wiped takes a new import";
    pub const NEVER_AGAIN: &str =
        "returned seeded tokens are never bound again here (seeded_reuse = \"never\")";
    pub const NOT_IMPORTED: &str =
        "no imported secret waits for this token: import its vendor file first";
    pub const OUT_OF_DATES: &str = "the imported key is outside its start and expiry dates";
    pub const OTHER_HOLDER: &str = "the replacement request is for another holder";
    pub const ONLY: &str = "only a seeded token is bound; other tokens are prepared at a reader";
}
