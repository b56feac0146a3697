//! Scale benchmark of the academic directory sync (`docs/directory.md`):
//! a fictional authority of 50,000 people (2,000 schools in 60 districts)
//! loaded into a real slapd with `slapadd`, then a full sync into an empty
//! store, then a run with no change. Not a test: run it by hand with
//! `cargo bench --bench directory` (targets: full sync under 60 s, no-change
//! run under 10 s). `DIRECTORY_BENCH_PEOPLE` changes the size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/support/slapd.rs"]
mod slapd;

use std::sync::Arc;
use std::time::Instant;

use keyward::directory::{sync::sync_ldap, DirectoryConfig, RunOptions};
use keyward::domain::{Date, FixedClock};
use keyward::store::{Config, Store};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let people: usize = std::env::var("DIRECTORY_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let schools = (people / 25).max(12);
    let districts = (schools / 33).max(1);
    let started = Instant::now();
    let server = slapd::Slapd::start(&slapd::authority(districts, schools, people));
    println!(
        "slapd loaded with {people} people, {schools} schools, {districts} districts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let now = Date::parse("2026-10-01").unwrap().start() + 8 * 3600;
    let clock = Arc::new(FixedClock::new(now));
    let store = Arc::new(
        Store::init(
            &dir.path().join("data"),
            clock,
            Config::new("ac-exemple.fr"),
        )
        .unwrap(),
    );
    let mut config = DirectoryConfig::new(&server.url(), slapd::PEOPLE, slapd::SCHOOLS);
    config.bind_dn = Some(slapd::ROOT_DN.to_owned());
    config.password_file = Some(server.password_file(slapd::ROOT_PW));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for label in ["full sync", "no-change run"] {
        let started = Instant::now();
        let report = runtime
            .block_on(sync_ldap(
                Arc::clone(&store),
                &config,
                RunOptions::default(),
            ))
            .unwrap();
        println!(
            "{label}: {:.1} s, {} entries read, {} changes, outcome {}, {} failures",
            started.elapsed().as_secs_f64(),
            report.entries,
            report.changes.len(),
            report.outcome.as_str(),
            report.failures.len()
        );
    }
}
