//! OTLP/HTTP (protobuf) export of spans, switched on by the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the exporter reads the other standard `OTEL_*` variables
//! (headers, timeout, `OTEL_BSP_*` batching) itself.
//!
//! The transport is a small blocking HTTP/1.1 client over `std::net`: the SDK's batch processor exports
//! from its own thread, outside any async runtime, and the clients `opentelemetry-http` offers would add a
//! second HTTP stack (reqwest or hyper) to a server that already has one. Collectors run beside the
//! server (an agent or sidecar on loopback or the private network), so the client speaks plain `http://`;
//! an `https://` endpoint is refused at start with a clear error rather than sent in clear.

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The environment variables that switch the exporter on.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The collector's endpoint, when one is configured (the first variable set and not empty).
pub fn configured_endpoint() -> Option<String> {
    ENDPOINT_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|value| value.trim().to_string())
        .find(|value| !value.is_empty())
}

/// A span exporter for the configured endpoint.
pub fn span_exporter(
    endpoint: &str,
) -> Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    if !endpoint.starts_with("http://") {
        return Err(opentelemetry_otlp::ExporterBuildError::InvalidUri(
            endpoint.to_string(),
            "the OTLP exporter sends plain http:// to a collector beside the server".to_string(),
        ));
    }
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(BlockingHttp {
            timeout: Duration::from_secs(10),
        })
        .build()
}

/// Largest response read from a collector (it answers with a short status message).
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

#[derive(Debug)]
struct BlockingHttp {
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpClient for BlockingHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        post(&request, self.timeout)
    }
}

/// One request on its own connection (`Connection: close`): exports are a few per second at most.
fn post(request: &Request<Bytes>, timeout: Duration) -> Result<Response<Bytes>, HttpError> {
    let uri = request.uri();
    if uri.scheme_str() != Some("http") {
        return Err(format!("unsupported OTLP endpoint scheme in {uri}").into());
    }
    let host = uri.host().ok_or("OTLP endpoint without a host")?;
    let port = uri.port_u16().unwrap_or(80);
    let address = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        request.method(),
        request.body().len()
    );
    for (name, value) in request.headers() {
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(request.body())?;
    read_response(BufReader::new(stream.take(MAX_RESPONSE_BYTES)))
}

fn read_response(mut reader: impl BufRead) -> Result<Response<Bytes>, HttpError> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {:?}", line.trim_end()))?;
    let mut response = Response::builder().status(status);
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            let value = value.trim();
            chunked |= name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked");
            response = response.header(name, value);
        }
    }
    let mut body = Vec::new();
    if chunked {
        read_chunks(&mut reader, &mut body)?;
    } else {
        // The connection is closed after the response, so its end is the body's end.
        reader.read_to_end(&mut body)?;
    }
    Ok(response.body(Bytes::from(body))?)
}

fn read_chunks(reader: &mut impl BufRead, body: &mut Vec<u8>) -> Result<(), HttpError> {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_text = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text.trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        if size == 0 {
            return Ok(());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::{read_response, span_exporter};

    #[test]
    fn an_endpoint_the_client_cannot_reach_in_clear_is_refused() {
        let err = span_exporter("https://collector:4318").unwrap_err();
        assert!(err.to_string().contains("plain http://"), "{err}");
        assert!(span_exporter("http://127.0.0.1:4318").is_ok());
    }

    #[test]
    fn reads_plain_and_chunked_responses() {
        let plain = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\r\nabc";
        let response = read_response(plain.as_bytes()).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(&response.body()[..], b"abc");

        let chunked =
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nRetry-After: 3\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = read_response(chunked.as_bytes()).unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "3");
        assert_eq!(&response.body()[..], b"abcde");

        assert!(read_response("garbage\r\n\r\n".as_bytes()).is_err());
        assert!(read_response(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".as_bytes()
        )
        .is_err());
    }
}
