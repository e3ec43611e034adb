//! A worker's identity before a review decision replaced it (`accept_registry`): NIK (encrypted as on
//! the worker), name and birth data, never lost.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub worker_id: Uuid,
    pub nik: String,
    pub nik_masked: String,
    pub name: String,
    pub sex: Option<String>,
    pub birth_place: String,
    pub birth_date: Date,
    pub case_id: Uuid,
    pub batch_id: Uuid,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
