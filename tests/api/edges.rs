//! The RPC surface's edges as an attacker meets them (issue 17, CONTRACT §3 and §5): EdDSA tokens and the
//! old shared secret, short keys, the body's size, method and arrival time, a token in the query string,
//! and the memory that many heavy readers at once may take.

use crate::doubles::{
    process_env, server_binary, spawn_process, spawn_process_logging, start_sync_at, wait_batch_at,
};
use crate::helpers::{fresh_database, init, Backend};
use regnakes_sim::server::{spawn as spawn_sim, SimConfig};
use regnakes_sync::rpc::auth::{Role, TokenSigner};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A plain HTTP/1.1 exchange on a fresh connection: the status line and the body.
fn exchange(address: &str, request: &str) -> (String, String) {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_string(), body.to_string())
}

async fn sim_and_database() -> (regnakes_sim::SimHandle, String) {
    init();
    let sim = spawn_sim(SimConfig {
        records: 400,
        bad_share: 0.5,
        seed: 3,
        ..SimConfig::default()
    })
    .expect("simulator");
    (sim, fresh_database(Backend::Sqlite).await)
}

#[actix_web::test]
async fn eddsa_tokens_are_accepted_and_the_old_secret_is_not_once_it_is_gone() {
    let (sim, database_url) = sim_and_database().await;
    let odoo = TokenSigner::generate_ed25519();
    let public = odoo.public_key().unwrap();
    let mut env = process_env(
        &sim.base_url(),
        &database_url,
        &[("RPC_JWT_PUBLIC_KEY", &public)],
    );
    env.retain(|(k, _)| k != "RPC_JWT_SECRET");
    let server = spawn_process(&env);
    let status = |token: String| {
        let address = server.address.clone();
        async move {
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "sync.status", "params": {}})
                .to_string();
            let request = format!(
                "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            exchange(&address, &request)
        }
    };
    let (head, body) = status(odoo.issue("siti", Role::Viewer, 60)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    let old = crate::helpers::token_for("siti", Role::Admin);
    let (head, body) = status(old).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(body.contains("HS256"), "{body}");
    let stranger = TokenSigner::generate_ed25519().issue("siti", Role::Admin, 60);
    let (head, body) = status(stranger).await;
    assert!(
        head.starts_with("HTTP/1.1 401") && body.contains("bad signature"),
        "{body}"
    );
}

#[test]
fn serve_with_a_short_key_stops_naming_it() {
    for key in ["RPC_JWT_SECRET", "NIK_INDEX_KEY", "ODOO_NOTIFY_SECRET"] {
        let mut env = process_env("http://127.0.0.1:9", "sqlite::memory:", &[(key, "short")]);
        env.push(("ODOO_NOTIFY_URL".into(), "http://127.0.0.1:9/n".into()));
        let output = std::process::Command::new(server_binary())
            .arg("serve")
            .env_clear()
            .envs(env)
            .output()
            .expect("the server runs");
        assert!(!output.status.success(), "{key}: started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(key) && stderr.contains("32"),
            "{key}: {stderr}"
        );
        assert!(!stderr.contains("short\""), "{key}: the key printed");
    }
}

#[actix_web::test]
async fn the_envelope_refuses_oversize_other_methods_and_slow_bodies_in_json() {
    let (sim, database_url) = sim_and_database().await;
    let log = tempfile_path("edges-log");
    let server = spawn_process_logging(
        &process_env(&sim.base_url(), &database_url, &[("RUST_LOG", "info")]),
        std::fs::File::create(&log).unwrap(),
    );
    let token = crate::helpers::token_for("siti", Role::Viewer);
    // Over 1 MiB: 413 with a JSON-RPC body.
    let big = format!("[{}]", "1,".repeat(600_000) + "1");
    let (head, body) = exchange(
        &server.address,
        &format!(
            "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        ),
    );
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(answer["error"]["code"], -32600);
    // Other methods: 405, Allow: POST, JSON.
    for method in ["GET", "PUT", "DELETE"] {
        let (head, body) = exchange(
            &server.address,
            &format!("{method} /jsonrpc HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 405"), "{method}: {head}");
        assert!(head.to_ascii_lowercase().contains("allow: post"), "{head}");
        let answer: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(answer["error"]["code"], -32600);
    }
    // A body that never arrives ends its connection within the deadline (10 s), with a JSON answer.
    let started = Instant::now();
    let (head, body) = exchange(
        &server.address,
        &format!(
            "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
        ),
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?} {head} {body}",
        started.elapsed()
    );
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(body.contains("-32600"), "{body}");
    // A token in the query string is never written to the log (the refusal is logged in the request's
    // span, which names its target).
    let (head, _) = exchange(
        &server.address,
        &format!("POST /jsonrpc?access_token={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("refused: authentication") {
            assert!(text.contains("/jsonrpc"), "the span names its target");
            assert!(!text.contains(&token[..40]), "the token is in the log");
            break;
        }
        assert!(Instant::now() < deadline, "no request logged: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("regnakes-sync-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}-{}.log", uuid::Uuid::new_v4().simple()))
}

/// Resident and peak memory of a process, in MB (`/proc/<pid>/status`).
fn memory_mb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// 16 viewers at once, each a 50-call batch of `batch.errors` at limit 200: the process stays within
/// 150 MB, is back under 100 MB within a minute, and every caller is answered or told to retry.
#[actix_web::test]
async fn many_heavy_readers_at_once_stay_within_a_bounded_memory() {
    init();
    let sim = spawn_sim(SimConfig {
        records: 1200,
        bad_share: 0.4,
        seed: 5,
        ..SimConfig::default()
    })
    .expect("simulator");
    let database_url = fresh_database(Backend::Sqlite).await;
    let server = spawn_process(&process_env(
        &sim.base_url(),
        &database_url,
        &[("SYNC_FAILURE_THRESHOLD", "1")],
    ));
    let admin = crate::helpers::token_for("admin", Role::Admin);
    let id = start_sync_at(&server.address, &admin, json!({"mode": "full"})).await;
    let batch = wait_batch_at(&server.address, &admin, &id, |b| b["status"] != "running").await;
    assert!(batch["rejected"].as_i64().unwrap() >= 200, "{batch}");
    let calls: Vec<Value> = (0..50)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "batch.errors", "params": {"batch_id": id, "limit": 200}}))
        .collect();
    let body = Value::Array(calls).to_string();
    let pid = server.child.id();
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let address = server.address.clone();
            let body = body.clone();
            let token = crate::helpers::token_for(&format!("viewer-{i}"), Role::Viewer);
            std::thread::spawn(move || {
                exchange(
                    &address,
                    &format!(
                        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                )
            })
        })
        .collect();
    let mut answered = 0;
    for handle in handles {
        let (head, body) = handle.join().unwrap();
        if head.starts_with("HTTP/1.1 200") {
            let answers: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(answers.as_array().unwrap().len(), 50);
            answered += 1;
        } else {
            assert!(
                head.starts_with("HTTP/1.1 429")
                    && head.to_ascii_lowercase().contains("retry-after"),
                "{head}"
            );
        }
    }
    assert!(answered >= 1, "nobody answered");
    let (_, peak) = memory_mb(pid);
    assert!(peak <= 150, "peak RSS {peak} MB");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (rss, _) = memory_mb(pid);
        if rss < 100 {
            break;
        }
        assert!(Instant::now() < deadline, "still {rss} MB a minute later");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The server's allocator is jemalloc with the settings its peak RSS was measured with (`allocator.rs`):
/// a crate update that renamed the symbol it reads them from would drop them without a word.
#[test]
fn the_server_allocates_with_jemalloc_as_configured() {
    let output = std::process::Command::new(server_binary())
        .arg("--help")
        .env("_RJEM_MALLOC_CONF", "confirm_conf:true")
        .output()
        .expect("the server runs");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for setting in ["narenas:2", "dirty_decay_ms:1000", "muzzy_decay_ms:0"] {
        assert!(
            stderr.contains(&format!("Set conf value: {setting}")),
            "{setting} not applied: {stderr}"
        );
    }
}
