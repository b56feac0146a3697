//! Reader presence and device operations (I/O): which token sits at which
//! reader, hot-plug through the PC/SC watcher, the in-process virtual reader
//! ([`virtual_reader`]), and the operations that touch a token: prepare
//! (pending → write → read back → commit, SPEC §4) with recovery, reading a
//! code for a possession proof, setting the device PIN where the profile has
//! one with a retry counter, the desk's unblock of that PIN (`pin.rs`), and
//! wiping. Every change is published on a
//! broadcast channel for the event stream. Operations block: callers run
//! them on blocking threads.

pub mod hid_key;
mod pin;
pub mod virtual_reader;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use zeroize::Zeroizing;

use crate::apdu::pin::PinValue;
use crate::domain::{Actor, Clock, PersonId, TokenState};
use crate::oath::codec::{self, OathType};
use crate::oath::driver::{CredentialSpec, Token, TokenError, Transport};
use crate::otp::{Algorithm, Digits, Period, Secret};
use crate::profile::{PinCommands, Profile};
use crate::store::ops::{CredentialParams, OtpKind};
use crate::store::{Store, StoreError};

pub use hid_key::{hid_reader_name, TouchKey, TOUCH_KEY_PROFILE, TOUCH_SLOT};
pub use virtual_reader::{FaultyDevice, VirtualDevice, VIRTUAL_READER, VIRTUAL_STATE_FILE};

/// Issuer of every credential keyward writes (`keyward:<holder>` on the token).
pub const ISSUER: &str = "keyward";

/// Errors of device operations. Messages carry readers and serials, never a
/// secret or PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    #[error("no token {serial} at reader {reader}")]
    Absent { reader: String, serial: String },
    #[error("the token at {reader} matches no firmware profile")]
    UnknownProfile { reader: String },
    #[error("profile {profile} does not support {what}")]
    Unsupported { profile: String, what: &'static str },
    #[error("device: {0}")]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("touch key: {0}")]
    Hid(#[from] crate::hid::HidError),
    #[error("typed code: {0}")]
    Typed(&'static str),
    #[error("simulated touch key: {0}")]
    Simulated(#[from] crate::hid::SimulatedKeyError),
    #[error("the key's programming sequence does not prove the write")]
    WriteNotProved,
}

impl DeviceError {
    /// A short, stable name for the API's `detail`.
    pub fn detail(&self) -> &'static str {
        match self {
            DeviceError::Token(TokenError::Removed { .. }) => "removed",
            DeviceError::Token(TokenError::ReadBackMismatch { .. }) => "read_back_mismatch",
            DeviceError::Token(TokenError::WrongPin { .. }) => "wrong_pin",
            DeviceError::Token(TokenError::PinBlocked) => "pin_blocked",
            DeviceError::Token(TokenError::Locked) => "locked",
            DeviceError::Token(TokenError::Status { .. }) => "status",
            DeviceError::Token(TokenError::NoCard { .. }) => "no_card",
            DeviceError::Unsupported { .. }
            | DeviceError::Token(TokenError::Unsupported { .. }) => "unsupported",
            DeviceError::UnknownProfile { .. } => "unknown_profile",
            DeviceError::Hid(crate::hid::HidError::Rejected { .. }) => "access_code_refused",
            DeviceError::Hid(crate::hid::HidError::Transport(
                crate::hid::TransportError::Disconnected,
            )) => "removed",
            DeviceError::WriteNotProved => "write_not_proved",
            _ => "device",
        }
    }
}

/// A source of connections to the token in one reader.
pub trait Device: Send + Sync {
    fn open(&self) -> Result<Box<dyn Transport + Send>, TokenError>;

    /// A touch key (YubiKey OTP slots over HID) speaks no APDUs.
    fn touch_key(&self) -> Option<&TouchKey> {
        None
    }
}

impl Transport for Box<dyn Transport + Send> {
    fn begin(&mut self) -> Result<Box<dyn crate::oath::driver::Link + '_>, TokenError> {
        (**self).begin()
    }

    fn reader(&self) -> &str {
        (**self).reader()
    }
}

/// A token found at a PC/SC reader, connected per operation.
#[derive(Debug)]
pub struct PcscDevice {
    reader: String,
}

impl Device for PcscDevice {
    fn open(&self) -> Result<Box<dyn Transport + Send>, TokenError> {
        let pcsc = crate::oath::driver::pcsc::Pcsc::establish()?;
        Ok(Box::new(pcsc.connect(&self.reader)?))
    }
}

/// What the event stream carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceEvent {
    Inserted {
        reader: String,
        serial: Option<String>,
        profile: Option<String>,
    },
    Removed {
        reader: String,
    },
    TokenState {
        serial: String,
        state: TokenState,
        /// The reader the token sits at, if present (for station filtering).
        reader: Option<String>,
    },
}

/// A token present at a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Present {
    pub reader: String,
    pub serial: Option<String>,
    pub profile: Option<String>,
}

struct ReaderSlot {
    device: Arc<dyn Device>,
    present: Present,
    /// Attached by the PC/SC watcher (not by hand, like the virtual reader).
    from_watcher: bool,
}

/// Counts of device events, for `/metrics`.
#[derive(Debug, Default)]
pub struct DeviceCounters {
    pub inserted: AtomicU64,
    pub removed: AtomicU64,
    pub state_changes: AtomicU64,
    pub errors: AtomicU64,
}

/// Owns reader presence and runs device operations.
pub struct DeviceManager {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    profiles: Vec<Profile>,
    slots: Mutex<BTreeMap<String, ReaderSlot>>,
    events: broadcast::Sender<DeviceEvent>,
    pub counters: DeviceCounters,
}

impl std::fmt::Debug for DeviceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceManager")
            .field("readers", &self.present())
            .finish_non_exhaustive()
    }
}

/// The in-process reader's name also identifies keyward's virtual profile.
fn with_virtual_reader(mut profiles: Vec<Profile>) -> Vec<Profile> {
    for p in &mut profiles {
        if p.id == "keyward-virtual" {
            p.matching.reader_names.push(VIRTUAL_READER.to_owned());
        }
    }
    profiles
}

/// The id of keyward's credential for `holder` on a token.
pub fn credential_id(holder: &PersonId, params: &CredentialParams) -> Vec<u8> {
    let (kind, period) = match params.kind {
        OtpKind::Hotp { .. } => (OathType::Hotp, 30),
        OtpKind::Totp { period } => (OathType::Totp, period.seconds()),
    };
    codec::credential_id(kind, period, Some(ISSUER), holder.as_str())
}

/// What a prepare established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    pub serial: String,
    pub holder: PersonId,
    pub apdus: u32,
}

impl DeviceManager {
    pub fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        profiles: Vec<Profile>,
    ) -> Arc<DeviceManager> {
        let (events, _) = broadcast::channel(256);
        Arc::new(DeviceManager {
            store,
            clock,
            profiles: with_virtual_reader(profiles),
            slots: Mutex::new(BTreeMap::new()),
            events,
            counters: DeviceCounters::default(),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.events.subscribe()
    }

    fn publish(&self, event: DeviceEvent) {
        let counter = match &event {
            DeviceEvent::Inserted { .. } => &self.counters.inserted,
            DeviceEvent::Removed { .. } => &self.counters.removed,
            DeviceEvent::TokenState { .. } => &self.counters.state_changes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ReaderSlot>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tokens present now, by reader.
    pub fn present(&self) -> Vec<Present> {
        self.slots().values().map(|s| s.present.clone()).collect()
    }

    /// Where a token with this serial sits, if anywhere.
    pub fn reader_of(&self, serial: &str) -> Option<String> {
        self.slots()
            .values()
            .find(|s| s.present.serial.as_deref() == Some(serial))
            .map(|s| s.present.reader.clone())
    }

    /// Publishes a token's new state (after an API operation).
    pub fn token_changed(&self, serial: &str, state: TokenState) {
        let reader = self.reader_of(serial);
        self.publish(DeviceEvent::TokenState {
            serial: serial.to_owned(),
            state,
            reader,
        });
    }

    /// A token was inserted at `reader`: identify it, register it as stock if
    /// keyward does not know it, recover an interrupted prepare, publish.
    pub fn attach(&self, reader: &str, device: Arc<dyn Device>) -> Result<Present, DeviceError> {
        self.attach_slot(reader, device, false)
    }

    fn attach_slot(
        &self,
        reader: &str,
        device: Arc<dyn Device>,
        from_watcher: bool,
    ) -> Result<Present, DeviceError> {
        let identity = device
            .open()
            .and_then(|t| Token::new(t).identify(&self.profiles));
        let present = match identity {
            Ok(id) => Present {
                reader: reader.to_owned(),
                serial: Some(id.serial.map_or(id.device_id.clone(), |s| s.to_string())),
                profile: id.profile.clone(),
            },
            Err(err) => {
                tracing::warn!(%reader, error = %err, "could not identify the token");
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                Present {
                    reader: reader.to_owned(),
                    serial: None,
                    profile: None,
                }
            }
        };
        // Registered and recovered before anyone hears of it: a client that
        // acts on the `inserted` event (the desk's batch) finds the token
        // known and in a settled state.
        if let (Some(serial), Some(profile)) = (&present.serial, &present.profile) {
            self.register(serial, profile)?;
            self.recover(reader, serial, device.as_ref())?;
        }
        self.slots().insert(
            reader.to_owned(),
            ReaderSlot {
                device: Arc::clone(&device),
                present: present.clone(),
                from_watcher,
            },
        );
        tracing::info!(%reader, serial = ?present.serial, profile = ?present.profile, "token inserted");
        self.publish(DeviceEvent::Inserted {
            reader: reader.to_owned(),
            serial: present.serial.clone(),
            profile: present.profile.clone(),
        });
        Ok(present)
    }

    /// The token left `reader`.
    pub fn detach(&self, reader: &str) {
        if self.slots().remove(reader).is_some() {
            tracing::info!(%reader, "token removed");
            self.publish(DeviceEvent::Removed {
                reader: reader.to_owned(),
            });
        }
    }

    fn register(&self, serial: &str, profile: &str) -> Result<(), DeviceError> {
        let known = self.store.read(|tx| match tx.token(serial) {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        })?;
        if !known {
            self.store.write(&Actor::System, "token.add", |tx| {
                tx.add_token(serial, profile)
            })?;
            self.token_changed(serial, TokenState::Stock);
        }
        Ok(())
    }

    /// SPEC §4 recovery: a pending write that was never committed leaves no
    /// credential behind. The commit removes the pending record in its own
    /// transaction, so a pending record means "not prepared": the credential
    /// is deleted from the token (if it got there) and the record dropped.
    fn recover(&self, reader: &str, serial: &str, device: &dyn Device) -> Result<(), DeviceError> {
        let Some(pending) = self.store.read(|tx| tx.pending_write(serial))? else {
            return Ok(());
        };
        if let Some(key) = device.touch_key() {
            return self.recover_touch_key(reader, serial, key);
        }
        let mut token = Token::new(device.open()?);
        let on_token = token.list()?;
        let found = on_token.iter().any(|e| e.name == pending.credential_id);
        if found {
            token.delete(&pending.credential_id)?;
        }
        self.store
            .write(&Actor::System, "token.prepare.recover", |tx| {
                tx.abort_pending_write(
                    serial,
                    &format!(
                        "recovered at {reader}: uncommitted credential {}",
                        if found {
                            "removed from the token"
                        } else {
                            "never reached the token"
                        }
                    ),
                )
            })?;
        tracing::info!(%reader, %serial, removed = found, "recovered an interrupted prepare");
        Ok(())
    }

    /// Runs recovery for every present token (at start).
    pub fn recover_all(&self) -> Result<(), DeviceError> {
        let present: Vec<(String, Option<String>, Arc<dyn Device>)> = self
            .slots()
            .values()
            .map(|s| {
                (
                    s.present.reader.clone(),
                    s.present.serial.clone(),
                    Arc::clone(&s.device),
                )
            })
            .collect();
        for (reader, serial, device) in present {
            if let Some(serial) = serial {
                self.recover(&reader, &serial, device.as_ref())?;
            }
        }
        Ok(())
    }

    /// The device at `reader`, checked to be the token `serial`.
    fn device_at(
        &self,
        reader: &str,
        serial: &str,
    ) -> Result<(Arc<dyn Device>, Profile), DeviceError> {
        let slots = self.slots();
        let absent = || DeviceError::Absent {
            reader: reader.to_owned(),
            serial: serial.to_owned(),
        };
        let slot = slots.get(reader).ok_or_else(absent)?;
        if slot.present.serial.as_deref() != Some(serial) {
            return Err(absent());
        }
        let profile_id =
            slot.present
                .profile
                .as_deref()
                .ok_or_else(|| DeviceError::UnknownProfile {
                    reader: reader.to_owned(),
                })?;
        let profile = self
            .profiles
            .iter()
            .find(|p| p.id == profile_id)
            .cloned()
            .ok_or_else(|| DeviceError::UnknownProfile {
                reader: reader.to_owned(),
            })?;
        Ok((Arc::clone(&slot.device), profile))
    }

    /// Whether the token at `reader` is `serial`.
    pub fn is_at(&self, reader: &str, serial: &str) -> bool {
        self.slots()
            .get(reader)
            .is_some_and(|s| s.present.serial.as_deref() == Some(serial))
    }

    /// Prepares the token `serial` at `reader` for `holder` (or for a
    /// replacement request's holder): pending → write → read back → commit.
    pub fn prepare(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
        holder: &PersonId,
        params: CredentialParams,
        replacement: Option<i64>,
    ) -> Result<Prepared, DeviceError> {
        if self.is_touch_key(reader) {
            return self.prepare_touch_key(actor, reader, serial, holder, params, replacement);
        }
        let (device, profile) = self.device_at(reader, serial)?;
        if !profile.supports(params.algorithm, params.digits.get()) {
            return Err(DeviceError::Unsupported {
                profile: profile.id.clone(),
                what: "this hash with this number of digits",
            });
        }
        let id = credential_id(holder, &params);
        self.store.write(actor, "token.prepare", |tx| {
            tx.begin_pending_write(serial, holder, &id, reader, replacement)
        })?;
        let secret = Secret::generate(params.algorithm).map_err(StoreError::from)?;
        let (kind, period) = match params.kind {
            OtpKind::Hotp { .. } => (OathType::Hotp, Period::DEFAULT),
            OtpKind::Totp { period } => (OathType::Totp, period),
        };
        let spec = CredentialSpec {
            name: holder.as_str(),
            issuer: Some(ISSUER),
            kind,
            algorithm: params.algorithm,
            digits: params.digits,
            period,
            counter: 0,
            touch: false,
            secret: &secret,
        };
        let written = device
            .open()
            .and_then(|t| Token::new(t).write(&profile, &spec, self.clock.now()));
        let receipt = match written {
            Ok(receipt) => receipt,
            Err(err) => {
                self.undo(actor, device.as_ref(), serial, &id, "write failed");
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                return Err(err.into());
            }
        };
        let params = match params.kind {
            OtpKind::Hotp { .. } => CredentialParams {
                kind: OtpKind::Hotp {
                    counter: receipt.next_counter.unwrap_or(1),
                },
                ..params
            },
            OtpKind::Totp { .. } => params,
        };
        let committed = self.store.write(actor, "token.prepare", |tx| {
            tx.commit_pending_write(serial, &secret, params, replacement)
        });
        if let Err(err) = committed {
            self.undo(actor, device.as_ref(), serial, &id, "commit refused");
            return Err(err.into());
        }
        let holder = self
            .store
            .read(|tx| tx.token(serial))?
            .holder
            .unwrap_or_else(|| holder.clone());
        self.token_changed(serial, TokenState::Prepared);
        Ok(Prepared {
            serial: serial.to_owned(),
            holder,
            apdus: receipt.apdus,
        })
    }

    /// Best effort after a failed write: remove the credential and the
    /// pending record. If the token is gone, the record stays for recovery.
    fn undo(&self, actor: &Actor, device: &dyn Device, serial: &str, id: &[u8], why: &str) {
        let removed = device.open().and_then(|t| {
            let mut token = Token::new(t);
            match token.delete(id) {
                Ok(()) | Err(TokenError::NoSuchCredential { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        });
        match removed {
            Ok(()) => {
                if let Err(err) = self.store.write(actor, "token.prepare.abort", |tx| {
                    tx.abort_pending_write(serial, why)
                }) {
                    tracing::warn!(%serial, error = %err, "could not drop a pending write");
                }
            }
            Err(err) => {
                tracing::warn!(%serial, error = %err, "prepare interrupted; recovery runs at the next insertion or start");
            }
        }
    }

    /// A code read from the token `serial` at `reader` (possession proof).
    pub fn read_code(&self, reader: &str, serial: &str) -> Result<String, DeviceError> {
        let (device, _) = self.device_at(reader, serial)?;
        let credential =
            self.store
                .read(|tx| tx.credential_of(serial))?
                .ok_or(StoreError::Domain(
                    crate::domain::DomainError::TransitionRefused {
                        from: self.store.read(|tx| tx.token(serial))?.state,
                        action: "use",
                    },
                ))?;
        let (kind, period) = match credential.params.kind {
            OtpKind::Hotp { .. } => (OathType::Hotp, Period::DEFAULT),
            OtpKind::Totp { period } => (OathType::Totp, period),
        };
        let id = credential_id(&credential.holder, &credential.params);
        let code = Token::new(device.open()?).calculate(&id, kind, period, self.clock.now())?;
        Ok(code)
    }

    /// Activation at the station (SPEC §2, §4): possession proof (a code
    /// read from the token at `reader`), PIN policy, the device PIN where the
    /// profile has one with a hardware retry counter (never otherwise, with a
    /// random resetting code sealed for the desk), and the activation, all
    /// decided in one store transaction: if the token refuses the PIN,
    /// nothing is activated. Returns whether a device PIN was set.
    pub fn activate(&self, reader: &str, serial: &str, pin: &str) -> Result<bool, DeviceError> {
        self.activate_with(reader, serial, pin, None)
    }

    /// [`Self::activate`], with what a touch key typed when touched (touch
    /// keys prove possession that way; `None` for tokens read over PC/SC).
    pub fn activate_with(
        &self,
        reader: &str,
        serial: &str,
        pin: &str,
        typed: Option<&str>,
    ) -> Result<bool, DeviceError> {
        if self.is_touch_key(reader) || typed.is_some() {
            return self.activate_touch_key(reader, serial, pin, typed);
        }
        let (device, profile) = self.device_at(reader, serial)?;
        let token = self.store.read(|tx| tx.token(serial))?;
        let holder = token.holder.ok_or(StoreError::Domain(
            crate::domain::DomainError::TransitionRefused {
                from: token.state,
                action: "activate",
            },
        ))?;
        let actor = Actor::Holder(holder);
        // Policy first: a PIN that would be refused never reaches the token.
        self.store.write(&actor, "token.activate", |_| {
            crate::crypto::Pin::parse(pin)?;
            Ok(())
        })?;
        let code = self.read_code(reader, serial)?;
        let takes_pin = matches!(&profile.capabilities.device_pin,
            Some(p) if p.commands == PinCommands::Iso7816);
        let mut device_failure = None;
        let result = self.store.write(&actor, "token.activate", |tx| {
            tx.prove_possession(serial, &code)?;
            tx.activate(serial, pin)?;
            if takes_pin {
                match set_device_pin(device.as_ref(), &profile, pin) {
                    Ok(seed) => tx.seal_device_puk(serial, &seed)?,
                    Err(err) => {
                        device_failure = Some(err);
                        return Err(StoreError::Unavailable);
                    }
                }
            }
            Ok(())
        });
        if let Some(err) = device_failure {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(err);
        }
        result?;
        self.token_changed(serial, TokenState::Active);
        Ok(takes_pin)
    }

    /// Applet reset on the token at `reader`; a returned (or revoked broken
    /// or faulty) token is then marked received and wiped.
    pub fn wipe(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
    ) -> Result<TokenState, DeviceError> {
        if self.is_touch_key(reader) {
            return self.wipe_touch_key(actor, reader, serial);
        }
        let (device, _) = self.device_at(reader, serial)?;
        // Checked as a write so that a refusal is audited like any other.
        self.store.write(actor, "token.wipe", |tx| {
            let token = tx.token(serial)?;
            if token.state.is_live() {
                return Err(StoreError::Domain(
                    crate::domain::DomainError::TransitionRefused {
                        from: token.state,
                        action: "wipe",
                    },
                ));
            }
            Ok(())
        })?;
        Token::new(device.open()?).wipe()?;
        let state = self.store.write(actor, "token.wipe", |tx| {
            let token = tx.token(serial)?;
            if token.state != TokenState::Wiped {
                tx.receive_at_it_centre(serial)?;
            }
            Ok(tx.token(serial)?.state)
        })?;
        self.token_changed(serial, state);
        Ok(state)
    }

    /// Watches PC/SC readers until `stop`: insertions and removals within a
    /// second. Returns when PC/SC is unavailable.
    pub fn watch_pcsc(self: &Arc<Self>, stop: Arc<AtomicBool>) -> Result<(), TokenError> {
        use crate::oath::driver::watch::{ReaderEvent, Watcher};
        let pcsc = crate::oath::driver::pcsc::Pcsc::establish()?;
        // A new watcher reports every token present anew: forget what an
        // earlier one saw (pcscd may have restarted, tokens left meanwhile).
        let stale: Vec<String> = self
            .slots()
            .iter()
            .filter(|(_, slot)| slot.from_watcher)
            .map(|(reader, _)| reader.clone())
            .collect();
        for reader in stale {
            self.detach(&reader);
        }
        let mut watcher = Watcher::new(pcsc);
        while !stop.load(Ordering::SeqCst) {
            for event in watcher.poll(Duration::from_millis(500))? {
                match event {
                    ReaderEvent::Inserted { reader, .. } => {
                        let device = Arc::new(PcscDevice {
                            reader: reader.clone(),
                        });
                        if let Err(err) = self.attach_slot(&reader, device, true) {
                            tracing::warn!(%reader, error = %err, "token at reader");
                        }
                    }
                    ReaderEvent::Removed { reader } | ReaderEvent::ReaderRemoved { reader } => {
                        self.detach(&reader);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Sets the PIN and a fresh random resetting code on the device; returns
/// the code's seed for sealing.
fn set_device_pin(
    device: &dyn Device,
    profile: &Profile,
    pin: &str,
) -> Result<Secret, DeviceError> {
    let pin = PinValue::new(pin.as_bytes()).ok_or(DeviceError::Unsupported {
        profile: profile.id.clone(),
        what: "a PIN of this length",
    })?;
    let seed = Secret::generate(Algorithm::Sha1).map_err(StoreError::from)?;
    let puk = puk_from_seed(&seed);
    let puk = PinValue::new(puk.as_bytes()).ok_or(StoreError::Corrupt("resetting code"))?;
    Token::new(device.open()?).set_pin(profile, &pin, &puk)?;
    Ok(seed)
}

/// The desk's 8-digit resetting code, derived from a sealed random seed.
fn puk_from_seed(seed: &Secret) -> Zeroizing<String> {
    let bytes = seed.expose();
    let mut n: u64 = 0;
    for b in bytes.iter().take(8) {
        n = (n << 8) | u64::from(*b);
    }
    Zeroizing::new(format!("{:08}", n % 100_000_000))
}

/// The default credential for a prepare: TOTP, SHA-1, 6 digits, 30 s.
pub fn default_params() -> CredentialParams {
    CredentialParams {
        kind: OtpKind::Totp {
            period: Period::DEFAULT,
        },
        algorithm: Algorithm::Sha1,
        digits: Digits::SIX,
    }
}
