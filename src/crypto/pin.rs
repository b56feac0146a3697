//! The holder's PIN and its policy: 6 to 8 digits, no common value.
//!
//! A PIN has about 20 bits of entropy; the policy only removes the values an
//! attacker tries first. What protects it is the verifier key kept outside the
//! database and the online lockout.

use std::fmt;

use zeroize::Zeroizing;

pub const MIN_PIN_DIGITS: usize = 6;
pub const MAX_PIN_DIGITS: usize = 8;

/// Why a PIN is refused. Never carries the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinProblem {
    #[error("a PIN has {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits")]
    Length,
    #[error("a PIN has digits only")]
    NotDigits,
    #[error("this PIN is too easy to guess (repeated digits, a run or a repeated pattern): choose another")]
    TooCommon,
}

/// A PIN that passed the policy, in zeroizing memory; Debug shows nothing.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn parse(text: &str) -> Result<Self, PinProblem> {
        check_shape(text.as_bytes())?;
        if is_common(text.as_bytes()) {
            return Err(PinProblem::TooCommon);
        }
        Ok(Pin(Zeroizing::new(text.to_owned())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([redacted])")
    }
}

/// Length and character class only: public properties of the input.
pub fn check_shape(digits: &[u8]) -> Result<(), PinProblem> {
    if !(MIN_PIN_DIGITS..=MAX_PIN_DIGITS).contains(&digits.len()) {
        return Err(PinProblem::Length);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(PinProblem::NotDigits);
    }
    Ok(())
}

/// Repeats of a 1-, 2- or 3-digit pattern (000000, 121212, 123123), straight
/// runs up or down (123456, 987654, 890123), and a few well-known values.
fn is_common(digits: &[u8]) -> bool {
    const KNOWN: &[&[u8]] = &[
        b"159753", b"147258", b"102030", b"112233", b"147852", b"123321", b"654456",
    ];
    let periodic = (1..=3).any(|p| digits.iter().skip(p).zip(digits).all(|(a, b)| a == b));
    let run = |step: u8| {
        digits
            .windows(2)
            .all(|w| (w[0] - b'0' + step) % 10 == w[1] - b'0')
    };
    periodic || run(1) || run(9) || KNOWN.contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        for weak in [
            "000000", "123456", "121212", "123123", "654321", "12345678", "890123", "11111111",
            "159753",
        ] {
            assert_eq!(
                Pin::parse(weak).map(|_| ()),
                Err(PinProblem::TooCommon),
                "{weak}"
            );
        }
        assert_eq!(Pin::parse("12345").map(|_| ()), Err(PinProblem::Length));
        assert_eq!(Pin::parse("123456789").map(|_| ()), Err(PinProblem::Length));
        assert_eq!(Pin::parse("12a456").map(|_| ()), Err(PinProblem::NotDigits));
        for good in ["730519", "4081937", "28461937"] {
            assert!(Pin::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            format!("{:?}", Pin::parse("730519").unwrap()),
            "Pin([redacted])"
        );
    }
}
