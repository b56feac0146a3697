//! The secure store: SQLite (WAL, foreign keys, secure delete, synchronous
//! FULL), versioned migrations, and the one place where write transactions
//! are opened and committed (`in_write_txn`).
//!
//! - [`ops`]: the lifecycle operations, run inside [`Store::write`].
//! - [`audit`]: the hash-chained audit trail and what `audit verify` checks.
//! - `checkpoints`: the file of signed checkpoints of the audit head.
//! - [`row_mac`]: the MAC of every state row, renewed on every write.
//! - [`verify`]: the verify service (group commit, key cache).
//!
//! Layout of a data directory (0700): `master.key` (0600, 32 bytes) and
//! `keyward.db` (0600) with its `-wal` and `-shm` files.

pub mod audit;
pub mod backup;
mod cached;
mod checkpoints;
pub mod disk;
mod offline;
pub mod ops;
pub mod postgres;
pub mod row_mac;
mod schema;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::crypto::{CryptoError, Keys, MasterKey, PinProblem, ReceiptSigner};
use crate::domain::reports::ReturnDeadline;
use crate::domain::{Actor, Clock, DomainError, MailAddress};
use crate::otp::OtpError;
use crate::secure_fs::{self, FsError};

pub use audit::{AuditBreak, AuditHead, AuditReport, CheckpointMismatch};
pub use checkpoints::{
    DEFAULT_EVERY as DEFAULT_CHECKPOINT_EVERY, DEFAULT_FILE as DEFAULT_CHECKPOINT_FILE,
};
pub(crate) use offline::open_read_only;
pub use offline::{
    integrity_check_at, receipt_public_key_at, receipt_public_key_keyed, verify_audit_at,
    verify_audit_keyed,
};
pub use ops::{FloorsMoved, KeyRequestRecord, ReplacementRecord, Tx};
pub use row_mac::{BadRow, RowCheck};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;

pub const DB_FILE: &str = "keyward.db";
pub const MASTER_KEY_FILE: &str = "master.key";

/// Errors of the store layer. Messages carry identifiers, never secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("PIN refused: {0}")]
    Pin(#[from] PinProblem),
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database has schema version {found}; this keyward supports up to {supported}: upgrade keyward")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("no keyward database in {path}: run `keyward init` first")]
    NotInitialised { path: String },
    #[error("{path} already holds a keyward database")]
    AlreadyInitialised { path: String },
    #[error("stored data is corrupt: bad {0}")]
    Corrupt(&'static str),
    #[error("{what} {key} does not exist")]
    NotFound { what: &'static str, key: String },
    #[error("{what} {key} already exists")]
    Duplicate { what: &'static str, key: String },
    #[error("{actor} may not {action}: {why}")]
    Forbidden {
        actor: String,
        action: &'static str,
        why: &'static str,
    },
    #[error("{holder} already has a live key ({serial}): return or revoke it first; a key is never re-bound")]
    HolderHasLiveToken { holder: String, serial: String },
    #[error("{holder} has no right in force or to come: grant one first")]
    NoRight { holder: String },
    #[error("{person} has left the authority: nothing new is given to them (no key, right, request or code)")]
    PersonLeft { person: String },
    #[error("the token in hand did not produce a correct code: wrong token, or not prepared")]
    PossessionCheckFailed,
    #[error("{holder} already has an open key request")]
    OpenKeyRequest { holder: String },
    #[error("replacement request {0} was already fulfilled")]
    RequestFulfilled(i64),
    #[error("{actor} may not {action} for themselves: nobody acts on their own key or rights")]
    OwnAct { actor: String, action: &'static str },
    #[error("school {school} already has an appointed director (right {right}): end that appointment in the same request")]
    DirectorInPlace { school: String, right: i64 },
    #[error("{person} is already the appointed director of school {school}: no delegation to a school's own director")]
    AlreadyDirector { person: String, school: String },
    #[error("{holder}'s previous key was revoked: a new key is prepared only against a validated help request or a key request")]
    ReplacementRequestRequired { holder: String },
    #[error("the {table} record {key} does not match its MAC: it was changed outside keyward; nothing is done with it (run `keyward audit verify`)")]
    RowTampered { table: String, key: String },
    #[error("no PIN reset approval of the district's inspector in force for key {serial}: ask the inspector to approve the reset")]
    NoPinResetApproval { serial: String },
    #[error("the store is shutting down or its worker failed")]
    Unavailable,
    #[error("invalid configuration: {0}")]
    BadConfig(&'static str),
    #[error("PSKC file refused, nothing imported: {0}")]
    Pskc(#[from] crate::pskc::PskcError),
    #[error("the disk holding {path} is nearly full ({available_mib} MiB left, at least {needed_mib} MiB needed): verify does not start")]
    DiskNearlyFull {
        path: String,
        available_mib: u64,
        needed_mib: u64,
    },
    #[error("cannot read how much room is left on the disk holding {path}")]
    DiskUnreadable { path: String },
}

impl StoreError {
    /// `what` named `key` does not exist.
    pub fn not_found(what: &'static str, key: impl ToString) -> Self {
        StoreError::NotFound {
            what,
            key: key.to_string(),
        }
    }

    /// A refusal by a rule, as opposed to a failure of the machinery; refusals
    /// are audited.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            StoreError::Domain(_)
                | StoreError::Pin(_)
                | StoreError::Otp(_)
                | StoreError::NotFound { .. }
                | StoreError::Duplicate { .. }
                | StoreError::Forbidden { .. }
                | StoreError::HolderHasLiveToken { .. }
                | StoreError::NoRight { .. }
                | StoreError::PersonLeft { .. }
                | StoreError::PossessionCheckFailed
                | StoreError::OpenKeyRequest { .. }
                | StoreError::RequestFulfilled(_)
                | StoreError::OwnAct { .. }
                | StoreError::DirectorInPlace { .. }
                | StoreError::AlreadyDirector { .. }
                | StoreError::ReplacementRequestRequired { .. }
                | StoreError::Pskc(_)
                | StoreError::RowTampered { .. }
                | StoreError::NoPinResetApproval { .. }
        )
    }
}

/// The operating system's clock: the I/O shell's only source of time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> crate::domain::UnixTime {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The store's settings, read from `keyward.toml` by [`crate::config`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Personal addresses and help requests must be in this mail domain.
    pub authority_domain: String,
    pub return_deadline: ReturnDeadline,
    /// TOTP steps accepted behind the current one.
    pub totp_behind: u32,
    pub hotp_look_ahead: u32,
    /// The authority's time zone: where "today" is a local day.
    pub time_zone: jiff::tz::TimeZone,
    /// Whether a returned factory-seeded token may be bound again after a
    /// new import of its secret (`seeded_reuse`, docs/config.md).
    pub seeded_reuse: SeededReuse,
    /// Where signed audit checkpoints are appended (`None`: the file
    /// `audit-checkpoints` in the data directory).
    pub checkpoint_file: Option<PathBuf>,
    /// A checkpoint each time the audit passes a multiple of this many
    /// entries.
    pub checkpoint_every: u64,
    /// A refused verify is answered no sooner than this after it was
    /// submitted (`store::verify::Pending`): what a refusal costs to decide
    /// then never shows in when its answer leaves.
    pub refusal_floor: std::time::Duration,
}

/// What becomes of a factory-seeded token once returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeededReuse {
    /// Bound again once a new import replaced its secret.
    #[default]
    AfterImport,
    /// Never bound again: a new import of its serial is refused.
    Never,
}

impl Config {
    pub fn new(authority_domain: &str) -> Self {
        Config {
            authority_domain: authority_domain.to_ascii_lowercase(),
            return_deadline: ReturnDeadline::DEFAULT,
            totp_behind: crate::otp::Totp::DEFAULT_BEHIND,
            hotp_look_ahead: crate::otp::Hotp::DEFAULT_LOOK_AHEAD,
            time_zone: jiff::tz::TimeZone::UTC,
            seeded_reuse: SeededReuse::AfterImport,
            checkpoint_file: None,
            checkpoint_every: checkpoints::DEFAULT_EVERY,
            refusal_floor: Self::DEFAULT_REFUSAL_FLOOR,
        }
    }

    /// Longer than deciding and committing a refusal takes on an idle
    /// daemon (about 0.1 ms, plus the disk's sync), short enough that nobody
    /// who mistyped notices.
    pub const DEFAULT_REFUSAL_FLOOR: std::time::Duration = std::time::Duration::from_millis(2);
    /// The largest floor the configuration accepts.
    pub const MAX_REFUSAL_FLOOR: std::time::Duration = std::time::Duration::from_millis(1000);

    /// Whether the authority mail domain is a domain.
    pub fn check_domain(&self) -> Result<(), StoreError> {
        MailAddress::parse(&format!("x@{}", self.authority_domain))
            .map(|_| ())
            .map_err(|_| StoreError::BadConfig("the authority mail domain is not a domain"))
    }

    /// Largest chance a guesser gets before lockout, per credential:
    /// window × attempts / 10^digits with 6 digits.
    pub const GUESS_BUDGET: f64 = 1e-3;

    pub fn validate(&self) -> Result<(), StoreError> {
        use crate::domain::verify_policy::{LOCK_AFTER, MAX_DRIFT};
        self.check_domain()?;
        let totp = self.totp_behind + 1 + MAX_DRIFT;
        let worst = f64::from(totp.max(self.hotp_look_ahead)) * f64::from(LOCK_AFTER) / 1e6;
        if self.hotp_look_ahead == 0 || totp > crate::otp::MAX_WINDOW || worst > Self::GUESS_BUDGET
        {
            return Err(StoreError::BadConfig(
                "verify windows exceed the guessing budget (window x 10 attempts / 10^6 <= 1/1000)",
            ));
        }
        if self.refusal_floor > Self::MAX_REFUSAL_FLOOR {
            return Err(StoreError::BadConfig(
                "the refusal floor is at most 1000 milliseconds",
            ));
        }
        Ok(())
    }
}

/// What every connection of one store shares.
pub(crate) struct Shared {
    pub(crate) db_path: PathBuf,
    pub(crate) keys: Keys,
    pub(crate) signer: ReceiptSigner,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    /// Credentials whose secret was destroyed: the verify cache drops them.
    pub(crate) dead_credentials: Mutex<Vec<i64>>,
    /// A checkpoint after a secret's destruction could not complete (a
    /// reader held an old snapshot); the next write tries again.
    pub(crate) checkpoint_pending: std::sync::atomic::AtomicBool,
    /// The columns the row MACs cover (`row_mac`).
    pub(crate) row_layout: Arc<row_mac::Layout>,
    /// Signed checkpoints of the audit head, outside the database.
    pub(crate) audit_checkpoints: checkpoints::CheckpointLog,
}

impl Shared {
    /// After a commit that appended to the audit.
    pub(crate) fn audit_moved(&self, head: Option<AuditHead>) {
        if let Some(head) = head {
            self.audit_checkpoints
                .note(&self.signer, head, self.clock.now());
        }
    }

    /// A guard for one more connection of this store.
    pub(crate) fn guard(&self, conn: &Connection) -> Result<row_mac::RowGuard, StoreError> {
        row_mac::RowGuard::install(
            conn,
            Arc::clone(&self.row_layout),
            self.keys.row_key().clone(),
        )
    }
}

/// The store: one connection for lifecycle operations and reads.
pub struct Store {
    shared: Arc<Shared>,
    conn: Mutex<Connection>,
    guard: row_mac::RowGuard,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("db", &self.shared.db_path)
            .finish_non_exhaustive()
    }
}

/// Compiled statements kept per connection: every statement of the store's
/// operations and of the verify writer (about 150 call sites) fits, so a
/// busy connection never compiles one twice (`store::cached`).
const STATEMENT_CACHE: usize = 256;

/// SQLite's default page cache, in KiB (`PRAGMA cache_size = -2000`).
const DEFAULT_CACHE_KIB: i64 = 2000;

/// The page cache of a bulk load ([`Store::with_bulk_load`]), in KiB.
const BULK_CACHE_KIB: i64 = 256 * 1024;

/// Opens and configures a connection. Every connection runs with foreign
/// keys, secure delete and `synchronous=FULL`: a commit is on disk before it
/// returns. (The verify writer then turns it to `NORMAL` and syncs the WAL
/// itself before answering, `verify::durable`.)
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt("journal mode (WAL refused)"));
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "secure_delete", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The one place where a write transaction is opened and closed:
/// `BEGIN IMMEDIATE` (so concurrent writers queue instead of failing on
/// upgrade), commit on `Ok`, roll back on `Err`.
pub(crate) fn in_write_txn<T, E: From<rusqlite::Error>>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match f(&tx) {
        Ok(value) => {
            tx.commit()?;
            Ok(value)
        }
        Err(err) => {
            // Dropping the transaction rolls it back.
            drop(tx);
            Err(err)
        }
    }
}

/// Moves every committed page into the database file and empties the WAL, so
/// no old copy of a destroyed secret survives in `-wal`. Retries while a
/// reader holds an old snapshot.
pub(crate) fn checkpoint_truncate(conn: &Connection) -> Result<bool, StoreError> {
    for attempt in 0..50 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(2 * (attempt + 1)));
    }
    Ok(false)
}

impl Store {
    /// Creates a data directory (0700), its master key (0600) and database,
    /// then opens it as [`Store::open`] does.
    pub fn init(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<Store, StoreError> {
        Store::init_keyed(data_dir, &data_dir.join(MASTER_KEY_FILE), clock, config)
    }

    /// [`Store::init`] with the master key created at `master_key`, which
    /// may lie outside the data directory (e.g. `/etc/keyward/master.key`,
    /// handed to the daemon by systemd).
    pub fn init_keyed(
        data_dir: &Path,
        master_key: &Path,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<Store, StoreError> {
        Store::create_files(data_dir, master_key)?;
        Store::open_keyed(data_dir, master_key, clock, config)
    }

    /// The files of a new data directory: the master key, and the database
    /// with its schema and the sealed receipt key. Run as root in a
    /// directory that belongs to the daemon's user, they are given to it.
    fn create_files(data_dir: &Path, master_key: &Path) -> Result<(), StoreError> {
        secure_fs::ensure_private_dir(data_dir, true)?;
        let db_path = data_dir.join(DB_FILE);
        if std::fs::symlink_metadata(&db_path).is_ok() {
            return Err(StoreError::AlreadyInitialised {
                path: data_dir.display().to_string(),
            });
        }
        let master = MasterKey::create_file(master_key)?;
        if master_key.parent() == Some(data_dir) {
            secure_fs::give_to_dir_owner(data_dir, master_key)?;
        }
        // An empty file is a valid empty SQLite database; creating it ourselves
        // gives it mode 0600, which SQLite copies to -wal and -shm.
        secure_fs::create_private_file(&db_path, b"")?;
        secure_fs::give_to_dir_owner(data_dir, &db_path)?;
        let mut conn = connect(&db_path)?;
        schema::migrate(&mut conn)?;
        let (_, sealed) = ReceiptSigner::generate(&master.keys()?)?;
        in_write_txn(&mut conn, |tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('receipt_key', ?1)",
                [&sealed],
            )?;
            Ok::<_, StoreError>(())
        })
    }

    /// Opens an existing data directory, checking every file's ownership and
    /// mode, and migrating the schema.
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<Store, StoreError> {
        Store::open_keyed(data_dir, &data_dir.join(MASTER_KEY_FILE), clock, config)
    }

    /// [`Store::open`] with the master key read from `master_key`.
    pub fn open_keyed(
        data_dir: &Path,
        master_key: &Path,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<Store, StoreError> {
        secure_fs::ensure_private_dir(data_dir, false)?;
        let db_path = data_dir.join(DB_FILE);
        if std::fs::symlink_metadata(&db_path).is_err() {
            return Err(StoreError::NotInitialised {
                path: data_dir.display().to_string(),
            });
        }
        secure_fs::check_private_file(&db_path)?;
        for suffix in ["-wal", "-shm"] {
            let side = data_dir.join(format!("{DB_FILE}{suffix}"));
            if std::fs::symlink_metadata(&side).is_ok() {
                secure_fs::check_private_file(&side)?;
            }
        }
        let master = MasterKey::load(master_key)?;
        let keys = master.keys()?;
        let mut conn = connect(&db_path)?;
        schema::migrate(&mut conn)?;
        let sealed: Vec<u8> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'receipt_key'",
                [],
                |r| r.get(0),
            )
            .map_err(|_| StoreError::Corrupt("receipt key record"))?;
        let signer = ReceiptSigner::open(&keys, &sealed)?;
        let row_layout = in_write_txn(&mut conn, |tx| row_mac::upgrade(tx, keys.row_key()))?;
        let audit_checkpoints = checkpoints::CheckpointLog::new(
            // A relative path is in the data directory.
            data_dir.join(
                config
                    .checkpoint_file
                    .as_deref()
                    .unwrap_or(Path::new(checkpoints::DEFAULT_FILE)),
            ),
            config.checkpoint_every,
            AuditHead::load(&conn)?.seq,
        );
        let shared = Arc::new(Shared {
            db_path,
            keys,
            signer,
            clock,
            config,
            dead_credentials: Mutex::new(Vec::new()),
            checkpoint_pending: std::sync::atomic::AtomicBool::new(false),
            row_layout: Arc::new(row_layout),
            audit_checkpoints,
        });
        let guard = shared.guard(&conn)?;
        Ok(Store {
            shared,
            conn: Mutex::new(conn),
            guard,
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn db_path(&self) -> &Path {
        &self.shared.db_path
    }

    /// The authority's time zone (`time_zone` in `keyward.toml`): the one
    /// its days are counted in.
    /// The authority's mail domain.
    pub fn authority_domain(&self) -> &str {
        &self.shared.config.authority_domain
    }

    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        &self.shared.config.time_zone
    }

    /// The public half of the receipt key, for `keyward receipt verify`.
    pub fn receipt_public_key(&self) -> [u8; 32] {
        self.shared.signer.public_key()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        // A panic while holding the lock cannot leave a transaction open (the
        // transaction guard rolls back on unwind), so the connection is usable.
        Ok(self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Runs `f` as one write transaction acting as `actor`. On a refusal,
    /// nothing of `f` is kept and the refusal itself is audited.
    pub fn write<T>(
        &self,
        actor: &Actor,
        operation: &'static str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock()?;
        let now = self.shared.clock.now();
        let mut destroyed = Vec::new();
        let mut head = None;
        let result: Result<T, StoreError> = in_write_txn(&mut conn, |db| {
            self.guard.begin();
            let mut tx = Tx::begin(db, &self.shared, &self.guard, actor.clone(), now)?;
            let value = f(&mut tx)?;
            head = tx.audit_head();
            destroyed = tx.into_destroyed();
            self.guard.seal(db)?;
            Ok(value)
        });
        match result {
            Ok(value) => {
                use std::sync::atomic::Ordering;
                self.shared.audit_moved(head);
                if !destroyed.is_empty() {
                    if let Ok(mut dead) = self.shared.dead_credentials.lock() {
                        dead.extend_from_slice(&destroyed);
                    }
                    self.shared.checkpoint_pending.store(true, Ordering::SeqCst);
                }
                if self.shared.checkpoint_pending.load(Ordering::SeqCst) {
                    // The change is committed whatever happens here; a
                    // checkpoint that cannot finish now is retried later.
                    let done = checkpoint_truncate(&conn).unwrap_or(false);
                    self.shared
                        .checkpoint_pending
                        .store(!done, Ordering::SeqCst);
                }
                Ok(value)
            }
            Err(err) if err.is_refusal() => {
                let detail = err.to_string();
                let appended = in_write_txn(&mut conn, |db| {
                    let mut head = AuditHead::load(db)?;
                    head.append(
                        db,
                        &self.shared.keys,
                        &audit::AuditEntry {
                            at: now,
                            actor: &actor.to_string(),
                            action: "refused",
                            subject: operation,
                            detail: &detail,
                        },
                    )?;
                    Ok::<_, StoreError>(head)
                });
                self.shared.audit_moved(appended.ok());
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    /// Runs `f` (bulk, idempotent work: the directory sync) with the
    /// store's commits not waiting for the disk one by one
    /// (`synchronous=NORMAL`: each transaction stays atomic, ordered and
    /// audited), then waits for the disk once: a crash loses at most the
    /// last transactions, which the next run redoes. The verify service's
    /// own connection keeps every commit durable.
    pub fn with_deferred_sync<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        self.lock()?.pragma_update(None, "synchronous", "NORMAL")?;
        let value = f();
        let conn = self.lock()?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // A checkpoint syncs the WAL (every commit above) and the database;
        // if a reader holds it back, the next commit (FULL) syncs the WAL.
        checkpoint_truncate(&conn)?;
        Ok(value)
    }

    /// Runs `f` (a bulk load: `bench setup`) as
    /// [`Store::with_deferred_sync`] does, with the connection keeping up
    /// to [`BULK_CACHE_KIB`] of pages meanwhile (SQLite's default is
    /// 2 MiB): a bulk load touches index pages all over a large file, and
    /// with a million holders the default cache left `bench setup` waiting
    /// on the disk half of its time (issue 13). Back to the default after.
    /// Not for the daemon's own bulk work (the directory sync): the pages
    /// would stay in its memory.
    pub fn with_bulk_load<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        self.lock()?
            .pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
        let value = self.with_deferred_sync(f);
        self.lock()?
            .pragma_update(None, "cache_size", -DEFAULT_CACHE_KIB)?;
        value
    }

    /// Runs `f` on a read snapshot, with the desk's view of everything.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read_as(&Actor::System, f)
    }

    /// Runs `f` on a read snapshot as `actor`: an inspector's reports show
    /// their own district only.
    pub fn read_as<T>(
        &self,
        actor: &Actor,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock()?;
        let now = self.shared.clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut view = Tx::begin(&tx, &self.shared, &self.guard, actor.clone(), now)?;
        let value = f(&mut view)?;
        drop(view);
        tx.finish()?;
        Ok(value)
    }

    /// Checks the audit chain end to end, and every state row's MAC.
    pub fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let conn = self.lock()?;
        AuditReport::build(&conn, &self.shared.keys, &[])
    }

    /// `PRAGMA integrity_check`: "ok" or the problems found.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows.join("\n"))
    }

    /// Signs the audit head now and appends it to the checkpoint file (the
    /// daemon does so when it stops); returns the line written.
    pub fn write_audit_checkpoint(&self) -> Result<String, StoreError> {
        let head = AuditHead::load(&*self.lock()?)?;
        self.shared
            .audit_checkpoints
            .write(&self.shared.signer, head, self.shared.clock.now())
    }

    /// The file signed audit checkpoints are appended to.
    pub fn audit_checkpoint_file(&self) -> &Path {
        self.shared.audit_checkpoints.path()
    }

    /// Entries between two audit checkpoints, and the audit sequence number
    /// the last one signed (the admin console's checkpoint status).
    pub fn audit_checkpoint_status(&self) -> (u64, u64) {
        self.shared.audit_checkpoints.status()
    }

    /// Empties the WAL into the database file (see `checkpoint_truncate`).
    pub fn checkpoint(&self) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        checkpoint_truncate(&conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_budget() {
        assert!(Config::new("ac-exemple.fr").validate().is_ok());
        let mut c = Config::new("ac-exemple.fr");
        c.hotp_look_ahead = 101;
        assert!(matches!(c.validate(), Err(StoreError::BadConfig(_))));
        c.hotp_look_ahead = 0;
        assert!(c.validate().is_err());
        assert!(Config::new("not a domain").validate().is_err());
    }
}
