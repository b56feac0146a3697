//! Server-sent events (`text/event-stream`, WHATWG HTML §9.2) as the daemon
//! sends them on `/v1/events`: `event:` names the kind (`device`, `token`),
//! `data:` lines carry JSON, a blank line ends an event, `:` lines are
//! keep-alive comments.
//!
//! Hand-written on purpose: the CLI is blocking (ureq) and has no async
//! runtime, which the SSE client crates assume; the subset the daemon
//! sends (`event`, multi-line `data`, comments, CRLF or LF endings, an
//! unfinished event dropped at the end; no `id`/`retry`, no reconnect) is
//! a few dozen lines, each pinned by the tests below.

use std::io::BufRead;

use serde_json::Value;

use crate::wire::events::ServerEvent;

/// One event of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `device` or `token` (`message` when the server named none).
    pub kind: String,
    /// The event's JSON data (`Value::String` when it was not JSON).
    pub data: Value,
}

impl Event {
    /// The event as the API's wire type; `None` for a name this version
    /// does not know or data that is not the contract's.
    pub fn decode(&self) -> Option<ServerEvent> {
        ServerEvent::decode(&self.kind, &self.data)?.ok()
    }
}

/// A blocking reader of events; the iterator ends when the server closes.
pub struct EventStream {
    reader: Box<dyn BufRead + Send>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    pub fn new(reader: impl BufRead + Send + 'static) -> EventStream {
        EventStream {
            reader: Box::new(reader),
        }
    }

    /// The next event, `Ok(None)` at the end of the stream.
    pub fn next_event(&mut self) -> std::io::Result<Option<Event>> {
        let mut kind: Option<String> = None;
        let mut data: Option<String> = None;
        let mut line = String::new();
        loop {
            let n = super::read_line(&mut *self.reader, &mut line)?;
            if n == 0 {
                return Ok(None);
            }
            let text = line.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if let Some(data) = data.take() {
                    let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                    return Ok(Some(Event {
                        kind: kind.take().unwrap_or_else(|| "message".to_owned()),
                        data,
                    }));
                }
                kind = None;
                continue;
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = match text.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (text, ""),
            };
            match field {
                "event" => kind = Some(value.to_owned()),
                "data" => match data.as_mut() {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
    }
}

impl Iterator for EventStream {
    type Item = std::io::Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &'static str) -> Vec<Event> {
        EventStream::new(std::io::Cursor::new(text))
            .collect::<Result<_, _>>()
            .unwrap_or_default()
    }

    #[test]
    fn parses_named_json_events_and_skips_comments() {
        let got = events(
            ": keep-alive\n\nevent: device\ndata: {\"reader\":\"R\",\"kind\":\"inserted\"}\n\nevent: token\r\ndata: {\"serial\":\"1\",\"state\":\"active\"}\r\n\r\n",
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].kind, "device");
        assert_eq!(got[0].data["kind"], "inserted");
        assert_eq!(got[1].kind, "token");
        assert_eq!(got[1].data["state"], "active");
    }

    #[test]
    fn multi_line_data_and_unnamed_events() {
        let got = events("data: {\"a\":\ndata: 1}\n\ndata: plain\n\n");
        assert_eq!(got[0].kind, "message");
        assert_eq!(got[0].data["a"], 1);
        assert_eq!(got[1].data, Value::String("plain".into()));
    }

    #[test]
    fn an_unfinished_event_at_the_end_is_dropped() {
        assert!(events("event: device\ndata: {}").is_empty());
    }
}
