//! The `regnakes-sync` command line: `serve`, `migrate`, `sync` (one run in the foreground), `healthcheck`,
//! `rotate-key`
//! (stored NIKs onto the current encryption key) and `demo` (the server and the RegNakes simulator in one
//! process, on an embedded database).

use crate::config::{Layers, Secret, Settings};
use crate::domain::batch::{BatchStatus, Mode, Trigger};
use crate::domain::ProfessionCode;
use crate::metrics::Metrics;
use crate::rpc::auth::{Role, TokenSigner};
use crate::service::StartRequest;
use crate::startup::{self, Application};
use clap::{Parser, Subcommand};
use entity::batch;
use sea_orm::EntityTrait;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "regnakes-sync",
    version,
    about = "Keeps the SDMK database in step with RegNakes"
)]
pub struct Cli {
    /// A config file of KEY=VALUE lines (the environment wins over it).
    #[arg(long, global = true, env = "REGNAKES_SYNC_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server: JSON-RPC, scheduler and sync worker.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Run one sync in the foreground and print a summary (exit 0 for succeeded/partial).
    Sync {
        #[arg(long, value_parser = ["incremental", "full"], default_value = "incremental")]
        mode: String,
        /// Only these profession codes (repeatable).
        #[arg(long = "profession")]
        professions: Vec<String>,
        /// Start of the window (RFC 3339) instead of the watermark.
        #[arg(long)]
        since: Option<String>,
        /// Read and decide, write no worker: the summary says what a real run would do now.
        #[arg(long)]
        dry_run: bool,
    },
    /// Exit 0 when the local server's /readyz answers ready (a container healthcheck on an image with no
    /// shell tools); the address comes from LISTEN_ADDR.
    Healthcheck,
    /// Re-encrypt every stored NIK with NIK_ENCRYPTION_KEY (old keys in NIK_ENCRYPTION_PREVIOUS_KEYS), in
    /// pages, while syncs keep working; safe to stop and run again.
    RotateKey,
    /// Run the server with the built-in RegNakes simulator on an embedded database.
    Demo {
        /// Generated health workers in the simulator.
        #[arg(long, default_value_t = 20_000)]
        records: u32,
        #[arg(long, default_value_t = 0.05)]
        bad_share: f64,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Keep the demo database between runs (default: start fresh).
        #[arg(long)]
        keep_data: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let layers = Layers::from_process(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            let mut settings = Settings::load(&layers)?;
            settings.resolve_vault(&layers).await?;
            let host = settings
                .listen_addr
                .rsplit_once(':')
                .map_or("127.0.0.1", |(h, _)| h)
                .to_string();
            let app = Application::build(settings).await?;
            // The real address (LISTEN_ADDR may say port 0), for operators and supervisors: the first line
            // on stdout, in the log format the operator chose.
            println!(
                "{}",
                listening_line(&format!("{}://{host}:{}", app.scheme(), app.port()))
            );
            tracing::info!(port = app.port(), "regnakes-sync serving");
            app.run_until_stopped().await?;
            Ok(0)
        }
        Command::Migrate => {
            let settings = Settings::load(&layers)?;
            let db = startup::connect(&settings.database_url).await?;
            startup::migrate(&db).await?;
            eprintln!("migrations applied");
            Ok(0)
        }
        Command::Sync {
            mode,
            professions,
            since,
            dry_run,
        } => {
            let mut settings = Settings::load(&layers)?;
            settings.resolve_vault(&layers).await?;
            sync_foreground(settings, mode, professions, since, dry_run).await
        }
        Command::Healthcheck => healthcheck(&layers).await,
        Command::RotateKey => {
            let mut settings = Settings::load(&layers)?;
            settings.resolve_vault(&layers).await?;
            rotate_key(settings).await
        }
        Command::Demo {
            records,
            bad_share,
            seed,
            keep_data,
        } => demo(records, bad_share, seed, keep_data).await,
    }
}

/// `regnakes-sync listening on <url>`, or with `LOG_FORMAT=json` a JSON line whose `listening_on` is the URL.
fn listening_line(url: &str) -> String {
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let message = format!("regnakes-sync listening on {url}");
    if json {
        serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "level": "INFO",
            "fields": {"message": message, "listening_on": url},
            "target": "regnakes_sync::cli",
        })
        .to_string()
    } else {
        message
    }
}

async fn healthcheck(layers: &Layers) -> anyhow::Result<i32> {
    let listen_addr = layers.listen_addr();
    let (host, port) = listen_addr
        .rsplit_once(':')
        .unwrap_or((&listen_addr, "8080"));
    // A server listening on every interface is asked on loopback.
    let host = match host {
        "" | "0.0.0.0" | "[::]" => "127.0.0.1",
        host => host,
    };
    let tls = layers.tls()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{port}/readyz");
    let mut connector = awc::Connector::new().timeout(Duration::from_secs(3));
    if let Some(files) = &tls {
        let config =
            crate::tls::healthcheck_client_config(files, layers.healthcheck_client_pair())?;
        connector = connector.rustls_0_23(Arc::new(config));
    }
    let client = awc::Client::builder()
        .connector(connector)
        .timeout(Duration::from_secs(3))
        .finish();
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            println!("ready");
            Ok(0)
        }
        Ok(response) => {
            eprintln!("not ready: {url} answered HTTP {}", response.status());
            Ok(1)
        }
        Err(err) => {
            eprintln!("not ready: {url}: {err}");
            Ok(1)
        }
    }
}

async fn rotate_key(settings: Settings) -> anyhow::Result<i32> {
    let db = startup::connect(&settings.database_url).await?;
    startup::migrate(&db).await?;
    let service = startup::service(db, Arc::new(settings), Arc::new(Metrics::new()))?;
    let done = service.reencrypt_niks().await?;
    println!(
        "NIKs: {} scanned, {} re-encrypted, {} unreadable",
        done.scanned, done.rewritten, done.unreadable
    );
    if done.unreadable > 0 {
        eprintln!(
            "{} stored NIKs are under a key that is not configured: add it to \
             NIK_ENCRYPTION_PREVIOUS_KEYS and run rotate-key again",
            done.unreadable
        );
        return Ok(1);
    }
    Ok(0)
}

/// The demo's NIK keys: made once and kept in `data/demo-nik-keys`, so a kept database stays readable
/// and its workers matchable across runs.
fn demo_nik_keys() -> anyhow::Result<(Secret, Secret)> {
    let path = std::path::Path::new("data/demo-nik-keys");
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Some((index, encryption)) = text.trim().split_once('\n') {
            return Ok((Secret::new(index.trim()), Secret::new(encryption.trim())));
        }
    }
    let index = format!("demo-{}", uuid::Uuid::new_v4().simple());
    let encryption = crate::config::NikKey::generate("demo").to_spec();
    std::fs::create_dir_all("data")?;
    std::fs::write(path, format!("{index}\n{}\n", encryption.expose()))?;
    Ok((Secret::new(index), encryption))
}

async fn sync_foreground(
    settings: Settings,
    mode: String,
    professions: Vec<String>,
    since: Option<String>,
    dry_run: bool,
) -> anyhow::Result<i32> {
    let updated_since = since
        .map(|s| chrono::DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&chrono::Utc)))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let db = startup::connect(&settings.database_url).await?;
    startup::migrate(&db).await?;
    let service = startup::service(db.clone(), Arc::new(settings), Arc::new(Metrics::new()))?;
    service.recover().await?;
    let request = StartRequest {
        mode: if mode == "full" {
            Mode::Full
        } else {
            Mode::Incremental
        },
        professions: ProfessionCode::parse_list(&professions)
            .map_err(|err| anyhow::anyhow!("--profession: {err}"))?,
        updated_since,
        trigger: Trigger::Manual,
        actor: Some(format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )),
        trace_id: None,
        retry: None,
        dry_run,
    };
    let started = service.start(request).await?;
    if started.already_running {
        eprintln!(
            "a sync is already running: batch {} (started {})",
            started.batch.id, started.batch.started_at
        );
        return Ok(2);
    }
    let batch_id = started.batch.id;
    let mut finished = started
        .finished
        .expect("a batch this call started reports its end");
    let progress = std::io::stderr().is_terminal();
    let result = loop {
        tokio::select! {
            result = &mut finished => break result,
            _ = actix_rt::time::sleep(Duration::from_millis(500)), if progress => {
                if let Ok(Some(b)) = batch::Entity::find_by_id(batch_id).one(&db).await {
                    draw_progress(&b);
                }
            }
        }
    };
    if progress {
        eprintln!();
    }
    let batch = match result {
        Ok(Ok(batch)) => batch,
        Ok(Err(err)) => anyhow::bail!("the batch could not be finished: {err}"),
        Err(_) => anyhow::bail!("the sync worker stopped unexpectedly"),
    };
    print_summary(&batch);
    let status = BatchStatus::parse(&batch.status);
    Ok(if status.is_some_and(BatchStatus::counts_as_success) {
        0
    } else {
        1
    })
}

fn draw_progress(b: &batch::Model) {
    let width = 30usize;
    let (bar, of) = match b.total_pages {
        Some(total) if total > 0 => {
            let done = ((b.pages as f64 / total as f64) * width as f64).round() as usize;
            (
                format!(
                    "[{}{}]",
                    "#".repeat(done.min(width)),
                    " ".repeat(width - done.min(width))
                ),
                format!("{}/{total} pages", b.pages),
            )
        }
        _ => (String::new(), format!("{} pages", b.pages)),
    };
    eprint!(
        "\r{bar} {of} · {} received · {} inserted · {} updated · {} unchanged · {} rejected   ",
        b.received, b.inserted, b.updated, b.unchanged, b.rejected
    );
    let _ = std::io::stderr().flush();
}

fn print_summary(b: &batch::Model) {
    let rows = [
        ("batch", b.id.to_string()),
        ("trace id", b.trace_id.clone()),
        ("status", b.status.clone()),
        (
            "mode",
            format!("{}{}", b.mode, if b.dry_run { " (dry run)" } else { "" }),
        ),
        ("pages", b.pages.to_string()),
        ("received", b.received.to_string()),
        ("inserted", b.inserted.to_string()),
        ("updated", b.updated.to_string()),
        ("unchanged", b.unchanged.to_string()),
        (
            "rejected",
            format!("{} ({:.2}%)", b.rejected, b.failure_rate * 100.0),
        ),
        ("warnings", b.warnings.to_string()),
        ("missing", b.missing.to_string()),
        (
            "duration",
            format!("{:.1} s", b.duration_ms.unwrap_or(0) as f64 / 1000.0),
        ),
        ("error", b.error.clone().unwrap_or_else(|| "-".into())),
    ];
    println!("┌────────────┬──────────────────────────────────────────────┐");
    for (k, v) in rows {
        println!("│ {k:<10} │ {v:<44} │");
    }
    println!("└────────────┴──────────────────────────────────────────────┘");
}

/// The demo's settings: the embedded database, the simulator, its own keys; the operator's environment
/// still wins (LISTEN_ADDR, SYNC_SCHEDULE, …).
fn demo_settings(
    sim: &regnakes_sim::server::SimHandle,
    db_path: &str,
    signer: &TokenSigner,
) -> anyhow::Result<Vec<(String, String)>> {
    let (nik_index_key, nik_encryption_key) = demo_nik_keys()?;
    let mut layers: Vec<(String, String)> = vec![
        (
            "DATABASE_URL".into(),
            format!("sqlite://{db_path}?mode=rwc"),
        ),
        ("REGNAKES_BASE_URL".into(), sim.base_url()),
        (
            "REGNAKES_CLIENT_ID".into(),
            sim.state.config.client_id.clone(),
        ),
        (
            "REGNAKES_CLIENT_SECRET".into(),
            sim.state.config.client_secret.clone(),
        ),
        match signer {
            TokenSigner::Hs256(secret) => ("RPC_JWT_SECRET".into(), secret.expose().to_string()),
            TokenSigner::Ed25519(_) => (
                "RPC_JWT_PUBLIC_KEY".into(),
                signer.public_key().unwrap_or_default(),
            ),
        },
        ("NIK_INDEX_KEY".into(), nik_index_key.expose().to_string()),
        (
            "NIK_ENCRYPTION_KEY".into(),
            nik_encryption_key.expose().to_string(),
        ),
        ("SYNC_SCHEDULE".into(), "*/10 * * * *".into()),
        ("RETRY_BASE_DELAY_MS".into(), "200".into()),
    ];
    for (key, value) in std::env::vars() {
        if let Some(slot) = layers.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            layers.push((key, value));
        }
    }
    Ok(layers)
}

async fn demo(records: u32, bad_share: f64, seed: u64, keep_data: bool) -> anyhow::Result<i32> {
    let sim = regnakes_sim::server::spawn(regnakes_sim::SimConfig {
        records,
        seed,
        bad_share: bad_share.clamp(0.0, 1.0),
        ..Default::default()
    })?;
    let db_path = "data/demo.db";
    if !keep_data {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{db_path}{suffix}"));
        }
    }
    // Odoo's way: the demo holds an Ed25519 private key and the server only its public key (an
    // operator's RPC_JWT_SECRET, if set, is used instead).
    let signer = match std::env::var("RPC_JWT_SECRET") {
        Ok(secret) => TokenSigner::Hs256(Secret::new(secret)),
        Err(_) => TokenSigner::generate_ed25519(),
    };
    let layers = demo_settings(&sim, db_path, &signer)?;
    let pairs: Vec<(&str, &str)> = layers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let settings = Settings::load(&Layers::from_pairs(&pairs))?;
    let app = Application::build(settings).await?;
    let port = app.port();
    let token = signer.issue("demo-admin", Role::Admin, 24 * 3600);
    let service = app.service();
    let first = service
        .start(StartRequest {
            mode: Mode::Full,
            actor: Some("demo".into()),
            ..StartRequest::default()
        })
        .await?;
    println!(
        "\nRegNakes Sync demo\n\
         ──────────────────\n\
         server      http://127.0.0.1:{port}   (JSON-RPC at /jsonrpc, /metrics, /healthz, /readyz)\n\
         simulator   {sim}   ({records} generated health workers, {pct:.0}% bad records)\n\
         database    {db_path} (SQLite)\n\
         first sync  batch {batch} started (full)\n\n\
         RPC token (valid 24 h, sub=demo-admin):\n{token}\n\n\
         Try:\n\
         curl -s http://127.0.0.1:{port}/jsonrpc -H 'Content-Type: application/json' \\\n  -H \"Authorization: Bearer {token}\" \\\n  -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sync.status\",\"params\":{{}}}}'\n\n\
         Make upstream changes, then sync incrementally:\n\
         curl -s -X POST {sim}/_sim/advance -H 'Content-Type: application/json' -d '{{\"changed\":50,\"renewed\":5,\"revoked\":3,\"new_workers\":20}}'\n\
         curl -s http://127.0.0.1:{port}/jsonrpc -H 'Content-Type: application/json' \\\n  -H \"Authorization: Bearer {token}\" \\\n  -d '{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sync.start\",\"params\":{{\"mode\":\"incremental\"}}}}'\n\n\
         A live registry (records change while a sync reads them; every record is still read once):\n\
         curl -s -X PUT {sim}/_sim/faults -H 'Content-Type: application/json' -d '{{\"edit_every_requests\":3,\"edit\":{{\"changed\":5,\"new_workers\":2}}}}'\n\n\
         Ctrl-C stops the demo.",
        sim = sim.base_url(),
        pct = bad_share * 100.0,
        batch = first.batch.id,
    );
    app.run_until_stopped().await?;
    Ok(0)
}
