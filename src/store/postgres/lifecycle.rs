//! The lifecycle operations a node on PostgreSQL serves, each one
//! transaction with its audit entry, decided by the same pure rules as the
//! SQLite store (`crate::domain`): only the reads and writes around them
//! are PostgreSQL's. A refusal is the SQLite store's typed error
//! ([`PgError::Refused`]), changes nothing, and is audited (`refused`, in
//! a transaction of its own), as `Store::write` does.
//!
//! Revoking a key (`domain::revocation`): the token's row, then its live
//! credential, are locked (a node's verify batch holding the credential
//! finishes first; any batch after the commit no longer finds it live);
//! the sealed secret and PIN verifier are destroyed, the token moves to
//! `revoked`, and `pg_notify` in the same transaction tells every node to
//! drop the unsealed key from its cache (`key_cache`).
//!
//! Ending a right (`domain::right_end`): the right's row is locked, ended
//! (or shortened) and audited; every node's next batch reads it fresh, so
//! the holder is refused (or still accepted until the new last day) on
//! every node from the answer on.
//!
//! Every row these decisions read (the API key, the token, its credential,
//! the right, a district's inspector) is checked against its row MAC
//! (`postgres::row_mac`), and every row they write gets its new MAC in the
//! same statement. A row changed outside keyward is refused as on SQLite
//! (`StoreError::RowTampered`, `409 record_tampered`, audited `refused`):
//! nothing changes.

use super::key_cache::REVOKED_CHANNEL;
use super::ledger::{append_entries, revoke_credential, NewEntry};
use super::row_mac::{read_checked, text, API_KEYS, CREDENTIALS, DISTRICTS, RIGHTS, TOKENS};
use super::PgError;
use crate::crypto::Keys;
use crate::domain::revocation::{self, RevokeFacts};
use crate::domain::right_end::{self, EndFacts, RightEnd};
use crate::domain::{
    Actor, Date, EndReason, PersonId, RevokeReason, RightOrigin, Role, TokenInfo, TokenState,
    UnixTime,
};
use crate::store::ops::{end_refused, revoke_refused, EMERGENCY_PROFILE};
use crate::store::StoreError;

/// Who an API key held in PostgreSQL authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCaller {
    pub role: Role,
    /// The gateway, or a staff key's person in the key's role.
    pub actor: Actor,
    /// An inspector key's district.
    pub district: Option<String>,
}

/// The API key row of `key_hash` in force (any role), checked against its
/// row MAC: a row changed outside keyward authenticates nobody (refused
/// [`StoreError::RowTampered`]).
pub(super) async fn key_in_force(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    key_hash: &[u8],
) -> Result<Option<tokio_postgres::Row>, PgError> {
    let client = pool.get().await?;
    let filter = "hash = $1 AND revoked_at IS NULL";
    let found = read_checked(&client, keys.row_key(), API_KEYS, filter, &key_hash).await?;
    Ok(found.map(|(row, _)| row))
}

/// The caller an API key (its SHA-256) authenticates: a key in force of
/// the gateway, or of a staff member (admin, desk, inspector) with their
/// person. `None`: no such key, revoked, or a staff key of nobody.
pub async fn caller_by_key(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    key_hash: &[u8],
) -> Result<Option<KeyCaller>, PgError> {
    let Some(row) = key_in_force(pool, keys, key_hash).await? else {
        return Ok(None);
    };
    // Columns as `row_mac::API_KEYS` names them.
    let (role_at, person_at, district_at) = (2, 6, 7);
    let role = Role::parse(row.try_get(role_at)?).map_err(|_| PgError::Corrupt("API key role"))?;
    let person: Option<&str> = row.try_get(person_at)?;
    let person = person
        .map(PersonId::parse)
        .transpose()
        .map_err(|_| PgError::Corrupt("API key person"))?;
    let actor = match (role, person) {
        (Role::Gateway, _) => Actor::Gateway,
        (Role::Admin, Some(p)) => Actor::Admin(p),
        (Role::Desk, Some(p)) => Actor::Desk(p),
        (Role::Inspector, Some(p)) => Actor::Inspector(p),
        _ => return Ok(None),
    };
    Ok(Some(KeyCaller {
        role,
        actor,
        district: row.try_get(district_at)?,
    }))
}

/// The inspector of district `code` (none when there is no such district),
/// its row checked against its MAC.
async fn inspector_of(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    code: &str,
) -> Result<Option<String>, PgError> {
    let found = read_checked(client, keys.row_key(), DISTRICTS, "code = $1", &code).await?;
    Ok(match found {
        Some((row, _)) => row.try_get(1)?,
        None => None,
    })
}

/// A rule's refusal, as the SQLite store's typed error.
pub(super) fn refused(err: impl Into<StoreError>) -> PgError {
    PgError::Refused(Box::new(err.into()))
}

/// Revokes the key `serial` for `reason` (`lost`, `stolen`, `broken`,
/// `faulty`), as `caller`: the token as it now is.
pub async fn revoke_token(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    caller: &KeyCaller,
    serial: &str,
    reason: &str,
    now: UnixTime,
) -> Result<TokenInfo, PgError> {
    let client = pool.get().await?;
    client.batch_execute("BEGIN").await?;
    let result = revoke_in(&client, keys, caller, serial, reason, now).await;
    finish(&client, keys, &caller.actor, "token.revoke", now, result).await
}

async fn revoke_in(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    caller: &KeyCaller,
    serial: &str,
    reason: &str,
    now: UnixTime,
) -> Result<TokenInfo, PgError> {
    let reason = RevokeReason::parse(reason).map_err(refused)?;
    // Checked before anything of it decides (its state, holder, district).
    let filter = "serial = $1 FOR UPDATE";
    let found = read_checked(client, keys.row_key(), TOKENS, filter, &serial).await?;
    let Some((row, mut token_row)) = found else {
        return Err(refused(StoreError::not_found("token", serial)));
    };
    // Columns as `row_mac::TOKENS` names them.
    let corrupt = |what| move |_| PgError::Corrupt(what);
    let revoked_for: Option<&str> = row.try_get(3)?;
    let holder: Option<&str> = row.try_get(4)?;
    let token = TokenInfo {
        serial: serial.to_owned(),
        profile: row.try_get(1)?,
        state: TokenState::parse(row.try_get(2)?).map_err(corrupt("token state"))?,
        revoke_reason: revoked_for
            .map(RevokeReason::parse)
            .transpose()
            .map_err(corrupt("revoke reason"))?,
        holder: holder
            .map(PersonId::parse)
            .transpose()
            .map_err(corrupt("holder"))?,
    };
    let district: Option<String> = row.try_get(5)?;
    // An inspector sees only their district's keys: anything else is "no
    // such token", as the SQLite daemon's scope answers.
    if caller.role == Role::Inspector
        && (district.is_none() || district.as_deref() != caller.district.as_deref())
    {
        return Err(refused(StoreError::not_found("token", serial)));
    }
    revocation::reason_allowed(&caller.actor, reason)
        .map_err(|r| refused(revoke_refused(&caller.actor, r)))?;
    if token.profile == EMERGENCY_PROFILE {
        // Emergency access ends through its own rule, which a node does
        // not serve (docs/postgres.md).
        return Err(refused(StoreError::Forbidden {
            actor: caller.actor.to_string(),
            action: revocation::ACTION,
            why: "emergency access is ended on the authority's SQLite daemon",
        }));
    }
    let inspector: Option<String> = match (&district, &caller.actor) {
        (Some(code), Actor::Inspector(_)) => inspector_of(client, keys, code).await?,
        _ => None,
    };
    let done = revocation::decide(RevokeFacts {
        actor: &caller.actor,
        person: caller.actor.staff_person(),
        token: &token,
        district: district.as_deref().map(|d| (d, inspector.as_deref())),
        reason,
    })
    .map_err(|r| refused(revoke_refused(&caller.actor, r)))?;
    let filter = "token = $1 AND live FOR UPDATE";
    let (_, credential_row) = read_checked(client, keys.row_key(), CREDENTIALS, filter, &serial)
        .await?
        .ok_or(PgError::Corrupt("live token without a credential"))?;
    let credential = revoke_credential(client, keys.row_key(), credential_row).await?;
    let since = i64::try_from(now).map_err(|_| PgError::Corrupt("time"))?;
    token_row.set("state", text(Some(done.next.as_str())))?;
    token_row.set("revoke_reason", text(Some(reason.as_str())))?;
    token_row.set("holder", text(Some(done.holder.as_str())))?;
    token_row.set("state_since", rusqlite::types::Value::Integer(since))?;
    let mac = token_row.mac_of(keys.row_key());
    client
        .execute(
            "UPDATE tokens SET state = $2, revoke_reason = $3, holder = $4, state_since = $5,
                 row_mac = $6
             WHERE serial = $1",
            &[
                &serial,
                &done.next.as_str(),
                &reason.as_str(),
                &done.holder.as_str(),
                &since,
                &mac,
            ],
        )
        .await?;
    let entry = NewEntry {
        at: now,
        actor: caller.actor.to_string(),
        action: "token.revoke".to_owned(),
        subject: serial.to_owned(),
        detail: revocation::audit_detail(&done.holder, reason, credential),
    };
    append_entries(client, keys, &[entry]).await?;
    notify_revoked(client, credential).await?;
    Ok(TokenInfo {
        state: done.next,
        revoke_reason: Some(reason),
        holder: Some(done.holder),
        ..token
    })
}

/// What ending a right asks: the reason and the new last day as the
/// request gives them (checked here, as on SQLite).
#[derive(Clone, Copy, Debug)]
pub struct EndRequest<'a> {
    pub right: i64,
    pub reason: Option<&'a str>,
    pub on: Option<&'a str>,
}

/// Ends (or shortens) a right as `caller`, at `now`; `zone` is the
/// authority's, in which its days are read.
pub async fn end_right(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    caller: &KeyCaller,
    request: EndRequest<'_>,
    now: UnixTime,
    zone: &jiff::tz::TimeZone,
) -> Result<(), PgError> {
    let client = pool.get().await?;
    client.batch_execute("BEGIN").await?;
    let result = end_in(&client, keys, caller, request, now, zone).await;
    finish(&client, keys, &caller.actor, "right.end", now, result).await
}

async fn end_in(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    caller: &KeyCaller,
    request: EndRequest<'_>,
    now: UnixTime,
    zone: &jiff::tz::TimeZone,
) -> Result<(), PgError> {
    // Checked before anything of it decides (its district, dates, end).
    let filter = "id = $1 FOR UPDATE";
    let found = read_checked(client, keys.row_key(), RIGHTS, filter, &request.right).await?;
    let (row, mut right_row) = found.unzip();
    let right = row
        .as_ref()
        .map(super::rights::right_from)
        .transpose()?
        // An inspector sees only their district's rights.
        .filter(|r| caller.role != Role::Inspector || caller.district.as_ref() == Some(&r.district))
        .ok_or_else(|| refused(StoreError::not_found("right", request.right)))?;
    let reason = request
        .reason
        .map(EndReason::parse)
        .transpose()
        .map_err(refused)?;
    let on = request
        .on
        .map(|d| {
            Date::parse(d).map_err(|_| crate::domain::DomainError::BadIdentifier {
                what: "on",
                rule: "an existing day as YYYY-MM-DD",
            })
        })
        .transpose()
        .map_err(refused)?;
    let inspector: Option<String> = match (right.origin, &caller.actor) {
        (RightOrigin::Delegation, Actor::Inspector(_) | Actor::Admin(_)) => {
            inspector_of(client, keys, &right.district).await?
        }
        _ => None,
    };
    // An admin ends a delegation in the district inspector's name, as the
    // SQLite daemon's route does.
    let actor = match (right.origin, &caller.actor) {
        (RightOrigin::Delegation, Actor::Admin(_)) => {
            let login = inspector.as_deref().ok_or_else(|| {
                refused(StoreError::NotFound {
                    what: "inspector of district",
                    key: right.district.clone(),
                })
            })?;
            Actor::Inspector(PersonId::parse(login).map_err(|_| PgError::Corrupt("inspector"))?)
        }
        _ => caller.actor.clone(),
    };
    let person = caller.actor.staff_person();
    let end = right_end::decide(EndFacts {
        actor: &actor,
        person,
        right: &right,
        inspector: inspector.as_deref(),
        reason,
        on,
        today: Date::local(now, zone),
    })
    .map_err(|r| refused(end_refused(&actor, r)))?;
    let at = i64::try_from(now).map_err(|_| PgError::Corrupt("time"))?;
    let right_row = right_row.as_mut().ok_or(PgError::Corrupt("right row"))?;
    match end {
        RightEnd::Now { reason } => {
            let reason = reason.map(EndReason::as_str);
            right_row.set("ended_at", rusqlite::types::Value::Integer(at))?;
            right_row.set("end_reason", text(reason))?;
            let mac = right_row.mac_of(keys.row_key());
            client
                .execute(
                    "UPDATE rights SET ended_at = $2, end_reason = $3, row_mac = $4 WHERE id = $1",
                    &[&right.id, &at, &reason, &mac],
                )
                .await?
        }
        RightEnd::Shorten { until, reason } => {
            let until = until.to_string();
            right_row.set("until_date", text(Some(&until)))?;
            right_row.set("end_reason", text(Some(reason.as_str())))?;
            let mac = right_row.mac_of(keys.row_key());
            client
                .execute(
                    "UPDATE rights SET until_date = $2, end_reason = $3, row_mac = $4
                     WHERE id = $1",
                    &[&right.id, &until, &reason.as_str(), &mac],
                )
                .await?
        }
    };
    let (action, detail) = right_end::audit_entry(right.id, end);
    let entry = NewEntry {
        at: now,
        actor: actor.label_by(person),
        action: action.to_owned(),
        subject: right.person.as_str().to_owned(),
        detail,
    };
    append_entries(client, keys, &[entry]).await?;
    Ok(())
}

/// Tells every node, when the transaction commits, to drop credential's
/// unsealed key.
pub(super) async fn notify_revoked(
    client: &deadpool_postgres::Client,
    credential: i64,
) -> Result<(), PgError> {
    client
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&REVOKED_CHANNEL, &credential.to_string()],
        )
        .await?;
    Ok(())
}

/// Commits after `result`'s work; after a refusal, rolls back and audits
/// it (`refused`, subject the operation, the refusal's text) in a
/// transaction of its own.
pub(super) async fn finish<T>(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    actor: &Actor,
    operation: &str,
    now: UnixTime,
    result: Result<T, PgError>,
) -> Result<T, PgError> {
    let err = match result {
        Ok(value) => {
            client.batch_execute("COMMIT").await?;
            return Ok(value);
        }
        Err(err) => err,
    };
    // A broken connection has no transaction left to abandon.
    let _ = client.batch_execute("ROLLBACK").await;
    if let PgError::Refused(refusal) = &err {
        if refusal.is_refusal() {
            audit_refusal(client, keys, actor, operation, &refusal.to_string(), now).await;
        }
    }
    Err(err)
}

/// Audits a refusal decided before any operation ran (no key, a role the
/// operation does not allow), as the SQLite daemon does.
pub async fn record_refusal(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    actor: &Actor,
    operation: &str,
    why: &str,
    now: UnixTime,
) {
    match pool.get().await {
        Ok(client) => audit_refusal(&client, keys, actor, operation, why, now).await,
        Err(err) => tracing::warn!(operation, error = %err, "could not audit a refusal"),
    }
}

/// Appends `refused` (subject the operation, detail why) in a transaction
/// of its own; a failure is logged, never turned into another answer.
async fn audit_refusal(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    actor: &Actor,
    operation: &str,
    why: &str,
    now: UnixTime,
) {
    let entry = NewEntry {
        at: now,
        actor: actor.to_string(),
        action: "refused".to_owned(),
        subject: operation.to_owned(),
        detail: why.to_owned(),
    };
    let audited = async {
        client.batch_execute("BEGIN").await?;
        append_entries(client, keys, &[entry]).await?;
        client.batch_execute("COMMIT").await?;
        Ok::<_, PgError>(())
    }
    .await;
    if audited.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
        tracing::warn!(operation, "could not audit a refusal on PostgreSQL");
    }
}
