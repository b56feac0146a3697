//! The cryptography of PSKC files: AES-CBC with the IV prepended (XML
//! Encryption), the HMAC `ValueMAC` over IV and ciphertext, compared in
//! constant time, and PBKDF2 for passphrase files.

use std::num::NonZeroU32;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use ring::{hmac, pbkdf2};
use zeroize::Zeroizing;

use super::Reason;

pub(super) const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub(super) const AES192_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
pub(super) const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub(super) const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
pub(super) const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
pub(super) const PBKDF2: &str = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2";

/// The MAC algorithm of a file's `MACMethod`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mac {
    Sha1,
    Sha256,
}

impl Mac {
    pub(super) fn parse(uri: &str) -> Result<Mac, Reason> {
        match uri.trim() {
            HMAC_SHA1 => Ok(Mac::Sha1),
            HMAC_SHA256 => Ok(Mac::Sha256),
            other => Err(Reason::Unknown {
                what: "MAC algorithm",
                value: other.to_owned(),
            }),
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            Mac::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Mac::Sha256 => hmac::HMAC_SHA256,
        }
    }

    /// Checks `tag` over `data` in constant time.
    pub(super) fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), Reason> {
        let key = hmac::Key::new(self.algorithm(), key);
        hmac::verify(&key, data, tag).map_err(|_| Reason::BadMac)
    }
}

/// The key length an XML Encryption algorithm URI asks for.
pub(super) fn key_len(uri: &str) -> Result<usize, Reason> {
    match uri.trim() {
        AES128_CBC => Ok(16),
        AES192_CBC => Ok(24),
        AES256_CBC => Ok(32),
        other => Err(Reason::Unknown {
            what: "encryption algorithm",
            value: other.to_owned(),
        }),
    }
}

/// Decrypts `iv ‖ ciphertext` with AES-CBC; XML Encryption padding (the
/// last byte is the pad length, the others are arbitrary).
pub(super) fn decrypt(
    algorithm: &str,
    key: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Reason> {
    let wanted = key_len(algorithm)?;
    if key.len() != wanted {
        return Err(Reason::WrongKey);
    }
    if data.len() < 32 || data.len() % 16 != 0 {
        return Err(Reason::Bad {
            what: "encrypted value",
            why: "not an IV and whole AES blocks",
        });
    }
    let (iv, body) = data.split_at(16);
    let mut buf = Zeroizing::new(body.to_vec());
    let done = match wanted {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| Reason::WrongKey)?
            .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
            .map(<[u8]>::len),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(|_| Reason::WrongKey)?
            .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
            .map(<[u8]>::len),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| Reason::WrongKey)?
            .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
            .map(<[u8]>::len),
    };
    let len = done.map_err(|_| Reason::WrongKey)?;
    let pad = buf.get(len.wrapping_sub(1)).copied().unwrap_or(0) as usize;
    if pad == 0 || pad > 16 || pad > len {
        return Err(Reason::WrongKey);
    }
    buf.truncate(len - pad);
    Ok(buf)
}

/// PBKDF2 parameters from a `DerivedKey`.
pub(super) struct Pbkdf2 {
    pub(super) salt: Vec<u8>,
    pub(super) iterations: u32,
    pub(super) key_len: usize,
    pub(super) prf: Mac,
}

impl Pbkdf2 {
    pub(super) fn derive(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Reason> {
        let iterations = NonZeroU32::new(self.iterations)
            .filter(|n| n.get() <= super::MAX_PBKDF2_ITERATIONS)
            .ok_or(Reason::Bad {
                what: "PBKDF2 iteration count",
                why: "zero or above 1000000",
            })?;
        if !matches!(self.key_len, 16 | 24 | 32) {
            return Err(Reason::Bad {
                what: "PBKDF2 key length",
                why: "not 16, 24 or 32 bytes",
            });
        }
        let algorithm = match self.prf {
            Mac::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Mac::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        };
        let mut out = Zeroizing::new(vec![0u8; self.key_len]);
        pbkdf2::derive(algorithm, iterations, &self.salt, passphrase, &mut out);
        Ok(out)
    }
}
