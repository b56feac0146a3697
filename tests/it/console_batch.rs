//! The desk's batch preparation in the console, over plain HTTP (the
//! router in process) with virtual keys swapped at the reader: the daemon
//! prepares each blank key inserted for the next holder through the API's
//! prepare operation; a holder the rules refuse (already a live key) is
//! shown refused and the batch goes on; the progress page and its event
//! stream follow it; other roles are refused (403, audited); every state
//! change needs the session's CSRF token; a batch can be cancelled.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::console_security::{enc, send, session};
use crate::support::api::{api, data_dir, Api, READER};
use keyward::console::Settings;
use keyward::devices::VirtualDevice;

/// Takes the key out of the reader and inserts a new blank one; its serial.
pub(crate) fn insert_blank(api: &Api, name: &str) -> String {
    api.devices.detach(READER);
    let device = VirtualDevice::open(&data_dir(&api.dir).join(name)).unwrap();
    let present = api.devices.attach(READER, Arc::new(device)).unwrap();
    present.serial.unwrap()
}

/// The batch page, once `what` is on it (the batch runs in the daemon).
async fn page_once(api: &Api, cookie: &str, id: &str, what: &str) -> String {
    let mut body = String::new();
    for _ in 0..500 {
        body = send(api, "GET", &format!("/desk/batches/{id}"), Some(cookie), "")
            .await
            .body;
        if body.contains(what) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never {what}: {body}");
}

/// Starts a batch for `holders` at READER; the batch's id.
async fn start(api: &Api, cookie: &str, csrf: &str, holders: &[&str]) -> String {
    let mut form = format!("csrf={csrf}&reader={}", enc(READER));
    for h in holders {
        form.push_str(&format!("&holder={h}"));
    }
    let started = send(api, "POST", "/desk/batch", Some(cookie), &form).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let to = started.headers[header::LOCATION].to_str().unwrap();
    to.strip_prefix("/desk/batches/").unwrap().to_owned()
}

/// The event stream of a batch, opened as `cookie`: status and body.
async fn stream(api: &Api, uri: &str, cookie: &str) -> (u16, Body) {
    let app = keyward::console::with_api(api.state.clone(), Settings::default());
    let request = Request::get(uri)
        .header(header::COOKIE, format!("kw_session={cookie}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    (response.status().as_u16(), response.into_body())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_prepares_each_inserted_key_and_shows_a_refusal_on_its_line() {
    let api = api();
    let (desk, csrf) = session(&api, &api.keys.desk);
    // jdupont already has a live key: the one at the reader, not blank.
    api.prepare_ok(&api.serial, "jdupont", READER).await;
    let choose = send(&api, "GET", "/desk/batch?q=leroy", Some(&desk), "").await;
    assert_eq!(choose.status, 200, "{}", choose.body);
    assert!(choose.body.contains("value=\"mleroy\""), "{}", choose.body);

    let id = start(&api, &desk, &csrf, &["jdupont", "mleroy", "cpetit"]).await;
    let page = page_once(&api, &desk, &id, "n&#39;est pas vierge").await;
    assert!(page.contains("insérez une clé vierge"), "{page}");
    assert!(page.contains("data-events=\"/desk/batches/"), "{page}");
    assert!(!page.contains("<script>"), "no inline script");
    let (status, mut events) = stream(&api, &format!("/desk/batches/{id}/events"), &desk).await;
    assert_eq!(status, 200);

    // A blank key: refused for jdupont (one live key), so prepared for mleroy.
    let first = insert_blank(&api, "batch-1.toml");
    let event = events.frame().await.unwrap().unwrap().into_data().unwrap();
    let event = String::from_utf8_lossy(&event).into_owned();
    assert!(event.starts_with("event: batch\n"), "{event}");
    let page = page_once(&api, &desk, &id, &format!("préparée : clé {first}")).await;
    assert!(
        page.contains("refusé : la personne a déjà une clé en service"),
        "{page}"
    );
    let (_, token) = api
        .get(&api.keys.desk, &format!("/v1/tokens/{first}"))
        .await;
    assert_eq!(
        (&token["state"], &token["holder"]),
        (&"prepared".into(), &"mleroy".into())
    );
    // The next key for cpetit; then the batch is over.
    let second = insert_blank(&api, "batch-2.toml");
    let page = page_once(&api, &desk, &id, "data-running=\"no\"").await;
    assert!(page.contains(&format!("préparée : clé {second}")), "{page}");
    assert!(page.contains("2 préparée(s)") && page.contains("1 refusée(s)"));
    let (_, token) = api
        .get(&api.keys.desk, &format!("/v1/tokens/{second}"))
        .await;
    assert_eq!(token["holder"], "cpetit", "{token}");
    // The lines alone (the live page's swap), in English.
    let english = format!("{desk}; kw_lang=en");
    let lines = send(
        &api,
        "GET",
        &format!("/desk/batches/{id}/lines"),
        Some(&english),
        "",
    )
    .await;
    assert!(!lines.body.contains("<html"), "a fragment");
    assert!(
        lines
            .body
            .contains("refused: the person already has a key in service"),
        "{}",
        lines.body
    );
    assert!(lines.body.contains(&format!("prepared: key {second}")));
    // The prepares were the API's, audited as the desk.
    let audit = api.audit_after(0);
    let prepared: Vec<_> = audit
        .iter()
        .filter(|(_, action, _)| action == "token.prepare")
        .collect();
    assert_eq!(prepared.len(), 3, "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|(_, action, subject)| action == "console.batch.start" && subject == READER),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_pages_are_the_desks_and_every_change_needs_the_csrf_token() {
    let api = api();
    let (desk, csrf) = session(&api, &api.keys.desk);
    let (inspector, inspector_csrf) = session(&api, &api.keys.inspector_east);
    api.prepare_ok(&api.serial, "jdupont", READER).await;

    // The inspector: refused every page and act, audited.
    for uri in ["/desk/batch", "/desk/batches/1", "/desk/batches/1/lines"] {
        let head = api.audit_head();
        let refused = send(&api, "GET", uri, Some(&inspector), "").await;
        assert_eq!(refused.status, 403, "{uri}");
        let audited = api.audit_after(head);
        assert!(audited.iter().any(|(_, a, _)| a == "refused"), "{uri}");
    }
    let form = format!("csrf={inspector_csrf}&reader={}&holder=mleroy", enc(READER));
    let head = api.audit_head();
    let refused = send(&api, "POST", "/desk/batch", Some(&inspector), &form).await;
    assert_eq!(refused.status, 403);
    assert!(api.audit_after(head).iter().any(|(_, a, _)| a == "refused"));
    // Without this session's CSRF token: refused, audited, nothing started.
    for token in ["", "&csrf=wrong", &format!("&csrf={inspector_csrf}")] {
        let head = api.audit_head();
        let form = format!("reader={}&holder=mleroy{token}", enc(READER));
        let refused = send(&api, "POST", "/desk/batch", Some(&desk), &form).await;
        assert_eq!(refused.status, 403, "{token}");
        assert!(api.audit_after(head).iter().any(|(_, a, _)| a == "refused"));
    }
    let list = send(&api, "GET", "/desk/batch", Some(&desk), "").await;
    assert!(!list.body.contains("/desk/batches/"), "{}", list.body);

    // A running batch: a second one at the reader is refused; the
    // inspector may not follow it; cancel needs the CSRF token.
    let id = start(&api, &desk, &csrf, &["mleroy", "cpetit"]).await;
    let form = format!("csrf={csrf}&reader={}&holder=cpetit", enc(READER));
    let busy = send(&api, "POST", "/desk/batch", Some(&desk), &form).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(busy.body.contains("déjà en cours"), "{}", busy.body);
    let (status, _) = stream(&api, &format!("/desk/batches/{id}/events"), &inspector).await;
    assert_eq!(status, 403);
    let cancel = format!("/desk/batches/{id}/cancel");
    let refused = send(&api, "POST", &cancel, Some(&desk), "csrf=wrong").await;
    assert_eq!(refused.status, 403);
    let refused = send(
        &api,
        "POST",
        &cancel,
        Some(&inspector),
        &format!("csrf={inspector_csrf}"),
    )
    .await;
    assert_eq!(refused.status, 403);
    let page = page_once(&api, &desk, &id, "insérez une clé vierge").await;
    assert!(page.contains("data-running=\"yes\""), "{page}");
    let head = api.audit_head();
    let done = send(&api, "POST", &cancel, Some(&desk), &format!("csrf={csrf}")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let audited = api.audit_after(head);
    assert!(
        audited.iter().any(|(_, a, _)| a == "console.batch.cancel"),
        "{audited:?}"
    );
    // Nobody chosen: refused, nothing started.
    let form = format!("csrf={csrf}&reader={}", enc(READER));
    let nobody = send(&api, "POST", "/desk/batch", Some(&desk), &form).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = page_once(&api, &desk, &id, "data-running=\"no\"").await;
    assert!(
        page.contains("annulée") && page.contains("annulé"),
        "{page}"
    );
    // Nothing was prepared after the cancel.
    let blank = insert_blank(&api, "after-cancel.toml");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, token) = api
        .get(&api.keys.desk, &format!("/v1/tokens/{blank}"))
        .await;
    assert_eq!(token["state"], "stock", "{token}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stops_when_its_authors_key_is_revoked() {
    let api = api();
    let (desk, csrf) = session(&api, &api.keys.desk);
    api.prepare_ok(&api.serial, "jdupont", READER).await;
    let id = start(&api, &desk, &csrf, &["mleroy"]).await;
    page_once(&api, &desk, &id, "insérez une clé vierge").await;
    let (_, keys) = api.get(&api.keys.admin, "/v1/apikeys").await;
    let alice = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "alice")
        .unwrap()["id"]
        .clone();
    let (status, answer) = api
        .delete(&api.keys.admin, &format!("/v1/apikeys/{alice}"))
        .await;
    assert!(status.is_success(), "{answer}");
    let blank = insert_blank(&api, "after-revoke.toml");
    let (admin, _) = session(&api, &api.keys.admin);
    let page = page_once(&api, &admin, &id, "data-running=\"no\"").await;
    assert!(page.contains("est révoquée"), "{page}");
    let (_, token) = api
        .get(&api.keys.admin, &format!("/v1/tokens/{blank}"))
        .await;
    assert_eq!(token["state"], "stock", "{token}");
}

/// Thirty teachers with a delegation at a second EAST school, "Ecole des
/// Tilleuls" (and none at the first).
fn thirty_at_the_tilleuls(api: &Api) {
    use crate::support::world::{add_person, date, pid, uai, SCHOOL_EAST_2};
    use keyward::domain::{Actor, RightOrigin};
    api.store
        .write(&Actor::Desk(pid("alice")), "test", |tx| {
            tx.add_school(&uai(SCHOOL_EAST_2), "Ecole des Tilleuls", "EAST")?;
            for n in 1..=30 {
                let id = format!("tilleul{n:02}");
                tx.act_as(Actor::Desk(pid("alice")));
                add_person(tx, &id, &format!("Prof Tilleul {n:02}"))?;
                tx.act_as(Actor::Inspector(pid("pmartin")));
                tx.grant_right(
                    RightOrigin::Delegation,
                    &pid(&id),
                    &uai(SCHOOL_EAST_2),
                    date("2026-09-01"),
                    None,
                )?;
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn the_desk_finds_holders_by_school_a_page_at_a_time_wherever_it_picks_one() {
    use crate::support::world::SCHOOL_EAST_2;
    let api = api();
    thirty_at_the_tilleuls(&api);
    let (desk, _) = session(&api, &api.keys.desk);
    // The desk's preparation (a blank key at the reader) and the batch's
    // choice of holders: the same search, paged the same way.
    for (base, chosen) in [
        ("/desk", format!("id=\"h-{}-", api.serial)),
        ("/desk/batch", "id=\"p-".to_owned()),
    ] {
        // By the school's name: the first 25 of 30, and the next page.
        let first = send(
            &api,
            "GET",
            &format!("{base}?school=Tilleuls"),
            Some(&desk),
            "",
        )
        .await;
        assert_eq!(first.status, 200, "{}", first.body);
        assert!(
            first.body.contains("1 à 25 sur 30"),
            "{base}: {}",
            first.body
        );
        assert!(
            first.body.contains(&format!("{chosen}tilleul01\"")),
            "{base}"
        );
        assert!(
            !first.body.contains(&format!("{chosen}tilleul26\"")),
            "{base}"
        );
        let next = format!("{base}?school=Tilleuls&#38;page=2");
        assert!(first.body.contains(&next), "{base}: {}", first.body);
        let second = send(
            &api,
            "GET",
            &format!("{base}?school=Tilleuls&page=2"),
            Some(&desk),
            "",
        )
        .await;
        assert!(
            second.body.contains("26 à 30 sur 30"),
            "{base}: {}",
            second.body
        );
        assert!(
            second.body.contains(&format!("{chosen}tilleul30\"")),
            "{base}"
        );
        assert!(
            !second.body.contains(&format!("{chosen}tilleul01\"")),
            "{base}"
        );
        // By its UAI, and with a name or login too (both must match).
        let uai = send(
            &api,
            "GET",
            &format!("{base}?school={SCHOOL_EAST_2}"),
            Some(&desk),
            "",
        )
        .await;
        assert!(uai.body.contains("1 à 25 sur 30"), "{base}: {}", uai.body);
        let both = send(
            &api,
            "GET",
            &format!("{base}?q=Tilleul+07&school=tilleuls"),
            Some(&desk),
            "",
        )
        .await;
        assert!(both.body.contains("1 à 1 sur 1"), "{base}: {}", both.body);
        assert!(
            both.body.contains(&format!("{chosen}tilleul07\"")),
            "{base}"
        );
        let nobody = send(
            &api,
            "GET",
            &format!("{base}?q=dupont&school=Tilleuls"),
            Some(&desk),
            "",
        )
        .await;
        assert!(nobody.body.contains("Personne ne correspond"), "{base}");
        assert!(!nobody.body.contains("Jeanne Dupont"), "{base}");
    }
}
