//! The Debian package, for real: `packaging/build-deb` packages the binary
//! this test run built (the release build is the same script without
//! `--binary`), `dpkg -i` installs it on this machine, the files, modes,
//! user and conffile are checked, `systemd-analyze` verifies the unit and
//! scores its exposure, `lintian` finds no error, the installed daemon is
//! started as systemd would (user keyward, master key as a credential,
//! readiness on NOTIFY_SOCKET), and `dpkg --purge` removes it all.
//!
//! Installing a package needs root: CI runs as root. Run as another user,
//! this test fails and says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::cli::{bin, text};

const UNIT: &str = "/lib/systemd/system/keyward.service";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}: run .ci/setup"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// dpkg refuses to run while another dpkg or apt holds its lock: wait for it.
fn dpkg(args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = run("dpkg", args);
        if out.status.success() {
            return text(&out.stdout);
        }
        let stderr = text(&out.stderr);
        if !stderr.contains("lock") || Instant::now() > deadline {
            panic!("dpkg {args:?}: {}\n{stderr}", text(&out.stdout));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn mode(path: &str) -> (u32, u32, u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path} not installed: {e}"));
    (meta.mode() & 0o7777, meta.uid(), meta.gid())
}

fn id_of(database: &str, name: &str) -> u32 {
    let line = ok("getent", &[database, name]);
    line.split(':').nth(2).unwrap().parse().unwrap()
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_package_installs_runs_under_its_unit_and_purges_cleanly() {
    assert!(
        rustix::process::geteuid().is_root(),
        "package_deb installs a Debian package with dpkg -i and must run as root \
         (CI does); run `sudo cargo test --test it package_deb` or leave it to CI"
    );
    for tool in [
        "/usr/bin/dpkg-deb",
        "/usr/bin/dpkg-shlibdeps",
        "/usr/bin/lintian",
        "/usr/bin/systemd-analyze",
        "/usr/bin/strip",
        "/usr/bin/setpriv",
    ] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: run .ci/setup (Debian packages dpkg-dev, lintian, systemd, binutils, util-linux)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        repository().join("packaging/build-deb").to_str().unwrap(),
        &[
            "--binary",
            bin().to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    let deb = out.lines().last().unwrap().trim().to_owned();

    let lintian = run("lintian", &["--tag-display-limit", "0", &deb]);
    let report = text(&lintian.stdout);
    println!("lintian:\n{report}");
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors: {errors:?}");

    if run("dpkg", &["-s", "keyward"]).status.success() {
        dpkg(&["--purge", "keyward"]);
    }
    dpkg(&["-i", &deb]);
    let installed = std::panic::catch_unwind(|| check_installed(dir.path()));
    dpkg(&["--purge", "keyward"]);
    if let Err(panic) = installed {
        std::panic::resume_unwind(panic);
    }

    for gone in [
        "/usr/bin/keyward",
        UNIT,
        "/etc/keyward",
        "/var/lib/keyward",
        "/lib/udev/rules.d/70-keyward.rules",
        "/usr/share/man/man1/keyward.1.gz",
    ] {
        assert!(
            std::fs::symlink_metadata(gone).is_err(),
            "{gone} left after dpkg --purge"
        );
    }
    assert!(!run("dpkg", &["-s", "keyward"]).status.success());
}

fn check_installed(scratch: &Path) {
    let uid = id_of("passwd", "keyward");
    let gid = id_of("group", "keyward");
    let account = ok("getent", &["passwd", "keyward"]);
    assert!(
        account
            .trim_end()
            .ends_with(":/var/lib/keyward:/usr/sbin/nologin"),
        "{account}"
    );
    assert!(uid < 1000, "keyward is a system user: {uid}");
    for (path, expected) in [
        ("/usr/bin/keyward", (0o755, 0, 0)),
        (UNIT, (0o644, 0, 0)),
        ("/lib/udev/rules.d/70-keyward.rules", (0o644, 0, 0)),
        ("/usr/lib/sysusers.d/keyward.conf", (0o644, 0, 0)),
        ("/usr/lib/tmpfiles.d/keyward.conf", (0o644, 0, 0)),
        (
            "/usr/share/keyward/firmware-profiles/yubikey5-oath.toml",
            (0o644, 0, 0),
        ),
        ("/usr/share/man/man1/keyward.1.gz", (0o644, 0, 0)),
        ("/usr/share/man/man1/keyward-backup.1.gz", (0o644, 0, 0)),
        (
            "/usr/share/man/man1/keyward-tokens-prepare.1.gz",
            (0o644, 0, 0),
        ),
        (
            "/usr/share/bash-completion/completions/keyward",
            (0o644, 0, 0),
        ),
        ("/usr/share/zsh/vendor-completions/_keyward", (0o644, 0, 0)),
        (
            "/usr/share/fish/vendor_completions.d/keyward.fish",
            (0o644, 0, 0),
        ),
        ("/usr/share/doc/keyward/copyright", (0o644, 0, 0)),
        ("/etc/keyward", (0o750, 0, gid)),
        ("/etc/keyward/keyward.toml", (0o640, 0, gid)),
        ("/var/lib/keyward", (0o700, uid, gid)),
    ] {
        assert_eq!(mode(path), expected, "{path}");
    }
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "keyward"]);
    assert!(
        conffiles.contains("/etc/keyward/keyward.toml"),
        "{conffiles}"
    );

    ok("systemd-analyze", &["verify", UNIT]);
    let security = text(&run("systemd-analyze", &["security", "--offline=yes", UNIT]).stdout);
    let score: f64 = security
        .lines()
        .find_map(|l| l.split("keyward.service: ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{security}"));
    println!("systemd-analyze security keyward.service: {score}");
    assert!(score < 2.0, "exposure {score} is not under 2.0");

    // What the operator does once: init as root into the package's layout.
    let init = ok(
        "/usr/bin/keyward",
        &[
            "init",
            "--data",
            "/var/lib/keyward",
            "--config",
            "/etc/keyward/keyward.toml",
            "--master-key",
            "/etc/keyward/master.key",
        ],
    );
    assert!(init.contains(" kw_"), "{init}");
    assert_eq!(mode("/etc/keyward/master.key"), (0o600, 0, 0));
    assert_eq!(mode("/var/lib/keyward/keyward.db"), (0o600, uid, gid));
    assert!(std::fs::symlink_metadata("/var/lib/keyward/master.key").is_err());

    serve_as_systemd_would(&scratch.join("first"), uid, gid);

    // The nightly backup and a restore, as root on the installed layout:
    // the daemon's files stay the daemon's and it starts again.
    // A directory the daemon never ran on has no lock yet: root makes it.
    std::fs::remove_file("/var/lib/keyward/keyward.lock").unwrap();
    let backup = scratch.join("keyward.kwb");
    let key = ["--master-key", "/etc/keyward/master.key"];
    let backup_arg = backup.to_str().unwrap();
    ok(
        "/usr/bin/keyward",
        &[
            "backup",
            "--data",
            "/var/lib/keyward",
            key[0],
            key[1],
            "--out",
            backup_arg,
        ],
    );
    ok(
        "/usr/bin/keyward",
        &[
            "restore",
            backup_arg,
            "--data",
            "/var/lib/keyward",
            "--config",
            "/etc/keyward/keyward.toml",
            key[0],
            key[1],
            "--force",
        ],
    );
    for file in ["keyward.db", "keyward.lock"] {
        let path = format!("/var/lib/keyward/{file}");
        assert_eq!(mode(&path), (0o600, uid, gid), "{path}");
    }
    serve_as_systemd_would(&scratch.join("again"), uid, gid);
}

/// `keyward serve` as the unit starts it: user keyward, the master key in
/// `$CREDENTIALS_DIRECTORY`, readiness sent to `$NOTIFY_SOCKET` once it
/// listens.
fn serve_as_systemd_would(run_dir: &Path, uid: u32, gid: u32) {
    use std::os::unix::net::UnixDatagram;
    std::fs::create_dir(run_dir).unwrap();
    std::fs::set_permissions(
        run_dir.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(run_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let credentials = run_dir.join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::copy("/etc/keyward/master.key", credentials.join("master.key")).unwrap();
    for path in [credentials.join("master.key"), credentials.clone()] {
        rustix::fs::chown(
            &path,
            Some(rustix::process::Uid::from_raw(uid)),
            Some(rustix::process::Gid::from_raw(gid)),
        )
        .unwrap();
    }
    std::fs::set_permissions(
        credentials.join("master.key"),
        std::fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o500)).unwrap();
    let socket_path = run_dir.join("notify");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o666)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();

    let daemon = Command::new("setpriv")
        .args(["--reuid=keyward", "--regid=keyward", "--init-groups", "--"])
        .args([
            "/usr/bin/keyward",
            "serve",
            "--data",
            "/var/lib/keyward",
            "--config",
            "/etc/keyward/keyward.toml",
            "--listen",
            "127.0.0.1:0",
            "--virtual-token",
            "off",
            "--pcsc",
            "off",
            "--hid",
            "off",
        ])
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut message = [0u8; 256];
    let received = socket.recv(&mut message);
    let ready = received
        .as_ref()
        .map(|n| String::from_utf8_lossy(&message[..*n]).into_owned());
    let pid = rustix::process::Pid::from_raw(i32::try_from(daemon.id()).unwrap()).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let output = daemon.wait_with_output().unwrap();
    assert!(
        ready.as_deref().is_ok_and(|m| m.contains("READY=1")),
        "no READY=1 on NOTIFY_SOCKET ({ready:?}); daemon said:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(
        output.status.success(),
        "keyward serve under user keyward: {}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("keyward: listening on http://127.0.0.1:"));
}
