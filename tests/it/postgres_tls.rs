//! TLS between a node and PostgreSQL (`sslmode=verify-full`, issue 19),
//! against a real PostgreSQL 15 of its own that rejects every connection
//! without TLS: the throwaway CA of the test signs its certificate for
//! 127.0.0.1 and localhost. Fails, never skips, without PostgreSQL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward::store::postgres::{self as pg, PgError, PgTarget, StoreBackend};

use crate::support::postgres::{self as harness, HaServer};
use crate::support::slapd::TestTls;

/// Longest a refused connection may take: a refusal, never a hang.
const REFUSED_WITHIN: Duration = Duration::from_secs(15);

struct Fixture {
    server: HaServer,
    dir: tempfile::TempDir,
    password: PathBuf,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
}

impl Fixture {
    fn start() -> Fixture {
        let tls = TestTls::new();
        let server = harness::tls_server(&tls.cert_pem, &tls.key_pem);
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("postgres.password");
        keyward::secure_fs::create_private_file(
            &password,
            format!("{}\n", harness::PASSWORD).as_bytes(),
        )
        .unwrap();
        let ca = dir.path().join("postgres-ca.pem");
        std::fs::write(&ca, &tls.ca_pem).unwrap();
        Fixture {
            server,
            dir,
            password,
            ca,
        }
    }

    /// `[store]` with `query` on `host`, and `ca_file`.
    fn target(&self, host: &str, query: &str, ca_file: Option<&Path>) -> PgTarget {
        let url = format!(
            "postgres://{}@{host}:{}/postgres?{query}",
            harness::ROLE,
            self.server.port
        );
        match StoreBackend::from_keys(&url, Some(&self.password), ca_file).unwrap() {
            StoreBackend::Postgres(target) => target,
            StoreBackend::Sqlite => panic!("sqlite"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_verify_full_and_its_ca_talks_tls_and_nothing_else_gets_in() {
    let f = Fixture::start();

    // The pool of a node, by IP address (the certificate's IP SAN)…
    let target = f.target("127.0.0.1", "sslmode=verify-full", Some(&f.ca));
    let pool = pg::connect(&target, 1).await.unwrap();
    let client = pool.get().await.unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the pool's backend is not on TLS");

    // …and a single connection (the listener's, audit's), by name (the
    // DNS SAN).
    let target = f.target("localhost", "sslmode=verify-full", Some(&f.ca));
    let (client, connection) = target
        .client_config()
        .unwrap()
        .connect(target.tls_connector().unwrap())
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    let version: String = row.get(1);
    assert!(version.starts_with("TLSv1."), "{version}");
    drop(client);
    driver.await.unwrap().unwrap();

    // The server takes no cleartext: the TLS above was real.
    let plain = f.target("127.0.0.1", "sslmode=disable", None);
    let err = tokio::time::timeout(REFUSED_WITHIN, pg::connect(&plain, 1))
        .await
        .expect("a cleartext connection hung")
        .unwrap_err();
    let refusal = match &err {
        PgError::Db(db) => db.as_db_error().map(|e| e.message().to_owned()),
        _ => None,
    };
    assert!(
        refusal.is_some_and(|m| m.contains("no encryption")),
        "{err:?}"
    );
    drop(f.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused_quickly_and_plainly() {
    let f = Fixture::start();
    let other = f.dir.path().join("other-ca.pem");
    std::fs::write(&other, TestTls::new().ca_pem).unwrap();
    let target = f.target("127.0.0.1", "sslmode=verify-full", Some(&other));
    let err = tokio::time::timeout(REFUSED_WITHIN, pg::connect(&target, 1))
        .await
        .expect("a refused certificate hung")
        .unwrap_err();
    assert!(matches!(err, PgError::Tls(_)), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("certificate"), "{shown}");
    assert!(shown.contains("invalid peer certificate"), "{shown}");
    assert!(!format!("{shown} {err:?}").contains(harness::PASSWORD));

    // A CA file that is not one is told before any connection.
    let junk = f.dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let target = f.target("127.0.0.1", "sslmode=verify-full", Some(&junk));
    let err = pg::connect(&target, 1).await.unwrap_err();
    assert!(
        matches!(err, PgError::Config(pg::PgConfigError::CaFile { .. })),
        "{err:?}"
    );
    let missing = f.dir.path().join("absent.pem");
    let err = f
        .target("127.0.0.1", "sslmode=verify-full", Some(&missing))
        .tls_connector()
        .unwrap_err();
    assert!(err.to_string().contains("absent.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_the_right_ca_for_another_host_is_refused() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    // verify-full, not verify-ca: the right CA, but the certificate names
    // db1 only, not 127.0.0.1.
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["db1.ac-test.fr".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let server = harness::tls_server(&cert.pem(), &key.serialize_pem());
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("postgres.password");
    keyward::secure_fs::create_private_file(
        &password,
        format!("{}\n", harness::PASSWORD).as_bytes(),
    )
    .unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let url = format!(
        "postgres://{}@127.0.0.1:{}/postgres?sslmode=verify-full",
        harness::ROLE,
        server.port
    );
    let StoreBackend::Postgres(target) =
        StoreBackend::from_keys(&url, Some(&password), Some(&ca_file)).unwrap()
    else {
        panic!("sqlite");
    };
    let err = tokio::time::timeout(REFUSED_WITHIN, pg::connect(&target, 1))
        .await
        .expect("a refused certificate hung")
        .unwrap_err();
    assert!(matches!(err, PgError::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("not valid for name"), "{err}");
}
