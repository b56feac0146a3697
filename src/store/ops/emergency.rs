//! Emergency access while a key is replaced (docs/emergency.md): the
//! district's inspector, or the desk against a qualified help request, gives
//! the holder a temporary credential for at most ten days: a sheet of
//! one-time codes (HOTP, used in order) or a software token enrolled from an
//! `otpauth://` URI at the station. It is an ordinary credential (sealed,
//! `expires_at`, the holder's PIN) on a token row of profile `emergency`, so
//! the verify core treats it as any other (once each, lockout, audit). It
//! ends when the new key is activated, when revoked, or by itself at expiry.
//!
//! While it is in force the replacement key's credential waits with
//! `live = 2` (one credential per holder answers a login); activation swaps
//! them in one transaction.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::{to_i64, Tx};
use crate::crypto::Pin;
use crate::domain::{Actor, PersonId, TokenState};
use crate::mail::kind::TO_QUALIFY;
use crate::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use crate::store::StoreError;

/// The profile of the token rows that carry emergency credentials.
pub const EMERGENCY_PROFILE: &str = "emergency";
/// The longest emergency access, in days.
pub const MAX_DAYS: u32 = 10;
/// How many codes a printed sheet holds at most.
pub const MAX_SHEET_CODES: u32 = 40;
/// `credentials.live` of a replacement key's credential while emergency
/// access answers for its holder.
pub(super) const LIVE_WAITING: i64 = 2;

/// Refusals about the state of things (answered 409 by the API).
pub mod refusals {
    pub const NOT_PENDING: &str =
        "emergency access is given only while a replacement is pending (its new key not yet active)";
    pub const NOT_QUALIFIED: &str =
        "the help request must first be qualified (lost, stolen, broken or faulty)";
    pub const KEY_STILL_WORKS: &str =
        "the holder's key is still active: revoke it or qualify the request first";
    pub const ALREADY_GRANTED: &str =
        "the holder already has emergency access in force: revoke it first";
    pub const NOT_IN_FORCE: &str = "this emergency access is not in force";
}

/// The two forms of emergency access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyForm {
    /// A printed sheet of this many one-time codes, used in order.
    Sheet { codes: u32 },
    /// A software token (TOTP) enrolled by scanning an `otpauth://` URI.
    App,
}

impl EmergencyForm {
    pub fn as_str(self) -> &'static str {
        match self {
            EmergencyForm::Sheet { .. } => "sheet",
            EmergencyForm::App => "app",
        }
    }
}

/// What a grant hands to the granting person, once: never stored, logged
/// or shown again.
pub struct EmergencyAccess {
    pub serial: String,
    pub holder: PersonId,
    pub expires_at: u64,
    /// The sheet's codes, in the order they are used.
    pub codes: Vec<Zeroizing<String>>,
    /// The `otpauth://` URI to enrol (App form).
    pub otpauth: Option<Zeroizing<String>>,
    pub slip: Slip,
}

/// The first line of an emergency access slip.
pub const SLIP_HEADER: &str = "keyward-emergency-slip-v1";

/// The signed slip of a grant: its text and the receipt key's Ed25519
/// signature of it (checked with `keyward receipts public-key`'s key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slip {
    pub text: String,
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for EmergencyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencyAccess")
            .field("serial", &self.serial)
            .field("holder", &self.holder)
            .field("expires_at", &self.expires_at)
            .field("codes", &self.codes.len())
            .finish_non_exhaustive()
    }
}

/// One emergency access as listed (no secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmergencyRecord {
    pub serial: String,
    pub holder: String,
    pub request: i64,
    pub form: String,
    pub granted_by: String,
    pub granted_at: u64,
    pub expires_at: u64,
    pub ended_at: Option<u64>,
    pub end_reason: Option<String>,
    pub slip: Slip,
}

impl Tx<'_> {
    /// Grants emergency access to the holder of replacement request
    /// `request`, for `days` (1 to [`MAX_DAYS`]), used with `pin`, the PIN
    /// the holder types at the station.
    pub fn grant_emergency(
        &mut self,
        request: i64,
        form: EmergencyForm,
        days: u32,
        pin: &str,
    ) -> Result<EmergencyAccess, StoreError> {
        const ACTION: &str = "grant emergency access";
        let row: Option<(String, String, String, Option<String>)> = self
            .db
            .query_row_cached(
                "SELECT holder, old_token, reason, new_token FROM replacement_requests WHERE id = ?1",
                [request],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (holder, old, reason, new_token) =
            row.ok_or_else(|| StoreError::not_found("replacement request", request))?;
        let holder = PersonId::parse(&holder).map_err(super::corrupt("holder"))?;
        let district = self.key_district(&old)?;
        // The district's inspector, or the desk against a qualified request.
        self.require_scope(&district, ACTION, true)?;
        self.not_own(&holder, ACTION)?;
        self.require_present(&holder)?;
        if !matches!(self.actor, Actor::Inspector(_)) && reason == TO_QUALIFY {
            return Err(self.forbidden(ACTION, refusals::NOT_QUALIFIED));
        }
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "days",
                rule: "1 to 10 days",
            }
            .into());
        }
        let codes = match form {
            EmergencyForm::Sheet { codes } if !(1..=MAX_SHEET_CODES).contains(&codes) => {
                return Err(crate::domain::DomainError::BadIdentifier {
                    what: "codes",
                    rule: "1 to 40 codes",
                }
                .into());
            }
            EmergencyForm::Sheet { codes } => codes,
            EmergencyForm::App => 0,
        };
        let pin = Pin::parse(pin)?;
        // Pending: the replacement key, if prepared, is not active yet.
        if let Some(new) = &new_token {
            if !matches!(
                self.token(new)?.state,
                TokenState::Prepared | TokenState::HandedOver
            ) {
                return Err(self.forbidden(ACTION, refusals::NOT_PENDING));
            }
        }
        if let Some(live) = self.live_token_of(&holder)? {
            if self.token(&live)?.state == TokenState::Active {
                return Err(self.forbidden(ACTION, refusals::KEY_STILL_WORKS));
            }
        }
        let now = to_i64(self.now, "time")?;
        if let Some(current) = self.emergency_of(&holder)? {
            self.check_row("emergency_grants", &current)?;
            let expired: bool = self.db.query_row_cached(
                "SELECT expires_at <= ?1 FROM emergency_grants WHERE token = ?2",
                params![now, current],
                |r| r.get(0),
            )?;
            if !expired {
                return Err(self.forbidden(ACTION, refusals::ALREADY_GRANTED));
            }
            self.end_emergency(&current, "expired")?;
        }

        let n: i64 = self.db.query_row_cached(
            "SELECT COUNT(*) FROM emergency_grants WHERE request = ?1",
            [request],
            |r| r.get(0),
        )?;
        let serial = format!("EMERGENCY-{request}-{}", n + 1);
        let expires_at = now + i64::from(days) * 86_400;
        self.db.execute_cached(
            "INSERT INTO tokens (serial, profile, state, holder, state_since, right_id)
             VALUES (?1, ?2, 'active', ?3, ?4, (SELECT right_id FROM tokens WHERE serial = ?5))",
            params![serial, EMERGENCY_PROFILE, holder.as_str(), now, old],
        )?;
        // The replacement key's credential, if prepared, waits.
        self.db.execute_cached(
            "UPDATE credentials SET live = ?1 WHERE holder = ?2 AND live = 1",
            params![LIVE_WAITING, holder.as_str()],
        )?;
        let (kind, period, algorithm) = match form {
            EmergencyForm::Sheet { .. } => ("hotp", 0, Algorithm::Sha1),
            EmergencyForm::App => ("totp", 30, Algorithm::Sha1),
        };
        let verifier = Zeroizing::new(
            self.shared
                .keys
                .pin_verifier(holder.as_str(), pin.expose().as_bytes()),
        );
        self.db.execute_cached(
            "INSERT INTO credentials (token, holder, kind, algorithm, digits, period, live,
             created_at, expires_at, pin_verifier)
             VALUES (?1, ?2, ?3, ?4, 6, ?5, 1, ?6, ?7, ?8)",
            params![
                serial,
                holder.as_str(),
                kind,
                algorithm.name(),
                period,
                now,
                expires_at,
                &verifier[..]
            ],
        )?;
        let credential = self.db.last_insert_rowid();
        self.reset_counters(credential)?;
        let secret = Secret::generate(algorithm)?;
        let sealed = self.shared.keys.seal_secret(credential, &serial, &secret)?;
        self.db.execute_cached(
            "INSERT INTO sealed_secrets (credential, sealed) VALUES (?1, ?2)",
            params![credential, sealed],
        )?;
        let granted_by = self.actor_label();
        let person = self.person(&holder)?;
        // The signed slip: who granted what to whom, until when (no secret).
        let slip = format!(
            "{SLIP_HEADER}\ntoken={serial}\nholder={holder}\nholder_name={}\nrequest={request}\n\
             district={district}\nform={}\ncodes={codes}\ngranted_by={granted_by}\n\
             granted_at={now}\nexpires_at={expires_at}\nkey_id={}\n",
            person.full_name.replace(['\n', '\r'], " "),
            form.as_str(),
            self.shared.signer.key_id(),
        );
        let signature = self.shared.signer.sign(slip.as_bytes());
        self.db.execute_cached(
            "INSERT INTO emergency_grants (token, holder, request, form, granted_by, granted_at,
             expires_at, slip, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                serial,
                holder.as_str(),
                request,
                form.as_str(),
                granted_by,
                now,
                expires_at,
                slip,
                signature
            ],
        )?;
        self.audit(
            "emergency.grant",
            holder.as_str(),
            &format!(
                "token={serial} request={request} form={} codes={codes} expires_at={expires_at} credential={credential}",
                form.as_str()
            ),
        )?;
        let key = CredentialKey::new(algorithm, &secret);
        let codes = (0..u64::from(codes))
            .map(|i| Zeroizing::new(code_at(&key, i, Digits::SIX).to_string()))
            .collect();
        let otpauth = matches!(form, EmergencyForm::App).then(|| {
            Zeroizing::new(format!(
                "otpauth://totp/keyward:{holder}?secret={}&issuer=keyward&algorithm=SHA1&digits=6&period=30",
                data_encoding::BASE32_NOPAD.encode(secret.expose())
            ))
        });
        Ok(EmergencyAccess {
            serial,
            holder,
            slip: Slip {
                text: slip,
                signature,
            },
            expires_at: super::to_u64(expires_at, "time")?,
            codes,
            otpauth,
        })
    }

    /// Ends emergency access `serial` before its time (the district's
    /// inspector or the desk).
    pub fn revoke_emergency(&mut self, serial: &str) -> Result<(), StoreError> {
        const ACTION: &str = "revoke emergency access";
        let token = self.token(serial)?;
        let holder = match (&token.holder, token.profile.as_str(), token.state) {
            (Some(h), EMERGENCY_PROFILE, TokenState::Active) => h.clone(),
            _ => return Err(self.forbidden(ACTION, refusals::NOT_IN_FORCE)),
        };
        let district = self.key_district(serial)?;
        self.require_scope(&district, ACTION, true)?;
        self.not_own(&holder, ACTION)?;
        self.end_emergency(serial, "revoked")
    }

    /// The holder's emergency token in force (possibly past its expiry).
    pub(super) fn emergency_of(&self, holder: &PersonId) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT serial FROM tokens WHERE holder = ?1 AND profile = 'emergency'
                 AND state = 'active'",
            )?
            .query_row([holder.as_str()], |r| r.get(0))
            .optional()?)
    }

    /// Ends the holder's emergency access, if any, because their new key is
    /// activated; the waiting credential of that key answers from now on.
    pub(super) fn end_emergency_at_activation(
        &mut self,
        holder: &PersonId,
        credential: i64,
    ) -> Result<(), StoreError> {
        if let Some(serial) = self.emergency_of(holder)? {
            self.end_emergency(&serial, "new key activated")?;
        }
        self.db.execute_cached(
            "UPDATE credentials SET live = 1 WHERE id = ?1 AND live = ?2",
            params![credential, LIVE_WAITING],
        )?;
        Ok(())
    }

    /// Destroys an emergency credential's secret and PIN verifier, retires
    /// its token row and records why.
    fn end_emergency(&mut self, serial: &str, why: &str) -> Result<(), StoreError> {
        let credential: Option<i64> = self
            .db
            .query_row_cached(
                "SELECT id FROM credentials WHERE token = ?1 AND live = 1",
                [serial],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = credential {
            self.destroy_secret(id)?;
        }
        let now = to_i64(self.now, "time")?;
        self.db.execute_cached(
            "UPDATE tokens SET state = 'revoked', state_since = ?1 WHERE serial = ?2",
            params![now, serial],
        )?;
        self.db.execute_cached(
            "UPDATE emergency_grants SET ended_at = ?1, end_reason = ?2 WHERE token = ?3",
            params![now, why, serial],
        )?;
        self.audit("emergency.end", serial, &format!("reason={why}"))
    }

    /// Emergency accesses, newest first: the desk sees all, an inspector
    /// those of their districts' keys.
    pub fn emergency_accesses(&self) -> Result<Vec<EmergencyRecord>, StoreError> {
        let mut stmt = self.db.prepare_cached(
            "SELECT g.token, g.holder, g.request, g.form, g.granted_by, g.granted_at,
             g.expires_at, g.ended_at, g.end_reason, r.old_token, g.slip, g.signature
             FROM emergency_grants g JOIN replacement_requests r ON r.id = g.request
             ORDER BY g.granted_at DESC, g.token DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let old: String = r.get(9)?;
            if let Actor::Inspector(_) = self.actor {
                let district = self.key_district(&old)?;
                if self
                    .require_scope(&district, "list emergency access", false)
                    .is_err()
                {
                    continue;
                }
            } else if !matches!(self.actor, Actor::Desk(_) | Actor::Admin(_) | Actor::System) {
                return Err(
                    self.forbidden("list emergency access", "only the desk or an inspector")
                );
            }
            out.push(EmergencyRecord {
                serial: r.get(0)?,
                holder: r.get(1)?,
                request: r.get(2)?,
                form: r.get(3)?,
                granted_by: r.get(4)?,
                granted_at: super::to_u64(r.get(5)?, "time")?,
                expires_at: super::to_u64(r.get(6)?, "time")?,
                ended_at: r
                    .get::<_, Option<i64>>(7)?
                    .map(|t| super::to_u64(t, "time"))
                    .transpose()?,
                end_reason: r.get(8)?,
                slip: Slip {
                    text: r.get(10)?,
                    signature: r.get(11)?,
                },
            });
        }
        Ok(out)
    }
}
