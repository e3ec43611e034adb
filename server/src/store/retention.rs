//! Retention (`RETENTION_DAYS`): batches older than the period, and their rejected rows with the raw
//! records, are deleted in bounded chunks (short transactions beside the syncs), and each purge that
//! deleted something is audited. Younger batch summaries stay, so the dashboard's history is whole up to
//! the period. Workers and their STR history are SDMK's data, not logs: they are never purged here.

use crate::domain::batch::BatchStatus;
use chrono::{DateTime, Utc};
use entity::{batch, batch_change, batch_issue};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Rows deleted per statement.
pub const CHUNK: u64 = 1000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub batches: u64,
    pub issues: u64,
}

/// Up to `chunk` ids of finished batches started before `cutoff`, oldest first.
async fn expired_batches<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
    chunk: u64,
) -> Result<Vec<Uuid>, DbErr> {
    batch::Entity::find()
        .select_only()
        .column(batch::Column::Id)
        .filter(batch::Column::StartedAt.lt(cutoff))
        .filter(batch::Column::Status.ne(BatchStatus::Running.code()))
        .order_by_asc(batch::Column::StartedAt)
        .limit(chunk)
        .into_tuple()
        .all(db)
        .await
}

/// Deletes what is older than `cutoff`: first each expired batch's issues and change report, then the
/// batch.
pub async fn purge<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
    chunk: u64,
) -> Result<Purged, DbErr> {
    let mut purged = Purged::default();
    loop {
        let batches = expired_batches(db, cutoff, chunk).await?;
        if batches.is_empty() {
            return Ok(purged);
        }
        loop {
            let issues: Vec<i64> = batch_issue::Entity::find()
                .select_only()
                .column(batch_issue::Column::Id)
                .filter(batch_issue::Column::BatchId.is_in(batches.clone()))
                .limit(chunk)
                .into_tuple()
                .all(db)
                .await?;
            if issues.is_empty() {
                break;
            }
            purged.issues += batch_issue::Entity::delete_many()
                .filter(batch_issue::Column::Id.is_in(issues))
                .exec(db)
                .await?
                .rows_affected;
        }
        // At most 1 000 report rows a batch: one statement per chunk of batches.
        batch_change::Entity::delete_many()
            .filter(batch_change::Column::BatchId.is_in(batches.clone()))
            .exec(db)
            .await?;
        purged.batches += batch::Entity::delete_many()
            .filter(batch::Column::Id.is_in(batches))
            .exec(db)
            .await?
            .rows_affected;
    }
}
