//! `keyward station` and `keyward tokens batch` driven through a pipe against
//! a scripted daemon: the rules must be acknowledged, a weak or mistyped PIN
//! is explained and asked again, a server refusal of the PIN too, and the
//! receipt page lands in a file whose path is printed. The batch waits for
//! insertions on the event stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::cli::{self, Lines};
use crate::support::http::read_request;

pub(crate) type Handler = dyn Fn(&str, &str, &str) -> (u16, &'static str, String) + Send + Sync;

/// A scripted daemon: each request goes to `handler(method, path, body)`;
/// `GET /v1/events` is a stream fed from the returned sender.
pub(crate) struct FakeDaemon {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<String>>>,
    events: Arc<Mutex<Vec<TcpStream>>>,
}

impl FakeDaemon {
    pub(crate) fn start(handler: Arc<Handler>) -> FakeDaemon {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (r, e) = (requests.clone(), events.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (handler, r, e) = (handler.clone(), r.clone(), e.clone());
                std::thread::spawn(move || serve(stream, &*handler, &r, &e));
            }
        });
        FakeDaemon {
            url,
            requests,
            events,
        }
    }

    /// Sends one SSE event to every open stream.
    fn event(&self, kind: &str, data: &str) {
        for stream in self.events.lock().unwrap().iter_mut() {
            let _ = write!(stream, "event: {kind}\ndata: {data}\n\n");
            let _ = stream.flush();
        }
    }

    fn streams(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<String>>,
    events: &Mutex<Vec<TcpStream>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    while let Some((head, body)) = read_request(&mut reader) {
        let mut parts = head.split_whitespace();
        let (method, path) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        requests
            .lock()
            .unwrap()
            .push(format!("{method} {path} {body}"));
        let mut stream = stream.try_clone().unwrap();
        if path == "/v1/events" {
            // Registered before the client can see the answer's head.
            let mut streams = events.lock().unwrap();
            write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n: hello\n\n").unwrap();
            stream.flush().unwrap();
            streams.push(stream);
            return;
        }
        let (status, content_type, answer) = handler(&method, &path, &body);
        write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        )
        .unwrap();
        stream.flush().unwrap();
    }
}

pub(crate) const READER: &str = "Virtual PCD 00 00";

pub(crate) type Answer = (u16, &'static str, String);

/// `GET /v1/devices`: key 12345678 at READER, handed over to adurand.
fn handed_over_at_reader() -> Answer {
    (
        200,
        "application/json",
        format!(
            r#"[{{"reader":"{READER}","present":true,"profile":"keyward-virtual","serial":"12345678","state":"handed_over","holder":"adurand"}}]"#
        ),
    )
}

pub(crate) fn no_route() -> Answer {
    (
        404,
        "application/json",
        r#"{"error":{"code":"not_found","message":"no route"}}"#.into(),
    )
}

#[test]
fn station_takes_the_holder_through_rules_pin_and_receipt() {
    let activations = Arc::new(Mutex::new(0u32));
    let a = activations.clone();
    let daemon = FakeDaemon::start(Arc::new(
        move |method: &str, path: &str, body: &str| match (method, path) {
            ("GET", "/v1/devices") => handed_over_at_reader(),
            ("POST", "/v1/tokens/12345678/activate") => {
                let mut n = a.lock().unwrap();
                *n += 1;
                assert!(body.contains(r#""reader":"Virtual PCD 00 00""#));
                if *n == 1 {
                    (422, "application/json", r#"{"error":{"code":"invalid","message":"this PIN is on the refused list","field":"pin"}}"#.into())
                } else {
                    (
                        200,
                        "application/json",
                        r#"{"state":"active","receipt_id":7,"receipt":null,"device_pin":false}"#
                            .into(),
                    )
                }
            }
            ("GET", p) if p.starts_with("/v1/receipts/7?format=html") => (
                200,
                "text/html",
                "<html>bordereau de remise n° 7</html>".into(),
            ),
            _ => no_route(),
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    // no → asked again; 123456 → too easy; 482915/482916 → differ;
    // 482915 twice → the server refuses; 593017 twice → active.
    let output = cli::run(
        cli::client(
            &daemon.url,
            "kw_station",
            ["station", "--reader", READER, "--once", "--receipts-dir"],
        )
        .arg(dir.path())
        .write_stdin("no\nyes\n123456\n482915\n482916\n482915\n482915\n593017\n593017\n"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Key 12345678 at Virtual PCD 00 00")
            && stdout.contains("holder: adurand")
            && stdout.contains("state:  handed_over"),
        "{stdout}"
    );
    assert!(
        stdout.contains("The key is nominative and personal"),
        "{stdout}"
    );
    assert!(stdout.contains("The key can only be activated once you acknowledge the rules."));
    assert!(
        stdout.contains("PIN refused: this PIN is too easy to guess"),
        "{stdout}"
    );
    assert!(stdout.contains("The two PINs differ."));
    assert!(
        stdout.contains("PIN refused: this PIN is on the refused list (invalid, field pin)"),
        "{stdout}"
    );
    let path = dir.path().join("handover-receipt-7.html");
    assert!(
        stdout.contains(&format!("Handover receipt: {}", path.display())),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "<html>bordereau de remise n° 7</html>"
    );
    assert_eq!(
        *activations.lock().unwrap(),
        2,
        "the weak and mistyped PINs never reached the server"
    );
    // No PIN in the output.
    for pin in ["482915", "593017"] {
        assert!(!stdout.contains(pin) && !String::from_utf8_lossy(&output.stderr).contains(pin));
    }
}

#[test]
fn batch_prepares_each_inserted_token_for_the_next_person() {
    let present: Arc<Mutex<Option<(String, String)>>> = Arc::new(Mutex::new(None));
    let p = present.clone();
    let daemon = Arc::new(FakeDaemon::start(Arc::new(
        move |method: &str, path: &str, body: &str| match (method, path) {
            ("GET", "/v1/devices") => match &*p.lock().unwrap() {
                Some((serial, state)) => (
                    200,
                    "application/json",
                    format!(
                        r#"[{{"reader":"{READER}","present":true,"profile":"keyward-virtual","serial":"{serial}","state":"{state}","holder":null}}]"#
                    ),
                ),
                None => (200, "application/json", "[]".into()),
            },
            ("POST", p2) if p2.starts_with("/v1/tokens/") && p2.ends_with("/prepare") => {
                if body.contains("\"holder\":\"nobody\"") {
                    return (
                        404,
                        "application/json",
                        r#"{"error":{"code":"not_found","message":"no person nobody"}}"#.into(),
                    );
                }
                let serial = p2
                    .trim_start_matches("/v1/tokens/")
                    .trim_end_matches("/prepare");
                (
                    200,
                    "application/json",
                    format!(r#"{{"serial":"{serial}","holder":"x","state":"prepared","apdus":4}}"#),
                )
            }
            _ => no_route(),
        },
    )));
    let dir = tempfile::tempdir().unwrap();
    let holders = dir.path().join("holders.txt");
    std::fs::write(
        &holders,
        "# handover meeting, 20 August\nadurand\nnobody\n\nbleroy  # new\n",
    )
    .unwrap();
    let mut child = cli::process(["tokens", "batch", "--reader", READER, "--holders"])
        .arg(&holders)
        .env("KEYWARD_URL", &daemon.url)
        .env("KEYWARD_API_KEY", "kw_desk")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(child.stdout.take().unwrap());
    lines.wait_for("waiting for a blank token at Virtual PCD 00 00 for adurand");
    assert_eq!(daemon.streams(), 1, "subscribed before looking");
    let insert = |serial: &str, state: &str| {
        *present.lock().unwrap() = Some((serial.into(), state.into()));
        daemon.event(
            "device",
            &format!(r#"{{"reader":"{READER}","kind":"inserted","serial":"{serial}"}}"#),
        );
    };
    let remove = || {
        *present.lock().unwrap() = None;
        daemon.event(
            "device",
            &format!(r#"{{"reader":"{READER}","kind":"removed"}}"#),
        );
    };
    insert("11111111", "stock");
    lines.wait_for("prepared 11111111 for adurand");
    // The same token is not blank any more; "nobody" fails and is skipped; the
    // next blank token goes to bleroy.
    remove();
    insert("99999999", "active");
    lines.wait_for("token 99999999 at Virtual PCD 00 00 is active, not blank");
    remove();
    insert("22222222", "stock");
    lines.wait_for("nobody: not prepared: no person nobody (not_found)");
    lines.wait_for("prepared 22222222 for bleroy");
    lines.wait_for("batch: 2 prepared, 1 not");
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(6),
        "a skipped person makes the batch fail"
    );
    let prepares: Vec<String> = daemon
        .requests()
        .into_iter()
        .filter(|r| r.contains("/prepare"))
        .collect();
    assert_eq!(prepares.len(), 3, "{prepares:?}");
    assert!(
        prepares[0].starts_with("POST /v1/tokens/11111111/prepare")
            && prepares[0].contains("\"holder\":\"adurand\"")
    );
    assert!(
        prepares[2].starts_with("POST /v1/tokens/22222222/prepare")
            && prepares[2].contains("\"holder\":\"bleroy\"")
    );
}

/// A tmux session on a private socket, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// `keyward station --once` at `reader` in a 160×50 terminal, against
    /// `url` with the station key; the shell prints `STATION-EXIT=<status>`.
    fn station(socket: &str, url: &str, reader: &str, receipts: &std::path::Path) -> Tmux {
        let tmux = Tmux {
            socket: format!("{socket}-{}", std::process::id()),
        };
        let command = format!(
            "env KEYWARD_URL={url} KEYWARD_API_KEY=kw_station {} station --reader '{reader}' --once --receipts-dir {}; echo STATION-EXIT=$?; sleep 60",
            cli::bin().display(),
            receipts.display()
        );
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "station",
            "-x",
            "160",
            "-y",
            "50",
            &command,
        ]);
        tmux
    }

    /// Types a line at the station's prompt.
    fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-t", "station", line, "Enter"]);
    }

    fn run(&self, args: &[&str]) -> String {
        let socket = ["-L", &self.socket];
        cli::tool("tmux", socket.iter().chain(args))
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "station"])
    }

    /// Waits until the screen shows `needle` (polling the pane, bounded).
    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{needle:?} never showed:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

/// In a real terminal the PIN is read without echo.
#[test]
fn station_in_a_terminal_hides_the_pin() {
    let daemon = FakeDaemon::start(Arc::new(
        move |method: &str, path: &str, _body: &str| match (method, path) {
            ("GET", "/v1/devices") => handed_over_at_reader(),
            ("POST", "/v1/tokens/12345678/activate") => (
                200,
                "application/json",
                r#"{"state":"active","receipt_id":7,"receipt":null,"device_pin":false}"#.into(),
            ),
            ("GET", p) if p.starts_with("/v1/receipts/7?format=html") => {
                (200, "text/html", "<html>7</html>".into())
            }
            _ => no_route(),
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::station("keyward-test", &daemon.url, READER, dir.path());
    // The station speaks French unless told otherwise.
    tmux.wait_for("Tapez « oui »");
    tmux.type_line("oui");
    // capture-pane trims trailing blanks: prompts show as whole lines.
    tmux.wait_for("\nPIN :");
    tmux.type_line("593017");
    tmux.wait_for("\nPIN (confirmation) :");
    tmux.type_line("593017");
    let screen = tmux.wait_for("STATION-EXIT=");
    assert!(screen.contains("STATION-EXIT=0"), "{screen}");
    assert!(
        screen.contains("Votre clé 12345678 est en service."),
        "{screen}"
    );
    assert!(screen.contains("Bordereau de remise :"), "{screen}");
    assert!(!screen.contains("593017"), "the PIN was echoed:\n{screen}");
}

const HID: &str = "hid:5123456";

/// `GET /v1/devices`: touch key 5123456 at its HID reader in `state`.
fn touch_key_at_reader(state: &str) -> Answer {
    (
        200,
        "application/json",
        format!(
            r#"[{{"reader":"{HID}","present":true,"profile":"yubikey-otp-hid","serial":"5123456","state":"{state}","holder":"adurand"}}]"#
        ),
    )
}

/// Was: `tokens handover|return` on a touch key failed with "pass it as
/// typed", and no command could supply the code the key types. Now the
/// command asks for a touch and reads the typed line (hidden), here from a
/// pipe, in French first.
#[test]
fn handover_and_return_of_a_touch_key_read_the_code_it_types() {
    let daemon = FakeDaemon::start(Arc::new(move |method: &str, path: &str, _body: &str| {
        match (method, path) {
            ("GET", "/v1/devices") => touch_key_at_reader("prepared"),
            ("POST", "/v1/tokens/5123456/handover" | "/v1/tokens/5123456/return") => (
                409,
                "application/json",
                r#"{"error":{"code":"conflict","detail":"possession_check_failed","message":"possession check failed"}}"#.into(),
            ),
            _ => no_route(),
        }
    }));
    for (args, typed) in [
        (
            vec!["tokens", "handover", "--reader", HID, "--place", "Est"],
            "755224",
        ),
        (
            vec![
                "tokens", "return", "--reader", HID, "--place", "Est", "--reason", "fin",
            ],
            "-((\"\"'",
        ),
    ] {
        let output = cli::run(
            cli::client(&daemon.url, "kw_desk", args)
                .env("KEYWARD_LANG", "fr")
                .write_stdin(format!("{typed}\n")),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("Touchez la clé maintenant : elle tape son code"),
            "{stdout}"
        );
        assert!(
            !stdout.contains(typed),
            "the typed code was shown: {stdout}"
        );
    }
    let sent: Vec<String> = daemon
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains(r#""typed":"755224""#), "{}", sent[0]);
    // What the key typed on an AZERTY station goes as typed: the daemon reads
    // the digit row back below every interface.
    assert!(sent[1].contains(r#""typed":"-((\"\"'""#), "{}", sent[1]);
}

/// The station asks a touch key's holder to touch it after the PIN, and
/// sends what it typed with the activation.
#[test]
fn station_activates_a_touch_key_with_the_code_it_types() {
    let daemon = FakeDaemon::start(Arc::new(
        move |method: &str, path: &str, _body: &str| match (method, path) {
            ("GET", "/v1/devices") => touch_key_at_reader("handed_over"),
            ("POST", "/v1/tokens/5123456/activate") => (
                200,
                "application/json",
                r#"{"state":"active","receipt_id":null,"receipt":null,"device_pin":false}"#.into(),
            ),
            _ => no_route(),
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let output = cli::run(
        cli::client(
            &daemon.url,
            "kw_station",
            ["station", "--reader", HID, "--once", "--receipts-dir"],
        )
        .arg(dir.path())
        .env("KEYWARD_LANG", "fr")
        .write_stdin("oui\n593017\n593017\n287082\n"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("Touchez la clé maintenant : elle tape son code"),
        "{stdout}"
    );
    assert!(!stdout.contains("287082"), "{stdout}");
    let activate: Vec<String> = daemon
        .requests()
        .into_iter()
        .filter(|r| r.contains("/activate"))
        .collect();
    assert_eq!(activate.len(), 1, "{activate:?}");
    assert!(
        activate[0].contains(r#""typed":"287082""#),
        "{}",
        activate[0]
    );
}

/// A Nitrokey 3 confirms a wipe and its PIN with its button: the operator is
/// told to press it, and a touch timeout is explained as such (was: "the
/// token is locked by an OATH access code").
#[test]
fn a_token_that_confirms_with_its_button_gets_a_touch_prompt() {
    let daemon = FakeDaemon::start(Arc::new(move |method: &str, path: &str, _body: &str| {
        match (method, path) {
            ("GET", "/v1/devices") => (
                200,
                "application/json",
                format!(
                    r#"[{{"reader":"{READER}","present":true,"profile":"nitrokey3-secrets","serial":"4711","state":"handed_over","holder":"adurand"}}]"#
                ),
            ),
            ("POST", "/v1/tokens/4711/wipe" | "/v1/tokens/4711/activate") => (
                502,
                "application/json",
                r#"{"error":{"code":"device_error","detail":"touch_timeout","message":"device: delete: nobody pressed the token's button in time"}}"#.into(),
            ),
            _ => no_route(),
        }
    }));
    let output = cli::run(
        cli::client(
            &daemon.url,
            "kw_desk",
            ["tokens", "wipe", "--reader", READER],
        )
        .env("KEYWARD_LANG", "fr"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stdout.contains("Touchez la clé maintenant pour confirmer"),
        "{stdout}"
    );
    assert!(
        stderr.contains("La clé n'a pas été touchée à temps") && !stderr.contains("access code"),
        "{stderr}"
    );
    // The station: the prompt before the activation, the timeout explained,
    // then the PIN asked again (here the input ends).
    let dir = tempfile::tempdir().unwrap();
    let output = cli::run(
        cli::client(
            &daemon.url,
            "kw_station",
            ["station", "--reader", READER, "--once", "--receipts-dir"],
        )
        .arg(dir.path())
        .env("KEYWARD_LANG", "fr")
        .write_stdin("oui\n593017\n593017\n"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Touchez la clé maintenant pour confirmer"),
        "{stdout}"
    );
    assert!(
        stdout.contains("La clé n'a pas été touchée à temps"),
        "{stdout}"
    );
}

/// In a real terminal the code a touch key types is not echoed.
#[test]
fn station_in_a_terminal_hides_what_the_touch_key_types() {
    let daemon = FakeDaemon::start(Arc::new(
        move |method: &str, path: &str, _body: &str| match (method, path) {
            ("GET", "/v1/devices") => touch_key_at_reader("handed_over"),
            ("POST", "/v1/tokens/5123456/activate") => (
                200,
                "application/json",
                r#"{"state":"active","receipt_id":null,"receipt":null,"device_pin":false}"#.into(),
            ),
            _ => no_route(),
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::station("keyward-touch", &daemon.url, HID, dir.path());
    tmux.wait_for("Tapez « oui »");
    tmux.type_line("oui");
    tmux.wait_for("\nPIN :");
    tmux.type_line("593017");
    tmux.wait_for("\nPIN (confirmation) :");
    tmux.type_line("593017");
    tmux.wait_for("Touchez la clé maintenant");
    // What the key types on an AZERTY station, then Enter.
    tmux.run(&["send-keys", "-t", "station", "-l", "--", "-((\"\"'"]);
    tmux.run(&["send-keys", "-t", "station", "Enter"]);
    let screen = tmux.wait_for("STATION-EXIT=");
    assert!(screen.contains("STATION-EXIT=0"), "{screen}");
    assert!(
        !screen.contains("-((\"\"'"),
        "the typed code was echoed:\n{screen}"
    );
    let activate: Vec<String> = daemon
        .requests()
        .into_iter()
        .filter(|r| r.contains("/activate"))
        .collect();
    assert!(
        activate[0].contains(r#""typed":"-((\"\"'""#),
        "{}",
        activate[0]
    );
}
