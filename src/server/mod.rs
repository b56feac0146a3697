//! The HTTP server shell: accept loop with a connection limit, request limits,
//! graceful shutdown. Routes live in `api`; this module knows nothing of them.

use std::future::{Future, IntoFuture as _};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;

/// Wraps `app` in the request limits.
pub fn with_limits(app: Router, limits: Limits) -> Router {
    app.layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
}

/// Serves `app` on every listener until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish and returns. The connection
/// limit is shared by all listeners.
pub async fn run(
    listeners: Vec<TcpListener>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let app = with_limits(app, limits);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let servers = listeners.into_iter().map(|listener| {
        let listener = LimitedListener {
            inner: listener,
            permits: Arc::clone(&permits),
        };
        let mut stop = stop_rx.clone();
        axum::serve(listener, app.clone())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .into_future()
    });
    let all = futures_util::future::try_join_all(servers);
    tokio::pin!(all);
    tokio::select! {
        result = &mut all => return result.map(|_| ()),
        () = shutdown => {}
    }
    let _ = stop_tx.send(true);
    all.await.map(|_| ())
}

/// Resolves on SIGINT or SIGTERM.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered now, not at the first poll: a SIGTERM sent as soon as the
    // daemon says it is ready must already stop it gracefully.
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {},
            () = wait(terminate) => {},
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    }
}

/// A TCP listener that holds a semaphore permit for each open connection, so
/// at most `max_connections` are served at once.
///
/// Hand-written on purpose: tower's `ConcurrencyLimit` bounds requests in
/// flight, not open connections, so idle keep-alive clients would still hold
/// sockets and tasks without limit. The permit here lives exactly as long as
/// the connection (pinned by `connection_limit_queues_the_extra_client`).
struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring can only wait.
        let permit = loop {
            if let Ok(permit) = self.permits.clone().acquire_owned().await {
                break permit;
            }
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Small JSON answers: don't wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    return (
                        LimitedStream {
                            stream,
                            _permit: permit,
                        },
                        addr,
                    );
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off, don't spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection and the permit it holds until dropped.
struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get_once(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// A server on a free local port; `stop` shuts it down, `server` is
    /// its task.
    struct Running {
        addr: std::net::SocketAddr,
        stop: tokio::sync::oneshot::Sender<()>,
        server: tokio::task::JoinHandle<io::Result<()>>,
    }

    async fn serve(app: Router, limits: Limits) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(vec![listener], app, limits, async {
            let _ = stop_rx.await;
        }));
        Running { addr, stop, server }
    }

    /// One route at `path` answering `answer` after `delay`.
    fn slow_route(path: &str, delay: Duration, answer: &'static str) -> Router {
        Router::new().route(
            path,
            get(move || async move {
                tokio::time::sleep(delay).await;
                answer
            }),
        )
    }

    #[tokio::test]
    async fn connection_limit_queues_the_extra_client() {
        let app = Router::new().route("/", get(|| async { "ok" }));
        let limits = Limits {
            max_connections: 1,
            ..Limits::default()
        };
        let Running { addr, stop, server } = serve(app, limits).await;
        // The first connection stays open (keep-alive, no request yet).
        let idle = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = tokio::spawn(get_once(addr, "/"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "second client served past the limit");
        drop(idle);
        let answer = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .unwrap()
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn shutdown_lets_in_flight_requests_finish() {
        let app = slow_route("/slow", Duration::from_millis(300), "done");
        let Running { addr, stop, server } = serve(app, Limits::default()).await;
        let request = tokio::spawn(get_once(addr, "/slow"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        let answer = request.await.unwrap();
        assert!(answer.ends_with("done"), "{answer}");
        server.await.unwrap().unwrap();
        // And nothing is accepted any more.
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn slow_requests_time_out() {
        let app = slow_route("/stuck", Duration::from_secs(30), "never");
        let limits = Limits {
            request_timeout: Duration::from_millis(100),
            ..Limits::default()
        };
        let running = serve(app, limits).await;
        let answer = get_once(running.addr, "/stuck").await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}
