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
