//! `Application::build` connects the database, applies migrations, binds the listener (port 0 works:
//! `port()` tells the real one), and wires the RPC surface, probes and metrics; `run_until_stopped` runs
//! the HTTP server and the scheduler side by side.

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::rpc::budget::AnswerBudget;
use crate::rpc::limits::{self, Limits};
use crate::rpc::{self, auth::JwtVerifier, RpcState};
use crate::rules::identity::NikIndexer;
use crate::service::scheduler;
use crate::service::SyncService;
use crate::telemetry::{self, RequestIdRootSpan};
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tracing_actix_web::TracingLogger;

pub struct Application {
    port: u16,
    https: bool,
    server: Server,
    service: SyncService,
    limits: Arc<Limits>,
}

/// How long a pooled PostgreSQL connection may have been idle and still be handed out without a ping.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Connects with pool settings that suit each backend: SQLite takes one writer at a time, so the pool is
/// a single connection (no "database is locked" between the sync and RPC writes).
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_path(url) {
        if let Some(dir) = std::path::Path::new(&path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut options = ConnectOptions::new(url.to_string());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.max_connections(1).min_connections(1);
    } else {
        // sqlx pings a pooled connection (a round trip) before handing it out and again when it comes
        // back. A sync acquires connections a few times per page, each a few milliseconds after its last
        // use, so the first ping was a fifth of a page's round trips (and of PostgreSQL's wakeups) in an
        // unchanged re-sync. Now only a connection idle for longer than `PING_IF_IDLE_FOR` is tested
        // before use, and replaced if it died meanwhile (a restarted PostgreSQL). One that died within
        // that second fails its first statement, as any statement in flight at the restart does. The
        // ping on return stays.
        options
            .max_connections(10)
            .min_connections(1)
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        db.execute_unprepared("PRAGMA synchronous=NORMAL").await?;
        db.execute_unprepared("PRAGMA busy_timeout=10000").await?;
        // The STR and NIK indexes take inserts in random order: a page cache larger than the 2 MB default
        // keeps their upper levels in memory at national scale (48 MB; the server stays within 150 MB).
        db.execute_unprepared("PRAGMA cache_size=-49152").await?;
        db.execute_unprepared("PRAGMA temp_store=MEMORY").await?;
        // A page of 1 000 workers dirties about as many index pages (the NIK index takes keys in random
        // order), so the default checkpoint every 1 000 WAL frames (4 MB) ran after nearly every page and
        // wrote the same index pages back again and again: every 16 384 frames (64 MB) cut a 200 k load's
        // time by a fifth. The WAL file is truncated back to that size after a checkpoint.
        db.execute_unprepared("PRAGMA wal_autocheckpoint=16384")
            .await?;
        db.execute_unprepared("PRAGMA journal_size_limit=67108864")
            .await?;
    }
    Ok(db)
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// A service with its own runner thread (for `serve`, `sync` and tests).
/// The service over `db`; fails without the NIK keys (nothing may store a worker without them).
pub fn service(
    db: DatabaseConnection,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<SyncService> {
    let (index_key, keys) = settings.nik_secrets()?;
    let indexer = NikIndexer::new(index_key, &keys);
    let runner = actix_rt::Arbiter::new().handle();
    Ok(SyncService::new(db, settings, metrics, indexer, runner))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.trust_outbound_cas()?;
        let db = connect(&settings.database_url).await?;
        migrate(&db).await?;
        let settings = Arc::new(settings);
        let metrics = Arc::new(Metrics::new());
        metrics.failure_threshold.set(settings.failure_threshold);
        let service = service(db.clone(), settings.clone(), metrics.clone())?;
        service.recover().await?;

        let listener = TcpListener::bind(&settings.listen_addr)?;
        let port = listener.local_addr()?.port();
        let limits = Arc::new(Limits::new(settings.rpc_limits));
        let rpc_state = web::Data::new(RpcState {
            service: service.clone(),
            verifier: JwtVerifier::new(&settings.rpc_token_keys, settings.rpc_max_token_lifetime),
            limits: limits.clone(),
            written_status: Default::default(),
            budget: AnswerBudget::new(rpc::budget::DEFAULT_BUDGET_BYTES),
        });
        let db_data = web::Data::new(db);
        let metrics_data = web::Data::from(metrics);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::<RequestIdRootSpan>::new())
                .wrap(middleware::from_fn(telemetry::request_id))
                .app_data(rpc_state.clone())
                .app_data(db_data.clone())
                .app_data(metrics_data.clone())
                .service(
                    web::resource("/jsonrpc")
                        .route(web::post().to(rpc::endpoint))
                        .default_service(web::to(rpc::method_not_allowed)),
                )
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/metrics", web::get().to(metrics_endpoint))
        })
        .workers(2);
        let server = match &settings.tls {
            Some(files) => server.listen_rustls_0_23(listener, files.server_config()?)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Application {
            port,
            https: settings.tls.is_some(),
            server,
            service,
            limits,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https` when the listener serves TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    pub fn service(&self) -> SyncService {
        self.service.clone()
    }

    /// Runs the server and, when configured, the scheduler; returns when the server stops.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let schedulers: Vec<_> = self
            .service
            .schedules()
            .iter()
            .cloned()
            .map(|scheduled| {
                let service = self.service.clone();
                actix_rt::spawn(scheduler::run_until_stopped(service, scheduled))
            })
            .collect();
        let sweeper = actix_rt::spawn(sweep_until_stopped(self.service.clone()));
        let pruner = actix_rt::spawn(limits::prune_until_stopped(self.limits.clone()));
        let retention = actix_rt::spawn(purge_until_stopped(self.service.clone()));
        // A store written before encryption, or under an older key, moves to the current key beside
        // the syncs.
        let service = self.service.clone();
        let reencrypt = actix_rt::spawn(async move {
            if let Err(err) = service.reencrypt_niks().await {
                tracing::error!(error = ?anyhow::Error::from(err), "moving stored NIKs to the current key failed; `regnakes-sync rotate-key` retries");
            }
            // An earlier release's unkeyed hashes are keyed over.
            if let Err(err) = service.rekey_hashes().await {
                tracing::error!(error = ?anyhow::Error::from(err), "re-keying stored hashes failed; the next start retries");
            }
        });
        let result = self.server.await;
        for handle in schedulers {
            handle.abort();
        }
        sweeper.abort();
        pruner.abort();
        retention.abort();
        reencrypt.abort();
        result.map_err(Into::into)
    }
}

/// Retention: the expired batches go once an hour (the first time a minute after start).
async fn purge_until_stopped(service: SyncService) {
    let mut wait = Duration::from_secs(60);
    loop {
        actix_rt::time::sleep(wait).await;
        wait = Duration::from_secs(3600);
        if let Err(err) = service
            .purge_expired(chrono::Utc::now(), crate::store::retention::CHUNK)
            .await
        {
            tracing::warn!(error = ?anyhow::Error::from(err), "purging expired batches failed; retried in an hour");
        }
    }
}

/// No batch stays `running` after its instance died: once its lease expires, it is marked failed.
async fn sweep_until_stopped(service: SyncService) {
    let period = (service.lease_ttl() / 2).max(Duration::from_millis(200));
    loop {
        actix_rt::time::sleep(period).await;
        if let Err(err) = service.sweep_interrupted().await {
            tracing::warn!(error = ?anyhow::Error::from(err), "sweeping interrupted batches failed");
        }
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// How long readiness waits for the database: probes give up after a few seconds, and the pool would
/// otherwise wait its whole acquire timeout on a database that refuses connections.
const READY_WITHIN: Duration = Duration::from_millis(1500);

async fn readyz(db: web::Data<DatabaseConnection>) -> HttpResponse {
    let check = Migrator::get_pending_migrations(db.get_ref());
    match tokio::time::timeout(READY_WITHIN, check).await {
        Ok(Ok(pending)) if pending.is_empty() => {
            HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))
        }
        Ok(Ok(pending)) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "migrations pending", "pending": pending.len()})),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "database unreachable"}))
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not answer in time");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "database did not answer in time"}))
        }
    }
}

async fn metrics_endpoint(metrics: web::Data<Metrics>, rpc: web::Data<RpcState>) -> HttpResponse {
    // The shared state comes from the database (through the status cache), bounded like readiness: a
    // scrape must answer even when the database does not.
    match tokio::time::timeout(READY_WITHIN, rpc.service.status()).await {
        Ok(Ok(status)) => metrics.set_shared_state(&status),
        Ok(Err(err)) => {
            tracing::warn!(error = ?anyhow::Error::from(err), "metrics: shared state unreadable")
        }
        Err(_) => tracing::warn!("metrics: the database did not answer in time"),
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.encode())
}
