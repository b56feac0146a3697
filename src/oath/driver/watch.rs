//! Reader watcher: reports card insertion and removal at every reader, and
//! readers appearing or going, via `SCardGetStatusChange` with the
//! `\\?PnP?\Notification` pseudo-reader. The event derivation is a pure
//! function of the previous and the new presence map.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::time::{Duration, Instant};

use super::pcsc::Pcsc;
use super::TokenError;

/// Something that happened at a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReaderEvent {
    ReaderAdded { reader: String },
    ReaderRemoved { reader: String },
    Inserted { reader: String, atr: Vec<u8> },
    Removed { reader: String },
}

/// Presence of a card per reader, with its ATR.
pub type Presence = BTreeMap<String, Option<Vec<u8>>>;

/// Events that turn `before` into `after`. Pure.
pub fn diff(before: &Presence, after: &Presence) -> Vec<ReaderEvent> {
    let mut events = Vec::new();
    for (reader, card) in before {
        if !after.contains_key(reader) {
            if card.is_some() {
                events.push(ReaderEvent::Removed {
                    reader: reader.clone(),
                });
            }
            events.push(ReaderEvent::ReaderRemoved {
                reader: reader.clone(),
            });
        }
    }
    for (reader, card) in after {
        let old = before.get(reader);
        if old.is_none() {
            events.push(ReaderEvent::ReaderAdded {
                reader: reader.clone(),
            });
        }
        match (old.cloned().flatten(), card) {
            (None, Some(atr)) => events.push(ReaderEvent::Inserted {
                reader: reader.clone(),
                atr: atr.clone(),
            }),
            (Some(_), None) => events.push(ReaderEvent::Removed {
                reader: reader.clone(),
            }),
            _ => {}
        }
    }
    events
}

/// Watches every reader of one PC/SC context.
#[derive(Debug)]
pub struct Watcher {
    pcsc: Pcsc,
    known: Presence,
}

impl Watcher {
    pub fn new(pcsc: Pcsc) -> Watcher {
        Watcher {
            pcsc,
            known: Presence::new(),
        }
    }

    /// The presence map as of the last poll.
    pub fn presence(&self) -> &Presence {
        &self.known
    }

    /// Blocks until something changes or `timeout` passes, then returns the
    /// events since the last call (the first call reports everything present).
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<ReaderEvent>, TokenError> {
        let deadline = Instant::now() + timeout;
        loop {
            let readers = self.pcsc.readers()?;
            let mut states: Vec<::pcsc::ReaderState> = Vec::with_capacity(readers.len() + 1);
            states.push(::pcsc::ReaderState::new(
                ::pcsc::PNP_NOTIFICATION(),
                ::pcsc::State::UNAWARE,
            ));
            for name in &readers {
                if let Ok(c) = CString::new(name.as_str()) {
                    states.push(::pcsc::ReaderState::new(c, ::pcsc::State::UNAWARE));
                }
            }
            // UNAWARE + no wait: pcscd fills in every reader's state at once.
            self.status_change(Duration::ZERO, &mut states)?;
            let mut after = self.snapshot(&states);
            for r in readers {
                after.entry(r).or_insert(None);
            }
            let events = diff(&self.known, &after);
            let now = Instant::now();
            if !events.is_empty() || now >= deadline {
                self.known = after;
                return Ok(events);
            }
            // Wait for a change to what we now know (or a reader coming or going),
            // capped so a new reader is picked up promptly.
            for s in states.iter_mut() {
                s.sync_current_state();
            }
            let wait = (deadline - now).min(Duration::from_millis(500));
            self.status_change(wait, &mut states)?;
        }
    }

    fn status_change(
        &self,
        wait: Duration,
        states: &mut [::pcsc::ReaderState],
    ) -> Result<(), TokenError> {
        match self.pcsc.context().get_status_change(wait, states) {
            Ok(()) | Err(::pcsc::Error::Timeout) => Ok(()),
            Err(e) => Err(TokenError::Pcsc {
                context: "get status change",
                source: e,
            }),
        }
    }

    fn snapshot(&self, states: &[::pcsc::ReaderState]) -> Presence {
        let mut out = Presence::new();
        for s in states {
            let name = s.name().to_string_lossy().into_owned();
            if name == ::pcsc::PNP_NOTIFICATION().to_string_lossy() {
                continue;
            }
            let e = s.event_state();
            if e.contains(::pcsc::State::UNKNOWN) || e.contains(::pcsc::State::IGNORE) {
                continue;
            }
            let present = e.contains(::pcsc::State::PRESENT) && !e.contains(::pcsc::State::MUTE);
            out.insert(name, present.then(|| s.atr().to_vec()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_reports_every_transition() {
        let mut a = Presence::new();
        a.insert("r0".into(), None);
        a.insert("r1".into(), Some(vec![0x3B]));
        a.insert("gone".into(), Some(vec![1]));
        let mut b = Presence::new();
        b.insert("r0".into(), Some(vec![0x3B, 1]));
        b.insert("r1".into(), None);
        b.insert("new".into(), None);
        let ev = diff(&a, &b);
        assert_eq!(
            ev,
            vec![
                ReaderEvent::Removed {
                    reader: "gone".into()
                },
                ReaderEvent::ReaderRemoved {
                    reader: "gone".into()
                },
                ReaderEvent::ReaderAdded {
                    reader: "new".into()
                },
                ReaderEvent::Inserted {
                    reader: "r0".into(),
                    atr: vec![0x3B, 1]
                },
                ReaderEvent::Removed {
                    reader: "r1".into()
                },
            ]
        );
        assert!(diff(&b, &b).is_empty());
    }
}
