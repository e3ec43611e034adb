//! The record paths outside the mapping that batches have met (`upstream_field`): a batch meeting one
//! not listed yet is the first to see a change of the upstream's shape.

use crate::rules::unknown_fields::UnknownFields;
use chrono::{DateTime, Utc};
use entity::upstream_field;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

/// Lists the batch's unknown paths; returns those no earlier batch met (at most `MAX_PATHS`).
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    fields: &UnknownFields,
    batch_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let known: Vec<String> = upstream_field::Entity::find()
        .select_only()
        .column(upstream_field::Column::Path)
        .filter(upstream_field::Column::Path.is_in(fields.paths()))
        .into_tuple()
        .all(txn)
        .await?;
    let new: Vec<String> = fields
        .paths()
        .filter(|path| !known.iter().any(|k| k == path))
        .map(str::to_string)
        .collect();
    if new.is_empty() {
        return Ok(new);
    }
    let rows = new.iter().map(|path| upstream_field::ActiveModel {
        path: Set(path.clone()),
        first_batch_id: Set(batch_id),
        first_seen_at: Set(now),
    });
    // Another instance's batch may list the same path at the same moment: the first row stays.
    upstream_field::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([upstream_field::Column::Path])
        .exec(txn)
        .await?;
    Ok(new)
}
