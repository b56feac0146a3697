//! The backup file: a clear header (what the backup holds, so `keyward
//! restore` can say it before opening anything) and the files of the data
//! directory, sealed together with AES-256-GCM under a key derived from the
//! master key under its own label. The header is the associated data: a
//! header changed after the fact makes the whole file refused.
//!
//! ```text
//! "KEYWARD-BACKUP\x01" ‖ header length (u32 BE) ‖ header (JSON)
//!   ‖ nonce (12) ‖ AES-256-GCM(entries) ‖ tag (16)
//! entries: { name length (u16 BE) ‖ name ‖ data length (u64 BE) ‖ data }*
//! ```

use ring::aead::{self, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{CryptoError, MasterKey};

const MAGIC: &[u8] = b"KEYWARD-BACKUP\x01";
const TAG_LEN: usize = 16;
/// A header is a few hundred bytes; anything larger is not a backup.
const MAX_HEADER: usize = 64 * 1024;

/// Why a backup file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("not a keyward backup file")]
    NotABackup,
    #[error("the backup file is truncated or malformed: {0}")]
    Malformed(&'static str),
    #[error("the backup was altered, or was taken under another master key")]
    Rejected,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// What a backup says about itself, readable without the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// Unix seconds when the snapshot was taken.
    pub taken_at: u64,
    pub schema_version: i64,
    /// The audit chain's head in the snapshot.
    pub audit_entries: u64,
    pub audit_head: String,
    /// The files inside, in order.
    pub files: Vec<String>,
}

/// One file of the data directory, in a backup.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub name: String,
    pub data: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for BackupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupFile({}, {} bytes)", self.name, self.data.len())
    }
}

/// The key that seals backups.
pub struct BackupKey(LessSafeKey);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey([redacted])")
    }
}

impl MasterKey {
    /// The backup key: HKDF under the label "backup", apart from every
    /// other working key.
    pub fn backup_key(&self) -> Result<BackupKey, CryptoError> {
        let key: UnboundKey = self.derive(b"backup", &AES_256_GCM)?;
        Ok(BackupKey(LessSafeKey::new(key)))
    }
}

fn aad(header: &[u8]) -> Result<Vec<u8>, BackupError> {
    let len = u32::try_from(header.len()).map_err(|_| BackupError::Malformed("header size"))?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(header);
    Ok(out)
}

impl BackupKey {
    /// Seals `files` under a fresh random nonce, behind `header`.
    pub fn seal(
        &self,
        header: &BackupHeader,
        files: &[BackupFile],
    ) -> Result<Vec<u8>, BackupError> {
        let header = serde_json::to_vec(header).map_err(|_| BackupError::Malformed("header"))?;
        let mut body = Zeroizing::new(Vec::new());
        for file in files {
            let name_len =
                u16::try_from(file.name.len()).map_err(|_| BackupError::Malformed("file name"))?;
            body.extend_from_slice(&name_len.to_be_bytes());
            body.extend_from_slice(file.name.as_bytes());
            body.extend_from_slice(&(file.data.len() as u64).to_be_bytes());
            body.extend_from_slice(&file.data);
        }
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CryptoError::Random)?;
        let mut out = aad(&header)?;
        let mut sealed = body.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&out),
                &mut sealed,
            )
            .map_err(|_| BackupError::Rejected)?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a backup sealed by [`BackupKey::seal`] under the same master key.
    pub fn open(&self, bytes: &[u8]) -> Result<(BackupHeader, Vec<BackupFile>), BackupError> {
        let (header, rest) = read_header(bytes)?;
        let aad_len = bytes.len() - rest.len();
        let (nonce, sealed) = rest
            .split_at_checked(NONCE_LEN)
            .filter(|(_, s)| s.len() >= TAG_LEN)
            .ok_or(BackupError::Malformed("sealed part"))?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| BackupError::Malformed("nonce"))?;
        let mut body = Zeroizing::new(sealed.to_vec());
        let aad = bytes
            .get(..aad_len)
            .ok_or(BackupError::Malformed("header"))?;
        let len = self
            .0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut body,
            )
            .map_err(|_| BackupError::Rejected)?
            .len();
        body.truncate(len);
        let files = decode_files(&body)?;
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        if names != header.files.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(BackupError::Malformed("file list"));
        }
        Ok((header, files))
    }
}

/// Reads the clear header (no key needed); returns it and what follows.
pub fn read_header(bytes: &[u8]) -> Result<(BackupHeader, &[u8]), BackupError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(BackupError::NotABackup)?;
    let (len, rest) = take::<4>(rest).ok_or(BackupError::Malformed("header length"))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_HEADER {
        return Err(BackupError::Malformed("header length"));
    }
    let (header, rest) = rest
        .split_at_checked(len)
        .ok_or(BackupError::Malformed("header"))?;
    let header = serde_json::from_slice(header).map_err(|_| BackupError::Malformed("header"))?;
    Ok((header, rest))
}

fn take<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = bytes.split_at_checked(N)?;
    Some((head.try_into().ok()?, rest))
}

fn decode_files(mut body: &[u8]) -> Result<Vec<BackupFile>, BackupError> {
    let mut files = Vec::new();
    while !body.is_empty() {
        let bad = BackupError::Malformed("file entry");
        let (name_len, rest) = take::<2>(body).ok_or(bad.clone())?;
        let (name, rest) = rest
            .split_at_checked(usize::from(u16::from_be_bytes(name_len)))
            .ok_or(bad.clone())?;
        let (data_len, rest) = take::<8>(rest).ok_or(bad.clone())?;
        let data_len = usize::try_from(u64::from_be_bytes(data_len)).map_err(|_| bad.clone())?;
        let (data, rest) = rest.split_at_checked(data_len).ok_or(bad.clone())?;
        let name = std::str::from_utf8(name).map_err(|_| bad)?;
        files.push(BackupFile {
            name: name.to_owned(),
            data: Zeroizing::new(data.to_vec()),
        });
        body = rest;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (BackupHeader, Vec<BackupFile>) {
        let files = vec![
            BackupFile {
                name: "keyward.db".into(),
                data: Zeroizing::new(b"sqlite bytes".to_vec()),
            },
            BackupFile {
                name: "keyward.toml".into(),
                data: Zeroizing::new(Vec::new()),
            },
        ];
        let header = BackupHeader {
            taken_at: 1_700_000_000,
            schema_version: 3,
            audit_entries: 12,
            audit_head: "ab".repeat(32),
            files: files.iter().map(|f| f.name.clone()).collect(),
        };
        (header, files)
    }

    #[test]
    fn a_backup_opens_under_its_master_key_only() {
        let master = MasterKey::generate().unwrap();
        let key = master.backup_key().unwrap();
        let (header, files) = sample();
        let sealed = key.seal(&header, &files).unwrap();
        assert_eq!(key.open(&sealed).unwrap(), (header.clone(), files));
        assert_eq!(read_header(&sealed).unwrap().0, header);
        let other = MasterKey::generate().unwrap().backup_key().unwrap();
        assert_eq!(other.open(&sealed), Err(BackupError::Rejected));
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let key = MasterKey::generate().unwrap().backup_key().unwrap();
        let (header, files) = sample();
        let sealed = key.seal(&header, &files).unwrap();
        for at in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[at] ^= 0x01;
            assert!(key.open(&bad).is_err(), "byte {at}");
        }
        for len in 0..sealed.len() {
            assert!(key.open(&sealed[..len]).is_err(), "length {len}");
        }
        assert_eq!(key.open(b"SQLite format 3\0"), Err(BackupError::NotABackup));
    }
}
