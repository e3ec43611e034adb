//! The change report of a batch (CONTRACT §3, `batch.changes`): for its first `PER_BATCH` inserts and
//! updates, the fields each wrote with the stored and the incoming value (NIK masked). Written in the
//! page's transaction, so it holds exactly what the page committed.

use super::page_txn::PageTxn;
use super::queries::{page_of, Page};
use crate::rules::page::PageInput;
use crate::rules::record_diff;
use entity::{batch_change, health_worker};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryTrait};
use std::collections::HashMap;
use uuid::Uuid;

/// Changes reported per batch.
pub const PER_BATCH: u32 = 1000;

/// The report rows of a page's writes, while the batch's budget lasts: inserts first, then updates
/// (compared with the rows as stored before this page writes them).
pub async fn report(
    txn: &mut PageTxn,
    inserts: &[health_worker::Model],
    updates: &[health_worker::Model],
    input: &PageInput,
) -> Result<Vec<batch_change::ActiveModel>, DbErr> {
    let Some(budget) = &input.change_budget else {
        return Ok(Vec::new());
    };
    let left = budget.get() as usize;
    if left == 0 || inserts.len() + updates.len() == 0 {
        return Ok(Vec::new());
    }
    let inserts = &inserts[..inserts.len().min(left)];
    let updates = &updates[..updates.len().min(left - inserts.len())];
    let stored = stored_rows(txn, updates.iter().map(|w| w.id).collect()).await?;
    let mut rows = Vec::with_capacity(inserts.len() + updates.len());
    for worker in inserts {
        rows.push(row(input, worker, None, "inserted"));
    }
    for worker in updates {
        rows.push(row(input, worker, stored.get(&worker.id), "updated"));
    }
    budget.set(budget.get() - rows.len() as u32);
    Ok(rows)
}

/// One report row: the fields `incoming` writes over `stored` (all of them for a new worker).
pub fn row(
    input: &PageInput,
    incoming: &health_worker::Model,
    stored: Option<&health_worker::Model>,
    outcome: &str,
) -> batch_change::ActiveModel {
    let fields = record_diff::differences(stored, incoming);
    batch_change::ActiveModel {
        id: NotSet,
        batch_id: Set(input.batch_id),
        str_number: Set(incoming.str_number.clone()),
        outcome: Set(outcome.to_string()),
        fields: Set(record_diff::to_json(&fields).to_string()),
        created_at: Set(input.now),
    }
}

async fn stored_rows(
    txn: &mut PageTxn,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, health_worker::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let query = health_worker::Entity::find()
        .filter(Expr::col(health_worker::Column::Id).is_in(ids))
        .build(txn.backend());
    let mut found = HashMap::new();
    for row in txn.query_all(query).await? {
        let worker = health_worker::Model::from_query_result(&row, "")?;
        found.insert(worker.id, worker);
    }
    Ok(found)
}

/// Writes the report rows (few: at most `PER_BATCH` a batch).
pub async fn insert(txn: &mut PageTxn, rows: Vec<batch_change::ActiveModel>) -> Result<(), DbErr> {
    for chunk in rows.chunks(200) {
        let statement = batch_change::Entity::insert_many(chunk.to_vec()).build(txn.backend());
        txn.execute(statement).await?;
    }
    Ok(())
}

/// One page of a batch's report, in the order written.
pub async fn page(
    db: &sea_orm::DatabaseConnection,
    batch_id: Uuid,
    outcome: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Page<batch_change::Model>, DbErr> {
    use sea_orm::QueryOrder;
    let mut query = batch_change::Entity::find().filter(batch_change::Column::BatchId.eq(batch_id));
    if let Some(outcome) = outcome {
        query = query.filter(batch_change::Column::Outcome.eq(outcome));
    }
    page_of(
        db,
        query.order_by_asc(batch_change::Column::Id),
        limit,
        offset,
    )
    .await
}
