//! Server-sent events of devices and tokens.

use std::convert::Infallible;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::Stream;

use crate::api::{ApiError, Permit};
use crate::devices::DeviceEvent;
use crate::domain::Role;
use crate::wire::events::{self as wire, ServerEvent, TokenEvent};

fn server_event(event: DeviceEvent) -> ServerEvent {
    match event {
        DeviceEvent::Inserted {
            reader,
            serial,
            profile,
        } => ServerEvent::Device(wire::DeviceEvent::Inserted {
            profile,
            reader,
            serial,
        }),
        DeviceEvent::Removed { reader } => {
            ServerEvent::Device(wire::DeviceEvent::Removed { reader })
        }
        DeviceEvent::TokenState { serial, state, .. } => {
            ServerEvent::Token(TokenEvent { serial, state })
        }
    }
}

fn event_reader(event: &DeviceEvent) -> Option<&str> {
    match event {
        DeviceEvent::Inserted { reader, .. } | DeviceEvent::Removed { reader } => Some(reader),
        DeviceEvent::TokenState { reader, .. } => reader.as_deref(),
    }
}

pub(super) async fn events(
    permit: Permit,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let caller = permit.caller();
    let receiver = permit.state().devices().subscribe();
    let readers = (caller.api_key.role == Role::Station).then(|| caller.api_key.readers.clone());
    let stop = permit.state().inner.stop.subscribe();
    let stream = futures_util::stream::unfold((receiver, stop), move |(mut receiver, mut stop)| {
        let readers = readers.clone();
        async move {
            loop {
                let next = tokio::select! {
                    next = receiver.recv() => next,
                    _ = stop.wait_for(|stopping| *stopping) => return None,
                };
                match next {
                    Ok(event) => {
                        if let Some(mine) = &readers {
                            if !event_reader(&event).is_some_and(|r| mine.iter().any(|m| m == r)) {
                                continue;
                            }
                        }
                        let event = server_event(event);
                        let sse = SseEvent::default()
                            .event(event.name())
                            .data(event.data().to_string());
                        return Some((Ok(sse), (receiver, stop)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
