//! The desk's sealed device-PIN resetting codes, one per token (device PIN
//! and unblock: docs/devices.md; sealing: docs/security.md).

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::Tx;
use crate::otp::Secret;
use crate::store::StoreError;

impl Tx<'_> {
    /// Keeps the desk's device-PIN resetting code of the token's live
    /// credential, sealed like a secret (bound to the credential, negated so
    /// it never opens as the OTP secret).
    pub fn seal_device_puk(&mut self, serial: &str, seed: &Secret) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        let credential = self.live_credential(&token)?;
        let sealed = self.shared.keys.seal_secret(-credential.id, serial, seed)?;
        self.db.execute_cached(
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
        self.unseal_device_puk(serial, "token.device_pin.unblock")
    }

    /// Opens the resetting code for an act already authorised by its
    /// caller (the desk's unblock, a forgotten PIN's approval), auditing it
    /// as `action` in the same transaction.
    pub(super) fn unseal_device_puk(
        &mut self,
        serial: &str,
        action: &str,
    ) -> Result<Secret, StoreError> {
        let token = self.token(serial)?;
        let not_found = || StoreError::not_found("device PIN resetting code of token", serial);
        let credential = self.credential_of(serial)?.ok_or_else(not_found)?;
        if token.holder.as_ref() != Some(&credential.holder) {
            return Err(not_found());
        }
        let sealed: Option<Vec<u8>> = self
            .db
            .query_row_cached(
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
        self.audit(action, serial, &format!("credential={}", credential.id))?;
        Ok(seed)
    }
}
