//! `keyward directory sync|import|status`: keyward follows the academic
//! directory (`docs/directory.md`). With the daemon stopped these work on
//! the data directory; with the daemon running on it, `sync` and `status`
//! ask the daemon (`POST /v1/directory/sync`, `GET /v1/directory/status`,
//! an admin key) and `import` is refused. Each run prints the changes
//! (added / changed / ended, per kind) before applying them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::data_dir::DataArgs;
use crate::config::{self, DaemonConfig};
use crate::directory::{sync, DirectoryConfig, RunOptions};
use crate::store::backup::daemon_running;
use crate::store::Store;
use crate::wire::directory::{RunOutcome, SyncBody, SyncReport};

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Reads the LDAP directory of `[directory]` and applies the changes.
    #[command(
        after_help = "Examples:\n  keyward directory sync --dry-run\n  keyward directory sync --confirm   # past the guard, after checking the changes"
    )]
    Sync(SyncArgs),
    /// The same sync from an export: an LDIF file, or the people's CSV
    /// (with `--schools` for the schools' CSV).
    #[command(
        after_help = "Examples:\n  keyward directory import annuaire.ldif --dry-run\n  keyward directory import personnes.csv --schools etablissements.csv"
    )]
    Import(ImportArgs),
    /// The last runs: when, from where, counts, entry errors.
    #[command(after_help = "Example:\n  keyward directory status --json")]
    Status {
        #[command(flatten)]
        files: DataArgs,
        /// How many runs to show.
        #[arg(long, default_value_t = 1)]
        last: u32,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Show the changes; apply none.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply even when more rights would end than the guard allows.
    #[arg(long)]
    pub confirm: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub files: DataArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export: `.ldif`, or `.csv` for the people's CSV.
    pub file: PathBuf,
    /// The schools' CSV, beside the people's.
    #[arg(long, value_name = "FILE")]
    pub schools: Option<PathBuf>,
    #[command(flatten)]
    pub files: DataArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

impl DirectoryCommand {
    pub fn run(self, conn: &super::common::Connection, out: &mut dyn Write) -> anyhow::Result<()> {
        let json = conn.json;
        match self {
            DirectoryCommand::Sync(args) if running(&args.files)? => {
                let report = conn.client().directory_sync(&SyncBody {
                    dry_run: args.run.dry_run,
                    confirm: args.run.confirm,
                })?;
                show(&report, json, out)
            }
            DirectoryCommand::Status { files, last } if running(&files)? => {
                let mut runs = conn.client().directory_status()?;
                runs.truncate(usize::try_from(last).unwrap_or(usize::MAX));
                status_out(&runs, json, out)
            }
            DirectoryCommand::Sync(args) => {
                let (store, config) = open(&args.files)?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let report = runtime
                    .block_on(sync::sync_ldap(
                        Arc::clone(&store),
                        &config,
                        options(&args.run),
                    ))
                    .map_err(localized)?;
                show(&report, json, out)
            }
            DirectoryCommand::Import(args) => {
                let (store, config) = open(&args.files)?;
                let (snapshot, count) =
                    sync::read_export(&args.file, args.schools.as_deref(), &config)?;
                let source = format!("file:{}", args.file.display());
                let report = crate::directory::run(
                    &store,
                    &snapshot,
                    count,
                    &source,
                    &config,
                    options(&args.run),
                )?;
                show(&report, json, out)
            }
            DirectoryCommand::Status { files, last } => {
                let (store, _) = open(&files)?;
                let runs = crate::directory::status(&store, last)?;
                status_out(&runs, json, out)
            }
        }
    }
}

/// Whether the daemon runs on the data directory of `files`.
fn running(files: &DataArgs) -> anyhow::Result<bool> {
    Ok(daemon_running(&files.paths().data)?)
}

fn status_out(runs: &[SyncReport], json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
        return Ok(());
    }
    if runs.is_empty() {
        writeln!(out, "{}", t!("directory-no-run"))?;
    }
    for report in runs {
        summary(report, out)?;
    }
    Ok(())
}

/// A failed read of the directory, in the reader's language.
fn localized(err: sync::SyncError) -> anyhow::Error {
    use crate::directory::ldap::LdapError;
    use crate::directory::tls::CaProblem;
    let sync::SyncError::Ldap(ldap) = err else {
        return err.into();
    };
    let text = match ldap {
        LdapError::Connect { url, why } => t!("directory-error-connect", url = url, why = why),
        LdapError::Untrusted { url, why } => {
            t!("directory-error-untrusted", url = url, why = why)
        }
        LdapError::CaFile { path, problem } => {
            let problem = match problem {
                CaProblem::Unreadable(why) => t!("directory-ca-unreadable", why = why),
                CaProblem::TooLarge => t!("directory-ca-too-large"),
                CaProblem::NoCertificate => t!("directory-ca-no-certificate"),
                CaProblem::BadCertificate => t!("directory-ca-bad-certificate"),
            };
            t!("directory-error-ca-file", path = path, problem = problem)
        }
        LdapError::Bind { dn, code } => {
            t!("directory-error-bind", dn = dn, code = code.to_string())
        }
        LdapError::Search { base, why } => t!("directory-error-search", base = base, why = why),
        LdapError::Password(why) => t!("directory-error-password", why = why),
        LdapError::Malformed => t!("directory-error-malformed"),
    };
    anyhow::anyhow!(text)
}

fn options(args: &RunArgs) -> RunOptions {
    RunOptions {
        dry_run: args.dry_run,
        confirm: args.confirm,
    }
}

/// The store and `[directory]` of a stopped daemon's data directory.
fn open(files: &DataArgs) -> anyhow::Result<(Arc<Store>, DirectoryConfig)> {
    let paths = files.paths();
    if daemon_running(&paths.data)? {
        anyhow::bail!(t!(
            "directory-daemon-running",
            data = paths.data.display().to_string()
        ));
    }
    let config = DaemonConfig::load_file(&paths.config)?;
    let directory = config
        .directory
        .clone()
        .ok_or_else(|| anyhow::anyhow!(t!("directory-not-configured")))?;
    let store = Store::open_keyed(
        &paths.data,
        &paths.master_key,
        config::daemon_clock(),
        config.store,
    )
    .with_context(|| t!("opening-file", file = paths.data.display().to_string()))?;
    Ok((Arc::new(store), directory))
}

fn show(report: &SyncReport, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    } else {
        for c in &report.changes {
            writeln!(
                out,
                "{:<12} {:<7} {:<24} {}",
                c.kind, c.verb, c.subject, c.detail
            )?;
        }
        summary(report, out)?;
    }
    if report.outcome == RunOutcome::Stopped {
        anyhow::bail!(t!("directory-stopped"));
    }
    Ok(())
}

fn summary(report: &SyncReport, out: &mut dyn Write) -> anyhow::Result<()> {
    let at = crate::domain::calendar::rfc3339(report.at);
    writeln!(
        out,
        "{}",
        t!(
            "directory-run",
            at = at,
            source = report.source.clone(),
            entries = report.entries,
            outcome = match report.outcome {
                RunOutcome::Applied => t!("directory-outcome-applied"),
                RunOutcome::Unchanged => t!("directory-outcome-unchanged"),
                RunOutcome::DryRun => t!("directory-outcome-dry-run"),
                RunOutcome::Stopped => t!("directory-outcome-stopped"),
            }
        )
    )?;
    for c in &report.counts {
        writeln!(out, "  {:<12} {:<7} {}", c.kind, c.verb, c.count)?;
    }
    for e in &report.errors {
        writeln!(
            out,
            "{}",
            t!(
                "directory-entry-error",
                dn = e.dn.clone(),
                problem = e.problem.clone()
            )
        )?;
    }
    for f in &report.failures {
        writeln!(
            out,
            "{}",
            t!(
                "directory-change-failed",
                subject = f.subject.clone(),
                error = f.error.clone()
            )
        )?;
    }
    if let Some(why) = &report.stopped {
        writeln!(out, "{why}")?;
    }
    Ok(())
}
