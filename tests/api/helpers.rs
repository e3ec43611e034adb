//! `spawn_app`: the real server on port 0, the RegNakes simulator on port 0, and a fresh database
//! (a SQLite file, or a new PostgreSQL database) for every test.

use regnakes_sim::server::{spawn, SimConfig, SimHandle};
use regnakes_sync::config::{Layers, Secret, Settings};
use regnakes_sync::rpc::auth::{issue_token, Role};
use regnakes_sync::service::SyncService;
use regnakes_sync::startup::Application;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub use regnakes_sync::testing::{fresh_database, Backend};

/// The suite's NIK keys (a deployment's come from its environment, files or Vault).
pub const NIK_INDEX_KEY: &str = "test-nik-index-key-test-nik-index-key";
pub const NIK_ENCRYPTION_KEY: &str = "t1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A 10-minute RPC token for `sub` with `role`, signed with the suite's secret.
pub fn token_for(sub: &str, role: Role) -> String {
    issue_token(&Secret::new(JWT_SECRET), sub, role, 600)
}

/// The NIK columns as the suite's servers write them (to read a stored NIK back in a test).
pub fn test_indexer() -> regnakes_sync::NikIndexer {
    regnakes_sync::NikIndexer::new(
        Secret::new(NIK_INDEX_KEY),
        &regnakes_sync::config::NikKeys {
            current: regnakes_sync::config::NikKey::parse(NIK_ENCRYPTION_KEY)
                .expect("the suite's key parses"),
            previous: Vec::new(),
        },
    )
}

pub struct Options {
    pub records: u32,
    pub bad_share: f64,
    pub seed: u64,
    pub page_size: u32,
    pub env: Vec<(String, String)>,
    /// Records the simulator generates in a row with one `updated_at`.
    pub tie_group: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            records: 1200,
            bad_share: 0.0,
            seed: 11,
            page_size: 250,
            env: Vec::new(),
            tie_group: regnakes_sim::dataset::TIE_GROUP,
        }
    }
}

impl Options {
    /// Defaults with `records` generated health workers.
    pub fn records(records: u32) -> Self {
        Options {
            records,
            ..Options::default()
        }
    }

    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    pub fn tie_group(mut self, tie_group: u64) -> Self {
        self.tie_group = tie_group;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

pub struct TestApp {
    pub address: String,
    pub sim: SimHandle,
    pub db: DatabaseConnection,
    pub token: String,
    pub service: SyncService,
    pub database_url: String,
    pub page_size: u32,
    http: awc::Client,
}

pub const JWT_SECRET: &str = "test-jwt-secret-test-jwt-secret-0001";
/// Signs the Odoo notification (`ODOO_NOTIFY_SECRET`; one key per purpose).
pub const NOTIFY_SECRET: &str = "test-notify-secret-test-notify-secret";

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = regnakes_sync::telemetry::init(
        &std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()),
    );
}

pub async fn spawn_app(backend: Backend, options: Options) -> TestApp {
    init();
    let sim = spawn(SimConfig {
        records: options.records,
        seed: options.seed,
        bad_share: options.bad_share,
        tie_group: options.tie_group,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let database_url = fresh_database(backend).await;
    spawn_server(sim, database_url, &options).await
}

/// A server on an existing simulator and database (a second instance, or a restart).
pub async fn spawn_server(sim: SimHandle, database_url: String, options: &Options) -> TestApp {
    let page_size = options.page_size.to_string();
    let mut pairs = crate::doubles::process_env(
        &sim.base_url(),
        &database_url,
        &[
            ("LISTEN_ADDR", "127.0.0.1:0"),
            ("REGNAKES_PAGE_SIZE", &page_size),
        ],
    );
    for (k, v) in &options.env {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k.clone(), v.clone()));
    }
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let settings = Settings::load(&Layers::from_pairs(&refs)).expect("test settings are valid");
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let address = format!("{}://127.0.0.1:{}", app.scheme(), app.port());
    let service = app.service();
    actix_rt::spawn(app.run_until_stopped());
    let db = regnakes_sync::startup::connect(&database_url)
        .await
        .expect("test connects");
    let secret = Secret::new(JWT_SECRET);
    TestApp {
        address,
        sim,
        db,
        token: issue_token(&secret, "admin.sdmk", Role::Admin, 3600),
        service,
        database_url,
        page_size: options.page_size,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish(),
    }
}

pub struct RawResponse {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn post_raw(&self, body: &str, headers: &[(&str, &str)]) -> RawResponse {
        let mut request = self
            .http
            .post(format!("{}/jsonrpc", self.address))
            .insert_header(("Content-Type", "application/json"));
        for (k, v) in headers {
            request = request.insert_header((*k, *v));
        }
        let mut response = request
            .send_body(body.to_string())
            .await
            .expect("server answers");
        let bytes = response.body().await.expect("body");
        RawResponse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("JSON body")
            },
        }
    }

    /// The page requests the simulator received (`GET /regnakes/v1/nakes`).
    pub fn page_requests(&self) -> Vec<regnakes_sim::server::LoggedRequest> {
        self.sim
            .state
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == "nakes")
            .collect()
    }

    /// A call as `sub` with `role` (its own token); returns the HTTP status and the whole body.
    pub async fn call_as(&self, sub: &str, role: Role, method: &str, params: Value) -> RawResponse {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let auth = format!("Bearer {}", token_for(sub, role));
        self.post_raw(&body, &[("Authorization", &auth)]).await
    }

    /// A call with the test admin's token; returns the whole response body.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let auth = format!("Bearer {}", self.token);
        self.post_raw(&body, &[("Authorization", &auth)]).await.body
    }

    /// A call expected to succeed; returns `result`.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let body = self.call(method, params.clone()).await;
        assert!(
            body.get("error").is_none(),
            "{method} {params} failed: {body}"
        );
        body["result"].clone()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("server answers");
        let bytes = response.body().limit(16 * 1024 * 1024).await.expect("body");
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Starts a sync and waits for its end; returns the finished `Batch`.
    pub async fn sync(&self, params: Value) -> Value {
        let started = self.ok("sync.start", params).await;
        assert_eq!(started["already_running"], json!(false), "{started}");
        self.wait_batch(started["batch"]["id"].as_str().expect("batch id"))
            .await
    }

    /// Polls `batch.get` until the batch is no longer running (deadline 120 s).
    pub async fn wait_batch(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let batch = self.ok("batch.get", json!({"batch_id": id})).await["batch"].clone();
            if batch["status"] != "running" {
                return batch;
            }
            assert!(
                Instant::now() < deadline,
                "batch {id} still running after 120 s: {batch}"
            );
            actix_rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls until `check` holds (deadline 30 s).
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            actix_rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// All rejections of a batch, paging through `batch.errors`.
    pub async fn errors(&self, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let page = self
                .ok(
                    "batch.errors",
                    json!({"batch_id": id, "limit": 200, "offset": all.len()}),
                )
                .await;
            let errors = page["errors"].as_array().expect("errors").clone();
            let total = page["total"].as_u64().expect("total") as usize;
            all.extend(errors);
            if all.len() >= total {
                return all;
            }
        }
    }

    /// The text columns of every row a query returns.
    pub async fn rows(&self, sql: &str, columns: usize) -> Vec<Vec<Option<String>>> {
        self.db
            .query_all_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .expect("query runs")
            .iter()
            .map(|row| {
                (0..columns)
                    .map(|i| row.try_get_by_index::<Option<String>>(i).expect("text"))
                    .collect()
            })
            .collect()
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .expect("query runs")
            .expect("one row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }

    pub async fn worker_count(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM health_worker").await
    }
}

/// Asserts the batch's counts balance: received = inserted + updated + unchanged + rejected.
pub fn assert_balanced(batch: &Value) {
    let n = |k: &str| {
        batch[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{k} in {batch}"))
    };
    assert_eq!(
        n("received"),
        n("inserted") + n("updated") + n("unchanged") + n("rejected"),
        "counts do not balance: {batch}"
    );
}

/// Runs a test body on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[actix_web::test]
            async fn sqlite() {
                $body($crate::helpers::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                $body($crate::helpers::Backend::Postgres).await
            }
        }
    };
}
