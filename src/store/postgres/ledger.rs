//! The verify decision's durable state, behind a small seam.
//!
//! A node decides a batch of requests in one transaction of the ledger:
//!
//! 1. [`VerifyLedger::lock_credentials`]: the live credentials the batch
//!    names, read fresh and locked until the end of the transaction, in id
//!    order (so two nodes' batches never deadlock on each other). Another
//!    node's batch touching one of them waits for this one to commit, then
//!    sees its writes: decisions on one credential are serialised across
//!    every node.
//! 2. [`VerifyLedger::advance`]: an accepted code moves the moving factor
//!    by a conditional update, `… SET floor = $s WHERE id = $id AND floor <
//!    $s …`: whatever the interleaving, only one writer can move it past a
//!    step, and a write that does not win fails the whole batch (nobody of
//!    it is told "accept").
//! 3. [`VerifyLedger::count_failure`]: a failure is a compare-and-increment
//!    (`fails = fails + 1 WHERE fails = $seen`), the lock decided with it.
//! 4. [`VerifyLedger::append_audit`]: the batch's entries are chained after
//!    the head row, locked (`SELECT … FOR UPDATE`), so the sequence and the
//!    previous MAC are decided inside the transaction: two nodes can never
//!    fork the chain.
//! 5. [`VerifyLedger::commit`]; only then are the answers given.

use std::collections::HashMap;
use std::future::Future;

use tokio_postgres::Client;

use super::PgError;
use crate::crypto::Keys;
use crate::domain::verify_policy::{Counters, LOCK_AFTER};
use crate::domain::{PersonId, RightRecord, UnixTime};
use crate::otp::{Algorithm, CredentialParams, Digits, OtpKind, Period, Secret};
use crate::store::audit::{AuditEntry, AuditHead};

/// One live credential as the batch found (and locked) it.
#[derive(Clone, Debug)]
pub struct LedgerCredential {
    pub id: i64,
    pub token: String,
    pub holder: String,
    pub kind: OtpKind,
    pub algorithm: Algorithm,
    pub digits: Digits,
    pub floor: Option<u64>,
    pub drift: i64,
    pub counters: Counters,
    pub pin_verifier: Option<Vec<u8>>,
    /// The secret sealed under the master key, bound to (id, token), as on
    /// SQLite (`Keys::seal_secret`).
    pub sealed: Option<Vec<u8>>,
}

/// An audit entry to append (owned: built while deciding, written at the
/// end of the batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub at: UnixTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// A batch's transaction on the verify state. See the module's text for
/// what each step guarantees; an implementation must keep those
/// guarantees against writers it does not know about (other nodes).
pub trait VerifyLedger: Send {
    /// Opens the batch's transaction.
    fn begin(&mut self) -> impl Future<Output = Result<(), PgError>> + Send;

    /// The live credentials of `holders`, locked until commit or rollback.
    fn lock_credentials(
        &mut self,
        holders: &[String],
    ) -> impl Future<Output = Result<Vec<LedgerCredential>, PgError>> + Send;

    /// Moves credential `id`'s floor to `step`, resets its counters and
    /// records its drift, if and only if its floor is below `step` and it
    /// is live and not locked. `true` when this write won.
    fn advance(
        &mut self,
        id: i64,
        step: u64,
        drift: i64,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, PgError>> + Send;

    /// Consumes `step` on credential `id` without accepting it (possession
    /// proved, no right in force: the code is never accepted later, as on
    /// SQLite): its floor moves to `step`, its counters stay. `true` when
    /// this write won (the floor was below `step`).
    fn consume(&mut self, id: i64, step: u64)
        -> impl Future<Output = Result<bool, PgError>> + Send;

    /// Counts one failure on credential `id`, which was seen with
    /// `seen.fails` failures: the counters after it, or `None` if they had
    /// moved since (another writer).
    fn count_failure(
        &mut self,
        id: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> impl Future<Output = Result<Option<Counters>, PgError>> + Send;

    /// The rights of `people` (any login of the batch, known or not), read
    /// in the batch's transaction, by person.
    fn rights_of(
        &mut self,
        people: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Vec<RightRecord>>, PgError>> + Send;

    /// The failure counters of the phantom `slots` (logins without a live
    /// credential; `store::verify::phantom`), created fresh when missing and
    /// locked until commit or rollback, in slot order.
    fn lock_phantoms(
        &mut self,
        slots: &[i64],
    ) -> impl Future<Output = Result<Vec<(i64, Counters)>, PgError>> + Send;

    /// [`VerifyLedger::count_failure`] for a phantom slot.
    fn count_phantom_failure(
        &mut self,
        slot: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> impl Future<Output = Result<Option<Counters>, PgError>> + Send;

    /// Chains `entries` after the head, which is locked until commit.
    fn append_audit(
        &mut self,
        keys: &Keys,
        entries: &[NewEntry],
    ) -> impl Future<Output = Result<AuditHead, PgError>> + Send;

    fn commit(&mut self) -> impl Future<Output = Result<(), PgError>> + Send;

    /// Abandons the transaction (nothing of it is kept).
    fn rollback(&mut self) -> impl Future<Output = ()> + Send;
}

/// The ledger on one PostgreSQL connection (the node's writer owns it),
/// taken from the pool again when the server closed it (a restart, a
/// failover, a terminated backend): the batch that was running answers
/// unavailable, the next one runs on the new connection.
pub struct PgLedger {
    pool: deadpool_postgres::Pool,
    client: deadpool_postgres::Object,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgLedger")
    }
}

impl PgLedger {
    pub async fn new(pool: &deadpool_postgres::Pool) -> Result<Self, PgError> {
        Ok(PgLedger {
            pool: pool.clone(),
            client: pool.get().await?,
        })
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }
}

const LOCK_SQL: &str = "SELECT id, token, holder, kind, algorithm, digits, period, floor, drift,
        fails, locked, retry_at, pin_verifier, sealed
    FROM credentials WHERE holder = ANY($1) AND live ORDER BY id FOR UPDATE";

const ADVANCE_SQL: &str = "UPDATE credentials
    SET floor = $2, drift = $3, last_used_at = $4, fails = 0, locked = false, retry_at = 0
    WHERE id = $1 AND live AND NOT locked AND (floor IS NULL OR floor < $2)
    RETURNING id";

const CONSUME_SQL: &str = "UPDATE credentials SET floor = $2
    WHERE id = $1 AND live AND (floor IS NULL OR floor < $2)
    RETURNING id";

const FAILURE_SQL: &str = "UPDATE credentials
    SET fails = fails + 1, locked = locked OR fails + 1 >= $3, retry_at = $4
    WHERE id = $1 AND fails = $2 AND live
    RETURNING fails, locked, retry_at";

fn to_i64(value: u64, what: &'static str) -> Result<i64, PgError> {
    i64::try_from(value).map_err(|_| PgError::Corrupt(what))
}

fn to_u64(value: i64, what: &'static str) -> Result<u64, PgError> {
    u64::try_from(value).map_err(|_| PgError::Corrupt(what))
}

fn counters_from(fails: i32, locked: bool, retry_at: i64) -> Result<Counters, PgError> {
    Ok(Counters {
        fails: u32::try_from(fails).map_err(|_| PgError::Corrupt("fails"))?,
        locked,
        retry_at: to_u64(retry_at, "retry_at")?,
    })
}

fn credential_from(row: &tokio_postgres::Row) -> Result<LedgerCredential, PgError> {
    let kind: &str = row.try_get(3)?;
    let period: i32 = row.try_get(6)?;
    let kind = match kind {
        "hotp" => OtpKind::Hotp { counter: 0 },
        "totp" => OtpKind::Totp {
            period: u32::try_from(period)
                .ok()
                .and_then(|p| Period::new(p).ok())
                .ok_or(PgError::Corrupt("period"))?,
        },
        _ => return Err(PgError::Corrupt("credential kind")),
    };
    let algorithm: &str = row.try_get(4)?;
    let digits: i32 = row.try_get(5)?;
    let floor: Option<i64> = row.try_get(7)?;
    Ok(LedgerCredential {
        id: row.try_get(0)?,
        token: row.try_get(1)?,
        holder: row.try_get(2)?,
        kind,
        algorithm: algorithm
            .parse()
            .map_err(|_| PgError::Corrupt("algorithm"))?,
        digits: u8::try_from(digits)
            .ok()
            .and_then(|d| Digits::new(d).ok())
            .ok_or(PgError::Corrupt("digits"))?,
        floor: floor.map(|f| to_u64(f, "floor")).transpose()?,
        drift: row.try_get(8)?,
        counters: counters_from(row.try_get(9)?, row.try_get(10)?, row.try_get(11)?)?,
        pin_verifier: row.try_get(12)?,
        sealed: row.try_get(13)?,
    })
}

impl VerifyLedger for PgLedger {
    async fn begin(&mut self) -> Result<(), PgError> {
        if self.client.is_closed() {
            self.client = self.pool.get().await?;
        }
        self.client().batch_execute("BEGIN").await?;
        Ok(())
    }

    async fn lock_credentials(
        &mut self,
        holders: &[String],
    ) -> Result<Vec<LedgerCredential>, PgError> {
        let stmt = self.client.prepare_cached(LOCK_SQL).await?;
        let rows = self.client().query(&stmt, &[&holders]).await?;
        rows.iter().map(credential_from).collect()
    }

    async fn rights_of(
        &mut self,
        people: &[String],
    ) -> Result<HashMap<String, Vec<RightRecord>>, PgError> {
        super::rights::of_people(&self.client, people).await
    }

    async fn advance(
        &mut self,
        id: i64,
        step: u64,
        drift: i64,
        now: UnixTime,
    ) -> Result<bool, PgError> {
        let stmt = self.client.prepare_cached(ADVANCE_SQL).await?;
        let step = to_i64(step, "step")?;
        let now = to_i64(now, "time")?;
        let won = self
            .client()
            .query_opt(&stmt, &[&id, &step, &drift, &now])
            .await?;
        Ok(won.is_some())
    }

    async fn consume(&mut self, id: i64, step: u64) -> Result<bool, PgError> {
        let stmt = self.client.prepare_cached(CONSUME_SQL).await?;
        let step = to_i64(step, "step")?;
        let won = self.client().query_opt(&stmt, &[&id, &step]).await?;
        Ok(won.is_some())
    }

    async fn count_failure(
        &mut self,
        id: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError> {
        let stmt = self.client.prepare_cached(FAILURE_SQL).await?;
        let fails = i32::try_from(seen.fails).map_err(|_| PgError::Corrupt("fails"))?;
        let lock_after = i32::try_from(LOCK_AFTER).map_err(|_| PgError::Corrupt("fails"))?;
        let retry_at = to_i64(retry_at, "retry_at")?;
        let row = self
            .client()
            .query_opt(&stmt, &[&id, &fails, &lock_after, &retry_at])
            .await?;
        row.map(|r| counters_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            .transpose()
    }

    async fn lock_phantoms(&mut self, slots: &[i64]) -> Result<Vec<(i64, Counters)>, PgError> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let mut sorted = slots.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let create = self
            .client
            .prepare_cached(
                "INSERT INTO phantom_counters (slot) SELECT unnest($1::bigint[])
                 ON CONFLICT (slot) DO NOTHING",
            )
            .await?;
        self.client().execute(&create, &[&sorted]).await?;
        let lock = self
            .client
            .prepare_cached(
                "SELECT slot, fails, locked, retry_at FROM phantom_counters
                 WHERE slot = ANY($1) ORDER BY slot FOR UPDATE",
            )
            .await?;
        let rows = self.client().query(&lock, &[&sorted]).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    counters_from(r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)?,
                ))
            })
            .collect()
    }

    async fn count_phantom_failure(
        &mut self,
        slot: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError> {
        let stmt = self
            .client
            .prepare_cached(
                "UPDATE phantom_counters
                 SET fails = fails + 1, locked = locked OR fails + 1 >= $3, retry_at = $4
                 WHERE slot = $1 AND fails = $2
                 RETURNING fails, locked, retry_at",
            )
            .await?;
        let fails = i32::try_from(seen.fails).map_err(|_| PgError::Corrupt("fails"))?;
        let lock_after = i32::try_from(LOCK_AFTER).map_err(|_| PgError::Corrupt("fails"))?;
        let retry_at = to_i64(retry_at, "retry_at")?;
        let row = self
            .client()
            .query_opt(&stmt, &[&slot, &fails, &lock_after, &retry_at])
            .await?;
        row.map(|r| counters_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            .transpose()
    }

    async fn append_audit(
        &mut self,
        keys: &Keys,
        entries: &[NewEntry],
    ) -> Result<AuditHead, PgError> {
        append_entries(&self.client, keys, entries).await
    }

    async fn commit(&mut self) -> Result<(), PgError> {
        self.client().batch_execute("COMMIT").await?;
        Ok(())
    }

    async fn rollback(&mut self) {
        // A broken connection has no transaction left to abandon.
        let _ = self.client().batch_execute("ROLLBACK").await;
    }
}

/// A credential to hold in PostgreSQL: what an enrolment (or a copy from
/// SQLite) writes. The secret is sealed here, bound to the id and the
/// token as on SQLite.
#[derive(Debug)]
pub struct NewCredential<'a> {
    pub token: &'a str,
    pub holder: &'a PersonId,
    pub params: CredentialParams,
    pub secret: &'a Secret,
    pub pin: &'a [u8],
}

impl PgLedger {
    /// Records a live credential for its holder (one live credential per
    /// holder), with its audit entry; its id.
    pub async fn enrol(
        &mut self,
        keys: &Keys,
        new: NewCredential<'_>,
        at: UnixTime,
        actor: &str,
    ) -> Result<i64, PgError> {
        self.begin().await?;
        let result = self.enrol_in_txn(keys, new, at, actor).await;
        self.finish(result).await
    }

    async fn enrol_in_txn(
        &mut self,
        keys: &Keys,
        new: NewCredential<'_>,
        at: UnixTime,
        actor: &str,
    ) -> Result<i64, PgError> {
        let (kind, period) = match new.params.kind {
            OtpKind::Hotp { .. } => ("hotp", 0),
            OtpKind::Totp { period } => ("totp", i32::try_from(period.seconds()).unwrap_or(0)),
        };
        let algorithm = new.params.algorithm.to_string();
        let digits = i32::from(new.params.digits.get());
        let verifier = keys.pin_verifier(new.holder.as_str(), new.pin);
        let row = self
            .client()
            .query_one(
                "INSERT INTO credentials (token, holder, kind, algorithm, digits, period,
                     pin_verifier)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING id",
                &[
                    &new.token,
                    &new.holder.as_str(),
                    &kind,
                    &algorithm,
                    &digits,
                    &period,
                    &&verifier[..],
                ],
            )
            .await?;
        let id: i64 = row.try_get(0)?;
        let sealed = keys.seal_secret(id, new.token, new.secret)?;
        self.client()
            .execute(
                "UPDATE credentials SET sealed = $2 WHERE id = $1",
                &[&id, &sealed],
            )
            .await?;
        let entry = NewEntry {
            at,
            actor: actor.to_owned(),
            action: "credential.enrol".to_owned(),
            subject: new.holder.as_str().to_owned(),
            detail: format!("credential={id} token={}", new.token),
        };
        self.append_audit(keys, &[entry]).await?;
        Ok(id)
    }

    /// Revokes the holder's live credential, with its audit entry, bypassing
    /// the token's lifecycle (a library call for credentials enrolled
    /// without a token; the API's revoke is `lifecycle::revoke_token`). It waits
    /// for any node's batch holding the credential to commit; once this
    /// returns, no node accepts the credential again (every batch reads it
    /// fresh under its lock). Whether there was one.
    pub async fn revoke(
        &mut self,
        keys: &Keys,
        holder: &PersonId,
        at: UnixTime,
        actor: &str,
    ) -> Result<bool, PgError> {
        self.begin().await?;
        let result = async {
            let revoked = self
                .client()
                .query_opt(
                    "UPDATE credentials SET live = false, sealed = NULL, pin_verifier = NULL
                     WHERE holder = $1 AND live RETURNING id",
                    &[&holder.as_str()],
                )
                .await?;
            let Some(row) = revoked else {
                return Ok(false);
            };
            let id: i64 = row.try_get(0)?;
            let entry = NewEntry {
                at,
                actor: actor.to_owned(),
                action: "credential.revoke".to_owned(),
                subject: holder.as_str().to_owned(),
                detail: format!("credential={id}"),
            };
            self.append_audit(keys, &[entry]).await?;
            super::lifecycle::notify_revoked(&self.client, id).await?;
            Ok(true)
        }
        .await;
        self.finish(result).await
    }

    /// Commits after `result`'s work, or rolls back after its error.
    pub(super) async fn finish<T>(&mut self, result: Result<T, PgError>) -> Result<T, PgError> {
        match result {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(err) => {
                self.rollback().await;
                Err(err)
            }
        }
    }
}

/// Chains `entries` after the audit head, locked until the end of the
/// transaction `client` is in: every writer (a node's batch, a lifecycle
/// operation, a copy) appends through here.
pub(super) async fn append_entries(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    entries: &[NewEntry],
) -> Result<AuditHead, PgError> {
    let head = client
        .query_one(
            "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await?;
    let mut head = AuditHead {
        seq: to_u64(head.try_get(0)?, "audit sequence")?,
        mac: head
            .try_get::<_, Vec<u8>>(1)?
            .try_into()
            .map_err(|_| PgError::Corrupt("audit mac"))?,
    };
    if entries.is_empty() {
        return Ok(head);
    }
    let mut seqs = Vec::with_capacity(entries.len());
    let mut ats = Vec::with_capacity(entries.len());
    let mut macs = Vec::with_capacity(entries.len());
    for entry in entries {
        let seq = head.seq + 1;
        let borrowed = AuditEntry {
            at: entry.at,
            actor: &entry.actor,
            action: &entry.action,
            subject: &entry.subject,
            detail: &entry.detail,
        };
        let mac = keys.audit_mac(&borrowed.encode(seq, &head.mac));
        seqs.push(to_i64(seq, "audit sequence")?);
        ats.push(to_i64(entry.at, "time")?);
        macs.push(mac.to_vec());
        head = AuditHead { seq, mac };
    }
    let column = |f: fn(&NewEntry) -> &str| entries.iter().map(f).collect::<Vec<&str>>();
    let (actors, actions) = (column(|e| &e.actor), column(|e| &e.action));
    let (subjects, details) = (column(|e| &e.subject), column(|e| &e.detail));
    let insert = client
        .prepare_cached(
            "INSERT INTO audit (seq, at, actor, action, subject, detail, mac)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                                  $5::text[], $6::text[], $7::bytea[])",
        )
        .await?;
    client
        .execute(
            &insert,
            &[&seqs, &ats, &actors, &actions, &subjects, &details, &macs],
        )
        .await?;
    let seq = to_i64(head.seq, "audit sequence")?;
    client
        .execute(
            "UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1",
            &[&seq, &&head.mac[..]],
        )
        .await?;
    Ok(head)
}
