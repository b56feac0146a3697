//! The admin's access keys: the API keys that belong to a person (admin,
//! desk, inspector) and those of the handover stations (a kiosk device
//! bound to its readers), listed through `GET /v1/apikeys`, granted
//! through `POST /v1/apikeys` and revoked through `DELETE /v1/apikeys/{id}`.
//! A staff key is never shown: its holder signs in to the console with
//! their own token, and the session acts with the key. A station key is
//! shown once, on the answer to its grant (never in an address, a log or
//! the audit): the admin puts it on the station, where it signs in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::session::Session;
use super::tokens::encode;
use super::view::{html, refused_with, Chrome};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::domain::Role;
use crate::wire::apikeys::{ApiKeyEntry, CreatedApiKey};
use crate::wire::devices::DeviceEntry;

/// The roles a staff key may have.
/// The least power first: the form's default is a desk key.
const STAFF: [Role; 3] = [Role::Desk, Role::Inspector, Role::Admin];

/// A staff or station key as a row (its role and state in words).
#[derive(Clone, Debug)]
pub struct KeyLine {
    pub id: i64,
    pub name: String,
    pub person: String,
    pub role: String,
    pub district: String,
    /// A station's readers, comma-separated.
    pub readers: String,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "staff_keys.html")]
struct StaffKeysPage {
    c: Chrome,
    keys: Vec<KeyLine>,
    /// (value, words) of the roles a staff key may have.
    roles: Vec<(String, String)>,
    /// The readers a key is present at now, offered to a station key.
    readers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    granted: Option<i64>,
    #[serde(default)]
    revoked: Option<i64>,
}

pub async fn staff_keys(
    State(state): State<ConsoleState>,
    session: Session,
    Query(done): Query<Done>,
) -> Response {
    render(&state, &session, done, None).await
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    done: Done,
    refusal: Option<&Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-staff-keys-title", "/admin/staff-keys");
    if let Some(id) = done.granted {
        c.notice = Some(c.t.with("console-staff-key-granted", "id", &id.to_string()));
    }
    if let Some(id) = done.revoked {
        c.notice = Some(c.t.with("console-staff-key-revoked", "id", &id.to_string()));
    }
    let zone = state.app().store().time_zone().clone();
    let entries = match state
        .call::<Vec<ApiKeyEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/apikeys",
            None,
        )
        .await
    {
        Ok(e) => e,
        Err(r) => {
            let page = html(&StaffKeysPage {
                c: c.refused(&r),
                keys: vec![],
                roles: vec![],
                readers: vec![],
            });
            return refused_with(&r, page);
        }
    };
    if let Some(r) = refusal {
        c = c.refused(r);
    }
    let keys = entries
        .into_iter()
        .filter(|k| k.person.is_some() && STAFF.contains(&k.role) || k.role == Role::Station)
        .map(|k| KeyLine {
            id: k.id,
            name: k.name,
            person: k.person.unwrap_or_default(),
            role: c.t.get(&format!("console-role-{}", k.role.as_str())),
            district: k.district.unwrap_or_default(),
            readers: k.readers.join(", "),
            created: crate::i18n::date_time(c.t.0, k.created_at, &zone),
            revoked: k
                .revoked_at
                .map(|at| crate::i18n::date_time(c.t.0, at, &zone)),
        })
        .collect();
    let roles = STAFF
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                c.t.get(&format!("console-role-{}", r.as_str())),
            )
        })
        .collect();
    let readers = state
        .call::<Vec<DeviceEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/devices",
            None,
        )
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.reader)
        .collect();
    html(&StaffKeysPage {
        c,
        keys,
        roles,
        readers,
    })
}

#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    district: String,
}

/// `POST /admin/staff-keys`: `POST /v1/apikeys` with the person; the key
/// the API answers is dropped, never shown.
pub async fn grant(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<GrantForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let person = form.person.trim();
    let role = form.role.trim();
    let district = form.district.trim();
    let body = json!({
        "name": format!("{person}-{role}"),
        "role": role,
        "person": person,
        "district": (!district.is_empty()).then_some(district),
    });
    match state
        .call::<CreatedApiKey>(
            Who::Session(&session.caller),
            Method::POST,
            "/v1/apikeys",
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!("/admin/staff-keys?granted={}", done.id)),
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

/// `POST /admin/staff-keys/revoke`: `DELETE /v1/apikeys/{id}`.
pub async fn revoke(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let key = form.key.trim().to_owned();
    let path = format!("/v1/apikeys/{}", encode(&key));
    match state
        .call::<()>(Who::Session(&session.caller), Method::DELETE, &path, None)
        .await
    {
        Ok(()) => see_other(&format!("/admin/staff-keys?revoked={}", encode(&key))),
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}

/// The answer to a station key's grant: the one page that shows the key.
#[derive(Template)]
#[template(path = "station_key.html")]
struct StationKeyPage {
    c: Chrome,
    id: i64,
    name: String,
    readers: String,
    /// The key itself, shown here once; dropped (zeroed) after rendering.
    key: zeroize::Zeroizing<String>,
}

/// The readers a station key form names: the ones ticked (`reader`,
/// repeated) and those typed (`other_readers`, one a line or comma
/// separated), trimmed, each once, in order.
fn readers_of(pairs: &[(String, String)]) -> Vec<String> {
    let mut readers: Vec<String> = Vec::new();
    let typed = pairs
        .iter()
        .filter(|(k, _)| k == "other_readers")
        .flat_map(|(_, v)| v.split(['\n', ',']));
    let ticked = pairs
        .iter()
        .filter(|(k, _)| k == "reader")
        .map(|(_, v)| v.as_str());
    for reader in ticked.chain(typed) {
        let reader = reader.trim();
        if !reader.is_empty() && !readers.iter().any(|r| r == reader) {
            readers.push(reader.to_owned());
        }
    }
    readers
}

/// `POST /admin/staff-keys/station`: `csrf`, `name`, `reader` (repeated)
/// and `other_readers`; `POST /v1/apikeys` with the role `station`. The
/// answer shows the key once; it is not in the address (no redirect), and
/// the page is never cached (`Cache-Control: no-store`, as every page).
pub async fn grant_station(
    State(state): State<ConsoleState>,
    session: Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    };
    if let Err(refused) = session.guard(&state, field("csrf")).await {
        return refused;
    }
    let readers = readers_of(&pairs);
    let body = json!({
        "name": field("name"),
        "role": Role::Station.as_str(),
        "readers": readers,
    });
    match state
        .call::<CreatedApiKey>(
            Who::Session(&session.caller),
            Method::POST,
            "/v1/apikeys",
            Some(body),
        )
        .await
    {
        Ok(done) => {
            let mut c = Chrome::new(&session, "console-station-key-title", "/admin/staff-keys");
            c.notice = Some(c.t.with("console-staff-key-granted", "id", &done.id.to_string()));
            let mut page = html(&StationKeyPage {
                c,
                id: done.id,
                name: done.name,
                readers: readers.join(", "),
                key: done.key,
            });
            *page.status_mut() = StatusCode::CREATED;
            page
        }
        Err(r) => {
            let answer = render(&state, &session, Done::default(), Some(&r)).await;
            refused_with(&r, answer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_station_binds_the_readers_ticked_and_typed_once_each() {
        let form = pairs(&[
            ("csrf", "x"),
            ("reader", "Virtual PCD 00 00"),
            ("reader", " hid:123 "),
            (
                "other_readers",
                "Salle 2, hid:123\r\n\nVirtual PCD 00 00\nSalle 3",
            ),
        ]);
        assert_eq!(
            readers_of(&form),
            ["Virtual PCD 00 00", "hid:123", "Salle 2", "Salle 3"]
        );
        assert!(readers_of(&pairs(&[("other_readers", " , \n")])).is_empty());
    }
}
