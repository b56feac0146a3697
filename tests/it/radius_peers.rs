//! RADIUS against real peers: FreeRADIUS's `radclient` (Debian
//! `freeradius-utils`) talking to a real `keyward serve`, and keyward's own
//! codec as a second client where radclient cannot say it (an identical
//! retransmission, many requests at once). Every case checks the daemon's
//! answer, and the audit where one verify must be recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use keyward::radius::packet::{attr, hide_password, Builder, Code, Packet};

use crate::cli_bench::bench_setup;
use crate::support::cli::{keyward, stdout_ok};
use crate::support::serve::{serve, Served};

/// A holder from `keyward bench setup`: login, PIN, key, next counter.
pub struct Holder {
    pub login: String,
    pub pin: String,
    pub key: CredentialKey,
    pub counter: u64,
}

impl Holder {
    /// PIN followed by the next code.
    pub fn next_passcode(&mut self) -> String {
        let code = code_at(&self.key, self.counter, Digits::SIX);
        self.counter += 1;
        format!("{}{code}", self.pin)
    }
}

/// A daemon as `keyward init` configures it (RADIUS for the local client
/// 127.0.0.1, Message-Authenticator required) on free loopback ports, with
/// `holders` holders.
pub struct Gateway {
    pub served: Served,
    pub radius: SocketAddr,
    pub data: PathBuf,
    pub admin_key: String,
    pub holders: Vec<Holder>,
    pub secret: String,
    /// `bench setup`'s credentials file.
    pub creds: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    pub fn start(holders: usize) -> Gateway {
        Gateway::start_with(holders, "")
    }

    /// [`Gateway::start`] with `extra` appended to `keyward.toml` (after
    /// the `[radius]` table init wrote, so more `[[radius.clients]]`).
    pub fn start_with(holders: usize, extra: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let admin_key = crate::support::cli::init(&data);
        let creds = dir.path().join("creds");
        bench_setup(&data, u32::try_from(holders).unwrap(), &creds);
        let holders = std::fs::read_to_string(&creds)
            .unwrap()
            .lines()
            .map(|line| {
                let [login, pin, secret, counter]: [&str; 4] =
                    line.split(' ').collect::<Vec<_>>().try_into().unwrap();
                Holder {
                    login: login.to_owned(),
                    pin: pin.to_owned(),
                    key: CredentialKey::new(Algorithm::Sha1, &Secret::from_hex(secret).unwrap()),
                    counter: counter.parse().unwrap(),
                }
            })
            .collect();
        // What init generated for the local client.
        let secret = std::fs::read_to_string(data.join("radius-local.secret")).unwrap();
        assert_eq!(secret.len(), 32);
        if !extra.is_empty() {
            let config = data.join("keyward.toml");
            let mut text = std::fs::read_to_string(&config).unwrap();
            text.push_str(extra);
            std::fs::write(&config, text).unwrap();
        }
        let served = Served::start(&mut serve(
            &data,
            &["--pcsc", "off", "--hid", "off", "--virtual-token", "off"],
        ));
        let radius = served.radius.expect("the daemon prints its RADIUS address");
        Gateway {
            served,
            radius,
            data,
            admin_key,
            holders,
            secret,
            creds,
            _dir: dir,
        }
    }

    /// Verify decisions audited for `login` (read-only, daemon running).
    pub fn audit_of(&self, login: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open_with_flags(
            self.data.join(keyward::store::DB_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = conn
            .prepare("SELECT action FROM audit WHERE subject = ?1 AND action LIKE 'verify.%' ORDER BY seq")
            .unwrap();
        stmt.query_map([login], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Asserts `login` has `count` audited decisions of `action`.
    pub fn assert_audited(&self, login: &str, action: &str, count: usize) {
        let audit = self.audit_of(login);
        let found = audit.iter().filter(|a| *a == action).count();
        assert_eq!(found, count, "{action} in {audit:?}");
    }

    pub fn metrics(&self) -> String {
        ureq::get(format!("{}/metrics", self.served.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }
}

/// `radclient -x ADDR KIND SECRET` with `attributes` on stdin, one try of
/// one second; returns what it printed.
pub fn radclient(addr: SocketAddr, kind: &str, secret: &str, attributes: &str) -> String {
    let mut child = Command::new("radclient")
        .args(["-x", "-r", "1", "-t", "1", &addr.to_string(), kind, secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radclient (Debian freeradius-utils, installed by .ci/setup)");
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

pub fn access(login: &str, passcode: &str, with_ma: bool) -> String {
    let ma = if with_ma {
        "Message-Authenticator = 0x00\n"
    } else {
        ""
    };
    format!("User-Name = \"{login}\"\nUser-Password = \"{passcode}\"\n{ma}")
}

const ACCEPT: &str = "Received Access-Accept";
const REJECT: &str = "Received Access-Reject";
const NO_REPLY: &str = "No reply from server";

#[test]
fn radclient_accept_then_replay_reject_and_wrong_code_reject() {
    let mut gw = Gateway::start(2);
    let login = gw.holders[0].login.clone();
    let passcode = gw.holders[0].next_passcode();
    let first = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &passcode, true),
    );
    assert!(first.contains(ACCEPT), "{first}");
    // The rights in force, as Class attributes.
    assert!(first.contains("Class = 0x5541493d"), "{first}");
    let again = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &passcode, true),
    );
    assert!(again.contains(REJECT), "replay: {again}");
    let mut wrong = gw.holders[0].next_passcode();
    wrong.replace_range(
        wrong.len() - 1..,
        if wrong.ends_with('0') { "1" } else { "0" },
    );
    let wrong_code = radclient(gw.radius, "auth", &gw.secret, &access(&login, &wrong, true));
    assert!(wrong_code.contains(REJECT), "{wrong_code}");
    gw.assert_audited(&login, "verify.accept", 1);
    gw.assert_audited(&login, "verify.reject", 2);
    let metrics = gw.metrics();
    for line in [
        "keyward_radius_requests_total{client=\"local\",outcome=\"accept\"} 1",
        "keyward_radius_requests_total{client=\"local\",outcome=\"reject\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    gw.served.stop();
}

#[test]
fn radclient_wrong_secret_and_missing_authenticator_are_dropped() {
    let mut gw = Gateway::start(1);
    let login = gw.holders[0].login.clone();
    let passcode = gw.holders[0].next_passcode();
    let wrong_secret = radclient(
        gw.radius,
        "auth",
        "not-the-shared-secret-0123456789",
        &access(&login, &passcode, true),
    );
    assert!(wrong_secret.contains(NO_REPLY), "{wrong_secret}");
    let no_ma = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &passcode, false),
    );
    assert!(no_ma.contains(NO_REPLY), "{no_ma}");
    // Neither reached the verify service: the passcode is still good.
    assert!(gw.audit_of(&login).is_empty());
    let ok = radclient(
        gw.radius,
        "auth",
        &gw.secret,
        &access(&login, &passcode, true),
    );
    assert!(ok.contains(ACCEPT), "{ok}");
    let metrics = gw.metrics();
    for outcome in ["bad_authenticator", "missing_authenticator"] {
        let line =
            format!("keyward_radius_requests_total{{client=\"local\",outcome=\"{outcome}\"}} 1");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    gw.served.stop();
}

#[test]
fn radclient_status_server_is_answered() {
    let mut gw = Gateway::start(1);
    let status = radclient(
        gw.radius,
        "status",
        &gw.secret,
        "Message-Authenticator = 0x00\n",
    );
    assert!(status.contains(ACCEPT), "{status}");
    let wrong = radclient(
        gw.radius,
        "status",
        "not-the-shared-secret-0123456789",
        "Message-Authenticator = 0x00\n",
    );
    assert!(wrong.contains(NO_REPLY), "{wrong}");
    gw.served.stop();
}

/// An Access-Request for `login`/`passcode` built with keyward's codec:
/// its bytes and Request Authenticator.
pub fn request_bytes(
    secret: &str,
    login: &str,
    passcode: &str,
    identifier: u8,
) -> (Vec<u8>, [u8; 16]) {
    let mut authenticator = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut authenticator).unwrap();
    let hidden = hide_password(passcode.as_bytes(), secret.as_bytes(), &authenticator).unwrap();
    let mut builder = Builder::new(Code::AccessRequest, identifier);
    builder.push(attr::USER_NAME, login.as_bytes()).unwrap();
    builder.push(attr::USER_PASSWORD, &hidden).unwrap();
    (
        builder.request(&authenticator, secret.as_bytes()),
        authenticator,
    )
}

/// Sends `bytes` and returns the checked reply's code.
pub fn exchange(
    secret: &str,
    socket: &UdpSocket,
    to: SocketAddr,
    bytes: &[u8],
    auth: &[u8; 16],
) -> (Code, Vec<u8>) {
    socket.send_to(bytes, to).unwrap();
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).unwrap();
    let reply = Packet::parse(&buffer[..len]).unwrap();
    assert!(reply.reply_authenticated(auth, secret.as_bytes(), true));
    (reply.code, buffer[..len].to_vec())
}

#[test]
fn a_retransmission_gets_the_same_reply_and_one_verify() {
    let mut gw = Gateway::start(1);
    let login = gw.holders[0].login.clone();
    let passcode = gw.holders[0].next_passcode();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (bytes, auth) = request_bytes(&gw.secret, &login, &passcode, 7);
    let (code, first) = exchange(&gw.secret, &socket, gw.radius, &bytes, &auth);
    assert_eq!(code, Code::AccessAccept);
    let (_, second) = exchange(&gw.secret, &socket, gw.radius, &bytes, &auth);
    assert_eq!(first, second, "a retransmission is answered from the cache");
    // The same passcode in a new request (new authenticator) is a replay.
    let (bytes, auth) = request_bytes(&gw.secret, &login, &passcode, 8);
    assert_eq!(
        exchange(&gw.secret, &socket, gw.radius, &bytes, &auth).0,
        Code::AccessReject
    );
    let audit = gw.audit_of(&login);
    assert_eq!(audit, ["verify.accept", "verify.reject"]);
    gw.served.stop();
}

/// The same valid passcode sent at once by 32 RADIUS clients and 32 HTTP
/// clients, 300 times: exactly one of the 64 is accepted every round.
#[test]
fn one_accept_among_64_radius_and_http_clients_for_300_rounds() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier, Mutex};

    const ROUNDS: usize = 300;
    const EACH: usize = 32;
    let mut gw = Gateway::start(1);
    let login = gw.holders[0].login.clone();
    let passcode = Arc::new(Mutex::new(String::new()));
    let accepts = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(2 * EACH + 1));
    let mut workers = Vec::new();
    for i in 0..2 * EACH {
        let (login, passcode, accepts, barrier) = (
            login.clone(),
            Arc::clone(&passcode),
            Arc::clone(&accepts),
            Arc::clone(&barrier),
        );
        let radius = gw.radius;
        let secret = gw.secret.clone();
        let http = keyward::client::Client::new(&gw.served.url, Some(gw.admin_key.clone()));
        workers.push(std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            for round in 0..ROUNDS {
                barrier.wait();
                let passcode = passcode.lock().unwrap().clone();
                let accepted = if i < EACH {
                    let (bytes, auth) = request_bytes(&secret, &login, &passcode, round as u8);
                    exchange(&secret, &socket, radius, &bytes, &auth).0 == Code::AccessAccept
                } else {
                    matches!(
                        http.verify(&login, &passcode).unwrap(),
                        keyward::wire::verify::VerifyOutcome::Accept { .. }
                    )
                };
                if accepted {
                    accepts.fetch_add(1, Ordering::SeqCst);
                }
                barrier.wait();
            }
        }));
    }
    for round in 0..ROUNDS {
        *passcode.lock().unwrap() = gw.holders[0].next_passcode();
        barrier.wait();
        barrier.wait();
        assert_eq!(accepts.swap(0, Ordering::SeqCst), 1, "round {round}");
    }
    for worker in workers {
        worker.join().unwrap();
    }
    gw.served.stop();
}

/// `keyward bench radius` drives the daemon with checked Access-Requests:
/// valid codes accepted, wrong codes and replays rejected, exit 0.
#[test]
fn bench_radius_runs_against_the_daemon() {
    let mut gw = Gateway::start(4);
    let secret_file = gw.data.join("radius-local.secret");
    let stdout = stdout_ok(
        keyward([
            "bench",
            "radius",
            "--seconds",
            "1",
            "--concurrency",
            "4",
            "--server",
            &gw.radius.to_string(),
        ])
        .arg("--credentials")
        .arg(&gw.creds)
        .arg("--secret-file")
        .arg(&secret_file),
    );
    assert!(stdout.starts_with("RADIUS load: "), "{stdout}");
    let field = |name: &str| -> u64 {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(field("accepts") > 0, "{stdout}");
    assert!(field("rejects") > 0, "{stdout}");
    assert_eq!(field("double accepts"), 0, "{stdout}");
    assert_eq!(field("valid rejected"), 0, "{stdout}");
    gw.served.stop();
}

/// An Access-Request without Message-Authenticator, built by hand.
fn request_without_ma(secret: &str, login: &str, passcode: &str) -> (Vec<u8>, [u8; 16]) {
    let authenticator = [0x5au8; 16];
    let hidden = hide_password(passcode.as_bytes(), secret.as_bytes(), &authenticator).unwrap();
    let mut bytes = vec![1, 42, 0, 0];
    bytes.extend_from_slice(&authenticator);
    for (kind, value) in [
        (attr::USER_NAME, login.as_bytes()),
        (attr::USER_PASSWORD, &hidden),
    ] {
        bytes.push(kind);
        bytes.push(u8::try_from(value.len() + 2).unwrap());
        bytes.extend_from_slice(value);
    }
    let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
    bytes[2..4].copy_from_slice(&len);
    (bytes, authenticator)
}

/// Clients are told apart by address: an undeclared one is dropped, and
/// the per-client switch lets only its own client omit the
/// Message-Authenticator.
#[test]
fn undeclared_addresses_are_dropped_and_the_relaxed_switch_is_per_client() {
    let mut gw = Gateway::start_with(
        1,
        "\n[[radius.clients]]\nname = \"ancien\"\naddress = \"127.0.0.2\"\n\
         secret_file = \"radius-local.secret\"\nrequire_message_authenticator = false\n",
    );
    let login = gw.holders[0].login.clone();
    let passcode = gw.holders[0].next_passcode();
    let from = |ip: &str| {
        let socket = UdpSocket::bind(format!("{ip}:0")).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        socket
    };
    let (bytes, auth) = request_without_ma(&gw.secret, &login, &passcode);
    let mut buffer = [0u8; 4096];
    // 127.0.0.3 is declared nowhere; 127.0.0.1 (local) requires it.
    for ip in ["127.0.0.3", "127.0.0.1"] {
        let socket = from(ip);
        socket.send_to(&bytes, gw.radius).unwrap();
        assert!(socket.recv_from(&mut buffer).is_err(), "{ip} answered");
    }
    assert!(gw.audit_of(&login).is_empty());
    // The old client at 127.0.0.2 may omit it.
    let old = from("127.0.0.2");
    let (code, _) = exchange(&gw.secret, &old, gw.radius, &bytes, &auth);
    assert_eq!(code, Code::AccessAccept);
    let metrics = gw.metrics();
    for line in [
        "keyward_radius_requests_total{client=\"\",outcome=\"unknown_client\"} 1",
        "keyward_radius_requests_total{client=\"local\",outcome=\"missing_authenticator\"} 1",
        "keyward_radius_requests_total{client=\"ancien\",outcome=\"accept\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    gw.served.stop();
}
