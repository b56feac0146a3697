//! API keys managed through a node on PostgreSQL (docs/postgres.md):
//! creating one (shown once, only its SHA-256 stored), listing them,
//! revoking one. Decided by the SQLite store's rule
//! (`domain::api_keys::decide_create`, `decide_revoke`): only the reads
//! and writes around it are PostgreSQL's. Each is one transaction with its
//! audit entry (`apikey.create`, `apikey.revoke`, the SQLite store's
//! details); a refusal changes nothing and is audited `refused`, as
//! `lifecycle`'s operations do.
//!
//! Every row a decision reads (the staff keys that vouch for a person, a
//! district's inspector, the key revoked) is checked against its row MAC,
//! and every row written gets its MAC in the same statement.
//!
//! Nothing is cached: a node reads the caller's key
//! (`lifecycle::caller_by_key`) and the gateway keys (`gateway_keys`)
//! fresh after each request arrived, so a key created or revoked through
//! any node is followed by every node from its answer on.
//!
//! A person on a node: PostgreSQL holds no people yet, so the person of a
//! staff key is taken as present when a staff key of theirs is held here
//! (`keyward store copy` takes only the keys of people who have not left,
//! and a node records no departure). Anyone else is refused as the SQLite
//! store refuses a person it does not know ("that person has left").

use super::ledger::{append_entries, NewEntry};
use super::lifecycle::{finish, refused, KeyCaller};
use super::row_mac::{integer, read_checked, text, SealedRow, API_KEYS, DISTRICTS};
use super::PgError;
use crate::crypto::{CryptoError, Keys};
use crate::domain::api_keys::{
    decide_create, decide_revoke, revoke_audit_detail, KeyFacts, KeyRequest, CREATE_ACTION,
};
use crate::domain::{api_key_hash, ApiKeyRecord, NewApiKey, PersonId, Role, UnixTime};
use crate::store::ops::{key_refused, new_key_secret};
use crate::store::StoreError;
use rusqlite::types::Value;

/// A key as asked for, before anything of it is parsed: its role and
/// person are checked inside the transaction, so that a bad one is
/// refused and audited as on SQLite.
#[derive(Clone, Copy, Debug)]
pub struct KeyAsked<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub district: Option<&'a str>,
    pub readers: &'a [String],
    pub person: Option<&'a str>,
}

/// Makes key ids: one key created at a time across nodes (the table's
/// ids are the SQLite store's, copied, so there is no sequence to draw
/// from). Readers are not blocked; revokes wait for the commit.
const LOCK_KEYS: &str = "LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE";

/// Creates an API key as `caller`, at `now`: the key, shown once.
pub async fn create_api_key(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    caller: &KeyCaller,
    asked: KeyAsked<'_>,
    now: UnixTime,
) -> Result<NewApiKey, PgError> {
    let client = pool.get().await?;
    client.batch_execute("BEGIN").await?;
    let result = create_in(&client, keys, caller, asked, now).await;
    finish(&client, keys, &caller.actor, "apikey.create", now, result).await
}

async fn create_in(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    caller: &KeyCaller,
    asked: KeyAsked<'_>,
    now: UnixTime,
) -> Result<NewApiKey, PgError> {
    let role = Role::parse(asked.role).map_err(refused)?;
    let person = asked
        .person
        .map(PersonId::parse)
        .transpose()
        .map_err(refused)?;
    let request = KeyRequest {
        name: asked.name,
        role,
        district: asked.district,
        readers: asked.readers,
        person: person.as_ref(),
    };
    client.batch_execute(LOCK_KEYS).await?;
    let person_present = match request.person {
        Some(person) if request.needs_person() => vouched_for(client, keys, person).await?,
        _ => false,
    };
    let held = match request.district {
        Some(code) if request.needs_district() => district_held(client, keys, code).await?,
        _ => None,
    };
    let facts = KeyFacts {
        actor: &caller.actor,
        person_present,
        district: held.as_ref().map(Option::as_deref),
    };
    decide_create(&request, &facts).map_err(|r| {
        refused(key_refused(
            &caller.actor,
            r,
            request.district.unwrap_or_default(),
        ))
    })?;
    if role == Role::Station {
        // The table holds no readers, and no node serves a station's
        // routes (the node's route answers 501 before this).
        return Err(refused(StoreError::Forbidden {
            actor: caller.actor.to_string(),
            action: CREATE_ACTION,
            why: "station keys are created on the authority's SQLite daemon",
        }));
    }
    let key = new_key_secret().map_err(|_| PgError::Crypto(CryptoError::Random))?;
    let hash = api_key_hash(&key);
    let id: i64 = client
        .query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM api_keys", &[])
        .await?
        .try_get(0)?;
    let created_at = i64::try_from(now).map_err(|_| PgError::Corrupt("time"))?;
    let name = request.stored_name();
    let person = request.person.map(PersonId::as_str);
    let row = SealedRow::new(
        API_KEYS,
        vec![
            Value::Integer(id),
            text(Some(name)),
            text(Some(role.as_str())),
            Value::Blob(hash.to_vec()),
            Value::Integer(created_at),
            integer(None),
            text(person),
            text(request.district),
        ],
    )?;
    let mac = row.mac_of(keys.row_key());
    client
        .execute(
            "INSERT INTO api_keys (id, name, role, hash, created_at, revoked_at, person,
                 district, row_mac)
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8)",
            &[
                &id,
                &name,
                &role.as_str(),
                &&hash[..],
                &created_at,
                &person,
                &request.district,
                &mac,
            ],
        )
        .await?;
    let entry = NewEntry {
        at: now,
        actor: caller.actor.to_string(),
        action: "apikey.create".to_owned(),
        subject: id.to_string(),
        detail: request.audit_detail(),
    };
    append_entries(client, keys, &[entry]).await?;
    Ok(NewApiKey {
        record: ApiKeyRecord {
            id,
            name: name.to_owned(),
            role,
            district: request.district.map(str::to_owned),
            readers: Vec::new(),
            person: request.person.map(|p| p.to_string()),
            created_at: now,
            revoked_at: None,
        },
        key,
    })
}

/// Whether a staff key of `person` (in force or revoked) is held here,
/// every such row checked against its MAC: what stands on a node for
/// "known and not left" (see the module text).
async fn vouched_for(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    person: &PersonId,
) -> Result<bool, PgError> {
    let sql = format!(
        "SELECT {} FROM api_keys WHERE person = $1 AND role IN ('admin', 'desk', 'inspector')",
        API_KEYS.select_list("")
    );
    let rows = client.query(&sql, &[&person.as_str()]).await?;
    for row in &rows {
        SealedRow::read(API_KEYS, row, 0)?.checked(keys.row_key())?;
    }
    Ok(!rows.is_empty())
}

/// District `code` as a key decision reads it: `None` for no such
/// district, else its inspector (its row checked against its MAC).
async fn district_held(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    code: &str,
) -> Result<Option<Option<String>>, PgError> {
    let found = read_checked(client, keys.row_key(), DISTRICTS, "code = $1", &code).await?;
    found
        .map(|(row, _)| row.try_get(1))
        .transpose()
        .map_err(PgError::from)
}

/// Every API key, in force or revoked, by id (never the key itself): as
/// the SQLite store lists them (which checks no row MAC either: a list
/// decides nothing).
pub async fn list_api_keys(pool: &deadpool_postgres::Pool) -> Result<Vec<ApiKeyRecord>, PgError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, name, role, created_at, revoked_at, person, district
             FROM api_keys ORDER BY id",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let role: &str = row.try_get(2)?;
            let time = |t: i64| u64::try_from(t).map_err(|_| PgError::Corrupt("API key time"));
            Ok(ApiKeyRecord {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                role: Role::parse(role).map_err(|_| PgError::Corrupt("API key role"))?,
                district: row.try_get(6)?,
                readers: Vec::new(),
                person: row.try_get(5)?,
                created_at: time(row.try_get(3)?)?,
                revoked_at: row.try_get::<_, Option<i64>>(4)?.map(time).transpose()?,
            })
        })
        .collect()
}

/// Revokes the key `id` as `caller`, at `now`: every node refuses it from
/// the commit on (none caches keys).
pub async fn revoke_api_key(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    caller: &KeyCaller,
    id: i64,
    now: UnixTime,
) -> Result<(), PgError> {
    let client = pool.get().await?;
    client.batch_execute("BEGIN").await?;
    let result = revoke_in(&client, keys, caller, id, now).await;
    finish(&client, keys, &caller.actor, "apikey.revoke", now, result).await
}

async fn revoke_in(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    caller: &KeyCaller,
    id: i64,
    now: UnixTime,
) -> Result<(), PgError> {
    // Checked before anything of it decides (revoked or not, its name).
    let found = read_checked(client, keys.row_key(), API_KEYS, "id = $1 FOR UPDATE", &id).await?;
    let revoked_at = match &found {
        Some((row, _)) => {
            let at: Option<i64> = row.try_get(5)?;
            let at = at
                .map(u64::try_from)
                .transpose()
                .map_err(|_| PgError::Corrupt("API key time"))?;
            Some(at)
        }
        None => None,
    };
    decide_revoke(&caller.actor, revoked_at)
        .map_err(|r| refused(key_refused(&caller.actor, r, &id.to_string())))?;
    let (row, mut sealed) = found.ok_or(PgError::Corrupt("API key row"))?;
    let name: String = row.try_get(1)?;
    let at = i64::try_from(now).map_err(|_| PgError::Corrupt("time"))?;
    sealed.set("revoked_at", Value::Integer(at))?;
    let mac = sealed.mac_of(keys.row_key());
    client
        .execute(
            "UPDATE api_keys SET revoked_at = $2, row_mac = $3 WHERE id = $1",
            &[&id, &at, &mac],
        )
        .await?;
    let entry = NewEntry {
        at: now,
        actor: caller.actor.to_string(),
        action: "apikey.revoke".to_owned(),
        subject: id.to_string(),
        detail: revoke_audit_detail(&name),
    };
    append_entries(client, keys, &[entry]).await?;
    Ok(())
}
