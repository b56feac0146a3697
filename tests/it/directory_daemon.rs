//! `keyward directory sync|status` with the daemon running on the data
//! directory: the CLI asks the daemon (`POST /v1/directory/sync`,
//! `GET /v1/directory/status`, an admin key) instead of refusing, against a
//! real slapd; `import` still needs the daemon stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;

use crate::support::cli::{client, exits, init, json_ok, stdout_ok};
use crate::support::serve::{serve, Served};
use crate::support::slapd::{self, Slapd, PEOPLE, ROOT_DN, ROOT_PW, SCHOOLS};

#[test]
fn cli_sync_and_status_reach_a_running_daemon() {
    let server = Slapd::start(&slapd::authority(2, 10, 40));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = init(&data);
    let config = data.join("keyward.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[directory]\nurl = \"{}\"\npeople_base = \"{PEOPLE}\"\nschools_base = \"{SCHOOLS}\"\nbind_dn = \"{ROOT_DN}\"\npassword_file = \"{}\"\nevery_minutes = 0\n",
        server.url(),
        server.password_file(ROOT_PW).display()
    ));
    std::fs::write(&config, text).unwrap();
    let mut daemon = Served::start(serve(&data, &[]).stderr(Stdio::null()));
    let url = daemon.url.clone();
    let cli = |args: &[&str]| {
        let mut cmd = client(&url, &admin, args);
        cmd.arg("--data").arg(&data);
        cmd
    };

    let dry = stdout_ok(&mut cli(&["directory", "sync", "--dry-run"]));
    assert!(dry.contains("appointments added"), "{dry}");
    assert!(dry.contains("dry run, nothing applied"), "{dry}");
    let done = stdout_ok(&mut cli(&["directory", "sync"]));
    assert!(done.contains("changes applied"), "{done}");
    let again = stdout_ok(&mut cli(&["directory", "sync"]));
    assert!(again.contains("nothing to change"), "{again}");
    let status = json_ok(&mut cli(&["--json", "directory", "status", "--last", "2"]));
    assert_eq!(status.as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status[0]["outcome"], "unchanged");
    assert_eq!(status[1]["outcome"], "applied");
    let shown = stdout_ok(&mut cli(&["directory", "status"]));
    assert!(shown.contains("nothing to change"), "{shown}");
    // An export is read by the stopped daemon only.
    let ldif = dir.path().join("annuaire.ldif");
    std::fs::write(&ldif, slapd::authority(2, 10, 40)).unwrap();
    let (_, err) = exits(
        &mut cli(&["directory", "import", ldif.to_str().unwrap()]),
        1,
    );
    assert!(err.contains("daemon is running"), "{err}");
    daemon.stop();
}
