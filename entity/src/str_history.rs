//! A worker's past STR states: when a renewal replaces the number, or the status or validity changes, the
//! state it had until then (the current one is on the worker row). `batch_id` and `recorded_at` say when
//! it was replaced.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "str_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub worker_id: Uuid,
    pub str_number: String,
    pub str_status: String,
    pub str_valid_until: Option<Date>,
    pub batch_id: Uuid,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
