//! Console page render time with a full store: 20,000 people and 10,000
//! tokens (1,000 of them active, held by directors of 100 schools in 10
//! districts), every page rendered through the router in process (session
//! check and touch, the API operation, the template), as an admin and as an
//! inspector. Prints p50, p99 and max per page.
//!
//! `cargo bench --bench console`. Environment: KEYWARD_BENCH_PEOPLE (20000),
//! KEYWARD_BENCH_TOKENS (10000), KEYWARD_BENCH_ACTIVE (1000),
//! KEYWARD_BENCH_APPOINTMENTS (2000: twenty years of directors of the 100
//! schools, ended), KEYWARD_BENCH_RENDERS (200 per page).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use keyward::api::AppState;
use keyward::console::Settings;
use keyward::devices::DeviceManager;
use keyward::domain::{Actor, Date, MailAddress, PersonId, RightOrigin, Role, Uai};
use keyward::otp::{code_at, Algorithm, CredentialKey, CredentialParams, Digits, Secret};
use keyward::store::{Config, Store, SystemClock};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pid(s: &str) -> PersonId {
    PersonId::parse(s).unwrap()
}

fn mail(s: &str) -> MailAddress {
    MailAddress::parse(&format!("{s}@ac-exemple.fr")).unwrap()
}

/// The store, and an admin's and an inspector's session ids.
fn setup(dir: &std::path::Path) -> (Arc<Store>, String, String) {
    let (people, tokens, active) = (
        env("KEYWARD_BENCH_PEOPLE", 20_000),
        env("KEYWARD_BENCH_TOKENS", 10_000),
        env("KEYWARD_BENCH_ACTIVE", 1_000),
    );
    let store = Store::init(dir, Arc::new(SystemClock), Config::new("ac-exemple.fr")).unwrap();
    let desk = Actor::Desk(pid("desk"));
    let started = Instant::now();
    let sessions = store
        .write(&desk, "bench setup", |tx| {
            tx.add_person(&pid("desk"), "Desk", &mail("desk"))?;
            for d in 0..10 {
                let inspector = pid(&format!("insp{d}"));
                tx.add_person(
                    &inspector,
                    &format!("Inspecteur {d}"),
                    &mail(&format!("insp{d}")),
                )?;
                tx.add_district(&format!("D{d}"), &format!("District {d}"), &inspector)?;
            }
            let schools: Vec<Uai> = (0..100)
                .map(|s| {
                    let uai = Uai::parse(&format!("{:07}", 7_510_000 + s)).or_else(|_| {
                        // A valid check letter: try them all.
                        ('A'..='Z')
                            .find_map(|c| Uai::parse(&format!("{:07}{c}", 7_510_000 + s)).ok())
                            .ok_or(())
                    });
                    uai.unwrap()
                })
                .collect();
            for (s, uai) in schools.iter().enumerate() {
                tx.add_school(uai, &format!("École {s}"), &format!("D{}", s % 10))?;
            }
            for i in 0..people {
                let id = pid(&format!("holder{i:05}"));
                tx.add_person(
                    &id,
                    &format!("Personne {i:05} Nom{}", i % 977),
                    &mail(&format!("holder{i:05}")),
                )?;
            }
            for t in 0..tokens {
                let serial = format!("{:08}", 10_000_000 + t);
                tx.add_token(&serial, "virtual")?;
                if t < active {
                    let id = pid(&format!("holder{t:05}"));
                    let school = &schools[t % schools.len()];
                    tx.act_as(Actor::Inspector(pid(&format!(
                        "insp{}",
                        (t % schools.len()) % 10
                    ))));
                    tx.grant_right(
                        RightOrigin::Delegation,
                        &id,
                        school,
                        Date::parse("2020-09-01").unwrap(),
                        None,
                    )?;
                    tx.act_as(desk.clone());
                    let secret = Secret::generate(Algorithm::Sha1).unwrap();
                    let key = CredentialKey::new(Algorithm::Sha1, &secret);
                    tx.prepare_token(&serial, &id, &secret, CredentialParams::hotp())?;
                    tx.handover(&serial, "bench", &code_at(&key, 0, Digits::SIX).to_string())?;
                }
            }
            // Past directors: one appointment per school and school year.
            let appointments = env("KEYWARD_BENCH_APPOINTMENTS", 2_000).min(people);
            for k in 0..appointments {
                let year = 2000 + k / schools.len();
                tx.grant_right(
                    RightOrigin::Appointment,
                    &pid(&format!("holder{:05}", people - 1 - k)),
                    &schools[k % schools.len()],
                    Date::parse(&format!("{year}-09-01")).unwrap(),
                    Some(Date::parse(&format!("{}-07-04", year + 1)).unwrap()),
                )?;
            }
            let admin = tx.create_api_key("admin", Role::Admin, None, &[], Some(&pid("desk")))?;
            let insp = tx.create_api_key(
                "insp",
                Role::Inspector,
                Some("D3"),
                &[],
                Some(&pid("insp3")),
            )?;
            let a = tx.open_console_session(admin.record.id, "bench")?;
            let i = tx.open_console_session(insp.record.id, "bench")?;
            Ok((a.to_string(), i.to_string()))
        })
        .unwrap();
    store.checkpoint().unwrap();
    eprintln!(
        "setup: {people} people, {tokens} tokens ({active} handed over) in {:.1?}",
        started.elapsed()
    );
    (Arc::new(store), sessions.0, sessions.1)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (store, admin, inspector) = setup(&dir.path().join("data"));
    let devices = DeviceManager::new(
        store.clone(),
        Arc::new(SystemClock),
        keyward::profile::builtin().unwrap(),
    );
    let state = AppState::new(store.clone(), devices, Arc::new(SystemClock)).unwrap();
    let app = keyward::console::with_api(state, Settings::default());
    let renders = env("KEYWARD_BENCH_RENDERS", 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let pages = [
        ("admin", "/desk"),
        ("admin", "/desk?q=holder1234"),
        ("admin", "/desk?q=nom12"),
        ("admin", "/desk?school=0751&page=2"),
        ("admin", "/desk?q=nom1&school=0751&page=3"),
        ("admin", "/tokens"),
        ("admin", "/tokens?state=handed_over&holder=holder00"),
        ("admin", "/tokens?school=0751&page=3"),
        ("admin", "/tokens?page=150"),
        ("admin", "/people?q=personne"),
        ("admin", "/people?q=nom12&page=2"),
        ("admin", "/inspector"),
        ("admin", "/inspector?holder=nom5&page=2"),
        ("admin", "/receipts/1"),
        ("admin", "/glance"),
        ("admin", "/desk/readers"),
        ("admin", "/desk/batch"),
        ("admin", "/desk/batch?q=nom12"),
        ("admin", "/desk/batch?school=0751&page=2"),
        ("admin", "/people/holder01234"),
        ("admin", "/people/holder01234/departure"),
        ("admin", "/admin/appointment-list"),
        (
            "admin",
            "/admin/appointment-list?school=0751&state=ended&page=3",
        ),
        (
            "admin",
            "/admin/appointment-list?person=nom12&state=in_force",
        ),
        ("admin", "/admin/appointments?person=holder19999"),
        ("admin", "/admin/audit"),
        ("admin", "/admin/audit?action=token.&page=5"),
        ("admin", "/admin/schools"),
        ("admin", "/admin/staff-keys"),
        ("inspector", "/glance"),
        ("inspector", "/inspector"),
        ("inspector", "/people"),
        ("inspector", "/tokens?state=active"),
    ];
    println!("page                                        p50        p99        max   bytes");
    let mut worst = Duration::ZERO;
    for (who, path) in pages {
        let id = if who == "admin" { &admin } else { &inspector };
        let mut times = Vec::with_capacity(renders);
        let mut bytes = 0;
        for _ in 0..renders {
            let request = Request::get(path)
                .header("cookie", format!("kw_session={id}"))
                .body(Body::empty())
                .unwrap();
            let started = Instant::now();
            let body = runtime.block_on(async {
                let response = app.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200, "{who} {path}");
                response.into_body().collect().await.unwrap().to_bytes()
            });
            times.push(started.elapsed());
            bytes = body.len();
        }
        times.sort();
        let p99 = percentile(&times, 0.99);
        worst = worst.max(p99);
        println!(
            "{:<40} {:>9.2?} {:>9.2?} {:>9.2?} {:>7}",
            format!("{who} {path}"),
            percentile(&times, 0.5),
            p99,
            times[times.len() - 1],
            bytes
        );
    }
    println!("worst page p99: {worst:.2?} (target: under 50 ms)");
}
