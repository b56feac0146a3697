//! The blocking HTTP client of keyward's v1 API (`docs/api.md`): what the CLI,
//! the station, `keyward verify` and the load generator use to talk to
//! `keyward serve`.
//!
//! It owns the connection settings (`KEYWARD_URL`, `KEYWARD_API_KEY`), maps the
//! server's JSON errors into [`ClientError::Api`] with the stable code, and
//! reads the server-sent-event stream of `/v1/events` ([`EventStream`]). The API
//! key is held in a zeroizing buffer and never appears in `Debug`, `Display` or
//! any error.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use serde_json::Value;
use zeroize::Zeroizing;

pub mod sse;

pub use sse::{Event, EventStream};

/// Where the daemon listens when nothing says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7390";

/// Largest answer body the client reads (receipts, lists): 16 MiB.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error of the contract: `message (code)`.
    #[error("{}", api_display(.message, .code, .detail.as_deref(), .field.as_deref()))]
    Api {
        status: u16,
        code: String,
        message: String,
        detail: Option<String>,
        field: Option<String>,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach keyward at {url}: {why} (is `keyward serve` running? set KEYWARD_URL or --url)")]
    Unreachable { url: String, why: String },
    /// The server answered something that is not the contract's JSON.
    #[error("unexpected answer from the server (HTTP {status}): {why}")]
    Protocol { status: u16, why: String },
    /// No API key was given.
    #[error("no API key: set KEYWARD_API_KEY or pass --api-key")]
    NoApiKey,
}

fn api_display(message: &str, code: &str, detail: Option<&str>, field: Option<&str>) -> String {
    let mut text = format!("{message} ({code}");
    if let Some(detail) = detail {
        text.push_str(": ");
        text.push_str(detail);
    }
    if let Some(field) = field {
        text.push_str(", field ");
        text.push_str(field);
    }
    text.push(')');
    text
}

impl ClientError {
    /// The stable error code of an API error (`not_found`, `conflict`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The `detail` of a 409 conflict (`pin_policy`, `no_right`, …).
    pub fn detail(&self) -> Option<&str> {
        match self {
            ClientError::Api { detail, .. } => detail.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Turns an error answer into [`ClientError::Api`], keeping the server's words.
pub fn parse_error(status: u16, body: &str) -> ClientError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let text = |key: &str| {
        error
            .and_then(|e| e.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (text("code"), text("message")) {
        (Some(code), Some(message)) => ClientError::Api {
            status,
            code,
            message,
            detail: text("detail"),
            field: text("field"),
        },
        _ => ClientError::Protocol {
            status,
            why: format!(
                "not a keyward error body: {}",
                body.chars().take(200).collect::<String>()
            ),
        },
    }
}

/// A connection to one keyward daemon with one API key.
pub struct Client {
    base: String,
    key: Option<Zeroizing<String>>,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

fn agent(global_timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(global_timeout)
        .max_idle_connections_per_host(64)
        .build()
        .into()
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7390`) with an optional key.
    pub fn new(base: &str, key: Option<String>) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            key: key.filter(|k| !k.is_empty()).map(Zeroizing::new),
            // Verify may be held by the server's delay (growing after failures).
            agent: agent(Some(Duration::from_secs(120))),
            stream_agent: agent(None),
        }
    }

    /// Flags first, then `KEYWARD_URL` / `KEYWARD_API_KEY`, then the default URL.
    pub fn from_env(url: Option<String>, key: Option<String>) -> Client {
        let url = url
            .or_else(|| std::env::var("KEYWARD_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let key = key.or_else(|| std::env::var("KEYWARD_API_KEY").ok());
        Client::new(&url, key)
    }

    /// Another client to the same daemon with the same key and its own
    /// connections (one per load-generator worker).
    pub fn fresh(&self) -> Client {
        Client::new(&self.base, self.key.as_ref().map(|k| k.as_str().to_owned()))
    }

    /// The base URL (never the key).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn bearer(&self) -> Result<String, ClientError> {
        self.key
            .as_ref()
            .map(|k| format!("Bearer {}", k.as_str()))
            .ok_or(ClientError::NoApiKey)
    }

    fn unreachable(&self, err: ureq::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            why: err.to_string(),
        }
    }

    fn finish(&self, response: ureq::http::Response<ureq::Body>) -> Result<String, ClientError> {
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| ClientError::Protocol {
                status,
                why: format!("reading the body: {e}"),
            })?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(parse_error(status, &body))
        }
    }

    fn json(status_hint: u16, body: &str) -> Result<Value, ClientError> {
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(body).map_err(|e| ClientError::Protocol {
            status: status_hint,
            why: format!("invalid JSON: {e}"),
        })
    }

    /// `GET path` → JSON.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let text = self.get_text(path)?;
        Client::json(200, &text)
    }

    /// `GET path` → the body as text (receipts in text or HTML).
    pub fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let response = self
            .agent
            .get(self.url(path))
            .header("Authorization", self.bearer()?)
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.finish(response)
    }

    /// `POST path` with a JSON body (or none) → JSON.
    pub fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let request = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.bearer()?);
        let response = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .send(body.to_string()),
            None => request.send_empty(),
        }
        .map_err(|e| self.unreachable(e))?;
        let text = self.finish(response)?;
        Client::json(200, &text)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<(), ClientError> {
        let response = self
            .agent
            .delete(self.url(path))
            .header("Authorization", self.bearer()?)
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.finish(response).map(drop)
    }

    /// `GET /healthz` (no key needed): true when the daemon answers ok.
    pub fn healthy(&self) -> bool {
        self.agent
            .get(self.url("/healthz"))
            .call()
            .is_ok_and(|r| r.status().is_success())
    }

    /// `POST /v1/verify`: `Ok(Some(rights))` on accept, `Ok(None)` on reject.
    pub fn verify(&self, login: &str, passcode: &str) -> Result<Option<Value>, ClientError> {
        self.verify_from(login, passcode, None)
    }

    /// `POST /v1/verify` on behalf of an end user at `source` (the address the
    /// gateway saw), which the per-source limiter counts separately.
    pub fn verify_from(
        &self,
        login: &str,
        passcode: &str,
        source: Option<&str>,
    ) -> Result<Option<Value>, ClientError> {
        let mut body = serde_json::json!({ "login": login, "passcode": passcode });
        if let Some(source) = source {
            body["source"] = Value::String(source.to_owned());
        }
        let answer = self.post("/v1/verify", Some(&body))?;
        match answer.get("result").and_then(Value::as_str) {
            Some("accept") => Ok(Some(
                answer
                    .get("rights")
                    .cloned()
                    .unwrap_or(Value::Array(vec![])),
            )),
            Some("reject") => Ok(None),
            _ => Err(ClientError::Protocol {
                status: 200,
                why: "verify answer without a result".to_owned(),
            }),
        }
    }

    /// Opens `GET /v1/events`.
    pub fn events(&self) -> Result<EventStream, ClientError> {
        let response = self
            .stream_agent
            .get(self.url("/v1/events"))
            .header("Authorization", self.bearer()?)
            .header("Accept", "text/event-stream")
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self
                .finish(response)
                .err()
                .unwrap_or(ClientError::Protocol {
                    status,
                    why: "error status".to_owned(),
                }));
        }
        let reader: Box<dyn Read + Send> = Box::new(response.into_body().into_reader());
        Ok(EventStream::new(BufReader::new(reader)))
    }
}

/// Percent-encodes one path segment (reader names have spaces).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reads lines from any `BufRead` (used by [`EventStream`]).
pub(crate) fn read_line(reader: &mut dyn BufRead, line: &mut String) -> std::io::Result<usize> {
    line.clear();
    reader.read_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_the_servers_message_and_code() {
        let err = parse_error(
            409,
            r#"{"error":{"code":"conflict","message":"holder has a live token","detail":"holder_has_live_token"}}"#,
        );
        assert_eq!(
            err.to_string(),
            "holder has a live token (conflict: holder_has_live_token)"
        );
        assert_eq!(err.code(), Some("conflict"));
        assert_eq!(err.detail(), Some("holder_has_live_token"));
        let err = parse_error(
            422,
            r#"{"error":{"code":"invalid","message":"bad UAI","field":"uai"}}"#,
        );
        assert_eq!(err.to_string(), "bad UAI (invalid, field uai)");
    }

    #[test]
    fn a_non_contract_body_is_a_protocol_error() {
        let err = parse_error(502, "<html>bad gateway</html>");
        assert!(matches!(err, ClientError::Protocol { status: 502, .. }));
        assert!(err.code().is_none());
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let client = Client::new("http://127.0.0.1:1/", Some("kw_SECRETKEY".into()));
        let text = format!("{client:?}");
        assert!(!text.contains("SECRETKEY"), "{text}");
        assert_eq!(client.base(), "http://127.0.0.1:1");
    }

    #[test]
    fn reader_names_are_escaped_as_one_segment() {
        assert_eq!(segment("Virtual PCD 00 00"), "Virtual%20PCD%2000%2000");
        assert_eq!(segment("a/b"), "a%2Fb");
    }
}
