//! A rejected row (severity `error`) or a stored row with a warning, kept with the raw record.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "batch_issue")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub batch_id: Uuid,
    pub severity: String,
    pub str_number: Option<String>,
    pub reason: String,
    pub message: String,
    pub page: i64,
    pub raw: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
