//! The touch-key family: YubiKey OTP slots over HID that type an OATH-HOTP
//! code when touched (`docs/devices.md`). A key appears as a reader
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

use super::family::{CredentialWrite, TokenFamily, WriteFailure};
use super::{DeviceError, DeviceManager, Present};
use crate::domain::PendingWrite;
use crate::domain::{PersonId, UnixTime};
use crate::hid::{
    typed_code, AccessCode, HidBus, HidDeviceInfo, HidError, HidInterfaceMatch, HidStatus,
    HidTransport, HotpConfig, HotpKey, OtpDevice, OtpProfile, OtpProfileError, SimulatedKey, Slot,
    TransportError,
};
use crate::otp::{Algorithm, Secret};
use crate::otp::{CredentialParams, OtpKind};
use crate::store::ops::AccessCodeStatus;
use crate::store::{Store, StoreError, Tx};

/// The profile id touch keys are registered with.
pub const TOUCH_KEY_PROFILE: &str = "yubikey-otp-hid";
/// The slot keyward programs: slot 1 answers a short touch. The keys are the
/// authority's; the factory Yubico OTP credential there is replaced.
pub const TOUCH_SLOT: Slot = Slot::One;
/// Prefix of a touch key's reader name.
pub const HID_READER_PREFIX: &str = "hid:";
/// How often the poller enumerates HID devices (`docs/devices.md`: within a
/// second).
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
    /// keyward's use of the same key's CCID interface (set at attach).
    ccid: Option<Arc<super::CcidActivity>>,
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
            ccid: None,
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
        if let Some(ccid) = &self.ccid {
            ccid.wait_reclaim(&self.serial.to_string());
        }
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

impl TokenFamily for TouchKey {
    fn profile_id(&self) -> &str {
        TOUCH_KEY_PROFILE
    }

    /// HOTP, SHA-1, 6 digits: what a touch key types.
    fn default_params(&self) -> CredentialParams {
        CredentialParams {
            kind: OtpKind::Hotp { counter: 0 },
            algorithm: Algorithm::Sha1,
            digits: crate::otp::Digits::SIX,
        }
    }

    fn plan<'a>(
        &'a self,
        store: &Store,
        serial: &str,
        holder: &PersonId,
        params: CredentialParams,
    ) -> Result<Box<dyn CredentialWrite + 'a>, DeviceError> {
        // A YubiKey 5 shows both its OATH applet (PC/SC) and its OTP slots
        // (HID) under one serial: only a key registered as a touch key is
        // prepared through its slots.
        let registered = store.read(|tx| tx.token(serial))?.profile;
        if registered != TOUCH_KEY_PROFILE {
            return Err(self.unsupported("a token registered with another profile"));
        }
        if !matches!(params.kind, OtpKind::Hotp { .. }) {
            return Err(self.unsupported("TOTP (a touch key types HOTP codes)"));
        }
        if params.algorithm != Algorithm::Sha1 {
            return Err(self.unsupported("a hash other than SHA-1"));
        }
        let eight_digits = match params.digits.get() {
            6 => false,
            8 => true,
            _ => return Err(self.unsupported("this number of digits (6 or 8)")),
        };
        let current = store
            .read(|tx| tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Committed))?;
        let new_code = AccessCode::generate().map_err(HidError::from)?;
        let secret = Secret::generate(Algorithm::Sha1).map_err(StoreError::from)?;
        let config = HotpConfig::new(HotpKey::from_secret(&secret).map_err(HidError::from)?)
            .eight_digits(eight_digits);
        Ok(Box::new(SlotWrite {
            key: self,
            serial: serial.to_owned(),
            holder: holder.clone(),
            current,
            new_code,
            secret,
            config,
            params: CredentialParams {
                // IMF 0: the first code the key types is counter 0.
                kind: OtpKind::Hotp { counter: 0 },
                ..params
            },
        }))
    }

    /// Deletes the slot with the pending code, else the committed one, else
    /// none (a write that never landed).
    fn clear_uncommitted(
        &self,
        store: &Store,
        pending: &PendingWrite,
    ) -> Result<&'static str, DeviceError> {
        // An empty slot: the write never landed, and a delete would not show
        // (pgmSeq stays 0, which reads as a refusal).
        if !self
            .with_driver(|d| d.read_status())?
            .slot_configured(TOUCH_SLOT)
        {
            return Ok("the slot is empty");
        }
        let serial = pending.serial.as_str();
        let (pending_code, committed_code) = store.read(|tx| {
            Ok((
                tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Pending)?,
                tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Committed)?,
            ))
        })?;
        let mut candidates: Vec<(Option<&AccessCode>, &'static str)> = Vec::new();
        if let Some(code) = &pending_code {
            candidates.push((Some(code), "slot deleted with the pending access code"));
        }
        if let Some(code) = &committed_code {
            candidates.push((Some(code), "slot deleted with the previous access code"));
        }
        candidates.push((None, "slot deleted with no access code"));
        let mut refused = None;
        for (code, done) in candidates {
            match self.with_driver(|d| d.delete_slot(TOUCH_SLOT, code)) {
                Ok(_) => return Ok(done),
                Err(err @ HidError::Rejected { .. }) => refused = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        Err(refused.map_or(DeviceError::WriteNotProved, DeviceError::from))
    }

    /// The slot was deleted (or was empty): every code it was locked with
    /// is forgotten with the pending write.
    fn drop_pending(&self, tx: &mut Tx<'_>, serial: &str, why: &str) -> Result<(), StoreError> {
        tx.abort_slot_prepare(serial, TOUCH_SLOT, true, why)
    }

    /// The code in what the key typed when touched (the store then verifies
    /// it as any HOTP code, consuming its counter).
    fn possession_code(
        &self,
        _store: &Store,
        _now: UnixTime,
        _serial: &str,
        typed: Option<&str>,
    ) -> Result<String, DeviceError> {
        match typed {
            Some(text) => {
                typed_code(text, None).map_err(|_| DeviceError::Typed("not what this key types"))
            }
            None => Err(DeviceError::Typed(
                "a touch key proves possession by the code it types when touched: pass it as typed",
            )),
        }
    }

    /// The slot is deleted with the sealed access code; a key that refuses
    /// the code changes nothing.
    fn wipe(&self, store: &Store, serial: &str) -> Result<(), DeviceError> {
        let code = store
            .read(|tx| tx.slot_access_code(serial, TOUCH_SLOT, AccessCodeStatus::Committed))?;
        let status = self.with_driver(|d| {
            let status = d.read_status()?;
            if !status.slot_configured(TOUCH_SLOT) {
                // Already empty (a delete would leave pgmSeq at 0 and read
                // as a refusal).
                return Ok(status);
            }
            d.delete_slot(TOUCH_SLOT, code.as_ref())
        })?;
        if status.slot_configured(TOUCH_SLOT) {
            return Err(DeviceError::WriteNotProved);
        }
        Ok(())
    }

    fn forget_wiped(&self, tx: &mut Tx<'_>, serial: &str) -> Result<bool, StoreError> {
        tx.forget_slot_access_codes(serial, TOUCH_SLOT)?;
        Ok(true)
    }

    fn is_touch_key(&self) -> bool {
        true
    }

    fn simulated_key(&self) -> Option<&Arc<Mutex<SimulatedKey>>> {
        self.simulated.as_ref()
    }
}

/// An HOTP secret on its way to the touch slot, locked with a fresh access
/// code; the write is proved by the programming sequence.
struct SlotWrite<'a> {
    key: &'a TouchKey,
    serial: String,
    holder: PersonId,
    /// The code the slot is locked with now, if any.
    current: Option<AccessCode>,
    new_code: AccessCode,
    secret: Secret,
    config: HotpConfig,
    params: CredentialParams,
}

impl CredentialWrite for SlotWrite<'_> {
    /// The new access code is sealed as pending with the pending write.
    fn record(
        &self,
        tx: &mut Tx<'_>,
        reader: &str,
        replacement: Option<i64>,
    ) -> Result<(), StoreError> {
        tx.begin_slot_prepare(
            &self.serial,
            &self.holder,
            TOUCH_SLOT,
            reader,
            &self.new_code,
            replacement,
        )
    }

    fn write(&mut self, _now: UnixTime) -> Result<u32, WriteFailure> {
        let written = self.key.with_driver(|d| {
            let before = d.read_status()?;
            d.program_hotp(
                TOUCH_SLOT,
                &self.config,
                Some(&self.new_code),
                self.current.as_ref(),
            )?;
            let after = d.read_status()?;
            Ok((before, after))
        });
        match written {
            Ok((before, after)) if write_proved(before, after) => Ok(0),
            Ok(_) => Err(WriteFailure::Failed {
                error: DeviceError::WriteNotProved,
                why: "write not proved",
            }),
            // The key refused the frame: the slot is as it was.
            Err(err @ HidError::Rejected { .. }) => Err(WriteFailure::Refused {
                error: err.into(),
                why: "the key refused the write",
            }),
            Err(err) => Err(WriteFailure::Failed {
                error: err.into(),
                why: "write failed",
            }),
        }
    }

    /// The credential is committed and the pending code promoted.
    fn commit(&self, tx: &mut Tx<'_>, replacement: Option<i64>) -> Result<(), StoreError> {
        tx.commit_slot_prepare(
            &self.serial,
            TOUCH_SLOT,
            &self.secret,
            self.params,
            replacement,
        )?;
        Ok(())
    }

    fn abort(&self, tx: &mut Tx<'_>, why: &str) -> Result<(), StoreError> {
        tx.abort_slot_prepare(&self.serial, TOUCH_SLOT, false, why)
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

impl DeviceManager {
    /// A touch key was plugged in (or a simulated one attached) as
    /// `reader`: register it as stock if unknown, recover an interrupted
    /// prepare, publish.
    pub fn attach_touch_key(&self, reader: &str, key: TouchKey) -> Result<Present, DeviceError> {
        let key = TouchKey {
            ccid: Some(Arc::clone(&self.ccid)),
            ..key
        };
        let present = Present {
            reader: reader.to_owned(),
            serial: Some(key.serial().to_string()),
            profile: Some(TOUCH_KEY_PROFILE.to_owned()),
        };
        // Attached by the HID poller, not the PC/SC watcher: a new PC/SC
        // watcher must not forget it.
        self.attach_family(Some(Arc::new(key)), present, false)
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
        let slots = self.slots();
        let slot = slots.get(reader).ok_or_else(|| DeviceError::Absent {
            reader: reader.to_owned(),
            serial: "-".into(),
        })?;
        let serial = slot.present.serial.clone().unwrap_or_default();
        let key = slot
            .family
            .as_ref()
            .and_then(|f| f.simulated_key().cloned())
            .ok_or_else(|| DeviceError::Unsupported {
                profile: TOUCH_KEY_PROFILE.to_owned(),
                what: "touching through the API (only simulated keys)",
            })?;
        drop(slots);
        let typed = key
            .lock()
            .map_err(|_| HidError::Transport(TransportError::Disconnected))?
            .touch(TOUCH_SLOT)?;
        Ok((serial, typed.text()))
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
