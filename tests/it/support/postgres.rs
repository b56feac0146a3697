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
    psql(
        server.port,
        "postgres",
        &[&format!("CREATE DATABASE {name}")],
    );
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
    run_ok(
        command("initdb")
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
            .arg(format!("--pwfile={}", pwfile.display())),
        "initdb",
    );
    std::fs::remove_file(&pwfile).unwrap();
    data
}

/// Runs `cmd` (a PostgreSQL program, `what`) to its end; fails the test
/// with its stderr unless it succeeded. Its stdout.
fn run_ok(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|err| panic!("{what}: {err} (run .ci/setup: postgresql-15)"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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
        let (port, watchdog) = Self::spawn_on_a_free_port(&dir, &data, "");
        Postgres {
            dir,
            port,
            _watchdog: watchdog,
        }
    }

    /// [`Postgres::spawn`] on a free port; another process could take it
    /// before the server binds it, so a failed start tries another. The
    /// port and the watchdog.
    fn spawn_on_a_free_port(dir: &Path, data: &Path, options: &str) -> (u16, Child) {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(watchdog) = Self::spawn(dir, data, port, options) {
                return (port, watchdog);
            }
        }
        panic!("PostgreSQL did not start; see {}/log", dir.display());
    }

    /// Starts the server under a watchdog shell, with the server `options`
    /// added (`-c name=value …`); `None` if it did not come up (e.g. the
    /// port was taken).
    fn spawn(dir: &Path, data: &Path, port: u16, options: &str) -> Option<Child> {
        let postgres = Path::new(BIN).join("postgres");
        let server = format!(
            "{} -D {} -p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
             -c max_connections=200 -c fsync=on -c synchronous_commit=on {options}",
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

/// `psql` on the server at `port`, database `db`, as [`ROLE`]: each of
/// `commands` sent on its own (`-c`, so `ALTER SYSTEM` is allowed); the
/// rows printed, unaligned, without headers.
pub fn psql(port: u16, db: &str, commands: &[&str]) -> String {
    let mut cmd = Command::new(Path::new(BIN).join("psql"));
    cmd.args([
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
    ])
    .arg(port.to_string())
    .args(["-U", ROLE, "-d", db])
    .env("PGPASSWORD", PASSWORD);
    for command in commands {
        cmd.arg("-c").arg(command);
    }
    // psql is in postgresql-client-15, a dependency of postgresql-15.
    let out = run_ok(&mut cmd, &format!("psql {commands:?} on port {port}"));
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// A server of its own that speaks TLS only, with the certificate
/// `cert_pem` (for 127.0.0.1 and localhost) and its key `key_pem`: `ssl = on`, and a `pg_hba.conf` that
/// rejects every connection without TLS and takes [`ROLE`] with TLS.
/// Stopped and removed when dropped.
pub fn tls_server(cert_pem: &str, key_pem: &str) -> HaServer {
    use std::os::unix::fs::PermissionsExt as _;
    require_tools();
    let dir = server_dir("keyward-pg-tls-");
    let data = initdb(&dir);
    for (name, pem) in [("server.crt", cert_pem), ("server.key", key_pem)] {
        let path = data.join(name);
        std::fs::write(&path, pem).unwrap();
        // The server refuses a key others may read.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if as_root() {
            std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    }
    // initdb's file, owned by the server's user, rewritten in place.
    std::fs::write(
        data.join("pg_hba.conf"),
        format!(
            "hostnossl all all 0.0.0.0/0 reject\n\
             hostssl all {ROLE} 127.0.0.1/32 scram-sha-256\n"
        ),
    )
    .unwrap();
    HaServer::start(
        dir,
        data,
        "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key",
    )
}

/// The role the standby streams the primary's WAL as, and its password.
const REPLICATOR: &str = "replicator";
const REPLICATOR_PASSWORD: &str = "pg-test-replication";
/// The standby's name in `synchronous_standby_names`.
pub const STANDBY_NAME: &str = "standby1";
/// The database the pair serves.
pub const HA_DATABASE: &str = "keyward";

/// One server of a [`HaPair`]: its own directory and port, under its own
/// watchdog (which stops it and removes the directory when dropped).
pub struct HaServer {
    pub dir: PathBuf,
    pub data: PathBuf,
    pub port: u16,
    watchdog: Option<Child>,
}

impl HaServer {
    /// Starts the server of `data` under a watchdog on a free port, with
    /// `options`.
    fn start(dir: PathBuf, data: PathBuf, options: &str) -> HaServer {
        let (port, watchdog) = Postgres::spawn_on_a_free_port(&dir, &data, options);
        HaServer {
            dir,
            data,
            port,
            watchdog: Some(watchdog),
        }
    }

    /// The postmaster's process id (first line of `postmaster.pid`).
    pub fn postmaster(&self) -> i32 {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        pid.lines().next().unwrap().trim().parse().unwrap()
    }

    /// `SELECT pg_is_in_recovery()`: whether it is a standby. Asked in
    /// the `postgres` database, which a standby always has: it may not
    /// have replayed the creation of [`HA_DATABASE`] yet.
    pub fn in_recovery(&self) -> bool {
        psql(self.port, "postgres", &["SELECT pg_is_in_recovery()"]) == "t"
    }

    /// Whether it accepts TCP connections.
    pub fn listening(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }
}

impl Drop for HaServer {
    /// Closing the watchdog's stdin stops the server and removes its
    /// directory; waiting for the watchdog waits for both.
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

/// A primary and its synchronous streaming standby (docs/postgres.md,
/// "High availability"), each with its own directory and loopback port:
/// the primary's `synchronous_standby_names = 'FIRST 1 (standby1)'` with
/// `synchronous_commit = on`, so a commit is acknowledged once the standby
/// has it; the standby made by `pg_basebackup -R` as the role
/// `replicator` (its own `pg_hba` line), streaming as `standby1`. Not
/// shared: started by the failover test only, stopped and removed when
/// dropped.
pub struct HaPair {
    pub primary: HaServer,
    pub standby: HaServer,
}

impl HaPair {
    pub fn start() -> HaPair {
        require_tools();
        assert!(
            Path::new(BIN).join("pg_basebackup").exists(),
            "pg_basebackup is missing: run .ci/setup (Debian package postgresql-15)"
        );
        let dir = server_dir("keyward-pg-primary-");
        let data = initdb(&dir);
        // The replication role's own line, before initdb's.
        let hba = data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!("host replication {REPLICATOR} 127.0.0.1/32 scram-sha-256\n{rules}"),
        )
        .unwrap();
        let primary = HaServer::start(
            dir,
            data,
            "-c wal_level=replica -c max_wal_senders=4 -c wal_keep_size=64MB",
        );
        psql(
            primary.port,
            "postgres",
            &[&format!(
                "CREATE ROLE {REPLICATOR} WITH REPLICATION LOGIN PASSWORD '{REPLICATOR_PASSWORD}'"
            )],
        );
        // The standby: a base backup of the running primary, as `nobody`
        // when we are root (it owns the copy), with `standby.signal`.
        let dir = server_dir("keyward-pg-standby-");
        let data = dir.join("data");
        let conninfo = format!(
            "host=127.0.0.1 port={} user={REPLICATOR} password={REPLICATOR_PASSWORD} \
             application_name={STANDBY_NAME}",
            primary.port
        );
        run_ok(
            command("pg_basebackup").arg("-D").arg(&data).args([
                "-d",
                &conninfo,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ]),
            "pg_basebackup",
        );
        assert!(data.join("standby.signal").exists(), "no standby.signal");
        // Whatever -R wrote, the standby streams under its name.
        let auto = data.join("postgresql.auto.conf");
        let mut settings = std::fs::read_to_string(&auto).unwrap();
        settings.push_str(&format!("primary_conninfo = '{conninfo}'\n"));
        std::fs::write(&auto, settings).unwrap();
        let standby = HaServer::start(
            dir,
            data,
            "-c hot_standby=on -c recovery_init_sync_method=syncfs",
        );
        let pair = HaPair { primary, standby };
        pair.wait_for_primary("streaming", "state");
        // Made once the standby streams, so the base backup stays small.
        psql(
            pair.primary.port,
            "postgres",
            &[&format!("CREATE DATABASE {HA_DATABASE}")],
        );
        // Only now the primary waits for it: every commit from here on is
        // acknowledged once the standby has flushed it.
        psql(
            pair.primary.port,
            "postgres",
            &[
                &format!("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({STANDBY_NAME})'"),
                "SELECT pg_reload_conf()",
            ],
        );
        pair.wait_for_primary("sync", "sync_state");
        assert!(pair.standby.in_recovery());
        pair
    }

    /// Waits until `pg_stat_replication` on the primary shows the standby
    /// with `column` = `value`.
    fn wait_for_primary(&self, value: &str, column: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = psql(
                self.primary.port,
                "postgres",
                &[&format!(
                    "SELECT {column} FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'"
                )],
            );
            if seen == value {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the standby's {column} is {seen:?}, not {value}; see {}/log",
                self.standby.dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `postgres://keyward@127.0.0.1:PRIMARY,127.0.0.1:STANDBY/keyward`:
    /// both servers, as a node's `[store] url` names them.
    pub fn url(&self) -> String {
        format!(
            "postgres://{ROLE}@127.0.0.1:{},127.0.0.1:{}/{HA_DATABASE}?target_session_attrs=read-write",
            self.primary.port, self.standby.port
        )
    }

    /// A password file (0600) in `dir` holding the role's password.
    pub fn password_file(&self, dir: &Path) -> PathBuf {
        TestDb {
            name: HA_DATABASE.to_owned(),
            port: self.primary.port,
        }
        .password_file(dir)
    }

    /// `kill -9` of the primary's postmaster (its backends see it die and
    /// end); returns once it no longer accepts connections.
    pub fn kill_primary(&self) {
        let pid = rustix::process::Pid::from_raw(self.primary.postmaster()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.primary.listening() {
            assert!(
                Instant::now() < deadline,
                "the killed primary still listens"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `pg_ctl promote` of the standby, waiting until it accepts writes.
    pub fn promote_standby(&self) {
        run_ok(
            command("pg_ctl")
                .args(["promote", "-w", "-t", "30", "-D"])
                .arg(&self.standby.data),
            "pg_ctl promote",
        );
        assert!(
            !self.standby.in_recovery(),
            "promoted but still in recovery"
        );
    }
}
