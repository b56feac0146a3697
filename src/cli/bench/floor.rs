//! The floor of `bench verify`: a bare handler served in this process by
//! the daemon's own HTTP shell (`crate::server`, the same axum, hyper and
//! tokio, the same connection handling), loaded by the same generator at
//! the same concurrency just before the daemon is. The ratio of the two
//! rates says how much of what the stack allows keyward's verify keeps.

use std::net::SocketAddr;

use axum::http::header;
use axum::routing::post;
use axum::Router;

/// What the bare handler answers: a well-formed verify answer, so the
/// generator reads it as it reads the daemon's.
const ANSWER: &str = r#"{"result":"reject"}"#;

/// The bare server, stopped when dropped.
pub(super) struct Floor {
    pub(super) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Floor {
    /// Starts the bare server on a free loopback port, on a runtime like
    /// the daemon's (one worker per core).
    pub(super) fn start() -> anyhow::Result<Floor> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let app = Router::new().route(
            "/v1/verify",
            post(|| async { ([(header::CONTENT_TYPE, "application/json")], ANSWER) }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = crate::config::Limits::default();
        let thread = std::thread::Builder::new()
            .name("keyward-bench-floor".into())
            .spawn(move || {
                let served = crate::server::run(vec![listener.into()], app, limits, async {
                    let _ = stopped.await;
                });
                if let Err(err) = runtime.block_on(served) {
                    tracing::warn!(error = %err, "bench floor server stopped");
                }
            })?;
        Ok(Floor {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
