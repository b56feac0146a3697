//! Staff sign in to the console with their own key and no school right:
//! the verify core proves possession (PIN + code, replay floor, counters)
//! for the purpose `staff_sign_in`, entitled by a live staff key, while the
//! gateway's verify (purpose `gateway`) still asks for a school right. A
//! code spent on one purpose is never accepted for the other.

use axum::http::{header, StatusCode};
use serde_json::json;

use crate::console_security::{active_director_key, code, send, Answer, PIN};
use crate::support::api::{api, Api, SCHOOL_EAST};
use crate::support::world::{date, pid, uai};
use keyward::domain::{Actor, EndReason, RightOrigin, Role};

/// jdupont's appointment (right 1, from the setup) ended: an active key,
/// no school right in force.
fn end_jdupont_right(api: &Api) {
    api.store
        .write(&Actor::System, "test", |tx| {
            tx.end_right(1, Some(EndReason::Autre), None)
        })
        .unwrap();
}

fn give_staff_key(api: &Api, role: Role) -> i64 {
    // An inspector key belongs to its district's inspector: jdupont
    // inspects a district of their own.
    let district = (role == Role::Inspector).then_some("NORD");
    api.store
        .write(&Actor::System, "test", |tx| {
            if district.is_some() {
                tx.add_district("NORD", "Nord", &pid("jdupont"))?;
            }
            let key = tx.create_api_key("jd-staff", role, district, &[], Some(&pid("jdupont")))?;
            let id = tx
                .api_key_by_hash(&keyward::domain::api_key_hash(&key.key))?
                .map(|k| k.id);
            Ok(id.unwrap_or(0))
        })
        .unwrap()
}

/// The verify rows' details (action, detail) written after `seq`.
fn verify_rows_after(api: &Api, seq: i64) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open_with_flags(
        api.store.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT action, detail FROM audit WHERE seq > ?1 AND action LIKE 'verify.%'
             AND subject = 'jdupont' ORDER BY seq",
        )
        .unwrap();
    stmt.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn sign_in(api: &Api, code: &str) -> Answer {
    let form = format!("login=jdupont&pin={PIN}&code={code}");
    send(api, "POST", "/signin", None, &form).await
}

async fn gateway(api: &Api, code: &str) -> Option<String> {
    let (status, answer) = api
        .verify(&json!({"login": "jdupont", "passcode": format!("{PIN}{code}")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["result"].as_str().map(str::to_owned)
}

fn session_id(answer: &Answer) -> String {
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    cookie
        .trim_start_matches("kw_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn staff_with_no_school_right_sign_in_but_the_gateway_still_asks_for_one() {
    for (role, page, shown) in [
        (Role::Desk, "/desk", "jdupont (guichet)"),
        (Role::Inspector, "/inspector", "jdupont ("),
        (Role::Admin, "/desk", "jdupont ("),
    ] {
        let api = api();
        active_director_key(&api).await;
        end_jdupont_right(&api);
        give_staff_key(&api, role);
        // The gateway refuses the holder's right PIN and code: no right.
        let head = api.audit_head();
        assert_eq!(
            gateway(&api, &code(&api).await).await.as_deref(),
            Some("reject")
        );
        let rows = verify_rows_after(&api, head);
        assert!(
            rows.iter().any(|(a, d)| a == "verify.reject"
                && d.contains("reason=no right in force")
                && d.contains("purpose=gateway")),
            "{role:?}: {rows:?}"
        );
        // The console signs them in with a fresh code, through verify.
        let head = api.audit_head();
        let opened = sign_in(&api, &code(&api).await).await;
        assert_eq!(
            opened.status,
            StatusCode::SEE_OTHER,
            "{role:?}: {}",
            opened.body
        );
        let id = session_id(&opened);
        let rows = verify_rows_after(&api, head);
        assert!(
            rows.iter()
                .any(|(a, d)| a == "verify.accept" && d.contains("purpose=staff_sign_in")),
            "{role:?}: {rows:?}"
        );
        let home = send(&api, "GET", page, Some(&id), "").await;
        assert_eq!(home.status, StatusCode::OK, "{role:?}");
        assert!(home.body.contains(shown), "{role:?}: {}", home.body);
        // A wrong PIN at the console counts as a failure, as at the gateway.
        let wrong = format!("login=jdupont&pin=730418&code={}", code(&api).await);
        let refused = send(&api, "POST", "/signin", None, &wrong).await;
        assert!(refused.headers.get(header::SET_COOKIE).is_none());
        let rows = verify_rows_after(&api, head);
        assert!(
            rows.iter().any(|(a, d)| a == "verify.reject"
                && d.contains("failures=1")
                && d.contains("purpose=staff_sign_in")),
            "{role:?}: {rows:?}"
        );
    }
}

#[tokio::test]
async fn a_key_holder_without_a_live_staff_key_cannot_sign_in() {
    let api = api();
    active_director_key(&api).await;
    // A director with a right in force, a valid key, but no staff key:
    // refused by verify itself (the code is spent, no counted failure).
    let head = api.audit_head();
    let spent = code(&api).await;
    let refused = sign_in(&api, &spent).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(refused.headers.get(header::SET_COOKIE).is_none());
    let rows = verify_rows_after(&api, head);
    assert!(
        rows.iter().any(|(a, d)| a == "verify.reject"
            && d.contains("reason=no staff key failures=0")
            && d.contains("purpose=staff_sign_in")),
        "{rows:?}"
    );
    assert!(!rows.iter().any(|(a, _)| a == "verify.accept"), "{rows:?}");
    // The code the refused sign-in proved is spent for the gateway too.
    assert_eq!(gateway(&api, &spent).await.as_deref(), Some("reject"));
    // A revoked staff key does not count either.
    let key = give_staff_key(&api, Role::Desk);
    api.store
        .write(&Actor::System, "test", |tx| tx.revoke_api_key(key))
        .unwrap();
    // (A minute later: identical refusals of one minute are aggregated.)
    api.clock.advance(60);
    let head = api.audit_head();
    let refused = sign_in(&api, &code(&api).await).await;
    assert!(refused.headers.get(header::SET_COOKIE).is_none());
    let rows = verify_rows_after(&api, head);
    assert!(
        rows.iter()
            .any(|(a, d)| a == "verify.reject" && d.contains("reason=no staff key")),
        "{rows:?}"
    );
    // The director's key still opens the gateway.
    assert_eq!(
        gateway(&api, &code(&api).await).await.as_deref(),
        Some("accept")
    );
}

#[tokio::test]
async fn a_code_spent_signing_in_is_not_accepted_at_the_gateway() {
    let api = api();
    active_director_key(&api).await;
    end_jdupont_right(&api);
    give_staff_key(&api, Role::Desk);
    let used = code(&api).await;
    let opened = sign_in(&api, &used).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    // jdupont is appointed again: the gateway would accept a fresh code...
    api.store
        .write(&Actor::System, "test", |tx| {
            tx.grant_right(
                RightOrigin::Appointment,
                &pid("jdupont"),
                &uai(SCHOOL_EAST),
                date("2026-09-01"),
                None,
            )
            .map(|_| ())
        })
        .unwrap();
    // ... but not the code spent signing in: a replay.
    let head = api.audit_head();
    assert_eq!(gateway(&api, &used).await.as_deref(), Some("reject"));
    let rows = verify_rows_after(&api, head);
    assert!(
        rows.iter().any(|(a, d)| a == "verify.reject"
            && d.contains("reason=code already used")
            && d.contains("purpose=gateway")),
        "{rows:?}"
    );
    // Nor a second sign-in with it.
    let again = sign_in(&api, &used).await;
    assert!(again.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(
        gateway(&api, &code(&api).await).await.as_deref(),
        Some("accept")
    );
}
