//! RADIUS against hostile clients (issue 11): floods from an undeclared
//! address, with a wrong Message-Authenticator, and of well-signed requests
//! from one declared client, all at once against a real `keyward serve`.
//! The flood is dropped and counted, and a legitimate client at another
//! address is still answered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::radius::packet::{Code, Packet};

use crate::radius_peers::{request_bytes, Gateway};

/// The counter `keyward_radius_requests_total{client,outcome}`, 0 if absent.
fn counted(metrics: &str, client: &str, outcome: &str) -> u64 {
    let prefix =
        format!("keyward_radius_requests_total{{client=\"{client}\",outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.parse().unwrap())
}

/// Floods at about 2,000 datagrams/s each: more than the verify writer of
/// a debug build decides (so requests pile up), less than the kernel's
/// socket buffer loses when the test shares two cores with the daemon (a
/// lost datagram is lost for everyone, before any check of ours).
fn pace(sent: u64) {
    if sent % 20 == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_flood_is_dropped_and_counted_while_a_legitimate_client_is_served() {
    let mut gw = Gateway::start_with(
        2,
        "\n[[radius.clients]]\nname = \"voisin\"\naddress = \"127.0.0.2\"\n\
         secret_file = \"radius-local.secret\"\n",
    );
    let server = gw.radius;
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    // Undeclared address, and a declared one with a wrong secret.
    {
        let (stop, secret) = (Arc::clone(&stop), gw.secret.clone());
        let victim = gw.holders[1].login.clone();
        flooders.push(std::thread::spawn(move || {
            let unknown = UdpSocket::bind("127.0.0.3:0").unwrap();
            let forged = UdpSocket::bind("127.0.0.2:0").unwrap();
            let wrong = "not the shared secret of voisin";
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (bytes, _) = request_bytes(&secret, &victim, "1234000000", sent as u8);
                let _ = unknown.send_to(&bytes, server);
                let (bytes, _) = request_bytes(wrong, &victim, "1234000000", sent as u8);
                let _ = forged.send_to(&bytes, server);
                sent += 1;
                pace(sent);
            }
        }));
    }
    // Well-signed requests from the declared 127.0.0.2, never waiting for
    // an answer: more than its share of pending requests.
    {
        let (stop, secret) = (Arc::clone(&stop), gw.secret.clone());
        let victim = gw.holders[1].login.clone();
        flooders.push(std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.2:0").unwrap();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Well formed and wrong: from the third, the victim's
                // rejections are held for its delay, and stay pending.
                let (bytes, _) = request_bytes(&secret, &victim, "12345678000000", sent as u8);
                let _ = socket.send_to(&bytes, server);
                sent += 1;
                pace(sent);
            }
        }));
    }
    // The legitimate client: valid passcodes one after the other, each
    // retransmitted after a second of silence as RADIUS clients do.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let login = gw.holders[0].login.clone();
    let started = Instant::now();
    let mut accepted = 0;
    let mut slowest = Duration::ZERO;
    let mut buffer = [0u8; 4096];
    for round in 0..20u8 {
        let passcode = gw.holders[0].next_passcode();
        let (bytes, auth) = request_bytes(&gw.secret, &login, &passcode, round);
        let asked = Instant::now();
        let mut code = None;
        for _try in 0..4 {
            socket.send_to(&bytes, server).unwrap();
            if let Ok((len, _)) = socket.recv_from(&mut buffer) {
                let reply = Packet::parse(&buffer[..len]).unwrap();
                assert!(reply.reply_authenticated(&auth, gw.secret.as_bytes(), true));
                code = Some(reply.code);
                break;
            }
        }
        slowest = slowest.max(asked.elapsed());
        if code != Some(Code::AccessAccept) {
            let metrics = gw.metrics();
            stop.store(true, Ordering::Relaxed);
            panic!(
                "round {round}: {code:?} after {:?}\n{metrics}",
                asked.elapsed()
            );
        }
        accepted += 1;
        // Keep the flood on for at least 3 s.
        if round == 19 && started.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_secs(3) - started.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.join().unwrap();
    }
    let metrics = gw.metrics();
    assert_eq!(counted(&metrics, "local", "accept"), accepted, "{metrics}");
    assert!(counted(&metrics, "", "unknown_client") > 1000, "{metrics}");
    assert!(
        counted(&metrics, "voisin", "bad_authenticator") > 1000,
        "{metrics}"
    );
    // More than its share was offered: the rest dropped, not queued.
    assert!(
        counted(&metrics, "voisin", "dropped_source_full") > 0,
        "{metrics}"
    );
    eprintln!("legitimate client: {accepted} accepts, slowest {slowest:?}");
    // The forged and undeclared requests decided nothing.
    assert!(gw
        .audit_of(&gw.holders[1].login)
        .iter()
        .all(|a| a.starts_with("verify.reject")));
    gw.served.stop();
}
