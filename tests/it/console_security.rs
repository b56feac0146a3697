//! The console's defences over plain HTTP (the router in process): every
//! state change needs its own session's CSRF token and a live session (not
//! signed out, not idle); the API's role and district checks refuse what
//! the API refuses; each refusal is audited and changes nothing. Cookies
//! carry Secure, HttpOnly and SameSite=Strict; every answer a strict CSP;
//! no PIN or key appears in a page, an address or the audit.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::support::api::{api, Api, READER};
use keyward::console::session::csrf_token;
use keyward::console::{Settings, CSP};
use keyward::domain::{api_key_hash, Actor};

pub(crate) const PIN: &str = "482915";

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

pub(crate) async fn send(
    api: &Api,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    form: &str,
) -> Answer {
    let app = keyward::console::with_api(api.state.clone(), Settings::default());
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(id) = cookie {
        request = request.header(header::COOKIE, format!("kw_session={id}"));
    }
    if method == "POST" {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let response = app
        .oneshot(request.body(Body::from(form.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A console session opened for API key `key` (as sign-in opens it): the
/// cookie's id and the session's CSRF token.
pub(crate) fn session(api: &Api, key: &str) -> (String, String) {
    let id = api
        .store
        .write(&Actor::System, "test", |tx| {
            let record = tx.api_key_by_hash(&api_key_hash(key))?.unwrap();
            tx.open_console_session(record.id, "test")
        })
        .unwrap();
    let csrf = csrf_token(&id);
    (id.to_string(), csrf)
}

/// The desk's "prepare" form posted in a session with its CSRF token.
pub(crate) async fn prepare(api: &Api, session: &str, csrf: &str) -> Answer {
    send(
        api,
        "POST",
        "/desk/prepare",
        Some(session),
        &prepare_form(api, Some(csrf)),
    )
    .await
}

fn prepare_form(api: &Api, csrf: Option<&str>) -> String {
    let mut form = format!(
        "reader={}&serial={}&holder=jdupont",
        enc(READER),
        api.serial
    );
    if let Some(token) = csrf {
        form.push_str(&format!("&csrf={token}"));
    }
    form
}

pub(crate) fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `POST uri` is refused with `status`, changes no state and is audited.
async fn assert_refused(api: &Api, uri: &str, cookie: &str, form: &str, status: u16) -> Answer {
    let before = api.snapshot();
    let head = api.audit_head();
    let answer = send(api, "POST", uri, Some(cookie), form).await;
    assert_eq!(
        answer.status.as_u16(),
        status,
        "{uri} {form}: {}",
        answer.body
    );
    assert_eq!(before, api.snapshot(), "{uri} {form} changed state");
    let audited = api.audit_after(head);
    assert!(
        audited.iter().any(|(_, action, _)| action == "refused"),
        "{uri} {form}: not audited: {audited:?}"
    );
    answer
}

#[tokio::test]
async fn a_state_change_needs_this_sessions_csrf_token() {
    let api = api();
    let (mine, my_csrf) = session(&api, &api.keys.desk);
    let (_, other_csrf) = session(&api, &api.keys.admin);
    for form in [
        prepare_form(&api, None),
        prepare_form(&api, Some("0000")),
        prepare_form(&api, Some(&other_csrf)),
    ] {
        assert_refused(&api, "/desk/prepare", &mine, &form, 403).await;
    }
    let done = prepare(&api, &mine, &my_csrf).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = done.headers[header::LOCATION].to_str().unwrap();
    assert_eq!(to, format!("/desk?prepared={}", api.serial));
}

#[tokio::test]
async fn signed_out_and_idle_sessions_change_nothing() {
    let api = api();
    let (id, csrf) = session(&api, &api.keys.desk);
    let out = send(&api, "POST", "/signout", Some(&id), &format!("csrf={csrf}")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let cleared = out.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("kw_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_refused(
        &api,
        "/desk/prepare",
        &id,
        &prepare_form(&api, Some(&csrf)),
        403,
    )
    .await;

    let (idle, idle_csrf) = session(&api, &api.keys.desk);
    let page = send(&api, "GET", "/desk", Some(&idle), "").await;
    assert_eq!(page.status, StatusCode::OK);
    api.clock.advance(Settings::default().idle);
    assert_refused(
        &api,
        "/desk/prepare",
        &idle,
        &prepare_form(&api, Some(&idle_csrf)),
        403,
    )
    .await;
    let page = send(&api, "GET", "/desk", Some(&idle), "").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/signin");
    // No session at all: the same refusal.
    assert_refused(
        &api,
        "/desk/prepare",
        "nothing",
        &prepare_form(&api, Some(&idle_csrf)),
        403,
    )
    .await;
}

#[tokio::test]
async fn the_apis_role_and_district_checks_refuse_console_actions() {
    let api = api();
    // An inspector may not prepare (the desk's operation).
    let (west, west_csrf) = session(&api, &api.keys.inspector_west);
    let refused = assert_refused(
        &api,
        "/desk/prepare",
        &west,
        &prepare_form(&api, Some(&west_csrf)),
        403,
    )
    .await;
    assert!(
        refused.body.contains("may not prepare a token"),
        "{}",
        refused.body
    );
    // The desk prepares a key for a director of EAST; WEST's inspector
    // may not hand it over (not found in their district).
    let (desk, desk_csrf) = session(&api, &api.keys.desk);
    let done = prepare(&api, &desk, &desk_csrf).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let handover = format!("/tokens/{}/handover", api.serial);
    let form = format!("csrf={west_csrf}&reader={}&place=Ecole", enc(READER));
    assert_refused(&api, &handover, &west, &form, 404).await;
    // Nor unlock a key (the desk's operation).
    let unlock = format!("/tokens/{}/act", api.serial);
    assert_refused(
        &api,
        &unlock,
        &west,
        &format!("csrf={west_csrf}&action=unlock"),
        403,
    )
    .await;
    // A station session may not hand over either.
    let (station, station_csrf) = session(&api, &api.keys.station);
    let form = format!("csrf={station_csrf}&reader={}&place=Ecole", enc(READER));
    assert_refused(&api, &handover, &station, &form, 403).await;
}

#[tokio::test]
async fn cookies_are_strict_and_every_answer_has_the_csp() {
    let api = api();
    for uri in [
        "/signin",
        "/station/signin",
        "/",
        "/desk",
        "/glance",
        "/console.css",
    ] {
        let answer = send(&api, "GET", uri, None, "").await;
        let h = &answer.headers;
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP, "{uri}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert!(!answer.body.contains("<script"), "{uri}");
        assert!(!answer.body.contains("style="), "{uri}: inline style");
    }
    assert!(!CSP.contains("unsafe") && CSP.contains("default-src 'none'"));
    // The first admin's one-time link opens one session, once.
    let admin_id = api
        .store
        .read(|tx| {
            Ok(tx
                .api_key_by_hash(&api_key_hash(&api.keys.admin))?
                .unwrap()
                .id)
        })
        .unwrap();
    let token = api
        .store
        .write(&Actor::System, "test", |tx| {
            tx.create_console_bootstrap(admin_id)
        })
        .unwrap();
    let form = format!("token={}", token.as_str());
    let first = send(&api, "POST", "/bootstrap", None, &form).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let cookie = first.headers[header::SET_COOKIE].to_str().unwrap();
    for flag in ["; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let id = cookie
        .trim_start_matches("kw_session=")
        .split(';')
        .next()
        .unwrap();
    let desk = send(&api, "GET", "/desk", Some(id), "").await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(!desk.body.contains(id), "the session id in a page");
    let head = api.audit_head();
    let again = send(&api, "POST", "/bootstrap", None, &form).await;
    assert_ne!(again.status, StatusCode::SEE_OTHER);
    assert!(again.headers.get(header::SET_COOKIE).is_none());
    assert!(api.audit_after(head).iter().any(|(_, a, _)| a == "refused"));
}

#[tokio::test]
async fn no_pin_or_key_in_a_page_an_address_or_the_audit() {
    let api = api();
    let (desk, desk_csrf) = session(&api, &api.keys.desk);
    let (east, east_csrf) = session(&api, &api.keys.inspector_east);
    let (station, station_csrf) = session(&api, &api.keys.station);
    let mut seen = Vec::new();
    let done = prepare(&api, &desk, &desk_csrf).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let form = format!("csrf={east_csrf}&reader={}&place=Ecole", enc(READER));
    let handed = send(
        &api,
        "POST",
        &format!("/tokens/{}/handover", api.serial),
        Some(&east),
        &form,
    )
    .await;
    assert_eq!(handed.status, StatusCode::SEE_OTHER, "{}", handed.body);
    let slip = handed.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    seen.push(send(&api, "GET", &slip, Some(&east), "").await);
    seen.push(send(&api, "GET", "/station", Some(&station), "").await);
    let activate = |pin_again: &str| {
        format!(
            "csrf={station_csrf}&reader={}&serial={}&pin={PIN}&pin_again={pin_again}&accept=yes",
            enc(READER),
            api.serial
        )
    };
    let differ = send(
        &api,
        "POST",
        "/station/activate",
        Some(&station),
        &activate("730418"),
    )
    .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    seen.push(differ);
    let active = send(
        &api,
        "POST",
        "/station/activate",
        Some(&station),
        &activate(PIN),
    )
    .await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.body);
    assert!(active.body.contains("receipt-export"), "the slip");
    seen.push(active);
    for answer in &seen {
        assert!(!answer.body.contains(PIN), "a PIN in a page");
        for key in [&api.keys.station, &api.keys.desk, &api.keys.inspector_east] {
            assert!(!answer.body.contains(key.as_str()), "a key in a page");
        }
        for (_, value) in &answer.headers {
            assert!(
                !value.to_str().unwrap_or("").contains(PIN),
                "a PIN in a header"
            );
        }
    }
    let conn = rusqlite::Connection::open_with_flags(
        api.store.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let audit: Vec<String> = conn
        .prepare("SELECT actor || action || subject || detail FROM audit")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(audit.iter().any(|a| a.contains("console.signin")));
    for entry in audit {
        assert!(!entry.contains(PIN), "a PIN in the audit: {entry}");
        assert!(!entry.contains(&station), "a session id in the audit");
    }
}

/// Makes jdupont's key active at the reader with [`PIN`], through the
/// console as the desk, EAST's inspector and the station would.
pub(crate) async fn active_director_key(api: &Api) {
    let (desk, desk_csrf) = session(api, &api.keys.desk);
    let (east, east_csrf) = session(api, &api.keys.inspector_east);
    let (station, station_csrf) = session(api, &api.keys.station);
    let steps = [
        (
            desk,
            "/desk/prepare".to_owned(),
            prepare_form(api, Some(&desk_csrf)),
        ),
        (
            east,
            format!("/tokens/{}/handover", api.serial),
            format!("csrf={east_csrf}&reader={}&place=Ecole", enc(READER)),
        ),
        (
            station,
            "/station/activate".to_owned(),
            format!(
                "csrf={station_csrf}&reader={}&serial={}&pin={PIN}&pin_again={PIN}&accept=yes",
                enc(READER),
                api.serial
            ),
        ),
    ];
    for (cookie, uri, form) in steps {
        let done = send(api, "POST", &uri, Some(&cookie), &form).await;
        assert!(
            done.status.is_success() || done.status.is_redirection(),
            "{uri}: {}",
            done.body
        );
        api.clock.advance(30);
    }
}

/// A code from the key at the reader, read by the desk.
pub(crate) async fn code(api: &Api) -> String {
    api.clock.advance(30);
    let uri = format!("/v1/devices/{}/code", enc(READER));
    let (status, answer) = api.post(&api.keys.desk, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn staff_sign_in_with_login_pin_and_code_through_verify() {
    let api = api();
    active_director_key(&api).await;
    // jdupont is also on the desk: their desk key is their console role.
    api.store
        .write(&Actor::System, "test", |tx| {
            tx.create_api_key(
                "jd-desk",
                keyward::domain::Role::Desk,
                None,
                &[],
                Some(&crate::support::world::pid("jdupont")),
            )
        })
        .unwrap();
    // A wrong PIN is refused by verify (audited there), no cookie.
    let head = api.audit_head();
    let wrong = format!("login=jdupont&pin=730418&code={}", code(&api).await);
    let refused = send(&api, "POST", "/signin", None, &wrong).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(refused.headers.get(header::SET_COOKIE).is_none());
    assert!(
        !refused.body.contains("730418"),
        "the PIN typed, shown again"
    );
    assert!(api
        .audit_after(head)
        .iter()
        .any(|(_, a, _)| a.starts_with("verify.")));
    // The right PIN and a fresh code open a desk session.
    let right = format!("login=jdupont&pin={PIN}&code={}", code(&api).await);
    let opened = send(&api, "POST", "/signin", None, &right).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let cookie = opened.headers[header::SET_COOKIE].to_str().unwrap();
    let id = cookie
        .trim_start_matches("kw_session=")
        .split(';')
        .next()
        .unwrap();
    let desk = send(&api, "GET", "/desk", Some(id), "").await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(desk.body.contains("jdupont (guichet)"), "{}", desk.body);
    // The same code again is a replay: refused.
    let replay = send(&api, "POST", "/signin", None, &right).await;
    assert!(replay.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn an_inspector_grants_delegations_in_their_district_only() {
    use crate::support::api::{SCHOOL_EAST, SCHOOL_WEST};
    let api = api();
    let (west, west_csrf) = session(&api, &api.keys.inspector_west);
    let form = |csrf: &str, school: &str| {
        format!("csrf={csrf}&person=jdupont&school={school}&from=2026-09-20&until=2026-12-20")
    };
    assert_refused(
        &api,
        "/delegations",
        &west,
        &form(&west_csrf, SCHOOL_EAST),
        404,
    )
    .await;
    // Without the right token, not even in their own district.
    assert_refused(&api, "/delegations", &west, &form("x", SCHOOL_WEST), 403).await;
    let granted = send(
        &api,
        "POST",
        "/delegations",
        Some(&west),
        &form(&west_csrf, SCHOOL_WEST),
    )
    .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let to = granted.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let id = to.rsplit('=').next().unwrap();
    let page = send(&api, "GET", &to, Some(&west), "").await;
    assert!(page.body.contains(id), "{}", page.body);
    // EAST's inspector may not end WEST's delegation; WEST's may.
    let (east, east_csrf) = session(&api, &api.keys.inspector_east);
    let end = |csrf: &str| format!("csrf={csrf}&right={id}");
    let refused = send(
        &api,
        "POST",
        "/delegations/end",
        Some(&east),
        &end(&east_csrf),
    )
    .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    let ended = send(
        &api,
        "POST",
        "/delegations/end",
        Some(&west),
        &end(&west_csrf),
    )
    .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
}
