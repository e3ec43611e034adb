//! The simulator's HTTP face: §1.1 token, §1.2 list, and `/_sim/*` control endpoints.

use crate::dataset::{AdvanceReport, AdvanceSpec, Dataset, WindowKey};
use crate::faults::{Fault, FaultPlan};
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub records: u32,
    pub seed: u64,
    pub bad_share: f64,
    pub client_id: String,
    pub client_secret: String,
    pub listen_addr: String,
    /// Records generated in a row with one `updated_at` (default `dataset::TIE_GROUP`).
    pub tie_group: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            records: 5000,
            seed: 2026,
            bad_share: 0.05,
            client_id: "sdmk-etl".into(),
            client_secret: "sim-secret".into(),
            listen_addr: "127.0.0.1:0".into(),
            tie_group: crate::dataset::TIE_GROUP,
        }
    }
}

/// One list request as the simulator saw it.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub endpoint: &'static str,
    pub page: u64,
    pub status: u16,
    pub request_id: Option<String>,
    /// The W3C `traceparent` the client sent, if any.
    pub traceparent: Option<String>,
    pub query: String,
    /// When the request arrived, in milliseconds since the simulator started.
    pub at_ms: u64,
}

pub struct SimState {
    pub config: SimConfig,
    data: RwLock<Dataset>,
    faults: Mutex<FaultPlan>,
    tokens: Mutex<HashMap<String, (Instant, u32)>>,
    log: Mutex<Vec<LoggedRequest>>,
    window_cache: Mutex<Option<(WindowKey, Arc<Vec<u32>>)>>,
    token_counter: Mutex<u64>,
    /// List requests answered (for `FaultPlan::edit_every_requests`).
    list_counter: std::sync::atomic::AtomicU64,
    started: Instant,
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let data = Dataset::generate_with_ties(
            config.records,
            config.seed,
            config.bad_share,
            config.tie_group,
        );
        SimState {
            config,
            data: RwLock::new(data),
            faults: Mutex::new(FaultPlan::default()),
            tokens: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            window_cache: Mutex::new(None),
            token_counter: Mutex::new(0),
            list_counter: std::sync::atomic::AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    pub fn data(&self) -> std::sync::RwLockReadGuard<'_, Dataset> {
        self.data.read().expect("dataset lock")
    }

    pub fn advance(&self, spec: &AdvanceSpec) -> AdvanceReport {
        let report = self
            .data
            .write()
            .expect("dataset lock")
            .advance(spec, Utc::now());
        *self.window_cache.lock().expect("cache lock") = None;
        report
    }

    /// Every record's licences carry `tanggal_terbit` from now on (a new field in the registry's shape).
    pub fn set_sip_issue_dates(&self, on: bool) {
        self.data.write().expect("dataset lock").sip_issue_dates = on;
        *self.window_cache.lock().expect("cache lock") = None;
    }

    pub fn set_faults(&self, plan: FaultPlan) {
        *self.faults.lock().expect("fault lock") = plan;
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        self.faults.lock().expect("fault lock")
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.lock().expect("log lock").clone()
    }

    pub fn clear_requests(&self) {
        self.log.lock().expect("log lock").clear();
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(&self, entry: LoggedRequest) {
        self.log.lock().expect("log lock").push(entry);
    }

    fn window(&self, key: WindowKey) -> Arc<Vec<u32>> {
        let mut cache = self.window_cache.lock().expect("cache lock");
        if let Some((cached, rows)) = cache.as_ref() {
            if *cached == key && key.until_ms.is_some() {
                return rows.clone();
            }
        }
        let rows = Arc::new(self.data().window(&key));
        *cache = Some((key, rows.clone()));
        rows
    }
}

/// A running simulator.
#[derive(Clone)]
pub struct SimHandle {
    pub port: u16,
    pub state: Arc<SimState>,
    pub server: ServerHandle,
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Starts the simulator on the current actix system (two workers), returning once it listens.
pub fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(&config.listen_addr)?;
    let port = listener.local_addr()?.port();
    let state = Arc::new(SimState::new(config));
    let data = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/oauth2/v1/accesstoken", web::post().to(token))
            .route("/regnakes/v1/nakes", web::get().to(list))
            .route("/_sim/advance", web::post().to(advance))
            .route("/_sim/faults", web::put().to(set_faults))
            .route("/_sim/requests", web::get().to(requests))
            .route("/_sim/expected", web::get().to(expected))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(SimHandle {
        port,
        state,
        server: handle,
    })
}

fn outcome(status: u16, code: &str, text: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST))
        .json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "details": {"text": text}}]}))
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    req: HttpRequest,
    state: web::Data<SimState>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let at_ms = state.now_ms();
    let request_id = header(&req, "x-request-id");
    let granted = *state.token_counter.lock().expect("counter lock");
    let (refuse, lifetime) = {
        let f = state.faults();
        let exhausted = f.token_grants.is_some_and(|g| granted >= u64::from(g));
        (
            f.refuse_token || exhausted,
            f.token_lifetime_secs.unwrap_or(3599),
        )
    };
    let good = form.client_id.as_deref() == Some(state.config.client_id.as_str())
        && form.client_secret.as_deref() == Some(state.config.client_secret.as_str());
    let status = if refuse || !good { 401 } else { 200 };
    state.record(LoggedRequest {
        endpoint: "token",
        page: 0,
        status,
        request_id,
        traceparent: header(&req, "traceparent"),
        query: String::new(),
        at_ms,
    });
    if status == 401 {
        return outcome(401, "login", "invalid client credentials");
    }
    let value = {
        let mut counter = state.token_counter.lock().expect("counter lock");
        *counter += 1;
        format!("sim-token-{}-{}", *counter, state.config.seed)
    };
    state.tokens.lock().expect("token lock").insert(
        value.clone(),
        (Instant::now() + Duration::from_secs(lifetime), 0),
    );
    HttpResponse::Ok().json(json!({
        "access_token": value,
        "token_type": "BearerToken",
        "expires_in": lifetime.to_string(),
        "issued_at": Utc::now().timestamp_millis().to_string(),
        "status": "approved",
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    page: Option<String>,
    limit: Option<String>,
    updated_since: Option<String>,
    updated_until: Option<String>,
    rumpun: Option<String>,
    jenis: Option<String>,
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A query timestamp in epoch milliseconds; the error is the message of a 400.
fn parse_ts(text: Option<&str>, name: &str) -> Result<Option<i64>, String> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.timestamp_millis())
            .map_err(|_| format!("{name} is not an RFC 3339 timestamp"))
    })
    .transpose()
}

/// The answer's body up to the end of its records (`]}` is the caller's), written directly: records are
/// serialised into one buffer, without an intermediate JSON tree.
fn page_body(state: &SimState, key: WindowKey, page: u64, limit: u64) -> Vec<u8> {
    let paged = state.data().page(&key, page, limit);
    let (total, rows) = paged.unwrap_or_else(|| {
        let window = state.window(key);
        let total = window.len() as u64;
        let start = ((page - 1) * limit).min(total) as usize;
        let end = (start + limit as usize).min(window.len());
        (total, window[start..end].to_vec())
    });
    // Written directly: records are serialised into one buffer, without an intermediate JSON tree.
    let mut body = Vec::with_capacity(rows.len() * 700 + 256);
    let (omit_totals, claimed) = {
        let f = state.faults();
        (f.omit_totals, f.claim_total_pages)
    };
    let totals = match claimed {
        _ if omit_totals => String::new(),
        Some(pages) => format!("\"total_page\":{pages},\"total_data\":{},", pages * limit),
        None => format!(
            "\"total_page\":{},\"total_data\":{total},",
            total.div_ceil(limit)
        ),
    };
    body.extend_from_slice(
        format!("{{\"status_code\":200,\"message\":\"Success\",\"page\":{page},\"limit\":{limit},{totals}\"data\":[")
            .as_bytes(),
    );
    state.data().render_items(&rows, &mut body);
    body
}

/// A live registry (`FaultPlan::edit_every_requests`): records change between a client's requests.
fn edit_if_asked(state: &SimState) {
    let (every, edit) = {
        let f = state.faults();
        (f.edit_every_requests, f.edit.clone())
    };
    if every == 0 {
        return;
    }
    let n = state
        .list_counter
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        + 1;
    if n.is_multiple_of(u64::from(every)) {
        state.advance(&edit);
    }
}

/// Marks the response `Connection: close` when the fault plan asks for it; actix then closes the
/// connection once the response is written.
fn closing_if_asked(mut response: HttpResponse, state: &SimState) -> HttpResponse {
    if state.faults().close_connections {
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    response
}

async fn list(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let at_ms = state.now_ms();
    let request_id = header(&req, "x-request-id");
    let query_string = req.query_string().to_string();
    let response = closing_if_asked(list_response(&req, &state).await, &state);
    let page = client_page(&req);
    state.record(LoggedRequest {
        endpoint: "nakes",
        page,
        status: response.status().as_u16(),
        request_id,
        traceparent: header(&req, "traceparent"),
        query: query_string,
        at_ms,
    });
    response
}

/// Which of the client's pages a list request is: the `n` of an `X-Request-ID` ending `/p<n>` (a client
/// reading by key asks from an `updated_since` with `page=1` again and again, and numbers its requests
/// so), else the `page` parameter. Faults for "page n" and the request log use it.
pub fn client_page(req: &HttpRequest) -> u64 {
    header(req, "x-request-id")
        .and_then(|id| id.rsplit_once("/p").and_then(|(_, n)| n.parse().ok()))
        .or_else(|| {
            web::Query::<ListQuery>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.page.as_deref().and_then(|p| p.parse().ok()))
        })
        .unwrap_or(1)
}

/// Whether the request's bearer token is one the simulator issued, unexpired and not used up (it
/// counts the use).
fn token_accepted(req: &HttpRequest, state: &SimState) -> bool {
    let bearer =
        header(req, "authorization").and_then(|h| h.strip_prefix("Bearer ").map(str::to_string));
    let max_uses = state.faults().token_max_uses;
    bearer.is_some_and(|t| {
        let mut tokens = state.tokens.lock().expect("token lock");
        match tokens.get_mut(&t) {
            Some((expires, uses))
                if Instant::now() < *expires && max_uses.is_none_or(|m| *uses < m) =>
            {
                *uses += 1;
                true
            }
            _ => false,
        }
    })
}

/// The page and page size asked for, or what is wrong with them.
fn page_and_limit(query: &ListQuery) -> Result<(u64, u64), &'static str> {
    let page: u64 = match query.page.as_deref().map(str::parse).transpose() {
        Ok(p) if p.unwrap_or(1) >= 1 => p.unwrap_or(1),
        _ => return Err("page must be a whole number from 1"),
    };
    let limit: u64 = match query.limit.as_deref().map(str::parse).transpose() {
        Ok(l) if (1..=2000).contains(&l.unwrap_or(100)) => l.unwrap_or(100),
        _ => return Err("limit must be between 1 and 2000"),
    };
    Ok((page, limit))
}

async fn list_response(req: &HttpRequest, state: &SimState) -> HttpResponse {
    let latency = state.faults().latency_ms;
    if latency > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(latency)).await;
    }
    if !token_accepted(req, state) {
        return outcome(
            401,
            "invalid-access-token",
            "access token expired or unknown",
        );
    }
    let query = match web::Query::<ListQuery>::from_query(req.query_string()) {
        Ok(q) => q.into_inner(),
        Err(e) => return outcome(400, "value", &format!("bad query: {e}")),
    };
    let (page, limit) = match page_and_limit(&query) {
        Ok(paging) => paging,
        Err(problem) => return outcome(400, "value", problem),
    };
    if let Some(fault) = state.faults().take(client_page(req)) {
        return match fault {
            Fault::Status { status } => HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
            )
            .content_type("text/plain")
            .body("upstream temporarily unavailable"),
            Fault::RateLimited { retry_after_secs } => HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after_secs.to_string()))
                .json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "throttled"}]})),
            Fault::Garbage => HttpResponse::Ok().content_type("application/json").body("<html>502 Bad Gateway</html>{\"data\":[ ..."),
        };
    }
    let (since_ms, until_ms) = match (
        parse_ts(query.updated_since.as_deref(), "updated_since"),
        parse_ts(query.updated_until.as_deref(), "updated_until"),
    ) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(message), _) | (_, Err(message)) => return outcome(400, "value", &message),
    };
    edit_if_asked(state);
    let key = WindowKey {
        since_ms,
        until_ms,
        rumpun: query.rumpun,
        jenis: query.jenis,
    };
    let mut body = page_body(state, key, page, limit);
    body.extend_from_slice(b"]}");
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

async fn advance(state: web::Data<SimState>, spec: web::Json<AdvanceSpec>) -> HttpResponse {
    HttpResponse::Ok().json(state.advance(&spec))
}

async fn set_faults(state: web::Data<SimState>, plan: web::Json<FaultPlan>) -> HttpResponse {
    state.set_faults(plan.into_inner());
    HttpResponse::NoContent().finish()
}

async fn requests(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.requests())
}

#[derive(Deserialize)]
struct ExpectedQuery {
    page_size: Option<usize>,
}

async fn expected(state: web::Data<SimState>, q: web::Query<ExpectedQuery>) -> HttpResponse {
    HttpResponse::Ok().json(
        state
            .data()
            .expected_full_sync(q.page_size.unwrap_or(1000).max(1)),
    )
}
