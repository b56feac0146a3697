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
//!
//! Every row read in steps 1-3 is checked against its row MAC
//! (`postgres::row_mac`) before it decides, and every write sets the MAC
//! of the row it leaves, computed here from the values written, and
//! applies only over the row that MAC was computed from (`row_mac =
//! $old`): the guarantees hold without a round trip more.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use rusqlite::types::Value;
use tokio_postgres::Client;

use super::row_mac::{blob, boolean, read_checked, SealedRow, CREDENTIALS, PHANTOM_COUNTERS};
use super::PgError;
use crate::crypto::{Keys, RowKey};
use crate::domain::verify_policy::{Counters, LOCK_AFTER};
use crate::domain::{PersonId, RightRecord, UnixTime};
use crate::otp::{Algorithm, CredentialParams, Digits, OtpKind, Period, Secret};
use crate::store::audit::{AuditEntry, AuditHead};
use crate::store::verify::phantom::FRESH;
use crate::store::verify::phantom::TAMPERED;

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

/// The live credentials a batch locked: those that match their row MAC,
/// and the holders of those that do not (changed outside keyward: they
/// decide nothing and are never written).
#[derive(Clone, Debug, Default)]
pub struct LockedCredentials {
    pub intact: Vec<LedgerCredential>,
    pub tampered: Vec<String>,
}

/// The rights of a batch's people, by person, and the people one of whose
/// rights does not match its row MAC (none of their rights is returned).
#[derive(Clone, Debug, Default)]
pub struct PeopleRights {
    pub rights: HashMap<String, Vec<RightRecord>>,
    pub tampered: HashSet<String>,
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

    /// The live credentials of `holders`, locked until commit or rollback,
    /// each checked against its row MAC.
    fn lock_credentials(
        &mut self,
        holders: &[String],
    ) -> impl Future<Output = Result<LockedCredentials, PgError>> + Send;

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
    /// in the batch's transaction, by person, each checked against its row
    /// MAC.
    fn rights_of(
        &mut self,
        people: &[String],
    ) -> impl Future<Output = Result<PeopleRights, PgError>> + Send;

    /// The failure counters of the phantom `slots` (logins without a live
    /// credential; `store::verify::phantom`), created fresh when missing and
    /// locked until commit or rollback, in slot order. A row that does not
    /// match its row MAC counts as locked, as on SQLite.
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

    /// Round trips to the database waited for so far (statements, or
    /// several pipelined together), for the node's stats.
    fn round_trips(&self) -> u64;
}

/// The ledger on one PostgreSQL connection (the node's writer owns it),
/// taken from the pool again when the server closed it (a restart, a
/// failover, a terminated backend): the batch that was running answers
/// unavailable, the next one runs on the new connection.
pub struct PgLedger {
    pool: deadpool_postgres::Pool,
    client: deadpool_postgres::Object,
    row_key: RowKey,
    /// The credential rows the transaction locked intact, by id, as they
    /// are now: each write computes the row it leaves, and its MAC, from
    /// these, and applies only over the row it was computed from.
    rows: HashMap<i64, SealedRow>,
    /// Round trips waited for ([`VerifyLedger::round_trips`]).
    round_trips: u64,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgLedger")
    }
}

impl PgLedger {
    /// The ledger of a holder of `keys` (its row MACs are computed and
    /// checked with their row key).
    pub async fn new(pool: &deadpool_postgres::Pool, keys: &Keys) -> Result<Self, PgError> {
        Ok(PgLedger {
            pool: pool.clone(),
            client: pool.get().await?,
            row_key: keys.row_key().clone(),
            rows: HashMap::new(),
            round_trips: 0,
        })
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }
}

/// Every column of the credentials (`row_mac::CREDENTIALS`, in order),
/// then the row MAC.
const LOCK_SQL: &str = "SELECT id, token, holder, kind, algorithm, digits, period, floor, drift,
        fails, locked, retry_at, pin_verifier, sealed, live, last_used_at, row_mac
    FROM credentials WHERE holder = ANY($1) AND live ORDER BY id FOR UPDATE";

// Each write sets the row MAC computed client-side for the row it leaves
// and applies only over the row that MAC was computed from (`row_mac =
// $old`): no round trip more than before.
const ADVANCE_SQL: &str = "UPDATE credentials
    SET floor = $2, drift = $3, last_used_at = $4, fails = 0, locked = false, retry_at = 0,
        row_mac = $5
    WHERE id = $1 AND live AND NOT locked AND (floor IS NULL OR floor < $2) AND row_mac = $6
    RETURNING id";

const CONSUME_SQL: &str = "UPDATE credentials SET floor = $2, row_mac = $3
    WHERE id = $1 AND live AND (floor IS NULL OR floor < $2) AND row_mac = $4
    RETURNING id";

const FAILURE_SQL: &str = "UPDATE credentials
    SET fails = $3, locked = $4, retry_at = $5, row_mac = $6
    WHERE id = $1 AND fails = $2 AND live AND row_mac = $7
    RETURNING fails, locked, retry_at";

const PHANTOM_FAILURE_SQL: &str = "UPDATE phantom_counters
    SET fails = $3, locked = $4, retry_at = $5, row_mac = $6
    WHERE slot = $1 AND fails = $2 AND row_mac = $7
    RETURNING fails, locked, retry_at";

/// One more failure than `seen`: the counters after it, and the values
/// its compare-and-increment binds.
struct Failure {
    seen_fails: i32,
    fails: i32,
    retry_at: i64,
    after: Counters,
}

impl Failure {
    fn after(seen: Counters, retry_at: UnixTime) -> Result<Failure, PgError> {
        let fails = seen.fails.saturating_add(1);
        let after = Counters {
            fails,
            locked: seen.locked || fails >= LOCK_AFTER,
            retry_at,
        };
        let int = |n: u32| i32::try_from(n).map_err(|_| PgError::Corrupt("fails"));
        Ok(Failure {
            seen_fails: int(seen.fails)?,
            fails: int(fails)?,
            retry_at: to_i64(retry_at, "retry_at")?,
            after,
        })
    }
}

fn phantom_row(slot: i64, c: Counters) -> Result<SealedRow, PgError> {
    SealedRow::new(
        PHANTOM_COUNTERS,
        vec![
            Value::Integer(slot),
            Value::Integer(i64::from(c.fails)),
            boolean(c.locked),
            Value::Integer(to_i64(c.retry_at, "retry_at")?),
        ],
    )
}

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

impl PgLedger {
    /// Runs `sql` ([`FAILURE_SQL`] or [`PHANTOM_FAILURE_SQL`], the same
    /// parameters) on the row `key`, with the new row's MAC and the MAC of
    /// the row it replaces: the counters written, or `None` if the row had
    /// moved.
    async fn write_failure(
        &self,
        sql: &str,
        key: i64,
        failure: &Failure,
        (mac, old_mac): (Vec<u8>, Vec<u8>),
    ) -> Result<Option<Counters>, PgError> {
        let stmt = self.client.prepare_cached(sql).await?;
        let row = self
            .client()
            .query_opt(
                &stmt,
                &[
                    &key,
                    &failure.seen_fails,
                    &failure.fails,
                    &failure.after.locked,
                    &failure.retry_at,
                    &mac,
                    &old_mac,
                ],
            )
            .await?;
        row.map(|r| counters_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            .transpose()
    }

    /// The locked row of credential `id` with `change` applied: the row to
    /// write, its MAC, and the MAC of the row it replaces.
    fn changed(
        &self,
        id: i64,
        change: impl FnOnce(&mut SealedRow) -> Result<(), PgError>,
    ) -> Result<(SealedRow, Vec<u8>, Vec<u8>), PgError> {
        let old = self
            .rows
            .get(&id)
            .ok_or(PgError::Corrupt("credential not locked"))?;
        let old_mac = old.mac.clone().ok_or(PgError::Corrupt("row MAC"))?;
        let mut new = old.clone();
        change(&mut new)?;
        let mac = new.mac_of(&self.row_key);
        new.mac = Some(mac.clone());
        Ok((new, mac, old_mac))
    }
}

impl VerifyLedger for PgLedger {
    async fn begin(&mut self) -> Result<(), PgError> {
        if self.client.is_closed() {
            self.client = self.pool.get().await?;
        }
        self.rows.clear();
        self.round_trips += 1;
        self.client().batch_execute("BEGIN").await?;
        Ok(())
    }

    async fn lock_credentials(&mut self, holders: &[String]) -> Result<LockedCredentials, PgError> {
        let stmt = self.client.prepare_cached(LOCK_SQL).await?;
        self.round_trips += 1;
        let rows = self.client().query(&stmt, &[&holders]).await?;
        let mut locked = LockedCredentials::default();
        for row in &rows {
            let sealed = SealedRow::read(CREDENTIALS, row, 0)?;
            // Checked before it is decoded: an edited row decides nothing.
            if sealed.intact(&self.row_key) {
                let credential = credential_from(row)?;
                self.rows.insert(credential.id, sealed);
                locked.intact.push(credential);
            } else {
                locked.tampered.push(row.try_get(2)?);
            }
        }
        Ok(locked)
    }

    async fn rights_of(&mut self, people: &[String]) -> Result<PeopleRights, PgError> {
        self.round_trips += u64::from(!people.is_empty());
        super::rights::of_people(&self.client, &self.row_key, people).await
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
        let (row, mac, old_mac) = self.changed(id, |row| {
            row.set("floor", Value::Integer(step))?;
            row.set("drift", Value::Integer(drift))?;
            row.set("last_used_at", Value::Integer(now))?;
            row.set("fails", Value::Integer(0))?;
            row.set("locked", boolean(false))?;
            row.set("retry_at", Value::Integer(0))
        })?;
        self.round_trips += 1;
        let won = self
            .client()
            .query_opt(&stmt, &[&id, &step, &drift, &now, &mac, &old_mac])
            .await?;
        if won.is_some() {
            self.rows.insert(id, row);
        }
        Ok(won.is_some())
    }

    async fn consume(&mut self, id: i64, step: u64) -> Result<bool, PgError> {
        let stmt = self.client.prepare_cached(CONSUME_SQL).await?;
        let step = to_i64(step, "step")?;
        let (row, mac, old_mac) = self.changed(id, |row| row.set("floor", Value::Integer(step)))?;
        self.round_trips += 1;
        let won = self
            .client()
            .query_opt(&stmt, &[&id, &step, &mac, &old_mac])
            .await?;
        if won.is_some() {
            self.rows.insert(id, row);
        }
        Ok(won.is_some())
    }

    async fn count_failure(
        &mut self,
        id: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError> {
        let failure = Failure::after(seen, retry_at)?;
        let (new_row, mac, old_mac) = self.changed(id, |row| {
            row.set("fails", Value::Integer(i64::from(failure.fails)))?;
            row.set("locked", boolean(failure.after.locked))?;
            row.set("retry_at", Value::Integer(failure.retry_at))
        })?;
        self.round_trips += 1;
        let written = self
            .write_failure(FAILURE_SQL, id, &failure, (mac, old_mac))
            .await?;
        if written.is_some() {
            self.rows.insert(id, new_row);
        }
        Ok(written)
    }

    async fn lock_phantoms(&mut self, slots: &[i64]) -> Result<Vec<(i64, Counters)>, PgError> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let mut sorted = slots.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        // A slot's first row, fresh, with its MAC.
        let fresh = sorted
            .iter()
            .map(|&slot| Ok(phantom_row(slot, FRESH)?.mac_of(&self.row_key)))
            .collect::<Result<Vec<Vec<u8>>, PgError>>()?;
        let create = self
            .client
            .prepare_cached(
                "INSERT INTO phantom_counters (slot, row_mac)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[])
                 ON CONFLICT (slot) DO NOTHING",
            )
            .await?;
        self.round_trips += 2;
        self.client().execute(&create, &[&sorted, &fresh]).await?;
        let lock = self
            .client
            .prepare_cached(
                "SELECT slot, fails, locked, retry_at, row_mac FROM phantom_counters
                 WHERE slot = ANY($1) ORDER BY slot FOR UPDATE",
            )
            .await?;
        let rows = self.client().query(&lock, &[&sorted]).await?;
        rows.iter()
            .map(|r| {
                let slot = r.try_get(0)?;
                // An edited row counts as locked, as on SQLite: an edit
                // outside keyward never unlocks a phantom.
                let row = SealedRow::read(PHANTOM_COUNTERS, r, 0)?;
                if !row.intact(&self.row_key) {
                    return Ok((slot, TAMPERED));
                }
                Ok((
                    slot,
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
        let failure = Failure::after(seen, retry_at)?;
        let mac = phantom_row(slot, failure.after)?.mac_of(&self.row_key);
        let old_mac = phantom_row(slot, seen)?.mac_of(&self.row_key);
        self.round_trips += 1;
        self.write_failure(PHANTOM_FAILURE_SQL, slot, &failure, (mac, old_mac))
            .await
    }

    async fn append_audit(
        &mut self,
        keys: &Keys,
        entries: &[NewEntry],
    ) -> Result<AuditHead, PgError> {
        // The head read and written by unprepared statements (each a
        // prepare then an execute), the entries inserted by a prepared one.
        self.round_trips += if entries.is_empty() { 2 } else { 5 };
        append_entries(&self.client, keys, entries).await
    }

    async fn commit(&mut self) -> Result<(), PgError> {
        self.round_trips += 1;
        self.client().batch_execute("COMMIT").await?;
        Ok(())
    }

    async fn rollback(&mut self) {
        self.round_trips += 1;
        // A broken connection has no transaction left to abandon.
        let _ = self.client().batch_execute("ROLLBACK").await;
    }

    fn round_trips(&self) -> u64 {
        self.round_trips
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
                 RETURNING id, token, holder, kind, algorithm, digits, period, floor, drift,
                     fails, locked, retry_at, pin_verifier, sealed, live, last_used_at, row_mac",
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
        let mut written = SealedRow::read(CREDENTIALS, &row, 0)?;
        written.set("sealed", blob(Some(&sealed)))?;
        let mac = written.mac_of(&self.row_key);
        self.client()
            .execute(
                "UPDATE credentials SET sealed = $2, row_mac = $3 WHERE id = $1",
                &[&id, &sealed, &mac],
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
            let filter = "holder = $1 AND live FOR UPDATE";
            let holder_id = holder.as_str();
            let found =
                read_checked(&self.client, &self.row_key, CREDENTIALS, filter, &holder_id).await?;
            let Some((_, row)) = found else {
                return Ok(false);
            };
            let id = revoke_credential(self.client(), &self.row_key, row).await?;
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

/// Makes `credential` (read whole, locked and checked by the caller) no
/// longer live, its sealed secret and PIN verifier destroyed, with its new
/// MAC; its id.
pub(super) async fn revoke_credential(
    client: &Client,
    key: &RowKey,
    mut credential: SealedRow,
) -> Result<i64, PgError> {
    let id = match credential.values.first() {
        Some(Value::Integer(id)) => *id,
        _ => return Err(PgError::Corrupt("credential id")),
    };
    credential.set("live", boolean(false))?;
    credential.set("sealed", Value::Null)?;
    credential.set("pin_verifier", Value::Null)?;
    let mac = credential.mac_of(key);
    client
        .execute(
            "UPDATE credentials SET live = false, sealed = NULL, pin_verifier = NULL, row_mac = $2
             WHERE id = $1",
            &[&id, &mac],
        )
        .await?;
    Ok(id)
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
