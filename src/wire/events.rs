//! `GET /v1/events`: the server-sent events' data, by event name.

use serde::{Deserialize, Serialize};

use crate::domain::TokenState;

/// Data of a `device` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceEvent {
    Inserted {
        profile: Option<String>,
        reader: String,
        serial: Option<String>,
    },
    Removed {
        reader: String,
    },
}

impl DeviceEvent {
    pub fn reader(&self) -> &str {
        match self {
            DeviceEvent::Inserted { reader, .. } | DeviceEvent::Removed { reader } => reader,
        }
    }
}

/// Data of a `token` event: a token's state changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEvent {
    pub serial: String,
    pub state: TokenState,
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    Device(DeviceEvent),
    Token(TokenEvent),
}

impl ServerEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::Device(_) => "device",
            ServerEvent::Token(_) => "token",
        }
    }

    /// Decodes an event's data by its name; `None` for a name this
    /// version does not know.
    pub fn decode(
        name: &str,
        data: &serde_json::Value,
    ) -> Option<Result<ServerEvent, serde_json::Error>> {
        let event = match name {
            "device" => DeviceEvent::deserialize(data).map(ServerEvent::Device),
            "token" => TokenEvent::deserialize(data).map(ServerEvent::Token),
            _ => return None,
        };
        Some(event)
    }

    /// The event's data as the server sends it.
    pub fn data(&self) -> serde_json::Value {
        let data = match self {
            ServerEvent::Device(d) => serde_json::to_value(d),
            ServerEvent::Token(t) => serde_json::to_value(t),
        };
        // Both are plain structs of strings: encoding cannot fail.
        data.unwrap_or(serde_json::Value::Null)
    }
}
