//! The RPC surface as an attacker tries it (CONTRACT §3): batch size and per-call charging, token rules
//! that name the claim at fault, limits per caller and per failing address, control characters in every
//! string param, and duplicated professions.

use crate::helpers::{spawn_app, Backend, Options, TestApp, JWT_SECRET};
use serde_json::{json, Value};

fn jwt(claims: Value) -> String {
    regnakes_sync::rpc::auth::sign_claims(&claims, JWT_SECRET)
}

fn call(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

async fn post_as(app: &TestApp, token: &str, body: &Value) -> crate::helpers::RawResponse {
    app.post_raw(
        &body.to_string(),
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .await
}

#[actix_web::test]
async fn a_batch_holds_at_most_50_calls_and_each_is_charged() {
    let options = Options::records(10)
        .env("RPC_RATE_LIMIT_PER_SECOND", "1")
        .env("RPC_RATE_LIMIT_BURST", "60");
    let app = spawn_app(Backend::Sqlite, options).await;
    let batch = |n: usize| Value::Array((0..n).map(|_| call("sync.status", json!({}))).collect());

    // Too long a batch is refused as such, whatever its length, before anything is charged.
    for n in [51, 2001] {
        let refused = post_as(&app, &app.token, &batch(n)).await;
        assert_eq!(refused.status, 200, "{n}: {}", refused.body);
        assert_eq!(refused.body["error"]["code"], -32600, "{}", refused.body);
        assert!(refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("50"));
    }
    // The burst of 60 is whole: a 50-call batch is answered, and 10 are left…
    let answered = post_as(&app, &app.token, &batch(50)).await;
    assert_eq!(answered.status, 200, "{}", answered.body);
    // …so the next 50-call batch is refused whole…
    let limited = post_as(&app, &app.token, &batch(50)).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    // …and another caller (its own budget) gets its 50 answers.
    let other = crate::helpers::token_for("budi", regnakes_sync::rpc::auth::Role::Viewer);
    let answered = post_as(&app, &other, &batch(50)).await;
    assert_eq!(answered.status, 200);
    assert_eq!(answered.body.as_array().unwrap().len(), 50);
    // It was charged 50: ten more single calls pass, the eleventh is limited.
    let mut passed = 0;
    for _ in 0..11 {
        if post_as(&app, &other, &call("sync.status", json!({})))
            .await
            .status
            == 200
        {
            passed += 1;
        }
    }
    assert_eq!(passed, 10);
}

#[actix_web::test]
async fn token_rules_name_the_claim_at_fault() {
    let app = spawn_app(Backend::Sqlite, Options::records(10)).await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            "no sub",
            json!({"aud": "sdmk-regnakes", "exp": now + 60}),
            "`sub`",
        ),
        (
            "empty sub",
            json!({"aud": "sdmk-regnakes", "exp": now + 60, "sub": ""}),
            "`sub`",
        ),
        (
            "control character in sub",
            json!({"aud": "sdmk-regnakes", "exp": now + 60, "sub": "admin\u{0007}"}),
            "`sub`",
        ),
        (
            "sub too long",
            json!({"aud": "sdmk-regnakes", "exp": now + 60, "sub": "x".repeat(129)}),
            "`sub`",
        ),
        (
            "not valid yet",
            json!({"aud": "sdmk-regnakes", "exp": now + 600, "nbf": now + 300, "sub": "x"}),
            "`nbf`",
        ),
        (
            "lives longer than 24 h",
            json!({"aud": "sdmk-regnakes", "iat": now, "exp": now + 25 * 3600, "sub": "x"}),
            "`exp`",
        ),
        (
            "year 9999",
            json!({"aud": "sdmk-regnakes", "exp": 253_402_300_799_i64, "sub": "x"}),
            "`exp`",
        ),
        (
            "wrong audience",
            json!({"aud": "odoo", "exp": now + 60, "sub": "x"}),
            "`aud`",
        ),
        (
            "expired",
            json!({"aud": "sdmk-regnakes", "exp": now - 600, "sub": "x"}),
            "`exp`",
        ),
    ];
    for (name, claims, claim) in cases {
        let response = post_as(&app, &jwt(claims), &call("sync.status", json!({}))).await;
        assert_eq!(response.status, 401, "{name}: {}", response.body);
        assert_eq!(response.body["error"]["code"], -32001, "{name}");
        let message = response.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(claim), "{name}: {message}");
    }
    // Accepted: `aud` as an array holding ours, a 24 h token, `nbf` now.
    let accepted = [
        json!({"aud": ["other", "sdmk-regnakes"], "exp": now + 60, "sub": "siti"}),
        json!({"aud": "sdmk-regnakes", "iat": now, "exp": now + 24 * 3600, "sub": "siti"}),
        json!({"aud": "sdmk-regnakes", "nbf": now, "exp": now + 60, "sub": "siti"}),
    ];
    for claims in accepted {
        let response = post_as(&app, &jwt(claims.clone()), &call("sync.status", json!({}))).await;
        assert_eq!(response.status, 200, "{claims}: {}", response.body);
    }
}

#[actix_web::test]
async fn a_flood_of_bad_tokens_does_not_lock_out_a_valid_caller() {
    let options = Options::records(10)
        .env("RPC_AUTH_FAILURES_PER_SECOND", "1")
        .env("RPC_AUTH_FAILURES_BURST", "5");
    let app = spawn_app(Backend::Sqlite, options).await;
    let bad = jwt(json!({"aud": "sdmk-regnakes", "exp": 1, "sub": "x"}));
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(
            post_as(&app, &bad, &call("sync.status", json!({})))
                .await
                .status,
        );
    }
    assert!(statuses.contains(&401));
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 30,
        "the flood is limited: {statuses:?}"
    );
    // The same address, a valid token: answered.
    let valid = post_as(&app, &app.token, &call("sync.status", json!({}))).await;
    assert_eq!(valid.status, 200, "{}", valid.body);
}

#[actix_web::test]
async fn control_characters_in_any_string_param_are_invalid_params() {
    let app = spawn_app(Backend::Postgres, Options::records(10)).await;
    let nul = "a\u{0000}b";
    let id = "00000000-0000-0000-0000-000000000000";
    let cases = [
        ("sync.start", json!({"mode": nul}), "mode"),
        ("sync.start", json!({"trigger": nul}), "trigger"),
        ("sync.start", json!({"updated_since": nul}), "updated_since"),
        (
            "sync.start",
            json!({"professions": ["bidan", nul]}),
            "professions[1]",
        ),
        ("sync.cancel", json!({"batch_id": nul}), "batch_id"),
        ("batch.list", json!({"status": nul}), "status"),
        ("batch.get", json!({"batch_id": nul}), "batch_id"),
        ("batch.errors", json!({"batch_id": nul}), "batch_id"),
        (
            "batch.warnings",
            json!({"batch_id": format!("{id}\u{0000}")}),
            "batch_id",
        ),
        (
            "integration.set_enabled",
            json!({"enabled": false, "reason": nul}),
            "reason",
        ),
        ("worker.search", json!({"query": nul}), "query"),
        (
            "worker.search",
            json!({"query": "Siti\u{001b}[31m"}),
            "query",
        ),
        ("worker.search", json!({"profession": nul}), "profession"),
    ];
    for (method, params, param) in cases {
        let body = app.call(method, params.clone()).await;
        assert_eq!(body["error"]["code"], -32602, "{method} {params}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{param}`")),
            "{method}: {message}"
        );
    }
    // Nothing of it took effect.
    let status = app.ok("sync.status", json!({})).await;
    assert_eq!(status["enabled"], true);
    assert!(status["last"].is_null());
}

#[actix_web::test]
async fn a_profession_named_twice_is_fetched_once() {
    let app = spawn_app(Backend::Sqlite, Options::records(600)).await;
    let professions: Vec<&str> = vec!["bidan"; 20];
    let batch = app
        .sync(json!({"mode": "full", "professions": professions}))
        .await;
    crate::helpers::assert_balanced(&batch);
    assert_eq!(batch["professions"], json!(["bidan"]));
    let requests = app.page_requests();
    let pages = batch["pages"].as_i64().unwrap() as usize;
    assert_eq!(requests.len(), pages, "each page of bidan once");
    let midwives = app
        .scalar("SELECT COUNT(*) FROM health_worker WHERE profession_code = 'bidan'")
        .await;
    assert_eq!(
        batch["inserted"].as_i64().unwrap(),
        midwives,
        "the counts are those of the registry's midwives"
    );
}

/// Property: whatever bytes a caller with a valid token posts, the endpoint answers in JSON-RPC, never
/// with an internal error, and keeps answering (no panic took a worker down).
#[actix_web::test]
async fn any_body_gets_a_json_rpc_answer_never_an_internal_error() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let app = spawn_app(Backend::Postgres, Options::records(10)).await;
    let methods = vec![
        "sync.status",
        "sync.start",
        "sync.cancel",
        "batch.list",
        "batch.get",
        "batch.errors",
        "batch.warnings",
        "integration.set_enabled",
        "worker.search",
        "nope",
    ];
    let param = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        ".{0,30}".prop_map(Value::from),
        proptest::collection::vec(".{0,8}".prop_map(Value::from), 0..4).prop_map(Value::Array),
    ];
    let keys = proptest::sample::select(vec![
        "mode",
        "professions",
        "updated_since",
        "trigger",
        "batch_id",
        "limit",
        "offset",
        "status",
        "enabled",
        "reason",
        "query",
        "profession",
        "x",
    ]);
    let call = (
        proptest::sample::select(methods),
        proptest::collection::btree_map(keys, param, 0..4),
    )
        .prop_map(|(method, params)| {
            json!({"jsonrpc": "2.0", "id": 1, "method": method,
                   "params": params.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<serde_json::Map<_, _>>()})
            .to_string()
        });
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ".{0,200}",
        call.clone(),
        proptest::collection::vec(call, 1..4).prop_map(|calls| format!("[{}]", calls.join(","))),
    ];
    // A valid token that may not act: the generated calls read, or are refused, but start nothing.
    let viewer = crate::helpers::token_for("fuzz", regnakes_sync::rpc::auth::Role::Viewer);
    let mut runner = TestRunner::new(Config::with_cases(300));
    for _ in 0..300 {
        let body = bodies.new_tree(&mut runner).unwrap().current();
        let response = app
            .post_raw(&body, &[("Authorization", &format!("Bearer {viewer}"))])
            .await;
        assert!(
            [200, 204, 403].contains(&response.status),
            "{body:?} → HTTP {}",
            response.status
        );
        let answers = match &response.body {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        for answer in answers {
            assert_eq!(answer["jsonrpc"], "2.0", "{body:?} → {answer}");
            assert!(
                answer.get("result").is_some() || answer["error"]["code"].is_i64(),
                "{body:?} → {answer}"
            );
            assert_ne!(answer["error"]["code"], -32603, "{body:?} → {answer}");
        }
    }
    assert_eq!(post_as(&app, &viewer, &call_status()).await.status, 200);
}

fn call_status() -> Value {
    call("sync.status", json!({}))
}
