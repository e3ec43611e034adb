//! The Verifikator's desk (issue 20): `review_case` (one per STR number and incoming content, until a
//! person decides it) and `identity_history` (a worker's identity before `accept_registry` replaced it).

use crate::m20261126_000001_initial_schema::{
    create_tables, drop_tables, Columns, Kind::*, Rule::*, TableDef,
};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const REVIEW_CASE: Columns = &[
    ("id", Uuid, Key),
    ("case_key", Text, Unique),
    ("kind", Text, Required),
    ("status", Text, Required),
    ("str_number", Text, Required),
    ("incoming", Text, Required),
    ("incoming_sealed", Text, Required),
    ("opened_at", Timestamp, Required),
    ("last_seen_at", Timestamp, Required),
    ("seen_count", BigInt, Required),
    ("first_batch_id", Uuid, Required),
    ("last_batch_id", Uuid, Required),
    ("decision", Text, Optional),
    ("decision_note", Text, Optional),
    ("decided_by", Text, Optional),
    ("decided_at", Timestamp, Optional),
    ("applied_batch_id", Uuid, Optional),
];

const IDENTITY_HISTORY: Columns = &[
    ("id", BigInt, Serial),
    ("worker_id", Uuid, Required),
    ("nik", Text, Required),
    ("nik_masked", Text, Required),
    ("name", Text, Required),
    ("sex", Text, Optional),
    ("birth_place", Text, Required),
    ("birth_date", Date, Required),
    ("case_id", Uuid, Required),
    ("batch_id", Uuid, Required),
    ("recorded_at", Timestamp, Required),
];

const TABLES: [TableDef; 2] = [
    ("review_case", REVIEW_CASE, &["status", "str_number"]),
    ("identity_history", IDENTITY_HISTORY, &["worker_id"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_tables(manager, &TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &TABLES).await
    }
}
