//! `keyward audit verify`: checks the audit chain of a data directory.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes the whole hash chain; reports the first edited, deleted or
    /// reordered entry and exits with an error.
    Verify {
        /// keyward's data directory (holds master.key and keyward.db).
        #[arg(long)]
        data_dir: PathBuf,
    },
}

pub fn run(command: AuditCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { data_dir } => match crate::store::verify_audit_at(&data_dir)? {
            Ok(head) => {
                writeln!(
                    out,
                    "audit: ok, {} entries, head {}",
                    head.seq,
                    data_encoding::HEXLOWER.encode(&head.mac)
                )?;
                Ok(())
            }
            Err(broken) => anyhow::bail!("audit: BROKEN: {broken}"),
        },
    }
}
