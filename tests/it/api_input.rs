//! Bad input on every route that takes a body: malformed JSON, unknown
//! fields, wrong types, oversized bodies → 400/413 with a stable code and no
//! state change; validation (school codes, dates, roles, PIN) → 422 `invalid`
//! naming the field, audited, no state change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api;

use api::{api, routes, Call, SCHOOL_EAST};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_wrong_type_and_oversized_bodies() {
    let api = api();
    for (call, allowed) in routes(&api.serial) {
        let Some(body) = call.body.clone() else {
            continue;
        };
        // A mail message, not JSON: its bad inputs are mail_ingest's cases.
        if call.uri == "/v1/mail/messages" {
            continue;
        }
        // A PSKC import takes a whole vendor file: its limit is larger.
        let limit = if call.uri == "/v1/tokens/import" {
            keyward::wire::tokens::MAX_IMPORT_BODY
        } else {
            keyward::wire::MAX_REQUEST_BODY
        };
        let big = format!(
            r#"{{"name":"{}","role":"gateway"}}"#,
            "x".repeat(limit + 6 * 1024)
        );
        let call = call.by(api.keys.of(allowed[0]));
        let unknown = format!(r#"{{"surprise":1,{}"#, &body[1..]);
        // privacyIDEA's call ignores the fields its plugins add
        // (docs/api.md); every other body refuses them.
        let compatible = call.uri == "/validate/check";
        if compatible {
            let (status, _) = api.send(call.clone().body(unknown.as_str())).await;
            assert_eq!(status, 200, "{call}");
        }
        for (sent, status, code) in [
            // Malformed JSON.
            (&body[..body.len() - 1], 400, "bad_request"),
            // An unknown field.
            (if compatible { "" } else { &unknown }, 400, "bad_request"),
            // Not an object / wrong type.
            ("[1,2]", 400, "bad_request"),
            // Missing fields.
            ("{}", 400, "bad_request"),
            // Over the route's limit.
            (&big, 413, "payload_too_large"),
        ] {
            let err = api
                .assert_refused(call.clone().body(sent), status, code)
                .await;
            if sent == unknown {
                let message = err["error"]["message"].as_str().unwrap();
                assert!(message.contains("surprise"), "{message}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passcode_or_pin_sent_as_a_number_is_never_echoed() {
    let api = api();
    let verify = Call::post("/v1/verify").by(&api.keys.gateway);
    let as_number = verify.body(r#"{"login":"jdupont","passcode":987654321098}"#);
    let err = api.assert_refused(as_number, 400, "bad_request").await;
    assert!(!err.to_string().contains("987654321098"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_the_field() {
    let api = api();
    let admin = |path: &str| Call::post(path).by(&api.keys.admin);
    let east_inspector = Call::post("/v1/rights/delegations").by(&api.keys.inspector_east);
    let cases = [
        // Bad school codes.
        (
            admin("/v1/schools").body(r#"{"uai":"0750001A","name":"x","district":"EAST"}"#),
            "uai",
        ),
        (
            admin("/v1/schools").body(r#"{"uai":"75001","name":"x","district":"EAST"}"#),
            "uai",
        ),
        (
            admin("/v1/rights/appointments")
                .body(r#"{"person":"cpetit","school":"0751710C","from":"2026-09-01"}"#),
            "school",
        ),
        (
            east_inspector
                .clone()
                .body(r#"{"person":"cpetit","school":"07517","from":"2026-09-01"}"#),
            "school",
        ),
        // Dates out of order, and not dates.
        (
            admin("/v1/rights/appointments").body(format!(
                r#"{{"person":"cpetit","school":"{SCHOOL_EAST}","from":"2026-09-01","until":"2026-08-31"}}"#
            )),
            "until",
        ),
        (
            east_inspector.body(format!(
                r#"{{"person":"cpetit","school":"{SCHOOL_EAST}","from":"2026-09-10","until":"2026-09-09"}}"#
            )),
            "until",
        ),
        (
            admin("/v1/rights/appointments").body(format!(
                r#"{{"person":"cpetit","school":"{SCHOOL_EAST}","from":"2026-02-30"}}"#
            )),
            "from",
        ),
        // Identifiers, roles, mail addresses, revoke reasons.
        (
            admin("/v1/people").body(r#"{"id":"Bad Id!","full_name":"x","mail":"x@ac-exemple.fr"}"#),
            "person id",
        ),
        (
            admin("/v1/people").body(r#"{"id":"someone","full_name":"x","mail":"x@gmail.com"}"#),
            "mail",
        ),
        (admin("/v1/apikeys").body(r#"{"name":"k","role":"superuser"}"#), "role"),
        (
            admin("/v1/apikeys").body(r#"{"name":"k","role":"gateway","district":"EAST"}"#),
            "district",
        ),
        (admin("/v1/apikeys").body(r#"{"name":"k","role":"station"}"#), "readers"),
        (
            admin("/v1/tokens").body(r#"{"serial":"Z1","profile":"no-such-profile"}"#),
            "profile",
        ),
        // Revoke reasons are checked before anything else happens.
        (
            admin(&format!("/v1/tokens/{}/revoke", api.serial)).body(r#"{"reason":"bored"}"#),
            "reason",
        ),
    ];
    for (call, field) in cases {
        api.assert_invalid(call, field).await;
    }
    // Prepare parameters.
    let prepare = admin(&format!("/v1/tokens/{}/prepare", api.serial));
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
        api.assert_invalid(prepare.clone().body(body), field).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_refusals_are_409_with_their_detail() {
    let api = api();
    let desk = |path: &str| Call::post(path).by(&api.keys.desk);
    // Handover of a stock token: the rule refuses.
    let restock = desk(&format!("/v1/tokens/{}/restock", api.serial));
    api.assert_conflict(restock, "invalid_transition").await;
    // A holder with no right.
    let prepare = desk(&format!("/v1/tokens/{}/prepare", api.serial));
    let no_right = r#"{"holder":"pmartin","reader":"keyward virtual reader"}"#;
    api.assert_conflict(prepare.clone().body(no_right), "no_right")
        .await;
    // The token is not at that reader.
    let elsewhere = prepare.body(r#"{"holder":"jdupont","reader":"Somewhere Else"}"#);
    let err = api.assert_refused(elsewhere, 409, "device_absent").await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Somewhere Else"));
    // Ending a delegation twice: a state refusal, 409, not a role refusal.
    let (status, _) = api
        .post(&api.keys.inspector_east, "/v1/rights/3/end", None)
        .await;
    assert_eq!(status, 200);
    let end_again = Call::post("/v1/rights/3/end").by(&api.keys.inspector_east);
    api.assert_conflict(end_again, "invalid_transition").await;
    // An appointment is ended only with a reason from the fixed list.
    let end_appointment = Call::post("/v1/rights/1/end").by(&api.keys.admin);
    let err = api.assert_refused(end_appointment, 422, "invalid").await;
    assert_eq!(err["error"]["field"], "reason");
    // Duplicates.
    let east_again = Call::post("/v1/districts").by(&api.keys.admin);
    let east_again = east_again.body(r#"{"code":"EAST","name":"x","inspector":"pmartin"}"#);
    api.assert_conflict(east_again, "duplicate").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_metrics_and_unknown_routes() {
    let api = api();
    let (status, body) = api.send(Call::get("/healthz")).await;
    assert_eq!(
        (status.as_u16(), body),
        (200, serde_json::json!({"status": "ok", "time_zone": "UTC"}))
    );
    let (status, _) = api.get(&api.keys.admin, "/v1/nothing-here").await;
    assert_eq!(status, 404);
    api.assert_metrics(&[
        "keyward_http_requests_total{route=\"/healthz\",status=\"200\"} 1",
        "keyward_device_events_total{kind=\"inserted\"} 1",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_query_parameters_are_400_json() {
    let api = api();
    let admin = |path: &str| Call::get(path).by(&api.keys.admin);
    for path in [
        "/v1/tokens?colour=red",
        "/v1/people?district=EAST&x=1",
        "/v1/schools?bogus",
        "/v1/receipts/1?format=json&sign=1",
    ] {
        api.assert_refused(admin(path), 400, "bad_request").await;
    }
    for (path, field) in [
        ("/v1/tokens?state=floating", "state"),
        ("/v1/receipts/1?format=pdf", "format"),
        ("/v1/receipts/1?lang=de", "lang"),
    ] {
        api.assert_invalid(admin(path), field).await;
    }
}
