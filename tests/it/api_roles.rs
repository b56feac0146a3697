//! Every route × every role through `app()` with `oneshot`: allowed roles get
//! past authorisation, every other role is refused 403 (audited, no state
//! change), and no key, an unknown key or a revoked key is 401.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api;

use api::{api, route, routes, Call, READER, SCHOOL_EAST};
use keyward::api::Operation;

/// Who may do what, pinned: a change to an operation's roles must change
/// this table too.
const ROLES: &[(&str, &str, &[&str])] = &[
    ("POST", "/v1/verify", &["admin", "gateway"]),
    ("POST", "/v1/apikeys", ADMIN),
    ("GET", "/v1/apikeys", ADMIN),
    ("DELETE", "/v1/apikeys/{id}", ADMIN),
    ("POST", "/v1/districts", ADMIN),
    ("GET", "/v1/districts", DESK_INSP),
    ("POST", "/v1/schools", ADMIN),
    ("GET", "/v1/schools", DESK_INSP),
    ("POST", "/v1/people", DESK),
    ("POST", "/v1/people/{id}/leave", ADMIN),
    ("GET", "/v1/people", DESK_INSP),
    ("GET", "/v1/people/{id}", DESK_INSP),
    ("GET", "/v1/people/{id}/rights", DESK_INSP),
    ("POST", "/v1/rights/appointments", ADMIN),
    ("POST", "/v1/rights/delegations", &["admin", "inspector"]),
    ("POST", "/v1/rights/{id}/end", &["admin", "inspector"]),
    ("POST", "/v1/key-requests", &["inspector"]),
    ("GET", "/v1/key-requests", DESK_INSP),
    ("POST", "/v1/replacement-requests", DESK),
    ("GET", "/v1/replacement-requests", DESK),
    ("POST", "/v1/replacement-requests/{id}/prepare", DESK),
    ("POST", "/v1/replacement-requests/{id}/qualify", DESK),
    ("POST", "/v1/replacement-requests/{id}/emergency", DESK_INSP),
    ("GET", "/v1/emergency-access", DESK_INSP),
    ("POST", "/v1/emergency-access/{serial}/revoke", DESK_INSP),
    ("POST", "/v1/mail/scheduled-notices", DESK),
    ("POST", "/v1/mail/messages", DESK),
    ("GET", "/v1/devices", &["admin", "desk", "station"]),
    ("POST", "/v1/devices/{reader}/code", DESK),
    ("POST", "/v1/devices/{reader}/touch", DESK),
    ("GET", "/v1/tokens", DESK_INSP),
    ("GET", "/v1/tokens/{serial}", DESK_INSP),
    ("POST", "/v1/tokens", DESK),
    ("POST", "/v1/tokens/{serial}/prepare", DESK),
    ("POST", "/v1/tokens/import", DESK),
    ("POST", "/v1/tokens/{serial}/bind", DESK),
    ("POST", "/v1/tokens/{serial}/handover", DESK_INSP),
    ("POST", "/v1/tokens/{serial}/activate", &["station"]),
    ("POST", "/v1/tokens/{serial}/return", DESK_INSP),
    ("POST", "/v1/tokens/{serial}/receive", DESK),
    ("POST", "/v1/tokens/{serial}/wipe", DESK),
    ("POST", "/v1/tokens/{serial}/restock", DESK),
    ("POST", "/v1/tokens/{serial}/unblock-pin", DESK),
    ("POST", "/v1/tokens/{serial}/revoke", DESK_INSP),
    ("POST", "/v1/tokens/{serial}/unlock", DESK),
    ("POST", "/v1/tokens/{serial}/resync", DESK),
    ("POST", "/v1/tokens/{serial}/reset-pin", DESK_INSP),
    (
        "POST",
        "/v1/tokens/{serial}/pin-reset-approval",
        &["inspector"],
    ),
    ("POST", "/v1/tokens/{serial}/forgotten-pin", &["station"]),
    ("GET", "/v1/tokens/{serial}/receipts", DESK_INSP),
    ("GET", "/v1/receipts/{id}", DESK_INSP),
    ("GET", "/v1/reports/overdue", DESK_INSP),
    ("GET", "/v1/reports/in-transit", DESK_INSP),
    ("GET", "/v1/reports/token-states", DESK_INSP),
    ("GET", "/v1/audit", ADMIN),
    ("GET", "/v1/audit/verify", ADMIN),
    ("POST", "/v1/directory/sync", ADMIN),
    ("GET", "/v1/directory/status", ADMIN),
    ("GET", "/v1/events", &["admin", "desk", "station"]),
    ("GET", "/v1/reports/return-weeks", DESK_INSP),
    ("GET", "/v1/reports/verify-outcomes", DESK),
    ("GET", "/v1/rights/appointments", ADMIN),
    ("POST", "/validate/check", &["admin", "gateway"]),
];
const ADMIN: &[&str] = &["admin"];
const DESK: &[&str] = &["admin", "desk"];
const DESK_INSP: &[&str] = &["admin", "desk", "inspector"];

#[test]
fn every_operation_allows_exactly_the_pinned_roles() {
    let mut pinned: Vec<(String, Vec<&str>)> = ROLES
        .iter()
        .map(|(m, p, roles)| (format!("{m} {p}"), roles.to_vec()))
        .collect();
    let mut actual: Vec<(String, Vec<&str>)> = Operation::ALL
        .iter()
        .map(|op| {
            let mut roles: Vec<&str> = op.roles().iter().map(|r| r.as_str()).collect();
            roles.sort_unstable();
            (format!("{} {}", op.method(), op.path()), roles)
        })
        .collect();
    for (_, roles) in &mut pinned {
        roles.sort_unstable();
    }
    pinned.sort();
    actual.sort();
    assert_eq!(actual, pinned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_every_role() {
    for &op in Operation::ALL {
        for role in ["admin", "desk", "inspector", "station", "gateway"] {
            // A fresh world for each pair: an allowed call must not change
            // what the next one sees.
            let api = api();
            let (call, allowed) = route(op, &api.serial);
            let call = call.by(api.keys.of(role));
            if allowed.contains(&role) {
                let what = call.to_string();
                let status = if op == Operation::FollowEvents {
                    // A stream: only the answer's head is awaited.
                    events_status(&api, api.keys.of(role)).await
                } else {
                    api.send(call).await.0
                };
                assert!(
                    !matches!(status.as_u16(), 401 | 403 | 400 | 500),
                    "{role} {what}: {status}"
                );
            } else {
                api.assert_refused(call, 403, "forbidden").await;
            }
        }
    }
}

async fn events_status(api: &api::Api, key: &str) -> axum::http::StatusCode {
    let response = api.subscribe(key).await;
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    response.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_unknown_key_revoked_key_are_401() {
    let api = api();
    let unknown = format!("kw_{}", "A".repeat(52));
    for (call, _) in routes(&api.serial) {
        for key in [None, Some("not-a-key"), Some(unknown.as_str())] {
            let call = Call {
                key: key.map(str::to_owned),
                ..call.clone()
            };
            api.assert_refused(call, 401, "unauthenticated").await;
        }
    }
    // A revoked key stops working at once (the cache is dropped).
    let (status, _) = api.get(&api.keys.desk, "/v1/tokens").await;
    assert_eq!(status, 200);
    let (status, keys) = api.get(&api.keys.admin, "/v1/apikeys").await;
    assert_eq!(status, 200);
    let desk_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "alice")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, _) = api
        .delete(&api.keys.admin, &format!("/v1/apikeys/{desk_id}"))
        .await;
    assert_eq!(status, 204);
    let revoked = Call::get("/v1/tokens").by(&api.keys.desk);
    api.assert_refused(revoked, 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_sees_only_their_district() {
    let api = api();
    let west = api.keys.inspector_west.clone();
    // Another district's person, rights, delegation, right and receipts: 404
    // exactly as if they did not exist, audited, nothing changed.
    let delegation =
        format!(r#"{{"person":"mleroy","school":"{SCHOOL_EAST}","from":"2026-09-20"}}"#);
    for call in [
        Call::get("/v1/people/jdupont"),
        Call::get("/v1/people/jdupont/rights"),
        Call::post("/v1/rights/3/end"),
        Call::post("/v1/rights/delegations").body(delegation),
        Call::post("/v1/key-requests").body(r#"{"holder":"cpetit"}"#),
    ] {
        let head = api.audit_head();
        let what = call.to_string();
        api.assert_refused(call.by(&west), 404, "not_found").await;
        assert!(
            api.audit_after(head).iter().any(|e| e.1 == "refused"),
            "{what}"
        );
    }
    // Lists are filtered to the inspector's district.
    let (_, people) = api.get(&west, "/v1/people").await;
    let ids = ids_of(&people);
    assert_eq!(ids, ["mleroy"]);
    let (_, people) = api.get(&west, "/v1/people?district=EAST").await;
    let ids = ids_of(&people);
    assert_eq!(ids, ["mleroy"], "an inspector cannot widen their filter");
    let (_, districts) = api.get(&west, "/v1/districts").await;
    assert_eq!(districts.as_array().unwrap().len(), 1);
    // The right inspector may.
    let (status, _) = api
        .get(&api.keys.inspector_east, "/v1/people/jdupont")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_acts_only_at_its_readers() {
    let api = api();
    let path = format!("/v1/tokens/{}/activate", api.serial);
    let body = format!(r#"{{"pin":"483920","reader":"{READER}"}}"#);
    let elsewhere = Call::post(path).by(&api.keys.station_elsewhere);
    api.assert_refused(elsewhere.body(body), 403, "forbidden")
        .await;
    let (_, devices) = api.get(&api.keys.station_elsewhere, "/v1/devices").await;
    assert_eq!(devices, serde_json::json!([]));
    let (_, devices) = api.get(&api.keys.station, "/v1/devices").await;
    assert_eq!(devices[0]["reader"], READER);
}

/// The `id` of every element of a JSON list.
fn ids_of(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}
