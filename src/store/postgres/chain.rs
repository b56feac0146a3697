//! `audit verify` of the chain held in PostgreSQL: the same links and the
//! same MACs as on SQLite ([`crate::store::audit`]), plus the head row,
//! which must name the last entry (entries dropped at the end show there).

use tokio_postgres::Client;

use super::PgError;
use crate::crypto::Keys;
use crate::store::audit::{AuditBreak, AuditEntry, AuditHead, ChainMacs};

/// Checks the whole chain in sequence order; its head when intact.
pub async fn verify_chain(
    client: &mut Client,
    keys: &Keys,
) -> Result<Result<AuditHead, AuditBreak>, PgError> {
    // One snapshot for the entries and the head row, whatever other nodes
    // append meanwhile.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let tx_rows = tx
        .query(
            "SELECT seq, at, actor, action, subject, detail, mac FROM audit ORDER BY seq",
            &[],
        )
        .await?;
    let recorded = tx
        .query_one("SELECT seq, mac FROM audit_head WHERE id = 1", &[])
        .await?;
    let mut head = AuditHead {
        seq: 0,
        mac: [0; 32],
    };
    tx.commit().await?;
    let mut macs = ChainMacs::default();
    for row in &tx_rows {
        let expected = head.seq + 1;
        let seq = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
        if seq != expected {
            return Ok(Err(AuditBreak::Gap {
                expected,
                found: seq,
            }));
        }
        let fields = (|| -> Result<_, tokio_postgres::Error> {
            Ok((
                row.try_get::<_, i64>(1)?,
                row.try_get::<_, &str>(2)?,
                row.try_get::<_, &str>(3)?,
                row.try_get::<_, &str>(4)?,
                row.try_get::<_, &str>(5)?,
                row.try_get::<_, &[u8]>(6)?,
            ))
        })();
        let Ok((at, actor, action, subject, detail, mac)) = fields else {
            return Ok(Err(AuditBreak::Unreadable { seq }));
        };
        let entry = AuditEntry {
            at: u64::try_from(at).unwrap_or(u64::MAX),
            actor,
            action,
            subject,
            detail,
        };
        if let Err(broken) = macs.check(keys, &entry, seq, &head.mac, mac) {
            return Ok(Err(broken));
        }
        head = AuditHead {
            seq,
            mac: mac.try_into().unwrap_or([0; 32]),
        };
    }
    let recorded_seq = u64::try_from(recorded.try_get::<_, i64>(0)?).unwrap_or(0);
    let recorded_mac: &[u8] = recorded.try_get(1)?;
    if recorded_seq != head.seq {
        // The head names an entry that is not there: dropped at the end.
        return Ok(Err(AuditBreak::Gap {
            expected: head.seq + 1,
            found: recorded_seq,
        }));
    }
    if recorded_mac != head.mac {
        return Ok(Err(AuditBreak::BadMac { seq: head.seq }));
    }
    Ok(Ok(head))
}
