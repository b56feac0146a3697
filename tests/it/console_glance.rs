//! The console's glance charts, live desk and list of every appointment
//! over plain HTTP (the router in process): each chart drawn with its
//! table, in the caller's scope; the readers' fragment and event stream
//! behind the API's roles; the static script under the CSP; every
//! appointment filtered, paged and exported, refused to other roles.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt as _;

use crate::console_security::{send, session};
use crate::support::api::api;
use keyward::console::{Settings, CSP};

#[tokio::test]
async fn the_glance_draws_every_chart_with_its_table_in_the_callers_scope() {
    let api = api();
    // A refused verify: today's refusals count it.
    let (status, _) = api
        .verify(&json!({"login": "jdupont", "passcode": "000000000000"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (desk, _) = session(&api, &api.keys.desk);
    let page = send(&api, "GET", "/glance", Some(&desk), "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for id in ["states", "districts", "returns", "preparation", "verify"] {
        for part in [
            format!("id=\"{id}-chart\""),
            format!("<title id=\"{id}-svg-title\">"),
            format!("aria-describedby=\"{id}-svg-desc\""),
            format!("<table id=\"{id}-table\">"),
        ] {
            assert!(page.body.contains(&part), "{part} in {}", page.body);
        }
    }
    // Series told apart by patterns named in a legend, not colour alone.
    assert!(page.body.contains("url(#returns-hatch)"));
    assert!(page.body.contains("<th scope=\"col\">en retard</th>"));
    assert!(
        page.body.contains("semaine du 2026-07-07 *"),
        "the deadline's week"
    );

    let (status, days) = api.get(&api.keys.desk, "/v1/reports/verify-outcomes").await;
    assert_eq!(status, StatusCode::OK, "{days}");
    let today = days.as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["day"], "2026-09-15", "the authority's day: {today}");
    assert_eq!(today["refused"], 1, "{today}");
    assert_eq!(today["accepted"], 0, "{today}");
    let (status, weeks) = api.get(&api.keys.desk, "/v1/reports/return-weeks").await;
    assert_eq!(status, StatusCode::OK, "{weeks}");
    let weeks = weeks.as_array().unwrap();
    assert_eq!(weeks.len(), 8);
    let deadline: Vec<_> = weeks.iter().filter(|w| w["deadline"] == true).collect();
    assert_eq!(deadline.len(), 1);
    assert_eq!(deadline[0]["starts"], "2026-07-07");

    // An inspector: their district's charts, not the verify outcomes (not
    // theirs to read: the API refuses them, and the page does not ask).
    let (inspector, _) = session(&api, &api.keys.inspector_east);
    let head = api.audit_head();
    let page = send(&api, "GET", "/glance", Some(&inspector), "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"returns-chart\""));
    assert!(page.body.contains("id=\"preparation-chart\""));
    assert!(!page.body.contains("id=\"verify-chart\""));
    assert!(
        !page.body.contains("WEST"),
        "another district: {}",
        page.body
    );
    assert_eq!(api.audit_head(), head, "no refusal asked for");
    let (status, _) = api
        .get(&api.keys.inspector_east, "/v1/reports/verify-outcomes")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The status and headers of a `GET`, without reading its body (an event
/// stream does not end).
async fn head_of(api: &crate::support::api::Api, uri: &str, cookie: &str) -> (u16, String) {
    let app = keyward::console::with_api(api.state.clone(), Settings::default());
    let request = Request::get(uri)
        .header(header::COOKIE, format!("kw_session={cookie}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), kind)
}

#[tokio::test]
async fn the_live_desk_follows_the_api_roles_and_its_script_the_csp() {
    let api = api();
    let (desk, _) = session(&api, &api.keys.desk);
    let (inspector, _) = session(&api, &api.keys.inspector_east);
    let page = send(&api, "GET", "/desk", Some(&desk), "").await;
    assert!(page
        .body
        .contains("<script src=\"/console.js\" defer></script>"));
    assert!(page.body.contains("data-events=\"/desk/events\""));
    assert!(!page.body.contains("<script>"), "no inline script");
    let readers = send(&api, "GET", "/desk/readers", Some(&desk), "").await;
    assert_eq!(readers.status, 200);
    assert!(readers.body.contains(&api.serial), "{}", readers.body);
    assert!(!readers.body.contains("<html"), "a fragment");
    let (status, kind) = head_of(&api, "/desk/events", &desk).await;
    assert_eq!((status, kind.as_str()), (200, "text/event-stream"));
    // The inspector may not follow the readers (the API's roles).
    let (status, _) = head_of(&api, "/desk/events", &inspector).await;
    assert_eq!(status, 403);
    let refused = send(&api, "GET", "/desk/readers", Some(&inspector), "").await;
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains(&api.serial));
    // Without a session: nothing.
    let (status, _) = head_of(&api, "/desk/events", "nope").await;
    assert_ne!(status, 200);

    let script = send(&api, "GET", "/console.js", None, "").await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(script.body.contains("EventSource"));
    assert!(!script.body.contains("http:") && !script.body.contains("https:"));
    assert_eq!(script.headers[header::CONTENT_SECURITY_POLICY], CSP);
    assert!(CSP.contains("script-src 'self'") && !CSP.contains("unsafe"));
}

#[tokio::test]
async fn the_admin_lists_every_appointment_filtered_paged_and_as_csv() {
    let api = api();
    let (admin, _) = session(&api, &api.keys.admin);
    let all = send(&api, "GET", "/admin/appointment-list", Some(&admin), "").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(all.body.contains("Jeanne Dupont") && all.body.contains("Marc Leroy"));
    assert!(
        !all.body.contains("Claire Petit"),
        "a delegation is no appointment"
    );
    assert!(all.body.contains("2 affectations trouvées"), "{}", all.body);
    let west = send(
        &api,
        "GET",
        "/admin/appointment-list?school=ouest",
        Some(&admin),
        "",
    )
    .await;
    assert!(west.body.contains("Marc Leroy") && !west.body.contains("Jeanne Dupont"));
    let ended = send(
        &api,
        "GET",
        "/admin/appointment-list?state=ended",
        Some(&admin),
        "",
    )
    .await;
    assert!(
        ended.body.contains("0 affectations trouvées"),
        "{}",
        ended.body
    );

    // Ended by the admin for a reason: listed as ended, with the reason.
    let (status, answer) = api
        .post(
            &api.keys.admin,
            "/v1/rights/1/end",
            Some(json!({"reason": "retraite"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ended = send(
        &api,
        "GET",
        "/admin/appointment-list?state=ended&person=dupont",
        Some(&admin),
        "",
    )
    .await;
    assert!(
        ended.body.contains("1 affectations trouvées"),
        "{}",
        ended.body
    );
    assert!(ended.body.contains("pas en vigueur"));
    let in_force = send(
        &api,
        "GET",
        "/admin/appointment-list?state=in_force",
        Some(&admin),
        "",
    )
    .await;
    assert!(in_force.body.contains("Marc Leroy") && !in_force.body.contains("Jeanne Dupont"));

    let csv = send(
        &api,
        "GET",
        "/admin/appointment-list.csv?person=leroy",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "person,full_name,school,school_name,from,until,status,ended_at,reason"
    );
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(
        lines[1].starts_with("\"mleroy\",\"Marc Leroy\","),
        "{}",
        lines[1]
    );

    // The API pages it and counts every match.
    let (status, page) = api
        .get(&api.keys.admin, "/v1/rights/appointments?limit=1&offset=1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);

    // Any other role: the API's refusal, audited.
    for key in [&api.keys.desk, &api.keys.inspector_east] {
        let (other, _) = session(&api, key);
        let head = api.audit_head();
        let refused = send(&api, "GET", "/admin/appointment-list", Some(&other), "").await;
        assert_eq!(refused.status, 403);
        assert!(!refused.body.contains("Marc Leroy"));
        assert!(api.audit_head() > head, "the refusal is audited");
    }
}
