//! Outbound HTTPS (RegNakes, Odoo's notification endpoint, Slack, Vault): verified against Mozilla's
//! roots, and against `TLS_OUTBOUND_CA_FILE` too when set, for services behind a ministry's internal CA
//! (an Odoo or a Vault on the private network). The OTLP exporter has its own standard variable
//! (`OTEL_EXPORTER_OTLP_CERTIFICATE`); PostgreSQL its `sslrootcert`.

use super::read_certificates;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The extra roots, set once at start (a process has one configuration).
static EXTRA_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
/// The configuration built from them at the first outbound connection.
static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// Trusts the certificates in `path` for outbound HTTPS, beside Mozilla's roots: called at start,
/// before the first outbound call; only the first call of a process counts. A file with no
/// certificate is an error.
pub fn trust_for_outbound(path: &Path) -> anyhow::Result<()> {
    let certificates = read_certificates(path)?;
    let _ = EXTRA_ROOTS.set(certificates);
    Ok(())
}

/// The TLS configuration of every outbound `awc` client (`awc::Connector::new().rustls_0_23(…)`):
/// rustls on the process's ring provider, verified against Mozilla's roots and the extra ones.
pub fn outbound_config() -> Arc<rustls::ClientConfig> {
    CONFIG.get_or_init(build_config).clone()
}

fn build_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for certificate in EXTRA_ROOTS.get().into_iter().flatten() {
        // A certificate that is not a usable trust anchor is skipped (and the call it would have
        // verified fails, naming the unknown issuer).
        if let Err(err) = roots.add(certificate.clone()) {
            tracing::warn!(error = %err, "a TLS_OUTBOUND_CA_FILE certificate is not a usable root");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}
