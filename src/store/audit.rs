//! The audit trail: append-only, hash-chained with sequence numbers, written
//! in the same transaction as the change it records.
//!
//! Entry n's MAC is HMAC-SHA-256, under a key derived from the master key, of
//! (n, MAC of entry n-1, its fields). Editing, deleting or reordering any entry
//! breaks the chain at that entry, and without the master key nobody can
//! recompute a chain that hides it. Dropping entries at the very end is only
//! visible against a head recorded elsewhere: the signed checkpoints
//! ([`crate::crypto::checkpoint`]) the store writes outside the database,
//! compared here with the chain ([`compare_checkpoints`]).

use crate::store::cached::CachedSql;
use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};

use super::row_mac::RowCheck;
use super::StoreError;
use crate::crypto::checkpoint::Checkpoint;
use crate::crypto::Keys;
use crate::domain::UnixTime;

/// The last entry of the chain: where the next one attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    pub mac: [u8; 32],
}

impl AuditHead {
    pub(crate) fn load(db: &Connection) -> Result<Self, StoreError> {
        let last: Option<(i64, Vec<u8>)> = db
            .query_row_cached(
                "SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match last {
            None => Ok(AuditHead {
                seq: 0,
                mac: [0; 32],
            }),
            Some((seq, mac)) => Ok(AuditHead {
                seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit sequence"))?,
                mac: mac
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("audit mac"))?,
            }),
        }
    }

    /// Appends one entry after this head and moves the head to it.
    pub(crate) fn append(
        &mut self,
        db: &Connection,
        keys: &Keys,
        entry: &AuditEntry<'_>,
    ) -> Result<u64, StoreError> {
        let seq = self.seq + 1;
        let mac = keys.audit_mac(&entry.encode(seq, &self.mac));
        db.prepare_cached(
            "INSERT INTO audit (seq, at, actor, action, subject, detail, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            seq as i64,
            entry.at as i64,
            entry.actor,
            entry.action,
            entry.subject,
            entry.detail,
            &mac[..]
        ])?;
        *self = AuditHead { seq, mac };
        Ok(seq)
    }
}

/// One audit entry's fields. Never holds a secret: callers pass identifiers,
/// outcomes and reasons only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    pub at: UnixTime,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
}

impl AuditEntry<'_> {
    /// The bytes the entry's MAC covers: its number, the previous MAC and
    /// its fields (the same on every backend).
    pub(crate) fn encode(&self, seq: u64, previous: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.detail.len());
        out.extend_from_slice(b"keyward audit v1\0");
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(previous);
        out.extend_from_slice(&self.at.to_be_bytes());
        for field in [self.actor, self.action, self.subject, self.detail] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }
}

/// Where and how the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditBreak {
    #[error("audit entry {seq}: its MAC does not match (edited, swapped or forged)")]
    BadMac { seq: u64 },
    #[error(
        "audit entry {expected} is missing (found {found} next): entries were deleted or reordered"
    )]
    Gap { expected: u64, found: u64 },
    #[error("audit entry {seq}: a field is unreadable")]
    Unreadable { seq: u64 },
}

/// Checks the whole chain; returns the number of entries and the head.
pub fn verify_chain(
    db: &Connection,
    keys: &Keys,
) -> Result<Result<AuditHead, AuditBreak>, StoreError> {
    Ok(verify_chain_marking(db, keys, &BTreeSet::new())?.map(|(head, _)| head))
}

/// The MACs of the entries numbered in `wanted`, as found while checking.
pub type Marks = BTreeMap<u64, [u8; 32]>;

/// [`verify_chain`], keeping the MACs of the entries numbered in `wanted`.
pub fn verify_chain_marking(
    db: &Connection,
    keys: &Keys,
    wanted: &BTreeSet<u64>,
) -> Result<Result<(AuditHead, Marks), AuditBreak>, StoreError> {
    let mut marks = Marks::new();
    let mut stmt = db
        .prepare("SELECT seq, at, actor, action, subject, detail, mac FROM audit ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    let mut head = AuditHead {
        seq: 0,
        mac: [0; 32],
    };
    while let Some(row) = rows.next()? {
        let expected = head.seq + 1;
        let seq = row.get::<_, i64>(0)?;
        let seq = u64::try_from(seq).unwrap_or(0);
        if seq != expected {
            return Ok(Err(AuditBreak::Gap {
                expected,
                found: seq,
            }));
        }
        let fields = (|| -> rusqlite::Result<_> {
            Ok((
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Vec<u8>>(6)?,
            ))
        })();
        let Ok((at, actor, action, subject, detail, mac)) = fields else {
            return Ok(Err(AuditBreak::Unreadable { seq }));
        };
        let entry = AuditEntry {
            at: u64::try_from(at).unwrap_or(u64::MAX),
            actor: &actor,
            action: &action,
            subject: &subject,
            detail: &detail,
        };
        if !keys.audit_mac_matches(&entry.encode(seq, &head.mac), &mac) {
            return Ok(Err(AuditBreak::BadMac { seq }));
        }
        head = AuditHead {
            seq,
            mac: mac.try_into().unwrap_or([0; 32]),
        };
        if wanted.contains(&seq) {
            marks.insert(seq, head.mac);
        }
    }
    Ok(Ok((head, marks)))
}

/// How the chain disagrees with a signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointMismatch {
    #[error("the audit ends at entry {chain}, but the checkpoint signed at {at} records entry {checkpoint}: entries were deleted at the end")]
    Truncated {
        checkpoint: u64,
        chain: u64,
        at: String,
    },
    #[error(
        "audit entry {seq} differs from the checkpoint signed at {at}: the chain was rewritten"
    )]
    Diverged { seq: u64, at: String },
}

/// The entries a set of checkpoints needs marked (see [`verify_chain_marking`]).
pub fn checkpoint_seqs(checkpoints: &[Checkpoint]) -> BTreeSet<u64> {
    checkpoints.iter().map(|c| c.seq).collect()
}

/// Compares an intact chain (its head, and the MACs marked at the
/// checkpoints' entries) with signed checkpoints.
pub fn compare_checkpoints(
    head: &AuditHead,
    marks: &Marks,
    checkpoints: &[Checkpoint],
) -> Vec<CheckpointMismatch> {
    let shown = |at: UnixTime| {
        jiff::Timestamp::from_second(i64::try_from(at).unwrap_or(i64::MAX))
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|_| at.to_string())
    };
    let mut found = Vec::new();
    for c in checkpoints {
        if c.seq == 0 {
            continue;
        }
        if c.seq > head.seq {
            found.push(CheckpointMismatch::Truncated {
                checkpoint: c.seq,
                chain: head.seq,
                at: shown(c.at),
            });
        } else if marks.get(&c.seq) != Some(&c.head) {
            found.push(CheckpointMismatch::Diverged {
                seq: c.seq,
                at: shown(c.at),
            });
        }
    }
    found
}

/// Everything `keyward audit verify` checks: the chain, every state row's
/// MAC, and the chain against signed checkpoints (if given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    pub chain: Result<AuditHead, AuditBreak>,
    pub rows: RowCheck,
    pub checkpoints: Vec<CheckpointMismatch>,
}

impl AuditReport {
    pub(crate) fn build(
        db: &Connection,
        keys: &Keys,
        checkpoints: &[Checkpoint],
    ) -> Result<AuditReport, StoreError> {
        let chain = verify_chain_marking(db, keys, &checkpoint_seqs(checkpoints))?;
        let mismatches = match &chain {
            Ok((head, marks)) => compare_checkpoints(head, marks, checkpoints),
            Err(_) => Vec::new(),
        };
        Ok(AuditReport {
            chain: chain.map(|(head, _)| head),
            rows: super::row_mac::check_all(db, keys.row_key())?,
            checkpoints: mismatches,
        })
    }

    /// Nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.chain.is_ok()
            && self.checkpoints.is_empty()
            && !matches!(&self.rows, RowCheck::Checked { bad, .. } if !bad.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(seq: u64, byte: u8) -> Checkpoint {
        Checkpoint {
            seq,
            head: [byte; 32],
            at: 1_796_072_400,
        }
    }

    #[test]
    fn checkpoints_find_a_cut_tail_and_a_rewritten_chain() {
        let head = AuditHead {
            seq: 150,
            mac: [1; 32],
        };
        let marks: Marks = [(100, [7; 32]), (150, [1; 32])].into_iter().collect();
        assert!(
            compare_checkpoints(&head, &marks, &[checkpoint(100, 7), checkpoint(150, 1)])
                .is_empty()
        );
        assert_eq!(
            compare_checkpoints(&head, &marks, &[checkpoint(100, 7), checkpoint(200, 3)]),
            vec![CheckpointMismatch::Truncated {
                checkpoint: 200,
                chain: 150,
                at: "2026-11-30 21:00:00 UTC".into()
            }]
        );
        assert_eq!(
            compare_checkpoints(&head, &marks, &[checkpoint(100, 8)]),
            vec![CheckpointMismatch::Diverged {
                seq: 100,
                at: "2026-11-30 21:00:00 UTC".into()
            }]
        );
        // An entry the chain has but was not marked is not taken on trust.
        assert_eq!(
            compare_checkpoints(&head, &marks, &[checkpoint(120, 7)]).len(),
            1
        );
        assert!(compare_checkpoints(&head, &marks, &[checkpoint(0, 0)]).is_empty());
    }
}
