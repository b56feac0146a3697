//! `keyward mail ingest < message.eml` against a real daemon with a
//! `[mail]` table: the pipe of the mail system reaches the same operation
//! as the IMAP poller, prints the outcome, and a message read twice is
//! done once.

use std::process::Stdio;

use crate::support::cli;
use crate::support::mail::{help_message, DkimKey};
use crate::support::serve::{serve, serve_init, Served};
use crate::support::world::DOMAIN;

#[test]
fn the_mail_systems_pipe_reaches_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = ["--virtual-token", "off", "--pcsc", "off"];
    let mut served = serve_init(&data, &flags);
    let key = served.admin_key();
    served.stop();
    let dkim = DkimKey::new("test", DOMAIN);
    let config = data.join("keyward.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[mail]\nfrom = \"keyward@{DOMAIN}\"\nmax_message_bytes = 4096\n\
         [mail.auth]\nmethod = \"dkim\"\n[mail.auth.keys]\n\"test._domainkey.{DOMAIN}\" = \"{}\"\n",
        dkim.record()
    ));
    std::fs::write(&config, text).unwrap();
    let mut served = Served::start(serve(&data, &flags).stderr(Stdio::null()));
    let ingest = |raw: &[u8], extra: &[&str]| {
        let mut args = vec!["mail", "ingest"];
        args.extend_from_slice(extra);
        cli::stdout_ok(cli::client(&served.url, &key, args).write_stdin(raw.to_vec()))
    };
    let outcome = |out: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["outcome"].as_str().unwrap().to_owned()
    };
    let stranger = format!("inconnu@{DOMAIN}");
    let signed = dkim.sign(&help_message("cli1@x", &stranger, &[], "Clé perdue", ""));
    let out = ingest(&signed, &[]);
    assert!(
        out.contains("unknown-sender") && out.contains("answered"),
        "{out}"
    );
    let out = ingest(&signed, &[]);
    assert!(out.contains("already read"), "{out}");
    let unsigned = help_message("cli2@x", &stranger, &[], "Clé perdue", "");
    let out = ingest(&unsigned, &["--json"]);
    assert_eq!(outcome(&out), "not-authenticated");
    // Larger than the daemon's limit, then than the client's: refused from
    // the headers either way.
    let mut big = dkim.sign(&help_message("cli3@x", &stranger, &[], "Clé", "PJ"));
    big.resize(10_000, b'A');
    let out = ingest(&big, &["--json"]);
    assert_eq!(outcome(&out), "too-large");
    let mut bigger = help_message("cli4@x", &stranger, &[], "Clé", "PJ");
    bigger.resize(10_000, b'A');
    let out = ingest(&bigger, &["--json", "--max-bytes", "1000"]);
    assert_eq!(outcome(&out), "too-large");
    // The daemon's scheduled job, run once from the CLI: nobody to invite or
    // remind in this data directory, twice the same answer.
    for _ in 0..2 {
        let out = cli::stdout_ok(&mut cli::client(
            &served.url,
            &key,
            ["mail", "schedule", "--json"],
        ));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"invitations": 0, "reminders": 0, "overdue": 0})
        );
    }
    let out = cli::stdout_ok(&mut cli::client(&served.url, &key, ["mail", "schedule"]));
    assert!(out.contains("0 invitation"), "{out}");
    served.stop();
}
