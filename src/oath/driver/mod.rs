//! Host driver for OATH tokens over PC/SC.
//!
//! - [`Transport`] / [`Link`]: the seam. A transport hands out one exclusive
//!   link per operation (a PC/SC transaction); every multi-APDU operation below
//!   runs inside exactly one.
//! - [`pcsc`]: the PC/SC implementation on the `pcsc` crate.
//! - [`watch`]: the reader watcher (insertion/removal at every reader).
//! - [`Token`]: the operations: identify, list, write (with read-back), calculate,
//!   delete, wipe, device PIN.
//!
//! Every APDU is traced at `trace` level (target `keyward::apdu`) with the secret
//! fields (PUT key, SET CODE, PIN data) masked.

pub mod pcsc;
pub mod watch;

use std::fmt;

use zeroize::Zeroizing;

use crate::apdu::pin::{PinCommand, PinValue, REF_PIN, REF_PUK};
use crate::apdu::{ApduError, Command, Exchange, Response, Status, Step};
use crate::oath::codec::{
    self, CodeResponse, ListEntry, NewCredential, OathError, OathType, Request, SelectInfo,
};
use crate::otp::{code_at, Algorithm, Code, CredentialKey, Digits, Period, Secret};
use crate::profile::{PinCommands, Profile};

/// Errors of the driver. Status words are kept so a caller can act on them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("PC/SC: {context}: {source}")]
    Pcsc {
        context: &'static str,
        #[source]
        source: ::pcsc::Error,
    },
    #[error("the token was removed or reset during {operation}")]
    Removed { operation: &'static str },
    #[error("no token in reader {reader}")]
    NoCard { reader: String },
    #[error("{operation}: the token answered {status}")]
    Status {
        operation: &'static str,
        status: Status,
    },
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is blocked; the desk must reset it")]
    PinBlocked,
    #[error("the token is locked by an OATH access code")]
    Locked,
    #[error("malformed APDU exchange: {0}")]
    Apdu(#[from] ApduError),
    #[error("malformed YKOATH answer: {0}")]
    Oath(#[from] OathError),
    #[error("read-back failed: the token's code differs from the host's for {name}")]
    ReadBackMismatch { name: String },
    #[error("a credential named {name} is already on the token")]
    AlreadyExists { name: String },
    #[error("no credential named {name} on the token")]
    NoSuchCredential { name: String },
    #[error("profile {profile} has no {what}")]
    Unsupported { profile: String, what: &'static str },
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl TokenError {
    fn status(operation: &'static str, status: Status) -> TokenError {
        match status {
            Status::WrongPin { tries_left: 0 } | Status::AuthBlocked => TokenError::PinBlocked,
            Status::WrongPin { tries_left } => TokenError::WrongPin { tries_left },
            Status::SecurityNotSatisfied => TokenError::Locked,
            status => TokenError::Status { operation, status },
        }
    }
}

/// One exclusive channel to a card: raw APDU bytes in, raw response bytes out.
pub trait Link {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError>;
}

/// A card connection that can open exclusive links.
pub trait Transport {
    /// Starts one exclusive transaction; it ends when the link is dropped.
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError>;
    /// Name of the reader, for logs and profile matching.
    fn reader(&self) -> &str;
}

/// What identify reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub reader: String,
    /// Id of the matching firmware profile, if any.
    pub profile: Option<String>,
    /// Credential slots left (profile capacity minus credentials present).
    pub free_slots: Option<u16>,
    /// From the management applet, when it answers.
    pub serial: Option<u32>,
    /// OATH applet version.
    pub version: [u8; 3],
    /// Management applet's version string, when present.
    pub management: Option<String>,
    /// yubikit's device id: base64(SHA-256(salt)\[:16\]) without padding.
    pub device_id: String,
    /// An OATH access code is set (SELECT carried a challenge).
    pub locked: bool,
    /// Credentials on the token (`None` while locked).
    pub credentials: Option<usize>,
}

/// A credential to write. The secret is the raw shared secret.
#[derive(Debug)]
pub struct CredentialSpec<'a> {
    pub name: &'a str,
    pub issuer: Option<&'a str>,
    pub kind: OathType,
    pub algorithm: Algorithm,
    pub digits: Digits,
    /// TOTP step (seconds); ignored for HOTP.
    pub period: Period,
    /// HOTP initial counter.
    pub counter: u32,
    pub touch: bool,
    pub secret: &'a Secret,
}

impl CredentialSpec<'_> {
    /// The id stored on the token: `[period/][issuer:]name`.
    pub fn id(&self) -> Vec<u8> {
        codec::credential_id(self.kind, self.period.seconds(), self.issuer, self.name)
    }
}

/// The device PIN as the token reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// No PIN on the token (6984 to the status query).
    NotSet,
    /// Verified in this session, or not needed (9000).
    Verified,
    /// Not verified; this many tries left, 0 = blocked (63Cx, 6983).
    TriesLeft(u8),
}

/// What a verified write established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteReceipt {
    /// For HOTP: the counter the token will use next (the read-back used one).
    pub next_counter: Option<u64>,
    /// APDUs exchanged (including 61xx continuations).
    pub apdus: u32,
}

/// A session with one link: sends typed commands through the APDU state
/// machine and traces them.
struct Session<'l> {
    link: Box<dyn Link + 'l>,
    reader: String,
    apdus: u32,
}

impl Session<'_> {
    fn send(&mut self, cmd: &Command, operation: &'static str) -> Result<Response, TokenError> {
        let secret = cmd.secret.is_some();
        tracing::trace!(target: "keyward::apdu", reader = %self.reader, "{operation} >> {}", cmd.redacted_hex());
        let mut exchange = Exchange::new(cmd, codec::INS_SEND_REMAINING);
        let mut step = exchange.start()?;
        loop {
            match step {
                Step::Transmit(bytes) => {
                    self.apdus += 1;
                    let answer = self.link.transmit(&bytes).map_err(|e| match e {
                        TokenError::Removed { .. } => TokenError::Removed { operation },
                        other => other,
                    })?;
                    if secret {
                        let split = answer.len().saturating_sub(2);
                        tracing::trace!(
                            target: "keyward::apdu",
                            "<< [{split} data bytes masked] {}",
                            data_encoding::HEXUPPER.encode(&answer[split..])
                        );
                    } else {
                        tracing::trace!(target: "keyward::apdu", "<< {}", data_encoding::HEXUPPER.encode(&answer));
                    }
                    step = exchange.on_response(&answer)?;
                }
                Step::Done(response) => return Ok(response),
            }
        }
    }

    fn ok(
        &mut self,
        cmd: &Command,
        operation: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let r = self.send(cmd, operation)?;
        if r.status.is_ok() {
            Ok(r.data)
        } else {
            Err(TokenError::status(operation, r.status))
        }
    }

    fn select_oath(&mut self) -> Result<SelectInfo, TokenError> {
        let data = self.ok(&codec::select_command(&codec::OATH_AID), "select OATH")?;
        Ok(SelectInfo::parse(&data)?)
    }

    fn request(
        &mut self,
        request: &Request,
        operation: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        self.ok(&request.to_command(), operation)
    }

    /// PIN commands: 63Cx and 6983 become typed PIN errors; 6982 here means the
    /// reference is already set (not an OATH lock), so it stays a status.
    fn pin(&mut self, cmd: &PinCommand, operation: &'static str) -> Result<(), TokenError> {
        let r = self.send(&cmd.to_command(), operation)?;
        match r.status {
            Status::Ok => Ok(()),
            Status::SecurityNotSatisfied => Err(TokenError::Status {
                operation,
                status: r.status,
            }),
            status => Err(TokenError::status(operation, status)),
        }
    }
}

/// A token behind a transport.
#[derive(Debug)]
pub struct Token<T> {
    transport: T,
}

impl<T: Transport> Token<T> {
    pub fn new(transport: T) -> Self {
        Token { transport }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn session(&mut self) -> Result<Session<'_>, TokenError> {
        let reader = self.transport.reader().to_owned();
        Ok(Session {
            link: self.transport.begin()?,
            reader,
            apdus: 0,
        })
    }

    /// Profile, serial, versions and contents, in one transaction. The profile
    /// is the first of `profiles` matching the reader name and SELECT answer.
    pub fn identify(&mut self, profiles: &[Profile]) -> Result<Identity, TokenError> {
        let mut s = self.session()?;
        let mgmt = s.send(
            &codec::select_command(&codec::MGMT_AID),
            "select management",
        )?;
        let (management, serial) = if mgmt.status.is_ok() {
            let text = String::from_utf8_lossy(&mgmt.data).into_owned();
            let info = s.send(&Command::new(0, 0x1D, 0, 0, vec![]), "device info")?;
            let serial = if info.status.is_ok() {
                parse_device_serial(&info.data)
            } else {
                None
            };
            (Some(text), serial)
        } else {
            (None, None)
        };
        let info = s.select_oath()?;
        let locked = info.challenge.is_some();
        let credentials = if locked {
            None
        } else {
            Some(codec::parse_list(&s.request(&Request::List, "list")?)?.len())
        };
        let profile = crate::profile::identify(profiles, &s.reader, &info);
        let free_slots = match (profile, credentials) {
            (Some(p), Some(n)) => Some(
                p.capabilities
                    .credential_slots
                    .saturating_sub(u16::try_from(n).unwrap_or(u16::MAX)),
            ),
            _ => None,
        };
        Ok(Identity {
            reader: s.reader.clone(),
            profile: profile.map(|p| p.id.clone()),
            free_slots,
            serial: serial.or(info.serial),
            version: info.version,
            management,
            device_id: device_id(&info.salt),
            locked,
            credentials,
        })
    }

    /// The credentials on the token.
    pub fn list(&mut self) -> Result<Vec<ListEntry>, TokenError> {
        let mut s = self.session()?;
        s.select_oath()?;
        Ok(codec::parse_list(&s.request(&Request::List, "list")?)?)
    }

    /// Writes a credential and reads a code back, in one transaction: PUT, then
    /// CALCULATE, compared in constant time with the host's own code. For TOTP
    /// `unix_time` picks the step; HOTP uses the token's counter (the initial
    /// one), so the token's next counter is `counter + 1`. The credential is
    /// checked against `profile` before anything is sent; on a profile whose PUT
    /// does not overwrite, an existing id is refused (never deleted for you).
    pub fn write(
        &mut self,
        profile: &Profile,
        spec: &CredentialSpec<'_>,
        unix_time: u64,
    ) -> Result<WriteReceipt, TokenError> {
        let id = spec.id();
        let max = usize::from(profile.quirks.max_name_len).min(codec::MAX_NAME_LEN);
        if id.is_empty() || id.len() > max {
            return Err(TokenError::Invalid(format!(
                "credential id is {} bytes; {} takes 1 to {max}",
                id.len(),
                profile.id
            )));
        }
        if !profile.supports(spec.algorithm, spec.digits.get()) {
            return Err(TokenError::Unsupported {
                profile: profile.id.clone(),
                what: "this hash with this number of digits",
            });
        }
        if spec.touch && !profile.capabilities.touch {
            return Err(TokenError::Unsupported {
                profile: profile.id.clone(),
                what: "touch-required credentials",
            });
        }
        let overwrites = profile.quirks.put_overwrites;
        let key = codec::prepare_key(spec.algorithm, spec.secret.expose());
        let put = Request::Put(NewCredential {
            name: id.clone(),
            kind: spec.kind,
            algorithm: spec.algorithm,
            digits: spec.digits.get(),
            key,
            touch: spec.touch,
            increasing: false,
            imf: spec.counter,
        });
        let mut s = self.session()?;
        s.select_oath()?;
        if !overwrites {
            let present = codec::parse_list(&s.request(&Request::List, "list")?)?;
            if present.iter().any(|e| e.name == id) {
                return Err(TokenError::AlreadyExists {
                    name: String::from_utf8_lossy(&id).into_owned(),
                });
            }
        }
        s.request(&put, "write credential")?;
        let (challenge, counter) = match spec.kind {
            OathType::Totp => (
                codec::totp_challenge(unix_time, spec.period.seconds()).to_vec(),
                unix_time / u64::from(spec.period.seconds()),
            ),
            OathType::Hotp => (Vec::new(), u64::from(spec.counter)),
        };
        let answer = s.request(
            &Request::Calculate {
                name: id.clone(),
                challenge,
                truncate: true,
            },
            "read back",
        )?;
        let theirs = token_code(&CodeResponse::parse(&answer)?, spec.digits)?;
        let ours = code_at(
            &CredentialKey::new(spec.algorithm, spec.secret),
            counter,
            spec.digits,
        );
        if !bool::from(ours.ct_eq(&theirs)) {
            return Err(TokenError::ReadBackMismatch {
                name: String::from_utf8_lossy(&id).into_owned(),
            });
        }
        Ok(WriteReceipt {
            next_counter: (spec.kind == OathType::Hotp).then(|| counter + 1),
            apdus: s.apdus,
        })
    }

    /// The token's current code for credential `id` (TOTP at `unix_time` with
    /// `period`; HOTP at the token's counter, which then moves on).
    pub fn calculate(
        &mut self,
        id: &[u8],
        kind: OathType,
        period: Period,
        unix_time: u64,
    ) -> Result<String, TokenError> {
        let challenge = match kind {
            OathType::Totp => codec::totp_challenge(unix_time, period.seconds()).to_vec(),
            OathType::Hotp => Vec::new(),
        };
        let mut s = self.session()?;
        s.select_oath()?;
        let r = s.send(
            &Request::Calculate {
                name: id.to_vec(),
                challenge,
                truncate: true,
            }
            .to_command(),
            "calculate",
        )?;
        match r.status {
            Status::Ok => {}
            Status::NoSuchObject => {
                return Err(TokenError::NoSuchCredential {
                    name: String::from_utf8_lossy(id).into_owned(),
                })
            }
            status => return Err(TokenError::status("calculate", status)),
        }
        CodeResponse::parse(&r.data)?
            .code()
            .ok_or(TokenError::Oath(OathError::Malformed { what: "code" }))
    }

    /// Removes one credential.
    pub fn delete(&mut self, id: &[u8]) -> Result<(), TokenError> {
        let mut s = self.session()?;
        s.select_oath()?;
        let r = s.send(
            &Request::Delete { name: id.to_vec() }.to_command(),
            "delete",
        )?;
        match r.status {
            Status::Ok => Ok(()),
            Status::NoSuchObject => Err(TokenError::NoSuchCredential {
                name: String::from_utf8_lossy(id).into_owned(),
            }),
            status => Err(TokenError::status("delete", status)),
        }
    }

    /// Applet reset: every credential and the access code go; on the virtual
    /// token the device PIN too. Checks that the token lists nothing afterwards.
    pub fn wipe(&mut self) -> Result<(), TokenError> {
        let mut s = self.session()?;
        s.select_oath()?;
        s.request(&Request::Reset, "wipe")?;
        s.select_oath()?;
        let left = codec::parse_list(&s.request(&Request::List, "list after wipe")?)?;
        if !left.is_empty() {
            return Err(TokenError::Status {
                operation: "wipe",
                status: Status::ConditionsNotSatisfied,
            });
        }
        Ok(())
    }

    /// State of the device PIN, from an empty VERIFY (ISO 7816-4 status query).
    pub fn pin_state(&mut self) -> Result<PinState, TokenError> {
        let mut s = self.session()?;
        s.select_oath()?;
        let r = s.send(
            &PinCommand::Verify {
                reference: REF_PIN,
                value: None,
            }
            .to_command(),
            "PIN status",
        )?;
        match r.status {
            Status::WrongPin { tries_left } => Ok(PinState::TriesLeft(tries_left)),
            Status::AuthBlocked => Ok(PinState::TriesLeft(0)),
            Status::Ok => Ok(PinState::Verified),
            Status::NoSuchObject => Ok(PinState::NotSet),
            status => Err(TokenError::status("PIN status", status)),
        }
    }

    /// Sets the device PIN and the desk's resetting code on a token that has
    /// neither (after a wipe). Refused unless `profile` has a device PIN with a
    /// hardware retry counter driven by ISO 7816 commands: a holder's PIN never
    /// goes where it could be brute-forced (`docs/devices.md`).
    pub fn set_pin(
        &mut self,
        profile: &Profile,
        pin: &PinValue,
        puk: &PinValue,
    ) -> Result<(), TokenError> {
        match &profile.capabilities.device_pin {
            Some(p) if p.commands == PinCommands::Iso7816 => {}
            _ => {
                return Err(TokenError::Unsupported {
                    profile: profile.id.clone(),
                    what: "an ISO 7816 device PIN with a retry counter",
                })
            }
        }
        let mut s = self.session()?;
        s.select_oath()?;
        s.pin(
            &PinCommand::Change {
                reference: REF_PUK,
                old: None,
                new: puk.clone(),
            },
            "set PUK",
        )?;
        s.pin(
            &PinCommand::Change {
                reference: REF_PIN,
                old: None,
                new: pin.clone(),
            },
            "set PIN",
        )
    }

    pub fn verify_pin(&mut self, pin: &PinValue) -> Result<(), TokenError> {
        self.send_pin(
            &PinCommand::Verify {
                reference: REF_PIN,
                value: Some(pin.clone()),
            },
            "verify PIN",
        )
    }

    pub fn change_pin(&mut self, old: &PinValue, new: &PinValue) -> Result<(), TokenError> {
        self.send_pin(
            &PinCommand::Change {
                reference: REF_PIN,
                old: Some(old.clone()),
                new: new.clone(),
            },
            "change PIN",
        )
    }

    /// The desk's unblock: restores the retry counter, optionally with a new PIN.
    pub fn reset_pin(
        &mut self,
        puk: &PinValue,
        new_pin: Option<&PinValue>,
    ) -> Result<(), TokenError> {
        self.send_pin(
            &PinCommand::ResetRetry {
                puk: puk.clone(),
                new_pin: new_pin.cloned(),
            },
            "reset PIN",
        )
    }

    /// One PIN command to the OATH applet, in its own transaction.
    fn send_pin(
        &mut self,
        command: &PinCommand,
        operation: &'static str,
    ) -> Result<(), TokenError> {
        let mut s = self.session()?;
        s.select_oath()?;
        s.pin(command, operation)
    }
}

/// Turns the token's truncated answer into a code.
fn token_code(answer: &CodeResponse, digits: Digits) -> Result<Code, TokenError> {
    let text = answer
        .code()
        .ok_or(TokenError::Oath(OathError::Malformed { what: "code" }))?;
    Code::parse(&text, digits).map_err(|_| TokenError::Oath(OathError::Malformed { what: "code" }))
}

/// Serial (tag 02) from a GET DEVICE INFO answer (`L` then TLVs).
fn parse_device_serial(data: &[u8]) -> Option<u32> {
    let (&len, tlvs) = data.split_first()?;
    if usize::from(len) != tlvs.len() {
        return None;
    }
    let list = codec::tlv::parse(tlvs, &[]).ok()?;
    let v = list.iter().find(|t| t.tag == 0x02)?.value;
    <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes)
}

/// yubikit's device id: base64(SHA-256(salt)\[:16\]) without padding.
pub fn device_id(salt: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(salt);
    data_encoding::BASE64_NOPAD.encode(&digest[..16])
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.version;
        write!(f, "{}: OATH {a}.{b}.{c}", self.reader)?;
        if let Some(p) = &self.profile {
            write!(f, ", profile {p}")?;
        }
        if let Some(serial) = self.serial {
            write!(f, ", serial {serial}")?;
        }
        match self.credentials {
            Some(n) => write!(f, ", {n} credentials"),
            None => write!(f, ", locked"),
        }
    }
}
