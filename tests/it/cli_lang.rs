//! The command line speaks French by default and English when asked
//! (`--lang`, `KEYWARD_LANG`), through the real binary against a real daemon
//! whose authority lives in America/Martinique: messages, table headers,
//! fields, refusals, and times shown in the authority's zone; plus the
//! wording bugs of the English texts, each pinned.

use std::path::Path;

use crate::support::cli::{self, exits, stdout_ok};
use crate::support::serve::{serve, Served};

const ZONE: &str = "America/Martinique";

/// An initialised data directory whose authority is in Martinique, served.
fn daemon(dir: &Path) -> (Served, String) {
    daemon_with(dir, "off")
}

/// [`daemon`], its in-process virtual token `on` or `off`.
fn daemon_with(dir: &Path, virtual_token: &str) -> (Served, String) {
    let data = dir.join("data");
    let admin = cli::init(&data);
    let config = data.join("keyward.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    let toml: String = toml
        .lines()
        .map(|l| {
            if l.starts_with("time_zone") {
                format!("time_zone = \"{ZONE}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&config, toml).unwrap();
    let served = Served::start(
        serve(
            &data,
            &[
                "--virtual-token",
                virtual_token,
                "--pcsc",
                "off",
                "--hid",
                "off",
            ],
        )
        .stderr(std::process::Stdio::null()),
    );
    (served, admin)
}

/// `tokens register` of a stock key.
const REGISTER: [&str; 6] = [
    "tokens",
    "register",
    "--serial",
    "11111111",
    "--profile",
    "yubikey5-oath",
];

/// `districts add` of D-EST, inspected by pmartin.
const ADD_DISTRICT: [&str; 8] = [
    "districts",
    "add",
    "--code",
    "D-EST",
    "--name",
    "Est",
    "--inspector",
    "pmartin",
];

/// The words of a table's first line.
fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

/// `people add` of a person.
fn person<'a>(id: &'a str, name: &'a str, mail: &'a str) -> [&'a str; 8] {
    ["people", "add", "--id", id, "--name", name, "--mail", mail]
}

/// `keyward --lang LANG ARGS` as a client of `d`.
fn run(d: &Served, key: &str, lang: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = cli::client(&d.url, key, ["--lang", lang]);
    cmd.args(args);
    cmd
}

/// `keyward ARGS` with no language given: French, whatever the test env says.
fn default_lang(d: &Served, key: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = cli::client(&d.url, key, args);
    cmd.env_remove("KEYWARD_LANG");
    cmd
}

#[test]
fn every_command_speaks_french_by_default_and_english_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (d, admin) = daemon(dir.path());
    // Messages: French by default, English with --lang en or KEYWARD_LANG=en.
    let fr = stdout_ok(&mut default_lang(
        &d,
        &admin,
        &person("adurand", "Anne Durand", "anne.durand@ac-exemple.fr"),
    ));
    assert_eq!(fr, "personne adurand ajoutée\n");
    let mut en = default_lang(
        &d,
        &admin,
        &person("pmartin", "Paul Martin", "paul.martin@ac-exemple.fr"),
    );
    en.env("KEYWARD_LANG", "en");
    assert_eq!(stdout_ok(&mut en), "person pmartin added\n");

    // Table headers.
    let fr = stdout_ok(&mut run(&d, &admin, "fr", &["people", "list"]));
    assert_eq!(header(&fr), ["ID", "NOM", "ADRESSE"], "{fr}");
    let en = stdout_ok(&mut run(&d, &admin, "en", &["people", "list"]));
    assert_eq!(header(&en), ["ID", "NAME", "MAIL"], "{en}");
    let fr = stdout_ok(&mut run(
        &d,
        &admin,
        "fr",
        &["rights", "list", "--person", "adurand"],
    ));
    assert_eq!(fr, "(aucun)\n");

    // Fields of a `show` and a state word.
    stdout_ok(&mut run(&d, &admin, "en", &REGISTER));
    let fr = stdout_ok(&mut run(&d, &admin, "fr", &["tokens", "show", "11111111"]));
    assert!(
        fr.contains("numéro   ") && fr.contains("état ") && fr.contains("en stock"),
        "{fr}"
    );
    let en = stdout_ok(&mut run(&d, &admin, "en", &["tokens", "show", "11111111"]));
    assert!(
        en.contains("serial ") && en.contains("state ") && en.contains("stock"),
        "{en}"
    );

    // A refusal of the API: its code's meaning in the language, the code kept.
    let (_, fr) = exits(&mut run(&d, &admin, "fr", &["people", "show", "nobody"]), 5);
    assert!(
        fr.starts_with("keyward : erreur : introuvable (not_found). Serveur : "),
        "{fr}"
    );
    let (_, en) = exits(&mut run(&d, &admin, "en", &["people", "show", "nobody"]), 5);
    assert!(
        en.starts_with("keyward: error: no such person (not_found)"),
        "{en}"
    );
}

/// `HH:MM` and the day of a Unix time in Martinique, worked out apart from
/// keyward: UTC-4 all year (no daylight saving time there).
fn martinique(time: u64) -> (String, String) {
    let local = time - 4 * 3600;
    let days = local / 86_400;
    let secs = local % 86_400;
    let date = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(i64::try_from(days).unwrap()))
        .unwrap();
    (
        format!("{:02}/{:02}/{}", date.day(), date.month(), date.year()),
        format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60),
    )
}

#[test]
fn api_keys_list_shows_times_in_the_authority_zone_not_unix_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (d, admin) = daemon(dir.path());
    let listed = cli::json_ok(&mut run(&d, &admin, "en", &["apikeys", "list", "--json"]));
    let created = listed[0]["created_at"].as_u64().unwrap();
    let (day, time) = martinique(created);
    let fr = stdout_ok(&mut run(&d, &admin, "fr", &["apikeys", "list"]));
    assert!(
        fr.contains(&format!("{day} {time} ({ZONE})")),
        "{fr}\nexpected {day} {time}"
    );
    assert!(
        fr.contains("CRÉÉE") && fr.contains("administrateur"),
        "{fr}"
    );
    assert!(
        !fr.contains(&created.to_string()),
        "raw Unix time shown:\n{fr}"
    );
    let en = stdout_ok(&mut run(&d, &admin, "en", &["apikeys", "list"]));
    assert!(
        en.contains(&format!("{time} ({ZONE})")) && en.contains("CREATED"),
        "{en}"
    );
    assert!(!en.contains(&created.to_string()), "{en}");
}

#[test]
fn english_refusals_read_as_english() {
    let dir = tempfile::tempdir().unwrap();
    let (d, admin) = daemon(dir.path());
    let en = |args: &[&str]| run(&d, &admin, "en", args);
    stdout_ok(&mut en(&person(
        "pmartin",
        "Paul Martin",
        "paul.martin@ac-exemple.fr",
    )));
    // A taken address is named as the address, not under the new id.
    let (_, err) = exits(
        &mut en(&person("cdupont", "C Dupont", "paul.martin@ac-exemple.fr")),
        6,
    );
    assert!(
        err.contains("mail address paul.martin@ac-exemple.fr already exists")
            && !err.contains("cdupont"),
        "{err}"
    );
    // A person's address refused in the words of a person, not of a help request.
    for mail in ["c.dupont@gmail.com", "ce.0751710B@ac-exemple.fr"] {
        let (_, err) = exits(&mut en(&person("cdupont", "C Dupont", mail)), 6);
        assert!(
            err.contains("field mail") && !err.contains("help request"),
            "{err}"
        );
    }
    // "cannot be restockd".
    stdout_ok(&mut en(&REGISTER));
    let (_, err) = exits(&mut en(&["tokens", "restock", "11111111"]), 6);
    assert!(
        err.contains("restock is not possible for a token in state stock"),
        "{err}"
    );
    // "a inspector key".
    stdout_ok(&mut en(&ADD_DISTRICT));
    let created = cli::json_ok(&mut en(&[
        "apikeys",
        "create",
        "--name",
        "ien",
        "--role",
        "inspector",
        "--district",
        "D-EST",
        "--person",
        "pmartin",
        "--json",
    ]));
    let inspector = created["key"].as_str().unwrap();
    let (_, err) = exits(&mut run(&d, inspector, "en", &["apikeys", "list"]), 4);
    assert!(err.contains("an inspector key may not"), "{err}");
}

#[test]
fn the_docs_and_readme_show_only_school_codes_keyward_accepts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut seen = 0;
    for file in files {
        let body = std::fs::read_to_string(&file).unwrap();
        // A UAI is a word of 7 digits and a letter.
        for word in body.split(|c: char| !c.is_ascii_alphanumeric()) {
            let b = word.as_bytes();
            if b.len() == 8 && b[..7].iter().all(u8::is_ascii_digit) && b[7].is_ascii_uppercase() {
                seen += 1;
                assert!(
                    keyward::domain::Uai::parse(word).is_ok(),
                    "{}: {word} is refused by keyward",
                    file.display()
                );
            }
        }
    }
    assert!(seen > 0);
}

#[test]
fn verify_with_no_passcode_is_a_usage_error_and_asks_nobody() {
    // A daemon that would answer "reject" if it were asked.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    for input in ["\n", ""] {
        let (out, err) = exits(
            cli::client(&url, "kw_gateway", ["verify", "--login", "adurand"]).write_stdin(input),
            2,
        );
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("no passcode given"), "{err}");
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "the daemon was asked");
}

#[test]
fn a_handover_and_its_receipt_in_french_with_the_authority_time() {
    let dir = tempfile::tempdir().unwrap();
    let (d, admin) = daemon_with(dir.path(), "on");
    let fr = |args: &[&str]| stdout_ok(&mut run(&d, &admin, "fr", args));
    fr(&person(
        "adurand",
        "Anne Durand",
        "anne.durand@ac-exemple.fr",
    ));
    fr(&person(
        "pmartin",
        "Paul Martin",
        "paul.martin@ac-exemple.fr",
    ));
    assert_eq!(fr(&ADD_DISTRICT), "circonscription D-EST ajoutée\n");
    fr(&[
        "schools",
        "add",
        "--uai",
        "0751710B",
        "--name",
        "Lilas",
        "--district",
        "D-EST",
    ]);
    let appointed = fr(&[
        "rights",
        "appoint",
        "--person",
        "adurand",
        "--school",
        "0751710B",
        "--from",
        "2026-09-01",
    ]);
    assert!(appointed.starts_with("nomination ") && appointed.ends_with(" enregistrée\n"));
    // A day in the French way; the open end said in words.
    let rights = fr(&["rights", "list", "--person", "adurand"]);
    assert!(
        rights.contains("01/09/2026") && rights.contains("nomination"),
        "{rights}"
    );
    let reader = "keyward virtual reader";
    let devices = fr(&["devices", "list"]);
    assert!(
        devices.starts_with("LECTEUR") && devices.contains("en stock"),
        "{devices}"
    );
    let prepared = fr(&[
        "tokens", "prepare", "--reader", reader, "--holder", "adurand",
    ]);
    assert!(prepared.ends_with(" préparée pour adurand\n"), "{prepared}");
    let handed = fr(&[
        "tokens", "handover", "--reader", reader, "--place", "Bureau",
    ]);
    assert!(handed.contains(" remise ; bordereau 1 signé"), "{handed}");
    let tokens = fr(&["tokens", "list"]);
    assert!(
        tokens.contains("TITULAIRE") && tokens.contains("remise"),
        "{tokens}"
    );

    // The printed receipt: French labels, the time in Martinique.
    let page = fr(&["receipts", "show", "1", "--format", "text"]);
    let export = cli::json_ok(&mut run(
        &d,
        &admin,
        "en",
        &["receipts", "show", "1", "--format", "json"],
    ));
    let unix: u64 = export["canonical"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("unix_time="))
        .unwrap()
        .parse()
        .unwrap();
    let (day, time) = martinique(unix);
    assert!(
        page.starts_with("Bordereau de remise de clé OTP n° 1\n"),
        "{page}"
    );
    assert!(
        page.contains(&format!("Date et heure : {day} {time} ({ZONE})")),
        "{page}"
    );
    assert!(page.contains("« keyward receipts verify »"), "{page}");
    // Checked offline, shown in the zone asked for.
    let file = dir.path().join("receipt.txt");
    std::fs::write(&file, export["export"].as_str().unwrap()).unwrap();
    let key = export["public_key"].as_str().unwrap();
    let mut verify = cli::keyward([
        "--lang",
        "fr",
        "receipts",
        "verify",
        "--time-zone",
        ZONE,
        "--public-key",
        key,
    ]);
    let checked = stdout_ok(verify.arg(&file));
    assert!(checked.starts_with("signature : valide"), "{checked}");
    assert!(
        checked.contains(&format!("{day} {time} ({ZONE})")),
        "{checked}"
    );

    // Reports, requests and the audit, in French.
    assert_eq!(fr(&["reports", "overdue"]), "(aucun)\n");
    let audit = fr(&["audit", "verify"]);
    assert!(audit.starts_with("audit : intègre, "), "{audit}");
}
