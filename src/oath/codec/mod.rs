//! The YKOATH protocol (Yubico OATH applet), sans I/O and shared by both sides:
//! the host driver builds [`Request`]s into APDUs and parses the answers; the
//! virtual token parses APDUs into the same [`Request`]s and encodes the answers
//! with the same functions. Nothing here panics on any input.
//!
//! Wire facts: PROTOCOLS.md §1 and yubikit/oath.py (ykman 4.0.9).

pub mod tlv;

use std::fmt;

use zeroize::Zeroizing;

use crate::apdu::{Command, Status};
use crate::otp::Algorithm;

/// AID of the OATH applet (Yubico and Nitrokey alike).
pub const OATH_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01];
/// AID of the YubiKey management applet.
pub const MGMT_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17];

pub const INS_PUT: u8 = 0x01;
pub const INS_DELETE: u8 = 0x02;
pub const INS_SET_CODE: u8 = 0x03;
pub const INS_RESET: u8 = 0x04;
pub const INS_RENAME: u8 = 0x05;
pub const INS_LIST: u8 = 0xA1;
pub const INS_CALCULATE: u8 = 0xA2;
pub const INS_VALIDATE: u8 = 0xA3;
/// SELECT when P1 = 04, CALCULATE ALL when P1 = 00.
pub const INS_SELECT: u8 = 0xA4;
pub const INS_CALCULATE_ALL: u8 = 0xA4;
pub const INS_SEND_REMAINING: u8 = 0xA5;

pub const TAG_NAME: u8 = 0x71;
pub const TAG_NAME_LIST: u8 = 0x72;
pub const TAG_KEY: u8 = 0x73;
pub const TAG_CHALLENGE: u8 = 0x74;
pub const TAG_RESPONSE: u8 = 0x75;
pub const TAG_TRUNCATED: u8 = 0x76;
pub const TAG_HOTP: u8 = 0x77;
pub const TAG_PROPERTY: u8 = 0x78;
pub const TAG_VERSION: u8 = 0x79;
pub const TAG_IMF: u8 = 0x7A;
pub const TAG_ALGORITHM: u8 = 0x7B;
pub const TAG_TOUCH: u8 = 0x7C;

pub const PROP_INCREASING: u8 = 0x01;
pub const PROP_TOUCH: u8 = 0x02;

/// Longest credential name the applet stores.
pub const MAX_NAME_LEN: usize = 64;
/// Longest key the applet stores (one SHA-512 block after host preprocessing).
pub const MAX_KEY_LEN: usize = 128;
/// Keys are right-padded with zeros to at least this length (yubikit).
pub const MIN_KEY_LEN: usize = 14;

/// Errors of the host side of the codec: answers that do not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OathError {
    #[error("malformed TLV in the card's answer")]
    BadTlv,
    #[error("the card's answer lacks tag {0:02X}")]
    MissingTag(u8),
    #[error("unknown credential type/algorithm byte {0:02X}")]
    BadTypeByte(u8),
    #[error("malformed {what} in the card's answer")]
    Malformed { what: &'static str },
    #[error("credential name is {len} bytes; 1 to {MAX_NAME_LEN} are allowed")]
    BadName { len: usize },
    #[error("{0} digits: the applet stores 6, 7 or 8")]
    BadDigits(u8),
}

/// HOTP or TOTP: the high nibble of the type/algorithm byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OathType {
    Hotp,
    Totp,
}

/// The type/algorithm byte: type in the high nibble, hash in the low one.
pub fn type_byte(kind: OathType, algorithm: Algorithm) -> u8 {
    let t = match kind {
        OathType::Hotp => 0x10,
        OathType::Totp => 0x20,
    };
    let a = match algorithm {
        Algorithm::Sha1 => 0x01,
        Algorithm::Sha256 => 0x02,
        Algorithm::Sha512 => 0x03,
    };
    t | a
}

/// Inverse of [`type_byte`].
pub fn parse_type_byte(byte: u8) -> Option<(OathType, Algorithm)> {
    let kind = match byte & 0xF0 {
        0x10 => OathType::Hotp,
        0x20 => OathType::Totp,
        _ => return None,
    };
    let algorithm = parse_algorithm(byte & 0x0F)?;
    Some((kind, algorithm))
}

fn parse_algorithm(nibble: u8) -> Option<Algorithm> {
    match nibble {
        0x01 => Some(Algorithm::Sha1),
        0x02 => Some(Algorithm::Sha256),
        0x03 => Some(Algorithm::Sha512),
        _ => None,
    }
}

/// A credential as PUT carries it. The key is already preprocessed (hashed when
/// longer than a block, padded to 14 bytes): see [`prepare_key`].
#[derive(Clone, PartialEq, Eq)]
pub struct NewCredential {
    pub name: Vec<u8>,
    pub kind: OathType,
    pub algorithm: Algorithm,
    pub digits: u8,
    pub key: Zeroizing<Vec<u8>>,
    pub touch: bool,
    pub increasing: bool,
    /// Initial moving factor (HOTP counter); sent only when above 0.
    pub imf: u32,
}

impl fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredential")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("kind", &self.kind)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("key", &format_args!("[redacted; {} bytes]", self.key.len()))
            .field("touch", &self.touch)
            .field("imf", &self.imf)
            .finish()
    }
}

/// The access key of SET CODE (the OATH password, after PBKDF2).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub algorithm: Algorithm,
    pub key: Zeroizing<Vec<u8>>,
    pub challenge: Vec<u8>,
    pub response: Vec<u8>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Every YKOATH instruction after SELECT, typed. Debug masks the VALIDATE
/// response (an HMAC under the access key: offline brute-force material).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    Put(NewCredential),
    Delete {
        name: Vec<u8>,
    },
    /// `None` removes the access code (`73 00`).
    SetCode(Option<AccessKey>),
    Reset,
    Rename {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    List,
    Calculate {
        name: Vec<u8>,
        challenge: Vec<u8>,
        truncate: bool,
    },
    Validate {
        response: Vec<u8>,
        challenge: Vec<u8>,
    },
    CalculateAll {
        challenge: Vec<u8>,
        truncate: bool,
    },
    SendRemaining,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        match self {
            Request::Put(c) => f.debug_tuple("Put").field(c).finish(),
            Request::Delete { name: n } => write!(f, "Delete({:?})", name(n)),
            Request::SetCode(k) => f.debug_tuple("SetCode").field(k).finish(),
            Request::Reset => f.write_str("Reset"),
            Request::Rename { from, to } => write!(f, "Rename({:?} -> {:?})", name(from), name(to)),
            Request::List => f.write_str("List"),
            Request::Calculate {
                name: n,
                challenge,
                truncate,
            } => write!(
                f,
                "Calculate({:?}, challenge {} bytes, truncate {truncate})",
                name(n),
                challenge.len()
            ),
            Request::Validate { .. } => f.write_str("Validate([redacted])"),
            Request::CalculateAll {
                challenge,
                truncate,
            } => write!(
                f,
                "CalculateAll(challenge {} bytes, truncate {truncate})",
                challenge.len()
            ),
            Request::SendRemaining => f.write_str("SendRemaining"),
        }
    }
}

/// SELECT by AID: `00 A4 04 00 Lc AID` (yubikit sends no Le).
pub fn select_command(aid: &[u8]) -> Command {
    Command::new(0x00, INS_SELECT, 0x04, 0x00, aid.to_vec())
}

fn check_name(name: &[u8]) -> Result<(), Status> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Status::WrongData);
    }
    Ok(())
}

/// Finds the only TLV with `tag`; more than one is a syntax error.
fn single<'a>(tlvs: &[tlv::Tlv<'a>], tag: u8) -> Result<Option<&'a [u8]>, Status> {
    let mut found = None;
    for t in tlvs.iter().filter(|t| t.tag == tag) {
        if found.is_some() {
            return Err(Status::WrongData);
        }
        found = Some(t.value);
    }
    Ok(found)
}

fn required<'a>(tlvs: &[tlv::Tlv<'a>], tag: u8) -> Result<&'a [u8], Status> {
    single(tlvs, tag)?.ok_or(Status::WrongData)
}

/// Rejects any tag outside `allowed`.
fn only(tlvs: &[tlv::Tlv<'_>], allowed: &[u8]) -> Result<(), Status> {
    if tlvs.iter().all(|t| allowed.contains(&t.tag)) {
        Ok(())
    } else {
        Err(Status::WrongData)
    }
}

impl Request {
    /// Parses a command APDU as the card sees it (CLA 00, after SELECT). The
    /// error is the status word the card answers with.
    pub fn parse(cmd: &Command) -> Result<Request, Status> {
        if cmd.cla & !crate::apdu::CLA_CHAINING != 0 {
            return Err(Status::ClaNotSupported);
        }
        let p1p2 = (cmd.p1, cmd.p2);
        let no_params = || {
            if p1p2 == (0, 0) {
                Ok(())
            } else {
                Err(Status::WrongP1P2)
            }
        };
        let tlvs = |raw: &[u8]| -> Result<(), Status> {
            tlv::parse(&cmd.data, raw)
                .map(|_| ())
                .map_err(|_| Status::WrongData)
        };
        match cmd.ins {
            INS_PUT => {
                no_params()?;
                tlvs(&[TAG_PROPERTY])?;
                let list = tlv::parse(&cmd.data, &[TAG_PROPERTY]).map_err(|_| Status::WrongData)?;
                only(&list, &[TAG_NAME, TAG_KEY, TAG_PROPERTY, TAG_IMF])?;
                let name = required(&list, TAG_NAME)?;
                check_name(name)?;
                let key_tlv = required(&list, TAG_KEY)?;
                let (&type_alg, rest) = key_tlv.split_first().ok_or(Status::WrongData)?;
                let (&digits, key) = rest.split_first().ok_or(Status::WrongData)?;
                let (kind, algorithm) = parse_type_byte(type_alg).ok_or(Status::WrongData)?;
                if !(6..=8).contains(&digits) || key.is_empty() || key.len() > MAX_KEY_LEN {
                    return Err(Status::WrongData);
                }
                let props =
                    single(&list, TAG_PROPERTY)?.map_or(0, |v| v.first().copied().unwrap_or(0));
                if props & !(PROP_INCREASING | PROP_TOUCH) != 0 {
                    return Err(Status::WrongData);
                }
                let imf = match single(&list, TAG_IMF)? {
                    // A TOTP credential has no moving factor to initialise.
                    _ if kind == OathType::Totp => 0,
                    None => 0,
                    Some(v) => {
                        u32::from_be_bytes(<[u8; 4]>::try_from(v).map_err(|_| Status::WrongData)?)
                    }
                };
                Ok(Request::Put(NewCredential {
                    name: name.to_vec(),
                    kind,
                    algorithm,
                    digits,
                    key: Zeroizing::new(key.to_vec()),
                    touch: props & PROP_TOUCH != 0,
                    increasing: props & PROP_INCREASING != 0,
                    imf,
                }))
            }
            INS_DELETE => {
                no_params()?;
                let list = tlv::parse(&cmd.data, &[]).map_err(|_| Status::WrongData)?;
                only(&list, &[TAG_NAME])?;
                let name = required(&list, TAG_NAME)?;
                check_name(name)?;
                Ok(Request::Delete {
                    name: name.to_vec(),
                })
            }
            INS_SET_CODE => {
                no_params()?;
                let list = tlv::parse(&cmd.data, &[]).map_err(|_| Status::WrongData)?;
                only(&list, &[TAG_KEY, TAG_CHALLENGE, TAG_RESPONSE])?;
                let key_tlv = required(&list, TAG_KEY)?;
                if key_tlv.is_empty() {
                    if list.len() != 1 {
                        return Err(Status::WrongData);
                    }
                    return Ok(Request::SetCode(None));
                }
                let (&type_alg, key) = key_tlv.split_first().ok_or(Status::WrongData)?;
                let algorithm = parse_algorithm(type_alg & 0x0F).ok_or(Status::WrongData)?;
                if key.is_empty() || key.len() > MAX_KEY_LEN {
                    return Err(Status::WrongData);
                }
                let challenge = required(&list, TAG_CHALLENGE)?;
                let response = required(&list, TAG_RESPONSE)?;
                if challenge.is_empty() || response.is_empty() {
                    return Err(Status::WrongData);
                }
                Ok(Request::SetCode(Some(AccessKey {
                    algorithm,
                    key: Zeroizing::new(key.to_vec()),
                    challenge: challenge.to_vec(),
                    response: response.to_vec(),
                })))
            }
            INS_RESET => {
                if p1p2 != (0xDE, 0xAD) {
                    return Err(Status::WrongP1P2);
                }
                Ok(Request::Reset)
            }
            INS_RENAME => {
                no_params()?;
                let list = tlv::parse(&cmd.data, &[]).map_err(|_| Status::WrongData)?;
                match list.as_slice() {
                    [a, b] if a.tag == TAG_NAME && b.tag == TAG_NAME => {
                        check_name(a.value)?;
                        check_name(b.value)?;
                        Ok(Request::Rename {
                            from: a.value.to_vec(),
                            to: b.value.to_vec(),
                        })
                    }
                    _ => Err(Status::WrongData),
                }
            }
            INS_LIST => {
                no_params()?;
                // Nitrokey's extended LIST sends a data byte; YKOATH has none.
                if !cmd.data.is_empty() {
                    return Err(Status::WrongData);
                }
                Ok(Request::List)
            }
            INS_CALCULATE => {
                let truncate = match p1p2 {
                    (0, 0) => false,
                    (0, 1) => true,
                    _ => return Err(Status::WrongP1P2),
                };
                let list = tlv::parse(&cmd.data, &[]).map_err(|_| Status::WrongData)?;
                only(&list, &[TAG_NAME, TAG_CHALLENGE])?;
                let name = required(&list, TAG_NAME)?;
                check_name(name)?;
                let challenge = required(&list, TAG_CHALLENGE)?;
                if challenge.len() > 64 {
                    return Err(Status::WrongData);
                }
                Ok(Request::Calculate {
                    name: name.to_vec(),
                    challenge: challenge.to_vec(),
                    truncate,
                })
            }
            INS_VALIDATE => {
                no_params()?;
                let list = tlv::parse(&cmd.data, &[]).map_err(|_| Status::WrongData)?;
                only(&list, &[TAG_RESPONSE, TAG_CHALLENGE])?;
                let response = required(&list, TAG_RESPONSE)?;
                let challenge = required(&list, TAG_CHALLENGE)?;
                if response.is_empty() || challenge.is_empty() || challenge.len() > 64 {
                    return Err(Status::WrongData);
                }
                Ok(Request::Validate {
                    response: response.to_vec(),
                    challenge: challenge.to_vec(),
                })
            }
            INS_CALCULATE_ALL => {
                // P1 = 04 is SELECT, handled before the applet sees the command.
                let truncate = match p1p2 {
                    (0, 0) => false,
                    (0, 1) => true,
                    _ => return Err(Status::WrongP1P2),
                };
                let list = tlv::parse(&cmd.data, &[]).map_err(|_| Status::WrongData)?;
                only(&list, &[TAG_CHALLENGE])?;
                let challenge = required(&list, TAG_CHALLENGE)?;
                if challenge.len() > 64 {
                    return Err(Status::WrongData);
                }
                Ok(Request::CalculateAll {
                    challenge: challenge.to_vec(),
                    truncate,
                })
            }
            INS_SEND_REMAINING => {
                no_params()?;
                Ok(Request::SendRemaining)
            }
            _ => Err(Status::InsNotSupported),
        }
    }

    /// Builds the APDU exactly as yubikit does, with secret bytes marked for
    /// log masking.
    pub fn to_command(&self) -> Command {
        let mut data = Vec::new();
        let (ins, p1, p2, secret) = match self {
            Request::Put(c) => {
                tlv::push(&mut data, TAG_NAME, &c.name);
                let start = data.len() + tlv::header_len(c.key.len() + 2) + 2;
                let mut key_tlv = Zeroizing::new(Vec::with_capacity(c.key.len() + 2));
                key_tlv.push(type_byte(c.kind, c.algorithm));
                key_tlv.push(c.digits);
                key_tlv.extend_from_slice(&c.key);
                tlv::push(&mut data, TAG_KEY, &key_tlv);
                let secret = start..data.len();
                let props = if c.touch { PROP_TOUCH } else { 0 }
                    | if c.increasing { PROP_INCREASING } else { 0 };
                if props != 0 {
                    data.extend_from_slice(&[TAG_PROPERTY, props]);
                }
                if c.imf > 0 && c.kind == OathType::Hotp {
                    tlv::push(&mut data, TAG_IMF, &c.imf.to_be_bytes());
                }
                (INS_PUT, 0, 0, Some(secret))
            }
            Request::Delete { name } => {
                tlv::push(&mut data, TAG_NAME, name);
                (INS_DELETE, 0, 0, None)
            }
            Request::SetCode(None) => {
                tlv::push(&mut data, TAG_KEY, &[]);
                (INS_SET_CODE, 0, 0, None)
            }
            Request::SetCode(Some(k)) => {
                let mut key_tlv = Zeroizing::new(Vec::with_capacity(k.key.len() + 1));
                key_tlv.push(type_byte(OathType::Totp, k.algorithm));
                key_tlv.extend_from_slice(&k.key);
                tlv::push(&mut data, TAG_KEY, &key_tlv);
                tlv::push(&mut data, TAG_CHALLENGE, &k.challenge);
                tlv::push(&mut data, TAG_RESPONSE, &k.response);
                // The response is a MAC under the key: offline brute-force material.
                (INS_SET_CODE, 0, 0, Some(0..data.len()))
            }
            Request::Reset => (INS_RESET, 0xDE, 0xAD, None),
            Request::Rename { from, to } => {
                tlv::push(&mut data, TAG_NAME, from);
                tlv::push(&mut data, TAG_NAME, to);
                (INS_RENAME, 0, 0, None)
            }
            Request::List => (INS_LIST, 0, 0, None),
            Request::Calculate {
                name,
                challenge,
                truncate,
            } => {
                tlv::push(&mut data, TAG_NAME, name);
                tlv::push(&mut data, TAG_CHALLENGE, challenge);
                (INS_CALCULATE, 0, u8::from(*truncate), None)
            }
            Request::Validate {
                response,
                challenge,
            } => {
                tlv::push(&mut data, TAG_RESPONSE, response);
                tlv::push(&mut data, TAG_CHALLENGE, challenge);
                (INS_VALIDATE, 0, 0, Some(0..data.len()))
            }
            Request::CalculateAll {
                challenge,
                truncate,
            } => {
                tlv::push(&mut data, TAG_CHALLENGE, challenge);
                (INS_CALCULATE_ALL, 0, u8::from(*truncate), None)
            }
            Request::SendRemaining => (INS_SEND_REMAINING, 0, 0, None),
        };
        let cmd = Command::new(0x00, ins, p1, p2, data);
        match secret {
            Some(range) => cmd.with_secret(range),
            None => cmd,
        }
    }
}

/// Host-side key preprocessing (yubikit `_hmac_shorten_key` + padding): hash keys
/// longer than the block size, then right-pad with zeros to 14 bytes.
pub fn prepare_key(algorithm: Algorithm, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    use sha1::Digest as _;
    let block = match algorithm {
        Algorithm::Sha1 | Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    };
    let mut key = if secret.len() > block {
        Zeroizing::new(match algorithm {
            Algorithm::Sha1 => sha1::Sha1::digest(secret).to_vec(),
            Algorithm::Sha256 => sha2::Sha256::digest(secret).to_vec(),
            Algorithm::Sha512 => sha2::Sha512::digest(secret).to_vec(),
        })
    } else {
        Zeroizing::new(secret.to_vec())
    };
    if key.len() < MIN_KEY_LEN {
        key.resize(MIN_KEY_LEN, 0);
    }
    key
}

/// The SELECT answer of the OATH applet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectInfo {
    pub version: [u8; 3],
    /// Tag 71: the salt / device name (8 bytes on YubiKeys).
    pub salt: Vec<u8>,
    /// Tag 74: present only while an access code is set.
    pub challenge: Option<Vec<u8>>,
    /// Tag 7B: algorithm of the access key, when set.
    pub algorithm: Option<u8>,
    /// Nitrokey tag 82: PIN retries left.
    pub pin_retries: Option<u8>,
    /// Nitrokey tag 8F: serial.
    pub serial: Option<u32>,
}

impl SelectInfo {
    pub fn parse(data: &[u8]) -> Result<SelectInfo, OathError> {
        let list = tlv::parse(data, &[]).map_err(|_| OathError::BadTlv)?;
        let get = |tag| list.iter().find(|t| t.tag == tag).map(|t| t.value);
        let version = get(TAG_VERSION).ok_or(OathError::MissingTag(TAG_VERSION))?;
        let version =
            <[u8; 3]>::try_from(version).map_err(|_| OathError::Malformed { what: "version" })?;
        Ok(SelectInfo {
            version,
            salt: get(TAG_NAME).map(<[u8]>::to_vec).unwrap_or_default(),
            challenge: get(TAG_CHALLENGE).map(<[u8]>::to_vec),
            algorithm: get(TAG_ALGORITHM).and_then(|v| v.first().copied()),
            pin_retries: get(0x82).and_then(|v| v.first().copied()),
            serial: get(0x8F)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_be_bytes),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        tlv::push(&mut out, TAG_VERSION, &self.version);
        tlv::push(&mut out, TAG_NAME, &self.salt);
        if let Some(challenge) = &self.challenge {
            tlv::push(&mut out, TAG_CHALLENGE, challenge);
        }
        if let Some(alg) = self.algorithm {
            tlv::push(&mut out, TAG_ALGORITHM, &[alg]);
        }
        out
    }
}

/// One LIST entry: `72 (1+n) [type|alg] name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub kind: OathType,
    pub algorithm: Algorithm,
    pub name: Vec<u8>,
}

pub fn encode_list(entries: &[ListEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut v = Vec::with_capacity(e.name.len() + 1);
        v.push(type_byte(e.kind, e.algorithm));
        v.extend_from_slice(&e.name);
        tlv::push(&mut out, TAG_NAME_LIST, &v);
    }
    out
}

pub fn parse_list(data: &[u8]) -> Result<Vec<ListEntry>, OathError> {
    let list = tlv::parse(data, &[]).map_err(|_| OathError::BadTlv)?;
    list.iter()
        .map(|t| {
            if t.tag != TAG_NAME_LIST {
                return Err(OathError::MissingTag(TAG_NAME_LIST));
            }
            let (&b, name) = t
                .value
                .split_first()
                .ok_or(OathError::Malformed { what: "list entry" })?;
            let (kind, algorithm) = parse_type_byte(b).ok_or(OathError::BadTypeByte(b))?;
            Ok(ListEntry {
                kind,
                algorithm,
                name: name.to_vec(),
            })
        })
        .collect()
}

/// One code answer, from CALCULATE or one entry of CALCULATE ALL.
#[derive(Clone, PartialEq, Eq)]
pub enum CodeResponse {
    /// `75`: digits and the whole HMAC.
    Full { digits: u8, mac: Zeroizing<Vec<u8>> },
    /// `76`: digits and the 31-bit truncated value.
    Truncated { digits: u8, value: u32 },
    /// `77` (CALCULATE ALL): an HOTP credential, not calculated.
    Hotp { digits: u8 },
    /// `7C` (CALCULATE ALL): a touch credential, not calculated.
    Touch { digits: u8 },
}

impl fmt::Debug for CodeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeResponse::Full { digits, .. } => write!(f, "Full {{ digits: {digits}, .. }}"),
            CodeResponse::Truncated { digits, .. } => {
                write!(f, "Truncated {{ digits: {digits}, .. }}")
            }
            CodeResponse::Hotp { digits } => write!(f, "Hotp {{ digits: {digits} }}"),
            CodeResponse::Touch { digits } => write!(f, "Touch {{ digits: {digits} }}"),
        }
    }
}

impl CodeResponse {
    fn push(&self, out: &mut Vec<u8>) {
        match self {
            CodeResponse::Full { digits, mac } => {
                let mut v = Zeroizing::new(Vec::with_capacity(mac.len() + 1));
                v.push(*digits);
                v.extend_from_slice(mac);
                tlv::push(out, TAG_RESPONSE, &v);
            }
            CodeResponse::Truncated { digits, value } => {
                let mut v = vec![*digits];
                v.extend_from_slice(&value.to_be_bytes());
                tlv::push(out, TAG_TRUNCATED, &v);
            }
            CodeResponse::Hotp { digits } => tlv::push(out, TAG_HOTP, &[*digits]),
            CodeResponse::Touch { digits } => tlv::push(out, TAG_TOUCH, &[*digits]),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.push(&mut out);
        out
    }

    fn from_tlv(t: &tlv::Tlv<'_>) -> Result<CodeResponse, OathError> {
        let bad = OathError::Malformed { what: "code" };
        let (&digits, rest) = t.value.split_first().ok_or(bad.clone())?;
        match t.tag {
            TAG_RESPONSE => Ok(CodeResponse::Full {
                digits,
                mac: Zeroizing::new(rest.to_vec()),
            }),
            TAG_TRUNCATED => {
                let v = <[u8; 4]>::try_from(rest).map_err(|_| bad)?;
                Ok(CodeResponse::Truncated {
                    digits,
                    value: u32::from_be_bytes(v) & 0x7FFF_FFFF,
                })
            }
            TAG_HOTP => Ok(CodeResponse::Hotp { digits }),
            TAG_TOUCH => Ok(CodeResponse::Touch { digits }),
            other => Err(OathError::MissingTag(other)),
        }
    }

    /// Parses a CALCULATE answer.
    pub fn parse(data: &[u8]) -> Result<CodeResponse, OathError> {
        let list = tlv::parse(data, &[]).map_err(|_| OathError::BadTlv)?;
        match list.as_slice() {
            [t] => CodeResponse::from_tlv(t),
            _ => Err(OathError::Malformed {
                what: "CALCULATE answer",
            }),
        }
    }

    /// The code string for a truncated answer, as ykman prints it.
    pub fn code(&self) -> Option<String> {
        match self {
            CodeResponse::Truncated { digits, value } => {
                let d = u32::from((*digits).clamp(6, 8));
                Some(format!(
                    "{:0width$}",
                    value % 10u32.pow(d),
                    width = d as usize
                ))
            }
            _ => None,
        }
    }
}

pub fn encode_calculate_all(entries: &[(Vec<u8>, CodeResponse)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, code) in entries {
        tlv::push(&mut out, TAG_NAME, name);
        code.push(&mut out);
    }
    out
}

pub fn parse_calculate_all(data: &[u8]) -> Result<Vec<(Vec<u8>, CodeResponse)>, OathError> {
    let list = tlv::parse(data, &[]).map_err(|_| OathError::BadTlv)?;
    list.chunks(2)
        .map(|pair| match pair {
            [n, c] if n.tag == TAG_NAME => Ok((n.value.to_vec(), CodeResponse::from_tlv(c)?)),
            _ => Err(OathError::Malformed {
                what: "CALCULATE ALL answer",
            }),
        })
        .collect()
}

/// The VALIDATE answer: `75 L hmac(key, host challenge)`.
pub fn parse_validate(data: &[u8]) -> Result<Vec<u8>, OathError> {
    let list = tlv::parse(data, &[]).map_err(|_| OathError::BadTlv)?;
    match list.as_slice() {
        [t] if t.tag == TAG_RESPONSE => Ok(t.value.to_vec()),
        _ => Err(OathError::MissingTag(TAG_RESPONSE)),
    }
}

/// The credential id: `[period/][issuer:]name`, the period only when not 30.
pub fn credential_id(kind: OathType, period: u32, issuer: Option<&str>, name: &str) -> Vec<u8> {
    let mut id = String::new();
    if kind == OathType::Totp && period != 30 {
        id.push_str(&format!("{period}/"));
    }
    if let Some(issuer) = issuer {
        id.push_str(issuer);
        id.push(':');
    }
    id.push_str(name);
    id.into_bytes()
}

/// TOTP challenge: the 8-byte big-endian time step.
pub fn totp_challenge(unix_time: u64, period: u32) -> [u8; 8] {
    (unix_time / u64::from(period.max(1))).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put() -> Request {
        Request::Put(NewCredential {
            name: b"Iss:alice".to_vec(),
            kind: OathType::Hotp,
            algorithm: Algorithm::Sha256,
            digits: 8,
            key: Zeroizing::new(vec![0x11; 20]),
            touch: true,
            increasing: false,
            imf: 5,
        })
    }

    #[test]
    fn every_request_round_trips() {
        let requests = vec![
            put(),
            Request::Delete {
                name: b"a".to_vec(),
            },
            Request::SetCode(None),
            Request::SetCode(Some(AccessKey {
                algorithm: Algorithm::Sha1,
                key: Zeroizing::new(vec![1; 16]),
                challenge: vec![2; 8],
                response: vec![3; 20],
            })),
            Request::Reset,
            Request::Rename {
                from: b"a".to_vec(),
                to: b"b".to_vec(),
            },
            Request::List,
            Request::Calculate {
                name: b"a".to_vec(),
                challenge: vec![],
                truncate: true,
            },
            Request::Calculate {
                name: b"a".to_vec(),
                challenge: vec![0; 8],
                truncate: false,
            },
            Request::Validate {
                response: vec![1; 20],
                challenge: vec![2; 8],
            },
            Request::CalculateAll {
                challenge: vec![0; 8],
                truncate: true,
            },
            Request::SendRemaining,
        ];
        for r in requests {
            let cmd = r.to_command();
            for bytes in cmd.encode() {
                let parsed = Command::parse(&bytes).unwrap();
                assert_eq!(Request::parse(&parsed), Ok(r.clone()), "{r:?}");
            }
        }
    }

    #[test]
    fn put_masks_only_the_key() {
        let cmd = put().to_command();
        let shown = cmd.redacted_hex();
        assert!(shown.starts_with("00 01 00 00 2B 71 09"), "{shown}");
        assert!(!shown.contains("11"), "{shown}");
        assert!(shown.contains("73 16 12 08 ** **"), "{shown}");
        assert!(shown.ends_with("78 02 7A 04 00 00 00 05"), "{shown}");
    }

    #[test]
    fn debug_hides_keys_and_authenticators() {
        let shown = format!("{:?}", put());
        assert!(!shown.contains("17") && !shown.contains("0x11"), "{shown}");
        assert!(shown.contains("Iss:alice"), "{shown}");
        let v = Request::Validate {
            response: vec![0xAB; 20],
            challenge: vec![1; 8],
        };
        assert_eq!(format!("{v:?}"), "Validate([redacted])");
        let k = Request::SetCode(Some(AccessKey {
            algorithm: Algorithm::Sha1,
            key: Zeroizing::new(vec![0xCD; 16]),
            challenge: vec![2; 8],
            response: vec![0xEF; 20],
        }));
        let shown = format!("{k:?}");
        assert!(!shown.contains("205") && !shown.contains("239"), "{shown}");
    }

    #[test]
    fn key_preprocessing_like_yubikit() {
        assert_eq!(prepare_key(Algorithm::Sha1, &[1; 10]).len(), 14);
        assert_eq!(prepare_key(Algorithm::Sha1, &[1; 64]).len(), 64);
        assert_eq!(prepare_key(Algorithm::Sha1, &[1; 65]).len(), 20);
        assert_eq!(prepare_key(Algorithm::Sha512, &[1; 100]).len(), 100);
    }

    #[test]
    fn credential_ids() {
        assert_eq!(
            credential_id(OathType::Totp, 60, Some("Iss"), "slow"),
            b"60/Iss:slow"
        );
        assert_eq!(credential_id(OathType::Totp, 30, None, "a"), b"a");
        assert_eq!(credential_id(OathType::Hotp, 60, Some("I"), "a"), b"I:a");
    }

    #[test]
    fn truncated_code_text() {
        let c = CodeResponse::Truncated {
            digits: 6,
            value: 0x4c93cf18,
        };
        assert_eq!(c.code().as_deref(), Some("755224"));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(cmd) = Command::parse(&bytes) {
                let _ = Request::parse(&cmd);
            }
            let _ = SelectInfo::parse(&bytes);
            let _ = parse_list(&bytes);
            let _ = CodeResponse::parse(&bytes);
            let _ = parse_calculate_all(&bytes);
            let _ = parse_validate(&bytes);
            let _ = tlv::parse(&bytes, &[tlv::RAW_BYTE_TAG]);
        }

        #[test]
        fn any_ykoath_frame_parses_or_is_rejected(ins in proptest::sample::select(vec![1u8, 2, 3, 4, 5, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5]),
                                                  p1 in 0u8..2, p2 in 0u8..2,
                                                  data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..255)) {
            let cmd = Command::new(0, ins, p1, p2, data);
            if let Ok(req) = Request::parse(&cmd) {
                // Whatever parses re-encodes to a command that parses the same.
                let again = req.to_command();
                proptest::prop_assert_eq!(Request::parse(&again), Ok(req));
            }
        }
    }
}
