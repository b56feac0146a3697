//! The academic directory sync's report (`keyward directory sync|status`,
//! `docs/directory.md`): what a run found, planned and applied.

use serde::{Deserialize, Serialize};

/// One count: `kind` (people, districts, schools, appointments,
/// delegations) × `verb` (added, changed, ended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountLine {
    pub count: usize,
    pub kind: String,
    pub verb: String,
}

/// One change, planned or applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeLine {
    pub detail: String,
    pub kind: String,
    pub subject: String,
    pub verb: String,
}

/// A change that the lifecycle rules refused (nothing of it was kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFailure {
    pub error: String,
    pub subject: String,
}

/// A directory entry reported and skipped.
pub use crate::directory::snapshot::EntryError;

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Changes applied (some may have failed: see `failures`).
    Applied,
    /// Nothing to change: keyward already follows the directory.
    Unchanged,
    /// A dry run: the changes were only shown.
    DryRun,
    /// The guard stopped the run before any change.
    Stopped,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Applied => "applied",
            RunOutcome::Unchanged => "unchanged",
            RunOutcome::DryRun => "dry_run",
            RunOutcome::Stopped => "stopped",
        }
    }
}

/// A sync run's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub at: u64,
    pub changes: Vec<ChangeLine>,
    pub counts: Vec<CountLine>,
    pub entries: usize,
    pub errors: Vec<EntryError>,
    pub failures: Vec<ChangeFailure>,
    /// Changes left out of `changes` in a kept report (`status`): the
    /// counts stay whole.
    #[serde(default)]
    pub more_changes: usize,
    pub outcome: RunOutcome,
    pub source: String,
    /// Why the guard stopped the run, when it did.
    pub stopped: Option<String>,
}

/// `POST /v1/directory/sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// Show the changes; apply none.
    pub dry_run: bool,
    /// Apply even past the guard's threshold.
    pub confirm: bool,
}

/// `GET /v1/directory/status`: the last runs, newest first.
pub type StatusAnswer = Vec<SyncReport>;
