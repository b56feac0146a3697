//! ISO 7816-4 PIN commands (`docs/protocols.md`), shared by the host driver and the
//! virtual token: VERIFY (20), CHANGE REFERENCE DATA (24), RESET RETRY COUNTER
//! (2C). PINs travel PIV-style: ASCII, right-padded with FF to 8 bytes.

use std::fmt;

use zeroize::Zeroizing;

use super::{Command, Status};

pub const INS_VERIFY: u8 = 0x20;
pub const INS_CHANGE_REFERENCE: u8 = 0x24;
pub const INS_RESET_RETRY: u8 = 0x2C;

/// Reference data P2: the holder's PIN.
pub const REF_PIN: u8 = 0x80;
/// Reference data P2: the resetting code (PUK) the desk keeps.
pub const REF_PUK: u8 = 0x81;

/// Length of a padded PIN block.
pub const BLOCK: usize = 8;

/// A PIN or PUK in zeroizing memory, 4 to 8 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PinValue(Zeroizing<Vec<u8>>);

impl PinValue {
    pub fn new(value: &[u8]) -> Option<PinValue> {
        if (4..=BLOCK).contains(&value.len()) && !value.contains(&0xFF) {
            Some(PinValue(Zeroizing::new(value.to_vec())))
        } else {
            None
        }
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn block(&self) -> [u8; BLOCK] {
        let mut b = [0xFF; BLOCK];
        b[..self.0.len()].copy_from_slice(&self.0);
        b
    }

    fn from_block(block: &[u8]) -> Option<PinValue> {
        let end = block.iter().position(|&b| b == 0xFF).unwrap_or(block.len());
        if block[end..].iter().any(|&b| b != 0xFF) {
            return None;
        }
        PinValue::new(&block[..end])
    }
}

impl fmt::Debug for PinValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinValue([redacted])")
    }
}

/// A parsed PIN command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinCommand {
    /// `None`: status query (tries left).
    Verify {
        reference: u8,
        value: Option<PinValue>,
    },
    /// `old = None` (P1 = 01) sets a reference that is not set yet.
    Change {
        reference: u8,
        old: Option<PinValue>,
        new: PinValue,
    },
    /// P1 = 00 with a new PIN, P1 = 01 restores the counter only.
    ResetRetry {
        puk: PinValue,
        new_pin: Option<PinValue>,
    },
}

impl PinCommand {
    /// Parses a command, or the status word to answer.
    pub fn parse(cmd: &Command) -> Result<PinCommand, Status> {
        let data: &[u8] = &cmd.data;
        let reference = cmd.p2;
        if reference != REF_PIN && reference != REF_PUK {
            return Err(Status::ReferenceNotFound);
        }
        let value = |block: &[u8]| PinValue::from_block(block).ok_or(Status::WrongData);
        match (cmd.ins, cmd.p1) {
            (INS_VERIFY, 0x00) => match data.len() {
                0 => Ok(PinCommand::Verify {
                    reference,
                    value: None,
                }),
                BLOCK => Ok(PinCommand::Verify {
                    reference,
                    value: Some(value(data)?),
                }),
                _ => Err(Status::WrongLength),
            },
            (INS_CHANGE_REFERENCE, 0x00) if data.len() == 2 * BLOCK => Ok(PinCommand::Change {
                reference,
                old: Some(value(&data[..BLOCK])?),
                new: value(&data[BLOCK..])?,
            }),
            (INS_CHANGE_REFERENCE, 0x01) if data.len() == BLOCK => Ok(PinCommand::Change {
                reference,
                old: None,
                new: value(data)?,
            }),
            (INS_CHANGE_REFERENCE, 0x00 | 0x01) => Err(Status::WrongLength),
            (INS_RESET_RETRY, _) if reference != REF_PIN => Err(Status::ReferenceNotFound),
            (INS_RESET_RETRY, 0x00) if data.len() == 2 * BLOCK => Ok(PinCommand::ResetRetry {
                puk: value(&data[..BLOCK])?,
                new_pin: Some(value(&data[BLOCK..])?),
            }),
            (INS_RESET_RETRY, 0x01) if data.len() == BLOCK => Ok(PinCommand::ResetRetry {
                puk: value(data)?,
                new_pin: None,
            }),
            (INS_RESET_RETRY, 0x00 | 0x01) => Err(Status::WrongLength),
            (INS_VERIFY | INS_CHANGE_REFERENCE | INS_RESET_RETRY, _) => Err(Status::WrongP1P2),
            _ => Err(Status::InsNotSupported),
        }
    }

    /// Builds the APDU; the whole data field is secret.
    pub fn to_command(&self) -> Command {
        let mut data = Zeroizing::new(Vec::new());
        let (ins, p1, p2) = match self {
            PinCommand::Verify { reference, value } => {
                if let Some(v) = value {
                    data.extend_from_slice(&v.block());
                }
                (INS_VERIFY, 0x00, *reference)
            }
            PinCommand::Change {
                reference,
                old,
                new,
            } => {
                if let Some(old) = old {
                    data.extend_from_slice(&old.block());
                }
                data.extend_from_slice(&new.block());
                (INS_CHANGE_REFERENCE, u8::from(old.is_none()), *reference)
            }
            PinCommand::ResetRetry { puk, new_pin } => {
                data.extend_from_slice(&puk.block());
                if let Some(p) = new_pin {
                    data.extend_from_slice(&p.block());
                }
                (INS_RESET_RETRY, u8::from(new_pin.is_none()), REF_PIN)
            }
        };
        let len = data.len();
        Command::new(0x00, ins, p1, p2, data.to_vec()).with_secret(0..len)
    }
}

/// Nitrokey 3 secrets app: VerifyPIN, ChangePIN, SetPIN (`docs/protocols.md`,
/// "Nitrokey 3"). Each waits for a press of the token's button.
pub const INS_NK_VERIFY_PIN: u8 = 0xB2;
pub const INS_NK_CHANGE_PIN: u8 = 0xB3;
pub const INS_NK_SET_PIN: u8 = 0xB4;
/// Tags of the PIN and the new PIN in those commands.
pub const TAG_NK_PIN: u8 = 0x80;
pub const TAG_NK_NEW_PIN: u8 = 0x81;

/// A Nitrokey 3 secrets-app PIN command: `80 L pin` [`81 L new`]. The app
/// has a single PIN and no resetting code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretsPin {
    Verify(PinValue),
    Change {
        old: PinValue,
        new: PinValue,
    },
    /// Only while no PIN is set (a new token, or after a reset).
    Set(PinValue),
}

impl SecretsPin {
    /// Builds the APDU; the whole data field is secret.
    pub fn to_command(&self) -> Command {
        let mut data = Zeroizing::new(Vec::new());
        let mut push = |tag: u8, v: &PinValue| {
            data.push(tag);
            data.push(v.expose().len() as u8);
            data.extend_from_slice(v.expose());
        };
        let ins = match self {
            SecretsPin::Verify(pin) => {
                push(TAG_NK_PIN, pin);
                INS_NK_VERIFY_PIN
            }
            SecretsPin::Change { old, new } => {
                push(TAG_NK_PIN, old);
                push(TAG_NK_NEW_PIN, new);
                INS_NK_CHANGE_PIN
            }
            SecretsPin::Set(pin) => {
                push(TAG_NK_PIN, pin);
                INS_NK_SET_PIN
            }
        };
        let len = data.len();
        Command::new(0x00, ins, 0x00, 0x00, data.to_vec()).with_secret(0..len)
    }

    /// Parses a command (the virtual token's side), or the status to answer.
    pub fn parse(cmd: &Command) -> Result<SecretsPin, Status> {
        fn take(data: &[u8], tag: u8) -> Result<(PinValue, &[u8]), Status> {
            match data {
                [t, len, rest @ ..] if *t == tag && rest.len() >= usize::from(*len) => {
                    let (value, rest) = rest.split_at(usize::from(*len));
                    Ok((PinValue::new(value).ok_or(Status::WrongData)?, rest))
                }
                _ => Err(Status::WrongData),
            }
        }
        let data: &[u8] = &cmd.data;
        let (first, rest) = take(data, TAG_NK_PIN)?;
        let done = |rest: &[u8], value| {
            if rest.is_empty() {
                Ok(value)
            } else {
                Err(Status::WrongData)
            }
        };
        match cmd.ins {
            INS_NK_VERIFY_PIN => done(rest, SecretsPin::Verify(first)),
            INS_NK_SET_PIN => done(rest, SecretsPin::Set(first)),
            INS_NK_CHANGE_PIN => {
                let (new, rest) = take(rest, TAG_NK_NEW_PIN)?;
                done(rest, SecretsPin::Change { old: first, new })
            }
            _ => Err(Status::InsNotSupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_pin_commands_round_trip_and_mask() {
        let pin = PinValue::new(b"482915").unwrap();
        let new = PinValue::new(b"593017").unwrap();
        let set = SecretsPin::Set(pin.clone()).to_command();
        assert_eq!(
            set.encode()[0].as_slice(),
            b"\x00\xB4\x00\x00\x08\x80\x06482915"
        );
        assert!(!set.redacted_hex().contains("34"), "{}", set.redacted_hex());
        for c in [
            SecretsPin::Verify(pin.clone()),
            SecretsPin::Set(pin.clone()),
            SecretsPin::Change { old: pin, new },
        ] {
            assert_eq!(SecretsPin::parse(&c.to_command()), Ok(c));
        }
        let bad = Command::new(0, INS_NK_VERIFY_PIN, 0, 0, vec![0x80, 9, 1]);
        assert_eq!(SecretsPin::parse(&bad), Err(Status::WrongData));
    }

    #[test]
    fn round_trip_and_masking() {
        let pin = PinValue::new(b"482915").unwrap();
        let puk = PinValue::new(b"12345678").unwrap();
        for c in [
            PinCommand::Verify {
                reference: REF_PIN,
                value: None,
            },
            PinCommand::Verify {
                reference: REF_PIN,
                value: Some(pin.clone()),
            },
            PinCommand::Change {
                reference: REF_PIN,
                old: Some(pin.clone()),
                new: pin.clone(),
            },
            PinCommand::Change {
                reference: REF_PUK,
                old: None,
                new: puk.clone(),
            },
            PinCommand::ResetRetry {
                puk: puk.clone(),
                new_pin: Some(pin.clone()),
            },
            PinCommand::ResetRetry {
                puk: puk.clone(),
                new_pin: None,
            },
        ] {
            let cmd = c.to_command();
            assert!(!cmd.redacted_hex().contains("34"), "{}", cmd.redacted_hex());
            assert_eq!(PinCommand::parse(&cmd), Ok(c));
        }
        let verify = PinCommand::Verify {
            reference: REF_PIN,
            value: Some(pin),
        }
        .to_command();
        assert_eq!(
            verify.encode()[0].as_slice(),
            b"\x00\x20\x00\x80\x08482915\xFF\xFF"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(ins in proptest::sample::select(vec![0x20u8, 0x24, 0x2C]), p1 in 0u8..4,
                                             p2 in proptest::sample::select(vec![0x80u8, 0x81, 0x00]),
                                             data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20)) {
            let cmd = Command::new(0, ins, p1, p2, data);
            if let Ok(parsed) = PinCommand::parse(&cmd) {
                proptest::prop_assert_eq!(PinCommand::parse(&parsed.to_command()), Ok(parsed));
            }
        }
    }

    #[test]
    fn malformed_blocks() {
        let bad = |ins, p1, p2, data: &[u8]| {
            PinCommand::parse(&Command::new(0, ins, p1, p2, data.to_vec()))
        };
        assert_eq!(bad(0x20, 0, 0x80, b"123"), Err(Status::WrongLength));
        assert_eq!(bad(0x20, 0, 0x80, b"12\xFF45678"), Err(Status::WrongData));
        assert_eq!(
            bad(0x20, 0, 0x80, b"12\xFF\xFF\xFF\xFF\xFF\xFF"),
            Err(Status::WrongData)
        );
        assert_eq!(bad(0x20, 0, 0x99, b""), Err(Status::ReferenceNotFound));
        assert_eq!(bad(0x20, 5, 0x80, b""), Err(Status::WrongP1P2));
        assert_eq!(
            bad(0x2C, 0, 0x81, &[0x31; 16]),
            Err(Status::ReferenceNotFound)
        );
    }
}
