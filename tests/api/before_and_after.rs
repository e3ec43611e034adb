//! Issue 21, know before and after: a dry run predicts the real run and leaves the store as it was;
//! workers the registry no longer has are marked by a complete full sync only; a field the mapping does
//! not know shows on the first batch that meets it. On SQLite and PostgreSQL.

use crate::helpers::{assert_balanced, spawn_app, Backend, Options, TestApp};
use regnakes_sim::dataset::AdvanceSpec;
use regnakes_sim::faults::{Fault, FaultPlan};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// Everything a sync may write about workers, as text, in a stable order: the workers (every column),
/// their STR and identity history, the review cases, and the watermark and last success.
async fn dump(app: &TestApp) -> Vec<String> {
    let mut lines = Vec::new();
    for table in [
        "health_worker",
        "str_history",
        "identity_history",
        "review_case",
    ] {
        for row in app.rows(&row_text_sql(app, table).await, 1).await {
            lines.push(format!("{table} {}", row[0].clone().unwrap_or_default()));
        }
    }
    for row in app
        .rows(
            "SELECT CAST(watermark AS TEXT), CAST(last_success_at AS TEXT) FROM sync_state",
            2,
        )
        .await
    {
        lines.push(format!("sync_state {row:?}"));
    }
    lines
}

/// A query giving one text per row of `table`, every column (SQLite: and its rowid), in key order.
async fn row_text_sql(app: &TestApp, table: &str) -> String {
    match app.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            format!("SELECT row_to_json(t)::text FROM (SELECT * FROM {table} ORDER BY id) t")
        }
        _ => {
            let columns = app
                .rows(
                    &format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                    1,
                )
                .await;
            let quoted: Vec<String> = columns
                .iter()
                .map(|c| format!("quote({})", c[0].as_deref().unwrap_or_default()))
                .collect();
            format!(
                "SELECT quote(rowid) || '|' || {} FROM {table} ORDER BY id",
                quoted.join(" || '|' || ")
            )
        }
    }
}

/// A batch's change report as comparable lines (STR number, outcome, each field's values).
async fn change_lines(app: &TestApp, batch: &Value) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    for outcome in ["inserted", "updated"] {
        let mut offset = 0;
        loop {
            let page = app
                .ok(
                    "batch.changes",
                    json!({"batch_id": batch["id"], "outcome": outcome, "limit": 200, "offset": offset}),
                )
                .await;
            let changes = page["changes"].as_array().unwrap().clone();
            offset += changes.len();
            for change in &changes {
                lines.insert(format!(
                    "{} {} {}",
                    change["str_number"], change["outcome"], change["fields"]
                ));
            }
            if changes.is_empty() || offset as u64 >= page["total"].as_u64().unwrap() {
                break;
            }
        }
    }
    lines
}

fn counts(batch: &Value) -> Value {
    json!({
        "status": batch["status"],
        "received": batch["received"],
        "inserted": batch["inserted"],
        "updated": batch["updated"],
        "unchanged": batch["unchanged"],
        "rejected": batch["rejected"],
        "changed_fields": batch["changed_fields"],
    })
}

/// Runs `params` dry, then for real: the dry run leaves the store as it was and says what the real run
/// then does (counts, per-field totals, the change report).
async fn dry_then_real(app: &TestApp, params: Value, phase: &str) -> (Value, Value) {
    let before = dump(app).await;
    let mut dry_params = params.clone();
    dry_params["dry_run"] = json!(true);
    let dry = app.sync(dry_params).await;
    assert_eq!(dry["dry_run"], true, "{phase}: {dry}");
    assert_balanced(&dry);
    let after = dump(app).await;
    if let Some((was, is)) = before.iter().zip(&after).find(|(a, b)| a != b) {
        panic!("{phase}: the dry run changed the store: {was} -> {is}");
    }
    assert_eq!(
        before.len(),
        after.len(),
        "{phase}: the dry run added or removed rows"
    );
    let real = app.sync(params).await;
    assert_eq!(real["dry_run"], false);
    assert_eq!(
        counts(&dry),
        counts(&real),
        "{phase}: dry {dry} real {real}"
    );
    assert_eq!(
        change_lines(app, &dry).await,
        change_lines(app, &real).await,
        "{phase}: the change reports differ"
    );
    (dry, real)
}

async fn a_dry_run_says_what_the_real_run_does_and_writes_nothing(backend: Backend) {
    let options = Options {
        records: 900,
        bad_share: 0.04,
        page_size: 100,
        ..Options::default()
    };
    let app = spawn_app(backend, options).await;
    // A first load (duplicates and conflicts across pages meet earlier pages' inserts).
    let (dry, real) = dry_then_real(&app, json!({"mode": "full"}), "first load").await;
    assert!(real["inserted"].as_i64().unwrap() > 800, "{real}");
    assert!(real["rejected"].as_i64().unwrap() > 0, "{real}");
    assert_eq!(dry["missing"], 0);
    // Inserts, updates, renewals, revocations and identity conflicts, read incrementally and in full.
    app.sim.state.advance(&AdvanceSpec {
        changed: 12,
        renewed: 6,
        revoked: 3,
        new_workers: 9,
        nik_conflicts: 2,
        stamp_lag_ms: 50,
        ..AdvanceSpec::default()
    });
    let (_, real) = dry_then_real(&app, json!({"mode": "incremental"}), "incremental").await;
    assert!(real["updated"].as_i64().unwrap() >= 18, "{real}");
    assert_eq!(real["inserted"], 9, "{real}");
    app.sim.state.advance(&AdvanceSpec {
        changed: 7,
        renewed: 2,
        new_workers: 4,
        stamp_lag_ms: 50,
        ..AdvanceSpec::default()
    });
    dry_then_real(&app, json!({"mode": "full"}), "full re-sync").await;

    // A dry run holds the single-flight lease like any run, moves no watermark and is not `last`.
    let status = app.ok("sync.status", json!({})).await;
    assert_eq!(status["last"]["dry_run"], false, "{status}");
}
crate::on_both_backends!(
    a_dry_run_says_what_the_real_run_does_and_writes_nothing,
    a_dry_run_says_what_the_real_run_does_and_writes_nothing
);

async fn missing_workers(app: &TestApp) -> HashMap<String, Value> {
    let found = app
        .ok("worker.search", json!({"missing": true, "limit": 200}))
        .await;
    found["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["str_number"].as_str().unwrap().to_string(), w.clone()))
        .collect()
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let (_, text) = app.get("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

async fn only_a_complete_full_read_marks_workers_missing(backend: Backend) {
    let app = spawn_app(backend, Options::records(800).page_size(100)).await;
    let first = app.sync(json!({"mode": "full"})).await;
    assert_eq!(first["missing"], 0, "{first}");
    let removed = app.sim.state.advance(&AdvanceSpec {
        removed: 6,
        stamp_lag_ms: 50,
        ..AdvanceSpec::default()
    });
    assert_eq!(removed.removed.len(), 6);

    // None of these may mark anyone: incremental, filtered, dry, failed, cancelled.
    let incremental = app.sync(json!({"mode": "incremental"})).await;
    assert_eq!(incremental["missing"], 0, "{incremental}");
    let profession =
        app.ok("worker.search", json!({"limit": 1})).await["workers"][0]["profession"].clone();
    let filtered = app
        .sync(json!({"mode": "full", "professions": [profession]}))
        .await;
    assert_eq!(filtered["missing"], 0, "{filtered}");
    let dry = app.sync(json!({"mode": "full", "dry_run": true})).await;
    assert_eq!(dry["missing"], 0, "{dry}");
    app.sim.state.set_faults(FaultPlan {
        pages: HashMap::from([(3, (Fault::Status { status: 500 }, u32::MAX))]),
        ..FaultPlan::default()
    });
    let failed = app.sync(json!({"mode": "full"})).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    // Cancelled after its first page: it read almost no one, and marks no one.
    app.sim.state.set_faults(FaultPlan {
        latency_ms: 40,
        ..FaultPlan::default()
    });
    let started = app.ok("sync.start", json!({"mode": "full"})).await;
    let id = started["batch"]["id"].as_str().unwrap().to_string();
    app.eventually("a page stored", || async {
        app.ok("batch.get", json!({"batch_id": id})).await["batch"]["pages"]
            .as_i64()
            .unwrap()
            >= 1
    })
    .await;
    app.ok("sync.cancel", json!({"batch_id": id})).await;
    let cancelled = app.wait_batch(&id).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["missing"], 0, "{cancelled}");
    app.sim.state.set_faults(FaultPlan::default());
    assert!(missing_workers(&app).await.is_empty());

    // A complete full read marks exactly the removed workers, at its start; nothing is deleted.
    let full = app.sync(json!({"mode": "full"})).await;
    assert_eq!(full["missing"], 6, "{full}");
    let missing = missing_workers(&app).await;
    let names: BTreeSet<&String> = missing.keys().collect();
    assert_eq!(names, removed.removed.iter().collect(), "{missing:?}");
    for worker in missing.values() {
        assert_eq!(worker["in_registry"], false, "{worker}");
        assert_eq!(worker["missing_since"], full["started_at"], "{worker}");
    }
    assert_eq!(app.worker_count().await, 800);
    // The marked rows are read through their partial index, never by a scan of the table.
    let explain = match backend {
        Backend::Postgres => {
            "EXPLAIN SELECT COUNT(*) FROM health_worker WHERE missing_since IS NOT NULL"
        }
        _ => {
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM health_worker WHERE missing_since IS NOT NULL"
        }
    };
    // The plan's text: PostgreSQL's one column, SQLite's `detail` (the fourth).
    let at = if backend == Backend::Postgres { 0 } else { 3 };
    let plan: Vec<String> = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            explain.to_string(),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(at).unwrap())
        .collect();
    assert!(
        plan.iter()
            .any(|line| line.contains("idx-health_worker-missing")),
        "{plan:?}"
    );
    if backend == Backend::Postgres {
        // Every worker has a number of its own (the bitmap of `rules::seen`), dense from 1.
        let numbered = app
            .scalar("SELECT COUNT(DISTINCT seq) + MAX(seq) - 2 * COUNT(*) FROM health_worker")
            .await;
        assert_eq!(numbered, 0);
    }
    assert_eq!(metric(&app, "regnakes_workers_missing").await, 6.0);
    assert_eq!(app.ok("sync.status", json!({})).await["missing_workers"], 6);
    // Marked once: the next full read counts no one newly, and keeps the date.
    let again = app.sync(json!({"mode": "full"})).await;
    assert_eq!(again["missing"], 0, "{again}");
    assert_eq!(missing_workers(&app).await, missing);

    // One comes back (its record changed): cleared. A full read while the registry changes marks no
    // one else (records edited during the read left its window, yet the registry has them).
    let back = removed.removed[0].clone();
    app.sim.state.advance(&AdvanceSpec {
        change_str: vec![back.clone()],
        stamp_lag_ms: 50,
        ..AdvanceSpec::default()
    });
    app.sim.state.set_faults(FaultPlan {
        edit_every_requests: 2,
        edit: AdvanceSpec {
            changed: 4,
            renewed: 1,
            new_workers: 1,
            stamp_lag_ms: 50,
            ..AdvanceSpec::default()
        },
        ..FaultPlan::default()
    });
    let edited = app.sync(json!({"mode": "full"})).await;
    app.sim.state.set_faults(FaultPlan::default());
    assert_ne!(edited["status"], "failed", "{edited}");
    let missing = missing_workers(&app).await;
    assert_eq!(
        edited["missing"],
        0,
        "{edited} {:?} removed {:?}",
        missing.values().collect::<Vec<_>>(),
        removed.removed
    );
    assert_eq!(missing.len(), 5, "{:?}", missing.keys());
    assert!(!missing.contains_key(&back));
    let found = app.ok("worker.search", json!({"query": back})).await;
    assert_eq!(found["workers"][0]["in_registry"], true, "{found}");
    assert_eq!(found["workers"][0]["missing_since"], Value::Null, "{found}");
}
crate::on_both_backends!(
    only_a_complete_full_read_marks_workers_missing,
    only_a_complete_full_read_marks_workers_missing
);

async fn a_new_upstream_field_shows_on_the_first_batch_that_meets_it(backend: Backend) {
    let app = spawn_app(backend, Options::records(400).page_size(100)).await;
    let first = app.sync(json!({"mode": "full"})).await;
    assert_eq!(first["unknown_fields"], json!({}), "{first}");
    assert_eq!(
        metric(&app, "regnakes_upstream_new_fields_total").await,
        0.0
    );
    app.sim.state.set_sip_issue_dates(true);
    let second = app.sync(json!({"mode": "full"})).await;
    assert_eq!(
        second["unknown_fields"],
        json!({"sip[].tanggal_terbit": 400}),
        "{second}"
    );
    // Nothing the mapping reads changed: the records are unchanged.
    assert_eq!(second["unchanged"], 400, "{second}");
    assert_eq!(
        metric(&app, "regnakes_upstream_new_fields_total").await,
        1.0
    );
    // Met before: no longer new.
    app.sim.state.advance(&AdvanceSpec {
        changed: 3,
        stamp_lag_ms: 50,
        ..AdvanceSpec::default()
    });
    let third = app.sync(json!({"mode": "incremental"})).await;
    assert_eq!(
        third["unknown_fields"],
        json!({"sip[].tanggal_terbit": 3}),
        "{third}"
    );
    assert_eq!(
        metric(&app, "regnakes_upstream_new_fields_total").await,
        1.0
    );
}
crate::on_both_backends!(
    a_new_upstream_field_shows_on_the_first_batch_that_meets_it,
    a_new_upstream_field_shows_on_the_first_batch_that_meets_it
);
