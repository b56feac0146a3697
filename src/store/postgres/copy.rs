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
//! SQLite chain's last sequence number.

use super::ledger::{NewEntry, PgLedger, VerifyLedger};
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
        client
            .execute(
                "INSERT INTO credentials (id, token, holder, kind, algorithm, digits, period,
                     floor, drift, fails, locked, retry_at, pin_verifier, sealed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
                    &i64_of(c.counters.retry_at, "retry_at")?,
                    &c.pin_verifier,
                    &c.sealed,
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
        client
            .execute(
                "INSERT INTO api_keys (id, name, role, hash, created_at, person, district)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &k.id,
                    &k.name,
                    &k.role.as_str(),
                    &k.hash,
                    &k.created_at,
                    &k.person,
                    &k.district,
                ],
            )
            .await?;
    }
    for t in &export.tokens {
        client
            .execute(
                "INSERT INTO tokens (serial, profile, state, revoke_reason, holder, district,
                     state_since)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &t.token.serial,
                    &t.token.profile,
                    &t.token.state.as_str(),
                    &t.token.revoke_reason.map(|r| r.as_str()),
                    &t.token.holder.as_ref().map(|h| h.as_str()),
                    &t.district,
                    &t.state_since,
                ],
            )
            .await?;
    }
    for (code, inspector) in &export.districts {
        client
            .execute(
                "INSERT INTO districts (code, inspector) VALUES ($1, $2)",
                &[code, inspector],
            )
            .await?;
    }
    for r in &export.rights {
        let ended_at = r
            .period
            .ended_at
            .map(|at| i64_of(at, "ended_at"))
            .transpose()?;
        client
            .execute(
                "INSERT INTO rights (id, person, school, district, origin, from_date,
                     until_date, ended_at, end_reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &r.id,
                    &r.person.as_str(),
                    &r.school.as_str(),
                    &r.district,
                    &r.origin.as_str(),
                    &r.period.from.to_string(),
                    &r.period.until.map(|u| u.to_string()),
                    &ended_at,
                    &r.end_reason.map(|e| e.as_str()),
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

/// Whether `key_hash` is a gateway key in force in the database.
pub async fn gateway_key_in_force(
    pool: &deadpool_postgres::Pool,
    key_hash: &[u8],
) -> Result<bool, PgError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT 1 FROM api_keys WHERE hash = $1 AND role = 'gateway' AND revoked_at IS NULL",
            &[&key_hash],
        )
        .await?;
    Ok(row.is_some())
}
