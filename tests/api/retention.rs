//! Retention: only batches older than `RETENTION_DAYS` go, with their rejected rows and change report, in
//! chunks; each purge is audited; workers stay.

use crate::helpers::{spawn_app, Backend, Options};
use crate::on_both_backends;
use entity::{batch, batch_issue};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

async fn issues_of(app: &crate::helpers::TestApp, id: Uuid) -> i64 {
    batch_issue::Entity::find()
        .filter(batch_issue::Column::BatchId.eq(id))
        .count(&app.db)
        .await
        .unwrap() as i64
}

async fn only_what_is_older_than_the_period_is_purged(backend: Backend) {
    let options = Options {
        records: 400,
        bad_share: 0.2,
        ..Options::default()
    }
    .env("RETENTION_DAYS", "180");
    let app = spawn_app(backend, options).await;
    let old = app.sync(json!({"mode": "full"})).await;
    let young = app.sync(json!({"mode": "full"})).await;
    let old_id: Uuid = old["id"].as_str().unwrap().parse().unwrap();
    let young_id: Uuid = young["id"].as_str().unwrap().parse().unwrap();
    let old_issues = issues_of(&app, old_id).await;
    let young_issues = issues_of(&app, young_id).await;
    assert!(
        old_issues > 20 && young_issues > 20,
        "{old_issues} {young_issues}"
    );
    let workers = app.worker_count().await;
    let old_changes = app.scalar("SELECT COUNT(*) FROM batch_change").await;
    assert!(old_changes > 0, "the first batch's inserts are reported");
    // The first batch is 181 days old, the second one day short of the period.
    let now = chrono::Utc::now();
    for (id, age) in [(old_id, 181), (young_id, 179)] {
        batch::Entity::update_many()
            .col_expr(
                batch::Column::StartedAt,
                Expr::value(now - chrono::Duration::days(age)),
            )
            .filter(batch::Column::Id.eq(id))
            .exec(&app.db)
            .await
            .unwrap();
    }
    // Chunks of 7 rows: many statements, same result.
    let purged = app.service.purge_expired(now, 7).await.unwrap().unwrap();
    assert_eq!((purged.batches, purged.issues), (1, old_issues as u64));
    let gone = app
        .call("batch.get", json!({"batch_id": old_id.to_string()}))
        .await;
    assert_eq!(gone["error"]["code"], -32004, "{gone}");
    app.ok("batch.get", json!({"batch_id": young_id.to_string()}))
        .await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM batch_issue").await,
        young_issues,
        "only the old batch's rows went"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM batch_change").await,
        0,
        "its change report went with it (the second batch changed nothing)"
    );
    assert_eq!(
        app.worker_count().await,
        workers,
        "workers are never purged"
    );
    let audit = app
        .rows(
            "SELECT actor, detail FROM integration_audit WHERE action = 'retention.purge'",
            2,
        )
        .await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0][0].as_deref(), Some("retention"));
    let detail: serde_json::Value = serde_json::from_str(audit[0][1].as_deref().unwrap()).unwrap();
    assert_eq!(detail["batches"], 1);
    assert_eq!(detail["issues"], old_issues);
    // Nothing more to purge: nothing more audited.
    let again = app.service.purge_expired(now, 7).await.unwrap().unwrap();
    assert_eq!((again.batches, again.issues), (0, 0));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM integration_audit WHERE action = 'retention.purge'")
            .await,
        1
    );
}
on_both_backends!(
    only_what_is_older_than_the_period_is_purged,
    only_what_is_older_than_the_period_is_purged
);
