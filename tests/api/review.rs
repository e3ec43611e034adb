//! The Verifikator's desk (issue 20): a record only a person may settle is one review case however many
//! batches meet it; `accept_registry` gives the STR's holder the registry's identity (the old one kept in
//! its history) in a `review` batch, after which the record is unchanged; `keep_sdmk` closes the case for
//! that content only; roles are enforced. On SQLite and PostgreSQL.

use crate::helpers::{spawn_app, Backend, Options, TestApp};
use regnakes_sim::dataset::AdvanceSpec;
use regnakes_sync::rpc::auth::Role;
use serde_json::{json, Value};

async fn open_cases(app: &TestApp) -> Vec<Value> {
    let listed = app.ok("review.list", json!({"limit": 200})).await;
    assert_eq!(
        listed["total"],
        json!(listed["cases"].as_array().unwrap().len())
    );
    listed["cases"].as_array().unwrap().clone()
}

async fn decide(app: &TestApp, role: Role, case: &Value, decision: &str) -> (u16, Value) {
    let params =
        json!({"case_id": case["id"], "decision": decision, "note": "checked with Dukcapil"});
    let answer = app.call_as("rina", role, "review.decide", params).await;
    (answer.status, answer.body)
}

/// No 16-digit run anywhere in a case but its STR number (the simulator's are 16 digits too): every
/// NIK is masked.
fn assert_masked(case: &Value) {
    let text = case
        .to_string()
        .replace(case["str_number"].as_str().unwrap(), "STR");
    let digits = text
        .as_bytes()
        .split(|b| !b.is_ascii_digit())
        .map(<[u8]>::len)
        .max();
    assert!(digits.unwrap_or(0) < 16, "an unmasked NIK in {text}");
}

async fn the_desk_settles_conflicts_once(backend: Backend) {
    let app = spawn_app(backend, Options::records(300).page_size(100)).await;
    app.sync(json!({"mode": "full"})).await;
    // Stamped a little before now: the next sync's window (which ends at its start) surely holds them.
    let report = app.sim.state.advance(&AdvanceSpec {
        nik_conflicts: 2,
        stamp_lag_ms: 50,
        ..Default::default()
    });
    for _ in 0..5 {
        let batch = app.sync(json!({"mode": "full"})).await;
        assert_eq!(app.errors(batch["id"].as_str().unwrap()).await.len(), 2);
    }
    let cases = open_cases(&app).await;
    assert_eq!(cases.len(), 2, "one case per conflicting record: {cases:?}");
    for case in &cases {
        assert_eq!(case["kind"], "identity_conflict");
        assert_eq!(case["seen_count"], 5, "{case}");
        assert!(report
            .nik_conflicts
            .contains(&case["str_number"].as_str().unwrap().to_string()));
        assert_ne!(case["stored"]["nik_masked"], case["incoming"]["nik_masked"]);
        let fields: Vec<&str> = case["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"nik_masked"), "{case}");
        assert_masked(case);
    }
    let (accept, keep) = (&cases[0], &cases[1]);

    // Roles: a viewer may read but not decide; a verifier decides.
    let (status, body) = decide(&app, Role::Viewer, accept, "accept_registry").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!(-32003)),
        "{body}"
    );
    let (status, body) = decide(&app, Role::Verifier, accept, "accept_registry").await;
    assert_eq!(status, 200, "{body}");
    let batch = &body["result"]["batch"];
    assert_eq!(
        (batch["trigger"].clone(), batch["status"].clone()),
        (json!("review"), json!("succeeded"))
    );
    assert_eq!(
        (batch["received"].clone(), batch["updated"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(body["result"]["case"]["decision"]["by"], "rina");
    let report = app
        .ok("batch.changes", json!({"batch_id": batch["id"]}))
        .await;
    assert_eq!(report["total"], 1);
    let fields = report["changes"][0]["fields"].as_array().unwrap().clone();
    assert_eq!(
        fields,
        accept["differences"].as_array().unwrap().clone(),
        "the case's differences, written"
    );
    assert_eq!(body["result"]["case"]["status"], "resolved");
    let worker = app
        .ok("worker.search", json!({"query": accept["str_number"]}))
        .await;
    assert_eq!(
        worker["workers"][0]["nik_masked"],
        accept["incoming"]["nik_masked"]
    );
    let history = app
        .rows("SELECT nik_masked, name FROM identity_history", 2)
        .await;
    let previous = &accept["stored"];
    assert_eq!(
        history,
        vec![vec![
            previous["nik_masked"].as_str().map(String::from),
            previous["name"].as_str().map(String::from)
        ]]
    );
    let (status, body) = decide(&app, Role::Verifier, accept, "keep_sdmk").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (200, json!(-32602)),
        "decided twice: {body}"
    );

    let (status, body) = decide(&app, Role::Verifier, keep, "keep_sdmk").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["result"]["batch"].is_null());

    // The accepted record is now unchanged; the kept one is still rejected, and opens no case.
    let batch = app.sync(json!({"mode": "full"})).await;
    let errors = app.errors(batch["id"].as_str().unwrap()).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["str_number"], keep["str_number"]);
    assert_eq!(
        (batch["inserted"].clone(), batch["updated"].clone()),
        (json!(0), json!(0)),
        "everything else, the accepted record included, unchanged: {batch}"
    );
    assert!(open_cases(&app).await.is_empty());
    let resolved = app.ok("review.list", json!({"status": "resolved"})).await;
    assert_eq!(resolved["total"], 2);

    // A later change of the kept record opens a new case.
    app.sim.state.advance(&AdvanceSpec {
        change_str: vec![keep["str_number"].as_str().unwrap().to_string()],
        stamp_lag_ms: 50,
        ..Default::default()
    });
    app.sync(json!({"mode": "full"})).await;
    let reopened = open_cases(&app).await;
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    assert_eq!(reopened[0]["str_number"], keep["str_number"]);
    assert_ne!(reopened[0]["id"], keep["id"]);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM integration_audit WHERE action = 'review.decide' AND actor = 'rina'").await, 2);
}
crate::on_both_backends!(
    the_desk_settles_conflicts_once,
    the_desk_settles_conflicts_once
);

/// `batch.retry`: rows rejected `unknown_profession` are read again through narrow windows; once the
/// code joins the reference list (`PROFESSIONS_FILE`) a retry inserts them. Only an admin may retry.
async fn rejected_rows_are_retried_against_todays_reference_list(backend: Backend) {
    let app = spawn_app(
        backend,
        Options {
            bad_share: 0.3,
            ..Options::records(400).page_size(100)
        },
    )
    .await;
    let first = app.sync(json!({"mode": "full"})).await;
    let first_id = first["id"].as_str().unwrap().to_string();
    let unknown: Vec<String> = app
        .errors(&first_id)
        .await
        .into_iter()
        .filter(|e| e["reason"] == "unknown_profession")
        .map(|e| e["str_number"].as_str().unwrap().to_string())
        .collect();
    assert!(
        unknown.len() >= 2,
        "the simulator rejects some: {unknown:?}"
    );
    let params = json!({"batch_id": first_id, "reasons": ["unknown_profession"]});
    let refused = app
        .call_as("rina", Role::Verifier, "batch.retry", params.clone())
        .await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].clone()),
        (403, json!(-32003))
    );

    // Today's list does not know the code: the rows are rejected again, every one found.
    let retried = app.ok("batch.retry", params.clone()).await;
    let batch = app
        .wait_batch(retried["batch"]["id"].as_str().unwrap())
        .await;
    assert_eq!(batch["trigger"], "retry");
    assert_eq!(
        batch["status"], "partial",
        "rows still rejected are no new failure: {batch}"
    );
    let again = app.errors(batch["id"].as_str().unwrap()).await;
    let mut again: Vec<String> = again
        .iter()
        .filter(|e| e["reason"] == "unknown_profession")
        .map(|e| e["str_number"].as_str().unwrap().to_string())
        .collect();
    again.sort();
    let mut expected = unknown.clone();
    expected.sort();
    assert_eq!(again, expected);
    assert_eq!(
        batch["received"],
        json!(unknown.len()),
        "only the chosen rows: {batch}"
    );
    assert!(
        !batch["error"].to_string().contains("not found"),
        "every row found: {batch}"
    );

    // The code joins the reference list: a server reading it inserts exactly the retried rows.
    let csv = std::env::temp_dir().join(format!("professions-{}.csv", uuid::Uuid::new_v4()));
    let shipped = include_str!("../../server/reference/professions.csv");
    std::fs::write(
        &csv,
        format!("{shipped}keperawatan,Keperawatan,tukang_pijat,Tukang Pijat,0\n"),
    )
    .unwrap();
    let options = Options::records(400)
        .page_size(100)
        .env("PROFESSIONS_FILE", csv.to_str().unwrap());
    let updated =
        crate::helpers::spawn_server(app.sim.clone(), app.database_url.clone(), &options).await;
    let workers_before = updated.worker_count().await;
    let retried = updated
        .ok(
            "batch.retry",
            json!({"batch_id": first_id, "str_numbers": unknown}),
        )
        .await;
    let batch = updated
        .wait_batch(retried["batch"]["id"].as_str().unwrap())
        .await;
    assert_eq!(batch["inserted"], json!(unknown.len()), "{batch}");
    assert_eq!(
        updated.worker_count().await,
        workers_before + unknown.len() as i64
    );
    assert!(batch["error"].is_null(), "{batch}");
}
crate::on_both_backends!(
    rejected_rows_are_retried,
    rejected_rows_are_retried_against_todays_reference_list
);
