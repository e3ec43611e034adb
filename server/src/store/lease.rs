//! One sync at a time across every instance sharing the database: a lease on the single `sync_state` row,
//! taken with a conditional UPDATE (atomic on PostgreSQL and SQLite), renewed by heartbeats while the
//! batch runs, released when it finishes. A crashed holder's lease expires and the next starter marks its
//! batch `failed` (interrupted) instead of leaving it `running` forever.

use crate::domain::batch::BatchStatus;
use chrono::{DateTime, Utc};
use entity::{batch, sync_state};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use std::time::Duration;
use uuid::Uuid;

const STATE_ROW: i32 = 1;

fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(30))
}

/// Takes the lease for `batch_id` if nobody holds a live one.
pub async fn try_acquire<C: ConnectionTrait>(
    db: &C,
    batch_id: Uuid,
    holder: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sync_state::Column as S;
    let result = sync_state::Entity::update_many()
        .col_expr(S::LeaseBatchId, Expr::value(batch_id))
        .col_expr(S::LeaseHolder, Expr::value(holder))
        .col_expr(S::LeaseExpiresAt, Expr::value(expiry(now, ttl)))
        .filter(S::Id.eq(STATE_ROW))
        .filter(
            sea_orm::Condition::any()
                .add(S::LeaseBatchId.is_null())
                .add(S::LeaseExpiresAt.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Extends the lease; `false` means it was lost (expired and taken over), and the batch must stop.
pub async fn heartbeat<C: ConnectionTrait>(
    db: &C,
    batch_id: Uuid,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sync_state::Column as S;
    let result = sync_state::Entity::update_many()
        .col_expr(S::LeaseExpiresAt, Expr::value(expiry(now, ttl)))
        .filter(S::Id.eq(STATE_ROW))
        .filter(S::LeaseBatchId.eq(batch_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn release<C: ConnectionTrait>(db: &C, batch_id: Uuid) -> Result<(), DbErr> {
    use sync_state::Column as S;
    sync_state::Entity::update_many()
        .col_expr(S::LeaseBatchId, Expr::value(Option::<Uuid>::None))
        .col_expr(S::LeaseHolder, Expr::value(Option::<String>::None))
        .col_expr(
            S::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(S::Id.eq(STATE_ROW))
        .filter(S::LeaseBatchId.eq(batch_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The batch holding a live lease, if any.
pub async fn live_batch<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    let state = state(db).await?;
    Ok(match (state.lease_batch_id, state.lease_expires_at) {
        (Some(id), Some(expires)) if expires >= now => Some(id),
        _ => None,
    })
}

pub async fn state<C: ConnectionTrait>(db: &C) -> Result<sync_state::Model, DbErr> {
    sync_state::Entity::find_by_id(STATE_ROW)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("sync_state row 1 (migrations not applied?)".into()))
}

pub const INTERRUPTED: &str =
    "interrupted: the instance running this batch stopped before finishing (its lease expired); committed pages were kept";

/// Marks every `running` batch without a live lease as `failed` (interrupted). Returns them, so Odoo can be told.
///
/// Liveness is judged inside the one UPDATE statement: an instance that takes the lease and inserts its
/// batch in one transaction is seen whole or not at all, never as "a running batch without a lease".
pub async fn recover_interrupted<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Vec<batch::Model>, DbErr> {
    use batch::Column as B;
    use sync_state::Column as S;
    let live_lease = Query::select()
        .expr(Expr::val(1))
        .from(sync_state::Entity)
        .and_where(Expr::col((sync_state::Entity, S::Id)).eq(STATE_ROW))
        .and_where(Expr::col((sync_state::Entity, S::LeaseBatchId)).equals((batch::Entity, B::Id)))
        .and_where(Expr::col((sync_state::Entity, S::LeaseExpiresAt)).gte(now))
        .to_owned();
    let marked = batch::Entity::update_many()
        .col_expr(B::Status, Expr::value(BatchStatus::Failed.code()))
        .col_expr(B::Error, Expr::value(INTERRUPTED))
        .col_expr(B::FinishedAt, Expr::value(now))
        .filter(B::Status.eq(BatchStatus::Running.code()))
        .filter(Expr::exists(live_lease).not())
        .exec_with_returning(db)
        .await?;
    if !marked.is_empty() {
        tracing::warn!(
            batches = marked.len(),
            "marked interrupted batches as failed"
        );
    }
    Ok(marked)
}
