//! RSA-style challenges against real peers: FreeRADIUS's `radclient` sends
//! the `State` of an Access-Challenge back, and privacyIDEA's
//! `transaction_id` goes back to `/validate/check`. The next-code challenge
//! resynchronises a key that ran past its look-ahead window; the new-PIN
//! challenge follows a PIN reset ordered with `keyward tokens reset-pin`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward::otp::{code_at, Digits};
use serde_json::{json, Value};

use crate::radius_peers::{access, radclient, Gateway, Holder};
use crate::support::cli::{keyward, stdout_ok};

const ACCEPT: &str = "Received Access-Accept";
const REJECT: &str = "Received Access-Reject";
const CHALLENGE: &str = "Received Access-Challenge";

/// The `State` of a radclient's printed Access-Challenge, as `0x...`.
fn state_of(printed: &str) -> String {
    let (_, received) = printed
        .split_once(CHALLENGE)
        .unwrap_or_else(|| panic!("no challenge: {printed}"));
    assert!(received.contains("Reply-Message = "), "{printed}");
    received
        .lines()
        .find_map(|l| l.trim().strip_prefix("State = "))
        .unwrap_or_else(|| panic!("no State in {printed}"))
        .to_owned()
}

/// [`radclient`] with a 10-second timeout.
fn radclient_waiting(addr: std::net::SocketAddr, secret: &str, attributes: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("radclient")
        .args([
            "-x",
            "-r",
            "1",
            "-t",
            "10",
            &addr.to_string(),
            "auth",
            secret,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("radclient (Debian freeradius-utils)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(attributes.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn answer(login: &str, password: &str, state: &str) -> String {
    format!("{}State = {state}\n", access(login, password, true))
}

fn code(holder: &Holder, counter: u64) -> String {
    code_at(&holder.key, counter, Digits::SIX).to_string()
}

fn serial_of(gw: &Gateway, login: &str) -> String {
    let conn = rusqlite::Connection::open_with_flags(
        gw.data.join(keyward::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT token FROM credentials WHERE holder = ?1 AND live = 1",
        [login],
        |r| r.get(0),
    )
    .unwrap()
}

fn reset_pin(gw: &Gateway, serial: &str) {
    stdout_ok(
        keyward(["tokens", "reset-pin", serial])
            .env("KEYWARD_URL", &gw.served.url)
            .env("KEYWARD_API_KEY", &gw.admin_key),
    );
}

#[test]
fn radclient_next_code_challenge_resynchronises_a_key_past_its_window() {
    let mut gw = Gateway::start(2);
    let h = &gw.holders[0];
    let login = h.login.clone();
    // The key was pressed 40 times away from the server: past the
    // look-ahead window (10), within the resync range (1000).
    let far = h.counter + 40;
    let first = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, far)), true),
    );
    let state = state_of(&first);
    // The State is single-use and bound to its login: another holder
    // cannot answer it, and then it is gone.
    let other = &gw.holders[1];
    let stolen = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &answer(&other.login, &code(h, far + 1), &state),
    );
    assert!(stolen.contains(REJECT), "{stolen}");
    let gone = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &answer(&login, &code(h, far + 1), &state),
    );
    assert!(gone.contains(REJECT), "single use: {gone}");
    // Again, answered with a code that does not follow: rejected.
    let again = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, far + 2)), true),
    );
    let state = state_of(&again);
    // (The third failure, counted like a wrong passcode: the verify
    // service now holds a rejection a moment, so radclient waits longer.)
    let wrong = radclient_waiting(
        gw.radius,
        &gw.secret,
        &answer(&login, &code(h, far + 5), &state),
    );
    assert!(wrong.contains(REJECT), "{wrong}");
    // Once more, answered with the next code: resynchronised and accepted,
    // with the rights in force.
    let third = radclient_waiting(
        gw.radius,
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, far + 10)), true),
    );
    let state = state_of(&third);
    let next = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &answer(&login, &code(h, far + 11), &state),
    );
    assert!(next.contains(ACCEPT), "{next}");
    assert!(next.contains("Class = 0x5541493d"), "{next}");
    // The key is back in step: its following code logs in directly; the
    // resync code cannot be replayed.
    let replay = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, far + 11)), true),
    );
    assert!(replay.contains(REJECT), "{replay}");
    let after = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, far + 12)), true),
    );
    assert!(after.contains(ACCEPT), "{after}");
    // A wrong PIN with a far code opens nothing (a challenge would tell
    // that the PIN is right).
    let wrong_pin = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("000000{}", code(h, far + 60)), true),
    );
    assert!(wrong_pin.contains(REJECT), "{wrong_pin}");
    // The right PIN with a code past the next-code range (100 counters
    // past the window): a plain rejection, for the desk to resync.
    let too_far = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(
            &login,
            &format!("{}{}", h.pin, code(h, far + 12 + 10 + 100 + 5)),
            true,
        ),
    );
    assert!(too_far.contains(REJECT), "{too_far}");
    gw.assert_audited(&login, "verify.accept", 2);
    gw.assert_audited(&login, "verify.challenge", 3);
    let metrics = gw.metrics();
    assert!(
        metrics.contains("client=\"local\",outcome=\"challenge_next_code\"} 3"),
        "{metrics}"
    );
    gw.served.stop();
}

#[test]
fn radclient_new_pin_challenge_after_a_pin_reset() {
    let mut gw = Gateway::start(1);
    let h = &gw.holders[0];
    let login = h.login.clone();
    let serial = serial_of(&gw, &login);
    reset_pin(&gw, &serial);
    let c = h.counter;
    // The old PIN logs in no more, at any interface.
    let old = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, c)), true),
    );
    assert!(old.contains(REJECT), "{old}");
    // The code alone proves possession and asks for a new PIN.
    let first = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &code(h, c + 1), true),
    );
    let state = state_of(&first);
    // A PIN the policy refuses: asked again.
    let weak = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &answer(&login, "123456", &state),
    );
    let state = state_of(&weak);
    let chosen = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &answer(&login, "730519", &state),
    );
    let state = state_of(&chosen);
    // New PIN and next code: accepted.
    let login_now = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &answer(&login, &format!("730519{}", code(h, c + 2)), &state),
    );
    assert!(login_now.contains(ACCEPT), "{login_now}");
    // The old PIN stays refused; the new one logs in directly.
    let old_again = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("{}{}", h.pin, code(h, c + 3)), true),
    );
    assert!(old_again.contains(REJECT), "{old_again}");
    let direct = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &format!("730519{}", code(h, c + 4)), true),
    );
    assert!(direct.contains(ACCEPT), "{direct}");
    // The code used for the proof of possession was consumed.
    gw.assert_audited(&login, "verify.accept", 2);
    gw.served.stop();
}

fn check(gw: &Gateway, body: &Value) -> Value {
    ureq::post(format!("{}/validate/check", gw.served.url))
        .header("Authorization", format!("Bearer {}", gw.admin_key))
        .send_json(body)
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

#[test]
fn validate_check_opens_the_same_challenges_with_a_transaction_id() {
    let mut gw = Gateway::start(1);
    let h = &gw.holders[0];
    let login = h.login.clone();
    let far = h.counter + 40;
    let first = check(
        &gw,
        &json!({"user": login, "pass": format!("{}{}", h.pin, code(h, far))}),
    );
    assert_eq!(first["result"]["value"], false, "{first}");
    let tid = first["detail"]["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(tid.len(), 32, "{first}");
    assert!(!first["detail"]["message"].as_str().unwrap().is_empty());
    // An unknown transaction id answers nothing.
    let forged = check(
        &gw,
        &json!({"user": login, "pass": code(h, far + 1), "transaction_id": "00".repeat(16)}),
    );
    assert_eq!(forged["result"]["value"], false, "{forged}");
    assert!(forged["detail"]["transaction_id"].is_null());
    let done = check(
        &gw,
        &json!({"user": login, "pass": code(h, far + 1), "transaction_id": tid}),
    );
    assert_eq!(done["result"]["value"], true, "{done}");
    let reused = check(
        &gw,
        &json!({"user": login, "pass": code(h, far + 2), "transaction_id": tid}),
    );
    assert_eq!(reused["result"]["value"], false, "single use: {reused}");
    gw.served.stop();
}

/// The failure counters of `login`'s live credential: (fails, retry_at).
fn counters_of(gw: &Gateway, login: &str) -> (u32, i64) {
    let conn = rusqlite::Connection::open_with_flags(
        gw.data.join(keyward::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    // They live in the counters table, at the credential's slot.
    conn.query_row(
        "SELECT p.fails, p.retry_at FROM credentials c JOIN phantom_counters p
         ON p.slot = ?2 + c.id WHERE c.holder = ?1 AND c.live = 1",
        rusqlite::params![login, keyward::store::verify::counters_slot(0)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn wrong_answers_to_challenges_count_towards_lockout_like_wrong_passcodes() {
    let mut gw = Gateway::start(3);
    let (plain, next, reset) = (&gw.holders[0], &gw.holders[1], &gw.holders[2]);
    let send = |login: &str, password: &str, state: Option<&str>| {
        let attributes = match state {
            Some(state) => answer(login, password, state),
            None => access(login, password, true),
        };
        // Waits out the holds the verify service serves from 3 failures.
        radclient_waiting(gw.radius, &gw.secret, &attributes)
    };
    // Wrong passcodes at /v1/verify's core: one failure each, and the
    // third one starts the delays.
    let mut seen = Vec::new();
    for i in 0..3 {
        let out = send(
            &plain.login,
            &format!("000000{}", code(plain, plain.counter + i)),
            None,
        );
        assert!(out.contains(REJECT), "{out}");
        seen.push(counters_of(&gw, &plain.login));
    }
    let by_passcode: Vec<u32> = seen.iter().map(|c| c.0).collect();
    assert_eq!(by_passcode, [1, 2, 3]);
    assert!(seen[2].1 > 0, "delayed after 3 failures: {seen:?}");

    // Next-code challenge: the opening passcode is one failure, and each
    // wrong answer (a code that does not follow) is one more, on the same
    // counter, with the same delays.
    let far = next.counter + 40;
    let pin = &next.pin;
    let mut by_challenge = Vec::new();
    let state = state_of(&send(
        &next.login,
        &format!("{pin}{}", code(next, far)),
        None,
    ));
    by_challenge.push(counters_of(&gw, &next.login).0);
    let out = send(&next.login, &code(next, far + 5), Some(&state));
    assert!(out.contains(REJECT), "{out}");
    by_challenge.push(counters_of(&gw, &next.login).0);
    let state = state_of(&send(
        &next.login,
        &format!("{pin}{}", code(next, far + 20)),
        None,
    ));
    by_challenge.push(counters_of(&gw, &next.login).0);
    let out = send(&next.login, &code(next, far + 30), Some(&state));
    assert!(out.contains(REJECT), "{out}");
    let (fails, retry_at) = counters_of(&gw, &next.login);
    by_challenge.push(fails);
    assert_eq!(by_challenge, [1, 2, 3, 4], "next-code answers");
    assert!(retry_at > 0, "delayed like wrong passcodes");

    // New-PIN challenge: the old PIN is one failure, a wrong code alone
    // one more, the right code alone (possession proved) none, and each
    // PIN the policy refuses one more.
    reset_pin(&gw, &serial_of(&gw, &reset.login));
    let c = reset.counter;
    let mut by_new_pin = Vec::new();
    let out = send(
        &reset.login,
        &format!("{}{}", reset.pin, code(reset, c)),
        None,
    );
    assert!(out.contains(REJECT), "{out}");
    by_new_pin.push(counters_of(&gw, &reset.login).0);
    let out = send(&reset.login, &code(reset, c + 700), None);
    assert!(out.contains(REJECT), "{out}");
    by_new_pin.push(counters_of(&gw, &reset.login).0);
    let mut state = state_of(&send(&reset.login, &code(reset, c + 1), None));
    by_new_pin.push(counters_of(&gw, &reset.login).0);
    for weak in ["123456", "111111"] {
        state = state_of(&send(&reset.login, weak, Some(&state)));
        by_new_pin.push(counters_of(&gw, &reset.login).0);
    }
    assert_eq!(by_new_pin, [1, 2, 2, 3, 4], "new-PIN answers");
    // The audit tells the same count as for wrong passcodes.
    let audit = gw.audit_of(&next.login);
    assert!(audit.iter().any(|a| a == "verify.reject"), "{audit:?}");
    gw.served.stop();
}

/// The Reply-Message of a challenge is in the client's `language`: French
/// by default, English for a client declared with `language = "en"`.
#[test]
fn the_reply_message_is_in_the_client_s_language() {
    use keyward::i18n::Lang;
    use keyward::radius::packet::{attr, Code, Packet};
    use std::net::UdpSocket;
    let mut gw = Gateway::start_with(
        2,
        "\n[[radius.clients]]\nname = \"english\"\naddress = \"127.0.0.2\"\n\
         secret_file = \"radius-local.secret\"\nlanguage = \"en\"\n",
    );
    for (i, (from, lang)) in [("127.0.0.1", Lang::Fr), ("127.0.0.2", Lang::En)]
        .into_iter()
        .enumerate()
    {
        let h = &gw.holders[i];
        // A code past the look-ahead window, after the right PIN.
        let far = format!("{}{}", h.pin, code(h, h.counter + 40));
        let socket = UdpSocket::bind(format!("{from}:0")).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let (bytes, auth) = crate::radius_peers::request_bytes(&gw.secret, &h.login, &far, 1);
        let (code, reply) =
            crate::radius_peers::exchange(&gw.secret, &socket, gw.radius, &bytes, &auth);
        assert_eq!(code, Code::AccessChallenge, "{from}");
        let reply = Packet::parse(&reply).unwrap();
        let message = std::str::from_utf8(reply.find(attr::REPLY_MESSAGE).unwrap()).unwrap();
        assert_eq!(
            message,
            keyward::tr!(lang, "gateway-challenge-next-code"),
            "{from}"
        );
    }
    gw.served.stop();
}
