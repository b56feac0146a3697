//! `keyward receipt verify` and `keyward audit verify`, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use keyward::domain::receipt::Lang;
use world::*;

fn keyward(args: &[&str]) -> (bool, String, String) {
    let out = crate::support::cli::run(&mut crate::support::cli::keyward(args));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `keyward receipt verify EXTRA --public-key KEY FILE`.
fn verify_receipt(key: &str, file: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["receipt", "verify"];
    args.extend(extra);
    args.extend(["--public-key", key, file.to_str().unwrap()]);
    keyward(&args)
}

/// The command failed and said `message`.
fn refused((ok, _, stderr): (bool, String, String), message: &str) {
    assert!(!ok);
    assert!(stderr.contains(message), "{stderr}");
}

#[test]
fn receipts_verify_offline_and_audit_verify_finds_the_bad_row() {
    let w = world(at("2026-08-20", 9));
    w.appoint("adurand", SCHOOL_EAST, "2026-09-01", None);
    let device = Device::new("VT-1");
    w.prepare(&device, "adurand");
    let receipt = w
        .store
        .write(&desk(), "handover", |tx| {
            tx.handover("VT-1", "Central office", &device.code(w.now()))
        })
        .unwrap();
    let public = data_encoding::HEXLOWER.encode(&w.store.receipt_public_key());
    let dir = w.dir.path();
    let exported = dir.join("receipt.txt");
    std::fs::write(&exported, receipt.export()).unwrap();
    let html = dir.join("receipt.html");
    std::fs::write(
        &html,
        receipt.render_html(Lang::Fr, &jiff::tz::TimeZone::UTC),
    )
    .unwrap();
    let tampered = dir.join("tampered.txt");
    std::fs::write(
        &tampered,
        receipt.export().replace("Central office", "Elsewhere"),
    )
    .unwrap();

    let data = dir.join("data");
    let (ok, published, _) = keyward(&[
        "receipt",
        "public-key",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(ok);
    assert_eq!(published.trim(), public);
    let (ok, stdout, _) = verify_receipt(&public, &exported, &["--lang", "fr"]);
    assert!(ok);
    assert!(stdout.contains("signature : valide"));
    assert!(stdout.contains("Bordereau de remise"));
    // The printed HTML page carries the signed block and checks too.
    let (ok, _, _) = verify_receipt(&public, &html, &["--lang", "en"]);
    assert!(ok);
    refused(verify_receipt(&public, &tampered, &[]), "altered or forged");
    let other_key = "00".repeat(32);
    refused(
        verify_receipt(&other_key, &exported, &[]),
        "not by the given key",
    );

    let (ok, stdout, _) = keyward(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    assert!(ok, "{stdout}");
    assert!(stdout.starts_with("audit: ok"));
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_is_append_only_update;
         UPDATE audit SET subject = 'someone-else' WHERE seq = 3;",
    )
    .unwrap();
    refused(
        keyward(&["audit", "verify", "--data-dir", data.to_str().unwrap()]),
        "audit entry 3",
    );
}
