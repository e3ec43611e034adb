//! A live registry (issue 18, CONTRACT §1): records are edited, renewed and registered while a sync pages
//! through them; a gateway answers HTTP/1.0 and closes every connection; an upstream counts wrong. Every
//! record of a window is read once, nothing is a retry that is not one, and no read goes on for ever.

use crate::helpers::{
    assert_balanced, fresh_database, spawn_app, spawn_server, Backend, Options, TestApp,
};
use regnakes_sim::{AdvanceSpec, FaultPlan};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;

/// The store as (STR number, keyed content hash) of every worker: two stores with the same workers and
/// contents compare equal (the tests' servers share one key).
async fn store_of(app: &TestApp) -> BTreeSet<(String, String)> {
    use sea_orm::EntityTrait;
    entity::health_worker::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.str_number, w.content_hash))
        .collect()
}

/// Edits every third page request: changes, renewals, new workers (stamped `stamp_lag_ms` early).
fn editing(stamp_lag_ms: i64) -> FaultPlan {
    FaultPlan {
        edit_every_requests: 3,
        edit: AdvanceSpec {
            changed: 5,
            renewed: 1,
            new_workers: 2,
            stamp_lag_ms,
            ..AdvanceSpec::default()
        },
        ..FaultPlan::default()
    }
}

/// The store after the changes stopped and one incremental run equals a full load of the final data into
/// an empty store.
async fn assert_same_as_a_full_load(app: &TestApp, backend: Backend, phase: &str) {
    app.sim.state.set_faults(FaultPlan::default());
    let last = app.sync(json!({})).await;
    assert_balanced(&last);
    let reference = spawn_server(
        app.sim.clone(),
        fresh_database(backend).await,
        &Options::default(),
    )
    .await;
    let full = reference.sync(json!({"mode": "full"})).await;
    assert_balanced(&full);
    let (ours, theirs) = (store_of(app).await, store_of(&reference).await);
    let missing: Vec<_> = theirs.difference(&ours).take(5).collect();
    let extra: Vec<_> = ours.difference(&theirs).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{phase}: missing {missing:?}, extra {extra:?}"
    );
}

/// Runs a sync while the registry changes; it balances.
async fn sync_while_editing(app: &TestApp, params: Value, stamp_lag_ms: i64) {
    app.sim.state.set_faults(editing(stamp_lag_ms));
    let batch = app.sync(params.clone()).await;
    assert_ne!(batch["status"], "failed", "{params}: {batch}");
    assert_balanced(&batch);
}

/// A first load, a full re-sync and an incremental run, each while the registry changes behind and ahead
/// of the read (every third request: well over 1 % of the records per read): after each, and one
/// incremental run once the changes stopped, the store equals a full load of the final data. The full
/// re-sync must bring back workers the store lost, and the incremental run reads 400 changed records,
/// so a record skipped by either read shows.
async fn every_record_while_the_registry_changes(backend: Backend, stamp_lag_ms: i64) {
    let options = Options {
        records: 3000,
        bad_share: 0.02,
        page_size: 100,
        ..Options::default()
    };
    let app = spawn_app(backend, options).await;
    sync_while_editing(&app, json!({"mode": "full"}), stamp_lag_ms).await;
    let reads = app.page_requests().len();
    assert!(
        reads / 3 * 8 * 100 >= 3000,
        "{reads} requests: too few changes"
    );
    assert_same_as_a_full_load(&app, backend, "first load").await;

    app.db
        .execute_unprepared("DELETE FROM health_worker WHERE str_number LIKE '%3'")
        .await
        .unwrap();
    sync_while_editing(&app, json!({"mode": "full"}), stamp_lag_ms).await;
    assert_same_as_a_full_load(&app, backend, "full re-sync").await;

    app.sim.state.advance(&AdvanceSpec {
        changed: 400,
        ..AdvanceSpec::default()
    });
    sync_while_editing(&app, json!({}), stamp_lag_ms).await;
    assert_same_as_a_full_load(&app, backend, "incremental").await;
}

async fn honest_stamps(backend: Backend) {
    every_record_while_the_registry_changes(backend, 0).await
}
crate::on_both_backends!(registry_changes_during_reads, honest_stamps);

async fn late_stamps(backend: Backend) {
    every_record_while_the_registry_changes(backend, 30_000).await
}
crate::on_both_backends!(late_stamped_changes_during_reads, late_stamps);

/// 5 000 records sharing one `updated_at`, read in pages of 1 000: every record stored once.
async fn a_long_run_of_one_instant(backend: Backend) {
    let app = spawn_app(
        backend,
        Options {
            records: 5000,
            page_size: 1000,
            ..Options::default()
        }
        .tie_group(5000),
    )
    .await;
    let batch = app.sync(json!({"mode": "full"})).await;
    assert_eq!(batch["status"], "succeeded", "{batch}");
    assert_eq!(
        (batch["received"].clone(), batch["inserted"].clone()),
        (json!(5000), json!(5000))
    );
    assert_eq!(app.worker_count().await, 5000);
    assert_eq!(batch["pages"], json!(5));
}
crate::on_both_backends!(records_sharing_one_instant, a_long_run_of_one_instant);

fn retries(text: &str) -> f64 {
    crate::rpc::samples(text)
        .get("regnakes_upstream_retries_total")
        .copied()
        .unwrap_or(0.0)
}

/// A gateway that answers HTTP/1.0 and closes every connection, with no `Connection` header: no request
/// fails for a closed connection, so none is retried, and an unchanged re-sync through it takes about
/// what it takes over keep-alive (with the default 1 s retry delay, one retry alone would show).
#[actix_web::test]
async fn an_http10_gateway_costs_no_retry() {
    let options = Options {
        records: 6000,
        page_size: 200,
        ..Options::default()
    };
    let app = spawn_app(Backend::Sqlite, options).await;
    let full = app.sync(json!({"mode": "full"})).await;
    assert_eq!(full["status"], "succeeded", "{full}");
    let started = Instant::now();
    app.sync(json!({"mode": "full"})).await;
    let keep_alive = started.elapsed();

    let gateway =
        regnakes_sim::gateway::Http10Gateway::start("127.0.0.1:0", &app.sim.base_url()).unwrap();
    let through = spawn_server(
        app.sim.clone(),
        app.database_url.clone(),
        &Options::default()
            .page_size(200)
            .env("REGNAKES_BASE_URL", &gateway.url())
            .env("RETRY_BASE_DELAY_MS", "1000"),
    )
    .await;
    let started = Instant::now();
    let batch = through.sync(json!({"mode": "full"})).await;
    let closing = started.elapsed();
    assert_eq!(batch["status"], "succeeded", "{batch}");
    assert_eq!(batch["unchanged"], json!(6000));
    assert_eq!(retries(&through.get("/metrics").await.1), 0.0);
    // A small allowance for a loaded machine: one retry alone would add a second (the default delay).
    assert!(
        closing.as_secs_f64() <= keep_alive.as_secs_f64() * 1.5 + 0.5,
        "{closing:?} through the gateway, {keep_alive:?} over keep-alive"
    );
}

/// An upstream whose `total_page` is wrong (a million pages, empty past the data): the read ends at the
/// first empty or short answer, and the batch says the totals disagreed.
#[actix_web::test]
async fn a_wrong_total_page_ends_at_the_first_empty_page_with_a_warning() {
    let app = spawn_app(Backend::Sqlite, Options::records(450).page_size(100)).await;
    app.sim.state.set_faults(FaultPlan {
        claim_total_pages: Some(1_000_000),
        ..FaultPlan::default()
    });
    let started = Instant::now();
    let batch = app.sync(json!({"mode": "full"})).await;
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    assert_eq!(batch["status"], "succeeded", "{batch}");
    assert_eq!(batch["received"], json!(450));
    assert!(
        app.page_requests().len() <= 7,
        "{}",
        app.page_requests().len()
    );
    assert_eq!(batch["warnings"], json!(1), "{batch}");
    let warnings = app
        .ok("batch.warnings", json!({"batch_id": batch["id"]}))
        .await;
    let warning: &Value = &warnings["warnings"][0];
    assert_eq!(warning["reason"], "upstream_totals", "{warnings}");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("1000000 pages"),
        "{warning}"
    );
}
