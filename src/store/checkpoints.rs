//! The checkpoint file: signed checkpoints of the audit head
//! ([`crate::crypto::checkpoint`]) appended, one line each, to a file outside
//! the database that the operator can ship elsewhere, and logged. One is
//! written each time the chain passes a multiple of `every` entries, and one
//! when the daemon stops (`docs/security.md`).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::audit::AuditHead;
use super::StoreError;
use crate::crypto::checkpoint::Checkpoint;
use crate::crypto::ReceiptSigner;
use crate::domain::UnixTime;

/// The file's name in the data directory when the configuration names none.
pub const DEFAULT_FILE: &str = "audit-checkpoints";
/// Entries between two checkpoints when the configuration says nothing.
pub const DEFAULT_EVERY: u64 = 1000;

#[derive(Debug)]
pub(crate) struct CheckpointLog {
    path: PathBuf,
    every: u64,
    /// The sequence number of the last head written (or found at open).
    last: Mutex<u64>,
}

impl CheckpointLog {
    pub(crate) fn new(path: PathBuf, every: u64, head_at_open: u64) -> Self {
        CheckpointLog {
            path,
            every: every.max(1),
            last: Mutex::new(head_at_open),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Entries between two checkpoints, and the sequence number of the last
    /// head written (or found at open).
    pub(crate) fn status(&self) -> (u64, u64) {
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        (self.every, last)
    }

    /// After a commit that moved the head: writes a checkpoint if the chain
    /// passed a multiple of `every`. The change is committed whatever
    /// happens here; a failure is logged and the next crossing tries again.
    pub(crate) fn note(&self, signer: &ReceiptSigner, head: AuditHead, now: UnixTime) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if head.seq / self.every <= *last / self.every {
            return;
        }
        match self.append(signer, head, now) {
            Ok(_) => *last = head.seq,
            Err(err) => tracing::warn!(
                file = %self.path.display(),
                error = %err,
                "could not write an audit checkpoint"
            ),
        }
    }

    /// Writes a checkpoint of `head` now; returns its line.
    pub(crate) fn write(
        &self,
        signer: &ReceiptSigner,
        head: AuditHead,
        now: UnixTime,
    ) -> Result<String, StoreError> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let line = self.append(signer, head, now)?;
        *last = (*last).max(head.seq);
        Ok(line)
    }

    fn append(
        &self,
        signer: &ReceiptSigner,
        head: AuditHead,
        now: UnixTime,
    ) -> Result<String, StoreError> {
        let line = Checkpoint {
            seq: head.seq,
            head: head.mac,
            at: now,
        }
        .sign(signer);
        let io = |err: std::io::Error| {
            StoreError::Fs(crate::secure_fs::FsError::Io {
                path: self.path.display().to_string(),
                message: err.to_string(),
            })
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(io)?;
        file.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io)?;
        tracing::info!(checkpoint = %line, "audit checkpoint");
        Ok(line)
    }
}
