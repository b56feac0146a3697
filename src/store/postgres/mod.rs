//! PostgreSQL as a store shared by several keyward nodes (docs/postgres.md).
//!
//! SQLite stays the embedded default; this module is the other side of
//! the storage seam, built so far for the part that carries the
//! cross-node guarantees of verify:
//!
//! - [`config`]: `[store] url` and its password file;
//! - [`schema`]: the PostgreSQL migrations;
//! - [`ledger`]: the [`ledger::VerifyLedger`] seam (a batch's durable
//!   state: lock the batch's credentials, advance a moving factor by a
//!   conditional update, count a failure by a compare-and-increment, append
//!   to the one audit chain under its head row) and its PostgreSQL
//!   implementation;
//! - [`node`]: one node's verify writer over a ledger, with group commit;
//! - [`rights`]: the rights a node decides entitlement with;
//! - [`chain`]: `audit verify` of the chain held in PostgreSQL;
//! - [`copy`]: `keyward store copy`, from a SQLite store into an empty
//!   PostgreSQL database.

pub mod chain;
pub mod config;
pub mod copy;
pub mod ledger;
pub mod node;
pub mod rights;
pub mod schema;

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
    Db(#[from] tokio_postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    #[error("the PostgreSQL database has schema version {found}; this keyward supports up to {supported}: upgrade keyward")]
    SchemaTooNew { found: i64, supported: i64 },
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
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(err) => PgError::Db(err),
            other => PgError::Pool(other.to_string()),
        }
    }
}

/// A pool of connections to the database `target` names (the password is
/// read from its file now), with the schema brought up to date.
pub async fn connect(target: &PgTarget, size: usize) -> Result<deadpool_postgres::Pool, PgError> {
    let config = target.client_config()?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .map_err(|err| PgError::Pool(err.to_string()))?;
    let mut client = pool.get().await?;
    schema::migrate(&mut client).await?;
    Ok(pool)
}
