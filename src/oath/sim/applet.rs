//! The virtual token as a card: a YKOATH applet, enough of the YubiKey
//! management applet for ykman, and a device PIN with a hardware-style retry
//! counter. It takes APDU bytes and returns APDU bytes; it never touches a bus,
//! so the same code runs behind vpcd and in-process in transcript tests.
//!
//! The device PIN does not gate YKOATH (ykman must keep working); while it is
//! blocked, CALCULATE and CALCULATE ALL answer 6983 so a blocked token yields no
//! codes until the desk resets the counter. RESET (wipe) clears the PIN and PUK
//! too: the token goes back to stock. The card has no clock: TOTP challenges come
//! from the host, as on a YubiKey.

use std::fmt;

use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::personality::{Dispatcher, Personality};
use super::state::{AppletState, HexSecret, StateStore, StoredAccessKey, StoredCredential};
use super::{Entropy, VirtualTokenError};
use crate::apdu::pin::{PinCommand, SecretsPin};
use crate::apdu::{self, Command, Response, ResponseChunker, Status};
use crate::oath::codec::{self, CodeResponse, ListEntry, NewCredential, Request, SelectInfo};
use crate::otp::raw;
use crate::otp::Algorithm;

/// Firmware version the token reports by default (single-digit minor and
/// patch for yubikit).
pub const VERSION: [u8; 3] = [5, 4, 3];
/// The default ATR (a YubiKey 5 NFC's: ykman treats it as a USB connection).
pub const ATR: [u8; 23] = [
    0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59,
    0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
];
/// Credential slots of the default personality.
pub const MAX_CREDENTIALS: usize = 32;
/// Largest reassembled chained command.
const MAX_CHAINED: usize = 4096;
/// Management applet: GET DEVICE INFO.
const INS_DEVICE_INFO: u8 = 0x1D;
/// Capability bit of the OATH application.
const CAP_OATH: u16 = 0x0020;

/// Which applet answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Selected {
    Oath,
    Management,
}

/// Options of the card itself.
#[derive(Clone, Copy, Debug)]
pub struct CardOptions {
    /// Bytes per response before `61xx` (YubiKeys send up to 255).
    pub chunk: usize,
    /// The real token it behaves like.
    pub personality: Personality,
}

impl Default for CardOptions {
    fn default() -> Self {
        CardOptions {
            chunk: 255,
            personality: Personality::default(),
        }
    }
}

/// The card. `S` keeps the state, `E` supplies salts and challenges.
pub struct OathApplet<S, E> {
    pub(super) store: S,
    entropy: E,
    options: CardOptions,
    pub(super) state: AppletState,
    selected: Option<Selected>,
    /// VALIDATE succeeded in this selection.
    unlocked: bool,
    /// The challenge sent in the last SELECT while an access code is set.
    card_challenge: Option<[u8; 8]>,
    chunker: ResponseChunker,
    chain: Option<Command>,
    /// The Nitrokey 3's APDU dispatcher (GET RESPONSE).
    dispatcher: Dispatcher,
    /// Nitrokey 3 4.7: VerifyPIN succeeded in the command just before.
    pin_just_verified: bool,
}

impl<S, E> fmt::Debug for OathApplet<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OathApplet")
            .field("serial", &self.state.serial)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

pub(super) fn unhex(text: &str) -> Result<Zeroizing<Vec<u8>>, Status> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| Status::NoPreciseDiagnosis)
}

impl<S: StateStore, E: Entropy> OathApplet<S, E> {
    /// Loads the token from `store`, or creates a blank one with `serial`.
    pub fn open(
        mut store: S,
        mut entropy: E,
        serial: u32,
        options: CardOptions,
    ) -> Result<Self, VirtualTokenError> {
        let state = match store.load()? {
            Some(state) => state,
            None => {
                let state = AppletState::fresh(serial, hex(&entropy.bytes8()?));
                store.save(&state)?;
                state
            }
        };
        Ok(OathApplet {
            store,
            entropy,
            options,
            state,
            selected: None,
            unlocked: false,
            card_challenge: None,
            chunker: ResponseChunker::default(),
            chain: None,
            dispatcher: Dispatcher::default(),
            pin_just_verified: false,
        })
    }

    pub fn personality(&self) -> Personality {
        self.options.personality
    }

    /// The ATR of the token it plays.
    pub fn atr(&self) -> &'static [u8] {
        self.options.personality.atr()
    }

    pub fn state(&self) -> &AppletState {
        &self.state
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Power off, power on or reset: every session state is dropped.
    pub fn deselect(&mut self) {
        self.selected = None;
        self.unlocked = false;
        self.card_challenge = None;
        self.chunker.clear();
        self.chain = None;
        self.dispatcher.clear();
        self.pin_just_verified = false;
    }

    /// Answers one APDU, as bytes in, bytes out.
    pub fn process(&mut self, apdu_bytes: &[u8]) -> Vec<u8> {
        let response = match Command::parse(apdu_bytes) {
            Ok(cmd) => self.call(cmd),
            Err(apdu::ApduError::LengthMismatch { .. })
            | Err(apdu::ApduError::TooShort { .. })
            | Err(apdu::ApduError::Extended) => Response::status(Status::WrongLength),
            Err(_) => Response::status(Status::NoPreciseDiagnosis),
        };
        response.encode()
    }

    /// Answers one parsed command (through the Nitrokey 3's dispatcher when
    /// it plays one).
    pub fn call(&mut self, cmd: Command) -> Response {
        if !self.options.personality.is_nitrokey3() {
            return self.applet_call(cmd);
        }
        let mut dispatcher = std::mem::take(&mut self.dispatcher);
        let response = dispatcher.call(cmd, |cmd| self.applet_call(cmd));
        self.dispatcher = dispatcher;
        response
    }

    fn applet_call(&mut self, cmd: Command) -> Response {
        if cmd.cla & !apdu::CLA_CHAINING != 0 {
            return Response::status(Status::ClaNotSupported);
        }
        if cmd.ins == codec::INS_SELECT && cmd.p1 == 0x04 {
            return self.select(&cmd.data);
        }
        // ISO chaining: collect chunks until the one without CLA bit 0x10.
        let cmd = match self.chain.take() {
            Some(mut head) => {
                if (head.ins, head.p1, head.p2) != (cmd.ins, cmd.p1, cmd.p2) {
                    return Response::status(Status::ConditionsNotSatisfied);
                }
                if head.data.len() + cmd.data.len() > MAX_CHAINED {
                    return Response::status(Status::WrongLength);
                }
                head.data.extend_from_slice(&cmd.data);
                head.cla = cmd.cla;
                head
            }
            None => cmd,
        };
        if cmd.is_chained() {
            self.chain = Some(cmd);
            return Response::status(Status::Ok);
        }
        match self.selected {
            None => Response::status(Status::InsNotSupported),
            Some(Selected::Management) => self.management(&cmd),
            Some(Selected::Oath) => {
                let chunk = self.options.chunk;
                if cmd.ins == codec::INS_SEND_REMAINING {
                    if !self.unlocked_or_open() {
                        return Response::status(Status::SecurityNotSatisfied);
                    }
                    return self.chunker.next(chunk);
                }
                let response = self.oath(&cmd);
                if self.options.personality.is_nitrokey3() {
                    // Its dispatcher hands the answer out.
                    return response;
                }
                self.chunker.start(response, chunk)
            }
        }
    }

    fn select(&mut self, aid: &[u8]) -> Response {
        self.deselect();
        let personality = self.options.personality;
        if aid == codec::OATH_AID {
            self.selected = Some(Selected::Oath);
            let (challenge, algorithm) = match &self.state.access_key {
                Some(k) => match self.entropy.bytes8() {
                    Ok(c) => {
                        self.card_challenge = Some(c);
                        (Some(c.to_vec()), Some(k.algorithm))
                    }
                    Err(_) => return Response::status(Status::NoPreciseDiagnosis),
                },
                None => (None, None),
            };
            let salt = match unhex(&self.state.salt) {
                Ok(s) => s,
                Err(sw) => return Response::status(sw),
            };
            let nk3 = personality.is_nitrokey3();
            // A Nitrokey 3 with a PIN set shows its retries and no salt.
            let pin_retries = (nk3 && self.state.pin.is_some()).then_some(self.state.pin_tries);
            let info = SelectInfo {
                version: personality.version,
                salt: if pin_retries.is_some() {
                    Vec::new()
                } else {
                    salt.to_vec()
                },
                challenge,
                algorithm,
                pin_retries,
                serial: personality.serial_tag().then_some(self.state.serial),
            };
            Response::new(info.encode(), Status::Ok)
        } else if aid == codec::MGMT_AID && !personality.is_nitrokey3() {
            self.selected = Some(Selected::Management);
            let [a, b, c] = personality.version;
            Response::new(
                format!("keyward virtual token - FW version {a}.{b}.{c}").into_bytes(),
                Status::Ok,
            )
        } else {
            Response::status(Status::NotFound)
        }
    }

    fn management(&mut self, cmd: &Command) -> Response {
        if cmd.ins != INS_DEVICE_INFO {
            return Response::status(Status::InsNotSupported);
        }
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(Status::WrongP1P2);
        }
        let mut tlvs = Vec::new();
        codec::tlv::push(&mut tlvs, 0x01, &CAP_OATH.to_be_bytes());
        codec::tlv::push(&mut tlvs, 0x02, &self.state.serial.to_be_bytes());
        codec::tlv::push(&mut tlvs, 0x03, &CAP_OATH.to_be_bytes());
        codec::tlv::push(&mut tlvs, 0x04, &[0x01]);
        codec::tlv::push(&mut tlvs, 0x05, &self.options.personality.version);
        codec::tlv::push(&mut tlvs, 0x0A, &[0x00]);
        let mut data = vec![tlvs.len() as u8];
        data.extend_from_slice(&tlvs);
        Response::new(data, Status::Ok)
    }

    fn unlocked_or_open(&self) -> bool {
        self.state.access_key.is_none() || self.unlocked
    }

    /// Commits `next` durably, then makes it the live state. On a storage error
    /// the live state is left unchanged and the card answers 6581 (memory failure).
    pub(super) fn commit(&mut self, next: AppletState) -> Result<(), Status> {
        match self.store.save(&next) {
            Ok(()) => {
                self.state = next;
                Ok(())
            }
            Err(err) => {
                tracing::error!(%err, "virtual token could not save its state");
                Err(Status::Other(0x6581))
            }
        }
    }

    fn oath(&mut self, cmd: &Command) -> Response {
        let personality = self.options.personality;
        let just_verified = std::mem::take(&mut self.pin_just_verified);
        if personality.is_nitrokey3() {
            use crate::apdu::pin::{INS_NK_CHANGE_PIN, INS_NK_SET_PIN, INS_NK_VERIFY_PIN};
            if matches!(
                cmd.ins,
                INS_NK_VERIFY_PIN | INS_NK_CHANGE_PIN | INS_NK_SET_PIN
            ) {
                let result = SecretsPin::parse(cmd).and_then(|pin| self.secrets_pin(pin));
                self.pin_just_verified = result.is_ok() && cmd.ins == INS_NK_VERIFY_PIN;
                return Response::status(result.err().unwrap_or(Status::Ok));
            }
            // 4.7 with a PIN set: every command right after VerifyPIN.
            let open = cmd.ins == codec::INS_RESET || self.state.pin.is_none();
            if personality.pin_before_each_command() && !open && !just_verified {
                return Response::status(Status::SecurityNotSatisfied);
            }
        } else if matches!(
            cmd.ins,
            apdu::pin::INS_VERIFY | apdu::pin::INS_CHANGE_REFERENCE | apdu::pin::INS_RESET_RETRY
        ) {
            return match PinCommand::parse(cmd) {
                Ok(pin) => self.pin(pin),
                Err(sw) => Response::status(sw),
            };
        }
        let request = match Request::parse(cmd) {
            Ok(r) => r,
            Err(sw) => return Response::status(sw),
        };
        let gated = !matches!(request, Request::Validate { .. } | Request::Reset);
        if gated && !self.unlocked_or_open() {
            return Response::status(Status::SecurityNotSatisfied);
        }
        let result = match request {
            Request::Put(c) => self.put(c),
            Request::Delete { name } => self.delete(&name),
            Request::SetCode(key) => self.set_code(key),
            Request::Reset => self.reset(),
            Request::Rename { .. } if !personality.renames() => Err(Status::InsNotSupported),
            Request::Rename { from, to } => self.rename(&from, &to),
            Request::List => self.list(),
            Request::Calculate {
                name,
                challenge,
                truncate,
            } => self.calculate(&name, &challenge, truncate),
            Request::Validate {
                response,
                challenge,
            } => self.validate(&response, &challenge),
            Request::CalculateAll {
                challenge,
                truncate,
            } => self.calculate_all(&challenge, truncate),
            // Handled in `call`; reaching here means nothing was pending.
            Request::SendRemaining => Err(Status::ConditionsNotSatisfied),
        };
        match result {
            Ok(data) => Response::new(data, Status::Ok),
            Err(sw) => Response::status(sw),
        }
    }

    fn position(&self, name: &[u8]) -> Option<usize> {
        let id = hex(name);
        self.state.credentials.iter().position(|c| c.name == id)
    }

    fn put(&mut self, c: NewCredential) -> Result<Vec<u8>, Status> {
        let stored = StoredCredential {
            name: hex(&c.name),
            type_alg: codec::type_byte(c.kind, c.algorithm),
            digits: c.digits,
            key: HexSecret::new(hex(&c.key)),
            touch: c.touch,
            increasing: c.increasing,
            counter: u64::from(c.imf),
        };
        let mut next = self.state.clone();
        let personality = self.options.personality;
        match self.position(&c.name) {
            // A Nitrokey 3 refuses to overwrite (OperationBlocked).
            Some(_) if personality.is_nitrokey3() => return Err(Status::AuthBlocked),
            Some(i) => next.credentials[i] = stored,
            None if next.credentials.len() >= personality.capacity() => {
                return Err(Status::NoSpace)
            }
            None => next.credentials.push(stored),
        }
        self.commit(next)?;
        Ok(Vec::new())
    }

    /// The credential named `name`, or the personality's "not found".
    fn find(&self, name: &[u8]) -> Result<usize, Status> {
        self.position(name)
            .ok_or(self.options.personality.missing_credential())
    }

    /// A Nitrokey 3 waits for its button before DELETE and RESET.
    fn confirm_change(&self) -> Result<(), Status> {
        if self.options.personality.is_nitrokey3() {
            self.options.personality.await_touch()?;
        }
        Ok(())
    }

    fn delete(&mut self, name: &[u8]) -> Result<Vec<u8>, Status> {
        self.confirm_change()?;
        let i = self.find(name)?;
        let mut next = self.state.clone();
        next.credentials.remove(i);
        self.commit(next)?;
        Ok(Vec::new())
    }

    fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<Vec<u8>, Status> {
        let i = self.position(from).ok_or(Status::NoSuchObject)?;
        if self.position(to).is_some() {
            return Err(Status::WrongData);
        }
        let mut next = self.state.clone();
        next.credentials[i].name = hex(to);
        self.commit(next)?;
        Ok(Vec::new())
    }

    fn list(&self) -> Result<Vec<u8>, Status> {
        let mut entries = Vec::new();
        for c in &self.state.credentials {
            let (kind, algorithm) =
                codec::parse_type_byte(c.type_alg).ok_or(Status::NoPreciseDiagnosis)?;
            entries.push(ListEntry {
                kind,
                algorithm,
                name: unhex(&c.name)?.to_vec(),
            });
        }
        Ok(codec::encode_list(&entries))
    }

    pub(super) fn pin_blocked(&self) -> bool {
        self.state.pin.is_some() && self.state.pin_tries == 0
    }

    /// The code answer for credential `i`, moving an HOTP counter first.
    fn compute(
        &mut self,
        i: usize,
        challenge: &[u8],
        truncate: bool,
    ) -> Result<CodeResponse, Status> {
        let c = self.state.credentials.get(i).ok_or(Status::NoSuchObject)?;
        let (kind, algorithm) =
            codec::parse_type_byte(c.type_alg).ok_or(Status::NoPreciseDiagnosis)?;
        let key = unhex(c.key.expose())?;
        let digits = c.digits;
        let message: Vec<u8> = match kind {
            codec::OathType::Hotp => {
                let counter = c.counter;
                let mut next = self.state.clone();
                let slot = next.credentials.get_mut(i).ok_or(Status::NoSuchObject)?;
                slot.counter = counter
                    .checked_add(1)
                    .ok_or(Status::ConditionsNotSatisfied)?;
                // The counter moves durably before any code leaves the card.
                self.commit(next)?;
                counter.to_be_bytes().to_vec()
            }
            codec::OathType::Totp => challenge.to_vec(),
        };
        let mac = raw::hmac(algorithm, &key, &message);
        if truncate {
            let value = raw::truncate(&mac).ok_or(Status::NoPreciseDiagnosis)?;
            Ok(CodeResponse::Truncated { digits, value })
        } else {
            Ok(CodeResponse::Full { digits, mac })
        }
    }

    fn calculate(
        &mut self,
        name: &[u8],
        challenge: &[u8],
        truncate: bool,
    ) -> Result<Vec<u8>, Status> {
        if self.pin_blocked() && !self.options.personality.is_nitrokey3() {
            return Err(Status::AuthBlocked);
        }
        let i = self.find(name)?;
        Ok(self.compute(i, challenge, truncate)?.encode())
    }

    fn calculate_all(&mut self, challenge: &[u8], truncate: bool) -> Result<Vec<u8>, Status> {
        if self.pin_blocked() {
            return Err(Status::AuthBlocked);
        }
        let mut entries = Vec::new();
        for i in 0..self.state.credentials.len() {
            let c = &self.state.credentials[i];
            let name = unhex(&c.name)?.to_vec();
            let digits = c.digits;
            let code = if c.type_alg & 0xF0 == 0x10 {
                CodeResponse::Hotp { digits }
            } else if c.touch {
                CodeResponse::Touch { digits }
            } else {
                self.compute(i, challenge, truncate)?
            };
            entries.push((name, code));
        }
        Ok(codec::encode_calculate_all(&entries))
    }

    fn set_code(&mut self, key: Option<codec::AccessKey>) -> Result<Vec<u8>, Status> {
        let mut next = self.state.clone();
        match key {
            None => next.access_key = None,
            Some(k) => {
                let expected = raw::hmac(k.algorithm, &k.key, &k.challenge);
                if !bool::from(expected.as_slice().ct_eq(&k.response)) {
                    return Err(Status::NoSuchObject);
                }
                next.access_key = Some(StoredAccessKey {
                    algorithm: codec::type_byte(codec::OathType::Totp, k.algorithm) & 0x0F,
                    key: HexSecret::new(hex(&k.key)),
                });
            }
        }
        self.commit(next)?;
        Ok(Vec::new())
    }

    fn validate(&mut self, response: &[u8], host_challenge: &[u8]) -> Result<Vec<u8>, Status> {
        let stored = self.state.access_key.clone().ok_or(Status::NoSuchObject)?;
        let challenge = self.card_challenge.take().ok_or(Status::WrongData)?;
        let algorithm = match stored.algorithm {
            0x02 => Algorithm::Sha256,
            0x03 => Algorithm::Sha512,
            _ => Algorithm::Sha1,
        };
        let key = unhex(stored.key.expose())?;
        let expected = raw::hmac(algorithm, &key, &challenge);
        if !bool::from(expected.as_slice().ct_eq(response)) {
            self.unlocked = false;
            return Err(Status::WrongData);
        }
        self.unlocked = true;
        let answer = raw::hmac(algorithm, &key, host_challenge);
        let mut out = Vec::new();
        codec::tlv::push(&mut out, codec::TAG_RESPONSE, &answer);
        Ok(out)
    }

    fn reset(&mut self) -> Result<Vec<u8>, Status> {
        self.confirm_change()?;
        let salt = self
            .entropy
            .bytes8()
            .map_err(|_| Status::NoPreciseDiagnosis)?;
        let next = AppletState::fresh(self.state.serial, hex(&salt));
        self.commit(next)?;
        self.unlocked = false;
        self.card_challenge = None;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oath::sim::state::MemoryStore;
    use crate::oath::sim::CountingEntropy;

    fn card(store: MemoryStore) -> OathApplet<MemoryStore, CountingEntropy> {
        OathApplet::open(store, CountingEntropy(0), 7, CardOptions::default()).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXUPPER.decode(s.as_bytes()).unwrap()
    }

    const SELECT: &str = "00A4040007A0000005272101";
    const PUT_HOTP: &str = "000100001B710161731611063132333435363738393031323334353637383930";
    const CALC: &str = "00A20001057101617400";

    #[test]
    fn hotp_counter_survives_a_restart() {
        let mut c = card(MemoryStore::default());
        c.process(&hex(SELECT));
        assert_eq!(c.process(&hex(PUT_HOTP)), hex("9000"));
        assert_eq!(c.process(&hex(CALC)), hex("7605064C93CF189000"));
        // "Restart": a new card over the saved state continues at counter 1.
        let saved = c.store().state.clone();
        let mut c = card(MemoryStore {
            state: saved,
            fail_saves: false,
        });
        c.process(&hex(SELECT));
        assert_eq!(c.process(&hex(CALC)), hex("76050641397EEA9000"));
    }

    #[test]
    fn a_failed_save_changes_nothing_and_gives_no_code() {
        let mut c = card(MemoryStore::default());
        c.process(&hex(SELECT));
        c.process(&hex(PUT_HOTP));
        let before = c.state().clone();
        c.store.fail_saves = true;
        // The HOTP counter cannot move durably, so no code leaves the card.
        assert_eq!(c.process(&hex(CALC)), hex("6581"));
        assert_eq!(c.process(&hex("0002000003710161")), hex("6581"));
        assert_eq!(c.state(), &before);
        c.store.fail_saves = false;
        assert_eq!(c.process(&hex(CALC)), hex("7605064C93CF189000"));
    }

    #[test]
    fn slots_run_out_with_6a84() {
        let mut c = card(MemoryStore::default());
        c.process(&hex(SELECT));
        for i in 0..MAX_CREDENTIALS {
            let name = format!("{i:02}");
            let mut data = vec![0x71, 2];
            data.extend_from_slice(name.as_bytes());
            data.extend_from_slice(&hex("731621063132333435363738393031323334353637383930"));
            let cmd = Command::new(0, 1, 0, 0, data.clone());
            assert_eq!(c.call(cmd).status, Status::Ok, "{i}");
            if i == MAX_CREDENTIALS - 1 {
                data[2] = b'x';
                let cmd = Command::new(0, 1, 0, 0, data);
                assert_eq!(c.call(cmd).status, Status::NoSpace);
            }
        }
    }

    proptest::proptest! {
        /// Any byte string, in any applet state, gets an answer with a status word.
        #[test]
        fn never_panics(frames in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 1..8), applet in 0u8..3) {
            let mut c = card(MemoryStore::default());
            match applet {
                0 => { c.process(&hex(SELECT)); }
                1 => { c.process(&hex("00A4040008A000000527471117")); }
                _ => {}
            }
            for f in frames {
                let mut cmd = f.clone();
                if cmd.len() >= 2 {
                    // Bias towards real instructions.
                    cmd[0] &= 0x10;
                }
                let r = c.process(&cmd);
                proptest::prop_assert!(r.len() >= 2);
            }
        }
    }
}
