//! Every text entry point of the domain and crypto layers returns a typed
//! error on bad input and never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward::crypto::{parse_public_key, verify_receipt, Pin};
use keyward::domain::receipt::{ReceiptContent, ReceiptKind, SignedReceipt};
use keyward::domain::{Date, MailAddress, PersonId, Uai};
use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}".prop_filter("not blank", |s| !s.trim().is_empty())
}

proptest! {
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
