//! Where a request's time goes in keyward's HTTP shell: the same load (32
//! keep-alive clients in this process, each sending `GET` and reading the
//! answer, on the same cores as the servers) against servers that add one
//! piece at a time, from a bare axum handler (`axum::serve`, default
//! settings) to keyward's `/healthz` as served by `keyward serve`.
//!
//! `cargo bench --bench http_shell`. Environment: KEYWARD_BENCH_SECONDS
//! (5 per stage), KEYWARD_BENCH_CONCURRENCY (32).
//!
//! Stages:
//! 1. bare: `axum::serve`, a handler answering "hello";
//! 2. shell: the same handler behind `keyward::server::run` (admission,
//!    idle and header timeouts, request timeout, in-flight accounting);
//! 3. old timeout: 2 plus tower-http's `TimeoutLayer` (what the shell used
//!    before it bounded requests itself);
//! 4. old metrics: 3 plus the route middleware as it was (route name copied
//!    into a `String`, counted in a `BTreeMap<(String, u16)>` per request);
//! 5. old healthz: 4 plus what `/healthz` did every time (a SQLite read
//!    transaction on a blocking thread);
//! 6. keyward: `keyward::api::app` behind the shell, `GET /healthz` (health
//!    read at most once a second, metrics without allocation).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use keyward::api::{app, AppState};
use keyward::config::Limits;
use keyward::devices::DeviceManager;
use keyward::store::{Config, Store, SystemClock};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive client: requests `path` until `stop`; latencies in µs.
fn client(addr: SocketAddr, path: &str, stop: &AtomicBool) -> Vec<u32> {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let mut buffer = vec![0u8; 4096];
    let mut latencies = Vec::with_capacity(1 << 16);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        stream.write_all(request.as_bytes()).unwrap();
        let mut filled = 0;
        loop {
            let n = stream.read(&mut buffer[filled..]).unwrap();
            assert!(n > 0, "server closed the connection");
            filled += n;
            let text = &buffer[..filled];
            if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&text[..end])
                    .unwrap()
                    .to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if filled >= end + 4 + length {
                    break;
                }
            }
        }
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    latencies
}

/// Loads `addr` for the stage's duration: requests/s and p99 in ms.
fn load(addr: SocketAddr, path: &str) -> (f64, f64) {
    let seconds = env("KEYWARD_BENCH_SECONDS", 5);
    let concurrency = env("KEYWARD_BENCH_CONCURRENCY", 32);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let path = path.to_owned();
            std::thread::spawn(move || client(addr, &path, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u32> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or(0);
    (all.len() as f64 / elapsed, f64::from(p99) / 1000.0)
}

/// The route middleware as it was before this breakdown.
#[derive(Default)]
struct OldMetrics(Mutex<BTreeMap<(String, u16), u64>>);

async fn old_track(
    State(metrics): State<Arc<OldMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    *metrics
        .0
        .lock()
        .unwrap()
        .entry((route, response.status().as_u16()))
        .or_default() += 1;
    response
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn keyward::domain::Clock> = Arc::new(SystemClock);
    let store = Arc::new(
        Store::init(
            &dir.path().join("data"),
            Arc::clone(&clock),
            Config::new("ac-exemple.fr"),
        )
        .unwrap(),
    );
    let devices = DeviceManager::new(Arc::clone(&store), Arc::clone(&clock), vec![]);
    let state = AppState::new(Arc::clone(&store), devices, clock).unwrap();

    let hello = || Router::new().route("/", get(|| async { "hello" }));
    let old_timeout = |router: Router| {
        router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(15),
        ))
    };
    let old_metrics = Arc::new(OldMetrics::default());
    let with_old_metrics = |router: Router| {
        router.route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&old_metrics),
            old_track,
        ))
    };
    let store_read = Arc::clone(&store);
    let old_healthz = Router::new().route(
        "/",
        get(move || {
            let store = Arc::clone(&store_read);
            async move {
                tokio::task::spawn_blocking(move || store.read(|tx| tx.districts().map(|_| ())))
                    .await
                    .unwrap()
                    .unwrap();
                "hello"
            }
        }),
    );
    let stages: Vec<(&str, Router, bool, &str)> = vec![
        ("1 bare axum::serve", hello(), false, "/"),
        ("2 keyward shell", hello(), true, "/"),
        ("3 + old TimeoutLayer", old_timeout(hello()), true, "/"),
        (
            "4 + old route metrics",
            old_timeout(with_old_metrics(hello())),
            true,
            "/",
        ),
        (
            "5 + old /healthz store read",
            old_timeout(with_old_metrics(old_healthz)),
            true,
            "/",
        ),
        (
            "6 keyward /healthz now",
            app(state.clone()),
            true,
            "/healthz",
        ),
    ];
    println!("stage                          requests/s   p99 ms");
    for (name, router, shell, path) in stages {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = if shell {
            runtime.spawn(async move {
                keyward::server::run(vec![listener.into()], router, Limits::default(), async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            })
        } else {
            runtime.spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            })
        };
        let (per_second, p99) = load(addr, path);
        println!("{name:<30} {per_second:>10.0}   {p99:>6.2}");
        let _ = stop.send(());
        runtime.block_on(server).unwrap();
    }
}
