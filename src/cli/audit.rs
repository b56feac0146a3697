//! `keyward audit verify`: checks the audit chain, every state row's MAC and,
//! given a checkpoint file, the chain against its signed checkpoints; locally
//! in a data directory (`--data-dir`) or by asking the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::common::{or_dash, print_json, Connection};
use crate::crypto::checkpoint::Checkpoint;
use crate::store::{AuditReport, RowCheck};
use clap::Subcommand;

/// Largest checkpoint file read (about 50 000 lines).
const MAX_CHECKPOINT_FILE: u64 = 10 << 20;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks the audit chain, every state row's MAC and (with --checkpoint)
    /// the signed checkpoints of its head; names what is wrong and exits with
    /// an error
    #[command(
        after_help = "Examples:\n  keyward audit verify --data-dir ./keyward-data   # locally, daemon stopped or not\n  keyward audit verify --data-dir ./keyward-data --checkpoint /mnt/archive/audit-checkpoints\n  keyward audit verify                              # ask the daemon (admin key)"
    )]
    Verify {
        /// keyward's data directory (holds master.key and keyward.db); without
        /// it the daemon at KEYWARD_URL is asked.
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
            checkpoint,
        } => verify_locally(&data_dir, checkpoint.as_deref(), out),
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
fn read_checkpoints(data_dir: &Path, file: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    use std::io::Read as _;
    let shown = file.display();
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_CHECKPOINT_FILE).read_to_string(&mut text))
        .map_err(|err| anyhow::anyhow!("reading the checkpoint file {shown}: {err}"))?;
    let public_key = crate::store::receipt_public_key_at(data_dir)?;
    let checkpoints = Checkpoint::verify_file(&text, &public_key)
        .map_err(|err| anyhow::anyhow!("audit: checkpoint file {shown} REFUSED: {err}"))?;
    if checkpoints.is_empty() {
        anyhow::bail!("audit: the checkpoint file {shown} holds no checkpoint");
    }
    Ok(checkpoints)
}

fn verify_locally(
    data_dir: &Path,
    checkpoint_file: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let checkpoints = match checkpoint_file {
        Some(file) => read_checkpoints(data_dir, file)?,
        None => Vec::new(),
    };
    let report = crate::store::verify_audit_at(data_dir, &checkpoints)?;
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

fn print_report(
    report: &AuditReport,
    checkpoints: &[Checkpoint],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if let Ok(head) = &report.chain {
        let head_mac = data_encoding::HEXLOWER.encode(&head.mac);
        writeln!(
            out,
            "{}",
            t!("audit-ok", entries = head.seq, head = head_mac)
        )?;
    }
    match &report.rows {
        RowCheck::Checked { rows, bad } if bad.is_empty() => {
            writeln!(out, "{}", t!("audit-rows-ok", rows = *rows))?;
        }
        RowCheck::Checked { bad, .. } => {
            for row in bad {
                let row = format!("{} {}", row.table, row.key);
                writeln!(out, "{}", t!("audit-row-bad", row = row))?;
            }
        }
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
