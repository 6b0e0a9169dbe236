//! The rustls setup shared by netboot-serve, netboot-sink and netboot-proxy.
//!
//! One place decides the TLS policy so the servers cannot drift apart: the ring provider
//! (it builds with a C compiler alone, and keeps the sink small), TLS 1.2 and 1.3 (iPXE
//! speaks 1.2 at most), ALPN `h2` then `http/1.1`, and client certificates verified by
//! rustls' `WebPkiClientVerifier` against one or more CA files and CRLs. PEM files are read
//! with `rustls-pki-types`. [`peer_subject`] gives a log-friendly subject for the client
//! certificate without pulling in an X.509 parser: only the subject name is walked.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

mod subject;

pub use rustls;
pub use subject::peer_subject;

/// ALPN protocols offered by the servers, in preference order.
pub const ALPN_SERVER: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// What went wrong building a TLS configuration; always names the file involved.
#[derive(Debug)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    Pem { path: PathBuf, reason: String },
    /// The file parsed but held nothing of the wanted kind.
    Empty { path: PathBuf, what: &'static str },
    /// rustls refused the material (key does not match certificate, bad CA or CRL, …).
    Rustls { context: String, reason: String },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::Empty { path, what } => write!(f, "{}: no {what} found", path.display()),
            Self::Rustls { context, reason } => write!(f, "{context}: {reason}"),
        }
    }
}

impl std::error::Error for TlsError {}

fn pem_error(path: &Path, e: impl fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

fn rustls_error(context: impl Into<String>, e: impl fmt::Display) -> TlsError {
    TlsError::Rustls {
        context: context.into(),
        reason: e.to_string(),
    }
}

/// The crypto provider every config here uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file (a leaf followed by its chain, or a CA bundle).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            path: path.to_owned(),
            what: "CERTIFICATE block",
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            path: path.to_owned(),
            what: "PRIVATE KEY block",
        },
        e => pem_error(path, e),
    })
}

/// Reads every CRL in a PEM file.
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if crls.is_empty() {
        return Err(TlsError::Empty {
            path: path.to_owned(),
            what: "X509 CRL block",
        });
    }
    Ok(crls)
}

/// Who may connect to a server.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A certificate chaining to one of the CAs in `ca_files`, not revoked by `crl_files`,
    /// with the client-auth EKU, is required.
    Required {
        ca_files: Vec<PathBuf>,
        crl_files: Vec<PathBuf>,
    },
    /// Anyone; for local tests or behind a load balancer that terminates mTLS itself.
    None,
}

/// Where a server's own identity comes from.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    /// The server certificate followed by any intermediates.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Builds the server config: TLS 1.3 and 1.2, ALPN h2 and http/1.1, and `auth`.
pub fn server_config(
    identity: &ServerIdentity,
    auth: &ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let chain = load_certs(&identity.cert_file)?;
    let key = load_key(&identity.key_file)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| rustls_error("TLS versions", e))?;
    let verifier = match auth {
        ClientAuth::None => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::Required {
            ca_files,
            crl_files,
        } => {
            let roots = root_store(ca_files)?;
            let mut crls = Vec::new();
            for path in crl_files {
                crls.extend(load_crls(path)?);
            }
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .with_crls(crls)
                .build()
                .map_err(|e| rustls_error("client certificate verifier", e))?
        }
    };
    let mut config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            rustls_error(
                format!(
                    "{} with {}",
                    identity.cert_file.display(),
                    identity.key_file.display()
                ),
                e,
            )
        })?;
    config.alpn_protocols = ALPN_SERVER.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Builds a client config that trusts `ca_files` (the origin's CA, not the system store:
/// the proxy talks to one origin) and presents `client` (certificate chain file, key file)
/// if given. `alpn` lists the protocols to offer, e.g. `[b"h2", b"http/1.1"]`.
pub fn client_config(
    ca_files: &[PathBuf],
    client: Option<(&Path, &Path)>,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = root_store(ca_files)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| rustls_error("TLS versions", e))?
        .with_root_certificates(roots);
    let mut config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| rustls_error(format!("{} with {}", cert.display(), key.display()), e))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn root_store(ca_files: &[PathBuf]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for path in ca_files {
        for cert in load_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| rustls_error(path.display().to_string(), e))?;
        }
    }
    if roots.is_empty() {
        return Err(rustls_error("CA files", "no CA certificate given"));
    }
    Ok(roots)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use netboot_testkit::{certs, files};

    #[test]
    fn builds_mtls_server_and_client_configs() {
        let p = |name: &str| certs().join(name);
        let server = server_config(
            &ServerIdentity {
                cert_file: p(files::SERVER_CERT),
                key_file: p(files::SERVER_KEY),
            },
            &ClientAuth::Required {
                ca_files: vec![p(files::CA_CERT)],
                crl_files: vec![p(files::CRL)],
            },
        )
        .unwrap();
        assert_eq!(
            server.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        // Whether the verifier accepts the right peers is tested with real clients in the
        // servers' integration tests; here only that the configs build.
        server_config(
            &ServerIdentity {
                cert_file: p(files::SERVER_CERT),
                key_file: p(files::SERVER_KEY),
            },
            &ClientAuth::None,
        )
        .unwrap();

        let client = client_config(
            &[p(files::CA_CERT)],
            Some((&p(files::CLIENT_RSA_CERT), &p(files::CLIENT_RSA_KEY))),
            &[b"http/1.1"],
        )
        .unwrap();
        assert!(client.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn mismatched_key_and_missing_files_name_the_file() {
        let p = |name: &str| certs().join(name);
        let err = server_config(
            &ServerIdentity {
                cert_file: p(files::SERVER_CERT),
                key_file: p(files::CLIENT_ECDSA_KEY),
            },
            &ClientAuth::None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("server.pem"), "{err}");

        let err = load_certs(&p("nope.pem")).unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
        let err = load_crls(&p(files::CA_CERT)).unwrap_err();
        assert!(matches!(err, TlsError::Empty { .. }), "{err}");
        let err = load_key(&p(files::CA_CERT)).unwrap_err();
        assert!(matches!(err, TlsError::Empty { .. }), "{err}");
    }

    #[test]
    fn subject_of_a_generated_client_cert() {
        let cert = load_certs(&certs().join(files::CLIENT_ECDSA_CERT)).unwrap();
        assert_eq!(
            peer_subject(&cert[0]).as_deref(),
            Some("CN=client-ecdsa,O=netbootc dev-certs")
        );
    }
}
