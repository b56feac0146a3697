//! A real PostgreSQL 15 (Debian's `postgresql-15`) for the tests: its own
//! data directory made by `initdb`, listening on a free loopback port only,
//! password authentication (scram-sha-256) for the role `keyward`. One
//! server is shared by every test of the process (started on first use);
//! each test gets a database of its own ([`database`]).
//!
//! The server is stopped when the test process ends, however it ends: it is
//! started by a small shell that holds our end of a pipe and stops the
//! server (fast shutdown) when that pipe closes. Fails, never skips, when
//! the PostgreSQL binaries are missing.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The role the tests connect as, and its password (a test fixture).
pub const ROLE: &str = "keyward";
pub const PASSWORD: &str = "pg-test-password";

/// Fails (never skips) when a program is missing.
pub fn require_tools() {
    for tool in ["initdb", "postgres", "pg_ctl"] {
        let path = Path::new(BIN).join(tool);
        assert!(
            path.exists(),
            "{} is missing: run .ci/setup (Debian package postgresql-15)",
            path.display()
        );
    }
}

/// The shared server.
pub struct Postgres {
    /// Owns the data directory; never dropped (static), the directory goes
    /// with the temporary area.
    pub dir: PathBuf,
    pub port: u16,
    /// The watchdog shell; our end of its stdin keeps the server alive.
    _watchdog: Child,
}

static SERVER: OnceLock<Postgres> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The server shared by the tests of this process, started on first use.
pub fn server() -> &'static Postgres {
    SERVER.get_or_init(Postgres::start)
}

/// A database of this test's own on the shared server, empty; its URL for
/// keyward's `[store] url` and the password file's content.
pub struct TestDb {
    pub name: String,
    pub port: u16,
}

impl TestDb {
    /// `postgres://keyward@127.0.0.1:PORT/NAME`, as an operator writes it.
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{}", self.port, self.name)
    }

    /// A password file (0600) in `dir` holding the role's password.
    pub fn password_file(&self, dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join("postgres.password");
        std::fs::write(&path, format!("{PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

/// Creates a fresh database on the shared server, named after `test` (and
/// a counter, so parallel tests never share one).
pub fn database(test: &str) -> TestDb {
    let server = server();
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = format!("t{}_{n}_{clean}", std::process::id());
    let out = Command::new(Path::new(BIN).join("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p"])
        .arg(server.port.to_string())
        .args(["-U", ROLE, "-d", "postgres", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .env("PGPASSWORD", PASSWORD)
        .output();
    match out {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "CREATE DATABASE {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        // psql is in postgresql-client-15, a dependency of postgresql-15.
        Err(err) => panic!("psql: {err} (run .ci/setup: postgresql-15)"),
    }
    TestDb {
        name,
        port: server.port,
    }
}

/// A new directory for one server (`nobody` must be able to enter it when
/// we are root), kept until the server's watchdog removes it.
fn server_dir(prefix: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap()
        .keep();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if as_root() {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    dir
}

/// `nobody`'s uid and gid (Debian's).
const NOBODY: u32 = 65534;

/// A new cluster in `dir/data` (`initdb`): the role [`ROLE`] with
/// [`PASSWORD`], scram-sha-256 everywhere. Its data directory.
fn initdb(dir: &Path) -> PathBuf {
    let pwfile = dir.join("pwfile");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    if as_root() {
        std::os::unix::fs::chown(&pwfile, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let data = dir.join("data");
    let out = command("initdb")
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            ROLE,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&pwfile).unwrap();
    data
}

/// Whether we run as root: then the server runs as `nobody` (PostgreSQL
/// refuses to run as root).
fn as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `program` as the user that owns the data directory.
fn command(program: &str) -> Command {
    let path = Path::new(BIN).join(program);
    if as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--reset-env",
        ])
        .arg(path);
        c
    } else {
        Command::new(path)
    }
}

impl Postgres {
    fn start() -> Postgres {
        require_tools();
        // A directory outside the test's temp dirs, so that the server
        // outlives any one test.
        let dir = server_dir("keyward-pg-");
        let data = initdb(&dir);
        // A free port; another process could take it before the server
        // binds it, so a failed start tries another.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(watchdog) = Self::spawn(&dir, &data, port) {
                return Postgres {
                    dir,
                    port,
                    _watchdog: watchdog,
                };
            }
        }
        panic!("PostgreSQL did not start; see {}/log", dir.display());
    }

    /// Starts the server under a watchdog shell; `None` if it did not come
    /// up (e.g. the port was taken).
    fn spawn(dir: &Path, data: &Path, port: u16) -> Option<Child> {
        let postgres = Path::new(BIN).join("postgres");
        let server = format!(
            "{} -D {} -p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
             -c max_connections=200 -c fsync=on -c synchronous_commit=on",
            postgres.display(),
            data.display()
        );
        let run = if as_root() {
            format!("setpriv --reuid=nobody --regid=nogroup --clear-groups {server}")
        } else {
            server
        };
        // The shell starts the server, then waits for its stdin to close
        // (this process exiting), stops it (SIGQUIT: immediate shutdown, the
        // data is thrown away) and removes its directory.
        let script = format!(
            "{run} >{log} 2>&1 </dev/null & pid=$!; cat >/dev/null; kill -QUIT $pid; wait $pid; \
             rm -rf {dir}",
            log = dir.join("log").display(),
            dir = dir.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() && Self::ready(port) {
                return Some(child);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The server answers queries (not only accepts connections).
    fn ready(port: u16) -> bool {
        Command::new(Path::new(BIN).join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .status()
            .is_ok_and(|s| s.success())
    }
}
