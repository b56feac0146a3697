//! Access codes of touch-key OTP slots: the slot's random access code, sealed
//! like a secret (AES-256-GCM, bound to the token serial and slot), recorded as
//! pending with the pending write before the slot is written, promoted to
//! committed in the transaction that commits the credential, and destroyed
//! when the slot is deleted. The code never leaves the store except as an
//! [`AccessCode`].

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{to_i64, Tx};
use crate::crypto::Binding;
use crate::domain::PersonId;
use crate::hid::{AccessCode, Slot};
use crate::otp::{CredentialParams, Secret};
use crate::store::StoreError;

/// The credential id a pending write on an OTP slot records (the slot has no
/// named credential; recovery dispatches on the device kind, not on this).
pub fn slot_credential_id(slot: Slot) -> Vec<u8> {
    format!("otp-slot:{}", slot.number()).into_bytes()
}

/// Which of a slot's access codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessCodeStatus {
    /// Recorded before a write that is not committed yet.
    Pending,
    /// The code the slot is locked with.
    Committed,
}

impl AccessCodeStatus {
    fn as_str(self) -> &'static str {
        match self {
            AccessCodeStatus::Pending => "pending",
            AccessCodeStatus::Committed => "committed",
        }
    }
}
impl Tx<'_> {
    /// Records a prepare of a touch key as pending: the pending write (same
    /// guards as any prepare) and the slot's new access code, sealed, before
    /// anything is sent to the key.
    pub fn begin_slot_prepare(
        &mut self,
        serial: &str,
        holder: &PersonId,
        slot: Slot,
        reader: &str,
        new_code: &AccessCode,
        replacement: Option<i64>,
    ) -> Result<(), StoreError> {
        self.begin_pending_write(
            serial,
            holder,
            &slot_credential_id(slot),
            reader,
            replacement,
        )?;
        let sealed = self.shared.keys.seal(
            &Binding::slot_access_code(serial, slot.number()),
            new_code.expose(),
        )?;
        self.db.execute_cached(
            "INSERT OR REPLACE INTO slot_access_codes (serial, slot, status, sealed, created_at)
             VALUES (?1, ?2, 'pending', ?3, ?4)",
            params![serial, slot.number(), sealed, to_i64(self.now, "time")?],
        )?;
        self.audit_slot_code(serial, slot, "pending")
    }

    /// Audits what happened to a slot's access code (never the code).
    fn audit_slot_code(&mut self, serial: &str, slot: Slot, what: &str) -> Result<(), StoreError> {
        let detail = format!("slot={} status={what}", slot.number());
        self.audit("token.slot.access_code", serial, &detail)
    }

    /// Runs `sql` on the slot's codes: `?1` is the serial, `?2` the slot.
    fn on_slot_codes(&self, sql: &str, serial: &str, slot: Slot) -> Result<usize, StoreError> {
        Ok(self
            .db
            .execute_cached(sql, params![serial, slot.number()])?)
    }

    /// The slot's access code, unsealed (`None`: the store knows none).
    pub fn slot_access_code(
        &self,
        serial: &str,
        slot: Slot,
        status: AccessCodeStatus,
    ) -> Result<Option<AccessCode>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .db
            .query_row_cached(
                "SELECT sealed FROM slot_access_codes WHERE serial = ?1 AND slot = ?2 AND status = ?3",
                params![serial, slot.number(), status.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let bytes = self
            .shared
            .keys
            .open(&Binding::slot_access_code(serial, slot.number()), &sealed)?;
        AccessCode::new(&bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("slot access code"))
    }

    /// Commits a touch key's prepare whose write was proved: the credential
    /// (HOTP, sealed secret) and the pending code promoted to the slot's code,
    /// in this one transaction.
    pub fn commit_slot_prepare(
        &mut self,
        serial: &str,
        slot: Slot,
        secret: &Secret,
        params: CredentialParams,
        replacement: Option<i64>,
    ) -> Result<i64, StoreError> {
        let pending: bool = self.db.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM slot_access_codes WHERE serial = ?1 AND slot = ?2 AND status = 'pending')",
            params![serial, slot.number()],
            |r| r.get(0),
        )?;
        if !pending {
            return Err(StoreError::not_found(
                "pending access code on token",
                serial,
            ));
        }
        let credential = self.commit_pending_write(serial, secret, params, replacement)?;
        self.on_slot_codes(
            "DELETE FROM slot_access_codes WHERE serial = ?1 AND slot = ?2 AND status = 'committed'",
            serial,
            slot,
        )?;
        self.on_slot_codes(
            "UPDATE slot_access_codes SET status = 'committed'
             WHERE serial = ?1 AND slot = ?2 AND status = 'pending'",
            serial,
            slot,
        )?;
        self.audit_slot_code(serial, slot, "committed")?;
        Ok(credential)
    }

    /// Drops a touch key's uncommitted prepare: the pending write and its
    /// pending code. `slot_emptied`: the slot was deleted, so the code it
    /// was locked with before (if any) is forgotten too.
    pub fn abort_slot_prepare(
        &mut self,
        serial: &str,
        slot: Slot,
        slot_emptied: bool,
        why: &str,
    ) -> Result<(), StoreError> {
        self.abort_pending_write(serial, why)?;
        self.on_slot_codes(
            "DELETE FROM slot_access_codes WHERE serial = ?1 AND slot = ?2 AND status = 'pending'",
            serial,
            slot,
        )?;
        if slot_emptied {
            self.on_slot_codes(FORGET_SLOT_CODES, serial, slot)?;
        }
        Ok(())
    }

    /// Forgets the slot's codes once the key deleted the slot (wipe). The
    /// caller checkpoints the WAL afterwards so no copy survives in `-wal`.
    pub fn forget_slot_access_codes(&mut self, serial: &str, slot: Slot) -> Result<(), StoreError> {
        self.require_desk("wipe a key")?;
        let removed = self.on_slot_codes(FORGET_SLOT_CODES, serial, slot)?;
        self.audit_slot_code(serial, slot, &format!("destroyed rows={removed}"))
    }
}

/// Every code of a slot, pending or committed.
const FORGET_SLOT_CODES: &str = "DELETE FROM slot_access_codes WHERE serial = ?1 AND slot = ?2";
