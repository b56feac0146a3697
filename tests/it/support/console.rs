//! The web console over plain HTTP against a real `keyward serve`: the
//! daemon started with `--init` (its admin key, its one-time console link),
//! the virtual token at its reader, its log (`RUST_LOG=debug`) kept in a
//! file; a [`Visit`] is a browser without script: a session cookie, forms
//! posted as `application/x-www-form-urlencoded`, redirects not followed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Value};

use super::serve::{serve, Served};
use keyward::devices::VIRTUAL_READER;

/// The school and the district the authority is given.
pub const SCHOOL: &str = "0751710B";
pub const DISTRICT: &str = "D-EST";
/// The first admin's login (`keyward init`'s default).
pub const ADMIN: &str = "admin";

/// A running daemon and the admin's API key.
pub struct Console {
    pub daemon: Option<Served>,
    pub url: String,
    pub admin_key: String,
    link: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// An answer as a browser without script sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn page(mut r: ureq::http::Response<ureq::Body>) -> Page {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (location, set_cookie) = (header("location"), header("set-cookie"));
    Page {
        status: r.status().as_u16(),
        location,
        set_cookie,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field: {body}"));
    let rest = &body[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// A form value, percent-encoded.
pub fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Console {
    /// `keyward serve --init` with the virtual token, and the authority as
    /// the admin's API client: district `D-EST` (inspector pmartin), the
    /// school, jdupont appointed director there.
    pub fn start() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let daemon = Served::start(
            serve(
                &dir.path().join("data"),
                &["--virtual-token", "on", "--pcsc", "off"],
            )
            .arg("--init")
            .env("RUST_LOG", "debug")
            .stderr(std::fs::File::create(&log).unwrap()),
        );
        let console = Console {
            url: daemon.url.clone(),
            admin_key: daemon.admin_key(),
            link: daemon.console_link.clone().expect("init prints the link"),
            daemon: Some(daemon),
            log,
            _dir: dir,
        };
        for (path, body) in [
            (
                "people",
                json!({"id": "pmartin", "full_name": "Paul Martin", "mail": "pmartin@ac-exemple.fr"}),
            ),
            (
                "districts",
                json!({"code": DISTRICT, "name": "Est", "inspector": "pmartin"}),
            ),
            (
                "schools",
                json!({"uai": SCHOOL, "name": "École des Lilas", "district": DISTRICT}),
            ),
            (
                "people",
                json!({"id": "jdupont", "full_name": "Jeanne Dupont", "mail": "jdupont@ac-exemple.fr"}),
            ),
            (
                "rights/appointments",
                json!({"person": "jdupont", "school": SCHOOL, "from": "2020-09-01"}),
            ),
        ] {
            console.created(path, body);
        }
        console
    }

    /// `method /v1/path` with `key` as bearer: status and JSON answer.
    pub fn api_as(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/v1/{path}", self.url);
        let bearer = format!("Bearer {key}");
        let answer = match (method, body) {
            ("GET", _) => agent().get(&url).header("authorization", &bearer).call(),
            ("DELETE", _) => agent().delete(&url).header("authorization", &bearer).call(),
            (_, Some(body)) => agent()
                .post(&url)
                .header("authorization", &bearer)
                .send_json(&body),
            (_, None) => agent()
                .post(&url)
                .header("authorization", &bearer)
                .send_empty(),
        };
        let mut r = answer.unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// [`Console::api_as`] as the admin.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(&self.admin_key, method, path, body)
    }

    /// `POST /v1/path` as the admin, which must succeed.
    pub fn created(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.api("POST", path, Some(body.clone()));
        assert!(
            status == 201 || status == 200,
            "{path} {body}: {status} {answer}"
        );
        answer
    }

    /// The serial of the virtual token at its reader.
    pub fn serial(&self) -> String {
        let (status, devices) = self.api("GET", "devices", None);
        assert_eq!(status, 200, "{devices}");
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["reader"] == VIRTUAL_READER)
            .and_then(|d| d["serial"].as_str())
            .expect("the virtual token at its reader")
            .to_owned()
    }

    /// The audit entries (action, subject, detail) of `action` exactly.
    pub fn audit(&self, action: &str) -> Vec<(String, String, String)> {
        let (status, found) = self.api("GET", &format!("audit?action={}", enc(action)), None);
        assert_eq!(status, 200, "{found}");
        found["entries"]
            .as_array()
            .or_else(|| found.as_array())
            .unwrap_or_else(|| panic!("audit answer: {found}"))
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| {
                let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                (text("action"), text("subject"), text("detail"))
            })
            .collect()
    }

    /// The first admin's session, opened with the one-time link.
    pub fn admin(&self) -> Visit {
        let token = self.link.trim_start_matches("/bootstrap/");
        let mut visit = Visit::anonymous(&self.url);
        let opened = visit.post("/bootstrap", &format!("token={}", enc(token)));
        assert_eq!(opened.status, 303, "{}", opened.body);
        visit.cookie_from(&opened);
        visit
    }

    /// A station's session, signed in with its key: `None` when refused.
    pub fn station(&self, key: &str) -> Option<Visit> {
        let mut visit = Visit::anonymous(&self.url);
        let answer = visit.post("/station/signin", &format!("key={}", enc(key)));
        answer.set_cookie.as_ref()?;
        visit.cookie_from(&answer);
        Some(visit)
    }

    /// Stops the daemon and returns everything it logged.
    pub fn stop(&mut self) -> String {
        if let Some(mut daemon) = self.daemon.take() {
            assert!(
                daemon.stop().success(),
                "keyward serve did not stop cleanly"
            );
        }
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// A browser without script on the console: its session and language.
#[derive(Clone)]
pub struct Visit {
    url: String,
    session: Option<String>,
    pub english: bool,
}

impl Visit {
    pub fn anonymous(url: &str) -> Visit {
        Visit {
            url: url.to_owned(),
            session: None,
            english: false,
        }
    }

    fn cookie_from(&mut self, answer: &Page) {
        let cookie = answer.set_cookie.as_deref().expect("a session cookie");
        let id = cookie
            .strip_prefix("kw_session=")
            .and_then(|c| c.split(';').next())
            .expect("kw_session=…");
        self.session = Some(id.to_owned());
    }

    fn cookies(&self) -> String {
        let mut cookies = Vec::new();
        if let Some(id) = &self.session {
            cookies.push(format!("kw_session={id}"));
        }
        if self.english {
            cookies.push("kw_lang=en".to_owned());
        }
        cookies.join("; ")
    }

    pub fn get(&self, path: &str) -> Page {
        let r = agent()
            .get(format!("{}{path}", self.url))
            .header("cookie", &self.cookies())
            .call()
            .unwrap();
        page(r)
    }

    pub fn post(&self, path: &str, form: &str) -> Page {
        let r = agent()
            .post(format!("{}{path}", self.url))
            .header("cookie", &self.cookies())
            .header("content-type", "application/x-www-form-urlencoded")
            .send(form)
            .unwrap();
        page(r)
    }

    /// This session's CSRF token, read from a page's form.
    pub fn csrf(&self) -> String {
        let home = self.get("/people");
        if home.status == 200 {
            return csrf_of(&home.body);
        }
        csrf_of(&self.get("/station").body)
    }
}
