//! The incremental cursor against an upstream whose changes become visible after the time they carry
//! (a lagging read replica, `updated_at` set when a transaction starts): the lookback window catches
//! them, a lookback of 0 loses them, and a full sync corrects and reports what had drifted.

use crate::helpers::{assert_balanced, fresh_database, spawn_app, spawn_server, Backend, Options};
use crate::on_both_backends;
use regnakes_sim::AdvanceSpec;
use regnakes_sync::domain::batch::Mode;
use serde_json::{json, Value};

const ROUNDS: usize = 4;

/// Changes stamped a minute before they appear: the run before has already pinned its window's end
/// after that stamp, so only a lookback reads them.
fn late_round() -> AdvanceSpec {
    AdvanceSpec {
        changed: 40,
        renewed: 8,
        revoked: 4,
        new_workers: 10,
        stamp_lag_ms: 60_000,
        ..AdvanceSpec::default()
    }
}

fn options(lookback: &str) -> Options {
    Options {
        records: 2000,
        seed: 31,
        bad_share: 0.02,
        ..Options::default()
    }
    .env("SYNC_LOOKBACK", lookback)
}

const STORE: &str = "SELECT str_number, content_hash FROM health_worker ORDER BY str_number";

/// A second store on the same upstream that takes only full syncs: what the store must equal after
/// the rounds (a full sync into an empty database would differ for revocations, which are stored only
/// for workers already known).
struct Reference(crate::helpers::TestApp);

impl Reference {
    async fn start(app: &crate::helpers::TestApp, backend: Backend) -> Reference {
        let reference = spawn_server(
            app.sim.clone(),
            fresh_database(backend).await,
            &options("0"),
        )
        .await;
        Reference(reference)
    }

    async fn full_sync(&self) {
        let batch = self.0.sync(json!({"mode": "full"})).await;
        assert_balanced(&batch);
    }

    async fn store(&self) -> Vec<Vec<Option<String>>> {
        self.0.rows(STORE, 2).await
    }
}

/// A full sync of both stores, then `ROUNDS` rounds of late-stamped changes each followed by an
/// incremental sync of the app's store; then a full sync of the reference.
async fn late_rounds(app: &crate::helpers::TestApp, reference: &Reference) -> Vec<Value> {
    let first = app.sync(json!({"mode": "full"})).await;
    assert_balanced(&first);
    reference.full_sync().await;
    let mut batches = Vec::new();
    for _ in 0..ROUNDS {
        app.sim.state.advance(&late_round());
        let batch = app.sync(json!({"mode": "incremental"})).await;
        assert_balanced(&batch);
        batches.push(batch);
    }
    reference.full_sync().await;
    batches
}

fn differing(a: &[Vec<Option<String>>], b: &[Vec<Option<String>>]) -> usize {
    let a: std::collections::HashSet<_> = a.iter().collect();
    let b: std::collections::HashSet<_> = b.iter().collect();
    a.symmetric_difference(&b).count()
}

async fn late_changes_converge_with_the_default_lookback(backend: Backend) {
    let app = spawn_app(backend, options("10m")).await;
    let reference = Reference::start(&app, backend).await;
    let batches = late_rounds(&app, &reference).await;
    for batch in &batches {
        // Each run re-reads the last ten minutes: the previous round's records come back unchanged.
        let since = chrono::DateTime::parse_from_rfc3339(batch["since"].as_str().unwrap()).unwrap();
        let until = chrono::DateTime::parse_from_rfc3339(batch["until"].as_str().unwrap()).unwrap();
        assert!(until - since >= chrono::Duration::minutes(10), "{batch}");
    }
    assert!(
        batches[1]["unchanged"].as_i64().unwrap() > 0,
        "{}",
        batches[1]
    );
    assert_eq!(
        differing(&app.rows(STORE, 2).await, &reference.store().await),
        0,
        "incremental runs with a lookback end where one full sync does"
    );
}
on_both_backends!(
    late_changes_converge_with_the_default_lookback,
    late_changes_converge_with_the_default_lookback
);

async fn without_a_lookback_late_changes_are_lost_until_the_full_sync(backend: Backend) {
    let app = spawn_app(backend, options("0")).await;
    let reference = Reference::start(&app, backend).await;
    late_rounds(&app, &reference).await;
    let reference = reference.store().await;
    let lost = differing(&app.rows(STORE, 2).await, &reference);
    assert!(lost > 0, "with SYNC_LOOKBACK=0 late changes are missed");

    // The weekly full sync, as the scheduler starts it, corrects the store and reports the drift.
    app.service
        .run_scheduled(chrono::Utc::now(), Mode::Full)
        .await
        .unwrap();
    let latest = app.ok("batch.list", json!({"limit": 1})).await["batches"][0].clone();
    assert_eq!(
        (latest["mode"].as_str(), latest["trigger"].as_str()),
        (Some("full"), Some("schedule"))
    );
    let full = app.wait_batch(latest["id"].as_str().unwrap()).await;
    assert_balanced(&full);
    assert_eq!(differing(&app.rows(STORE, 2).await, &reference), 0);
    let changed = &full["changed_fields"];
    // Renewals were missed (new STR numbers), and so were revocations and licence changes.
    assert!(changed["str_number"].as_i64().unwrap() > 0, "{changed}");
    assert!(changed["str_status"].as_i64().unwrap() > 0, "{changed}");
    assert!(changed["licences"].as_i64().unwrap() > 0, "{changed}");
    assert_eq!(changed["unknown"], json!(0), "{changed}");
    assert!(full["updated"].as_i64().unwrap() > 0, "{full}");
    let missed_new = full["inserted"].as_i64().unwrap();
    assert!(
        missed_new > 0,
        "new workers stamped late were missed too: {full}"
    );
}
on_both_backends!(
    without_a_lookback_late_changes_are_lost_until_the_full_sync,
    without_a_lookback_late_changes_are_lost_until_the_full_sync
);
