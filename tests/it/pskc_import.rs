//! Factory-seeded tokens from PSKC files: the RFC 6030 figures and files
//! written by python-pskc (Debian `python3-pskc`) decode to the secrets the
//! peer reads; invalid files are refused whole through the API with nothing
//! stored; a seeded token lives its whole life through the API, its codes
//! equal to oathtool's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api::{self, api, Api, Call};
use crate::support::world;
use keyward::pskc::{decode, Unlock};
use serde_json::{json, Value};
use zeroize::Zeroizing;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pskc");
const NOW: i64 = 1_800_000_000;

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{name}")).unwrap()
}

/// Runs python-pskc (Debian `python3-pskc`, the system interpreter) on a
/// script; a missing peer fails the test.
fn python(script: &str) -> String {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .output()
        .expect("/usr/bin/python3 (install python3-pskc: .ci/setup)");
    assert!(
        out.status.success(),
        "python-pskc failed (install python3-pskc: .ci/setup): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

#[test]
fn python_pskc_reads_the_same_secrets_from_the_rfc_figures() {
    let script = format!(
        "import pskc, binascii\n\
         for name, unlock in [('rfc6030-figure3.pskcxml', None), ('rfc6030-figure6.pskcxml', 'key'), ('rfc6030-figure7.pskcxml', 'pass'), ('vendor-plain-prefixed.pskcxml', None), ('draft-container-encrypted.pskcxml', 'draft')]:\n\
         \x20   p = pskc.PSKC('{DATA}/' + name)\n\
         \x20   if unlock == 'key': p.encryption.key = binascii.unhexlify('12345678901234567890123456789012')\n\
         \x20   if unlock == 'pass': p.encryption.derive_key('qwerty')\n\
         \x20   if unlock == 'draft': p.encryption.key = bytes(range(16, 32))\n\
         \x20   print(name, ' '.join(binascii.hexlify(k.secret).decode() for k in p.keys))\n"
    );
    let peer = python(&script);
    for line in peer.lines() {
        let (name, secrets) = line.split_once(' ').unwrap();
        let unlock = match name {
            "rfc6030-figure6.pskcxml" => Unlock::Key(Zeroizing::new(
                data_encoding::HEXLOWER
                    .decode(b"12345678901234567890123456789012")
                    .unwrap(),
            )),
            "rfc6030-figure7.pskcxml" => Unlock::Passphrase(Zeroizing::new(b"qwerty".to_vec())),
            "draft-container-encrypted.pskcxml" => {
                Unlock::Key(Zeroizing::new((16u8..32).collect()))
            }
            _ => Unlock::None,
        };
        let ours: Vec<String> = decode(data(name).as_bytes(), &unlock, NOW)
            .unwrap()
            .iter()
            .map(|k| hex(k.secret.expose()))
            .collect();
        assert_eq!(ours.join(" "), secrets, "{name}");
    }
    assert_eq!(peer.lines().count(), 5);
}

/// python-pskc writes files (pre-shared key and PBKDF2, HOTP and TOTP with
/// random secrets); keyward reads every parameter and secret back.
#[test]
fn files_written_by_python_pskc_decode_to_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    for (name, setup, unlock) in [
        (
            "psk",
            "p.encryption.setup_preshared_key(key=binascii.unhexlify('000102030405060708090a0b0c0d0e0f'))",
            Unlock::Key(Zeroizing::new((0u8..16).collect())),
        ),
        (
            "pbkdf2",
            "p.encryption.setup_pbkdf2('phrase secrete', iterations=3000)",
            Unlock::Passphrase(Zeroizing::new(b"phrase secrete".to_vec())),
        ),
        ("plain", "pass", Unlock::None),
    ] {
        let path = dir.path().join(format!("{name}.pskcxml"));
        let script = format!(
            "import pskc, binascii, os\n\
             p = pskc.PSKC()\n\
             a = os.urandom(20); b = os.urandom(32)\n\
             p.add_key(id='H1', serial='ACME-771', secret=a, algorithm='urn:ietf:params:xml:ns:keyprov:pskc:hotp', response_length=6, response_encoding='DECIMAL', counter=9, manufacturer='Acme', model='d6')\n\
             p.add_key(id='T1', serial='ACME-772', secret=b, algorithm='urn:ietf:params:xml:ns:keyprov:pskc:totp', response_length=8, response_encoding='DECIMAL', time_interval=60, time_offset=0)\n\
             {setup}\n\
             p.write('{}')\n\
             print(binascii.hexlify(a).decode(), binascii.hexlify(b).decode())\n",
            path.display()
        );
        let printed = python(&script);
        let keys = decode(&std::fs::read(&path).unwrap(), &unlock, NOW).unwrap();
        let ours: Vec<String> = keys.iter().map(|k| hex(k.secret.expose())).collect();
        assert_eq!(ours.join(" "), printed.trim(), "{name}");
        assert_eq!((keys[0].serial.as_str(), keys[1].serial.as_str()), ("771", "772"));
        assert_eq!(keys[0].params.kind, keyward::otp::OtpKind::Hotp { counter: 9 });
        assert_eq!(keys[0].model.as_deref(), Some("d6"));
        assert_eq!(keys[1].params.digits.get(), 8);
        // The peer reads back what it wrote, and what keyward refuses it
        // refuses too: a flipped MAC.
        if name == "psk" {
            let text = std::fs::read_to_string(&path).unwrap();
            let tag = text.split("<pskc:ValueMAC>").nth(1).unwrap().split('<').next().unwrap();
            let mut bytes = data_encoding::BASE64.decode(tag.as_bytes()).unwrap();
            bytes[0] ^= 1;
            let bad = text.replacen(tag, &data_encoding::BASE64.encode(&bytes), 1);
            let err = decode(bad.as_bytes(), &unlock, NOW).unwrap_err().to_string();
            assert!(err.contains("key H1 (serial 771)") && err.contains("MAC"), "{err}");
            std::fs::write(&path, bad).unwrap();
            let peer = python(&format!(
                "import pskc, binascii\n\
                 p = pskc.PSKC('{}')\n\
                 p.encryption.key = binascii.unhexlify('000102030405060708090a0b0c0d0e0f')\n\
                 try:\n    p.keys[0].secret\n    print('accepted')\n\
                 except Exception as e:\n    print('refused')\n",
                path.display()
            ));
            assert_eq!(peer.trim(), "refused");
        }
    }
}

async fn import(api: &Api, body: Value) -> (u16, Value) {
    let (status, answer) = api
        .post(&api.keys.desk, "/v1/tokens/import", Some(body))
        .await;
    (status.as_u16(), answer)
}

/// Each invalid file is refused whole through the API: 422 on `pskc`, a
/// message naming the key and the reason, no secret, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_files_are_refused_whole_and_store_nothing() {
    let api = api();
    let before = api.snapshot();
    let fig6 = data("rfc6030-figure6.pskcxml");
    let vendor = data("vendor-plain-prefixed.pskcxml");
    let psk = "12345678901234567890123456789012";
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><KeyContainer>&b;</KeyContainer>";
    let cases = [
        (
            "bad MAC",
            json!({"pskc": fig6.replace("Su+NvtQfmvfJzF6bmQiJqoLRExc=", "Su+NvtQfmvfJzF6bmQiJqoLRExY="), "key_hex": psk}),
            "key 12345678 (serial 987654321)",
        ),
        (
            "wrong key",
            json!({"pskc": fig6, "key_hex": "00112233445566778899aabbccddeeff"}),
            "wrong key",
        ),
        (
            "unknown algorithm",
            json!({"pskc": vendor.replace("pskc:totp", "pskc:ocra")}),
            "key 2600124809778: unknown key algorithm",
        ),
        (
            "missing secret",
            json!({"pskc": vendor.replace("<Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>", "")}),
            "key 1000133508267: missing Data/Secret",
        ),
        (
            "second key bad",
            json!({"pskc": vendor.replace("HMAC-SHA256", "HMAC-MD4")}),
            "key 2600124809778",
        ),
        ("DOCTYPE", json!({"pskc": laughs}), "DOCTYPE"),
    ];
    for (name, body, wanted) in cases {
        let (status, answer) = import(&api, body).await;
        assert_eq!(status, 422, "{name}: {answer}");
        assert_eq!(answer["error"]["field"], "pskc", "{name}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(wanted), "{name}: {message}");
        assert!(!message.contains("MTIzNDU2"), "{name}");
        assert_eq!(api.snapshot(), before, "{name} stored something");
    }
    // 10 MB of keys: refused by the body limit or the file limit, nothing stored.
    let package = vendor
        .split("<KeyPackage>")
        .nth(1)
        .unwrap()
        .split("</KeyPackage>")
        .next()
        .unwrap();
    let huge = format!(
        "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">{}</KeyContainer>",
        format!("<KeyPackage>{package}</KeyPackage>").repeat(10 * 1024 * 1024 / package.len())
    );
    let (status, _) = import(&api, json!({"pskc": huge})).await;
    assert!(status == 413 || status == 422, "{status}");
    let (status, answer) = import(
        &api,
        json!({"pskc": huge[..900_000].to_owned() + "</KeyContainer>"}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(api.snapshot(), before);
}

fn oathtool_hotp(counter: u64) -> String {
    // RFC 4226's secret, the vendor file's first key.
    crate::support::pcscd::oathtool(&[
        "--hotp",
        "-c",
        &counter.to_string(),
        "3132333435363738393031323334353637383930",
    ])
}

/// A seeded token's whole life through the API: import (dry, then for
/// real), bind with the code it shows, handover, activation, verify,
/// return, wipe; then bound again only after a new import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_token_lives_its_whole_life_through_the_api() {
    let api = api();
    let s = "1000133508267";
    let vendor = data("vendor-plain-prefixed.pskcxml");
    let before = api.snapshot();
    let (status, dry) = import(&api, json!({"pskc": vendor, "dry_run": true})).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["tokens"][0]["serial"], s);
    assert_eq!(dry["tokens"][1]["algorithm"], "SHA256");
    assert_eq!(api.snapshot(), before, "a dry run stores nothing");
    let (status, done) = import(&api, json!({"pskc": vendor})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["tokens"].as_array().unwrap().len(), 2);
    let (_, token) = api.get(&api.keys.desk, &format!("/v1/tokens/{s}")).await;
    assert_eq!(
        (token["profile"].as_str(), token["state"].as_str()),
        (Some("seeded"), Some("stock"))
    );
    // The same file again: the serials wait already, nothing changes.
    let (status, again) = import(&api, json!({"pskc": vendor})).await;
    assert_eq!(status, 409, "{again}");
    // The secret is at rest only sealed.
    let db = std::fs::read(api.store.db_path()).unwrap();
    assert!(!db.windows(20).any(|w| w == b"12345678901234567890"));

    // Bind: a wrong code refuses and changes nothing; the shown code binds.
    let bind = format!("/v1/tokens/{s}/bind");
    let wrong = json!({"holder": "jdupont", "code": "000000"});
    api.assert_conflict(
        Call::post(&bind).by(&api.keys.desk).json(wrong),
        "possession_check_failed",
    )
    .await;
    let (status, bound) = api
        .post(
            &api.keys.desk,
            &bind,
            Some(json!({"holder": "jdupont", "code": oathtool_hotp(0)})),
        )
        .await;
    assert_eq!(status, 200, "{bound}");
    assert_eq!(bound["state"], "prepared");
    // The imported secret became the credential: a second bind is refused.
    let again = json!({"holder": "mleroy", "code": oathtool_hotp(1)});
    api.assert_conflict(
        Call::post(&bind).by(&api.keys.desk).json(again),
        "invalid_transition",
    )
    .await;

    // Handover by the inspector with the code the token shows; activation
    // at the station; verify through the gateway.
    let reader = api::READER;
    let body = json!({"place": "Circonscription Est", "reader": reader, "typed": oathtool_hotp(1)});
    let (status, handed) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{s}/handover"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{handed}");
    let body = json!({"reader": reader, "pin": "483920", "typed": oathtool_hotp(2)});
    let (status, active) = api
        .post(
            &api.keys.station,
            &format!("/v1/tokens/{s}/activate"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["device_pin"], false);
    let login = json!({"login": "jdupont", "passcode": format!("483920{}", oathtool_hotp(3))});
    let (_, answer) = api.verify(&login).await;
    assert_eq!(answer["result"], "accept", "{answer}");
    let (_, answer) = api.verify(&login).await;
    assert_eq!(answer["result"], "reject");
    // The vendor's expiry date (2037-12-31) stays with the key: the day
    // before it a fresh code passes, the day after the next one does not.
    let today = keyward::domain::Clock::now(api.clock.as_ref());
    api.store
        .write(&keyward::domain::Actor::System, "test", |tx| {
            let (who, school) = (world::pid("jdupont"), world::uai(world::SCHOOL_EAST));
            let from = world::date("2027-09-01");
            tx.grant_right(
                keyward::domain::RightOrigin::Appointment,
                &who,
                &school,
                from,
                None,
            )
        })
        .unwrap();
    api.clock.set(world::at("2037-12-30", 9));
    let login = json!({"login": "jdupont", "passcode": format!("483920{}", oathtool_hotp(4))});
    assert_eq!(api.verify(&login).await.1["result"], "accept");
    api.clock.set(world::at("2038-01-01", 9));
    let login = json!({"login": "jdupont", "passcode": format!("483920{}", oathtool_hotp(5))});
    assert_eq!(api.verify(&login).await.1["result"], "reject");
    api.clock.set(today);

    // Return, then the wipe: no secret left, and no bind until a new import.
    let body = json!({"place": "Est", "reason": "end of mission", "reader": reader, "typed": oathtool_hotp(6)});
    let (status, returned) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{s}/return"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{returned}");
    let (status, wiped) = api
        .post(
            &api.keys.desk,
            &format!("/v1/tokens/{s}/wipe"),
            Some(json!({"reader": reader})),
        )
        .await;
    assert_eq!(status, 200, "{wiped}");
    assert_eq!(wiped["state"], "wiped");
    // With seeded_reuse = "never", a new import of a used serial is refused.
    let never = {
        let mut config = keyward::store::Config::new("ac-exemple.fr");
        config.seeded_reuse = keyward::store::SeededReuse::Never;
        keyward::store::Store::open(&api::data_dir(&api.dir), api.clock.clone(), config).unwrap()
    };
    let packages = decode(vendor.as_bytes(), &Unlock::None, NOW).unwrap();
    let refused = never
        .write(&crate::support::world::desk(), "token.import", |tx| {
            tx.import_seeded(&packages[..1])
        })
        .unwrap_err();
    assert!(
        refused.to_string().contains("never bound again"),
        "{refused}"
    );
    drop(never);
    let (status, _) = api
        .post(&api.keys.desk, &format!("/v1/tokens/{s}/restock"), None)
        .await;
    assert_eq!(status, 200);
    let again = json!({"holder": "mleroy", "code": oathtool_hotp(5)});
    api.assert_conflict(
        Call::post(&bind).by(&api.keys.desk).json(again),
        "invalid_transition",
    )
    .await;
    // A new import (only this token's package) replaces its secret.
    let first_only = {
        let end = vendor.find("</KeyPackage>").unwrap() + "</KeyPackage>".len();
        format!("{}\n</KeyContainer>\n", &vendor[..end])
    };
    let (status, re) = import(&api, json!({"pskc": first_only})).await;
    assert_eq!(status, 200, "{re}");
    assert_eq!(re["tokens"][0]["reseeded"], true);
    let (status, rebound) = api
        .post(
            &api.keys.desk,
            &bind,
            Some(json!({"holder": "mleroy", "code": oathtool_hotp(0)})),
        )
        .await;
    assert_eq!(status, 200, "{rebound}");
}

/// Wiping a seeded token whose imported secret still waits destroys that
/// secret: it can no longer be bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiping_a_seeded_token_in_stock_destroys_its_imported_secret() {
    let api = api();
    let s = "1000133508267";
    let (status, _) = import(&api, json!({"pskc": data("vendor-plain-prefixed.pskcxml")})).await;
    assert_eq!(status, 200);
    let (status, wiped) = api
        .post(
            &api.keys.desk,
            &format!("/v1/tokens/{s}/wipe"),
            Some(json!({"reader": "-"})),
        )
        .await;
    assert_eq!(status, 200, "{wiped}");
    assert_eq!(wiped["state"], "stock");
    let bind = json!({"holder": "jdupont", "code": oathtool_hotp(0)});
    let call = Call::post(format!("/v1/tokens/{s}/bind"))
        .by(&api.keys.desk)
        .json(bind);
    api.assert_conflict(call, "invalid_transition").await;
    let (status, _) = import(&api, json!({"pskc": data("vendor-plain-prefixed.pskcxml")})).await;
    assert_eq!(status, 409, "the other token's secret still waits");
}

/// A seeded token is never bound to a person whose departure is recorded
/// (`person_left`, nothing changed): its secret waits for someone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_token_is_not_bound_to_a_person_who_left() {
    let api = api();
    let bind = "/v1/tokens/1000133508267/bind";
    assert_eq!(
        import(&api, json!({"pskc": data("vendor-plain-prefixed.pskcxml")}))
            .await
            .0,
        200
    );
    let (status, gone) = api
        .post(&api.keys.admin, "/v1/people/mleroy/leave", None)
        .await;
    assert_eq!(status, 200, "{gone}");
    let call = |holder: &str| {
        Call::post(bind)
            .by(&api.keys.desk)
            .json(json!({"holder": holder, "code": oathtool_hotp(0)}))
    };
    api.assert_conflict(call("mleroy"), "person_left").await;
    let (status, bound) = api.send(call("jdupont")).await;
    assert_eq!(status, 200, "{bound}");
}

/// A seeded token fulfils a replacement request (case 3): only for the
/// request's holder; the old key is revoked in the bind's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_token_fulfils_a_replacement_request() {
    let api = api();
    let old = api.serial.clone();
    api.prepare_ok(&old, "jdupont", api::READER).await;
    let request = api
        .file_replacement(json!({
            "holder": "jdupont",
            "reason": "broken",
            "from": "jdupont@ac-exemple.fr",
            "cc": ["pmartin@ac-exemple.fr"],
            "subject": "cle cassee",
        }))
        .await;
    let (status, _) = import(&api, json!({"pskc": data("vendor-plain-prefixed.pskcxml")})).await;
    assert_eq!(status, 200);
    let bind = "/v1/tokens/1000133508267/bind";
    let other = json!({"holder": "mleroy", "code": oathtool_hotp(0), "replacement": request["id"]});
    api.assert_conflict(
        Call::post(bind).by(&api.keys.desk).json(other),
        "invalid_transition",
    )
    .await;
    let body = json!({"holder": "jdupont", "code": oathtool_hotp(0), "replacement": request["id"]});
    let (status, bound) = api.post(&api.keys.desk, bind, Some(body)).await;
    assert_eq!(status, 200, "{bound}");
    let (_, token) = api.get(&api.keys.desk, &format!("/v1/tokens/{old}")).await;
    assert_eq!(
        (&token["state"], &token["revoke_reason"]),
        (&json!("revoked"), &json!("broken"))
    );
}

/// `keyward tokens import` against a real daemon: a dry run stores nothing,
/// the key and passphrase come from files, a bad file is refused with the
/// key and the reason and no token appears.
#[test]
fn the_cli_imports_through_a_real_daemon() {
    use crate::support::cli::{self, exits, stdout_ok};
    use crate::support::serve::serve_init;
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve_init(
        &dir.path().join("data"),
        &["--virtual-token", "off", "--pcsc", "off"],
    );
    let (url, key) = (served.url.clone(), served.admin_key());
    let run = |args: &[&str]| cli::client(&url, &key, args);
    let key_file = dir.path().join("cle.hex");
    std::fs::write(&key_file, "12345678901234567890123456789012\n").unwrap();
    let phrase = dir.path().join("phrase.txt");
    std::fs::write(&phrase, "qwerty\n").unwrap();
    let fig6 = format!("{DATA}/rfc6030-figure6.pskcxml");
    let key_arg = key_file.to_str().unwrap();

    let dry = stdout_ok(&mut run(&[
        "tokens",
        "import",
        &fig6,
        "--dry-run",
        "--key-file",
        key_arg,
    ]));
    assert!(dry.contains("1 token(s) would be imported"), "{dry}");
    assert!(dry.contains("987654321"), "{dry}");
    let listed = stdout_ok(&mut run(&["tokens", "list"]));
    assert!(!listed.contains("987654321"), "{listed}");

    let bad = dir.path().join("bad.pskcxml");
    std::fs::write(
        &bad,
        data("rfc6030-figure6.pskcxml").replace(
            "Su+NvtQfmvfJzF6bmQiJqoLRExc=",
            "Su+NvtQfmvfJzF6bmQiJqoLRExY=",
        ),
    )
    .unwrap();
    let (_, err) = exits(
        &mut run(&[
            "tokens",
            "import",
            bad.to_str().unwrap(),
            "--key-file",
            key_arg,
        ]),
        6,
    );
    assert!(
        err.contains("key 12345678 (serial 987654321)") && err.contains("MAC"),
        "{err}"
    );
    let listed = stdout_ok(&mut run(&["tokens", "list"]));
    assert!(!listed.contains("987654321"), "{listed}");

    let fig7 = format!("{DATA}/rfc6030-figure7.pskcxml");
    let done = stdout_ok(&mut run(&[
        "tokens",
        "import",
        &fig7,
        "--passphrase-file",
        phrase.to_str().unwrap(),
    ]));
    assert!(done.contains("1 token(s) imported"), "{done}");
    let shown = stdout_ok(&mut run(&["tokens", "show", "987654321"]));
    assert!(
        shown.contains("seeded") && shown.contains("stock"),
        "{shown}"
    );
    served.stop();
}
