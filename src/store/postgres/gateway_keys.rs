//! The gateway key of every `POST /v1/verify` on a node, checked in
//! rounds: the checks waiting when a round starts are read by one
//! statement (`hash = ANY($1)`) on one pooled connection, each row checked
//! against its row MAC, rather than one statement each (measured: one
//! round trip per request on the pool, beside the writer's, was a third
//! of what PostgreSQL did per verify; docs/postgres.md, "Throughput").
//!
//! Nothing is remembered between rounds: each check reads the key as the
//! database holds it after the request arrived, exactly as the check by
//! itself did (`copy::gateway_key_in_force`), with the same answers (in
//! force, not, or a row changed outside keyward refused by its typed
//! error).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::row_mac::{tampered, SealedRow, API_KEYS};
use super::PgError;
use crate::crypto::Keys;

/// Most checks read in one round.
const MAX_ROUND: usize = 1024;

/// Every column of an API key (`row_mac::API_KEYS`, in order), then its
/// MAC.
const KEYS_SQL: &str = "SELECT id, name, role, hash, created_at, revoked_at, person, district,
        row_mac
    FROM api_keys WHERE hash = ANY($1) AND revoked_at IS NULL";

/// Where `role` and `hash` are in [`KEYS_SQL`]'s rows.
const ROLE_AT: usize = 2;
const HASH_AT: usize = 3;

struct Check {
    hash: [u8; 32],
    answer: oneshot::Sender<Result<bool, PgError>>,
}

/// Handle to a node's key checker task; it stops when the handle is
/// dropped.
#[derive(Clone, Debug)]
pub struct GatewayKeys {
    checks: mpsc::UnboundedSender<Check>,
}

impl GatewayKeys {
    /// Starts the checker on the current tokio runtime.
    pub fn start(pool: deadpool_postgres::Pool, keys: Arc<Keys>) -> GatewayKeys {
        let (checks, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, keys, waiting));
        GatewayKeys { checks }
    }

    /// Whether `hash` is a gateway key in force in the database now; a key
    /// row changed outside keyward is refused (`StoreError::RowTampered`).
    pub async fn in_force(&self, hash: [u8; 32]) -> Result<bool, PgError> {
        let (answer, answered) = oneshot::channel();
        self.checks
            .send(Check { hash, answer })
            .map_err(|_| PgError::Unavailable)?;
        answered.await.unwrap_or(Err(PgError::Unavailable))
    }
}

async fn run(
    pool: deadpool_postgres::Pool,
    keys: Arc<Keys>,
    mut waiting: mpsc::UnboundedReceiver<Check>,
) {
    while let Some(first) = waiting.recv().await {
        let mut round = vec![first];
        while round.len() < MAX_ROUND {
            match waiting.try_recv() {
                Ok(check) => round.push(check),
                Err(_) => break,
            }
        }
        match read(&pool, &keys, &round).await {
            Ok(found) => {
                for check in round {
                    let answer = match found.get(&check.hash) {
                        None => Ok(false),
                        Some(Ok(gateway)) => Ok(*gateway),
                        Some(Err(key)) => Err(tampered(API_KEYS, key)),
                    };
                    let _ = check.answer.send(answer);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "checking gateway keys on PostgreSQL");
                for check in round {
                    let _ = check.answer.send(Err(PgError::Unavailable));
                }
            }
        }
    }
}

/// What a hash's row said: in force as a gateway key (`true`) or another
/// role (`false`), or changed outside keyward (`Err`, the row's key as
/// shown).
type Found = Result<bool, String>;

/// The keys in force among those `round` names, by hash, each row
/// checked against its MAC.
async fn read(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    round: &[Check],
) -> Result<HashMap<[u8; 32], Found>, PgError> {
    let mut hashes: Vec<&[u8]> = round.iter().map(|c| &c.hash[..]).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let client = pool.get().await?;
    // Prepared once per connection.
    let stmt = client.prepare_cached(KEYS_SQL).await?;
    let rows = client.query(&stmt, &[&hashes]).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let hash: [u8; 32] = row
            .try_get::<_, &[u8]>(HASH_AT)?
            .try_into()
            .map_err(|_| PgError::Corrupt("API key hash"))?;
        let sealed = SealedRow::read(API_KEYS, row, 0)?;
        let answer = if sealed.intact(keys.row_key()) {
            Ok(row.try_get::<_, &str>(ROLE_AT)? == "gateway")
        } else {
            Err(sealed.shown_key())
        };
        // One key in force per hash, as the check by itself required.
        if found.insert(hash, answer).is_some() {
            return Err(PgError::Corrupt("API key hash"));
        }
    }
    Ok(found)
}
