//! The load generator's HTTP/1.1 client for `POST /v1/verify`.

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::client::{Client, ClientError};

/// The load generator's own HTTP/1.1 keep-alive client for `POST /v1/verify`:
/// a request written straight into one reused buffer, and the answer read by
/// `httparse` (status line, headers, `Content-Length`) and decoded into a
/// borrowed [`VerifyAnswer`]. The general client builds and parses JSON values
/// for every call; this one keeps the generator's share of the two cores it
/// measures on small.
pub(super) struct RawVerifier {
    address: String,
    host: String,
    bearer: Zeroizing<String>,
    stream: Option<std::net::TcpStream>,
    request: Zeroizing<Vec<u8>>,
    /// Bytes read from the connection: the answer being parsed.
    answer: Vec<u8>,
}

/// The one field of a verify answer the generator needs.
#[derive(serde::Deserialize)]
struct VerifyAnswer<'a> {
    #[serde(borrow)]
    result: &'a str,
}

/// An answer's head, as `httparse` read it.
struct Head {
    status: u16,
    /// Bytes of the status line and headers.
    length: usize,
    body_length: usize,
    close: bool,
}

/// Largest answer read (a verify answer is about a hundred bytes).
const MAX_ANSWER: usize = 1 << 20;

fn parse_head(bytes: &[u8]) -> std::io::Result<Option<Head>> {
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidData);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(bytes).map_err(|_| invalid())? {
        httparse::Status::Complete(length) => length,
        httparse::Status::Partial => return Ok(None),
    };
    let mut body_length = 0;
    let mut close = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            body_length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(invalid)?;
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = header.value.eq_ignore_ascii_case(b"close");
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // The API answers with a length; anything else is not ours.
            return Err(invalid());
        }
    }
    Ok(Some(Head {
        status: response.code.ok_or_else(invalid)?,
        length,
        body_length,
        close,
    }))
}

impl RawVerifier {
    pub(super) fn new(client: &Client) -> anyhow::Result<RawVerifier> {
        let base = client.base();
        let host = base
            .strip_prefix("http://")
            .context("bench verify talks plain HTTP over loopback: use an http:// URL")?
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(RawVerifier {
            address: host.clone(),
            host,
            bearer: Zeroizing::new(client.bearer()?),
            stream: None,
            request: Zeroizing::new(Vec::with_capacity(512)),
            answer: Vec::with_capacity(1024),
        })
    }

    /// The same client, sent to `address` instead (the bench's floor).
    pub(super) fn to(self, address: std::net::SocketAddr) -> RawVerifier {
        RawVerifier {
            address: address.to_string(),
            host: address.to_string(),
            stream: None,
            ..self
        }
    }

    fn unreachable(&self, why: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable {
            url: format!("http://{}", self.host),
            why: why.to_string(),
        }
    }

    /// Sends the request in `self.request` and reads one answer: its head
    /// and, at `head.length..`, its body in `self.answer`.
    fn exchange(&mut self) -> std::io::Result<Head> {
        use std::io::{Read as _, Write as _};
        let stream = self
            .stream
            .as_mut()
            .ok_or(std::io::ErrorKind::NotConnected)?;
        stream.write_all(&self.request)?;
        self.answer.clear();
        let mut chunk = [0u8; 4096];
        let mut head = None;
        loop {
            if head.is_none() {
                head = parse_head(&self.answer)?;
            }
            if let Some(head) = &head {
                if self.answer.len() >= head.length + head.body_length {
                    break;
                }
            }
            if self.answer.len() > MAX_ANSWER {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            let read = stream.read(&mut chunk)?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.answer.extend_from_slice(&chunk[..read]);
        }
        head.ok_or_else(|| std::io::ErrorKind::InvalidData.into())
    }
}

impl super::Verifier for RawVerifier {
    fn verify(&mut self, login: &str, passcode: &str, source: &str) -> Result<bool, ClientError> {
        use std::io::Write as _;
        let body =
            serde_json::json!({"login": login, "passcode": passcode, "source": source}).to_string();
        let body = Zeroizing::new(body);
        self.request.clear();
        let _ = write!(
            &mut *self.request,
            "POST /v1/verify HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            self.host,
            self.bearer.as_str(),
            body.len(),
            body.as_str()
        );
        if self.stream.is_none() {
            let stream =
                std::net::TcpStream::connect(&self.address).map_err(|e| self.unreachable(e))?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
        }
        match self.exchange() {
            Ok(head) => {
                if head.close {
                    self.stream = None;
                }
                let body = &self.answer[head.length..head.length + head.body_length];
                match head.status {
                    200 => serde_json::from_slice::<VerifyAnswer<'_>>(body)
                        .map(|answer| answer.result == "accept")
                        .map_err(|err| ClientError::Protocol {
                            status: 200,
                            why: format!("verify answer: {err}"),
                        }),
                    status => Err(crate::client::parse_error(
                        status,
                        &String::from_utf8_lossy(body),
                    )),
                }
            }
            Err(err) => {
                // Never retried: the server may have decided it already.
                self.stream = None;
                Err(ClientError::Protocol {
                    status: 0,
                    why: format!("connection: {err}"),
                })
            }
        }
    }
}
