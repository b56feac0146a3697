//! RADIUS packets (RFC 2865 §3, §5): parsing with strict bounds, the
//! authenticators and the hidden User-Password. Bytes in, typed values out;
//! no I/O, no clock.
//!
//! A parsed [`Packet`] borrows the datagram and allocates nothing: its
//! attributes were checked once at parse time and are walked again on
//! demand. Replies and requests are built by [`Builder`], which always puts
//! Message-Authenticator first (the BlastRADIUS defence: a forged prefix
//! cannot reach it) and computes it before the Response Authenticator.
//!
//! Our own code rather than a crate: the `radius` crate, the only Rust one,
//! predates BlastRADIUS and can neither compute nor check
//! Message-Authenticator. This codec is pinned by the RFC 2865 example and a
//! capture of FreeRADIUS's radclient (`tests/data/radius/`), and tested
//! against radclient and radtest on the wire.

use hmac::{Hmac, KeyInit as _, Mac as _};
use md5::{Digest as _, Md5};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Largest packet (RFC 2865 §3, RFC 7930 keeps 4096 for UDP).
pub const MAX_PACKET: usize = 4096;
/// Header: code, identifier, length, authenticator.
pub const HEADER: usize = 20;
/// Largest attribute value (the length octet counts type and length).
pub const MAX_VALUE: usize = 253;
/// Longest User-Password once hidden (RFC 2865 §5.2).
pub const MAX_PASSWORD: usize = 128;

/// Attribute types used here (RFC 2865 §5, RFC 2869 §5.14).
pub mod attr {
    pub const USER_NAME: u8 = 1;
    pub const USER_PASSWORD: u8 = 2;
    pub const CHAP_PASSWORD: u8 = 3;
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const REPLY_MESSAGE: u8 = 18;
    pub const STATE: u8 = 24;
    pub const CLASS: u8 = 25;
    pub const PROXY_STATE: u8 = 33;
    pub const NAS_IDENTIFIER: u8 = 32;
    pub const EAP_MESSAGE: u8 = 79;
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
}

/// Packet codes keyward understands (RFC 2865 §3, RFC 5997).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    AccessRequest,
    AccessAccept,
    AccessReject,
    AccessChallenge,
    StatusServer,
}

impl Code {
    pub const fn to_u8(self) -> u8 {
        match self {
            Code::AccessRequest => 1,
            Code::AccessAccept => 2,
            Code::AccessReject => 3,
            Code::AccessChallenge => 11,
            Code::StatusServer => 12,
        }
    }

    pub const fn from_u8(code: u8) -> Option<Code> {
        match code {
            1 => Some(Code::AccessRequest),
            2 => Some(Code::AccessAccept),
            3 => Some(Code::AccessReject),
            11 => Some(Code::AccessChallenge),
            12 => Some(Code::StatusServer),
            _ => None,
        }
    }
}

/// Why bytes are not a packet keyward accepts. Each is a silent discard on
/// the wire (RFC 2865 §3); the variant is for counters and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    #[error("packet of {0} bytes is shorter than the 20-byte header")]
    TooShort(usize),
    #[error("declared length {0} is outside 20..=4096")]
    BadLength(usize),
    #[error("declared length {declared} but only {received} bytes received")]
    Truncated { declared: usize, received: usize },
    #[error("packet code {0} is not handled")]
    UnknownCode(u8),
    #[error("attribute at offset {0} has a bad length")]
    BadAttribute(usize),
    #[error("attribute {0} appears more than once")]
    Repeated(u8),
    #[error("Message-Authenticator is not 16 bytes")]
    BadMessageAuthenticator,
    #[error("User-Password is not 16 to 128 bytes in blocks of 16")]
    BadPassword,
    #[error("attribute value of {0} bytes does not fit")]
    ValueTooLong(usize),
    #[error("packet would exceed 4096 bytes")]
    PacketTooLong,
}

/// A received packet, borrowing its datagram. Attributes are well formed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub code: Code,
    pub identifier: u8,
    pub authenticator: [u8; 16],
    /// The whole packet (header and attributes), without trailing padding.
    bytes: &'a [u8],
}

impl std::fmt::Debug for Packet<'_> {
    // Attributes may hold a hidden password: only the header is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("code", &self.code)
            .field("identifier", &self.identifier)
            .field("length", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// One attribute: type and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub kind: u8,
    pub value: &'a [u8],
}

/// Walks well-formed attribute bytes.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        let (&kind, after) = self.rest.split_first()?;
        let (&len, after) = after.split_first()?;
        let (value, rest) = after.split_at_checked(usize::from(len).checked_sub(2)?)?;
        self.rest = rest;
        Some(Attribute { kind, value })
    }
}

/// Attributes that may appear at most once in a request keyward reads.
const SINGLE: [u8; 5] = [
    attr::USER_NAME,
    attr::USER_PASSWORD,
    attr::CHAP_PASSWORD,
    attr::STATE,
    attr::MESSAGE_AUTHENTICATOR,
];

impl<'a> Packet<'a> {
    /// Parses a datagram. Octets past the declared length are padding and
    /// ignored (RFC 2865 §3); fewer octets than declared, an attribute
    /// overrunning the packet, or a length below 2 are refused.
    pub fn parse(datagram: &'a [u8]) -> Result<Packet<'a>, PacketError> {
        if datagram.len() < HEADER {
            return Err(PacketError::TooShort(datagram.len()));
        }
        let [code, identifier, hi, lo, ..] = *datagram else {
            return Err(PacketError::TooShort(datagram.len()));
        };
        let declared = usize::from(u16::from_be_bytes([hi, lo]));
        if !(HEADER..=MAX_PACKET).contains(&declared) {
            return Err(PacketError::BadLength(declared));
        }
        let bytes = datagram.get(..declared).ok_or(PacketError::Truncated {
            declared,
            received: datagram.len(),
        })?;
        let code = Code::from_u8(code).ok_or(PacketError::UnknownCode(code))?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(bytes.get(4..HEADER).ok_or(PacketError::TooShort(0))?);
        // Check every attribute's length and the single ones once.
        let mut seen = [false; SINGLE.len()];
        let mut offset = HEADER;
        while offset < declared {
            let kind = bytes.get(offset).copied();
            let len = bytes.get(offset + 1).map(|l| usize::from(*l));
            let (Some(kind), Some(len)) = (kind, len) else {
                return Err(PacketError::BadAttribute(offset));
            };
            if len < 2 || offset + len > declared {
                return Err(PacketError::BadAttribute(offset));
            }
            if let Some(i) = SINGLE.iter().position(|&s| s == kind) {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(PacketError::Repeated(kind));
                }
            }
            if kind == attr::MESSAGE_AUTHENTICATOR && len != 18 {
                return Err(PacketError::BadMessageAuthenticator);
            }
            offset += len;
        }
        Ok(Packet {
            code,
            identifier,
            authenticator,
            bytes,
        })
    }

    /// The packet's bytes without padding.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            rest: self.bytes.get(HEADER..).unwrap_or_default(),
        }
    }

    /// The first attribute of `kind`.
    pub fn find(&self, kind: u8) -> Option<&'a [u8]> {
        self.attributes().find(|a| a.kind == kind).map(|a| a.value)
    }

    pub fn has_message_authenticator(&self) -> bool {
        self.find(attr::MESSAGE_AUTHENTICATOR).is_some()
    }

    /// Checks the Message-Authenticator of a request (RFC 3579 §3.2):
    /// HMAC-MD5 under the shared secret over the packet with the attribute's
    /// value zeroed. `false` when absent. Compared in constant time.
    pub fn request_authenticated(&self, secret: &[u8]) -> bool {
        self.message_authenticator_matches(secret, None)
    }

    /// Checks a reply to a request whose authenticator was `request`: the
    /// Response Authenticator (RFC 2865 §3) and, when present, the
    /// Message-Authenticator (computed with the request authenticator in
    /// the header). With `require_ma`, a reply without one is refused.
    pub fn reply_authenticated(&self, request: &[u8; 16], secret: &[u8], require_ma: bool) -> bool {
        let expected = response_authenticator(self.bytes, request, secret);
        let header_ok: bool = expected.ct_eq(&self.authenticator).into();
        let ma_ok = if self.has_message_authenticator() {
            self.message_authenticator_matches(secret, Some(request))
        } else {
            !require_ma
        };
        header_ok && ma_ok
    }

    fn message_authenticator_matches(&self, secret: &[u8], request: Option<&[u8; 16]>) -> bool {
        let Some(offset) = self.message_authenticator_offset() else {
            return false;
        };
        let Some(received) = self.bytes.get(offset..offset + 16) else {
            return false;
        };
        let mut copy = Zeroizing::new(self.bytes.to_vec());
        if let Some(value) = copy.get_mut(offset..offset + 16) {
            value.fill(0);
        }
        if let (Some(request), Some(field)) = (request, copy.get_mut(4..HEADER)) {
            field.copy_from_slice(request);
        }
        hmac_md5(secret, &copy).ct_eq(received).into()
    }

    /// Where the first Message-Authenticator's value starts.
    fn message_authenticator_offset(&self) -> Option<usize> {
        let mut offset = HEADER;
        for attribute in self.attributes() {
            if attribute.kind == attr::MESSAGE_AUTHENTICATOR {
                return Some(offset + 2);
            }
            offset += attribute.value.len() + 2;
        }
        None
    }

    /// The User-Password, revealed (RFC 2865 §5.2), trailing NULs removed.
    pub fn password(&self, secret: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, PacketError> {
        self.find(attr::USER_PASSWORD)
            .map(|hidden| reveal_password(hidden, secret, &self.authenticator))
            .transpose()
    }
}

type HmacMd5 = Hmac<Md5>;

fn hmac_md5(secret: &[u8], data: &[u8]) -> [u8; 16] {
    // HMAC accepts keys of any length; the error case cannot happen.
    let Ok(mut mac) = HmacMd5::new_from_slice(secret) else {
        return [0; 16];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// MD5(Code + Identifier + Length + request authenticator + attributes +
/// secret) over a packet whose header authenticator is replaced.
fn response_authenticator(packet: &[u8], request: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(packet.get(..4).unwrap_or_default());
    md5.update(request);
    md5.update(packet.get(HEADER..).unwrap_or_default());
    md5.update(secret);
    md5.finalize().into()
}

/// The keystream blocks of RFC 2865 §5.2: b1 = MD5(S + RA), bi = MD5(S + c(i-1)).
fn password_block(secret: &[u8], previous: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(secret);
    md5.update(previous);
    md5.finalize().into()
}

/// Reveals a hidden User-Password.
pub fn reveal_password(
    hidden: &[u8],
    secret: &[u8],
    authenticator: &[u8; 16],
) -> Result<Zeroizing<Vec<u8>>, PacketError> {
    if hidden.is_empty() || hidden.len() > MAX_PASSWORD || hidden.len() % 16 != 0 {
        return Err(PacketError::BadPassword);
    }
    let mut clear = Zeroizing::new(Vec::with_capacity(hidden.len()));
    let mut previous: &[u8] = authenticator;
    for chunk in hidden.chunks(16) {
        let key = Zeroizing::new(password_block(secret, previous));
        clear.extend(chunk.iter().zip(key.iter()).map(|(c, k)| c ^ k));
        previous = chunk;
    }
    while clear.last() == Some(&0) {
        clear.pop();
    }
    Ok(clear)
}

/// Hides a User-Password (a client's side, for tests and the load
/// generator). At most 128 bytes.
pub fn hide_password(
    clear: &[u8],
    secret: &[u8],
    authenticator: &[u8; 16],
) -> Result<Vec<u8>, PacketError> {
    if clear.len() > MAX_PASSWORD {
        return Err(PacketError::BadPassword);
    }
    let blocks = clear.len().div_ceil(16).max(1);
    let mut padded = Zeroizing::new(clear.to_vec());
    padded.resize(blocks * 16, 0);
    let mut hidden: Vec<u8> = Vec::with_capacity(padded.len());
    for (i, chunk) in padded.chunks(16).enumerate() {
        let previous = match i.checked_sub(1) {
            Some(p) => hidden.get(p * 16..i * 16).unwrap_or_default().to_vec(),
            None => authenticator.to_vec(),
        };
        let key = Zeroizing::new(password_block(secret, &previous));
        hidden.extend(chunk.iter().zip(key.iter()).map(|(c, k)| c ^ k));
    }
    Ok(hidden)
}

/// Builds a packet: a request (given its Request Authenticator) or a reply
/// (given the request's). Message-Authenticator goes first.
#[derive(Debug, Clone)]
pub struct Builder {
    code: Code,
    identifier: u8,
    attributes: Vec<u8>,
}

impl Builder {
    pub fn new(code: Code, identifier: u8) -> Builder {
        // Room for the Message-Authenticator, filled in by `finish`.
        let mut attributes = Vec::with_capacity(64);
        attributes.extend_from_slice(&[attr::MESSAGE_AUTHENTICATOR, 18]);
        attributes.extend_from_slice(&[0; 16]);
        Builder {
            code,
            identifier,
            attributes,
        }
    }

    /// Adds an attribute (values over 253 bytes are refused).
    pub fn push(&mut self, kind: u8, value: &[u8]) -> Result<&mut Builder, PacketError> {
        if value.len() > MAX_VALUE {
            return Err(PacketError::ValueTooLong(value.len()));
        }
        if HEADER + self.attributes.len() + 2 + value.len() > MAX_PACKET {
            return Err(PacketError::PacketTooLong);
        }
        // Bounded by MAX_VALUE above.
        let len =
            u8::try_from(value.len() + 2).map_err(|_| PacketError::ValueTooLong(value.len()))?;
        self.attributes.extend_from_slice(&[kind, len]);
        self.attributes.extend_from_slice(value);
        Ok(self)
    }

    fn header(&self, authenticator: &[u8; 16]) -> Vec<u8> {
        let len = HEADER + self.attributes.len();
        let mut out = Vec::with_capacity(len);
        out.push(self.code.to_u8());
        out.push(self.identifier);
        // `push` keeps the total within MAX_PACKET.
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(authenticator);
        out.extend_from_slice(&self.attributes);
        out
    }

    /// A reply to the request whose authenticator is `request`: the
    /// Message-Authenticator over the packet with the request authenticator
    /// in its header, then the Response Authenticator over the result.
    pub fn reply(&self, request: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        let mut out = self.with_message_authenticator(request, secret);
        let response = response_authenticator(&out, request, secret);
        if let Some(field) = out.get_mut(4..HEADER) {
            field.copy_from_slice(&response);
        }
        out
    }

    /// A request with Request Authenticator `authenticator` (random, chosen
    /// by the caller) and its Message-Authenticator.
    pub fn request(&self, authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        self.with_message_authenticator(authenticator, secret)
    }

    /// The packet with `authenticator` in its header and the
    /// Message-Authenticator (first attribute) computed over it.
    fn with_message_authenticator(&self, authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        let mut out = self.header(authenticator);
        let ma = hmac_md5(secret, &out);
        if let Some(field) = out.get_mut(HEADER + 2..HEADER + 18) {
            field.copy_from_slice(&ma);
        }
        out
    }
}

/// Parses arbitrary bytes and exercises every reader: the fuzzing entry
/// point. Must never panic and allocates at most a copy of the packet.
pub fn fuzz_one(bytes: &[u8]) {
    if let Ok(packet) = Packet::parse(bytes) {
        let secret = b"fuzz";
        for attribute in packet.attributes() {
            std::hint::black_box(attribute);
        }
        std::hint::black_box(packet.request_authenticated(secret));
        std::hint::black_box(packet.reply_authenticated(&packet.authenticator, secret, true));
        let _ = std::hint::black_box(packet.password(secret));
    }
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
