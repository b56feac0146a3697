//! One connection, served by hyper's HTTP/1.1 directly: the request head
//! must arrive within the header timeout, a connection silent with nothing
//! in flight is closed after the idle timeout or when evicted, each request
//! is bounded by the request timeout, and TLS connections get HSTS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service as _;

use super::admission::{Activity, Slot};
use crate::config::Limits;

/// `Strict-Transport-Security` on every answer over TLS: one year.
const HSTS: &str = "max-age=31536000";

/// The immediate answer to a client refused at the door.
pub(super) const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\n\
content-type: text/plain; charset=utf-8\r\ncontent-length: 5\r\nconnection: close\r\n\r\nbusy\n";

/// Serves `io` until the client closes, a timeout or eviction closes it, or
/// `stop` turns true (then in-flight requests finish first).
pub(super) async fn serve<I>(
    io: I,
    slot: Slot,
    app: Router,
    limits: Limits,
    tls: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::clone(&slot.activity);
    let io = TokioIo::new(Tracked {
        inner: io,
        activity: Arc::clone(&activity),
    });
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        // Busy from the moment hyper hands the request over, before the
        // handler's first poll: an eviction seen after this point lets
        // the request finish and its answer out.
        activity.request_started();
        answer(
            request,
            app.clone(),
            InFlight(Arc::clone(&activity)),
            limits,
            tls,
        )
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let activity = &slot.activity;
    let mut stopping = *stop.borrow();
    if stopping {
        connection.as_mut().graceful_shutdown();
    }
    let mut evicted = false;
    loop {
        let idle_deadline = tokio::time::Instant::from_std(activity.last() + limits.idle_timeout);
        tokio::select! {
            _ = connection.as_mut() => break,
            () = activity.wait_evicted(), if !evicted => {
                // Chosen while idle, but a request may have arrived since:
                // never drop one being handled or an answer not yet
                // written (the client could not tell whether it was
                // carried out). Finish it, then close.
                if !activity.busy() {
                    break;
                }
                evicted = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                // An answer the client does not read holds the connection
                // no longer than the idle timeout (written bytes count).
                if !activity.handling() && activity.last() + limits.idle_timeout <= std::time::Instant::now() {
                    break;
                }
                if activity.handling() {
                    // Counted from the answer's end, not from before it.
                    activity.touch();
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(slot);
}

/// One request through the router, bounded by the request timeout; the
/// connection counts as busy until the answer's body is sent.
async fn answer(
    request: Request<Incoming>,
    mut app: Router,
    guard: InFlight,
    limits: Limits,
    tls: bool,
) -> Result<Response<Body>, std::convert::Infallible> {
    let request = request.map(Body::new);
    let mut response = match tokio::time::timeout(limits.request_timeout, app.call(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => {
            let mut timed_out = Response::new(Body::empty());
            *timed_out.status_mut() = StatusCode::REQUEST_TIMEOUT;
            timed_out
        }
    };
    if tls {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    Ok(response.map(|body| {
        Body::new(Guarded {
            inner: body,
            _guard: guard,
        })
    }))
}

/// Marks the connection idle again when dropped (answer sent or abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// An answer's body that holds the connection busy while it streams.
struct Guarded {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's byte stream that records when bytes last moved.
struct Tracked<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(polled, Poll::Ready(Ok(()))) {
            // hyper flushes after writing its buffer out: every answer
            // finished before this point is in the socket.
            self.activity.flushed();
        }
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Writes [`BUSY`] to a refused client, without waiting long for it.
pub(super) async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.write_all(BUSY)).await;
    let _ = stream.shutdown().await;
}
