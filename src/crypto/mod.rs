//! Keys and sealing: the master key file, AES-256-GCM sealing of secrets, the
//! PIN verifier, the audit chain key and the Ed25519 receipt key.
//!
//! Every working key is derived from the 32-byte master key with HKDF-SHA-256
//! under its own label, so no two uses share a key. The master key lives in its
//! own file (0600), never in the database: a copy of the database alone opens
//! no secret, tests no PIN and forges no audit entry.

pub mod backup;
pub mod checkpoint;
pub mod pin;

use std::fmt;
use std::path::Path;

use ring::aead::{self, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use zeroize::Zeroizing;

use crate::domain::receipt::SignedReceipt;
use crate::domain::DomainError;
use crate::otp::{Secret, MIN_SECRET_LEN};
use crate::secure_fs::{self, FsError};

pub use pin::{Pin, PinProblem};

pub const MASTER_KEY_LEN: usize = 32;
/// Version byte in front of every sealed blob.
const SEAL_V1: u8 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("master key file: {0}")]
    KeyFile(#[from] FsError),
    #[error("master key file {path} must hold exactly {MASTER_KEY_LEN} bytes")]
    KeyFileLength { path: String },
    #[error("the system random number generator failed")]
    Random,
    #[error("sealed data was rejected: it was altered, moved to another record, or sealed under another master key")]
    SealedDataRejected,
    #[error("a sealed secret does not hold a valid secret")]
    BadSecret,
    #[error("public key must be 32 bytes of Ed25519, in hex or base64")]
    BadPublicKey,
    #[error("receipt was signed by key {found}, not by the given key {expected}")]
    WrongReceiptKey { expected: String, found: String },
    #[error("receipt signature is invalid: the receipt was altered or forged")]
    BadSignature,
    #[error(transparent)]
    Receipt(#[from] DomainError),
}

/// The 32 random bytes every working key derives from.
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        SystemRandom::new()
            .fill(&mut *bytes)
            .map_err(|_| CryptoError::Random)?;
        Ok(MasterKey(bytes))
    }

    /// Generates a key and writes it to a new 0600 file (never overwrites).
    pub fn create_file(path: &Path) -> Result<Self, CryptoError> {
        let key = MasterKey::generate()?;
        secure_fs::create_private_file(path, &*key.0)?;
        Ok(key)
    }

    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let bytes = secure_fs::read_private_file(path, MASTER_KEY_LEN)?;
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        if bytes.len() != MASTER_KEY_LEN {
            return Err(CryptoError::KeyFileLength {
                path: path.display().to_string(),
            });
        }
        key.copy_from_slice(&bytes);
        Ok(MasterKey(key))
    }

    /// HKDF-SHA-256: extract with a fixed salt, expand under a per-use label.
    fn derive<L, T>(&self, label: &'static [u8], len: L) -> Result<T, CryptoError>
    where
        L: ring::hkdf::KeyType,
        T: for<'a> From<ring::hkdf::Okm<'a, L>>,
    {
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"keyward master key v1")
            .extract(&*self.0);
        let info = [label];
        let okm = prk.expand(&info, len).map_err(|_| CryptoError::Random)?;
        Ok(T::from(okm))
    }

    /// The working keys. Cheap enough to call once at start.
    pub fn keys(&self) -> Result<Keys, CryptoError> {
        let sealing: UnboundKey = self.derive(b"seal", &AES_256_GCM)?;
        Ok(Keys {
            sealing: LessSafeKey::new(sealing),
            pin: self.derive(b"pin", hmac::HMAC_SHA256)?,
            audit: self.derive(b"audit", hmac::HMAC_SHA256)?,
            row: RowKey(self.derive(b"row mac", hmac::HMAC_SHA256)?),
            rng: SystemRandom::new(),
        })
    }
}

/// What a sealed blob is bound to: opening it under any other binding fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding(Vec<u8>);

impl Binding {
    /// A credential's secret: its id and its token's serial.
    pub fn credential(credential_id: i64, token_serial: &str) -> Self {
        let mut aad = b"keyward credential secret v1\0".to_vec();
        aad.extend_from_slice(&credential_id.to_be_bytes());
        aad.extend_from_slice(&(token_serial.len() as u64).to_be_bytes());
        aad.extend_from_slice(token_serial.as_bytes());
        Binding(aad)
    }

    pub fn receipt_key() -> Self {
        Binding(b"keyward receipt signing key v1".to_vec())
    }

    /// The access code that locks an OTP slot: its token's serial and slot.
    pub fn slot_access_code(token_serial: &str, slot: u8) -> Self {
        let mut aad = b"keyward otp slot access code v1\0".to_vec();
        aad.extend_from_slice(&(token_serial.len() as u64).to_be_bytes());
        aad.extend_from_slice(token_serial.as_bytes());
        aad.push(slot);
        Binding(aad)
    }
}

/// The keys derived from the master key.
pub struct Keys {
    sealing: LessSafeKey,
    pin: hmac::Key,
    audit: hmac::Key,
    row: RowKey,
    rng: SystemRandom,
}

/// The key of the MACs that bind each state row to its content
/// (`docs/security.md`). Cheap to clone: the store's SQLite functions hold
/// their own copy.
#[derive(Clone)]
pub struct RowKey(hmac::Key);

impl fmt::Debug for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RowKey([redacted])")
    }
}

impl RowKey {
    /// HMAC-SHA-256 of a row's encoding.
    pub fn mac(&self, encoded_row: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.0, encoded_row);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Constant-time check of a stored row MAC.
    pub fn matches(&self, encoded_row: &[u8], stored: &[u8]) -> bool {
        hmac::verify(&self.0, encoded_row, stored).is_ok()
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    /// AES-256-GCM with a fresh random nonce: version ‖ nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, binding: &Binding, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&binding.0),
                &mut body,
            )
            .map_err(|_| CryptoError::SealedDataRejected)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn open(
        &self,
        binding: &Binding,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEAL_V1 {
            return Err(CryptoError::SealedDataRejected);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut body = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .sealing
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&binding.0),
                &mut body,
            )
            .map_err(|_| CryptoError::SealedDataRejected)?
            .len();
        body.truncate(len);
        Ok(body)
    }

    pub fn seal_secret(
        &self,
        credential_id: i64,
        token_serial: &str,
        secret: &Secret,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal(
            &Binding::credential(credential_id, token_serial),
            secret.expose(),
        )
    }

    pub fn open_secret(
        &self,
        credential_id: i64,
        token_serial: &str,
        sealed: &[u8],
    ) -> Result<Secret, CryptoError> {
        let bytes = self.open(&Binding::credential(credential_id, token_serial), sealed)?;
        if bytes.len() < MIN_SECRET_LEN {
            return Err(CryptoError::BadSecret);
        }
        Secret::new(bytes).map_err(|_| CryptoError::BadSecret)
    }

    /// HMAC-SHA-256(pin key, holder ‖ 0 ‖ PIN): two holders with the same PIN
    /// get different verifiers.
    pub fn pin_verifier(&self, holder: &str, pin_digits: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.pin);
        ctx.update(holder.as_bytes());
        ctx.update(&[0]);
        ctx.update(pin_digits);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Constant-time comparison of a PIN with a stored verifier.
    pub fn pin_matches(&self, holder: &str, pin_digits: &[u8], stored: &[u8]) -> bool {
        use subtle::ConstantTimeEq as _;
        let computed = self.pin_verifier(holder, pin_digits);
        stored.len() == 32 && bool::from(computed.ct_eq(stored))
    }

    /// The MAC that chains audit entries.
    pub fn audit_mac(&self, data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.audit, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    pub fn audit_mac_matches(&self, data: &[u8], stored: &[u8]) -> bool {
        hmac::verify(&self.audit, data, stored).is_ok()
    }

    /// The key of the state rows' MACs.
    pub fn row_key(&self) -> &RowKey {
        &self.row
    }
}

/// keyward's receipt-signing key, kept sealed under the master key.
pub struct ReceiptSigner {
    pair: Ed25519KeyPair,
}

impl fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// A new key and its sealed PKCS#8 form to store.
    pub fn generate(keys: &Keys) -> Result<(Self, Vec<u8>), CryptoError> {
        let pkcs8 = Zeroizing::new(
            Ed25519KeyPair::generate_pkcs8(&keys.rng)
                .map_err(|_| CryptoError::Random)?
                .as_ref()
                .to_vec(),
        );
        let sealed = keys.seal(&Binding::receipt_key(), &pkcs8)?;
        let pair =
            Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| CryptoError::SealedDataRejected)?;
        Ok((ReceiptSigner { pair }, sealed))
    }

    pub fn open(keys: &Keys, sealed: &[u8]) -> Result<Self, CryptoError> {
        let pkcs8 = keys.open(&Binding::receipt_key(), sealed)?;
        let pair =
            Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| CryptoError::SealedDataRejected)?;
        Ok(ReceiptSigner { pair })
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// A short public fingerprint of a receipt key: hex of SHA-256's first 8 bytes.
pub fn key_id(public_key: &[u8]) -> String {
    use sha2::Digest as _;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(public_key)[..8])
}

/// Parses a public key given as 64 hex digits or base64.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], CryptoError> {
    let text = text.trim();
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .or_else(|_| data_encoding::BASE64.decode(text.as_bytes()))
        .map_err(|_| CryptoError::BadPublicKey)?;
    bytes.try_into().map_err(|_| CryptoError::BadPublicKey)
}

/// Checks an exported receipt offline against a public key.
pub fn verify_receipt(public_key: &[u8; 32], exported: &str) -> Result<SignedReceipt, CryptoError> {
    let receipt = SignedReceipt::parse(exported)?;
    let expected = key_id(public_key);
    if receipt.content.key_id != expected {
        return Err(CryptoError::WrongReceiptKey {
            expected,
            found: receipt.content.key_id.clone(),
        });
    }
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(receipt.canonical.as_bytes(), &receipt.signature)
        .map_err(|_| CryptoError::BadSignature)?;
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;

    #[test]
    fn sealing_is_bound_to_credential_and_token() {
        let keys = MasterKey::generate().unwrap().keys().unwrap();
        let secret = Secret::generate(Algorithm::Sha1).unwrap();
        let sealed = keys.seal_secret(1, "VT-1", &secret).unwrap();
        assert_eq!(
            keys.open_secret(1, "VT-1", &sealed).unwrap().expose(),
            secret.expose()
        );
        assert!(keys.open_secret(2, "VT-1", &sealed).is_err());
        assert!(keys.open_secret(1, "VT-2", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 0x01;
            assert_eq!(
                keys.open_secret(1, "VT-1", &flipped).map(|_| ()),
                Err(CryptoError::SealedDataRejected)
            );
        }
        let other = MasterKey::generate().unwrap().keys().unwrap();
        assert!(other.open_secret(1, "VT-1", &sealed).is_err());
    }

    #[test]
    fn pin_verifier_is_keyed_and_per_holder() {
        let keys = MasterKey::generate().unwrap().keys().unwrap();
        let v = keys.pin_verifier("jdupont", b"730519");
        assert!(keys.pin_matches("jdupont", b"730519", &v));
        assert!(!keys.pin_matches("jdupont", b"730518", &v));
        assert!(!keys.pin_matches("pmartin", b"730519", &v));
        assert!(!keys.pin_matches("jdupont", b"730519", &v[..31]));
        let other = MasterKey::generate().unwrap().keys().unwrap();
        assert_ne!(other.pin_verifier("jdupont", b"730519"), v);
    }

    #[test]
    fn receipt_key_round_trip_and_signature_check() {
        let keys = MasterKey::generate().unwrap().keys().unwrap();
        let (signer, sealed) = ReceiptSigner::generate(&keys).unwrap();
        let reopened = ReceiptSigner::open(&keys, &sealed).unwrap();
        assert_eq!(reopened.public_key(), signer.public_key());
        assert!(parse_public_key(&data_encoding::HEXLOWER.encode(&signer.public_key())).is_ok());
        assert!(parse_public_key("abcd").is_err());
        assert!(!format!("{signer:?}").contains("pkcs8"));
    }
}
