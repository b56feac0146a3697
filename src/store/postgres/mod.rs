//! PostgreSQL as a store shared by several keyward nodes (docs/postgres.md).
//!
//! SQLite stays the embedded default; this module is the other side of
//! the storage seam, built so far for the part that carries the
//! cross-node guarantees of verify:
//!
//! - [`config`]: `[store] url` and its password and CA files;
//! - [`tls`]: the TLS connector every connection to the server is made
//!   with (`sslmode=verify-full`);
//! - [`schema`]: the PostgreSQL migrations;
//! - [`ledger`]: the [`ledger::VerifyLedger`] seam (a batch's durable
//!   state: lock the batch's credentials, advance a moving factor by a
//!   conditional update, count a failure by a compare-and-increment, append
//!   to the one audit chain under its head row) and its PostgreSQL
//!   implementation;
//! - [`node`]: one node's verify writer over a ledger, with group commit;
//! - [`stats`]: where a node's verify time goes (phases, round trips);
//! - [`gateway_keys`]: the gateway key of every verify, checked in rounds;
//! - [`key_cache`]: a node's unsealed keys, evicted on every node when a
//!   revoke commits (`LISTEN`/`NOTIFY`);
//! - [`lifecycle`]: the lifecycle operations a node serves (revoking a
//!   key), with the SQLite store's rules (`crate::domain`);
//! - [`api_keys`]: creating, listing and revoking API keys through a
//!   node, with the SQLite store's rule (`domain::api_keys`);
//! - [`rights`]: the rights a node decides entitlement with;
//! - [`row_mac`]: the MAC every row a decision trusts carries, checked on
//!   read and computed on write by keyward (the key never reaches the
//!   server);
//! - [`row_check`]: `audit verify` of every sealed row's MAC;
//! - [`chain`]: `audit verify` of the chain held in PostgreSQL, and of the
//!   whole store (chain and rows) in one snapshot;
//! - [`copy`]: `keyward store copy`, from a SQLite store into an empty
//!   PostgreSQL database.

pub mod api_keys;
pub mod chain;
pub mod config;
pub mod copy;
pub mod gateway_keys;
pub mod key_cache;
pub mod ledger;
pub mod lifecycle;
pub mod node;
pub mod rights;
pub mod row_check;
pub mod row_mac;
pub mod schema;
pub mod stats;
pub mod tls;

pub use config::{PgConfigError, PgTarget, StoreBackend};

use crate::crypto::CryptoError;
use crate::otp::OtpError;

/// Errors of the PostgreSQL store. Messages carry identifiers, never a
/// password or a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    #[error(transparent)]
    Config(#[from] PgConfigError),
    #[error("PostgreSQL: {0}")]
    Db(#[source] tokio_postgres::Error),
    /// The TLS session with the server failed: its certificate was
    /// refused (unknown CA, wrong name, expired…) or the handshake broke.
    #[error("PostgreSQL: TLS with the server failed: {0}")]
    Tls(String),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    #[error("the PostgreSQL database has schema version {found}; this keyward supports up to {supported}: upgrade keyward")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the PostgreSQL database has schema version {found}, this keyward's is {current}: start a keyward node on it once (it brings the schema up to date) before checking it")]
    SchemaBehind { found: i64, current: i64 },
    #[error("stored data is corrupt: bad {0}")]
    Corrupt(&'static str),
    #[error("a write decided under the batch's lock did not apply ({0}): the batch is abandoned")]
    LostRace(&'static str),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[error("the node's verify writer stopped")]
    Unavailable,
    #[error("the PostgreSQL database already holds {0}: a copy goes only into an empty one")]
    NotEmpty(&'static str),
    /// A rule refused the operation (the same typed refusal as on SQLite):
    /// nothing changed, and the refusal is audited.
    #[error(transparent)]
    Refused(Box<crate::store::StoreError>),
    #[error("the PostgreSQL database holds rows without a row MAC: start a keyward node (or `keyward store copy`) with the master key once to seal them")]
    RowMacsNeedKey,
}

impl PgError {
    /// The server aborted the transaction for a reason that a retry of the
    /// whole transaction can cure (deadlock, serialization failure): nothing
    /// of it was committed, so running it again is safe.
    pub fn is_retryable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            PgError::Db(err) => matches!(
                err.code(),
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
            ),
            _ => false,
        }
    }

    /// The database could not be reached: no connection could be made
    /// (every server down, or none of them the primary yet), the
    /// connection was lost, or the server was shutting down or starting.
    /// Before the commit was sent, the transaction kept nothing then (the
    /// server abandons a transaction whose connection ended), so it may be
    /// run again on a new connection; during the commit, nobody knows.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            PgError::Pool(_) | PgError::Tls(_) => true,
            PgError::Db(err) => {
                err.is_closed()
                    || err.code().is_some_and(|code| {
                        let code = code.code();
                        // connection_exception, and admin / crash shutdown
                        // or cannot_connect_now (57P01-57P03).
                        code.starts_with("08") || code.starts_with("57P")
                    })
                    || std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
            }
            _ => false,
        }
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(err) => PgError::from(err),
            other => PgError::Pool(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for PgError {
    /// A failed TLS session is told apart, with rustls's reason (which
    /// tokio-postgres's message leaves out).
    fn from(err: tokio_postgres::Error) -> Self {
        match tls::failure(&err) {
            Some(why) => PgError::Tls(why),
            None => PgError::Db(err),
        }
    }
}

/// How long a caller waits for a pooled connection, and for a new one to be
/// made (every server of the URL tried in turn): past that, the database is
/// unavailable rather than the caller stuck.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const POOL_CREATE: std::time::Duration = std::time::Duration::from_secs(20);
/// How long checking an idle pooled connection before reuse may take.
const POOL_RECYCLE: std::time::Duration = std::time::Duration::from_secs(5);

/// A pool of connections to the database `target` names (the password is
/// read from its file now), with the schema brought up to date. A broken
/// connection is dropped when it comes back to the pool or is taken from
/// it, and a new one made, to whichever server is the primary then.
pub async fn connect(target: &PgTarget, size: usize) -> Result<deadpool_postgres::Pool, PgError> {
    connect_sealing(target, size, None).await
}

/// [`connect`] by a holder of the master key (a node, `store copy`): a
/// pending row MAC migration MACs the rows already there (`sealing`).
pub async fn connect_sealing(
    target: &PgTarget,
    size: usize,
    sealing: Option<schema::Sealing<'_>>,
) -> Result<deadpool_postgres::Pool, PgError> {
    let config = target.client_config()?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        target.tls_connector()?,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(POOL_CREATE))
        .recycle_timeout(Some(POOL_RECYCLE))
        .build()
        .map_err(|err| PgError::Pool(err.to_string()))?;
    let client = pool.get().await?;
    schema::migrate(&client, sealing).await?;
    Ok(pool)
}
