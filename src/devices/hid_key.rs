//! Touch keys in the device manager (issue 6): YubiKey OTP slots over HID
//! that type an OATH-HOTP code when touched. A key appears as a reader
//! named `hid:<serial>`, found by the poller ([`DeviceManager::watch_hid`])
//! or attached as a [`SimulatedKey`] for tests and the virtual demo.
//!
//! - Prepare: a random 20-byte HMAC-SHA-1 secret and a random 6-byte access
//!   code; the code is sealed in the store as pending with the pending write
//!   before the slot is written; the slot is written locked with it; the
//!   write is proved by the programming sequence (pgmSeq advanced, slot
//!   configured); then the credential is committed and the code promoted.
//! - Recovery of an interrupted prepare: delete the slot with the pending
//!   code, else the committed one, else none, and drop the pending write.
//! - Possession: the holder touches the key; the caller passes what it
//!   typed; the store verifies it as any HOTP code (its counter is consumed).
//! - Wipe: the slot is deleted with the sealed access code; a refusal
//!   changes nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Device, DeviceError, DeviceManager, Prepared, Present, ReaderSlot};
use crate::domain::{Actor, DomainError, PersonId, TokenState};
use crate::hid::{
    typed_code, AccessCode, HidBus, HidDeviceInfo, HidError, HidInterfaceMatch, HidStatus,
    HidTransport, HotpConfig, HotpKey, OtpDevice, OtpProfile, OtpProfileError, SimulatedKey, Slot,
    TransportError,
};
use crate::oath::driver::TokenError;
use crate::otp::{Algorithm, Secret};
use crate::store::ops::{AccessCodeStatus, CredentialParams, OtpKind};
use crate::store::StoreError;

/// The profile id touch keys are registered with.
pub const TOUCH_KEY_PROFILE: &str = "yubikey-otp-hid";
/// The slot keyward programs: slot 1 answers a short touch. The keys are the
/// authority's; the factory Yubico OTP credential there is replaced.
pub const TOUCH_SLOT: Slot = Slot::One;
/// Prefix of a touch key's reader name.
pub const HID_READER_PREFIX: &str = "hid:";
/// How often the poller enumerates HID devices (SPEC §4: within a second).
pub const HID_POLL: Duration = Duration::from_millis(500);

/// The reader name of a touch key.
pub fn hid_reader_name(serial: u32) -> String {
    format!("{HID_READER_PREFIX}{serial}")
}

/// An open touch key: its serial, and the HID transport to it.
pub struct TouchKey {
    serial: u32,
    transport: Mutex<Box<dyn HidTransport + Send>>,
    /// The key itself when it is simulated, so the virtual demo can touch it.
    simulated: Option<Arc<Mutex<SimulatedKey>>>,
}

impl std::fmt::Debug for TouchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TouchKey")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl TouchKey {
    /// Opens the driver on `transport` and reads the key's serial.
    pub fn identify(transport: Box<dyn HidTransport + Send>) -> Result<TouchKey, HidError> {
        let key = TouchKey {
            serial: 0,
            transport: Mutex::new(transport),
            simulated: None,
        };
        let serial = key.with_driver(|d| d.serial())?;
        Ok(TouchKey { serial, ..key })
    }

    /// A simulated key shared with the caller (who touches it).
    pub fn simulated(key: &Arc<Mutex<SimulatedKey>>) -> Result<TouchKey, HidError> {
        Ok(TouchKey {
            simulated: Some(Arc::clone(key)),
            ..TouchKey::identify(Box::new(Arc::clone(key)))?
        })
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Runs `f` with the driver open on this key (one exchange at a time).
    fn with_driver<R>(
        &self,
        f: impl FnOnce(&mut OtpDevice<&mut Box<dyn HidTransport + Send>>) -> Result<R, HidError>,
    ) -> Result<R, HidError> {
        // A poisoned lock: the thread holding it died mid-exchange, which is
        // an unplug from the protocol's view.
        let mut transport = self
            .transport
            .lock()
            .map_err(|_| HidError::Transport(TransportError::Disconnected))?;
        let mut device = OtpDevice::open(&mut *transport)?;
        f(&mut device)
    }
}

impl Device for TouchKey {
    fn open(&self) -> Result<Box<dyn crate::oath::driver::Transport + Send>, TokenError> {
        Err(TokenError::Unsupported {
            profile: TOUCH_KEY_PROFILE.to_owned(),
            what: "APDUs (a touch key speaks HID)",
        })
    }

    fn touch_key(&self) -> Option<&TouchKey> {
        Some(self)
    }
}

/// pgmSeq advanced by one (0 is "no valid configuration", so after a write
/// it counts from 1) and the slot holds a configuration.
fn write_proved(before: HidStatus, after: HidStatus) -> bool {
    let expected = match before.pgm_seq.wrapping_add(1) {
        0 => 1,
        n => n,
    };
    after.pgm_seq == expected && after.slot_configured(TOUCH_SLOT) && !after.is_busy()
}

fn unsupported(what: &'static str) -> DeviceError {
    DeviceError::Unsupported {
        profile: TOUCH_KEY_PROFILE.to_owned(),
        what,
    }
}

impl DeviceManager {
    /// The device at `reader` if it is a touch key.
    pub(super) fn touch_key_at(&self, reader: &str) -> Option<Arc<dyn Device>> {
        self.slots()
            .get(reader)
            .filter(|s| s.device.touch_key().is_some())
            .map(|s| Arc::clone(&s.device))
    }

    /// Whether the token at `reader` is a touch key.
    pub fn is_touch_key(&self, reader: &str) -> bool {
        self.touch_key_at(reader).is_some()
    }

    /// The credential a prepare writes when the caller names none: HOTP,
    /// SHA-1, 6 digits on a touch key; [`super::default_params`] otherwise.
    pub fn default_params_for(&self, reader: &str) -> CredentialParams {
        if self.is_touch_key(reader) {
            CredentialParams {
                kind: OtpKind::Hotp { counter: 0 },
                algorithm: Algorithm::Sha1,
                digits: crate::otp::Digits::SIX,
            }
        } else {
            super::default_params()
        }
    }

    /// The device at `reader`, checked to be the token `serial`.
    fn present_device(&self, reader: &str, serial: &str) -> Result<Arc<dyn Device>, DeviceError> {
        self.slots()
            .get(reader)
            .filter(|s| s.present.serial.as_deref() == Some(serial))
            .map(|s| Arc::clone(&s.device))
            .ok_or_else(|| DeviceError::Absent {
                reader: reader.to_owned(),
                serial: serial.to_owned(),
            })
    }

    /// A touch key was plugged in (or a simulated one attached) as
    /// `reader`: register it as stock if unknown, recover an interrupted
    /// prepare, publish.
    pub fn attach_touch_key(&self, reader: &str, key: TouchKey) -> Result<Present, DeviceError> {
        let serial = key.serial().to_string();
        let device: Arc<dyn Device> = Arc::new(key);
        self.register(&serial, TOUCH_KEY_PROFILE)?;
        self.recover(reader, &serial, device.as_ref())?;
        let present = Present {
            reader: reader.to_owned(),
            serial: Some(serial),
            profile: Some(TOUCH_KEY_PROFILE.to_owned()),
        };
        self.slots().insert(
            reader.to_owned(),
            ReaderSlot {
                device,
                present: present.clone(),
                // Attached by the HID poller, not the PC/SC watcher: a new
                // PC/SC watcher must not forget it.
                from_watcher: false,
            },
        );
        tracing::info!(%reader, serial = ?present.serial, "touch key inserted");
        self.publish(super::DeviceEvent::Inserted {
            reader: reader.to_owned(),
            serial: present.serial.clone(),
            profile: present.profile.clone(),
        });
        Ok(present)
    }

    /// Attaches a simulated key under `reader` (tests, virtual demo).
    pub fn attach_simulated_key(
        &self,
        reader: &str,
        key: &Arc<Mutex<SimulatedKey>>,
    ) -> Result<Present, DeviceError> {
        let key = TouchKey::simulated(key)?;
        self.attach_touch_key(reader, key)
    }

    /// Attaches a fresh simulated key with a random serial as
    /// `hid:<serial>` (the virtual demo: `keyward serve --virtual-touch-key on`).
    /// Its state lives in memory only.
    pub fn attach_virtual_touch_key(&self) -> Result<Present, DeviceError> {
        use ring::rand::SecureRandom as _;
        let mut b = [0u8; 4];
        ring::rand::SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| HidError::Codec(crate::hid::CodecError::Random))?;
        let serial = 10_000_000 + u32::from_be_bytes(b) % 90_000_000;
        let key = Arc::new(Mutex::new(SimulatedKey::new(serial)));
        self.attach_simulated_key(&hid_reader_name(serial), &key)
    }

    /// Touches the simulated key at `reader` (the virtual demo's stand-in
    /// for a finger): returns its serial and what it typed.
    pub fn touch_simulated(&self, reader: &str) -> Result<(String, String), DeviceError> {
        let slot = self.slots();
        let slot = slot.get(reader).ok_or_else(|| DeviceError::Absent {
            reader: reader.to_owned(),
            serial: "-".into(),
        })?;
        let serial = slot.present.serial.clone().unwrap_or_default();
        let key = slot
            .device
            .touch_key()
            .and_then(|k| k.simulated.clone())
            .ok_or_else(|| unsupported("touching through the API (only simulated keys)"))?;
        let typed = key
            .lock()
            .map_err(|_| HidError::Transport(TransportError::Disconnected))?
            .touch(TOUCH_SLOT)?;
        Ok((serial, typed.text()))
    }

    /// Prepares the touch key `serial` at `reader` for `holder` (see the
    /// module documentation).
    pub(super) fn prepare_touch_key(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
        holder: &PersonId,
        params: CredentialParams,
        replacement: Option<i64>,
    ) -> Result<Prepared, DeviceError> {
        let device = self.present_device(reader, serial)?;
        let key = device.touch_key().ok_or_else(|| unsupported("OTP slots"))?;
        // A YubiKey 5 shows both its OATH applet (PC/SC) and its OTP slots
        // (HID) under one serial: only a key registered as a touch key is
        // prepared through its slots.
        let registered = self.store.read(|tx| tx.token(serial))?.profile;
        if registered != TOUCH_KEY_PROFILE {
            return Err(unsupported("a token registered with another profile"));
        }
        if !matches!(params.kind, OtpKind::Hotp { .. }) {
            return Err(unsupported("TOTP (a touch key types HOTP codes)"));
        }
        if params.algorithm != Algorithm::Sha1 {
            return Err(unsupported("a hash other than SHA-1"));
        }
        let eight_digits = match params.digits.get() {
            6 => false,
            8 => true,
            _ => return Err(unsupported("this number of digits (6 or 8)")),
        };
        let current = self
            .store
            .read(|tx| tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Committed))?;
        let new_code = AccessCode::generate().map_err(HidError::from)?;
        let secret = Secret::generate(Algorithm::Sha1).map_err(StoreError::from)?;
        let config = HotpConfig::new(HotpKey::from_secret(&secret).map_err(HidError::from)?)
            .eight_digits(eight_digits);
        self.store.write(actor, "token.prepare", |tx| {
            tx.begin_slot_prepare(serial, holder, TOUCH_SLOT, reader, &new_code, replacement)
        })?;
        let written = key.with_driver(|d| {
            let before = d.read_status()?;
            d.program_hotp(TOUCH_SLOT, &config, Some(&new_code), current.as_ref())?;
            let after = d.read_status()?;
            Ok((before, after))
        });
        match written {
            Ok((before, after)) if write_proved(before, after) => {}
            Ok(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.undo_touch_key(actor, reader, serial, key, "write not proved");
                return Err(DeviceError::WriteNotProved);
            }
            Err(err @ HidError::Rejected { .. }) => {
                // The key refused the frame: the slot is as it was.
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.store.write(actor, "token.prepare.abort", |tx| {
                    tx.abort_slot_prepare(serial, TOUCH_SLOT, false, "the key refused the write")
                })?;
                return Err(err.into());
            }
            Err(err) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.undo_touch_key(actor, reader, serial, key, "write failed");
                return Err(err.into());
            }
        }
        let params = CredentialParams {
            // IMF 0: the first code the key types is counter 0.
            kind: OtpKind::Hotp { counter: 0 },
            ..params
        };
        let committed = self.store.write(actor, "token.prepare", |tx| {
            tx.commit_slot_prepare(serial, TOUCH_SLOT, &secret, params, replacement)
        });
        if let Err(err) = committed {
            self.undo_touch_key(actor, reader, serial, key, "commit refused");
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
            apdus: 0,
        })
    }

    /// Best effort after a failed write: the recovery, now. If the key is
    /// gone, the pending write stays for the next insertion or start.
    fn undo_touch_key(&self, actor: &Actor, reader: &str, serial: &str, key: &TouchKey, why: &str) {
        if let Err(err) = self.recover_touch_key_as(actor, reader, serial, key, why) {
            tracing::warn!(%serial, error = %err, "prepare interrupted; recovery runs at the next insertion or start");
        }
    }

    /// SPEC §4 recovery of a touch key with a pending write.
    pub(super) fn recover_touch_key(
        &self,
        reader: &str,
        serial: &str,
        key: &TouchKey,
    ) -> Result<(), DeviceError> {
        self.recover_touch_key_as(&Actor::System, reader, serial, key, "interrupted prepare")
    }

    /// Deletes the slot with the pending code, else the committed one, else
    /// none (a write that never landed), then drops the pending write.
    fn recover_touch_key_as(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
        key: &TouchKey,
        why: &str,
    ) -> Result<(), DeviceError> {
        let (pending, committed) = self.store.read(|tx| {
            Ok((
                tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Pending)?,
                tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Committed)?,
            ))
        })?;
        let mut candidates: Vec<(Option<&AccessCode>, &str)> = Vec::new();
        if let Some(code) = &pending {
            candidates.push((Some(code), "the pending access code"));
        }
        if let Some(code) = &committed {
            candidates.push((Some(code), "the previous access code"));
        }
        candidates.push((None, "no access code"));
        // An empty slot: the write never landed, and a delete would not show
        // (pgmSeq stays 0, which reads as a refusal).
        if !key
            .with_driver(|d| d.read_status())?
            .slot_configured(TOUCH_SLOT)
        {
            self.store.write(actor, "token.prepare.recover", |tx| {
                tx.abort_slot_prepare(
                    serial,
                    TOUCH_SLOT,
                    true,
                    &format!("{why}, recovered at {reader}: the slot is empty"),
                )
            })?;
            tracing::info!(%reader, %serial, "recovered an interrupted prepare (slot empty)");
            return Ok(());
        }
        let mut refused = None;
        for (code, which) in candidates {
            match key.with_driver(|d| d.delete_slot(TOUCH_SLOT, code)) {
                Ok(_) => {
                    self.store.write(actor, "token.prepare.recover", |tx| {
                        tx.abort_slot_prepare(
                            serial,
                            TOUCH_SLOT,
                            true,
                            &format!("{why}, recovered at {reader}: slot deleted with {which}"),
                        )
                    })?;
                    tracing::info!(%reader, %serial, with = which, "recovered an interrupted prepare");
                    return Ok(());
                }
                Err(err @ HidError::Rejected { .. }) => refused = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        Err(refused.map_or(DeviceError::WriteNotProved, DeviceError::from))
    }

    /// The code that proves possession of the token `serial` at `reader`: for
    /// a touch key, the code in what it `typed` when touched (the store then
    /// verifies it); for a YKOATH token, a code read from it, and `typed`
    /// must be absent.
    pub fn possession_code(
        &self,
        reader: &str,
        serial: &str,
        typed: Option<&str>,
    ) -> Result<String, DeviceError> {
        let device = self.present_device(reader, serial)?;
        match (device.touch_key(), typed) {
            (Some(_), Some(text)) => typed_code(text, None)
                .map(str::to_owned)
                .map_err(|_| DeviceError::Typed("not what this key types")),
            (Some(_), None) => Err(DeviceError::Typed(
                "a touch key proves possession by the code it types when touched: pass it as typed",
            )),
            (None, Some(_)) => Err(DeviceError::Typed(
                "only touch keys type their code; this token's code is read from it",
            )),
            (None, None) => self.read_code(reader, serial),
        }
    }

    /// Activation of a touch key at the station: the typed code proves
    /// possession, the PIN goes to the store only (an OTP slot has no PIN).
    pub(super) fn activate_touch_key(
        &self,
        reader: &str,
        serial: &str,
        pin: &str,
        typed: Option<&str>,
    ) -> Result<bool, DeviceError> {
        let token = self.store.read(|tx| tx.token(serial))?;
        let holder = token
            .holder
            .ok_or(StoreError::Domain(DomainError::TransitionRefused {
                from: token.state,
                action: "activate",
            }))?;
        let actor = Actor::Holder(holder);
        self.store.write(&actor, "token.activate", |_| {
            crate::crypto::Pin::parse(pin)?;
            Ok(())
        })?;
        let code = self.possession_code(reader, serial, typed)?;
        self.store.write(&actor, "token.activate", |tx| {
            tx.prove_possession(serial, &code)?;
            tx.activate(serial, pin)
        })?;
        self.token_changed(serial, TokenState::Active);
        Ok(false)
    }

    /// Wipe of a touch key: the slot is deleted with the sealed access code;
    /// then the code is destroyed and the token received and wiped. A key
    /// that refuses the code changes nothing.
    pub(super) fn wipe_touch_key(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
    ) -> Result<TokenState, DeviceError> {
        let device = self.present_device(reader, serial)?;
        let key = device.touch_key().ok_or_else(|| unsupported("OTP slots"))?;
        let code = self.store.write(actor, "token.wipe", |tx| {
            let token = tx.token(serial)?;
            if token.state.is_live() {
                return Err(StoreError::Domain(DomainError::TransitionRefused {
                    from: token.state,
                    action: "wipe",
                }));
            }
            tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Committed)
        })?;
        let status = key.with_driver(|d| {
            let status = d.read_status()?;
            if !status.slot_configured(TOUCH_SLOT) {
                // Already empty (a delete would leave pgmSeq at 0 and read
                // as a refusal).
                return Ok(status);
            }
            d.delete_slot(TOUCH_SLOT, code.as_ref())
        });
        let status = match status {
            Ok(status) => status,
            Err(err) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                return Err(err.into());
            }
        };
        if status.slot_configured(TOUCH_SLOT) {
            return Err(DeviceError::WriteNotProved);
        }
        let state = self.store.write(actor, "token.wipe", |tx| {
            tx.forget_slot_access_codes(serial, TOUCH_SLOT)?;
            if tx.token(serial)?.state != TokenState::Wiped {
                tx.receive_at_it_centre(serial)?;
            }
            Ok(tx.token(serial)?.state)
        })?;
        // No old page holding the sealed code survives in the -wal file.
        if let Err(err) = self.store.checkpoint() {
            tracing::warn!(%serial, error = %err, "checkpoint after destroying an access code");
        }
        self.token_changed(serial, state);
        Ok(state)
    }

    /// One poll of the HID bus: keys that appeared are identified and
    /// attached as `hid:<serial>`, keys gone are detached. `known` maps a
    /// device path to its reader name between polls (empty: not identified
    /// yet, retried at each poll, warned about once).
    pub fn poll_hid<B>(
        &self,
        bus: &mut B,
        wanted: &HidInterfaceMatch,
        known: &mut BTreeMap<String, String>,
    ) -> Result<(), TransportError>
    where
        B: HidBus,
        B::Device: Send + 'static,
    {
        let found: Vec<HidDeviceInfo> = bus.enumerate(wanted)?;
        let gone: Vec<String> = known
            .keys()
            .filter(|path| !found.iter().any(|info| &info.path == *path))
            .cloned()
            .collect();
        for path in gone {
            if let Some(reader) = known.remove(&path) {
                if !reader.is_empty() {
                    self.detach(&reader);
                }
            }
        }
        for info in found {
            let first_try = match known.get(&info.path) {
                Some(reader) if !reader.is_empty() => continue,
                Some(_) => false,
                None => true,
            };
            let key = bus
                .open(&info)
                .map_err(HidError::from)
                .and_then(|device| TouchKey::identify(Box::new(device)));
            match key {
                Ok(key) => {
                    let reader = hid_reader_name(key.serial());
                    known.insert(info.path.clone(), reader.clone());
                    if let Err(err) = self.attach_touch_key(&reader, key) {
                        tracing::warn!(%reader, error = %err, "touch key");
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(err) => {
                    // Retried at the next poll (a key still enumerating, or
                    // one that hides its serial).
                    if first_try {
                        tracing::warn!(path = %info.path, error = %err, "could not identify a HID key");
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    known.insert(info.path.clone(), String::new());
                }
            }
        }
        Ok(())
    }

    /// Polls the HID bus every [`HID_POLL`] until `stop`.
    pub fn watch_hid<B>(
        self: &Arc<Self>,
        mut bus: B,
        wanted: &HidInterfaceMatch,
        stop: Arc<AtomicBool>,
    ) -> Result<(), TransportError>
    where
        B: HidBus,
        B::Device: Send + 'static,
    {
        let mut known = BTreeMap::new();
        while !stop.load(Ordering::SeqCst) {
            self.poll_hid(&mut bus, wanted, &mut known)?;
            std::thread::sleep(HID_POLL);
        }
        Ok(())
    }
}

/// The built-in OTP HID profile (`firmware-profiles/yubikey-otp-hid.toml`).
pub fn builtin_touch_key_profile() -> Result<OtpProfile, OtpProfileError> {
    crate::hid::codec::profile::parse_otp_profile(
        include_str!("../../firmware-profiles/yubikey-otp-hid.toml"),
        "firmware-profiles/yubikey-otp-hid.toml",
    )
}

/// Starts the poller of real HID keys (hidapi) on a thread, until `stop`.
/// A failing backend is retried every second.
pub fn spawn_hid_watcher(
    devices: &Arc<DeviceManager>,
    profile: OtpProfile,
    stop: &Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let devices = Arc::clone(devices);
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name("keyward-hid-watch".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let watched = crate::hid::driver::hidapi::HidapiBus::new()
                    .and_then(|bus| devices.watch_hid(bus, &profile.usb, Arc::clone(&stop)));
                if let Err(err) = watched {
                    tracing::warn!(error = %err, "HID watcher stopped; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        })
}
