//! Which audit entries call for a mail, and to whom (pure): a replayed
//! code or a lock on a key alerts its holder; a replacement key prepared
//! tells the holder and the inspector that it is ready. The daemon reads
//! the audit after a cursor (`store::ops::notices`), so the verify core
//! needs no hook.

use crate::i18n::Lang;

/// A mail an audit entry calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// To the holder (`person`): something happened on their key.
    Alert { person: String, event: AlertEvent },
    /// To the holder and the inspector of the key's district.
    KeyReady { person: String, token: String },
    /// To the holder and the inspector: emergency access on `token` until
    /// `until` (Unix time).
    EmergencyGranted {
        person: String,
        token: String,
        until: u64,
    },
}

/// What the alert tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEvent {
    Replay,
    Locked,
}

impl AlertEvent {
    pub fn name(self) -> &'static str {
        match self {
            AlertEvent::Replay => "replay",
            AlertEvent::Locked => "locked",
        }
    }

    /// The words of the alert mail.
    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (AlertEvent::Replay, Lang::Fr) => "un code déjà utilisé a été présenté",
            (AlertEvent::Replay, Lang::En) => "a code already used was presented",
            (AlertEvent::Locked, Lang::Fr) => "la clé a été verrouillée après des échecs répétés",
            (AlertEvent::Locked, Lang::En) => "the key was locked after repeated failures",
        }
    }
}

fn field<'a>(detail: &'a str, key: &str) -> Option<&'a str> {
    detail
        .split_whitespace()
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

/// The notices of one audit entry.
pub fn notices_of(action: &str, subject: &str, detail: &str) -> Vec<Notice> {
    let mut out = Vec::new();
    match action {
        "verify.reject" if subject != "-" => {
            // The verify core writes the reason in words ("code already
            // used"); its short name is accepted too.
            let replay = ["reason=code already used", "reason=replay"]
                .iter()
                .any(|r| detail.starts_with(r) || detail.contains(&format!(" {r}")));
            if replay {
                out.push(Notice::Alert {
                    person: subject.to_owned(),
                    event: AlertEvent::Replay,
                });
            }
            if field(detail, "locked") == Some("now") {
                out.push(Notice::Alert {
                    person: subject.to_owned(),
                    event: AlertEvent::Locked,
                });
            }
        }
        "replacement.prepare" => {
            if let Some(token) = field(detail, "new_token") {
                out.push(Notice::KeyReady {
                    person: subject.to_owned(),
                    token: token.to_owned(),
                });
            }
        }
        "emergency.grant" => {
            let until = field(detail, "expires_at").and_then(|t| t.parse().ok());
            if let (Some(token), Some(until)) = (field(detail, "token"), until) {
                out.push(Notice::EmergencyGranted {
                    person: subject.to_owned(),
                    token: token.to_owned(),
                    until,
                });
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_locks_and_ready_keys_make_notices() {
        assert_eq!(
            notices_of(
                "verify.reject",
                "adurand",
                "reason=code already used failures=0"
            ),
            vec![Notice::Alert {
                person: "adurand".into(),
                event: AlertEvent::Replay
            }]
        );
        assert_eq!(
            notices_of(
                "verify.reject",
                "adurand",
                "reason=wrong_code failures=10 locked=now"
            ),
            vec![Notice::Alert {
                person: "adurand".into(),
                event: AlertEvent::Locked
            }]
        );
        assert!(notices_of("verify.reject", "adurand", "reason=wrong_code failures=1").is_empty());
        assert!(notices_of("verify.reject", "-", "reason=replay").is_empty());
        assert_eq!(
            notices_of(
                "replacement.prepare",
                "adurand",
                "request=1 old_token=A new_token=B"
            ),
            vec![Notice::KeyReady {
                person: "adurand".into(),
                token: "B".into()
            }]
        );
    }
}
