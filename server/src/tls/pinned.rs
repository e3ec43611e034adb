//! The healthcheck's TLS client: it asks the server on loopback, under an address no certificate
//! names, so instead of a CA and a host name it trusts exactly the certificate in `TLS_CERT_FILE` (the
//! same file the server serves). With mutual TLS it presents `TLS_HEALTHCHECK_CERT_FILE` and
//! `TLS_HEALTHCHECK_KEY_FILE`, or else the server's own pair (which the server accepts when its
//! certificate was issued by the client CA for client authentication too).

use super::{read_certificates, read_private_key, TlsFiles};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// A client configuration for the local server's probe.
pub fn healthcheck_client_config(
    files: &TlsFiles,
    client_pair: Option<(PathBuf, PathBuf)>,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pinned = read_certificates(&files.cert)?.swap_remove(0);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { pinned, provider }));
    let config = match (&files.client_ca, client_pair) {
        (None, _) => builder.with_no_client_auth(),
        (Some(_), pair) => {
            let (cert, key) = pair.unwrap_or_else(|| (files.cert.clone(), files.key.clone()));
            builder.with_client_auth_cert(read_certificates(&cert)?, read_private_key(&key)?)?
        }
    };
    Ok(config)
}

#[derive(Debug)]
struct Pinned {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the one in TLS_CERT_FILE".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
