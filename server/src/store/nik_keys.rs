//! Moves every stored NIK onto the current encryption key, in pages, while syncs keep working: at
//! start-up (a store written before encryption, or after `NIK_ENCRYPTION_KEY` changed) and by
//! `regnakes-sync rotate-key`. Each row is rewritten only if it still holds what was read (a sync that
//! wrote it meanwhile already used the current key), so a run can stop anywhere and start again.

use crate::rules::identity::NikIndexer;
use entity::health_worker;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

/// Rows per page (one read and one transaction each).
pub const PAGE: u64 = 1000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub scanned: u64,
    pub rewritten: u64,
    /// Rows whose value could not be read back (a key not configured, or damage): left as they are.
    pub unreadable: u64,
}

/// Whether any stored NIK is in clear or under another key than the current one.
pub async fn needed(db: &DatabaseConnection, indexer: &NikIndexer) -> Result<bool, DbErr> {
    let current = format!("enc:{}:%", indexer.current_key_id());
    Ok(health_worker::Entity::find()
        .filter(health_worker::Column::Nik.not_like(current))
        .one(db)
        .await?
        .is_some())
}

/// Rewrites every row not on the current key, `page` rows at a time.
pub async fn reencrypt(
    db: &DatabaseConnection,
    indexer: &NikIndexer,
    page: u64,
) -> Result<Rotation, DbErr> {
    let mut done = Rotation::default();
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = health_worker::Entity::find()
            .select_only()
            .columns([health_worker::Column::Id, health_worker::Column::Nik])
            .order_by_asc(health_worker::Column::Id)
            .limit(page);
        if let Some(last) = after {
            query = query.filter(health_worker::Column::Id.gt(last));
        }
        let rows: Vec<(Uuid, String)> = query.into_tuple().all(db).await?;
        let Some((last, _)) = rows.last() else {
            return Ok(done);
        };
        after = Some(*last);
        done.scanned += rows.len() as u64;
        let txn = db.begin().await?;
        for (id, stored) in rows {
            if NikIndexer::key_id_of(&stored) == Some(indexer.current_key_id()) {
                continue;
            }
            let clear = match indexer.reveal(&stored) {
                Ok(clear) => clear,
                Err(err) => {
                    // The id only: never the value.
                    tracing::warn!(worker_id = %id, error = %err, "stored NIK cannot be read; left as it is");
                    done.unreadable += 1;
                    continue;
                }
            };
            let result = health_worker::Entity::update_many()
                .col_expr(
                    health_worker::Column::Nik,
                    Expr::value(indexer.encrypt(&clear)),
                )
                .filter(health_worker::Column::Id.eq(id))
                .filter(health_worker::Column::Nik.eq(stored))
                .exec(&txn)
                .await?;
            done.rewritten += result.rows_affected;
        }
        txn.commit().await?;
    }
}
