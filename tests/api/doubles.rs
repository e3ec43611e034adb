//! Stand-ins for third parties we cannot run here, speaking their documented wire format, and a way to
//! run the real server as a separate process (to kill it).

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serves the routes `configure` adds on a loopback port of its own (one worker, in this test's runtime);
/// returns the port.
fn serve_on_loopback<F>(configure: F) -> u16
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    serve_on_loopback_with(configure, None)
}

/// `serve_on_loopback`, over HTTPS when given a TLS configuration.
fn serve_on_loopback_with<F>(configure: F, tls: Option<rustls::ServerConfig>) -> u16
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals();
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config),
        None => server.listen(listener),
    }
    .expect("listen")
    .run();
    actix_rt::spawn(server);
    port
}

/// A Slack incoming webhook: `POST` JSON (`text`, optional `blocks`), answers `200 ok` as `text/plain`.
/// `fail_first` deliveries are answered 500 to exercise the sender's retries.
pub struct SlackWebhook {
    pub url: String,
    messages: Arc<Mutex<Vec<Value>>>,
}

impl SlackWebhook {
    pub fn start(fail_first: usize) -> SlackWebhook {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(Mutex::new(0usize));
        let state = (messages.clone(), attempts);
        let port = serve_on_loopback(move |app| {
            let (messages, attempts) = state.clone();
            app.route(
                "/services/T000/B000/XXXX",
                web::post().to(move |body: web::Json<Value>| {
                    let messages = messages.clone();
                    let attempts = attempts.clone();
                    async move {
                        let attempt = {
                            let mut a = attempts.lock().unwrap();
                            *a += 1;
                            *a
                        };
                        if attempt <= fail_first {
                            return HttpResponse::InternalServerError()
                                .content_type("text/plain")
                                .body("server_error");
                        }
                        if body.get("text").and_then(Value::as_str).is_none() {
                            return HttpResponse::BadRequest()
                                .content_type("text/plain")
                                .body("no_text");
                        }
                        messages.lock().unwrap().push(body.into_inner());
                        HttpResponse::Ok().content_type("text/plain").body("ok")
                    }
                }),
            );
        });
        SlackWebhook {
            url: format!("http://127.0.0.1:{port}/services/T000/B000/XXXX"),
            messages,
        }
    }

    pub fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// HashiCorp Vault's KV v2 read: `GET /v1/<mount>/data/<path>` with `X-Vault-Token`, answering
/// `{"data": {"data": {...}, "metadata": {...}}}`, or 403 `{"errors": ["permission denied"]}`.
pub struct VaultKv {
    pub addr: String,
}

impl VaultKv {
    pub fn start(token: &'static str, mount_path: &'static str, data: Value) -> VaultKv {
        let port = serve_on_loopback(move |app| {
            let data = data.clone();
            app.route(
                &format!("/v1/{}", mount_path.replacen('/', "/data/", 1)),
                web::get().to(move |req: actix_web::HttpRequest| {
                    let data = data.clone();
                    async move {
                        let given = req
                            .headers()
                            .get("X-Vault-Token")
                            .and_then(|v| v.to_str().ok());
                        if given != Some(token) {
                            return HttpResponse::Forbidden()
                                .json(json!({"errors": ["permission denied"]}));
                        }
                        HttpResponse::Ok().json(json!({
                            "data": {"data": data, "metadata": {"version": 3, "destroyed": false}}
                        }))
                    }
                }),
            );
        });
        VaultKv {
            addr: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// One POST as the receiver got it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub request_id: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

/// An OpenTelemetry collector's OTLP/HTTP traces endpoint: `POST /v1/traces` with an
/// `application/x-protobuf` `ExportTraceServiceRequest`, plain or `Content-Encoding: gzip`, answered
/// `200` with an (empty) `ExportTraceServiceResponse`. It keeps the spans it decoded and the encoding
/// each request came in.
pub struct OtlpCollector {
    pub endpoint: String,
    spans: Arc<Mutex<Vec<ExportedSpan>>>,
    encodings: Arc<Mutex<Vec<String>>>,
}

/// One exported span, ids as lowercase hex.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
}

impl OtlpCollector {
    pub fn start() -> OtlpCollector {
        Self::start_with(None)
    }

    /// Over HTTPS with `tls` (a managed collector's endpoint), named `localhost` in its endpoint.
    pub fn start_with(tls: Option<rustls::ServerConfig>) -> OtlpCollector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let encodings = Arc::new(Mutex::new(Vec::new()));
        let shared = (spans.clone(), encodings.clone());
        let https = tls.is_some();
        let port = serve_on_loopback_with(
            move |app| {
                let (spans, encodings) = shared.clone();
                app.route(
                    "/v1/traces",
                    web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                        let (spans, encodings) = (spans.clone(), encodings.clone());
                        async move { receive_traces(&req, &body, &spans, &encodings) }
                    }),
                );
            },
            tls,
        );
        OtlpCollector {
            endpoint: if https {
                format!("https://localhost:{port}")
            } else {
                format!("http://127.0.0.1:{port}")
            },
            spans,
            encodings,
        }
    }

    pub fn spans(&self) -> Vec<ExportedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Each request's `Content-Encoding` (`identity` when it had none).
    pub fn encodings(&self) -> Vec<String> {
        self.encodings.lock().unwrap().clone()
    }
}

fn receive_traces(
    req: &actix_web::HttpRequest,
    body: &[u8],
    spans: &Mutex<Vec<ExportedSpan>>,
    encodings: &Mutex<Vec<String>>,
) -> HttpResponse {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    use std::io::Read;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let encoding = header("content-encoding").unwrap_or_else(|| "identity".into());
    let decoded = match encoding.as_str() {
        "identity" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .is_err()
            {
                return HttpResponse::BadRequest().finish();
            }
            out
        }
        _ => return HttpResponse::UnsupportedMediaType().finish(),
    };
    let Ok(request) = ExportTraceServiceRequest::decode(decoded.as_slice()) else {
        return HttpResponse::BadRequest().finish();
    };
    if header("content-type").as_deref() != Some("application/x-protobuf") {
        return HttpResponse::UnsupportedMediaType().finish();
    }
    encodings.lock().unwrap().push(encoding);
    spans.lock().unwrap().extend(exported_spans(request));
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .finish()
}

fn exported_spans(
    request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> Vec<ExportedSpan> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                AnyValue::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                out.push(ExportedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex::encode(span.trace_id),
                    span_id: hex::encode(span.span_id),
                    parent_span_id: hex::encode(span.parent_span_id),
                });
            }
        }
    }
    out
}

/// The Odoo addon's notification endpoint (`/sdmk_regnakes/notify`): records every POST; the first
/// `fail_first` are answered 503, as an Odoo being restarted would.
pub struct OdooReceiver {
    pub url: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl OdooReceiver {
    pub fn start(fail_first: usize) -> OdooReceiver {
        Self::start_with(fail_first, None)
    }

    /// Over HTTPS with `tls` (an Odoo behind a TLS proxy), named `localhost` in its URL.
    pub fn start_with(fail_first: usize, tls: Option<rustls::ServerConfig>) -> OdooReceiver {
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let shared = deliveries.clone();
        let https = tls.is_some();
        let port = serve_on_loopback_with(
            move |app| {
                let deliveries = shared.clone();
                app.route(
                    "/sdmk_regnakes/notify",
                    web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                        let deliveries = deliveries.clone();
                        async move {
                            let header = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string)
                            };
                            let mut all = deliveries.lock().unwrap();
                            all.push(Delivery {
                                request_id: header("X-Request-ID"),
                                signature: header("X-RegNakes-Signature"),
                                body: body.to_vec(),
                            });
                            if all.len() <= fail_first {
                                HttpResponse::ServiceUnavailable().finish()
                            } else {
                                HttpResponse::Ok().json(serde_json::json!({"ok": true}))
                            }
                        }
                    }),
                );
            },
            tls,
        );
        let base = if https {
            format!("https://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        OdooReceiver {
            url: format!("{base}/sdmk_regnakes/notify"),
            deliveries,
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }
}

/// Checks `X-RegNakes-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256("<t>.<body>")>` as CONTRACT §3 tells a
/// receiver to: the MAC over the exact bytes, and `t` within 5 minutes of now.
pub fn signature_is_valid(header: &str, body: &[u8], secret: &str) -> bool {
    use hmac::{Hmac, Mac};
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

/// The `regnakes-sync` binary next to this test binary (scripts/test.sh builds it).
pub fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("regnakes-sync");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p regnakes-sync` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

pub struct ServerProcess {
    pub child: Child,
    pub address: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `regnakes-sync serve` in its own process on port 0, reading the real address it prints.
pub fn spawn_process(env: &[(String, String)]) -> ServerProcess {
    spawn_process_logging(env, Stdio::null())
}

/// `spawn_process`, with the server's log (stderr) going to `log`.
pub fn spawn_process_logging(env: &[(String, String)], log: impl Into<Stdio>) -> ServerProcess {
    use std::io::BufRead;
    let mut command = Command::new(server_binary());
    command
        .arg("serve")
        .env_clear()
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("server process starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("server prints its address");
    // Plain, or under LOG_FORMAT=json a JSON line naming the URL.
    let address = match serde_json::from_str::<Value>(line.trim()) {
        Ok(json) => json["fields"]["listening_on"].as_str().map(str::to_string),
        Err(_) => line
            .trim()
            .strip_prefix("regnakes-sync listening on ")
            .map(str::to_string),
    }
    .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"));
    ServerProcess { child, address }
}

/// The one environment of every test server, in this process (`helpers::spawn_server`) or as a process
/// of its own (`spawn_process`): on the simulator at `app_sim` and `database_url`, plus `extra` (which
/// wins over the rest).
pub fn process_env(
    app_sim: &str,
    database_url: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("DATABASE_URL", database_url),
        ("REGNAKES_BASE_URL", app_sim),
        ("REGNAKES_CLIENT_ID", "sdmk-etl"),
        ("REGNAKES_CLIENT_SECRET", "sim-secret"),
        ("RPC_JWT_SECRET", crate::helpers::JWT_SECRET),
        ("ODOO_NOTIFY_SECRET", crate::helpers::NOTIFY_SECRET),
        ("SYNC_SCHEDULE", "off"),
        ("SYNC_FULL_SCHEDULE", "off"),
        ("NIK_INDEX_KEY", crate::helpers::NIK_INDEX_KEY),
        ("NIK_ENCRYPTION_KEY", crate::helpers::NIK_ENCRYPTION_KEY),
        ("RETRY_BASE_DELAY_MS", "20"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

/// A loopback port nothing listens on now (for a process that must be told its port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// One call to a server process; `None` when it does not answer (yet).
pub async fn rpc_at(address: &str, token: &str, method: &str, params: Value) -> Option<Value> {
    rpc_at_with(address, token, method, params, None).await
}

/// `rpc_at`, carrying a W3C `traceparent` when given (a caller's trace).
async fn rpc_at_with(
    address: &str,
    token: &str,
    method: &str,
    params: Value,
    traceparent: Option<&str>,
) -> Option<Value> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut request = client
        .post(format!("{address}/jsonrpc"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(traceparent) = traceparent {
        request = request.insert_header(("traceparent", traceparent));
    }
    let mut response = request
        .send_json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    Some(body["result"].clone())
}

/// Polls a server process until it answers (deadline 30 s).
pub async fn wait_until_up(address: &str, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while rpc_at(address, token, "sync.status", json!({}))
        .await
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "server process at {address} did not come up"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP proxy to a real service (PostgreSQL), to take that service away from a running server: `stop`
/// closes the port and every connection through it, so the server's connections break and new ones are
/// refused, as when a database goes down.
pub struct TcpProxy {
    pub port: u16,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(target: String) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let spawned = tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                spawned.lock().unwrap().push(task);
            }
        });
        TcpProxy {
            port,
            tasks,
            acceptor,
        }
    }

    pub fn stop(&self) {
        self.acceptor.abort();
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Starts a sync on a server process; returns the batch id.
pub async fn start_sync_at(address: &str, token: &str, params: Value) -> String {
    start_traced_sync_at(address, token, params, None).await
}

/// `start_sync_at` from a caller whose trace is `traceparent`.
pub async fn start_traced_sync_at(
    address: &str,
    token: &str,
    params: Value,
    traceparent: Option<&str>,
) -> String {
    let started = rpc_at_with(address, token, "sync.start", params, traceparent)
        .await
        .expect("sync.start answers");
    started["batch"]["id"]
        .as_str()
        .expect("a batch id")
        .to_string()
}

/// Polls `batch.get` on a server process until `done` holds for the batch (deadline 60 s).
pub async fn wait_batch_at(
    address: &str,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(answer) = rpc_at(address, token, "batch.get", json!({"batch_id": id})).await {
            if done(&answer["batch"]) {
                return answer["batch"].clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "batch {id} not there within 60 s"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}
