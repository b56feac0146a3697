//! TLS for the listener (rustls on ring): the certificate chain and key
//! named in `[tls]` of the config file, and a self-signed pair for a first
//! try (`keyward init --self-signed-tls`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use zeroize::Zeroizing;

use crate::config::ConfigError;

pub use tokio_rustls::TlsAcceptor;

/// `[tls]`: the certificate chain and private key, PEM (relative paths are
/// in the data directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files `keyward init --self-signed-tls` writes.
    pub const CERTIFICATE: &'static str = "tls-certificate.pem";
    pub const KEY: &'static str = "tls-key.pem";

    /// The paths, relative ones resolved in `data`.
    pub fn resolve(&self, data: &Path) -> (PathBuf, PathBuf) {
        (data.join(&self.certificate), data.join(&self.key))
    }

    pub(crate) fn parse(value: &toml::Value) -> Result<TlsFiles, ConfigError> {
        let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
            key: "tls".to_owned(),
            expected: "a table",
        })?;
        let (mut certificate, mut key) = (None, None);
        for (name, value) in table {
            let full = format!("tls.{name}");
            let path = PathBuf::from(value.as_str().ok_or_else(|| ConfigError::WrongType {
                key: full.clone(),
                expected: "a string",
            })?);
            match name.as_str() {
                "certificate" => certificate = Some(path),
                "key" => key = Some(path),
                _ => return Err(ConfigError::UnknownKey { key: full }),
            }
        }
        Ok(TlsFiles {
            certificate: certificate.ok_or(ConfigError::MissingKey {
                key: "tls.certificate",
            })?,
            key: key.ok_or(ConfigError::MissingKey { key: "tls.key" })?,
        })
    }
}

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
    fn the_tls_table_names_both_files() {
        let base = "authority_domain = \"ac-exemple.fr\"\n";
        let config = crate::config::DaemonConfig::parse(&format!(
            "{base}[tls]\ncertificate = \"/etc/keyward/c.pem\"\nkey = \"k.pem\"\n"
        ))
        .unwrap();
        let files = config.tls.unwrap();
        let (certificate, key) = files.resolve(Path::new("/var/lib/keyward"));
        assert_eq!(certificate, Path::new("/etc/keyward/c.pem"));
        assert_eq!(key, Path::new("/var/lib/keyward/k.pem"));
        let half = crate::config::DaemonConfig::parse(&format!("{base}[tls]\nkey = \"k.pem\"\n"));
        assert!(matches!(
            half,
            Err(ConfigError::MissingKey {
                key: "tls.certificate"
            })
        ));
        let other = crate::config::DaemonConfig::parse(&format!("{base}[tls]\nkey = 1\n"));
        assert!(other.is_err());
        // And what init writes reads back.
        let mut written = crate::config::DaemonConfig::parse(base).unwrap();
        written.tls = Some(files.clone());
        let again = crate::config::DaemonConfig::parse(&written.to_toml()).unwrap();
        assert_eq!(again.tls, Some(files));
    }

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
