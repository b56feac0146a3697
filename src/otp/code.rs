//! Codes: digit counts, parsing a code someone typed, and constant-time dynamic
//! truncation (RFC 4226 §5.3) of a MAC into a code.

use std::fmt;

use subtle::ConstantTimeEq;

use super::key::{CredentialKey, Truncatable};
use super::OtpError;

/// Number of digits of a code: 6, 7 or 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digits(u8);

impl Digits {
    pub const SIX: Digits = Digits(6);
    pub const SEVEN: Digits = Digits(7);
    pub const EIGHT: Digits = Digits(8);

    pub fn new(digits: u8) -> Result<Self, OtpError> {
        match digits {
            6..=8 => Ok(Digits(digits)),
            _ => Err(OtpError::BadDigits(digits)),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Reduces a 31-bit truncated value to a code. Branches only on the public
    /// digit count, so each arm divides by a constant (a multiply, not `div`).
    #[inline(always)]
    fn reduce(self, value: u32) -> u32 {
        match self.0 {
            6 => value % 1_000_000,
            7 => value % 10_000_000,
            _ => value % 100_000_000,
        }
    }
}

/// A code as a user typed it: exactly `digits` ASCII digits. Debug hides it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Code {
    value: u32,
    digits: Digits,
}

impl Code {
    /// Parses a code of the given length. Only the length and the character class
    /// are checked here: both are public properties of the input.
    pub fn parse(text: &str, digits: Digits) -> Result<Self, OtpError> {
        let bytes = text.as_bytes();
        if bytes.len() != usize::from(digits.get()) || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(OtpError::MalformedCode {
                expected_digits: digits.get(),
            });
        }
        let value = bytes
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        Ok(Code { value, digits })
    }

    pub(super) fn from_value(value: u32, digits: Digits) -> Self {
        Code { value, digits }
    }

    pub fn digits(&self) -> Digits {
        self.digits
    }

    pub(super) fn value(&self) -> u32 {
        self.value
    }

    /// Compares in constant time. Codes of different lengths never match.
    pub fn ct_eq(&self, other: &Code) -> subtle::Choice {
        self.value.ct_eq(&other.value) & self.digits.0.ct_eq(&other.digits.0)
    }
}

impl fmt::Display for Code {
    /// Zero-padded, exactly as oathtool prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}",
            self.value,
            width = usize::from(self.digits.get())
        )
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code([redacted; {} digits])", self.digits.get())
    }
}

/// The code for a counter value (HOTP) or time step (TOTP).
pub fn code_at(key: &CredentialKey, counter: u64, digits: Digits) -> Code {
    Code::from_value(code_value(key, counter, digits), digits)
}

fn code_value(key: &CredentialKey, counter: u64, digits: Digits) -> u32 {
    let mut value = 0;
    for_each_code(key, counter, 1, digits, |_, v| value = v);
    value
}

/// Calls `f(step, code)` for each step in `first..first + count`, in order.
#[inline(always)]
pub(super) fn for_each_code(
    key: &CredentialKey,
    first: u64,
    count: u32,
    digits: Digits,
    mut f: impl FnMut(u64, u32),
) {
    key.for_each_mac(first, count, |step, mac| {
        f(step, digits.reduce(dynamic_truncate(mac)))
    });
}

/// RFC 4226 §5.3 without a secret-dependent memory index. The offset (0..=15)
/// selects bytes offset..offset+3, which straddle words q and q+1 with q =
/// offset / 4 ≤ 3; we pick both words with a masked scan over all four
/// positions, then shift by a variable amount, which is constant-time on every
/// CPU we target (the shift count does not change the instruction's latency).
#[inline(always)]
fn dynamic_truncate(mac: &Truncatable) -> u32 {
    let offset = mac.last & 0x0f;
    let word_index = offset >> 2;
    let byte_in_word = offset & 3;
    let mut high = 0u32;
    let mut low = 0u32;
    for i in 0..4u32 {
        let hit = mask_if_equal(i, word_index) as u32;
        high |= mac.words[i as usize] & hit;
        low |= mac.words[i as usize + 1] & hit;
    }
    let pair = (u64::from(high) << 32) | u64::from(low);
    ((pair >> (32 - 8 * byte_in_word)) as u32) & 0x7fff_ffff
}

/// All ones when `a == b`, zero otherwise, by arithmetic only: no comparison
/// the compiler could lower to a branch on secret values.
#[inline(always)]
pub(super) fn mask_if_equal(a: u32, b: u32) -> u64 {
    let diff = u64::from(a ^ b);
    // diff - 1 borrows into the top bit only when diff == 0 (diff < 2^32).
    (diff.wrapping_sub(1) >> 63).wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference truncation by plain indexing, as RFC 4226 writes it.
    fn naive(mac: &[u8]) -> u32 {
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]) & 0x7fff_ffff
    }

    #[test]
    fn truncation_matches_indexing_for_every_offset() {
        let bytes: Vec<u8> = (0u8..20)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        for offset in 0u8..16 {
            let mut mac = bytes.clone();
            mac[19] = (mac[19] & 0xf0) | offset;
            let mut words = [0u32; 5];
            for (w, chunk) in words.iter_mut().zip(mac.chunks_exact(4)) {
                *w = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            let t = Truncatable {
                words,
                last: u32::from(mac[19]),
            };
            assert_eq!(dynamic_truncate(&t), naive(&mac), "offset {offset}");
        }
    }

    /// RFC 4226 §5.4 worked example.
    #[test]
    fn rfc4226_section_5_4_example() {
        let mac = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        let mut words = [0u32; 5];
        for (w, chunk) in words.iter_mut().zip(mac.chunks_exact(4)) {
            *w = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        let t = Truncatable { words, last: 0x5a };
        assert_eq!(dynamic_truncate(&t), 0x50ef_7f19);
        assert_eq!(Digits::SIX.reduce(0x50ef_7f19), 872_921);
    }

    #[test]
    fn parse_and_display() {
        let code = Code::parse("012345", Digits::SIX).unwrap();
        assert_eq!(code.to_string(), "012345");
        assert_eq!(format!("{code:?}"), "Code([redacted; 6 digits])");
        for bad in ["12345", "1234567", "12a456", " 12345", "١٢٣٤٥٦", ""] {
            assert!(matches!(
                Code::parse(bad, Digits::SIX),
                Err(OtpError::MalformedCode { expected_digits: 6 })
            ));
        }
        assert!(bool::from(
            Code::parse("00123456", Digits::EIGHT)
                .unwrap()
                .ct_eq(&Code::from_value(123_456, Digits::EIGHT))
        ));
        assert!(!bool::from(
            Code::parse("00123456", Digits::EIGHT)
                .unwrap()
                .ct_eq(&Code::from_value(123_456, Digits::SIX))
        ));
    }

    #[test]
    fn equality_masks() {
        for (a, b) in [
            (0u32, 0u32),
            (1, 1),
            (u32::MAX, u32::MAX),
            (0, 1),
            (1, 0),
            (0, u32::MAX),
            (u32::MAX, 0),
            (0x8000_0000, 0),
            (7, 0x8000_0007),
        ] {
            let expected = if a == b { u64::MAX } else { 0 };
            assert_eq!(mask_if_equal(a, b), expected, "{a:#x} {b:#x}");
        }
    }

    #[test]
    fn digits_range() {
        for d in [0u8, 5, 9, 10, 255] {
            assert!(matches!(Digits::new(d), Err(OtpError::BadDigits(x)) if x == d));
        }
        for d in 6u8..=8 {
            assert_eq!(Digits::new(d).unwrap().get(), d);
        }
    }
}
