//! Every text entry point of the domain and crypto layers, and the RADIUS
//! codec's byte entry point, returns a typed error on bad input and never
//! panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward::crypto::{parse_public_key, verify_receipt, Pin};
use keyward::domain::receipt::{ReceiptContent, ReceiptKind, SignedReceipt};
use keyward::domain::{Date, MailAddress, PersonId, Uai};
use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}".prop_filter("not blank", |s| !s.trim().is_empty())
}

/// A RADIUS header with a plausible length, then arbitrary attributes.
fn radius_datagram() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(1u8), Just(2), Just(11), Just(12), any::<u8>()],
        proptest::collection::vec(any::<u8>(), 0..600),
        any::<bool>(),
    )
        .prop_map(|(code, mut rest, true_length)| {
            let mut bytes = vec![code, 1, 0, 0];
            bytes.extend_from_slice(&[9; 16]);
            bytes.append(&mut rest);
            let len = if true_length {
                bytes.len()
            } else {
                bytes.len() / 2 + 20
            };
            let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
            bytes[2..4].copy_from_slice(&len);
            bytes
        })
}

proptest! {
    #[test]
    fn radius_codec_never_panics(bytes in radius_datagram()) {
        keyward::radius::fuzz_one(&bytes);
    }

    #[test]
    fn radius_codec_never_panics_on_noise(bytes in proptest::collection::vec(any::<u8>(), 0..4200)) {
        keyward::radius::fuzz_one(&bytes);
    }

    #[test]
    fn identifiers_never_panic(text in "\\PC{0,80}") {
        let _ = Uai::parse(&text);
        let _ = MailAddress::parse(&text);
        let _ = PersonId::parse(&text);
        let _ = Date::parse(&text);
        let _ = Pin::parse(&text);
        let _ = parse_public_key(&text);
    }

    #[test]
    fn receipt_parser_never_panics(text in "(keyward-receipt-v1\n)?([a-z_]{1,12}=\\PC{0,20}\n){0,16}(signature=[A-Za-z0-9+/=]{0,90}\n)?") {
        let _ = SignedReceipt::parse(&text);
        let _ = verify_receipt(&[7u8; 32], &text);
    }

    #[test]
    fn any_valid_receipt_round_trips(
        number in 1u64..1_000_000,
        time in 0u64..4_000_000_000,
        place in line(),
        name in line(),
        return_kind in any::<bool>(),
    ) {
        let content = ReceiptContent {
            number,
            kind: if return_kind { ReceiptKind::Return } else { ReceiptKind::Handover },
            token_serial: "VT-1".into(),
            holder_id: "h".into(),
            holder_name: name.clone(),
            counterparty_id: "c".into(),
            counterparty_name: name,
            district: "D".into(),
            place,
            time,
            reason: "r".into(),
            key_id: "00".into(),
        };
        let canonical = content.canonical().unwrap();
        let signed = SignedReceipt { content, canonical, signature: vec![1; 64] };
        prop_assert_eq!(SignedReceipt::parse(&signed.export()).unwrap(), signed);
    }
}
