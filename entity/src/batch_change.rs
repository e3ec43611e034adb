//! What a batch wrote, field by field (CONTRACT §3, `batch.changes`): the first 1 000 inserts and updates
//! of each batch, NIK masked. Purged with the batch by retention.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "batch_change")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub batch_id: Uuid,
    pub str_number: String,
    /// `inserted` or `updated`.
    pub outcome: String,
    /// `[{field, stored, incoming}]`, JSON.
    pub fields: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
