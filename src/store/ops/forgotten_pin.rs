//! A forgotten PIN (docs/forgotten-pin.md): the holder comes to a station
//! with their key and the approval the key's district inspector recorded
//! ([`Tx::approve_pin_reset`], expiring, used once). The station proves
//! possession with a code read from the key (the OTP core, which moves the
//! replay floor: the code is consumed), the holder chooses a new PIN under
//! the policy of activation, and [`Tx::reset_forgotten_pin`] writes the new
//! verifier, uses up the approval and signs a slip, in one transaction. On a
//! token with a device PIN it also opens the sealed resetting code so the
//! caller resets the device PIN in that same transaction (rolled back if the
//! token refuses).
//!
//! The rules shared with the desk's PIN reset ([`Tx::reset_pin`], which
//! sends the holder to a gateway's new-PIN challenge) are
//! [`Tx::pin_reset_target`] (who may act on which key) and
//! [`Tx::write_pin_verifier`] (the PIN policy and the verifier).

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::emergency::Slip;
use super::{to_i64, to_u64, Tx};
use crate::crypto::Pin;
use crate::domain::{Actor, CredentialInfo, DomainError, PersonId, TokenState};
use crate::otp::Secret;
use crate::store::StoreError;

/// How long an approval lasts when the inspector names no duration.
pub const DEFAULT_APPROVAL_HOURS: u32 = 48;
/// The longest an approval may last.
pub const MAX_APPROVAL_HOURS: u32 = 7 * 24;
/// The first line of a PIN reset slip.
pub const PIN_RESET_SLIP_HEADER: &str = "keyward-pin-reset-slip-v1";

/// An approval as recorded (no secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinResetApproval {
    pub id: i64,
    pub serial: String,
    pub holder: PersonId,
    pub approved_by: String,
    pub expires_at: u64,
}

/// What a forgotten-PIN reset did: the signed slip, and the device PIN's
/// resetting code when the caller asked for it (never stored, logged or
/// shown).
pub struct PinResetDone {
    pub approval: i64,
    pub slip: Slip,
    pub device_puk: Option<Secret>,
}

impl std::fmt::Debug for PinResetDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinResetDone")
            .field("approval", &self.approval)
            .field("device_puk", &self.device_puk.is_some())
            .finish_non_exhaustive()
    }
}

/// The key a PIN reset is about, checked: its holder, district and live
/// credential.
pub(super) struct PinResetTarget {
    pub holder: PersonId,
    pub district: String,
    pub credential: CredentialInfo,
}

impl Tx<'_> {
    /// Who may reset the PIN of key `serial`, and on which key: the
    /// district's inspector (and, when `desk_too`, the desk), never on
    /// their own key; an active key with a holder.
    pub(super) fn pin_reset_target(
        &self,
        serial: &str,
        action: &'static str,
        desk_too: bool,
    ) -> Result<PinResetTarget, StoreError> {
        let token = self.token(serial)?;
        let refused = DomainError::TransitionRefused {
            from: token.state,
            action,
        };
        let holder = token.holder.clone().ok_or(refused)?;
        let district = self.key_district(serial)?;
        self.require_scope(&district, action, desk_too)?;
        self.not_own(&holder, action)?;
        if token.state != TokenState::Active {
            return Err(DomainError::TransitionRefused {
                from: token.state,
                action,
            }
            .into());
        }
        let credential = self.live_credential(&token)?;
        Ok(PinResetTarget {
            holder,
            district,
            credential,
        })
    }

    /// Writes the verifier of the PIN the holder chose (the policy of
    /// activation); `unlock` also clears the failures and the lock (the
    /// holder proved possession with an approval or at activation).
    pub(super) fn write_pin_verifier(
        &mut self,
        credential: &CredentialInfo,
        pin: &str,
        unlock: bool,
    ) -> Result<(), StoreError> {
        let pin = Pin::parse(pin)?;
        let verifier = Zeroizing::new(
            self.shared
                .keys
                .pin_verifier(credential.holder.as_str(), pin.expose().as_bytes()),
        );
        let sql = if unlock {
            "UPDATE credentials SET pin_verifier = ?1, fails = 0, locked = 0, retry_at = 0 WHERE id = ?2"
        } else {
            "UPDATE credentials SET pin_verifier = ?1 WHERE id = ?2"
        };
        self.db
            .execute_cached(sql, params![&verifier[..], credential.id])?;
        if unlock {
            self.reset_counters(credential.id)?;
        }
        Ok(())
    }

    /// The district's inspector approves that the holder of key `serial`
    /// resets a forgotten PIN at a station, within `hours` (1 to
    /// [`MAX_APPROVAL_HOURS`]). An earlier approval still unused is
    /// replaced.
    pub fn approve_pin_reset(
        &mut self,
        serial: &str,
        hours: u32,
    ) -> Result<PinResetApproval, StoreError> {
        const ACTION: &str = "approve a PIN reset";
        let target = self.pin_reset_target(serial, ACTION, false)?;
        let Actor::Inspector(inspector) = &self.actor else {
            return Err(self.forbidden(ACTION, "only the district's inspector does this"));
        };
        let inspector = inspector.to_string();
        self.require_present(&target.holder)?;
        if !(1..=MAX_APPROVAL_HOURS).contains(&hours) {
            return Err(DomainError::BadIdentifier {
                what: "hours",
                rule: "1 to 168 hours",
            }
            .into());
        }
        let now = to_i64(self.now, "time")?;
        let expires_at = now + i64::from(hours) * 3600;
        self.db.execute_cached(
            "UPDATE pin_reset_approvals SET expires_at = MIN(expires_at, ?1)
             WHERE token = ?2 AND used_at IS NULL",
            params![now, serial],
        )?;
        let approved_by = self.actor_label();
        self.db.execute_cached(
            "INSERT INTO pin_reset_approvals
             (token, holder, district, inspector, approved_by, approved_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                serial,
                target.holder.as_str(),
                target.district,
                inspector,
                approved_by,
                now,
                expires_at
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "credential.pin_reset_approved",
            serial,
            &format!(
                "holder={} approval={id} expires_at={expires_at}",
                target.holder
            ),
        )?;
        Ok(PinResetApproval {
            id,
            serial: serial.to_owned(),
            holder: target.holder,
            approved_by,
            expires_at: to_u64(expires_at, "time")?,
        })
    }

    /// The holder, at a station, resets their forgotten PIN: an approval of
    /// the key's current district inspector in force, the possession code
    /// (consumed), the new PIN (policy), then the verifier, the approval
    /// used up and the signed slip. With `device_pin`, also opens the sealed
    /// resetting code of the device PIN for the caller's device step in
    /// this transaction (`NotFound` if none was sealed).
    pub fn reset_forgotten_pin(
        &mut self,
        serial: &str,
        possession_code: &str,
        pin: &str,
        device_pin: bool,
    ) -> Result<PinResetDone, StoreError> {
        const ACTION: &str = "reset a forgotten PIN";
        let token = self.token(serial)?;
        match (&self.actor, &token.holder) {
            (Actor::Holder(who), Some(holder)) if who == holder => {}
            _ => {
                return Err(self.forbidden(
                    ACTION,
                    "only its holder resets a key's PIN, at a station, with the key",
                ))
            }
        }
        if token.state != TokenState::Active {
            return Err(DomainError::TransitionRefused {
                from: token.state,
                action: ACTION,
            }
            .into());
        }
        // Policy first: a refused PIN uses up neither the code nor the approval.
        Pin::parse(pin)?;
        let holder = token
            .holder
            .clone()
            .ok_or(StoreError::Corrupt("token without holder"))?;
        self.require_present(&holder)?;
        let district = self.key_district(serial)?;
        let approval = self.approval_in_force(serial, &holder, &district)?;
        let credential = self.live_credential(&token)?;
        self.check_possession(&credential, possession_code)?;
        self.write_pin_verifier(&credential, pin, true)?;
        let device_puk = if device_pin {
            Some(self.unseal_device_puk(serial, "token.device_pin.reset")?)
        } else {
            None
        };
        let now = to_i64(self.now, "time")?;
        let person = self.person(&holder)?;
        let slip = format!(
            "{PIN_RESET_SLIP_HEADER}\ntoken={serial}\nholder={holder}\nholder_name={}\n\
             district={district}\napproval={}\napproved_by={}\nreset_at={now}\n\
             device_pin={}\nkey_id={}\n",
            person.full_name.replace(['\n', '\r'], " "),
            approval.0,
            approval.1,
            if device_pin { "reset" } else { "none" },
            self.shared.signer.key_id(),
        );
        let signature = self.shared.signer.sign(slip.as_bytes());
        self.db.execute_cached(
            "UPDATE pin_reset_approvals SET used_at = ?1, slip = ?2, signature = ?3 WHERE id = ?4",
            params![now, slip, signature, approval.0],
        )?;
        self.audit(
            "credential.pin_reset_forgotten",
            serial,
            &format!(
                "holder={holder} approval={} credential={} device_pin={}",
                approval.0,
                credential.id,
                if device_pin { "reset" } else { "none" }
            ),
        )?;
        Ok(PinResetDone {
            approval: approval.0,
            slip: Slip {
                text: slip,
                signature,
            },
            device_puk,
        })
    }

    /// The newest unused, unexpired approval of key `serial` for `holder`,
    /// recorded by the inspector `district` has now (an approval of a
    /// former inspector, or of another district, is not in force).
    fn approval_in_force(
        &self,
        serial: &str,
        holder: &PersonId,
        district: &str,
    ) -> Result<(i64, String), StoreError> {
        let now = to_i64(self.now, "time")?;
        let row: Option<(i64, String, String, String)> = self
            .db
            .query_row_cached(
                "SELECT id, approved_by, district, inspector FROM pin_reset_approvals
                 WHERE token = ?1 AND holder = ?2 AND used_at IS NULL AND expires_at > ?3
                 ORDER BY id DESC LIMIT 1",
                params![serial, holder.as_str(), now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let none = || StoreError::NoPinResetApproval {
            serial: serial.to_owned(),
        };
        let (id, approved_by, at, inspector) = row.ok_or_else(none)?;
        self.check_row_by("pin_reset_approvals", &id, &id.to_string())?;
        let current = self.inspector_login(district)?.ok_or_else(none)?;
        if at != district || inspector != current {
            return Err(none());
        }
        Ok((id, approved_by))
    }

    /// The approvals of key `serial`, newest first (desk, or the key's
    /// district inspector).
    pub fn pin_reset_approvals(&self, serial: &str) -> Result<Vec<PinResetApproval>, StoreError> {
        let district = self.key_district(serial)?;
        self.require_scope(&district, "read PIN reset approvals", true)?;
        super::query_rows(
            self.db,
            "SELECT id, token, holder, approved_by, expires_at FROM pin_reset_approvals
             WHERE token = ?1 ORDER BY id DESC",
            [serial],
            |r| {
                let holder: String = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?, holder, r.get(3)?, r.get::<_, i64>(4)?))
            },
        )?
        .into_iter()
        .map(|(id, serial, holder, approved_by, expires_at)| {
            Ok(PinResetApproval {
                id,
                serial,
                holder: PersonId::parse(&holder).map_err(super::corrupt("holder"))?,
                approved_by,
                expires_at: to_u64(expires_at, "time")?,
            })
        })
        .collect()
    }
}
