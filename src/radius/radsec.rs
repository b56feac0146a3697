//! RadSec (RFC 6614): RADIUS over mutual TLS on TCP, 2083 by default, off
//! unless `[radius.radsec]` is configured (docs/radius.md). A client is
//! identified by its certificate: it must chain to the configured CA and
//! its SHA-256 fingerprint must be declared, with a name. Each packet read
//! from the stream is answered by the same [`RadiusService`] as a UDP
//! datagram, with the shared secret `radsec` (RFC 6614 §2.3), the same
//! limits and the same per-client counters.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls;
use zeroize::Zeroizing;

use super::admission::Admission;
use super::config::{Client, Network};
use super::packet::{HEADER, MAX_PACKET};
use super::server::RadiusService;
use crate::config::{bad, string as text, ConfigError};

/// Port assigned to RADIUS over TLS (RFC 6614 §2.1).
pub const DEFAULT_PORT: u16 = 2083;
/// The shared secret of RADIUS over TLS (RFC 6614 §2.3).
pub const SECRET: &[u8] = b"radsec";
/// Most TLS connections open at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 256;
/// Most connections from one source address, handshakes included: the
/// same quarter of the whole as HTTP's `limits.max_connections_per_source`
/// (128 of 512), so one address cannot take every slot.
const MAX_CONNECTIONS_PER_SOURCE: usize = 64;
/// Most requests of one connection being answered at once; the reader
/// waits past it (TCP back-pressure).
const IN_FLIGHT_PER_CONNECTION: usize = 256;
/// A handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no packet for this long is closed (clients keep
/// theirs alive with Status-Server).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Largest certificate or key file read.
const MAX_PEM: usize = 64 * 1024;

/// A declared RadSec client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadsecClient {
    pub name: String,
    /// SHA-256 of the client certificate (DER).
    pub fingerprint: [u8; 32],
    pub require_message_authenticator: bool,
    /// What its holders read (Reply-Message), as for UDP clients.
    pub language: crate::i18n::Lang,
}

/// `[radius.radsec]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadsecConfig {
    pub listen: Vec<SocketAddr>,
    /// The server's certificate chain (PEM); relative paths are in the
    /// data directory.
    pub certificate: PathBuf,
    /// The server's private key (PEM, 0600).
    pub private_key: PathBuf,
    /// The CA(s) client certificates must chain to (PEM).
    pub client_ca: PathBuf,
    pub clients: Vec<RadsecClient>,
}

/// `AB:CD:…` or `abcd…`, optionally prefixed `sha256:`.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text
        .strip_prefix("sha256:")
        .unwrap_or(text)
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .ok()?;
    bytes.try_into().ok()
}

/// The fingerprint of a certificate, as the configuration names it.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(der).into()
}

impl RadsecConfig {
    pub fn parse(value: &toml::Value) -> Result<RadsecConfig, ConfigError> {
        let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
            key: "radius.radsec".to_owned(),
            expected: "a table",
        })?;
        let mut listen = vec![SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))];
        let (mut certificate, mut private_key, mut client_ca) = (None, None, None);
        let mut clients = Vec::new();
        for (name, value) in table {
            let key = format!("radius.radsec.{name}");
            match name.as_str() {
                "listen" => {
                    let one = |v: &toml::Value| {
                        text(&key, v)?.parse::<SocketAddr>().map_err(|_| {
                            bad(&key, "not an IP address and port, e.g. \"0.0.0.0:2083\"")
                        })
                    };
                    listen = match value {
                        toml::Value::Array(many) => {
                            many.iter().map(one).collect::<Result<Vec<_>, _>>()?
                        }
                        single => vec![one(single)?],
                    };
                    if listen.is_empty() {
                        return Err(bad(&key, "names no address"));
                    }
                }
                "certificate" => certificate = Some(PathBuf::from(text(&key, value)?)),
                "private_key" => private_key = Some(PathBuf::from(text(&key, value)?)),
                "client_ca" => client_ca = Some(PathBuf::from(text(&key, value)?)),
                "clients" => {
                    let list = value.as_array().ok_or_else(|| ConfigError::WrongType {
                        key: key.clone(),
                        expected: "an array of tables ([[radius.radsec.clients]])",
                    })?;
                    for one in list {
                        clients.push(client(one)?);
                    }
                }
                _ => return Err(ConfigError::UnknownKey { key }),
            }
        }
        if clients.is_empty() {
            return Err(bad("radius.radsec.clients", "declare at least one client"));
        }
        let mut names: Vec<&str> = clients.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(bad(
                "radius.radsec.clients.name",
                "two clients have the same name",
            ));
        }
        Ok(RadsecConfig {
            listen,
            certificate: certificate.ok_or(ConfigError::MissingKey {
                key: "radius.radsec.certificate",
            })?,
            private_key: private_key.ok_or(ConfigError::MissingKey {
                key: "radius.radsec.private_key",
            })?,
            client_ca: client_ca.ok_or(ConfigError::MissingKey {
                key: "radius.radsec.client_ca",
            })?,
            clients,
        })
    }

    /// The TLS server configuration: our certificate and key, and client
    /// certificates required, chaining to `client_ca`.
    pub fn tls(&self, data: &Path) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let read = |file: &Path, private: bool| {
            let path = data.join(file);
            let bytes = if private {
                crate::secure_fs::read_private_file(&path, MAX_PEM)
            } else {
                crate::secure_fs::read_config_file(&path, MAX_PEM)
            };
            bytes.map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        let certs = |key: &str, bytes: &[u8]| {
            let all = CertificateDer::pem_slice_iter(bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad(key, "not PEM certificates"))?;
            if all.is_empty() {
                return Err(bad(key, "holds no certificate"));
            }
            Ok(all)
        };
        let chain = certs(
            "radius.radsec.certificate",
            &read(&self.certificate, false)?,
        )?;
        let key = PrivateKeyDer::from_pem_slice(&read(&self.private_key, true)?)
            .map_err(|_| bad("radius.radsec.private_key", "not a PEM private key"))?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in certs("radius.radsec.client_ca", &read(&self.client_ca, false)?)? {
            roots
                .add(ca)
                .map_err(|_| bad("radius.radsec.client_ca", "not a usable CA certificate"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| bad("radius.radsec.client_ca", e.to_string()))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("radius.radsec", e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| bad("radius.radsec.private_key", e.to_string()))?;
        Ok(Arc::new(config))
    }
}

fn client(value: &toml::Value) -> Result<RadsecClient, ConfigError> {
    let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
        key: "radius.radsec.clients".to_owned(),
        expected: "an array of tables",
    })?;
    let (mut name, mut print) = (None, None);
    let mut require = true;
    let mut language = crate::i18n::Lang::default();
    for (field, value) in table {
        let key = format!("radius.radsec.clients.{field}");
        match field.as_str() {
            "name" => name = Some(super::config::client_name(&key, value)?),
            "fingerprint" => {
                print = Some(parse_fingerprint(text(&key, value)?).ok_or_else(|| {
                    bad(
                        &key,
                        "not a SHA-256 fingerprint, e.g. \"sha256:AB:CD:…\" (32 bytes)",
                    )
                })?);
            }
            "require_message_authenticator" => {
                require = value.as_bool().ok_or_else(|| ConfigError::WrongType {
                    key: key.clone(),
                    expected: "true or false",
                })?;
            }
            "language" => language = super::config::client_language(&key, value)?,
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    Ok(RadsecClient {
        name: name.ok_or(ConfigError::MissingKey {
            key: "radius.radsec.clients.name",
        })?,
        fingerprint: print.ok_or(ConfigError::MissingKey {
            key: "radius.radsec.clients.fingerprint",
        })?,
        require_message_authenticator: require,
        language,
    })
}

/// Serves RadSec on `listeners` until `stop` turns true.
pub async fn serve(
    listeners: Vec<TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    clients: Arc<Vec<RadsecClient>>,
    service: Arc<RadiusService>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let connections = Admission::new(MAX_CONNECTIONS, MAX_CONNECTIONS_PER_SOURCE);
    let loops = listeners.into_iter().map(|listener| {
        let acceptor = acceptor.clone();
        let clients = Arc::clone(&clients);
        let service = Arc::clone(&service);
        let connections = Arc::clone(&connections);
        let mut stop = stop.clone();
        async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.wait_for(|s| *s) => return,
                };
                let (stream, peer) = match accepted {
                    Ok(got) => got,
                    Err(err) => {
                        tracing::warn!(error = %err, "RadSec accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Refused at once (closed), as HTTP answers 503 when full.
                let permit = match connections.admit(peer.ip()) {
                    Ok(ticket) => ticket,
                    Err(refused) => {
                        service.count("", refused.label());
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let clients = Arc::clone(&clients);
                let service = Arc::clone(&service);
                let stop = stop.clone();
                tokio::spawn(async move {
                    connection(acceptor, stream, peer, &clients, service, stop).await;
                    drop(permit);
                });
            }
        }
    });
    futures_util::future::join_all(loops).await;
}

/// One TLS connection: handshake, the client named by its certificate,
/// then packets in, replies out (in any order, as each is decided).
async fn connection(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    clients: &[RadsecClient],
    service: Arc<RadiusService>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::warn!(%peer, error = %err, "RadSec handshake refused");
            service.count("", "tls_refused");
            return;
        }
        Err(_) => {
            service.count("", "tls_refused");
            return;
        }
    };
    let presented = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| fingerprint(leaf.as_ref()));
    let Some(declared) = presented.and_then(|p| clients.iter().find(|c| c.fingerprint == p)) else {
        tracing::warn!(%peer, "RadSec client certificate not declared: connection closed");
        service.count("", "unknown_client");
        return;
    };
    let client = Arc::new(Client {
        name: declared.name.clone(),
        network: Network::host(peer.ip()),
        secret: Zeroizing::new(SECRET.to_vec()),
        require_message_authenticator: declared.require_message_authenticator,
        language: declared.language,
    });
    let (mut reader, mut writer) = tokio::io::split(tls);
    let (replies, mut outgoing) = mpsc::channel::<Vec<u8>>(IN_FLIGHT_PER_CONNECTION);
    let writing = tokio::spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_PER_CONNECTION));
    loop {
        let mut packet = vec![0u8; HEADER];
        let read = tokio::select! {
            r = tokio::time::timeout(IDLE_TIMEOUT, reader.read_exact(&mut packet[..4])) => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        if !matches!(read, Ok(Ok(_))) {
            break;
        }
        let length = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        if !(HEADER..=MAX_PACKET).contains(&length) {
            // The stream cannot be re-framed: close it (RFC 6614 §2.5).
            service.count(&client.name, "malformed");
            break;
        }
        packet.resize(length, 0);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.read_exact(&mut packet[4..])).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let (service, client, replies) =
            (Arc::clone(&service), Arc::clone(&client), replies.clone());
        tokio::spawn(async move {
            if let Some(bytes) = service.answer_client(&client, &packet, peer).await {
                let _ = replies.send(bytes).await;
            }
            drop(permit);
        });
    }
    drop(replies);
    let _ = writing.await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<RadsecConfig, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        RadsecConfig::parse(&table["radsec"])
    }

    const PRINT: &str = "sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";

    #[test]
    fn a_radsec_table_reads_back() {
        let config = parse(&format!(
            "[radsec]\ncertificate = \"c.pem\"\nprivate_key = \"k.pem\"\nclient_ca = \"ca.pem\"\n\
             [[radsec.clients]]\nname = \"portail\"\nfingerprint = \"{PRINT}\"\n"
        ))
        .unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:2083".parse().unwrap()]);
        let [client] = config.clients.as_slice() else {
            panic!("one client")
        };
        assert_eq!(client.name, "portail");
        assert_eq!(client.fingerprint[1], 0x11);
        assert!(client.require_message_authenticator);
        assert_eq!(parse_fingerprint("sha256:abcd"), None);
        assert_eq!(parse_fingerprint(&PRINT.replace('0', "g")), None);
        assert_eq!(
            parse_fingerprint(&PRINT[7..].replace(':', "")),
            Some(client.fingerprint)
        );
    }

    #[test]
    fn bad_radsec_tables_name_the_key() {
        for (text, key) in [
            (
                "[radsec]\ncertificate = \"c\"\nprivate_key = \"k\"\nclient_ca = \"a\"\n",
                "radius.radsec.clients",
            ),
            (
                "[radsec]\n[[radsec.clients]]\nname = \"p\"\nfingerprint = \"ab\"\n",
                "radius.radsec.clients.fingerprint",
            ),
            ("[radsec]\ncolour = 1\n", "radius.radsec.colour"),
        ] {
            let key_of = match parse(text).unwrap_err() {
                ConfigError::UnknownKey { key } | ConfigError::BadValue { key, .. } => key,
                other => panic!("{other:?}"),
            };
            assert_eq!(key_of, key, "{text}");
        }
        assert!(matches!(
            parse(&format!(
                "[radsec]\ncertificate = \"c\"\nclient_ca = \"a\"\n\
                 [[radsec.clients]]\nname = \"p\"\nfingerprint = \"{PRINT}\"\n"
            )),
            Err(ConfigError::MissingKey {
                key: "radius.radsec.private_key"
            })
        ));
    }
}
