//! YKOATH answers: SELECT, LIST, CALCULATE (ALL) and VALIDATE, encoded by the
//! virtual token and parsed by the host driver.

use super::*;

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
        // A Nitrokey 3 with a PIN set sends no salt.
        if !self.salt.is_empty() {
            tlv::push(&mut out, TAG_NAME, &self.salt);
        }
        if let Some(challenge) = &self.challenge {
            tlv::push(&mut out, TAG_CHALLENGE, challenge);
        }
        if let Some(alg) = self.algorithm {
            tlv::push(&mut out, TAG_ALGORITHM, &[alg]);
        }
        if let Some(retries) = self.pin_retries {
            tlv::push(&mut out, 0x82, &[retries]);
        }
        if let Some(serial) = self.serial {
            tlv::push(&mut out, 0x8F, &serial.to_be_bytes());
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
