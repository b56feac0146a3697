//! A real Chromium driven through Debian's chromedriver over the W3C
//! WebDriver protocol (plain JSON over loopback HTTP): started on a free
//! port with a fresh profile, killed on drop. Missing programs fail the
//! test loudly; `.ci/setup` installs `chromium chromium-driver`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver.
pub struct Driver {
    child: Child,
    url: String,
    profiles: tempfile::TempDir,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn answer(mut response: ureq::http::Response<ureq::Body>, what: &str) -> Value {
    let status = response.status();
    let body: Value = response
        .body_mut()
        .read_json()
        .unwrap_or_else(|e| panic!("{what}: unreadable WebDriver answer: {e}"));
    assert!(status.is_success(), "{what}: WebDriver {status}: {body}");
    body["value"].clone()
}

impl Driver {
    /// Starts chromedriver; panics (the test fails) when Chromium or
    /// chromedriver is not installed.
    pub fn start() -> Driver {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver (.ci/setup does)"
            );
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: tempfile::tempdir().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = agent()
                .get(format!("{}/status", driver.url))
                .call()
                .ok()
                .map(|r| answer(r, "status"))
                .is_some_and(|v| v["ready"] == json!(true));
            if ready {
                break driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new browser with its own fresh profile (no cookie shared).
    pub fn browser(&self, name: &str) -> Browser {
        let profile = self.profiles.path().join(name);
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let value = answer(
            agent()
                .post(format!("{}/session", self.url))
                .send_json(&caps)
                .expect("new WebDriver session"),
            "new session",
        );
        let id = value["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Browser {
            base: format!("{}/session/{id}", self.url),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window (a WebDriver session).
pub struct Browser {
    base: String,
}

/// An element of the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    fn post(&self, path: &str, body: Value) -> Value {
        let response = agent()
            .post(format!("{}{path}", self.base))
            .send_json(&body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        answer(response, path)
    }

    fn get(&self, path: &str) -> Value {
        let response = agent()
            .get(format!("{}{path}", self.base))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        answer(response, path)
    }

    pub fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url}));
    }

    pub fn url(&self) -> String {
        self.get("/url").as_str().unwrap_or_default().to_owned()
    }

    pub fn source(&self) -> String {
        self.get("/source").as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching `css`, waited for up to 20 s (a page
    /// loading after a click, on a busy machine).
    pub fn wait(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let response = agent()
                .post(format!("{}/element", self.base))
                .send_json(json!({"using": "css selector", "value": css}))
                .unwrap_or_else(|e| panic!("find {css}: {e}"));
            if response.status().is_success() {
                let value = answer(response, css);
                if let Some(id) = value[ELEMENT].as_str() {
                    return Element {
                        browser: self,
                        id: id.to_owned(),
                    };
                }
            }
            assert!(Instant::now() < deadline, "no {css} on {}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits up to 20 s for the address to contain `part`.
    pub fn wait_url(&self, part: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.url();
            if url.contains(part) {
                return url;
            }
            assert!(Instant::now() < deadline, "still at {url}, not {part}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn find(&self, css: &str) -> Element<'_> {
        let value = self.post("/element", json!({"using": "css selector", "value": css}));
        Element {
            browser: self,
            id: value[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {value}"))
                .to_owned(),
        }
    }

    /// Saves a PNG of the window to `dir/name.png` and returns its path.
    pub fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let b64 = self.get("/screenshot");
        let png = data_encoding::BASE64
            .decode(b64.as_str().unwrap_or_default().as_bytes())
            .expect("a base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Prints the page on A4 (the print stylesheet applies) to a PDF.
    pub fn print_a4(&self, path: &Path) {
        let b64 = self.post(
            "/print",
            json!({"page": {"width": 21.0, "height": 29.7}, "background": true}),
        );
        let pdf = data_encoding::BASE64
            .decode(b64.as_str().unwrap_or_default().as_bytes())
            .expect("a base64 PDF");
        assert!(pdf.starts_with(b"%PDF"), "a PDF");
        std::fs::write(path, pdf).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = agent().delete(&self.base).call();
    }
}

impl Element<'_> {
    pub fn click(&self) {
        self.browser
            .post(&format!("/element/{}/click", self.id), json!({}));
    }

    pub fn type_text(&self, text: &str) {
        self.browser.post(
            &format!("/element/{}/value", self.id),
            json!({"text": text}),
        );
    }

    /// A DOM property, e.g. `textContent` (also of hidden elements).
    pub fn property(&self, name: &str) -> String {
        self.browser
            .get(&format!("/element/{}/property/{name}", self.id))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn text(&self) -> String {
        self.browser
            .get(&format!("/element/{}/text", self.id))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
