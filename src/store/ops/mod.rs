//! Lifecycle operations (docs/lifecycle.md), each run inside one write
//! transaction opened by [`Store::write`](super::Store::write). Guards come
//! from [`crate::domain`]; this module only reads rows, asks the domain, and
//! writes the new rows, the receipt and the audit entry together.
//!
//! This file holds the transaction ([`Tx`]), the row helpers shared by the
//! store (credential and right decoding, unsealing) and the audit, refusal
//! and scope checks; each aggregate has its own file: people (with districts
//! and schools), rights, tokens, requests, receipts, reports, API keys,
//! pending writes, device PINs, slot access codes, and the replay floors
//! moved after a restore.

mod access_codes;
mod api_keys;
mod audit_search;
mod console_sessions;
mod counters;
mod device_pins;
mod directory;
mod emergency;
mod forgotten_pin;
mod gateway;
mod listing;
mod mail;
mod notices;
mod outbox;
mod pending_writes;
mod people;
pub mod pg_export;
mod receipts;
mod reports;
mod requests;
mod restore;
mod rights;
mod scheduled_notices;
mod seeded;
mod tokens;
// The console's "at a glance" charts (issue 14).
mod verify_history;
// The admin's list of every appointment (issue 14).
mod appointments;
// The console's batch preparation: its start and cancellation (issue 14).
mod console_batches;

use crate::store::cached::CachedSql;
use jiff::tz::TimeZone;
use rusqlite::{Connection, OptionalExtension, Row};

use super::audit::{AuditEntry, AuditHead};
use super::row_mac::RowGuard;
use super::{Shared, StoreError};
use crate::domain::{
    Actor, CredentialInfo, Date, EndReason, PersonId, RightOrigin, RightPeriod, RightRecord, Uai,
    UnixTime,
};
use crate::otp::{CredentialKey, CredentialParams, Digits, OtpKind, Period};

pub use access_codes::{slot_credential_id, AccessCodeStatus};
pub(crate) use api_keys::{key_refused, new_key_secret};
pub use appointments::{AppointmentQuery, AppointmentRow};
pub use audit_search::{AuditQuery, AuditRow};
pub use console_sessions::{id_hash as console_id_hash, ConsoleSessionRow};
pub use emergency::{
    refusals as emergency_refusals, EmergencyAccess, EmergencyForm, EmergencyRecord,
    Slip as EmergencySlip, EMERGENCY_PROFILE, SLIP_HEADER as EMERGENCY_SLIP_HEADER,
};
pub use forgotten_pin::{
    PinResetApproval, PinResetDone, DEFAULT_APPROVAL_HOURS, MAX_APPROVAL_HOURS,
    PIN_RESET_SLIP_HEADER,
};
pub use gateway::{ChallengeProbe, ChallengeReason, ProbeFacts, ProbeSlot};
pub use listing::{Page, TokenQuery};
pub use mail::{IncomingMail, MailContext};
pub use outbox::{backoff_seconds, OutboxMail};
pub use requests::{KeyRequestRecord, ReplacementRecord};
pub use restore::FloorsMoved;
pub(crate) use rights::end_refused;
pub use scheduled_notices::ScheduledQueued;
pub use seeded::{refusals as seeded_refusals, ImportedToken, SEEDED_PROFILE};
pub(crate) use tokens::revoke_refused;
pub use verify_history::{VerifyDay, VERIFY_DAYS};

/// An open transaction, acting for one actor at one instant.
pub struct Tx<'a> {
    db: &'a Connection,
    shared: &'a Shared,
    guard: &'a RowGuard,
    actor: Actor,
    /// The staff member behind the caller: [`Tx::act_as`] changes the role
    /// acted in, never this (separation of duties).
    person: Option<PersonId>,
    now: UnixTime,
    head: Option<AuditHead>,
    destroyed: Vec<i64>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("actor", &self.actor)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

fn corrupt(what: &'static str) -> impl Fn(crate::domain::DomainError) -> StoreError {
    move |_| StoreError::Corrupt(what)
}

fn to_i64(value: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(what))
}

fn to_u64(value: i64, what: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(what))
}

pub(crate) const CREDENTIAL_COLUMNS: &str =
    "c.id, c.token, c.holder, c.kind, c.algorithm, c.digits, c.period, \
     c.floor, c.drift, c.fails, c.locked, c.retry_at, c.pin_verifier IS NOT NULL, c.live";

/// Decodes a row selected with [`CREDENTIAL_COLUMNS`] (starting at column 0).
pub(crate) fn credential_from_row(row: &Row<'_>) -> Result<CredentialInfo, StoreError> {
    let kind: String = row.get(3)?;
    let period: i64 = row.get(6)?;
    let digits: i64 = row.get(5)?;
    let kind = match kind.as_str() {
        "hotp" => OtpKind::Hotp { counter: 0 },
        "totp" => OtpKind::Totp {
            period: Period::new(u32::try_from(period).map_err(|_| StoreError::Corrupt("period"))?)
                .map_err(|_| StoreError::Corrupt("period"))?,
        },
        _ => return Err(StoreError::Corrupt("credential kind")),
    };
    let algorithm: String = row.get(4)?;
    Ok(CredentialInfo {
        id: row.get(0)?,
        token: row.get(1)?,
        holder: PersonId::parse(&row.get::<_, String>(2)?).map_err(corrupt("holder"))?,
        params: CredentialParams {
            kind,
            algorithm: algorithm
                .parse()
                .map_err(|_| StoreError::Corrupt("algorithm"))?,
            digits: Digits::new(u8::try_from(digits).map_err(|_| StoreError::Corrupt("digits"))?)
                .map_err(|_| StoreError::Corrupt("digits"))?,
        },
        floor: row
            .get::<_, Option<i64>>(7)?
            .map(|f| to_u64(f, "floor"))
            .transpose()?,
        drift: row.get(8)?,
        fails: u32::try_from(row.get::<_, i64>(9)?).map_err(|_| StoreError::Corrupt("fails"))?,
        locked: row.get::<_, i64>(10)? != 0,
        retry_at: to_u64(row.get(11)?, "retry_at")?,
        has_pin: row.get(12)?,
        live: row.get::<_, i64>(13)? != 0,
    })
}

/// The unsealed key of a credential, for checks outside the verify service.
pub(crate) fn unseal_key(
    db: &Connection,
    shared: &Shared,
    credential: &CredentialInfo,
) -> Result<Option<CredentialKey>, StoreError> {
    let sealed: Option<Vec<u8>> = db
        .prepare_cached("SELECT sealed FROM sealed_secrets WHERE credential = ?1")?
        .query_row([credential.id], |r| r.get(0))
        .optional()?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let secret = shared
        .keys
        .open_secret(credential.id, &credential.token, &sealed)?;
    Ok(Some(CredentialKey::new(
        credential.params.algorithm,
        &secret,
    )))
}

/// Runs `sql` with `params` and decodes every row with `decode`, in order.
fn query_rows<T>(
    db: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut decode: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = db.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// A record kept as one row of one table: which columns to select and how
/// to decode them.
trait Record: Sized {
    /// `SELECT <columns> FROM <table>`, to which [`select`] adds a filter.
    const SELECT: &'static str;
    /// The `ORDER BY` of its lists.
    const ORDER: &'static str;
    fn decode(row: &Row<'_>) -> Result<Self, StoreError>;
}

/// The records matching `filter` (a `WHERE` clause over `params`, or
/// nothing), in the record's order.
fn select<T: Record>(
    db: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let sql = format!("{} {filter} ORDER BY {}", T::SELECT, T::ORDER);
    query_rows(db, &sql, params, T::decode)
}

/// Inserts a row with `INSERT OR IGNORE`: a row already there under the
/// same key is a [`StoreError::Duplicate`] on `what` named `key`.
fn insert_new(
    db: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &'static str,
    key: &str,
) -> Result<(), StoreError> {
    if db.execute_cached(sql, params)? == 0 {
        return Err(StoreError::Duplicate {
            what,
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// The columns [`right_from_row`] reads, from `rights r JOIN schools s`.
pub(crate) const RIGHT_COLUMNS: &str = "r.id, r.person, r.school, s.district, r.origin, \
r.from_date, r.until_date, r.ended_at, r.end_reason";

/// How many columns [`RIGHT_COLUMNS`] names (one more than its commas).
pub(crate) const RIGHT_FIELDS: usize = {
    let (bytes, mut i, mut n) = (RIGHT_COLUMNS.as_bytes(), 0, 1);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Rights of a person, with their school's district.
pub(crate) fn rights_of(db: &Connection, person: &str) -> Result<Vec<RightRecord>, StoreError> {
    // Built once: the verify writer asks on every request (issue 13).
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {RIGHT_COLUMNS} FROM rights r JOIN schools s ON s.uai = r.school
             WHERE r.person = ?1 ORDER BY r.from_date, r.id"
        )
    });
    query_rows(db, &SQL, [person], right_from_row)
}

/// One right read from [`RIGHT_COLUMNS`].
pub(crate) fn right_from_row(row: &Row<'_>) -> Result<RightRecord, StoreError> {
    right_at(row, 0)
}

/// One right read from [`RIGHT_COLUMNS`], starting at column `at` of `row`.
pub(crate) fn right_at(row: &Row<'_>, at: usize) -> Result<RightRecord, StoreError> {
    let until: Option<String> = row.get(at + 6)?;
    Ok(RightRecord {
        id: row.get(at)?,
        person: PersonId::parse(&row.get::<_, String>(at + 1)?).map_err(corrupt("person"))?,
        school: Uai::parse(&row.get::<_, String>(at + 2)?).map_err(corrupt("school"))?,
        district: row.get(at + 3)?,
        origin: RightOrigin::parse(&row.get::<_, String>(at + 4)?)?,
        period: RightPeriod {
            from: Date::parse(&row.get::<_, String>(at + 5)?).map_err(corrupt("right date"))?,
            until: until
                .map(|u| Date::parse(&u))
                .transpose()
                .map_err(corrupt("right date"))?,
            ended_at: row
                .get::<_, Option<i64>>(at + 7)?
                .map(|e| to_u64(e, "ended_at"))
                .transpose()?,
        },
        end_reason: row
            .get::<_, Option<String>>(at + 8)?
            .map(|r| EndReason::decode(&r))
            .transpose()
            .map_err(corrupt("end reason"))?,
    })
}

impl<'a> Tx<'a> {
    pub(crate) fn begin(
        db: &'a Connection,
        shared: &'a Shared,
        guard: &'a RowGuard,
        actor: Actor,
        now: UnixTime,
    ) -> Result<Self, StoreError> {
        Ok(Tx {
            db,
            shared,
            person: actor.staff_person().cloned(),
            guard,
            actor,
            now,
            head: None,
            destroyed: Vec::new(),
        })
    }

    /// The audit head after this transaction's entries, if it wrote any.
    pub(crate) fn audit_head(&self) -> Option<AuditHead> {
        self.head
    }

    /// Refuses to decide with a row edited outside keyward (its MAC does
    /// not match: `store::row_mac`).
    pub(crate) fn check_row(&self, table: &str, key: &str) -> Result<(), StoreError> {
        self.guard.check(self.db, table, key)
    }

    /// [`Tx::check_row`] for a row whose key is not text (`shown`: how a
    /// refusal names it).
    pub(crate) fn check_row_by(
        &self,
        table: &str,
        key: &dyn rusqlite::ToSql,
        shown: &str,
    ) -> Result<(), StoreError> {
        self.guard.check_by(self.db, table, key, shown)
    }

    /// Checks the school rows of `rights` (each school's district decides
    /// an inspector's scope).
    pub(crate) fn check_schools_of(&self, rights: &[RightRecord]) -> Result<(), StoreError> {
        for right in rights {
            self.check_row("schools", right.school.as_str())?;
        }
        Ok(())
    }

    pub(crate) fn into_destroyed(self) -> Vec<i64> {
        self.destroyed
    }

    /// For batch imports: the following operations of this transaction act as
    /// `actor` (each is still guarded and audited under that actor).
    /// The person behind the caller stays the one who opened the
    /// transaction (the audit names both).
    pub fn act_as(&mut self, actor: Actor) {
        if self.person.is_none() {
            self.person = actor.staff_person().cloned();
        }
        self.actor = actor;
    }

    /// The actor as the audit names it: the role acted in, and the person
    /// behind it when another (an admin acting as a district's inspector).
    fn actor_label(&self) -> String {
        self.actor.label_by(self.person.as_ref())
    }

    pub fn now(&self) -> UnixTime {
        self.now
    }

    /// The authority's time zone: the one its days (rights, deadlines,
    /// reports) are counted in.
    fn zone(&self) -> &TimeZone {
        &self.shared.config.time_zone
    }

    /// The authority's local day at this transaction's instant.
    fn today(&self) -> Date {
        Date::local(self.now, self.zone())
    }

    fn audit(&mut self, action: &str, subject: &str, detail: &str) -> Result<(), StoreError> {
        let mut head = match self.head {
            Some(head) => head,
            None => AuditHead::load(self.db)?,
        };
        head.append(
            self.db,
            &self.shared.keys,
            &AuditEntry {
                at: self.now,
                actor: &self.actor_label(),
                action,
                subject,
                detail,
            },
        )?;
        self.head = Some(head);
        Ok(())
    }

    fn forbidden(&self, action: &'static str, why: &'static str) -> StoreError {
        StoreError::Forbidden {
            actor: self.actor.to_string(),
            action,
            why,
        }
    }

    fn require_desk(&self, action: &'static str) -> Result<(), StoreError> {
        match self.actor {
            Actor::Desk(_) | Actor::Admin(_) | Actor::System => Ok(()),
            _ => Err(self.forbidden(action, "only the IT centre desk does this")),
        }
    }

    /// Separation of duties: nobody acts on their own key or rights.
    fn not_own(&self, subject: &PersonId, action: &'static str) -> Result<(), StoreError> {
        if self.person.as_ref() == Some(subject) {
            return Err(StoreError::OwnAct {
                actor: self.actor.to_string(),
                action,
            });
        }
        Ok(())
    }

    /// The actor is the inspector of `district` (or, when `desk_too`, the desk).
    fn require_scope(
        &self,
        district: &str,
        action: &'static str,
        desk_too: bool,
    ) -> Result<(), StoreError> {
        match &self.actor {
            Actor::Desk(_) | Actor::Admin(_) | Actor::System if desk_too => Ok(()),
            Actor::Inspector(id) => {
                if self.inspector_login(district)?.as_deref() == Some(id.as_str()) {
                    Ok(())
                } else {
                    Err(self.forbidden(action, "an inspector acts only in their own district"))
                }
            }
            _ => Err(self.forbidden(action, "only the district's inspector does this")),
        }
    }

    /// The stored login of `district`'s inspector (`None`: no such district,
    /// or no inspector named).
    fn inspector_login(&self, district: &str) -> Result<Option<String>, StoreError> {
        self.check_row("districts", district)?;
        Ok(self
            .db
            .query_row_cached(
                "SELECT inspector FROM districts WHERE code = ?1",
                [district],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Audits a refusal decided outside the store (authentication, role,
    /// scope).
    pub fn record_refusal(&mut self, operation: &str, why: &str) -> Result<(), StoreError> {
        self.audit("refused", operation, why)
    }
}
