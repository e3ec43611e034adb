//! NIKs at rest (CONTRACT §5): after a sync no NIK of the upstream data is in the database (a `pg_dump`,
//! the SQLite files), the server's log or any RPC result; search by NIK still finds the worker; a store
//! written in clear is encrypted at start-up; `rotate-key` moves every row to the new key and matching
//! still finds every worker.

use crate::doubles::{
    process_env, rpc_at, server_binary, spawn_process_logging, start_sync_at, wait_batch_at,
    wait_until_up,
};
use crate::helpers::{
    assert_balanced, fresh_database, init, spawn_app, spawn_server, Backend, Options, TestApp,
    JWT_SECRET, NIK_ENCRYPTION_KEY,
};
use crate::on_both_backends;
use regnakes_sim::server::{spawn as spawn_sim, SimConfig};
use regnakes_sim::SimHandle;
use sea_orm::ConnectionTrait;
use serde_json::json;

/// Every well-formed NIK the simulated registry publishes, with the STR number it comes with.
fn upstream_niks(sim: &SimHandle) -> Vec<(String, String)> {
    let data = sim.state.data();
    let all = regnakes_sim::dataset::WindowKey {
        since_ms: None,
        until_ms: None,
        rumpun: None,
        jenis: None,
    };
    data.window(&all)
        .iter()
        .map(|&pos| data.render(pos))
        .filter_map(|r| {
            let nik = r["nik"].as_str()?.to_string();
            let str_number = r["str"]["nomor"].as_str().unwrap_or_default().to_string();
            (nik.len() == 16 && nik.bytes().all(|b| b.is_ascii_digit()))
                .then_some((nik, str_number))
        })
        .collect()
}

/// The upstream NIKs found in `haystack` (any 16 consecutive digits of it, wherever they stand).
fn leaked<'a>(haystack: &str, niks: &'a [(String, String)]) -> Vec<&'a str> {
    let bytes = haystack.as_bytes();
    let windows: std::collections::HashSet<&[u8]> = bytes.windows(16).collect();
    niks.iter()
        .map(|(nik, _)| nik.as_str())
        .filter(|nik| windows.contains(nik.as_bytes()))
        .collect()
}

/// Every RPC answer a person could read after a sync, as one text.
async fn rpc_answers(app: &TestApp, batch_id: &str, query: &str) -> String {
    let mut text = String::new();
    for (method, params) in [
        ("batch.get", json!({"batch_id": batch_id})),
        ("batch.errors", json!({"batch_id": batch_id, "limit": 200})),
        (
            "batch.warnings",
            json!({"batch_id": batch_id, "limit": 200}),
        ),
        ("worker.search", json!({"limit": 200})),
        ("worker.search", json!({"query": query})),
        ("sync.status", json!({})),
    ] {
        text.push_str(&app.ok(method, params).await.to_string());
    }
    text
}

const OPTIONS: fn() -> Options = || Options {
    records: 600,
    bad_share: 0.1,
    ..Options::default()
};

#[actix_web::test]
async fn no_nik_in_a_pg_dump_the_log_or_an_rpc_answer() {
    init();
    let sim = spawn_sim(SimConfig {
        records: 600,
        bad_share: 0.1,
        ..SimConfig::default()
    })
    .unwrap();
    let niks = upstream_niks(&sim);
    assert!(niks.len() > 400, "{}", niks.len());
    let database_url = fresh_database(Backend::Postgres).await;
    let log_path = std::env::temp_dir().join(format!("rs-nik-log-{}.log", uuid::Uuid::new_v4()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut env = process_env(&sim.base_url(), &database_url, &[("LOG_FORMAT", "json")]);
    env.push(("RUST_LOG".into(), "debug".into()));
    let process = spawn_process_logging(&env, log);
    let token = crate::helpers::token_for("ops", regnakes_sync::rpc::auth::Role::Admin);
    wait_until_up(&process.address, &token).await;
    let id = start_sync_at(&process.address, &token, json!({"mode": "full"})).await;
    let batch = wait_batch_at(&process.address, &token, &id, |b| b["status"] != "running").await;
    assert_balanced(&batch);
    assert!(batch["inserted"].as_i64().unwrap() > 400);
    let mut answers = String::new();
    for (method, params) in [
        ("batch.errors", json!({"batch_id": id, "limit": 200})),
        ("batch.warnings", json!({"batch_id": id, "limit": 200})),
        ("worker.search", json!({"limit": 200})),
    ] {
        answers.push_str(
            &rpc_at(&process.address, &token, method, params)
                .await
                .unwrap()
                .to_string(),
        );
    }
    // Search by NIK goes through the blind index and answers the masked form only.
    let (nik, str_number) = &niks[7];
    let found = rpc_at(
        &process.address,
        &token,
        "worker.search",
        json!({"query": nik}),
    )
    .await
    .unwrap();
    if found["total"] == 1 {
        assert_eq!(
            found["workers"][0]["str_number"].as_str(),
            Some(str_number.as_str())
        );
    }
    answers.push_str(&found.to_string());
    drop(process);

    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", &database_url])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    assert!(dump.contains("enc:t1:"), "NIKs are stored encrypted");
    assert_eq!(leaked(&dump, &niks), Vec::<&str>::new(), "pg_dump");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("sync batch finished"), "the log was captured");
    assert_eq!(leaked(&log, &niks), Vec::<&str>::new(), "server log");
    assert_eq!(leaked(&answers, &niks), Vec::<&str>::new(), "RPC answers");
    let _ = std::fs::remove_file(log_path);
}

#[actix_web::test]
async fn no_nik_in_the_sqlite_files_or_an_rpc_answer() {
    let app = spawn_app(Backend::Sqlite, OPTIONS()).await;
    let niks = upstream_niks(&app.sim);
    let batch = app.sync(json!({"mode": "full"})).await;
    assert_balanced(&batch);
    let (nik, str_number) = &niks[3];
    let found = app.ok("worker.search", json!({"query": nik})).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(
        found["workers"][0]["str_number"].as_str(),
        Some(str_number.as_str())
    );
    let answers = rpc_answers(&app, batch["id"].as_str().unwrap(), nik).await;
    assert_eq!(leaked(&answers, &niks), Vec::<&str>::new(), "RPC answers");
    let path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        bytes.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("enc:t1:"), "NIKs are stored encrypted");
    assert_eq!(leaked(&text, &niks), Vec::<&str>::new(), "SQLite files");
}

/// `regnakes-sync rotate-key` on `database_url` with the given current and previous keys.
fn rotate_key(database_url: &str, current: &str, previous: Option<&str>) -> std::process::Output {
    let mut command = std::process::Command::new(server_binary());
    command
        .arg("rotate-key")
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("RPC_JWT_SECRET", JWT_SECRET)
        .env("NIK_INDEX_KEY", crate::helpers::NIK_INDEX_KEY)
        .env("NIK_ENCRYPTION_KEY", current)
        .env("RUST_LOG", "warn");
    if let Some(previous) = previous {
        command.env("NIK_ENCRYPTION_PREVIOUS_KEYS", previous);
    }
    command.output().expect("rotate-key runs")
}

const NEW_KEY: &str = "t2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

async fn count(app: &TestApp, condition: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM health_worker WHERE {condition}"
    ))
    .await
}

async fn rotate_key_moves_every_row_and_matching_still_finds_every_worker(backend: Backend) {
    let app = spawn_app(backend, OPTIONS()).await;
    let first = app.sync(json!({"mode": "full"})).await;
    let stored = first["inserted"].as_i64().unwrap();
    assert_eq!(count(&app, "nik LIKE 'enc:t1:%'").await, stored);
    // A review case keeps its record sealed under the same key: it moves too.
    app.sim.state.advance(&regnakes_sim::dataset::AdvanceSpec {
        nik_conflicts: 1,
        stamp_lag_ms: 50,
        ..Default::default()
    });
    app.sync(json!({"mode": "full"})).await;
    let sealed = "SELECT COUNT(*) FROM review_case WHERE incoming_sealed LIKE";
    let cases = app.scalar("SELECT COUNT(*) FROM review_case").await;
    assert!(cases >= 1);
    assert_eq!(app.scalar(&format!("{sealed} 'enc:t1:%'")).await, cases);
    let rows = stored + cases;

    // The operator's command, with the new key and the old one to read.
    let output = rotate_key(&app.database_url, NEW_KEY, Some(NIK_ENCRYPTION_KEY));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains(&format!("{rows} re-encrypted")), "{said}");
    assert_eq!(count(&app, "nik LIKE 'enc:t2:%'").await, stored);
    assert_eq!(app.scalar(&format!("{sealed} 'enc:t2:%'")).await, cases);

    // A server on the new key: a full re-sync finds every worker (nothing inserted, nothing changed).
    let options = OPTIONS().env("NIK_ENCRYPTION_KEY", NEW_KEY);
    let rotated = spawn_server(app.sim.clone(), app.database_url.clone(), &options).await;
    let again = rotated.sync(json!({"mode": "full"})).await;
    assert_balanced(&again);
    assert_eq!(
        (again["inserted"].as_i64(), again["updated"].as_i64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(count(&rotated, "nik LIKE 'enc:t2:%'").await, stored);
    let listed = rotated.ok("review.list", json!({})).await;
    for case in listed["cases"].as_array().unwrap() {
        assert!(
            case["incoming"]["nik_masked"].is_string(),
            "the sealed record reads: {case}"
        );
    }

    // Without the old key the command refuses to pretend: rows under an unknown key are reported.
    let output = rotate_key(&app.database_url, NIK_ENCRYPTION_KEY, None);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("{rows} unreadable")));
}
on_both_backends!(
    rotate_key_moves_every_row_and_matching_still_finds_every_worker,
    rotate_key_moves_every_row_and_matching_still_finds_every_worker
);

async fn a_store_written_in_clear_is_encrypted_at_start_up(backend: Backend) {
    let app = spawn_app(backend, OPTIONS()).await;
    let first = app.sync(json!({"mode": "full"})).await;
    let stored = first["inserted"].as_i64().unwrap();
    // As the previous release left it: NIKs in clear.
    for (nik, str_number) in upstream_niks(&app.sim) {
        app.db
            .execute_unprepared(&format!(
                "UPDATE health_worker SET nik = '{nik}' WHERE str_number = '{str_number}'"
            ))
            .await
            .unwrap();
    }
    assert_eq!(count(&app, "nik NOT LIKE 'enc:%'").await, stored);
    let restarted = spawn_server(app.sim.clone(), app.database_url.clone(), &OPTIONS()).await;
    restarted
        .eventually("every NIK encrypted", || async {
            count(&restarted, "nik LIKE 'enc:t1:%'").await == stored
        })
        .await;
    let (nik, _) = &upstream_niks(&app.sim)[5];
    let found = restarted.ok("worker.search", json!({"query": nik})).await;
    assert_eq!(found["total"], 1, "{found}");
    let again = restarted.sync(json!({"mode": "full"})).await;
    assert_eq!(again["inserted"], json!(0), "{again}");
}
on_both_backends!(
    a_store_written_in_clear_is_encrypted_at_start_up,
    a_store_written_in_clear_is_encrypted_at_start_up
);

/// Secrets in Vault (use case: "secrets in Vault"): the RegNakes credentials and both NIK keys come from
/// a KV v2 secret; a wrong token stops the start with an error that names Vault, not the token.
#[actix_web::test]
async fn credentials_and_nik_keys_come_from_vault() {
    use regnakes_sync::config::{Layers, Settings};
    init();
    let sim = spawn_sim(SimConfig {
        records: 200,
        bad_share: 0.0,
        ..SimConfig::default()
    })
    .unwrap();
    let vault = crate::doubles::VaultKv::start(
        "s.vault-test-token",
        "secret/regnakes",
        json!({
            "client_id": sim.state.config.client_id,
            "client_secret": sim.state.config.client_secret,
            "nik_encryption_key": NIK_ENCRYPTION_KEY,
            "nik_index_key": "index-key-from-vault-index-key-from-vault",
        }),
    );
    let database_url = fresh_database(Backend::Sqlite).await;
    let base_url = sim.base_url();
    let layers = |token: &'static str| {
        Layers::from_pairs(&[
            ("DATABASE_URL", database_url.as_str()),
            ("LISTEN_ADDR", "127.0.0.1:0"),
            ("REGNAKES_BASE_URL", base_url.as_str()),
            ("RPC_JWT_SECRET", JWT_SECRET),
            ("SYNC_SCHEDULE", "off"),
            ("SYNC_FULL_SCHEDULE", "off"),
            ("VAULT_ADDR", vault.addr.as_str()),
            ("VAULT_TOKEN", token),
            ("VAULT_SECRET_PATH", "secret/regnakes"),
        ])
    };
    let refused = layers("s.wrong-token");
    let mut settings = Settings::load(&refused).unwrap();
    let err = settings
        .resolve_vault(&refused)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("403") && !err.contains("s.wrong-token"),
        "{err}"
    );

    let good = layers("s.vault-test-token");
    let mut settings = Settings::load(&good).unwrap();
    assert!(settings.nik_secrets().is_err(), "no NIK keys before Vault");
    settings.resolve_vault(&good).await.unwrap();
    let (_, keys) = settings.nik_secrets().unwrap();
    assert_eq!(keys.current.id, "t1");
    let app = regnakes_sync::startup::Application::build(settings)
        .await
        .unwrap();
    let service = app.service();
    actix_rt::spawn(app.run_until_stopped());
    let started = service
        .start(regnakes_sync::service::StartRequest::default())
        .await
        .unwrap();
    let finished = started.finished.unwrap().await.unwrap().unwrap();
    assert_eq!(finished.status, "succeeded", "{finished:?}");
    assert_eq!(
        finished.inserted, 200,
        "the credentials from Vault reached RegNakes"
    );
}
