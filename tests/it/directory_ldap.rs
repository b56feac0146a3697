//! The academic directory sync against a real OpenLDAP slapd
//! (`docs/directory.md`): a fictional authority of 12 districts, 300
//! schools and 1,000 people, then the school-year cases through the
//! directory, and the failures (slapd stopped mid-sync, wrong bind
//! password, a filter returning nothing, malformed entries).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use keyward::directory::sync::{sync_ldap, SyncError};
use keyward::directory::{DirectoryConfig, RunOptions};
use keyward::domain::{Actor, EndReason, FixedClock, RightOrigin};
use keyward::store::verify::VerifyOutcome;
use keyward::store::Store;
use keyward::wire::directory::{RunOutcome, SyncReport};

use crate::support::slapd::{self, Slapd, PEOPLE, ROOT_DN, ROOT_PW, SCHOOLS};
use crate::support::world::{at, empty_store, pid, Device};

const DISTRICTS: usize = 12;
pub(crate) const SCHOOLS_N: usize = 300;
const PEOPLE_N: usize = 1000;

pub(crate) struct Fixture {
    pub(crate) slapd: Slapd,
    _dir: tempfile::TempDir,
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) store: Arc<Store>,
    pub(crate) config: DirectoryConfig,
}

fn fixture() -> Fixture {
    let slapd = Slapd::start(&slapd::authority(DISTRICTS, SCHOOLS_N, PEOPLE_N));
    let (dir, clock, store) = empty_store(at("2026-10-01", 8));
    let mut config = DirectoryConfig::new(&slapd.url(), PEOPLE, SCHOOLS);
    config.bind_dn = Some(ROOT_DN.to_owned());
    config.password_file = Some(slapd.password_file(ROOT_PW));
    config.page_size = 200;
    Fixture {
        slapd,
        _dir: dir,
        clock,
        store: Arc::new(store),
        config,
    }
}

impl Fixture {
    fn sync_with(&self, options: RunOptions) -> Result<SyncReport, SyncError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(sync_ldap(Arc::clone(&self.store), &self.config, options))
    }

    pub(crate) fn sync(&self) -> SyncReport {
        let report = self.sync_with(RunOptions::default()).unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        report
    }

    /// A fully loaded keyward: the first run applies the whole directory.
    pub(crate) fn loaded() -> Fixture {
        let f = fixture();
        // The first run ends nothing: the guard lets it through.
        let first = f.sync();
        assert_eq!(first.outcome, RunOutcome::Applied);
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        f
    }

    pub(crate) fn count(report: &SyncReport, kind: &str, verb: &str) -> usize {
        report
            .counts
            .iter()
            .find(|c| c.kind == kind && c.verb == verb)
            .map_or(0, |c| c.count)
    }

    pub(crate) fn audit_head(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.store.db_path()).unwrap();
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))
            .unwrap()
    }

    pub(crate) fn rights_of(&self, who: &str) -> Vec<keyward::domain::RightRecord> {
        self.store.read(|tx| tx.rights(&pid(who))).unwrap()
    }

    /// `holder`'s TOTP key, handed over by `inspector` and activated.
    pub(crate) fn key(&self, holder: &str, serial: &str, inspector: &str) -> Device {
        let device = Device::new(serial);
        self.store
            .write(&Actor::Desk(pid("desk")), "prepare", |tx| {
                tx.add_token(serial, "virtual")?;
                tx.prepare_token(
                    serial,
                    &pid(holder),
                    &device.secret,
                    keyward::otp::CredentialParams::totp(),
                )
            })
            .unwrap();
        use keyward::domain::Clock as _;
        let code = device.code(self.clock.now());
        self.store
            .write(&Actor::Inspector(pid(inspector)), "handover", |tx| {
                tx.handover(serial, "office", &code)
            })
            .unwrap();
        self.store
            .write(&Actor::Holder(pid(holder)), "activate", |tx| {
                tx.activate(serial, "493817")
            })
            .unwrap();
        // The handover's code is used: the next login takes the next step.
        self.clock.advance(30);
        device
    }
}

pub(crate) fn accepts(
    f: &Fixture,
    svc: &keyward::store::verify::VerifyService,
    who: &str,
    d: &Device,
) -> bool {
    use keyward::domain::Clock as _;
    let answer = svc
        .verify(who, &format!("493817{}", d.code(f.clock.now())))
        .unwrap();
    f.clock.advance(30);
    matches!(answer, VerifyOutcome::Accept { .. })
}

pub(crate) fn school(n: usize) -> String {
    slapd::school_code(n)
}

#[test]
fn a_full_sync_then_a_run_without_change_changes_nothing_and_says_so() {
    let f = fixture();
    let first = f.sync();
    assert_eq!(first.outcome, RunOutcome::Applied);
    assert_eq!(Fixture::count(&first, "people", "added"), PEOPLE_N);
    assert_eq!(Fixture::count(&first, "districts", "added"), DISTRICTS);
    assert_eq!(Fixture::count(&first, "districts", "changed"), DISTRICTS);
    assert_eq!(Fixture::count(&first, "schools", "added"), SCHOOLS_N);
    assert_eq!(Fixture::count(&first, "appointments", "added"), SCHOOLS_N);
    assert_eq!(Fixture::count(&first, "delegations", "added"), 35);
    let districts = f.store.read(|tx| tx.districts()).unwrap();
    assert_eq!(districts.len(), DISTRICTS);
    assert_eq!(districts[0].inspector.as_deref(), Some("ien01"));
    let rights = f.rights_of("dir00000");
    assert_eq!(rights.len(), 1);
    assert_eq!(rights[0].school.as_str(), school(0));
    assert_eq!(rights[0].district, "C01");

    let head = f.audit_head();
    let second = f.sync();
    assert_eq!(second.outcome, RunOutcome::Unchanged);
    assert!(
        second.changes.is_empty(),
        "{:?}",
        &second.changes[..3.min(second.changes.len())]
    );
    // Only the run itself is recorded.
    assert_eq!(f.audit_head(), head + 1);
    let status = keyward::directory::status(&f.store, 2).unwrap();
    assert_eq!(status[0].outcome, RunOutcome::Unchanged);
    assert_eq!(status[1].outcome, RunOutcome::Applied);
}

/// Case 4 (a director leaves: the directory no longer names them) and
/// case 5 (a new director, from their published start date).
#[test]
fn case4_and_5_a_director_replaced_through_the_directory() {
    let f = Fixture::loaded();
    let old = f.key("dir00000", "VT-OLD", "ien01");
    f.slapd.modify(&format!(
        "dn: uid=dir00000,{PEOPLE}\nchangetype: modify\nreplace: FrEduFonctAdm\nFrEduFonctAdm: ENS\n-\ndelete: FrEduRneResp\n\n\
         dn: uid=newdir,{PEOPLE}\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: FrEduPerson\nuid: newdir\ncn: Nouvelle Directrice\nsn: Directrice\n\
         mail: newdir@ac-exemple.fr\nFrEduFonctAdm: DIR\nFrEduRneResp: {}$UAJ$PU$N$T3$LP$320\ndateff: 05/10/2026\n",
        school(0)
    ));
    let report = f.sync();
    assert_eq!(Fixture::count(&report, "appointments", "ended"), 1);
    assert_eq!(Fixture::count(&report, "appointments", "added"), 1);
    assert_eq!(Fixture::count(&report, "people", "added"), 1);
    // Ended, never deleted, for the reason "directory".
    let ended = &f.rights_of("dir00000")[0];
    assert!(ended.period.ended_at.is_some());
    assert_eq!(ended.end_reason, Some(EndReason::Directory));
    let new = &f.rights_of("newdir")[0];
    assert_eq!(new.period.from.to_string(), "2026-10-05");
    assert_eq!(new.origin, RightOrigin::Appointment);

    let svc = f.store.verify_service().unwrap();
    // Case 4: the old director is refused from now on; the key is due back.
    assert!(!accepts(&f, &svc, "dir00000", &old));
    // Case 5: the new director's key works from the start date, not before.
    let new_key = f.key("newdir", "VT-NEW", "ien01");
    assert!(!accepts(&f, &svc, "newdir", &new_key));
    f.clock.set(at("2026-10-05", 0) + 60);
    assert!(accepts(&f, &svc, "newdir", &new_key));
    // A week after the end, the old key is overdue in its district.
    f.clock.set(at("2026-10-09", 9));
    let overdue = f.store.read(|tx| tx.overdue_returns()).unwrap();
    let c01 = overdue.get("C01").expect("C01 overdue");
    assert!(
        c01.iter()
            .any(|o| o.serial == "VT-OLD" && o.holder == "dir00000"),
        "{c01:?}"
    );
    drop(svc);
}

/// Cases 1 and 2: the inspector grants then ends a deputy's delegation in
/// the HR tool; keyward follows.
#[test]
fn case1_and_2_a_delegation_added_then_removed() {
    let f = Fixture::loaded();
    let value = slapd::delegation(3, "01/10/2026", "31/12/9999", "ien01");
    f.slapd.modify(&format!(
        "dn: uid=ens00001,{PEOPLE}\nchangetype: modify\nadd: FrEduResDel\nFrEduResDel: {value}\n"
    ));
    let report = f.sync();
    assert_eq!(
        Fixture::count(&report, "delegations", "added"),
        1,
        "{:?}",
        report.changes
    );
    let deputy = f.key("ens00001", "VT-DEP", "ien01");
    let svc = f.store.verify_service().unwrap();
    assert!(accepts(&f, &svc, "ens00001", &deputy));
    let rights = f.rights_of("ens00001");
    assert_eq!(rights[0].origin, RightOrigin::Delegation);
    assert_eq!(rights[0].school.as_str(), school(3));

    f.slapd.modify(&format!(
        "dn: uid=ens00001,{PEOPLE}\nchangetype: modify\ndelete: FrEduResDel\nFrEduResDel: {value}\n"
    ));
    let report = f.sync();
    assert_eq!(Fixture::count(&report, "delegations", "ended"), 1);
    assert!(!accepts(&f, &svc, "ens00001", &deputy));
    assert_eq!(
        f.rights_of("ens00001")[0].end_reason,
        Some(EndReason::Directory)
    );
    drop(svc);
}

#[test]
fn a_person_moving_district_a_school_changing_district_a_mail_change() {
    let f = Fixture::loaded();
    // dir00001 now directs a school of C12; school 2 moves from C01 to C02;
    // ens00002 has a new personal address.
    let last = SCHOOLS_N - 1;
    f.slapd.modify(&format!(
        "dn: uid=dir00001,{PEOPLE}\nchangetype: modify\nreplace: FrEduRneResp\nFrEduRneResp: {}$UAJ\n\n\
         dn: uid=dir{last:05},{PEOPLE}\nchangetype: modify\ndelete: FrEduRneResp\n\n\
         dn: ou={},ou=C01,{SCHOOLS}\nchangetype: modrdn\nnewrdn: ou={}\ndeleteoldrdn: 1\nnewsuperior: ou=C02,{SCHOOLS}\n\n\
         dn: uid=ens00002,{PEOPLE}\nchangetype: modify\nreplace: mail\nmail: nouvelle.adresse@ac-exemple.fr\n",
        school(last),
        school(2),
        school(2),
    ));
    let report = f.sync();
    assert_eq!(Fixture::count(&report, "schools", "changed"), 1);
    assert_eq!(Fixture::count(&report, "people", "changed"), 1);
    assert_eq!(Fixture::count(&report, "appointments", "ended"), 2);
    assert_eq!(Fixture::count(&report, "appointments", "added"), 1);
    let moved = f
        .store
        .read(|tx| tx.districts_of_person(&pid("dir00001")))
        .unwrap();
    assert_eq!(
        moved,
        ["C01", "C12"],
        "the old district keeps them for a year"
    );
    let live = f
        .store
        .read(|tx| tx.rights_in_force(&pid("dir00001")))
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].school.as_str(), school(last));
    let s2 = keyward::domain::Uai::parse(&school(2)).unwrap();
    assert_eq!(
        f.store.read(|tx| tx.district_of_school(&s2)).unwrap(),
        "C02"
    );
    let person = f.store.read(|tx| tx.person(&pid("ens00002"))).unwrap();
    assert_eq!(person.mail.as_str(), "nouvelle.adresse@ac-exemple.fr");
    assert_eq!(f.sync().outcome, RunOutcome::Unchanged);
}

/// A proxy in front of slapd that forwards `limit` bytes of answers, then
/// lets the test stop slapd before it closes both sides.
fn cutting_proxy(
    target: u16,
    limit: usize,
) -> (
    u16,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (reached, reached_rx) = std::sync::mpsc::channel();
    let (close, close_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
        let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c_read, &mut s_write);
        });
        let (mut s_read, mut c_write) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        let mut sent = 0;
        let mut buf = [0u8; 4096];
        while sent < limit {
            let n = match s_read.read(&mut buf[..(limit - sent).min(4096)]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if c_write.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n;
        }
        let _ = reached.send(());
        let _ = close_rx.recv();
        let _ = client.shutdown(std::net::Shutdown::Both);
        let _ = server.shutdown(std::net::Shutdown::Both);
    });
    (port, reached_rx, close)
}

#[test]
fn slapd_stopped_mid_sync_changes_nothing_and_the_next_run_completes() {
    let mut f = fixture();
    let (port, reached, close) = cutting_proxy(f.slapd.port, 100_000);
    let mut config = f.config.clone();
    config.url = format!("ldap://127.0.0.1:{port}");
    let store = Arc::clone(&f.store);
    let run = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(sync_ldap(store, &config, RunOptions::default()))
    });
    reached.recv().unwrap();
    f.slapd.stop();
    close.send(()).unwrap();
    let err = run.join().unwrap().unwrap_err();
    assert!(matches!(err, SyncError::Ldap(_)), "{err}");
    // Nothing half-applied: no person, no right, no run recorded.
    assert!(f.store.read(|tx| tx.people(None)).unwrap().is_empty());
    assert_eq!(f.audit_head(), 0);
    f.slapd.run();
    f.config.url = f.slapd.url();
    let report = f.sync();
    assert_eq!(report.outcome, RunOutcome::Applied);
    assert_eq!(Fixture::count(&report, "people", "added"), PEOPLE_N);
}

#[test]
fn a_wrong_bind_password_is_refused_and_changes_nothing() {
    let mut f = fixture();
    f.config.password_file = Some(f.slapd.password_file("not-the-password"));
    let err = f.sync_with(RunOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("refused the bind"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
    assert_eq!(f.audit_head(), 0);
}

#[test]
fn a_filter_returning_nothing_stops_at_the_guard() {
    let mut f = Fixture::loaded();
    let head = f.audit_head();
    f.config.people_filter = "(FrEduFonctAdm=NOBODY)".to_owned();
    let report = f.sync_with(RunOptions::default()).unwrap();
    assert_eq!(report.outcome, RunOutcome::Stopped);
    assert!(
        report
            .stopped
            .as_deref()
            .unwrap_or_default()
            .contains("would end"),
        "{:?}",
        report.stopped
    );
    // Nothing changed but the run's own record.
    assert_eq!(f.audit_head(), head + 1);
    assert_eq!(f.rights_of("dir00000")[0].period.ended_at, None);
    // A dry run shows the same plan, and applies nothing either.
    let dry = f
        .sync_with(RunOptions {
            dry_run: true,
            confirm: true,
        })
        .unwrap();
    assert_eq!(dry.outcome, RunOutcome::DryRun);
    assert_eq!(Fixture::count(&dry, "appointments", "ended"), SCHOOLS_N);
    assert_eq!(f.rights_of("dir00000")[0].period.ended_at, None);
}

#[test]
fn malformed_entries_are_reported_and_skipped_never_guessed() {
    let f = Fixture::loaded();
    f.slapd.modify(&format!(
        "dn: uid=dir00005,{PEOPLE}\nchangetype: modify\nreplace: FrEduRneResp\nFrEduRneResp: 0750005X$UAJ\n\n\
         dn: uid=dir00006,{PEOPLE}\nchangetype: modify\nreplace: dateff\ndateff: 31/02/2026\n\n\
         dn: uid=dir00007,{PEOPLE}\nchangetype: modify\nreplace: FrEduRneResp\nFrEduRneResp: 0130001F$UAJ\n\n\
         dn: uid=ens00003,{PEOPLE}\nchangetype: modify\nadd: FrEduResDel\nFrEduResDel: keyward|u|01/10/2026|bad|ien01|FrEduRneResp={}$UAJ|s||\n\n\
         dn: ou=0750999Z,ou=C01,{SCHOOLS}\nchangetype: add\nobjectClass: organizationalUnit\nou: 0750999Z\n",
        school(3)
    ));
    let report = f.sync();
    let dns: Vec<&str> = report.errors.iter().map(|e| e.dn.as_str()).collect();
    for who in [
        "uid=dir00005",
        "uid=dir00006",
        "uid=dir00007",
        "uid=ens00003",
        "ou=0750999Z",
    ] {
        assert!(
            dns.iter().any(|d| d.starts_with(who)),
            "{who} not in {dns:?}"
        );
    }
    // The malformed people keep what they had: nothing is guessed.
    for who in ["dir00005", "dir00006", "dir00007"] {
        assert_eq!(f.rights_of(who)[0].period.ended_at, None, "{who}");
    }
    assert!(report.changes.is_empty(), "{:?}", report.changes);
}

fn directory_block(slapd: &Slapd) -> String {
    format!(
        "\n[directory]\nurl = \"{}\"\npeople_base = \"{PEOPLE}\"\nschools_base = \"{SCHOOLS}\"\nbind_dn = \"{ROOT_DN}\"\npassword_file = \"{}\"\nevery_minutes = 0\n",
        slapd.url(),
        slapd.password_file(ROOT_PW).display()
    )
}

fn initialised(block: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    crate::support::cli::init(&data);
    let config = data.join("keyward.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(block);
    std::fs::write(&config, text).unwrap();
    dir
}

#[test]
fn cli_sync_prints_the_changes_then_applies_them_and_status_shows_the_run() {
    use crate::support::cli::{exits, json_ok, keyward, stdout_ok};
    let slapd = Slapd::start(&slapd::authority(2, 10, 40));
    let dir = initialised(&directory_block(&slapd));
    let data = dir.path().join("data");
    let dry = stdout_ok(keyward(["directory", "sync", "--dry-run", "--data"]).arg(&data));
    assert!(dry.contains("appointments added"), "{dry}");
    assert!(dry.contains("dry run, nothing applied"), "{dry}");
    let done = stdout_ok(keyward(["directory", "sync", "--data"]).arg(&data));
    assert!(done.contains("changes applied"), "{done}");
    let again = stdout_ok(keyward(["directory", "sync", "--data"]).arg(&data));
    assert!(again.contains("nothing to change"), "{again}");
    let status =
        json_ok(keyward(["--json", "directory", "status", "--last", "2", "--data"]).arg(&data));
    assert_eq!(status[0]["outcome"], "unchanged");
    assert_eq!(status[1]["outcome"], "applied");
    // The directory emptied by a wrong filter: the guard stops, exit non-zero.
    let config = data.join("keyward.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "every_minutes = 0",
            "every_minutes = 0\npeople_filter = \"(uid=nobody)\"",
        ),
    )
    .unwrap();
    let (out, err) = exits(keyward(["directory", "sync", "--data"]).arg(&data), 1);
    assert!(out.contains("stopped by the guard"), "{out}");
    assert!(err.contains("--confirm"), "{err}");
}

#[test]
fn cli_import_from_ldif_and_from_csv_without_ldap() {
    use crate::support::cli::{keyward, stdout_ok};
    let block = format!(
        "\n[directory]\nurl = \"ldap://127.0.0.1:9\"\npeople_base = \"{PEOPLE}\"\nschools_base = \"{SCHOOLS}\"\nevery_minutes = 0\n"
    );
    let dir = initialised(&block);
    let data = dir.path().join("data");
    let ldif = dir.path().join("annuaire.ldif");
    std::fs::write(&ldif, slapd::authority(2, 10, 40)).unwrap();
    let out = stdout_ok(
        keyward(["directory", "import"])
            .arg(&ldif)
            .arg("--data")
            .arg(&data),
    );
    assert!(out.contains("changes applied"), "{out}");
    assert!(out.contains("people       added   40"), "{out}");
    let again = stdout_ok(
        keyward(["directory", "import"])
            .arg(&ldif)
            .arg("--data")
            .arg(&data),
    );
    assert!(again.contains("nothing to change"), "{again}");

    let dir = initialised(&block);
    let data = dir.path().join("data");
    let people = dir.path().join("personnes.csv");
    let schools = dir.path().join("etablissements.csv");
    let (a, b) = (slapd::school_code(0), slapd::school_code(1));
    std::fs::write(
        &schools,
        format!("dn;ou;description\nou=C01,{SCHOOLS};C01;Est\nou={a},ou=C01,{SCHOOLS};{a};Ecole A\nou={b},ou=C01,{SCHOOLS};{b};\"Ecole; B\"\n"),
    )
    .unwrap();
    std::fs::write(
        &people,
        format!("uid;cn;mail;FrEduFonctAdm;FrEduRneResp;dateff\nien01;Inspectrice;ien01@ac-exemple.fr;IEN1D;{a}$UAJ;\nadir;Directeur A;adir@ac-exemple.fr;DIR;\"{a}$UAJ\n{b}$UAJ\";01/09/2026\n"),
    )
    .unwrap();
    let out = stdout_ok(
        keyward(["directory", "import"])
            .arg(&people)
            .arg("--schools")
            .arg(&schools)
            .arg("--data")
            .arg(&data),
    );
    assert!(out.contains("appointments added   2"), "{out}");
    assert!(out.contains("districts    changed 1"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_runs_the_sync_and_reads_its_status_through_the_api() {
    use crate::support::api::{api, Call};
    let server = Slapd::start(&slapd::authority(2, 10, 40));
    let api = api();
    // Without [directory] the route says so.
    let (status, _) = api
        .send(
            Call::post("/v1/directory/sync")
                .json(serde_json::json!({"dry_run": false, "confirm": false}))
                .by(api.keys.of("admin")),
        )
        .await;
    assert_eq!(status.as_u16(), 404);
    let mut config = DirectoryConfig::new(&server.url(), PEOPLE, SCHOOLS);
    config.bind_dn = Some(ROOT_DN.to_owned());
    config.password_file = Some(server.password_file(ROOT_PW));
    api.state.set_directory(config);
    // The fixture's hand-entered rights are not in this directory: the
    // guard stops the run, nothing applied.
    let (status, body) = api
        .send(
            Call::post("/v1/directory/sync")
                .json(serde_json::json!({"dry_run": true, "confirm": false}))
                .by(api.keys.of("admin")),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["outcome"], "stopped", "{body}");
    assert!(body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["kind"] == "appointments" && c["verb"] == "added"));
    let (status, body) = api
        .send(
            Call::post("/v1/directory/sync")
                .json(serde_json::json!({"dry_run": false, "confirm": true}))
                .by(api.keys.of("admin")),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["outcome"], "applied", "{body}");
    let (status, runs) = api
        .send(Call::get("/v1/directory/status").by(api.keys.of("admin")))
        .await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(runs[0]["outcome"], "applied");
    assert_eq!(runs[1]["outcome"], "stopped");
    // A directory that cannot be read: 502, nothing changed.
    drop(server);
    let (status, body) = api
        .send(
            Call::post("/v1/directory/sync")
                .json(serde_json::json!({"dry_run": false, "confirm": false}))
                .by(api.keys.of("admin")),
        )
        .await;
    assert_eq!(status.as_u16(), 502, "{body}");
    let (_, metrics) = api.send_raw(Call::get("/metrics")).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("keyward_directory_total{what=\"run\",outcome=\"applied\"} 1"),
        "{metrics}"
    );
}
