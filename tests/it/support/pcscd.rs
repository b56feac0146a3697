//! Test harness: our own pcscd with vpcd readers on free ports, `keyward sim`
//! processes, and cleanup on drop. pcscd 1.9.9 always serves
//! /run/pcscd/pcscd.comm, so only one harness may run at a time: every test
//! takes [`lock`] first, and all pcscd tests live in one test binary.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cli::{keyward, stdout_ok, tool};
use keyward::oath::driver::pcsc::Pcsc;
use keyward::oath::driver::watch::Watcher;

pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
pub const PCSCD: &str = "/usr/sbin/pcscd";
pub const READER0: &str = "Virtual PCD 00 00";
pub const READER1: &str = "Virtual PCD 00 01";

static LOCK: Mutex<()> = Mutex::new(());

/// Serialises the tests that use pcscd: a mutex within this binary (a panicking
/// test does not poison the rest) and an advisory file lock across processes, so
/// another checkout's test run on the same machine waits instead of fighting
/// over /run/pcscd.
pub struct HarnessLock {
    _file: std::fs::File,
    _guard: MutexGuard<'static, ()>,
}

pub fn lock() -> HarnessLock {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/keyward-pcscd-tests.lock")
        .unwrap();
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).unwrap();
    HarnessLock {
        _file: file,
        _guard: guard,
    }
}

/// Fails (never skips) when a tool the tests need is missing.
pub fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: run .ci/setup (Debian packages pcscd, vsmartcard-vpcd, oathtool, yubikey-manager)"
    );
}

/// A port p with p and p+1 free on every address (vpcd slot n listens on p+n),
/// below the kernel's ephemeral range: pcscd binds it only later, and an
/// ephemeral port freed here could meanwhile be taken by any outgoing
/// connection of the tests running beside (thousands of them in the load
/// tests), which left the token at that slot unseen.
fn free_port_pair() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.saturating_sub(2).max(10_100));
    let mut seed = {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    };
    for _ in 0..1000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let p = low + ((seed >> 33) % u64::from(high - low)) as u16;
        let pair = TcpListener::bind(("0.0.0.0", p)).and_then(|a| {
            let b = TcpListener::bind(("0.0.0.0", p + 1))?;
            Ok((a, b))
        });
        if pair.is_ok() {
            return p;
        }
    }
    panic!("no free port pair below the ephemeral range");
}

fn pid_alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops a pcscd this harness did not start (pcscd 1.9.9 cannot share the
/// socket path). Waits first, in case another test binary is finishing.
fn stop_foreign_pcscd() {
    let pidfile = Path::new("/run/pcscd/pcscd.pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(pid) = std::fs::read_to_string(pidfile) {
        let pid = pid.trim().to_owned();
        if pid.is_empty() || !pid_alive(&pid) {
            break;
        }
        if Instant::now() > deadline {
            eprintln!("harness: stopping running pcscd {pid}");
            let _ = Command::new("kill").arg(&pid).status();
            let stop = Instant::now() + Duration::from_secs(5);
            while pid_alive(&pid) && Instant::now() < stop {
                std::thread::sleep(Duration::from_millis(50));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_pcscd(dir: &Path, port: u16) -> Child {
    let conf = dir.join("reader.conf.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("vpcd"),
        format!(
            "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x{port:04X}\nLIBPATH {VPCD_DRIVER}\nCHANNELID 0x{port:04X}\n"
        ),
    )
    .unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("pcscd.log"))
        .unwrap();
    // `--info` logs what pcscd's presence poll sees (Pcscd::removals_seen).
    Command::new(PCSCD)
        .arg("-f")
        .arg("--info")
        .arg("-c")
        .arg(&conf)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn pcscd")
}

/// Our pcscd, with one vpcd reader line (two slots).
pub struct Pcscd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Pcscd {
    pub fn start() -> Pcscd {
        require(PCSCD);
        require(VPCD_DRIVER);
        stop_foreign_pcscd();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port_pair();
        let child = spawn_pcscd(dir.path(), port);
        let pcscd = Pcscd { child, dir, port };
        pcscd.wait_for_readers();
        pcscd
    }

    fn wait_for_readers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(p) = Pcsc::establish() {
                if let Ok(r) = p.readers() {
                    if r.iter().any(|n| n == READER0) && r.iter().any(|n| n == READER1) {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "pcscd did not list the vpcd readers"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// vpcd address of slot 0 or 1.
    pub fn slot(&self, slot: u16) -> String {
        format!("127.0.0.1:{}", self.port + slot)
    }

    pub fn state_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// How many times pcscd's own presence poll has seen a card leave
    /// `reader`, from its log (pcscd runs with `--info` for this).
    pub fn removals_seen(&self, reader: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("pcscd.log")).unwrap_or_default();
        let removed = format!("Card Removed From {reader}");
        log.lines().filter(|l| l.ends_with(&removed)).count()
    }

    /// Waits (10 s at most) until pcscd's presence poll has seen `count`
    /// removals at `reader`. The reader state clients see can say "empty"
    /// before that poll runs, and a card back before it is no insertion.
    pub fn wait_removals_seen(&self, reader: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.removals_seen(reader) < count {
            assert!(
                Instant::now() < deadline,
                "pcscd's poll never saw the card leave {reader}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Pcscd {
    /// Stops pcscd gracefully (SIGTERM, so it removes its socket), SIGKILL if it
    /// hangs.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Starts a new pcscd on the same vpcd port (pcscd restart).
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn_pcscd(self.dir.path(), self.port);
        self.wait_for_readers();
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `keyward sim`.
pub struct Sim {
    child: Option<Child>,
    pub reader: &'static str,
}

impl Sim {
    /// Starts a sim on `slot` with `state`, plus extra arguments, and waits until
    /// pcscd sees the card.
    pub fn start(pcscd: &Pcscd, slot: u16, state: &Path, extra: &[&str]) -> Sim {
        let sim = Sim::spawn(pcscd, slot, state, extra);
        sim.wait_present(true, Duration::from_secs(10));
        sim
    }

    /// Starts a sim with serial `serial` on `slot`, its state in the harness's
    /// directory under `name`, and waits until pcscd sees the card.
    pub fn with_serial(pcscd: &Pcscd, slot: u16, name: &str, serial: &str) -> Sim {
        Sim::start(pcscd, slot, &pcscd.state_file(name), &["--serial", serial])
    }

    /// Starts a sim without waiting.
    pub fn spawn(pcscd: &Pcscd, slot: u16, state: &Path, extra: &[&str]) -> Sim {
        let child = super::cli::process(["sim", "--vpcd", &pcscd.slot(slot), "--state"])
            .arg(state)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn keyward sim");
        Sim {
            child: Some(child),
            reader: if slot == 0 { READER0 } else { READER1 },
        }
    }

    /// Waits until pcscd's reader state says the card is (or is not) there and,
    /// for presence, a connection succeeds.
    pub fn wait_present(&self, present: bool, within: Duration) {
        let deadline = Instant::now() + within;
        let mut watcher = Watcher::new(Pcsc::establish().unwrap());
        loop {
            watcher.poll(Duration::ZERO).unwrap();
            let state = watcher
                .presence()
                .get(self.reader)
                .cloned()
                .flatten()
                .is_some();
            let here =
                state && (!present || Pcsc::establish().unwrap().connect(self.reader).is_ok());
            if std::env::var_os("KEYWARD_HARNESS_DEBUG").is_some() {
                eprintln!(
                    "harness: {} state present={state} usable={here}",
                    self.reader
                );
            }
            if here == present && state == present {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "card in {} did not become present={present}",
                self.reader
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process (the token is unplugged) and waits until pcscd has
    /// seen the card go, so the next sim on this slot is a fresh insertion.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            if !std::thread::panicking() {
                self.wait_present(false, Duration::from_secs(5));
            }
        }
    }

    /// Waits for the process to exit by itself (after an injected drop).
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "sim did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs Yubico's ykman with /usr/bin/python3 (the first python3 on PATH may lack
/// yubikit). Returns stdout; panics with stderr on failure.
pub fn ykman(reader: &str, args: &[&str]) -> String {
    require("/usr/bin/ykman");
    require("/usr/bin/python3");
    let ykman = ["/usr/bin/ykman", "--reader", reader];
    tool("/usr/bin/python3", ykman.iter().chain(args))
}

/// Runs oathtool and returns its single line of output.
pub fn oathtool(args: &[&str]) -> String {
    require("/usr/bin/oathtool");
    tool("/usr/bin/oathtool", args).trim().to_owned()
}

/// Runs `keyward otp ...` and returns its output.
pub fn keyward_otp(args: &[&str]) -> String {
    stdout_ok(keyward(["otp"]).args(args)).trim().to_owned()
}
