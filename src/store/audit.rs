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
//!
//! The bytes under the MAC have had two layouts ([`MacEncoding`]): entries
//! are written in the second, whose detail is padded so that a refusal's
//! entry hashes as many blocks whatever its reason. A chain begun by an
//! earlier keyward holds first-layout entries up to its first
//! second-layout one, and never one after it ([`ChainMacs`]).

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

/// How an entry's number, previous MAC and fields are laid out under its
/// MAC. Each starts with its own label, so no entry's bytes in one layout
/// are an entry's bytes in the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MacEncoding {
    /// `keyward audit v1\0`, the number and the time big-endian, the
    /// previous MAC, then each field as its length (u64, big-endian) and
    /// its bytes.
    V1,
    /// `keyward audit v2\0` and the same, but the detail's bytes are
    /// followed by zeros up to a multiple of [`DETAIL_BLOCK`] bytes (one
    /// block at least; its length still says where it ends). A refusal's
    /// detail differs by its reason (up to 8 bytes, and the failures'
    /// digits): unpadded, a login of some lengths made one reason's entry
    /// hash one SHA-256 block more than another's, which the time to
    /// answer showed (issue 11 point 3). Every verify refusal's detail
    /// fits one block, so its entry costs the same whatever the reason.
    V2,
}

/// The detail's bytes under a [`MacEncoding::V2`] MAC: a multiple of this.
pub const DETAIL_BLOCK: usize = 128;

impl MacEncoding {
    /// What keyward writes.
    pub const CURRENT: MacEncoding = MacEncoding::V2;

    fn label(self) -> &'static [u8] {
        match self {
            MacEncoding::V1 => b"keyward audit v1\0",
            MacEncoding::V2 => b"keyward audit v2\0",
        }
    }

    /// How many bytes the detail takes under the MAC.
    fn detail_bytes(self, len: usize) -> usize {
        match self {
            MacEncoding::V1 => len,
            MacEncoding::V2 => len.div_ceil(DETAIL_BLOCK).max(1) * DETAIL_BLOCK,
        }
    }
}

impl AuditEntry<'_> {
    /// The bytes the entry's MAC covers, as keyward writes them
    /// ([`MacEncoding::CURRENT`]; the same on every backend).
    pub(crate) fn encode(&self, seq: u64, previous: &[u8; 32]) -> Vec<u8> {
        self.encode_as(MacEncoding::CURRENT, seq, previous)
    }

    /// The bytes the entry's MAC covers in `encoding`: its number, the
    /// previous MAC and its fields.
    pub fn encode_as(&self, encoding: MacEncoding, seq: u64, previous: &[u8; 32]) -> Vec<u8> {
        let label = encoding.label();
        let fields = [self.actor, self.action, self.subject];
        let detail = encoding.detail_bytes(self.detail.len());
        let len = label.len()
            + 8
            + 32
            + 8
            + fields.iter().map(|f| 8 + f.len()).sum::<usize>()
            + 8
            + detail;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(label);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(previous);
        out.extend_from_slice(&self.at.to_be_bytes());
        for field in fields {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&(self.detail.len() as u64).to_be_bytes());
        out.extend_from_slice(self.detail.as_bytes());
        out.resize(len, 0);
        out
    }
}

/// Checks the entries' MACs in chain order: entries in [`MacEncoding::V1`]
/// up to the first in [`MacEncoding::V2`], only V2 ones from then on (the
/// chain steps once, never back). One MAC computed per entry, two for the
/// first V2 one; the same on every backend.
#[derive(Debug)]
pub(crate) struct ChainMacs {
    reached: MacEncoding,
}

impl Default for ChainMacs {
    fn default() -> Self {
        ChainMacs {
            reached: MacEncoding::V1,
        }
    }
}

impl ChainMacs {
    /// Whether entry `seq`, after the entry whose MAC is `previous`,
    /// matches `mac` in the encoding the chain has reached (or the next).
    pub(crate) fn check(
        &mut self,
        keys: &Keys,
        entry: &AuditEntry<'_>,
        seq: u64,
        previous: &[u8; 32],
        mac: &[u8],
    ) -> Result<(), AuditBreak> {
        let matches =
            |encoding| keys.audit_mac_matches(&entry.encode_as(encoding, seq, previous), mac);
        match self.reached {
            MacEncoding::V1 if matches(MacEncoding::V1) => Ok(()),
            MacEncoding::V1 if matches(MacEncoding::V2) => {
                self.reached = MacEncoding::V2;
                Ok(())
            }
            MacEncoding::V2 if matches(MacEncoding::V2) => Ok(()),
            MacEncoding::V2 if matches(MacEncoding::V1) => Err(AuditBreak::OlderEncoding { seq }),
            _ => Err(AuditBreak::BadMac { seq }),
        }
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
    /// A V1 entry after V2 ones ([`MacEncoding`]): an older keyward wrote to
    /// the chain after a newer one (a node left on an older version, or a
    /// downgrade), or an old entry was put back.
    #[error("audit entry {seq}: in the older MAC layout, after entries in the newer one (written by an older keyward after an upgrade)")]
    OlderEncoding { seq: u64 },
}

impl AuditBreak {
    /// The first entry that does not verify.
    pub fn first_bad(&self) -> u64 {
        match self {
            AuditBreak::BadMac { seq }
            | AuditBreak::Unreadable { seq }
            | AuditBreak::OlderEncoding { seq } => *seq,
            AuditBreak::Gap { expected, .. } => *expected,
        }
    }
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
    let mut macs = ChainMacs::default();
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
        if let Err(broken) = macs.check(keys, &entry, seq, &head.mac, &mac) {
            return Ok(Err(broken));
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

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn chain_table() -> Result<(Connection, Keys), Box<dyn std::error::Error>> {
        let db = Connection::open_in_memory()?;
        db.execute_batch(
            "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,
             actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
             detail TEXT NOT NULL, mac BLOB NOT NULL) STRICT",
        )?;
        Ok((db, crate::crypto::MasterKey::generate()?.keys()?))
    }

    fn entry(detail: &str) -> AuditEntry<'_> {
        AuditEntry {
            at: 1_796_072_400,
            actor: "gateway",
            action: "verify.reject",
            subject: "adurand",
            detail,
        }
    }

    /// Appends `detail` as an earlier keyward did (V1).
    fn append_v1(db: &Connection, keys: &Keys, head: &mut AuditHead, detail: &str) -> TestResult {
        let seq = head.seq + 1;
        let e = entry(detail);
        let mac = keys.audit_mac(&e.encode_as(MacEncoding::V1, seq, &head.mac));
        db.execute(
            "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                seq as i64,
                e.at as i64,
                e.actor,
                e.action,
                e.subject,
                e.detail,
                &mac[..]
            ],
        )?;
        *head = AuditHead { seq, mac };
        Ok(())
    }

    #[test]
    fn v2_hashes_as_many_bytes_whatever_the_refusal_reason() {
        let length = |encoding, detail: &str| entry(detail).encode_as(encoding, 1, &[0; 32]).len();
        let one_block = length(MacEncoding::V2, "");
        for len in 0..=DETAIL_BLOCK {
            assert_eq!(
                length(MacEncoding::V2, &"x".repeat(len)),
                one_block,
                "{len}"
            );
        }
        assert_eq!(
            length(MacEncoding::V2, &"x".repeat(DETAIL_BLOCK + 1)),
            one_block + DETAIL_BLOCK
        );
        // V1 as it was: the detail's own length.
        assert_eq!(
            length(MacEncoding::V1, "reason=credential locked"),
            length(MacEncoding::V1, "reason=wrong PIN") + 8
        );
        // Where the padding starts is in the bytes: a NUL added to the
        // detail is another entry.
        let a = entry("reason=wrong PIN").encode_as(MacEncoding::V2, 1, &[0; 32]);
        let b = entry("reason=wrong PIN\0").encode_as(MacEncoding::V2, 1, &[0; 32]);
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
        // The two layouts never agree.
        assert_ne!(
            entry("").encode_as(MacEncoding::V1, 1, &[0; 32])[..17],
            entry("").encode_as(MacEncoding::V2, 1, &[0; 32])[..17]
        );
    }

    #[test]
    fn a_chain_steps_from_v1_to_v2_once_and_never_back() -> TestResult {
        let (db, keys) = chain_table()?;
        let mut head = AuditHead::load(&db)?;
        for detail in [
            "reason=wrong code failures=1",
            "reason=wrong PIN failures=2",
        ] {
            append_v1(&db, &keys, &mut head, detail)?;
        }
        // The old store verifies as it is.
        assert_eq!(verify_chain(&db, &keys)?, Ok(head));
        // This keyward appends in V2 after it.
        for detail in ["reason=unknown login failures=1", "credential=7 step=4"] {
            head.append(&db, &keys, &entry(detail))?;
        }
        assert_eq!(verify_chain(&db, &keys)?, Ok(head));
        // An older keyward writing after it breaks the chain there.
        append_v1(&db, &keys, &mut head, "reason=wrong code failures=1")?;
        assert_eq!(
            verify_chain(&db, &keys)?,
            Err(AuditBreak::OlderEncoding { seq: 5 })
        );
        Ok(())
    }

    #[test]
    fn an_edited_entry_fails_in_either_layout() -> TestResult {
        let (db, keys) = chain_table()?;
        let mut head = AuditHead::load(&db)?;
        append_v1(&db, &keys, &mut head, "reason=wrong code failures=1")?;
        head.append(&db, &keys, &entry("reason=wrong PIN failures=2"))?;
        head.append(&db, &keys, &entry("reason=credential locked failures=10"))?;
        assert!(verify_chain(&db, &keys)?.is_ok());
        let edits = [
            (
                1,
                "UPDATE audit SET detail = 'reason=wrong PIN failures=1' WHERE seq = 1",
            ),
            (
                2,
                "UPDATE audit SET detail = 'reason=wrong PIN failures=1' WHERE seq = 2",
            ),
            // What the padding would add, added to the detail.
            (
                2,
                "UPDATE audit SET detail = detail || char(0) WHERE seq = 2",
            ),
            (3, "UPDATE audit SET subject = 'bleroy' WHERE seq = 3"),
        ];
        for (seq, edit) in edits {
            let saved: String = db.query_row(
                "SELECT detail || '|' || subject FROM audit WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )?;
            db.execute(edit, [])?;
            assert_eq!(
                verify_chain(&db, &keys)?,
                Err(AuditBreak::BadMac { seq }),
                "{edit}"
            );
            let (detail, subject) = saved.rsplit_once('|').ok_or("saved")?;
            db.execute(
                "UPDATE audit SET detail = ?1, subject = ?2 WHERE seq = ?3",
                params![detail, subject, seq as i64],
            )?;
            assert!(verify_chain(&db, &keys)?.is_ok());
        }
        Ok(())
    }

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
