//! A simulated YubiKey OTP interface behind [`HidTransport`]. It takes feature
//! reports as the key does (sequence bits, skipped zero parts, frame CRC,
//! configuration CRC), enforces access codes (a refused write leaves pgmSeq and
//! the slot unchanged), answers status and serial reads, and when touched types
//! the next OATH-HOTP code of a slot, computed by keyward's own OTP core.
//!
//! It also reproduces what a station meets with real keys: the keyboard
//! layout the typing is read with (AZERTY turns the digits into the digit
//! row's symbols), a serial that DEVICE_SERIAL refuses when a slot hides it
//! (device info, YK4_CAPABILITIES, gives it anyway), and the "reclaim" after
//! the key's CCID interface was used: for a while (about 3 s) the OTP
//! interface ignores what is written to it.
//!
//! Known simplifications: SLOT_UPDATE, SWAP, NDEF, challenge-response and device
//! configuration commands are refused.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::hid::codec::config::ext;
use crate::hid::codec::config::{SlotConfig, ACC_CODE_SIZE, CONFIG_SIZE};
use crate::hid::codec::crc::with_complemented_crc;
use crate::hid::codec::frame::{
    reply_reports, touch_level, FirmwareVersion, Frame, FrameAssembler, HidCommand, HidStatus,
    Slot, REPORT_DATA_LEN, REPORT_LEN, SEQUENCE_MASK, SLOT_WRITE_FLAG,
};
use crate::hid::codec::keyboard::KeyboardLayout;
use crate::hid::driver::transport::{HidTransport, TransportError};
use crate::otp::{code_at, Algorithm, CredentialKey, Digits, OtpError, Secret};

/// Errors touching the simulated key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatedKeyError {
    #[error("the simulated key is unplugged")]
    Unplugged,
    #[error("{0} is empty: touching it types nothing")]
    SlotEmpty(Slot),
    #[error("{0} is not an OATH-HOTP slot")]
    NotOathHotp(Slot),
    #[error("the HOTP counter of {0} is exhausted")]
    CounterOverflow(Slot),
    #[error(transparent)]
    Otp(#[from] OtpError),
}

/// What a touch types: the token identifier (may be empty), the code, and
/// whether Enter follows. `Debug` hides the code.
#[derive(Clone, PartialEq, Eq)]
pub struct Typed {
    pub token_id: String,
    pub code: String,
    pub enter: bool,
    /// The layout the host reads the typing with.
    pub layout: KeyboardLayout,
}

impl Typed {
    /// The characters the host reads, without the Enter key.
    pub fn text(&self) -> String {
        self.layout
            .typed(&format!("{}{}", self.token_id, self.code))
            .to_string()
    }
}

impl fmt::Debug for Typed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed")
            .field("token_id", &self.token_id)
            .field(
                "code",
                &format_args!("[redacted; {} digits]", self.code.len()),
            )
            .field("enter", &self.enter)
            .finish()
    }
}

#[derive(Debug)]
struct SimSlot {
    config: SlotConfig,
    counter: u64,
}

/// The simulated key. Share it with the driver through `&mut` or
/// `Arc<Mutex<_>>` (both are transports) and touch it in between. Its
/// `Debug` is derived: slot configurations and the frame assembler redact
/// the key bytes and access codes they hold.
#[derive(Debug)]
pub struct SimulatedKey {
    version: FirmwareVersion,
    serial: u32,
    pgm_seq: u8,
    slots: [Option<SimSlot>; 2],
    assembler: FrameAssembler,
    pending: VecDeque<[u8; REPORT_LEN]>,
    busy_reads_per_write: u8,
    busy_left: u8,
    unplugged: bool,
    unplug_after_writes: Option<u32>,
    reports_received: u64,
    frames_refused: u64,
    layout: KeyboardLayout,
    /// DEVICE_SERIAL answers (else only device info gives the serial).
    serial_api_visible: bool,
    /// How long the OTP interface ignores writes after CCID use.
    reclaim: Duration,
    reclaimed_until: Option<Instant>,
}

/// How long a YubiKey's OTP interface refuses commands after its CCID
/// interface was used (ykman retries 8 × 0.5 s for it).
pub const RECLAIM: Duration = Duration::from_secs(3);

impl SimulatedKey {
    /// A YubiKey 5 (firmware 5.4.3) with both slots empty.
    pub fn new(serial: u32) -> Self {
        SimulatedKey {
            version: FirmwareVersion::new(5, 4, 3),
            serial,
            pgm_seq: 0,
            slots: [None, None],
            assembler: FrameAssembler::new(),
            pending: VecDeque::new(),
            busy_reads_per_write: 0,
            busy_left: 0,
            unplugged: false,
            unplug_after_writes: None,
            reports_received: 0,
            frames_refused: 0,
            layout: KeyboardLayout::Qwerty,
            serial_api_visible: true,
            reclaim: RECLAIM,
            reclaimed_until: None,
        }
    }

    /// The station reads its typing with `layout`.
    pub fn with_layout(mut self, layout: KeyboardLayout) -> Self {
        self.layout = layout;
        self
    }

    /// A slot configured without SERIAL_API_VISIBLE (by someone else): the
    /// serial command is refused, device info still gives the serial.
    pub fn with_serial_hidden(mut self) -> Self {
        self.serial_api_visible = false;
        self
    }

    /// The key's CCID interface was just used: the OTP interface ignores
    /// writes for the reclaim time (3 s unless [`Self::with_reclaim`]).
    pub fn ccid_used(&mut self) {
        self.reclaimed_until = Some(Instant::now() + self.reclaim);
    }

    pub fn with_reclaim(mut self, reclaim: Duration) -> Self {
        self.reclaim = reclaim;
        self
    }

    fn reclaimed(&self) -> bool {
        self.reclaimed_until.is_some_and(|t| Instant::now() < t)
    }

    /// DEVICE_SERIAL answers only while every configured slot has
    /// SERIAL_API_VISIBLE.
    fn serial_visible(&self) -> bool {
        self.serial_api_visible
            && self
                .slots
                .iter()
                .flatten()
                .all(|s| s.config.flags().ext & ext::SERIAL_API_VISIBLE != 0)
    }

    pub fn with_version(mut self, version: FirmwareVersion) -> Self {
        self.version = version;
        self
    }

    /// After each written report, the next `reads` status reads show the busy
    /// bit, as a real key does while it takes the report in.
    pub fn with_busy_reads(mut self, reads: u8) -> Self {
        self.busy_reads_per_write = reads;
        self
    }

    /// Pulls the key out: every report fails until [`Self::plug_in`].
    pub fn unplug(&mut self) {
        self.unplugged = true;
        self.assembler.reset();
        self.pending.clear();
    }

    pub fn plug_in(&mut self) {
        self.unplugged = false;
    }

    /// Pulls the key out after `writes` more written reports (mid-frame faults).
    pub fn unplug_after_writes(&mut self, writes: u32) {
        self.unplug_after_writes = Some(writes);
    }

    pub fn status(&self) -> HidStatus {
        HidStatus {
            version: self.version,
            pgm_seq: self.pgm_seq,
            touch_level: self.touch_level(),
            flags: 0,
        }
    }

    /// The configuration a slot holds (key bytes inside; do not log).
    pub fn slot_config(&self, slot: Slot) -> Option<&SlotConfig> {
        self.slots[slot.index()].as_ref().map(|s| &s.config)
    }

    /// The counter the next touch of `slot` uses.
    pub fn counter(&self, slot: Slot) -> Option<u64> {
        self.slots[slot.index()].as_ref().map(|s| s.counter)
    }

    /// Reports taken in, and complete frames refused (bad sequence, CRC,
    /// access code or unsupported command): for tests of the seam.
    pub fn reports_received(&self) -> u64 {
        self.reports_received
    }

    pub fn frames_refused(&self) -> u64 {
        self.frames_refused
    }

    /// Touches the key over `slot`: types the token identifier and the next
    /// HOTP code, then advances the counter.
    pub fn touch(&mut self, slot: Slot) -> Result<Typed, SimulatedKeyError> {
        if self.unplugged {
            return Err(SimulatedKeyError::Unplugged);
        }
        let state = self.slots[slot.index()]
            .as_mut()
            .ok_or(SimulatedKeyError::SlotEmpty(slot))?;
        if !state.config.is_oath_hotp() {
            return Err(SimulatedKeyError::NotOathHotp(slot));
        }
        let key = state.config.hotp_key();
        let secret = Secret::new(Zeroizing::new(key.expose().to_vec()))?;
        let credential = CredentialKey::new(Algorithm::Sha1, &secret);
        let digits = Digits::new(state.config.hotp_digits())?;
        let code = code_at(&credential, state.counter, digits);
        state.counter = state
            .counter
            .checked_add(1)
            .ok_or(SimulatedKeyError::CounterOverflow(slot))?;
        Ok(Typed {
            token_id: state.config.typed_token_id(),
            code: code.to_string(),
            enter: state.config.appends_cr(),
            layout: self.layout,
        })
    }

    fn touch_level(&self) -> u16 {
        let mut level = 0;
        for (slot, valid, touch) in [
            (
                Slot::One,
                touch_level::SLOT1_VALID,
                touch_level::SLOT1_TOUCH,
            ),
            (
                Slot::Two,
                touch_level::SLOT2_VALID,
                touch_level::SLOT2_TOUCH,
            ),
        ] {
            if let Some(state) = &self.slots[slot.index()] {
                level |= valid;
                // Keyboard modes fire on touch; challenge-response ones do not.
                let flags = state.config.flags();
                let chal_resp = flags.tkt & crate::hid::codec::config::tkt::OATH_HOTP != 0
                    && flags.cfg & crate::hid::codec::config::cfg::CHAL_YUBICO != 0;
                if !chal_resp {
                    level |= touch;
                }
            }
        }
        level
    }

    fn execute(&mut self, frame: &Frame) {
        let accepted = match frame.command() {
            Some(HidCommand::Config1) => self.configure(Slot::One, frame.payload()),
            Some(HidCommand::Config2) => self.configure(Slot::Two, frame.payload()),
            Some(HidCommand::DeviceSerial) if self.serial_visible() => {
                let reply = with_complemented_crc(&self.serial.to_be_bytes());
                self.pending = reply_reports(&reply).into();
                true
            }
            Some(HidCommand::Yk4Capabilities) => {
                // L ‖ TLV: capabilities (OTP, OATH), serial, firmware.
                let v = self.version;
                let mut info = vec![0x01, 0x02, 0x00, 0x21, 0x02, 0x04];
                info.extend_from_slice(&self.serial.to_be_bytes());
                info.extend_from_slice(&[0x05, 0x03, v.major, v.minor, v.build]);
                info.insert(0, info.len() as u8);
                self.pending = reply_reports(&with_complemented_crc(&info)).into();
                true
            }
            _ => false,
        };
        if !accepted {
            self.frames_refused += 1;
        }
    }

    /// CONFIG_1/CONFIG_2: `config(52) ‖ current access code(6)`. A slot with an
    /// access code is only rewritten or deleted with that code.
    fn configure(&mut self, slot: Slot, payload: &[u8]) -> bool {
        let (config, rest) = payload.split_at(CONFIG_SIZE);
        let mut current = Zeroizing::new([0u8; ACC_CODE_SIZE]);
        current.copy_from_slice(&rest[..ACC_CODE_SIZE]);
        if let Some(existing) = &self.slots[slot.index()] {
            let stored = existing.config.access_code();
            let protected = stored.iter().any(|&b| b != 0);
            let matches: bool = subtle::ConstantTimeEq::ct_eq(&stored[..], &current[..]).into();
            if protected && !matches {
                return false;
            }
        }
        if config.iter().all(|&b| b == 0) {
            self.slots[slot.index()] = None;
        } else {
            let Ok(parsed) = SlotConfig::parse(config) else {
                return false;
            };
            let counter = u64::from(parsed.hotp_imf());
            self.slots[slot.index()] = Some(SimSlot {
                config: parsed,
                counter,
            });
        }
        // pgmSeq counts accepted writes and drops to 0 with no valid slot left.
        self.pgm_seq = if self.slots.iter().all(Option::is_none) {
            0
        } else {
            self.pgm_seq.wrapping_add(1)
        };
        true
    }
}

impl HidTransport for SimulatedKey {
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        if self.unplugged {
            return Err(TransportError::Disconnected);
        }
        if let Some(left) = self.unplug_after_writes {
            if left == 0 {
                self.unplug();
                self.unplug_after_writes = None;
                return Err(TransportError::Disconnected);
            }
            self.unplug_after_writes = Some(left - 1);
        }
        self.reports_received += 1;
        if self.reclaimed() {
            // The CCID interface has the key: written reports are lost.
            return Ok(());
        }
        let status = report[REPORT_DATA_LEN];
        if status & SLOT_WRITE_FLAG != 0 && status & SEQUENCE_MASK > 9 {
            // RESET (0xFF) or DUMMY_REPORT_WRITE (0x8F): leave read mode, drop
            // any partial frame.
            self.pending.clear();
            self.assembler.reset();
            return Ok(());
        }
        if self.busy_left > 0 {
            // Written while busy: the key drops it, and the frame it belonged
            // to fails its sequence or CRC check.
            self.assembler.reset();
            return Ok(());
        }
        self.busy_left = self.busy_reads_per_write;
        match self.assembler.push(report) {
            Ok(Some(frame)) => self.execute(&frame),
            Ok(None) => {}
            Err(_) => self.frames_refused += 1,
        }
        Ok(())
    }

    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        if self.unplugged {
            return Err(TransportError::Disconnected);
        }
        if self.busy_left > 0 {
            self.busy_left -= 1;
            let mut status = self.status();
            status.flags = SLOT_WRITE_FLAG;
            return Ok(status.to_report());
        }
        if let Some(report) = self.pending.pop_front() {
            return Ok(report);
        }
        Ok(self.status().to_report())
    }
}
