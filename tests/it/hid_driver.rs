//! The driver's typed outcomes against a scripted device: refusal (pgmSeq not
//! advanced), busy and reply timeouts, touch timeout, bad reply CRC, a reply
//! cut short, unsupported firmware, the NEO refresh, and unplug.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::collections::VecDeque;
use std::time::Duration;

use keyward::hid::codec::frame::{REPORT_LEN, RESET_READ_REPORT};
use keyward::hid::{
    AccessCode, CodecError, FirmwareVersion, HidError, HidTransport, HotpConfig, HotpKey,
    OtpDevice, Slot, TransportError,
};

/// Answers `before` until a frame's last report (seq 9) is written, then the
/// `after` reports in turn, repeating the last one.
struct Fake {
    before: [u8; REPORT_LEN],
    after: VecDeque<[u8; REPORT_LEN]>,
    frame_done: bool,
    written: Vec<[u8; REPORT_LEN]>,
    fail_writes: bool,
}

impl Fake {
    fn new(before: [u8; REPORT_LEN], after: &[[u8; REPORT_LEN]]) -> Self {
        Fake {
            before,
            after: after.iter().copied().collect(),
            frame_done: false,
            written: Vec::new(),
            fail_writes: false,
        }
    }
}

impl HidTransport for Fake {
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        if self.fail_writes {
            return Err(TransportError::Disconnected);
        }
        self.written.push(*report);
        if report[7] == 0x89 {
            self.frame_done = true;
        }
        Ok(())
    }
    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        if !self.frame_done {
            return Ok(self.before);
        }
        if self.after.len() > 1 {
            return Ok(self.after.pop_front().unwrap());
        }
        Ok(*self.after.front().unwrap())
    }
}

fn status(pgm: u8, touch: u8, flags: u8) -> [u8; REPORT_LEN] {
    [0, 5, 4, 3, pgm, touch, 0, flags]
}

fn config() -> HotpConfig {
    HotpConfig::new(HotpKey::new(&[7; 20]).unwrap())
}

fn program(fake: &mut Fake, slept: &mut Duration) -> Result<(), HidError> {
    let mut device = OtpDevice::open_with(fake, |d| *slept += d)?;
    let code = AccessCode::new(&[9; 6]).unwrap();
    device
        .program_hotp(Slot::One, &config(), Some(&code), Some(&code))
        .map(|_| ())
}

#[test]
fn pgm_seq_advanced_is_success_and_unchanged_is_refusal() {
    let mut slept = Duration::ZERO;
    let mut ok = Fake::new(status(4, 1, 0), &[status(5, 1, 0)]);
    program(&mut ok, &mut slept).unwrap();
    assert_eq!(slept, Duration::ZERO);

    let mut refused = Fake::new(status(4, 1, 0), &[status(4, 1, 0)]);
    assert_eq!(
        program(&mut refused, &mut slept),
        Err(HidError::Rejected {
            pgm_seq_before: 4,
            pgm_seq_after: 4
        })
    );
    // pgmSeq 0 counts only when no slot is left valid.
    let mut deleted = Fake::new(status(4, 1, 0), &[status(0, 0, 0)]);
    let mut device = OtpDevice::open_with(&mut deleted, |_| {}).unwrap();
    assert_eq!(device.delete_slot(Slot::One, None).unwrap().pgm_seq, 0);
    let mut not_deleted = Fake::new(status(4, 1, 0), &[status(0, 1, 0)]);
    let mut device = OtpDevice::open_with(&mut not_deleted, |_| {}).unwrap();
    assert!(matches!(
        device.delete_slot(Slot::One, None),
        Err(HidError::Rejected { .. })
    ));
}

#[test]
fn a_key_that_stays_busy_times_out_after_a_second() {
    let mut slept = Duration::ZERO;
    let mut busy = Fake::new(status(1, 1, 0x80), &[status(1, 1, 0x80)]);
    assert_eq!(program(&mut busy, &mut slept), Err(HidError::NotReady));
    assert_eq!(slept, Duration::from_millis(19 * 50));
    assert!(busy.written.is_empty(), "nothing written to a busy key");
}

#[test]
fn endless_processing_and_touch_waits_are_bounded() {
    let mut slept = Duration::ZERO;
    let mut processing = Fake::new(status(1, 1, 0), &[status(1, 1, 0x01)]);
    assert_eq!(
        program(&mut processing, &mut slept),
        Err(HidError::ResponseTimeout { seconds: 3 })
    );
    assert_eq!(slept, Duration::from_secs(3));

    let mut slept = Duration::ZERO;
    let mut touch = Fake::new(status(1, 1, 0), &[status(1, 1, 0x2F)]);
    assert_eq!(program(&mut touch, &mut slept), Err(HidError::TouchTimeout));
    assert_eq!(slept, Duration::from_secs(30));
    assert_eq!(touch.written.last(), Some(&RESET_READ_REPORT));

    // The key gave up waiting for the touch itself.
    let mut slept = Duration::ZERO;
    let mut gave_up = Fake::new(
        status(1, 1, 0),
        &[status(1, 1, 0x2F), status(1, 1, 0x2E), status(1, 1, 0)],
    );
    assert_eq!(
        program(&mut gave_up, &mut slept),
        Err(HidError::TouchTimeout)
    );
}

#[test]
fn serial_replies_are_checked() {
    // 00 A1 B2 C3 + ~CRC LE, as the key sends it.
    let good = {
        let reply = keyward::hid::codec::crc::with_complemented_crc(&[0x00, 0xA1, 0xB2, 0xC3]);
        let mut r = [0u8; REPORT_LEN];
        r[..6].copy_from_slice(&reply);
        r[7] = 0x40;
        r
    };
    let end = [0, 0, 0, 0, 0, 0, 0, 0x40];
    let mut fake = Fake::new(status(1, 1, 0), &[good, end]);
    let mut device = OtpDevice::open_with(&mut fake, |_| {}).unwrap();
    assert_eq!(device.api_serial().unwrap(), 0x00A1_B2C3);
    assert_eq!(fake.written.last(), Some(&RESET_READ_REPORT));

    let mut corrupt = good;
    corrupt[2] ^= 0x04;
    let mut fake = Fake::new(status(1, 1, 0), &[corrupt, end]);
    let mut device = OtpDevice::open_with(&mut fake, |_| {}).unwrap();
    assert_eq!(
        device.api_serial(),
        Err(HidError::Codec(CodecError::BadReplyCrc))
    );

    let mut cut = Fake::new(status(1, 1, 0), &[good, status(1, 1, 0)]);
    let mut device = OtpDevice::open_with(&mut cut, |_| {}).unwrap();
    assert_eq!(device.api_serial(), Err(HidError::IncompleteReply));

    // A key that hides its serial refuses the command.
    let mut hidden = Fake::new(status(1, 1, 0), &[status(1, 1, 0)]);
    let mut device = OtpDevice::open_with(&mut hidden, |_| {}).unwrap();
    assert!(matches!(
        device.api_serial(),
        Err(HidError::Rejected { .. })
    ));
}

#[test]
fn old_firmware_is_refused_before_anything_is_written() {
    let mut old = Fake::new([0, 2, 1, 0, 1, 1, 0, 0], &[[0, 2, 1, 0, 2, 1, 0, 0]]);
    let mut device = OtpDevice::open_with(&mut old, |_| {}).unwrap();
    assert_eq!(
        device.program_hotp(Slot::Two, &config(), None, None),
        Err(HidError::Unsupported {
            version: FirmwareVersion::new(2, 1, 0)
        })
    );
    assert!(old.written.is_empty());
}

#[test]
fn a_neo_gets_the_scan_map_refresh_on_open() {
    let mut neo = Fake::new([0, 3, 5, 0, 2, 1, 0, 0], &[[0, 3, 5, 0, 2, 1, 0, 0]]);
    OtpDevice::open_with(&mut neo, |_| {}).unwrap();
    // Part 9 carries the command byte 0x12 (SCAN_MAP) after payload byte 63.
    let last = neo.written.last().unwrap();
    assert_eq!((last[1], last[7]), (0x12, 0x89));
}

#[test]
fn unplug_is_a_transport_error() {
    let mut gone = Fake::new(status(1, 1, 0), &[status(2, 1, 0)]);
    gone.fail_writes = true;
    let mut slept = Duration::ZERO;
    assert_eq!(
        program(&mut gone, &mut slept),
        Err(HidError::Transport(TransportError::Disconnected))
    );
}
