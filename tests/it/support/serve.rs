//! `keyward serve` as a real process: started on a free loopback port,
//! ready once it prints its address (and, with `--init`, the admin key it
//! prints once), stopped with SIGTERM, and killed on drop if still running.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::cli::{self, Lines};

/// A running `keyward serve`.
pub struct Served {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub url: String,
    admin_key: Option<String>,
    /// Where RADIUS listens, when the data directory configures it.
    pub radius: Option<SocketAddr>,
    /// The first admin's one-time console link `--init` printed (its path).
    pub console_link: Option<String>,
    /// Where RadSec listens, when the data directory configures it.
    pub radsec: Option<SocketAddr>,
}

/// `keyward serve --listen 127.0.0.1:0 --radius-listen 127.0.0.1:0 EXTRA
/// --data DATA`, not yet started (free ports: tests run side by side).
pub fn serve(data: &Path, extra: &[&str]) -> Command {
    let mut cmd = cli::process([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--radius-listen",
        "127.0.0.1:0",
    ]);
    cmd.args(extra).arg("--data").arg(data);
    cmd
}

/// `keyward serve --init` on a fresh `data` directory, quiet on stderr.
pub fn serve_init(data: &Path, extra: &[&str]) -> Served {
    Served::start(serve(data, extra).arg("--init").stderr(Stdio::null()))
}

impl Served {
    /// Spawns `cmd` (from [`serve`]) and waits until it listens.
    pub fn start(cmd: &mut Command) -> Served {
        let mut child = cmd.spawn().expect("spawn keyward serve");
        let mut lines = Lines::of(child.stdout.take().expect("stdout piped"));
        let mut admin_key = None;
        let mut radius = None;
        let mut console_link = None;
        let mut radsec = None;
        let url = loop {
            let line = lines.wait_for("");
            if let Some(addr) = line.strip_prefix("keyward: RADIUS on udp://") {
                radius = addr.parse().ok();
            }
            if let Some(at) = line.find("/bootstrap/") {
                console_link = Some(line[at..].trim().to_owned());
            }
            if let Some(addr) = line.strip_prefix("keyward: RadSec on tcp://") {
                radsec = addr.parse().ok();
            }
            if let Some(key) = line.strip_prefix("admin API key: ") {
                admin_key = Some(key.to_owned());
            }
            if let Some(url) = line.strip_prefix("keyward: listening on ") {
                break url.to_owned();
            }
        };
        Served {
            child: Some(child),
            addr: url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .and_then(|a| a.parse().ok())
                .expect("a socket address"),
            url,
            admin_key,
            radius,
            console_link,
            radsec,
        }
    }

    /// The admin key `--init` printed.
    pub fn admin_key(&self) -> String {
        self.admin_key
            .clone()
            .expect("the admin key is printed once by --init")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM: the daemon stops accepting and finishes what is in flight.
    pub fn sigterm(&self) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.pid()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }

    /// Waits for the daemon to exit by itself.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }

    /// SIGKILL, as a crash: nothing is finished or flushed by the daemon.
    pub fn kill_hard(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s.
    pub fn stop(&mut self) -> ExitStatus {
        self.sigterm();
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().unwrap()
    }
}

impl Drop for Served {
    /// A daemon still running at the end of a test must stop cleanly.
    fn drop(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            if !std::thread::panicking() {
                assert!(
                    status.success(),
                    "keyward serve did not stop cleanly: {status}"
                );
            }
        }
    }
}
