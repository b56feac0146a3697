//! ISO 7816-4 APDUs, sans I/O: command and response types, typed status words,
//! command chaining (CLA bit 0x10) and the `61xx` "more data" loop as a pure state
//! machine. The host driver feeds it the card's answers; the virtual token uses
//! [`Command::parse`] and [`ResponseChunker`] for the card side.

pub mod pin;

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use zeroize::Zeroizing;

/// Longest data field of a short APDU.
pub const SHORT_MAX: usize = 255;

/// Upper bound on a reassembled response, so a card that never stops answering
/// `61xx` cannot make the host buffer grow without limit.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// CLA bit announcing that more chunks of the same command follow.
pub const CLA_CHAINING: u8 = 0x10;

/// A status word, typed where keyward acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// 9000
    Ok,
    /// 61xx: `n` more bytes are waiting (0 means 256 or more).
    MoreData(u8),
    /// 63Cx: wrong PIN, `tries_left` attempts remain.
    WrongPin { tries_left: u8 },
    /// 6300: verification failed, count not given.
    VerificationFailed,
    /// 6700
    WrongLength,
    /// 6884
    ChainingNotSupported,
    /// 6982: security status not satisfied (locked, or PIN needed).
    SecurityNotSatisfied,
    /// 6983: authentication method blocked.
    AuthBlocked,
    /// 6984: reference data not usable / no such object.
    NoSuchObject,
    /// 6985
    ConditionsNotSatisfied,
    /// 6A80: wrong data.
    WrongData,
    /// 6A82: file or application not found.
    NotFound,
    /// 6A84: not enough memory.
    NoSpace,
    /// 6A86: incorrect P1/P2.
    IncorrectP1P2,
    /// 6A88: reference data not found.
    ReferenceNotFound,
    /// 6B00: wrong P1/P2.
    WrongP1P2,
    /// 6D00
    InsNotSupported,
    /// 6E00
    ClaNotSupported,
    /// 6F00
    NoPreciseDiagnosis,
    /// Any other status word.
    Other(u16),
}

impl Status {
    pub fn from_u16(sw: u16) -> Status {
        match sw {
            0x9000 => Status::Ok,
            0x6100..=0x61FF => Status::MoreData(sw as u8),
            0x63C0..=0x63CF => Status::WrongPin {
                tries_left: (sw & 0x0F) as u8,
            },
            0x6300 => Status::VerificationFailed,
            0x6700 => Status::WrongLength,
            0x6884 => Status::ChainingNotSupported,
            0x6982 => Status::SecurityNotSatisfied,
            0x6983 => Status::AuthBlocked,
            0x6984 => Status::NoSuchObject,
            0x6985 => Status::ConditionsNotSatisfied,
            0x6A80 => Status::WrongData,
            0x6A82 => Status::NotFound,
            0x6A84 => Status::NoSpace,
            0x6A86 => Status::IncorrectP1P2,
            0x6A88 => Status::ReferenceNotFound,
            0x6B00 => Status::WrongP1P2,
            0x6D00 => Status::InsNotSupported,
            0x6E00 => Status::ClaNotSupported,
            0x6F00 => Status::NoPreciseDiagnosis,
            other => Status::Other(other),
        }
    }

    pub fn to_u16(self) -> u16 {
        match self {
            Status::Ok => 0x9000,
            Status::MoreData(n) => 0x6100 | u16::from(n),
            Status::WrongPin { tries_left } => 0x63C0 | u16::from(tries_left.min(0x0F)),
            Status::VerificationFailed => 0x6300,
            Status::WrongLength => 0x6700,
            Status::ChainingNotSupported => 0x6884,
            Status::SecurityNotSatisfied => 0x6982,
            Status::AuthBlocked => 0x6983,
            Status::NoSuchObject => 0x6984,
            Status::ConditionsNotSatisfied => 0x6985,
            Status::WrongData => 0x6A80,
            Status::NotFound => 0x6A82,
            Status::NoSpace => 0x6A84,
            Status::IncorrectP1P2 => 0x6A86,
            Status::ReferenceNotFound => 0x6A88,
            Status::WrongP1P2 => 0x6B00,
            Status::InsNotSupported => 0x6D00,
            Status::ClaNotSupported => 0x6E00,
            Status::NoPreciseDiagnosis => 0x6F00,
            Status::Other(sw) => sw,
        }
    }

    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.to_u16())
    }
}

/// Errors of the APDU layer: malformed frames from either side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    #[error("APDU of {len} bytes is too short (a command needs 4, a response 2)")]
    TooShort { len: usize },
    #[error("APDU length byte says {declared} data bytes but {actual} follow")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("extended-length APDUs are not supported")]
    Extended,
    #[error("response exceeds {MAX_RESPONSE} bytes")]
    ResponseTooLong,
    #[error("card answered a chained chunk with {status}")]
    ChainRejected { status: Status },
    #[error("exchange already finished")]
    Finished,
}

/// A command APDU. The data field lives in zeroizing memory because it may hold
/// a key or a PIN; `secret` marks the bytes that must never be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Zeroizing<Vec<u8>>,
    /// Bytes of `data` that are secret (masked in logs).
    pub secret: Option<Range<usize>>,
    /// Expected answer length (`Le`, 1 to 256; 256 is sent as `00`), for a
    /// command that expects data. Without it a command with data is ISO
    /// case 3, which a Nitrokey 3 answers with no data and `61xx`.
    pub le: Option<u16>,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Zeroizing::new(data),
            secret: None,
            le: None,
        }
    }

    /// Marks the command as expecting data: `Le = 00` (up to 256 bytes) is
    /// sent after the data. A YubiKey accepts it; a Nitrokey 3 needs it.
    pub fn expecting_data(mut self) -> Command {
        self.le = Some(256);
        self
    }

    /// Marks `range` of the data as secret.
    pub fn with_secret(mut self, range: Range<usize>) -> Command {
        self.secret = Some(range);
        self
    }

    /// Parses a short command the way a card sees it. `CLA INS P1 P2` alone, or
    /// followed by a single Le byte, has no data (yubikit sends `Lc = 00` for
    /// empty commands, which reads as `Le = 256`); otherwise `Lc data [Le]`.
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        let (header, body) = match bytes.split_first_chunk::<4>() {
            Some(split) => split,
            None => return Err(ApduError::TooShort { len: bytes.len() }),
        };
        let [cla, ins, p1, p2] = *header;
        let le_of = |b: u8| Some(if b == 0 { 256 } else { u16::from(b) });
        let (data, le) = match body {
            [] => (Vec::new(), None),
            [le] => (Vec::new(), le_of(*le)),
            [0, _, ..] => return Err(ApduError::Extended),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                // Data, optionally followed by one Le byte.
                let le = match rest.len().checked_sub(lc) {
                    Some(0) => None,
                    Some(1) => rest.last().and_then(|b| le_of(*b)),
                    _ => {
                        return Err(ApduError::LengthMismatch {
                            declared: lc,
                            actual: rest.len(),
                        })
                    }
                };
                (rest[..lc].to_vec(), le)
            }
        };
        let mut cmd = Command::new(cla, ins, p1, p2, data);
        cmd.le = le;
        Ok(cmd)
    }

    /// True when the CLA announces further chunks.
    pub fn is_chained(&self) -> bool {
        self.cla & CLA_CHAINING != 0
    }

    /// Encodes as one or more short APDUs: data over 255 bytes is cut into
    /// 255-byte chunks, all but the last with CLA bit 0x10. An empty command still
    /// carries `Lc = 00`, as yubikit sends it (which also reads as `Le = 00`);
    /// the last chunk ends with `Le` when the command expects data.
    pub fn encode(&self) -> Vec<Zeroizing<Vec<u8>>> {
        let mut out = Vec::new();
        let mut chunks: Vec<&[u8]> = self.data.chunks(SHORT_MAX).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let cla = if i == last {
                self.cla
            } else {
                self.cla | CLA_CHAINING
            };
            let mut bytes = Zeroizing::new(Vec::with_capacity(5 + chunk.len()));
            bytes.extend_from_slice(&[cla, self.ins, self.p1, self.p2, chunk.len() as u8]);
            bytes.extend_from_slice(chunk);
            if let (Some(le), true) = (self.le, i == last && !chunk.is_empty()) {
                // Le 256 is sent as 00.
                bytes.push((le & 0xFF) as u8);
            }
            out.push(bytes);
        }
        out
    }

    /// Hex for logs, with the secret bytes replaced by `**`.
    pub fn redacted_hex(&self) -> String {
        let mut s = format!(
            "{:02X} {:02X} {:02X} {:02X} {:02X}",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len().min(0xFF)
        );
        for (i, b) in self.data.iter().enumerate() {
            let hidden = self.secret.as_ref().is_some_and(|r| r.contains(&i));
            if hidden {
                s.push_str(" **");
            } else {
                s.push_str(&format!(" {b:02X}"));
            }
        }
        s
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({})", self.redacted_hex())
    }
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Zeroizing<Vec<u8>>,
    pub status: Status,
}

impl Response {
    pub fn new(data: Vec<u8>, status: Status) -> Response {
        Response {
            data: Zeroizing::new(data),
            status,
        }
    }

    pub fn status(status: Status) -> Response {
        Response::new(Vec::new(), status)
    }

    pub fn parse(bytes: &[u8]) -> Result<Response, ApduError> {
        match bytes.split_last_chunk::<2>() {
            Some((data, sw)) => Ok(Response::new(
                data.to_vec(),
                Status::from_u16(u16::from_be_bytes(*sw)),
            )),
            None => Err(ApduError::TooShort { len: bytes.len() }),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.status.to_u16().to_be_bytes());
        out
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({} bytes, {})", self.data.len(), self.status)
    }
}

/// What the host should do next in an [`Exchange`].
#[derive(Debug)]
pub enum Step {
    /// Transmit these bytes and feed the answer back.
    Transmit(Zeroizing<Vec<u8>>),
    /// The exchange is over; the status may be an error the caller interprets.
    Done(Response),
}

/// How a card hands over the rest of a long answer after `61xx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Continuation {
    /// YubiKey OATH: SEND REMAINING `00 A5 00 00 00` (a Nitrokey 3 answers
    /// it 6985).
    SendRemaining,
    /// ISO 7816-4 GET RESPONSE `00 C0 00 00 xx`, `xx` the count the `61xx`
    /// announced (Nitrokey 3, whose APDU dispatcher keeps the answer of a
    /// command sent without `Le` for it).
    GetResponse,
}

/// INS of SEND REMAINING (YKOATH).
pub const INS_SEND_REMAINING: u8 = 0xA5;
/// INS of GET RESPONSE (ISO 7816-4).
pub const INS_GET_RESPONSE: u8 = 0xC0;

impl Continuation {
    /// The APDU that asks for the rest after `61 announced`.
    pub fn command(self, cla: u8, announced: u8) -> [u8; 5] {
        match self {
            Continuation::SendRemaining => [cla, INS_SEND_REMAINING, 0, 0, 0],
            Continuation::GetResponse => [cla, INS_GET_RESPONSE, 0, 0, announced],
        }
    }
}

/// One logical command and its complete answer: sends the chained chunks, then
/// follows `61xx` with the card's continuation instruction until the final
/// status, concatenating data. Pure: the caller moves the bytes.
#[derive(Debug)]
pub struct Exchange {
    chunks: VecDeque<Zeroizing<Vec<u8>>>,
    collected: Zeroizing<Vec<u8>>,
    cla: u8,
    continuation: Continuation,
    finished: bool,
}

impl Exchange {
    pub fn new(command: &Command, continuation: Continuation) -> Exchange {
        Exchange {
            chunks: command.encode().into(),
            collected: Zeroizing::new(Vec::new()),
            cla: command.cla & !CLA_CHAINING,
            continuation,
            finished: false,
        }
    }

    /// The first APDU to transmit.
    pub fn start(&mut self) -> Result<Step, ApduError> {
        match self.chunks.pop_front() {
            Some(bytes) => Ok(Step::Transmit(bytes)),
            None => Err(ApduError::Finished),
        }
    }

    /// Feeds the card's answer to the last transmitted APDU.
    pub fn on_response(&mut self, raw: &[u8]) -> Result<Step, ApduError> {
        if self.finished {
            return Err(ApduError::Finished);
        }
        let response = Response::parse(raw)?;
        if !self.chunks.is_empty() {
            // Intermediate chunk of a chained command: must be accepted as is.
            if response.status != Status::Ok {
                self.finished = true;
                return Err(ApduError::ChainRejected {
                    status: response.status,
                });
            }
            return self.start();
        }
        if self.collected.len() + response.data.len() > MAX_RESPONSE {
            self.finished = true;
            return Err(ApduError::ResponseTooLong);
        }
        self.collected.extend_from_slice(&response.data);
        match response.status {
            Status::MoreData(n) => Ok(Step::Transmit(Zeroizing::new(
                self.continuation.command(self.cla, n).to_vec(),
            ))),
            status => {
                self.finished = true;
                let data = std::mem::take(&mut *self.collected);
                Ok(Step::Done(Response::new(data, status)))
            }
        }
    }
}

/// Card side of the `61xx` loop: hands out a long answer in chunks.
#[derive(Default)]
pub struct ResponseChunker {
    pending: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ResponseChunker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseChunker({} bytes pending)", self.pending.len())
    }
}

impl ResponseChunker {
    /// Answers with at most `chunk` bytes of `data`, keeping the rest for
    /// [`ResponseChunker::next`]. A non-OK status is passed through as is.
    pub fn start(&mut self, response: Response, chunk: usize) -> Response {
        self.pending = Zeroizing::new(Vec::new());
        if response.status != Status::Ok || response.data.len() <= chunk {
            return response;
        }
        self.pending = response.data;
        self.next(chunk)
    }

    /// The next chunk, or 6985 when nothing is pending.
    pub fn next(&mut self, chunk: usize) -> Response {
        if self.pending.is_empty() {
            return Response::status(Status::ConditionsNotSatisfied);
        }
        let take = chunk.min(self.pending.len());
        let rest = self.pending.split_off(take);
        let head = std::mem::replace(&mut *self.pending, rest);
        let left = self.pending.len();
        let status = if left == 0 {
            Status::Ok
        } else {
            Status::MoreData(left.min(0xFF) as u8)
        };
        Response::new(head, status)
    }

    pub fn clear(&mut self) {
        self.pending = Zeroizing::new(Vec::new());
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests;
