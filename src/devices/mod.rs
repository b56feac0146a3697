//! Reader presence and device operations (I/O): which token sits at which
//! reader, hot-plug through the PC/SC watcher and the HID poller, the
//! in-process virtual reader ([`virtual_reader`]), and the operations that
//! touch a token (`docs/devices.md`). Every change is published on a
//! broadcast channel for the event stream. Operations block: callers run
//! them on blocking threads.
//!
//! - [`family`]: the seam a token family implements (write, prove, clear an
//!   uncommitted credential, possession, device PIN, wipe).
//! - [`oath`]: YKOATH tokens over PC/SC; [`hid_key`]: YubiKey OTP slots over
//!   HID (touch keys).
//! - `operations`: one prepare flow (pending write → write → prove → commit,
//!   or undo), recovery, possession, activation, wipe, for every family;
//!   `pin`: the desk's unblock of a device PIN.

pub mod family;
mod forgotten_pin;
pub mod hid_key;
pub mod oath;
mod operations;
mod pin;
pub mod seeded;
pub mod virtual_reader;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::domain::{Actor, Clock, PersonId, TokenState};
use crate::oath::driver::TokenError;
use crate::otp::{Algorithm, Digits, Period};
use crate::otp::{CredentialParams, OtpKind};
use crate::profile::Profile;
use crate::store::{Store, StoreError};
use crate::wire::ErrorDetail;
pub use family::{CredentialWrite, TokenFamily, WriteFailure};
pub use hid_key::{hid_reader_name, TouchKey, TOUCH_KEY_PROFILE, TOUCH_SLOT};
pub use oath::{credential_id, Device, OathToken, PcscDevice};
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
    #[error(
        "profile {profile}: the device PIN has no resetting code, so the desk cannot unblock it; \
         only a full reset of the token (and a new preparation) recovers it"
    )]
    NoResettingCode { profile: String },
}

impl DeviceError {
    /// What the API's `detail` names for this error.
    pub fn detail(&self) -> ErrorDetail {
        match self {
            DeviceError::Token(TokenError::Removed { .. }) => ErrorDetail::Removed,
            DeviceError::Token(TokenError::ReadBackMismatch { .. }) => {
                ErrorDetail::ReadBackMismatch
            }
            DeviceError::Token(TokenError::WrongPin { .. }) => ErrorDetail::WrongPin,
            DeviceError::Token(TokenError::PinBlocked) => ErrorDetail::PinBlocked,
            DeviceError::Token(TokenError::Locked) => ErrorDetail::Locked,
            DeviceError::Token(TokenError::TouchTimeout { .. }) => ErrorDetail::TouchTimeout,
            DeviceError::Token(TokenError::HeldByAnotherProgram) => {
                ErrorDetail::HeldByAnotherProgram
            }
            DeviceError::Token(TokenError::Status { .. }) => ErrorDetail::Status,
            DeviceError::Token(TokenError::NoCard { .. }) => ErrorDetail::NoCard,
            DeviceError::Unsupported { .. }
            | DeviceError::NoResettingCode { .. }
            | DeviceError::Token(TokenError::Unsupported { .. }) => ErrorDetail::Unsupported,
            DeviceError::UnknownProfile { .. } => ErrorDetail::UnknownProfile,
            DeviceError::Hid(crate::hid::HidError::Rejected { .. }) => {
                ErrorDetail::AccessCodeRefused
            }
            DeviceError::Hid(crate::hid::HidError::Transport(
                crate::hid::TransportError::Disconnected,
            )) => ErrorDetail::Removed,
            DeviceError::WriteNotProved => ErrorDetail::WriteNotProved,
            _ => ErrorDetail::Device,
        }
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
    /// `None`: the token matched no firmware profile, so keyward cannot
    /// drive it.
    family: Option<Arc<dyn TokenFamily>>,
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
    /// When keyward last spoke to each key over CCID (a YubiKey's OTP
    /// interface then refuses commands for a while).
    ccid: Arc<CcidActivity>,
}

/// When keyward last used each token's CCID interface, by serial. A
/// YubiKey shows its OATH applet (CCID) and its OTP slots (HID) under one
/// serial, and for about 3 s after the CCID interface was used the OTP
/// interface ignores commands ("reclaim"; ykman retries for it): a write
/// then reads as a refused access code. Touch-key operations wait that out.
#[derive(Debug, Default)]
pub struct CcidActivity {
    last: Mutex<BTreeMap<String, std::time::Instant>>,
}

/// How long a YubiKey's OTP interface is reclaimed after CCID use: about
/// 3 s (ykman retries 8 × 0.5 s for it), with a margin.
pub const CCID_RECLAIM: Duration = Duration::from_millis(3_250);

impl CcidActivity {
    fn last(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, std::time::Instant>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a use of `serial`'s CCID interface now.
    pub fn used(&self, serial: &str) {
        self.last()
            .insert(serial.to_owned(), std::time::Instant::now());
    }

    /// Waits until the reclaim time after the last CCID use of `serial` has
    /// passed (at most [`CCID_RECLAIM`]).
    pub fn wait_reclaim(&self, serial: &str) {
        let since = self.last().get(serial).map(|t| t.elapsed());
        if let Some(left) = since.and_then(|s| CCID_RECLAIM.checked_sub(s)) {
            tracing::debug!(%serial, ?left, "waiting for the key's OTP interface after CCID use");
            std::thread::sleep(left);
        }
    }
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
            ccid: Arc::default(),
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
        self.attach_oath(reader, device, false)
    }

    fn attach_oath(
        &self,
        reader: &str,
        device: Arc<dyn Device>,
        from_watcher: bool,
    ) -> Result<Present, DeviceError> {
        let (family, present) =
            match OathToken::identify(reader, device, &self.profiles, &self.ccid) {
                Ok((token, present)) => {
                    (token.map(|t| Arc::new(t) as Arc<dyn TokenFamily>), present)
                }
                Err(err) => {
                    tracing::warn!(%reader, error = %err, "could not identify the token");
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    let present = Present {
                        reader: reader.to_owned(),
                        serial: None,
                        profile: None,
                    };
                    (None, present)
                }
            };
        self.attach_family(family, present, from_watcher)
    }

    /// Registers and recovers the token, then makes it present.
    fn attach_family(
        &self,
        family: Option<Arc<dyn TokenFamily>>,
        present: Present,
        from_watcher: bool,
    ) -> Result<Present, DeviceError> {
        let reader = present.reader.as_str();
        // Registered and recovered before anyone hears of it: a client that
        // acts on the `inserted` event (the desk's batch) finds the token
        // known and in a settled state.
        if let (Some(serial), Some(family)) = (&present.serial, &family) {
            self.register(serial, family.profile_id())?;
            // A recovery that fails (nobody touched a Nitrokey 3's button, the
            // token refused) keeps its pending record and is retried at the
            // next insertion or start; the token is still shown, so the desk
            // sees it and can act.
            if let Err(err) = self.recover(reader, serial, family.as_ref()) {
                tracing::warn!(%reader, %serial, error = %err, "recovery of an interrupted prepare failed; kept for the next insertion");
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.slots().insert(
            reader.to_owned(),
            ReaderSlot {
                family,
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

    /// The token at `reader`, checked to be `serial` with a known profile.
    fn device_at(&self, reader: &str, serial: &str) -> Result<Arc<dyn TokenFamily>, DeviceError> {
        let slots = self.slots();
        let found = slots
            .get(reader)
            .filter(|s| s.present.serial.as_deref() == Some(serial));
        let Some(slot) = found else {
            // A seeded token is at no reader: it shows its code to the eye.
            return self.seeded(serial).ok_or_else(|| DeviceError::Absent {
                reader: reader.to_owned(),
                serial: serial.to_owned(),
            });
        };
        slot.family
            .clone()
            .ok_or_else(|| DeviceError::UnknownProfile {
                reader: reader.to_owned(),
            })
    }

    /// Whether the token at `reader` is a touch key.
    pub fn is_touch_key(&self, reader: &str) -> bool {
        self.slots()
            .get(reader)
            .and_then(|s| s.family.as_ref())
            .is_some_and(|f| f.is_touch_key())
    }

    /// The credential a prepare writes when the caller names none: HOTP,
    /// SHA-1, 6 digits on a touch key; [`default_params`] otherwise.
    pub fn default_params_for(&self, reader: &str) -> CredentialParams {
        self.slots()
            .get(reader)
            .and_then(|s| s.family.as_ref())
            .map_or_else(default_params, |f| f.default_params())
    }

    /// Whether the token at `reader` is `serial`.
    pub fn is_at(&self, reader: &str, serial: &str) -> bool {
        self.slots()
            .get(reader)
            .is_some_and(|s| s.present.serial.as_deref() == Some(serial))
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
                        if let Err(err) = self.attach_oath(&reader, device, true) {
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
