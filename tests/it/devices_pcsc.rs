//! The device manager through the real PC/SC stack (our pcscd, vpcd and a
//! `keyward sim` process): the watcher sees the token arrive and leave,
//! identifies and registers it, and a prepare goes pending → write → read
//! back → commit over PC/SC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::pcscd::{lock, Pcscd, Sim, READER0};
use keyward::devices::{default_params, DeviceEvent, DeviceManager};
use keyward::domain::{PersonId, RightOrigin, TokenState};

fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<DeviceEvent>,
    within: Duration,
    wanted: impl Fn(&DeviceEvent) -> bool,
) -> DeviceEvent {
    let deadline = Instant::now() + within;
    loop {
        match events.try_recv() {
            Ok(event) if wanted(&event) => return event,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "no such event within {within:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn watcher_sees_a_token_arrive_registers_it_and_prepares_it_over_pcsc() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let world::World {
        dir: _dir,
        clock,
        store,
    } = world::world(world::at("2026-09-15", 10));
    store
        .write(&world::desk(), "appoint", |tx| {
            tx.grant_right(
                RightOrigin::Appointment,
                &world::pid("adurand"),
                &world::uai(world::SCHOOL_EAST),
                keyward::domain::Date::parse("2026-09-01").unwrap(),
                None,
            )
        })
        .unwrap();
    let store = Arc::new(store);
    let devices = DeviceManager::new(
        store.clone(),
        clock.clone(),
        keyward::profile::builtin().unwrap(),
    );
    let mut events = devices.subscribe();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let devices = devices.clone();
        let stop = stop.clone();
        std::thread::spawn(move || devices.watch_pcsc(stop))
    };

    let mut sim = Sim::with_serial(&pcscd, 0, "t0.toml", "4242");
    // Registered as stock before its insertion is published (a client acting
    // on the event finds it known). The watcher polls every 500 ms; the
    // bound only stops a hung test on a loaded machine, it is not a figure.
    next_event(
        &mut events,
        Duration::from_secs(10),
        |e| matches!(e, DeviceEvent::TokenState { serial, state: TokenState::Stock, .. } if serial == "4242"),
    );
    let inserted = next_event(
        &mut events,
        Duration::from_secs(10),
        |e| matches!(e, DeviceEvent::Inserted { reader, .. } if reader == READER0),
    );
    assert_eq!(
        inserted,
        DeviceEvent::Inserted {
            reader: READER0.to_owned(),
            serial: Some("4242".to_owned()),
            profile: Some("keyward-virtual".to_owned()),
        }
    );
    assert_eq!(
        store.read(|tx| tx.token("4242")).unwrap().state,
        TokenState::Stock
    );

    // Prepare over PC/SC, then a code read from the token proves possession.
    let holder = PersonId::parse("adurand").unwrap();
    devices
        .prepare(
            &world::desk(),
            READER0,
            "4242",
            &holder,
            default_params(),
            None,
        )
        .unwrap();
    assert!(store.read(|tx| tx.pending_writes()).unwrap().is_empty());
    let code = devices.read_code(READER0, "4242").unwrap();
    let receipt = store
        .write(&world::inspector_east(), "handover", |tx| {
            tx.handover("4242", "Est", &code)
        })
        .unwrap();
    assert_eq!(receipt.content.token_serial, "4242");

    sim.stop();
    next_event(
        &mut events,
        Duration::from_secs(10),
        |e| matches!(e, DeviceEvent::Removed { reader } if reader == READER0),
    );
    assert!(devices.present().iter().all(|p| p.reader != READER0));
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap().unwrap();
}
