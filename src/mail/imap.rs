//! The help desk's mailbox over IMAP (implicit TLS, the public roots and
//! the authority's CA): each message is given to the mail service, then
//! moved to the processed folder (UID MOVE), never deleted. A message
//! larger than the limit is fetched by its headers only. A crash between
//! the two steps reads the message again next time: its Message-ID makes
//! it a duplicate, and it is moved then.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::config::{ImapConfig, Server};
use super::outcome::Outcome;
use super::service::{Mailer, Received};
use crate::domain::Actor;
use crate::store::Store;

/// Why a poll stopped (a class only: a server's words may echo a
/// credential).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImapError {
    #[error("the IMAP server could not be reached")]
    Unreachable,
    #[error("TLS with the IMAP server failed (certificate not trusted?)")]
    Tls,
    #[error("the IMAP server refused the login")]
    Login,
    #[error("the IMAP server answered an error")]
    Protocol,
    #[error("the IMAP settings cannot be used (CA file, password file)")]
    Settings,
}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Each message read, by UID, with its outcome.
    pub outcomes: Vec<(u32, Outcome)>,
    /// Messages left in the mailbox (the store refused to record them).
    pub left: usize,
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): "Traités"
/// is `Trait&AOk-s`.
pub fn mailbox_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        let encoded = data_encoding::BASE64_NOPAD.encode(&bytes).replace('/', ",");
        out.push('&');
        out.push_str(&encoded);
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// A TLS client configuration trusting the public roots and `ca_file`.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, ImapError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca_file {
        let certs = CertificateDer::pem_file_iter(ca).map_err(|_| ImapError::Settings)?;
        for cert in certs {
            roots
                .add(cert.map_err(|_| ImapError::Settings)?)
                .map_err(|_| ImapError::Settings)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| ImapError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn connect(server: &Server) -> Result<imap::Client<Tls>, ImapError> {
    let tls = tls_config(server.ca_file.as_deref())?;
    let name = ServerName::try_from(server.host.clone()).map_err(|_| ImapError::Settings)?;
    let address = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|_| ImapError::Unreachable)?
        .next()
        .ok_or(ImapError::Unreachable)?;
    let tcp = TcpStream::connect_timeout(&address, Duration::from_secs(20))
        .map_err(|_| ImapError::Unreachable)?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|_| ImapError::Unreachable)?;
    let connection = ClientConnection::new(tls, name).map_err(|_| ImapError::Tls)?;
    let mut stream = StreamOwned::new(connection, tcp);
    // Finish the handshake here, so a certificate refused is told as such.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|_| ImapError::Tls)?;
    }
    let mut client = imap::Client::new(stream);
    client.read_greeting().map_err(|_| ImapError::Protocol)?;
    Ok(client)
}

/// Logs in with the configured account (password read from its file).
pub fn login(server: &Server) -> Result<imap::Session<impl Read + Write>, ImapError> {
    let user = server.username.as_deref().ok_or(ImapError::Settings)?;
    let file = server.password_file.as_ref().ok_or(ImapError::Settings)?;
    let password =
        zeroize::Zeroizing::new(std::fs::read_to_string(file).map_err(|_| ImapError::Settings)?);
    connect(server)?
        .login(user, password.trim_end())
        .map_err(|_| ImapError::Login)
}

/// Reads every message of the mailbox once (blocking; `runtime` runs the
/// async mail service).
pub fn poll_once(
    config: &ImapConfig,
    mailer: &Arc<Mailer>,
    store: &Arc<Store>,
    runtime: &tokio::runtime::Handle,
) -> Result<PollReport, ImapError> {
    let mut session = login(&config.server)?;
    // Already there is fine; anything else shows at the move.
    let processed = mailbox_name(&config.processed);
    let _ = session.create(&processed);
    session
        .select(mailbox_name(&config.mailbox))
        .map_err(|_| ImapError::Protocol)?;
    let mut uids: Vec<u32> = session
        .uid_search("ALL")
        .map_err(|_| ImapError::Protocol)?
        .into_iter()
        .collect();
    uids.sort_unstable();
    let max = mailer.config.max_message_bytes;
    let mut report = PollReport::default();
    for uid in uids {
        let sizes = session
            .uid_fetch(uid.to_string(), "RFC822.SIZE")
            .map_err(|_| ImapError::Protocol)?;
        let size = sizes.iter().find_map(|f| f.size).unwrap_or(u32::MAX);
        let received = if usize::try_from(size).map_or(true, |s| s > max) {
            let head = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[HEADER]")
                .map_err(|_| ImapError::Protocol)?;
            let head = head.iter().find_map(|f| f.header().map(<[u8]>::to_vec));
            Received::TooLarge(head.unwrap_or_default())
        } else {
            let whole = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .map_err(|_| ImapError::Protocol)?;
            let body = whole.iter().find_map(|f| f.body().map(<[u8]>::to_vec));
            Received::Whole(body.unwrap_or_default())
        };
        match runtime.block_on(mailer.ingest(store, &Actor::System, received)) {
            Ok(outcome) => {
                session
                    .uid_mv(uid.to_string(), &processed)
                    .map_err(|_| ImapError::Protocol)?;
                report.outcomes.push((uid, outcome));
            }
            Err(err) => {
                tracing::warn!(uid, error = %err, "mail not recorded; left in the mailbox");
                report.left += 1;
            }
        }
    }
    let _ = session.logout();
    Ok(report)
}

/// The daemon's poller: every `poll_seconds`, until `stop` turns true.
pub async fn poll_loop(
    config: ImapConfig,
    mailer: Arc<Mailer>,
    store: Arc<Store>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let config = Arc::new(config);
    loop {
        let (c, m, s) = (Arc::clone(&config), Arc::clone(&mailer), Arc::clone(&store));
        let handle = tokio::runtime::Handle::current();
        match tokio::task::spawn_blocking(move || poll_once(&c, &m, &s, &handle)).await {
            Ok(Ok(report)) if !report.outcomes.is_empty() => {
                tracing::info!(
                    read = report.outcomes.len(),
                    left = report.left,
                    "mailbox read"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "mailbox not read"),
            Err(_) => tracing::warn!("mailbox task stopped"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(config.poll_seconds.max(1))) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mailbox_names_in_modified_utf7() {
        assert_eq!(super::mailbox_name("INBOX"), "INBOX");
        assert_eq!(super::mailbox_name("Traités"), "Trait&AOk-s");
        assert_eq!(super::mailbox_name("A&B"), "A&-B");
        assert_eq!(super::mailbox_name("日本語"), "&ZeVnLIqe-");
    }
}
