//! Re-keys the hashes an earlier release stored unkeyed, in pages, while syncs keep working: at start-up,
//! once per store. A content hash becomes the old hash keyed over (`NikIndexer::wrap_legacy`, so matching
//! still finds the content unchanged without reading the NIK), a source hash is dropped (the record's
//! bytes are not kept; the next re-sync takes the full path once and stores the keyed one). Each row is
//! rewritten only if it still holds what was read, so a run can stop anywhere and start again.

use crate::rules::identity::{NikIndexer, StoredHash, KEYED, WRAPPED};
use entity::health_worker;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

/// Rows per page (one read and one transaction each).
pub const PAGE: u64 = 1000;

/// Rows still holding an unkeyed hash.
fn unkeyed() -> Condition {
    use health_worker::Column as C;
    Condition::any()
        .add(
            Condition::all()
                .add(C::ContentHash.not_like(format!("{KEYED}%")))
                .add(C::ContentHash.not_like(format!("{WRAPPED}%"))),
        )
        .add(
            Condition::all()
                .add(C::SourceHash.is_not_null())
                .add(C::SourceHash.not_like(format!("{KEYED}%"))),
        )
}

/// Whether any stored hash is still unkeyed.
pub async fn needed(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(health_worker::Entity::find()
        .filter(unkeyed())
        .one(db)
        .await?
        .is_some())
}

/// Re-keys every unkeyed hash, `page` rows at a time; returns the rows rewritten.
pub async fn rekey(db: &DatabaseConnection, indexer: &NikIndexer, page: u64) -> Result<u64, DbErr> {
    use health_worker::Column as C;
    let mut rewritten = 0;
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = health_worker::Entity::find()
            .select_only()
            .columns([C::Id, C::ContentHash, C::SourceHash])
            .filter(unkeyed())
            .order_by_asc(C::Id)
            .limit(page);
        if let Some(last) = after {
            query = query.filter(C::Id.gt(last));
        }
        let rows: Vec<(Uuid, String, Option<String>)> = query.into_tuple().all(db).await?;
        let Some((last, _, _)) = rows.last() else {
            return Ok(rewritten);
        };
        after = Some(*last);
        let txn = db.begin().await?;
        for (id, content, source) in rows {
            let new_content = match StoredHash::of(&content) {
                StoredHash::Legacy => indexer.wrap_legacy(&content),
                _ => content.clone(),
            };
            let new_source = source
                .clone()
                .filter(|s| StoredHash::of(s) == StoredHash::Keyed);
            let result = health_worker::Entity::update_many()
                .col_expr(C::ContentHash, Expr::value(new_content))
                .col_expr(C::SourceHash, Expr::value(new_source))
                .filter(C::Id.eq(id))
                .filter(C::ContentHash.eq(content))
                .filter(match source {
                    Some(source) => C::SourceHash.eq(source),
                    None => C::SourceHash.is_null(),
                })
                .exec(&txn)
                .await?;
            rewritten += result.rows_affected;
        }
        txn.commit().await?;
    }
}
