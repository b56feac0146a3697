//! The web console in a real Chromium (Debian's, through chromedriver)
//! against a real `keyward serve` with the virtual token: the first admin
//! signs in with the link `--init` printed; the desk prepares the key for a
//! director found by search; it is handed over; the station, signed in with
//! its key, has the director choose the PIN twice; the gateway's verify
//! accepts; the key is taken back and the return slip printed, its signed
//! text checked by `keyward receipts verify`. On the way the desk's readers
//! follow the activation live (SSE), the glance page draws its charts with
//! their tables, the admin lists every appointment, the desk finds a holder
//! by school, the admin records a departure and grants a station key
//! (shown once). A PNG of every page goes to `target/console-screenshots/`,
//! the slip's A4 print to a PDF there.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::support::cli;
use crate::support::serve::{serve, Served};
use crate::support::webdriver::Driver;
use crate::support::world::at;
use keyward::devices::VIRTUAL_READER;

const SCHOOL: &str = "0751710B";
const PIN: &str = "482915";

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// `POST url` with a bearer key; the status and JSON answer.
fn post(url: &str, key: &str, body: Value) -> (u16, Value) {
    let mut r = agent()
        .post(url)
        .header("authorization", &format!("Bearer {key}"))
        .send_json(&body)
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn created(url: &str, key: &str, body: Value) -> Value {
    let (status, answer) = post(url, key, body.clone());
    assert!(
        status == 201 || status == 200,
        "{url} {body}: {status} {answer}"
    );
    answer
}

#[test]
fn desk_inspector_station_and_gateway_through_the_console_in_chromium() {
    let driver = Driver::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The daemon's clock, moved to the next code step before the gateway
    // asks (the activation used this step's code).
    let clock = dir.path().join("clock");
    let set_clock = |t: u64| std::fs::write(&clock, t.to_string()).unwrap();
    let start = at("2026-11-30", 9);
    set_clock(start);
    let daemon = Served::start(
        serve(&data, &["--virtual-token", "on", "--pcsc", "off"])
            .arg("--init")
            .env("KEYWARD_TEST_CLOCK", &clock)
            .env("RUST_LOG", "debug")
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap()),
    );
    let (url, admin) = (daemon.url.clone(), daemon.admin_key());
    let link = daemon
        .console_link
        .clone()
        .expect("init prints the console link");
    // The authority as the admin's API client: a district, a school, a
    // director appointed there, a station at the virtual reader, a gateway.
    let v1 = |p: &str| format!("{url}/v1/{p}");
    created(
        &v1("people"),
        &admin,
        json!({"id": "pmartin", "full_name": "Paul Martin", "mail": "pmartin@ac-exemple.fr"}),
    );
    created(
        &v1("districts"),
        &admin,
        json!({"code": "D-EST", "name": "Est", "inspector": "pmartin"}),
    );
    created(
        &v1("schools"),
        &admin,
        json!({"uai": SCHOOL, "name": "École des Lilas", "district": "D-EST"}),
    );
    created(
        &v1("people"),
        &admin,
        json!({"id": "jdupont", "full_name": "Jeanne Dupont", "mail": "jdupont@ac-exemple.fr"}),
    );
    created(
        &v1("rights/appointments"),
        &admin,
        json!({"person": "jdupont", "school": SCHOOL, "from": "2020-09-01", "until": null}),
    );
    let station = created(
        &v1("apikeys"),
        &admin,
        json!({"name": "station", "role": "station", "readers": [VIRTUAL_READER]}),
    );
    let station_key = station["key"].as_str().unwrap().to_owned();
    let gateway = created(
        &v1("apikeys"),
        &admin,
        json!({"name": "gw", "role": "gateway"}),
    );
    let gateway_key = gateway["key"].as_str().unwrap().to_owned();
    let shots = shots();
    let mut saved = Vec::new();

    // The first admin signs in with the one-time link.
    let staff = driver.browser("staff");
    staff.goto(&format!("{url}{link}"));
    saved.push(staff.screenshot(&shots, "01-bootstrap"));
    staff.find("#bootstrap").click();
    staff.wait_url("/desk");
    saved.push(staff.screenshot(&shots, "02-desk"));
    let serial = staff.find("table tbody tr td:nth-child(2)").text();
    assert!(
        !serial.is_empty() && serial != "—",
        "the virtual token at its reader"
    );

    // The desk prepares the key for the director found by search.
    staff.find("#q").type_text("dupont");
    staff.find("form[role=search] button").click();
    staff.wait(&format!("#prepare-{serial}"));
    assert!(staff.source().contains("Jeanne Dupont"));
    saved.push(staff.screenshot(&shots, "03-desk-search"));
    staff.find(&format!("#prepare-{serial}")).click();
    assert!(
        staff.wait(".notice").text().contains(&serial),
        "prepared notice"
    );
    saved.push(staff.screenshot(&shots, "04-desk-prepared"));

    // It is handed over (possession proved by a code read at the reader).
    staff.goto(&format!("{url}/inspector"));
    saved.push(staff.screenshot(&shots, "05-inspector"));
    staff
        .find(&format!("#hp-{serial}"))
        .type_text("École des Lilas");
    staff.find(&format!("#handover-{serial}")).click();
    staff.wait_url("/receipts/");
    staff.wait("#receipt-text");
    assert!(staff.source().contains("jdupont"));
    saved.push(staff.screenshot(&shots, "06-handover-slip"));

    // The desk, live: its readers' table follows the device event stream
    // (the static script, `/desk/events`) while the station activates.
    staff.goto(&format!("{url}/desk"));
    staff.wait("#readers-live[data-live=on]");
    assert!(staff.find("#readers-live").text().contains("remise"));

    // The station, signed in once with its key, in its own browser.
    let kiosk = driver.browser("station");
    kiosk.goto(&format!("{url}/station"));
    kiosk.wait_url("/station/signin");
    saved.push(kiosk.screenshot(&shots, "07-station-signin"));
    kiosk.find("#key").type_text(&station_key);
    kiosk.find("button[type=submit]").click();
    kiosk.wait("#activate");
    assert!(kiosk.source().contains("jdupont"));
    saved.push(kiosk.screenshot(&shots, "08-station"));
    // Two different PINs are refused; the same one twice activates.
    kiosk.find("#accept").click();
    kiosk.find("#pin").type_text(PIN);
    kiosk.find("#pin_again").type_text("730418");
    kiosk.find("#activate").click();
    assert!(kiosk.wait(".error").text().contains("PIN"));
    saved.push(kiosk.screenshot(&shots, "09-station-pins-differ"));
    kiosk.find("#accept").click();
    kiosk.find("#pin").type_text(PIN);
    kiosk.find("#pin_again").type_text(PIN);
    kiosk.find("#activate").click();
    kiosk.wait("#receipt-text");
    saved.push(kiosk.screenshot(&shots, "10-station-slip"));
    // The activation's token event reached the desk's page by SSE: the
    // state changed without a reload.
    staff.wait("#readers-live[data-updates] .state-active");
    assert!(staff.find("#readers-live").text().contains("en service"));
    assert!(staff.url().ends_with("/desk"), "no reload: {}", staff.url());
    saved.push(staff.screenshot(&shots, "20-desk-live"));

    // The gateway's verify accepts the PIN and a code from the key.
    set_clock(start + 60);
    let (status, code) = post(
        &v1(&format!(
            "devices/{}/code",
            VIRTUAL_READER.replace(' ', "%20")
        )),
        &admin,
        json!({}),
    );
    assert_eq!(status, 200, "{code}");
    let passcode = format!("{PIN}{}", code["code"].as_str().unwrap());
    let (status, outcome) = post(
        &v1("verify"),
        &gateway_key,
        json!({"login": "jdupont", "passcode": passcode}),
    );
    assert_eq!(
        (status, outcome["result"].as_str()),
        (200, Some("accept")),
        "{outcome}"
    );

    // Taken back at the next step: the return slip, printed on A4, its
    // text verified.
    set_clock(start + 120);
    staff.goto(&format!("{url}/inspector"));
    staff
        .find(&format!("#rp-{serial}"))
        .type_text("École des Lilas");
    staff
        .find(&format!("#rw-{serial}"))
        .type_text("fin de fonction");
    staff.find(&format!("#return-{serial}")).click();
    staff.wait_url("/receipts/");
    staff.wait("#receipt-text");
    saved.push(staff.screenshot(&shots, "11-return-slip"));
    staff.print_a4(&shots.join("11-return-slip.pdf"));
    let export = staff.find("#receipt-export").property("textContent");
    assert!(export.contains("signature="), "{export}");
    let id = staff.url().rsplit('/').next().unwrap().to_owned();
    let mut r = agent()
        .get(v1(&format!("receipts/{id}")))
        .header("authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    let receipt: Value = r.body_mut().read_json().unwrap();
    assert_eq!(receipt["kind"], "return");
    assert_eq!(
        receipt["export"].as_str(),
        Some(export.as_str()),
        "the QR's text is the export"
    );
    let file = dir.path().join("return.txt");
    std::fs::write(&file, &export).unwrap();
    let public_key = receipt["public_key"].as_str().unwrap();
    let checked =
        cli::stdout_ok(cli::keyward(["receipts", "verify", "--public-key", public_key]).arg(&file));
    assert!(checked.contains("jdupont"), "{checked}");

    // At a glance: the charts and the tables behind them.
    staff.goto(&format!("{url}/glance"));
    staff.wait("#states-table");
    saved.push(staff.screenshot(&shots, "12-glance"));
    // Each chart an SVG with its title and the table of its figures: the
    // returns around the July deadline, the August meeting's preparation,
    // the verify outcomes (the gateway's accept of today among them).
    for id in ["states", "districts", "returns", "preparation", "verify"] {
        staff.wait(&format!("svg#{id}-chart title"));
        staff.wait(&format!("table#{id}-table tbody tr"));
    }
    let verify = staff.find("#verify-table").text();
    let today = verify
        .lines()
        .find(|l| l.starts_with("2026-11-30"))
        .unwrap_or_else(|| panic!("no row for today: {verify}"));
    let accepted: u64 = today
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(accepted >= 1, "the gateway's accept: {today}");
    assert!(verify.contains("acceptés"), "{verify}");
    assert_eq!(staff.find("#returns-table tbody").text().lines().count(), 8);
    staff.goto(&format!("{url}/glance#returns-title"));
    staff.wait("#returns-chart");
    saved.push(staff.screenshot(&shots, "21-glance-charts"));
    staff.goto(&format!("{url}/tokens?state=returned"));
    assert!(staff.wait("table tbody").text().contains(&serial));
    saved.push(staff.screenshot(&shots, "13-tokens-search"));
    // The desk receives it at the IT centre (wiped), then restocks it.
    staff.find(&format!("#receive-{serial}")).click();
    staff.wait(&format!("#restock-{serial}")).click();
    staff.wait_url(&format!("serial={serial}"));
    assert!(staff.wait("table tbody").text().contains("stock"));
    // The admin's audit page: the restock just done, searched by action.
    staff.goto(&format!(
        "{url}/admin/audit?action=token.restock&subject={serial}"
    ));
    assert!(staff.wait("table tbody").text().contains(&serial));
    staff.wait("#checkpoints-title");
    saved.push(staff.screenshot(&shots, "15-audit"));
    // The admin's people: a person added from the form, by keyboard.
    staff.goto(&format!("{url}/people"));
    staff.wait("#new-id").type_text("nvidal");
    staff.find("#new-name").type_text("Nina Vidal");
    staff.find("#new-mail").type_text("nvidal@ac-exemple.fr");
    staff.find("#add-person-go").click();
    staff.wait_url("added=nvidal");
    assert!(staff.wait("table tbody").text().contains("Nina Vidal"));
    saved.push(staff.screenshot(&shots, "16-people"));
    // Appointments (start, end, reason), districts and schools, staff keys.
    staff.goto(&format!("{url}/admin/appointments?person=jdupont"));
    assert!(staff.wait("#appointments tbody").text().contains(SCHOOL));
    saved.push(staff.screenshot(&shots, "17-appointments"));
    // Every appointment, filtered by school and state from the form.
    staff.goto(&format!("{url}/admin/appointment-list"));
    staff.wait("#school").type_text("Lilas");
    staff.find("#appointment-list-go").click();
    staff.wait_url("school=Lilas");
    let list = staff.wait("#appointment-list tbody").text();
    assert!(
        list.contains("Jeanne Dupont") && list.contains(SCHOOL) && list.contains("2020-09-01"),
        "{list}"
    );
    assert!(list.contains("en vigueur"), "{list}");
    saved.push(staff.screenshot(&shots, "22-appointment-list"));
    staff.goto(&format!("{url}/admin/schools"));
    assert!(staff.wait("#schools tbody").text().contains(SCHOOL));
    saved.push(staff.screenshot(&shots, "18-schools"));
    staff.goto(&format!("{url}/admin/staff-keys"));
    staff.wait("#staff-keys tbody");
    saved.push(staff.screenshot(&shots, "19-staff-keys"));

    // Batch preparation, live: the key at the reader is prepared for
    // jdupont (not blank), so the batch for him waits; once the key is
    // taken back, received and restocked where it sits, the daemon
    // prepares it for him and the progress page follows without a reload.
    let prepare = v1(&format!("tokens/{serial}/prepare"));
    let body = json!({"holder": "jdupont", "reader": VIRTUAL_READER});
    let (status, answer) = post(&prepare, &admin, body);
    assert_eq!(status, 200, "{answer}");
    staff.goto(&format!("{url}/desk/batch?school=Lilas"));
    staff.wait("#p-jdupont").click();
    staff.find("#batch-go").click();
    staff.wait_url("/desk/batches/");
    staff.wait("#batch-live[data-live=on]");
    assert!(staff.find("#batch-line-1").text().contains("insérez"));
    let progress = staff.url();
    for (step, body) in [
        (
            "return",
            json!({"place": "Rectorat", "reader": VIRTUAL_READER, "reason": "série"}),
        ),
        ("receive", json!({"reader": VIRTUAL_READER})),
        ("restock", json!({})),
    ] {
        let (status, answer) = post(&v1(&format!("tokens/{serial}/{step}")), &admin, body);
        assert_eq!(status, 200, "{step}: {answer}");
    }
    staff.wait("#batch-live[data-updates] .step-prepared");
    let line = staff.find("#batch-line-1").text();
    assert!(
        line.contains(&serial) && line.contains("préparée"),
        "{line}"
    );
    assert_eq!(staff.url(), progress, "no reload");
    saved.push(staff.screenshot(&shots, "23-batch"));

    // The desk's holder search by school, from its form: Jeanne Dupont
    // found by her school's name, the count above the list.
    staff.goto(&format!("{url}/desk"));
    staff.wait("#school").type_text("Lilas");
    staff.find("#holder-search-go").click();
    staff.wait_url("school=Lilas");
    assert!(staff.wait(".pager").text().contains("1 à 1 sur 1"));
    assert!(staff.source().contains("Jeanne Dupont"));
    saved.push(staff.screenshot(&shots, "26-holder-search-school"));

    // A departure: the person's page leads to the page that says what it
    // does (the keys refused, the rights and the OTP key left as they
    // are), recorded from its form.
    staff.goto(&format!("{url}/people/jdupont"));
    staff.wait("#departure-link").click();
    staff.wait_url("/people/jdupont/departure");
    staff.wait("#departure-go");
    assert!(staff.find("#departure-token").text().contains(&serial));
    saved.push(staff.screenshot(&shots, "24-departure"));
    staff.find("#departure-go").click();
    staff.wait_url("left=yes");
    assert!(staff.wait("#person-left").text().contains("a quitté"));

    // A station's key, granted from the access keys page: shown once.
    staff.goto(&format!("{url}/admin/staff-keys"));
    staff.wait("#station-name").type_text("poste-accueil");
    staff.find("#station-reader-1").click();
    staff.find("#grant-station-go").click();
    let shown = staff.wait("#station-key-secret").text();
    assert!(shown.starts_with("kw_"), "{shown}");
    saved.push(staff.screenshot(&shots, "25-station-key"));
    staff.find("#station-key-done").click();
    staff.wait_url("granted=");
    assert!(staff
        .wait("#staff-keys tbody")
        .text()
        .contains("poste-accueil"));
    assert!(
        !staff.source().contains(&shown),
        "the station key shown again"
    );

    // Signing out ends the session: the next page asks to sign in again.
    staff.find(".me button[type=submit]").click();
    staff.wait("#login");
    staff.goto(&format!("{url}/desk"));
    staff.wait_url("/signin");
    saved.push(staff.screenshot(&shots, "14-signed-out"));

    // No PIN, code or key in any page seen or the daemon's output so far.
    for page in [staff.source(), kiosk.source()] {
        assert!(!page.contains(PIN) && !page.contains(&station_key));
    }
    drop(daemon);
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(
        !log.contains(PIN) && !log.contains(&station_key) && !log.contains(&shown),
        "a secret in a log line"
    );
    assert!(!log.contains(&passcode), "a code in a log line");
    for shot in &saved {
        assert!(
            std::fs::metadata(shot).unwrap().len() > 1000,
            "{}",
            shot.display()
        );
    }
    drop((staff, kiosk));
}
