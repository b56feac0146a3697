//! The help desk's mailbox over IMAP (implicit TLS, or STARTTLS on the
//! plain port; the public roots and the authority's CA): each message is
//! given to the mail service, then moved to the processed folder (UID
//! MOVE), never deleted. A message larger than the limit is fetched by its
//! headers only. A crash between the two steps reads the message again next
//! time: its Message-ID makes it a duplicate, and it is moved then.
//!
//! When the server announces IDLE (RFC 2177), the daemon waits in IDLE
//! after each read, for at most `poll_seconds`, and reads again as soon as
//! the server tells of a change; otherwise it polls every `poll_seconds`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::config::{ImapConfig, Server, TlsMode};
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
    /// How the poll then waited: `None` without IDLE (the server does not
    /// announce it, or no wait was asked); else whether the server told of
    /// a change before the wait ended.
    pub idled: Option<IdleEnd>,
}

/// How a wait in IDLE ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleEnd {
    /// The mailbox changed.
    Changed,
    /// Nothing happened within the wait.
    TimedOut,
}

/// The TLS stream to the server (a type of ours, so IDLE can set its read
/// timeout).
#[derive(Debug)]
pub struct Tls(StreamOwned<ClientConnection, TcpStream>);

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl imap::extensions::idle::SetReadTimeout for Tls {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::error::Result<()> {
        self.0
            .sock
            .set_read_timeout(timeout)
            .map_err(imap::error::Error::Io)
    }
}

/// The tag of keyward's STARTTLS command.
const STARTTLS_TAG: &str = "K0";
/// The longest line read in clear before STARTTLS (a greeting, a capability
/// list).
const MAX_CLEAR_LINE: usize = 4096;

/// One line the server sends in clear, read byte by byte so nothing after
/// it is taken from the stream (what follows the STARTTLS answer must be
/// TLS).
fn clear_line(tcp: &mut TcpStream) -> Result<String, ImapError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < MAX_CLEAR_LINE {
        match tcp.read(&mut byte) {
            Ok(1) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return Ok(String::from_utf8_lossy(&line).into_owned());
                }
            }
            _ => return Err(ImapError::Unreachable),
        }
    }
    Err(ImapError::Protocol)
}

/// The clear part of STARTTLS (RFC 3501 §6.2.1): the greeting, then the
/// command and its tagged OK; anything else refuses the server (keyward
/// never logs in in clear).
pub fn starttls_preamble(tcp: &mut TcpStream) -> Result<(), ImapError> {
    let greeting = clear_line(tcp)?;
    if !greeting.starts_with("* OK") {
        return Err(ImapError::Protocol);
    }
    tcp.write_all(format!("{STARTTLS_TAG} STARTTLS\r\n").as_bytes())
        .map_err(|_| ImapError::Unreachable)?;
    loop {
        let line = clear_line(tcp)?;
        if let Some(status) = line.strip_prefix(STARTTLS_TAG) {
            return if status.trim_start().starts_with("OK") {
                Ok(())
            } else {
                Err(ImapError::Tls)
            };
        }
        if !line.starts_with('*') {
            return Err(ImapError::Protocol);
        }
    }
}

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
    let mut tcp = tcp;
    if server.tls == TlsMode::StartTls {
        starttls_preamble(&mut tcp)?;
    }
    let connection = ClientConnection::new(tls, name).map_err(|_| ImapError::Tls)?;
    let mut stream = StreamOwned::new(connection, tcp);
    // Finish the handshake here, so a certificate refused is told as such.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|_| ImapError::Tls)?;
    }
    let mut client = imap::Client::new(Tls(stream));
    // After STARTTLS the server sends no second greeting.
    if server.tls == TlsMode::Implicit {
        client.read_greeting().map_err(|_| ImapError::Protocol)?;
    }
    Ok(client)
}

/// Logs in with the configured account (password read from its file).
pub fn login(server: &Server) -> Result<imap::Session<Tls>, ImapError> {
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
    poll_then_idle(
        config,
        mailer,
        store,
        runtime,
        None,
        &AtomicBool::new(false),
    )
}

/// An IDLE wait is cut in slices this long (IDLE is issued again after
/// each), so the daemon's stop is seen within one.
const IDLE_SLICE: Duration = Duration::from_secs(5);

/// [`poll_once`], then, when the server announces IDLE and `wait` is
/// given, waits in IDLE at most `wait` for a change of the mailbox, or
/// until `stopped` turns true.
pub fn poll_then_idle(
    config: &ImapConfig,
    mailer: &Arc<Mailer>,
    store: &Arc<Store>,
    runtime: &tokio::runtime::Handle,
    wait: Option<Duration>,
    stopped: &AtomicBool,
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
    if let Some(wait) = wait {
        let idle = session
            .capabilities()
            .map_err(|_| ImapError::Protocol)?
            .has_str("IDLE");
        if idle {
            let until = std::time::Instant::now() + wait;
            let mut end = IdleEnd::TimedOut;
            loop {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() || stopped.load(Ordering::Relaxed) {
                    break;
                }
                let outcome = session
                    .idle()
                    .timeout(left.min(IDLE_SLICE))
                    .keepalive(false)
                    .wait_while(imap::extensions::idle::stop_on_any)
                    .map_err(|_| ImapError::Protocol)?;
                if outcome == imap::extensions::idle::WaitOutcome::MailboxChanged {
                    end = IdleEnd::Changed;
                    break;
                }
            }
            report.idled = Some(end);
        }
    }
    let _ = session.logout();
    Ok(report)
}

/// The daemon's reader: reads the mailbox, then waits in IDLE (at most
/// `poll_seconds`) when the server announces it and reads again at once,
/// else sleeps `poll_seconds`; until `stop` turns true.
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
        let every = Duration::from_secs(config.poll_seconds.max(1));
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopped);
        let read = move || poll_then_idle(&c, &m, &s, &handle, Some(every), &flag);
        let mut idled = false;
        let mut task = tokio::task::spawn_blocking(read);
        let joined = tokio::select! {
            joined = &mut task => joined,
            _ = stop.changed() => {
                // Cut the IDLE wait short, and let the read end.
                stopped.store(true, Ordering::Relaxed);
                let _ = task.await;
                return;
            }
        };
        match joined {
            Ok(Ok(report)) => {
                if !report.outcomes.is_empty() {
                    tracing::info!(
                        read = report.outcomes.len(),
                        left = report.left,
                        "mailbox read"
                    );
                }
                idled = report.idled.is_some();
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "mailbox not read"),
            Err(_) => tracing::warn!("mailbox task stopped"),
        }
        // After an IDLE wait the mailbox is read again at once.
        let pause = if idled { Duration::ZERO } else { every };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
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
