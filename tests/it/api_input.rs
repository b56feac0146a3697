//! Bad input on every route that takes a body: malformed JSON, unknown
//! fields, wrong types, oversized bodies → 400/413 with a stable code and no
//! state change; validation (school codes, dates, roles, PIN) → 422 `invalid`
//! naming the field, audited, no state change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api;

use api::{api, routes, SCHOOL_EAST};

fn key_for<'a>(api: &'a api::Api, role: &str) -> &'a str {
    api.keys
        .all()
        .into_iter()
        .find(|(r, _)| *r == role)
        .map(|(_, k)| k)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_wrong_type_and_oversized_bodies() {
    let api = api();
    let big = format!(r#"{{"name":"{}","role":"gateway"}}"#, "x".repeat(70 * 1024));
    for (method, path, body, allowed) in routes() {
        let Some(body) = body else { continue };
        let path = path.replace("{S}", &api.serial);
        let key = key_for(&api, allowed[0]);
        // Malformed JSON.
        api.assert_refused(
            method,
            &path,
            Some(key),
            Some(&body[..body.len() - 1]),
            400,
            "bad_request",
        )
        .await;
        // An unknown field.
        let unknown = format!(r#"{{"surprise":1,{}"#, &body[1..]);
        let err = api
            .assert_refused(method, &path, Some(key), Some(&unknown), 400, "bad_request")
            .await;
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("surprise"));
        // Not an object / wrong type.
        api.assert_refused(method, &path, Some(key), Some("[1,2]"), 400, "bad_request")
            .await;
        // Missing fields.
        api.assert_refused(method, &path, Some(key), Some("{}"), 400, "bad_request")
            .await;
        // Over 64 KiB.
        api.assert_refused(
            method,
            &path,
            Some(key),
            Some(&big),
            413,
            "payload_too_large",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passcode_or_pin_sent_as_a_number_is_never_echoed() {
    let api = api();
    let err = api
        .assert_refused(
            "POST",
            "/v1/verify",
            Some(&api.keys.gateway),
            Some(r#"{"login":"jdupont","passcode":987654321098}"#),
            400,
            "bad_request",
        )
        .await;
    assert!(!err.to_string().contains("987654321098"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_the_field() {
    let api = api();
    let admin = api.keys.admin.clone();
    let east_inspector = api.keys.inspector_east.clone();
    let cases: Vec<(&str, &str, &str, String, &str)> = vec![
        // Bad school codes.
        (
            &admin,
            "POST",
            "/v1/schools",
            r#"{"uai":"0750001A","name":"x","district":"EAST"}"#.into(),
            "uai",
        ),
        (
            &admin,
            "POST",
            "/v1/schools",
            r#"{"uai":"75001","name":"x","district":"EAST"}"#.into(),
            "uai",
        ),
        (
            &admin,
            "POST",
            "/v1/rights/appointments",
            r#"{"person":"cpetit","school":"0751710C","from":"2026-09-01"}"#.into(),
            "school",
        ),
        (
            &east_inspector,
            "POST",
            "/v1/rights/delegations",
            r#"{"person":"cpetit","school":"07517","from":"2026-09-01"}"#.into(),
            "school",
        ),
        // Dates out of order, and not dates.
        (
            &admin,
            "POST",
            "/v1/rights/appointments",
            format!(
                r#"{{"person":"cpetit","school":"{SCHOOL_EAST}","from":"2026-09-01","until":"2026-08-31"}}"#
            ),
            "until",
        ),
        (
            &east_inspector,
            "POST",
            "/v1/rights/delegations",
            format!(
                r#"{{"person":"cpetit","school":"{SCHOOL_EAST}","from":"2026-09-10","until":"2026-09-09"}}"#
            ),
            "until",
        ),
        (
            &admin,
            "POST",
            "/v1/rights/appointments",
            format!(r#"{{"person":"cpetit","school":"{SCHOOL_EAST}","from":"2026-02-30"}}"#),
            "from",
        ),
        // Identifiers, roles, mail addresses, revoke reasons.
        (
            &admin,
            "POST",
            "/v1/people",
            r#"{"id":"Bad Id!","full_name":"x","mail":"x@ac-exemple.fr"}"#.into(),
            "person id",
        ),
        (
            &admin,
            "POST",
            "/v1/people",
            r#"{"id":"someone","full_name":"x","mail":"x@gmail.com"}"#.into(),
            "mail",
        ),
        (
            &admin,
            "POST",
            "/v1/apikeys",
            r#"{"name":"k","role":"superuser"}"#.into(),
            "role",
        ),
        (
            &admin,
            "POST",
            "/v1/apikeys",
            r#"{"name":"k","role":"gateway","district":"EAST"}"#.into(),
            "district",
        ),
        (
            &admin,
            "POST",
            "/v1/apikeys",
            r#"{"name":"k","role":"station"}"#.into(),
            "readers",
        ),
        (
            &admin,
            "POST",
            "/v1/tokens",
            r#"{"serial":"Z1","profile":"no-such-profile"}"#.into(),
            "profile",
        ),
    ];
    for (key, method, path, body, field) in cases {
        let err = api
            .assert_refused(method, path, Some(key), Some(&body), 422, "invalid")
            .await;
        assert_eq!(err["error"]["field"], field, "{path} {body}: {err}");
    }
    // Revoke reasons are checked before anything else happens.
    let path = format!("/v1/tokens/{}/revoke", api.serial);
    let err = api
        .assert_refused(
            "POST",
            &path,
            Some(&admin),
            Some(r#"{"reason":"bored"}"#),
            422,
            "invalid",
        )
        .await;
    assert_eq!(err["error"]["field"], "reason");
    // Prepare parameters.
    let path = format!("/v1/tokens/{}/prepare", api.serial);
    for (body, field) in [
        (
            r#"{"holder":"jdupont","reader":"keyward virtual reader","digits":5}"#,
            "digits",
        ),
        (
            r#"{"holder":"jdupont","reader":"keyward virtual reader","kind":"motp"}"#,
            "kind",
        ),
        (
            r#"{"holder":"jdupont","reader":"keyward virtual reader","algorithm":"MD5"}"#,
            "algorithm",
        ),
        (
            r#"{"holder":"jdupont","reader":"keyward virtual reader","period":0}"#,
            "period",
        ),
        (
            r#"{"holder":"NOT VALID","reader":"keyward virtual reader"}"#,
            "holder",
        ),
    ] {
        let err = api
            .assert_refused("POST", &path, Some(&admin), Some(body), 422, "invalid")
            .await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_refusals_are_409_with_their_detail() {
    let api = api();
    let desk = api.keys.desk.clone();
    // Handover of a stock token: the rule refuses.
    let path = format!("/v1/tokens/{}/restock", api.serial);
    api.assert_conflict("POST", &path, Some(&desk), None, "invalid_transition")
        .await;
    // A holder with no right.
    let path = format!("/v1/tokens/{}/prepare", api.serial);
    api.assert_conflict(
        "POST",
        &path,
        Some(&desk),
        Some(r#"{"holder":"pmartin","reader":"keyward virtual reader"}"#),
        "no_right",
    )
    .await;
    // The token is not at that reader.
    let err = api
        .assert_refused(
            "POST",
            &path,
            Some(&desk),
            Some(r#"{"holder":"jdupont","reader":"Somewhere Else"}"#),
            409,
            "device_absent",
        )
        .await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Somewhere Else"));
    // Ending a delegation twice: a state refusal, 409, not a role refusal.
    let (status, _) = api
        .post(&api.keys.inspector_east, "/v1/rights/3/end", None)
        .await;
    assert_eq!(status, 200);
    api.assert_conflict(
        "POST",
        "/v1/rights/3/end",
        Some(&api.keys.inspector_east),
        None,
        "invalid_transition",
    )
    .await;
    // An appointment is not ended by hand.
    api.assert_conflict(
        "POST",
        "/v1/rights/1/end",
        Some(&api.keys.admin),
        None,
        "invalid_transition",
    )
    .await;
    // Duplicates.
    api.assert_conflict(
        "POST",
        "/v1/districts",
        Some(&api.keys.admin),
        Some(r#"{"code":"EAST","name":"x","inspector":"pmartin"}"#),
        "duplicate",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_metrics_and_unknown_routes() {
    let api = api();
    let (status, body) = api.call("GET", "/healthz", None, None).await;
    assert_eq!(
        (status.as_u16(), body),
        (200, serde_json::json!({"status": "ok"}))
    );
    let (status, _) = api.get(&api.keys.admin, "/v1/nothing-here").await;
    assert_eq!(status, 404);
    let (status, text) = api.call_raw("GET", "/metrics", None, None).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("keyward_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("keyward_device_events_total{kind=\"inserted\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_query_parameters_are_400_json() {
    let api = api();
    for path in [
        "/v1/tokens?colour=red",
        "/v1/people?district=EAST&x=1",
        "/v1/schools?bogus",
        "/v1/receipts/1?format=json&sign=1",
    ] {
        api.assert_refused("GET", path, Some(&api.keys.admin), None, 400, "bad_request")
            .await;
    }
    let err = api
        .assert_refused(
            "GET",
            "/v1/tokens?state=floating",
            Some(&api.keys.admin),
            None,
            422,
            "invalid",
        )
        .await;
    assert_eq!(err["error"]["field"], "state");
    for (path, field) in [
        ("/v1/receipts/1?format=pdf", "format"),
        ("/v1/receipts/1?lang=de", "lang"),
    ] {
        let err = api
            .assert_refused("GET", path, Some(&api.keys.admin), None, 422, "invalid")
            .await;
        assert_eq!(err["error"]["field"], field);
    }
}
