//! The authority's rules on rights, scope and duties, through the API: a
//! person's districts, separation of duties, staff keys of people, one
//! appointed director per school, appointments ended by the administration,
//! one path to a replacement key, no lockout before one's appointment.

use serde_json::{json, Value};

use crate::support::api::{api, Api, Call, DOMAIN, READER, SCHOOL_EAST};
use crate::support::world::{at, world, SCHOOL_EAST_2};
use keyward::store::verify::VerifyOutcome;

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `key` posts `body` to `path`, which must answer `status`; the answer.
async fn post_ok(api: &Api, key: &str, path: &str, body: Value, status: u16) -> Value {
    let (got, answer) = api.post(key, path, Some(body)).await;
    assert_eq!(got.as_u16(), status, "{path}: {answer}");
    answer
}

/// The desk prepares the virtual token for `holder`, and `by` hands it over.
async fn key_handed_to(api: &Api, holder: &str, by: &str) {
    api.prepare_ok(&api.serial, holder, READER).await;
    let path = format!("/v1/tokens/{}/handover", api.serial);
    let place = json!({"place": "Central office", "reader": READER});
    post_ok(api, by, &path, place, 200).await;
}

fn help_mail(holder: &str, inspector: &str, reason: &str) -> Value {
    json!({"holder": holder, "reason": reason, "from": format!("{holder}@{DOMAIN}"),
           "cc": [format!("{inspector}@{DOMAIN}")]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_delegating_elsewhere_does_not_capture_scope() {
    let api = api();
    let (east, west) = (&api.keys.inspector_east, &api.keys.inspector_west);
    // mleroy directs a WEST school and holds a key for it.
    key_handed_to(&api, "mleroy", west).await;
    // The EAST inspector delegates him a school of EAST.
    let body = json!({"person": "mleroy", "school": SCHOOL_EAST, "from": "2026-09-15"});
    post_ok(&api, east, "/v1/rights/delegations", body, 201).await;
    // Both inspectors see him.
    for key in [east, west] {
        let (_, people) = api.get(key, "/v1/people").await;
        assert!(ids_of(&people).contains(&"mleroy".to_owned()), "{people}");
        let (status, _) = api.get(key, "/v1/people/mleroy").await;
        assert_eq!(status, 200);
    }
    // His key serves his WEST appointment: WEST's, not EAST's.
    let token = format!("/v1/tokens/{}", api.serial);
    let (status, _) = api.get(west, &token).await;
    assert_eq!(status, 200);
    api.assert_refused(Call::get(&token).by(east), 404, "not_found")
        .await;
    // A help request names his own (WEST) inspector in copy.
    let wrong = help_mail("mleroy", "pmartin", "broken");
    let call = Call::post("/v1/replacement-requests").by(&api.keys.desk);
    api.assert_conflict(call.json(wrong), "help_mail_refused")
        .await;
    api.file_replacement(help_mail("mleroy", "lbernard", "broken"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_granting_rights_to_himself_is_refused() {
    let api = api();
    let east = &api.keys.inspector_east;
    let to_self = json!({"person": "pmartin", "school": SCHOOL_EAST, "from": "2026-09-15"});
    let call = Call::post("/v1/rights/delegations").by(east);
    api.assert_refused(call.json(to_self.clone()), 403, "own_act")
        .await;
    // An admin granting themselves a right is refused the same way.
    let root = json!({"person": "root", "school": SCHOOL_EAST, "from": "2026-09-15"});
    let call = Call::post("/v1/rights/delegations").by(&api.keys.admin);
    api.assert_refused(call.json(root), 403, "own_act").await;
    // Given a right by someone else (an admin in his name), he still may not
    // ask for, be handed, or revoke his own key.
    post_ok(
        &api,
        &api.keys.admin,
        "/v1/rights/delegations",
        to_self,
        201,
    )
    .await;
    let request = Call::post("/v1/key-requests").by(east);
    api.assert_refused(request.json(json!({"holder": "pmartin"})), 403, "own_act")
        .await;
    api.prepare_ok(&api.serial, "pmartin", READER).await;
    let handover = Call::post(format!("/v1/tokens/{}/handover", api.serial)).by(east);
    let body = json!({"place": "Est", "reader": READER});
    api.assert_refused(handover.json(body), 403, "own_act")
        .await;
    let revoke = Call::post(format!("/v1/tokens/{}/revoke", api.serial)).by(east);
    api.assert_refused(revoke.json(json!({"reason": "lost"})), 403, "own_act")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_preparing_a_key_for_herself_is_refused() {
    let api = api();
    // alice (desk) is given a delegation by the EAST inspector.
    let body = json!({"person": "alice", "school": SCHOOL_EAST, "from": "2026-09-15"});
    post_ok(
        &api,
        &api.keys.inspector_east,
        "/v1/rights/delegations",
        body,
        201,
    )
    .await;
    let prepare = Call::post(format!("/v1/tokens/{}/prepare", api.serial)).by(&api.keys.desk);
    let body = json!({"holder": "alice", "reader": READER});
    api.assert_refused(prepare.json(body), 403, "own_act").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_appointed_director_and_delegation_to_the_director_are_refused() {
    let api = api();
    let admin = &api.keys.admin;
    // jdupont is the appointed director of the EAST school (right 1).
    let second = json!({"person": "cpetit", "school": SCHOOL_EAST, "from": "2026-10-01"});
    let call = Call::post("/v1/rights/appointments").by(admin);
    api.assert_conflict(call.json(second.clone()), "director_in_place")
        .await;
    let to_director = json!({"person": "jdupont", "school": SCHOOL_EAST, "from": "2026-09-20"});
    let call = Call::post("/v1/rights/delegations").by(&api.keys.inspector_east);
    api.assert_conflict(call.json(to_director), "already_director")
        .await;
    // Ending the previous appointment in the same request is accepted.
    let mut replacing = second;
    replacing["ends_previous"] = json!("mutation");
    post_ok(&api, admin, "/v1/rights/appointments", replacing, 201).await;
    let (_, rights) = api.get(admin, "/v1/people/jdupont/rights").await;
    assert_eq!(rights[0]["until"], "2026-09-30", "{rights}");
    assert_eq!(rights[0]["end_reason"], "mutation", "{rights}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointment_ended_by_the_administration_falls_due_back() {
    let api = api();
    let admin = &api.keys.admin;
    key_handed_to(&api, "jdupont", &api.keys.inspector_east).await;
    // Only the administration ends an appointment, with a listed reason.
    let by_inspector = Call::post("/v1/rights/1/end").by(&api.keys.inspector_east);
    let body = json!({"reason": "mutation"});
    api.assert_refused(by_inspector.json(body.clone()), 403, "forbidden")
        .await;
    let unlisted = Call::post("/v1/rights/1/end").by(admin);
    api.assert_invalid(unlisted.json(json!({"reason": "bored"})), "reason")
        .await;
    post_ok(&api, admin, "/v1/rights/1/end", body, 200).await;
    let (_, rights) = api.get(admin, "/v1/people/jdupont/rights").await;
    assert_eq!(rights[0]["in_force"], false, "{rights}");
    assert_eq!(rights[0]["end_reason"], "mutation");
    assert!(rights[0]["ended_at"].as_str().is_some(), "{rights}");
    // A week and a day later the key is overdue in its district.
    api.clock.advance(8 * 86_400);
    let (_, overdue) = api.get(admin, "/v1/reports/overdue").await;
    assert_eq!(overdue["EAST"][0]["serial"], api.serial, "{overdue}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_preparing_after_a_revoke_needs_a_help_request() {
    let api = api();
    let desk = &api.keys.desk;
    let s = api.serial.clone();
    api.prepare_ok(&s, "jdupont", READER).await;
    post_ok(
        &api,
        desk,
        &format!("/v1/tokens/{s}/revoke"),
        json!({"reason": "broken"}),
        200,
    )
    .await;
    let wipe = json!({"reader": READER});
    post_ok(&api, desk, &format!("/v1/tokens/{s}/wipe"), wipe, 200).await;
    let (status, _) = api
        .post(desk, &format!("/v1/tokens/{s}/restock"), None)
        .await;
    assert_eq!(status, 200);
    // Back in stock it serves no right: in no inspector's district.
    let (status, _) = api
        .get(&api.keys.inspector_east, &format!("/v1/tokens/{s}"))
        .await;
    assert_eq!(status, 404);
    // No request: no new key.
    let prepare = Call::post(format!("/v1/tokens/{s}/prepare")).by(desk);
    let body = json!({"holder": "jdupont", "reader": READER});
    api.assert_conflict(prepare.json(body), "replacement_request_required")
        .await;
    // A validated help request opens the path, and is consumed by it.
    api.file_replacement(help_mail("jdupont", "pmartin", "broken"))
        .await;
    let (_, list) = api.get(desk, "/v1/replacement-requests").await;
    assert_eq!(list[0]["status"], "open", "{list}");
    api.prepare_ok(&s, "jdupont", READER).await;
    let (_, list) = api.get(desk, "/v1/replacement-requests").await;
    assert_eq!(
        (&list[0]["status"], &list[0]["new_token"]),
        (&json!("fulfilled"), &json!(s))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_request_after_an_inspector_revoked_a_lost_key_is_accepted() {
    let api = api();
    let s = api.serial.clone();
    key_handed_to(&api, "jdupont", &api.keys.inspector_east).await;
    let lost = json!({"reason": "lost"});
    post_ok(
        &api,
        &api.keys.inspector_east,
        &format!("/v1/tokens/{s}/revoke"),
        lost,
        200,
    )
    .await;
    api.file_replacement(help_mail("jdupont", "pmartin", "lost"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_lists_own_key_requests_with_their_status() {
    let api = api();
    let east = &api.keys.inspector_east;
    // cpetit holds a delegation in EAST (right 3).
    post_ok(
        &api,
        east,
        "/v1/key-requests",
        json!({"holder": "cpetit"}),
        201,
    )
    .await;
    let (status, mine) = api.get(east, "/v1/key-requests").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(
        (&mine[0]["holder"], &mine[0]["status"]),
        (&json!("cpetit"), &json!("open"))
    );
    api.prepare_ok(&api.serial, "cpetit", READER).await;
    let (_, mine) = api.get(east, "/v1/key-requests").await;
    assert_eq!(mine[0]["status"], "fulfilled", "{mine}");
    let (_, theirs) = api.get(&api.keys.inspector_west, "/v1/key-requests").await;
    assert_eq!(theirs, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_audit_name_the_desk_operator() {
    let api = api();
    key_handed_to(&api, "jdupont", &api.keys.desk).await;
    let (_, receipts) = api
        .get(
            &api.keys.desk,
            &format!("/v1/tokens/{}/receipts", api.serial),
        )
        .await;
    let export = receipts[0]["export"].as_str().unwrap();
    assert!(export.contains("counterparty=alice\n"), "{export}");
    assert!(export.contains("Alice Morel"), "{export}");
    // A staff key belongs to a person; a device key to nobody.
    let nobody = json!({"name": "desk-2", "role": "desk"});
    let call = Call::post("/v1/apikeys").by(&api.keys.admin);
    api.assert_invalid(call.json(nobody), "person").await;
    let device = json!({"name": "gw", "role": "gateway", "person": "alice"});
    let call = Call::post("/v1/apikeys").by(&api.keys.admin);
    api.assert_invalid(call.json(device), "person").await;
    // When alice leaves, her key stops working at once.
    post_ok(
        &api,
        &api.keys.admin,
        "/v1/people/alice/leave",
        json!(null),
        200,
    )
    .await;
    api.assert_refused(Call::get("/v1/tokens").by(&api.keys.desk), 403, "forbidden")
        .await;
}

#[test]
fn future_director_trying_early_is_not_locked_out() {
    // The key handover meeting: adurand is appointed from 1 September.
    let w = world(at("2026-08-20", 9));
    w.appoint("adurand", SCHOOL_EAST_2, "2026-09-01", None);
    let device = w.active_hotp("adurand", "VT-F", "730519");
    let svc = w.store.verify_service().unwrap();
    // Eleven right PINs and codes before the appointment starts, waiting
    // well past any delay between them: rejected, never counted.
    for counter in 1..=11 {
        let answer = svc
            .verify("adurand", &format!("730519{}", device.hotp(counter)))
            .unwrap();
        assert!(
            matches!(answer, VerifyOutcome::Reject { hold: None }),
            "{answer:?}"
        );
        w.clock.advance(600);
    }
    w.clock.set(at("2026-09-01", 8));
    // The codes tried were consumed; the next one logs in.
    let replay = svc
        .verify("adurand", &format!("730519{}", device.hotp(11)))
        .unwrap();
    assert!(!replay.is_accept());
    let next = svc
        .verify("adurand", &format!("730519{}", device.hotp(12)))
        .unwrap();
    assert!(next.is_accept(), "{next:?}");
}

#[test]
fn init_records_the_first_admin_as_a_person_and_can_add_one() {
    use crate::support::cli::{json_ok, keyward};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = json_ok(
        keyward([
            "init",
            "--json",
            "--admin-id",
            "jmartin",
            "--admin-name",
            "Jean Martin",
        ])
        .arg("--data")
        .arg(&data),
    );
    // An existing directory (daemon stopped): another administrator's key.
    let added = json_ok(
        keyward([
            "init",
            "--json",
            "--add-admin",
            "--admin-id",
            "cdupuis",
            "--data",
        ])
        .arg(&data),
    );
    assert_ne!(first["admin_key"], added["admin_key"]);
    let config = keyward::config::DaemonConfig::load(&data).unwrap().store;
    let clock = std::sync::Arc::new(keyward::store::SystemClock);
    let store = keyward::store::Store::open(&data, clock, config).unwrap();
    let (keys, people) = store
        .read(|tx| Ok((tx.api_keys()?, tx.people(None)?)))
        .unwrap();
    let owners: Vec<_> = keys.iter().map(|k| k.person.clone()).collect();
    assert_eq!(owners, [Some("jmartin".into()), Some("cdupuis".into())]);
    let names: Vec<_> = people.iter().map(|p| p.full_name.as_str()).collect();
    assert_eq!(names, ["Administrateur keyward", "Jean Martin"]);
}
