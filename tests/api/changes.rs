//! `batch.changes` (issue 21): what each batch wrote, field by field, for its first 1 000 inserts and
//! updates, NIK masked; purged with the batch. On SQLite and PostgreSQL.

use crate::helpers::{spawn_app, Backend, Options, TestApp};
use regnakes_sim::dataset::AdvanceSpec;
use serde_json::{json, Value};

async fn changes(app: &TestApp, batch: &Value, outcome: &str) -> Value {
    let params = json!({"batch_id": batch["id"], "outcome": outcome, "limit": 200});
    app.ok("batch.changes", params).await
}

async fn a_batch_reports_what_it_wrote_field_by_field(backend: Backend) {
    let app = spawn_app(backend, Options::records(1200).page_size(250)).await;
    let first = app.sync(json!({"mode": "full"})).await;
    assert_eq!(first["inserted"], 1200);
    // The first 1 000 of the 1 200 inserts, every field new.
    let inserted = changes(&app, &first, "inserted").await;
    assert_eq!(inserted["total"], 1000, "{}", inserted["total"]);
    let one = &inserted["changes"][0];
    let fields = one["fields"].as_array().unwrap();
    assert!(fields
        .iter()
        .all(|f| f["stored"].is_null() && !f["incoming"].is_null()));
    let nik = fields.iter().find(|f| f["field"] == "nik_masked").unwrap();
    assert!(nik["incoming"].as_str().unwrap().contains('*'), "{nik}");

    // Ten workers renamed or moved: each update lists what changed, stored and incoming side by side.
    app.sim.state.advance(&AdvanceSpec {
        changed: 10,
        stamp_lag_ms: 50,
        ..Default::default()
    });
    let second = app.sync(json!({"mode": "incremental"})).await;
    let updated = changes(&app, &second, "updated").await;
    assert_eq!(updated["total"], second["updated"], "{second}");
    assert_eq!(updated["total"], 10);
    for change in updated["changes"].as_array().unwrap() {
        let fields = change["fields"].as_array().unwrap();
        assert!(!fields.is_empty(), "{change}");
        for field in fields {
            assert_ne!(field["stored"], field["incoming"], "{change}");
            assert!(!field["stored"].is_null(), "{change}");
        }
    }
    // A re-sync that changes nothing reports nothing.
    let third = app.sync(json!({"mode": "full"})).await;
    assert_eq!(changes(&app, &third, "updated").await["total"], 0);
    let refused = app
        .call(
            "batch.changes",
            json!({"batch_id": third["id"], "outcome": "deleted"}),
        )
        .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
}
crate::on_both_backends!(
    a_batch_reports_what_it_wrote_field_by_field,
    a_batch_reports_what_it_wrote_field_by_field
);
