//! `POST /validate/check` on a real daemon, as privacyIDEA's plugins call
//! it: a form or a JSON body, a bearer key, privacyIDEA's answer; the same
//! verify service as `/v1/verify` and RADIUS (one accept per code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};

use crate::radius_peers::Gateway;

fn check_form(gw: &Gateway, key: Option<&str>, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut request = ureq::post(format!("{}/validate/check", gw.served.url));
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let mut answer = request
        .config()
        .http_status_as_error(false)
        .build()
        .send_form(fields.iter().copied())
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap())
}

fn check_json(gw: &Gateway, body: &Value) -> (u16, Value) {
    let mut answer = ureq::post(format!("{}/validate/check", gw.served.url))
        .header("Authorization", format!("Bearer {}", gw.admin_key))
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(body)
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap())
}

fn result(value: &Value) -> (bool, bool) {
    (
        value["result"]["status"].as_bool().unwrap(),
        value["result"]["value"].as_bool().unwrap(),
    )
}

#[test]
fn validate_check_answers_as_privacyidea_for_forms_and_json() {
    let mut gw = Gateway::start(1);
    let login = gw.holders[0].login.clone();
    let passcode = gw.holders[0].next_passcode();
    let key = gw.admin_key.clone();
    let (status, first) = check_form(
        &gw,
        Some(&key),
        &[
            ("user", &login),
            ("pass", &passcode),
            ("realm", "ac-exemple"),
        ],
    );
    assert_eq!(status, 200, "{first}");
    assert_eq!(result(&first), (true, true), "{first}");
    assert_eq!(first["detail"]["message"], "matching 1 tokens");
    // The same code again, as JSON: a replay, rejected.
    let (status, again) = check_json(&gw, &json!({"user": login, "pass": passcode}));
    assert_eq!(status, 200);
    assert_eq!(result(&again), (true, false), "{again}");
    // A fresh code as JSON, with fields a plugin may add.
    let fresh = gw.holders[0].next_passcode();
    let (_, ok) = check_json(
        &gw,
        &json!({"user": login, "pass": fresh, "transaction_id": "", "client": "10.0.0.1"}),
    );
    assert_eq!(result(&ok), (true, true), "{ok}");
    // No key: the API's 401; no `pass`: a 400 naming the fields.
    let (status, _) = check_form(&gw, None, &[("user", &login), ("pass", "1")]);
    assert_eq!(status, 401);
    let (status, bad) = check_form(&gw, Some(&key), &[("user", &login)]);
    assert_eq!(status, 400, "{bad}");
    let audit = gw.audit_of(&login);
    assert_eq!(audit, ["verify.accept", "verify.reject", "verify.accept"]);
    gw.served.stop();
}
