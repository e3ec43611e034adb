//! What the on-call engineer relies on: the container healthcheck, readiness that answers in time when
//! the database is gone, counters that exist before their first increment, and gauges read from the
//! database, the same on every instance and after a restart.

use crate::doubles::{
    process_env, server_binary, spawn_process, wait_until_up, ExportedSpan, OtlpCollector, TcpProxy,
};
use crate::helpers::{fresh_database, init, spawn_app, spawn_server, Backend, Options};
use regnakes_sim::server::{spawn as spawn_sim, SimConfig};
use serde_json::json;
use std::time::{Duration, Instant};

fn healthcheck(listen_addr: &str) -> std::process::Output {
    std::process::Command::new(server_binary())
        .arg("healthcheck")
        .env_clear()
        .env("LISTEN_ADDR", listen_addr)
        .output()
        .expect("healthcheck runs")
}

#[actix_web::test]
async fn the_healthcheck_passes_on_a_ready_server_and_fails_on_a_stopped_one() {
    init();
    let sim = spawn_sim(SimConfig::default()).unwrap();
    let database_url = fresh_database(Backend::Postgres).await;
    let process = spawn_process(&process_env(&sim.base_url(), &database_url, &[]));
    let token = crate::helpers::token_for("ops", regnakes_sync::rpc::auth::Role::Viewer);
    wait_until_up(&process.address, &token).await;
    let listen = process.address.trim_start_matches("http://").to_string();
    let ready = healthcheck(&listen);
    assert_eq!(
        ready.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    // A server listening on every interface is asked on loopback.
    let port = listen.rsplit_once(':').unwrap().1;
    assert_eq!(
        healthcheck(&format!("0.0.0.0:{port}")).status.code(),
        Some(0)
    );
    drop(process);
    let stopped = healthcheck(&listen);
    assert_eq!(stopped.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("not ready"));
}

#[actix_web::test]
async fn readiness_answers_within_two_seconds_when_the_database_is_gone() {
    init();
    let direct = fresh_database(Backend::Postgres).await;
    // The same database, through a proxy that can be taken away.
    let (authority, rest) = direct
        .split_once('@')
        .map(|(_, r)| r.split_once('/').unwrap())
        .unwrap();
    let proxy = TcpProxy::start(authority.to_string()).await;
    let via_proxy = direct.replace(
        &format!("@{authority}/{rest}"),
        &format!("@127.0.0.1:{}/{rest}", proxy.port),
    );
    let sim = spawn_sim(SimConfig::default()).unwrap();
    let app = spawn_server(sim, via_proxy, &Options::records(10)).await;
    assert_eq!(app.get("/readyz").await.0, 200);
    proxy.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = app.get("/readyz").await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{body}");
        assert!(took < Duration::from_secs(2), "/readyz took {took:?}");
    }
    let started = Instant::now();
    let (status, _) = app.get("/metrics").await;
    assert_eq!(status, 200, "a scrape still answers");
    assert!(started.elapsed() < Duration::from_secs(2));
}

fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn counters_exist_at_zero_and_gauges_survive_a_restart_and_agree_between_instances() {
    let app = spawn_app(Backend::Postgres, Options::records(50)).await;
    let (_, metrics) = app.get("/metrics").await;
    for series in [
        r#"regnakes_upstream_requests_total{endpoint="nakes",status="500"} 0"#,
        r#"regnakes_upstream_requests_total{endpoint="token",status="error"} 0"#,
        r#"regnakes_upstream_requests_total{endpoint="nakes",status="429"} 0"#,
    ] {
        assert!(
            metrics.contains(series),
            "{series} before any request:\n{metrics}"
        );
    }
    assert_eq!(
        gauge(&metrics, "regnakes_sync_last_success_timestamp_seconds"),
        0.0
    );

    let batch = app.sync(json!({"mode": "full"})).await;
    assert_eq!(batch["status"], "succeeded");
    let status = app.ok("sync.status", json!({})).await;
    let last_success =
        chrono::DateTime::parse_from_rfc3339(status["last_success_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis() as f64
            / 1000.0;

    // A restarted instance (fresh process state) and a second one on the same database.
    let other = spawn_server(
        app.sim.clone(),
        app.database_url.clone(),
        &Options::records(50),
    )
    .await;
    let (_, metrics) = other.get("/metrics").await;
    assert_eq!(
        gauge(&metrics, "regnakes_sync_last_success_timestamp_seconds"),
        last_success
    );
    assert_eq!(gauge(&metrics, "regnakes_integration_enabled"), 1.0);

    app.ok(
        "integration.set_enabled",
        json!({"enabled": false, "reason": "maintenance"}),
    )
    .await;
    other
        .eventually("the other instance reports disabled", || async {
            gauge(
                &other.get("/metrics").await.1,
                "regnakes_integration_enabled",
            ) == 0.0
        })
        .await;
    assert_eq!(
        gauge(&app.get("/metrics").await.1, "regnakes_integration_enabled"),
        0.0
    );
}

/// Every log line of a batch carries its trace and batch ids, the retry warnings of the page fetches
/// (which run in tasks of their own) included; JSON when LOG_FORMAT=json.
#[actix_web::test]
async fn a_batchs_retry_warnings_carry_its_trace_and_batch_ids() {
    init();
    let sim = spawn_sim(SimConfig {
        records: 300,
        ..SimConfig::default()
    })
    .unwrap();
    sim.state.set_faults(regnakes_sim::FaultPlan {
        pages: std::collections::HashMap::from([(
            2,
            (regnakes_sim::Fault::Status { status: 503 }, 1),
        )]),
        ..regnakes_sim::FaultPlan::default()
    });
    let database_url = fresh_database(Backend::Postgres).await;
    let log_path = std::env::temp_dir().join(format!("rs-ops-log-{}.log", uuid::Uuid::new_v4()));
    let mut env = process_env(
        &sim.base_url(),
        &database_url,
        &[("LOG_FORMAT", "json"), ("REGNAKES_PAGE_SIZE", "100")],
    );
    env.push(("RUST_LOG".into(), "info".into()));
    let process =
        crate::doubles::spawn_process_logging(&env, std::fs::File::create(&log_path).unwrap());
    let token = crate::helpers::token_for("ops", regnakes_sync::rpc::auth::Role::Admin);
    wait_until_up(&process.address, &token).await;
    let batch_id = crate::doubles::start_sync_at(&process.address, &token, json!({})).await;
    let batch = crate::doubles::wait_batch_at(&process.address, &token, &batch_id, |_| true).await;
    let trace_id = batch["trace_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let retry_line = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("retrying")) {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no retry warning in:\n{log}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    let line: serde_json::Value = serde_json::from_str(&retry_line).expect("a JSON log line");
    // Every line honours LOG_FORMAT, the address line on stdout too (spawn_process read it as JSON).
    assert!(process.address.starts_with("http://127.0.0.1:"));
    let text = line.to_string();
    assert!(text.contains(&batch_id), "{text}");
    assert!(text.contains(&trace_id), "{text}");
    drop(process);
    let _ = std::fs::remove_file(log_path);
}

/// W3C trace context: a `sync.start` that carries a `traceparent` gets a batch in that trace, and every
/// request to RegNakes carries the batch's `traceparent` beside `X-Request-ID`; without one, the batch
/// starts a trace of its own. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the batch's spans reach an OTLP/HTTP
/// collector under the caller's trace, each page request a child of the batch.
#[actix_web::test]
async fn the_callers_trace_reaches_the_upstream_and_the_collector() {
    init();
    let sim = spawn_sim(SimConfig {
        records: 300,
        ..SimConfig::default()
    })
    .unwrap();
    let database_url = fresh_database(Backend::Postgres).await;
    let mut env = process_env(
        &sim.base_url(),
        &database_url,
        &[("REGNAKES_PAGE_SIZE", "100")],
    );
    env.push(("RUST_LOG".into(), "info".into()));
    let collector = OtlpCollector::start();
    env.push((
        "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
        collector.endpoint.clone(),
    ));
    env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()));
    let process = spawn_process(&env);
    let token = crate::helpers::token_for("ops", regnakes_sync::rpc::auth::Role::Admin);
    wait_until_up(&process.address, &token).await;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = format!("00-{TRACE}-00f067aa0ba902b7-01");
    full_sync_to_end(&process.address, &token, Some(&caller)).await;
    let traced: Vec<String> = sim
        .state
        .requests()
        .iter()
        .map(|r| r.traceparent.clone().unwrap_or_default())
        .collect();
    assert!(traced.len() >= 4, "{traced:?}");
    for traceparent in &traced {
        assert!(
            traceparent.starts_with(&format!("00-{TRACE}-")),
            "{traced:?}"
        );
        assert!(
            !traceparent.contains("00f067aa0ba902b7"),
            "the batch's own span, not the caller's"
        );
    }

    assert_batch_exported(&collector, TRACE, &traced).await;

    sim.state.clear_requests();
    full_sync_to_end(&process.address, &token, None).await;
    let own: Vec<String> = upstream_traceparents(&sim);
    assert!(!own.is_empty());
    assert!(
        own.iter()
            .all(|t| t.starts_with("00-") && !t.contains(TRACE)),
        "{own:?}"
    );
}

/// A managed collector over HTTPS (verified with `OTEL_EXPORTER_OTLP_CERTIFICATE`), gzip-compressed
/// protobuf, and a ratio sampler of 0.0 that is parent-based: a batch nobody asked to trace is exported
/// by no one, while a caller's sampled `traceparent` keeps the batch in its trace. With page spans
/// turned down (`TRACE_PAGE_SPANS=off`) the batch span is still there, and it is what RegNakes hears of.
#[actix_web::test]
async fn sampled_traces_reach_a_collector_over_https_gzipped_and_unsampled_ones_do_not() {
    init();
    let dir = crate::certs::TempDir::new("otlp");
    let ca = crate::certs::TestCa::new("Collector CA");
    let collector_cert = ca.issue("collector", &["localhost"], crate::certs::Usage::Server);
    let collector = OtlpCollector::start_with(Some(collector_cert.server_config()));
    let ca_file = ca.write(dir.path(), "collector-ca.crt");
    let sim = spawn_sim(SimConfig {
        records: 300,
        ..SimConfig::default()
    })
    .unwrap();
    let database_url = fresh_database(Backend::Postgres).await;
    let env = process_env(
        &sim.base_url(),
        &database_url,
        &[
            ("REGNAKES_PAGE_SIZE", "100"),
            ("RUST_LOG", "info"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.to_str().unwrap()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.0"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("TRACE_PAGE_SPANS", "off"),
        ],
    );
    let process = spawn_process(&env);
    let token = crate::helpers::token_for("ops", regnakes_sync::rpc::auth::Role::Admin);
    wait_until_up(&process.address, &token).await;

    // Not sampled: started without a trace (and so are every status call and poll).
    full_sync_to_end(&process.address, &token, None).await;
    let unsampled: Vec<String> = upstream_traceparents(&sim);
    assert!(!unsampled.is_empty());
    assert!(
        unsampled.iter().all(|t| t.ends_with("-00")),
        "{unsampled:?}"
    );
    sim.state.clear_requests();

    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let caller = format!("00-{TRACE}-b7ad6b7169203331-01");
    full_sync_to_end(&process.address, &token, Some(&caller)).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let spans = loop {
        let spans = collector.spans();
        if spans.iter().any(|s| s.name == "sync_batch") {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans exported: {spans:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        spans.iter().all(|s| s.trace_id == TRACE),
        "only the sampled trace: {spans:?}"
    );
    assert!(
        !spans
            .iter()
            .any(|s| s.name == "store_page" || s.name == "regnakes.fetch_page"),
        "page spans are turned down: {spans:?}"
    );
    let batch = spans.iter().find(|s| s.name == "sync_batch").unwrap();
    let request = spans
        .iter()
        .find(|s| s.span_id == batch.parent_span_id)
        .expect("the sync.start request is exported");
    assert_eq!(request.parent_span_id, "b7ad6b7169203331");
    let upstream: Vec<String> = upstream_traceparents(&sim);
    assert!(upstream.len() >= 4, "{upstream:?}");
    let expected = format!("00-{TRACE}-{}-01", batch.span_id);
    assert!(upstream.iter().all(|t| *t == expected), "{upstream:?}");
    let encodings = collector.encodings();
    assert!(
        !encodings.is_empty() && encodings.iter().all(|e| e == "gzip"),
        "{encodings:?}"
    );
}

/// The `traceparent` of every request RegNakes (the simulator) received that carried one.
fn upstream_traceparents(sim: &regnakes_sim::server::SimHandle) -> Vec<String> {
    sim.state
        .requests()
        .iter()
        .filter_map(|r| r.traceparent.clone())
        .collect()
}

/// A full sync on the server process at `address`, started by a caller in `traceparent`'s trace (or
/// in none), run to its end.
async fn full_sync_to_end(address: &str, token: &str, traceparent: Option<&str>) {
    let id =
        crate::doubles::start_traced_sync_at(address, token, json!({"mode": "full"}), traceparent)
            .await;
    crate::doubles::wait_batch_at(address, token, &id, |b| b["status"] != "running").await;
}

/// The collector holds the batch's spans in `trace`: the batch span under the RPC request that started
/// it, three `store_page` and the page requests as its children, and each upstream `traceparent` names one
/// of those page-request spans.
async fn assert_batch_exported(collector: &OtlpCollector, trace: &str, upstream: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let spans = loop {
        let spans: Vec<ExportedSpan> = collector
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == trace)
            .collect();
        let stored = spans.iter().filter(|s| s.name == "store_page").count();
        if stored >= 3 && spans.iter().any(|s| s.name == "sync_batch") {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans exported: {spans:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        spans.iter().all(|s| s.service == "regnakes-sync"),
        "{spans:?}"
    );
    let batch = spans.iter().find(|s| s.name == "sync_batch").unwrap();
    let request = spans
        .iter()
        .find(|s| s.span_id == batch.parent_span_id)
        .expect("the batch's parent (the sync.start request) is exported");
    assert_eq!(request.parent_span_id, "00f067aa0ba902b7", "{request:?}");
    let fetches: Vec<&ExportedSpan> = spans
        .iter()
        .filter(|s| s.name == "regnakes.fetch_page")
        .collect();
    // Three pages stored; read by key, which asks again from the last instant read: four requests; and
    // a complete full read asks what changed while it ran (who is not missing): five.
    assert_eq!(fetches.len(), 5, "{spans:?}");
    for child in spans
        .iter()
        .filter(|s| s.name == "store_page" || s.name == "regnakes.fetch_page")
    {
        assert_eq!(child.parent_span_id, batch.span_id, "{child:?}");
    }
    for traceparent in upstream.iter().filter(|t| !t.is_empty()) {
        let parent = traceparent.split('-').nth(2).unwrap_or_default();
        assert!(
            spans.iter().any(|s| s.span_id == parent),
            "{traceparent} names an exported span"
        );
    }
}
