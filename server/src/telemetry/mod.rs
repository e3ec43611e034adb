//! Logging and tracing: a `tracing` subscriber (text or JSON), OpenTelemetry context propagation for
//! incoming `traceparent`, OTLP export of spans when a collector is configured, and `X-Request-ID` on
//! every request and response.

pub mod otlp;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The target of the spans a batch makes per page (`store_page`, `regnakes.fetch_page`): a 1 M sync
/// makes thousands. `TRACE_PAGE_SPANS=off` (or `RUST_LOG=…,regnakes_sync::page=off`) turns them down;
/// the batch span stays, and the upstream `traceparent` then names it. (`tracing::instrument` takes the
/// same string as a literal, in `regnakes::client`.)
pub const PAGE_SPANS: &str = "regnakes_sync::page";

/// The request's id: the caller's `X-Request-ID` when it is sane, or a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The tracer provider, kept so that spans still queued for export are sent before the process exits.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports what is still queued (bounded by the exporter's timeout); a no-op without a collector.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "spans could not all be exported at shutdown");
        }
    }
}

/// Installs the global subscriber once (later calls, e.g. from tests, are ignored). Spans are exported
/// over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; an endpoint the exporter cannot use is an
/// error, so a mistyped setting is seen at start rather than as missing traces. The SDK's default
/// configuration reads the sampler from `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` (default
/// `parentbased_always_on`): with `parentbased_traceidratio`, a caller's sampled `traceparent` keeps its
/// whole trace and an unsampled batch is recorded by no exporter (its ids still travel upstream).
pub fn init(default_filter: &str) -> anyhow::Result<Telemetry> {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    if std::env::var("TRACE_PAGE_SPANS").is_ok_and(|v| v.trim().eq_ignore_ascii_case("off")) {
        // A span that is not created is never entered: what a page sends upstream and logs is then
        // under the batch's span, and the trace stays whole.
        filter = filter.add_directive(format!("{PAGE_SPANS}=off").parse()?);
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let mut builder = SdkTracerProvider::builder().with_resource(resource());
    if let Some(endpoint) = otlp::configured_endpoint() {
        let exporter = otlp::span_exporter(&endpoint)
            .map_err(|err| anyhow::anyhow!("OTEL_EXPORTER_OTLP_ENDPOINT {endpoint}: {err}"))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("regnakes-sync");
    opentelemetry::global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let _ = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
    Ok(Telemetry { provider })
}

/// `service.name` is `regnakes-sync` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` say
/// otherwise (the SDK's builder reads both).
fn resource() -> opentelemetry_sdk::Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|n| !n.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    let builder = opentelemetry_sdk::Resource::builder();
    if named {
        builder.build()
    } else {
        builder.with_service_name("regnakes-sync").build()
    }
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Middleware: picks the request id, makes it visible to handlers and the root span, and echoes it.
/// It also drops the query string before the root span records `http.target`: no route reads one, and a
/// caller who puts a token there must not find it in the log.
pub async fn request_id(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.uri().query().is_some() {
        let path = req.uri().path().to_string();
        if let Ok(uri) = path.parse() {
            req.head_mut().uri = uri;
        }
    }
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| acceptable(id))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// The root span of each request carries the `X-Request-ID`, so a log line leads back to the call.
pub struct RequestIdRootSpan;

impl RootSpanBuilder for RequestIdRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        tracing_actix_web::root_span!(request, x_request_id = %id)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
