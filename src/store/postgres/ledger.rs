//! The verify decision's durable state, behind a small seam.
//!
//! A node decides a batch of requests in one transaction of the ledger,
//! in a fixed number of round trips whatever the batch's size:
//!
//! 1. [`VerifyLedger::begin_batch`]: the transaction opened, the rights of
//!    the batch's logins read and their live credentials read fresh and
//!    locked until the end of the transaction, in id order (so two nodes'
//!    batches never deadlock on each other), the three statements
//!    pipelined. Another node's batch touching one of them waits for this
//!    one to commit, then sees its writes: decisions on one credential are
//!    serialised across every node. [`VerifyLedger::lock_phantoms`] does
//!    the same for the slots of logins without a credential.
//! 2. While the batch is decided, [`VerifyLedger::advance`],
//!    [`VerifyLedger::consume`] and [`VerifyLedger::count_failure`] record
//!    each decision's write on the row the batch holds (the next decision
//!    on the same credential sees it), refusing one whose condition does
//!    not hold there (then the whole batch is abandoned).
//! 3. [`VerifyLedger::write_batch`]: every credential the batch changed is
//!    written by one conditional update, `UPDATE … FROM unnest(…) WHERE
//!    id = u.id AND live AND row_mac = u.old_mac AND fails = u.seen_fails
//!    AND (floor IS NULL OR floor < u.step) AND (NOT u.accepts OR NOT
//!    locked) RETURNING id`, the phantom slots likewise, pipelined with
//!    the audit head's read under lock (`SELECT … FOR UPDATE`). Whatever
//!    the interleaving, only one writer can move a floor past a step and
//!    a failure is a compare-and-increment; a row the update does not
//!    return fails the whole batch (nobody of it is told "accept"). The
//!    batch's entries are then chained after the head (sequence and
//!    previous MAC decided inside the transaction: two nodes can never
//!    fork the chain), inserted, and the head updated, pipelined.
//! 4. [`VerifyLedger::commit`]; only then are the answers given.
//!
//! Every row read in step 1 is checked against its row MAC
//! (`postgres::row_mac`) before it decides, and every write sets the MAC
//! of the row it leaves, computed here from the values written, and
//! applies only over the row as it was locked (`row_mac = $old`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;

use rusqlite::types::Value;
use tokio_postgres::types::ToSql;
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
    /// Opens the batch's transaction and reads what its decisions rest on:
    /// the rights of `people` (any valid login of the batch, known or
    /// not), by person, and their live credentials, locked until commit or
    /// rollback; every row checked against its row MAC.
    fn begin_batch(
        &mut self,
        people: &[String],
    ) -> impl Future<Output = Result<(PeopleRights, LockedCredentials), PgError>> + Send;

    /// The failure counters of the phantom `slots` (logins without a live
    /// credential; `store::verify::phantom`), created fresh when missing and
    /// locked until commit or rollback, in slot order. A row that does not
    /// match its row MAC counts as locked, as on SQLite.
    fn lock_phantoms(
        &mut self,
        slots: &[i64],
    ) -> impl Future<Output = Result<Vec<(i64, Counters)>, PgError>> + Send;

    /// Moves credential `id`'s floor to `step`, resets its counters and
    /// records its drift, if and only if its floor is below `step` and it
    /// is not locked, as the batch holds it. `true` when recorded; written
    /// by [`VerifyLedger::write_batch`] under the same conditions.
    fn advance(&mut self, id: i64, step: u64, drift: i64, now: UnixTime) -> Result<bool, PgError>;

    /// Consumes `step` on credential `id` without accepting it (possession
    /// proved, no right in force: the code is never accepted later, as on
    /// SQLite): its floor moves to `step`, its counters stay. `true` when
    /// recorded (the floor was below `step`).
    fn consume(&mut self, id: i64, step: u64) -> Result<bool, PgError>;

    /// Counts one failure on credential `id`, which was seen with
    /// `seen.fails` failures: the counters after it, or `None` if the row
    /// the batch holds has other counters.
    fn count_failure(
        &mut self,
        id: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError>;

    /// [`VerifyLedger::count_failure`] for a phantom slot.
    fn count_phantom_failure(
        &mut self,
        slot: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError>;

    /// Writes every change recorded since [`VerifyLedger::begin_batch`],
    /// each applied only over the row as it was locked and only if its
    /// condition holds there ([`PgError::LostRace`] otherwise), and chains
    /// `entries` after the head, which is locked until commit.
    fn write_batch(
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
    /// The credential rows the transaction locked intact, by id, as the
    /// batch leaves them: each change computes the row it leaves, and its
    /// MAC, from these.
    rows: HashMap<i64, SealedRow>,
    /// The credentials the batch changed, and what their update rests on.
    written: BTreeMap<i64, CredentialWrite>,
    /// The phantom slots the transaction locked: their counters as locked
    /// and as the batch leaves them.
    phantoms: HashMap<i64, PhantomSlot>,
    /// The slots the batch changed.
    phantoms_written: BTreeSet<i64>,
    /// Round trips waited for ([`VerifyLedger::round_trips`]).
    round_trips: u64,
}

/// What the update of a credential the batch changed applies over: the
/// row as locked (its MAC, its failures), the lowest step the batch moved
/// its floor to (the floor must still be below it), and whether a code
/// was accepted on it (it must not be locked).
#[derive(Debug)]
struct CredentialWrite {
    locked_mac: Vec<u8>,
    seen_fails: i32,
    step: Option<i64>,
    accepts: bool,
}

/// A locked phantom slot.
#[derive(Clone, Copy, Debug)]
struct PhantomSlot {
    locked: Counters,
    now: Counters,
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
            written: BTreeMap::new(),
            phantoms: HashMap::new(),
            phantoms_written: BTreeSet::new(),
            round_trips: 0,
        })
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    /// Opens a transaction on a live connection (a new one if the server
    /// closed the last), nothing of a previous batch held.
    async fn reset(&mut self) -> Result<(), PgError> {
        if self.client.is_closed() {
            self.client = self.pool.get().await?;
        }
        self.rows.clear();
        self.written.clear();
        self.phantoms.clear();
        self.phantoms_written.clear();
        Ok(())
    }

    /// Opens a transaction (enrolment, revoke, copy).
    pub async fn begin(&mut self) -> Result<(), PgError> {
        self.reset().await?;
        self.round_trips += 1;
        self.client().batch_execute("BEGIN").await?;
        Ok(())
    }

    /// Chains `entries` after the head, which is locked until commit.
    pub async fn append_audit(
        &mut self,
        keys: &Keys,
        entries: &[NewEntry],
    ) -> Result<AuditHead, PgError> {
        self.round_trips += 2;
        append_entries(&self.client, keys, entries).await
    }
}

/// Every column of the credentials (`row_mac::CREDENTIALS`, in order),
/// then the row MAC.
const LOCK_SQL: &str = "SELECT id, token, holder, kind, algorithm, digits, period, floor, drift,
        fails, locked, retry_at, pin_verifier, sealed, live, last_used_at, row_mac
    FROM credentials WHERE holder = ANY($1) AND live ORDER BY id FOR UPDATE";

// Every credential the batch changed, in one statement: each row gets the
// values the batch left and their MAC (computed client-side), and only
// over the row as it was locked, under the race rules (a floor only moves
// up past a step, an accept only on a credential not locked, failures
// counted from those seen).
const WRITE_CREDENTIALS_SQL: &str = "UPDATE credentials AS c
    SET floor = u.floor, drift = u.drift, last_used_at = u.last_used_at, fails = u.fails,
        locked = u.locked, retry_at = u.retry_at, row_mac = u.mac
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::integer[],
                $6::boolean[], $7::bigint[], $8::bytea[], $9::bytea[], $10::integer[],
                $11::bigint[], $12::boolean[])
        AS u(id, floor, drift, last_used_at, fails, locked, retry_at, mac, old_mac, seen_fails,
             step, accepts)
    WHERE c.id = u.id AND c.live AND c.row_mac = u.old_mac AND c.fails = u.seen_fails
        AND (u.step IS NULL OR c.floor IS NULL OR c.floor < u.step)
        AND (NOT u.accepts OR NOT c.locked)
    RETURNING c.id";

const WRITE_PHANTOMS_SQL: &str = "UPDATE phantom_counters AS p
    SET fails = u.fails, locked = u.locked, retry_at = u.retry_at, row_mac = u.mac
    FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::boolean[], $5::bigint[],
                $6::bytea[], $7::bytea[])
        AS u(slot, seen_fails, fails, locked, retry_at, mac, old_mac)
    WHERE p.slot = u.slot AND p.fails = u.seen_fails AND p.row_mac = u.old_mac
    RETURNING p.slot";

const CREATE_PHANTOMS_SQL: &str = "INSERT INTO phantom_counters (slot, row_mac)
    SELECT * FROM unnest($1::bigint[], $2::bytea[])
    ON CONFLICT (slot) DO NOTHING";

const LOCK_PHANTOMS_SQL: &str = "SELECT slot, fails, locked, retry_at, row_mac
    FROM phantom_counters WHERE slot = ANY($1) ORDER BY slot FOR UPDATE";

const HEAD_SQL: &str = "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE";

const INSERT_ENTRIES_SQL: &str = "INSERT INTO audit (seq, at, actor, action, subject, detail, mac)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                         $5::text[], $6::text[], $7::bytea[])";

const WRITE_HEAD_SQL: &str = "UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1";

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

/// An integer column of `row` (NULL as `None`).
fn int_of(row: &SealedRow, column: &str) -> Result<Option<i64>, PgError> {
    match row.get(column)? {
        Value::Integer(n) => Ok(Some(*n)),
        Value::Null => Ok(None),
        _ => Err(PgError::Corrupt("credential column")),
    }
}

fn required(value: Option<i64>, what: &'static str) -> Result<i64, PgError> {
    value.ok_or(PgError::Corrupt(what))
}

fn int32(value: i64, what: &'static str) -> Result<i32, PgError> {
    i32::try_from(value).map_err(|_| PgError::Corrupt(what))
}

impl PgLedger {
    /// The row of credential `id` as the batch holds it, with `change`
    /// applied, kept as the batch's; `changed` records what its update
    /// rests on (the row as locked, the first time).
    fn change(
        &mut self,
        id: i64,
        change: impl FnOnce(&mut SealedRow) -> Result<(), PgError>,
        changed: impl FnOnce(&mut CredentialWrite),
    ) -> Result<(), PgError> {
        let row = self
            .rows
            .get_mut(&id)
            .ok_or(PgError::Corrupt("credential not locked"))?;
        let write = match self.written.entry(id) {
            std::collections::btree_map::Entry::Occupied(held) => held.into_mut(),
            std::collections::btree_map::Entry::Vacant(first) => first.insert(CredentialWrite {
                locked_mac: row.mac.clone().ok_or(PgError::Corrupt("row MAC"))?,
                seen_fails: int32(required(int_of(row, "fails")?, "fails")?, "fails")?,
                step: None,
                accepts: false,
            }),
        };
        change(row)?;
        changed(write);
        Ok(())
    }

    /// The row of credential `id` as the batch holds it.
    fn held(&self, id: i64) -> Result<&SealedRow, PgError> {
        self.rows
            .get(&id)
            .ok_or(PgError::Corrupt("credential not locked"))
    }

    /// The credentials the batch changed, as [`WRITE_CREDENTIALS_SQL`]
    /// binds them (one array per column), and how many.
    fn credential_writes(&self) -> Result<(Vec<Box<dyn ToSql + Sync + Send>>, usize), PgError> {
        let n = self.written.len();
        let mut ids = Vec::with_capacity(n);
        let mut floors = Vec::with_capacity(n);
        let mut drifts = Vec::with_capacity(n);
        let mut used = Vec::with_capacity(n);
        let mut fails = Vec::with_capacity(n);
        let mut locked = Vec::with_capacity(n);
        let mut retry = Vec::with_capacity(n);
        let mut macs = Vec::with_capacity(n);
        let mut old_macs = Vec::with_capacity(n);
        let mut seen_fails = Vec::with_capacity(n);
        let mut steps = Vec::with_capacity(n);
        let mut accepts = Vec::with_capacity(n);
        for (&id, write) in &self.written {
            let row = self.held(id)?;
            ids.push(id);
            floors.push(int_of(row, "floor")?);
            drifts.push(required(int_of(row, "drift")?, "drift")?);
            used.push(int_of(row, "last_used_at")?);
            fails.push(int32(required(int_of(row, "fails")?, "fails")?, "fails")?);
            locked.push(required(int_of(row, "locked")?, "locked")? != 0);
            retry.push(required(int_of(row, "retry_at")?, "retry_at")?);
            macs.push(row.mac_of(&self.row_key));
            old_macs.push(write.locked_mac.clone());
            seen_fails.push(write.seen_fails);
            steps.push(write.step);
            accepts.push(write.accepts);
        }
        let params: Vec<Box<dyn ToSql + Sync + Send>> = vec![
            Box::new(ids),
            Box::new(floors),
            Box::new(drifts),
            Box::new(used),
            Box::new(fails),
            Box::new(locked),
            Box::new(retry),
            Box::new(macs),
            Box::new(old_macs),
            Box::new(seen_fails),
            Box::new(steps),
            Box::new(accepts),
        ];
        Ok((params, n))
    }

    /// The phantom slots the batch changed, as [`WRITE_PHANTOMS_SQL`]
    /// binds them, and how many.
    fn phantom_writes(&self) -> Result<(Vec<Box<dyn ToSql + Sync + Send>>, usize), PgError> {
        let n = self.phantoms_written.len();
        let mut slots = Vec::with_capacity(n);
        let mut seen_fails = Vec::with_capacity(n);
        let mut fails = Vec::with_capacity(n);
        let mut locked = Vec::with_capacity(n);
        let mut retry = Vec::with_capacity(n);
        let mut macs = Vec::with_capacity(n);
        let mut old_macs = Vec::with_capacity(n);
        for &slot in &self.phantoms_written {
            let held = self
                .phantoms
                .get(&slot)
                .ok_or(PgError::Corrupt("phantom slot not locked"))?;
            let int = |n: u32| i32::try_from(n).map_err(|_| PgError::Corrupt("fails"));
            slots.push(slot);
            seen_fails.push(int(held.locked.fails)?);
            fails.push(int(held.now.fails)?);
            locked.push(held.now.locked);
            retry.push(to_i64(held.now.retry_at, "retry_at")?);
            macs.push(phantom_row(slot, held.now)?.mac_of(&self.row_key));
            old_macs.push(phantom_row(slot, held.locked)?.mac_of(&self.row_key));
        }
        let params: Vec<Box<dyn ToSql + Sync + Send>> = vec![
            Box::new(slots),
            Box::new(seen_fails),
            Box::new(fails),
            Box::new(locked),
            Box::new(retry),
            Box::new(macs),
            Box::new(old_macs),
        ];
        Ok((params, n))
    }
}

/// `params` as a statement takes them.
fn bound(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl VerifyLedger for PgLedger {
    async fn begin_batch(
        &mut self,
        people: &[String],
    ) -> Result<(PeopleRights, LockedCredentials), PgError> {
        self.reset().await?;
        // Prepared once per connection; the three statements then go
        // together, in this order, and the server runs them in order.
        let client = &self.client;
        let lock = client.prepare_cached(LOCK_SQL).await?;
        let rights = client.prepare_cached(super::rights::RIGHTS_SQL).await?;
        let params: [&(dyn ToSql + Sync); 1] = [&people];
        self.round_trips += 1;
        let (_, right_rows, credential_rows) = tokio::try_join!(
            client.batch_execute("BEGIN"),
            client.query(&rights, &params),
            client.query(&lock, &params),
        )?;
        let rights = super::rights::of_rows(&self.row_key, &right_rows)?;
        let mut locked = LockedCredentials::default();
        for row in &credential_rows {
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
        Ok((rights, locked))
    }

    fn advance(&mut self, id: i64, step: u64, drift: i64, now: UnixTime) -> Result<bool, PgError> {
        let step = to_i64(step, "step")?;
        let now = to_i64(now, "time")?;
        let row = self.held(id)?;
        let below = int_of(row, "floor")?.is_none_or(|floor| floor < step);
        if !below || int_of(row, "locked")? != Some(0) {
            return Ok(false);
        }
        self.change(
            id,
            |row| {
                row.set("floor", Value::Integer(step))?;
                row.set("drift", Value::Integer(drift))?;
                row.set("last_used_at", Value::Integer(now))?;
                row.set("fails", Value::Integer(0))?;
                row.set("locked", boolean(false))?;
                row.set("retry_at", Value::Integer(0))
            },
            |write| {
                write.step = Some(write.step.map_or(step, |s| s.min(step)));
                write.accepts = true;
            },
        )?;
        Ok(true)
    }

    fn consume(&mut self, id: i64, step: u64) -> Result<bool, PgError> {
        let step = to_i64(step, "step")?;
        if int_of(self.held(id)?, "floor")?.is_some_and(|floor| floor >= step) {
            return Ok(false);
        }
        self.change(
            id,
            |row| row.set("floor", Value::Integer(step)),
            |write| write.step = Some(write.step.map_or(step, |s| s.min(step))),
        )?;
        Ok(true)
    }

    fn count_failure(
        &mut self,
        id: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError> {
        let failure = Failure::after(seen, retry_at)?;
        if int_of(self.held(id)?, "fails")? != Some(i64::from(failure.seen_fails)) {
            return Ok(None);
        }
        self.change(
            id,
            |row| {
                row.set("fails", Value::Integer(i64::from(failure.fails)))?;
                row.set("locked", boolean(failure.after.locked))?;
                row.set("retry_at", Value::Integer(failure.retry_at))
            },
            |_| {},
        )?;
        Ok(Some(failure.after))
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
        let client = &self.client;
        let create = client.prepare_cached(CREATE_PHANTOMS_SQL).await?;
        let lock = client.prepare_cached(LOCK_PHANTOMS_SQL).await?;
        self.round_trips += 1;
        // Created, then locked: pipelined, run in this order.
        let (created, locking): ([&(dyn ToSql + Sync); 2], [&(dyn ToSql + Sync); 1]) =
            ([&sorted, &fresh], [&sorted]);
        let (_, rows) = tokio::try_join!(
            client.execute(&create, &created),
            client.query(&lock, &locking),
        )?;
        let mut locked = Vec::with_capacity(rows.len());
        for r in &rows {
            let slot: i64 = r.try_get(0)?;
            // An edited row counts as locked, as on SQLite: an edit
            // outside keyward never unlocks a phantom.
            let row = SealedRow::read(PHANTOM_COUNTERS, r, 0)?;
            let counters = if row.intact(&self.row_key) {
                counters_from(r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)?
            } else {
                TAMPERED
            };
            self.phantoms.insert(
                slot,
                PhantomSlot {
                    locked: counters,
                    now: counters,
                },
            );
            locked.push((slot, counters));
        }
        Ok(locked)
    }

    fn count_phantom_failure(
        &mut self,
        slot: i64,
        seen: Counters,
        retry_at: UnixTime,
    ) -> Result<Option<Counters>, PgError> {
        let failure = Failure::after(seen, retry_at)?;
        let held = self
            .phantoms
            .get_mut(&slot)
            .ok_or(PgError::Corrupt("phantom slot not locked"))?;
        if held.now.fails != seen.fails {
            return Ok(None);
        }
        held.now = failure.after;
        self.phantoms_written.insert(slot);
        Ok(Some(failure.after))
    }

    async fn write_batch(
        &mut self,
        keys: &Keys,
        entries: &[NewEntry],
    ) -> Result<AuditHead, PgError> {
        let (credentials, n_credentials) = self.credential_writes()?;
        let (phantoms, n_phantoms) = self.phantom_writes()?;
        let client = &self.client;
        let write_credentials = client.prepare_cached(WRITE_CREDENTIALS_SQL).await?;
        let write_phantoms = client.prepare_cached(WRITE_PHANTOMS_SQL).await?;
        let head = client.prepare_cached(HEAD_SQL).await?;
        let (credentials, phantoms) = (bound(&credentials), bound(&phantoms));
        // The writes, then the head locked (credentials and phantom slots
        // are always locked before it): pipelined, run in this order.
        self.round_trips += 1;
        let (written, phantoms_written, head) = tokio::try_join!(
            async {
                match n_credentials {
                    0 => Ok(Vec::new()),
                    _ => client.query(&write_credentials, &credentials).await,
                }
            },
            async {
                match n_phantoms {
                    0 => Ok(Vec::new()),
                    _ => client.query(&write_phantoms, &phantoms).await,
                }
            },
            client.query_one(&head, &[]),
        )?;
        if written.len() != n_credentials {
            return Err(PgError::LostRace("moving factor or failure count"));
        }
        if phantoms_written.len() != n_phantoms {
            return Err(PgError::LostRace("failure count"));
        }
        let head = head_from(&head)?;
        self.round_trips += u64::from(!entries.is_empty());
        write_entries(client, keys, head, entries).await
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
    let head = client.prepare_cached(HEAD_SQL).await?;
    let head = head_from(&client.query_one(&head, &[]).await?)?;
    write_entries(client, keys, head, entries).await
}

/// The head as [`HEAD_SQL`] reads it.
fn head_from(row: &tokio_postgres::Row) -> Result<AuditHead, PgError> {
    Ok(AuditHead {
        seq: to_u64(row.try_get(0)?, "audit sequence")?,
        mac: row
            .try_get::<_, Vec<u8>>(1)?
            .try_into()
            .map_err(|_| PgError::Corrupt("audit mac"))?,
    })
}

/// Chains `entries` after `head` (read locked by the caller's
/// transaction), inserts them and moves the head, the two statements
/// pipelined; the new head.
async fn write_entries(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    mut head: AuditHead,
    entries: &[NewEntry],
) -> Result<AuditHead, PgError> {
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
    let insert = client.prepare_cached(INSERT_ENTRIES_SQL).await?;
    let move_head = client.prepare_cached(WRITE_HEAD_SQL).await?;
    let seq = to_i64(head.seq, "audit sequence")?;
    let mac = &head.mac[..];
    let inserted: [&(dyn ToSql + Sync); 7] =
        [&seqs, &ats, &actors, &actions, &subjects, &details, &macs];
    let moved: [&(dyn ToSql + Sync); 2] = [&seq, &mac];
    tokio::try_join!(
        client.execute(&insert, &inserted),
        client.execute(&move_head, &moved),
    )?;
    Ok(head)
}
