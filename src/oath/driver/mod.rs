//! Host driver for OATH tokens over PC/SC.
//!
//! - [`Transport`] / [`Link`]: the seam. A transport hands out one exclusive
//!   link per operation (a PC/SC transaction); every multi-APDU operation below
//!   runs inside exactly one.
//! - [`pcsc`]: the PC/SC implementation on the `pcsc` crate.
//! - [`watch`]: the reader watcher (insertion/removal at every reader).
//! - [`Token`]: the operations: identify, list, write (with read-back), calculate,
//!   delete, wipe; its device PIN in `pin`. Every answer is read in the
//!   dialect of the token's firmware profile.
//!
//! Every APDU is traced at `trace` level (target `keyward::apdu`) with the secret
//! fields (PUT key, SET CODE, PIN data) masked.

pub mod pcsc;
mod pin;
pub mod watch;

use std::fmt;

use zeroize::Zeroizing;

use crate::apdu::{ApduError, Command, Exchange, Response, Status, Step};
use crate::oath::codec::{
    self, CodeResponse, ListEntry, NewCredential, OathError, OathType, Request, SelectInfo,
};
use crate::otp::{code_at, Algorithm, Code, CredentialKey, Digits, Period, Secret};
use crate::profile::Dialect;
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
    #[error("{operation}: nobody pressed the token's button in time")]
    TouchTimeout { operation: &'static str },
    #[error("the credential {name} on the token is corrupted; delete it and write it again")]
    CorruptCredential { name: String },
    #[error(
        "another program holds the token (for example GnuPG's scdaemon: `gpgconf --kill scdaemon`)"
    )]
    HeldByAnotherProgram,
    #[error("{operation}: this firmware needs the device PIN verified before each command")]
    PinBeforeEachCommand { operation: &'static str },
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

/// What an instruction was, for reading its status word in the token's
/// dialect (the same word means different things to different families).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// LIST, SELECT and the other reads.
    Read,
    Put,
    Calculate,
    /// DELETE and RESET (a Nitrokey 3 waits for its button).
    Change,
    /// A device PIN instruction.
    Pin,
}

impl TokenError {
    /// The typed error for `status` answered to `op` by a token speaking
    /// `dialect`; `name` is the credential concerned, if any.
    fn from_status(
        dialect: &Dialect,
        op: Op,
        operation: &'static str,
        status: Status,
        name: &[u8],
    ) -> TokenError {
        let name = || String::from_utf8_lossy(name).into_owned();
        let touch = dialect.touch_confirms_changes && matches!(op, Op::Change | Op::Pin);
        match status {
            Status::SecurityNotSatisfied if touch => TokenError::TouchTimeout { operation },
            Status::SecurityNotSatisfied if op == Op::Pin => {
                TokenError::Status { operation, status }
            }
            Status::SecurityNotSatisfied => TokenError::Locked,
            s if s == dialect.missing_credential.0 && matches!(op, Op::Calculate | Op::Change) => {
                TokenError::NoSuchCredential { name: name() }
            }
            // 6983 to PUT (a Nitrokey 3) is "that name exists"; elsewhere
            // the device PIN is blocked (a blocked virtual token gives no
            // codes either).
            Status::AuthBlocked if op == Op::Put => TokenError::AlreadyExists { name: name() },
            Status::WrongPin { tries_left: 0 } | Status::AuthBlocked => TokenError::PinBlocked,
            Status::WrongPin { tries_left } => TokenError::WrongPin { tries_left },
            Status::Other(0x6581) if op == Op::Calculate => {
                TokenError::CorruptCredential { name: name() }
            }
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
    /// yubikit's device id: base64(SHA-256(salt)\[:16\]) without padding;
    /// empty when the SELECT answer has no salt (a Nitrokey 3 with a PIN).
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
    dialect: Dialect,
}

impl Session<'_> {
    fn send(&mut self, cmd: &Command, operation: &'static str) -> Result<Response, TokenError> {
        let secret = cmd.secret.is_some();
        tracing::trace!(target: "keyward::apdu", reader = %self.reader, "{operation} >> {}", cmd.redacted_hex());
        let mut exchange = Exchange::new(cmd, self.dialect.continuation);
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

    /// Sends `cmd`; anything but 9000 becomes the typed error of the
    /// token's dialect for `op` (on the credential `name`, if any).
    fn ok_as(
        &mut self,
        cmd: &Command,
        op: Op,
        operation: &'static str,
        name: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let r = self.send(cmd, operation)?;
        if r.status.is_ok() {
            Ok(r.data)
        } else {
            Err(TokenError::from_status(
                &self.dialect,
                op,
                operation,
                r.status,
                name,
            ))
        }
    }

    fn select_oath(&mut self) -> Result<SelectInfo, TokenError> {
        let cmd = codec::select_command(&codec::OATH_AID);
        let data = self.ok_as(&cmd, Op::Read, "select OATH", &[])?;
        Ok(SelectInfo::parse(&data)?)
    }

    fn request(
        &mut self,
        request: &Request,
        operation: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let (op, name): (Op, &[u8]) = match request {
            Request::Put(c) => (Op::Put, &c.name),
            Request::Calculate { name, .. } => (Op::Calculate, name),
            Request::Delete { name } => (Op::Change, name),
            Request::Reset => (Op::Change, &[]),
            _ => (Op::Read, &[]),
        };
        self.ok_as(&request.to_command(), op, operation, name)
    }

    /// PIN commands: 63Cx, 6300 and 6983 become typed PIN errors; 6982 is a
    /// touch timeout where the token asks for its button, else (the
    /// reference is already set, not an OATH lock) it stays a status.
    fn pin(&mut self, cmd: &Command, operation: &'static str) -> Result<(), TokenError> {
        self.ok_as(cmd, Op::Pin, operation, &[]).map(|_| ())
    }
}

/// A token behind a transport.
#[derive(Debug)]
pub struct Token<T> {
    transport: T,
    dialect: Dialect,
    pin_commands: PinCommands,
}

impl<T: Transport> Token<T> {
    /// A token spoken to as a YubiKey until [`Self::with_dialect`] says
    /// otherwise ([`Self::identify`] finds the dialect itself).
    pub fn new(transport: T) -> Self {
        Token {
            transport,
            dialect: Dialect::default(),
            pin_commands: PinCommands::Iso7816,
        }
    }

    /// Speaks the dialect of the token's firmware profile, and drives its
    /// device PIN (if any) through the profile's own instructions.
    pub fn with_profile(mut self, profile: &Profile) -> Self {
        self.dialect = profile.dialect;
        if let Some(pin) = profile.device_pin() {
            self.pin_commands = pin.commands;
        }
        self
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
            dialect: self.dialect,
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
        let profile = crate::profile::identify(profiles, &s.reader, &info);
        if let Some(p) = profile {
            // Everything after SELECT in the family's own dialect.
            s.dialect = p.dialect;
        }
        let locked = info.challenge.is_some();
        let credentials = if locked || pin_first(profile, &info) {
            None
        } else {
            Some(codec::parse_list(&s.request(&Request::List, "list")?)?.len())
        };
        let free_slots = match (profile, credentials) {
            (Some(p), Some(n)) => Some(
                p.credential_slots(info.version)
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
            device_id: if info.salt.is_empty() {
                String::new()
            } else {
                device_id(&info.salt)
            },
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
        let request = Request::Calculate {
            name: id.to_vec(),
            challenge,
            truncate: true,
        };
        let data = s.request(&request, "calculate")?;
        CodeResponse::parse(&data)?
            .code()
            .ok_or(TokenError::Oath(OathError::Malformed { what: "code" }))
    }

    /// Removes one credential.
    pub fn delete(&mut self, id: &[u8]) -> Result<(), TokenError> {
        let mut s = self.session()?;
        s.select_oath()?;
        s.request(&Request::Delete { name: id.to_vec() }, "delete")?;
        Ok(())
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
}

/// Whether this token, by its profile's dialect, answers nothing but SELECT
/// until its device PIN is verified (a Nitrokey 3 on app 4.7 with a PIN set,
/// which SELECT shows with the retries tag).
fn pin_first(profile: Option<&Profile>, info: &SelectInfo) -> bool {
    let below = profile.and_then(|p| p.dialect.pin_before_each_command_below);
    below.is_some_and(|v| crate::profile::Version(info.version) < v) && info.pin_retries.is_some()
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
