//! YKOATH requests: every instruction after SELECT, typed, built by the host
//! driver and parsed by the virtual token.

use super::*;

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

/// SELECT by AID: `00 A4 04 00 Lc AID 00`. yubikit sends no Le, which a
/// YubiKey tolerates but a Nitrokey 3 answers with `61xx` and no data.
pub fn select_command(aid: &[u8]) -> Command {
    Command::new(0x00, INS_SELECT, 0x04, 0x00, aid.to_vec()).expecting_data()
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

/// The TLVs of a command's data, each tag one of `allowed`.
fn tlvs_of<'a>(data: &'a [u8], allowed: &[u8]) -> Result<Vec<tlv::Tlv<'a>>, Status> {
    let list = tlv::parse(data, &[]).map_err(|_| Status::WrongData)?;
    only(&list, allowed)?;
    Ok(list)
}

/// P1 P2 of CALCULATE and CALCULATE ALL: whether the answer is truncated.
fn truncation(p1p2: (u8, u8)) -> Result<bool, Status> {
    match p1p2 {
        (0, 0) => Ok(false),
        (0, 1) => Ok(true),
        _ => Err(Status::WrongP1P2),
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
                let list = tlvs_of(&cmd.data, &[TAG_NAME])?;
                let name = required(&list, TAG_NAME)?;
                check_name(name)?;
                Ok(Request::Delete {
                    name: name.to_vec(),
                })
            }
            INS_SET_CODE => {
                no_params()?;
                let list = tlvs_of(&cmd.data, &[TAG_KEY, TAG_CHALLENGE, TAG_RESPONSE])?;
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
                let truncate = truncation(p1p2)?;
                let list = tlvs_of(&cmd.data, &[TAG_NAME, TAG_CHALLENGE])?;
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
                let list = tlvs_of(&cmd.data, &[TAG_RESPONSE, TAG_CHALLENGE])?;
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
                let truncate = truncation(p1p2)?;
                let list = tlvs_of(&cmd.data, &[TAG_CHALLENGE])?;
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
        let mut cmd = Command::new(0x00, ins, p1, p2, data);
        // Commands that answer data say so with Le (a Nitrokey 3 otherwise
        // keeps the answer for GET RESPONSE).
        if matches!(
            self,
            Request::List
                | Request::Calculate { .. }
                | Request::CalculateAll { .. }
                | Request::Validate { .. }
                | Request::SendRemaining
        ) {
            cmd = cmd.expecting_data();
        }
        match secret {
            Some(range) => cmd.with_secret(range),
            None => cmd,
        }
    }
}
