//! `keyward doctor`: checks one installation and prints one line per check,
//! French first then English. Exit status 0 when nothing failed, 1 when a
//! check failed (warnings and checks not configured do not fail).

use std::io::Write;

use clap::Args;

use super::common::Exit;
use super::data_dir::DataArgs;
use crate::config::{DaemonConfig, Paths};
use crate::crypto::MasterKey;
use crate::secure_fs;
use crate::store::{self, DB_FILE};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward doctor --data ./keyward-data\n  sudo keyward doctor --data /var/lib/keyward --config /etc/keyward/keyward.toml --master-key /etc/keyward/master.key"
)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub files: DataArgs,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warning,
    Failed,
    NotConfigured,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "[ok]     ",
            Status::Warning => "[alerte] ",
            Status::Failed => "[ÉCHEC]  ",
            Status::NotConfigured => "[—]      ",
        }
    }
}

/// One line of the report: what was checked (French, English) and what
/// was found.
#[derive(Debug, Clone)]
pub struct Check {
    pub status: Status,
    pub what_fr: &'static str,
    pub what_en: &'static str,
    pub found: String,
}

fn check(status: Status, what: (&'static str, &'static str), found: impl Into<String>) -> Check {
    Check {
        status,
        what_fr: what.0,
        what_en: what.1,
        found: found.into(),
    }
}

fn outcome<T, E: std::fmt::Display>(
    what: (&'static str, &'static str),
    result: Result<T, E>,
    ok: impl FnOnce(T) -> String,
) -> Check {
    match result {
        Ok(value) => check(Status::Ok, what, ok(value)),
        Err(err) => check(Status::Failed, what, err.to_string()),
    }
}

const CONFIG: (&str, &str) = ("configuration", "configuration");
const PERMISSIONS: (&str, &str) = ("droits des fichiers", "file permissions");
const MASTER_KEY: (&str, &str) = ("clé maîtresse", "master key");
const INTEGRITY: (&str, &str) = ("intégrité de la base", "database integrity");
const AUDIT: (&str, &str) = ("journal d'audit", "audit chain");
const DAEMON: (&str, &str) = ("service keyward", "keyward daemon");
const PCSCD: (&str, &str) = ("service pcscd", "pcscd");
const READERS: (&str, &str) = ("lecteurs", "readers");
const TLS: (&str, &str) = ("certificats TLS", "TLS certificates");
const DIRECTORY: (&str, &str) = ("annuaire", "directory");
const MAIL: (&str, &str) = ("messagerie", "mail");

fn permissions(paths: &Paths) -> Result<String, anyhow::Error> {
    secure_fs::ensure_private_dir(&paths.data, false)?;
    for name in [
        DB_FILE.to_owned(),
        format!("{DB_FILE}-wal"),
        format!("{DB_FILE}-shm"),
    ] {
        let path = paths.data.join(name);
        if std::fs::symlink_metadata(&path).is_ok() || path.ends_with(DB_FILE) {
            secure_fs::check_private_file(&path)?;
        }
    }
    secure_fs::read_config_file(&paths.config, 64 * 1024)?;
    Ok(format!(
        "{} 0700, fichiers 0600 / files 0600",
        paths.data.display()
    ))
}

fn master_key(paths: &Paths) -> Result<String, anyhow::Error> {
    if let Some(stray) = paths.stray_master_key() {
        anyhow::bail!(
            "une copie est dans le répertoire de données / a copy lies in the data directory: {}",
            stray.display()
        );
    }
    MasterKey::load(&paths.master_key)?;
    // The right key for this database: it opens the sealed receipt key.
    store::receipt_public_key_keyed(&paths.data, &paths.master_key)?;
    let source = if paths.key_from_credentials {
        "identifiant systemd / systemd credential"
    } else {
        "fichier / file"
    };
    Ok(format!("{} ({source})", paths.master_key.display()))
}

fn pcsc() -> (Check, Check) {
    match crate::oath::driver::pcsc::Pcsc::establish() {
        Err(err) => (
            check(
                Status::Failed,
                PCSCD,
                format!("injoignable / unreachable: {err}"),
            ),
            check(
                Status::Failed,
                READERS,
                "pas de pcscd, pas de lecteur / no pcscd, no reader",
            ),
        ),
        Ok(pcsc) => {
            let readers = match pcsc.readers() {
                Ok(list) if list.is_empty() => check(
                    Status::Warning,
                    READERS,
                    "aucun lecteur branché / no reader plugged in",
                ),
                Ok(list) => check(Status::Ok, READERS, list.join(", ")),
                Err(err) => check(Status::Failed, READERS, err.to_string()),
            };
            (check(Status::Ok, PCSCD, "joignable / reachable"), readers)
        }
    }
}

/// Runs every check, in the order printed.
pub fn checks(paths: &Paths) -> Vec<Check> {
    let mut all = vec![outcome(
        CONFIG,
        DaemonConfig::load_file(&paths.config),
        |_| format!("{} valide / valid", paths.config.display()),
    )];
    all.push(outcome(PERMISSIONS, permissions(paths), |s| s));
    let key = master_key(paths);
    let key_ok = key.is_ok();
    all.push(outcome(MASTER_KEY, key, |s| s));
    all.push(outcome(
        INTEGRITY,
        store::integrity_check_at(&paths.data).and_then(|report| {
            if report == "ok" {
                Ok(report)
            } else {
                Err(store::StoreError::Corrupt(
                    "database pages (PRAGMA integrity_check)",
                ))
            }
        }),
        |_| "PRAGMA integrity_check: ok".to_owned(),
    ));
    all.push(if key_ok {
        match store::verify_audit_keyed(&paths.data, &paths.master_key, &[]) {
            Ok(report) => match &report.chain {
                Ok(head) if report.is_ok() => check(
                    Status::Ok,
                    AUDIT,
                    format!(
                        "{} entrées / entries, tête / head {}",
                        head.seq,
                        data_encoding::HEXLOWER.encode(&head.mac)
                    ),
                ),
                Ok(_) => check(
                    Status::Failed,
                    AUDIT,
                    "lignes d'état modifiées hors de keyward / state rows changed outside keyward (keyward audit verify)",
                ),
                Err(broken) => check(Status::Failed, AUDIT, format!("ROMPU / BROKEN: {broken}")),
            },
            Err(err) => check(Status::Failed, AUDIT, err.to_string()),
        }
    } else {
        check(
            Status::Failed,
            AUDIT,
            "non vérifiable sans la clé maîtresse / cannot be checked without the master key",
        )
    });
    all.push(match store::backup::daemon_running(&paths.data) {
        Ok(true) => check(Status::Ok, DAEMON, "en marche / running"),
        Ok(false) => check(Status::Ok, DAEMON, "arrêté / stopped"),
        Err(err) => check(Status::Warning, DAEMON, err.to_string()),
    });
    let (pcscd, readers) = pcsc();
    all.push(pcscd);
    all.push(readers);
    for what in [TLS, DIRECTORY, MAIL] {
        all.push(check(
            Status::NotConfigured,
            what,
            "non configuré / not configured",
        ));
    }
    all
}

fn print(checks: &[Check], out: &mut dyn Write) -> std::io::Result<()> {
    for c in checks {
        writeln!(
            out,
            "{}{} ({}): {}",
            c.status.label(),
            c.what_fr,
            c.what_en,
            c.found
        )?;
    }
    Ok(())
}

pub fn run(args: DoctorArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let paths = args.files.paths();
    let all = checks(&paths);
    print(&all, out)?;
    let failed = all.iter().filter(|c| c.status == Status::Failed).count();
    if failed > 0 {
        writeln!(out, "{failed} vérification(s) en échec / check(s) failed")?;
        return Err(Exit(1).into());
    }
    writeln!(out, "tout va bien / all checks passed")?;
    Ok(())
}
