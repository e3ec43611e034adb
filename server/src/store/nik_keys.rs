//! Moves every stored NIK onto the current encryption key, in pages, while syncs keep working: at
//! start-up (a store written before encryption, or after `NIK_ENCRYPTION_KEY` changed) and by
//! `regnakes-sync rotate-key`. Each row is rewritten only if it still holds what was read (a sync that
//! wrote it meanwhile already used the current key), so a run can stop anywhere and start again.

use crate::rules::identity::NikIndexer;
use entity::{health_worker, identity_history, review_case};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
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

/// Whether any stored NIK (on a worker, in an identity's history, or in a review case's sealed
/// record) is in clear or under another key than the current one.
pub async fn needed(db: &DatabaseConnection, indexer: &NikIndexer) -> Result<bool, DbErr> {
    let current = format!("enc:{}:%", indexer.current_key_id());
    let workers = health_worker::Entity::find()
        .filter(health_worker::Column::Nik.not_like(&current))
        .one(db)
        .await?;
    let history = identity_history::Entity::find()
        .filter(identity_history::Column::Nik.not_like(&current))
        .one(db)
        .await?;
    let cases = review_case::Entity::find()
        .filter(review_case::Column::IncomingSealed.not_like(&current))
        .one(db)
        .await?;
    Ok(workers.is_some() || history.is_some() || cases.is_some())
}

/// The value under the current key; `None` when it is there already or cannot be read (counted).
fn rekeyed(indexer: &NikIndexer, stored: &str, what: &str, done: &mut Rotation) -> Option<String> {
    if NikIndexer::key_id_of(stored) == Some(indexer.current_key_id()) {
        return None;
    }
    match indexer.reveal(stored) {
        Ok(clear) => Some(indexer.encrypt(&clear)),
        Err(err) => {
            // Which row only: never the value.
            tracing::warn!(row = what, error = %err, "a stored NIK cannot be read; left as it is");
            done.unreadable += 1;
            None
        }
    }
}

/// The review tables (few rows: review cases and identities replaced by a decision), in one pass each.
pub async fn reencrypt_review(
    db: &DatabaseConnection,
    indexer: &NikIndexer,
) -> Result<Rotation, DbErr> {
    let mut done = Rotation::default();
    let txn = db.begin().await?;
    rekey_table::<identity_history::Entity, i64>(
        &txn,
        indexer,
        (identity_history::Column::Id, identity_history::Column::Nik),
        &mut done,
    )
    .await?;
    rekey_table::<review_case::Entity, Uuid>(
        &txn,
        indexer,
        (review_case::Column::Id, review_case::Column::IncomingSealed),
        &mut done,
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}

/// Moves one small table's encrypted column (`columns`: its key and the column) onto the current key.
async fn rekey_table<E, K>(
    txn: &DatabaseTransaction,
    indexer: &NikIndexer,
    (key, column): (E::Column, E::Column),
    done: &mut Rotation,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    K: sea_orm::TryGetable + Into<sea_orm::Value> + std::fmt::Display,
{
    let rows: Vec<(K, String)> = E::find()
        .select_only()
        .columns([key, column])
        .into_tuple()
        .all(txn)
        .await?;
    done.scanned += rows.len() as u64;
    let table = E::default().table_name();
    for (id, stored) in rows {
        let what = format!("{table} {id}");
        if let Some(value) = rekeyed(indexer, &stored, &what, done) {
            E::update_many()
                .col_expr(column, Expr::value(value))
                .filter(key.eq(id))
                .exec(txn)
                .await?;
            done.rewritten += 1;
        }
    }
    Ok(())
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
            let Some(value) = rekeyed(indexer, &stored, &format!("worker {id}"), &mut done) else {
                continue;
            };
            let result = health_worker::Entity::update_many()
                .col_expr(health_worker::Column::Nik, Expr::value(value))
                .filter(health_worker::Column::Id.eq(id))
                .filter(health_worker::Column::Nik.eq(stored))
                .exec(&txn)
                .await?;
            done.rewritten += result.rows_affected;
        }
        txn.commit().await?;
    }
}
