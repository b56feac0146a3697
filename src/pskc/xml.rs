//! Walking a PSKC document: the container's encryption and MAC method, then
//! each key package. Two passes: every key is read and every MAC checked
//! before any value is decrypted.

use roxmltree::{Document, Node, ParsingOptions};
use zeroize::Zeroizing;

use super::cipher::{self, Mac, Pbkdf2};
use super::draft::{self, DataFields, DraftCipher, DRAFT_NS};
use super::{printed_serial, KeyPackage, PinPolicy, PskcError, Reason, Unlock};
use crate::otp::{Algorithm, CredentialParams, Digits, OtpKind, Period, Secret};

/// RFC 6030's namespace (also that of the early drafts' `Device` layout).
const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";

const HOTP: &[&str] = &[
    "urn:ietf:params:xml:ns:keyprov:pskc:hotp",
    "urn:ietf:params:xml:ns:keyprov:pskc#hotp",
    "http://www.ietf.org/keyprov/pskc#hotp",
];
const TOTP: &[&str] = &[
    "urn:ietf:params:xml:ns:keyprov:pskc:totp",
    "urn:ietf:params:xml:ns:keyprov:pskc#totp",
    "http://www.ietf.org/keyprov/pskc#totp",
];

/// A secret as the file holds it.
pub(super) enum Value {
    Plain(Zeroizing<Vec<u8>>),
    Encrypted {
        algorithm: String,
        data: Vec<u8>,
        mac: Option<Vec<u8>>,
    },
    /// Encrypted with the early drafts' container IV, with its digest.
    Draft {
        data: Vec<u8>,
        digest: Option<Vec<u8>>,
    },
}

/// A key read, its secret not yet decrypted.
struct Pending {
    label: String,
    meta: Meta,
    value: Value,
}

/// Everything of a [`KeyPackage`] but its secret.
struct Meta {
    key_id: String,
    serial: String,
    manufacturer: Option<String>,
    model: Option<String>,
    params: CredentialParams,
    not_before: Option<i64>,
    not_after: Option<i64>,
    pin_policy: Option<PinPolicy>,
}

/// The container's encryption: the key (derived or pre-shared) and the MAC.
struct Protection {
    derivation: Option<Pbkdf2>,
    mac: Option<(Mac, String, Vec<u8>)>,
    draft: Option<DraftCipher>,
}

pub(super) fn read(text: &str, unlock: &Unlock, now: i64) -> Result<Vec<KeyPackage>, PskcError> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: super::MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => PskcError::Doctype,
        roxmltree::Error::NodesLimitReached => PskcError::TooLarge {
            len: text.len(),
            max: super::MAX_FILE_BYTES,
        },
        other => PskcError::Xml(other.to_string()),
    })?;
    let root = doc.root_element();
    let namespace = root.tag_name().namespace();
    if root.tag_name().name() != "KeyContainer" || !matches!(namespace, Some(PSKC_NS | DRAFT_NS)) {
        return Err(PskcError::NotPskc(format!(
            "root element {:?} in namespace {:?}",
            root.tag_name().name(),
            root.tag_name().namespace().unwrap_or("")
        )));
    }
    let version = root
        .attribute("Version")
        .or_else(|| root.attribute("version"));
    if let Some(v) = version.filter(|v| *v != "1.0") {
        return Err(PskcError::NotPskc(format!("version {v:?}, expected 1.0")));
    }
    let mut protection = protection(root).map_err(PskcError::File)?;
    if namespace == Some(DRAFT_NS) {
        protection.draft = DraftCipher::read(root).map_err(PskcError::File)?;
    }
    let draft_encrypted = protection.draft.is_some();
    let mut pending = Vec::new();
    for package in elements(root).filter(|n| matches!(n.tag_name().name(), "KeyPackage" | "Device"))
    {
        let device = child(package, "DeviceInfo").or_else(|| child(package, "DeviceId"));
        for key in elements(package).filter(|n| n.tag_name().name() == "Key") {
            if pending.len() >= super::MAX_KEYS {
                return Err(PskcError::TooManyKeys {
                    max: super::MAX_KEYS,
                });
            }
            let position = pending.len() + 1;
            pending.push(read_key(device, key, (position, draft_encrypted), now)?);
        }
    }
    if pending.is_empty() {
        return Err(PskcError::Empty);
    }
    unlock_all(pending, &protection, unlock)
}

/// Checks every MAC, then decrypts every value.
fn unlock_all(
    pending: Vec<Pending>,
    protection: &Protection,
    unlock: &Unlock,
) -> Result<Vec<KeyPackage>, PskcError> {
    let encrypted = pending
        .iter()
        .any(|p| matches!(p.value, Value::Encrypted { .. }));
    let keys = if encrypted {
        Some(file_keys(protection, unlock).map_err(PskcError::File)?)
    } else {
        None
    };
    let blame = |p: &Pending, reason| PskcError::Key {
        key: p.label.clone(),
        reason,
    };
    if let Some((_, (mac, mac_key))) = &keys {
        for p in &pending {
            if let Value::Encrypted { data, mac: tag, .. } = &p.value {
                let tag = tag
                    .as_ref()
                    .ok_or_else(|| blame(p, Reason::Missing("ValueMAC")))?;
                mac.verify(mac_key, data, tag).map_err(|r| blame(p, r))?;
            }
        }
    }
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        let bytes = match (&p.value, &keys) {
            (Value::Plain(bytes), _) => bytes.clone(),
            (
                Value::Encrypted {
                    algorithm, data, ..
                },
                Some((key, _)),
            ) => cipher::decrypt(algorithm, key, data).map_err(|r| blame(&p, r))?,
            (Value::Encrypted { .. }, None) => return Err(PskcError::File(Reason::Locked)),
            (Value::Draft { data, digest }, _) => {
                let (Some(cipher), Unlock::Key(key)) = (&protection.draft, unlock) else {
                    return Err(PskcError::File(Reason::Locked));
                };
                cipher
                    .open(key, data, digest.as_deref())
                    .map_err(|r| blame(&p, r))?
            }
        };
        let secret = secret(bytes).map_err(|r| blame(&p, r))?;
        let Meta {
            key_id,
            serial,
            manufacturer,
            model,
            params,
            not_before,
            not_after,
            pin_policy,
        } = p.meta;
        out.push(KeyPackage {
            key_id,
            serial,
            manufacturer,
            model,
            params,
            secret,
            not_before,
            not_after,
            pin_policy,
        });
    }
    Ok(out)
}

type FileKeys = (Zeroizing<Vec<u8>>, (Mac, Zeroizing<Vec<u8>>));

/// The file's encryption key (given or derived) and its MAC key (decrypted).
fn file_keys(protection: &Protection, unlock: &Unlock) -> Result<FileKeys, Reason> {
    let key = match (unlock, &protection.derivation) {
        (Unlock::None, _) => return Err(Reason::Locked),
        (Unlock::Key(key), None) => key.clone(),
        (Unlock::Passphrase(pass), Some(derivation)) => derivation.derive(pass)?,
        (Unlock::Key(_), Some(_)) => {
            return Err(Reason::Bad {
                what: "file key",
                why: "this file is protected by a passphrase, not a key",
            })
        }
        (Unlock::Passphrase(_), None) => {
            return Err(Reason::Bad {
                what: "file key",
                why: "this file is protected by a pre-shared key, not a passphrase",
            })
        }
    };
    let (mac, algorithm, data) = protection
        .mac
        .as_ref()
        .ok_or(Reason::Missing("MACMethod with an encrypted MACKey"))?;
    let mac_key = cipher::decrypt(algorithm, &key, data)?;
    Ok((key, (*mac, mac_key)))
}

fn protection(root: Node<'_, '_>) -> Result<Protection, Reason> {
    let derivation = match child(root, "EncryptionKey").and_then(|k| child(k, "DerivedKey")) {
        Some(derived) => Some(pbkdf2(derived)?),
        None => None,
    };
    let mac = match child(root, "MACMethod") {
        Some(method) => {
            let mac = Mac::parse(method.attribute("Algorithm").unwrap_or(""))?;
            let key = child(method, "MACKey").ok_or(Reason::Missing("MACKey"))?;
            let (algorithm, data) = cipher_data(key)?;
            Some((mac, algorithm, data))
        }
        None => None,
    };
    Ok(Protection {
        derivation,
        mac,
        draft: None,
    })
}

fn pbkdf2(derived: Node<'_, '_>) -> Result<Pbkdf2, Reason> {
    let method =
        child(derived, "KeyDerivationMethod").ok_or(Reason::Missing("KeyDerivationMethod"))?;
    let algorithm = method.attribute("Algorithm").unwrap_or("");
    if algorithm.trim() != cipher::PBKDF2 {
        return Err(Reason::Unknown {
            what: "key derivation",
            value: algorithm.to_owned(),
        });
    }
    let params = child(method, "PBKDF2-params").ok_or(Reason::Missing("PBKDF2-params"))?;
    let salt = child(params, "Salt")
        .and_then(|s| child(s, "Specified"))
        .ok_or(Reason::Missing("PBKDF2 salt"))?;
    let prf = match child(params, "PRF").and_then(|p| p.attribute("Algorithm")) {
        Some(uri) => Mac::parse(uri)?,
        None => Mac::Sha1,
    };
    Ok(Pbkdf2 {
        salt: base64(text(salt)).map(|s| s.to_vec())?,
        iterations: number(child(params, "IterationCount"), "PBKDF2 IterationCount")?,
        key_len: number(child(params, "KeyLength"), "PBKDF2 KeyLength")? as usize,
        prf,
    })
}

fn read_key(
    device: Option<Node<'_, '_>>,
    key: Node<'_, '_>,
    (position, draft_encrypted): (usize, bool),
    now: i64,
) -> Result<Pending, PskcError> {
    let key_id = key
        .attribute("Id")
        .or_else(|| key.attribute("KeyId"))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let device_text = |name| {
        device
            .and_then(|d| child(d, name))
            .map(|n| text(n).to_owned())
    };
    let serial = device_text("SerialNo")
        .filter(|s| !s.is_empty())
        .map(|s| printed_serial(&s))
        .or_else(|| key_id.clone());
    let label = match (&key_id, &serial) {
        (Some(id), Some(s)) if id != s => format!("{id} (serial {s})"),
        (Some(id), _) => id.clone(),
        (None, Some(s)) => format!("#{position} (serial {s})"),
        (None, None) => format!("#{position}"),
    };
    let blame = |reason| PskcError::Key {
        key: label.clone(),
        reason,
    };
    let serial = serial.ok_or_else(|| blame(Reason::Missing("DeviceInfo/SerialNo or Key Id")))?;
    if serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(blame(Reason::Bad {
            what: "serial",
            why: "not 1 to 64 printable ASCII characters",
        }));
    }
    let (params, (not_before, not_after, pin_policy), value) =
        key_body(key, draft_encrypted, now).map_err(blame)?;
    if let Value::Plain(bytes) = &value {
        // Checked now, so a short plain secret is named before any MAC work.
        secret(bytes.clone()).map_err(blame)?;
    }
    Ok(Pending {
        label: label.clone(),
        meta: Meta {
            key_id: key_id.unwrap_or_else(|| format!("#{position}")),
            serial,
            manufacturer: device_text("Manufacturer"),
            model: device_text("Model"),
            params,
            not_before,
            not_after,
            pin_policy,
        },
        value,
    })
}

type Policy = (Option<i64>, Option<i64>, Option<PinPolicy>);

fn key_body(
    key: Node<'_, '_>,
    draft_encrypted: bool,
    now: i64,
) -> Result<(CredentialParams, Policy, Value), Reason> {
    let algorithm = key
        .attribute("Algorithm")
        .or_else(|| key.attribute("KeyAlgorithm"))
        .ok_or(Reason::Missing("Key Algorithm"))?
        .trim();
    let totp = if HOTP.contains(&algorithm) {
        false
    } else if TOTP.contains(&algorithm) {
        true
    } else {
        return Err(Reason::Unknown {
            what: "key algorithm",
            value: algorithm.to_owned(),
        });
    };
    let parameters = child(key, "AlgorithmParameters").or_else(|| child(key, "Usage"));
    let format = parameters
        .and_then(|p| child(p, "ResponseFormat"))
        .ok_or(Reason::Missing("ResponseFormat"))?;
    let encoding = format
        .attribute("Encoding")
        .or_else(|| format.attribute("Format"))
        .unwrap_or("DECIMAL");
    if encoding != "DECIMAL" {
        return Err(Reason::Unknown {
            what: "response encoding",
            value: encoding.to_owned(),
        });
    }
    let length: u8 = format
        .attribute("Length")
        .ok_or(Reason::Missing("ResponseFormat Length"))?
        .trim()
        .parse()
        .map_err(|_| Reason::Bad {
            what: "ResponseFormat Length",
            why: "not a number",
        })?;
    let digits = Digits::new(length).map_err(|_| Reason::Bad {
        what: "ResponseFormat Length",
        why: "keyward accepts 6 to 8 digits",
    })?;
    let hash = match parameters.and_then(|p| child(p, "Suite")) {
        Some(suite) => {
            let name = text(suite);
            name.trim_start_matches("HMAC-")
                .parse::<Algorithm>()
                .map_err(|_| Reason::Unknown {
                    what: "hash algorithm (Suite)",
                    value: name.to_owned(),
                })?
        }
        None => Algorithm::Sha1,
    };
    let fields = match draft::data(key, draft_encrypted)? {
        Some(fields) => fields,
        None => rfc_data(child(key, "Data").ok_or(Reason::Missing("Data"))?)?,
    };
    let kind = if totp {
        if fields.time0.is_some_and(|t| t != 0) {
            return Err(Reason::Bad {
                what: "Time",
                why: "keyward counts TOTP steps from 0 (the Unix epoch)",
            });
        }
        let period = u32::try_from(fields.interval.unwrap_or(30)).unwrap_or(0);
        OtpKind::Totp {
            period: Period::new(period).map_err(|_| Reason::Bad {
                what: "TimeInterval",
                why: "outside keyward's periods",
            })?,
        }
    } else {
        OtpKind::Hotp {
            counter: fields.counter.unwrap_or(0),
        }
    };
    let policy = policy(key, now)?;
    let value = fields.secret;
    let params = CredentialParams {
        kind,
        algorithm: hash,
        digits,
    };
    Ok((params, policy, value))
}

fn policy(key: Node<'_, '_>, now: i64) -> Result<Policy, Reason> {
    let Some(policy) = child(key, "Policy") else {
        return Ok((None, None, None));
    };
    let (mut start, mut expiry, mut pin, mut usages) = (None, None, None, Vec::new());
    for element in elements(policy) {
        match element.tag_name().name() {
            "StartDate" => start = Some(date(element, "StartDate")?),
            "ExpiryDate" => expiry = Some(date(element, "ExpiryDate")?),
            "KeyUsage" => usages.push(text(element).to_owned()),
            "PINPolicy" => {
                let attribute = |name| -> Result<Option<u32>, Reason> {
                    element
                        .attribute(name)
                        .map(|v| {
                            v.trim().parse().map_err(|_| Reason::Bad {
                                what: "PINPolicy",
                                why: "an attribute is not a number",
                            })
                        })
                        .transpose()
                };
                pin = Some(PinPolicy {
                    min_length: attribute("MinLength")?,
                    max_length: attribute("MaxLength")?,
                    max_failed_attempts: attribute("MaxFailedAttempts")?,
                });
            }
            other => return Err(Reason::UnknownPolicy(other.to_owned())),
        }
    }
    if !usages.is_empty() && !usages.iter().any(|u| u == "OTP") {
        return Err(Reason::NotForOtp(usages.join(",")));
    }
    if let Some(end) = expiry.filter(|end| *end <= now) {
        let shown = jiff::Timestamp::from_second(end)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| end.to_string());
        return Err(Reason::Expired(shown));
    }
    Ok((start, expiry, pin))
}

/// RFC 6030's `Data`: `Secret`, `Counter`, `Time`, `TimeInterval`.
fn rfc_data(data: Node<'_, '_>) -> Result<DataFields, Reason> {
    let number = |name: &'static str| -> Result<Option<u64>, Reason> {
        child(data, name).map(|n| plain_number(n, name)).transpose()
    };
    Ok(DataFields {
        counter: number("Counter")?,
        time0: number("Time")?,
        interval: number("TimeInterval")?,
        secret: value(child(data, "Secret").ok_or(Reason::Missing("Data/Secret"))?)?,
    })
}

fn value(secret: Node<'_, '_>) -> Result<Value, Reason> {
    if let Some(plain) = child(secret, "PlainValue") {
        return Ok(Value::Plain(base64(text(plain))?));
    }
    let encrypted = child(secret, "EncryptedValue")
        .ok_or(Reason::Missing("Secret/PlainValue or EncryptedValue"))?;
    let (algorithm, data) = cipher_data(encrypted)?;
    let mac = match child(secret, "ValueMAC") {
        Some(m) => Some(base64(text(m))?.to_vec()),
        None => None,
    };
    Ok(Value::Encrypted {
        algorithm,
        data,
        mac,
    })
}

/// `EncryptionMethod@Algorithm` and the base64 `CipherData/CipherValue`.
fn cipher_data(node: Node<'_, '_>) -> Result<(String, Vec<u8>), Reason> {
    let algorithm = child(node, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or(Reason::Missing("EncryptionMethod"))?;
    cipher::key_len(algorithm)?;
    let value = child(node, "CipherData")
        .and_then(|d| child(d, "CipherValue"))
        .ok_or(Reason::Missing("CipherData/CipherValue"))?;
    Ok((algorithm.trim().to_owned(), base64(text(value))?.to_vec()))
}

fn secret(bytes: Zeroizing<Vec<u8>>) -> Result<Secret, Reason> {
    Secret::new(bytes).map_err(|_| Reason::Bad {
        what: "secret",
        why: "keyward accepts secrets of 16 to 1024 bytes",
    })
}

fn date(node: Node<'_, '_>, what: &'static str) -> Result<i64, Reason> {
    text(node)
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| Reason::Bad {
            what,
            why: "not an RFC 3339 date and time",
        })
}

fn plain_number<T: std::str::FromStr>(node: Node<'_, '_>, what: &'static str) -> Result<T, Reason> {
    let plain = child(node, "PlainValue").ok_or(Reason::Bad {
        what,
        why: "keyward reads it only as a PlainValue",
    })?;
    text(plain).parse().map_err(|_| Reason::Bad {
        what,
        why: "not a number",
    })
}

fn number(node: Option<Node<'_, '_>>, what: &'static str) -> Result<u32, Reason> {
    text(node.ok_or(Reason::Missing(what))?)
        .parse()
        .map_err(|_| Reason::Bad {
            what,
            why: "not a number",
        })
}

pub(super) fn base64(text: &str) -> Result<Zeroizing<Vec<u8>>, Reason> {
    let cleaned: Zeroizing<Vec<u8>> =
        Zeroizing::new(text.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
    data_encoding::BASE64
        .decode(&cleaned)
        .map(Zeroizing::new)
        .map_err(|_| Reason::Bad {
            what: "base64 value",
            why: "not valid base64",
        })
}

pub(super) fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

pub(super) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(node).find(|n| n.tag_name().name() == name)
}

pub(super) fn text<'a>(node: Node<'a, '_>) -> &'a str {
    node.text().unwrap_or("").trim()
}
