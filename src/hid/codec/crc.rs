//! CRC-16 of the YubiKey OTP protocol (ISO 13239 / X.25 style): reflected
//! polynomial 0x8408, initial value 0xFFFF, no final XOR.
//!
//! Frames carry the plain CRC of their payload; slot configurations and data
//! replies carry its ones' complement, so a CRC over `data ‖ crc` lands on
//! [`CRC_OK_RESIDUE`].
//!
//! Hand-written on purpose, not a CRC crate: it is a dozen lines pinned to
//! yubikit's `calculate_crc` by the residue check and by the byte-for-byte
//! comparison of whole frames with yubikit's (`tests/it/hid_yubikit.rs`).

use zeroize::Zeroizing;

/// The value of [`crc16`] over data followed by its complemented CRC (LE).
pub const CRC_OK_RESIDUE: u16 = 0xF0B8;

const POLY_REFLECTED: u16 = 0x8408;

/// CRC-16 exactly as yubikit's `calculate_crc`.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            let carry = crc & 1;
            crc >>= 1;
            if carry == 1 {
                crc ^= POLY_REFLECTED;
            }
        }
    }
    crc
}

/// True when `data` ends with the complemented CRC of what precedes it.
pub fn crc_ok(data: &[u8]) -> bool {
    crc16(data) == CRC_OK_RESIDUE
}

/// `data` followed by its complemented CRC, little-endian: what a device appends
/// to a data reply and what a slot configuration ends with.
pub fn with_complemented_crc(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(data.len() + 2));
    out.extend_from_slice(data);
    out.extend_from_slice(&(!crc16(data)).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_and_residue() {
        // X.25 check value for "123456789" is 0x906E = !0x6F91.
        assert_eq!(crc16(b"123456789"), 0x6F91);
        assert!(crc_ok(&with_complemented_crc(b"123456789")));
        let mut tampered = with_complemented_crc(b"123456789");
        tampered[0] ^= 1;
        assert!(!crc_ok(&tampered));
    }
}
