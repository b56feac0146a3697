//! `kill -9` of `keyward serve` under verify load, several times: a code
//! the daemon answered "accept" before it died is refused after the
//! restart (its step was committed and synced before the answer,
//! `store::verify::durable`), and the audit chain still verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};

use crate::cli_bench::{bench_setup, gateway_key};
use crate::support::cli::{init, keyward, stdout_ok};
use crate::support::serve::{serve, Served};

const HOLDERS: usize = 16;
const ROUNDS: u64 = 4;

struct Holder {
    login: String,
    pin: String,
    key: CredentialKey,
    counter: u64,
}

fn start(data: &std::path::Path) -> Served {
    Served::start(
        serve(data, &["--pcsc", "off", "--virtual-token", "off"])
            .stderr(std::process::Stdio::null()),
    )
}

/// `POST /v1/verify`: `Some(true)` accept, `Some(false)` reject, `None`
/// no answer (the daemon died).
fn verify(agent: &ureq::Agent, url: &str, key: &str, login: &str, passcode: &str) -> Option<bool> {
    let mut answer = agent
        .post(format!("{url}/v1/verify"))
        .header("authorization", &format!("Bearer {key}"))
        .send_json(serde_json::json!({ "login": login, "passcode": passcode }))
        .ok()?;
    if answer.status() != 200 {
        return None;
    }
    let body: serde_json::Value = answer.body_mut().read_json().ok()?;
    Some(body["result"] == "accept")
}

#[test]
fn no_code_answered_accept_before_a_kill_9_is_accepted_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = init(&data);
    let creds = dir.path().join("creds");
    bench_setup(&data, HOLDERS as u32, &creds);
    let mut holders: Vec<Holder> = std::fs::read_to_string(&creds)
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            Holder {
                login: f[0].to_owned(),
                pin: f[1].to_owned(),
                key: CredentialKey::new(Algorithm::Sha1, &Secret::from_hex(f[2]).unwrap()),
                counter: f[3].parse().unwrap(),
            }
        })
        .collect();
    let gateway = {
        let daemon = start(&data);
        gateway_key(&daemon.url, admin)
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();

    let mut accepted_total = 0;
    for round in 0..ROUNDS {
        let mut daemon = start(&data);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = holders
            .drain(..)
            .map(|mut holder| {
                let (agent, url, key, stop) = (
                    agent.clone(),
                    daemon.url.clone(),
                    gateway.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    let mut accepted = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let code = code_at(&holder.key, holder.counter, Digits::SIX);
                        let passcode = format!("{}{code}", holder.pin);
                        // Whatever the answer (or none), this code is spent.
                        holder.counter += 1;
                        match verify(&agent, &url, &key, &holder.login, &passcode) {
                            Some(true) => accepted.push(passcode),
                            Some(false) => {}
                            None => break,
                        }
                    }
                    (holder, accepted)
                })
            })
            .collect();
        // The load runs a little longer each round, so the kill falls at
        // different points of the writer's batches.
        std::thread::sleep(Duration::from_millis(400 + 150 * round));
        daemon.kill_hard();
        stop.store(true, Ordering::Relaxed);
        // Each holder's last accepted code: the one whose step was the
        // newest when the daemon died (an earlier one is below it).
        let mut accepted = Vec::new();
        for worker in workers {
            let (holder, codes) = worker.join().unwrap();
            accepted_total += codes.len();
            if let Some(last) = codes.last() {
                accepted.push((holder.login.clone(), last.clone()));
            }
            holders.push(holder);
        }
        assert!(!accepted.is_empty(), "round {round}: nothing accepted");

        let daemon = start(&data);
        for (login, passcode) in &accepted {
            assert_eq!(
                verify(&agent, &daemon.url, &gateway, login, passcode),
                Some(false),
                "round {round}: a code answered accept before the crash was accepted again"
            );
        }
        drop(daemon);
    }
    assert!(
        accepted_total >= ROUNDS as usize * HOLDERS,
        "{accepted_total}"
    );
    // Exits 0 only when the chain and every row MAC check out.
    let out = stdout_ok(keyward(["audit", "verify", "--data-dir"]).arg(&data));
    assert!(!out.is_empty());
}
