//! Unit tests of the APDU layer: hex tables against a scripted card.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXUPPER
        .decode(s.replace(' ', "").to_uppercase().as_bytes())
        .unwrap()
}

#[test]
fn status_words_round_trip() {
    for sw in 0u16..=0xFFFF {
        assert_eq!(Status::from_u16(sw).to_u16(), sw);
    }
    assert_eq!(Status::from_u16(0x63C2), Status::WrongPin { tries_left: 2 });
    assert_eq!(Status::from_u16(0x6983), Status::AuthBlocked);
    assert_eq!(Status::from_u16(0x6120), Status::MoreData(0x20));
}

#[test]
fn parse_short_forms() {
    let c = Command::parse(&hex("00A1000000")).unwrap();
    assert!(c.data.is_empty());
    let c = Command::parse(&hex("00A10000")).unwrap();
    assert_eq!((c.cla, c.ins), (0, 0xA1));
    let c = Command::parse(&hex("00A4040007A0000005272101")).unwrap();
    assert_eq!(c.data.as_slice(), hex("A0000005272101"));
    let c = Command::parse(&hex("00A4040007A000000527210100")).unwrap();
    assert_eq!(c.data.len(), 7);
    assert!(matches!(
        Command::parse(&hex("00A40400")[..3]),
        Err(ApduError::TooShort { len: 3 })
    ));
    assert!(matches!(
        Command::parse(&hex("00A4040007A00000")),
        Err(ApduError::LengthMismatch { .. })
    ));
    assert!(matches!(
        Command::parse(&hex("00A40400000001AA")),
        Err(ApduError::Extended)
    ));
}

#[test]
fn chaining_splits_at_255() {
    let cmd = Command::new(0, 1, 0, 0, vec![0xAB; 600]);
    let parts = cmd.encode();
    assert_eq!(parts.len(), 3);
    assert_eq!(&parts[0][..5], &[0x10, 1, 0, 0, 0xFF]);
    assert_eq!(&parts[1][..5], &[0x10, 1, 0, 0, 0xFF]);
    assert_eq!(&parts[2][..5], &[0x00, 1, 0, 0, 90]);
    assert_eq!(
        Command::new(0, 0xA1, 0, 0, vec![]).encode()[0].as_slice(),
        &[0, 0xA1, 0, 0, 0]
    );
}

/// Scripted fake card: every answer in the table is fed in order.
fn run(cmd: &Command, script: &[(&str, &str)]) -> Result<Response, ApduError> {
    run_with(Continuation::SendRemaining, cmd, script)
}

fn run_with(
    continuation: Continuation,
    cmd: &Command,
    script: &[(&str, &str)],
) -> Result<Response, ApduError> {
    let mut ex = Exchange::new(cmd, continuation);
    let mut step = ex.start()?;
    let mut i = 0;
    loop {
        match step {
            Step::Transmit(bytes) => {
                let (expect, answer) = script[i];
                assert_eq!(bytes.as_slice(), hex(expect), "APDU {i}");
                i += 1;
                step = ex.on_response(&hex(answer))?;
            }
            Step::Done(r) => {
                assert_eq!(i, script.len(), "unused script lines");
                return Ok(r);
            }
        }
    }
}

#[test]
fn more_data_loop_concatenates() {
    let r = run(
        &Command::new(0, 0xA1, 0, 0, vec![]),
        &[("00A1000000", "0102 6102"), ("00A5000000", "0304 9000")],
    )
    .unwrap();
    assert_eq!(r.data.as_slice(), &[1, 2, 3, 4]);
    assert_eq!(r.status, Status::Ok);
}

/// Each dialect as a hex table: (continuation, command, [(sent, answer)],
/// data, final status).
#[test]
fn continuation_follows_the_dialect() {
    let select = Command::new(0, 0xA4, 4, 0, hex("A0000005272101")).expecting_data();
    let list = Command::new(0, 0xA1, 0, 0, vec![]).expecting_data();
    type Row<'a> = (
        Continuation,
        &'a Command,
        Vec<(&'a str, &'a str)>,
        &'a str,
        u16,
    );
    let table: Vec<Row> = vec![
        // Nitrokey 3: a case-3 style answer with no data, then GET RESPONSE
        // for the announced count.
        (
            Continuation::GetResponse,
            &select,
            vec![
                ("00A4040007A000000527210100", "610F"),
                ("00C000000F", "79030400B0710801020304050607089000"),
            ],
            "79030400B071080102030405060708",
            0x9000,
        ),
        // Nitrokey 3, a LIST longer than 256 bytes: 61 00 = 256 or more.
        (
            Continuation::GetResponse,
            &list,
            vec![("00A1000000", "AABB6100"), ("00C0000000", "CC9000")],
            "AABBCC",
            0x9000,
        ),
        // YubiKey: SEND REMAINING whatever the count.
        (
            Continuation::SendRemaining,
            &select,
            vec![
                ("00A4040007A000000527210100", "79036103"),
                ("00A5000000", "0504039000"),
            ],
            "7903050403",
            0x9000,
        ),
        // SEND REMAINING to a Nitrokey 3 is a new command: 6985.
        (
            Continuation::SendRemaining,
            &select,
            vec![
                ("00A4040007A000000527210100", "610F"),
                ("00A5000000", "6985"),
            ],
            "",
            0x6985,
        ),
    ];
    for (i, (continuation, cmd, script, data, sw)) in table.into_iter().enumerate() {
        let r = run_with(continuation, cmd, &script).unwrap();
        assert_eq!(r.data.as_slice(), hex(data), "row {i}");
        assert_eq!(r.status.to_u16(), sw, "row {i}");
    }
}

#[test]
fn le_is_sent_after_the_data_and_parsed_back() {
    let cmd = Command::new(0, 0xA2, 0, 1, vec![0x71, 1, 0x61]).expecting_data();
    let bytes = cmd.encode();
    assert_eq!(bytes[0].as_slice(), hex("00A200010371016100"));
    assert_eq!(Command::parse(&bytes[0]), Ok(cmd));
    // Chained: Le only on the last chunk.
    let long = Command::new(0, 1, 0, 0, vec![1; 300]).expecting_data();
    let parts = long.encode();
    assert_eq!(parts[0].len(), 5 + 255);
    assert_eq!(parts[1].len(), 5 + 45 + 1);
    assert_eq!(
        Command::parse(&hex("00A4040007A0000005272101")).unwrap().le,
        None
    );
    assert_eq!(Command::parse(&hex("00A1000000")).unwrap().le, Some(256));
    assert_eq!(Command::parse(&hex("00C000000F")).unwrap().le, Some(15));
}

#[test]
fn chained_chunk_rejection_is_typed() {
    let cmd = Command::new(0, 1, 0, 0, vec![0; 300]);
    let mut ex = Exchange::new(&cmd, Continuation::SendRemaining);
    ex.start().unwrap();
    assert!(matches!(
        ex.on_response(&hex("6A80")),
        Err(ApduError::ChainRejected {
            status: Status::WrongData
        })
    ));
}

#[test]
fn error_status_ends_exchange() {
    let r = run(
        &Command::new(0, 2, 0, 0, vec![0x71, 1, 0x41]),
        &[("0002000003710141", "6984")],
    )
    .unwrap();
    assert_eq!(r.status, Status::NoSuchObject);
    assert!(r.data.is_empty());
}

#[test]
fn runaway_card_is_cut_off() {
    let mut ex = Exchange::new(
        &Command::new(0, 0xA1, 0, 0, vec![]),
        Continuation::SendRemaining,
    );
    ex.start().unwrap();
    let mut chunk = vec![0u8; 255];
    chunk.extend_from_slice(&[0x61, 0xFF]);
    let mut result = Ok(());
    for _ in 0..1000 {
        match ex.on_response(&chunk) {
            Ok(_) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    assert_eq!(result, Err(ApduError::ResponseTooLong));
}

#[test]
fn chunker_hands_out_pieces() {
    let mut ch = ResponseChunker::default();
    let r = ch.start(Response::new(vec![7; 100], Status::Ok), 64);
    assert_eq!(r.data.len(), 64);
    assert_eq!(r.status, Status::MoreData(36));
    let r = ch.next(64);
    assert_eq!(r.data.len(), 36);
    assert_eq!(r.status, Status::Ok);
    assert_eq!(ch.next(64).status, Status::ConditionsNotSatisfied);
}

proptest::proptest! {
    /// Whatever a card answers, the host state machine ends in a response or
    /// a typed error within a bounded number of steps, never a panic.
    #[test]
    fn exchange_never_panics(answers in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 1..20),
                             len in 0usize..600) {
        let mut ex = Exchange::new(&Command::new(0, 1, 0, 0, vec![0x55; len]), Continuation::SendRemaining);
        let _ = ex.start();
        for a in answers {
            match ex.on_response(&a) {
                Ok(Step::Done(_)) | Err(_) => break,
                Ok(Step::Transmit(bytes)) => proptest::prop_assert!(bytes.len() >= 5),
            }
        }
        let _ = Command::parse(&[]);
    }

    #[test]
    fn command_parse_round_trips(cla in 0u8..0x10, ins: u8, p1: u8, p2: u8, data in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..255)) {
        let cmd = Command::new(cla, ins, p1, p2, data);
        let bytes = cmd.encode();
        proptest::prop_assert_eq!(bytes.len(), 1);
        proptest::prop_assert_eq!(Command::parse(&bytes[0]), Ok(cmd));
    }
}

#[test]
fn redaction_masks_secret_bytes() {
    let c = Command::new(0, 1, 0, 0, vec![0x73, 2, 0xAA, 0xBB]).with_secret(2..4);
    assert_eq!(c.redacted_hex(), "00 01 00 00 04 73 02 ** **");
    assert!(!format!("{c:?}").contains("AA"));
}
