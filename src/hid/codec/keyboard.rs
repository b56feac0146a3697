//! What a touch key's typing looks like on the station's keyboard layout.
//!
//! A YubiKey types its HOTP digits as key codes of the keyboard's top row,
//! which the host turns into characters by its layout: on AZERTY (French
//! stations) the unshifted row gives `&é"'(-è_çà` for 1…9, 0 unless Shift or
//! Caps Lock is on. Yubico's numeric-keypad flag (extended flag 0x08) avoids
//! this but then depends on NumLock. keyward reads the unshifted AZERTY digit
//! row as digits instead, in [`normalise_typed`], which every interface goes
//! through (`typed_code`). Modhex, the alphabet of token identifiers, was
//! chosen to type the same on these layouts.

use zeroize::Zeroizing;

/// The unshifted AZERTY top row, indexed by the digit it carries.
const AZERTY_DIGIT_ROW: [char; 10] = ['à', '&', 'é', '"', '\'', '(', '-', 'è', '_', 'ç'];

/// A keyboard layout the host reads a touch key's typing with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyboardLayout {
    /// Digits arrive as digits.
    #[default]
    Qwerty,
    /// French AZERTY without Shift or Caps Lock: the digit row's symbols.
    Azerty,
}

impl KeyboardLayout {
    /// What the host reads when a key types `text` (digits and modhex) on
    /// this layout.
    pub fn typed(self, text: &str) -> Zeroizing<String> {
        let mapped = text.chars().map(|c| match (self, c.to_digit(10)) {
            (KeyboardLayout::Azerty, Some(d)) => AZERTY_DIGIT_ROW[d as usize],
            _ => c,
        });
        Zeroizing::new(mapped.collect())
    }
}

/// Reads the unshifted AZERTY digit row as the digits it carries, and leaves
/// every other character as it is.
pub fn normalise_typed(text: &str) -> Zeroizing<String> {
    let mapped = text
        .chars()
        .map(|c| match AZERTY_DIGIT_ROW.iter().position(|&k| k == c) {
            Some(d) => char::from(b'0' + d as u8),
            None => c,
        });
    Zeroizing::new(mapped.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_azerty_digit_row_reads_as_digits() {
        assert_eq!(&*normalise_typed("&é\"'(-è_çà"), "1234567890");
        assert_eq!(&*KeyboardLayout::Azerty.typed("1234567890"), "&é\"'(-è_çà");
        assert_eq!(&*KeyboardLayout::Qwerty.typed("755224"), "755224");
        // Modhex identifiers and digits pass unchanged.
        assert_eq!(&*normalise_typed("ubhe755224\r"), "ubhe755224\r");
        for code in ["000000", "755224", "98765432"] {
            assert_eq!(&*normalise_typed(&KeyboardLayout::Azerty.typed(code)), code);
        }
    }
}
