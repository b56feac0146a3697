//! The driver: status, serial, program and delete an OTP slot, over any
//! [`HidTransport`]. The exchange is yubikit's `OtpProtocol`: read pgmSeq, send
//! each report once the busy bit is clear, then read until the reply or a
//! status whose pgmSeq proves the write. Pauses go through [`Sleep`], so tests
//! run without waiting.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::hid::codec::config::{delete_frame, write_frame, AccessCode, HotpConfig};
use crate::hid::codec::frame::{
    device_info_frame, parse_device_info_serial, parse_serial_reply, serial_frame, FirmwareVersion,
    Frame, HidCommand, HidStatus, ReadStep, ReplyReader, Slot, RESET_READ_REPORT,
};
use crate::hid::driver::transport::{HidTransport, TransportError};
use crate::hid::CodecError;

/// Errors of the driver. `Transport(Disconnected)` is an unplug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HidError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the key stayed busy for over a second; unplug and retry")]
    NotReady,
    #[error("the key gave no answer within {seconds} s")]
    ResponseTimeout { seconds: u64 },
    #[error("the key waited for a touch that did not come")]
    TouchTimeout,
    #[error(
        "the key refused the command (pgmSeq {pgm_seq_before} then {pgm_seq_after}): \
         for a write, the access code is wrong or the slot is protected"
    )]
    Rejected {
        pgm_seq_before: u8,
        pgm_seq_after: u8,
    },
    #[error("the key's reply stopped before its end")]
    IncompleteReply,
    #[error("the key answered with {got} where {expected} was expected")]
    UnexpectedAnswer {
        expected: &'static str,
        got: &'static str,
    },
    #[error("firmware {version} cannot hold OATH-HOTP slots (2.2.0 or later needed)")]
    Unsupported { version: FirmwareVersion },
}

/// How the driver pauses between polls.
pub trait Sleep {
    fn sleep(&mut self, duration: Duration);
}

/// Real pauses.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleep;

impl Sleep for ThreadSleep {
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

impl<F: FnMut(Duration)> Sleep for F {
    fn sleep(&mut self, duration: Duration) {
        self(duration);
    }
}

/// yubikit `_await_ready_to_write`: 20 polls 50 ms apart.
const READY_POLLS: u32 = 20;
const READY_PAUSE: Duration = Duration::from_millis(50);
const PROCESSING_PAUSE: Duration = Duration::from_millis(20);
const TOUCH_PAUSE: Duration = Duration::from_millis(100);
/// Bounds on waiting for an answer (yubikit waits until cancelled). The device
/// gives up on a touch by itself after about 15 s.
const MAX_PROCESSING: Duration = Duration::from_secs(3);
const MAX_TOUCH: Duration = Duration::from_secs(30);
/// A reply has at most 32 data reports; a device that keeps sending reports
/// out of sequence (which yubikit skips forever) is cut off here.
const MAX_DATA_READS: u32 = 256;

/// What a frame got back.
enum Reply {
    Data(Zeroizing<Vec<u8>>),
    Written(HidStatus),
}

/// An open YubiKey OTP interface.
#[derive(Debug)]
pub struct OtpDevice<T, S = ThreadSleep> {
    transport: T,
    sleep: S,
    status: HidStatus,
}

impl<T: HidTransport> OtpDevice<T, ThreadSleep> {
    /// Opens the driver on a transport and reads the status.
    pub fn open(transport: T) -> Result<Self, HidError> {
        Self::open_with(transport, ThreadSleep)
    }
}

impl<T: HidTransport, S: Sleep> OtpDevice<T, S> {
    pub fn open_with(mut transport: T, sleep: S) -> Result<Self, HidError> {
        let status = HidStatus::from_report(&transport.get_feature_report()?);
        let mut device = OtpDevice {
            transport,
            sleep,
            status,
        };
        if status.version.major == 3 {
            // NEO: its arbitrator may cache pgmSeq; an invalid scan map makes it
            // ask the applet (yubikit does the same and expects a refusal).
            let frame = Frame::new(HidCommand::ScanMap, &[b'c'; 51])?;
            match device.send_and_receive(&frame) {
                Ok(_) | Err(HidError::Rejected { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(device)
    }

    pub fn version(&self) -> FirmwareVersion {
        self.status.version
    }

    /// The status as of the last read or accepted write.
    pub fn last_status(&self) -> HidStatus {
        self.status
    }

    pub fn read_status(&mut self) -> Result<HidStatus, HidError> {
        self.status = HidStatus::from_report(&self.transport.get_feature_report()?);
        Ok(self.status)
    }

    /// The serial as ykman reads it: from device info (YK4_CAPABILITIES,
    /// tag 02), which a key gives even when a slot hides its serial from the
    /// API; else (firmware before 4.1, or no tag) DEVICE_SERIAL.
    pub fn serial(&mut self) -> Result<u32, HidError> {
        match self.send_and_receive(&device_info_frame()) {
            Ok(Reply::Data(data)) => {
                if let Ok(Some(serial)) = parse_device_info_serial(&data) {
                    return Ok(serial);
                }
            }
            Ok(Reply::Written(_)) | Err(HidError::Rejected { .. }) => {}
            Err(other) => return Err(other),
        }
        self.api_serial()
    }

    /// DEVICE_SERIAL. A key that hides its serial refuses ([`HidError::Rejected`]).
    pub fn api_serial(&mut self) -> Result<u32, HidError> {
        match self.send_and_receive(&serial_frame())? {
            Reply::Data(data) => Ok(parse_serial_reply(&data)?),
            Reply::Written(_) => Err(HidError::UnexpectedAnswer {
                expected: "serial data",
                got: "a status",
            }),
        }
    }

    /// Writes an OATH-HOTP configuration to `slot`. `new_code` protects the slot
    /// from now on; `current` is the code it is protected with now. Returns the
    /// status that proves the write (pgmSeq advanced).
    pub fn program_hotp(
        &mut self,
        slot: Slot,
        config: &HotpConfig,
        new_code: Option<&AccessCode>,
        current: Option<&AccessCode>,
    ) -> Result<HidStatus, HidError> {
        let version = self.version();
        // yubikit HotpSlotConfiguration.is_supported_by: 2.2+, or a dev key (0.x).
        if version < FirmwareVersion::new(2, 2, 0) && version.major != 0 {
            return Err(HidError::Unsupported { version });
        }
        let slot_config = config.to_slot_config(new_code);
        self.write(&write_frame(slot, &slot_config, current))
    }

    /// Deletes `slot`'s configuration, proving `current` if it is protected.
    pub fn delete_slot(
        &mut self,
        slot: Slot,
        current: Option<&AccessCode>,
    ) -> Result<HidStatus, HidError> {
        self.write(&delete_frame(slot, current))
    }

    /// Gives the transport back (to close it, or to touch a simulated key).
    pub fn into_inner(self) -> T {
        self.transport
    }

    fn write(&mut self, frame: &Frame) -> Result<HidStatus, HidError> {
        match self.send_and_receive(frame)? {
            Reply::Written(status) => {
                self.status = status;
                Ok(status)
            }
            Reply::Data(_) => Err(HidError::UnexpectedAnswer {
                expected: "a status",
                got: "data",
            }),
        }
    }

    fn send_and_receive(&mut self, frame: &Frame) -> Result<Reply, HidError> {
        let before = HidStatus::from_report(&self.transport.get_feature_report()?);
        for report in frame.reports() {
            self.await_ready_to_write()?;
            self.transport.send_feature_report(report.as_bytes())?;
        }
        self.read_reply(before.pgm_seq)
    }

    fn await_ready_to_write(&mut self) -> Result<(), HidError> {
        for poll in 0..READY_POLLS {
            let status = HidStatus::from_report(&self.transport.get_feature_report()?);
            if !status.is_busy() {
                return Ok(());
            }
            if poll + 1 < READY_POLLS {
                self.sleep.sleep(READY_PAUSE);
            }
        }
        Err(HidError::NotReady)
    }

    fn read_reply(&mut self, pgm_seq_before: u8) -> Result<Reply, HidError> {
        let mut reader = ReplyReader::new(pgm_seq_before);
        let mut waited_processing = Duration::ZERO;
        let mut waited_touch = Duration::ZERO;
        let mut data_reads = 0u32;
        loop {
            let report = self.transport.get_feature_report()?;
            match reader.feed(&report) {
                ReadStep::Continue => {
                    data_reads += 1;
                    if data_reads > MAX_DATA_READS {
                        return Err(HidError::IncompleteReply);
                    }
                }
                ReadStep::Wait { touch: false } => {
                    if waited_processing >= MAX_PROCESSING {
                        return Err(HidError::ResponseTimeout {
                            seconds: MAX_PROCESSING.as_secs(),
                        });
                    }
                    self.sleep.sleep(PROCESSING_PAUSE);
                    waited_processing += PROCESSING_PAUSE;
                }
                ReadStep::Wait { touch: true } => {
                    if waited_touch >= MAX_TOUCH {
                        self.transport.send_feature_report(&RESET_READ_REPORT)?;
                        return Err(HidError::TouchTimeout);
                    }
                    self.sleep.sleep(TOUCH_PAUSE);
                    waited_touch += TOUCH_PAUSE;
                }
                ReadStep::Data(data) => {
                    self.transport.send_feature_report(&RESET_READ_REPORT)?;
                    return Ok(Reply::Data(data));
                }
                ReadStep::Written(status) => return Ok(Reply::Written(status)),
                ReadStep::Rejected {
                    pgm_seq_before,
                    pgm_seq_after,
                } => {
                    return Err(HidError::Rejected {
                        pgm_seq_before,
                        pgm_seq_after,
                    })
                }
                ReadStep::TouchTimeout => return Err(HidError::TouchTimeout),
                ReadStep::Incomplete => return Err(HidError::IncompleteReply),
            }
        }
    }
}
