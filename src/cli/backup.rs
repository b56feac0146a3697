//! `keyward backup` and `keyward restore`: local commands on a data
//! directory (`store::backup` does the work). A backup is taken while the
//! daemon runs; a restore needs it stopped.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::data_dir::DataArgs;
use crate::config::{self, DaemonConfig, CONFIG_FILE};
use crate::crypto::backup::BackupHeader;
use crate::store::backup::{open_backup, restore_backup, take_backup};

/// Largest backup file read back (the database is held in memory).
const MAX_BACKUP_BYTES: u64 = 4 * 1024 * 1024 * 1024;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward backup --data ./keyward-data --out ./keyward-2026-11-30.kwb\n  sudo keyward backup --data /var/lib/keyward --master-key /etc/keyward/master.key --out /srv/backup/keyward.kwb"
)]
pub struct BackupArgs {
    #[command(flatten)]
    pub files: DataArgs,
    /// File to write (0600; never replaced).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward restore ./keyward-2026-11-30.kwb --data ./keyward-data\n  sudo systemctl stop keyward\n  sudo keyward restore /srv/backup/keyward.kwb --data /var/lib/keyward --config /etc/keyward/keyward.toml --master-key /etc/keyward/master.key --force"
)]
pub struct RestoreArgs {
    /// Backup file written by `keyward backup`.
    #[arg(value_name = "FILE")]
    pub backup: PathBuf,
    #[command(flatten)]
    pub files: DataArgs,
    /// Replace the database already in the data directory.
    #[arg(long)]
    pub force: bool,
    /// HOTP counters to move every counter forward by (at least, and by
    /// default, the configured look-ahead window). Raise it when holders may
    /// have logged in many times since the backup; tokens left behind then
    /// need a resync.
    #[arg(long, value_name = "N")]
    pub hotp_advance: Option<u32>,
}

fn describe(header: &BackupHeader) -> String {
    format!(
        "{} audit entries, head {}, taken at {}",
        header.audit_entries,
        header.audit_head,
        jiff::Timestamp::from_second(i64::try_from(header.taken_at).unwrap_or(i64::MAX))
            .map_or_else(|_| header.taken_at.to_string(), |t| t.to_string())
    )
}

pub fn backup(args: BackupArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let paths = args.files.paths();
    let now = config::daemon_clock().now();
    let (header, sealed) = take_backup(&paths.data, &paths.master_key, now)
        .with_context(|| format!("backing up {}", paths.data.display()))?;
    crate::secure_fs::create_private_file(&args.out, &sealed)?;
    writeln!(
        out,
        "sauvegarde écrite / backup written: {} ({} bytes; {})",
        args.out.display(),
        sealed.len(),
        describe(&header)
    )?;
    Ok(())
}

pub fn restore(args: RestoreArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use std::io::Read as _;
    let paths = args.files.paths();
    let mut sealed = Vec::new();
    std::fs::File::open(&args.backup)
        .and_then(|f| f.take(MAX_BACKUP_BYTES).read_to_end(&mut sealed))
        .with_context(|| format!("reading {}", args.backup.display()))?;
    let opened = open_backup(&sealed, &paths.master_key)
        .with_context(|| format!("opening {}", args.backup.display()))?;
    // The windows to move past: the config in force, else the backup's own.
    let config = if paths.config.exists() {
        DaemonConfig::load_file(&paths.config)?
    } else {
        let saved = opened
            .1
            .iter()
            .find(|f| f.name == CONFIG_FILE)
            .context("no config file here nor in the backup: pass --config")?;
        DaemonConfig::parse(std::str::from_utf8(&saved.data).context("the backup's config")?)?
    };
    let look_ahead = config.store.hotp_look_ahead;
    let done = restore_backup(
        opened,
        &paths.data,
        &paths.master_key,
        config.store,
        config::daemon_clock(),
        args.hotp_advance.unwrap_or(look_ahead),
        args.force,
    )
    .with_context(|| format!("restoring into {}", paths.data.display()))?;
    writeln!(
        out,
        "restauration faite / restored into {}: {}",
        paths.data.display(),
        describe(&done.header)
    )?;
    writeln!(
        out,
        "compteurs avancés / floors moved: {} HOTP (+{}), {} TOTP (to the current step); audit: {} entries, verified",
        done.floors.hotp,
        args.hotp_advance.unwrap_or(look_ahead).max(look_ahead),
        done.floors.totp,
        done.audit_entries
    )?;
    Ok(())
}
