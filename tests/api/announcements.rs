//! Odoo is told of every batch from its start (issue 19, CONTRACT §3): a batch started anywhere is
//! announced `regnakes.batch_started` and `regnakes.batch_finished`; a batch killed with its server is
//! announced failed once its lease expires; Odoo's cron while the integration is disabled records a
//! `skipped` batch, and Odoo is told of it.

use crate::doubles::{
    process_env, signature_is_valid, spawn_process, start_sync_at, wait_until_up, OdooReceiver,
};
use crate::helpers::{fresh_database, spawn_app, spawn_server, Backend, Options, NOTIFY_SECRET};
use regnakes_sim::server::{spawn as spawn_sim, SimConfig};
use regnakes_sim::FaultPlan;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The events Odoo received for batch `id`, in order: (event, status).
fn events_of(odoo: &OdooReceiver, id: &str) -> Vec<(String, String)> {
    odoo.deliveries()
        .iter()
        .filter(|d| {
            signature_is_valid(d.signature.as_deref().unwrap_or(""), &d.body, NOTIFY_SECRET)
        })
        .filter_map(|d| {
            let body: Value = serde_json::from_slice(&d.body).ok()?;
            (body["batch"]["id"] == id).then(|| {
                (
                    body["event"].as_str().unwrap_or("").to_string(),
                    body["batch"]["status"].as_str().unwrap_or("").to_string(),
                )
            })
        })
        .collect()
}

#[actix_web::test]
async fn every_batch_is_announced_from_its_start_to_its_end() {
    let odoo = OdooReceiver::start(0);
    let app = spawn_app(
        Backend::Sqlite,
        Options::records(300).env("ODOO_NOTIFY_URL", &odoo.url),
    )
    .await;
    let batch = app.sync(json!({"mode": "full"})).await;
    let id = batch["id"].as_str().unwrap().to_string();
    app.eventually("both events delivered", || async {
        events_of(&odoo, &id).len() >= 2
    })
    .await;
    let events = events_of(&odoo, &id);
    assert!(
        events.contains(&("regnakes.batch_started".into(), "running".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&("regnakes.batch_finished".into(), "succeeded".into())),
        "{events:?}"
    );
}

#[actix_web::test]
async fn a_batch_killed_with_its_server_is_announced_failed() {
    crate::helpers::init();
    let odoo = OdooReceiver::start(0);
    let sim = spawn_sim(SimConfig {
        records: 3000,
        ..SimConfig::default()
    })
    .unwrap();
    sim.state.set_faults(FaultPlan {
        latency_ms: 40,
        ..FaultPlan::default()
    });
    let database_url = fresh_database(Backend::Postgres).await;
    let env = process_env(
        &sim.base_url(),
        &database_url,
        &[
            ("SYNC_LEASE_SECONDS", "2"),
            ("REGNAKES_PAGE_SIZE", "100"),
            ("ODOO_NOTIFY_URL", &odoo.url),
        ],
    );
    let mut process = spawn_process(&env);
    let token = crate::helpers::token_for("ops", regnakes_sync::rpc::auth::Role::Admin);
    wait_until_up(&process.address, &token).await;
    let id = start_sync_at(&process.address, &token, json!({"mode": "full"})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !events_of(&odoo, &id)
        .iter()
        .any(|(e, _)| e == "regnakes.batch_started")
    {
        assert!(Instant::now() < deadline, "no start announced");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    process.child.kill().unwrap(); // SIGKILL: no end is announced by the dead server.
    process.child.wait().unwrap();
    sim.state.set_faults(FaultPlan::default());
    let options = Options::default()
        .env("SYNC_LEASE_SECONDS", "2")
        .env("ODOO_NOTIFY_URL", &odoo.url);
    let app = spawn_server(sim, database_url, &options).await;
    app.eventually("the interrupted batch announced failed", || async {
        events_of(&odoo, &id).contains(&("regnakes.batch_finished".into(), "failed".into()))
    })
    .await;
}

#[actix_web::test]
async fn odoos_cron_while_disabled_records_a_skipped_batch() {
    let odoo = OdooReceiver::start(0);
    let app = spawn_app(
        Backend::Sqlite,
        Options::records(50).env("ODOO_NOTIFY_URL", &odoo.url),
    )
    .await;
    app.ok(
        "integration.set_enabled",
        json!({"enabled": false, "reason": "maintenance"}),
    )
    .await;
    let cron = app
        .ok(
            "sync.start",
            json!({"mode": "incremental", "trigger": "cron"}),
        )
        .await;
    assert_eq!(cron["already_running"], json!(false));
    assert_eq!(cron["batch"]["status"], "skipped", "{cron}");
    assert_eq!(cron["batch"]["trigger"], "cron");
    let manual = app.call("sync.start", json!({"mode": "incremental"})).await;
    assert_eq!(manual["error"]["code"], -32010, "{manual}");
    let listed = app.ok("batch.list", json!({"status": "skipped"})).await;
    assert_eq!(listed["total"], json!(1));
    let id = cron["batch"]["id"].as_str().unwrap().to_string();
    app.eventually("the skipped batch announced", || async {
        events_of(&odoo, &id).contains(&("regnakes.batch_finished".into(), "skipped".into()))
    })
    .await;
}
