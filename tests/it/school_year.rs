//! The five situations of a school year (docs/lifecycle.md), end to end on a real
//! SQLite file with a fixed clock, from the inspector's and the holder's side,
//! with the refusals each rule implies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use keyward::crypto::{verify_receipt, CryptoError, PinProblem};
use keyward::domain::receipt::{Lang, ReceiptKind};
use keyward::domain::requests::HelpMail;
use keyward::domain::{Actor, DomainError, RevokeReason, RightOrigin, TokenState, UnixTime};
use keyward::otp::CredentialParams;
use keyward::store::verify::{VerifyOutcome, VerifyService};
use keyward::store::StoreError;
use world::*;

const PIN_A: &str = "730519";
const PIN_B: &str = "4081937";

fn director_with_key(
    w: &World,
    holder: &str,
    serial: &str,
    from: &str,
    until: Option<&str>,
) -> Device {
    w.appoint(holder, SCHOOL_EAST, from, until);
    w.active_totp(holder, serial, PIN_A)
}

/// adurand, director of the east school from `from` (until `until`), with
/// the active key VT-A and PIN_A, at `now`; and the verify path.
fn adurand_directing(
    now: UnixTime,
    from: &str,
    until: Option<&str>,
) -> (World, Device, VerifyService) {
    let w = world(now);
    let device = director_with_key(&w, "adurand", "VT-A", from, until);
    let svc = w.store.verify_service().unwrap();
    (w, device, svc)
}

/// How every situation ends: once the verify path has stopped, the audit
/// chain holds every step and is intact.
fn assert_audit_intact_after(w: &World, svc: VerifyService) {
    drop(svc);
    w.assert_audit_intact();
}

fn accept(w: &World, svc: &VerifyService, login: &str, pin: &str, d: &Device) -> VerifyOutcome {
    let answer = svc
        .verify(login, &format!("{pin}{}", d.code(w.now())))
        .unwrap();
    w.next_step();
    answer
}

#[test]
fn case1_deputy_replaces_an_absent_director() {
    let w = world(at("2026-11-02", 8));
    let _director = director_with_key(&w, "adurand", "VT-A", "2025-09-01", None);

    // The inspector of another district cannot delegate in this school.
    let err = w
        .delegate(&inspector_west(), "bleroy", SCHOOL_EAST, "2026-11-02", None)
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
    // A deputy without a delegation gets no key request.
    let err = w
        .store
        .write(&inspector_east(), "request", |tx| {
            tx.request_key(&pid("bleroy"))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::NoRight { .. }), "{err}");

    // The inspector grants a dated delegation and asks the desk for a key.
    let right = w
        .delegate(
            &inspector_east(),
            "bleroy",
            SCHOOL_EAST,
            "2026-11-02",
            Some("2026-12-18"),
        )
        .unwrap();
    assert!(right > 0);
    w.store
        .write(&inspector_east(), "request", |tx| {
            tx.request_key(&pid("bleroy"))
        })
        .unwrap();
    let err = w
        .store
        .write(&inspector_east(), "request", |tx| {
            tx.request_key(&pid("bleroy"))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::OpenKeyRequest { .. }));
    let queue = w.store.read(|tx| tx.open_key_requests()).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].1, pid("bleroy"));
    assert_eq!(queue[0].2, "D-EST");

    // The desk prepares the key; the request is fulfilled.
    let deputy = Device::new("VT-B");
    w.prepare(&deputy, "bleroy");
    assert!(w
        .store
        .read(|tx| tx.open_key_requests())
        .unwrap()
        .is_empty());

    // Refusals: re-binding the prepared token, a second live token.
    let err = w
        .store
        .write(&desk(), "rebind", |tx| {
            tx.prepare_token(
                "VT-B",
                &pid("cmoreau"),
                &Device::new("x").secret,
                CredentialParams::totp(),
            )
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Domain(DomainError::TransitionRefused { .. })
        ),
        "{err}"
    );
    let second = Device::new("VT-B2");
    let err = w
        .store
        .write(&desk(), "second", |tx| {
            register_and_prepare(tx, &second, "bleroy")
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::HolderHasLiveToken { .. }),
        "{err}"
    );
    // Every refusal is audited, with its reason.
    assert!(w
        .last_audit("refused")
        .contains("already has a live key (VT-B)"));
    // Nothing of the refused transaction stayed (the token was not even added).
    assert!(matches!(
        w.store.read(|tx| tx.token("VT-B2")),
        Err(StoreError::NotFound { .. })
    ));

    // No activation before the handover; no handover without a receipt.
    let err = w
        .store
        .write(&Actor::Holder(pid("bleroy")), "activate", |tx| {
            tx.activate("VT-B", PIN_B)
        })
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Domain(DomainError::TransitionRefused { .. })
    ));
    let code = deputy.code(w.now());
    let err = w
        .store
        .write(&inspector_east(), "handover", |tx| {
            tx.handover("VT-B", "  ", &code)
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        StoreError::Domain(DomainError::MissingReceiptField("place")).to_string()
    );
    assert_eq!(w.state("VT-B"), TokenState::Prepared);
    // The wrong token in hand is never handed over.
    let wrong = Device::new("other");
    let err = w
        .store
        .write(&inspector_east(), "handover", |tx| {
            tx.handover("VT-B", "IEN office", &wrong.code(w.now()))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::PossessionCheckFailed));

    // Handover with a signed receipt, checked offline with the public key.
    let receipt = w
        .store
        .write(&inspector_east(), "handover", |tx| {
            tx.handover("VT-B", "IEN office", &code)
        })
        .unwrap();
    assert_eq!(receipt.content.kind, ReceiptKind::Handover);
    assert_eq!(receipt.content.holder_id, "bleroy");
    assert_eq!(receipt.content.counterparty_id, "pmartin");
    let public = w.store.receipt_public_key();
    verify_receipt(&public, &receipt.export()).unwrap();
    let forged = receipt.export().replace("holder=bleroy", "holder=cmoreau");
    assert!(matches!(
        verify_receipt(&public, &forged),
        Err(CryptoError::BadSignature)
    ));
    assert!(receipt
        .render_html(Lang::Fr, &jiff::tz::TimeZone::UTC)
        .contains("Bordereau de remise"));
    assert!(receipt
        .render_text(Lang::En, &jiff::tz::TimeZone::UTC)
        .contains("handover receipt"));
    w.next_step();

    // Activation: only by the holder, only with an acceptable PIN.
    let err = w
        .store
        .write(&Actor::Holder(pid("cmoreau")), "activate", |tx| {
            tx.activate("VT-B", PIN_B)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }));
    let err = w
        .store
        .write(&Actor::Holder(pid("bleroy")), "activate", |tx| {
            tx.activate("VT-B", "123456")
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Pin(PinProblem::TooCommon)));
    w.store
        .write(&Actor::Holder(pid("bleroy")), "activate", |tx| {
            tx.activate("VT-B", PIN_B)
        })
        .unwrap();
    assert_eq!(w.state("VT-B"), TokenState::Active);

    // The deputy logs in with PIN + code and gets the delegated right.
    let svc = w.store.verify_service().unwrap();
    match accept(&w, &svc, "bleroy", PIN_B, &deputy) {
        VerifyOutcome::Accept { rights } => {
            assert_eq!(rights.len(), 1);
            assert_eq!(rights[0].school.as_str(), SCHOOL_EAST);
            assert_eq!(rights[0].origin, RightOrigin::Delegation);
        }
        other => panic!("{other:?}"),
    }
    // Wrong PIN or wrong code: rejected alike.
    let code = deputy.code(w.now());
    assert!(!svc
        .verify("bleroy", &format!("{PIN_A}{code}"))
        .unwrap()
        .is_accept());
    assert!(!svc
        .verify("bleroy", &format!("{PIN_B}000000"))
        .unwrap()
        .is_accept());
    assert!(svc
        .verify("bleroy", &format!("{PIN_B}{code}"))
        .unwrap()
        .is_accept());
    assert_audit_intact_after(&w, svc);
}

#[test]
fn case2_director_comes_back_deputy_loses_access_at_once() {
    let w = world(at("2026-11-02", 8));
    director_with_key(&w, "adurand", "VT-A", "2025-09-01", None);
    let right = w
        .delegate(&inspector_east(), "bleroy", SCHOOL_EAST, "2026-11-02", None)
        .unwrap();
    let deputy = w.active_totp("bleroy", "VT-B", PIN_B);
    let svc = w.store.verify_service().unwrap();
    assert!(accept(&w, &svc, "bleroy", PIN_B, &deputy).is_accept());

    // Only delegations are ended by hand, and only by their district's inspector.
    let appointment = w.store.read(|tx| tx.rights(&pid("adurand"))).unwrap()[0].id;
    assert!(matches!(
        w.store.write(&inspector_east(), "end", |tx| tx.end_right(
            appointment,
            None,
            None
        )),
        Err(StoreError::Forbidden { .. })
    ));
    assert!(matches!(
        w.store.write(&inspector_west(), "end", |tx| tx
            .end_right(right, None, None)),
        Err(StoreError::Forbidden { .. })
    ));

    // The director is back: the inspector ends the delegation.
    w.clock.advance(3600);
    w.store
        .write(&inspector_east(), "end", |tx| {
            tx.end_right(right, None, None)
        })
        .unwrap();
    // Same instant: the deputy is refused (refused: no right in force).
    let answer = svc
        .verify("bleroy", &format!("{PIN_B}{}", deputy.code(w.now())))
        .unwrap();
    assert!(!answer.is_accept());
    assert!(w
        .last_audit("verify.reject")
        .contains("reason=no right in force"));
    w.next_step();

    // The deputy returns the key and signs the return receipt.
    let sealed_before = w.sealed_secret_count();
    let receipt = w
        .store
        .write(&inspector_east(), "return", |tx| {
            tx.return_token("VT-B", "IEN office", "director back", &deputy.code(w.now()))
        })
        .unwrap();
    assert_eq!(receipt.content.kind, ReceiptKind::Return);
    verify_receipt(&w.store.receipt_public_key(), &receipt.export()).unwrap();
    assert_eq!(w.state("VT-B"), TokenState::Returned);
    assert_eq!(w.sealed_secret_count(), sealed_before - 1);
    w.next_step();
    assert!(!svc
        .verify("bleroy", &format!("{PIN_B}{}", deputy.code(w.now())))
        .unwrap()
        .is_accept());

    // Returned but not yet at the IT centre: reported in the district.
    let transit = w.store.read(|tx| tx.awaiting_it_centre()).unwrap();
    assert_eq!(transit["D-EST"][0].serial, "VT-B");
    // A returned key cannot be restocked before the IT centre wipes it.
    assert!(w
        .store
        .write(&desk(), "restock", |tx| tx.restock("VT-B"))
        .is_err());
    w.store
        .write(&desk(), "receive", |tx| tx.receive_at_it_centre("VT-B"))
        .unwrap();
    assert!(w
        .store
        .read(|tx| tx.awaiting_it_centre())
        .unwrap()
        .is_empty());
    w.store
        .write(&desk(), "restock", |tx| tx.restock("VT-B"))
        .unwrap();
    assert_eq!(w.state("VT-B"), TokenState::Stock);
    // Only from scratch, with a new secret, can it serve someone else.
    w.appoint("cmoreau", SCHOOL_EAST_2, "2026-09-01", None);
    let fresh = Device::new("VT-B");
    w.store
        .write(&desk(), "prepare", |tx| {
            tx.prepare_token(
                "VT-B",
                &pid("cmoreau"),
                &fresh.secret,
                CredentialParams::totp(),
            )
        })
        .unwrap();
    // The director was never affected.
    assert_audit_intact_after(&w, svc);
}

#[test]
fn case3_lost_broken_key_replaced_on_a_valid_help_request() {
    let (w, old, svc) = adurand_directing(at("2026-11-02", 8), "2025-09-01", None);
    assert!(accept(&w, &svc, "adurand", PIN_A, &old).is_accept());

    let inspector = mail(&format!("pmartin@{DOMAIN}"));
    let refused = [
        (
            format!("ce.{SCHOOL_EAST}@{DOMAIN}"),
            vec![inspector.clone()],
            DomainError::SchoolMailbox,
        ),
        (
            format!("adurand@{DOMAIN}"),
            vec![],
            DomainError::InspectorNotInCopy,
        ),
        (
            format!("adurand@{DOMAIN}"),
            vec![mail(&format!("lbernard@{DOMAIN}"))],
            DomainError::InspectorNotInCopy,
        ),
        (
            "adurand@gmail.com".to_owned(),
            vec![inspector.clone()],
            DomainError::SenderOutsideDomain,
        ),
        (
            format!("bleroy@{DOMAIN}"),
            vec![inspector.clone()],
            DomainError::SenderIsNotHolder,
        ),
    ];
    for (from, cc, expected) in refused {
        let help = HelpMail {
            from: mail(&from),
            cc,
        };
        let err = w
            .store
            .write(&desk(), "help", |tx| {
                tx.file_replacement_request(&pid("adurand"), RevokeReason::Lost, &help)
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            StoreError::Domain(expected).to_string(),
            "{from}"
        );
        assert_eq!(
            w.state("VT-A"),
            TokenState::Active,
            "refused request changed nothing"
        );
    }

    // A valid request for a lost key revokes it at once.
    let help = HelpMail {
        from: mail(&format!("adurand@{DOMAIN}")),
        cc: vec![inspector.clone()],
    };
    // adurand's help request, and the desk preparing the replacement key.
    let file_request = |reason| {
        w.store.write(&desk(), "help", |tx| {
            tx.file_replacement_request(&pid("adurand"), reason, &help)
        })
    };
    let replace_with = |request, key: &Device| {
        w.store.write(&desk(), "replace", |tx| {
            tx.add_token(&key.serial, "virtual")?;
            tx.prepare_replacement(request, &key.serial, &key.secret, CredentialParams::totp())
        })
    };
    let request = file_request(RevokeReason::Lost).unwrap();
    assert_eq!(w.state("VT-A"), TokenState::Revoked);
    assert!(!accept(&w, &svc, "adurand", PIN_A, &old).is_accept());
    assert!(w
        .last_audit("verify.reject")
        .contains("reason=unknown login"));
    // A lost key never comes back into service.
    let err = w
        .store
        .write(&desk(), "receive", |tx| tx.receive_at_it_centre("VT-A"))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Domain(DomainError::TokenNeverComesBack)
    ));

    // A new key for the same holder, then the normal handover.
    let new = Device::new("VT-A2");
    replace_with(request, &new).unwrap();
    assert!(matches!(
        w.store
            .write(&desk(), "replace", |tx| tx.prepare_replacement(
                request,
                "VT-A2",
                &new.secret,
                CredentialParams::totp()
            )),
        Err(StoreError::RequestFulfilled(_))
    ));
    w.hand_over_and_activate(&new, "adurand", &desk(), PIN_B);
    assert!(accept(&w, &svc, "adurand", PIN_B, &new).is_accept());

    // Broken key: the old one stays live until the replacement is prepared,
    // then both happen in one transaction.
    let request = file_request(RevokeReason::Broken).unwrap();
    assert_eq!(w.state("VT-A2"), TokenState::Active);
    let third = Device::new("VT-A3");
    replace_with(request, &third).unwrap();
    assert_eq!(w.state("VT-A2"), TokenState::Revoked);
    assert_eq!(w.state("VT-A3"), TokenState::Prepared);
    // A broken (not lost) key may come back to be wiped.
    w.store
        .write(&desk(), "receive", |tx| tx.receive_at_it_centre("VT-A2"))
        .unwrap();
    assert_audit_intact_after(&w, svc);
}

#[test]
fn case4_leaving_director_rights_end_by_themselves_and_return_is_tracked() {
    let until = Some("2027-07-04");
    let (w, device, svc) = adurand_directing(at("2027-07-04", 10), "2024-09-01", until);
    // Last day of the appointment: still in force.
    assert!(accept(&w, &svc, "adurand", PIN_A, &device).is_accept());

    // Next day, nobody did anything: refused (no right in force).
    w.clock.set(at("2027-07-05", 8));
    assert!(!accept(&w, &svc, "adurand", PIN_A, &device).is_accept());
    assert!(w
        .last_audit("verify.reject")
        .contains("reason=no right in force"));
    // Not overdue before the deadline (7 July), overdue after it.
    w.clock.set(at("2027-07-07", 18));
    assert!(w.store.read(|tx| tx.overdue_returns()).unwrap().is_empty());
    w.clock.set(at("2027-07-08", 9));
    let overdue = w.store.read(|tx| tx.overdue_returns()).unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue["D-EST"][0].serial, "VT-A");
    assert_eq!(overdue["D-EST"][0].days_late, 1);
    // Each inspector sees their own district's overdue keys only.
    let east = w
        .store
        .read_as(&inspector_east(), |tx| tx.overdue_returns())
        .unwrap();
    assert_eq!(east.len(), 1);
    let west = w
        .store
        .read_as(&inspector_west(), |tx| tx.overdue_returns())
        .unwrap();
    assert!(west.is_empty());

    // The key comes back: no longer overdue, in transit to the IT centre.
    w.store
        .write(&inspector_east(), "return", |tx| {
            tx.return_token(
                "VT-A",
                "IEN office",
                "end of appointment",
                &device.code(w.now()),
            )
        })
        .unwrap();
    assert!(w.store.read(|tx| tx.overdue_returns()).unwrap().is_empty());
    assert_eq!(
        w.store.read(|tx| tx.awaiting_it_centre()).unwrap()["D-EST"].len(),
        1
    );
    let receipts = w.store.read(|tx| tx.receipts_of_token("VT-A")).unwrap();
    assert_eq!(
        receipts.iter().map(|r| r.content.kind).collect::<Vec<_>>(),
        vec![ReceiptKind::Handover, ReceiptKind::Return]
    );
    assert_audit_intact_after(&w, svc);
}

#[test]
fn case5_first_appointment_batch_handover_meeting() {
    // The handover meeting around 20 August, before the appointments start.
    let w = world(at("2026-08-20", 9));
    let newcomers = ["cmoreau", "dpetit", "egarcia"];
    let devices: Vec<Device> = (0..3).map(|i| Device::new(&format!("VT-N{i}"))).collect();
    // A person with no appointment gets no key.
    let err = w
        .store
        .write(&desk(), "prepare", |tx| {
            register_and_prepare(tx, &Device::new("VT-X"), "froux")
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::NoRight { .. }));
    // Batch preparation: appointments from 1 September, all keys in one go.
    w.store
        .write(&desk(), "batch", |tx| {
            let schools = [SCHOOL_EAST, SCHOOL_EAST_2, SCHOOL_WEST];
            for ((holder, device), school) in newcomers.iter().zip(&devices).zip(schools) {
                tx.grant_right(
                    RightOrigin::Appointment,
                    &pid(holder),
                    &uai(school),
                    date("2026-09-01"),
                    None,
                )?;
                register_and_prepare(tx, device, holder)?;
            }
            Ok(())
        })
        .unwrap();
    // Handover and activation on the spot, at the desk's meeting.
    for (holder, device) in newcomers.iter().zip(&devices) {
        w.hand_over_and_activate(device, holder, &desk(), PIN_A);
    }
    let svc = w.store.verify_service().unwrap();
    // Before 1 September the right is not in force yet.
    assert!(!accept(&w, &svc, "cmoreau", PIN_A, &devices[0]).is_accept());
    w.clock.set(at("2026-09-01", 7));
    for (holder, device) in newcomers.iter().zip(&devices) {
        match accept(&w, &svc, holder, PIN_A, device) {
            VerifyOutcome::Accept { rights } => {
                assert_eq!(rights[0].origin, RightOrigin::Appointment)
            }
            other => panic!("{holder}: {other:?}"),
        }
    }
    assert_audit_intact_after(&w, svc);
}

#[test]
fn lockout_after_ten_failures_until_the_desk_unlocks() {
    let (w, device, svc) = adurand_directing(at("2026-11-02", 8), "2025-09-01", None);
    let mut delays = Vec::new();
    for _ in 0..10 {
        match svc
            .verify("adurand", &format!("{PIN_B}{}", device.code(w.now())))
            .unwrap()
        {
            VerifyOutcome::Reject { hold } => delays.push(hold),
            other => panic!("{other:?}"),
        }
        // Wait as told, so each attempt is evaluated.
        w.clock
            .advance(retry_after_or(delays.last().copied().flatten()));
    }
    assert_eq!(&delays[..3], &[None, None, Some(1)]);
    assert_eq!(delays[8], Some(64));
    // Locked: even the right passcode is refused, however long one waits.
    w.clock.advance(86_400);
    assert!(!accept(&w, &svc, "adurand", PIN_A, &device).is_accept());
    assert!(w
        .last_audit("verify.reject")
        .contains("reason=credential locked"));
    // Unknown logins behave the same (no enumeration): same answers.
    for i in 0..3 {
        let a = svc.verify("nobody", &format!("{PIN_A}123456")).unwrap();
        assert_eq!(
            a,
            VerifyOutcome::Reject {
                hold: if i == 2 { Some(1) } else { None }
            }
        );
    }
    w.store
        .write(&desk(), "unlock", |tx| tx.unlock("VT-A"))
        .unwrap();
    assert!(accept(&w, &svc, "adurand", PIN_A, &device).is_accept());
    assert_audit_intact_after(&w, svc);
}

fn retry_after_or(delay: Option<u64>) -> u64 {
    delay.unwrap_or(0) + 1
}
