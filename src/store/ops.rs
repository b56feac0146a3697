//! Lifecycle operations (SPEC §2, §3), each run inside one write transaction
//! opened by [`Store::write`](super::Store::write). Guards come from
//! [`crate::domain`]; this module only reads rows, asks the domain, and writes
//! the new rows, the receipt and the audit entry together.

mod daemon;
mod hid;

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use zeroize::Zeroizing;

use super::audit::{AuditEntry, AuditHead};
use super::{Shared, StoreError};
use crate::crypto::Pin;
use crate::domain::receipt::{ReceiptContent, ReceiptKind, SignedReceipt};
use crate::domain::reports::{self, BoundKey, InTransit, OverdueReturn};
use crate::domain::requests::{check_help_mail, HelpMail};
use crate::domain::verify_policy::{totp_window, MAX_DRIFT};
use crate::domain::{
    next_state, Actor, Date, MailAddress, PersonId, RevokeReason, RightInForce, RightOrigin,
    RightPeriod, TokenAction, TokenState, Uai, UnixTime,
};
use crate::otp::{Algorithm, Code, CredentialKey, Digits, Hotp, Period, ReplayFloor, Secret, Totp};

pub use daemon::{
    api_key_hash, ApiKeyRecord, DistrictRecord, NewApiKey, PendingWrite, SchoolRecord,
    API_KEY_PREFIX,
};
pub use hid::{slot_credential_id, AccessCodeStatus};

/// HOTP or TOTP, with the part of the parameters that differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpKind {
    /// `counter`: the first counter value the token will use.
    Hotp {
        counter: u64,
    },
    Totp {
        period: Period,
    },
}

/// How a credential computes its codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialParams {
    pub kind: OtpKind,
    pub algorithm: Algorithm,
    pub digits: Digits,
}

impl CredentialParams {
    pub fn totp() -> Self {
        CredentialParams {
            kind: OtpKind::Totp {
                period: Period::DEFAULT,
            },
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
        }
    }

    pub fn hotp() -> Self {
        CredentialParams {
            kind: OtpKind::Hotp { counter: 0 },
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub full_name: String,
    pub mail: MailAddress,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub serial: String,
    pub profile: String,
    pub state: TokenState,
    pub revoke_reason: Option<RevokeReason>,
    pub holder: Option<PersonId>,
}

/// A credential's public record (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialInfo {
    pub id: i64,
    pub token: String,
    pub holder: PersonId,
    pub params: CredentialParams,
    /// Last accepted counter or time step.
    pub floor: Option<u64>,
    pub drift: i64,
    pub fails: u32,
    pub locked: bool,
    pub retry_at: UnixTime,
    pub has_pin: bool,
    pub live: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RightRecord {
    pub id: i64,
    pub person: PersonId,
    pub school: Uai,
    pub district: String,
    pub origin: RightOrigin,
    pub period: RightPeriod,
}

/// An open transaction, acting for one actor at one instant.
pub struct Tx<'a> {
    db: &'a Connection,
    shared: &'a Shared,
    actor: Actor,
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

/// Rights of a person, with their school's district.
pub(crate) fn rights_of(db: &Connection, person: &str) -> Result<Vec<RightRecord>, StoreError> {
    let mut stmt = db.prepare_cached(
        "SELECT r.id, r.person, r.school, s.district, r.origin, r.from_date, r.until_date, r.ended_at
         FROM rights r JOIN schools s ON s.uai = r.school WHERE r.person = ?1 ORDER BY r.from_date, r.id",
    )?;
    let mut rows = stmt.query([person])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let until: Option<String> = row.get(6)?;
        out.push(RightRecord {
            id: row.get(0)?,
            person: PersonId::parse(&row.get::<_, String>(1)?).map_err(corrupt("person"))?,
            school: Uai::parse(&row.get::<_, String>(2)?).map_err(corrupt("school"))?,
            district: row.get(3)?,
            origin: RightOrigin::parse(&row.get::<_, String>(4)?)?,
            period: RightPeriod {
                from: Date::parse(&row.get::<_, String>(5)?).map_err(corrupt("right date"))?,
                until: until
                    .map(|u| Date::parse(&u))
                    .transpose()
                    .map_err(corrupt("right date"))?,
                ended_at: row
                    .get::<_, Option<i64>>(7)?
                    .map(|e| to_u64(e, "ended_at"))
                    .transpose()?,
            },
        });
    }
    Ok(out)
}

pub(crate) fn in_force(rights: &[RightRecord], now: UnixTime) -> Vec<RightInForce> {
    rights
        .iter()
        .filter(|r| r.period.in_force_at(now))
        .map(|r| RightInForce {
            school: r.school.clone(),
            origin: r.origin,
            until: r.period.until,
        })
        .collect()
}

impl<'a> Tx<'a> {
    pub(crate) fn begin(
        db: &'a Connection,
        shared: &'a Shared,
        actor: Actor,
        now: UnixTime,
    ) -> Result<Self, StoreError> {
        Ok(Tx {
            db,
            shared,
            actor,
            now,
            head: None,
            destroyed: Vec::new(),
        })
    }

    pub(crate) fn into_destroyed(self) -> Vec<i64> {
        self.destroyed
    }

    /// For batch imports: the following operations of this transaction act as
    /// `actor` (each is still guarded and audited under that actor).
    pub fn act_as(&mut self, actor: Actor) {
        self.actor = actor;
    }

    pub fn now(&self) -> UnixTime {
        self.now
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
                actor: &self.actor.to_string(),
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
            Actor::Desk(_) | Actor::System => Ok(()),
            _ => Err(self.forbidden(action, "only the IT centre desk does this")),
        }
    }

    /// The actor is the inspector of `district` (or, when `desk_too`, the desk).
    fn require_scope(
        &self,
        district: &str,
        action: &'static str,
        desk_too: bool,
    ) -> Result<(), StoreError> {
        match &self.actor {
            Actor::Desk(_) | Actor::System if desk_too => Ok(()),
            Actor::Inspector(id) => {
                let inspector: Option<String> = self
                    .db
                    .query_row(
                        "SELECT inspector FROM districts WHERE code = ?1",
                        [district],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                if inspector.as_deref() == Some(id.as_str()) {
                    Ok(())
                } else {
                    Err(self.forbidden(action, "an inspector acts only in their own district"))
                }
            }
            _ => Err(self.forbidden(action, "only the district's inspector does this")),
        }
    }

    // ----- reference data -------------------------------------------------

    pub fn add_person(
        &mut self,
        id: &PersonId,
        full_name: &str,
        mail: &MailAddress,
    ) -> Result<(), StoreError> {
        self.require_desk("add a person")?;
        if !mail
            .domain()
            .eq_ignore_ascii_case(&self.shared.config.authority_domain)
        {
            return Err(crate::domain::DomainError::SenderOutsideDomain.into());
        }
        if crate::domain::requests::is_functional_mailbox(mail) {
            return Err(crate::domain::DomainError::SchoolMailbox.into());
        }
        if full_name.trim().is_empty() || full_name.chars().any(char::is_control) {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "full name",
                rule: "one line of text",
            }
            .into());
        }
        let inserted = self.db.execute(
            "INSERT OR IGNORE INTO people (id, full_name, mail) VALUES (?1, ?2, ?3)",
            params![id.as_str(), full_name.trim(), mail.as_str()],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                what: "person or mail address",
                key: id.to_string(),
            });
        }
        self.audit("person.add", id.as_str(), "")
    }

    pub fn person(&self, id: &PersonId) -> Result<Person, StoreError> {
        let row: Option<(String, String)> = self
            .db
            .prepare_cached("SELECT full_name, mail FROM people WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (full_name, mail) = row.ok_or_else(|| StoreError::NotFound {
            what: "person",
            key: id.to_string(),
        })?;
        Ok(Person {
            id: id.clone(),
            full_name,
            mail: MailAddress::parse(&mail).map_err(corrupt("mail address"))?,
        })
    }

    pub fn add_district(
        &mut self,
        code: &str,
        name: &str,
        inspector: &PersonId,
    ) -> Result<(), StoreError> {
        self.require_desk("add a district")?;
        if code.is_empty() || code.len() > 32 || code.chars().any(|c| c.is_control() || c == ' ') {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "district code",
                rule: "1 to 32 characters, no spaces",
            }
            .into());
        }
        self.person(inspector)?;
        let inserted = self.db.execute(
            "INSERT OR IGNORE INTO districts (code, name, inspector) VALUES (?1, ?2, ?3)",
            params![code, name, inspector.as_str()],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                what: "district",
                key: code.to_owned(),
            });
        }
        self.audit("district.add", code, &format!("inspector={inspector}"))
    }

    pub fn add_school(&mut self, uai: &Uai, name: &str, district: &str) -> Result<(), StoreError> {
        self.require_desk("add a school")?;
        let exists: bool = self.db.query_row(
            "SELECT EXISTS (SELECT 1 FROM districts WHERE code = ?1)",
            [district],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NotFound {
                what: "district",
                key: district.to_owned(),
            });
        }
        let inserted = self.db.execute(
            "INSERT OR IGNORE INTO schools (uai, name, district) VALUES (?1, ?2, ?3)",
            params![uai.as_str(), name, district],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                what: "school",
                key: uai.to_string(),
            });
        }
        self.audit("school.add", uai.as_str(), &format!("district={district}"))
    }

    pub fn district_of_school(&self, uai: &Uai) -> Result<String, StoreError> {
        self.db
            .prepare_cached("SELECT district FROM schools WHERE uai = ?1")?
            .query_row([uai.as_str()], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "school",
                key: uai.to_string(),
            })
    }

    // ----- rights ---------------------------------------------------------

    fn insert_right(
        &mut self,
        person: &PersonId,
        school: &Uai,
        origin: RightOrigin,
        period: &RightPeriod,
    ) -> Result<i64, StoreError> {
        self.person(person)?;
        self.db.execute(
            "INSERT INTO rights (person, school, origin, from_date, until_date, granted_by, granted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                person.as_str(),
                school.as_str(),
                origin.as_str(),
                period.from.to_string(),
                period.until.map(|u| u.to_string()),
                self.actor.to_string(),
                to_i64(self.now, "time")?
            ],
        )?;
        let id = self.db.last_insert_rowid();
        let until = period.until.map_or("open".to_owned(), |u| u.to_string());
        self.audit(
            &format!("right.grant.{origin}"),
            person.as_str(),
            &format!(
                "right={id} school={school} from={} until={until}",
                period.from
            ),
        )?;
        Ok(id)
    }

    /// An appointment (cases 4 and 5): starts and ends on its dates with no
    /// one acting. Recorded by the desk from the authority's decisions.
    pub fn grant_appointment(
        &mut self,
        person: &PersonId,
        school: &Uai,
        from: Date,
        until: Option<Date>,
    ) -> Result<i64, StoreError> {
        self.require_desk("record an appointment")?;
        self.district_of_school(school)?;
        let period = RightPeriod::new(from, until)?;
        self.insert_right(person, school, RightOrigin::Appointment, &period)
    }

    /// A dated delegation by the district's inspector (case 1).
    pub fn grant_delegation(
        &mut self,
        person: &PersonId,
        school: &Uai,
        from: Date,
        until: Option<Date>,
    ) -> Result<i64, StoreError> {
        let district = self.district_of_school(school)?;
        self.require_scope(&district, "grant a delegation", false)?;
        let period = RightPeriod::new(from, until)?;
        self.insert_right(person, school, RightOrigin::Delegation, &period)
    }

    /// The inspector ends a delegation now (case 2): verify refuses the
    /// deputy from this instant.
    pub fn end_delegation(&mut self, right_id: i64) -> Result<(), StoreError> {
        let row: Option<(String, String, Option<i64>, String)> = self
            .db
            .query_row(
                "SELECT r.origin, s.district, r.ended_at, r.person FROM rights r
                 JOIN schools s ON s.uai = r.school WHERE r.id = ?1",
                [right_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (origin, district, ended_at, person) = row.ok_or_else(|| StoreError::NotFound {
            what: "right",
            key: right_id.to_string(),
        })?;
        self.require_scope(&district, "end a delegation", false)?;
        if RightOrigin::parse(&origin)? != RightOrigin::Delegation {
            return Err(self.forbidden(
                "end a right",
                "appointments end on their own date; only delegations are ended by hand",
            ));
        }
        if ended_at.is_some() {
            return Err(self.forbidden("end a delegation", "it has already ended"));
        }
        self.db.execute(
            "UPDATE rights SET ended_at = ?1 WHERE id = ?2",
            params![to_i64(self.now, "time")?, right_id],
        )?;
        self.audit("right.end", &person, &format!("right={right_id}"))
    }

    pub fn rights(&self, person: &PersonId) -> Result<Vec<RightRecord>, StoreError> {
        rights_of(self.db, person.as_str())
    }

    pub fn rights_in_force(&self, person: &PersonId) -> Result<Vec<RightInForce>, StoreError> {
        Ok(in_force(&self.rights(person)?, self.now))
    }

    /// The district a holder belongs to: that of their latest right.
    fn holder_district(&self, holder: &PersonId) -> Result<String, StoreError> {
        self.rights(holder)?
            .into_iter()
            .max_by_key(|r| (r.period.from, r.id))
            .map(|r| r.district)
            .ok_or_else(|| StoreError::NoRight {
                holder: holder.to_string(),
            })
    }

    fn inspector_of(&self, district: &str) -> Result<Person, StoreError> {
        let id: Option<String> = self
            .db
            .query_row(
                "SELECT inspector FROM districts WHERE code = ?1",
                [district],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let id = id.ok_or_else(|| StoreError::NotFound {
            what: "inspector of district",
            key: district.to_owned(),
        })?;
        self.person(&PersonId::parse(&id).map_err(corrupt("inspector id"))?)
    }

    // ----- tokens and credentials ----------------------------------------

    pub fn token(&self, serial: &str) -> Result<TokenInfo, StoreError> {
        let row: Option<(String, String, Option<String>, Option<String>)> = self
            .db
            .prepare_cached(
                "SELECT profile, state, revoke_reason, holder FROM tokens WHERE serial = ?1",
            )?
            .query_row([serial], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let (profile, state, reason, holder) = row.ok_or_else(|| StoreError::NotFound {
            what: "token",
            key: serial.to_owned(),
        })?;
        Ok(TokenInfo {
            serial: serial.to_owned(),
            profile,
            state: TokenState::parse(&state)?,
            revoke_reason: reason
                .map(|r| RevokeReason::parse(&r))
                .transpose()
                .map_err(corrupt("revoke reason"))?,
            holder: holder
                .map(|h| PersonId::parse(&h))
                .transpose()
                .map_err(corrupt("holder"))?,
        })
    }

    /// The live credential on a token, if any.
    pub fn credential_of(&self, serial: &str) -> Result<Option<CredentialInfo>, StoreError> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials c WHERE c.token = ?1 AND c.live = 1"
        );
        let mut stmt = self.db.prepare_cached(&sql)?;
        let mut rows = stmt.query([serial])?;
        match rows.next()? {
            Some(row) => Ok(Some(credential_from_row(row)?)),
            None => Ok(None),
        }
    }

    fn live_token_of(&self, holder: &PersonId) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT serial FROM tokens WHERE holder = ?1
                 AND state IN ('prepared','handed_over','active')",
            )?
            .query_row([holder.as_str()], |r| r.get(0))
            .optional()?)
    }

    pub fn add_token(&mut self, serial: &str, profile: &str) -> Result<(), StoreError> {
        self.require_desk("register a token")?;
        if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_graphic()) {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "token serial",
                rule: "1 to 64 printable ASCII characters",
            }
            .into());
        }
        let inserted = self.db.execute(
            "INSERT OR IGNORE INTO tokens (serial, profile, state, state_since) VALUES (?1, ?2, 'stock', ?3)",
            params![serial, profile, to_i64(self.now, "time")?],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                what: "token",
                key: serial.to_owned(),
            });
        }
        self.audit("token.add", serial, &format!("profile={profile}"))
    }

    fn set_state(
        &mut self,
        token: &TokenInfo,
        action: TokenAction,
        holder: Option<&PersonId>,
    ) -> Result<TokenState, StoreError> {
        let next = next_state(token.state, token.revoke_reason, action)?;
        let reason = match action {
            TokenAction::Revoke(reason) => Some(reason.as_str()),
            _ => token.revoke_reason.map(RevokeReason::as_str),
        };
        let reason = if next == TokenState::Stock {
            None
        } else {
            reason
        };
        self.db.execute(
            "UPDATE tokens SET state = ?1, holder = ?2, revoke_reason = ?3, state_since = ?4,
             received_at = CASE WHEN ?1 = 'wiped' THEN ?4 ELSE received_at END WHERE serial = ?5",
            params![
                next.as_str(),
                holder.map(PersonId::as_str),
                reason,
                to_i64(self.now, "time")?,
                token.serial
            ],
        )?;
        Ok(next)
    }

    /// Writes a new secret's record for `holder` on a stock token (the driver
    /// writes the same secret to the device). Fulfils an open key request.
    pub fn prepare_token(
        &mut self,
        serial: &str,
        holder: &PersonId,
        secret: &Secret,
        params: CredentialParams,
    ) -> Result<i64, StoreError> {
        self.require_desk("prepare a token")?;
        let token = self.token(serial)?;
        next_state(token.state, token.revoke_reason, TokenAction::Prepare)?;
        self.person(holder)?;
        if let Some(live) = self.live_token_of(holder)? {
            return Err(StoreError::HolderHasLiveToken {
                holder: holder.to_string(),
                serial: live,
            });
        }
        let rights = self.rights(holder)?;
        if !rights.iter().any(|r| r.period.live_or_future_at(self.now)) {
            return Err(StoreError::NoRight {
                holder: holder.to_string(),
            });
        }
        let (kind, period, floor) = match params.kind {
            OtpKind::Hotp { counter } => ("hotp", 0u32, ReplayFloor::before(counter)),
            OtpKind::Totp { period } => ("totp", period.seconds(), ReplayFloor::FRESH),
        };
        let floor = floor
            .last_accepted()
            .map(|f| to_i64(f, "counter"))
            .transpose()?;
        self.set_state(&token, TokenAction::Prepare, Some(holder))?;
        self.db.execute(
            "INSERT INTO credentials (token, holder, kind, algorithm, digits, period, floor, live, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
            params![
                serial,
                holder.as_str(),
                kind,
                params.algorithm.name(),
                params.digits.get(),
                period,
                floor,
                to_i64(self.now, "time")?
            ],
        )?;
        let credential = self.db.last_insert_rowid();
        let sealed = self.shared.keys.seal_secret(credential, serial, secret)?;
        self.db.execute(
            "INSERT INTO sealed_secrets (credential, sealed) VALUES (?1, ?2)",
            params![credential, sealed],
        )?;
        let fulfilled = self.db.execute(
            "UPDATE key_requests SET token = ?1, fulfilled_at = ?2 WHERE holder = ?3 AND fulfilled_at IS NULL",
            params![serial, to_i64(self.now, "time")?, holder.as_str()],
        )?;
        self.audit(
            "token.prepare",
            serial,
            &format!(
                "holder={holder} credential={credential} kind={kind} algorithm={} digits={} key_request_fulfilled={}",
                params.algorithm,
                params.digits.get(),
                fulfilled > 0
            ),
        )?;
        Ok(credential)
    }

    /// Proof of possession: the token in hand produced a correct code. The
    /// code's step is consumed (it can never log in afterwards).
    fn check_possession(
        &mut self,
        credential: &CredentialInfo,
        code: &str,
    ) -> Result<(), StoreError> {
        let key = unseal_key(self.db, self.shared, credential)?
            .ok_or(StoreError::PossessionCheckFailed)?;
        let code = Code::parse(code, credential.params.digits)
            .map_err(|_| StoreError::PossessionCheckFailed)?;
        let floor = credential
            .floor
            .map_or(ReplayFloor::FRESH, ReplayFloor::after);
        let found = match credential.params.kind {
            OtpKind::Hotp { .. } => {
                Hotp::new(credential.params.digits, self.shared.config.hotp_look_ahead)?
                    .verify(&key, &code, floor)?
            }
            OtpKind::Totp { period } => {
                let (behind, ahead) = totp_window(self.shared.config.totp_behind, credential.drift);
                Totp::new(credential.params.digits, period)
                    .with_window(behind, ahead)?
                    .verify(&key, &code, self.now, 0, floor)?
            }
        };
        let step = found.ok_or(StoreError::PossessionCheckFailed)?.step();
        self.db.execute(
            "UPDATE credentials SET floor = ?1 WHERE id = ?2",
            params![to_i64(step, "step")?, credential.id],
        )?;
        Ok(())
    }

    fn counterparty(&self) -> Result<(String, String), StoreError> {
        match &self.actor {
            Actor::Inspector(id) => Ok((id.to_string(), self.person(id)?.full_name)),
            Actor::Desk(name) => Ok((format!("desk:{name}"), format!("IT centre desk ({name})"))),
            _ => Err(self.forbidden(
                "sign a receipt",
                "receipts are countersigned by an inspector or the desk",
            )),
        }
    }

    fn issue_receipt(
        &mut self,
        kind: ReceiptKind,
        token: &TokenInfo,
        holder: &Person,
        district: &str,
        place: &str,
        reason: &str,
    ) -> Result<SignedReceipt, StoreError> {
        let (counterparty_id, counterparty_name) = self.counterparty()?;
        let number: i64 =
            self.db
                .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM receipts", [], |r| {
                    r.get(0)
                })?;
        let content = ReceiptContent {
            number: to_u64(number, "receipt number")?,
            kind,
            token_serial: token.serial.clone(),
            holder_id: holder.id.to_string(),
            holder_name: holder.full_name.clone(),
            counterparty_id,
            counterparty_name,
            district: district.to_owned(),
            place: place.trim().to_owned(),
            time: self.now,
            reason: reason.trim().to_owned(),
            key_id: self.shared.signer.key_id(),
        };
        let canonical = content.canonical()?;
        let signature = self.shared.signer.sign(canonical.as_bytes());
        self.db.execute(
            "INSERT INTO receipts (id, kind, token, holder, district, at, canonical, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                number,
                kind.as_str(),
                token.serial,
                holder.id.as_str(),
                district,
                to_i64(self.now, "time")?,
                canonical,
                signature
            ],
        )?;
        Ok(SignedReceipt {
            content,
            canonical,
            signature,
        })
    }

    fn live_credential(&self, token: &TokenInfo) -> Result<CredentialInfo, StoreError> {
        self.credential_of(&token.serial)?
            .ok_or(StoreError::Corrupt("live token without a credential"))
    }

    /// What handover and return share: the transition is allowed, the caller
    /// is in the holder's district, the token in hand proves possession, and
    /// the signed receipt is issued.
    fn receipted_step(
        &mut self,
        serial: &str,
        action: TokenAction,
        kind: ReceiptKind,
        operation: &'static str,
        (place, reason): (&str, &str),
        possession_code: &str,
    ) -> Result<(TokenInfo, PersonId, CredentialInfo, SignedReceipt), StoreError> {
        let token = self.token(serial)?;
        next_state(token.state, token.revoke_reason, action)?;
        let holder_id = token
            .holder
            .clone()
            .ok_or(StoreError::Corrupt("live token without holder"))?;
        let district = self.holder_district(&holder_id)?;
        self.require_scope(&district, operation, true)?;
        let holder = self.person(&holder_id)?;
        let credential = self.live_credential(&token)?;
        self.check_possession(&credential, possession_code)?;
        let receipt = self.issue_receipt(kind, &token, &holder, &district, place, reason)?;
        Ok((token, holder_id, credential, receipt))
    }

    /// Hands a prepared token to its holder with a signed handover receipt.
    /// `possession_code` is a code read from (or typed by) the token in hand.
    pub fn handover(
        &mut self,
        serial: &str,
        place: &str,
        possession_code: &str,
    ) -> Result<SignedReceipt, StoreError> {
        let (token, holder_id, _, receipt) = self.receipted_step(
            serial,
            TokenAction::Handover,
            ReceiptKind::Handover,
            "hand a key over",
            (place, ""),
            possession_code,
        )?;
        self.set_state(&token, TokenAction::Handover, Some(&holder_id))?;
        self.audit(
            "token.handover",
            serial,
            &format!("holder={holder_id} receipt={}", receipt.content.number),
        )?;
        Ok(receipt)
    }

    /// The holder activates their key by choosing a PIN (at the station).
    pub fn activate(&mut self, serial: &str, pin: &str) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        match (&self.actor, &token.holder) {
            (Actor::Holder(who), Some(holder)) if who == holder => {}
            _ => {
                return Err(self.forbidden(
                    "activate a key",
                    "only its holder activates a key, with their own PIN",
                ))
            }
        }
        next_state(token.state, token.revoke_reason, TokenAction::Activate)?;
        let pin = Pin::parse(pin)?;
        let holder = token
            .holder
            .clone()
            .ok_or(StoreError::Corrupt("token without holder"))?;
        let credential = self.live_credential(&token)?;
        let verifier = Zeroizing::new(
            self.shared
                .keys
                .pin_verifier(holder.as_str(), pin.expose().as_bytes()),
        );
        self.db.execute(
            "UPDATE credentials SET pin_verifier = ?1, fails = 0, locked = 0, retry_at = 0 WHERE id = ?2",
            params![&verifier[..], credential.id],
        )?;
        self.set_state(&token, TokenAction::Activate, Some(&holder))?;
        self.audit("token.activate", serial, &format!("holder={holder}"))
    }

    /// Deletes a credential's sealed secret and PIN verifier; the store
    /// checkpoints the WAL after commit so no copy survives in `-wal`.
    fn destroy_secret(&mut self, credential: i64) -> Result<(), StoreError> {
        self.db.execute(
            "DELETE FROM sealed_secrets WHERE credential = ?1",
            [credential],
        )?;
        self.db.execute(
            "UPDATE credentials SET live = 0, pin_verifier = NULL WHERE id = ?1",
            [credential],
        )?;
        self.destroyed.push(credential);
        Ok(())
    }

    /// The holder returns the key to their inspector (cases 2 and 4): return
    /// receipt, secret destroyed at once.
    pub fn return_token(
        &mut self,
        serial: &str,
        place: &str,
        reason: &str,
        possession_code: &str,
    ) -> Result<SignedReceipt, StoreError> {
        let (token, holder_id, credential, receipt) = self.receipted_step(
            serial,
            TokenAction::Return,
            ReceiptKind::Return,
            "take a key back",
            (place, reason),
            possession_code,
        )?;
        self.destroy_secret(credential.id)?;
        self.set_state(&token, TokenAction::Return, Some(&holder_id))?;
        self.audit(
            "token.return",
            serial,
            &format!(
                "holder={holder_id} receipt={} credential={} secret=destroyed",
                receipt.content.number, credential.id
            ),
        )?;
        Ok(receipt)
    }

    /// The IT centre received a returned (or revoked broken/faulty) key and
    /// wiped it.
    pub fn receive_at_it_centre(&mut self, serial: &str) -> Result<(), StoreError> {
        self.require_desk("receive a key")?;
        let token = self.token(serial)?;
        let holder = token.holder.clone();
        self.set_state(&token, TokenAction::Receive, holder.as_ref())?;
        self.audit("token.receive", serial, "wiped")
    }

    /// A wiped token goes back to stock, bound to no one.
    pub fn restock(&mut self, serial: &str) -> Result<(), StoreError> {
        self.require_desk("restock a key")?;
        let token = self.token(serial)?;
        self.set_state(&token, TokenAction::Restock, None)?;
        self.audit("token.restock", serial, "")
    }

    /// Revokes a live token: its secret is destroyed at once.
    pub fn revoke(&mut self, serial: &str, reason: RevokeReason) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        let holder = token
            .holder
            .clone()
            .ok_or(crate::domain::DomainError::TransitionRefused {
                from: token.state,
                action: "revoke",
            })?;
        let district = self.holder_district(&holder)?;
        self.require_scope(&district, "revoke a key", true)?;
        next_state(
            token.state,
            token.revoke_reason,
            TokenAction::Revoke(reason),
        )?;
        let credential = self.live_credential(&token)?;
        self.destroy_secret(credential.id)?;
        self.set_state(&token, TokenAction::Revoke(reason), Some(&holder))?;
        self.audit(
            "token.revoke",
            serial,
            &format!(
                "holder={holder} reason={reason} credential={} secret=destroyed",
                credential.id
            ),
        )
    }

    /// Resynchronises a token whose counter or clock ran away: two
    /// consecutive codes within 1000 steps (RFC 4226 §7.4). For TOTP the
    /// offset found becomes the credential's drift, if within the bound.
    pub fn resync(&mut self, serial: &str, first: &str, second: &str) -> Result<(), StoreError> {
        self.require_desk("resynchronise a key")?;
        let token = self.token(serial)?;
        let credential =
            self.credential_of(serial)?
                .ok_or(crate::domain::DomainError::TransitionRefused {
                    from: token.state,
                    action: "resync",
                })?;
        let key = unseal_key(self.db, self.shared, &credential)?
            .ok_or(StoreError::Corrupt("live credential without secret"))?;
        let digits = credential.params.digits;
        let codes = (Code::parse(first, digits)?, Code::parse(second, digits)?);
        let floor = credential
            .floor
            .map_or(ReplayFloor::FRESH, ReplayFloor::after);
        let (found, drift) = match credential.params.kind {
            OtpKind::Hotp { .. } => (
                Hotp::with_digits(digits).resync(
                    &key,
                    (&codes.0, &codes.1),
                    floor,
                    crate::otp::RESYNC_RANGE,
                )?,
                None,
            ),
            OtpKind::Totp { period } => {
                let found = Totp::new(digits, period).resync(
                    &key,
                    (&codes.0, &codes.1),
                    self.now,
                    floor,
                    crate::otp::RESYNC_RANGE,
                )?;
                (found, found.map(|m| m.offset()))
            }
        };
        let found = found.ok_or(StoreError::PossessionCheckFailed)?;
        if let Some(offset) = drift {
            if offset.unsigned_abs() > u64::from(MAX_DRIFT) {
                return Err(crate::otp::OtpError::DriftOutOfBounds {
                    drift: offset,
                    max: MAX_DRIFT,
                }
                .into());
            }
        }
        self.db.execute(
            "UPDATE credentials SET floor = ?1, drift = ?2 WHERE id = ?3",
            params![
                to_i64(found.step(), "step")?,
                drift.unwrap_or(0),
                credential.id
            ],
        )?;
        self.audit(
            "credential.resync",
            serial,
            &format!("step={} drift={}", found.step(), drift.unwrap_or(0)),
        )
    }

    /// The desk clears a lockout (never automatic).
    pub fn unlock(&mut self, serial: &str) -> Result<(), StoreError> {
        self.require_desk("unlock a key")?;
        let token = self.token(serial)?;
        let credential = self.credential_of(serial)?.ok_or({
            crate::domain::DomainError::TransitionRefused {
                from: token.state,
                action: "unlock",
            }
        })?;
        self.db.execute(
            "UPDATE credentials SET fails = 0, locked = 0, retry_at = 0 WHERE id = ?1",
            [credential.id],
        )?;
        self.audit(
            "credential.unlock",
            serial,
            &format!("previous_failures={}", credential.fails),
        )
    }

    // ----- requests --------------------------------------------------------

    /// Case 1: an inspector asks the desk for a key for a deputy of their
    /// district who holds (or will hold) a delegation.
    pub fn request_key(&mut self, holder: &PersonId) -> Result<i64, StoreError> {
        let rights = self.rights(holder)?;
        let delegation = rights
            .iter()
            .filter(|r| r.origin == RightOrigin::Delegation && r.period.live_or_future_at(self.now))
            .max_by_key(|r| r.id)
            .ok_or_else(|| StoreError::NoRight {
                holder: holder.to_string(),
            })?;
        let district = delegation.district.clone();
        self.require_scope(&district, "request a key", false)?;
        if let Some(live) = self.live_token_of(holder)? {
            return Err(StoreError::HolderHasLiveToken {
                holder: holder.to_string(),
                serial: live,
            });
        }
        let open: bool = self.db.query_row(
            "SELECT EXISTS (SELECT 1 FROM key_requests WHERE holder = ?1 AND fulfilled_at IS NULL)",
            [holder.as_str()],
            |r| r.get(0),
        )?;
        if open {
            return Err(StoreError::OpenKeyRequest {
                holder: holder.to_string(),
            });
        }
        self.db.execute(
            "INSERT INTO key_requests (holder, district, requested_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![holder.as_str(), district, self.actor.to_string(), to_i64(self.now, "time")?],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "key_request.open",
            holder.as_str(),
            &format!("request={id}"),
        )?;
        Ok(id)
    }

    /// Open key requests, oldest first: (request id, holder, district).
    pub fn open_key_requests(&self) -> Result<Vec<(i64, PersonId, String)>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT id, holder, district FROM key_requests WHERE fulfilled_at IS NULL ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push((
                row.get(0)?,
                PersonId::parse(&row.get::<_, String>(1)?).map_err(corrupt("holder"))?,
                row.get(2)?,
            ));
        }
        Ok(out)
    }

    /// Case 3: records a help request after checking its sender and copy.
    /// A lost or stolen key is revoked in this same transaction.
    pub fn file_replacement_request(
        &mut self,
        holder: &PersonId,
        reason: RevokeReason,
        mail: &HelpMail,
    ) -> Result<i64, StoreError> {
        self.require_desk("record a help request")?;
        let person = self.person(holder)?;
        let district = self.holder_district(holder)?;
        let inspector = self.inspector_of(&district)?;
        check_help_mail(
            mail,
            &person.mail,
            &inspector.mail,
            &self.shared.config.authority_domain,
        )?;
        let old = self
            .live_token_of(holder)?
            .ok_or_else(|| self.forbidden("request a replacement", "the holder has no live key"))?;
        let cc: Vec<&str> = mail.cc.iter().map(MailAddress::as_str).collect();
        self.db.execute(
            "INSERT INTO replacement_requests (holder, old_token, reason, sender, cc, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                holder.as_str(),
                old,
                reason.as_str(),
                mail.from.as_str(),
                cc.join(","),
                to_i64(self.now, "time")?
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "replacement.request",
            holder.as_str(),
            &format!("request={id} old_token={old} reason={reason}"),
        )?;
        if reason.is_gone() {
            self.revoke(&old, reason)?;
        }
        Ok(id)
    }

    /// Prepares the new key of a replacement request; the old key, if still
    /// live, is revoked in this same transaction.
    pub fn prepare_replacement(
        &mut self,
        request: i64,
        new_serial: &str,
        secret: &Secret,
        params: CredentialParams,
    ) -> Result<i64, StoreError> {
        self.require_desk("prepare a replacement")?;
        let row: Option<(String, String, String, Option<i64>)> = self
            .db
            .query_row(
                "SELECT holder, old_token, reason, fulfilled_at FROM replacement_requests WHERE id = ?1",
                [request],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (holder, old, reason, fulfilled) = row.ok_or_else(|| StoreError::NotFound {
            what: "replacement request",
            key: request.to_string(),
        })?;
        if fulfilled.is_some() {
            return Err(StoreError::RequestFulfilled(request));
        }
        let holder = PersonId::parse(&holder).map_err(corrupt("holder"))?;
        let reason = RevokeReason::parse(&reason).map_err(corrupt("reason"))?;
        if self.token(&old)?.state.is_live() {
            self.revoke(&old, reason)?;
        }
        let credential = self.prepare_token(new_serial, &holder, secret, params)?;
        self.db.execute(
            "UPDATE replacement_requests SET new_token = ?1, fulfilled_at = ?2 WHERE id = ?3",
            params![new_serial, to_i64(self.now, "time")?, request],
        )?;
        self.audit(
            "replacement.prepare",
            holder.as_str(),
            &format!("request={request} old_token={old} new_token={new_serial}"),
        )?;
        Ok(credential)
    }

    // ----- receipts and reports -------------------------------------------

    pub fn receipts_of_token(&self, serial: &str) -> Result<Vec<SignedReceipt>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT canonical, signature FROM receipts WHERE token = ?1 ORDER BY id")?;
        let mut rows = stmt.query([serial])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let canonical: String = row.get(0)?;
            let signature: Vec<u8> = row.get(1)?;
            let exported = format!(
                "{canonical}signature={}\n",
                data_encoding::BASE64.encode(&signature)
            );
            out.push(SignedReceipt::parse(&exported).map_err(corrupt("receipt"))?);
        }
        Ok(out)
    }

    /// Keeps the districts the actor may see: an inspector sees their own.
    fn in_scope<V>(&self, report: BTreeMap<String, V>) -> Result<BTreeMap<String, V>, StoreError> {
        let Actor::Inspector(id) = &self.actor else {
            return Ok(report);
        };
        let mut stmt = self
            .db
            .prepare_cached("SELECT code FROM districts WHERE inspector = ?1")?;
        let mine: Vec<String> = stmt
            .query_map([id.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(report
            .into_iter()
            .filter(|(district, _)| mine.contains(district))
            .collect())
    }

    /// Keys still bound to holders whose rights have all ended, past their
    /// return date, per district (an inspector sees their own district).
    pub fn overdue_returns(&self) -> Result<BTreeMap<String, Vec<OverdueReturn>>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT serial, holder FROM tokens WHERE state IN ('prepared','handed_over','active')",
        )?;
        let live: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut keys = Vec::with_capacity(live.len());
        for (serial, holder) in live {
            let rights = rights_of(self.db, &holder)?;
            let Some(latest) = rights.iter().max_by_key(|r| (r.period.from, r.id)) else {
                continue;
            };
            let ended = !rights.iter().any(|r| r.period.live_or_future_at(self.now));
            keys.push(BoundKey {
                serial,
                holder,
                district: latest.district.clone(),
                rights_ended_on: if ended {
                    rights.iter().filter_map(|r| r.period.last_day()).max()
                } else {
                    None
                },
            });
        }
        self.in_scope(reports::overdue_returns(
            &keys,
            Date::of(self.now),
            self.shared.config.return_deadline,
        ))
    }

    /// Keys returned to an inspector and not yet received by the IT centre
    /// (an inspector sees their own district).
    pub fn awaiting_it_centre(&self) -> Result<BTreeMap<String, Vec<InTransit>>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT t.serial, t.holder, r.district, r.at FROM tokens t
             JOIN receipts r ON r.id = (SELECT MAX(id) FROM receipts WHERE token = t.serial AND kind = 'return')
             WHERE t.state = 'returned'",
        )?;
        let rows: Vec<(String, String, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut items = Vec::with_capacity(rows.len());
        for (serial, holder, district, at) in rows {
            items.push((serial, holder, district, Date::of(to_u64(at, "time")?)));
        }
        self.in_scope(reports::awaiting_it_centre(&items, Date::of(self.now)))
    }
}
