//! The blocking HTTP client of keyward's v1 API (`docs/api.md`): what the CLI,
//! the station, `keyward verify` and the load generator use to talk to
//! `keyward serve`.
//!
//! One method per route answers that route's [`crate::wire`] type; the
//! server's error bodies become [`ClientError::Api`] with their
//! [`ErrorCode`]; [`EventStream`] reads the server-sent events of
//! `/v1/events`. Path segments and query values are percent-encoded here.
//! The API key is held in a zeroizing buffer and never appears in `Debug`,
//! `Display` or any error.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::wire::{ErrorBody, ErrorCode, ErrorDetail};

mod emergency;
mod mail;
mod pin_reset;
mod routes;
pub mod sse;

pub use sse::{Event, EventStream};

/// Where the daemon listens when nothing says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7390";

/// Largest answer body the client reads (receipts, lists): 16 MiB.
const MAX_ANSWER_BODY: u64 = 16 * 1024 * 1024;

/// What a path segment or query value keeps unescaped (RFC 3986
/// "unreserved"): reader names have spaces, serials may have anything.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error of the contract: `message (code)`.
    #[error("{}", api_display(.message, *.code, *.detail, .field.as_deref()))]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        detail: Option<ErrorDetail>,
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

fn api_display(
    message: &str,
    code: ErrorCode,
    detail: Option<ErrorDetail>,
    field: Option<&str>,
) -> String {
    let mut text = format!("{message} ({code}");
    if let Some(detail) = detail {
        text.push_str(": ");
        text.push_str(detail.as_str());
    }
    if let Some(field) = field {
        text.push_str(", field ");
        text.push_str(field);
    }
    text.push(')');
    text
}

impl ClientError {
    /// The stable error code of an API error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The `detail` of a 409 conflict or a 502 device error.
    pub fn detail(&self) -> Option<ErrorDetail> {
        match self {
            ClientError::Api { detail, .. } => *detail,
            _ => None,
        }
    }

    /// The request field a 422 `invalid` is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Api { field, .. } => field.as_deref(),
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
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => ClientError::Api {
            status,
            code: error.code,
            message: error.message,
            detail: error.detail,
            field: error.field,
        },
        Err(_) => ClientError::Protocol {
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

    pub(crate) fn bearer(&self) -> Result<String, ClientError> {
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
            .limit(MAX_ANSWER_BODY)
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

    fn decode<T: DeserializeOwned>(body: &str) -> Result<T, ClientError> {
        // An empty body (a 204) is JSON null to the decoder: `()` accepts it.
        let body = if body.trim().is_empty() { "null" } else { body };
        serde_json::from_str(body).map_err(|e| ClientError::Protocol {
            status: 200,
            why: format!("invalid JSON: {e}"),
        })
    }

    /// The body of a successful answer, or the error the call ended in.
    fn answer(
        &self,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, ClientError> {
        self.finish(sent.map_err(|e| self.unreachable(e))?)
    }

    /// `GET path` → the decoded answer.
    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Client::decode(&self.get_text(path)?)
    }

    /// `GET path` → the body as text (receipts in text or HTML).
    fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let auth = self.bearer()?;
        self.answer(
            self.agent
                .get(self.url(path))
                .header("Authorization", auth)
                .call(),
        )
    }

    /// `POST path` with a JSON body → the decoded answer.
    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_string(body).map_err(|e| ClientError::Protocol {
            status: 0,
            why: format!("encoding the request: {e}"),
        })?;
        let request = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.bearer()?)
            .header("Content-Type", "application/json");
        Client::decode(&self.answer(request.send(body))?)
    }

    /// `POST path` without a body → the decoded answer.
    fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let request = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.bearer()?);
        Client::decode(&self.answer(request.send_empty())?)
    }

    /// `DELETE path`.
    fn delete(&self, path: &str) -> Result<(), ClientError> {
        let auth = self.bearer()?;
        let sent = self
            .agent
            .delete(self.url(path))
            .header("Authorization", auth)
            .call();
        self.answer(sent).map(drop)
    }

    /// `GET /healthz` (no key needed): true when the daemon answers ok.
    pub fn healthy(&self) -> bool {
        self.agent
            .get(self.url("/healthz"))
            .call()
            .is_ok_and(|r| r.status().is_success())
    }

    /// The authority's time zone, from `GET /healthz` (no key needed): the
    /// zone in which times are shown to people.
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone, ClientError> {
        let body = self.answer(self.agent.get(self.url("/healthz")).call())?;
        let health: crate::wire::Health = Client::decode(&body)?;
        jiff::tz::TimeZone::get(&health.time_zone).map_err(|_| ClientError::Protocol {
            status: 200,
            why: format!("unknown time zone {:?}", health.time_zone),
        })
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

/// Percent-encodes one path segment or query value.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// `/a/b/c` with each segment percent-encoded.
pub fn path(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", segment(s)))
        .collect()
}

/// Adds `?k=v&…` for the options that are set.
pub fn query(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut text = path.to_owned();
    let mut sep = '?';
    for (k, v) in params {
        if let Some(v) = v {
            text.push(sep);
            text.push_str(k);
            text.push('=');
            text.push_str(&segment(v));
            sep = '&';
        }
    }
    text
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
        assert_eq!(err.code(), Some(ErrorCode::Conflict));
        assert_eq!(err.detail(), Some(ErrorDetail::HolderHasLiveToken));
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
