//! Private files and directories: created 0700/0600, refused when they are
//! symlinks, owned by someone else, or open to the group or to others.
//!
//! Checks run on the opened handle where possible (`O_NOFOLLOW` + `fstat`), so
//! a file swapped between check and use is still caught.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

/// Why a path is not private enough, or could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    #[error("{path} is a symbolic link; give the real path")]
    Symlink { path: String },
    #[error("{path} is owned by uid {owner}, not by the running user (uid {uid}); chown it")]
    NotOwned { path: String, owner: u32, uid: u32 },
    #[error("{path} has mode {mode:o}: group and others must have no access (chmod go-rwx)")]
    TooOpen { path: String, mode: u32 },
    #[error("{path} is not a {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("{path} already exists")]
    Exists { path: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(
        "{ancestor}, a parent of {path}, can be changed by others (mode {mode:o}, owner uid {owner}): \
         whoever can write there can swap the directory; use a parent owned by root or you, \
         not writable by group or others (or sticky, like /tmp)"
    )]
    OpenAncestor {
        path: String,
        ancestor: String,
        mode: u32,
        owner: u32,
    },
}

fn io(path: &Path, err: std::io::Error) -> FsError {
    if err.kind() == std::io::ErrorKind::AlreadyExists {
        return FsError::Exists {
            path: path.display().to_string(),
        };
    }
    // ELOOP from O_NOFOLLOW: the final component is a symlink.
    if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return FsError::Symlink {
            path: path.display().to_string(),
        };
    }
    FsError::Io {
        path: path.display().to_string(),
        message: err.to_string(),
    }
}

fn check_metadata(path: &Path, meta: &std::fs::Metadata, dir: bool) -> Result<(), FsError> {
    let shown = || path.display().to_string();
    if meta.file_type().is_symlink() {
        return Err(FsError::Symlink { path: shown() });
    }
    if dir != meta.is_dir() || (!dir && !meta.is_file()) {
        return Err(FsError::WrongType {
            path: shown(),
            expected: if dir { "directory" } else { "regular file" },
        });
    }
    check_owner_and_mode(path, meta, dir, 0o077)
}

/// `path` (whose metadata is `meta`) is owned by someone trusted
/// ([`owner_trusted`]) and has none of the `forbidden` mode bits.
fn check_owner_and_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    dir: bool,
    forbidden: u32,
) -> Result<(), FsError> {
    let uid = rustix::process::geteuid().as_raw();
    if !owner_trusted(path, meta.uid(), uid, dir) {
        return Err(FsError::NotOwned {
            path: path.display().to_string(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & forbidden != 0 {
        return Err(FsError::TooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// Whether `path`, owned by `owner`, may be used by a process running as
/// `uid`: its own files, and root's (only root could have made them; systemd
/// hands credentials over that way). Root acts for the daemon's user
/// (`keyward backup`, `restore`, `doctor` run as root on the daemon's data
/// directory): it accepts that directory whoever owns it, and a file there
/// when the file's owner is the directory's, never another user's file.
fn owner_trusted(path: &Path, owner: u32, uid: u32, dir: bool) -> bool {
    if owner == uid || owner == 0 {
        return true;
    }
    if uid != 0 {
        return false;
    }
    if dir {
        return true;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::symlink_metadata(parent).is_ok_and(|m| m.uid() == owner)
}

/// Reads a configuration file of at most `max_len` bytes: not a symlink, a
/// regular file owned by the running user or root, writable by its owner
/// only and not readable by others. Its group may read it, so a package can
/// install `/etc/keyward/keyward.toml` as root:keyward 0640.
pub fn read_config_file(path: &Path, max_len: usize) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| io(path, e))?;
    let meta = file.metadata().map_err(|e| io(path, e))?;
    let shown = || path.display().to_string();
    if !meta.is_file() {
        return Err(FsError::WrongType {
            path: shown(),
            expected: "regular file",
        });
    }
    check_owner_and_mode(path, &meta, false, 0o027)?;
    read_limited(file, path, max_len)
}

/// Gives `path` the owner and group of `dir` when running as root, so files
/// root creates in the daemon's data directory stay the daemon's.
pub fn give_to_dir_owner(dir: &Path, path: &Path) -> Result<(), FsError> {
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| io(dir, e))?;
    if meta.uid() == 0 {
        return Ok(());
    }
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::process::Uid::from_raw(meta.uid())),
        Some(rustix::process::Gid::from_raw(meta.gid())),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io(path, e.into()))
}

/// Creates the directory 0700 if `create` and it is missing; then checks it
/// and its parents ([`check_ancestors`]).
pub fn ensure_private_dir(path: &Path, create: bool) -> Result<(), FsError> {
    check_ancestors(path)?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) => check_metadata(path, &meta, true),
        Err(err) if create && err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(path)
                .map_err(|e| io(path, e))?;
            let meta = std::fs::symlink_metadata(path).map_err(|e| io(path, e))?;
            check_metadata(path, &meta, true)
        }
        Err(err) => Err(io(path, err)),
    }
}

/// Every parent directory of `path` (made absolute, symlinks resolved) is
/// owned by root or the running user and writable by nobody else, unless
/// sticky (`/tmp`: others may add entries but not rename or remove ours).
/// Otherwise someone else could rename the data directory away and put
/// their own in its place.
pub fn check_ancestors(path: &Path) -> Result<(), FsError> {
    let absolute = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::canonicalize(parent).map_err(|e| io(parent, e))?
        }
        _ => std::env::current_dir().map_err(|e| io(path, e))?,
    };
    let uid = rustix::process::geteuid().as_raw();
    for ancestor in absolute.ancestors() {
        let meta = std::fs::metadata(ancestor).map_err(|e| io(ancestor, e))?;
        let mode = meta.mode() & 0o7777;
        let sticky = mode & 0o1000 != 0;
        // Root acts for the daemon's user (backup, restore, doctor), whose
        // directories it trusts as `owner_trusted` does; modes still count.
        let owner_ok = meta.uid() == 0 || meta.uid() == uid || uid == 0;
        if !owner_ok || (mode & 0o022 != 0 && !sticky) {
            return Err(FsError::OpenAncestor {
                path: path.display().to_string(),
                ancestor: ancestor.display().to_string(),
                mode,
                owner: meta.uid(),
            });
        }
    }
    Ok(())
}

/// Checks an existing file without opening it for use.
pub fn check_private_file(path: &Path) -> Result<(), FsError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| io(path, e))?;
    check_metadata(path, &meta, false)
}

fn nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Writes a new file, 0600, refusing to replace anything, and syncs it.
pub fn create_private_file(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| io(path, e))?;
    // The umask may have removed bits, never added: still set exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io(path, e))?;
    file.write_all(bytes).map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))?;
    if let Some(parent) = path.parent() {
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// Reads a private file of at most `max_len` bytes into zeroizing memory,
/// checking the opened handle.
pub fn read_private_file(path: &Path, max_len: usize) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| io(path, e))?;
    let meta = file.metadata().map_err(|e| io(path, e))?;
    check_metadata(path, &meta, false)?;
    read_limited(file, path, max_len)
}

fn read_limited(file: File, path: &Path, max_len: usize) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let mut buf = Zeroizing::new(Vec::with_capacity(max_len + 1));
    file.take(max_len as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| io(path, e))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_writable_by_others_is_refused_unless_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = open.join("data");
        assert!(matches!(
            ensure_private_dir(&data, true),
            Err(FsError::OpenAncestor { .. })
        ));
        assert!(!data.exists(), "nothing created under an open parent");
        // Group-writable is as bad.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(ensure_private_dir(&data, true).is_err());
        // Sticky, like /tmp: entries of others cannot be renamed away.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_private_dir(&data, true).unwrap();
        // Deeper: an open grandparent is refused too.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let nested = data.join("backups");
        assert!(ensure_private_dir(&nested, true).is_err());
    }

    #[test]
    fn refuses_symlinks_and_open_modes() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        ensure_private_dir(&data, true).unwrap();
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let key = data.join("k");
        create_private_file(&key, b"abc").unwrap();
        assert_eq!(&**read_private_file(&key, 10).unwrap(), b"abc");
        assert!(matches!(
            create_private_file(&key, b"x"),
            Err(FsError::Exists { .. })
        ));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read_private_file(&key, 10),
            Err(FsError::TooOpen { .. })
        ));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = data.join("link");
        std::os::unix::fs::symlink(&key, &link).unwrap();
        assert!(matches!(
            read_private_file(&link, 10),
            Err(FsError::Symlink { .. })
        ));
        assert!(matches!(
            check_private_file(&link),
            Err(FsError::Symlink { .. })
        ));
        let dir_link = dir.path().join("data-link");
        std::os::unix::fs::symlink(&data, &dir_link).unwrap();
        assert!(matches!(
            ensure_private_dir(&dir_link, false),
            Err(FsError::Symlink { .. })
        ));
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            ensure_private_dir(&data, false),
            Err(FsError::TooOpen { .. })
        ));
    }
}
