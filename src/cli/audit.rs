//! `keyward audit verify`: checks the audit chain, every state row's MAC and,
//! given a checkpoint file, the chain against its signed checkpoints; locally
//! in a data directory (`--data-dir`), on the PostgreSQL store its config
//! file names (`[store] url = "postgres://…"`, docs/postgres.md), or by
//! asking the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::common::{or_dash, print_json, Connection};
use crate::config::{DaemonConfig, Paths};
use crate::crypto::checkpoint::Checkpoint;
use crate::crypto::MasterKey;
use crate::store::audit::{AuditBreak, AuditHead};
use crate::store::postgres::chain::{verify_audit, PgAuditReport};
use crate::store::postgres::row_check::{PgRowCheck, RowTally};
use crate::store::postgres::{PgTarget, StoreBackend};
use crate::store::{AuditReport, BadRow, RowCheck};
use crate::wire::audit::AuditCheck;
use clap::Subcommand;

/// Largest checkpoint file read (about 50 000 lines).
const MAX_CHECKPOINT_FILE: u64 = 10 << 20;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks the audit chain, every state row's MAC and (with --checkpoint)
    /// the signed checkpoints of its head; names what is wrong and exits with
    /// an error
    #[command(
        after_help = "Examples:\n  keyward audit verify --data-dir ./keyward-data   # locally, daemon stopped or not\n  keyward audit verify --data-dir ./keyward-data --checkpoint /mnt/archive/audit-checkpoints\n  keyward audit verify --data-dir /var/lib/keyward --config /etc/keyward/keyward.toml   # a PostgreSQL store\n  keyward audit verify                              # ask the daemon (admin key)"
    )]
    Verify {
        /// keyward's data directory (holds master.key and keyward.db); without
        /// it the daemon at KEYWARD_URL is asked.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Config file (default: keyward.toml in the data directory); with
        /// `[store] url = "postgres://…"` the PostgreSQL store it names is
        /// checked; needs --data-dir.
        #[arg(long, value_name = "FILE", requires = "data_dir")]
        config: Option<PathBuf>,
        /// Master key file (default: systemd's credential `master.key`, else
        /// master.key in the data directory); needs --data-dir.
        #[arg(long, value_name = "FILE", requires = "data_dir")]
        master_key: Option<PathBuf>,
        /// A file of signed audit checkpoints (a copy of the one keyward
        /// appends to, `audit.checkpoint_file`); needs --data-dir.
        #[arg(long, value_name = "FILE", requires = "data_dir")]
        checkpoint: Option<PathBuf>,
    },
}

pub fn run(command: AuditCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify {
            data_dir: Some(data_dir),
            config,
            master_key,
            checkpoint,
        } => {
            let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
            let paths = Paths::resolve(
                &data_dir,
                config.as_deref(),
                master_key.as_deref(),
                credentials.as_deref(),
            );
            // The backend as `keyward serve` picks it: the config file's
            // `[store]`; no config file is the embedded SQLite store.
            let backend = if config.is_some() || paths.config.exists() {
                DaemonConfig::load_file(&paths.config)?.backend
            } else {
                StoreBackend::Sqlite
            };
            match backend {
                StoreBackend::Postgres(target) => {
                    if checkpoint.is_some() {
                        anyhow::bail!(t!("audit-checkpoint-postgres"));
                    }
                    verify_postgres(&paths, &target, conn.json, out)
                }
                StoreBackend::Sqlite => verify_locally(&paths, checkpoint.as_deref(), out),
            }
        }
        AuditCommand::Verify { data_dir: None, .. } => {
            let answer = conn.client().audit_verify()?;
            if conn.json {
                print_json(out, &answer)?;
            } else if answer.ok {
                let line = t!(
                    "audit-ok",
                    entries = answer.entries.unwrap_or(0),
                    head = or_dash(answer.head.as_ref())
                );
                writeln!(out, "{line}")?;
            }
            if !answer.ok {
                for row in &answer.bad_rows {
                    writeln!(out, "{}", t!("audit-row-bad", row = row.to_string()))?;
                }
                anyhow::bail!(t!(
                    "audit-broken-at",
                    entry = or_dash(answer.first_bad),
                    why = or_dash(answer.why.as_ref())
                ));
            }
            Ok(())
        }
    }
}

/// The checkpoints of `file`, each checked against the data directory's
/// receipt key; a forged or altered line refuses the whole file.
fn read_checkpoints(paths: &Paths, file: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    use std::io::Read as _;
    let shown = file.display();
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_CHECKPOINT_FILE).read_to_string(&mut text))
        .map_err(|err| anyhow::anyhow!("reading the checkpoint file {shown}: {err}"))?;
    let public_key = crate::store::receipt_public_key_keyed(&paths.data, &paths.master_key)?;
    let checkpoints = Checkpoint::verify_file(&text, &public_key)
        .map_err(|err| anyhow::anyhow!("audit: checkpoint file {shown} REFUSED: {err}"))?;
    if checkpoints.is_empty() {
        anyhow::bail!("audit: the checkpoint file {shown} holds no checkpoint");
    }
    Ok(checkpoints)
}

fn verify_locally(
    paths: &Paths,
    checkpoint_file: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let checkpoints = match checkpoint_file {
        Some(file) => read_checkpoints(paths, file)?,
        None => Vec::new(),
    };
    let report = crate::store::verify_audit_keyed(&paths.data, &paths.master_key, &checkpoints)?;
    print_report(&report, &checkpoints, out)?;
    if report.is_ok() {
        return Ok(());
    }
    let mut problems = Vec::new();
    if let Err(broken) = &report.chain {
        problems.push(broken.to_string());
    }
    problems.extend(report.checkpoints.iter().map(ToString::to_string));
    if let RowCheck::Checked { bad, .. } = &report.rows {
        if !bad.is_empty() {
            problems.push(t!("audit-rows-changed", count = bad.len()));
        }
    }
    anyhow::bail!(t!("audit-broken", why = problems.join("; ")))
}

/// The chain's line, when it is intact.
fn print_chain(chain: &Result<AuditHead, AuditBreak>, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Ok(head) = chain {
        let head_mac = data_encoding::HEXLOWER.encode(&head.mac);
        writeln!(
            out,
            "{}",
            t!("audit-ok", entries = head.seq, head = head_mac)
        )?;
    }
    Ok(())
}

/// One line per row that does not match its MAC: its table and key.
fn print_bad_rows(bad: &[BadRow], out: &mut dyn Write) -> anyhow::Result<()> {
    for row in bad {
        let row = format!("{} {}", row.table, row.key);
        writeln!(out, "{}", t!("audit-row-bad", row = row))?;
    }
    Ok(())
}

fn print_report(
    report: &AuditReport,
    checkpoints: &[Checkpoint],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    print_chain(&report.chain, out)?;
    match &report.rows {
        RowCheck::Checked { rows, bad } if bad.is_empty() => {
            writeln!(out, "{}", t!("audit-rows-ok", rows = *rows))?;
        }
        RowCheck::Checked { bad, .. } => print_bad_rows(bad, out)?,
        RowCheck::NotSealedYet => writeln!(out, "{}", t!("audit-rows-not-sealed"))?,
    }
    if let (Some(latest), true) = (
        checkpoints.iter().max_by_key(|c| c.seq),
        report.checkpoints.is_empty() && report.chain.is_ok(),
    ) {
        let line = t!(
            "audit-checkpoints-ok",
            count = checkpoints.len(),
            latest = latest.seq
        );
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `audit verify` of the PostgreSQL store `target`: its chain and every
/// sealed row, read in one snapshot without changing anything, printed as
/// for SQLite (plus the rows of each table); `--json` prints the daemon's
/// answer (`AuditCheck`) with the rows of each table.
fn verify_postgres(
    paths: &Paths,
    target: &PgTarget,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let keys = MasterKey::load(&paths.master_key)
        .and_then(|key| key.keys())
        .with_context(|| {
            t!(
                "opening-file",
                file = paths.master_key.display().to_string()
            )
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let connected = async {
            let config = target.client_config()?;
            config
                .connect(target.tls_connector()?)
                .await
                .map_err(crate::store::postgres::PgError::from)
        }
        .await
        .with_context(|| super::serve_postgres::connecting_to(target));
        let (mut client, connection) = connected?;
        // The connection's driver ends when the client is dropped.
        let driver = tokio::spawn(connection);
        let report = verify_audit(&mut client, &keys).await;
        drop(client);
        let _ = driver.await;
        anyhow::Ok(report?)
    })?;
    if json {
        print_json(out, &PgAuditJson::of(&report))?;
    } else {
        print_pg_report(&report, out)?;
    }
    if report.is_ok() {
        return Ok(());
    }
    let mut problems = Vec::new();
    if let Err(broken) = &report.chain {
        problems.push(broken.to_string());
    }
    if let PgRowCheck::Checked(tally) = &report.rows {
        if tally.bad() > 0 {
            problems.push(t!("audit-rows-changed", count = tally.bad()));
        }
    }
    anyhow::bail!(t!("audit-broken", why = problems.join("; ")))
}

fn print_pg_report(report: &PgAuditReport, out: &mut dyn Write) -> anyhow::Result<()> {
    print_chain(&report.chain, out)?;
    let tally = match &report.rows {
        PgRowCheck::Checked(tally) => tally,
        PgRowCheck::NotSealedYet => {
            writeln!(out, "{}", t!("audit-rows-not-sealed"))?;
            return Ok(());
        }
    };
    if tally.bad() == 0 {
        writeln!(out, "{}", t!("audit-rows-ok", rows = tally.rows()))?;
    } else {
        print_bad_rows(&tally.listed, out)?;
        if tally.unlisted() > 0 {
            writeln!(
                out,
                "{}",
                t!("audit-rows-unlisted", count = tally.unlisted())
            )?;
        }
    }
    writeln!(
        out,
        "{}",
        t!("audit-rows-tables", tables = tables_text(tally))
    )?;
    Ok(())
}

/// `credentials 1, rights 2 (1 bad), …`: every sealed table's rows.
fn tables_text(tally: &RowTally) -> String {
    let tables: Vec<String> = tally
        .tables
        .iter()
        .map(|t| {
            if t.bad == 0 {
                t!("audit-rows-table", table = t.table, rows = t.rows)
            } else {
                t!(
                    "audit-rows-table-bad",
                    table = t.table,
                    rows = t.rows,
                    bad = t.bad
                )
            }
        })
        .collect();
    tables.join(", ")
}

/// `--json` of `audit verify` on PostgreSQL: the daemon's answer, and the
/// rows checked in each table.
#[derive(Debug, Serialize)]
struct PgAuditJson {
    #[serde(flatten)]
    check: AuditCheck,
    /// Rows that did not match beyond those named in `bad_rows`.
    #[serde(skip_serializing_if = "is_zero")]
    bad_rows_unlisted: u64,
    /// Every sealed table's rows and mismatches; empty when the rows are
    /// not sealed yet.
    tables: Vec<TableJson>,
}

#[derive(Debug, Serialize)]
struct TableJson {
    table: &'static str,
    rows: u64,
    bad: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PgAuditJson {
    fn of(report: &PgAuditReport) -> PgAuditJson {
        let check = match &report.chain {
            Ok(head) => AuditCheck::intact(head.seq, data_encoding::HEXLOWER.encode(&head.mac)),
            Err(broken) => AuditCheck::broken(broken.first_bad(), broken.to_string()),
        };
        match &report.rows {
            PgRowCheck::Checked(tally) => PgAuditJson {
                check: check.with_bad_rows(
                    tally.bad(),
                    tally
                        .listed
                        .iter()
                        .map(|r| format!("{} {}", r.table, r.key))
                        .collect(),
                ),
                bad_rows_unlisted: tally.unlisted(),
                tables: tally
                    .tables
                    .iter()
                    .map(|t| TableJson {
                        table: t.table,
                        rows: t.rows,
                        bad: t.bad,
                    })
                    .collect(),
            },
            PgRowCheck::NotSealedYet => PgAuditJson {
                check,
                bad_rows_unlisted: 0,
                tables: Vec::new(),
            },
        }
    }
}
