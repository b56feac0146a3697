//! The virtual token's persistent state and where it is kept. The file store
//! writes atomically (temporary file, fsync, rename, fsync of the directory), so
//! a crash or kill leaves either the old state or the new one.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::VirtualTokenError;

/// Device PIN and PUK tries after a set or reset (`docs/devices.md`: 3 tries).
pub const PIN_TRIES: u8 = 3;

/// Everything the token remembers. Secrets are [`HexSecret`]s.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppletState {
    pub serial: u32,
    /// YKOATH salt / device name (tag 71), rotated on RESET.
    pub salt: String,
    pub access_key: Option<StoredAccessKey>,
    #[serde(default)]
    pub credentials: Vec<StoredCredential>,
    pub pin: Option<HexSecret>,
    pub pin_tries: u8,
    pub puk: Option<HexSecret>,
    pub puk_tries: u8,
}

impl AppletState {
    /// A token as it leaves the factory or a RESET: no credential, no
    /// access key, no PIN, full tries.
    pub fn fresh(serial: u32, salt: String) -> AppletState {
        AppletState {
            serial,
            salt,
            access_key: None,
            credentials: Vec::new(),
            pin: None,
            pin_tries: PIN_TRIES,
            puk: None,
            puk_tries: PIN_TRIES,
        }
    }
}

/// A secret as the state file keeps it: hex, in zeroizing memory. Its
/// `Debug` shows nothing, so the state types can derive theirs.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct HexSecret(Zeroizing<String>);

impl HexSecret {
    pub fn new(hex: String) -> HexSecret {
        HexSecret(Zeroizing::new(hex))
    }

    /// The hex text (deliberately named: it is the secret).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HexSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoredAccessKey {
    /// The YKOATH type/algorithm byte's algorithm nibble (1 = SHA1).
    pub algorithm: u8,
    pub key: HexSecret,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoredCredential {
    /// Credential id, hex (names are arbitrary bytes on the wire).
    pub name: String,
    /// YKOATH type/algorithm byte.
    pub type_alg: u8,
    pub digits: u8,
    pub key: HexSecret,
    #[serde(default)]
    pub touch: bool,
    #[serde(default)]
    pub increasing: bool,
    /// HOTP moving factor: the counter of the next calculation.
    #[serde(default)]
    pub counter: u64,
}

/// Where the state lives.
pub trait StateStore {
    /// The saved state, or `None` for a blank token.
    fn load(&mut self) -> Result<Option<AppletState>, VirtualTokenError>;
    /// Replaces the saved state; returns only once it is durable.
    fn save(&mut self, state: &AppletState) -> Result<(), VirtualTokenError>;
}

/// In-memory store for tests; `fail_saves` simulates a full disk.
#[derive(Debug, Default)]
pub struct MemoryStore {
    pub state: Option<AppletState>,
    pub fail_saves: bool,
}

impl StateStore for MemoryStore {
    fn load(&mut self) -> Result<Option<AppletState>, VirtualTokenError> {
        Ok(self.state.clone())
    }

    fn save(&mut self, state: &AppletState) -> Result<(), VirtualTokenError> {
        if self.fail_saves {
            return Err(VirtualTokenError::Io {
                path: PathBuf::from("<memory>"),
                source: std::io::Error::other("save refused"),
            });
        }
        self.state = Some(state.clone());
        Ok(())
    }
}

/// A TOML file, replaced atomically on every save, mode 0600.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> VirtualTokenError {
        VirtualTokenError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl StateStore for FileStore {
    fn load(&mut self) -> Result<Option<AppletState>, VirtualTokenError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| VirtualTokenError::CorruptState {
                path: self.path.clone(),
                message: e.message().to_owned(),
            })
    }

    fn save(&mut self, state: &AppletState) -> Result<(), VirtualTokenError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let text = Zeroizing::new(toml::to_string(state).map_err(|e| {
            VirtualTokenError::CorruptState {
                path: self.path.clone(),
                message: e.to_string(),
            }
        })?);
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        file.write_all(text.as_bytes()).map_err(|e| self.io(e))?;
        file.sync_all().map_err(|e| self.io(e))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AppletState {
        AppletState {
            serial: 7,
            salt: "0011223344556677".into(),
            access_key: None,
            credentials: vec![StoredCredential {
                name: "41".into(),
                type_alg: 0x21,
                digits: 6,
                key: HexSecret::new("3132".into()),
                touch: false,
                increasing: false,
                counter: 0,
            }],
            pin: Some(HexSecret::new("313233343536".into())),
            pin_tries: 3,
            puk: None,
            puk_tries: 3,
        }
    }

    #[test]
    fn file_store_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.toml");
        let mut store = FileStore::new(&path);
        assert_eq!(store.load().unwrap(), None);
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), Some(sample()));
        assert!(!dir.path().join("token.toml.tmp").exists());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_or_unknown_fields_fail_loudly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.toml");
        std::fs::write(&path, "serial = 1\nbogus = 2\n").unwrap();
        assert!(matches!(
            FileStore::new(&path).load(),
            Err(VirtualTokenError::CorruptState { .. })
        ));
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("3132"), "{shown}");
    }
}
