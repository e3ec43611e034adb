//! OTLP/HTTP (protobuf) export of spans, switched on by the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the exporter reads the other standard `OTEL_*` variables
//! (headers, timeout, `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`, `OTEL_BSP_*` batching) itself, and the
//! SDK the sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
//!
//! The transport is `ureq` (3.x): the SDK's batch processor exports from a thread of its own, outside
//! any async runtime, so a blocking client fits; ureq is maintained, pure Rust, speaks TLS through the
//! rustls and ring provider the server already has, and adds no second async HTTP stack (reqwest and
//! hyper, which `opentelemetry-http` offers, would). `https://` endpoints are verified against Mozilla's
//! roots, or only against `OTEL_EXPORTER_OTLP_CERTIFICATE` when it is set; a client certificate is
//! presented when `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `..._CLIENT_KEY` are set (each also as
//! `OTEL_EXPORTER_OTLP_TRACES_*`, which wins).

use crate::tls::read_certificates;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::ExporterBuildError;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

/// The environment variables that switch the exporter on.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Largest response read from a collector (it answers with a short status message).
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// The collector's endpoint, when one is configured (the first variable set and not empty).
pub fn configured_endpoint() -> Option<String> {
    ENDPOINT_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|value| value.trim().to_string())
        .find(|value| !value.is_empty())
}

/// A standard setting, the traces-specific name first (`OTEL_EXPORTER_OTLP_TRACES_<name>`).
fn setting(name: &str) -> Option<String> {
    [
        format!("OTEL_EXPORTER_OTLP_TRACES_{name}"),
        format!("OTEL_EXPORTER_OTLP_{name}"),
    ]
    .iter()
    .filter_map(|key| std::env::var(key).ok())
    .map(|value| value.trim().to_string())
    .find(|value| !value.is_empty())
}

/// A span exporter for the configured endpoint (`http://` or `https://`).
pub fn span_exporter(
    endpoint: &str,
) -> Result<opentelemetry_otlp::SpanExporter, ExporterBuildError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(ExporterBuildError::InvalidUri(
            endpoint.to_string(),
            "an OTLP/HTTP endpoint starts with http:// or https://".to_string(),
        ));
    }
    let tls = tls_config().map_err(|err| ExporterBuildError::InvalidConfig {
        name: "OTEL_EXPORTER_OTLP_CERTIFICATE".to_string(),
        reason: err.to_string(),
    })?;
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .new_agent();
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(UreqClient { agent })
        .build()
}

/// The collector's trust roots and this server's client certificate, from the standard variables.
fn tls_config() -> anyhow::Result<TlsConfig> {
    let roots = match setting("CERTIFICATE") {
        Some(path) => RootCerts::from(
            read_certificates(path.as_ref())?
                .iter()
                .map(|der| Certificate::from_der(der).to_owned()),
        ),
        None => RootCerts::WebPki,
    };
    let client_cert = match (setting("CLIENT_CERTIFICATE"), setting("CLIENT_KEY")) {
        (Some(cert), Some(key)) => {
            let chain: Vec<Certificate<'static>> = read_certificates(cert.as_ref())?
                .iter()
                .map(|der| Certificate::from_der(der).to_owned())
                .collect();
            let pem = std::fs::read(&key).map_err(|err| anyhow::anyhow!("{key}: {err}"))?;
            let key = PrivateKey::from_pem(&pem).map_err(|err| anyhow::anyhow!("{key}: {err}"))?;
            Some(ClientCert::new_with_certs(&chain, key))
        }
        (None, None) => None,
        _ => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together"
        ),
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots)
        .client_cert(client_cert)
        .build())
}

#[derive(Debug)]
struct UreqClient {
    agent: ureq::Agent,
}

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    /// Blocks the exporter's own thread for one request (its timeout bounds it).
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, body.to_vec());
        let response = self.agent.run(request)?;
        let (parts, mut body) = response.into_parts();
        let bytes = body.with_config().limit(MAX_RESPONSE_BYTES).read_to_vec()?;
        Ok(Response::from_parts(parts, Bytes::from(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::span_exporter;

    #[test]
    fn endpoints_over_http_and_https_are_taken_and_others_refused() {
        let err = span_exporter("collector:4318").unwrap_err();
        assert!(err.to_string().contains("http:// or https://"), "{err}");
        assert!(span_exporter("http://127.0.0.1:4318").is_ok());
        assert!(span_exporter("https://collector.example:4318").is_ok());
    }
}
