//! Paged, filtered and counted lists (`GET /v1/tokens`, `GET /v1/people`
//! with `limit`/`offset` and filters, `GET /v1/reports/token-states`): the
//! store filters, counts and pages in SQL, the header `X-Total-Count` gives
//! the whole list's length, and an inspector sees their district only,
//! whatever district they ask for.

use serde_json::{json, Value};

use crate::support::api::{api, Api, Call, READER};
use crate::support::world::pid;
use keyward::domain::Actor;

/// Twelve more keys in stock (`20000100`…`20000111`), and the virtual
/// token prepared for jdupont (EAST).
async fn stocked(api: &Api) {
    for i in 0..12 {
        let (status, _) = api
            .post(
                &api.keys.desk,
                "/v1/tokens",
                Some(
                    json!({"serial": format!("{}", 20_000_100 + i), "profile": "keyward-virtual"}),
                ),
            )
            .await;
        assert_eq!(status, 201);
    }
    api.prepare_ok(&api.serial, "jdupont", READER).await;
}

/// The answer's serials and its `X-Total-Count`.
async fn page(api: &Api, key: &str, uri: &str) -> (Vec<String>, u64) {
    let app = keyward::api::app(api.state.clone());
    use tower::ServiceExt as _;
    let request = axum::http::Request::get(uri)
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200, "{uri}");
    let total = response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let list: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let ids = list
        .iter()
        .map(|v| {
            v.get("serial")
                .or(v.get("id"))
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (ids, total)
}

#[tokio::test]
async fn tokens_are_paged_filtered_and_counted_in_the_callers_scope() {
    let api = api();
    stocked(&api).await;
    let desk = &api.keys.desk;
    let (all, total) = page(&api, desk, "/v1/tokens").await;
    assert_eq!(total, 13);
    assert_eq!(all.len(), 13);
    let (first, total) = page(&api, desk, "/v1/tokens?state=stock&limit=5").await;
    assert_eq!((first.len(), total), (5, 12));
    let (third, _) = page(&api, desk, "/v1/tokens?state=stock&limit=5&offset=10").await;
    assert_eq!(third, ["20000110", "20000111"]);
    let (serial, total) = page(&api, desk, "/v1/tokens?serial=0011").await;
    assert_eq!((serial.len(), total), (2, 2), "{serial:?}");
    // A LIKE wildcard in the text is a character, not a wildcard.
    let (none, total) = page(&api, desk, "/v1/tokens?serial=%25").await;
    assert_eq!((none.len(), total), (0, 0));
    // Holder by name (any case), school by name or UAI, several states.
    for uri in [
        "/v1/tokens?holder=DUPONT",
        "/v1/tokens?holder=jdup&state=prepared,active",
        "/v1/tokens?school=ecole%20est",
        &format!("/v1/tokens?school={}", crate::support::api::SCHOOL_EAST),
        "/v1/tokens?district=EAST",
    ] {
        assert_eq!(
            page(&api, desk, uri).await,
            (vec![api.serial.clone()], 1),
            "{uri}"
        );
    }
    assert_eq!(page(&api, desk, "/v1/tokens?school=ouest").await.1, 0);
    assert_eq!(page(&api, desk, "/v1/tokens?district=WEST").await.1, 0);
    // An inspector of WEST asking for EAST still gets WEST's: nothing.
    let west = &api.keys.inspector_west;
    assert_eq!(page(&api, west, "/v1/tokens?district=EAST").await.1, 0);
    assert_eq!(page(&api, west, "/v1/tokens").await.1, 0);
    let east = &api.keys.inspector_east;
    assert_eq!(
        page(&api, east, "/v1/tokens?limit=1").await,
        (vec![api.serial.clone()], 1)
    );
    // A bad state is refused, naming the field.
    api.assert_invalid(Call::get("/v1/tokens?state=stock,lost").by(desk), "state")
        .await;
}

#[tokio::test]
async fn token_states_are_counted_by_district_in_the_callers_scope() {
    let api = api();
    stocked(&api).await;
    let (status, counts) = api.get(&api.keys.desk, "/v1/reports/token-states").await;
    assert_eq!(status, 200);
    let count = |district: Value, state: &str| -> u64 {
        let d = counts
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["district"] == district)
            .unwrap_or_else(|| panic!("{district} in {counts}"));
        let s = d["states"].as_array().unwrap();
        assert_eq!(s.len(), 7, "every state");
        s.iter().find(|c| c["state"] == state).unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count(Value::Null, "stock"), 12);
    assert_eq!(count(json!("EAST"), "prepared"), 1);
    assert_eq!(count(json!("EAST"), "stock"), 0);
    let (_, west) = api
        .get(
            &api.keys.inspector_west,
            "/v1/reports/token-states?district=EAST",
        )
        .await;
    assert_eq!(west, json!([]));
    let (_, east) = api
        .get(&api.keys.inspector_east, "/v1/reports/token-states")
        .await;
    assert_eq!(east.as_array().unwrap().len(), 1);
    assert_eq!(east[0]["district"], "EAST");
    assert_eq!(east[0]["total"], 1);
}

#[tokio::test]
async fn people_are_searched_and_paged_in_the_callers_scope() {
    let api = api();
    let desk = &api.keys.desk;
    let (all, total) = page(&api, desk, "/v1/people").await;
    assert_eq!((all.len(), total), (7, 7));
    let (two, total) = page(&api, desk, "/v1/people?limit=2&offset=2").await;
    assert_eq!(total, 7);
    assert_eq!(two, &all[2..4]);
    assert_eq!(
        page(&api, desk, "/v1/people?q=PETIT").await,
        (vec!["cpetit".to_owned()], 1)
    );
    // EAST's people by their rights: jdupont (appointed), cpetit (delegated).
    let east = &api.keys.inspector_east;
    let (mine, total) = page(&api, east, "/v1/people?district=WEST").await;
    assert_eq!(
        (mine, total),
        (vec!["cpetit".to_owned(), "jdupont".to_owned()], 2)
    );
    let (one, total) = page(&api, east, "/v1/people?limit=1&offset=1").await;
    assert_eq!((one, total), (vec!["jdupont".to_owned()], 2));
    assert_eq!(page(&api, east, "/v1/people?q=leroy").await.1, 0);
    // By school: a part of its UAI or name, among people's rights.
    let by_school = page(&api, desk, "/v1/people?school=ouest").await;
    assert_eq!(by_school, (vec!["mleroy".to_owned()], 1));
    let both = page(&api, desk, "/v1/people?school=ecole%20est&q=dupont").await;
    assert_eq!(both, (vec!["jdupont".to_owned()], 1));
    assert_eq!(page(&api, east, "/v1/people?school=ouest").await.1, 0);
    // A right ended more than a year ago no longer makes one of EAST.
    api.store
        .write(&Actor::Inspector(pid("pmartin")), "test", |tx| {
            tx.end_right(3, None, None)
        })
        .unwrap();
    api.clock.advance(400 * 86_400);
    assert_eq!(page(&api, east, "/v1/people").await.0, ["jdupont"]);
}

#[tokio::test]
async fn the_audit_is_searched_by_action_subject_and_days_by_an_admin_only() {
    let api = api();
    stocked(&api).await;
    let admin = &api.keys.admin;
    let (status, list) = api
        .get(
            admin,
            &format!("/v1/audit?action=token.&subject={}", api.serial),
        )
        .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["token.prepare", "token.prepare.pending", "token.add"],
        "{list}"
    );
    // Newest first, paged, counted.
    let (status, two) = api.get(admin, "/v1/audit?limit=2").await;
    assert_eq!(status, 200);
    let seqs: Vec<u64> = two
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs[0] > seqs[1], "{seqs:?}");
    // Days in the authority's zone, both included: today has it, the day
    // before not.
    let (_, today) = api
        .get(
            admin,
            "/v1/audit?from=2026-09-15&until=2026-09-15&action=token.prepare.",
        )
        .await;
    assert_eq!(today.as_array().unwrap().len(), 1);
    let (_, before) = api
        .get(admin, "/v1/audit?until=2026-09-14&action=token.prepare.")
        .await;
    assert_eq!(before, serde_json::json!([]));
    api.assert_invalid(Call::get("/v1/audit?until=14/09/2026").by(admin), "until")
        .await;
    api.assert_refused(Call::get("/v1/audit").by(&api.keys.desk), 403, "forbidden")
        .await;
}
