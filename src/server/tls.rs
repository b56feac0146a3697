//! TLS for the listener (rustls on ring): the certificate chain and key
//! named in `[tls]` of the config file, and a self-signed pair for a first
//! try (`keyward init --self-signed-tls`).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use zeroize::Zeroizing;

pub use tokio_rustls::TlsAcceptor;

/// Largest certificate chain or key file read.
const MAX_PEM_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: crate::secure_fs::FsError,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: String },
    #[error("{path}: no usable PEM private key found (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: String },
    #[error("the certificate and key cannot serve TLS: {0}")]
    Config(String),
    #[error("creating a self-signed certificate: {0}")]
    Generate(String),
}

/// The acceptor for a certificate chain (PEM, config-file rules: not
/// writable by others) and its private key (PEM, a private file: 0600,
/// owned by the daemon's user).
pub fn acceptor(certificate: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let cert_path = certificate.display().to_string();
    let key_path = key.display().to_string();
    let chain_pem =
        crate::secure_fs::read_config_file(certificate, MAX_PEM_BYTES).map_err(|source| {
            TlsError::Read {
                path: cert_path.clone(),
                source,
            }
        })?;
    let key_pem = crate::secure_fs::read_private_file(key, MAX_PEM_BYTES).map_err(|source| {
        TlsError::Read {
            path: key_path.clone(),
            source,
        }
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: cert_path });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: key_path.clone(),
    })?;
    server_config(chain, key).map(|config| TlsAcceptor::from(Arc::new(config)))
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        // rustls' messages name what is wrong, never key material.
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A self-signed certificate (PEM) for `names` (DNS names or IP
/// addresses) and its private key (PEM).
pub fn self_signed(names: &[String]) -> Result<(String, Zeroizing<String>), TlsError> {
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok((
        generated.cert.pem(),
        Zeroizing::new(generated.signing_key.serialize_pem()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_makes_a_server_config() {
        let (cert, key) = self_signed(&["localhost".to_owned()]).unwrap();
        let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        assert!(server_config(chain, key).is_ok());
    }
}
