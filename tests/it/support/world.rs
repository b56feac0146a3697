//! Shared fixtures: a store on a real SQLite file in a temporary directory,
//! with a fixed clock, and an authority with two districts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use keyward::domain::{Actor, Date, FixedClock, MailAddress, PersonId, RightOrigin, Uai, UnixTime};
use keyward::otp::CredentialParams;
use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret, Totp};
use keyward::store::{Config, Store, StoreError, Tx};

pub const DOMAIN: &str = "ac-exemple.fr";
pub const SCHOOL_EAST: &str = "0751710B";
pub const SCHOOL_EAST_2: &str = "0130001F";
pub const SCHOOL_WEST: &str = "0750001U";

pub struct World {
    pub dir: tempfile::TempDir,
    pub clock: Arc<FixedClock>,
    pub store: Store,
}

pub fn at(date: &str, hour: u64) -> UnixTime {
    Date::parse(date).unwrap().start() + hour * 3600
}

pub fn pid(s: &str) -> PersonId {
    PersonId::parse(s).unwrap()
}

pub fn uai(s: &str) -> Uai {
    Uai::parse(s).unwrap()
}

pub fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

pub fn mail(s: &str) -> MailAddress {
    MailAddress::parse(s).unwrap()
}

pub fn desk() -> Actor {
    Actor::Desk(pid("alice"))
}

pub fn inspector_east() -> Actor {
    Actor::Inspector(pid("pmartin"))
}

pub fn inspector_west() -> Actor {
    Actor::Inspector(pid("lbernard"))
}

/// A fresh store in `DIR/data`, on a temporary directory, with a fixed clock
/// at `now`: the base of the world here and of the API fixture.
pub fn empty_store(now: UnixTime) -> (tempfile::TempDir, Arc<FixedClock>, Store) {
    empty_store_with(now, Config::new(DOMAIN))
}

/// [`empty_store`] with other store settings.
pub fn empty_store_with(
    now: UnixTime,
    config: Config,
) -> (tempfile::TempDir, Arc<FixedClock>, Store) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(now));
    let store = Store::init(&dir.path().join("data"), clock.clone(), config).unwrap();
    (dir, clock, store)
}

/// Two districts (east: pmartin, west: lbernard), three schools, and the
/// people the scenarios use.
pub fn world(now: UnixTime) -> World {
    world_with(now, Config::new(DOMAIN))
}

/// [`world`] with other store settings.
pub fn world_with(now: UnixTime, config: Config) -> World {
    let (dir, clock, store) = empty_store_with(now, config);
    store
        .write(&desk(), "setup", |tx| {
            for (id, name) in [
                ("alice", "Alice Morel"),
                ("pmartin", "Paul Martin"),
                ("lbernard", "Lucie Bernard"),
                ("adurand", "Anne Durand"),
                ("bleroy", "Bruno Leroy"),
                ("cmoreau", "Chloé Moreau"),
                ("dpetit", "David Petit"),
                ("egarcia", "Emma Garcia"),
                ("froux", "Félix Roux"),
            ] {
                add_person(tx, id, name)?;
            }
            tx.add_district("D-EST", "Circonscription Est", &pid("pmartin"))?;
            tx.add_district("D-OUEST", "Circonscription Ouest", &pid("lbernard"))?;
            tx.add_school(&uai(SCHOOL_EAST), "École des Lilas", "D-EST")?;
            tx.add_school(&uai(SCHOOL_EAST_2), "École du Port", "D-EST")?;
            tx.add_school(&uai(SCHOOL_WEST), "École des Tilleuls", "D-OUEST")?;
            Ok(())
        })
        .unwrap();
    World { dir, clock, store }
}

/// Adds `id` with the authority's address `id@DOMAIN`.
pub fn add_person(tx: &mut Tx<'_>, id: &str, full_name: &str) -> Result<(), StoreError> {
    tx.add_person(&pid(id), full_name, &mail(&format!("{id}@{DOMAIN}")))
}

/// Registers `device` and prepares it as a TOTP token for `holder`, within
/// the caller's transaction.
pub fn register_and_prepare(
    tx: &mut Tx<'_>,
    device: &Device,
    holder: &str,
) -> Result<(), StoreError> {
    tx.add_token(&device.serial, "virtual")?;
    tx.prepare_token(
        &device.serial,
        &pid(holder),
        &device.secret,
        CredentialParams::totp(),
    )?;
    Ok(())
}

/// On 2026-11-02, adurand, director of the east school since 2025-09-01,
/// with the active key `serial` made by `key` (`World::active_hotp` or
/// `World::active_totp`) and `pin`.
pub fn adurand_directing(
    key: fn(&World, &str, &str, &str) -> Device,
    serial: &str,
    pin: &str,
) -> (World, Device) {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let device = key(&w, "adurand", serial, pin);
    (w, device)
}

/// The holder's help mail to the desk (their own address, EAST's inspector
/// in copy), filed by the desk for `reason`; the request's id.
pub fn file_help(store: &Store, login: &str, reason: keyward::domain::RevokeReason) -> i64 {
    let help = keyward::domain::requests::HelpMail {
        from: mail(&format!("{login}@{DOMAIN}")),
        cc: vec![mail(&format!("pmartin@{DOMAIN}"))],
    };
    store
        .write(&desk(), "help", |tx| {
            tx.file_replacement_request(&pid(login), reason, &help)
        })
        .unwrap()
}

/// The holder's side of a token: its secret, to compute codes as it would.
pub struct Device {
    pub serial: String,
    pub key: CredentialKey,
    pub secret: Secret,
}

impl Device {
    pub fn new(serial: &str) -> Self {
        Device::with_secret(serial, Secret::generate(Algorithm::Sha1).unwrap())
    }

    /// A SHA-1 token holding a chosen `secret`.
    pub fn with_secret(serial: &str, secret: Secret) -> Self {
        Device {
            serial: serial.into(),
            key: CredentialKey::new(Algorithm::Sha1, &secret),
            secret,
        }
    }

    /// The TOTP code the token shows at `now`.
    pub fn code(&self, now: UnixTime) -> String {
        Totp::new(Digits::SIX, keyward::otp::Period::DEFAULT)
            .code_at_time(&self.key, now)
            .unwrap()
            .to_string()
    }

    pub fn hotp(&self, counter: u64) -> String {
        code_at(&self.key, counter, Digits::SIX).to_string()
    }
}

impl World {
    pub fn now(&self) -> UnixTime {
        use keyward::domain::Clock as _;
        self.clock.now()
    }

    /// Moves to the next TOTP step, so a fresh code is available.
    pub fn next_step(&self) {
        self.clock.advance(30);
    }

    /// Desk registers and prepares a TOTP token for `holder`.
    pub fn prepare(&self, device: &Device, holder: &str) {
        self.store
            .write(&desk(), "prepare", |tx| {
                register_and_prepare(tx, device, holder)
            })
            .unwrap();
    }

    /// Desk appoints `holder` director of `school` from `from` (until `until`);
    /// returns the right's id.
    pub fn appoint(&self, holder: &str, school: &str, from: &str, until: Option<&str>) -> i64 {
        self.store
            .write(&desk(), "appoint", |tx| {
                tx.grant_right(
                    RightOrigin::Appointment,
                    &pid(holder),
                    &uai(school),
                    date(from),
                    until.map(date),
                )
            })
            .unwrap()
    }

    /// `by` grants `holder` a delegation in `school` from `from` (until `until`).
    pub fn delegate(
        &self,
        by: &Actor,
        holder: &str,
        school: &str,
        from: &str,
        until: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.store.write(by, "delegate", |tx| {
            tx.grant_right(
                RightOrigin::Delegation,
                &pid(holder),
                &uai(school),
                date(from),
                until.map(date),
            )
        })
    }

    /// Desk prepares an HOTP token `serial` for `holder` and hands it over
    /// (counter 0); the holder activates it with `pin`. Logins use counters 1...
    pub fn active_hotp(&self, holder: &str, serial: &str, pin: &str) -> Device {
        self.activate_hotp(holder, Device::new(serial), pin)
    }

    /// `device`, as a HOTP token, prepared for `holder`, handed over at
    /// counter 0 and activated with `pin`.
    pub fn activate_hotp(&self, holder: &str, device: Device, pin: &str) -> Device {
        let serial = device.serial.as_str();
        self.store
            .write(&desk(), "prepare", |tx| {
                tx.add_token(serial, "virtual")?;
                tx.prepare_token(
                    serial,
                    &pid(holder),
                    &device.secret,
                    CredentialParams::hotp(),
                )?;
                tx.handover(serial, "office", &device.hotp(0))
            })
            .unwrap();
        self.store
            .write(&Actor::Holder(pid(holder)), "activate", |tx| {
                tx.activate(serial, pin)
            })
            .unwrap();
        device
    }

    /// A TOTP token `serial` prepared for `holder`, handed over by the east
    /// inspector and activated with `pin`.
    pub fn active_totp(&self, holder: &str, serial: &str, pin: &str) -> Device {
        let device = Device::new(serial);
        self.prepare(&device, holder);
        self.hand_over_and_activate(&device, holder, &inspector_east(), pin);
        device
    }

    /// Handover by `by` then activation by the holder with `pin`.
    pub fn hand_over_and_activate(&self, device: &Device, holder: &str, by: &Actor, pin: &str) {
        let code = device.code(self.now());
        self.store
            .write(by, "handover", |tx| {
                tx.handover(&device.serial, "Central office", &code)
            })
            .unwrap();
        self.store
            .write(&Actor::Holder(pid(holder)), "activate", |tx| {
                tx.activate(&device.serial, pin)
            })
            .unwrap();
        self.next_step();
    }

    pub fn state(&self, serial: &str) -> keyward::domain::TokenState {
        self.store.read(|tx| Ok(tx.token(serial)?.state)).unwrap()
    }

    pub fn sealed_secret_count(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.store.db_path()).unwrap();
        conn.query_row("SELECT COUNT(*) FROM sealed_secrets", [], |r| r.get(0))
            .unwrap()
    }

    pub fn assert_audit_intact(&self) {
        let head = self.store.verify_audit().unwrap().chain.unwrap();
        assert!(head.seq > 0);
    }
}

impl World {
    /// The detail of the last audit entry with this action.
    pub fn last_audit(&self, action: &str) -> String {
        let conn = rusqlite::Connection::open(self.store.db_path()).unwrap();
        conn.query_row(
            "SELECT detail FROM audit WHERE action = ?1 ORDER BY seq DESC LIMIT 1",
            [action],
            |r| r.get(0),
        )
        .unwrap()
    }
}
