//! School codes (UAI, formerly RNE): seven digits and a check letter.
//!
//! The check letter is the remainder of the seven-digit number divided by 23,
//! read in the alphabet A–Z without I, O and Q (the algorithm the ministry's
//! directory uses).

use std::fmt;

use super::DomainError;

const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A school's official code, check letter verified, stored upper-case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uai(String);

impl Uai {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let upper = text.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 8
            || !bytes[..7].iter().all(u8::is_ascii_digit)
            || !bytes[7].is_ascii_uppercase()
        {
            return Err(DomainError::BadUai {
                reason: "expected 7 digits followed by a letter",
            });
        }
        let number: u32 = bytes[..7]
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
        let expected = check_letter(number);
        if bytes[7] != expected {
            return Err(DomainError::UaiCheckLetter {
                expected: char::from(expected),
                got: char::from(bytes[7]),
            });
        }
        Ok(Uai(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_letter(number: u32) -> u8 {
    CHECK_LETTERS[(number % 23) as usize]
}

impl fmt::Display for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_letter_is_number_mod_23() {
        assert_eq!(Uai::parse("0751710B").unwrap().as_str(), "0751710B");
        assert_eq!(Uai::parse(" 0750001u ").unwrap().as_str(), "0750001U");
        assert_eq!(
            Uai::parse("0751710C"),
            Err(DomainError::UaiCheckLetter {
                expected: 'B',
                got: 'C'
            })
        );
    }

    #[test]
    fn refuses_wrong_shapes() {
        for bad in [
            "075171B",
            "07517100B",
            "A751710B",
            "07517101",
            "0751710é",
            "",
        ] {
            assert!(
                matches!(Uai::parse(bad), Err(DomainError::BadUai { .. })),
                "{bad}"
            );
        }
    }
}
