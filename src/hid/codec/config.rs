//! The 52-byte slot configuration and the OATH-HOTP layout in it, built the
//! way yubikit and `ykman otp hotp` build them (`docs/protocols.md`, OTP
//! HID), and the access codes that lock a slot. Pure.
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 16 | fixed (token identifier, zero-padded) |
//! | 16 | 6 | uid: HMAC key bytes 16..20, then IMF/16 big-endian |
//! | 22 | 16 | key: HMAC key bytes 0..16 |
//! | 38 | 6 | accCode: the **new** access code (zero = none) |
//! | 44 | 1 | fixedSize |
//! | 45..48 | 3 | extFlags, tktFlags, cfgFlags |
//! | 48 | 2 | rfu |
//! | 50 | 2 | ~CRC16(bytes 0..50), LE |
//!
//! A write sends `config ‖ current access code` to CONFIG_1/CONFIG_2; a delete
//! sends 52 zero bytes ‖ current access code.

use std::fmt;

use sha1::Digest as _;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::crc::{crc16, crc_ok};
use super::frame::{Frame, Slot, PAYLOAD_LEN};
use crate::hid::CodecError;
use crate::otp::Secret;

pub const FIXED_SIZE: usize = 16;
pub const UID_SIZE: usize = 6;
pub const KEY_SIZE: usize = 16;
pub const ACC_CODE_SIZE: usize = 6;
pub const CONFIG_SIZE: usize = 52;
/// An OATH-HOTP slot holds a 20-byte HMAC-SHA-1 key.
pub const HMAC_KEY_SIZE: usize = 20;
const SHA1_BLOCK_SIZE: usize = 64;
/// Largest initial moving factor: 0xFFFF × 16.
pub const MAX_IMF: u32 = 0xF_FFF0;

const OFF_UID: usize = FIXED_SIZE;
const OFF_KEY: usize = OFF_UID + UID_SIZE;
const OFF_ACC: usize = OFF_KEY + KEY_SIZE;
const OFF_FIXED_SIZE: usize = OFF_ACC + ACC_CODE_SIZE;
const OFF_EXT: usize = OFF_FIXED_SIZE + 1;
const OFF_TKT: usize = OFF_EXT + 1;
const OFF_CFG: usize = OFF_TKT + 1;
const OFF_CRC: usize = CONFIG_SIZE - 2;

/// tktFlags (yubikit `TKTFLAG`).
pub mod tkt {
    pub const TAB_FIRST: u8 = 0x01;
    pub const APPEND_TAB1: u8 = 0x02;
    pub const APPEND_TAB2: u8 = 0x04;
    pub const APPEND_DELAY1: u8 = 0x08;
    pub const APPEND_DELAY2: u8 = 0x10;
    pub const APPEND_CR: u8 = 0x20;
    /// OATH-HOTP mode; the same bit means challenge-response with CHAL_* cfg flags.
    pub const OATH_HOTP: u8 = 0x40;
    pub const PROTECT_CFG2: u8 = 0x80;
}

/// cfgFlags (yubikit `CFGFLAG`); the meaning depends on the mode.
pub mod cfg {
    pub const OATH_HOTP8: u8 = 0x02;
    pub const OATH_FIXED_MODHEX1: u8 = 0x10;
    pub const OATH_FIXED_MODHEX2: u8 = 0x40;
    pub const OATH_FIXED_MODHEX: u8 = 0x50;
    /// Challenge-response modes share the OATH_HOTP tkt bit; 0x20 tells them apart.
    pub const CHAL_YUBICO: u8 = 0x20;
    pub const CHAL_HMAC: u8 = 0x22;
}

/// extFlags (yubikit `EXTFLAG`).
pub mod ext {
    pub const SERIAL_BTN_VISIBLE: u8 = 0x01;
    pub const SERIAL_USB_VISIBLE: u8 = 0x02;
    pub const SERIAL_API_VISIBLE: u8 = 0x04;
    pub const USE_NUMERIC_KEYPAD: u8 = 0x08;
    pub const FAST_TRIG: u8 = 0x10;
    pub const ALLOW_UPDATE: u8 = 0x20;
    pub const DORMANT: u8 = 0x40;
    pub const LED_INV: u8 = 0x80;
}

/// The three flag bytes of a configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub ext: u8,
    pub tkt: u8,
    pub cfg: u8,
}

/// A slot's 6-byte access code. Never zero (zero means "no code"), wiped on
/// drop, compared in constant time, never printed.
#[derive(Clone)]
pub struct AccessCode(Zeroizing<[u8; ACC_CODE_SIZE]>);

impl AccessCode {
    pub fn new(bytes: &[u8]) -> Result<AccessCode, CodecError> {
        let mut code = Zeroizing::new([0u8; ACC_CODE_SIZE]);
        if bytes.len() != ACC_CODE_SIZE {
            return Err(CodecError::AccessCodeLength { len: bytes.len() });
        }
        code.copy_from_slice(bytes);
        if code.iter().all(|&b| b == 0) {
            return Err(CodecError::AccessCodeZero);
        }
        Ok(AccessCode(code))
    }

    /// Twelve hex digits, as ykman's `--access-code` takes it.
    pub fn from_hex(text: &str) -> Result<AccessCode, CodecError> {
        let bytes = Zeroizing::new(
            data_encoding::HEXLOWER_PERMISSIVE
                .decode(text.trim().as_bytes())
                .map_err(|_| CodecError::AccessCodeLength {
                    len: text.len() / 2,
                })?,
        );
        AccessCode::new(&bytes)
    }

    /// A fresh code from the OS CSPRNG.
    pub fn generate() -> Result<AccessCode, CodecError> {
        use ring::rand::SecureRandom as _;
        let rng = ring::rand::SystemRandom::new();
        // An all-zero draw would mean "no code"; its odds are 2^-48, retried.
        for _ in 0..4 {
            let mut bytes = Zeroizing::new([0u8; ACC_CODE_SIZE]);
            rng.fill(&mut bytes[..]).map_err(|_| CodecError::Random)?;
            if let Ok(code) = AccessCode::new(&bytes[..]) {
                return Ok(code);
            }
        }
        Err(CodecError::Random)
    }

    /// The raw bytes, for sealing in the store. Never log them.
    pub fn expose(&self) -> &[u8; ACC_CODE_SIZE] {
        &self.0
    }

    /// Constant-time comparison against raw bytes.
    pub fn matches(&self, other: &[u8; ACC_CODE_SIZE]) -> bool {
        bool::from(self.0.ct_eq(other))
    }
}

impl fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode([redacted])")
    }
}

/// The HMAC-SHA-1 key of an OATH-HOTP slot: up to 20 bytes, zero-padded (which
/// HMAC treats as the same key). Keys longer than a SHA-1 block are hashed
/// first, like HMAC itself does; 21 to 64 bytes cannot be stored (yubikit
/// `_shorten_hmac_key`).
#[derive(Clone)]
pub struct HotpKey(Zeroizing<[u8; HMAC_KEY_SIZE]>);

impl HotpKey {
    pub fn new(key: &[u8]) -> Result<HotpKey, CodecError> {
        let mut padded = Zeroizing::new([0u8; HMAC_KEY_SIZE]);
        if key.len() > SHA1_BLOCK_SIZE {
            let digest: Zeroizing<Vec<u8>> = Zeroizing::new(sha1::Sha1::digest(key).to_vec());
            padded.copy_from_slice(&digest);
        } else if key.len() > HMAC_KEY_SIZE {
            return Err(CodecError::KeyLength { len: key.len() });
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        Ok(HotpKey(padded))
    }

    pub fn from_secret(secret: &Secret) -> Result<HotpKey, CodecError> {
        HotpKey::new(secret.expose())
    }

    /// The 20 bytes the slot holds. Never log them.
    pub fn expose(&self) -> &[u8; HMAC_KEY_SIZE] {
        &self.0
    }
}

impl fmt::Debug for HotpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HotpKey([redacted])")
    }
}

/// The initial moving factor (first counter): a multiple of 16 up to 1 048 560.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imf(u32);

impl Imf {
    pub fn new(counter: u32) -> Result<Imf, CodecError> {
        if counter % 16 != 0 || counter > MAX_IMF {
            return Err(CodecError::BadImf(counter));
        }
        Ok(Imf(counter))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// `uid[4..6)`: IMF/16, big-endian.
    fn encoded(self) -> [u8; 2] {
        // Fits: IMF ≤ 0xFFFF0, so IMF/16 ≤ 0xFFFF.
        u16::try_from(self.0 >> 4).unwrap_or(u16::MAX).to_be_bytes()
    }
}

/// The OATH token identifier typed before the code, with the MODHEX flags that
/// say how many leading bytes are typed as modhex (1, 2, or all when both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenId {
    bytes: Vec<u8>,
    modhex1: bool,
    modhex2: bool,
}

const MODHEX_ALPHABET: &[u8; 16] = b"cbdefghijklnrtuv";

/// Modhex encoding of bytes.
pub fn modhex_encode(data: &[u8]) -> String {
    data.iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .map(|nibble| char::from(MODHEX_ALPHABET[usize::from(nibble)]))
        .collect()
}

fn modhex_decode(text: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| MODHEX_ALPHABET.iter().position(|&m| m == c);
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| {
            let high = u8::try_from(nibble(pair[0])?).ok()?;
            let low = u8::try_from(nibble(pair[1])?).ok()?;
            Some(high << 4 | low)
        })
        .collect()
}

/// ykman `parse_modhex_or_bcd`: modhex if it decodes, else decimal digits as BCD.
fn modhex_or_bcd(text: &str) -> Result<(bool, Vec<u8>), CodecError> {
    if let Some(bytes) = modhex_decode(text) {
        return Ok((true, bytes));
    }
    if !text.is_empty() && text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_digit()) {
        let bytes = data_encoding::HEXLOWER
            .decode(text.as_bytes())
            .map_err(|_| CodecError::BadTokenId)?;
        return Ok((false, bytes));
    }
    Err(CodecError::BadTokenId)
}

impl TokenId {
    pub fn new(bytes: &[u8], modhex1: bool, modhex2: bool) -> Result<TokenId, CodecError> {
        if bytes.len() > FIXED_SIZE {
            return Err(CodecError::TokenIdTooLong { len: bytes.len() });
        }
        Ok(TokenId {
            bytes: bytes.to_vec(),
            modhex1,
            modhex2,
        })
    }

    /// Parses an identifier as `ykman otp hotp --identifier` does: 12 characters
    /// OMP(2) TT(2) MUI(8), or 8 characters MUI after the default "ubhe". Each
    /// part is modhex or decimal; a modhex part needs modhex parts before it.
    pub fn from_ykman_identifier(identifier: &str) -> Result<TokenId, CodecError> {
        let full = match identifier.len() {
            8 => format!("ubhe{identifier}"),
            12 => identifier.to_owned(),
            _ => return Err(CodecError::BadTokenId),
        };
        let (omp_m, omp) = modhex_or_bcd(full.get(..2).ok_or(CodecError::BadTokenId)?)?;
        let (tt_m, tt) = modhex_or_bcd(full.get(2..4).ok_or(CodecError::BadTokenId)?)?;
        let (mui_m, mui) = modhex_or_bcd(full.get(4..).ok_or(CodecError::BadTokenId)?)?;
        // ykman: "TT can only be modhex encoded if OMP is as well", and "MUI can
        // only be modhex encoded if OMP and TT are as well".
        let tt_ok = !tt_m || omp_m;
        let mui_ok = !mui_m || (omp_m && tt_m);
        if !tt_ok || !mui_ok {
            return Err(CodecError::BadTokenId);
        }
        let (modhex1, modhex2) = if mui_m {
            (true, true)
        } else if tt_m {
            (false, true)
        } else {
            (omp_m, false)
        };
        let bytes: Vec<u8> = [omp, tt, mui].concat();
        TokenId::new(&bytes, modhex1, modhex2)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn modhex_flags(&self) -> (bool, bool) {
        (self.modhex1, self.modhex2)
    }

    /// What the key types for this identifier before the code.
    pub fn typed(&self) -> String {
        typed_token_id(&self.bytes, self.modhex1, self.modhex2)
    }
}

/// Leading bytes typed as modhex per the flags (MODHEX1: one, MODHEX2: two, both:
/// all), the rest as hex digits, which reads as decimal for BCD parts.
fn typed_token_id(bytes: &[u8], modhex1: bool, modhex2: bool) -> String {
    let modhex_len = match (modhex1, modhex2) {
        (true, true) => bytes.len(),
        (false, true) => 2,
        (true, false) => 1,
        (false, false) => 0,
    }
    .min(bytes.len());
    let (head, tail) = bytes.split_at(modhex_len);
    let mut out = modhex_encode(head);
    out.push_str(&data_encoding::HEXLOWER.encode(tail));
    out
}

/// Splits what a key typed on touch (as a station reads it from the keyboard)
/// into its code: the typing is first read back from the station's layout
/// (the AZERTY digit row, `docs/devices.md`), then the expected token
/// identifier must lead and a trailing Enter is dropped. The code itself is
/// checked by `otp::Code::parse` and verified by `otp::Hotp::verify`; the
/// identifier is public, so a plain compare is fine.
pub fn typed_code(typed: &str, token_id: Option<&TokenId>) -> Result<String, CodecError> {
    let typed = super::keyboard::normalise_typed(typed);
    let typed = typed.trim_end_matches(['\r', '\n']);
    let prefix = token_id.map_or(String::new(), TokenId::typed);
    typed
        .strip_prefix(prefix.as_str())
        .map(str::to_owned)
        .ok_or(CodecError::TokenIdMismatch)
}

/// An OATH-HOTP slot as `ykman otp hotp` programs it.
#[derive(Clone, Debug)]
pub struct HotpConfig {
    key: HotpKey,
    eight_digits: bool,
    token_id: Option<TokenId>,
    imf: Imf,
    append_cr: bool,
}

impl HotpConfig {
    /// Six digits, no identifier, IMF 0, Enter after the code.
    pub fn new(key: HotpKey) -> HotpConfig {
        HotpConfig {
            key,
            eight_digits: false,
            token_id: None,
            imf: Imf::default(),
            append_cr: true,
        }
    }

    pub fn eight_digits(mut self, eight: bool) -> Self {
        self.eight_digits = eight;
        self
    }

    pub fn token_id(mut self, token_id: Option<TokenId>) -> Self {
        self.token_id = token_id;
        self
    }

    pub fn imf(mut self, imf: Imf) -> Self {
        self.imf = imf;
        self
    }

    pub fn append_cr(mut self, append_cr: bool) -> Self {
        self.append_cr = append_cr;
        self
    }

    pub fn digits(&self) -> u8 {
        if self.eight_digits {
            8
        } else {
            6
        }
    }

    pub fn initial_counter(&self) -> Imf {
        self.imf
    }

    /// ykman's flags: every config EXT SERIAL_API_VISIBLE + ALLOW_UPDATE,
    /// keyboard configs FAST_TRIG (+ APPEND_CR), HOTP tkt OATH_HOTP, and the
    /// MODHEX flags of the identifier (none without one, as `ykman otp hotp`).
    pub fn flags(&self) -> Flags {
        let (modhex1, modhex2) = self
            .token_id
            .as_ref()
            .map_or((false, false), TokenId::modhex_flags);
        let mut flags = Flags {
            ext: ext::SERIAL_API_VISIBLE | ext::ALLOW_UPDATE | ext::FAST_TRIG,
            tkt: tkt::OATH_HOTP,
            cfg: 0,
        };
        if self.append_cr {
            flags.tkt |= tkt::APPEND_CR;
        }
        if self.eight_digits {
            flags.cfg |= cfg::OATH_HOTP8;
        }
        if modhex1 {
            flags.cfg |= cfg::OATH_FIXED_MODHEX1;
        }
        if modhex2 {
            flags.cfg |= cfg::OATH_FIXED_MODHEX2;
        }
        flags
    }

    /// The 52-byte configuration, carrying `new_access_code` (none = unprotected).
    pub fn to_slot_config(&self, new_access_code: Option<&AccessCode>) -> SlotConfig {
        let key = self.key.expose();
        let mut uid = Zeroizing::new([0u8; UID_SIZE]);
        uid[..4].copy_from_slice(&key[KEY_SIZE..]);
        uid[4..].copy_from_slice(&self.imf.encoded());
        let mut key_field = Zeroizing::new([0u8; KEY_SIZE]);
        key_field.copy_from_slice(&key[..KEY_SIZE]);
        let fixed = self.token_id.as_ref().map_or(&[][..], TokenId::bytes);
        SlotConfig::build(fixed, &uid, &key_field, new_access_code, self.flags())
    }
}

/// A 52-byte slot configuration with a valid CRC. Wiped on drop; `Debug`
/// shows only the flags.
#[derive(Clone)]
pub struct SlotConfig(Zeroizing<[u8; CONFIG_SIZE]>);

impl SlotConfig {
    /// yubikit `_build_config`. `fixed` longer than 16 bytes is cut (callers
    /// pass a [`TokenId`], which cannot be longer).
    fn build(
        fixed: &[u8],
        uid: &[u8; UID_SIZE],
        key: &[u8; KEY_SIZE],
        acc_code: Option<&AccessCode>,
        flags: Flags,
    ) -> SlotConfig {
        let fixed = &fixed[..fixed.len().min(FIXED_SIZE)];
        let mut buf = Zeroizing::new([0u8; CONFIG_SIZE]);
        buf[..fixed.len()].copy_from_slice(fixed);
        buf[OFF_UID..OFF_KEY].copy_from_slice(uid);
        buf[OFF_KEY..OFF_ACC].copy_from_slice(key);
        if let Some(code) = acc_code {
            buf[OFF_ACC..OFF_FIXED_SIZE].copy_from_slice(code.expose());
        }
        // ≤ 16, so the cast is exact.
        buf[OFF_FIXED_SIZE] = fixed.len() as u8;
        buf[OFF_EXT] = flags.ext;
        buf[OFF_TKT] = flags.tkt;
        buf[OFF_CFG] = flags.cfg;
        let crc = (!crc16(&buf[..OFF_CRC])).to_le_bytes();
        buf[OFF_CRC..].copy_from_slice(&crc);
        SlotConfig(buf)
    }

    /// Parses a configuration as the device receives it: 52 bytes, CRC valid.
    pub fn parse(bytes: &[u8]) -> Result<SlotConfig, CodecError> {
        if bytes.len() != CONFIG_SIZE {
            return Err(CodecError::ConfigLength { len: bytes.len() });
        }
        if !crc_ok(bytes) {
            return Err(CodecError::BadConfigCrc);
        }
        let mut buf = Zeroizing::new([0u8; CONFIG_SIZE]);
        buf.copy_from_slice(bytes);
        Ok(SlotConfig(buf))
    }

    pub fn as_bytes(&self) -> &[u8; CONFIG_SIZE] {
        &self.0
    }

    pub fn flags(&self) -> Flags {
        Flags {
            ext: self.0[OFF_EXT],
            tkt: self.0[OFF_TKT],
            cfg: self.0[OFF_CFG],
        }
    }

    /// The access code this configuration sets (all zero: none).
    pub fn access_code(&self) -> &[u8; ACC_CODE_SIZE] {
        self.0[OFF_ACC..OFF_FIXED_SIZE]
            .try_into()
            .unwrap_or(&[0u8; ACC_CODE_SIZE])
    }

    pub fn has_access_code(&self) -> bool {
        self.access_code().iter().any(|&b| b != 0)
    }

    /// The fixed part, `fixedSize` bytes of it (an oversized count is cut to 16).
    pub fn fixed(&self) -> &[u8] {
        let len = usize::from(self.0[OFF_FIXED_SIZE]).min(FIXED_SIZE);
        &self.0[..len]
    }

    /// OATH-HOTP mode: tkt OATH_HOTP without the challenge-response cfg bit.
    pub fn is_oath_hotp(&self) -> bool {
        let flags = self.flags();
        flags.tkt & tkt::OATH_HOTP != 0 && flags.cfg & cfg::CHAL_YUBICO == 0
    }

    /// The HMAC key of an OATH-HOTP configuration: key ‖ uid[0..4).
    pub fn hotp_key(&self) -> HotpKey {
        let mut key = Zeroizing::new([0u8; HMAC_KEY_SIZE]);
        key[..KEY_SIZE].copy_from_slice(&self.0[OFF_KEY..OFF_ACC]);
        key[KEY_SIZE..].copy_from_slice(&self.0[OFF_UID..OFF_UID + 4]);
        HotpKey(key)
    }

    /// The initial counter of an OATH-HOTP configuration: uid[4..6) × 16.
    pub fn hotp_imf(&self) -> u32 {
        u32::from(u16::from_be_bytes([
            self.0[OFF_UID + 4],
            self.0[OFF_UID + 5],
        ])) << 4
    }

    pub fn hotp_digits(&self) -> u8 {
        if self.flags().cfg & cfg::OATH_HOTP8 != 0 {
            8
        } else {
            6
        }
    }

    /// The identifier an OATH-HOTP configuration types before its code.
    pub fn typed_token_id(&self) -> String {
        let cfg = self.flags().cfg;
        typed_token_id(
            self.fixed(),
            cfg & cfg::OATH_FIXED_MODHEX1 != 0,
            cfg & cfg::OATH_FIXED_MODHEX2 != 0,
        )
    }

    pub fn appends_cr(&self) -> bool {
        self.flags().tkt & tkt::APPEND_CR != 0
    }
}

impl fmt::Debug for SlotConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotConfig")
            .field("flags", &self.flags())
            .field("fixed_size", &self.0[OFF_FIXED_SIZE])
            .field("access_code", &self.has_access_code())
            .finish_non_exhaustive()
    }
}

/// The frame that writes `config` to `slot`, proving `current` (the code the
/// slot is protected with now, if any).
pub fn write_frame(slot: Slot, config: &SlotConfig, current: Option<&AccessCode>) -> Frame {
    config_command_frame(slot, config.as_bytes(), current)
}

/// The frame that deletes `slot`'s configuration: 52 zero bytes ‖ current code.
pub fn delete_frame(slot: Slot, current: Option<&AccessCode>) -> Frame {
    config_command_frame(slot, &[0u8; CONFIG_SIZE], current)
}

fn config_command_frame(
    slot: Slot,
    config: &[u8; CONFIG_SIZE],
    current: Option<&AccessCode>,
) -> Frame {
    let mut payload = Zeroizing::new([0u8; PAYLOAD_LEN]);
    payload[..CONFIG_SIZE].copy_from_slice(config);
    if let Some(code) = current {
        payload[CONFIG_SIZE..CONFIG_SIZE + ACC_CODE_SIZE].copy_from_slice(code.expose());
    }
    Frame::from_padded(slot.config_command().code(), &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ykman_identifier_forms() {
        let id = TokenId::from_ykman_identifier("ubhe12345678").unwrap();
        assert_eq!(id.bytes(), &[0xe1, 0x63, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(id.modhex_flags(), (false, true));
        assert_eq!(id.typed(), "ubhe12345678");
        assert_eq!(TokenId::from_ykman_identifier("12345678").unwrap(), id);
        let all = TokenId::from_ykman_identifier("cccccccccccb").unwrap();
        assert_eq!(all.modhex_flags(), (true, true));
        assert_eq!(all.typed(), "cccccccccccb");
        let omp = TokenId::from_ykman_identifier("ub1212345678").unwrap();
        assert_eq!(omp.modhex_flags(), (true, false));
        assert_eq!(omp.typed(), "ub1212345678");
        assert!(TokenId::from_ykman_identifier("12ub12345678").is_err());
        assert!(TokenId::from_ykman_identifier("ubhe1234567").is_err());
    }

    #[test]
    fn typed_code_strips_the_identifier_and_enter() {
        let id = TokenId::from_ykman_identifier("ubhe12345678").unwrap();
        assert_eq!(
            typed_code("ubhe12345678123456\r", Some(&id)),
            Ok("123456".into())
        );
        assert_eq!(typed_code("755224\n", None), Ok("755224".into()));
        // An AZERTY station without Shift: the digit row's symbols.
        assert_eq!(typed_code("è((éé'\n", None), Ok("755224".into()));
        assert_eq!(typed_code("-((\"\"'\n", None), Ok("655334".into()));
        assert_eq!(
            typed_code("ubhe&é\"'(-è_&é\"'(-\r", Some(&id)),
            Ok("123456".into())
        );
        assert_eq!(
            typed_code("ubhe12345679123456", Some(&id)),
            Err(CodecError::TokenIdMismatch)
        );
    }

    #[test]
    fn config_round_trips_and_crc_is_checked() {
        let key = HotpKey::new(&[0xAB; 20]).unwrap();
        let config = HotpConfig::new(key)
            .eight_digits(true)
            .imf(Imf::new(4096).unwrap())
            .to_slot_config(None);
        let parsed = SlotConfig::parse(config.as_bytes()).unwrap();
        assert!(parsed.is_oath_hotp());
        assert_eq!(parsed.hotp_imf(), 4096);
        assert_eq!(parsed.hotp_digits(), 8);
        assert_eq!(parsed.hotp_key().expose(), &[0xAB; 20]);
        let mut bad = *config.as_bytes();
        bad[3] ^= 0x10;
        assert_eq!(
            SlotConfig::parse(&bad).err(),
            Some(CodecError::BadConfigCrc)
        );
        assert!(Imf::new(15).is_err());
        assert!(Imf::new(MAX_IMF + 16).is_err());
        assert!(HotpKey::new(&[1; 21]).is_err());
        assert!(HotpKey::new(&[1; 65]).is_ok());
    }
}
