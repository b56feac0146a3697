//! Which real token the virtual one behaves like (`keyward sim --profile`):
//! a YubiKey 5 (the default, firmware 5.4.3) or a Nitrokey 3 secrets app, at
//! a firmware version. The facts each personality reproduces, and their
//! sources, are in `docs/protocols.md` and the firmware profiles.
//!
//! The Nitrokey 3's APDU dispatcher sits in front of its applet
//! ([`Dispatcher`]): it hands out `min(Le, len)` bytes, so a command sent
//! without `Le` is answered `61xx` with no data and the data waits for GET
//! RESPONSE (`00 C0 00 00 xx`); SEND REMAINING (`A5`) reaches the applet as a
//! new command, which answers 6985.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::apdu::{Command, Response, Status, INS_GET_RESPONSE, INS_SEND_REMAINING};

/// The token families the virtual token can play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    YubiKey5,
    Nitrokey3,
}

/// What happens when the token waits for its button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// Somebody presses it at once.
    Press,
    /// Nobody does: the token answers 6982 after the touch timeout.
    Never,
}

/// A family at a firmware version, and how its button is pressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Personality {
    pub family: Family,
    pub version: [u8; 3],
    pub touch: Touch,
    /// How long the token waits for its button (15 s on a Nitrokey 3).
    pub touch_timeout: Duration,
}

/// YubiKey 5 NFC ATR: ykman treats it as a USB connection.
const YUBIKEY_ATR: [u8; 23] = [
    0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59,
    0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
];
/// Nitrokey 3C NFC ATR ("ZNitrokey 3").
const NITROKEY3_ATR: [u8; 16] = [
    0x3B, 0x8C, 0x01, 0x80, 0x5A, 0x4E, 0x69, 0x74, 0x72, 0x6F, 0x6B, 0x65, 0x79, 0x20, 0x33, 0x7D,
];

impl Default for Personality {
    fn default() -> Self {
        Personality::yubikey5([5, 4, 3])
    }
}

impl Personality {
    pub fn yubikey5(version: [u8; 3]) -> Personality {
        Personality {
            family: Family::YubiKey5,
            version,
            touch: Touch::Press,
            touch_timeout: Duration::from_secs(15),
        }
    }

    pub fn nitrokey3(version: [u8; 3]) -> Personality {
        Personality {
            family: Family::Nitrokey3,
            ..Personality::yubikey5(version)
        }
    }

    pub fn is_nitrokey3(&self) -> bool {
        self.family == Family::Nitrokey3
    }

    pub fn atr(&self) -> &'static [u8] {
        match self.family {
            Family::YubiKey5 => &YUBIKEY_ATR,
            Family::Nitrokey3 => &NITROKEY3_ATR,
        }
    }

    /// Credentials the applet holds: a YubiKey 32, 64 from 5.7.0; a
    /// Nitrokey 3 50.
    pub fn capacity(&self) -> usize {
        match self.family {
            Family::YubiKey5 if self.version >= [5, 7, 0] => 64,
            Family::YubiKey5 => 32,
            Family::Nitrokey3 => 50,
        }
    }

    /// RENAME (INS 05): a YubiKey from 5.3.1; a Nitrokey 3 renames with its
    /// own instruction B7.
    pub fn renames(&self) -> bool {
        self.family == Family::YubiKey5 && self.version >= [5, 3, 1]
    }

    /// The SELECT answer carries the serial (tag 8F): Nitrokey 3 from 4.11.0.
    pub fn serial_tag(&self) -> bool {
        self.is_nitrokey3() && self.version >= [4, 11, 0]
    }

    /// Once a PIN is set every command needs VerifyPIN just before it
    /// (Nitrokey 3 secrets app 4.7).
    pub fn pin_before_each_command(&self) -> bool {
        self.is_nitrokey3() && self.version < [4, 8, 0]
    }

    /// What DELETE and CALCULATE answer for a credential that is not there.
    pub fn missing_credential(&self) -> Status {
        match self.family {
            Family::YubiKey5 => Status::NoSuchObject,
            Family::Nitrokey3 => Status::NotFound,
        }
    }

    /// Waits for the button where this token asks for it: `Ok` once pressed,
    /// 6982 after the timeout.
    pub fn await_touch(&self) -> Result<(), Status> {
        match self.touch {
            Touch::Press => Ok(()),
            Touch::Never => {
                std::thread::sleep(self.touch_timeout);
                Err(Status::SecurityNotSatisfied)
            }
        }
    }
}

/// The Nitrokey 3's APDU dispatcher: keeps an answer for GET RESPONSE.
#[derive(Default)]
pub struct Dispatcher {
    pending: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dispatcher({} bytes pending)", self.pending.len())
    }
}

impl Dispatcher {
    pub fn clear(&mut self) {
        self.pending = Zeroizing::new(Vec::new());
    }

    /// Answers `cmd`: GET RESPONSE from what is pending, SEND REMAINING
    /// 6985, anything else through `applet`, then at most `Le` bytes.
    pub fn call(&mut self, cmd: Command, applet: impl FnOnce(Command) -> Response) -> Response {
        if cmd.ins == INS_GET_RESPONSE && (cmd.p1, cmd.p2) == (0, 0) {
            if self.pending.is_empty() {
                return Response::status(Status::ConditionsNotSatisfied);
            }
            return self.hand_out(usize::from(cmd.le.unwrap_or(256)));
        }
        self.clear();
        if cmd.ins == INS_SEND_REMAINING {
            // A new command to the secrets app, which has no such thing.
            return Response::status(Status::ConditionsNotSatisfied);
        }
        let le = cmd.le.map_or(0, usize::from);
        let response = applet(cmd);
        if response.status != Status::Ok || response.data.is_empty() {
            return response;
        }
        self.pending = response.data;
        self.hand_out(le)
    }

    fn hand_out(&mut self, le: usize) -> Response {
        let take = le.min(self.pending.len());
        let rest = self.pending.split_off(take);
        let head = std::mem::replace(&mut *self.pending, rest);
        let left = self.pending.len();
        let status = if left == 0 {
            Status::Ok
        } else {
            Status::MoreData(left.min(0xFF) as u8)
        };
        Response::new(head.to_vec(), status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXUPPER.decode(s.as_bytes()).unwrap()
    }

    #[test]
    fn dispatcher_answers_like_a_nitrokey_3() {
        let data = hex("79030400B0710801020304050607");
        let mut d = Dispatcher::default();
        let applet = |_| Response::new(data.clone(), Status::Ok);
        // Case 3 (no Le): no data, 61 0F.
        let cmd = Command::parse(&hex("00A4040007A0000005272101")).unwrap();
        let r = d.call(cmd, applet);
        assert_eq!(r.encode(), hex("610E"));
        // SEND REMAINING is a new command: 6985, and the answer is gone.
        let a5 = Command::parse(&hex("00A5000000")).unwrap();
        assert_eq!(d.call(a5, applet).encode(), hex("6985"));
        let cmd = Command::parse(&hex("00A4040007A0000005272101")).unwrap();
        d.call(cmd, applet);
        // GET RESPONSE in two pieces.
        let c0 = Command::parse(&hex("00C0000004")).unwrap();
        assert_eq!(d.call(c0, applet).encode(), hex("79030400610A"));
        let c0 = Command::parse(&hex("00C000000A")).unwrap();
        assert_eq!(d.call(c0, applet).encode(), hex("B07108010203040506079000"));
        // With Le the data comes at once.
        let cmd = Command::parse(&hex("00A4040007A000000527210100")).unwrap();
        assert_eq!(d.call(cmd, applet).data.as_slice(), data.as_slice());
    }
}
