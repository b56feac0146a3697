//! The OATH family: YKOATH tokens over PC/SC (a real reader through pcscd,
//! or the in-process virtual reader). A credential is written and proved by
//! reading a code back; it is undone by deleting it by name; the device PIN
//! is the profile's PIN with a retry counter (ISO 7816, or a Nitrokey 3's
//! own instructions), driven in the profile's dialect.

use std::sync::Arc;

use super::family::{CredentialWrite, TokenFamily, WriteFailure};
use super::{CcidActivity, DeviceError, Present, ISSUER};
use crate::apdu::pin::PinValue;
use crate::domain::PendingWrite;
use crate::domain::{DomainError, PersonId, UnixTime};
use crate::oath::codec::{self, OathType};
use crate::oath::driver::{CredentialSpec, Link, PinState, Token, TokenError, Transport};
use crate::otp::{CredentialParams, OtpKind};
use crate::otp::{Period, Secret};
use crate::profile::Profile;
use crate::store::{Store, StoreError, Tx};

/// A source of connections to the token in one reader.
pub trait Device: std::fmt::Debug + Send + Sync {
    fn open(&self) -> Result<Box<dyn Transport + Send>, TokenError>;
}

impl Transport for Box<dyn Transport + Send> {
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError> {
        (**self).begin()
    }

    fn reader(&self) -> &str {
        (**self).reader()
    }
}

/// A token found at a PC/SC reader, connected per operation.
#[derive(Debug)]
pub struct PcscDevice {
    pub(super) reader: String,
}

impl Device for PcscDevice {
    fn open(&self) -> Result<Box<dyn Transport + Send>, TokenError> {
        let pcsc = crate::oath::driver::pcsc::Pcsc::establish()?;
        Ok(Box::new(pcsc.connect(&self.reader)?))
    }
}

/// The id of keyward's credential for `holder` on a token.
pub fn credential_id(holder: &PersonId, params: &CredentialParams) -> Vec<u8> {
    let (kind, period) = oath_kind(params);
    codec::credential_id(kind, period.seconds(), Some(ISSUER), holder.as_str())
}

/// The YKOATH type and period of `params` (HOTP credentials carry the
/// default period, which the token ignores).
fn oath_kind(params: &CredentialParams) -> (OathType, Period) {
    match params.kind {
        OtpKind::Hotp { .. } => (OathType::Hotp, Period::DEFAULT),
        OtpKind::Totp { period } => (OathType::Totp, period),
    }
}

/// An OATH token at a reader, with the firmware profile it matched.
#[derive(Debug)]
pub struct OathToken {
    device: Arc<dyn Device>,
    profile: Profile,
    /// Its serial, under which its CCID use is recorded.
    serial: String,
    ccid: Arc<CcidActivity>,
}

impl OathToken {
    /// Identifies the token behind `device`: the presence to publish and,
    /// when it matches a firmware profile, the family to drive it.
    pub(super) fn identify(
        reader: &str,
        device: Arc<dyn Device>,
        profiles: &[Profile],
        ccid: &Arc<CcidActivity>,
    ) -> Result<(Option<OathToken>, Present), TokenError> {
        let id = Token::new(device.open()?).identify(profiles)?;
        // No serial and no salt (a Nitrokey 3 before app 4.11 with a PIN
        // set): nothing tells this token from another, so keyward shows it
        // but does not drive it.
        let serial = match (id.serial, id.device_id.is_empty()) {
            (Some(serial), _) => Some(serial.to_string()),
            (None, false) => Some(id.device_id.clone()),
            (None, true) => None,
        };
        if let Some(serial) = &serial {
            ccid.used(serial);
        }
        let present = Present {
            reader: reader.to_owned(),
            serial: serial.clone(),
            profile: id.profile.clone(),
        };
        let token = id
            .profile
            .as_deref()
            .and_then(|id| profiles.iter().find(|p| p.id == id))
            .zip(serial)
            .map(|(profile, serial)| OathToken {
                device,
                profile: profile.clone(),
                serial,
                ccid: Arc::clone(ccid),
            });
        Ok((token, present))
    }

    fn token(&self) -> Result<Token<Box<dyn Transport + Send>>, TokenError> {
        self.ccid.used(&self.serial);
        Ok(Token::new(self.device.open()?).with_profile(&self.profile))
    }
}

impl TokenFamily for OathToken {
    fn profile_id(&self) -> &str {
        &self.profile.id
    }

    fn default_params(&self) -> CredentialParams {
        super::default_params()
    }

    fn plan<'a>(
        &'a self,
        _store: &Store,
        serial: &str,
        holder: &PersonId,
        params: CredentialParams,
    ) -> Result<Box<dyn CredentialWrite + 'a>, DeviceError> {
        let profile = &self.profile;
        if !profile.supports(params.algorithm, params.digits.get()) {
            return Err(self.unsupported("this hash with this number of digits"));
        }
        Ok(Box::new(OathWrite {
            token: self,
            profile,
            serial: serial.to_owned(),
            holder: holder.clone(),
            id: credential_id(holder, &params),
            secret: Secret::generate(params.algorithm).map_err(StoreError::from)?,
            params,
        }))
    }

    /// Listed first rather than deleted blindly: profiles differ in how
    /// they answer the delete of a credential they do not hold.
    fn clear_uncommitted(
        &self,
        _store: &Store,
        pending: &PendingWrite,
    ) -> Result<&'static str, DeviceError> {
        let mut token = self.token()?;
        let found = token
            .list()?
            .iter()
            .any(|e| e.name == pending.credential_id);
        if !found {
            return Ok("uncommitted credential never reached the token");
        }
        token.delete(&pending.credential_id)?;
        Ok("uncommitted credential removed from the token")
    }

    fn drop_pending(&self, tx: &mut Tx<'_>, serial: &str, why: &str) -> Result<(), StoreError> {
        tx.abort_pending_write(serial, why)
    }

    fn possession_code(
        &self,
        store: &Store,
        now: UnixTime,
        serial: &str,
        typed: Option<&str>,
    ) -> Result<String, DeviceError> {
        if typed.is_some() {
            return Err(DeviceError::Typed(
                "only touch keys type their code; this token's code is read from it",
            ));
        }
        let credential = store
            .read(|tx| tx.credential_of(serial))?
            .ok_or(StoreError::Domain(DomainError::TransitionRefused {
                from: store.read(|tx| tx.token(serial))?.state,
                action: "use",
            }))?;
        let (kind, period) = oath_kind(&credential.params);
        let id = credential_id(&credential.holder, &credential.params);
        Ok(self.token()?.calculate(&id, kind, period, now)?)
    }

    fn takes_pin(&self) -> bool {
        self.profile.device_pin().is_some()
    }

    fn pin_has_resetting_code(&self) -> bool {
        self.profile.device_pin().is_some_and(|p| p.resetting_code)
    }

    fn touch_confirms_changes(&self) -> bool {
        self.profile.dialect.touch_confirms_changes
    }

    fn set_pin(&self, pin: &PinValue, puk: &PinValue) -> Result<(), DeviceError> {
        Ok(self.token()?.set_pin(&self.profile, pin, puk)?)
    }

    fn reset_pin(&self, puk: &PinValue) -> Result<PinState, DeviceError> {
        let mut token = self.token()?;
        token.reset_pin(puk, None)?;
        Ok(token.pin_state()?)
    }

    fn reset_pin_to(&self, puk: &PinValue, new_pin: &PinValue) -> Result<(), DeviceError> {
        Ok(self.token()?.reset_pin(puk, Some(new_pin))?)
    }

    fn wipe(&self, _store: &Store, _serial: &str) -> Result<(), DeviceError> {
        Ok(self.token()?.wipe()?)
    }
}

/// A YKOATH credential on its way to the token; the write reads a code back
/// to prove it.
struct OathWrite<'a> {
    token: &'a OathToken,
    profile: &'a Profile,
    serial: String,
    holder: PersonId,
    id: Vec<u8>,
    secret: Secret,
    params: CredentialParams,
}

impl CredentialWrite for OathWrite<'_> {
    fn record(
        &self,
        tx: &mut Tx<'_>,
        reader: &str,
        replacement: Option<i64>,
    ) -> Result<(), StoreError> {
        tx.begin_pending_write(&self.serial, &self.holder, &self.id, reader, replacement)
    }

    fn write(&mut self, now: UnixTime) -> Result<u32, WriteFailure> {
        let (kind, period) = oath_kind(&self.params);
        let spec = CredentialSpec {
            name: self.holder.as_str(),
            issuer: Some(ISSUER),
            kind,
            algorithm: self.params.algorithm,
            digits: self.params.digits,
            period,
            counter: 0,
            touch: false,
            secret: &self.secret,
        };
        let receipt = self
            .token
            .token()
            .and_then(|mut t| t.write(self.profile, &spec, now))
            .map_err(|err| WriteFailure::Failed {
                error: err.into(),
                why: "write failed",
            })?;
        if let OtpKind::Hotp { .. } = self.params.kind {
            self.params.kind = OtpKind::Hotp {
                counter: receipt.next_counter.unwrap_or(1),
            };
        }
        Ok(receipt.apdus)
    }

    fn commit(&self, tx: &mut Tx<'_>, replacement: Option<i64>) -> Result<(), StoreError> {
        tx.commit_pending_write(&self.serial, &self.secret, self.params, replacement)?;
        Ok(())
    }

    fn abort(&self, tx: &mut Tx<'_>, why: &str) -> Result<(), StoreError> {
        tx.abort_pending_write(&self.serial, why)
    }
}
