//! The school year of docs/lifecycle.md end to end: the real `keyward serve` binary with
//! a test clock, a real pcscd with `keyward sim` tokens in vpcd readers, and
//! real HTTP clients (the `keyward` CLI for the batch, the station, prepare
//! and verify; the library client for the rest).
//!
//! Cases: a new director's key prepared in a batch, handed over, activated at
//! the station, verify accepted, replay and wrong PIN rejected, lock after 10
//! failures and unlock; a daemon restart with nothing lost; a deputy's
//! delegation and key (case 1), the director's return (case 2: rejected at
//! once, return receipt, key received, wiped, restocked); a lost key (case 3:
//! revoked at once, old codes rejected, replacement prepared and handed over);
//! the end of the appointment (case 4: rights end by themselves, overdue
//! report before the return, return receipt).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::cli::{self, Lines};
use crate::support::pcscd::{lock, Pcscd, Sim, READER0, READER1};
use crate::support::serve::{serve, Served};
use crate::support::world::at;
use keyward::client::Client;
use keyward::wire::verify::VerifyOutcome;
use keyward::wire::{ErrorCode, ErrorDetail};
use serde_json::{json, Value};

const SCHOOL: &str = "0751710B";
const PIN_A: &str = "482915";
const PIN_B: &str = "730418";
const PIN_A2: &str = "615209";
const PIN_E: &str = "591648";

/// The daemon's clock: a file it reads at every use (debug builds).
struct TestClock(PathBuf);

impl TestClock {
    fn set(&self, unix: u64) {
        let tmp = self.0.with_extension("tmp");
        std::fs::write(&tmp, unix.to_string()).unwrap();
        std::fs::rename(&tmp, &self.0).unwrap();
    }

    fn now(&self) -> u64 {
        std::fs::read_to_string(&self.0)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn advance(&self, seconds: u64) {
        self.set(self.now() + seconds);
    }
}

/// `keyward serve` on the test clock, without the virtual token.
fn start_daemon(data: &Path, clock: &TestClock) -> Served {
    let daemon = Served::start(
        serve(data, &["--virtual-token", "off"])
            .env("KEYWARD_TEST_CLOCK", &clock.0)
            .env("RUST_LOG", "warn"),
    );
    assert!(Client::new(&daemon.url, None).healthy());
    daemon
}

fn client_of(daemon: &Served, key: &str) -> Client {
    Client::new(&daemon.url, Some(key.to_owned()))
}

/// Runs the CLI with a key and standard input; returns (exit code, stdout, stderr).
fn cli(daemon: &Served, key: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = cli::run(cli::client(&daemon.url, key, args).write_stdin(stdin));
    (
        out.status.code().unwrap_or(-1),
        cli::text(&out.stdout),
        cli::text(&out.stderr),
    )
}

/// The inspector hands `serial` over at `place`; the holder activates it at
/// the station with `pin`.
fn hand_over_and_activate(
    ien: &Client,
    station: &Client,
    serial: &str,
    place: &str,
    reader: &str,
    pin: &str,
) {
    ien.handover(serial, &body(json!({"place": place, "reader": reader})))
        .unwrap();
    station
        .activate(serial, &body(json!({"reader": reader, "pin": pin})))
        .unwrap();
}

/// The inspector takes back `serial` at `reader`; a return receipt is signed.
fn return_with_receipt(ien: &Client, serial: &str, reason: &str, reader: &str) {
    let returned = json_of(
        ien.return_token(
            serial,
            &body(json!({"place": "IEN Est", "reason": reason, "reader": reader})),
        )
        .unwrap(),
    );
    assert_eq!(returned["receipt"]["kind"], "return");
}

/// Runs the CLI with a key; it must exit 0. Returns its stdout.
fn cli_ok(daemon: &Served, key: &str, args: &[&str]) -> String {
    cli::stdout_ok(&mut cli::client(&daemon.url, key, args))
}

/// Waits until the daemon reports `serial` present at `reader` (it notices
/// insertions within a second; the bound only stops a hung test, and a
/// machine under load was seen to take over 15 s).
fn wait_device(client: &Client, reader: &str, serial: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let devices = json_of(client.devices().unwrap());
        if devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["reader"] == reader && d["serial"] == serial)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{serial} never showed at {reader}: {devices}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A typed answer as JSON, for assertions by field name.
fn json_of(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap()
}

/// A request body written as JSON, as its wire type.
fn body<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// A fresh code read from the token at `reader` (HOTP: each read is the next).
fn code(desk: &Client, reader: &str) -> String {
    desk.device_code(reader).unwrap().code
}

fn accepted(gateway: &Client, login: &str, passcode: &str) -> Option<Value> {
    match gateway.verify(login, passcode).unwrap() {
        VerifyOutcome::Accept { rights } => Some(json_of(rights)),
        VerifyOutcome::Reject => None,
    }
}

/// The gateway's answer to `login` with `pin` and a fresh code from the token
/// at `reader`.
fn login_now(
    gateway: &Client,
    desk: &Client,
    login: &str,
    pin: &str,
    reader: &str,
) -> Option<Value> {
    accepted(gateway, login, &format!("{pin}{}", code(desk, reader)))
}

fn token(client: &Client, serial: &str) -> Value {
    json_of(client.token(serial).unwrap())
}

#[test]
fn a_school_year_end_to_end() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let clock = TestClock(dir.path().join("clock"));
    clock.set(at("2026-08-20", 9));

    // init prints the admin key once.
    let admin_key = cli::init(&data);

    let mut daemon = start_daemon(&data, &clock);
    let admin = client_of(&daemon, &admin_key);
    // The authority, through the CLI as the admin.
    for args in [
        &[
            "people",
            "add",
            "--id",
            "pmartin",
            "--name",
            "Paul Martin",
            "--mail",
            "pmartin@ac-exemple.fr",
        ][..],
        &[
            "districts",
            "add",
            "--code",
            "D-EST",
            "--name",
            "Circonscription Est",
            "--inspector",
            "pmartin",
        ],
        &[
            "schools",
            "add",
            "--uai",
            SCHOOL,
            "--name",
            "École des Lilas",
            "--district",
            "D-EST",
        ],
        &[
            "people",
            "add",
            "--id",
            "adurand",
            "--name",
            "Anne Durand",
            "--mail",
            "adurand@ac-exemple.fr",
        ],
        &[
            "people",
            "add",
            "--id",
            "cmoreau",
            "--name",
            "Chloé Moreau",
            "--mail",
            "cmoreau@ac-exemple.fr",
        ],
        &[
            "people",
            "add",
            "--id",
            "amorel",
            "--name",
            "Alice Morel",
            "--mail",
            "amorel@ac-exemple.fr",
        ],
        &[
            "people",
            "add",
            "--id",
            "bleroy",
            "--name",
            "Bruno Leroy",
            "--mail",
            "bleroy@ac-exemple.fr",
        ],
        // Case 5: rights start by themselves; case 4: and end by themselves.
        &[
            "rights",
            "appoint",
            "--person",
            "adurand",
            "--school",
            SCHOOL,
            "--from",
            "2026-08-20",
            "--until",
            "2027-07-03",
        ],
        &[
            "schools",
            "add",
            "--uai",
            "0130001F",
            "--name",
            "École du Port",
            "--district",
            "D-EST",
        ],
        &[
            "rights",
            "appoint",
            "--person",
            "cmoreau",
            "--school",
            "0130001F",
            "--from",
            "2026-09-01",
        ],
    ] {
        let (status, stdout, stderr) = cli(&daemon, &admin_key, args, "");
        assert_eq!(status, 0, "{args:?}: {stdout}{stderr}");
    }
    let new_key = |body: Value| -> String {
        admin
            .create_api_key(&self::body(body))
            .unwrap()
            .key
            .as_str()
            .to_owned()
    };
    let desk_key = new_key(json!({"name": "desk", "role": "desk", "person": "amorel"}));
    let ien_key = new_key(
        json!({"name": "ien-est", "role": "inspector", "person": "pmartin", "district": "D-EST"}),
    );
    let station_key =
        new_key(json!({"name": "station", "role": "station", "readers": [READER0, READER1]}));
    let gateway_key = new_key(json!({"name": "gateway", "role": "gateway"}));

    let desk = client_of(&daemon, &desk_key);
    let ien = client_of(&daemon, &ien_key);
    let gateway = client_of(&daemon, &gateway_key);

    // --- The handover meeting: a batch at reader 0 (HOTP keys). --------------
    let holders = dir.path().join("holders.txt");
    std::fs::write(&holders, "# 20 August\nadurand\ncmoreau\n").unwrap();
    let mut batch = cli::process([
        "tokens",
        "batch",
        "--kind",
        "hotp",
        "--reader",
        READER0,
        "--holders",
    ])
    .arg(&holders)
    .env("KEYWARD_URL", &daemon.url)
    .env("KEYWARD_API_KEY", &desk_key)
    .spawn()
    .unwrap();
    let mut batch_lines = Lines::of(batch.stdout.take().unwrap());
    batch_lines.wait_for("waiting for a blank token");
    let mut sim_a = Sim::with_serial(&pcscd, 0, "a.toml", "11111111");
    batch_lines.wait_for("prepared 11111111 for adurand");
    sim_a.stop();
    let mut sim_c = Sim::with_serial(&pcscd, 0, "c.toml", "33333333");
    batch_lines.wait_for("prepared 33333333 for cmoreau");
    batch_lines.wait_for("batch: 2 prepared, 0 not");
    assert!(batch.wait().unwrap().success());
    sim_c.stop();
    assert_eq!(token(&desk, "11111111")["state"], "prepared");
    assert_eq!(token(&desk, "11111111")["holder"], "adurand");
    assert_eq!(token(&desk, "33333333")["holder"], "cmoreau");

    // --- Handover by the inspector, activation at the station. ---------------
    let mut sim_a = Sim::with_serial(&pcscd, 0, "a.toml", "11111111");
    wait_device(&desk, READER0, "11111111");
    let handover = json_of(
        ien.handover(
            "11111111",
            &body(json!({"place": "Central office", "reader": READER0})),
        )
        .unwrap(),
    );
    assert_eq!(handover["receipt"]["kind"], "handover");
    let receipts = dir.path().join("receipts");
    let (status, stdout, stderr) = cli(
        &daemon,
        &station_key,
        &[
            "station",
            "--reader",
            READER0,
            "--once",
            "--receipts-dir",
            receipts.to_str().unwrap(),
        ],
        &format!("yes\n123456\n{PIN_A}\n{PIN_A}\n"),
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("holder: adurand") && stdout.contains("state:  handed_over"),
        "{stdout}"
    );
    assert!(stdout.contains("PIN refused"), "{stdout}");
    assert!(stdout.contains("Your key 11111111 is active."), "{stdout}");
    let receipt_path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Handover receipt: "))
        .unwrap();
    let page = std::fs::read_to_string(receipt_path).unwrap();
    assert!(page.contains("Anne Durand"), "{page}");
    assert!(!stdout.contains(PIN_A) && !stderr.contains(PIN_A));

    // --- The gateway. ----------------------------------------------------------
    let c1 = code(&desk, READER0);
    let rights = accepted(&gateway, "adurand", &format!("{PIN_A}{c1}")).expect("accepted");
    assert_eq!(rights[0]["school"], SCHOOL);
    assert_eq!(rights[0]["origin"], "appointment");
    assert!(
        accepted(&gateway, "adurand", &format!("{PIN_A}{c1}")).is_none(),
        "replay"
    );
    assert!(
        login_now(&gateway, &desk, "adurand", PIN_B, READER0).is_none(),
        "wrong PIN"
    );
    // The gateway may name the end user's address; a malformed one is refused.
    let bad = gateway.verify_from("adurand", "000000000000", Some("bad\u{7}source"));
    assert_eq!(bad.unwrap_err().code(), Some(ErrorCode::Invalid));
    // keyward verify, passcode on stdin.
    let (status, stdout, _) = cli(
        &daemon,
        &gateway_key,
        &["verify", "--login", "adurand"],
        &format!("{PIN_A}{}\n", code(&desk, READER0)),
    );
    assert_eq!(status, 0, "{stdout}");
    assert!(stdout.starts_with("accept\n") && stdout.contains(SCHOOL));
    let (status, stdout, _) = cli(
        &daemon,
        &gateway_key,
        &["verify", "--login", "adurand"],
        &format!("{PIN_A}{c1}\n"),
    );
    assert_eq!((status, stdout.as_str()), (1, "reject\n"));

    // Ten failures lock the key; the failure delays are served on the daemon's
    // clock, which a ticker moves on while the attempts are held.
    let ticking = Arc::new(AtomicBool::new(true));
    let ticker = {
        let ticking = ticking.clone();
        let clock = TestClock(clock.0.clone());
        std::thread::spawn(move || {
            while ticking.load(Ordering::Relaxed) {
                clock.advance(301);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // The accepted `keyward verify` reset the count; the replay after it
    // (right PIN, old code) does not count: ten failures from here.
    let mut attempts = 0;
    while token(&desk, "11111111")["credential"]["locked"] != true {
        assert!(attempts < 12, "not locked after {attempts} more failures");
        assert!(accepted(&gateway, "adurand", &format!("{PIN_B}000000")).is_none());
        attempts += 1;
    }
    ticking.store(false, Ordering::Relaxed);
    ticker.join().unwrap();
    assert_eq!(
        attempts, 9,
        "the lock comes at the 10th consecutive failure"
    );
    assert!(
        login_now(&gateway, &desk, "adurand", PIN_A, READER0).is_none(),
        "locked"
    );
    cli_ok(&daemon, &desk_key, &["tokens", "unlock", "11111111"]);
    // Resync: the token ran past the look-ahead window (twenty presses);
    // the desk resynchronises it with two consecutive codes.
    for _ in 0..20 {
        code(&desk, READER0);
    }
    assert!(
        login_now(&gateway, &desk, "adurand", PIN_A, READER0).is_none(),
        "beyond the look-ahead"
    );
    let (first, second) = (code(&desk, READER0), code(&desk, READER0));
    cli_ok(
        &daemon,
        &desk_key,
        &[
            "tokens", "resync", "11111111", "--first", &first, "--second", &second,
        ],
    );
    let last = format!("{PIN_A}{}", code(&desk, READER0));
    assert!(accepted(&gateway, "adurand", &last).is_some(), "unlocked");

    // --- Restart in the middle: nothing lost. --------------------------------
    let status = daemon.stop();
    assert!(
        status.success(),
        "keyward serve did not stop cleanly: {status}"
    );
    let daemon = start_daemon(&data, &clock);
    let (admin, desk, ien, station, gateway) = (
        client_of(&daemon, &admin_key),
        client_of(&daemon, &desk_key),
        client_of(&daemon, &ien_key),
        client_of(&daemon, &station_key),
        client_of(&daemon, &gateway_key),
    );
    assert_eq!(token(&desk, "11111111")["state"], "active");
    assert!(
        accepted(&gateway, "adurand", &last).is_none(),
        "replay after restart"
    );
    wait_device(&desk, READER0, "11111111");
    assert!(login_now(&gateway, &desk, "adurand", PIN_A, READER0).is_some());

    // --- Case 1: a deputy while the director is away. -------------------------
    clock.set(at("2026-11-02", 8));
    let delegation = json_of(ien.delegate(&body(json!({"person": "bleroy", "school": SCHOOL, "from": "2026-11-02", "until": "2026-12-18"}))).unwrap());
    let delegation_id = delegation["id"].as_i64().unwrap();
    ien.request_key(&body(json!({"holder": "bleroy"}))).unwrap();
    let open = json_of(desk.key_requests().unwrap());
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|r| r["holder"] == "bleroy"),
        "{open}"
    );
    let mut sim_b = Sim::with_serial(&pcscd, 1, "b.toml", "22222222");
    wait_device(&desk, READER1, "22222222");
    let stdout = cli_ok(
        &daemon,
        &desk_key,
        &[
            "tokens", "prepare", "--kind", "hotp", "--reader", READER1, "--holder", "bleroy",
        ],
    );
    assert!(stdout.contains("token 22222222 prepared for bleroy"));
    assert!(
        json_of(desk.key_requests().unwrap())
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["holder"] != "bleroy"),
        "request fulfilled"
    );
    // The inspector follows the request: served, with its key.
    let mine = cli_ok(&daemon, &ien_key, &["key-requests", "list"]);
    assert!(
        mine.lines()
            .any(|l| l.contains("bleroy") && l.contains("fulfilled") && l.contains("22222222")),
        "{mine}"
    );
    hand_over_and_activate(&ien, &station, "22222222", "IEN Est", READER1, PIN_B);
    let rights = login_now(&gateway, &desk, "bleroy", PIN_B, READER1).expect("deputy accepted");
    assert_eq!(rights[0]["origin"], "delegation");

    // --- Case 2: the director comes back. --------------------------------------
    clock.set(at("2026-11-20", 8));
    ien.end_right(delegation_id, &Default::default()).unwrap();
    assert!(
        login_now(&gateway, &desk, "bleroy", PIN_B, READER1).is_none(),
        "rejected at once"
    );
    return_with_receipt(&ien, "22222222", "director back", READER1);
    let in_transit = json_of(ien.in_transit().unwrap());
    assert!(in_transit.to_string().contains("22222222"), "{in_transit}");
    desk.receive("22222222").unwrap();
    assert!(!json_of(desk.in_transit().unwrap())
        .to_string()
        .contains("22222222"));
    desk.wipe("22222222", READER1).unwrap();
    desk.restock("22222222").unwrap();
    assert_eq!(token(&desk, "22222222")["state"], "stock");
    sim_b.stop();

    // --- Case 3: the director's key is lost. -----------------------------------
    clock.set(at("2027-01-11", 8));
    let refused = desk.file_replacement(&body(json!({"holder": "adurand", "reason": "lost", "from": "ce.0751710b@ac-exemple.fr", "cc": ["pmartin@ac-exemple.fr"]})));
    assert_eq!(
        refused.unwrap_err().detail(),
        Some(ErrorDetail::HelpMailRefused)
    );
    assert_eq!(
        token(&desk, "11111111")["state"],
        "active",
        "a refused request changes nothing"
    );
    let old = code(&desk, READER0);
    let request = json_of(desk.file_replacement(&body(json!({"holder": "adurand", "reason": "lost", "from": "adurand@ac-exemple.fr", "cc": ["pmartin@ac-exemple.fr"]})))
        .unwrap());
    assert_eq!(token(&desk, "11111111")["state"], "revoked");
    assert!(
        accepted(&gateway, "adurand", &format!("{PIN_A}{old}")).is_none(),
        "old key's codes rejected"
    );
    // Emergency access while the key is replaced (docs/emergency.md): the
    // inspector grants a sheet at the station, the holder types a PIN.
    let (status, sheet, stderr) = cli(
        &daemon,
        &ien_key,
        &[
            "emergency",
            "grant",
            "--request",
            &request["id"].to_string(),
            "--form",
            "sheet",
            "--codes",
            "3",
        ],
        &format!("{PIN_E}\n{PIN_E}\n"),
    );
    assert_eq!(status, 0, "{sheet}{stderr}");
    assert!(sheet.contains("keyward-emergency-slip-v1"), "{sheet}");
    let codes: Vec<&str> = sheet
        .lines()
        .filter_map(|l| l.trim().split_once(". ").map(|(_, c)| c))
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(codes.len(), 3, "{sheet}");
    let first = format!("{PIN_E}{}", codes[0]);
    assert!(accepted(&gateway, "adurand", &first).is_some());
    assert!(accepted(&gateway, "adurand", &first).is_none(), "once");
    let listed = cli_ok(&daemon, &desk_key, &["emergency", "list"]);
    assert!(
        !listed.contains(codes[1]) && listed.contains("adurand"),
        "{listed}"
    );
    sim_a.stop();
    let _sim_d = Sim::with_serial(&pcscd, 0, "d.toml", "44444444");
    wait_device(&desk, READER0, "44444444");
    cli_ok(
        &daemon,
        &desk_key,
        &[
            "replacements",
            "prepare",
            &request["id"].to_string(),
            "--reader",
            READER0,
        ],
    );
    assert_eq!(token(&desk, "44444444")["holder"], "adurand");
    let help = cli_ok(&daemon, &desk_key, &["replacements", "list"]);
    assert!(
        help.lines()
            .any(|l| l.contains("11111111") && l.contains("fulfilled") && l.contains("44444444")),
        "{help}"
    );
    hand_over_and_activate(
        &ien,
        &station,
        "44444444",
        "Central office",
        READER0,
        PIN_A2,
    );
    assert!(
        accepted(&gateway, "adurand", &format!("{PIN_E}{}", codes[1])).is_none(),
        "emergency access ended at activation"
    );
    // The replacement is a TOTP key (the default): the handover and the
    // activation used this step's code, the next login needs the next step.
    clock.advance(30);
    assert!(login_now(&gateway, &desk, "adurand", PIN_A2, READER0).is_some());

    // --- Case 4: the end of the school year. ----------------------------------
    clock.set(at("2027-07-04", 9));
    assert!(
        login_now(&gateway, &desk, "adurand", PIN_A2, READER0).is_none(),
        "rights ended by themselves"
    );
    clock.set(at("2027-07-20", 9));
    let overdue = json_of(ien.overdue().unwrap());
    assert!(
        overdue["D-EST"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["serial"] == "44444444"),
        "{overdue}"
    );
    return_with_receipt(&ien, "44444444", "end of appointment", READER0);
    assert!(!json_of(ien.overdue().unwrap())
        .to_string()
        .contains("44444444"));

    // The audit chain is intact, through the daemon and locally.
    let stdout = cli_ok(&daemon, &admin_key, &["audit", "verify"]);
    assert!(stdout.starts_with("audit: ok"));
    drop(admin);
}
