//! `audit verify` of a store held in PostgreSQL: the chain, with the same
//! links and the same MACs as on SQLite ([`crate::store::audit`]), plus the
//! head row, which must name the last entry (entries dropped at the end
//! show there); and every sealed row's MAC ([`super::row_check`]). Both
//! are read in one read-only snapshot, page by page, whatever other nodes
//! append meanwhile.

use tokio_postgres::{Client, Transaction};

use super::row_check::{check_all_in, PgRowCheck};
use super::schema::{CURRENT_VERSION, ROW_MAC_VERSION};
use super::PgError;
use crate::crypto::Keys;
use crate::store::audit::{AuditBreak, AuditEntry, AuditHead, ChainMacs};

/// Audit entries fetched from the server at a time.
const PAGE_ENTRIES: i32 = 1000;

/// Everything `keyward audit verify` checks of a PostgreSQL store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgAuditReport {
    pub chain: Result<AuditHead, AuditBreak>,
    pub rows: PgRowCheck,
}

impl PgAuditReport {
    /// Nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.chain.is_ok() && !matches!(&self.rows, PgRowCheck::Checked(t) if t.bad() > 0)
    }
}

/// A read-only snapshot: the chain and the rows as of one instant.
pub(super) async fn snapshot(client: &mut Client) -> Result<Transaction<'_>, PgError> {
    Ok(client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// Checks the chain and every sealed row, without changing anything (no
/// migration is applied: a database behind this keyward's schema is
/// refused, unless it predates the row MACs, whose rows are then reported
/// not sealed yet).
pub async fn verify_audit(client: &mut Client, keys: &Keys) -> Result<PgAuditReport, PgError> {
    let tx = snapshot(client).await?;
    let version = schema_version(&tx).await?;
    if version > CURRENT_VERSION {
        return Err(PgError::SchemaTooNew {
            found: version,
            supported: CURRENT_VERSION,
        });
    }
    let sealed = version >= ROW_MAC_VERSION;
    if version == 0 || (sealed && version < CURRENT_VERSION) {
        return Err(PgError::SchemaBehind {
            found: version,
            current: CURRENT_VERSION,
        });
    }
    let chain = chain_in(&tx, keys).await?;
    let rows = if sealed {
        PgRowCheck::Checked(check_all_in(&tx, keys.row_key()).await?)
    } else {
        PgRowCheck::NotSealedYet
    };
    tx.commit().await?;
    Ok(PgAuditReport { chain, rows })
}

/// The schema version of the database (0: no keyward schema).
async fn schema_version(tx: &Transaction<'_>) -> Result<i64, PgError> {
    let exists: bool = tx
        .query_one("SELECT to_regclass('keyward_schema') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let version = tx
        .query_opt("SELECT version FROM keyward_schema", &[])
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    Ok(version.unwrap_or(0))
}

/// Checks the whole chain in sequence order; its head when intact.
pub async fn verify_chain(
    client: &mut Client,
    keys: &Keys,
) -> Result<Result<AuditHead, AuditBreak>, PgError> {
    let tx = snapshot(client).await?;
    let chain = chain_in(&tx, keys).await?;
    tx.commit().await?;
    Ok(chain)
}

/// The chain as `tx` sees it, [`PAGE_ENTRIES`] entries at a time.
async fn chain_in(
    tx: &Transaction<'_>,
    keys: &Keys,
) -> Result<Result<AuditHead, AuditBreak>, PgError> {
    let recorded = tx
        .query_one("SELECT seq, mac FROM audit_head WHERE id = 1", &[])
        .await?;
    let stmt = tx
        .prepare("SELECT seq, at, actor, action, subject, detail, mac FROM audit ORDER BY seq")
        .await?;
    let portal = tx.bind(&stmt, &[]).await?;
    let mut head = AuditHead {
        seq: 0,
        mac: [0; 32],
    };
    let mut macs = ChainMacs::default();
    loop {
        let page = tx.query_portal(&portal, PAGE_ENTRIES).await?;
        for row in &page {
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
        if page.len() < usize::try_from(PAGE_ENTRIES).unwrap_or(usize::MAX) {
            break;
        }
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
