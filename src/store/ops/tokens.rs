//! Tokens and their credentials through the school year: stock, prepare,
//! handover, activation, return, revocation, resync and unlock (token states
//! and the numbered cases: docs/lifecycle.md).

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{corrupt, credential_from_row, insert_new, to_i64, unseal_key, Tx, CREDENTIAL_COLUMNS};
use crate::crypto::Pin;
use crate::domain::receipt::{ReceiptKind, SignedReceipt};
use crate::domain::revocation::{self, RevokeFacts, RevokeRefusal};
use crate::domain::verify_policy::{totp_window, MAX_DRIFT};
use crate::domain::{
    next_state, Actor, CredentialInfo, PersonId, RevokeReason, TokenAction, TokenInfo, TokenState,
};
use crate::otp::{Code, CredentialParams, Hotp, OtpKind, ReplayFloor, Secret, Totp};
use crate::store::StoreError;

/// The request a key after a revoked one is prepared against.
enum Basis {
    KeyRequest,
    Replacement(i64),
}

impl Tx<'_> {
    pub fn token(&self, serial: &str) -> Result<TokenInfo, StoreError> {
        self.check_row("tokens", serial)?;
        let row: Option<(String, String, Option<String>, Option<String>)> = self
            .db
            .prepare_cached(
                "SELECT profile, state, revoke_reason, holder FROM tokens WHERE serial = ?1",
            )?
            .query_row([serial], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let (profile, state, reason, holder) =
            row.ok_or_else(|| StoreError::not_found("token", serial))?;
        Ok(TokenInfo {
            serial: serial.to_owned(),
            profile,
            state: TokenState::parse(&state)?,
            revoke_reason: reason
                .map(|r| RevokeReason::parse(&r))
                .transpose()
                .map_err(corrupt("revoke reason"))?,
            holder: holder
                .map(|h| PersonId::parse(&h))
                .transpose()
                .map_err(corrupt("holder"))?,
        })
    }

    /// The live credential on a token, if any.
    pub fn credential_of(&self, serial: &str) -> Result<Option<CredentialInfo>, StoreError> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials c WHERE c.token = ?1 AND c.live IN (1, 2)"
        );
        let mut stmt = self.db.prepare_cached(&sql)?;
        let mut rows = stmt.query([serial])?;
        let credential = match rows.next()? {
            Some(row) => credential_from_row(row)?,
            None => return Ok(None),
        };
        drop(rows);
        crate::store::verify::counters::overlay(&self.phantoms(), self.db, credential).map(Some)
    }

    pub(super) fn live_token_of(&self, holder: &PersonId) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT serial FROM tokens WHERE holder = ?1
                 AND state IN ('prepared','handed_over','active') AND profile <> 'emergency'",
            )?
            .query_row([holder.as_str()], |r| r.get(0))
            .optional()?)
    }

    pub fn add_token(&mut self, serial: &str, profile: &str) -> Result<(), StoreError> {
        self.require_desk("register a token")?;
        if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_graphic()) {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "token serial",
                rule: "1 to 64 printable ASCII characters",
            }
            .into());
        }
        insert_new(
            self.db,
            "INSERT OR IGNORE INTO tokens (serial, profile, state, state_since) VALUES (?1, ?2, 'stock', ?3)",
            params![serial, profile, to_i64(self.now, "time")?],
            "token",
            serial,
        )?;
        self.audit("token.add", serial, &format!("profile={profile}"))
    }

    fn set_state(
        &mut self,
        token: &TokenInfo,
        action: TokenAction,
        holder: Option<&PersonId>,
    ) -> Result<TokenState, StoreError> {
        let next = next_state(token.state, token.revoke_reason, action)?;
        let reason = match action {
            TokenAction::Revoke(reason) => Some(reason.as_str()),
            _ => token.revoke_reason.map(RevokeReason::as_str),
        };
        let reason = if next == TokenState::Stock {
            None
        } else {
            reason
        };
        self.db.execute_cached(
            "UPDATE tokens SET state = ?1, holder = ?2, revoke_reason = ?3, state_since = ?4,
             received_at = CASE WHEN ?1 = 'wiped' THEN ?4 ELSE received_at END WHERE serial = ?5",
            params![
                next.as_str(),
                holder.map(PersonId::as_str),
                reason,
                to_i64(self.now, "time")?,
                token.serial
            ],
        )?;
        Ok(next)
    }

    /// Writes a new secret's record for `holder` on a stock token (the driver
    /// writes the same secret to the device). Fulfils an open key request;
    /// after a revoked key, it needs one (or a validated help request).
    pub fn prepare_token(
        &mut self,
        serial: &str,
        holder: &PersonId,
        secret: &Secret,
        params: CredentialParams,
    ) -> Result<i64, StoreError> {
        self.prepare_against(serial, holder, (secret, params), None)
    }

    /// [`Tx::prepare_token`], against replacement request `replacement` when
    /// given (else the holder's earliest open request, when one is needed).
    pub(super) fn prepare_against(
        &mut self,
        serial: &str,
        holder: &PersonId,
        (secret, params): (&Secret, CredentialParams),
        replacement: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.require_desk("prepare a token")?;
        self.not_own(holder, "prepare a key")?;
        let token = self.token(serial)?;
        next_state(token.state, token.revoke_reason, TokenAction::Prepare)?;
        self.require_present(holder)?;
        if let Some(live) = self.live_token_of(holder)? {
            return Err(StoreError::HolderHasLiveToken {
                holder: holder.to_string(),
                serial: live,
            });
        }
        let right = self.right_served(holder)?;
        let basis = match replacement {
            Some(id) => Some(Basis::Replacement(id)),
            None => self.replacement_basis(holder)?,
        };
        let (kind, period, floor) = match params.kind {
            OtpKind::Hotp { counter } => ("hotp", 0u32, ReplayFloor::before(counter)),
            OtpKind::Totp { period } => ("totp", period.seconds(), ReplayFloor::FRESH),
        };
        let floor = floor
            .last_accepted()
            .map(|f| to_i64(f, "counter"))
            .transpose()?;
        self.set_state(&token, TokenAction::Prepare, Some(holder))?;
        self.db.execute_cached(
            "UPDATE tokens SET right_id = ?1 WHERE serial = ?2",
            params![right, serial],
        )?;
        // While emergency access answers for the holder, the new key waits.
        let live = match self.emergency_of(holder)? {
            Some(_) => super::emergency::LIVE_WAITING,
            None => 1,
        };
        self.db.execute_cached(
            "INSERT INTO credentials (token, holder, kind, algorithm, digits, period, floor, live, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8)",
            params![
                serial,
                holder.as_str(),
                kind,
                params.algorithm.name(),
                params.digits.get(),
                period,
                floor,
                to_i64(self.now, "time")?,
                live
            ],
        )?;
        let credential = self.db.last_insert_rowid();
        self.reset_counters(credential)?;
        let sealed = self.shared.keys.seal_secret(credential, serial, secret)?;
        self.db.execute_cached(
            "INSERT INTO sealed_secrets (credential, sealed) VALUES (?1, ?2)",
            params![credential, sealed],
        )?;
        let now = to_i64(self.now, "time")?;
        let fulfilled = match basis {
            Some(Basis::Replacement(id)) => {
                self.db.execute_cached(
                    "UPDATE replacement_requests SET new_token = ?1, fulfilled_at = ?2 WHERE id = ?3",
                    params![serial, now, id],
                )?;
                format!("replacement_request={id}")
            }
            Some(Basis::KeyRequest) | None => {
                let n = self.db.execute_cached(
                    "UPDATE key_requests SET token = ?1, fulfilled_at = ?2 WHERE holder = ?3 AND fulfilled_at IS NULL",
                    params![serial, now, holder.as_str()],
                )?;
                format!("key_request_fulfilled={}", n > 0)
            }
        };
        self.audit(
            "token.prepare",
            serial,
            &format!(
                "holder={holder} credential={credential} right={right} kind={kind} algorithm={} digits={} {fulfilled}",
                params.algorithm,
                params.digits.get(),
            ),
        )?;
        Ok(credential)
    }

    /// The right a new key of `holder` serves (its district is the key's):
    /// in force before to come, an appointment before a delegation, the
    /// earliest first.
    fn right_served(&self, holder: &PersonId) -> Result<i64, StoreError> {
        self.rights(holder)?
            .into_iter()
            .filter(|r| r.period.live_or_future_at(self.now, self.zone()))
            .min_by_key(|r| {
                (
                    !r.period.in_force_at(self.now, self.zone()),
                    r.origin != crate::domain::RightOrigin::Appointment,
                    r.period.from,
                    r.id,
                )
            })
            .map(|r| r.id)
            .ok_or_else(|| StoreError::NoRight {
                holder: holder.to_string(),
            })
    }

    /// When the holder's last key was revoked, the request a new one is
    /// prepared against: their earliest open key request or validated help
    /// request; none is a refusal. `None`: no request needed.
    fn replacement_basis(&self, holder: &PersonId) -> Result<Option<Basis>, StoreError> {
        let last_revoked: Option<bool> = self
            .db
            .query_row_cached(
                "SELECT revoked FROM credentials WHERE holder = ?1 ORDER BY id DESC LIMIT 1",
                [holder.as_str()],
                |r| r.get::<_, i64>(0).map(|v| v != 0),
            )
            .optional()?;
        if last_revoked != Some(true) {
            return Ok(None);
        }
        let earliest: Option<(i64, Option<i64>)> = self
            .db
            .query_row_cached(
                "SELECT at, replacement FROM (
                   SELECT created_at AS at, NULL AS replacement, id FROM key_requests
                    WHERE holder = ?1 AND fulfilled_at IS NULL
                   UNION ALL
                   SELECT received_at, id, id FROM replacement_requests
                    WHERE holder = ?1 AND fulfilled_at IS NULL)
                 ORDER BY at, replacement IS NOT NULL, id LIMIT 1",
                [holder.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match earliest {
            Some((_, Some(id))) => Ok(Some(Basis::Replacement(id))),
            Some((_, None)) => Ok(Some(Basis::KeyRequest)),
            None => Err(StoreError::ReplacementRequestRequired {
                holder: holder.to_string(),
            }),
        }
    }

    /// Proof of possession: the token in hand produced a correct code. The
    /// code's step is consumed (it can never log in afterwards).
    pub(super) fn check_possession(
        &mut self,
        credential: &CredentialInfo,
        code: &str,
    ) -> Result<(), StoreError> {
        let key = unseal_key(self.db, self.shared, credential)?
            .ok_or(StoreError::PossessionCheckFailed)?;
        let code = Code::parse(code, credential.params.digits)
            .map_err(|_| StoreError::PossessionCheckFailed)?;
        let floor = credential
            .floor
            .map_or(ReplayFloor::FRESH, ReplayFloor::after);
        let found = match credential.params.kind {
            OtpKind::Hotp { .. } => {
                Hotp::new(credential.params.digits, self.shared.config.hotp_look_ahead)?
                    .verify(&key, &code, floor)?
            }
            OtpKind::Totp { period } => {
                let (behind, ahead) = totp_window(self.shared.config.totp_behind, credential.drift);
                Totp::new(credential.params.digits, period)
                    .with_window(behind, ahead)?
                    .verify(&key, &code, self.now, 0, floor)?
            }
        };
        let step = found.ok_or(StoreError::PossessionCheckFailed)?.step();
        self.db.execute_cached(
            "UPDATE credentials SET floor = ?1 WHERE id = ?2",
            params![to_i64(step, "step")?, credential.id],
        )?;
        Ok(())
    }

    /// Separation of duties on a token: not the caller's own key.
    fn not_own_key(&self, token: &TokenInfo, action: &'static str) -> Result<(), StoreError> {
        match &token.holder {
            Some(holder) => self.not_own(holder, action),
            None => Ok(()),
        }
    }

    pub(super) fn live_credential(&self, token: &TokenInfo) -> Result<CredentialInfo, StoreError> {
        self.credential_of(&token.serial)?
            .ok_or(StoreError::Corrupt("live token without a credential"))
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
        let OtpKind::Totp { period } = credential.params.kind else {
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
            self.db.execute_cached(
                "UPDATE credentials SET floor = ?1 WHERE id = ?2",
                params![to_i64(step, "step")?, credential.id],
            )?;
        }
        Ok(())
    }

    /// Hands a prepared token to its holder with a signed handover receipt.
    /// `possession_code` is a code read from (or typed by) the token in hand.
    pub fn handover(
        &mut self,
        serial: &str,
        place: &str,
        possession_code: &str,
    ) -> Result<SignedReceipt, StoreError> {
        let (token, holder_id, _, receipt) =
            self.receipted_step(serial, ReceiptKind::Handover, (place, ""), possession_code)?;
        self.set_state(&token, TokenAction::Handover, Some(&holder_id))?;
        self.audit(
            "token.handover",
            serial,
            &format!("holder={holder_id} receipt={}", receipt.content.number),
        )?;
        Ok(receipt)
    }

    /// The holder activates their key by choosing a PIN (at the station).
    pub fn activate(&mut self, serial: &str, pin: &str) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        match (&self.actor, &token.holder) {
            (Actor::Holder(who), Some(holder)) if who == holder => {}
            _ => {
                return Err(self.forbidden(
                    "activate a key",
                    "only its holder activates a key, with their own PIN",
                ))
            }
        }
        next_state(token.state, token.revoke_reason, TokenAction::Activate)?;
        let holder = token
            .holder
            .clone()
            .ok_or(StoreError::Corrupt("token without holder"))?;
        self.require_present(&holder)?;
        Pin::parse(pin)?;
        let credential = self.live_credential(&token)?;
        self.write_pin_verifier(&credential, pin, true)?;
        self.set_state(&token, TokenAction::Activate, Some(&holder))?;
        // Emergency access, if any, ends as the new key takes over.
        self.end_emergency_at_activation(&holder, credential.id)?;
        self.audit("token.activate", serial, &format!("holder={holder}"))
    }

    /// Deletes a credential's sealed secret and PIN verifier; the store
    /// checkpoints the WAL after commit so no copy survives in `-wal`.
    pub(super) fn destroy_secret(&mut self, credential: i64) -> Result<(), StoreError> {
        self.db.execute_cached(
            "DELETE FROM sealed_secrets WHERE credential = ?1",
            [credential],
        )?;
        self.db.execute_cached(
            "UPDATE credentials SET live = 0, pin_verifier = NULL WHERE id = ?1",
            [credential],
        )?;
        self.destroyed.push(credential);
        Ok(())
    }

    /// The holder returns the key to their inspector (cases 2 and 4): return
    /// receipt, secret destroyed at once.
    pub fn return_token(
        &mut self,
        serial: &str,
        place: &str,
        reason: &str,
        possession_code: &str,
    ) -> Result<SignedReceipt, StoreError> {
        let (token, holder_id, credential, receipt) = self.receipted_step(
            serial,
            ReceiptKind::Return,
            (place, reason),
            possession_code,
        )?;
        self.destroy_secret(credential.id)?;
        self.set_state(&token, TokenAction::Return, Some(&holder_id))?;
        self.audit(
            "token.return",
            serial,
            &format!(
                "holder={holder_id} receipt={} credential={} secret=destroyed",
                receipt.content.number, credential.id
            ),
        )?;
        Ok(receipt)
    }

    /// The IT centre received a returned (or revoked broken/faulty) key and
    /// wiped it.
    pub fn receive_at_it_centre(&mut self, serial: &str) -> Result<(), StoreError> {
        self.require_desk("receive a key")?;
        let token = self.token(serial)?;
        let holder = token.holder.clone();
        self.set_state(&token, TokenAction::Receive, holder.as_ref())?;
        self.audit("token.receive", serial, "wiped")
    }

    /// A wiped token goes back to stock, bound to no one.
    pub fn restock(&mut self, serial: &str) -> Result<(), StoreError> {
        self.require_desk("restock a key")?;
        let token = self.token(serial)?;
        self.set_state(&token, TokenAction::Restock, None)?;
        self.audit("token.restock", serial, "")
    }

    /// Revokes a live token: its secret is destroyed at once. The rule is
    /// `domain::revocation`, shared with a node on PostgreSQL.
    pub fn revoke(&mut self, serial: &str, reason: RevokeReason) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        revocation::reason_allowed(&self.actor, reason)
            .map_err(|refusal| revoke_refused(&self.actor, refusal))?;
        if token.profile == super::emergency::EMERGENCY_PROFILE {
            // Emergency access ends through its own rule (and record).
            return self.revoke_emergency(serial);
        }
        let district = match &token.holder {
            Some(_) => self.served_district(&token.serial)?,
            None => None,
        };
        // Only an inspector's scope needs the district's inspector.
        let inspector = match (&district, &self.actor) {
            (Some(d), Actor::Inspector(_)) => self.inspector_login(d)?,
            _ => None,
        };
        let done = revocation::decide(RevokeFacts {
            actor: &self.actor,
            person: self.person.as_ref(),
            token: &token,
            district: district.as_deref().map(|d| (d, inspector.as_deref())),
            reason,
        })
        .map_err(|refusal| revoke_refused(&self.actor, refusal))?;
        let credential = self.live_credential(&token)?;
        self.destroy_secret(credential.id)?;
        self.db.execute_cached(
            "UPDATE credentials SET revoked = 1 WHERE id = ?1",
            [credential.id],
        )?;
        self.set_state(&token, TokenAction::Revoke(reason), Some(&done.holder))?;
        self.audit(
            "token.revoke",
            serial,
            &revocation::audit_detail(&done.holder, reason, credential.id),
        )
    }

    /// Resynchronises a token whose counter or clock ran away: two
    /// consecutive codes within 1000 steps (RFC 4226 §7.4). For TOTP the
    /// offset found becomes the credential's drift, if within the bound.
    pub fn resync(&mut self, serial: &str, first: &str, second: &str) -> Result<(), StoreError> {
        self.require_desk("resynchronise a key")?;
        let token = self.token(serial)?;
        self.not_own_key(&token, "resynchronise a key")?;
        let credential =
            self.credential_of(serial)?
                .ok_or(crate::domain::DomainError::TransitionRefused {
                    from: token.state,
                    action: "resync",
                })?;
        let (step, drift) = self.resync_credential(&credential, (first, second), false)?;
        self.audit(
            "credential.resync",
            serial,
            &format!("step={step} drift={drift}"),
        )
    }

    /// The resync rule, for the desk and for the gateway's next-code
    /// challenge alike: finds `codes` as two consecutive codes and moves the
    /// credential's floor past the second one, or, with `leave_second`, to
    /// the first one (the second code is then verified as a login, by the
    /// verify service). Returns the floor written and the drift.
    pub(super) fn resync_credential(
        &mut self,
        credential: &CredentialInfo,
        (first, second): (&str, &str),
        leave_second: bool,
    ) -> Result<(u64, i64), StoreError> {
        let key = unseal_key(self.db, self.shared, credential)?
            .ok_or(StoreError::Corrupt("live credential without secret"))?;
        let digits = credential.params.digits;
        let codes = (Code::parse(first, digits)?, Code::parse(second, digits)?);
        let floor = credential
            .floor
            .map_or(ReplayFloor::FRESH, ReplayFloor::after);
        let (found, drift) = match credential.params.kind {
            OtpKind::Hotp { .. } => (
                Hotp::with_digits(digits).resync(
                    &key,
                    (&codes.0, &codes.1),
                    floor,
                    crate::otp::RESYNC_RANGE,
                )?,
                None,
            ),
            OtpKind::Totp { period } => {
                let found = Totp::new(digits, period).resync(
                    &key,
                    (&codes.0, &codes.1),
                    self.now,
                    floor,
                    crate::otp::RESYNC_RANGE,
                )?;
                (found, found.map(|m| m.offset()))
            }
        };
        let found = found.ok_or(StoreError::PossessionCheckFailed)?;
        if let Some(offset) = drift {
            if offset.unsigned_abs() > u64::from(MAX_DRIFT) {
                return Err(crate::otp::OtpError::DriftOutOfBounds {
                    drift: offset,
                    max: MAX_DRIFT,
                }
                .into());
            }
        }
        let step = if leave_second {
            found.step().saturating_sub(1)
        } else {
            found.step()
        };
        self.db.execute_cached(
            "UPDATE credentials SET floor = ?1, drift = ?2 WHERE id = ?3",
            params![to_i64(step, "step")?, drift.unwrap_or(0), credential.id],
        )?;
        Ok((step, drift.unwrap_or(0)))
    }

    /// The desk clears a lockout (never automatic).
    pub fn unlock(&mut self, serial: &str) -> Result<(), StoreError> {
        self.require_desk("unlock a key")?;
        let token = self.token(serial)?;
        self.not_own_key(&token, "unlock a key")?;
        let credential = self.credential_of(serial)?.ok_or({
            crate::domain::DomainError::TransitionRefused {
                from: token.state,
                action: "unlock",
            }
        })?;
        self.reset_counters(credential.id)?;
        self.audit(
            "credential.unlock",
            serial,
            &format!("previous_failures={}", credential.fails),
        )
    }

    /// The district of a token bound to a holder: that of the school of the
    /// right it serves (none for a token bound to no one).
    pub fn district_of_token(&self, token: &TokenInfo) -> Result<Option<String>, StoreError> {
        match token.holder {
            Some(_) => self.served_district(&token.serial),
            None => Ok(None),
        }
    }

    /// The district of the right `serial` served when last prepared (kept
    /// after it was restocked, for a help request about a revoked key).
    fn served_district(&self, serial: &str) -> Result<Option<String>, StoreError> {
        let found: Option<(String, String)> = self
            .db
            .prepare_cached(
                "SELECT s.uai, s.district FROM tokens t JOIN rights r ON r.id = t.right_id
                 JOIN schools s ON s.uai = r.school WHERE t.serial = ?1",
            )?
            .query_row([serial], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((school, district)) = found else {
            return Ok(None);
        };
        self.check_row("schools", &school)?;
        Ok(Some(district))
    }

    /// [`Tx::served_district`] of a key that was prepared.
    pub(super) fn key_district(&self, serial: &str) -> Result<String, StoreError> {
        self.served_district(serial)?.ok_or(StoreError::Corrupt(
            "prepared token without the right it serves",
        ))
    }

    /// The tokens bound to `holder`, whatever their state, by serial.
    pub fn tokens_of(&self, holder: &PersonId) -> Result<Vec<TokenInfo>, StoreError> {
        let serials: Vec<String> = self
            .db
            .prepare_cached("SELECT serial FROM tokens WHERE holder = ?1 ORDER BY serial")?
            .query_map([holder.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        serials.iter().map(|serial| self.token(serial)).collect()
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
}

/// A refusal of `domain::revocation` as the store's typed error, for any
/// backend.
pub(crate) fn revoke_refused(actor: &Actor, refusal: RevokeRefusal) -> StoreError {
    match refusal {
        RevokeRefusal::Forbidden { why } => StoreError::Forbidden {
            actor: actor.to_string(),
            action: revocation::ACTION,
            why,
        },
        RevokeRefusal::OwnKey => StoreError::OwnAct {
            actor: actor.to_string(),
            action: revocation::ACTION,
        },
        RevokeRefusal::Transition(err) => err.into(),
        RevokeRefusal::NoDistrict => {
            StoreError::Corrupt("prepared token without the right it serves")
        }
    }
}
