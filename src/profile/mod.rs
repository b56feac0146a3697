//! Firmware profiles: one TOML file per token family in `firmware-profiles/`,
//! with matching rules, capabilities and quirks. Loading is strict: an unknown
//! key or a bad value is an error naming the file and the line. The udev rules
//! in `udev/` are generated from the profiles' USB ids ([`udev_rules`]).
//! Pure: parsing takes text; only [`load_dir`] reads files.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::apdu::{Continuation, Status};
use crate::hid::codec::profile::OtpProfile;
use crate::oath::codec::SelectInfo;
use crate::otp::Algorithm;

/// Errors of profile loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    #[error("{file}:{line}: {message}")]
    Parse {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: profile id {id:?} is already defined")]
    DuplicateId { file: PathBuf, id: String },
    #[error(transparent)]
    OtpHid(#[from] crate::hid::codec::profile::OtpProfileError),
}

/// A USB vendor or product id, written as 4 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct UsbId(pub u16);

impl TryFrom<String> for UsbId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("USB id {s:?} must be 4 hex digits"));
        }
        u16::from_str_radix(&s, 16)
            .map(UsbId)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}", self.0)
    }
}

/// A firmware version "major.minor.patch".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Version(pub [u8; 3]);

impl TryFrom<String> for Version {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        let bad = || format!("version {s:?} must be major.minor.patch (0-255 each)");
        match parts.as_slice() {
            [a, b, c] => Ok(Version([
                a.parse().map_err(|_| bad())?,
                b.parse().map_err(|_| bad())?,
                c.parse().map_err(|_| bad())?,
            ])),
            _ => Err(bad()),
        }
    }
}

/// A hash name as written in profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Hash(pub Algorithm);

impl TryFrom<String> for Hash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "SHA1" => Ok(Hash(Algorithm::Sha1)),
            "SHA256" => Ok(Hash(Algorithm::Sha256)),
            "SHA512" => Ok(Hash(Algorithm::Sha512)),
            _ => Err(format!("unknown hash {s:?}: use SHA1, SHA256 or SHA512")),
        }
    }
}

/// A digit count, 6 to 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u8")]
pub struct DigitCount(pub u8);

impl TryFrom<u8> for DigitCount {
    type Error = String;
    fn try_from(d: u8) -> Result<Self, String> {
        if (6..=8).contains(&d) {
            Ok(DigitCount(d))
        } else {
            Err(format!("{d} digits: codes have 6, 7 or 8"))
        }
    }
}

/// A one-byte TLV tag written as 2 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Tag(pub u8);

impl TryFrom<String> for Tag {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() != 2 {
            return Err(format!("tag {s:?} must be 2 hex digits"));
        }
        u8::from_str_radix(&s, 16)
            .map(Tag)
            .map_err(|_| format!("tag {s:?} must be 2 hex digits"))
    }
}

/// Hex bytes (an AID).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HexBytes(pub Vec<u8>);

impl TryFrom<String> for HexBytes {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        data_encoding::HEXUPPER_PERMISSIVE
            .decode(s.as_bytes())
            .map(HexBytes)
            .map_err(|_| format!("{s:?} is not hex"))
    }
}

/// A status word written as 4 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct StatusWord(pub Status);

impl TryFrom<String> for StatusWord {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() != 4 {
            return Err(format!("status word {s:?} must be 4 hex digits"));
        }
        u16::from_str_radix(&s, 16)
            .map(|sw| StatusWord(Status::from_u16(sw)))
            .map_err(|_| format!("status word {s:?} must be 4 hex digits"))
    }
}

/// How the token speaks where it departs from a YubiKey's YKOATH: how it
/// hands over long answers, what its status words mean, what it asks a
/// button press for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialect {
    /// After `61xx`: SEND REMAINING (A5) or GET RESPONSE (C0).
    pub continuation: Continuation,
    /// What DELETE and CALCULATE answer for a credential the token lacks.
    pub missing_credential: StatusWord,
    /// DELETE, RESET and the device PIN instructions wait for a press of the
    /// token's button; 6982 to them is then a touch timeout, not a lock.
    pub touch_confirms_changes: bool,
    /// Firmware from which the SELECT answer carries the serial (tag 8F).
    #[serde(default)]
    pub serial_tag_from: Option<Version>,
    /// Firmware below which, once a device PIN is set, every command needs
    /// the PIN verified just before it.
    #[serde(default)]
    pub pin_before_each_command_below: Option<Version>,
}

impl Default for Dialect {
    /// A YubiKey's YKOATH.
    fn default() -> Dialect {
        Dialect {
            continuation: Continuation::SendRemaining,
            missing_credential: StatusWord(Status::NoSuchObject),
            touch_confirms_changes: false,
            serial_tag_from: None,
            pin_before_each_command_below: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Pcsc,
    Hid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolKind {
    Ykoath,
    Otp,
}

/// How a device PIN is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinCommands {
    /// ISO 7816 VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER.
    Iso7816,
    /// Nitrokey Secrets App B2/B3/B4.
    NitrokeySecrets,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbMatch {
    pub vendor: UsbId,
    pub product: UsbId,
    pub description: String,
    /// The device also has a keyboard/OTP HID interface keyward drives.
    #[serde(default)]
    pub hidraw: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMatch {
    /// Substrings of the PC/SC reader name (case-insensitive); any one
    /// matches. Empty: any reader (then version and tags decide).
    pub reader_names: Vec<String>,
    pub aid: HexBytes,
    pub version_min: Version,
    pub version_max: Version,
    /// Tags whose presence in the SELECT answer identifies the family on
    /// any reader (else the reader name must match).
    #[serde(default)]
    pub select_tags_present: Vec<Tag>,
    #[serde(default)]
    pub select_tags_absent: Vec<Tag>,
    #[serde(default)]
    pub usb: Vec<UsbMatch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePin {
    /// Hardware retry counter (tries before the PIN blocks).
    pub retries: u8,
    pub commands: PinCommands,
    /// The PIN can be unblocked with a resetting code the desk keeps. Without
    /// one, only a full reset of the token recovers a blocked PIN.
    pub resetting_code: bool,
}

/// A larger credential capacity from a firmware version on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotsFrom {
    pub version: Version,
    pub slots: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub algorithms: Vec<Hash>,
    pub digits: Vec<DigitCount>,
    /// Credentials the token holds (a full applet answers 6A84)...
    pub credential_slots: u16,
    /// ...and from these firmware versions on, this many.
    #[serde(default)]
    pub credential_slots_from: Vec<SlotsFrom>,
    pub touch: bool,
    /// A PIN with a hardware retry counter, the only place a holder PIN may go.
    #[serde(default)]
    pub device_pin: Option<DevicePin>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quirks {
    /// PUT replaces a credential with the same name (else it refuses it).
    pub put_overwrites: bool,
    pub max_name_len: u8,
}

/// One token family.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub transport: TransportKind,
    pub protocol: ProtocolKind,
    #[serde(rename = "match")]
    pub matching: ProfileMatch,
    pub capabilities: Capabilities,
    pub quirks: Quirks,
    #[serde(default)]
    pub dialect: Dialect,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

impl Profile {
    /// Parses one profile; `file` only names the source in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            file: file.to_path_buf(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        let err = |key: &str, message: String| ProfileError::Parse {
            file: file.to_path_buf(),
            line: text
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1),
            message,
        };
        if profile.matching.version_min > profile.matching.version_max {
            return Err(err(
                "version_min",
                "version_min is above version_max".into(),
            ));
        }
        if profile.capabilities.algorithms.is_empty() {
            return Err(err(
                "algorithms",
                "at least one algorithm is required".into(),
            ));
        }
        if profile.capabilities.digits.is_empty() {
            return Err(err("digits", "at least one digit count is required".into()));
        }
        if let Some(pin) = &profile.capabilities.device_pin {
            if pin.retries == 0 || pin.retries > 15 {
                return Err(err("retries", "device PIN retries must be 1 to 15".into()));
            }
        }
        Ok(profile)
    }

    /// True when this profile describes the token behind `reader` that answered
    /// SELECT with `select`.
    pub fn matches(&self, reader: &str, select: &SelectInfo) -> bool {
        let reader = reader.to_lowercase();
        let m = &self.matching;
        let named = m
            .reader_names
            .iter()
            .any(|n| reader.contains(&n.to_lowercase()));
        let version = Version(select.version);
        let has = |tag: u8| match tag {
            0x8F => select.serial.is_some(),
            0x82 => select.pin_retries.is_some(),
            0x74 => select.challenge.is_some(),
            0x71 => !select.salt.is_empty(),
            _ => false,
        };
        // Identifying tags (a Nitrokey 3's serial tag) name the family on any
        // reader (an NFC reader's name says nothing of the card on it).
        let tagged =
            !m.select_tags_present.is_empty() && m.select_tags_present.iter().all(|t| has(t.0));
        let any_reader = m.reader_names.is_empty();
        (named || tagged || any_reader)
            && m.version_min <= version
            && version <= m.version_max
            && !m.select_tags_absent.iter().any(|t| has(t.0))
    }

    /// The credentials firmware `version` holds.
    pub fn credential_slots(&self, version: [u8; 3]) -> u16 {
        self.capabilities
            .credential_slots_from
            .iter()
            .filter(|s| s.version <= Version(version))
            .map(|s| s.slots)
            .max()
            .unwrap_or(self.capabilities.credential_slots)
    }

    /// The device PIN driven through `commands`, if the profile has one.
    pub fn device_pin(&self) -> Option<&DevicePin> {
        self.capabilities.device_pin.as_ref()
    }

    pub fn supports(&self, algorithm: Algorithm, digits: u8) -> bool {
        self.capabilities
            .algorithms
            .iter()
            .any(|h| h.0 == algorithm)
            && self.capabilities.digits.iter().any(|d| d.0 == digits)
    }
}

/// Every profile of a directory, by kind: PC/SC (YKOATH) profiles are parsed
/// here, HID (YubiKey OTP) ones by [`crate::hid::codec::profile::parse_otp_profile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub ykoath: Vec<Profile>,
    pub otp_hid: Vec<OtpProfile>,
}

/// Just enough of a profile to pick its parser.
#[derive(Deserialize)]
struct Kind {
    transport: String,
}

/// Loads every `*.toml` in `dir`, sorted by file name, each with the parser of
/// its `transport`.
pub fn load_dir(dir: &Path) -> Result<Catalog, ProfileError> {
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source| ProfileError::Io { file, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = Catalog::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(io(&file))?;
        let kind: Kind = toml::from_str(&text).map_err(|e| ProfileError::Parse {
            file: file.clone(),
            line: e.span().map_or(1, |s| line_of(&text, s.start)),
            message: e.message().to_owned(),
        })?;
        match kind.transport.as_str() {
            "hid" => {
                let profile = crate::hid::codec::profile::parse_otp_profile(
                    &text,
                    &file.display().to_string(),
                )?;
                out.otp_hid.push(profile);
            }
            _ => {
                let profile = Profile::parse(&text, &file)?;
                if out.ykoath.iter().any(|p| p.id == profile.id) {
                    return Err(ProfileError::DuplicateId {
                        file,
                        id: profile.id,
                    });
                }
                out.ykoath.push(profile);
            }
        }
    }
    Ok(out)
}

/// The profiles shipped in `firmware-profiles/`, compiled into the binary.
pub fn builtin() -> Result<Vec<Profile>, ProfileError> {
    const FILES: [(&str, &str); 4] = [
        (
            "firmware-profiles/keyward-virtual.toml",
            include_str!("../../firmware-profiles/keyward-virtual.toml"),
        ),
        (
            "firmware-profiles/nitrokey3-secrets.toml",
            include_str!("../../firmware-profiles/nitrokey3-secrets.toml"),
        ),
        (
            "firmware-profiles/yubikey4-oath.toml",
            include_str!("../../firmware-profiles/yubikey4-oath.toml"),
        ),
        (
            "firmware-profiles/yubikey5-oath.toml",
            include_str!("../../firmware-profiles/yubikey5-oath.toml"),
        ),
    ];
    FILES
        .iter()
        .map(|(name, text)| Profile::parse(text, Path::new(name)))
        .collect()
}

/// The first profile matching a token.
pub fn identify<'p>(
    profiles: &'p [Profile],
    reader: &str,
    select: &SelectInfo,
) -> Option<&'p Profile> {
    profiles.iter().find(|p| p.matches(reader, select))
}

/// What every rule gives a node: group `keyward`, mode 0660, and no seat
/// ACL. systemd's `70-uaccess.rules` tags nodes whose `ID_SECURITY_TOKEN` or
/// `ID_SMARTCARD_READER` is set (Debian's `69-yubikey.rules` sets the first
/// for YubiKeys) with `uaccess`, which gives the logged-in user an ACL; the
/// rules run before it (70-k… sorts before 70-u…) and clear both.
pub const UDEV_GRANT: &str = "GROUP=\"keyward\", MODE=\"0660\", ENV{ID_SECURITY_TOKEN}=\"\", ENV{ID_SMARTCARD_READER}=\"\", TAG-=\"uaccess\"";

/// udev rules giving group `keyward` (mode 0660, no seat ACL, nobody else)
/// the USB device nodes of every profile's USB ids, and the hidraw nodes of
/// the keyboard (OTP) interface of the HID profiles and of USB entries
/// marked `hidraw`. The FIDO interface's hidraw node (interface protocol 00,
/// not a keyboard) is left alone, so browsers keep using the key for FIDO.
/// Each node appears once, under the first profile (by id) that lists it.
pub fn udev_rules(catalog: &Catalog) -> String {
    let mut out = String::from(
        "# Generated from firmware-profiles/*.toml by keyward::profile::udev_rules.\n\
         # Do not edit: change the profiles and regenerate (KEYWARD_BLESS=1 cargo test --test profiles).\n\
         # Gives the keyward daemon's group, and nobody else, access to supported tokens:\n\
         # no seat ACL (uaccess) for these nodes; a key's FIDO hidraw node is left alone.\n\
         ACTION!=\"add|change\", GOTO=\"keyward_end\"\n\
         # A key's OTP interface is a boot keyboard (protocol 01); FIDO's is not.\n\
         # (udev matches all ATTRS of a rule on one parent, hence this marker.)\n\
         SUBSYSTEM==\"hidraw\", SUBSYSTEMS==\"usb\", ATTRS{bInterfaceProtocol}==\"01\", ENV{KEYWARD_OTP_INTERFACE}=\"1\"\n",
    );
    // (profile id, name, [(vendor, product, description, hidraw)])
    type Entry = (u16, u16, String, bool);
    let mut sections: Vec<(String, String, Vec<Entry>)> = Vec::new();
    for p in &catalog.ykoath {
        let entries = p
            .matching
            .usb
            .iter()
            .map(|u| (u.vendor.0, u.product.0, u.description.clone(), u.hidraw))
            .collect();
        sections.push((p.id.clone(), p.name.clone(), entries));
    }
    for p in &catalog.otp_hid {
        let entries = p
            .usb
            .product_ids
            .iter()
            .map(|&pid| {
                (
                    p.usb.vendor_id,
                    pid,
                    format!("{:04x}:{pid:04x}", p.usb.vendor_id),
                    true,
                )
            })
            .collect();
        sections.push((p.name.clone(), p.description.clone(), entries));
    }
    sections.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen: Vec<(&str, u16, u16)> = Vec::new();
    for (id, name, entries) in &sections {
        let mut lines = String::new();
        for (vendor, product, description, hidraw) in entries {
            let mut body = String::new();
            if !seen.contains(&("usb", *vendor, *product)) {
                seen.push(("usb", *vendor, *product));
                body.push_str(&format!(
                    "SUBSYSTEM==\"usb\", ENV{{DEVTYPE}}==\"usb_device\", ATTR{{idVendor}}==\"{vendor:04x}\", ATTR{{idProduct}}==\"{product:04x}\", {UDEV_GRANT}\n"
                ));
            }
            if *hidraw && !seen.contains(&("hidraw", *vendor, *product)) {
                seen.push(("hidraw", *vendor, *product));
                body.push_str(&format!(
                    "SUBSYSTEM==\"hidraw\", KERNEL==\"hidraw*\", ENV{{KEYWARD_OTP_INTERFACE}}==\"1\", ATTRS{{idVendor}}==\"{vendor:04x}\", ATTRS{{idProduct}}==\"{product:04x}\", {UDEV_GRANT}\n"
                ));
            }
            if !body.is_empty() {
                lines.push_str(&format!("# {description}\n{body}"));
            }
        }
        if !lines.is_empty() {
            out.push_str(&format!("\n# {id}: {name}\n{lines}"));
        }
    }
    out.push_str("\nLABEL=\"keyward_end\"\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,400}") {
            let _ = Profile::parse(&text, Path::new("fuzz.toml"));
        }

        #[test]
        fn parse_never_panics_on_near_profiles(cut in 0usize..2000, junk in "[\\[\\]=\"a-z0-9. \n]{0,40}") {
            let good = include_str!("../../firmware-profiles/keyward-virtual.toml");
            let mut cut = cut.min(good.len());
            while !good.is_char_boundary(cut) {
                cut -= 1;
            }
            let text = format!("{}{}{}", &good[..cut], junk, &good[cut..]);
            let _ = Profile::parse(&text, Path::new("fuzz.toml"));
        }
    }

    #[test]
    fn builtin_profiles_equal_the_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware-profiles");
        let from_files = load_dir(&dir).unwrap_or_default();
        assert_eq!(builtin().ok(), Some(from_files.ykoath));
    }

    #[test]
    fn line_numbers_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 1);
    }
}
