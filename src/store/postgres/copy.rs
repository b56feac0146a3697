//! `keyward store copy --to postgres://…`: how an authority moves its
//! gateway verify state from its SQLite store to PostgreSQL, once, into an
//! empty database (docs/postgres.md). The credentials keep their ids, so
//! their sealed secrets (bound to credential id and token) move as they
//! are: nothing is unsealed, and the nodes open them with the same master
//! key. Floors and failure counters move too, so a code already accepted
//! stays refused and a lock stays a lock. Every right moves (with its
//! dates and any early end), so a node decides entitlement as SQLite does;
//! the tokens of the credentials, the districts and the staff keys move,
//! so a node revokes a key as SQLite does.
//! One transaction: a copy is all
//! or nothing, and its audit entry opens the PostgreSQL chain, naming the
//! SQLite chain's last sequence number. Every row is written with its row
//! MAC (`postgres::row_mac`), computed from the values inserted.

use rusqlite::types::Value;

use super::ledger::{NewEntry, PgLedger};
use super::row_mac::{
    blob, boolean, integer, text, SealedRow, API_KEYS, CREDENTIALS, DISTRICTS, RIGHTS, TOKENS,
};
use super::PgError;
use crate::crypto::Keys;
use crate::domain::UnixTime;
use crate::otp::OtpKind;
use crate::store::ops::pg_export::Export;

/// What a copy wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    pub credentials: usize,
    pub gateway_keys: usize,
    pub staff_keys: usize,
    pub rights: usize,
    pub not_in_service: usize,
}

/// Writes `export` into the (empty) database of `ledger`, with one audit
/// entry by `actor`.
pub async fn import(
    ledger: &mut PgLedger,
    keys: &Keys,
    export: &Export,
    at: UnixTime,
    actor: &str,
) -> Result<Copied, PgError> {
    ledger.begin().await?;
    let result = import_in_txn(ledger, keys, export, at, actor).await;
    ledger.finish(result).await
}

fn i64_of(value: u64, what: &'static str) -> Result<i64, PgError> {
    i64::try_from(value).map_err(|_| PgError::Corrupt(what))
}

async fn import_in_txn(
    ledger: &mut PgLedger,
    keys: &Keys,
    export: &Export,
    at: UnixTime,
    actor: &str,
) -> Result<Copied, PgError> {
    let client = ledger.client();
    let key = keys.row_key();
    let mac = |table, values| SealedRow::new(table, values).map(|row| row.mac_of(key));
    // Nobody else copies at the same time (advisory lock of the copy).
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&0x6b77_636f_7079_i64])
        .await?;
    for (table, what) in [
        ("credentials", "credentials"),
        ("api_keys", "API keys"),
        ("rights", "rights"),
        ("tokens", "tokens"),
        ("audit", "audit entries"),
    ] {
        let found: bool = client
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])
            .await?
            .try_get(0)?;
        if found {
            return Err(PgError::NotEmpty(what));
        }
    }
    for c in &export.credentials {
        let (kind, period) = match c.kind {
            OtpKind::Hotp { .. } => ("hotp", 0),
            OtpKind::Totp { period } => ("totp", i32::try_from(period.seconds()).unwrap_or(0)),
        };
        let floor = c.floor.map(|f| i64_of(f, "floor")).transpose()?;
        let fails = i32::try_from(c.counters.fails).map_err(|_| PgError::Corrupt("fails"))?;
        let retry_at = i64_of(c.counters.retry_at, "retry_at")?;
        let row_mac = mac(
            CREDENTIALS,
            vec![
                Value::Integer(c.id),
                text(Some(&c.token)),
                text(Some(&c.holder)),
                text(Some(kind)),
                text(Some(&c.algorithm)),
                Value::Integer(i64::from(c.digits)),
                Value::Integer(i64::from(period)),
                integer(floor),
                Value::Integer(c.drift),
                Value::Integer(i64::from(fails)),
                boolean(c.counters.locked),
                Value::Integer(retry_at),
                blob(c.pin_verifier.as_deref()),
                blob(Some(&c.sealed)),
                boolean(true),
                Value::Null,
            ],
        )?;
        client
            .execute(
                "INSERT INTO credentials (id, token, holder, kind, algorithm, digits, period,
                     floor, drift, fails, locked, retry_at, pin_verifier, sealed, live,
                     last_used_at, row_mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, true,
                     NULL, $15)",
                &[
                    &c.id,
                    &c.token,
                    &c.holder,
                    &kind,
                    &c.algorithm,
                    &i32::from(c.digits),
                    &period,
                    &floor,
                    &c.drift,
                    &fails,
                    &c.counters.locked,
                    &retry_at,
                    &c.pin_verifier,
                    &c.sealed,
                    &row_mac,
                ],
            )
            .await?;
    }
    // New credentials enrolled on PostgreSQL take ids after the copied ones.
    client
        .execute(
            "SELECT setval(pg_get_serial_sequence('credentials', 'id'),
                 GREATEST((SELECT MAX(id) FROM credentials), 1))",
            &[],
        )
        .await?;
    for k in export.gateway_keys.iter().chain(&export.staff_keys) {
        let row_mac = mac(
            API_KEYS,
            vec![
                Value::Integer(k.id),
                text(Some(&k.name)),
                text(Some(k.role.as_str())),
                blob(Some(&k.hash)),
                Value::Integer(k.created_at),
                Value::Null,
                text(k.person.as_deref()),
                text(k.district.as_deref()),
            ],
        )?;
        client
            .execute(
                "INSERT INTO api_keys (id, name, role, hash, created_at, revoked_at, person,
                     district, row_mac)
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8)",
                &[
                    &k.id,
                    &k.name,
                    &k.role.as_str(),
                    &k.hash,
                    &k.created_at,
                    &k.person,
                    &k.district,
                    &row_mac,
                ],
            )
            .await?;
    }
    for t in &export.tokens {
        let revoke_reason = t.token.revoke_reason.map(|r| r.as_str());
        let holder = t.token.holder.as_ref().map(|h| h.as_str());
        let row_mac = mac(
            TOKENS,
            vec![
                text(Some(&t.token.serial)),
                text(Some(&t.token.profile)),
                text(Some(t.token.state.as_str())),
                text(revoke_reason),
                text(holder),
                text(t.district.as_deref()),
                Value::Integer(t.state_since),
            ],
        )?;
        client
            .execute(
                "INSERT INTO tokens (serial, profile, state, revoke_reason, holder, district,
                     state_since, row_mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &t.token.serial,
                    &t.token.profile,
                    &t.token.state.as_str(),
                    &revoke_reason,
                    &holder,
                    &t.district,
                    &t.state_since,
                    &row_mac,
                ],
            )
            .await?;
    }
    for (code, inspector) in &export.districts {
        let row_mac = mac(
            DISTRICTS,
            vec![text(Some(code)), text(inspector.as_deref())],
        )?;
        client
            .execute(
                "INSERT INTO districts (code, inspector, row_mac) VALUES ($1, $2, $3)",
                &[code, inspector, &row_mac],
            )
            .await?;
    }
    for r in &export.rights {
        let ended_at = r
            .period
            .ended_at
            .map(|at| i64_of(at, "ended_at"))
            .transpose()?;
        let from = r.period.from.to_string();
        let until = r.period.until.map(|u| u.to_string());
        let end_reason = r.end_reason.map(|e| e.as_str());
        let row_mac = mac(
            RIGHTS,
            vec![
                Value::Integer(r.id),
                text(Some(r.person.as_str())),
                text(Some(r.school.as_str())),
                text(Some(&r.district)),
                text(Some(r.origin.as_str())),
                text(Some(&from)),
                text(until.as_deref()),
                integer(ended_at),
                text(end_reason),
            ],
        )?;
        client
            .execute(
                "INSERT INTO rights (id, person, school, district, origin, from_date,
                     until_date, ended_at, end_reason, row_mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &r.id,
                    &r.person.as_str(),
                    &r.school.as_str(),
                    &r.district,
                    &r.origin.as_str(),
                    &from,
                    &until,
                    &ended_at,
                    &end_reason,
                    &row_mac,
                ],
            )
            .await?;
    }
    let copied = Copied {
        credentials: export.credentials.len(),
        gateway_keys: export.gateway_keys.len(),
        staff_keys: export.staff_keys.len(),
        rights: export.rights.len(),
        not_in_service: export.not_in_service,
    };
    let entry = NewEntry {
        at,
        actor: actor.to_owned(),
        action: "store.copy".to_owned(),
        subject: "-".to_owned(),
        detail: format!(
            "from=sqlite sqlite_audit_seq={} credentials={} gateway_keys={} staff_keys={} rights={} not_in_service={}",
            export.audit_seq,
            copied.credentials,
            copied.gateway_keys,
            copied.staff_keys,
            copied.rights,
            copied.not_in_service
        ),
    };
    ledger.append_audit(keys, &[entry]).await?;
    Ok(copied)
}
