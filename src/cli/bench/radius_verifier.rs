//! The load generator's RADIUS client: one UDP socket per worker, each
//! Access-Request built by keyward's codec (Message-Authenticator first,
//! hidden password, the source as Calling-Station-Id), each reply checked
//! (Response Authenticator and Message-Authenticator) before it counts.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anyhow::Context as _;
use zeroize::Zeroizing;

use super::Verifier;
use crate::client::ClientError;
use crate::radius::packet::{attr, hide_password, Builder, Code, Packet, MAX_PACKET};

/// Calling-Station-Id: the end user's address, the per-source limiter's key.
const CALLING_STATION_ID: u8 = 31;
/// A reply later than this is counted as an error (the daemon holds a
/// reject at most 10 s, which the generator never provokes).
const TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct RadiusVerifier {
    socket: UdpSocket,
    server: SocketAddr,
    secret: Zeroizing<Vec<u8>>,
    identifier: u8,
    answer: Vec<u8>,
    /// Request Authenticators drawn from the OS in blocks: one `getrandom`
    /// for [`AUTHENTICATORS`] requests instead of one each (the generator
    /// shares the daemon's cores; see docs/performance.md).
    randomness: Zeroizing<Vec<u8>>,
    /// Bytes of `randomness` already used.
    used: usize,
}

/// Request Authenticators drawn from the OS at once.
const AUTHENTICATORS: usize = 256;

impl RadiusVerifier {
    pub(super) fn new(server: SocketAddr, secret: &[u8]) -> anyhow::Result<RadiusVerifier> {
        let local: SocketAddr = if server.is_ipv4() {
            ([127, 0, 0, 1], 0).into()
        } else {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local).context("binding a local UDP socket")?;
        socket.set_read_timeout(Some(TIMEOUT))?;
        socket.connect(server)?;
        Ok(RadiusVerifier {
            socket,
            server,
            secret: Zeroizing::new(secret.to_vec()),
            identifier: 0,
            answer: vec![0; MAX_PACKET],
            randomness: Zeroizing::new(vec![0; AUTHENTICATORS * 16]),
            used: AUTHENTICATORS * 16,
        })
    }

    /// A fresh random Request Authenticator (RFC 2865 §3: unpredictable,
    /// never reused).
    fn authenticator(&mut self) -> Result<[u8; 16], ClientError> {
        if self.used + 16 > self.randomness.len() {
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut self.randomness)
                .map_err(|_| self.failed("the OS random generator failed"))?;
            self.used = 0;
        }
        let mut authenticator = [0u8; 16];
        if let Some(bytes) = self.randomness.get(self.used..self.used + 16) {
            authenticator.copy_from_slice(bytes);
        }
        self.used += 16;
        Ok(authenticator)
    }

    fn failed(&self, why: impl std::fmt::Display) -> ClientError {
        ClientError::Protocol {
            status: 0,
            why: format!("RADIUS {}: {why}", self.server),
        }
    }
}

impl Verifier for RadiusVerifier {
    fn verify(&mut self, login: &str, passcode: &str, source: &str) -> Result<bool, ClientError> {
        self.identifier = self.identifier.wrapping_add(1);
        let authenticator = self.authenticator()?;
        let hidden = hide_password(passcode.as_bytes(), &self.secret, &authenticator)
            .map_err(|e| self.failed(e))?;
        let mut builder = Builder::new(Code::AccessRequest, self.identifier);
        for (kind, value) in [
            (attr::USER_NAME, login.as_bytes()),
            (attr::USER_PASSWORD, &hidden[..]),
            (CALLING_STATION_ID, source.as_bytes()),
        ] {
            builder.push(kind, value).map_err(|e| self.failed(e))?;
        }
        let request = builder.request(&authenticator, &self.secret);
        self.socket.send(&request).map_err(|e| self.failed(e))?;
        loop {
            let len = self
                .socket
                .recv(&mut self.answer)
                .map_err(|e| self.failed(e))?;
            let Ok(reply) = Packet::parse(self.answer.get(..len).unwrap_or_default()) else {
                return Err(self.failed("malformed reply"));
            };
            // A late reply to an earlier request: keep waiting for ours.
            if reply.identifier != self.identifier {
                continue;
            }
            if !reply.reply_authenticated(&authenticator, &self.secret, true) {
                return Err(self.failed("reply failed its authenticators"));
            }
            return match reply.code {
                Code::AccessAccept => Ok(true),
                // A challenge is not an accept (a wrong code may, rarely,
                // be a genuine far one: the next-code challenge).
                Code::AccessReject | Code::AccessChallenge => Ok(false),
                other => Err(self.failed(format!("unexpected {other:?}"))),
            };
        }
    }
}
