//! Console sessions: a random id in a `Secure; HttpOnly; SameSite=Strict`
//! cookie, stored as SHA-256 only (`store::ops::console_sessions`), acting
//! with the rights of the staff or station key it was opened for (read
//! again, its row MAC checked, at every request); an idle and an absolute
//! timeout; a CSRF token derived from the id, asked on every state change.
//! Every refusal here is audited.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::view::Texts;
use super::{see_other, ConsoleState};
use crate::api::Caller;
use crate::domain::{Actor, ApiKeyRecord, PersonId, Role, UnixTime};
use crate::i18n::Lang;
use crate::store::ops::ConsoleSessionRow;
use crate::store::StoreError;

/// The session cookie's name.
pub const COOKIE: &str = "kw_session";
/// The language cookie's name (a preference, no secret).
pub const LANG_COOKIE: &str = "kw_lang";

/// How long sessions and the bootstrap link last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Seconds without a request after which a session ends.
    pub idle: u64,
    /// Seconds after sign-in after which a session ends whatever happens.
    pub absolute: u64,
    /// Seconds the first admin's bootstrap link stays usable.
    pub bootstrap: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            idle: 15 * 60,
            absolute: 10 * 3600,
            bootstrap: 7 * 86_400,
        }
    }
}

/// Why a stored session no longer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    SignedOut,
    Idle,
    Absolute,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::SignedOut => "signout",
            Ended::Idle => "idle",
            Ended::Absolute => "absolute",
        }
    }
}

/// Whether `row` still counts at `now` (pure).
pub fn check(row: &ConsoleSessionRow, now: UnixTime, settings: &Settings) -> Result<(), Ended> {
    if row.ended_at.is_some() {
        return Err(Ended::SignedOut);
    }
    if now >= row.created_at.saturating_add(settings.absolute) {
        return Err(Ended::Absolute);
    }
    if now >= row.last_seen.saturating_add(settings.idle) {
        return Err(Ended::Idle);
    }
    Ok(())
}

/// The CSRF token of a session: SHA-256 of a label and its id, in hex.
/// Nothing stored; unknowable without the cookie.
pub fn csrf_token(session_id: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(b"keyward console csrf\0");
    h.update(session_id.as_bytes());
    data_encoding::HEXLOWER.encode(&h.finalize())
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
}

/// The language asked by the `kw_lang` cookie; French by default.
pub fn lang_of(parts: &Parts) -> Lang {
    cookie(parts, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or(Lang::Fr)
}

/// The caller a key acts as, as the API's bearer authentication makes it:
/// a staff key as its person in the key's role, a station as the holder at
/// its reader (per request), the gateway as the gateway.
pub fn caller_of(record: ApiKeyRecord) -> Option<Caller> {
    let person = record
        .person
        .as_deref()
        .and_then(|p| PersonId::parse(p).ok());
    let actor = match record.role {
        Role::Admin => Actor::Admin(person?),
        Role::Desk => Actor::Desk(person?),
        Role::Inspector => Actor::Inspector(person?),
        Role::Station => Actor::Holder(PersonId::parse(&format!("station.{}", record.id)).ok()?),
        Role::Gateway => return None,
    };
    Some(Caller {
        api_key: record,
        actor,
    })
}

/// A signed-in session, taken by every page but sign-in's.
#[derive(Clone, Debug)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
    pub lang: Lang,
    hash: [u8; 32],
}

impl Session {
    pub fn role(&self) -> Role {
        self.caller.api_key.role
    }

    pub fn texts(&self) -> Texts {
        Texts(self.lang)
    }

    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// Refuses (403, audited) a state change whose form's CSRF token is
    /// not this session's.
    pub async fn guard(&self, state: &ConsoleState, token: &str) -> Result<(), Response> {
        if bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes())) {
            return Ok(());
        }
        state
            .refuse(
                self.caller.actor.clone(),
                "console",
                "a form without this session's CSRF token",
            )
            .await;
        Err(forbidden(self.lang))
    }
}

/// The 403 page of a refused state change.
pub fn forbidden(lang: Lang) -> Response {
    let t = Texts(lang);
    (
        StatusCode::FORBIDDEN,
        super::view::message_page(
            &t,
            &t.get("console-refused-title"),
            &t.get("console-refused"),
        ),
    )
        .into_response()
}

/// How a request without a valid session is answered: a page read goes to
/// sign-in; a state change is refused (403) and audited.
async fn no_session(state: &ConsoleState, parts: &Parts, why: &'static str) -> Response {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        let to = if parts.uri.path().starts_with("/station") {
            "/station/signin"
        } else {
            "/signin"
        };
        return see_other(to);
    }
    state.refuse(Actor::System, "console", why).await;
    forbidden(lang_of(parts))
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Response> {
        let Some(id) = cookie(parts, COOKIE).map(str::to_owned) else {
            return Err(no_session(state, parts, "no console session").await);
        };
        let hash = crate::store::ops::console_id_hash(&id);
        let settings = *state.settings();
        let store = Arc::clone(state.app().store());
        let now = state.app().clock().now();
        let found = tokio::task::spawn_blocking(move || {
            store.write(&Actor::System, "console.session", |tx| {
                let Some(row) = tx.console_session(&hash)? else {
                    return Ok(Err("an unknown console session"));
                };
                if let Err(ended) = check(&row, now, &settings) {
                    tx.end_console_session(&hash, ended.as_str())?;
                    return Ok(Err(match ended {
                        Ended::SignedOut => "a console session signed out",
                        Ended::Idle => "a console session past its idle timeout",
                        Ended::Absolute => "a console session past its absolute timeout",
                    }));
                }
                let Some(key) = tx.api_key_by_id(row.api_key)? else {
                    return Ok(Err("a console session of no key"));
                };
                let left = match key.person.as_deref().map(PersonId::parse) {
                    Some(Ok(p)) => tx.has_left(&p)?,
                    _ => false,
                };
                if key.revoked_at.is_some() || left {
                    tx.end_console_session(&hash, "revoked")?;
                    return Ok(Err("a console session of a revoked key or departed person"));
                }
                tx.touch_console_session(&hash)?;
                Ok::<_, StoreError>(Ok(key))
            })
        })
        .await;
        let key = match found {
            Ok(Ok(Ok(key))) => key,
            Ok(Ok(Err(why))) => return Err(no_session(state, parts, why).await),
            Ok(Err(StoreError::RowTampered { .. })) => {
                let why = "a console session changed outside keyward";
                return Err(no_session(state, parts, why).await);
            }
            _ => return Err(no_session(state, parts, "a console session unreadable").await),
        };
        let Some(caller) = caller_of(key) else {
            return Err(no_session(state, parts, "a console session of a gateway key").await);
        };
        Ok(Session {
            caller,
            csrf: csrf_token(&id),
            lang: lang_of(parts),
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(created: u64, seen: u64) -> ConsoleSessionRow {
        ConsoleSessionRow {
            api_key: 1,
            created_at: created,
            last_seen: seen,
            ended_at: None,
        }
    }

    #[test]
    fn sessions_end_when_idle_or_too_old() {
        let s = Settings::default();
        assert_eq!(check(&row(0, 0), s.idle - 1, &s), Ok(()));
        assert_eq!(check(&row(0, 0), s.idle, &s), Err(Ended::Idle));
        let busy = row(0, s.absolute - 10);
        assert_eq!(check(&busy, s.absolute - 1, &s), Ok(()));
        assert_eq!(check(&busy, s.absolute, &s), Err(Ended::Absolute));
        let ended = ConsoleSessionRow {
            ended_at: Some(5),
            ..row(0, 0)
        };
        assert_eq!(check(&ended, 6, &s), Err(Ended::SignedOut));
    }

    #[test]
    fn csrf_tokens_differ_by_session_and_are_not_the_id() {
        let a = csrf_token("A");
        assert_ne!(a, csrf_token("B"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains('A'));
    }

    #[test]
    fn cookies_are_secure_httponly_strict() {
        for c in [set_cookie("x"), clear_cookie()] {
            assert!(c.contains("; Secure; HttpOnly; SameSite=Strict"), "{c}");
        }
    }
}
