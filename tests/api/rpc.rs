//! The JSON-RPC surface (CONTRACT §3): every method, every error code, params validation, request ids.

use crate::helpers::{spawn_app, Backend, Options, TestApp, JWT_SECRET};
use regnakes_sync::domain::batch::Mode;
use sea_orm::EntityTrait;
use serde_json::{json, Value};

fn code(body: &Value) -> i64 {
    body["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error: {body}"))
}

fn jwt(claims: Value, secret: &str) -> String {
    use jsonwebtoken_like::sign;
    sign(&claims, secret)
}

/// Minimal HS256 signing for crafted tokens (wrong audience, missing exp, …).
mod jsonwebtoken_like {
    pub fn sign(claims: &serde_json::Value, secret: &str) -> String {
        regnakes_sync::rpc::auth::sign_claims(claims, secret)
    }
}

#[actix_web::test]
async fn auth_errors_are_401_with_jsonrpc_body() {
    let app = spawn_app(Backend::Sqlite, Options::records(10)).await;
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"sync.status","params":{}}"#;
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("not bearer", Some("Basic dXNlcjpwYXNz".into())),
        ("garbage", Some("Bearer not-a-jwt".into())),
        (
            "wrong secret",
            Some(format!(
                "Bearer {}",
                jwt(
                    json!({"aud": "sdmk-regnakes", "exp": now + 60, "sub": "x"}),
                    "other"
                )
            )),
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                jwt(
                    json!({"aud": "odoo", "exp": now + 60, "sub": "x"}),
                    JWT_SECRET
                )
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                jwt(
                    json!({"aud": "sdmk-regnakes", "exp": now - 600, "sub": "x"}),
                    JWT_SECRET
                )
            )),
        ),
        (
            "no exp",
            Some(format!(
                "Bearer {}",
                jwt(json!({"aud": "sdmk-regnakes", "sub": "x"}), JWT_SECRET)
            )),
        ),
    ];
    for (name, header) in cases {
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|h| ("Authorization", h.as_str()))
            .collect();
        let response = app.post_raw(body, &headers).await;
        assert_eq!(response.status, 401, "{name}");
        assert_eq!(code(&response.body), -32001, "{name}: {}", response.body);
        assert_eq!(response.body["jsonrpc"], "2.0");
        assert!(response.headers.contains_key("x-request-id"), "{name}");
    }
}

#[actix_web::test]
async fn rate_limit_answers_429_with_retry_after() {
    let options = Options::records(10)
        .env("RPC_RATE_LIMIT_PER_SECOND", "1")
        .env("RPC_RATE_LIMIT_BURST", "3");
    let app = spawn_app(Backend::Sqlite, options).await;
    let mut limited = None;
    for _ in 0..10 {
        let auth = format!("Bearer {}", app.token);
        let response = app
            .post_raw(
                r#"{"jsonrpc":"2.0","id":1,"method":"sync.status"}"#,
                &[("Authorization", &auth)],
            )
            .await;
        if response.status == 429 {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("the 4th call within a second is limited");
    assert_eq!(code(&response.body), -32029);
    let retry_after: u64 = response
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after));
}

#[actix_web::test]
async fn protocol_errors_have_their_codes() {
    let app = spawn_app(Backend::Sqlite, Options::records(10)).await;
    let auth = format!("Bearer {}", app.token);
    let cases = [
        ("not json", "{\"jsonrpc\": ", -32700),
        ("not an object", "42", -32600),
        ("no version", r#"{"id":1,"method":"sync.status"}"#, -32600),
        (
            "method not a string",
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
            -32600,
        ),
        (
            "unknown method",
            r#"{"jsonrpc":"2.0","id":1,"method":"sync.explode"}"#,
            -32601,
        ),
        (
            "params an array",
            r#"{"jsonrpc":"2.0","id":1,"method":"sync.status","params":[1]}"#,
            -32602,
        ),
        ("empty batch", "[]", -32600),
    ];
    for (name, body, expected) in cases {
        let response = app.post_raw(body, &[("Authorization", &auth)]).await;
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(code(&response.body), expected, "{name}: {}", response.body);
    }
    // A batch of calls gets a batch of answers, in order; notifications get none.
    let response = app
        .post_raw(
            r#"[{"jsonrpc":"2.0","id":"a","method":"sync.status"},{"jsonrpc":"2.0","method":"sync.status"},{"jsonrpc":"2.0","id":"b","method":"nope"}]"#,
            &[("Authorization", &auth)],
        )
        .await;
    let answers = response.body.as_array().expect("batch answer");
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["id"], "a");
    assert!(answers[0]["result"]["enabled"].as_bool().unwrap());
    assert_eq!(answers[1]["id"], "b");
    assert_eq!(code(&answers[1]), -32601);
}

#[actix_web::test]
async fn invalid_params_name_the_param() {
    let app = spawn_app(Backend::Sqlite, Options::records(10)).await;
    let cases = [
        ("sync.start", json!({"mode": "sometimes"}), "mode"),
        (
            "sync.start",
            json!({"professions": ["tukang_pijat"]}),
            "professions",
        ),
        ("sync.start", json!({"professions": "bidan"}), "professions"),
        (
            "sync.start",
            json!({"updated_since": "yesterday"}),
            "updated_since",
        ),
        ("sync.start", json!({"trigger": "schedule"}), "trigger"),
        ("sync.start", json!({"colour": "red"}), "colour"),
        ("sync.cancel", json!({}), "batch_id"),
        ("sync.cancel", json!({"batch_id": "42"}), "batch_id"),
        ("batch.list", json!({"limit": 500}), "limit"),
        ("batch.list", json!({"limit": "ten"}), "limit"),
        ("batch.list", json!({"offset": -1}), "offset"),
        ("batch.list", json!({"status": "exploded"}), "status"),
        ("batch.get", json!({"batch_id": 12}), "batch_id"),
        ("batch.errors", json!({"batch_id": "x"}), "batch_id"),
        ("integration.set_enabled", json!({}), "enabled"),
        (
            "integration.set_enabled",
            json!({"enabled": "yes"}),
            "enabled",
        ),
        (
            "worker.search",
            json!({"profession": "astronaut"}),
            "profession",
        ),
        ("worker.search", json!({"limit": 0}), "limit"),
    ];
    for (method, params, param) in cases {
        let body = app.call(method, params.clone()).await;
        assert_eq!(code(&body), -32602, "{method} {params}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(param),
            "{method} {params}: message {message:?} names {param}"
        );
    }
}

#[actix_web::test]
async fn request_id_is_echoed_or_made() {
    let app = spawn_app(Backend::Sqlite, Options::records(10)).await;
    let auth = format!("Bearer {}", app.token);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"sync.status"}"#;
    let given = app
        .post_raw(
            body,
            &[("Authorization", &auth), ("X-Request-ID", "odoo-req-123")],
        )
        .await;
    assert_eq!(given.headers.get("x-request-id").unwrap(), "odoo-req-123");
    let made = app.post_raw(body, &[("Authorization", &auth)]).await;
    assert!(made.headers.get("x-request-id").unwrap().len() >= 32);
    // A sync started with a request id carries it as the batch trace id, and upstream requests extend it.
    let start =
        json!({"jsonrpc":"2.0","id":1,"method":"sync.start","params":{"mode":"full"}}).to_string();
    let started = app
        .post_raw(
            &start,
            &[("Authorization", &auth), ("X-Request-ID", "odoo-sync-77")],
        )
        .await;
    let batch = &started.body["result"]["batch"];
    assert_eq!(batch["trace_id"], "odoo-sync-77");
    app.wait_batch(batch["id"].as_str().unwrap()).await;
    let ids: Vec<String> = app
        .sim
        .state
        .requests()
        .into_iter()
        .filter_map(|r| r.request_id)
        .collect();
    assert!(ids.iter().any(|id| id == "odoo-sync-77/p1"), "{ids:?}");
    assert!(ids.iter().any(|id| id == "odoo-sync-77/token"), "{ids:?}");
}

/// A server on 400 generated records (10% bad), pages of 100.
async fn app_of_400(backend: Backend) -> TestApp {
    spawn_app(
        backend,
        Options {
            records: 400,
            bad_share: 0.1,
            seed: 3,
            page_size: 100,
            ..Options::default()
        },
    )
    .await
}

/// `app_of_400` after one full sync, and that batch.
async fn synced_app(backend: Backend) -> (TestApp, Value) {
    let app = app_of_400(backend).await;
    let batch = app.sync(json!({"mode": "full", "trigger": "cron"})).await;
    (app, batch)
}

/// sync.status before and after a sync, and sync.start's `Batch`.
async fn sync_status_and_start(backend: Backend) {
    let app = app_of_400(backend).await;
    let status = app.ok("sync.status", json!({})).await;
    assert_eq!(status["enabled"], true);
    assert!(
        status["running"].is_null() && status["last"].is_null() && status["watermark"].is_null()
    );
    assert!(status["next_run_at"].is_null(), "SYNC_SCHEDULE=off");

    let batch = app.sync(json!({"mode": "full", "trigger": "cron"})).await;
    let id = batch["id"].as_str().unwrap().to_string();
    for key in [
        "id",
        "trace_id",
        "trigger",
        "mode",
        "status",
        "started_at",
        "finished_at",
        "duration_ms",
        "pages",
        "received",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "failure_rate",
        "error",
    ] {
        assert!(batch.get(key).is_some(), "Batch has {key}: {batch}");
    }
    assert_eq!(batch["trigger"], "cron");
    let rate = batch["failure_rate"].as_f64().unwrap();
    assert!((rate - batch["rejected"].as_f64().unwrap() / 400.0).abs() < 1e-9);

    let status = app.ok("sync.status", json!({})).await;
    assert_eq!(status["last"]["id"], json!(id));
    assert!(status["last_success_at"].is_string() && status["watermark"].is_string());
}
crate::on_both_backends!(sync_status_and_start, sync_status_and_start);

/// batch.list, batch.get and batch.errors.
async fn batch_methods(backend: Backend) {
    let (app, batch) = synced_app(backend).await;
    let id = batch["id"].as_str().unwrap().to_string();
    let listed = app.ok("batch.list", json!({"limit": 5})).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["batches"][0]["id"], json!(id));
    let by_status = app.ok("batch.list", json!({"status": "cancelled"})).await;
    assert_eq!(by_status["total"], 0);
    let unknown = app
        .call(
            "batch.get",
            json!({"batch_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(code(&unknown), -32004);
    let unknown = app
        .call(
            "batch.errors",
            json!({"batch_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(code(&unknown), -32004);

    let errors = app
        .ok("batch.errors", json!({"batch_id": id, "limit": 3}))
        .await;
    assert_eq!(errors["total"], batch["rejected"]);
    assert_eq!(errors["errors"].as_array().unwrap().len(), 3);
    for key in ["str_number", "reason", "message", "page", "raw"] {
        assert!(errors["errors"][0].get(key).is_some(), "error has {key}");
    }
}
crate::on_both_backends!(batch_methods, batch_methods);

/// worker.search by name, STR, full NIK and profession; the NIK never in clear.
async fn worker_search(backend: Backend) {
    let (app, batch) = synced_app(backend).await;
    // worker.search: by name, by STR, by full NIK (matched through the blind index), by profession.
    let all = app.ok("worker.search", json!({"limit": 200})).await;
    assert_eq!(all["total"], batch["inserted"]);
    let first = all["workers"][0].clone();
    for key in [
        "id",
        "str_number",
        "name",
        "profession",
        "str_status",
        "str_valid_until",
        "birth_place",
        "nik_masked",
        "updated_at",
    ] {
        assert!(first.get(key).is_some(), "worker has {key}");
    }
    let by_str = app
        .ok("worker.search", json!({"query": first["str_number"]}))
        .await;
    assert_eq!(by_str["workers"][0]["id"], first["id"]);
    let given_name = first["name"]
        .as_str()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let by_name = app
        .ok("worker.search", json!({"query": given_name.to_uppercase()}))
        .await;
    assert!(
        by_name["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == first["id"]),
        "{given_name}"
    );
    let nik: String = {
        use sea_orm::EntityTrait;
        let id = uuid::Uuid::parse_str(first["id"].as_str().unwrap()).unwrap();
        let stored = entity::health_worker::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .nik;
        crate::helpers::test_indexer().reveal(&stored).unwrap()
    };
    let by_nik = app.ok("worker.search", json!({"query": nik})).await;
    assert!(by_nik["workers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == first["id"]));
    assert!(
        !by_nik.to_string().contains(&nik),
        "results never show the NIK in clear"
    );
    let bidan = app
        .ok(
            "worker.search",
            json!({"profession": "bidan", "limit": 200}),
        )
        .await;
    assert!(bidan["workers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["profession"] == "bidan"));
}
crate::on_both_backends!(worker_search, worker_search);

/// The query plan of `worker.search`'s filter, as text (SQLite's `EXPLAIN QUERY PLAN`; PostgreSQL's
/// `EXPLAIN` with sequential scans priced out, so it shows what the indexes can serve).
async fn plan(app: &TestApp, name: &str, str_number: &str, nik_index: &str) -> String {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let backend = app.db.get_database_backend();
    // One connection for the setting and the plan.
    let txn = app.db.begin().await.unwrap();
    let (prefix, name_term) = match backend {
        DbBackend::Sqlite => (
            "EXPLAIN QUERY PLAN",
            format!("health_worker.rowid IN (SELECT rowid FROM health_worker_name WHERE name_norm LIKE '%{name}%')"),
        ),
        _ => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap();
            ("EXPLAIN", format!("name_norm LIKE '%{name}%'"))
        }
    };
    let sql = format!(
        "{prefix} SELECT id FROM health_worker WHERE str_number = '{str_number}' OR {name_term} OR nik_index = '{nik_index}'"
    );
    let rows = txn
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|r| {
            r.try_get_by_index::<String>(match backend {
                DbBackend::Sqlite => 3,
                _ => 0,
            })
            .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// worker.search finds an exact NIK, an exact STR and a part of a name through indexes (the unique STR
/// index, the NIK blind index, a trigram index of names), with the results a scan gives.
async fn worker_search_uses_indexes(backend: Backend) {
    let (app, _) = synced_app(backend).await;
    let stored = entity::health_worker::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let worker = &stored[stored.len() / 2];
    let name = worker.name_norm.split(' ').next().unwrap().to_string();
    let text = plan(&app, &name, &worker.str_number, &worker.nik_index).await;
    assert!(
        !text.contains("SCAN health_worker\n")
            && !text.ends_with("SCAN health_worker")
            && !text.contains("Seq Scan"),
        "{text}"
    );
    // The same workers as a scan of the names finds.
    let found = app
        .ok("worker.search", json!({"query": name, "limit": 200}))
        .await;
    let mut ids: Vec<String> = found["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = stored
        .iter()
        .filter(|w| w.name_norm.contains(&name) || w.str_number == name)
        .map(|w| w.id.to_string())
        .collect();
    expected.sort();
    assert_eq!(ids, expected, "{name}");
    assert_eq!(found["total"], json!(expected.len()));
    let by_str = app
        .ok("worker.search", json!({"query": worker.str_number}))
        .await;
    assert!(by_str["workers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == json!(worker.id)));
    // A renamed worker is found by the new name only (the index follows updates).
    app.sim.state.advance(&regnakes_sim::dataset::AdvanceSpec {
        changed: 30,
        new_workers: 10,
        ..Default::default()
    });
    app.sync(json!({"mode": "incremental"})).await;
    for w in entity::health_worker::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
    {
        let first = w.name_norm.split(' ').next().unwrap();
        let found = app
            .ok("worker.search", json!({"query": w.name_norm, "limit": 200}))
            .await;
        assert!(
            found["workers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == json!(w.id)),
            "{first}: {found}"
        );
    }
}
crate::on_both_backends!(worker_search_uses_indexes, worker_search_uses_indexes);

/// integration.set_enabled: audited; a disabled integration refuses sync.start and records a scheduled
/// fire as skipped, once.
async fn integration_set_enabled(backend: Backend) {
    let (app, batch) = synced_app(backend).await;
    let id = batch["id"].as_str().unwrap().to_string();
    // Disabling is audited; sync.start is then refused, and a scheduled fire is recorded as skipped once.
    assert_eq!(
        app.ok(
            "integration.set_enabled",
            json!({"enabled": false, "reason": "maintenance"})
        )
        .await["enabled"],
        false
    );
    let audited = app
        .scalar("SELECT COUNT(*) FROM integration_audit WHERE actor = 'admin.sdmk' AND action = 'integration.set_enabled'")
        .await;
    assert_eq!(audited, 1);
    let refused = app.call("sync.start", json!({})).await;
    assert_eq!(code(&refused), -32010);
    let slot = chrono::Utc::now();
    app.service
        .run_scheduled(slot, Mode::Incremental)
        .await
        .unwrap();
    app.service
        .run_scheduled(slot, Mode::Incremental)
        .await
        .unwrap();
    let skipped = app.ok("batch.list", json!({"status": "skipped"})).await;
    assert_eq!(skipped["total"], 1);
    assert_eq!(skipped["batches"][0]["trigger"], "schedule");
    let status = app.ok("sync.status", json!({})).await;
    assert_eq!(status["enabled"], false);
    // Who switched it off, when and why: the dashboard says it.
    assert_eq!(status["enabled_changed_by"], "admin.sdmk");
    assert_eq!(status["enabled_reason"], "maintenance");
    assert!(status["enabled_changed_at"].is_string(), "{status}");
    assert_eq!(
        status["last"]["id"],
        json!(id),
        "a skipped fire is not the last sync"
    );
    app.ok("integration.set_enabled", json!({"enabled": true}))
        .await;
}
crate::on_both_backends!(integration_set_enabled, integration_set_enabled);

/// sync.cancel of an unknown batch, and of a finished one (no change).
async fn sync_cancel(backend: Backend) {
    let (app, batch) = synced_app(backend).await;
    let id = batch["id"].as_str().unwrap().to_string();
    // Cancel of an unknown batch; of a finished batch (no change).
    assert_eq!(
        code(
            &app.call(
                "sync.cancel",
                json!({"batch_id": uuid::Uuid::new_v4().to_string()})
            )
            .await
        ),
        -32004
    );
    let unchanged = app.ok("sync.cancel", json!({"batch_id": id})).await;
    assert_eq!(unchanged["batch"]["status"], batch["status"]);
}
crate::on_both_backends!(sync_cancel, sync_cancel);

#[actix_web::test]
async fn internal_errors_do_not_leak() {
    let app = spawn_app(
        Backend::Sqlite,
        Options {
            records: 40,
            bad_share: 0.5,
            ..Options::default()
        },
    )
    .await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("DROP TABLE batch_issue")
        .await
        .unwrap();
    let batch = app.sync(json!({})).await;
    assert_eq!(
        batch["status"], "failed",
        "storage failure fails the batch: {batch}"
    );
    let body = app
        .call("batch.errors", json!({"batch_id": batch["id"]}))
        .await;
    assert_eq!(code(&body), -32603);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("batch_issue") && !message.to_lowercase().contains("sql"),
        "{message}"
    );
}

/// The metric samples of `/metrics`: `name{labels}` → value.
pub(crate) fn samples(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(name, value)| Some((name.to_string(), value.parse().ok()?)))
        .collect()
}

/// The probes answer, and after one sync every counter says what the batch did: records by outcome,
/// rejections by reason, the batch by status, the page requests, the failure ratio.
#[actix_web::test]
async fn probes_and_metrics() {
    let app = spawn_app(
        Backend::Sqlite,
        Options {
            records: 50,
            bad_share: 0.2,
            page_size: 20,
            ..Options::default()
        },
    )
    .await;
    let before = samples(&app.get("/metrics").await.1);
    assert_eq!(
        before["regnakes_sync_records_total{outcome=\"inserted\"}"],
        0.0
    );
    let batch = app.sync(json!({})).await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    let m = samples(&text);
    let count = |key: &str| batch[key].as_f64().unwrap();
    for outcome in ["inserted", "updated", "unchanged", "rejected"] {
        let name = format!("regnakes_sync_records_total{{outcome=\"{outcome}\"}}");
        assert_eq!(m[&name], count(outcome), "{name}\n{text}");
    }
    assert!(count("rejected") > 0.0, "{batch}");
    let rejected: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("regnakes_sync_rejected_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(rejected, count("rejected"));
    for (name, value) in m
        .iter()
        .filter(|(k, _)| k.starts_with("regnakes_sync_batches_total{"))
    {
        let this = name.contains(&format!("\"{}\"", batch["status"].as_str().unwrap()));
        assert_eq!(*value, if this { 1.0 } else { 0.0 }, "{name}");
    }
    // 50 records in pages of 20, 7 sharing each instant: a read by key asks again from the last
    // instant it read, so it takes 20, 14, 14 and 2 new records in four requests (three pages stored).
    let pages = app.page_requests().len() as f64;
    assert_eq!(pages, 4.0, "50 records in requests of 20, by key");
    assert_eq!(batch["pages"], json!(3));
    assert_eq!(
        m["regnakes_upstream_requests_total{endpoint=\"nakes\",status=\"200\"}"],
        pages
    );
    assert_eq!(
        m["regnakes_upstream_requests_total{endpoint=\"token\",status=\"200\"}"],
        1.0
    );
    assert_eq!(m["regnakes_upstream_retries_total"], 0.0);
    assert_eq!(
        m["regnakes_sync_last_batch_failure_ratio"],
        count("failure_rate")
    );
    assert_eq!(m["regnakes_sync_batch_duration_seconds_count"], 1.0);
    assert!(m["regnakes_sync_last_success_timestamp_seconds"] > 0.0);
    assert_eq!(m["regnakes_sync_running"], 0.0);
    assert_eq!(m["regnakes_integration_enabled"], 1.0);
    assert!(!text.contains(crate::helpers::JWT_SECRET) && !text.contains("sim-secret"));
}

/// CONTRACT §3 roles: a viewer (or a token naming no role) reads everything and changes nothing; an admin acts.
#[actix_web::test]
async fn roles_limit_what_a_caller_may_change() {
    let app = spawn_app(Backend::Sqlite, Options::records(20)).await;
    let now = chrono::Utc::now().timestamp();
    let viewer = crate::helpers::token_for("verifikator", regnakes_sync::rpc::auth::Role::Viewer);
    let no_roles = jwt(
        json!({"aud": "sdmk-regnakes", "exp": now + 60, "sub": "staff"}),
        JWT_SECRET,
    );
    let unknown_role = jwt(
        json!({"aud": "sdmk-regnakes", "exp": now + 60, "sub": "staff", "roles": ["admin"]}),
        JWT_SECRET,
    );
    let acting = [
        ("sync.start", json!({"mode": "full"})),
        (
            "sync.cancel",
            json!({"batch_id": "00000000-0000-0000-0000-000000000000"}),
        ),
        (
            "integration.set_enabled",
            json!({"enabled": false, "reason": "x"}),
        ),
    ];
    let reading = [
        ("sync.status", json!({})),
        ("batch.list", json!({})),
        ("worker.search", json!({"query": "a"})),
    ];
    let call_as = |token: &str, method: &str, params: &Value| {
        let auth = format!("Bearer {token}");
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let app = &app;
        async move {
            app.post_raw(&body.to_string(), &[("Authorization", &auth)])
                .await
        }
    };
    for token in [&viewer, &no_roles, &unknown_role] {
        for (method, params) in &acting {
            let response = call_as(token, method, params).await;
            assert_eq!(response.status, 403, "{method}: {}", response.body);
            assert_eq!(code(&response.body), -32003, "{method}");
            assert!(
                response.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("regnakes.admin"),
                "{method}: the refusal names the role: {}",
                response.body
            );
        }
        for (method, params) in &reading {
            let response = call_as(token, method, params).await;
            assert_eq!(response.status, 200, "{method}: {}", response.body);
            assert!(response.body.get("result").is_some(), "{method}");
        }
    }
    // Nothing the viewers tried took effect: no batch, still enabled.
    let status = app.ok("sync.status", json!({})).await;
    assert_eq!(status["enabled"], true);
    assert!(status["last"].is_null(), "{status}");
    // In a batch, each refused call is answered in place.
    let auth = format!("Bearer {viewer}");
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "sync.start", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "sync.status", "params": {}}
    ]);
    let response = app
        .post_raw(&batch.to_string(), &[("Authorization", &auth)])
        .await;
    assert_eq!(code(&response.body[0]), -32003);
    assert!(response.body[1].get("result").is_some());
    // The admin token of the suite acts.
    let started = app.ok("sync.start", json!({"mode": "full"})).await;
    let finished = app
        .wait_batch(started["batch"]["id"].as_str().unwrap())
        .await;
    assert_eq!(finished["status"], "succeeded");
}
