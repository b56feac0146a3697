//! Backup and restore of a data directory, and the daemon's lock on it.
//!
//! A backup is taken while the daemon runs: `VACUUM INTO` copies one
//! consistent snapshot of the database (a read transaction, so writers go
//! on), whose audit chain is verified before anything is sealed. The copy,
//! the data directory's config file and [`BACKUP_EXTRA_FILES`] are sealed
//! together under the master key's backup key (`crypto::backup`).
//!
//! A restore goes into a stopped daemon's data directory only: it is staged
//! beside the database, every credential's replay floor is moved past what
//! the backup could accept (`Tx::advance_floors_after_restore`, audited),
//! the chain is verified again, and only then does it replace the database.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::{audit, connect, open_read_only, Config, FloorsMoved, Store, StoreError, DB_FILE};
use crate::config::CONFIG_FILE;
use crate::crypto::backup::{BackupError, BackupFile, BackupHeader};
use crate::crypto::MasterKey;
use crate::domain::{Actor, Clock};
use crate::secure_fs::{self, FsError};

/// The file `keyward serve` holds an exclusive lock on while it runs.
pub const LOCK_FILE: &str = "keyward.lock";

/// Files of the data directory saved beside the database when present.
/// A file added to the data directory that a restore needs (such as the
/// audit head checkpoints) belongs in this list.
pub const BACKUP_EXTRA_FILES: &[&str] = &[CONFIG_FILE, super::checkpoints::DEFAULT_FILE];

/// Why a backup or restore did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupRefused {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("backup file: {0}")]
    File(#[from] BackupError),
    #[error("the audit chain of the database is broken ({0}): nothing was saved; run `keyward audit verify`")]
    AuditBroken(String),
    #[error("keyward serve is running on {0}: stop it first (systemctl stop keyward)")]
    DaemonRunning(String),
    #[error("{0} already holds a keyward database: restore into an empty directory, or pass --force to replace it")]
    TargetNotEmpty(String),
    #[error("the backup holds no database")]
    NoDatabase,
    #[error("the backup's schema version {found} is newer than this keyward's ({supported}): upgrade keyward")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// The daemon's exclusive lock on its data directory, held while it runs.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

fn lock_file(data_dir: &Path, create: bool) -> Result<Option<File>, FsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(LOCK_FILE);
    let shown = || path.display().to_string();
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path);
    match opened {
        Ok(file) => {
            if create {
                // Root restoring the daemon's directory leaves the lock the
                // daemon's, or it could not start again.
                secure_fs::give_to_dir_owner(data_dir, &path)?;
            }
            Ok(Some(file))
        }
        Err(err) if !create && err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(FsError::Io {
            path: shown(),
            message: err.to_string(),
        }),
    }
}

fn try_lock(file: &File) -> bool {
    rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
}

impl DaemonLock {
    /// Takes the lock, or says that another `keyward serve` holds it.
    pub fn acquire(data_dir: &Path) -> Result<DaemonLock, BackupRefused> {
        let file = lock_file(data_dir, true)?.ok_or(BackupRefused::NoDatabase)?;
        if !try_lock(&file) {
            return Err(BackupRefused::DaemonRunning(data_dir.display().to_string()));
        }
        Ok(DaemonLock { _file: file })
    }
}

/// Whether a `keyward serve` holds the data directory's lock now.
pub fn daemon_running(data_dir: &Path) -> Result<bool, FsError> {
    Ok(match lock_file(data_dir, false)? {
        Some(file) => !try_lock(&file),
        None => false,
    })
}

/// A private scratch directory inside the data directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(data_dir: &Path, what: &str) -> Result<Scratch, FsError> {
        let path = data_dir.join(format!(".{what}-{}", std::process::id()));
        if std::fs::symlink_metadata(&path).is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
        secure_fs::ensure_private_dir(&path, true)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, FsError> {
    std::fs::read(path).map_err(|err| FsError::Io {
        path: format!("{} ({what})", path.display()),
        message: err.to_string(),
    })
}

/// Takes a consistent backup of a data directory, the daemon running or
/// not, and returns the sealed file's bytes and its header.
pub fn take_backup(
    data_dir: &Path,
    master_key: &Path,
    now: u64,
) -> Result<(BackupHeader, Vec<u8>), BackupRefused> {
    let (_, keys) = open_read_only(data_dir, master_key)?;
    let master = MasterKey::load(master_key).map_err(StoreError::from)?;
    let scratch = Scratch::new(data_dir, "backup")?;
    let copy = scratch.0.join(DB_FILE);
    {
        let conn = connect(&data_dir.join(DB_FILE))?;
        let target = copy.to_str().ok_or(FsError::WrongType {
            path: copy.display().to_string(),
            expected: "UTF-8 path",
        })?;
        conn.execute("VACUUM INTO ?1", [target])
            .map_err(StoreError::from)?;
    }
    let snapshot = Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(StoreError::from)?;
    let schema_version: i64 = snapshot
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(StoreError::from)?;
    let head = audit::verify_chain(&snapshot, &keys)?
        .map_err(|broken| BackupRefused::AuditBroken(broken.to_string()))?;
    drop(snapshot);
    let mut files = vec![BackupFile {
        name: DB_FILE.to_owned(),
        data: zeroize::Zeroizing::new(read_file(&copy, "snapshot")?),
    }];
    for name in BACKUP_EXTRA_FILES {
        let path = data_dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            files.push(BackupFile {
                name: (*name).to_owned(),
                data: secure_fs::read_config_file(&path, 16 * 1024 * 1024)?,
            });
        }
    }
    let header = BackupHeader {
        taken_at: now,
        schema_version,
        audit_entries: head.seq,
        audit_head: data_encoding::HEXLOWER.encode(&head.mac),
        files: files.iter().map(|f| f.name.clone()).collect(),
    };
    let sealed = master
        .backup_key()
        .map_err(StoreError::from)?
        .seal(&header, &files)?;
    Ok((header, sealed))
}

/// Opens a backup file's bytes with the master key at `master_key`.
pub fn open_backup(
    sealed: &[u8],
    master_key: &Path,
) -> Result<(BackupHeader, Vec<BackupFile>), BackupRefused> {
    let master = MasterKey::load(master_key).map_err(StoreError::from)?;
    Ok(master
        .backup_key()
        .map_err(StoreError::from)?
        .open(sealed)?)
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub header: BackupHeader,
    pub floors: FloorsMoved,
    /// The audit chain's length after the restore's own entries.
    pub audit_entries: u64,
}

/// Restores an opened backup ([`open_backup`]) into `data_dir` (created when missing), refusing while
/// a daemon runs there, or over an existing database unless `force`.
/// HOTP floors move `hotp_advance` counters forward (at least the config's
/// look-ahead), TOTP floors to the current step (see
/// `domain::verify_policy::floor_after_restore`).
pub fn restore_backup(
    opened: (BackupHeader, Vec<BackupFile>),
    data_dir: &Path,
    master_key: &Path,
    config: Config,
    clock: Arc<dyn Clock>,
    hotp_advance: u32,
    force: bool,
) -> Result<Restored, BackupRefused> {
    let (header, files) = opened;
    if header.schema_version > super::SCHEMA_VERSION {
        return Err(BackupRefused::SchemaTooNew {
            found: header.schema_version,
            supported: super::SCHEMA_VERSION,
        });
    }
    let database = files
        .iter()
        .find(|f| f.name == DB_FILE)
        .ok_or(BackupRefused::NoDatabase)?;
    secure_fs::ensure_private_dir(data_dir, true)?;
    let _lock = DaemonLock::acquire(data_dir)?;
    let target = data_dir.join(DB_FILE);
    if std::fs::symlink_metadata(&target).is_ok() && !force {
        return Err(BackupRefused::TargetNotEmpty(
            data_dir.display().to_string(),
        ));
    }
    let advance = hotp_advance.max(config.hotp_look_ahead);
    let scratch = Scratch::new(data_dir, "restore")?;
    secure_fs::create_private_file(&scratch.0.join(DB_FILE), &database.data)?;
    let (floors, audit_entries) = {
        let store = Store::open_keyed(&scratch.0, master_key, Arc::clone(&clock), config)?;
        let floors = store.write(&Actor::System, "restore", |tx| {
            tx.advance_floors_after_restore(advance, header.taken_at)
        })?;
        let report = store.verify_audit()?;
        let seq = match &report.chain {
            Ok(head) if report.is_ok() => head.seq,
            Ok(_) => {
                let why = "state rows were changed outside keyward".to_owned();
                return Err(BackupRefused::AuditBroken(why));
            }
            Err(broken) => return Err(BackupRefused::AuditBroken(broken.to_string())),
        };
        store.checkpoint()?;
        (floors, seq)
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(scratch.0.join(format!("{DB_FILE}{suffix}")));
        let old = data_dir.join(format!("{DB_FILE}{suffix}"));
        if std::fs::symlink_metadata(&old).is_ok() {
            std::fs::remove_file(&old).map_err(|err| FsError::Io {
                path: old.display().to_string(),
                message: err.to_string(),
            })?;
        }
    }
    let staged = scratch.0.join(DB_FILE);
    secure_fs::give_to_dir_owner(data_dir, &staged)?;
    std::fs::rename(&staged, &target).map_err(|err| FsError::Io {
        path: target.display().to_string(),
        message: err.to_string(),
    })?;
    for file in files.iter().filter(|f| f.name != DB_FILE) {
        if !BACKUP_EXTRA_FILES.contains(&file.name.as_str()) {
            continue;
        }
        let path = data_dir.join(&file.name);
        if std::fs::symlink_metadata(&path).is_ok() {
            if !force {
                continue;
            }
            let _ = std::fs::remove_file(&path);
        }
        secure_fs::create_private_file(&path, &file.data)?;
        secure_fs::give_to_dir_owner(data_dir, &path)?;
    }
    if let Ok(dir) = File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(Restored {
        header,
        floors,
        audit_entries,
    })
}
