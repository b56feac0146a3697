//! RadSec (RFC 6614) against a real peer: FreeRADIUS's `radclient` sends
//! UDP to Debian's `radsecproxy`, which forwards over mutual TLS to a real
//! `keyward serve`. The test makes its own CA (rcgen): the server's and the
//! proxy's certificates, and an undeclared client's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::otp::{code_at, Digits};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls;

use crate::radius_peers::{access, radclient, Gateway};

/// A certificate and its key, in PEM.
struct Pem {
    cert: String,
    key: String,
    der: Vec<u8>,
}

struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "keyward test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn leaf(&self, name: &str, purpose: ExtendedKeyUsagePurpose) -> Pem {
        let mut params =
            CertificateParams::new(vec![name.to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn write_private(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(der: &[u8]) -> [u8; 32] {
    keyward::radius::radsec::fingerprint(der)
}

/// A free UDP port on the loopback (released for radsecproxy to take).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `radsecproxy -f` in front of `radsec`, listening on UDP `port` for
/// radclient (secret `secret`), with `client` as its TLS identity.
struct Proxy {
    child: Child,
    log: PathBuf,
}

impl Proxy {
    fn start(dir: &Path, port: u16, secret: &str, radsec: SocketAddr, ca: &Path) -> Proxy {
        let log = dir.join("radsecproxy.log");
        let conf = dir.join("radsecproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "ListenUDP 127.0.0.1:{port}\nLogLevel 4\nLogDestination file://{log}\n\
                 client radclient {{\n host 127.0.0.1\n type udp\n secret {secret}\n}}\n\
                 tls keyward {{\n CACertificateFile {ca}\n CertificateFile {cert}\n \
                 CertificateKeyFile {key}\n}}\n\
                 server keyward {{\n host {host}\n port {rport}\n type tls\n tls keyward\n \
                 secret radsec\n CertificateNameCheck off\n}}\n\
                 realm * {{\n server keyward\n}}\n",
                log = log.display(),
                ca = ca.display(),
                cert = dir.join("proxy.pem").display(),
                key = dir.join("proxy.key").display(),
                host = radsec.ip(),
                rport = radsec.port(),
            ),
        )
        .unwrap();
        let child = Command::new("radsecproxy")
            .args(["-f", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("radsecproxy (Debian radsecproxy, installed by .ci/setup)");
        Proxy { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `attributes` through the proxy until it answers (it connects to
/// keyward on the first request), for at most 10 seconds.
fn through(proxy: &Proxy, port: u16, secret: &str, attributes: &str) -> String {
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = radclient(to, "auth", secret, attributes);
        if out.contains("Received") || Instant::now() > deadline {
            return format!("{out}\n--- radsecproxy log ---\n{}", proxy.log());
        }
    }
}

#[test]
fn radclient_through_radsecproxy_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new();
    let server = ca.leaf("keyward.test", ExtendedKeyUsagePurpose::ServerAuth);
    let proxy_id = ca.leaf("proxy.test", ExtendedKeyUsagePurpose::ClientAuth);
    let stranger = ca.leaf("stranger.test", ExtendedKeyUsagePurpose::ClientAuth);
    write_private(&d.join("ca.pem"), &ca.issuer.pem());
    write_private(&d.join("server.pem"), &server.cert);
    write_private(&d.join("server.key"), &server.key);
    write_private(&d.join("proxy.pem"), &proxy_id.cert);
    write_private(&d.join("proxy.key"), &proxy_id.key);
    let extra = format!(
        "\n[radius.radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\n\
         private_key = \"{}\"\nclient_ca = \"{}\"\n\n[[radius.radsec.clients]]\n\
         name = \"proxy\"\nfingerprint = \"sha256:{}\"\n",
        d.join("server.pem").display(),
        d.join("server.key").display(),
        d.join("ca.pem").display(),
        hex(&sha256(&proxy_id.der)),
    );
    let mut gw = Gateway::start_with(1, &extra);
    let radsec = gw
        .served
        .radsec
        .expect("the daemon prints its RadSec address");
    let port = free_udp_port();
    let udp_secret = "proxy-udp-secret-0123456789";
    let proxy = Proxy::start(d, port, udp_secret, radsec, &d.join("ca.pem"));
    let h = &gw.holders[0];
    let login = h.login.clone();
    let passcode = |c: u64| format!("{}{}", h.pin, code_at(&h.key, c, Digits::SIX));
    let c = h.counter;
    let first = through(
        &proxy,
        port,
        udp_secret,
        &access(&login, &passcode(c), true),
    );
    assert!(first.contains("Received Access-Accept"), "{first}");
    assert!(first.contains("Class = 0x5541493d"), "{first}");
    let replay = through(
        &proxy,
        port,
        udp_secret,
        &access(&login, &passcode(c), true),
    );
    assert!(replay.contains("Received Access-Reject"), "{replay}");
    // A challenge crosses the proxy with its State.
    let far = through(
        &proxy,
        port,
        udp_secret,
        &access(&login, &passcode(c + 40), true),
    );
    assert!(far.contains("Received Access-Challenge"), "{far}");
    // A certificate from the same CA but not declared: the connection is
    // closed before any packet is read.
    assert!(!stranger_is_answered(radsec, &d.join("ca.pem"), &stranger));
    // One address holds at most 64 connections, handshakes included (as
    // HTTP, a quarter of the whole): the next is closed at once, while
    // another address still gets in.
    let held: Vec<_> = (0..64).map(|_| connect_from("127.0.0.2", radsec)).collect();
    assert!(closed_at_once(&mut connect_from("127.0.0.2", radsec)));
    assert!(!closed_at_once(&mut connect_from("127.0.0.3", radsec)));
    drop(held);
    let metrics = gw.metrics();
    assert!(
        metrics.contains("client=\"\",outcome=\"dropped_source_full\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("client=\"proxy\",outcome=\"accept\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("client=\"\",outcome=\"unknown_client\"} 1"),
        "{metrics}"
    );
    drop(proxy);
    gw.served.stop();
}

/// A TCP connection to `to` from the loopback address `source`.
fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = (source.parse::<std::net::IpAddr>().unwrap(), 0).into();
    socket.bind(&from.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// Whether the server closes `stream` within half a second without a word.
fn closed_at_once(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    match stream.read(&mut [0u8; 1]) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

/// Whether keyward answers a Status-Server sent over TLS with `who`'s
/// certificate.
fn stranger_is_answered(radsec: SocketAddr, ca: &Path, who: &Pem) -> bool {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(who.der.clone())],
            PrivateKeyDer::from_pem_slice(who.key.as_bytes()).unwrap(),
        )
        .unwrap();
    let name = ServerName::try_from("keyward.test").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(radsec).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let status = keyward::radius::packet::Builder::new(keyward::radius::Code::StatusServer, 7)
        .request(&[9; 16], b"radsec");
    if tls.write_all(&status).is_err() {
        return false;
    }
    let mut reply = [0u8; 20];
    tls.read_exact(&mut reply).is_ok()
}
