//! The API client commands against a scripted HTTP server: the server's error
//! message and code reach the user, exit codes are deliberate, the API key and
//! the passcode never show, and every command's help has an example.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::process::Output;

use crate::support::cli::{self, text};
use crate::support::http::read_request;

const KEY: &str = "kw_TESTKEYTESTKEYTESTKEYTESTKEYTESTKEYTESTKEYTESTKEYTE";

/// Serves one request with `status` and `body`; returns the URL and a handle
/// yielding the raw request (head and body).
fn one_shot(status: &'static str, body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let (head, request_body) = read_request(&mut reader).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head + &request_body
    });
    (url, handle)
}

fn keyward(url: &str, args: &[&str], stdin: &str) -> Output {
    cli::run(cli::client(url, KEY, args).write_stdin(stdin))
}

#[test]
fn a_conflict_shows_the_servers_message_and_code_and_exits_6() {
    let (url, server) = one_shot(
        "409 Conflict",
        r#"{"error":{"code":"conflict","message":"adurand already holds live token 87654321","detail":"holder_has_live_token"}}"#,
    );
    let out = keyward(
        &url,
        &[
            "tokens",
            "prepare",
            "--reader",
            "Virtual PCD 00 00",
            "--holder",
            "adurand",
            "--serial",
            "12345678",
        ],
        "",
    );
    let request = server.join().unwrap();
    assert!(
        request.starts_with("POST /v1/tokens/12345678/prepare "),
        "{request}"
    );
    assert!(
        request.contains(&format!("authorization: Bearer {KEY}"))
            || request.contains(&format!("Authorization: Bearer {KEY}"))
    );
    assert!(
        request.contains(r#""holder":"adurand""#)
            && request.contains(r#""reader":"Virtual PCD 00 00""#)
    );
    assert_eq!(out.status.code(), Some(6));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "adurand already holds live token 87654321 (conflict: holder_has_live_token)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY) && !text(&out.stdout).contains(KEY));
}

#[test]
fn unblock_pin_posts_the_serial_and_reader() {
    let (url, server) = one_shot(
        "200 OK",
        r#"{"serial":"87654321","device_pin":"unblocked","tries_left":3}"#,
    );
    let out = keyward(
        &url,
        &[
            "tokens",
            "unblock-pin",
            "87654321",
            "--reader",
            "Virtual PCD 00 00",
        ],
        "",
    );
    let request = server.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(request.starts_with("POST /v1/tokens/87654321/unblock-pin "));
    assert!(request.contains(r#""reader":"Virtual PCD 00 00""#));
    assert!(text(&out.stdout).contains("token 87654321: device PIN unblocked"));
}

#[test]
fn not_found_and_forbidden_have_their_own_exit_codes() {
    let (url, server) = one_shot(
        "404 Not Found",
        r#"{"error":{"code":"not_found","message":"no person zz"}}"#,
    );
    let out = keyward(&url, &["people", "show", "zz"], "");
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let (url, server) = one_shot(
        "403 Forbidden",
        r#"{"error":{"code":"forbidden","message":"a gateway key may only verify"}}"#,
    );
    let out = keyward(&url, &["tokens", "list"], "");
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("a gateway key may only verify (forbidden)"));
}

#[test]
fn people_show_says_whether_the_person_left() {
    let (url, server) = one_shot(
        "200 OK",
        r#"{"full_name":"Jeanne Dupont","id":"jdupont","left":true,"mail":"jdupont@ac-exemple.fr","rights":[],"token":null}"#,
    );
    let mut cmd = cli::client(&url, KEY, ["people", "show", "jdupont"]);
    let out = cli::run(cmd.env("KEYWARD_LANG", "fr"));
    server.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let line = shown
        .lines()
        .find(|l| l.starts_with("a quitté l'académie"))
        .unwrap_or_else(|| panic!("no departure line: {shown}"));
    assert!(line.ends_with("oui"), "{line}");
}

#[test]
fn verify_reads_the_passcode_from_stdin_and_exits_0_or_1() {
    let (url, server) = one_shot(
        "200 OK",
        r#"{"result":"accept","rights":[{"school":"0751710B","origin":"appointment","until":"2027-07-06"}]}"#,
    );
    let out = keyward(&url, &["verify", "--login", "adurand"], "482915755224\n");
    let request = server.join().unwrap();
    assert!(request.starts_with("POST /v1/verify "));
    assert!(
        request.contains(r#""passcode":"482915755224""#),
        "{request}"
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("accept\n")
            && stdout.contains("0751710B (appointment, until 2027-07-06)"),
        "{stdout}"
    );
    assert!(!stdout.contains("482915") && !text(&out.stderr).contains("482915"));

    let (url, server) = one_shot("200 OK", r#"{"result":"reject"}"#);
    let out = keyward(
        &url,
        &["verify", "--login", "adurand", "--json"],
        "000000000000\n",
    );
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).trim(), r#"{"result":"reject"}"#);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn lists_are_tables_or_json() {
    let body = r#"[{"reader":"Virtual PCD 00 00","present":true,"profile":"keyward-virtual","serial":"12345678","state":"stock","holder":null}]"#;
    let (url, server) = one_shot("200 OK", body);
    let out = keyward(&url, &["devices", "list"], "");
    server.join().unwrap();
    assert_eq!(
        text(&out.stdout),
        "READER             PROFILE          SERIAL    STATE  HOLDER\nVirtual PCD 00 00  keyward-virtual  12345678  stock  -\n"
    );
    let (url, server) = one_shot("200 OK", body);
    let out = keyward(&url, &["devices", "list", "--json"], "");
    server.join().unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed[0]["serial"], "12345678");
}

#[test]
fn an_unreachable_daemon_exits_3_and_says_how_to_fix_it() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = keyward(&format!("http://127.0.0.1:{port}"), &["tokens", "list"], "");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("is `keyward serve` running?"));
}

#[test]
fn no_api_key_exits_4() {
    let out = cli::run(cli::keyward(["tokens", "list"]).env("KEYWARD_URL", "http://127.0.0.1:1"));
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("KEYWARD_API_KEY"));
}

/// Every leaf command's help shows an example.
#[test]
fn every_command_has_an_example() {
    // Tools for looking at tokens and readers on this machine, not for
    // running the service: their help says what they do, without examples.
    const WITHOUT_EXAMPLE: &[&str] = &["sim", "reader"];
    let commands: Vec<Vec<String>> = cli::commands()
        .into_iter()
        .filter(|c| !c.is_group && !WITHOUT_EXAMPLE.contains(&c.words[0].as_str()))
        .map(|c| c.words)
        .collect();
    for command in commands {
        let help = cli::stdout_ok(cli::keyward(&command).arg("--help"));
        assert!(
            help.contains("Example"),
            "{command:?} has no example:\n{help}"
        );
    }
    // The old spelling still works.
    cli::keyward(["receipt", "verify", "--help"])
        .assert()
        .success();
}
