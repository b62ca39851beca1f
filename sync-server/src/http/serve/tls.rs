//! HTTPS: the server's certificate chain and private key, read from PEM files into rustls with
//! the ring provider (the one the phone uses; no aws-lc, no system OpenSSL), and read again when
//! the operator asks (`SIGHUP`, e.g. after a renewal). A reload replaces the configuration new
//! connections are accepted with; connections already open keep theirs and are not dropped. A
//! reload that fails (a file missing, a key that does not match) keeps the old configuration.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read, or holds no PEM block of the kind asked for.
    #[error("TLS {what} {path}: {reason}")]
    File {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key is not the certificate's).
    #[error("TLS certificate {cert} with key {key}: {reason}")]
    Refused {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// rustls's reason.
        reason: String,
    },
}

/// The TLS configuration connections are accepted with, replaceable while serving; cheap to
/// clone (clones share it).
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    current: Arc<RwLock<TlsAcceptor>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads `files`, or says what is wrong with them.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let acceptor = acceptor(files)?;
        Ok(Tls { files: files.clone(), current: Arc::new(RwLock::new(acceptor)) })
    }

    /// Reads the files again; new connections use what they hold from now on. On an error the
    /// configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = acceptor(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// The acceptor of the next connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// A rustls acceptor serving the chain and key of `files`, HTTP/1.1 only.
fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let file_error =
        |what, path: &Path, reason: String| TlsError::File { what, path: display(path), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error("certificate", &files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error("certificate", &files.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error("certificate", &files.cert, "no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error("key", &files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| TlsError::Refused {
            cert: display(&files.cert),
            key: display(&files.key),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
