//! The wire types against docs/api.md: the documented field sets, the
//! documented examples, and the error codes and details.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::*;

const API_DOC: &str = include_str!("../../docs/api.md");

/// Decodes `value` as `T` and encodes it back: the JSON must not change,
/// byte for byte (a `Value`'s keys are sorted, as in the server's `json!`
/// bodies).
fn round_trip<T: Serialize + DeserializeOwned>(value: Value) {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{value} does not decode: {e}"));
    let back = serde_json::to_string(&typed).unwrap_or_default();
    assert_eq!(back, value.to_string());
}

/// The names of a documented field list such as `{"id","name"}` or
/// `{"state":"active","receipt_id"}`, checked to be in docs/api.md.
fn documented(fields: &str) -> BTreeSet<String> {
    assert!(API_DOC.contains(fields), "{fields} is not in docs/api.md");
    let inner = fields.trim_start_matches('{').trim_end_matches('}');
    let mut names = BTreeSet::new();
    let mut depth = 0;
    let mut expect_name = true;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => expect_name = true,
            ':' if depth == 0 => expect_name = false,
            '"' => {
                let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
                if depth == 0 && expect_name {
                    names.insert(text.trim_end_matches('?').to_owned());
                    expect_name = false;
                }
            }
            _ => {}
        }
    }
    names
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `value` decodes as `T`, encodes back unchanged, and has exactly the
/// fields docs/api.md lists for it.
fn check<T: Serialize + DeserializeOwned>(doc: &str, value: Value) {
    assert_eq!(keys(&value), documented(doc), "fields of {doc}");
    round_trip::<T>(value);
}

fn receipt() -> Value {
    json!({
        "id": 7, "kind": "handover", "canonical": "keyward-receipt-v1\nnumber=7\n",
        "signature": "c2ln", "public_key": "ab01", "export": "keyward-receipt-v1\nnumber=7\nsignature=c2ln\n",
    })
}

#[test]
fn answers_have_the_documented_fields_and_round_trip() {
    check::<Health>(
        r#"{"status":"ok","time_zone":"America/Martinique"}"#,
        json!({"status": "ok", "time_zone": "America/Martinique"}),
    );
    check::<verify::VerifyOutcome>(
        r#"{"result":"accept","rights":[{"school":"0751710B","origin":"appointment"|"delegation","until":"2027-07-06"|null}]}"#,
        json!({"result": "accept", "rights": [
            {"school": "0751710B", "origin": "appointment", "until": "2027-07-06"},
            {"school": "0751710B", "origin": "delegation", "until": null},
        ]}),
    );
    check::<verify::VerifyOutcome>(r#"{"result":"reject"}"#, json!({"result": "reject"}));
    check::<apikeys::CreatedApiKey>(
        r#"{"id","name","role","key"}"#,
        json!({"id": 3, "name": "desk-alice", "role": "desk", "key": "kw_X"}),
    );
    check::<apikeys::ApiKeyEntry>(
        r#"{"id","name","role","person","district","readers","created_at","revoked_at"}"#,
        json!({"id": 3, "name": "ien", "role": "inspector", "person": "pmartin",
               "district": "D-EST", "readers": [], "created_at": 1_700_000_000u64,
               "revoked_at": null}),
    );
    check::<CreatedId>(r#"{"id"}"#, json!({"id": 4}));
    check::<people::CreatedDistrict>(r#"{"code"}"#, json!({"code": "D-EST"}));
    check::<people::CreatedSchool>(r#"{"uai"}"#, json!({"uai": "0751710B"}));
    // The listed records come from the domain: their fields stay in the
    // wire's (alphabetical) order.
    round_trip::<people::DistrictEntry>(json!({"code": "D-EST", "inspector": null, "name": "Est"}));
    round_trip::<people::SchoolEntry>(
        json!({"district": "D-EST", "name": "Lilas", "uai": "0751710B"}),
    );
    check::<people::PersonDetail>(
        r#"{"id","full_name","mail","left","rights":[right],"token":{"serial","state"}|null}"#,
        json!({"id": "adurand", "full_name": "Anne Durand", "mail": "anne.durand@ac-exemple.fr",
               "left": false, "rights": [{"id": 1, "school": "0751710B", "origin": "appointment",
                           "from": "2026-09-01", "until": null, "in_force": true}],
               "token": {"serial": "12345678", "state": "handed_over"}}),
    );
    check::<people::LiveToken>(
        r#"{"serial","state"}"#,
        json!({"serial": "1", "state": "active"}),
    );
    check::<rights::RightEnded>(r#"{"id","ended":true}"#, json!({"id": 17, "ended": true}));
    check::<rights::Right>(
        r#"{"id","school","origin","from","until","in_force","ended_at","end_reason"}"#,
        json!({"id": 1, "school": "0751710B", "origin": "appointment", "from": "2026-09-01",
               "until": null, "in_force": false, "ended_at": "2026-11-02T09:00:00Z",
               "end_reason": "mutation"}),
    );
    check::<requests::KeyRequestEntry>(
        r#"{"id","holder","district","requested_at","status":"open"|"fulfilled","token"}"#,
        json!({"id": 2, "holder": "bleroy", "district": "D-EST",
               "requested_at": "2026-11-02T09:00:00Z", "status": "fulfilled", "token": "VT-1"}),
    );
    check::<requests::ReplacementEntry>(
        r#"{"id","holder","old_token","reason","received_at","status":"open"|"fulfilled","new_token"}"#,
        json!({"id": 2, "holder": "adurand", "old_token": "VT-1", "reason": "lost",
               "received_at": "2026-11-02T09:00:00Z", "status": "open", "new_token": null}),
    );
    check::<people::PersonLeft>(
        r#"{"id","left":true}"#,
        json!({"id": "amorel", "left": true}),
    );
    check::<devices::DeviceEntry>(
        r#"{"reader","present":true,"profile","serial","state"|null,"holder"|null}"#,
        json!({"reader": "Virtual PCD 00 00", "present": true, "profile": "yubikey5-oath",
               "serial": "12345678", "state": null, "holder": null}),
    );
    check::<devices::DeviceCode>(
        r#"{"serial","code"}"#,
        json!({"serial": "1", "code": "755224"}),
    );
    check::<devices::Touched>(
        r#"{"serial","typed"}"#,
        json!({"serial": "1", "typed": "287082"}),
    );
    check::<tokens::TokenEntry>(
        r#"{"serial","profile","state","holder","revoke_reason","credential":{"kind","algorithm","digits","period","locked","failures"}|null}"#,
        json!({"serial": "1", "profile": "yubikey5-oath", "state": "revoked", "holder": "adurand",
               "revoke_reason": "lost", "credential": {"kind": "totp", "algorithm": "SHA1",
               "digits": 6, "period": 30, "locked": false, "failures": 0}}),
    );
    check::<tokens::CredentialEntry>(
        r#"{"kind","algorithm","digits","period","locked","failures"}"#,
        json!({"kind": "hotp", "algorithm": "SHA256", "digits": 8, "period": null,
               "locked": true, "failures": 10}),
    );
    check::<tokens::RegisteredToken>(
        r#"{"serial","state":"stock"}"#,
        json!({"serial": "1", "state": "stock"}),
    );
    check::<tokens::PreparedToken>(
        r#"{"serial","holder","state":"prepared","apdus"?}"#,
        json!({"serial": "1", "holder": "adurand", "state": "prepared", "apdus": 0}),
    );
    check::<receipts::ReceiptAnswer>(r#"{"receipt":{...}}"#, json!({"receipt": receipt()}));
    check::<tokens::Activated>(
        r#"{"state":"active","receipt_id","receipt":{receipt JSON as in Receipts},"device_pin":true|false}"#,
        json!({"state": "active", "receipt_id": 7, "receipt": receipt(), "device_pin": true}),
    );
    round_trip::<tokens::Activated>(
        json!({"state": "active", "receipt_id": null, "receipt": null, "device_pin": false}),
    );
    check::<tokens::WipedToken>(
        r#"{"serial","state"}"#,
        json!({"serial": "1", "state": "wiped"}),
    );
    check::<tokens::PinUnblocked>(
        r#"{"serial","device_pin":"unblocked","tries_left"}"#,
        json!({"serial": "1", "device_pin": "unblocked", "tries_left": 3}),
    );
    check::<tokens::Resynchronised>(
        r#"{"resynchronised":true}"#,
        json!({"resynchronised": true}),
    );
    check::<receipts::Receipt>(
        r#"{"id","kind","canonical","signature","public_key","export"}"#,
        receipt(),
    );
    check::<reports::OverdueItem>(
        r#"{"serial","holder","due","days_late"}"#,
        json!({"serial": "1", "holder": "adurand", "due": "2027-07-06", "days_late": 3}),
    );
    check::<reports::InTransitItem>(
        r#"{"serial","holder","returned_on","days_waiting"}"#,
        json!({"serial": "1", "holder": "adurand", "returned_on": "2027-07-01", "days_waiting": 2}),
    );
    round_trip::<reports::OverdueReport>(json!({"D-EST": [
        {"serial": "1", "holder": "adurand", "due": "2027-07-06", "days_late": 3}]}));
    check::<audit::AuditCheck>(
        r#"{"ok":true,"entries":N,"head":"hex"}"#,
        serde_json::to_value(audit::AuditCheck::intact(12, "ab".into())).unwrap_or_default(),
    );
    check::<audit::AuditCheck>(
        r#"{"ok":false,"first_bad":SEQ,"why":"..."}"#,
        serde_json::to_value(audit::AuditCheck::broken(4, "gap".into())).unwrap_or_default(),
    );
    check::<events::DeviceEvent>(
        r#"{"reader","kind":"inserted"|"removed","serial"?,"profile"?}"#,
        json!({"reader": "R", "kind": "inserted", "serial": "1", "profile": null}),
    );
    round_trip::<events::DeviceEvent>(json!({"reader": "R", "kind": "removed"}));
    check::<events::TokenEvent>(
        r#"{"serial","state"}"#,
        json!({"serial": "1", "state": "wiped"}),
    );
}

#[test]
fn requests_have_the_documented_fields_and_round_trip() {
    check::<verify::VerifyBody>(
        r#"{"login","passcode","source"?}"#,
        json!({"login": "adurand", "passcode": "482915755224", "source": "10.0.0.1"}),
    );
    round_trip::<verify::VerifyBody>(json!({"login": "adurand", "passcode": "1"}));
    check::<apikeys::NewKeyBody>(
        r#"{"name","role","person"?,"district"?,"readers"?}"#,
        json!({"name": "s", "role": "inspector", "person": "pmartin", "district": "D",
               "readers": []}),
    );
    check::<people::DistrictBody>(
        r#"{"code","name","inspector"}"#,
        json!({"code": "D-EST", "name": "Est", "inspector": "pmartin"}),
    );
    check::<people::SchoolBody>(
        r#"{"uai","name","district"}"#,
        json!({"uai": "0751710B", "name": "Lilas", "district": "D-EST"}),
    );
    check::<people::PersonBody>(
        r#"{"id","full_name","mail"}"#,
        json!({"id": "adurand", "full_name": "Anne Durand", "mail": "a@ac-exemple.fr"}),
    );
    check::<rights::RightBody>(
        r#"{"person","school","from","until"?,"ends_previous"?}"#,
        json!({"ends_previous": "retraite", "person": "p", "school": "0751710B",
               "from": "2026-09-01", "until": "2027-07-06"}),
    );
    check::<rights::EndRightBody>(
        r#"{"reason","on"?}"#,
        json!({"reason": "mutation", "on": "2027-01-04"}),
    );
    check::<requests::KeyRequestBody>(r#"{"holder"}"#, json!({"holder": "bleroy"}));
    check::<requests::ReplacementBody>(
        r#"{"holder","reason":"lost"|"stolen"|"broken"|"faulty","from","cc":[...],"subject"?}"#,
        json!({"holder": "a", "reason": "lost", "from": "a@x", "cc": ["b@x"], "subject": "s"}),
    );
    check::<devices::ReaderBody>(r#"{"reader"}"#, json!({"reader": "R"}));
    check::<tokens::NewTokenBody>(
        r#"{"serial","profile"}"#,
        json!({"serial": "1", "profile": "yubikey5-oath"}),
    );
    check::<tokens::PrepareBody>(
        r#"{"holder","reader","kind":"totp"|"hotp"?,"algorithm"?,"digits"?,"period"?}"#,
        json!({"holder": "a", "reader": "R", "kind": "totp", "algorithm": "SHA1",
               "digits": 6, "period": 30}),
    );
    round_trip::<tokens::PrepareBody>(json!({"holder": "a", "reader": "R"}));
    check::<tokens::HandoverBody>(
        r#"{"place","reader","typed"?}"#,
        json!({"place": "IEN Est", "reader": "R", "typed": "755224"}),
    );
    check::<tokens::ActivateBody>(
        r#"{"reader","pin","typed"?}"#,
        json!({"reader": "R", "pin": "482915", "typed": "755224"}),
    );
    check::<tokens::ReturnBody>(
        r#"{"place","reason","reader","typed"?}"#,
        json!({"place": "IEN", "reason": "end", "reader": "R", "typed": "755224"}),
    );
    check::<tokens::RevokeBody>(r#"{"reason"}"#, json!({"reason": "stolen"}));
    check::<tokens::ResyncBody>(
        r#"{"first","second"}"#,
        json!({"first": "755224", "second": "287082"}),
    );
}

#[test]
fn request_bodies_refuse_unknown_fields() {
    let body = json!({"holder": "a", "reader": "R", "colour": "red"});
    assert!(serde_json::from_value::<tokens::PrepareBody>(body).is_err());
}

#[test]
fn secrets_never_show_in_debug() {
    let body: verify::VerifyBody =
        serde_json::from_value(json!({"login": "a", "passcode": "SECRET123"}))
            .unwrap_or_else(|e| panic!("{e}"));
    let key: apikeys::CreatedApiKey = serde_json::from_value(
        json!({"id": 1, "name": "n", "role": "admin", "key": "kw_SECRET123"}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let pin: tokens::ActivateBody =
        serde_json::from_value(json!({"reader": "R", "pin": "SECRET123"}))
            .unwrap_or_else(|e| panic!("{e}"));
    for text in [format!("{body:?}"), format!("{key:?}"), format!("{pin:?}")] {
        assert!(!text.contains("SECRET123"), "{text}");
    }
}

#[test]
fn error_bodies_round_trip() {
    round_trip::<ErrorBody>(json!({"error": {"code": "conflict", "message": "m",
        "detail": "holder_has_live_token"}}));
    round_trip::<ErrorBody>(json!({"error": {"code": "invalid", "message": "m", "field": "pin"}}));
    round_trip::<ErrorBody>(json!({"error": {"code": "device_error", "message": "m",
        "detail": "access_code_refused"}}));
    round_trip::<ErrorBody>(json!({"error": {"code": "internal", "message": "m"}}));
}

/// The backticked words of the error table's code column.
fn documented_codes() -> BTreeSet<String> {
    API_DOC
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | status | code | when |
            let status = cells.get(1)?;
            let code = cells.get(2)?;
            (status.len() == 3 && status.chars().all(|c| c.is_ascii_digit()))
                .then(|| code.trim_matches('`').to_owned())
        })
        .collect()
}

/// The backticked words of the sentence that starts with `lead` and ends
/// at the next full stop.
fn documented_list(lead: &str) -> BTreeSet<String> {
    let start = API_DOC
        .find(lead)
        .unwrap_or_else(|| panic!("{lead} not in docs/api.md"));
    let text = &API_DOC[start + lead.len()..];
    let end = text.find(". ").unwrap_or(text.len());
    text[..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_error_code_is_documented_and_every_documented_one_exists() {
    let code: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(code, documented_codes());
    for c in ErrorCode::ALL {
        assert_eq!(
            serde_json::to_value(c).unwrap_or_default(),
            json!(c.as_str())
        );
    }
}

#[test]
fn every_error_detail_is_documented_and_every_documented_one_exists() {
    let conflict: BTreeSet<String> = ErrorDetail::CONFLICT
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        conflict,
        documented_list("409 `conflict` errors carry `\"detail\"`:")
    );
    let device: BTreeSet<String> = ErrorDetail::DEVICE.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        device,
        documented_list("502 `device_error` carries\n`\"detail\"`:")
    );
    for d in ErrorDetail::CONFLICT.into_iter().chain(ErrorDetail::DEVICE) {
        assert_eq!(ErrorDetail::parse(d.as_str()), Some(d));
        assert_eq!(
            serde_json::to_value(d).unwrap_or_default(),
            json!(d.as_str())
        );
    }
}
