//! Certificates for the TLS tests: a certificate authority of the test's own, and the server
//! certificates it signs for this machine's loopback (`localhost`, `127.0.0.1`), written to
//! PEM files a server is started with.

use std::path::Path;

use fieldsync_server::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A certificate authority made by a test.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate an [`Authority`] signed, in files.
pub struct Issued {
    /// The certificate and key files, for `ServerConfig::tls` or `--tls-cert`/`--tls-key`.
    pub files: TlsFiles,
    /// The certificate (DER), to recognise it in a handshake.
    pub der: Vec<u8>,
}

impl Authority {
    /// A new authority named `name`.
    pub fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("{}: {e}", "no names"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{}: {e}", "an ECDSA key"));
        Authority {
            issuer: CertifiedIssuer::self_signed(params, key)
                .unwrap_or_else(|e| panic!("{}: {e}", "a CA certificate")),
        }
    }

    /// The authority's certificate (PEM), what a phone is told to trust.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `localhost` and `127.0.0.1` signed by this authority, written with
    /// its key to `{dir}/{stem}.crt` and `{dir}/{stem}.key`.
    pub fn issue(&self, dir: &Path, stem: &str) -> Issued {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let params =
            CertificateParams::new(names).unwrap_or_else(|e| panic!("{}: {e}", "valid names"));
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{}: {e}", "an ECDSA key"));
        let cert =
            params.signed_by(&key, &self.issuer).unwrap_or_else(|e| panic!("{}: {e}", "signed"));
        let files = TlsFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        };
        std::fs::write(&files.cert, cert.pem())
            .unwrap_or_else(|e| panic!("{}: {e}", "certificate written"));
        std::fs::write(&files.key, key.serialize_pem())
            .unwrap_or_else(|e| panic!("{}: {e}", "key written"));
        Issued { files, der: cert.der().to_vec() }
    }
}
