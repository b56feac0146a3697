//! Every byte a device (or a host, for the simulated key) could send is taken
//! without a panic: status reports, data replies of any length, corrupt CRCs,
//! configurations, report streams in any order, and whole exchanges through
//! the driver with a scripted transport.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::collections::VecDeque;

use keyward::hid::codec::config::{write_frame, SlotConfig};
use keyward::hid::codec::crc::{crc_ok, with_complemented_crc};
use keyward::hid::codec::frame::{
    check_reply, parse_serial_reply, Frame, FrameAssembler, HidCommand, ReadStep, ReplyReader,
    REPORT_LEN,
};
use keyward::hid::{
    AccessCode, HidStatus, HidTransport, HotpConfig, HotpKey, Imf, OtpDevice, SimulatedKey, Slot,
    TokenId, TransportError,
};
use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use proptest::prelude::*;
use zeroize::Zeroizing;

/// Answers reads from a script; when the script runs out the device is gone.
struct Scripted {
    reads: VecDeque<[u8; REPORT_LEN]>,
    writes: usize,
}

impl HidTransport for Scripted {
    fn send_feature_report(&mut self, _: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        self.writes += 1;
        Ok(())
    }
    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        self.reads.pop_front().ok_or(TransportError::Disconnected)
    }
}

fn report() -> impl Strategy<Value = [u8; REPORT_LEN]> {
    prop_oneof![
        any::<[u8; REPORT_LEN]>(),
        // Plausible device answers: a status, a data report, a busy or touch wait.
        (
            any::<[u8; 7]>(),
            prop::sample::select(vec![0u8, 0x80, 0x40, 0x41, 0x42, 0x20, 0x2F, 0x60])
        )
            .prop_map(|(d, s)| {
                let mut r = [0u8; REPORT_LEN];
                r[..7].copy_from_slice(&d);
                r[7] = s;
                r
            }),
    ]
}

fn sample_config() -> HotpConfig {
    HotpConfig::new(HotpKey::new(&[0x5A; 20]).unwrap())
}

proptest! {
    #[test]
    fn status_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..20)) {
        let parsed = HidStatus::parse(&bytes);
        prop_assert_eq!(parsed.is_ok(), bytes.len() == REPORT_LEN);
        if let Ok(status) = parsed {
            prop_assert_eq!(&status.to_report()[1..], &bytes[1..]);
            let _ = (status.is_busy(), status.slot_configured(Slot::One), status.slot_touch_triggered(Slot::Two));
        }
    }

    #[test]
    fn data_replies_of_any_shape_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80), len in 0usize..40) {
        let _ = check_reply(&bytes, len);
        let _ = parse_serial_reply(&bytes);
    }

    #[test]
    fn serial_reply_crc_catches_every_single_bit_flip(serial in any::<u32>(), bit in 0usize..48, tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut reply = with_complemented_crc(&serial.to_be_bytes()).to_vec();
        reply.extend_from_slice(&tail); // padding after the CRC is ignored
        prop_assert_eq!(parse_serial_reply(&reply), Ok(serial));
        reply[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(parse_serial_reply(&reply).is_err());
        prop_assert!(parse_serial_reply(&reply[..bit / 8]).is_err());
    }

    #[test]
    fn any_configuration_bytes_parse_or_fail_cleanly(mut bytes in prop::collection::vec(any::<u8>(), 0..60), fix_crc in any::<bool>()) {
        if fix_crc && bytes.len() >= 2 {
            let body = bytes.len() - 2;
            bytes = with_complemented_crc(&bytes[..body]).to_vec();
        }
        if let Ok(config) = SlotConfig::parse(&bytes) {
            prop_assert!(crc_ok(&bytes));
            // Accessors take any field values, fixedSize > 16 included.
            let _ = (config.fixed(), config.typed_token_id(), config.hotp_imf(), config.hotp_digits(),
                     config.is_oath_hotp(), config.has_access_code(), config.appends_cr(), config.hotp_key());
        }
    }

    #[test]
    fn frames_round_trip_through_the_assembler(payload in prop::collection::vec(any::<u8>(), 0..=64), code in prop::sample::select(vec![HidCommand::Config1, HidCommand::Config2, HidCommand::DeviceSerial, HidCommand::Swap])) {
        let frame = Frame::new(code, &payload).unwrap();
        let mut assembler = FrameAssembler::new();
        let mut out = None;
        for report in frame.reports() {
            prop_assert!(out.is_none());
            out = assembler.push(report.as_bytes()).unwrap();
        }
        let out = out.unwrap();
        prop_assert_eq!(out.as_bytes(), frame.as_bytes());
    }

    #[test]
    fn any_report_stream_to_the_assembler_never_panics(reports in prop::collection::vec(report(), 0..40)) {
        let mut assembler = FrameAssembler::new();
        for r in &reports {
            let _ = assembler.push(r);
        }
    }

    #[test]
    fn any_report_stream_to_the_reply_reader_never_panics(before in any::<u8>(), reports in prop::collection::vec(report(), 0..60)) {
        let mut reader = ReplyReader::new(before);
        for r in &reports {
            match reader.feed(r) {
                ReadStep::Data(data) => prop_assert!(data.len() <= 32 * 7),
                ReadStep::Written(status) => prop_assert!(status.pgm_seq == before.wrapping_add(1) || status.pgm_seq == 0),
                _ => {}
            }
        }
    }

    #[test]
    fn the_driver_survives_any_device_answers(reads in prop::collection::vec(report(), 0..400)) {
        let code = AccessCode::new(&[1, 2, 3, 4, 5, 6]).unwrap();
        let mut transport = Scripted { reads: reads.into(), writes: 0 };
        if let Ok(mut device) = OtpDevice::open_with(&mut transport, |_| {}) {
            let _ = device.read_status();
            let _ = device.serial();
            let _ = device.program_hotp(Slot::One, &sample_config(), Some(&code), None);
            let _ = device.delete_slot(Slot::Two, Some(&code));
        }
    }

    #[test]
    fn the_simulated_key_survives_any_host_reports(reports in prop::collection::vec(report(), 0..60)) {
        let mut key = SimulatedKey::new(1);
        for r in &reports {
            key.send_feature_report(r).unwrap();
            let _ = key.get_feature_report().unwrap();
        }
        let _ = key.touch(Slot::One);
        let _ = key.touch(Slot::Two);
        let config = sample_config().to_slot_config(None);
        // Whatever came before, a whole valid frame still programs the key.
        for r in write_frame(Slot::Two, &config, None).reports() {
            key.send_feature_report(r.as_bytes()).unwrap();
        }
        if let Some(stored) = key.slot_config(Slot::Two) {
            if !stored.has_access_code() || stored.as_bytes() == config.as_bytes() {
                prop_assert!(key.touch(Slot::Two).is_ok());
            }
        }
    }

    #[test]
    fn programmed_keys_type_the_cores_codes(
        key in prop::collection::vec(any::<u8>(), 16..=20),
        eight in any::<bool>(),
        imf_steps in 0u32..=0xFFFF,
        id in prop::option::of(prop::sample::select(vec!["ubhe12345678", "vvccccdddddd", "ub1212345678", "00000001"])),
        slot in prop::sample::select(vec![Slot::One, Slot::Two]),
        busy in 0u8..3,
    ) {
        let imf = imf_steps * 16;
        let config = HotpConfig::new(HotpKey::new(&key).unwrap())
            .eight_digits(eight)
            .imf(Imf::new(imf).unwrap())
            .token_id(id.map(|i| TokenId::from_ykman_identifier(i).unwrap()));
        let mut sim = SimulatedKey::new(9).with_busy_reads(busy);
        OtpDevice::open_with(&mut sim, |_| {}).unwrap().program_hotp(slot, &config, None, None).unwrap();
        let secret = Secret::new(Zeroizing::new(key.clone())).unwrap();
        let credential = CredentialKey::new(Algorithm::Sha1, &secret);
        let digits = Digits::new(if eight { 8 } else { 6 }).unwrap();
        for n in 0..2u64 {
            let typed = sim.touch(slot).unwrap();
            prop_assert_eq!(typed.code, code_at(&credential, u64::from(imf) + n, digits).to_string());
        }
    }
}
