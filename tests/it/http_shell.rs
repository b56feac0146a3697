//! The HTTP shell against hostile or careless clients (issue 11): metrics
//! that tell no reason without an admin key, ambiguous or lowercase
//! `Authorization` headers, no `100 Continue` before a `413`, and TLS with
//! the certificate `keyward init --self-signed-tls` makes, plain HTTP
//! refused off loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

use crate::support::api::{api, Api};
use crate::support::cli::{init, keyward, run, text};
use crate::support::serve::{serve, Served};

/// `GET /metrics` with these `Authorization` values: status and text.
async fn metrics(api: &Api, authorization: &[String]) -> (u16, String) {
    let mut request = Request::builder().uri("/metrics");
    for value in authorization {
        request = request.header("authorization", value);
    }
    let response = keyward::api::app(api.state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_tell_verify_reasons_to_an_admin_key_only() {
    let api = api();
    let (status, _) = api
        .verify(&json!({"login": "nobody", "passcode": "123456123456"}))
        .await;
    assert_eq!(status, 200);
    let (status, public) = metrics(&api, &[]).await;
    assert_eq!(status, 200);
    assert!(public.contains("keyward_up 1"), "{public}");
    assert!(
        public.contains("keyward_verify_seconds_count 1"),
        "{public}"
    );
    assert!(
        public.contains("keyward_http_requests_total{route=\"/v1/verify\",status=\"200\"} 1"),
        "{public}"
    );
    for reason in [
        "unknown_login",
        "wrong_code",
        "wrong_pin",
        "locked",
        "outcome=",
    ] {
        assert!(!public.contains(reason), "{reason} in\n{public}");
    }
    let bearer = |key: &str| vec![format!("Bearer {key}")];
    let (status, _) = metrics(&api, &bearer(&api.keys.gateway)).await;
    assert_eq!(status, 403);
    let (status, _) = metrics(&api, &bearer("kw_not-a-key")).await;
    assert_eq!(status, 401);
    let (status, full) = metrics(&api, &bearer(&api.keys.admin)).await;
    assert_eq!(status, 200);
    assert!(
        full.contains("keyward_verify_total{outcome=\"unknown_login\"} 1"),
        "{full}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_authorization_headers_are_400_and_the_scheme_is_case_insensitive() {
    let api = api();
    let send = |values: Vec<String>, login: &str| {
        let body = format!(r#"{{"login":"{login}","passcode":"123456123456"}}"#);
        let mut request = Request::builder()
            .method("POST")
            .uri("/v1/verify")
            .header("content-type", "application/json");
        for value in values {
            request = request.header("authorization", value);
        }
        let request = request.body(Body::from(body)).unwrap();
        let app = keyward::api::app(api.state.clone());
        async move { app.oneshot(request).await.unwrap().status().as_u16() }
    };
    // The report: an admin key then the gateway key was served (200).
    let both = vec![
        format!("Bearer {}", api.keys.admin),
        format!("Bearer {}", api.keys.gateway),
    ];
    assert_eq!(send(both, "nobody-a").await, 400);
    let twice = vec![format!("Bearer {}", api.keys.gateway); 2];
    assert_eq!(send(twice, "nobody-b").await, 400);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let one = vec![format!("{scheme} {}", api.keys.gateway)];
        assert_eq!(
            send(one, &format!("nobody-{scheme}")).await,
            200,
            "{scheme}"
        );
    }
    // A refused verify is no verify: nothing reached the service.
    let (_, text) = metrics(&api, &[format!("Bearer {}", api.keys.admin)]).await;
    assert!(
        text.contains("keyward_verify_total{outcome=\"unknown_login\"} 3"),
        "{text}"
    );
}

/// The v1 API served by the real shell on a free loopback port.
async fn served(api: &Api) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = keyward::api::app(api.state.clone());
    tokio::spawn(keyward::server::run(
        vec![listener.into()],
        app,
        keyward::config::Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_100_continue_before_a_413() {
    let api = api();
    let (addr, _stop) = served(&api).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/verify HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 10000000\r\n\
         expect: 100-continue\r\n\r\n",
        api.keys.gateway
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("no answer without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    let output = run(keyward(["serve", "--listen", "0.0.0.0:0", "--pcsc", "off"])
        .args(["--hid", "off", "--data"])
        .arg(&data)
        .env("KEYWARD_LANG", "en"));
    assert!(!output.status.success());
    let said = text(&output.stderr);
    assert!(said.contains("without TLS"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_tls_with_a_self_signed_certificate_and_sends_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(keyward(["init", "--self-signed-tls", "localhost", "--data"]).arg(&data));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let served = Served::start(
        serve(&data, &["--pcsc", "off", "--hid", "off"]).stderr(std::process::Stdio::null()),
    );
    assert!(served.url.starts_with("https://"), "{}", served.url);
    let pem = std::fs::read(data.join("tls-certificate.pem")).unwrap();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject as _;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(served.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("strict-transport-security: max-age=31536000"),
        "{answer}"
    );
    // Plain HTTP on the TLS port gets no answer.
    let mut plain = tokio::net::TcpStream::connect(served.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut bytes)).await;
    assert!(!String::from_utf8_lossy(&bytes).contains("200 OK"));
    drop(served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_districts_person_or_token_reads_as_a_missing_one() {
    let api = api();
    let east = api.keys.inspector_east.clone();
    // mleroy is WEST's director; nobody does not exist.
    let (status, elsewhere) = api.get(&east, "/v1/people/mleroy").await;
    let (missing_status, missing) = api.get(&east, "/v1/people/nobody").await;
    assert_eq!((status.as_u16(), missing_status.as_u16()), (404, 404));
    assert_eq!(elsewhere, missing);
    // The token in stock is no district's; 99999999 does not exist.
    let (status, elsewhere) = api.get(&east, &format!("/v1/tokens/{}", api.serial)).await;
    let (missing_status, missing) = api.get(&east, "/v1/tokens/99999999").await;
    assert_eq!((status.as_u16(), missing_status.as_u16()), (404, 404));
    assert_eq!(elsewhere, missing);
}
