//! Plain HMAC and dynamic truncation over arbitrary messages, for the token side
//! (the virtual token answers YKOATH CALCULATE with the whole HMAC of any
//! challenge, and its keys may be shorter than [`super::MIN_SECRET_LEN`] because
//! yubikit pads short secrets to 14 bytes). Verification never uses this path.

use zeroize::Zeroizing;

use super::Algorithm;

/// HMAC(key, message) with the credential's hash.
pub fn hmac(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
    let alg = match algorithm {
        Algorithm::Sha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Algorithm::Sha256 => ring::hmac::HMAC_SHA256,
        Algorithm::Sha512 => ring::hmac::HMAC_SHA512,
    };
    let tag = ring::hmac::sign(&ring::hmac::Key::new(alg, key), message);
    Zeroizing::new(tag.as_ref().to_vec())
}

/// RFC 4226 §5.3 dynamic truncation to 31 bits; `None` for a MAC shorter than
/// 20 bytes.
pub fn truncate(mac: &[u8]) -> Option<u32> {
    let last = *mac.last()?;
    let offset = usize::from(last & 0x0F);
    let word = mac.get(offset..offset + 4)?;
    let bytes = <[u8; 4]>::try_from(word).ok()?;
    if mac.len() < 20 {
        return None;
    }
    Some(u32::from_be_bytes(bytes) & 0x7FFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::{code_at, CredentialKey, Digits, Secret};

    #[test]
    fn agrees_with_the_constant_time_core() {
        let raw = b"12345678901234567890";
        let secret = Secret::new(Zeroizing::new(raw.to_vec())).unwrap();
        let key = CredentialKey::new(Algorithm::Sha1, &secret);
        for counter in 0..10u64 {
            let mac = hmac(Algorithm::Sha1, raw, &counter.to_be_bytes());
            let value = truncate(&mac).unwrap() % 1_000_000;
            assert_eq!(
                format!("{value:06}"),
                code_at(&key, counter, Digits::SIX).to_string()
            );
        }
        assert_eq!(truncate(&[0u8; 19]), None);
        assert_eq!(truncate(&[]), None);
    }
}
