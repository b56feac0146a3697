//! TLS to the directory (`ldaps://` or StartTLS): which certificates are
//! trusted, and a failed handshake told apart from other connection
//! failures.
//!
//! Without `ca_file`, the system's roots are trusted (the `ldap3` default).
//! With `ca_file`, **only** the certificates of that PEM file are: the
//! directory is the authority's own server, under its own CA, and nothing
//! else signed by a public CA should pass for it.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;

/// Largest CA file read (a bundle of a few certificates).
pub const MAX_CA_FILE_BYTES: usize = 1 << 20;

/// Why `ca_file` cannot be used (nothing was read from the directory).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaProblem {
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("is larger than {MAX_CA_FILE_BYTES} bytes")]
    TooLarge,
    #[error("holds no PEM certificate")]
    NoCertificate,
    #[error("holds a certificate that does not decode")]
    BadCertificate,
}

/// The trust anchors of a PEM file's bytes: every `CERTIFICATE` block
/// (other blocks are ignored); none, or one that does not decode, is an
/// error.
pub fn roots_from_pem(bytes: &[u8]) -> Result<RootCertStore, CaProblem> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(bytes) {
        let cert = cert.map_err(|_| CaProblem::BadCertificate)?;
        roots.add(cert).map_err(|_| CaProblem::BadCertificate)?;
    }
    if roots.is_empty() {
        return Err(CaProblem::NoCertificate);
    }
    Ok(roots)
}

/// Reads `path` (a public file: no mode required) into trust anchors.
pub fn read_roots(path: &Path) -> Result<RootCertStore, CaProblem> {
    let meta = std::fs::metadata(path).map_err(|e| CaProblem::Unreadable(e.kind().to_string()))?;
    if meta.len() > MAX_CA_FILE_BYTES as u64 {
        return Err(CaProblem::TooLarge);
    }
    let bytes = std::fs::read(path).map_err(|e| CaProblem::Unreadable(e.kind().to_string()))?;
    roots_from_pem(&bytes)
}

/// A client configuration trusting `roots` only.
pub fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, CaProblem> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| CaProblem::BadCertificate)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificate problem behind a connection failure, if the failure is
/// a refused server certificate (untrusted issuer, wrong name, expired…).
pub fn certificate_problem(err: &ldap3::LdapError) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(rustls::Error::InvalidCertificate(why)) = e.downcast_ref::<rustls::Error>() {
            return Some(format!("{why:?}"));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(rustls::Error::InvalidCertificate(why)) =
                io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                return Some(format!("{why:?}"));
            }
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_decodable_certificate() {
        assert_eq!(
            roots_from_pem(b"not a pem file").unwrap_err(),
            CaProblem::NoCertificate
        );
        assert_eq!(
            roots_from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .unwrap_err(),
            CaProblem::NoCertificate
        );
        assert_eq!(
            roots_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .unwrap_err(),
            CaProblem::BadCertificate
        );
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_owned()]).unwrap();
        let roots = roots_from_pem(ca.cert.pem().as_bytes()).unwrap();
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn a_missing_ca_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_roots(&dir.path().join("absent.pem")).unwrap_err();
        assert!(matches!(err, CaProblem::Unreadable(_)), "{err}");
    }
}
