//! Station keys on the admin's access keys page, over plain HTTP against a
//! real `keyward serve`: the admin grants a key of role `station` (a kiosk
//! bound to its readers, no person) through the API's `POST /v1/apikeys`;
//! its secret is on the answer to the grant and nowhere else (not the
//! list, not an address, not the audit, not the daemon's log); it signs a
//! station in, at the console and on the API; revoked, it is refused.

use crate::support::console::{csrf_of, enc, Console};
use keyward::devices::VIRTUAL_READER;

/// The station key in the answer to its grant.
fn secret_of(body: &str) -> String {
    let marker = "<code id=\"station-key-secret\">";
    let at = body
        .find(marker)
        .unwrap_or_else(|| panic!("no key shown: {body}"));
    let rest = &body[at + marker.len()..];
    rest[..rest.find('<').unwrap()].to_owned()
}

/// How many API keys are named `name`.
fn keys_named(console: &Console, name: &str) -> usize {
    let (status, keys) = console.api("GET", "apikeys", None);
    assert_eq!(status, 200, "{keys}");
    keys.as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == name)
        .count()
}

#[test]
fn a_station_key_is_shown_once_signs_a_station_in_and_revoked_is_refused() {
    let mut console = Console::start();
    let admin = console.admin();
    let page = admin.get("/admin/staff-keys");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("action=\"/admin/staff-keys/station\""));
    // The reader where a key is present is offered.
    assert!(
        page.body.contains(&format!(
            "name=\"reader\" id=\"station-reader-1\" value=\"{VIRTUAL_READER}\""
        )),
        "{}",
        page.body
    );
    let csrf = csrf_of(&page.body);
    let form = format!(
        "name=poste-rectorat&reader={}&other_readers=",
        enc(VIRTUAL_READER)
    );
    // Without the CSRF token: refused, no key made.
    let refused = admin.post("/admin/staff-keys/station", &form);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(keys_named(&console, "poste-rectorat"), 0);
    // No reader: the API's refusal, no key.
    let bare = admin.post(
        "/admin/staff-keys/station",
        &format!("csrf={csrf}&name=poste-rectorat&other_readers=+"),
    );
    assert_eq!(bare.status, 422, "{}", bare.body);
    assert_eq!(keys_named(&console, "poste-rectorat"), 0);

    // Granted: the key on the answer, once, with where to put it.
    let granted = admin.post("/admin/staff-keys/station", &format!("csrf={csrf}&{form}"));
    assert_eq!(granted.status, 201, "{}", granted.body);
    assert_eq!(granted.location, None, "the key's page is not a redirect");
    let key = secret_of(&granted.body);
    assert!(key.starts_with("kw_") && key.len() > 20, "{key}");
    assert_eq!(granted.body.matches(key.as_str()).count(), 1);
    for text in [
        "elle ne sera plus jamais affichée",
        "/station/signin",
        "KEYWARD_API_KEY",
        "poste-rectorat",
        VIRTUAL_READER,
    ] {
        assert!(granted.body.contains(text), "{text}: {}", granted.body);
    }
    assert_eq!(keys_named(&console, "poste-rectorat"), 1);
    // Listed with the others, never shown again.
    for _ in 0..2 {
        let list = admin.get("/admin/staff-keys");
        assert_eq!(list.status, 200);
        assert!(!list.body.contains(&key), "the key shown again");
        let row = list
            .body
            .lines()
            .find(|l| l.contains("poste-rectorat"))
            .unwrap_or_else(|| panic!("not listed: {}", list.body));
        assert!(
            row.contains("poste de remise")
                && row.contains(VIRTUAL_READER)
                && row.contains("active"),
            "{row}"
        );
    }

    // It is a station's key: on the API and at the console.
    let (status, devices) = console.api_as(&key, "GET", "devices", None);
    assert_eq!(status, 200, "{devices}");
    let (status, _) = console.api_as(&key, "GET", "people", None);
    assert_eq!(status, 403, "a station may not list people");
    let kiosk = console.station(&key).expect("the station signs in");
    let station = kiosk.get("/station");
    assert_eq!(station.status, 200, "{}", station.body);
    assert!(station.body.contains(VIRTUAL_READER), "{}", station.body);
    assert!(!station.body.contains(&key));

    // Revoked: refused everywhere, its session ended.
    let id = console
        .api("GET", "apikeys", None)
        .1
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "poste-rectorat")
        .and_then(|k| k["id"].as_i64())
        .unwrap();
    let revoked = admin.post("/admin/staff-keys/revoke", &format!("csrf={csrf}&key={id}"));
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    let list = admin.get("/admin/staff-keys");
    let row = list
        .body
        .lines()
        .find(|l| l.contains("poste-rectorat"))
        .unwrap();
    assert!(row.contains("révoquée le"), "{row}");
    assert_eq!(console.api_as(&key, "GET", "devices", None).0, 401);
    let ended = kiosk.get("/station");
    assert_eq!(ended.status, 303, "{}", ended.body);
    assert_eq!(ended.location.as_deref(), Some("/station/signin"));
    assert!(console.station(&key).is_none(), "a revoked key signs in");

    // The grant is audited, without the key; no log line has it.
    let created = console.audit("apikey.create");
    assert!(
        created
            .iter()
            .any(|(_, _, d)| d.contains("name=poste-rectorat") && d.contains("role=station")),
        "{created:?}"
    );
    let (_, audit) = console.api("GET", "audit", None);
    assert!(!audit.to_string().contains(&key), "the key in the audit");
    let log = console.stop();
    assert!(!log.is_empty());
    assert!(!log.contains(&key), "the key in a log line");
}
