//! A real Prometheus (Debian's package; scripts/test.sh installs it) scrapes a live server through a good
//! batch and a failing one, with the shipped alert rules: every dashboard query returns data, every rule
//! evaluates without error, and the failed-batch and failed-row alerts are pending or firing.

use crate::helpers::{spawn_app, Backend, Options};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Prometheus {
    child: Child,
    url: String,
    _dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Prometheus scraping `target` every second, evaluating the shipped rules every second.
fn start_prometheus(target: &str) -> Prometheus {
    let dir = std::env::temp_dir().join(format!("rs-prometheus-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.yml"),
        repo_file("docker/prometheus/rules.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: regnakes-sync\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let port = crate::doubles::free_port();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (scripts/test.sh installs Debian's package)");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

async fn api(client: &awc::Client, url: &str) -> Option<Value> {
    let mut response = client.get(url).send().await.ok()?;
    response.json::<Value>().limit(10 << 20).await.ok()
}

async fn query(client: &awc::Client, prometheus: &str, expr: &str) -> Vec<Value> {
    let url = format!("{prometheus}/api/v1/query?query={}", urlencode(expr));
    api(client, &url)
        .await
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn eventually<F, Fut>(what: &str, seconds: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
}

#[actix_web::test]
async fn prometheus_sees_the_batches_and_the_alerts_fire() {
    // 10 % bad records against a 5 % threshold: the full sync fails on its rejected share.
    let options = Options {
        records: 300,
        bad_share: 0.1,
        ..Options::default()
    }
    .env("SYNC_FAILURE_THRESHOLD", "0.05");
    let app = spawn_app(Backend::Postgres, options).await;
    let target = app.address.trim_start_matches("http://").to_string();
    let prometheus = start_prometheus(&target);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let ready = format!("{}/-/ready", prometheus.url);
    eventually("Prometheus ready", 30, || async {
        client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    // Zeros scraped first, so the counters' increases are seen.
    eventually("a first scrape", 30, || async {
        !query(&client, &prometheus.url, "regnakes_sync_batches_total")
            .await
            .is_empty()
    })
    .await;

    // A good batch (a window with nothing in it), then the failing one, which stays the last batch.
    let a_minute_ago = regnakes_sync::views::ts(chrono::Utc::now() - chrono::Duration::minutes(1));
    let good = app
        .sync(json!({"mode": "incremental", "updated_since": a_minute_ago}))
        .await;
    assert_eq!(good["status"], "succeeded", "{good}");
    let failing = app.sync(json!({"mode": "full"})).await;
    assert_eq!(failing["status"], "failed", "{failing}");

    // Every dashboard query returns data.
    let dashboard: Value =
        serde_json::from_str(&repo_file("docker/grafana/dashboards/regnakes-sync.json")).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    for expr in &exprs {
        eventually(&format!("data for {expr}"), 60, || async {
            !query(&client, &prometheus.url, expr).await.is_empty()
        })
        .await;
    }

    // Every rule evaluates cleanly, and the two batch alerts are pending or firing.
    let rules_url = format!("{}/api/v1/rules", prometheus.url);
    eventually("every rule evaluated without error", 30, || async {
        let Some(rules) = api(&client, &rules_url).await else {
            return false;
        };
        let all: Vec<Value> = rules["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        all.len() == 9 && all.iter().all(|r| r["health"] == "ok")
    })
    .await;
    let alerts_url = format!("{}/api/v1/alerts", prometheus.url);
    for alert in ["RegnakesSyncBatchFailed", "RegnakesSyncFailureRatioHigh"] {
        eventually(&format!("{alert} pending or firing"), 60, || async {
            api(&client, &alerts_url).await.is_some_and(|v| {
                v["data"]["alerts"].as_array().is_some_and(|alerts| {
                    alerts.iter().any(|a| {
                        a["labels"]["alertname"] == alert
                            && (a["state"] == "pending" || a["state"] == "firing")
                    })
                })
            })
        })
        .await;
    }
    drop(prometheus);
}
