//! One sync run over a store: read keyward's state, plan against the
//! directory's snapshot, stop at the guard unless confirmed, apply each
//! change in its own audited transaction, and keep the run's report.
//! Every source (LDAP, LDIF, CSV) ends here with a [`Snapshot`].

use std::collections::BTreeMap;

use super::plan::{plan, Plan};
use super::snapshot::Snapshot;
use super::DirectoryConfig;
use crate::domain::Actor;
use crate::store::{Store, StoreError};
use crate::wire::directory::{ChangeFailure, ChangeLine, CountLine, RunOutcome, SyncReport};

/// Changes named in a kept report.
const KEPT_CHANGES: usize = 1000;

/// How to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Show the changes, apply none.
    pub dry_run: bool,
    /// Apply even past the guard's threshold.
    pub confirm: bool,
}

/// The plan for `snapshot` against the store's state now.
pub fn plan_for(
    store: &Store,
    snapshot: &Snapshot,
    config: &DirectoryConfig,
) -> Result<Plan, StoreError> {
    let (state, today) = store.read(|tx| tx.directory_state())?;
    Ok(plan(snapshot, &state, today, &config.owns))
}

/// Runs the sync of `snapshot` (read from `source`, `entries` entries).
pub fn run(
    store: &Store,
    snapshot: &Snapshot,
    entries: usize,
    source: &str,
    config: &DirectoryConfig,
    options: RunOptions,
) -> Result<SyncReport, StoreError> {
    let plan = plan_for(store, snapshot, config)?;
    let mut report = SyncReport {
        at: 0,
        changes: plan.changes.iter().map(line).collect(),
        counts: plan
            .counts()
            .into_iter()
            .map(|((kind, verb), count)| CountLine {
                count,
                kind: kind.as_str().to_owned(),
                verb: verb.as_str().to_owned(),
            })
            .collect(),
        entries,
        errors: plan.errors.clone(),
        failures: Vec::new(),
        more_changes: 0,
        outcome: RunOutcome::Unchanged,
        source: source.to_owned(),
        stopped: None,
    };
    if let Err(stop) = plan.guard(config.end_threshold_per_mille) {
        if !options.confirm {
            report.outcome = RunOutcome::Stopped;
            report.stopped = Some(stop.to_string());
            record(store, &mut report, options.dry_run)?;
            return Ok(report);
        }
    }
    if options.dry_run {
        report.outcome = RunOutcome::DryRun;
    } else if !plan.is_empty() {
        report.outcome = RunOutcome::Applied;
        // One transaction per change; the disk is waited for once, at the
        // end (a run is idempotent: the next one redoes what a crash lost).
        store.with_deferred_sync(|| apply(store, &plan, source, &mut report))??;
    }
    record(store, &mut report, options.dry_run)?;
    Ok(report)
}

fn apply(
    store: &Store,
    plan: &Plan,
    source: &str,
    report: &mut SyncReport,
) -> Result<(), StoreError> {
    for change in &plan.changes {
        let done = store.write(&Actor::System, "directory.sync", |tx| {
            tx.apply_directory_change(change, source)
        });
        if let Err(err) = done {
            if !err.is_refusal()
                && !matches!(
                    err,
                    StoreError::DirectorInPlace { .. } | StoreError::AlreadyDirector { .. }
                )
            {
                return Err(err);
            }
            report.failures.push(ChangeFailure {
                error: err.to_string(),
                subject: change.subject(),
            });
        }
    }
    Ok(())
}

fn line(change: &super::plan::Change) -> ChangeLine {
    ChangeLine {
        detail: change.detail(),
        kind: change.kind().as_str().to_owned(),
        subject: change.subject(),
        verb: change.verb().as_str().to_owned(),
    }
}

fn record(store: &Store, report: &mut SyncReport, dry_run: bool) -> Result<(), StoreError> {
    let counts: BTreeMap<String, usize> = report
        .counts
        .iter()
        .map(|c| (format!("{}.{}", c.kind, c.verb), c.count))
        .collect();
    store.write(&Actor::System, "directory.sync", |tx| {
        report.at = tx.now();
        // The kept report names the first changes only; the counts are whole.
        let mut kept = report.clone();
        kept.more_changes = kept.changes.len().saturating_sub(KEPT_CHANGES);
        kept.changes.truncate(KEPT_CHANGES);
        let json =
            serde_json::to_string(&kept).map_err(|_| StoreError::Corrupt("directory report"))?;
        tx.record_directory_run(
            &report.source,
            dry_run,
            report.outcome.as_str(),
            &json,
            &counts,
        )
    })
}

/// The last runs' reports, newest first.
pub fn status(store: &Store, limit: u32) -> Result<Vec<SyncReport>, StoreError> {
    let rows = store.read(|tx| tx.directory_runs(limit))?;
    rows.into_iter()
        .map(|json| {
            serde_json::from_str(&json).map_err(|_| StoreError::Corrupt("directory report"))
        })
        .collect()
}
