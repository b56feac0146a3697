//! The admin's audit page over plain HTTP (the router in process): the
//! audit searched by action, subject and days through `GET /v1/audit`,
//! paged, exported as CSV, with the signed checkpoints' status; any other
//! role gets the API's refusal, audited. Also the API's search itself.

use axum::http::StatusCode;

use crate::console_security::{prepare, send, session};
use crate::support::api::api;

#[tokio::test]
async fn the_admin_searches_the_audit_and_exports_it() {
    let api = api();
    let (desk, desk_csrf) = session(&api, &api.keys.desk);
    assert_eq!(
        prepare(&api, &desk, &desk_csrf).await.status,
        StatusCode::SEE_OTHER
    );
    let (admin, _) = session(&api, &api.keys.admin);
    let page = send(
        &api,
        "GET",
        "/admin/audit?action=token.prep",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&api.serial), "{}", page.body);
    assert!(page.body.contains("2 entrée(s)"), "{}", page.body);
    assert!(
        page.body.contains("Points de contrôle signés"),
        "{}",
        page.body
    );
    assert!(page.body.contains("audit-checkpoints"), "{}", page.body);
    // Nothing on a day before anything happened.
    let none = send(
        &api,
        "GET",
        "/admin/audit?action=token.prep&until=2020-01-01",
        Some(&admin),
        "",
    )
    .await;
    assert!(none.body.contains("0 entrée(s)"), "{}", none.body);
    let csv = send(
        &api,
        "GET",
        &format!("/admin/audit.csv?subject={}", api.serial),
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(csv
        .body
        .starts_with("seq,unix_time,local_time,actor,action,subject,detail\r\n"));
    assert!(csv.body.contains("token.prepare"), "{}", csv.body);
    // A bad day is the API's 422, shown on the page.
    let bad = send(&api, "GET", "/admin/audit?from=yesterday", Some(&admin), "").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
}

#[tokio::test]
async fn only_an_admin_reads_the_audit_and_a_refusal_is_audited() {
    let api = api();
    for key in [&api.keys.desk, &api.keys.inspector_east] {
        let (id, _) = session(&api, key);
        for uri in ["/admin/audit", "/admin/audit.csv"] {
            let head = api.audit_head();
            let page = send(&api, "GET", uri, Some(&id), "").await;
            assert_eq!(page.status, 403, "{uri}: {}", page.body);
            assert!(!page.body.contains("Points de contrôle"), "{}", page.body);
            assert!(
                api.audit_after(head).iter().any(|(_, a, _)| a == "refused"),
                "{uri} not audited"
            );
        }
    }
}

#[tokio::test]
async fn one_key_found_offers_wipe_and_resync_through_the_apis_operations() {
    let api = api();
    let (desk, csrf) = session(&api, &api.keys.desk);
    assert_eq!(
        prepare(&api, &desk, &csrf).await.status,
        StatusCode::SEE_OTHER
    );
    let page = send(
        &api,
        "GET",
        &format!("/tokens?serial={}", api.serial),
        Some(&desk),
        "",
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("id=\"wipe-{}\"", api.serial)),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("id=\"resync-{}\"", api.serial)));
    let resync = format!("/tokens/{}/resync", api.serial);
    // No CSRF token: refused before the API is asked.
    let before = api.snapshot();
    let bare = send(
        &api,
        "POST",
        &resync,
        Some(&desk),
        "first=111111&second=222222",
    )
    .await;
    assert_eq!(bare.status, 403, "{}", bare.body);
    // Codes that are not two consecutive ones: the API's refusal, nothing
    // changed, the codes nowhere in the page.
    let form = format!("csrf={csrf}&first=135792&second=246813");
    let wrong = send(&api, "POST", &resync, Some(&desk), &form).await;
    assert!(wrong.status.is_client_error(), "{}", wrong.status);
    assert!(!wrong.body.contains("135792") && !wrong.body.contains("246813"));
    assert_eq!(before, api.snapshot());
    // An inspector may not wipe (the desk's operation): 403, audited.
    let (west, west_csrf) = session(&api, &api.keys.inspector_west);
    let head = api.audit_head();
    let wipe = format!("/tokens/{}/wipe", api.serial);
    let refused = send(
        &api,
        "POST",
        &wipe,
        Some(&west),
        &format!("csrf={west_csrf}&reader=x"),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(api.audit_after(head).iter().any(|(_, a, _)| a == "refused"));
}

/// `POST uri` with `form` answers 303 to a page under `to`.
async fn done(api: &crate::support::api::Api, uri: &str, cookie: &str, form: &str, to: &str) {
    let answer = send(api, "POST", uri, Some(cookie), form).await;
    assert_eq!(
        answer.status,
        StatusCode::SEE_OTHER,
        "{uri}: {}",
        answer.body
    );
    let location = answer.headers["location"].to_str().unwrap();
    assert!(location.starts_with(to), "{uri}: {location}");
}

#[tokio::test]
async fn the_admin_adds_a_person_and_records_and_ends_their_appointment() {
    let api = api();
    let (admin, csrf) = session(&api, &api.keys.admin);
    let form = format!(
        "csrf={csrf}&id=nvidal&full_name=Nina+Vidal&mail=nvidal%40{}",
        crate::support::api::DOMAIN
    );
    done(
        &api,
        "/people",
        &admin,
        &form,
        "/people?q=nvidal&added=nvidal",
    )
    .await;
    let people = send(&api, "GET", "/people?q=nvidal", Some(&admin), "").await;
    assert!(people.body.contains("Nina Vidal"), "{}", people.body);
    assert!(people.body.contains("id=\"add-person-go\""));
    // The same operation's checks: a second nvidal is the API's refusal.
    let again = send(&api, "POST", "/people", Some(&admin), &form).await;
    assert!(again.status.is_client_error(), "{}", again.status);
    assert!(again.body.contains("role=\"alert\""), "{}", again.body);

    let form = format!(
        "csrf={csrf}&person=nvidal&school={}&from=2026-09-01&until=&ends_previous=retraite",
        crate::support::api::SCHOOL_EAST
    );
    done(
        &api,
        "/admin/appointments",
        &admin,
        &form,
        "/admin/appointments?person=nvidal&granted=",
    )
    .await;
    let rights = api
        .store
        .read(|tx| tx.rights(&crate::support::world::pid("nvidal")));
    let right = rights.unwrap()[0].id;
    // The school's director in place (jdupont) left for the reason given.
    let before = send(
        &api,
        "GET",
        "/admin/appointments?person=jdupont",
        Some(&admin),
        "",
    )
    .await;
    assert!(before.body.contains("<td>retraite</td>"), "{}", before.body);
    let page = send(
        &api,
        "GET",
        "/admin/appointments?person=nvidal",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(crate::support::api::SCHOOL_EAST),
        "{}",
        page.body
    );
    assert!(page.body.contains("2026-09-01"), "{}", page.body);
    let form = format!("csrf={csrf}&person=nvidal&right={right}&reason=mutation&on=2026-12-01");
    done(
        &api,
        "/admin/appointments/end",
        &admin,
        &form,
        "/admin/appointments?person=nvidal&ended=",
    )
    .await;
    let page = send(
        &api,
        "GET",
        "/admin/appointments?person=nvidal",
        Some(&admin),
        "",
    )
    .await;
    assert!(page.body.contains("<td>mutation</td>"), "{}", page.body);
    assert!(page.body.contains("<td>2026-12-01</td>"), "{}", page.body);
    let actions: Vec<String> = api.audit_after(0).into_iter().map(|(_, a, _)| a).collect();
    for action in ["person.add", "right.grant.appointment", "right.end"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn the_admin_adds_a_district_and_a_school() {
    let api = api();
    let (admin, csrf) = session(&api, &api.keys.admin);
    let form = format!("csrf={csrf}&code=NORTH&name=Nord&inspector=cpetit");
    done(
        &api,
        "/admin/districts",
        &admin,
        &form,
        "/admin/schools?district=NORTH",
    )
    .await;
    let uai = crate::support::world::SCHOOL_EAST_2;
    let form = format!("csrf={csrf}&uai={uai}&name=Ecole+Nord&district=NORTH");
    done(
        &api,
        "/admin/schools",
        &admin,
        &form,
        "/admin/schools?school=",
    )
    .await;
    let page = send(&api, "GET", "/admin/schools", Some(&admin), "").await;
    assert_eq!(page.status, 200);
    for text in ["NORTH", "Nord", "cpetit", uai, "Ecole Nord"] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    // A bad UAI: the API's refusal, nothing added.
    let before = api.snapshot();
    let form = format!("csrf={csrf}&uai=0130001A&name=X&district=NORTH");
    let bad = send(&api, "POST", "/admin/schools", Some(&admin), &form).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(before, api.snapshot());
}

#[tokio::test]
async fn the_admin_grants_and_revokes_a_staff_key_never_shown() {
    let api = api();
    let (admin, csrf) = session(&api, &api.keys.admin);
    let form = format!("csrf={csrf}&person=mleroy&role=desk&district=");
    let answer = send(&api, "POST", "/admin/staff-keys", Some(&admin), &form).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let location = answer.headers["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('=').next().unwrap().to_owned();
    let page = send(&api, "GET", &location, Some(&admin), "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("mleroy-desk"), "{}", page.body);
    assert!(page.body.contains("active"));
    // Only the hash is stored; no page shows a key (the admin's own
    // neither).
    assert!(!page.body.contains(&api.keys.admin));
    let form = format!("csrf={csrf}&key={id}");
    done(
        &api,
        "/admin/staff-keys/revoke",
        &admin,
        &form,
        "/admin/staff-keys?revoked=",
    )
    .await;
    let page = send(&api, "GET", "/admin/staff-keys", Some(&admin), "").await;
    assert!(page.body.contains("révoquée le"), "{}", page.body);
    let revoked = api
        .store
        .read(|tx| tx.api_keys())
        .unwrap()
        .into_iter()
        .any(|k| k.id.to_string() == id && k.revoked_at.is_some());
    assert!(revoked);
}

/// The admin's state changes, with a valid form each.
fn admin_acts() -> Vec<(&'static str, String)> {
    let uai = crate::support::world::SCHOOL_EAST_2;
    vec![
        (
            "/admin/appointments",
            format!(
                "person=cpetit&school={}&from=2026-09-01",
                crate::support::api::SCHOOL_EAST
            ),
        ),
        // Right 1: jdupont's appointment at the EAST school.
        (
            "/admin/appointments/end",
            "right=1&reason=mutation".to_owned(),
        ),
        (
            "/admin/districts",
            "code=NORTH&name=Nord&inspector=cpetit".to_owned(),
        ),
        ("/admin/schools", format!("uai={uai}&name=N&district=EAST")),
        ("/admin/staff-keys", "person=mleroy&role=admin".to_owned()),
        ("/admin/staff-keys/revoke", "key=1".to_owned()),
    ]
}

#[tokio::test]
async fn a_desk_or_inspector_is_refused_the_admins_acts_and_the_refusal_audited() {
    let api = api();
    for key in [&api.keys.desk, &api.keys.inspector_east] {
        let (id, csrf) = session(&api, key);
        let mut acts = admin_acts();
        if key == &api.keys.inspector_east {
            // The API lets the desk add people, not an inspector.
            acts.push(("/people", "id=zz&full_name=Z&mail=z%40example.org".into()));
        }
        for (uri, form) in acts {
            let before = api.snapshot();
            let head = api.audit_head();
            let answer = send(&api, "POST", uri, Some(&id), &format!("csrf={csrf}&{form}")).await;
            assert_eq!(answer.status, 403, "{uri}: {}", answer.body);
            assert!(answer.body.contains("role=\"alert\""), "{uri}");
            assert_eq!(before, api.snapshot(), "{uri} changed something");
            assert!(
                api.audit_after(head).iter().any(|(_, a, _)| a == "refused"),
                "{uri} not audited"
            );
        }
        let page = send(&api, "GET", "/admin/staff-keys", Some(&id), "").await;
        assert_eq!(page.status, 403, "{}", page.body);
    }
}

#[tokio::test]
async fn an_admin_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    let api = api();
    let (admin, csrf) = session(&api, &api.keys.admin);
    let wrong = if csrf.starts_with('0') { "1" } else { "0" };
    let mut acts = admin_acts();
    acts.push(("/people", "id=zz&full_name=Z&mail=z%40example.org".into()));
    for (uri, form) in acts {
        for form in [form.clone(), format!("csrf={wrong}{}&{form}", &csrf[1..])] {
            let before = api.snapshot();
            let head = api.audit_head();
            let answer = send(&api, "POST", uri, Some(&admin), &form).await;
            assert_eq!(answer.status, 403, "{uri}: {}", answer.body);
            assert_eq!(before, api.snapshot(), "{uri} changed something");
            assert!(
                api.audit_after(head).iter().any(|(_, a, _)| a == "refused"),
                "{uri} not audited"
            );
        }
    }
}
