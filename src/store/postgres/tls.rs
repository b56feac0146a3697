//! TLS between a node and its PostgreSQL servers: the one connector every
//! connection (the pool, the revocation listener, `audit verify`, `store
//! copy`) is made with, a small adapter of tokio-rustls to tokio-postgres.
//!
//! With `sslmode=verify-full` the server's certificate must chain to a CA
//! of `[store] ca_file` (only those: not the system's roots) and name the
//! host of the URL (a DNS name, or an IP address as an IP SAN), and
//! tokio-postgres is told to require TLS, so a server that refuses it is
//! refused. With `sslmode=disable` tokio-postgres never asks for TLS and
//! the connector is never used. No channel binding is offered (SCRAM
//! without `-PLUS`): the certificate check is what keeps a man in the
//! middle out.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::config::{PgConfigError, PgTarget, PgTls};

/// Makes the TLS session of each new connection.
#[derive(Clone)]
pub struct PgTlsConnector {
    /// `None`: `sslmode=disable`, TLS is never asked for.
    config: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for PgTlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTlsConnector")
            .field("tls", &self.config.is_some())
            .finish()
    }
}

impl PgTarget {
    /// The connector for this target's connections; with verify-full, the
    /// CA file is read now.
    pub fn tls_connector(&self) -> Result<PgTlsConnector, PgConfigError> {
        let config = match &self.tls {
            PgTls::Disabled => None,
            PgTls::VerifyFull { ca_file } => {
                let problem = |problem| PgConfigError::CaFile {
                    path: ca_file.display().to_string(),
                    problem,
                };
                let roots = crate::directory::tls::read_roots(ca_file).map_err(problem)?;
                Some(crate::directory::tls::client_config(roots).map_err(problem)?)
            }
        };
        Ok(PgTlsConnector { config })
    }
}

/// Why a TLS session could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgTlsError {
    #[error("`{0}` is not a host name or IP address a certificate can name")]
    ServerName(String),
    #[error("TLS was asked for with sslmode=disable")]
    NotConfigured,
}

impl<S> MakeTlsConnect<S> for PgTlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = PgTlsError;

    /// `host` is the URL's host the connection goes to: the name the
    /// certificate must hold, and the SNI sent.
    fn make_tls_connect(&mut self, host: &str) -> Result<PgTlsConnect, PgTlsError> {
        let Some(config) = &self.config else {
            return Ok(PgTlsConnect { session: None });
        };
        let server = ServerName::try_from(host.to_owned())
            .map_err(|_| PgTlsError::ServerName(host.to_owned()))?;
        Ok(PgTlsConnect {
            session: Some((Arc::clone(config), server)),
        })
    }
}

/// The TLS handshake of one connection.
#[derive(Debug)]
pub struct PgTlsConnect {
    session: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PgTlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let (config, server) = self
                .session
                .ok_or_else(|| io::Error::other(PgTlsError::NotConfigured))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(server, stream)
                .await?;
            Ok(PgTlsStream(Box::new(stream)))
        })
    }
}

/// A connection inside its TLS session.
pub struct PgTlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S> std::fmt::Debug for PgTlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTlsStream")
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

/// rustls's reason, when `err` is a failed TLS session (a refused
/// certificate, a broken handshake).
pub(super) fn failure(err: &tokio_postgres::Error) -> Option<String> {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        // tokio-rustls hands rustls's error inside an io::Error, whose
        // own `source` skips it.
        let inner = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(why) = inner.or_else(|| e.downcast_ref::<rustls::Error>()) {
            return Some(why.to_string());
        }
        source = e.source();
    }
    None
}
