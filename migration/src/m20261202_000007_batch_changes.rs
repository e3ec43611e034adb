//! `batch_change` (issue 21): what each batch wrote, field by field, for its first 1 000 inserts and
//! updates (`batch.changes`).

use crate::m20261126_000001_initial_schema::{
    create_tables, drop_tables, Columns, Kind::*, Rule::*, TableDef,
};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BATCH_CHANGE: Columns = &[
    ("id", BigInt, Serial),
    ("batch_id", Uuid, Required),
    ("str_number", Text, Required),
    ("outcome", Text, Required),
    ("fields", Text, Required),
    ("created_at", Timestamp, Required),
];

const TABLES: [TableDef; 1] = [("batch_change", BATCH_CHANGE, &["batch_id"])];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_tables(manager, &TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &TABLES).await
    }
}
