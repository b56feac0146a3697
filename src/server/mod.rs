//! The HTTP server shell: listeners (plain or TLS), admission of
//! connections (`admission`: a cap, a share per source address, eviction of
//! the longest-idle, an immediate `503` when all are busy), each connection
//! served by hyper with header, idle and request timeouts (`connection`),
//! graceful shutdown. Routes live in `api`; this module knows nothing of
//! them.

mod admission;
mod connection;
pub mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Limits;

pub use tls::TlsAcceptor;

/// A listening socket, and its TLS configuration when it speaks TLS.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl From<TcpListener> for Listener {
    fn from(tcp: TcpListener) -> Listener {
        Listener { tcp, tls: None }
    }
}

/// Serves `app` on every listener until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish and returns. The connection
/// limits are shared by all listeners.
pub async fn run(
    listeners: Vec<Listener>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let registry =
        admission::Registry::new(limits.max_connections, limits.max_connections_per_source);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut accepting = tokio::task::JoinSet::new();
    for listener in listeners {
        accepting.spawn(accept_loop(
            listener,
            app.clone(),
            limits,
            Arc::clone(&registry),
            stop_rx.clone(),
        ));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    // The accept loops return their listeners' sockets closed.
    while accepting.join_next().await.is_some() {}
    registry.drained().await;
    Ok(())
}

async fn accept_loop(
    listener: Listener,
    app: Router,
    limits: Limits,
    registry: Arc<admission::Registry>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Listener { tcp, tls } = listener;
    loop {
        let accepted = tokio::select! {
            accepted = tcp.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        let (stream, peer): (_, SocketAddr) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off, don't spin.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small JSON answers: don't wait for Nagle.
        let _ = stream.set_nodelay(true);
        let slot = match registry.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tracing::debug!(?refusal, %peer, "connection refused");
                if tls.is_none() {
                    tokio::spawn(connection::refuse(stream));
                }
                continue;
            }
        };
        let app = app.clone();
        let stop = stop.clone();
        match &tls {
            None => {
                tokio::spawn(connection::serve(stream, slot, app, limits, false, stop));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // The handshake is bounded like a request head.
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
                    tokio::select! {
                        done = handshake => {
                            if let Ok(Ok(stream)) = done {
                                connection::serve(stream, slot, app, limits, true, stop).await;
                            }
                        }
                        () = slot.activity.wait_evicted() => {}
                    }
                });
            }
        }
    }
}

/// Raises the soft limit on open files to the hard limit, so that the
/// connection cap, not the descriptor table, bounds what is served.
/// Returns the soft limit in force.
pub fn raise_open_files_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum) {
        if current < hard {
            limit.current = Some(hard);
            let _ = setrlimit(Resource::Nofile, limit);
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
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

#[cfg(test)]
mod tests;
