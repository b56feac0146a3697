//! Frames, feature reports and status of the YubiKey OTP HID protocol, as
//! Yubico's yubikit speaks it (`docs/protocols.md`, OTP HID). Pure: callers
//! move the 8-byte reports.
//!
//! A command travels as one 70-byte frame, `payload[64] ‖ command ‖ CRC16(payload)
//! LE ‖ 00 00 00`, cut into ten 7-byte parts, each sent as `part ‖ (0x80 | seq)`;
//! all-zero parts are skipped except the first and the last. Every read of a
//! feature report returns the status (or, while a reply is pending, 7 bytes of
//! reply data with `0x40 | seq`).

use std::fmt;

use zeroize::Zeroizing;

use super::crc::{crc16, crc_ok};
use crate::hid::CodecError;

/// Size of a feature report without the HID report id (always 0 here).
pub const REPORT_LEN: usize = 8;
/// Data bytes in one report; the eighth byte is the sequence/status byte.
pub const REPORT_DATA_LEN: usize = REPORT_LEN - 1;
/// Command data in a frame, zero-padded.
pub const PAYLOAD_LEN: usize = 64;
/// payload ‖ command ‖ crc(2) ‖ 3 zero bytes.
pub const FRAME_LEN: usize = PAYLOAD_LEN + 6;
/// A frame is sent as this many 7-byte parts, seq 0 to 9.
pub const FRAME_PARTS: u8 = (FRAME_LEN / REPORT_DATA_LEN) as u8;
const LAST_PART: u8 = FRAME_PARTS - 1;

/// Byte 7 of a report the host writes: "this is part of a frame".
pub const SLOT_WRITE_FLAG: u8 = 0x80;
/// Byte 7 of a report the device returns: reply data is pending.
pub const RESP_PENDING_FLAG: u8 = 0x40;
/// Byte 7 of a report the device returns: waiting for a touch.
pub const RESP_TIMEOUT_WAIT_FLAG: u8 = 0x20;
/// Sequence number bits of byte 7.
pub const SEQUENCE_MASK: u8 = 0x1F;
/// The report that ends read mode after a reply (yubikit `_reset_state`).
pub const RESET_READ_REPORT: [u8; REPORT_LEN] = [0, 0, 0, 0, 0, 0, 0, 0xFF];
/// ykdef.h `DUMMY_REPORT_WRITE`: a write that only forces an update or aborts.
pub const DUMMY_REPORT_WRITE: u8 = 0x8F;

const STATUS_OFFSET_PROG_SEQ: usize = 4;
const STATUS_OFFSET_TOUCH_LOW: usize = 5;
/// Low touchLevel bits that say some slot holds a valid configuration.
const CONFIG_STATUS_MASK: u8 = 0x1F;

/// One of the two OTP slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    One,
    Two,
}

impl Slot {
    pub const ALL: [Slot; 2] = [Slot::One, Slot::Two];

    /// 1 or 2, as ykman and ykpersonalize number them.
    pub fn number(self) -> u8 {
        match self {
            Slot::One => 1,
            Slot::Two => 2,
        }
    }

    pub fn from_number(number: u8) -> Result<Slot, CodecError> {
        match number {
            1 => Ok(Slot::One),
            2 => Ok(Slot::Two),
            other => Err(CodecError::BadSlot(other)),
        }
    }

    /// The command that writes or deletes this slot's configuration.
    pub fn config_command(self) -> HidCommand {
        match self {
            Slot::One => HidCommand::Config1,
            Slot::Two => HidCommand::Config2,
        }
    }

    /// Index (0 or 1) into per-slot tables.
    pub fn index(self) -> usize {
        match self {
            Slot::One => 0,
            Slot::Two => 1,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}", self.number())
    }
}

/// The slot/command byte of a frame (yubikit `CONFIG_SLOT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HidCommand {
    Config1,
    Nav,
    Config2,
    Update1,
    Update2,
    Swap,
    Ndef1,
    Ndef2,
    DeviceSerial,
    DeviceConfig,
    ScanMap,
    Yk4Capabilities,
    Yk4SetDeviceInfo,
    ChalOtp1,
    ChalOtp2,
    ChalHmac1,
    ChalHmac2,
}

impl HidCommand {
    const ALL: [HidCommand; 17] = [
        HidCommand::Config1,
        HidCommand::Nav,
        HidCommand::Config2,
        HidCommand::Update1,
        HidCommand::Update2,
        HidCommand::Swap,
        HidCommand::Ndef1,
        HidCommand::Ndef2,
        HidCommand::DeviceSerial,
        HidCommand::DeviceConfig,
        HidCommand::ScanMap,
        HidCommand::Yk4Capabilities,
        HidCommand::Yk4SetDeviceInfo,
        HidCommand::ChalOtp1,
        HidCommand::ChalOtp2,
        HidCommand::ChalHmac1,
        HidCommand::ChalHmac2,
    ];

    pub fn code(self) -> u8 {
        match self {
            HidCommand::Config1 => 0x01,
            HidCommand::Nav => 0x02,
            HidCommand::Config2 => 0x03,
            HidCommand::Update1 => 0x04,
            HidCommand::Update2 => 0x05,
            HidCommand::Swap => 0x06,
            HidCommand::Ndef1 => 0x08,
            HidCommand::Ndef2 => 0x09,
            HidCommand::DeviceSerial => 0x10,
            HidCommand::DeviceConfig => 0x11,
            HidCommand::ScanMap => 0x12,
            HidCommand::Yk4Capabilities => 0x13,
            HidCommand::Yk4SetDeviceInfo => 0x15,
            HidCommand::ChalOtp1 => 0x20,
            HidCommand::ChalOtp2 => 0x28,
            HidCommand::ChalHmac1 => 0x30,
            HidCommand::ChalHmac2 => 0x38,
        }
    }

    pub fn from_code(code: u8) -> Option<HidCommand> {
        Self::ALL.into_iter().find(|command| command.code() == code)
    }
}

/// One 8-byte feature report the host writes. It may carry key bytes, so it is
/// wiped on drop and its `Debug` shows only the sequence byte.
#[derive(Clone, PartialEq, Eq)]
pub struct FeatureReport(Zeroizing<[u8; REPORT_LEN]>);

impl FeatureReport {
    pub fn new(bytes: [u8; REPORT_LEN]) -> Self {
        FeatureReport(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; REPORT_LEN] {
        &self.0
    }
}

impl fmt::Debug for FeatureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FeatureReport([redacted] seq byte {:#04x})",
            self.0[REPORT_DATA_LEN]
        )
    }
}

/// A 70-byte command frame. Wiped on drop; `Debug` shows only the command.
#[derive(Clone)]
pub struct Frame(Zeroizing<[u8; FRAME_LEN]>);

impl Frame {
    /// Builds the frame of `command` with `payload` zero-padded to 64 bytes.
    pub fn new(command: HidCommand, payload: &[u8]) -> Result<Frame, CodecError> {
        Frame::with_code(command.code(), payload)
    }

    fn with_code(code: u8, payload: &[u8]) -> Result<Frame, CodecError> {
        if payload.len() > PAYLOAD_LEN {
            return Err(CodecError::PayloadTooLong {
                len: payload.len(),
                max: PAYLOAD_LEN,
            });
        }
        let mut padded = Zeroizing::new([0u8; PAYLOAD_LEN]);
        padded[..payload.len()].copy_from_slice(payload);
        Ok(Frame::from_padded(code, &padded))
    }

    pub(crate) fn from_padded(code: u8, payload: &[u8; PAYLOAD_LEN]) -> Frame {
        let mut bytes = Zeroizing::new([0u8; FRAME_LEN]);
        bytes[..PAYLOAD_LEN].copy_from_slice(payload);
        bytes[PAYLOAD_LEN] = code;
        let crc = crc16(payload).to_le_bytes();
        bytes[PAYLOAD_LEN + 1..PAYLOAD_LEN + 3].copy_from_slice(&crc);
        Frame(bytes)
    }

    /// The raw command byte (a [`HidCommand`] code, or anything a host sent).
    pub fn command_code(&self) -> u8 {
        self.0[PAYLOAD_LEN]
    }

    pub fn command(&self) -> Option<HidCommand> {
        HidCommand::from_code(self.command_code())
    }

    pub fn payload(&self) -> &[u8] {
        &self.0[..PAYLOAD_LEN]
    }

    pub fn as_bytes(&self) -> &[u8; FRAME_LEN] {
        &self.0
    }

    /// The reports to send, in order: all-zero parts are skipped except seq 0
    /// and seq 9 (yubikit `_should_send`).
    pub fn reports(&self) -> Vec<FeatureReport> {
        self.0
            .chunks_exact(REPORT_DATA_LEN)
            .zip(0u8..)
            .filter(|(part, seq)| *seq == 0 || *seq == LAST_PART || part.iter().any(|&b| b != 0))
            .map(|(part, seq)| {
                let mut report = [0u8; REPORT_LEN];
                report[..REPORT_DATA_LEN].copy_from_slice(part);
                report[REPORT_DATA_LEN] = SLOT_WRITE_FLAG | seq;
                FeatureReport::new(report)
            })
            .collect()
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("command", &format_args!("{:#04x}", self.command_code()))
            .finish_non_exhaustive()
    }
}

/// The device side of [`Frame::reports`]: reassembles a frame from the reports
/// a host writes, checking sequence order and the frame CRC.
pub struct FrameAssembler {
    buf: Zeroizing<[u8; FRAME_LEN]>,
    /// The last sequence number accepted in the current frame; `None` until a
    /// part with seq 0 starts one.
    last_seq: Option<u8>,
}

impl fmt::Debug for FrameAssembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameAssembler")
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

impl Default for FrameAssembler {
    fn default() -> Self {
        FrameAssembler {
            buf: Zeroizing::new([0u8; FRAME_LEN]),
            last_seq: None,
        }
    }
}

impl FrameAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets any partial frame.
    pub fn reset(&mut self) {
        self.buf = Zeroizing::new([0u8; FRAME_LEN]);
        self.last_seq = None;
    }

    /// Takes one written report. Returns the frame once its last part (seq 9)
    /// arrives. A report out of order or a frame with a bad CRC drops the
    /// partial frame and is an error, as the device ignores such a command.
    pub fn push(&mut self, report: &[u8; REPORT_LEN]) -> Result<Option<Frame>, CodecError> {
        let status = report[REPORT_DATA_LEN];
        if status & SLOT_WRITE_FLAG == 0 {
            self.reset();
            return Err(CodecError::NotAFramePart { status });
        }
        let seq = status & SEQUENCE_MASK;
        if seq > LAST_PART {
            self.reset();
            return Err(CodecError::BadSequence { seq });
        }
        if seq == 0 {
            self.reset();
        } else if self.last_seq.is_none_or(|last| seq <= last) {
            self.reset();
            return Err(CodecError::BadSequence { seq });
        }
        let at = usize::from(seq) * REPORT_DATA_LEN;
        self.buf[at..at + REPORT_DATA_LEN].copy_from_slice(&report[..REPORT_DATA_LEN]);
        self.last_seq = Some(seq);
        if seq != LAST_PART {
            return Ok(None);
        }
        let mut payload = Zeroizing::new([0u8; PAYLOAD_LEN]);
        payload.copy_from_slice(&self.buf[..PAYLOAD_LEN]);
        let code = self.buf[PAYLOAD_LEN];
        let sent_crc = u16::from_le_bytes([self.buf[PAYLOAD_LEN + 1], self.buf[PAYLOAD_LEN + 2]]);
        self.reset();
        if crc16(&payload[..]) != sent_crc {
            return Err(CodecError::BadFrameCrc);
        }
        Ok(Some(Frame::from_padded(code, &payload)))
    }
}

/// Firmware version from the status report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u8,
}

impl FirmwareVersion {
    pub const fn new(major: u8, minor: u8, build: u8) -> Self {
        FirmwareVersion {
            major,
            minor,
            build,
        }
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// touchLevel bits (yubikit `CFGSTATE`).
pub mod touch_level {
    pub const SLOT1_VALID: u16 = 0x01;
    pub const SLOT2_VALID: u16 = 0x02;
    pub const SLOT1_TOUCH: u16 = 0x04;
    pub const SLOT2_TOUCH: u16 = 0x08;
    pub const LED_INV: u16 = 0x10;
}

/// A status report: what every plain read of a feature report returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HidStatus {
    pub version: FirmwareVersion,
    /// Programming sequence: advances on each accepted write, 0 when no slot
    /// holds a valid configuration.
    pub pgm_seq: u8,
    pub touch_level: u16,
    /// Byte 7: [`SLOT_WRITE_FLAG`], [`RESP_PENDING_FLAG`],
    /// [`RESP_TIMEOUT_WAIT_FLAG`] and a sequence number.
    pub flags: u8,
}

impl HidStatus {
    /// Parses a report; anything but exactly 8 bytes is an error.
    pub fn parse(report: &[u8]) -> Result<HidStatus, CodecError> {
        let report: &[u8; REPORT_LEN] = report
            .try_into()
            .map_err(|_| CodecError::ReportLength { len: report.len() })?;
        Ok(HidStatus::from_report(report))
    }

    pub fn from_report(report: &[u8; REPORT_LEN]) -> HidStatus {
        HidStatus {
            version: FirmwareVersion::new(report[1], report[2], report[3]),
            pgm_seq: report[STATUS_OFFSET_PROG_SEQ],
            touch_level: u16::from_le_bytes([report[5], report[6]]),
            flags: report[REPORT_DATA_LEN],
        }
    }

    pub fn to_report(&self) -> [u8; REPORT_LEN] {
        let touch = self.touch_level.to_le_bytes();
        [
            0,
            self.version.major,
            self.version.minor,
            self.version.build,
            self.pgm_seq,
            touch[0],
            touch[1],
            self.flags,
        ]
    }

    /// The device is still taking in a written report.
    pub fn is_busy(&self) -> bool {
        self.flags & SLOT_WRITE_FLAG != 0
    }

    pub fn slot_configured(&self, slot: Slot) -> bool {
        let bit = match slot {
            Slot::One => touch_level::SLOT1_VALID,
            Slot::Two => touch_level::SLOT2_VALID,
        };
        self.touch_level & bit != 0
    }

    pub fn slot_touch_triggered(&self, slot: Slot) -> bool {
        let bit = match slot {
            Slot::One => touch_level::SLOT1_TOUCH,
            Slot::Two => touch_level::SLOT2_TOUCH,
        };
        self.touch_level & bit != 0
    }
}

/// The programming-sequence check after a write (yubikit `_read_frame`):
/// pgmSeq advanced by one, or fell to 0 because no valid configuration is left.
pub fn write_succeeded(pgm_seq_before: u8, after: &[u8; REPORT_LEN]) -> bool {
    let next = after[STATUS_OFFSET_PROG_SEQ];
    u16::from(next) == u16::from(pgm_seq_before) + 1
        || (pgm_seq_before > 0
            && next == 0
            && after[STATUS_OFFSET_TOUCH_LOW] & CONFIG_STATUS_MASK == 0)
}

/// What to do after feeding one report to a [`ReplyReader`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadStep {
    /// A data report was taken; read again.
    Continue,
    /// The device is working (or waiting for a touch); pause and read again.
    Wait { touch: bool },
    /// A data reply is complete (still with its CRC). The host must now send
    /// [`RESET_READ_REPORT`].
    Data(Zeroizing<Vec<u8>>),
    /// A write was accepted: the new status.
    Written(HidStatus),
    /// The device answered with a status whose pgmSeq did not advance.
    Rejected {
        pgm_seq_before: u8,
        pgm_seq_after: u8,
    },
    /// The device stopped waiting for a touch that did not come.
    TouchTimeout,
    /// A status arrived after some reply data and before its end.
    Incomplete,
}

/// Most data a reply can carry before the 5-bit sequence wraps; bounds memory.
const MAX_REPLY_LEN: usize = (SEQUENCE_MASK as usize + 1) * REPORT_DATA_LEN;

/// Reads the answer to one frame, report by report (yubikit `_read_frame`).
pub struct ReplyReader {
    pgm_seq_before: u8,
    data: Zeroizing<Vec<u8>>,
    seq: u8,
    needs_touch: bool,
}

impl fmt::Debug for ReplyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyReader")
            .field("pgm_seq_before", &self.pgm_seq_before)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl ReplyReader {
    /// `pgm_seq_before` is the pgmSeq read just before the frame was sent.
    pub fn new(pgm_seq_before: u8) -> Self {
        ReplyReader {
            pgm_seq_before,
            data: Zeroizing::new(Vec::new()),
            seq: 0,
            needs_touch: false,
        }
    }

    pub fn feed(&mut self, report: &[u8; REPORT_LEN]) -> ReadStep {
        let status = report[REPORT_DATA_LEN];
        if status & RESP_PENDING_FLAG != 0 {
            let seq = status & SEQUENCE_MASK;
            if seq == self.seq && self.data.len() < MAX_REPLY_LEN {
                self.data.extend_from_slice(&report[..REPORT_DATA_LEN]);
                self.seq = self.seq.saturating_add(1);
                ReadStep::Continue
            } else if seq == 0 {
                ReadStep::Data(std::mem::take(&mut self.data))
            } else {
                // yubikit ignores an out-of-order data report and reads on.
                ReadStep::Continue
            }
        } else if status == 0 {
            if !self.data.is_empty() {
                ReadStep::Incomplete
            } else if write_succeeded(self.pgm_seq_before, report) {
                ReadStep::Written(HidStatus::from_report(report))
            } else if self.needs_touch {
                ReadStep::TouchTimeout
            } else {
                ReadStep::Rejected {
                    pgm_seq_before: self.pgm_seq_before,
                    pgm_seq_after: report[STATUS_OFFSET_PROG_SEQ],
                }
            }
        } else {
            let touch = status & RESP_TIMEOUT_WAIT_FLAG != 0;
            self.needs_touch |= touch;
            ReadStep::Wait { touch }
        }
    }
}

/// The data reports a device returns for `reply` (data already followed by its
/// CRC), then the end marker (pending flag, seq 0).
pub fn reply_reports(reply: &[u8]) -> Vec<[u8; REPORT_LEN]> {
    let mut reports: Vec<[u8; REPORT_LEN]> = reply
        .chunks(REPORT_DATA_LEN)
        .zip(0u8..)
        .map(|(part, seq)| {
            let mut report = [0u8; REPORT_LEN];
            report[..part.len()].copy_from_slice(part);
            report[REPORT_DATA_LEN] = RESP_PENDING_FLAG | (seq & SEQUENCE_MASK);
            report
        })
        .collect();
    reports.push([0, 0, 0, 0, 0, 0, 0, RESP_PENDING_FLAG]);
    reports
}

/// Checks the CRC of a data reply carrying `expected_len` bytes and returns
/// those bytes (yubikit `_YubiOtpOtpBackend.send_and_receive`).
pub fn check_reply(reply: &[u8], expected_len: usize) -> Result<&[u8], CodecError> {
    let with_crc = reply
        .get(..expected_len + 2)
        .ok_or(CodecError::ReplyTooShort {
            len: reply.len(),
            expected: expected_len + 2,
        })?;
    if !crc_ok(with_crc) {
        return Err(CodecError::BadReplyCrc);
    }
    Ok(&with_crc[..expected_len])
}

/// The DEVICE_SERIAL command frame (empty payload).
pub fn serial_frame() -> Frame {
    Frame::from_padded(HidCommand::DeviceSerial.code(), &[0u8; PAYLOAD_LEN])
}

/// Parses the DEVICE_SERIAL reply: a 4-byte big-endian serial and its CRC.
pub fn parse_serial_reply(reply: &[u8]) -> Result<u32, CodecError> {
    let serial = check_reply(reply, 4)?;
    let bytes: [u8; 4] = serial.try_into().map_err(|_| CodecError::ReplyTooShort {
        len: reply.len(),
        expected: 6,
    })?;
    Ok(u32::from_be_bytes(bytes))
}

/// The YK4_CAPABILITIES (device info) command frame (empty payload). Its
/// reply is `L ‖ TLV` (the management applet's device info) and a CRC; tag
/// 02 is the serial, given whatever the slots' "serial visible" flags.
pub fn device_info_frame() -> Frame {
    Frame::from_padded(HidCommand::Yk4Capabilities.code(), &[0u8; PAYLOAD_LEN])
}

/// The serial (tag 02) of a device info reply, `None` when it has none.
pub fn parse_device_info_serial(reply: &[u8]) -> Result<Option<u32>, CodecError> {
    let len = usize::from(*reply.first().ok_or(CodecError::ReplyTooShort {
        len: 0,
        expected: 3,
    })?);
    let info = check_reply(reply, 1 + len)?;
    let mut tlvs = info.get(1..).unwrap_or_default();
    while let [tag, len, rest @ ..] = tlvs {
        let (value, next) = rest
            .split_at_checked(usize::from(*len))
            .ok_or(CodecError::BadReplyCrc)?;
        if *tag == 0x02 {
            return Ok(<[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes));
        }
        tlvs = next;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_info_reply_gives_the_serial() {
        let info = [
            0x0A, 0x01, 0x02, 0x00, 0x3F, 0x02, 0x04, 0x00, 0xBC, 0x61, 0x4E,
        ];
        let reply = crate::hid::codec::crc::with_complemented_crc(&info);
        assert_eq!(parse_device_info_serial(&reply), Ok(Some(12_345_678)));
        let mut bad = reply.clone();
        bad[3] ^= 1;
        assert_eq!(parse_device_info_serial(&bad), Err(CodecError::BadReplyCrc));
        assert!(parse_device_info_serial(&[]).is_err());
    }

    #[test]
    fn serial_frame_sends_first_command_and_last_parts_only() {
        let frame = serial_frame();
        let reports = frame.reports();
        let seqs: Vec<u8> = reports
            .iter()
            .map(|r| r.as_bytes()[7] & SEQUENCE_MASK)
            .collect();
        assert_eq!(seqs, vec![0, 9]);
        assert_eq!(frame.command(), Some(HidCommand::DeviceSerial));
    }

    #[test]
    fn command_codes_round_trip() {
        for command in HidCommand::ALL {
            assert_eq!(HidCommand::from_code(command.code()), Some(command));
        }
        assert_eq!(HidCommand::from_code(0x07), None);
    }

    #[test]
    fn assembler_round_trips_and_refuses_disorder() {
        let frame = Frame::new(HidCommand::Config2, &[7u8; 58]).unwrap();
        let mut asm = FrameAssembler::new();
        let mut out = None;
        for report in frame.reports() {
            out = asm.push(report.as_bytes()).unwrap();
        }
        let out = out.unwrap();
        assert_eq!(out.as_bytes(), frame.as_bytes());

        let reports = frame.reports();
        assert!(asm.push(reports[1].as_bytes()).is_err());
        let mut corrupt = *reports[9].as_bytes();
        corrupt[0] ^= 1;
        let _ = asm.push(reports[0].as_bytes());
        assert_eq!(asm.push(&corrupt).err(), Some(CodecError::BadFrameCrc));
    }
}
