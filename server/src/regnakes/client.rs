//! The RegNakes HTTP client (awc). Not `Send`: one client lives on the thread that runs a batch.

use super::dto::{OperationOutcome, PageEnvelope, TokenResponse};
use super::page_scan;
use super::raw_record::RawRecord;
use super::retry::{classify_status, parse_retry_after, Attempt, RetryPolicy};
use crate::config::{RegnakesSettings, Secret};
use crate::http_body;
use crate::metrics::Metrics;
use chrono::{DateTime, SecondsFormat, Utc};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Renew this long before the token says it expires.
const RENEW_EARLY: Duration = Duration::from_secs(60);
/// Largest page body accepted (2 000 records of a few KB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("RegNakes unreachable after {attempts} attempts ({endpoint}): {cause}")]
    Unreachable {
        endpoint: &'static str,
        attempts: u32,
        cause: String,
    },
    #[error("RegNakes refused the token request: {0}")]
    TokenRefused(String),
    #[error("RegNakes rejected the request ({endpoint}): {cause}")]
    Rejected {
        endpoint: &'static str,
        cause: String,
    },
}

impl UpstreamError {
    /// Token problems stop a batch at once (CONTRACT, exception flow "token expired").
    pub fn is_token_failure(&self) -> bool {
        matches!(self, UpstreamError::TokenRefused(_))
            || matches!(
                self,
                UpstreamError::Unreachable {
                    endpoint: "token",
                    ..
                }
            )
    }
}

/// Filters of one run; `updated_until` is pinned to the run's start so the window is stable.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub updated_since: Option<DateTime<Utc>>,
    pub updated_until: Option<DateTime<Utc>>,
    pub rumpun: Option<String>,
    pub jenis: Option<String>,
}

#[derive(Debug)]
pub struct Page {
    pub records: Vec<RawRecord>,
    pub total_page: Option<u64>,
    pub total_data: Option<u64>,
}

struct CachedToken {
    value: Secret,
    renew_at: Instant,
}

pub struct RegnakesClient {
    http: awc::Client,
    settings: RegnakesSettings,
    policy: RetryPolicy,
    token: RefCell<Option<CachedToken>>,
    /// Set once a renewal was refused: the batch is over, and requests still in flight must not ask again.
    refused: RefCell<Option<String>>,
    /// One renewal at a time: concurrent page requests that meet an expired token share one new token.
    renewing: tokio::sync::Mutex<()>,
    /// Set once the upstream answered `HTTP/1.0` without keep-alive: it closes every connection after
    /// its answer, so no connection is kept for another request.
    closes_connections: std::cell::Cell<bool>,
    metrics: Arc<Metrics>,
}

/// Times a request is sent again at once when the connection it went out on turned out closed by the
/// upstream (a connection the pool kept): not a failure of the upstream, so not a retry.
const RESENDS_ON_CLOSED_CONNECTION: u32 = 3;

/// A page's answer read: its records kept as slices of the body (`RawRecord`), taken as it is (no
/// copy).
pub(crate) fn page_of(body: Vec<u8>, page: u64) -> Result<Page, ListFailure> {
    let not_json = |cause: String| {
        ListFailure::Attempt(Attempt::Transient {
            cause: format!("page {page}: body is not the expected JSON: {cause}"),
            retry_after: None,
        })
    };
    let text = Arc::new(String::from_utf8(body).map_err(|e| not_json(e.utf8_error().to_string()))?);
    if let Ok(scanned) = page_scan::scan(&text) {
        return Ok(Page {
            records: RawRecord::scanned(&text, scanned.records),
            total_page: scanned.total_page,
            total_data: scanned.total_data,
        });
    }
    // What the scan leaves to serde, and every error.
    let envelope: PageEnvelope =
        serde_json::from_str(&text).map_err(|e| not_json(e.to_string()))?;
    let records = RawRecord::slices_of(&text, &envelope.data)
        .ok_or_else(|| not_json("records outside the body".into()))?;
    Ok(Page {
        records,
        total_page: envelope.total_page,
        total_data: envelope.total_data,
    })
}

/// Whether a send failed because the connection was already closed by the other side (nothing was
/// answered on it), as opposed to the upstream being unreachable or failing.
fn closed_connection(err: &awc::error::SendRequestError) -> bool {
    use awc::error::{ConnectError, SendRequestError as E};
    matches!(err, E::Connect(ConnectError::Disconnected) | E::Send(_))
        || matches!(err, E::Response(actix_web::error::ParseError::Incomplete))
}

/// Whether an answer says its connection ends with it: `HTTP/1.0` without `Connection: keep-alive`.
fn closes_after(response: &awc::ClientResponse<impl Sized>) -> bool {
    response.version() == awc::http::Version::HTTP_10
        && !header(response, "connection")
            .is_some_and(|c| c.to_ascii_lowercase().contains("keep-alive"))
}

pub(crate) enum ListFailure {
    Attempt(Attempt),
    TokenInvalid,
}

impl RegnakesClient {
    pub fn new(settings: RegnakesSettings, metrics: Arc<Metrics>) -> Self {
        let http = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(crate::tls::outbound_config()))
            .timeout(settings.request_timeout)
            .disable_redirects()
            .finish();
        let policy = RetryPolicy {
            base_delay: settings.retry_base_delay,
            max_retries: settings.max_retries,
            max_delay: Duration::from_secs(300),
        };
        RegnakesClient {
            http,
            settings,
            policy,
            token: RefCell::new(None),
            refused: RefCell::new(None),
            renewing: tokio::sync::Mutex::new(()),
            closes_connections: std::cell::Cell::new(false),
            metrics,
        }
    }

    /// A valid token: the cached one, or a new one when it is within a minute of expiring.
    async fn token(&self, request_id: &str) -> Result<Secret, UpstreamError> {
        if let Some(token) = self.cached_token()? {
            return Ok(token);
        }
        let _renewal = self.renewing.lock().await;
        // Another request may have renewed (or failed to) while this one waited.
        if let Some(token) = self.cached_token()? {
            return Ok(token);
        }
        let fresh = match self
            .with_retries("token", |_| self.request_token(request_id))
            .await
        {
            Ok(fresh) => fresh,
            Err(err) => {
                if err.is_token_failure() {
                    *self.refused.borrow_mut() = Some(err.to_string());
                }
                return Err(err);
            }
        };
        let value = fresh.value.clone();
        *self.token.borrow_mut() = Some(fresh);
        Ok(value)
    }

    /// The cached token while it is not due for renewal; the refusal once renewal was refused.
    fn cached_token(&self) -> Result<Option<Secret>, UpstreamError> {
        if let Some(reason) = self.refused.borrow().as_ref() {
            return Err(UpstreamError::TokenRefused(reason.clone()));
        }
        Ok(self
            .token
            .borrow()
            .as_ref()
            .filter(|cached| Instant::now() < cached.renew_at)
            .map(|cached| cached.value.clone()))
    }

    /// Forgets the token that was rejected (not a newer one another request already obtained).
    fn forget_token(&self, rejected: &Secret) {
        let mut cached = self.token.borrow_mut();
        if cached.as_ref().is_some_and(|c| &c.value == rejected) {
            cached.take();
        }
    }

    async fn request_token(&self, request_id: &str) -> Result<CachedToken, Attempt> {
        let url = format!(
            "{}/oauth2/v1/accesstoken?grant_type=client_credentials",
            self.settings.base_url
        );
        let form = [
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose()),
        ];
        let sent = with_trace_context(
            self.http
                .post(&url)
                .insert_header(("X-Request-ID", format!("{request_id}/token"))),
        )
        .send_form(&form)
        .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                self.metrics.upstream_request("token", "error");
                return Err(Attempt::Transient {
                    cause: format!("token request failed: {e}"),
                    retry_after: None,
                });
            }
        };
        let status = response.status().as_u16();
        self.metrics.upstream_request("token", &status.to_string());
        let retry_after = header(&response, "retry-after");
        let declared = http_body::declared_length(response.headers());
        let body = http_body::read_to_end(response, declared, MAX_BODY_BYTES)
            .await
            .unwrap_or_default();
        if status == 200 {
            let parsed: TokenResponse =
                serde_json::from_slice(&body).map_err(|e| Attempt::Transient {
                    cause: format!("token response is not the expected JSON: {e}"),
                    retry_after: None,
                })?;
            let lifetime = parsed
                .expires_in
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(300));
            return Ok(CachedToken {
                value: Secret::new(parsed.access_token),
                renew_at: Instant::now() + lifetime.saturating_sub(RENEW_EARLY.min(lifetime / 2)),
            });
        }
        let cause = format!("HTTP {status}: {}", outcome_summary(&body));
        match status {
            400 | 401 | 403 => Err(Attempt::Permanent { cause }),
            _ => Err(classify_status(
                status,
                parse_retry_after(retry_after.as_deref()),
                cause,
            )),
        }
    }

    /// One page of the health-worker list, retried per the policy; a 401 `invalid-access-token` renews
    /// the token once and repeats the request.
    /// `request_no` numbers the batch's requests: `X-Request-ID` is `<request_id>/p<request_no>`.
    #[tracing::instrument(
        target = "regnakes_sync::page",
        name = "regnakes.fetch_page",
        skip_all,
        fields(page, request_no)
    )]
    pub async fn fetch_page(
        &self,
        query: &PageQuery,
        page: u64,
        request_no: u64,
        request_id: &str,
    ) -> Result<Page, UpstreamError> {
        let mut renewed = false;
        loop {
            let token = self.token(request_id).await?;
            let result = self
                .with_retries_list(|_| {
                    self.request_page(query, page, request_no, request_id, &token)
                })
                .await;
            match result {
                Ok(Ok(page)) => return Ok(page),
                Ok(Err(())) if !renewed => {
                    tracing::info!(page, "RegNakes token no longer valid; renewing");
                    self.forget_token(&token);
                    renewed = true;
                }
                Ok(Err(())) => {
                    return Err(UpstreamError::TokenRefused(
                        "a freshly issued token was rejected as invalid".into(),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn list_url(&self, query: &PageQuery, page: u64) -> String {
        let mut url = format!(
            "{}/regnakes/v1/nakes?page={page}&limit={}",
            self.settings.base_url, self.settings.page_size
        );
        let mut push = |key: &str, value: &str| {
            url.push('&');
            url.push_str(key);
            url.push('=');
            url.push_str(&percent_encode(value));
        };
        if let Some(since) = query.updated_since {
            push(
                "updated_since",
                &since.to_rfc3339_opts(SecondsFormat::Millis, true),
            );
        }
        if let Some(until) = query.updated_until {
            push(
                "updated_until",
                &until.to_rfc3339_opts(SecondsFormat::Millis, true),
            );
        }
        if let Some(rumpun) = &query.rumpun {
            push("rumpun", rumpun);
        }
        if let Some(jenis) = &query.jenis {
            push("jenis", jenis);
        }
        url
    }

    async fn request_page(
        &self,
        query: &PageQuery,
        page: u64,
        request_no: u64,
        request_id: &str,
        token: &Secret,
    ) -> Result<Page, ListFailure> {
        let url = self.list_url(query, page);
        let mut resends = 0;
        let response = loop {
            let mut request = self
                .http
                .get(&url)
                .insert_header(("Authorization", format!("Bearer {}", token.expose())))
                .insert_header(("X-Request-ID", format!("{request_id}/p{request_no}")));
            if self.closes_connections.get() {
                request = request.force_close();
            }
            match with_trace_context(request).send().await {
                Ok(response) => break response,
                Err(e) if resends < RESENDS_ON_CLOSED_CONNECTION && closed_connection(&e) => {
                    resends += 1;
                    tracing::debug!(page, error = %e, "the connection was closed by RegNakes; sent again on a new one");
                }
                Err(e) => {
                    self.metrics.upstream_request("nakes", "error");
                    return Err(ListFailure::Attempt(Attempt::Transient {
                        cause: format!("page {page}: request failed: {e}"),
                        retry_after: None,
                    }));
                }
            }
        };
        if closes_after(&response) && !self.closes_connections.replace(true) {
            tracing::info!("RegNakes answers HTTP/1.0 and closes its connections: none is kept");
        }
        let status = response.status().as_u16();
        self.metrics.upstream_request("nakes", &status.to_string());
        let retry_after = parse_retry_after(header(&response, "retry-after").as_deref());
        let declared = http_body::declared_length(response.headers());
        let body = match http_body::read_to_end(response, declared, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(e) => {
                let why = match e {
                    http_body::BodyError::TooLarge => {
                        format!("it is larger than {MAX_BODY_BYTES} bytes")
                    }
                    http_body::BodyError::Broken(e) => e.to_string(),
                };
                return Err(ListFailure::Attempt(Attempt::Transient {
                    cause: format!("page {page}: reading the body failed: {why}"),
                    retry_after: None,
                }));
            }
        };
        if status == 401 {
            let outcome: Option<OperationOutcome> = serde_json::from_slice(&body).ok();
            if outcome
                .as_ref()
                .is_none_or(|o| o.has_code("invalid-access-token"))
            {
                return Err(ListFailure::TokenInvalid);
            }
        }
        if status != 200 {
            let cause = format!("page {page}: HTTP {status}: {}", outcome_summary(&body));
            return Err(ListFailure::Attempt(classify_status(
                status,
                retry_after,
                cause,
            )));
        }
        page_of(body, page)
    }

    async fn with_retries<T, F, Fut>(
        &self,
        endpoint: &'static str,
        mut call: F,
    ) -> Result<T, UpstreamError>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let mut attempt = 1;
        loop {
            match call(attempt).await {
                Ok(value) => return Ok(value),
                Err(Attempt::Permanent { cause }) if endpoint == "token" => {
                    return Err(UpstreamError::TokenRefused(cause))
                }
                Err(Attempt::Permanent { cause }) => {
                    return Err(UpstreamError::Rejected { endpoint, cause })
                }
                Err(Attempt::Transient { cause, retry_after }) => {
                    if attempt > self.policy.max_retries {
                        return Err(UpstreamError::Unreachable {
                            endpoint,
                            attempts: attempt,
                            cause,
                        });
                    }
                    let wait = self.policy.delay(attempt, retry_after);
                    tracing::warn!(endpoint, attempt, wait_ms = wait.as_millis() as u64, %cause, "RegNakes request failed; retrying");
                    self.metrics.upstream_retries.inc();
                    actix_rt::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Like `with_retries` for list requests, passing an invalid token back out (`Ok(Err(()))`) so that
    /// the caller renews it once.
    async fn with_retries_list<F, Fut>(
        &self,
        mut call: F,
    ) -> Result<Result<Page, ()>, UpstreamError>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<Page, ListFailure>>,
    {
        let result = self
            .with_retries("nakes", |attempt| {
                let fut = call(attempt);
                async move {
                    match fut.await {
                        Ok(page) => Ok(Some(page)),
                        Err(ListFailure::TokenInvalid) => Ok(None),
                        Err(ListFailure::Attempt(a)) => Err(a),
                    }
                }
            })
            .await?;
        Ok(result.ok_or(()))
    }
}

fn header(response: &awc::ClientResponse<impl Sized>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A short, safe description of an error body: the OperationOutcome's issues, or the start of plain text.
fn outcome_summary(body: &[u8]) -> String {
    if let Ok(outcome) = serde_json::from_slice::<OperationOutcome>(body) {
        if !outcome.issue.is_empty() {
            return outcome.summary();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Adds the W3C trace context (`traceparent`) of the current span (the page request's, in the batch's
/// trace) beside `X-Request-ID`, so RegNakes' own traces can be joined to ours.
fn with_trace_context(request: awc::ClientRequest) -> awc::ClientRequest {
    use opentelemetry::propagation::Injector;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    struct Headers(Vec<(String, String)>);
    impl Injector for Headers {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_string(), value));
        }
    }
    let context = tracing::Span::current().context();
    let mut headers = Headers(Vec::new());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers)
    });
    headers
        .0
        .into_iter()
        .fold(request, |request, header| request.insert_header(header))
}
