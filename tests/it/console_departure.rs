//! A person's departure in the console, over plain HTTP against a real
//! `keyward serve`: the admin's departure page says what the API's
//! `POST /v1/people/{id}/leave` does (their staff keys refused, their rights
//! ended, nothing new given to them, their OTP key left to be taken back),
//! in French and in English; the form needs the session's CSRF token; other
//! roles are refused and the refusal audited; the departure is the API's
//! (audited `person.leave`), and afterwards the person, their keys and
//! rights are what the API says, the desk's search no longer offers them
//! and the command line is refused a new right for them (`person_left`).

use serde_json::json;

use crate::console_security::{send, session};
use crate::support::api::api;
use crate::support::cli::{client, exits};
use crate::support::console::{csrf_of, Console, ADMIN, DISTRICT, SCHOOL};
use keyward::devices::VIRTUAL_READER;

/// The refusals audited so far.
fn refusals(console: &Console) -> usize {
    console.audit("refused").len()
}

/// jdupont's `left`, as the API says.
fn left(console: &Console) -> bool {
    let (status, person) = console.api("GET", "people/jdupont", None);
    assert_eq!(status, 200, "{person}");
    person["left"]
        .as_bool()
        .expect("the person detail says `left`")
}

#[test]
fn the_admin_records_a_departure_from_the_page_that_says_what_it_does() {
    let mut console = Console::start();
    // jdupont holds a prepared key and a desk access key.
    let serial = console.serial();
    console.created(
        &format!("tokens/{serial}/prepare"),
        json!({"holder": "jdupont", "reader": VIRTUAL_READER}),
    );
    let desk = console.created(
        "apikeys",
        json!({"name": "jdupont-desk", "role": "desk", "person": "jdupont"}),
    );
    let desk_key = desk["key"].as_str().unwrap().to_owned();
    assert_eq!(console.api_as(&desk_key, "GET", "people", None).0, 200);
    let station = console.created(
        "apikeys",
        json!({"name": "poste", "role": "station", "readers": [VIRTUAL_READER]}),
    );

    let admin = console.admin();
    // The person's page says they have not left and links the departure.
    let person = admin.get("/people/jdupont");
    assert_eq!(person.status, 200, "{}", person.body);
    assert!(
        person.body.contains("pas de départ enregistré"),
        "{}",
        person.body
    );
    assert!(person.body.contains("href=\"/people/jdupont/departure\""));
    assert!(person.body.contains(&serial), "{}", person.body);
    // The desk's search offers them for a key while they are here.
    let desk = admin.get("/desk?q=dupont");
    assert!(
        desk.body.contains("Jeanne Dupont (jdupont)"),
        "{}",
        desk.body
    );
    let list = admin.get("/people?q=dupont");
    assert!(
        list.body.contains("href=\"/people/jdupont\""),
        "{}",
        list.body
    );

    // The departure page: what it does, what it leaves, in French.
    let page = admin.get("/people/jdupont/departure");
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "Ce que l&#39;enregistrement du départ fait",
        "jdupont-desk",
        "guichet",
        "prennent fin aussitôt",
        "Rien de nouveau ne lui est plus remis",
        "Ce que le départ ne change pas",
        SCHOOL,
        "en vigueur",
        &serial,
        "person.leave",
        "id=\"departure-go\"",
        "action=\"/people/jdupont/leave\"",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let csrf = csrf_of(&page.body);
    // In English when asked.
    let mut english = admin.clone();
    english.english = true;
    let en = english.get("/people/jdupont/departure");
    assert!(
        en.body.contains("What recording the departure does")
            && en.body.contains("What the departure does not change"),
        "{}",
        en.body
    );

    // A station session: neither the page nor the act.
    let kiosk = console
        .station(station["key"].as_str().unwrap())
        .expect("the station signs in");
    let kiosk_csrf = kiosk.csrf();
    let before = refusals(&console);
    assert_eq!(kiosk.get("/people/jdupont/departure").status, 403);
    let refused = kiosk.post("/people/jdupont/leave", &format!("csrf={kiosk_csrf}"));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("Seul un administrateur"),
        "{}",
        refused.body
    );
    assert!(refusals(&console) >= before + 2, "not audited");
    assert!(!left(&console));
    // Without the CSRF token, or with another session's: refused,
    // audited, no departure.
    for form in [String::new(), format!("csrf={kiosk_csrf}")] {
        let before = refusals(&console);
        let refused = admin.post("/people/jdupont/leave", &form);
        assert_eq!(refused.status, 403, "{form}: {}", refused.body);
        assert!(!left(&console), "{form}");
        assert!(refusals(&console) > before, "{form}: not audited");
    }
    // Nobody records their own departure: the API's refusal in words.
    let own = admin.post(&format!("/people/{ADMIN}/leave"), &format!("csrf={csrf}"));
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(own.body.contains("son propre départ"), "{}", own.body);

    // The departure, done.
    let done = admin.post("/people/jdupont/leave", &format!("csrf={csrf}"));
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.location.unwrap();
    assert_eq!(to, "/people/jdupont?left=yes");
    let after = admin.get(&to);
    assert!(
        after.body.contains("a quitté l&#39;académie"),
        "{}",
        after.body
    );
    assert!(after.body.contains("Le départ de jdupont est enregistré"));
    assert!(!after.body.contains("id=\"departure-link\""));
    let audited = console.audit("person.leave");
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].1, "jdupont");
    assert_eq!(console.audit("right.end").len(), 1);
    // As the API says: left; their desk key refused; their appointment
    // ended (end of function); their key as it was, to be taken back.
    let (_, person) = console.api("GET", "people/jdupont", None);
    assert_eq!(person["left"], true, "{person}");
    assert_eq!(person["rights"][0]["in_force"], false, "{person}");
    assert_eq!(person["rights"][0]["end_reason"], "fin_de_fonction");
    assert_eq!(person["rights"][0]["school"], SCHOOL, "{person}");
    assert_eq!(person["token"]["serial"], serial.as_str(), "{person}");
    assert_eq!(person["token"]["state"], "prepared", "{person}");
    let (status, _) = console.api_as(&desk_key, "GET", "people", None);
    assert!(
        status == 401 || status == 403,
        "the desk key still works: {status}"
    );
    // No new access key for them.
    let (status, _) = console.api(
        "POST",
        "apikeys",
        Some(json!({"name": "again", "role": "desk", "person": "jdupont"})),
    );
    assert_eq!(status, 403);
    // The desk's search no longer offers them; the people list still does.
    let desk = admin.get("/desk?q=dupont");
    assert!(!desk.body.contains("(jdupont)"), "{}", desk.body);
    assert!(
        desk.body.contains("Personne ne correspond"),
        "{}",
        desk.body
    );
    assert!(admin
        .get("/people?q=dupont")
        .body
        .contains("href=\"/people/jdupont\""));
    // The command line gets the same refusals as the API: no new right,
    // no handover of the key prepared before, no key request.
    let inspector = console.created(
        "apikeys",
        json!({"name": "pm", "role": "inspector", "district": DISTRICT, "person": "pmartin"}),
    );
    let inspector = inspector["key"].as_str().unwrap();
    let (school, reader) = (SCHOOL, VIRTUAL_READER);
    let new_right = |verb| {
        [
            "rights",
            verb,
            "--person",
            "jdupont",
            "--school",
            school,
            "--from",
            "2030-09-01",
        ]
    };
    let handover = [
        "tokens", "handover", "--reader", reader, "--place", "Est", &serial,
    ];
    let ask = ["key-requests", "create", "--holder", "jdupont"];
    for (key, args) in [
        (console.admin_key.as_str(), new_right("appoint").to_vec()),
        (inspector, new_right("delegate").to_vec()),
        (console.admin_key.as_str(), handover.to_vec()),
        (inspector, ask.to_vec()),
    ] {
        let (_, said) = exits(&mut client(&console.url, key, &args), 6);
        assert!(said.contains("left the authority"), "{args:?}: {said}");
    }
    assert_eq!(console.audit("right.grant.appointment").len(), 1);
    assert!(console.audit("right.grant.delegation").is_empty());
    assert!(console.audit("token.handover").is_empty());
    // Twice is refused in words, and the page has no form any more.
    let again = admin.post("/people/jdupont/leave", &format!("csrf={csrf}"));
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("déjà enregistré"), "{}", again.body);
    assert!(!again.body.contains("id=\"departure-go\""));
    assert_eq!(console.audit("person.leave").len(), 1);
    let log = console.stop();
    assert!(!log.contains(&desk_key), "a key in the log");
}

#[tokio::test]
async fn a_desk_or_inspector_is_refused_the_departure_and_the_refusal_audited() {
    let api = api();
    for key in [&api.keys.desk, &api.keys.inspector_east] {
        let (id, csrf) = session(&api, key);
        let head = api.audit_head();
        let page = send(&api, "GET", "/people/jdupont/departure", Some(&id), "").await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(api.audit_after(head).iter().any(|(_, a, _)| a == "refused"));
        let before = api.snapshot();
        let head = api.audit_head();
        let form = format!("csrf={csrf}");
        let refused = send(&api, "POST", "/people/jdupont/leave", Some(&id), &form).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
        assert_eq!(before, api.snapshot(), "the departure was recorded");
        assert!(api.audit_after(head).iter().any(|(_, a, _)| a == "refused"));
        // Their page of the person: no way to the departure.
        let person = send(&api, "GET", "/people/jdupont", Some(&id), "").await;
        assert_eq!(person.status, 200, "{}", person.body);
        assert!(!person.body.contains("id=\"departure-link\""));
    }
}
