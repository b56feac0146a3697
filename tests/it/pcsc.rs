//! Through the real PC/SC stack: our pcscd + vsmartcard vpcd + `keyward sim`,
//! driven by keyward's driver and by Yubico's ykman, checked against oathtool
//! and `keyward otp`. Every test here takes the harness lock (one pcscd at a
//! time) and fails, never skips, when a tool is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::cli;
use crate::support::in_process::{self, virt};
use crate::support::pcscd::{keyward_otp, lock, oathtool, ykman, Pcscd, Sim, READER0};
use keyward::apdu::pin::PinValue;
use keyward::apdu::Status;
use keyward::oath::codec::OathType;
use keyward::oath::driver::pcsc::Pcsc;
use keyward::oath::driver::watch::{ReaderEvent, Watcher};
use keyward::oath::driver::{CredentialSpec, PinState, Token, TokenError};
use keyward::otp::{Algorithm, Digits, Period, Secret};

const SECRET_HEX: &str = "3132333435363738393031323334353637383930";
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// The secret of the SHA-256, 8-digit, 60-second account ykman adds.
const SLOW_B32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(reader: &str) -> Token<keyward::oath::driver::pcsc::PcscTransport> {
    Token::new(Pcsc::establish().unwrap().connect(reader).unwrap())
}

/// The shared credential spec, issued by "keyward" (as ykman lists it).
fn spec<'a>(name: &'a str, kind: OathType, secret: &'a Secret) -> CredentialSpec<'a> {
    CredentialSpec {
        issuer: Some("keyward"),
        ..in_process::spec(name, kind, secret)
    }
}

#[test]
fn driver_writes_totp_and_hotp_and_reads_back_like_oathtool() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = Sim::with_serial(&pcscd, 0, "t.toml", "4242");
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    let mut t = token(READER0);

    let profiles = keyward::profile::load_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/firmware-profiles"
    )))
    .unwrap()
    .ykoath;
    let id = t.identify(&profiles).unwrap();
    assert_eq!(id.profile.as_deref(), Some("keyward-virtual"));
    assert_eq!(id.free_slots, Some(32));
    assert_eq!(id.serial, Some(4242));
    assert_eq!(id.version, [5, 4, 3]);
    assert_eq!(id.credentials, Some(0));

    // Write + read-back of one credential: the measured path.
    let started = Instant::now();
    let receipt = t
        .write(&virt(), &spec("totp", OathType::Totp, &secret), now())
        .unwrap();
    let elapsed = started.elapsed();
    println!(
        "write+read-back TOTP through pcscd: {} APDUs, {:?}",
        receipt.apdus, elapsed
    );
    assert_eq!(receipt.apdus, 3, "SELECT, PUT, CALCULATE");
    // The same from a cold start: PC/SC context, connect, then the transaction.
    let started = Instant::now();
    let receipt = token(READER0)
        .write(&virt(), &spec("cold", OathType::Totp, &secret), now())
        .unwrap();
    println!(
        "connect + write+read-back TOTP through pcscd: {} APDUs, {:?}",
        receipt.apdus,
        started.elapsed()
    );
    token(READER0).delete(b"keyward:cold").unwrap();
    // Those connections reset the card when they closed (every PC/SC client
    // does); the first connection reconnects and carries on.
    let receipt = t
        .write(&virt(), &spec("hotp", OathType::Hotp, &secret), now())
        .unwrap();
    assert_eq!(receipt.next_counter, Some(1));
    // Other hashes, lengths and periods, against oathtool.
    let long = Secret::from_hex(&SECRET_HEX.repeat(3)).unwrap();
    for (algorithm, name, digits, period) in [
        (Algorithm::Sha256, "sha256", Digits::EIGHT, 60u32),
        (Algorithm::Sha512, "sha512", Digits::SEVEN, 15),
    ] {
        let mut s = spec(name, OathType::Totp, &long);
        s.algorithm = algorithm;
        s.digits = digits;
        s.period = Period::new(period).unwrap();
        t.write(&virt(), &s, now()).unwrap();
        let id = format!("{period}/keyward:{name}");
        let code = t
            .calculate(id.as_bytes(), OathType::Totp, s.period, 1_234_567_890)
            .unwrap();
        let expected = oathtool(&[
            &format!("--totp={name}"),
            "-d",
            &digits.get().to_string(),
            "-s",
            &period.to_string(),
            "-N",
            "@1234567890",
            &SECRET_HEX.repeat(3),
        ]);
        assert_eq!(code, expected, "{name}");
        t.delete(id.as_bytes()).unwrap();
    }

    // TOTP at a fixed time: the token answers the host's challenge.
    for time in [59u64, 1_111_111_109, 2_000_000_000] {
        let code = t
            .calculate(
                b"keyward:totp",
                OathType::Totp,
                Period::new(30).unwrap(),
                time,
            )
            .unwrap();
        let at = time.to_string();
        assert_eq!(
            code,
            keyward_otp(&["totp", "--hex-secret", SECRET_HEX, "--time", &at])
        );
        assert_eq!(
            code,
            oathtool(&["--totp", "-N", &format!("@{time}"), SECRET_HEX])
        );
    }
    // HOTP: the read-back used counter 0, so the next code is counter 1.
    for counter in 1..4u64 {
        let code = t
            .calculate(b"keyward:hotp", OathType::Hotp, Period::new(30).unwrap(), 0)
            .unwrap();
        let c = counter.to_string();
        assert_eq!(
            code,
            keyward_otp(&["hotp", "--hex-secret", SECRET_HEX, "--counter", &c])
        );
        assert_eq!(code, oathtool(&["--hotp", "-c", &c, SECRET_HEX]));
    }

    let names: Vec<_> = t.list().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        vec![b"keyward:totp".to_vec(), b"keyward:hotp".to_vec()]
    );

    t.delete(b"keyward:totp").unwrap();
    assert!(matches!(
        t.delete(b"keyward:totp"),
        Err(TokenError::NoSuchCredential { .. })
    ));
    t.wipe().unwrap();
    assert!(t.list().unwrap().is_empty());
    assert!(matches!(
        t.calculate(b"keyward:hotp", OathType::Hotp, Period::new(30).unwrap(), 0),
        Err(TokenError::NoSuchCredential { .. })
    ));
}

#[test]
fn device_pin_counts_down_blocks_and_resets() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = Sim::start(&pcscd, 0, &pcscd.state_file("pin.toml"), &[]);
    let mut t = token(READER0);
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    t.write(&virt(), &spec("c", OathType::Totp, &secret), now())
        .unwrap();

    let pin = PinValue::new(b"482915").unwrap();
    let wrong = PinValue::new(b"000001").unwrap();
    let puk = PinValue::new(b"73918264").unwrap();
    assert_eq!(t.pin_state().unwrap(), PinState::NotSet);
    let virt = keyward::profile::Profile::parse(
        include_str!("../../firmware-profiles/keyward-virtual.toml"),
        std::path::Path::new("keyward-virtual.toml"),
    )
    .unwrap();
    t.set_pin(&virt, &pin, &puk).unwrap();
    // Setting over an existing PIN needs the old one: refused, typed.
    assert!(matches!(
        t.set_pin(&virt, &pin, &puk),
        Err(TokenError::Status {
            status: Status::SecurityNotSatisfied,
            ..
        })
    ));
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(3));
    t.verify_pin(&pin).unwrap();

    assert!(matches!(
        t.verify_pin(&wrong),
        Err(TokenError::WrongPin { tries_left: 2 })
    ));
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(2));
    assert!(matches!(
        t.verify_pin(&wrong),
        Err(TokenError::WrongPin { tries_left: 1 })
    ));
    assert!(matches!(t.verify_pin(&wrong), Err(TokenError::PinBlocked)));
    // Blocked: even the right PIN is refused, and the token gives no codes.
    assert!(matches!(t.verify_pin(&pin), Err(TokenError::PinBlocked)));
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(0));
    assert!(matches!(
        t.calculate(b"keyward:c", OathType::Totp, Period::new(30).unwrap(), 59),
        Err(TokenError::PinBlocked)
    ));

    // A wrong resetting code counts down on its own counter.
    assert!(matches!(
        t.reset_pin(&wrong, None),
        Err(TokenError::WrongPin { tries_left: 2 })
    ));
    t.reset_pin(&puk, None).unwrap();
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(3));
    t.verify_pin(&pin).unwrap();
    let new_pin = PinValue::new(b"604817").unwrap();
    t.change_pin(&pin, &new_pin).unwrap();
    assert!(matches!(
        t.verify_pin(&pin),
        Err(TokenError::WrongPin { tries_left: 2 })
    ));
    t.verify_pin(&new_pin).unwrap();
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(3));
    t.calculate(b"keyward:c", OathType::Totp, Period::new(30).unwrap(), 59)
        .unwrap();
}

/// ykman's code for a TOTP account must equal oathtool's at the same moment;
/// a step boundary between the two calls is tolerated by computing both sides.
fn assert_totp_matches(line_code: &str, asked_at: u64, totp: &str, oath_args: &[&str]) {
    // From before ykman was asked (a loaded machine may run it across a
    // step boundary) to now.
    let t0 = format!("@{asked_at}");
    let before = oathtool(&[&[totp, "-N", &t0], oath_args].concat());
    let t1 = format!("@{}", now());
    let after = oathtool(&[&[totp, "-N", &t1], oath_args].concat());
    assert!(
        line_code == before || line_code == after,
        "ykman said {line_code}, oathtool {before}/{after}"
    );
}

/// `ykman oath ARGS` on the token in reader 0.
fn oath(args: &[&str]) -> String {
    ykman(READER0, &[&["oath"], args].concat())
}

fn code_of(output: &str, account: &str) -> String {
    output
        .lines()
        .find(|l| l.starts_with(account))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("{account} not in {output}"))
        .to_owned()
}

#[test]
fn ykman_interop_add_list_code_delete() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = Sim::with_serial(&pcscd, 0, "yk.toml", "12345678");

    let add_account = |args: &[&str]| {
        oath(&[&["accounts", "add"], args].concat());
    };
    let info = ykman(READER0, &["info"]);
    assert!(info.contains("Serial number: 12345678"), "{info}");
    assert!(info.contains("Firmware version: 5.4.3"), "{info}");

    add_account(&["-o", "TOTP", "Iss:alice", SECRET_B32]);
    add_account(&["-o", "HOTP", "-c", "5", "hot", SECRET_B32]);
    add_account(&[
        "-o", "TOTP", "-a", "SHA256", "-d", "8", "-P", "60", "Iss:slow", SLOW_B32,
    ]);
    let list = oath(&["accounts", "list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        vec!["hot", "Iss:alice", "60/Iss:slow"]
    );

    let asked_at = now();
    let codes = oath(&["accounts", "code", "Iss:alice"]);
    let alice = code_of(&codes, "Iss:alice");
    assert_totp_matches(&alice, asked_at, "--totp", &["-b", SECRET_B32]);
    let asked_at = now();
    let codes = oath(&["accounts", "code", "Iss:slow"]);
    assert_totp_matches(
        &code_of(&codes, "60/Iss:slow"),
        asked_at,
        "--totp=sha256",
        &["-d", "8", "-s", "60", "-b", SLOW_B32],
    );
    let codes = oath(&["accounts", "code", "hot"]);
    assert_eq!(
        code_of(&codes, "hot"),
        oathtool(&["--hotp", "-c", "5", "-b", SECRET_B32])
    );
    let codes = oath(&["accounts", "code", "hot"]);
    assert_eq!(
        code_of(&codes, "hot"),
        oathtool(&["--hotp", "-c", "6", "-b", SECRET_B32])
    );

    // keyward's driver sees what ykman wrote, and computes the same codes.
    let mut t = token(READER0);
    let listed: Vec<_> = t.list().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(listed.len(), 3);
    let code = t
        .calculate(b"Iss:alice", OathType::Totp, Period::new(30).unwrap(), 59)
        .unwrap();
    assert_eq!(code, oathtool(&["--totp", "-N", "@59", "-b", SECRET_B32]));
    let code = t
        .calculate(b"hot", OathType::Hotp, Period::new(30).unwrap(), 0)
        .unwrap();
    assert_eq!(code, oathtool(&["--hotp", "-c", "7", "-b", SECRET_B32]));
    drop(t);

    oath(&["accounts", "delete", "hot", "-f"]);
    let list = oath(&["accounts", "list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        vec!["Iss:alice", "60/Iss:slow"]
    );

    // RENAME keeps the period prefix.
    oath(&["accounts", "rename", "Iss:slow", "Iss2:renamed", "-f"]);
    let list = oath(&["accounts", "list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        vec!["Iss:alice", "60/Iss2:renamed"]
    );

    // Access code: SET CODE, then SELECT challenges and VALIDATE.
    oath(&["access", "change", "-n", "s3cret"]);
    let profiles = keyward::profile::builtin().unwrap();
    let id = token(READER0).identify(&profiles).unwrap();
    assert!(id.locked && id.credentials.is_none(), "{id:?}");
    assert!(matches!(token(READER0).list(), Err(TokenError::Locked)));
    let list = oath(&["accounts", "list", "-p", "s3cret"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    let asked_at = now();
    let codes = oath(&["accounts", "code", "-p", "s3cret", "Iss:alice"]);
    let alice = code_of(&codes, "Iss:alice");
    assert_totp_matches(&alice, asked_at, "--totp", &["-b", SECRET_B32]);
    oath(&["access", "change", "-p", "s3cret", "-c"]);
    assert_eq!(token(READER0).list().unwrap().len(), 2);

    // RESET from ykman empties the token for keyward's driver too.
    oath(&["reset", "-f"]);
    assert!(token(READER0).list().unwrap().is_empty());
    assert_eq!(oath(&["accounts", "list"]), "");
}

#[test]
fn credential_written_by_keyward_is_listed_and_computed_by_ykman() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = Sim::start(&pcscd, 0, &pcscd.state_file("k.toml"), &[]);
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    let mut t = token(READER0);
    t.write(&virt(), &spec("director", OathType::Totp, &secret), now())
        .unwrap();
    let mut hotp = spec("hdirector", OathType::Hotp, &secret);
    hotp.counter = 10;
    hotp.digits = Digits::EIGHT;
    t.write(&virt(), &hotp, now()).unwrap();
    drop(t);

    let list = oath(&["accounts", "list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        vec!["keyward:director", "keyward:hdirector"]
    );
    let asked_at = now();
    let codes = oath(&["accounts", "code", "keyward:director"]);
    assert_totp_matches(
        &code_of(&codes, "keyward:director"),
        asked_at,
        "--totp",
        &[SECRET_HEX],
    );
    // The read-back consumed counter 10; ykman gets 11.
    let codes = oath(&["accounts", "code", "keyward:hdirector"]);
    assert_eq!(
        code_of(&codes, "keyward:hdirector"),
        oathtool(&["--hotp", "-d", "8", "-c", "11", SECRET_HEX])
    );
}

#[test]
fn dropped_connection_mid_write_leaves_all_or_nothing() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let secret = Secret::from_hex(SECRET_HEX).unwrap();

    // APDU 1 is SELECT, 2 the PUT, 3 the read-back CALCULATE. Unplug as the PUT
    // arrives (before or after the card acts on it), or during the read-back.
    for (drop_after, process, operation, expect_present) in [
        ("1", false, "write credential", false),
        ("1", true, "write credential", true),
        ("2", false, "read back", true),
    ] {
        let state = pcscd.state_file(&format!("drop-{drop_after}-{process}.toml"));
        let mut args = vec!["--drop-after", drop_after];
        if process {
            args.push("--process-dropped");
        }
        let removals = pcscd.removals_seen(READER0);
        let mut sim = Sim::start(&pcscd, 0, &state, &args);
        let err = token(READER0)
            .write(&virt(), &spec("x", OathType::Totp, &secret), now())
            .unwrap_err();
        assert!(
            matches!(err, TokenError::Removed { operation: op } if op == operation),
            "{err:?}"
        );
        let status = sim.wait_exit(Duration::from_secs(5));
        assert!(!status.success());
        sim.wait_present(false, Duration::from_secs(5));
        // A card that vanished mid-transmit is seen by vpcd at once but by
        // pcscd's presence poll (every 400 ms) only later; a "re-plug" faster
        // than that is not noticed as an insertion. Real hands are slower.
        pcscd.wait_removals_seen(READER0, removals + 1);

        let _sim = Sim::start(&pcscd, 0, &state, &[]);
        let mut t = token(READER0);
        let listed = t.list().unwrap();
        if expect_present {
            assert_eq!(listed.len(), 1);
            let code = t
                .calculate(b"keyward:x", OathType::Totp, Period::new(30).unwrap(), 59)
                .unwrap();
            assert_eq!(code, oathtool(&["--totp", "-N", "@59", SECRET_HEX]));
        } else {
            assert!(listed.is_empty(), "{listed:?}");
        }
    }

    // An injected status word comes back typed, with the status word.
    let _sim = Sim::start(
        &pcscd,
        1,
        &pcscd.state_file("full.toml"),
        &["--fail-ins", "01=6A84"],
    );
    let err = token(crate::support::pcscd::READER1)
        .write(&virt(), &spec("y", OathType::Totp, &secret), now())
        .unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::Status {
                operation: "write credential",
                status: Status::NoSpace
            }
        ),
        "{err:?}"
    );
}

#[test]
fn hot_plug_is_reported_within_one_second() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let mut watcher = Watcher::new(Pcsc::establish().unwrap());
    let initial = watcher.poll(Duration::ZERO).unwrap();
    assert!(
        initial.contains(&ReaderEvent::ReaderAdded {
            reader: READER0.into()
        }),
        "{initial:?}"
    );

    let state = pcscd.state_file("hp.toml");
    // The sim takes a moment to start; the clock starts when its process does.
    let started = Instant::now();
    let mut sim = Sim::spawn(&pcscd, 0, &state, &[]);
    let inserted = wait_for(
        &mut watcher,
        |e| matches!(e, ReaderEvent::Inserted { reader, .. } if reader == READER0),
    );
    let insert_latency = started.elapsed();
    println!("insert reported after {insert_latency:?}");
    assert!(
        insert_latency < Duration::from_secs(1),
        "{insert_latency:?}"
    );
    assert!(
        matches!(inserted, ReaderEvent::Inserted { atr, .. } if atr == keyward::oath::sim::applet::ATR)
    );

    let stopped = Instant::now();
    sim.stop();
    wait_for(
        &mut watcher,
        |e| matches!(e, ReaderEvent::Removed { reader } if reader == READER0),
    );
    let remove_latency = stopped.elapsed();
    println!("removal reported after {remove_latency:?}");
    assert!(
        remove_latency < Duration::from_secs(1),
        "{remove_latency:?}"
    );
}

fn wait_for(watcher: &mut Watcher, want: impl Fn(&ReaderEvent) -> bool) -> ReaderEvent {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        for e in watcher.poll(Duration::from_millis(200)).unwrap() {
            if want(&e) {
                return e;
            }
        }
        assert!(Instant::now() < deadline, "event not seen");
    }
}

#[test]
fn sim_reconnects_when_pcscd_restarts() {
    let _guard = lock();
    let mut pcscd = Pcscd::start();
    let state = pcscd.state_file("re.toml");
    let sim = Sim::start(&pcscd, 0, &state, &[]);
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    token(READER0)
        .write(&virt(), &spec("kept", OathType::Totp, &secret), now())
        .unwrap();
    pcscd.restart();
    sim.wait_present(true, Duration::from_secs(10));
    let code = token(READER0)
        .calculate(
            b"keyward:kept",
            OathType::Totp,
            Period::new(30).unwrap(),
            59,
        )
        .unwrap();
    assert_eq!(code, oathtool(&["--totp", "-N", "@59", SECRET_HEX]));
}

#[test]
fn token_cli_identifies_and_lists() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = Sim::with_serial(&pcscd, 1, "cli.toml", "31337");
    let reader = crate::support::pcscd::READER1;
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    token(reader)
        .write(&virt(), &spec("cli", OathType::Hotp, &secret), now())
        .unwrap();
    let run = |args: &[&str]| {
        let mut cmd = cli::keyward(["reader"]);
        let assert = cmd
            .args(args)
            .env("RUST_LOG", "keyward::apdu=trace")
            .assert()
            .success();
        let out = assert.get_output();
        (cli::text(&out.stdout), cli::text(&out.stderr))
    };
    let (readers, _) = run(&["readers"]);
    assert_eq!(readers.lines().collect::<Vec<_>>(), vec![READER0, reader]);
    let (info, trace) = run(&["info", "--reader", reader]);
    assert_eq!(
        info.lines().collect::<Vec<_>>(),
        vec![
            "reader: Virtual PCD 00 01",
            "profile: keyward-virtual",
            "serial: 31337",
            "OATH version: 5.4.3",
            info.lines().nth(4).unwrap(),
            "credentials: 1 (31 slots free)",
        ]
    );
    assert!(info.lines().nth(4).unwrap().starts_with("device id: "));
    // RUST_LOG=trace shows every APDU of the transaction.
    assert_eq!(trace.matches(" >> ").count(), 4, "{trace}");
    let (list, _) = run(&["list", "--reader", reader]);
    assert_eq!(list, "keyward:cli\tHotp\tSHA1\n");
}

#[test]
fn token_watch_reports_and_identifies_insertions() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let reader1 = crate::support::pcscd::READER1;
    let added = format!("reader added: {reader1}");
    // With --seconds the watch lists the readers and ends by itself.
    let out = cli::run(&mut cli::keyward(["reader", "watch", "--seconds", "1"]));
    assert!(out.status.success());
    let text = cli::text(&out.stdout);
    assert!(text.contains(&added), "{text}");

    // Left running, it reports each change. The token goes in once the
    // watch has listed the readers (its baseline), so it cannot be missed.
    let mut watch = cli::Running::start(["reader", "watch"]);
    watch.lines.wait_for(&added);
    let mut sim = Sim::with_serial(&pcscd, 1, "w.toml", "777");
    let inserted = watch.lines.wait_for(&format!("inserted: {reader1}"));
    assert!(
        inserted.contains(&format!(
            "inserted: {reader1} (ATR 3BFD1300008131FE158073C021C057597562694B657940; profile keyward-virtual, serial 777)"
        )),
        "{}",
        watch.lines.transcript
    );
    sim.stop();
    watch.lines.wait_for(&format!("removed: {reader1}"));
}
