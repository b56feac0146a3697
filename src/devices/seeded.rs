//! Factory-seeded tokens (display tokens, keys the vendor seeded): no
//! device I/O at all. keyward knows them by the serial printed on them and
//! their secret comes from the vendor's PSKC file (`docs/pskc.md`). The
//! possession code is the one the token shows, typed by the holder or the
//! inspector; a wipe destroys the imported secret (the token keeps its
//! factory seed, which keyward no longer holds).

use std::sync::Arc;

use super::family::{CredentialWrite, TokenFamily};
use super::{DeviceError, DeviceManager, Prepared};
use crate::domain::{Actor, PendingWrite, PersonId, TokenState, UnixTime};
use crate::otp::CredentialParams;
use crate::store::ops::SEEDED_PROFILE;
use crate::store::{Store, StoreError, Tx};

/// A seeded token, wherever it is: it needs no reader.
#[derive(Debug)]
pub struct SeededToken;

impl TokenFamily for SeededToken {
    fn profile_id(&self) -> &str {
        SEEDED_PROFILE
    }

    fn default_params(&self) -> CredentialParams {
        CredentialParams::hotp()
    }

    fn plan<'a>(
        &'a self,
        _store: &Store,
        _serial: &str,
        _holder: &PersonId,
        _params: CredentialParams,
    ) -> Result<Box<dyn CredentialWrite + 'a>, DeviceError> {
        Err(self.unsupported("writing a secret: it is bound with `keyward tokens bind`"))
    }

    fn clear_uncommitted(
        &self,
        _store: &Store,
        _pending: &PendingWrite,
    ) -> Result<&'static str, DeviceError> {
        Ok("nothing on a seeded token")
    }

    fn drop_pending(&self, tx: &mut Tx<'_>, serial: &str, why: &str) -> Result<(), StoreError> {
        tx.abort_pending_write(serial, why)
    }

    fn possession_code(
        &self,
        _store: &Store,
        _now: UnixTime,
        _serial: &str,
        typed: Option<&str>,
    ) -> Result<String, DeviceError> {
        typed
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or(DeviceError::Typed(
                "a seeded token has no reader: type the code it shows",
            ))
    }

    fn wipe(&self, _store: &Store, _serial: &str) -> Result<(), DeviceError> {
        Ok(())
    }

    fn forget_wiped(&self, tx: &mut Tx<'_>, serial: &str) -> Result<bool, StoreError> {
        tx.forget_imported(serial)
    }
}

impl DeviceManager {
    /// The seeded family, if the store knows `serial` as a seeded token.
    pub(super) fn seeded(&self, serial: &str) -> Option<Arc<dyn TokenFamily>> {
        let token = self.store.read(|tx| tx.token(serial)).ok()?;
        (token.profile == SEEDED_PROFILE).then(|| Arc::new(SeededToken) as Arc<dyn TokenFamily>)
    }

    /// Binds the seeded token `serial` to `holder` (or to a replacement
    /// request's holder), proved by the `code` it shows.
    pub fn bind(
        &self,
        actor: &Actor,
        serial: &str,
        holder: &PersonId,
        code: &str,
        replacement: Option<i64>,
    ) -> Result<Prepared, DeviceError> {
        self.store.write(actor, "token.bind", |tx| {
            tx.bind_seeded(serial, holder, code, replacement)
        })?;
        let holder = self
            .store
            .read(|tx| tx.token(serial))?
            .holder
            .unwrap_or_else(|| holder.clone());
        self.token_changed(serial, TokenState::Prepared);
        Ok(Prepared {
            serial: serial.to_owned(),
            holder,
            apdus: 0,
        })
    }
}
