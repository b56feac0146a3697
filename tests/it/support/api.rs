//! Shared fixture of the API tests: a store in a temporary directory with a
//! fixed clock, the in-process virtual reader, the router from `app()`
//! called with `oneshot` (no socket), and one API key per role.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use keyward::api::{app, AppState, Operation};
use keyward::devices::{Device, DeviceManager, VirtualDevice, VIRTUAL_READER, VIRTUAL_STATE_FILE};
use keyward::domain::Role;
use keyward::domain::{Actor, FixedClock, RightOrigin};
use keyward::store::Store;
use serde_json::Value;
use tower::ServiceExt as _;

pub use super::world::{at, DOMAIN, SCHOOL_EAST, SCHOOL_WEST};
pub const READER: &str = VIRTUAL_READER;

pub struct Keys {
    pub admin: String,
    pub desk: String,
    pub inspector_east: String,
    pub inspector_west: String,
    pub station: String,
    pub station_elsewhere: String,
    pub gateway: String,
}

impl Keys {
    /// (role name, key) for every role, the east inspector standing for inspectors.
    pub fn all(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("admin", &self.admin),
            ("desk", &self.desk),
            ("inspector", &self.inspector_east),
            ("station", &self.station),
            ("gateway", &self.gateway),
        ]
    }

    /// The key of `role`, as in [`Keys::all`].
    pub fn of(&self, role: &str) -> &str {
        let (_, key) = self.all().into_iter().find(|(r, _)| *r == role).unwrap();
        key
    }
}

pub struct Api {
    pub dir: tempfile::TempDir,
    pub clock: Arc<FixedClock>,
    pub store: Arc<Store>,
    pub devices: Arc<DeviceManager>,
    pub state: AppState,
    pub keys: Keys,
    pub serial: String,
}

/// The data directory inside the fixture's temporary directory.
pub fn data_dir(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("data")
}

/// Two districts (EAST: pmartin, WEST: lbernard), a school in each, a
/// director appointed in EAST (jdupont) and one in WEST (mleroy), the
/// virtual token at its reader, and one key per role.
pub fn api() -> Api {
    api_with_device(|path| Arc::new(VirtualDevice::open(path).unwrap()))
}

pub fn api_with_device(device: impl FnOnce(&std::path::Path) -> Arc<dyn Device>) -> Api {
    let (dir, clock, store) = super::world::empty_store(at("2026-09-15", 10));
    let store = Arc::new(store);
    let keys = setup(&store);
    let device = device(&data_dir(&dir).join(VIRTUAL_STATE_FILE));
    finish(dir, clock, store, keys, device)
}

pub fn finish(
    dir: tempfile::TempDir,
    clock: Arc<FixedClock>,
    store: Arc<Store>,
    keys: Keys,
    device: Arc<dyn Device>,
) -> Api {
    let devices = DeviceManager::new(
        store.clone(),
        clock.clone(),
        keyward::profile::builtin().unwrap(),
    );
    let present = devices.attach(READER, device).unwrap();
    let serial = present.serial.unwrap();
    let state = AppState::new(store.clone(), devices.clone(), clock.clone()).unwrap();
    Api {
        dir,
        clock,
        store,
        devices,
        state,
        keys,
        serial,
    }
}

pub fn setup(store: &Store) -> Keys {
    use super::world::{add_person, date, pid, uai};
    store
        .write(&Actor::Desk(pid("alice")), "setup", |tx| {
            for (id, name) in [
                ("root", "Rose Admin"),
                ("alice", "Alice Morel"),
                ("pmartin", "Paul Martin"),
                ("lbernard", "Lea Bernard"),
                ("jdupont", "Jeanne Dupont"),
                ("mleroy", "Marc Leroy"),
                ("cpetit", "Claire Petit"),
            ] {
                add_person(tx, id, name)?;
            }
            tx.add_district("EAST", "Est", &pid("pmartin"))?;
            tx.add_district("WEST", "Ouest", &pid("lbernard"))?;
            tx.add_school(&uai(SCHOOL_EAST), "Ecole Est", "EAST")?;
            tx.add_school(&uai(SCHOOL_WEST), "Ecole Ouest", "WEST")?;
            let (east, west) = (uai(SCHOOL_EAST), uai(SCHOOL_WEST));
            let from = date("2026-09-01");
            tx.grant_right(
                RightOrigin::Appointment,
                &pid("jdupont"),
                &east,
                from,
                Some(date("2027-07-04")),
            )?;
            tx.grant_right(RightOrigin::Appointment, &pid("mleroy"), &west, from, None)?;
            // A delegation (right 3) an inspector of EAST may end.
            tx.act_as(Actor::Inspector(pid("pmartin")));
            tx.grant_right(
                RightOrigin::Delegation,
                &pid("cpetit"),
                &east,
                date("2026-09-10"),
                None,
            )?;
            tx.act_as(Actor::Desk(pid("alice")));
            let key = |tx: &mut keyward::store::Tx<'_>,
                       name: &str,
                       role: Role,
                       district: Option<&str>,
                       readers: &[String]| {
                let person = match (role, name) {
                    (Role::Admin, _) => Some(pid("root")),
                    (Role::Desk, _) => Some(pid("alice")),
                    (Role::Inspector, "pm") => Some(pid("pmartin")),
                    (Role::Inspector, _) => Some(pid("lbernard")),
                    _ => None,
                };
                tx.create_api_key(name, role, district, readers, person.as_ref())
                    .map(|k| k.key.to_string())
            };
            Ok(Keys {
                admin: key(tx, "root", Role::Admin, None, &[])?,
                desk: key(tx, "alice", Role::Desk, None, &[])?,
                inspector_east: key(tx, "pm", Role::Inspector, Some("EAST"), &[])?,
                inspector_west: key(tx, "lb", Role::Inspector, Some("WEST"), &[])?,
                station: key(tx, "st", Role::Station, None, &[READER.to_owned()])?,
                station_elsewhere: key(
                    tx,
                    "st2",
                    Role::Station,
                    None,
                    &["Other Reader".to_owned()],
                )?,
                gateway: key(tx, "gw", Role::Gateway, None, &[])?,
            })
        })
        .unwrap()
}

/// One request to the router: method, path (with its query), the caller's
/// API key and a body sent as is (it need not be valid JSON).
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub uri: String,
    pub key: Option<String>,
    pub body: Option<String>,
}

impl Call {
    pub fn new(method: &str, uri: impl Into<String>) -> Call {
        Call {
            method: method.to_owned(),
            uri: uri.into(),
            key: None,
            body: None,
        }
    }

    pub fn get(uri: impl Into<String>) -> Call {
        Call::new("GET", uri)
    }

    pub fn post(uri: impl Into<String>) -> Call {
        Call::new("POST", uri)
    }

    /// Sent with `Authorization: Bearer key`.
    pub fn by(self, key: &str) -> Call {
        Call {
            key: Some(key.to_owned()),
            ..self
        }
    }

    /// With this body, as it is (`content-type: application/json`).
    pub fn body(self, body: impl Into<String>) -> Call {
        Call {
            body: Some(body.into()),
            ..self
        }
    }

    /// With `value` as its JSON body.
    pub fn json(self, value: Value) -> Call {
        self.body(value.to_string())
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.uri)
    }
}

impl Api {
    /// Sends `call`; the answer's body as JSON (`Null` when empty, a JSON
    /// string when it is not JSON).
    pub async fn send(&self, call: Call) -> (StatusCode, Value) {
        let (status, bytes) = self.send_raw(call).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// Sends `call`; the answer's body as bytes.
    pub async fn send_raw(&self, call: Call) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder()
            .method(call.method.as_str())
            .uri(call.uri);
        if let Some(key) = call.key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = match call.body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
            None => request.body(Body::empty()).unwrap(),
        };
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, bytes)
    }

    /// `GET uri` with `key`.
    pub async fn get(&self, key: &str, uri: &str) -> (StatusCode, Value) {
        self.send(Call::get(uri).by(key)).await
    }

    /// `POST uri` with `key` and, if any, a JSON body.
    pub async fn post(&self, key: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let call = Call::post(uri).by(key);
        self.send(match body {
            Some(body) => call.json(body),
            None => call,
        })
        .await
    }

    /// `DELETE uri` with `key`.
    pub async fn delete(&self, key: &str, uri: &str) -> (StatusCode, Value) {
        self.send(Call::new("DELETE", uri).by(key)).await
    }

    /// `POST /v1/verify` with this body, as the gateway.
    pub async fn verify(&self, body: &Value) -> (StatusCode, Value) {
        let call = Call::post("/v1/verify").by(&self.keys.gateway);
        self.send(call.json(body.clone())).await
    }

    /// Asserts `GET /metrics` (no key) answers with each of `lines`.
    pub async fn assert_metrics(&self, lines: &[&str]) {
        // Reasons are shown to an admin key only.
        let (status, bytes) = self
            .send_raw(Call::get("/metrics").by(&self.keys.admin))
            .await;
        assert_eq!(status, 200);
        let metrics = String::from_utf8(bytes).unwrap();
        for line in lines {
            assert!(metrics.contains(line), "{line} missing in\n{metrics}");
        }
    }

    /// `GET /v1/events` as `key`: the answer's head, its body a stream.
    pub async fn subscribe(&self, key: &str) -> axum::response::Response {
        let request = Request::builder()
            .uri("/v1/events")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        app(self.state.clone()).oneshot(request).await.unwrap()
    }

    /// The event stream as `key` (the subscription must be accepted).
    pub async fn events(&self, key: &str) -> axum::body::BodyDataStream {
        let response = self.subscribe(key).await;
        assert_eq!(response.status(), 200);
        response.into_body().into_data_stream()
    }

    /// Desk prepares `serial` for `holder` at `reader`.
    pub async fn prepare(&self, serial: &str, holder: &str, reader: &str) -> (StatusCode, Value) {
        let body = serde_json::json!({"holder": holder, "reader": reader});
        self.post(
            &self.keys.desk,
            &format!("/v1/tokens/{serial}/prepare"),
            Some(body),
        )
        .await
    }

    /// [`Api::prepare`], which must succeed; the token as prepared.
    pub async fn prepare_ok(&self, serial: &str, holder: &str, reader: &str) -> Value {
        let (status, token) = self.prepare(serial, holder, reader).await;
        assert_eq!(status, 200, "{token}");
        token
    }

    /// Desk files the help request `request`, which must be accepted; the
    /// request as filed.
    pub async fn file_replacement(&self, request: Value) -> Value {
        let (status, filed) = self
            .post(&self.keys.desk, "/v1/replacement-requests", Some(request))
            .await;
        assert_eq!(status, 201, "{filed}");
        filed
    }

    /// Desk prepares the token at `reader` as the replacement `request`
    /// asks for, which must succeed; the new token as prepared.
    pub async fn prepare_replacement(&self, request: &Value, reader: &str) -> Value {
        let body = serde_json::json!({"reader": reader});
        let path = replacement_prepare_path(request);
        let (status, prepared) = self.post(&self.keys.desk, &path, Some(body)).await;
        assert_eq!(status, 200, "{prepared}");
        prepared
    }

    /// Every table but the audit, as text: equal snapshots mean no state change.
    pub fn snapshot(&self) -> String {
        let conn = rusqlite::Connection::open_with_flags(
            self.store.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut out = String::new();
        for table in [
            "people",
            "districts",
            "schools",
            "rights",
            "tokens",
            "credentials",
            "sealed_secrets",
            "receipts",
            "key_requests",
            "replacement_requests",
            "api_keys",
            "pending_writes",
            "device_puks",
            "slot_access_codes",
            "imported_secrets",
            "pin_reset_approvals",
        ] {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            let rows: Vec<String> = stmt
                .query_map([], |row| {
                    let mut cells = Vec::new();
                    for i in 0..n {
                        let v: rusqlite::types::Value = row.get(i)?;
                        cells.push(format!("{v:?}"));
                    }
                    Ok(cells.join("|"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            out.push_str(&format!("[{table}]\n{}\n", rows.join("\n")));
        }
        out
    }

    /// Audit entries (action, subject) after `seq`.
    pub fn audit_after(&self, seq: i64) -> Vec<(i64, String, String)> {
        let conn = rusqlite::Connection::open_with_flags(
            self.store.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = conn
            .prepare("SELECT seq, action, subject FROM audit WHERE seq > ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    pub fn audit_head(&self) -> i64 {
        self.audit_after(0).last().map_or(0, |e| e.0)
    }

    /// Asserts `call` is refused with `status`/`code`, changes no state,
    /// and is audited as a refusal; returns the error answer.
    pub async fn assert_refused(&self, call: Call, status: u16, code: &str) -> Value {
        let before = self.snapshot();
        let head = self.audit_head();
        let what = call.to_string();
        let (got, value) = self.send(call).await;
        assert_eq!(
            (got.as_u16(), value["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {value}"
        );
        assert_eq!(before, self.snapshot(), "{what} changed state");
        // Reads of what does not exist are not refusals; every other
        // refusal is audited.
        if matches!(status, 401 | 403 | 409 | 422) {
            let audited = self.audit_after(head);
            assert!(
                audited.iter().any(|(_, action, _)| action == "refused"),
                "{what}: refusal not audited: {audited:?}"
            );
        }
        value
    }

    /// [`Api::assert_refused`] with 409 `conflict` and this `detail`.
    pub async fn assert_conflict(&self, call: Call, detail: &str) {
        let what = call.to_string();
        let err = self.assert_refused(call, 409, "conflict").await;
        assert_eq!(err["error"]["detail"], detail, "{what}");
    }

    /// [`Api::assert_refused`] with 422 `invalid` naming this `field`;
    /// returns the error answer.
    pub async fn assert_invalid(&self, call: Call, field: &str) -> Value {
        let what = format!("{call} {}", call.body.as_deref().unwrap_or(""));
        let err = self.assert_refused(call, 422, "invalid").await;
        assert_eq!(err["error"]["field"], field, "{what}: {err}");
        err
    }
}

/// Where a filed replacement request is prepared.
pub fn replacement_prepare_path(request: &Value) -> String {
    format!("/v1/replacement-requests/{}/prepare", request["id"])
}

/// A request for every operation of `Operation::ALL`, see [`route`].
pub fn routes(serial: &str) -> Vec<(Call, Vec<&'static str>)> {
    Operation::ALL.iter().map(|&op| route(op, serial)).collect()
}

/// A request for `op` (path and body from the fixture, no key) and the
/// roles allowed to make it. `serial` is the virtual token's.
pub fn route(op: Operation, serial: &str) -> (Call, Vec<&'static str>) {
    let roles = op.roles().iter().map(|r| r.as_str()).collect();
    let call = Call::new(op.method().as_str(), sample_path(op, serial));
    let call = Call {
        body: sample_body(op),
        ..call
    };
    (call, roles)
}

/// The operation's path with its parameters filled from the fixture.
pub fn sample_path(op: Operation, serial: &str) -> String {
    let id = match op {
        Operation::ShowPerson | Operation::PersonRights => "jdupont",
        // The delegation an inspector of EAST may end.
        Operation::EndRight => "3",
        _ => "1",
    };
    op.path()
        .replace("{serial}", serial)
        .replace("{reader}", "keyward%20virtual%20reader")
        .replace("{id}", id)
}

/// A body an allowed role gets past authorisation with; `None` for
/// operations without a body.
pub fn sample_body(op: Operation) -> Option<String> {
    let r = READER;
    let east = SCHOOL_EAST;
    Some(match op {
        Operation::Verify => r#"{"login":"jdupont","passcode":"483920123456"}"#.into(),
        Operation::ValidateCheck => r#"{"user":"jdupont","pass":"483920123456"}"#.into(),
        Operation::CreateApiKey => r#"{"name":"k","role":"gateway"}"#.into(),
        Operation::AddDistrict => r#"{"code":"NORTH","name":"Nord","inspector":"cpetit"}"#.into(),
        Operation::AddSchool => r#"{"uai":"0750002V","name":"x","district":"EAST"}"#.into(),
        Operation::AddPerson => {
            format!(r#"{{"id":"new1","full_name":"N","mail":"new1@{DOMAIN}"}}"#)
        }
        Operation::GrantAppointment => {
            format!(r#"{{"person":"cpetit","school":"{east}","from":"2026-09-01"}}"#)
        }
        Operation::GrantDelegation => {
            format!(r#"{{"person":"mleroy","school":"{east}","from":"2026-09-20"}}"#)
        }
        Operation::RequestKey => r#"{"holder":"cpetit"}"#.into(),
        Operation::FileReplacement => format!(
            r#"{{"holder":"jdupont","reason":"lost","from":"jdupont@{d}","cc":["pmartin@{d}"]}}"#,
            d = DOMAIN
        ),
        Operation::PrepareReplacement | Operation::Wipe | Operation::UnblockPin => {
            format!(r#"{{"reader":"{r}"}}"#)
        }
        Operation::QualifyReplacement => r#"{"reason":"broken"}"#.into(),
        Operation::GrantEmergency => r#"{"form":"sheet","codes":3,"days":5,"pin":"846203"}"#.into(),
        Operation::IngestMail => "Message-ID: <1@x>\r\nFrom: a.b@x.fr\r\n\r\nhi".into(),
        Operation::AddToken => r#"{"serial":"Y1","profile":"yubikey5-oath"}"#.into(),
        Operation::PrepareToken => format!(r#"{{"holder":"jdupont","reader":"{r}"}}"#),
        Operation::ImportTokens => {
            r#"{"pskc":"<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"/>","dry_run":true}"#.into()
        }
        Operation::BindToken => r#"{"holder":"jdupont","code":"123456"}"#.into(),
        Operation::Handover => format!(r#"{{"place":"Paris","reader":"{r}"}}"#),
        Operation::Activate => format!(r#"{{"pin":"483920","reader":"{r}"}}"#),
        Operation::ForgottenPin => format!(r#"{{"pin":"604817","reader":"{r}"}}"#),
        Operation::ApprovePinReset => r#"{"hours":24}"#.into(),
        Operation::ReturnToken => {
            format!(r#"{{"place":"Paris","reason":"end","reader":"{r}"}}"#)
        }
        Operation::Revoke => r#"{"reason":"lost"}"#.into(),
        Operation::Resync => r#"{"first":"123456","second":"654321"}"#.into(),
        Operation::DirectorySync => r#"{"dry_run":true,"confirm":false}"#.into(),
        _ => return None,
    })
}
