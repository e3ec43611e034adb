//! The sync engine end to end (issue: engine): full sync with every kind of bad record, re-run,
//! incremental after upstream changes, renewals, revocations, identity conflicts, duplicates.

use crate::helpers::{assert_balanced, spawn_app, Backend, Options};
use crate::on_both_backends;
use regnakes_sim::AdvanceSpec;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

fn bad_data() -> Options {
    Options {
        records: 3000,
        bad_share: 0.15,
        seed: 7,
        page_size: 500,
        ..Options::default()
    }
}

pub async fn stored_strs(app: &crate::helpers::TestApp) -> HashSet<String> {
    use sea_orm::{EntityTrait, QuerySelect};
    entity::health_worker::Entity::find()
        .select_only()
        .column(entity::health_worker::Column::StrNumber)
        .into_tuple::<String>()
        .all(&app.db)
        .await
        .expect("query")
        .into_iter()
        .collect()
}

async fn full_sync_sorts_every_record(backend: Backend) {
    let app = spawn_app(backend, bad_data()).await;
    let expected = app
        .sim
        .state
        .data()
        .expected_full_sync(app.page_size as usize);
    assert!(
        expected.rejected.len() >= 10,
        "the data has most kinds of bad record: {expected:?}"
    );

    let batch = app.sync(json!({"mode": "full"})).await;
    assert_balanced(&batch);
    assert_eq!(batch["received"], json!(expected.received));
    assert_eq!(batch["inserted"], json!(expected.stored));
    assert_eq!(batch["rejected"], json!(expected.rejected_total()));
    assert_eq!(
        batch["status"], "partial",
        "about 15% rejected is under the 20% threshold: {batch}"
    );
    assert_eq!(batch["pages"], json!(6));

    let errors = app.errors(batch["id"].as_str().unwrap()).await;
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for error in &errors {
        *by_reason
            .entry(error["reason"].as_str().unwrap().to_string())
            .or_default() += 1;
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains('`') || message.contains("STR"),
            "a message names the field: {error}"
        );
        assert!(error["page"].as_i64().unwrap() >= 1);
        assert!(!error["raw"].is_null(), "the raw record is kept: {error}");
    }
    let expected_by_reason: BTreeMap<String, u64> = expected
        .rejected
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(by_reason, expected_by_reason);

    // No unmasked NIK in the kept raw records.
    for error in &errors {
        if let Some(nik) = error["raw"]["nik"].as_str() {
            assert!(
                nik.contains('*') || nik.len() < 8,
                "raw NIK is masked: {nik}"
            );
        }
    }
    // Exactly the upstream's valid records are stored, once each.
    assert_eq!(app.worker_count().await, expected.stored as i64);
    assert_eq!(
        stored_strs(&app).await,
        app.sim.state.data().valid_str_numbers()
    );
    // Two people under one STR: one stored, the other rejected.
    for error in errors.iter().filter(|e| e["reason"] == "duplicate_str") {
        let number = error["str_number"].as_str().unwrap();
        let holders = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM health_worker WHERE str_number = '{number}'"
            ))
            .await;
        assert_eq!(holders, 1, "STR {number} has one holder");
    }

    // A second run over the same data changes nothing.
    let again = app.sync(json!({"mode": "full"})).await;
    assert_balanced(&again);
    assert_eq!(again["inserted"], json!(0));
    assert_eq!(again["updated"], json!(0));
    assert_eq!(again["unchanged"], json!(expected.stored));
    assert_eq!(again["rejected"], json!(expected.rejected_total()));
    assert_eq!(app.worker_count().await, expected.stored as i64);
}
on_both_backends!(full_sync_sorts_every_record, full_sync_sorts_every_record);

async fn incremental_sync_applies_upstream_changes(backend: Backend) {
    let app = spawn_app(
        backend,
        Options {
            records: 1500,
            seed: 21,
            ..Options::default()
        },
    )
    .await;
    let first = app.sync(json!({})).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(first["inserted"], json!(1500));
    let watermark = app.ok("sync.status", json!({})).await["watermark"]
        .as_str()
        .unwrap()
        .to_string();

    let report = app.sim.state.advance(&AdvanceSpec {
        changed: 30,
        renewed: 6,
        revoked: 4,
        new_workers: 12,
        nik_conflicts: 3,
        ..AdvanceSpec::default()
    });
    let renewed_before: Vec<(String, Value)> = {
        let mut v = Vec::new();
        for (old, _) in &report.renewed {
            let id = worker_by_str(&app, old)
                .await
                .expect("renewed worker stored")["id"]
                .clone();
            v.push((old.clone(), id));
        }
        v
    };
    let conflict_before = {
        let mut v = Vec::new();
        for number in &report.nik_conflicts {
            v.push(worker_by_str(&app, number).await.expect("stored"));
        }
        v
    };
    app.sim.state.clear_requests();

    let batch = app.sync(json!({"mode": "incremental"})).await;
    assert_balanced(&batch);
    assert_eq!(
        batch["received"],
        json!(report.total()),
        "only the changed window is fetched: {batch}"
    );
    assert_eq!(batch["inserted"], json!(12));
    assert_eq!(batch["updated"], json!(30 + 6 + 4));
    assert_eq!(batch["rejected"], json!(3));
    // The window starts SYNC_LOOKBACK (10 minutes by default) before the watermark.
    let lookback_start = chrono::DateTime::parse_from_rfc3339(&watermark)
        .unwrap()
        .with_timezone(&chrono::Utc)
        - chrono::Duration::minutes(10);
    assert_eq!(
        batch["since"].as_str(),
        Some(regnakes_sync::views::ts(lookback_start).as_str())
    );
    // What the updates changed: content changes touch the licences and (unless the record has no
    // address) the address, renewals the STR number and its issue date, revocations the STR status.
    let changed = &batch["changed_fields"];
    assert_eq!(changed["licences"], json!(30), "{changed}");
    let addresses = changed["address"].as_i64().unwrap();
    assert!((20..=30).contains(&addresses), "{changed}");
    assert_eq!(changed["str_number"], json!(6), "{changed}");
    assert_eq!(changed["str_details"], json!(6), "{changed}");
    assert_eq!(changed["str_status"], json!(4), "{changed}");
    assert_eq!(changed["name"], json!(0), "{changed}");
    assert_eq!(changed["unknown"], json!(0), "{changed}");
    let list_requests = app.page_requests();
    assert!(!list_requests.is_empty());
    for r in &list_requests {
        assert!(
            r.query.contains("updated_since="),
            "incremental requests carry the watermark: {}",
            r.query
        );
        let trace = batch["trace_id"].as_str().unwrap();
        assert!(
            r.request_id
                .as_deref()
                .is_some_and(|id| id.starts_with(trace)),
            "X-Request-ID derives from the trace id"
        );
    }

    // Renewed STR: the same worker, the new number, the old one in its history.
    for ((old, id_before), (_, new)) in renewed_before.iter().zip(&report.renewed) {
        let worker = worker_by_str(&app, new)
            .await
            .expect("worker holds the renewed STR");
        assert_eq!(
            &worker["id"], id_before,
            "renewal updates, never duplicates"
        );
        assert!(worker_by_str(&app, old).await.is_none());
        let history: Vec<String> = {
            use entity::str_history::{Column, Entity};
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
            let worker_id = uuid::Uuid::parse_str(id_before.as_str().unwrap()).unwrap();
            Entity::find()
                .select_only()
                .column(Column::StrNumber)
                .filter(Column::WorkerId.eq(worker_id))
                .into_tuple()
                .all(&app.db)
                .await
                .unwrap()
        };
        assert_eq!(
            history,
            vec![old.clone()],
            "the history keeps the replaced number"
        );
    }
    // A revoked worker's history keeps the STR as it was while active.
    let revoked_history = app
        .scalar("SELECT COUNT(*) FROM str_history WHERE str_status = 'aktif'")
        .await;
    assert_eq!(
        revoked_history,
        6 + 4,
        "renewed and revoked workers' previous STRs"
    );
    // Revocation of a known worker is applied.
    for number in &report.revoked {
        assert_eq!(
            worker_by_str(&app, number).await.unwrap()["str_status"],
            "dicabut"
        );
    }
    // Same STR under another NIK: rejected for review, stored worker untouched.
    let errors = app.errors(batch["id"].as_str().unwrap()).await;
    assert!(
        errors.iter().all(|e| e["reason"] == "identity_conflict"),
        "{errors:?}"
    );
    for before in conflict_before {
        let after = worker_by_str(&app, before["str_number"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(after, before);
    }
    assert_eq!(app.worker_count().await, 1500 + 12);

    // Nothing new upstream: the next incremental run re-reads only its lookback window (the changes
    // above, stamped minutes ago) and changes nothing; the identity conflicts are refused again.
    let quiet = app.sync(json!({})).await;
    assert_balanced(&quiet);
    assert_eq!(quiet["received"], json!(report.total()));
    assert_eq!(quiet["inserted"], json!(0));
    assert_eq!(quiet["updated"], json!(0));
    assert_eq!(quiet["rejected"], json!(3));
    assert_eq!(app.worker_count().await, 1500 + 12);
}
on_both_backends!(
    incremental_sync_applies_upstream_changes,
    incremental_sync_applies_upstream_changes
);

pub async fn worker_by_str(app: &crate::helpers::TestApp, number: &str) -> Option<Value> {
    let found = app.ok("worker.search", json!({"query": number})).await;
    found["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["str_number"] == number)
        .cloned()
}

async fn profession_filter_fetches_only_those(backend: Backend) {
    let app = spawn_app(
        backend,
        Options {
            records: 1000,
            seed: 5,
            ..Options::default()
        },
    )
    .await;
    let batch = app
        .sync(json!({"mode": "full", "professions": ["bidan", "apoteker"]}))
        .await;
    assert_eq!(batch["status"], "succeeded");
    let stored = app.worker_count().await;
    let matching = app
        .scalar("SELECT COUNT(*) FROM health_worker WHERE profession_code IN ('bidan', 'apoteker')")
        .await;
    assert!(
        stored > 100,
        "bidan and apoteker are about 29% of workers: {stored}"
    );
    assert_eq!(stored, matching);
    assert!(
        app.ok("sync.status", json!({})).await["watermark"].is_null(),
        "a filtered run does not move the watermark"
    );
}
on_both_backends!(
    profession_filter_fetches_only_those,
    profession_filter_fetches_only_those
);

/// PostgreSQL stores new workers as typed arrays bound by sqlx (its own encoding of uuids, dates,
/// timestamps and NULLs), SQLite through SeaORM's inserts: the same upstream data must give the same
/// workers on both.
#[actix_web::test]
async fn both_backends_store_identical_workers() {
    use entity::health_worker::{Entity as Worker, Model};
    use sea_orm::{EntityTrait, QueryOrder};
    async fn synced(backend: Backend) -> (Vec<Model>, Value) {
        let app = spawn_app(backend, bad_data()).await;
        let batch = app.sync(json!({"mode": "full"})).await;
        let workers = Worker::find()
            .order_by_asc(entity::health_worker::Column::StrNumber)
            .all(&app.db)
            .await
            .expect("workers");
        (workers, batch)
    }
    let (pg, pg_batch) = synced(Backend::Postgres).await;
    let (lite, _) = synced(Backend::Sqlite).await;
    assert_eq!(pg.len(), lite.len());
    assert!(pg.len() > 2000, "most of the 3000 records are stored");

    let batch_id: uuid::Uuid = pg_batch["id"].as_str().unwrap().parse().unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(pg_batch["started_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let finished = chrono::DateTime::parse_from_rfc3339(pg_batch["finished_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut with_nulls = 0;
    for (p, l) in pg.iter().zip(&lite) {
        // What differs by run: ids, batch ids and the times of storing.
        assert_eq!(p.first_batch_id, batch_id);
        assert_eq!(p.last_batch_id, batch_id);
        assert!(
            p.created_at >= started - chrono::Duration::seconds(1)
                && p.created_at <= finished + chrono::Duration::seconds(1),
            "created_at {} within the batch ({started} .. {finished})",
            p.created_at
        );
        // The encrypted NIK differs by its random nonce; the blind index (same NIK) is compared.
        let same_run = Model {
            id: p.id,
            nik: p.nik.clone(),
            first_batch_id: p.first_batch_id,
            last_batch_id: p.last_batch_id,
            created_at: p.created_at,
            updated_at: p.updated_at,
            ..l.clone()
        };
        assert_eq!(*p, same_run);
        if p.address_line.is_none() || p.str_valid_until.is_none() {
            with_nulls += 1;
        }
    }
    assert!(with_nulls > 0, "the data exercises NULL columns");
}

/// A duplicate STR split from its original by a page boundary: the page after must see the worker the
/// page before inserted, although its lookup is read ahead while that page is still being written.
async fn pages_see_what_the_page_before_wrote(backend: Backend) {
    let app = spawn_app(
        backend,
        Options {
            records: 1200,
            bad_share: 0.3,
            seed: 5,
            page_size: 2,
            ..Options::default()
        },
    )
    .await;
    let expected = app.sim.state.data().expected_full_sync(2);
    let split = expected
        .rejected
        .get("identity_conflict")
        .copied()
        .unwrap_or(0);
    assert!(
        split >= 3,
        "the data splits duplicates across pages: {expected:?}"
    );

    let batch = app.sync(json!({"mode": "full"})).await;
    assert_balanced(&batch);
    assert_eq!(batch["status"], "failed", "30% bad is over the threshold");
    assert!(
        !batch["error"]
            .as_str()
            .unwrap_or("")
            .contains("storing failed"),
        "every page was stored: {batch}"
    );
    assert_eq!(batch["inserted"], json!(expected.stored));
    let conflicts = app
        .errors(batch["id"].as_str().unwrap())
        .await
        .iter()
        .filter(|e| e["reason"] == "identity_conflict")
        .count();
    assert_eq!(conflicts as u64, split);
    assert_eq!(
        stored_strs(&app).await,
        app.sim.state.data().valid_str_numbers()
    );
}
on_both_backends!(
    pages_see_what_the_page_before_wrote,
    pages_see_what_the_page_before_wrote
);

/// Records the store holds byte for byte skip the transform and matching (`rules::unchanged`). That must
/// change nothing a user sees: the same batches, the same workers, the same STR history as when every
/// record takes the full path, through a first load, a full re-read after every kind of upstream change,
/// and a re-read of unchanged data.
async fn the_fast_path_decides_as_the_full_path(backend: Backend) {
    use entity::health_worker::{Column, Entity as Worker, Model};
    use sea_orm::{EntityTrait, QueryOrder};
    struct Run {
        batches: Vec<Value>,
        workers: Vec<Model>,
        history: Vec<Vec<Option<String>>>,
        fast_path_records: u64,
    }
    async fn run(backend: Backend, fast_path: bool) -> Run {
        let app = spawn_app(
            backend,
            Options {
                records: 2000,
                bad_share: 0.15,
                seed: 9,
                page_size: 100,
                env: vec![("SYNC_UNCHANGED_FAST_PATH".into(), fast_path.to_string())],
                ..Options::default()
            },
        )
        .await;
        let mut batches = vec![app.sync(json!({"mode": "full"})).await];
        app.sim.state.advance(&AdvanceSpec {
            changed: 60,
            renewed: 40,
            revoked: 20,
            new_workers: 30,
            nik_conflicts: 20,
            ..AdvanceSpec::default()
        });
        batches.push(app.sync(json!({"mode": "full"})).await);
        batches.push(app.sync(json!({"mode": "full"})).await);
        let workers = Worker::find()
            .order_by_asc(Column::StrNumber)
            .all(&app.db)
            .await
            .expect("workers");
        let history = app
            .rows(
                "SELECT h.str_number, h.str_status, w.str_number FROM str_history h \
                 JOIN health_worker w ON w.id = h.worker_id ORDER BY 1, 2, 3",
                3,
            )
            .await;
        let (_, metrics) = app.get("/metrics").await;
        let fast_path_records = metrics
            .lines()
            .find_map(|l| l.strip_prefix("regnakes_sync_unchanged_fast_path_records_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the fast-path metric is exported");
        Run {
            batches,
            workers,
            history,
            fast_path_records,
        }
    }
    let full = run(backend, false).await;
    let fast = run(backend, true).await;

    let counts = |b: &Value| {
        [
            "status",
            "received",
            "inserted",
            "updated",
            "unchanged",
            "rejected",
            "warnings",
        ]
        .map(|k| b[k].clone())
    };
    for (i, (f, s)) in full.batches.iter().zip(&fast.batches).enumerate() {
        assert_balanced(s);
        assert_eq!(counts(f), counts(s), "batch {i}: {f} vs {s}");
    }
    let second = &fast.batches[1];
    assert!(
        second["updated"].as_u64().unwrap() >= 60 && second["inserted"].as_u64().unwrap() >= 30,
        "the re-read after the changes writes them: {second}"
    );
    let third = &fast.batches[2];
    assert_eq!(third["inserted"], 0);
    assert_eq!(third["updated"], 0);
    assert_eq!(full.fast_path_records, 0, "off means off");
    assert!(
        fast.fast_path_records >= third["unchanged"].as_u64().unwrap() * 9 / 10,
        "the re-read of unchanged data takes the fast path: {} of {}",
        fast.fast_path_records,
        third["unchanged"]
    );

    assert_eq!(full.workers.len(), fast.workers.len());
    for (f, s) in full.workers.iter().zip(&fast.workers) {
        // What differs by run: ids, batch ids, the times of storing, the time of the upstream's changes
        // (the simulator stamps them with the clock), hence the bytes' hash, and the encrypted NIK's
        // random nonce (the blind index, the same NIK, is compared).
        let same_run = Model {
            id: s.id,
            nik: s.nik.clone(),
            first_batch_id: s.first_batch_id,
            last_batch_id: s.last_batch_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            upstream_updated_at: s.upstream_updated_at,
            source_hash: s.source_hash.clone(),
            ..f.clone()
        };
        assert_eq!(*s, same_run);
        assert!(s.source_hash.is_some() && f.source_hash.is_some());
    }
    assert!(
        !full.history.is_empty(),
        "renewals and revocations leave history"
    );
    assert_eq!(full.history, fast.history);
}
on_both_backends!(
    the_fast_path_decides_as_the_full_path,
    the_fast_path_decides_as_the_full_path
);
