//! `keyward audit verify`: checks the audit chain, locally in a data directory
//! (`--data-dir`) or by asking the daemon.

use std::io::Write;
use std::path::PathBuf;

use super::common::{or_dash, print_json, Connection};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes the whole hash chain; reports the first edited, deleted or
    /// reordered entry and exits with an error.
    #[command(
        after_help = "Examples:\n  keyward audit verify --data-dir ./keyward-data   # locally, daemon stopped or not\n  keyward audit verify                              # ask the daemon (admin key)"
    )]
    Verify {
        /// keyward's data directory (holds master.key and keyward.db); without
        /// it the daemon at KEYWARD_URL is asked.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(command: AuditCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify {
            data_dir: Some(data_dir),
        } => match crate::store::verify_audit_at(&data_dir)? {
            Ok(head) => {
                let head_mac = data_encoding::HEXLOWER.encode(&head.mac);
                writeln!(
                    out,
                    "{}",
                    t!("audit-ok", entries = head.seq, head = head_mac)
                )?;
                Ok(())
            }
            Err(broken) => anyhow::bail!(t!("audit-broken", why = broken.to_string())),
        },
        AuditCommand::Verify { data_dir: None } => {
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
