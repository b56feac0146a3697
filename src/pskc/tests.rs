//! RFC 6030's figures and the cases python-pskc refuses, each refused whole.

use super::*;
use crate::otp::{Algorithm, OtpKind};
use zeroize::Zeroizing;

const NOW: i64 = 1_800_000_000;
const FIG3: &str = include_str!("../../tests/data/pskc/rfc6030-figure3.pskcxml");
const FIG6: &str = include_str!("../../tests/data/pskc/rfc6030-figure6.pskcxml");
const FIG7: &str = include_str!("../../tests/data/pskc/rfc6030-figure7.pskcxml");
const VENDOR: &str = include_str!("../../tests/data/pskc/vendor-plain-prefixed.pskcxml");
const DRAFT: &str = include_str!("../../tests/data/pskc/draft-device-layout.pskcxml");
const CONTAINER: &str = include_str!("../../tests/data/pskc/draft-container-encrypted.pskcxml");

fn container_key() -> Unlock {
    Unlock::Key(Zeroizing::new((0x10u8..0x20).collect()))
}

fn psk() -> Unlock {
    Unlock::Key(Zeroizing::new(
        data_encoding::HEXLOWER
            .decode(b"12345678901234567890123456789012")
            .unwrap_or_default(),
    ))
}

fn qwerty() -> Unlock {
    Unlock::Passphrase(Zeroizing::new(b"qwerty".to_vec()))
}

fn one(text: &str, unlock: &Unlock) -> KeyPackage {
    let mut keys = decode(text.as_bytes(), unlock, NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.len(), 1);
    keys.remove(0)
}

fn refused(text: &str, unlock: &Unlock) -> String {
    match decode(text.as_bytes(), unlock, NOW) {
        Ok(keys) => panic!("accepted {} keys", keys.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn figure_3_plain_value() {
    let k = one(FIG3, &Unlock::None);
    assert_eq!(k.secret.expose(), b"12345678901234567890");
    assert_eq!(
        (k.key_id.as_str(), k.serial.as_str()),
        ("12345678", "987654321")
    );
    assert_eq!(k.manufacturer.as_deref(), Some("Manufacturer"));
    assert_eq!(k.params.kind, OtpKind::Hotp { counter: 0 });
    assert_eq!(k.params.digits.get(), 8);
    assert_eq!(k.params.algorithm, Algorithm::Sha1);
}

#[test]
fn figure_6_pre_shared_key() {
    let k = one(FIG6, &psk());
    assert_eq!(k.secret.expose(), b"12345678901234567890");
    assert_eq!(k.serial, "987654321");
}

#[test]
fn figure_7_pbkdf2_passphrase() {
    let k = one(FIG7, &qwerty());
    assert_eq!(k.secret.expose(), b"12345678901234567890");
    assert_eq!(k.manufacturer.as_deref(), Some("TokenVendorAcme"));
    assert_eq!(k.key_id, "123456");
}

#[test]
fn vendor_file_prefixed_serials_totp_suite_and_policies() {
    let keys = decode(VENDOR.as_bytes(), &Unlock::None, NOW).unwrap_or_default();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].serial, "1000133508267");
    assert_eq!(keys[0].model.as_deref(), Some("c200"));
    assert_eq!(keys[0].not_before, Some(1_343_779_200));
    assert_eq!(keys[0].not_after, Some(2_145_830_400));
    assert_eq!(keys[1].serial, "2600124809778");
    assert_eq!(keys[1].params.algorithm, Algorithm::Sha256);
    assert_eq!(keys[1].params.digits.get(), 8);
    assert!(matches!(keys[1].params.kind, OtpKind::Totp { period } if period.seconds() == 60));
    assert_eq!(
        keys[1].pin_policy,
        Some(PinPolicy {
            min_length: Some(4),
            max_length: Some(4),
            max_failed_attempts: Some(3)
        })
    );
}

#[test]
fn draft_device_layout() {
    let k = one(DRAFT, &Unlock::None);
    assert_eq!(k.secret.expose(), b"12345678901234567890");
    assert_eq!(
        (k.key_id.as_str(), k.serial.as_str()),
        ("12345678", "987654321")
    );
}

#[test]
fn early_draft_container_with_its_digest() {
    let k = one(CONTAINER, &container_key());
    assert_eq!(k.secret.expose(), b"12345678901234567890");
    assert_eq!(k.serial, "0950380269");
    assert_eq!(k.manufacturer.as_deref(), Some("ActivIdentity"));
    assert_eq!(
        k.params.kind,
        OtpKind::Hotp {
            counter: 837_830_147
        }
    );
    assert_eq!(k.params.digits.get(), 8);
}

#[test]
fn printed_serials_drop_vendor_prefixes() {
    for (raw, printed) in [
        ("FT-1000133508267", "1000133508267"),
        ("NAGRA:0123", "0123"),
        (" 987654321 ", "987654321"),
        ("VT-ABC", "VT-ABC"),
        ("-123", "-123"),
    ] {
        assert_eq!(printed_serial(raw), printed, "{raw}");
    }
}

/// Every refusal: the file, the key, what the message names.
#[test]
fn invalid_files_are_refused_whole_naming_key_and_reason() {
    let billion_laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">\
        <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\
        <KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">&lol2;</KeyContainer>";
    let package = VENDOR
        .split("<KeyPackage>")
        .nth(1)
        .and_then(|p| p.split("</KeyPackage>").next())
        .unwrap_or_default();
    let many = format!(
        "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">{}</KeyContainer>",
        format!("<KeyPackage>{package}</KeyPackage>").repeat(1001)
    );
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    let cases: Vec<(&str, String, Unlock, &str)> = vec![
        (
            "bad MAC",
            FIG6.replace(
                "Su+NvtQfmvfJzF6bmQiJqoLRExc=",
                "Su+NvtQfmvfJzF6bmQiJqoLRExY=",
            ),
            psk(),
            "key 12345678 (serial 987654321): the MAC of the encrypted secret does not match",
        ),
        (
            "ciphertext altered",
            FIG6.replace("AAECAwQFBgcICQoLDA0OD+cI", "AAECAwQFBgcICQoLDA0OD+cJ"),
            psk(),
            "key 12345678 (serial 987654321): the MAC",
        ),
        (
            "wrong key",
            FIG6.to_owned(),
            Unlock::Key(Zeroizing::new(vec![7; 16])),
            "wrong key",
        ),
        (
            "wrong passphrase",
            FIG7.to_owned(),
            Unlock::Passphrase(Zeroizing::new(b"azerty".to_vec())),
            "wrong key",
        ),
        (
            "no key given",
            FIG6.to_owned(),
            Unlock::None,
            "give the file's key or passphrase",
        ),
        (
            "passphrase for a key file",
            FIG6.to_owned(),
            qwerty(),
            "not a passphrase",
        ),
        (
            "MAC missing",
            FIG6.replace(
                "<ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc=\n                    </ValueMAC>",
                "",
            ),
            psk(),
            "key 12345678 (serial 987654321): missing ValueMAC",
        ),
        (
            "no MAC method",
            {
                let a = FIG6.find("<MACMethod").unwrap_or(0);
                let b = FIG6.find("</MACMethod>").unwrap_or(0) + 12;
                format!("{}{}", &FIG6[..a], &FIG6[b..])
            },
            psk(),
            "missing MACMethod",
        ),
        (
            "unknown MAC algorithm",
            FIG6.replace("xmldsig#hmac-sha1", "xmldsig#hmac-md5"),
            psk(),
            "unknown MAC algorithm",
        ),
        (
            "unknown encryption",
            FIG6.replace(
                "xmlenc#aes128-cbc\"/>\n                        <xenc:CipherData>",
                "xmlenc#tripledes-cbc\"/>\n                        <xenc:CipherData>",
            ),
            psk(),
            "key 12345678 (serial 987654321): unknown encryption algorithm",
        ),
        (
            "unknown key algorithm",
            FIG3.replace("pskc:hotp", "pskc:ocra"),
            Unlock::None,
            "key 12345678 (serial 987654321): unknown key algorithm",
        ),
        (
            "unknown hash",
            VENDOR.replace("HMAC-SHA256", "HMAC-MD5"),
            Unlock::None,
            "key 2600124809778: unknown hash algorithm",
        ),
        (
            "hex response",
            FIG3.replace("Encoding=\"DECIMAL\"", "Encoding=\"HEXADECIMAL\""),
            Unlock::None,
            "unknown response encoding",
        ),
        (
            "missing secret",
            FIG3.replace("<Secret>", "<Other>")
                .replace("</Secret>", "</Other>"),
            Unlock::None,
            "key 12345678 (serial 987654321): missing Data/Secret",
        ),
        (
            "missing response format",
            FIG3.replace("<ResponseFormat Length=\"8\" Encoding=\"DECIMAL\"/>", ""),
            Unlock::None,
            "missing ResponseFormat",
        ),
        (
            "4 digits",
            FIG3.replace("Length=\"8\"", "Length=\"4\""),
            Unlock::None,
            "6 to 8 digits",
        ),
        (
            "short secret",
            FIG3.replace("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", "MTIzNA=="),
            Unlock::None,
            "16 to 1024 bytes",
        ),
        (
            "not base64",
            FIG3.replace("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", "MTIz*"),
            Unlock::None,
            "not valid base64",
        ),
        (
            "counter not a number",
            FIG3.replace(
                "<PlainValue>0</PlainValue>",
                "<PlainValue>zero</PlainValue>",
            ),
            Unlock::None,
            "Counter: not a number",
        ),
        (
            "unknown policy",
            VENDOR.replace(
                "<KeyUsage>OTP</KeyUsage>",
                "<KeyUsage>OTP</KeyUsage><Unheard/>",
            ),
            Unlock::None,
            "key 2600124809778: unknown policy element \"Unheard\"",
        ),
        (
            "transactions limit",
            VENDOR.replace(
                "<KeyUsage>OTP</KeyUsage>",
                "<NumberOfTransactions>3</NumberOfTransactions>",
            ),
            Unlock::None,
            "unknown policy element \"NumberOfTransactions\"",
        ),
        (
            "not for OTP",
            VENDOR.replace("<KeyUsage>OTP</KeyUsage>", "<KeyUsage>Encrypt</KeyUsage>"),
            Unlock::None,
            "may not be used for OTP",
        ),
        (
            "expired",
            VENDOR.replace("2037-12-31", "2020-12-31"),
            Unlock::None,
            "key 1000133508267: expired on 2020-12-31",
        ),
        (
            "duplicate serial",
            VENDOR.replace("FT-2600124809778", "FT-1000133508267"),
            Unlock::None,
            "appears twice",
        ),
        (
            "DOCTYPE",
            FIG3.replace(
                "<KeyContainer",
                "<!DOCTYPE KeyContainer SYSTEM \"x.dtd\">\n<KeyContainer",
            ),
            Unlock::None,
            "DOCTYPE",
        ),
        (
            "billion laughs",
            billion_laughs.to_owned(),
            Unlock::None,
            "DOCTYPE",
        ),
        ("1001 keys", many, Unlock::None, "too many keys"),
        ("10 MB", ten_mb, Unlock::None, "file too large"),
        (
            "not XML",
            "hello".to_owned(),
            Unlock::None,
            "not a well-formed XML file",
        ),
        (
            "not PSKC",
            "<KeyContainer/>".to_owned(),
            Unlock::None,
            "not a PSKC key container",
        ),
        (
            "wrong version",
            FIG3.replace("Version=\"1.0\"", "Version=\"2.0\""),
            Unlock::None,
            "version",
        ),
        (
            "no key",
            "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"/>"
                .to_owned(),
            Unlock::None,
            "holds no key",
        ),
    ];
    for (name, text, unlock, wanted) in cases {
        let message = refused(&text, &unlock);
        assert!(message.contains(wanted), "{name}: {message}");
        for secret in ["12345678901234567890", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="] {
            assert!(!message.contains(secret), "{name}: {message}");
        }
    }
}

#[test]
fn one_bad_key_refuses_the_whole_file() {
    let broken = VENDOR.replace("MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=", "!");
    assert!(decode(broken.as_bytes(), &Unlock::None, NOW).is_err());
}
