//! TLS on the RPC listener (CONTRACT §5): HTTPS when `TLS_CERT_FILE` and `TLS_KEY_FILE` are set, with
//! the certificate re-read when its files change (a renewal needs no restart), and mutual TLS when
//! `TLS_CLIENT_CA_FILE` is set (every client, Odoo first, presents a certificate issued by that CA).
//! Plain HTTP stays the default: loopback and the demo need no certificate.

mod outbound;
mod pinned;
mod reloading;

pub use outbound::{outbound_config, trust_for_outbound};
pub use pinned::healthcheck_client_config;
pub use reloading::ReloadingCert;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the listener's certificate, key and (for mutual TLS) client CA are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's own certificate first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA bundle (PEM) client certificates must chain to; `None` asks for no client certificate.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The listener's rustls configuration: TLS 1.2 and 1.3 on the process's ring provider, the
    /// certificate from a resolver that follows the files, the client verifier when a client CA is set.
    /// A file that cannot be read or parsed is an error here, so a mistake stops the start.
    pub fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_certificates(path)? {
                    roots.add(cert).map_err(|err| {
                        anyhow::anyhow!("TLS_CLIENT_CA_FILE {}: {err}", path.display())
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|err| {
                            anyhow::anyhow!("TLS_CLIENT_CA_FILE {}: {err}", path.display())
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let resolver = ReloadingCert::load(self.cert.clone(), self.key.clone())?;
        Ok(builder.with_cert_resolver(Arc::new(resolver)))
    }
}

/// Every certificate in a PEM file; none is an error (an empty or mistyped file is not a chain).
pub fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no PEM certificate in the file", path.display());
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn read_private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))
}
