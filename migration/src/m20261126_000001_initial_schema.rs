//! The initial schema, frozen: explicit `CREATE TABLE` and `CREATE INDEX` statements, so a database
//! migrated today gets exactly the tables the first release created, whatever the entities say later.
//! Every later change is a migration of its own (`source_hash` and `field_fingerprint` /
//! `changed_fields` are added by 000003 and 000004).
//!
//! Releases before this migration was frozen built these tables from the entities of their day; their
//! databases already hold the columns of 000003 and 000004, which is why those two add a column only
//! where it is missing. `tests/api/schema.rs` checks that a fresh database equals the entities and an
//! upgraded one of the previous release.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A column's type, as the entities mapped it when this schema was frozen.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Uuid,
    Text,
    BigInt,
    Int,
    Double,
    Bool,
    Timestamp,
    Date,
}

/// How a column is constrained.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Rule {
    /// The primary key, given by the server (uuid, or the single row's id).
    Key,
    /// The primary key, numbered by the database.
    Serial,
    Required,
    Unique,
    Optional,
    /// Unique where present (`schedule_slot`: only scheduled runs have one).
    OptionalUnique,
}

use Kind::*;
use Rule::*;

pub(crate) type Columns = &'static [(&'static str, Kind, Rule)];

const HEALTH_WORKER: Columns = &[
    ("id", Uuid, Key),
    ("str_number", Text, Unique),
    ("nik_index", Text, Required),
    ("nik", Text, Required),
    ("nik_masked", Text, Required),
    ("name", Text, Required),
    ("name_norm", Text, Required),
    ("sex", Text, Optional),
    ("birth_place", Text, Required),
    ("birth_place_norm", Text, Required),
    ("birth_date", Date, Required),
    ("profession_code", Text, Required),
    ("profession_group", Text, Required),
    ("str_kind", Text, Optional),
    ("str_council", Text, Optional),
    ("str_issued_on", Date, Optional),
    ("str_valid_until", Date, Optional),
    ("str_status", Text, Required),
    ("licences_json", Text, Required),
    ("address_line", Text, Optional),
    ("province_code", Text, Optional),
    ("regency_code", Text, Optional),
    ("content_hash", Text, Required),
    ("upstream_updated_at", Timestamp, Optional),
    ("first_batch_id", Uuid, Required),
    ("last_batch_id", Uuid, Required),
    ("created_at", Timestamp, Required),
    ("updated_at", Timestamp, Required),
];

const STR_HISTORY: Columns = &[
    ("id", BigInt, Serial),
    ("worker_id", Uuid, Required),
    ("str_number", Text, Required),
    ("str_status", Text, Required),
    ("str_valid_until", Date, Optional),
    ("batch_id", Uuid, Required),
    ("recorded_at", Timestamp, Required),
];

const SYNC_BATCH: Columns = &[
    ("id", Uuid, Key),
    ("trace_id", Text, Required),
    ("trigger", Text, Required),
    ("mode", Text, Required),
    ("status", Text, Required),
    ("requested_by", Text, Optional),
    ("schedule_slot", Text, OptionalUnique),
    ("professions", Text, Optional),
    ("window_since", Timestamp, Optional),
    ("window_until", Timestamp, Optional),
    ("checkpoint", Timestamp, Optional),
    ("started_at", Timestamp, Required),
    ("finished_at", Timestamp, Optional),
    ("duration_ms", BigInt, Optional),
    ("pages", BigInt, Required),
    ("total_pages", BigInt, Optional),
    ("received", BigInt, Required),
    ("inserted", BigInt, Required),
    ("updated", BigInt, Required),
    ("unchanged", BigInt, Required),
    ("rejected", BigInt, Required),
    ("warnings", BigInt, Required),
    ("failure_rate", Double, Required),
    ("error", Text, Optional),
    ("cancel_requested", Bool, Required),
    ("instance_id", Text, Required),
];

const BATCH_ISSUE: Columns = &[
    ("id", BigInt, Serial),
    ("batch_id", Uuid, Required),
    ("severity", Text, Required),
    ("str_number", Text, Optional),
    ("reason", Text, Required),
    ("message", Text, Required),
    ("page", BigInt, Required),
    ("raw", Text, Optional),
    ("created_at", Timestamp, Required),
];

const SYNC_STATE: Columns = &[
    ("id", Int, Key),
    ("watermark", Timestamp, Optional),
    ("last_success_at", Timestamp, Optional),
    ("lease_batch_id", Uuid, Optional),
    ("lease_holder", Text, Optional),
    ("lease_expires_at", Timestamp, Optional),
    ("alerting", Bool, Required),
];

const INTEGRATION_SETTING: Columns = &[
    ("id", Int, Key),
    ("enabled", Bool, Required),
    ("changed_by", Text, Optional),
    ("changed_at", Timestamp, Optional),
    ("reason", Text, Optional),
];

const INTEGRATION_AUDIT: Columns = &[
    ("id", BigInt, Serial),
    ("action", Text, Required),
    ("actor", Text, Required),
    ("detail", Text, Optional),
    ("at", Timestamp, Required),
];

/// A table, its columns, and its indexed columns (index `idx-<table>-<column>`).
pub(crate) type TableDef = (&'static str, Columns, &'static [&'static str]);

/// Tables in creation order.
const TABLES: [TableDef; 7] = [
    (
        "health_worker",
        HEALTH_WORKER,
        &["nik_index", "profession_code"],
    ),
    ("str_history", STR_HISTORY, &["worker_id"]),
    ("sync_batch", SYNC_BATCH, &["status", "started_at"]),
    ("batch_issue", BATCH_ISSUE, &["batch_id"]),
    ("sync_state", SYNC_STATE, &[]),
    ("integration_setting", INTEGRATION_SETTING, &[]),
    ("integration_audit", INTEGRATION_AUDIT, &["at"]),
];

fn column(name: &'static str, kind: Kind, rule: Rule) -> ColumnDef {
    let mut def = ColumnDef::new(name);
    match kind {
        Uuid => def.uuid(),
        Text => def.string(),
        BigInt => def.big_integer(),
        Int => def.integer(),
        Double => def.double(),
        Bool => def.boolean(),
        Timestamp => def.timestamp_with_time_zone(),
        Date => def.date(),
    };
    match rule {
        Key => def.not_null().primary_key(),
        Serial => def.not_null().auto_increment().primary_key(),
        Required => def.not_null(),
        Unique => def.not_null().unique_key(),
        Optional => def.null(),
        OptionalUnique => def.null().unique_key(),
    };
    def
}

fn create_table(table: &'static str, columns: Columns) -> TableCreateStatement {
    let mut statement = Table::create();
    statement.table(table).if_not_exists();
    for &(name, kind, rule) in columns {
        statement.col(column(name, kind, rule));
    }
    statement.to_owned()
}

/// Creates `tables` in order, each with its indexes.
pub(crate) async fn create_tables(
    manager: &SchemaManager<'_>,
    tables: &[TableDef],
) -> Result<(), DbErr> {
    for &(table, columns, indexed) in tables {
        manager.create_table(create_table(table, columns)).await?;
        for column in indexed {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(format!("idx-{table}-{column}"))
                        .table(table)
                        .col(*column)
                        .to_owned(),
                )
                .await?;
        }
    }
    Ok(())
}

/// Drops `tables` in reverse order.
pub(crate) async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: &[TableDef],
) -> Result<(), DbErr> {
    for (table, _, _) in tables.iter().rev() {
        manager
            .drop_table(Table::drop().table(*table).if_exists().to_owned())
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_tables(manager, &TABLES).await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO sync_state (id, alerting) VALUES (1, false)")
            .await?;
        db.execute_unprepared("INSERT INTO integration_setting (id, enabled) VALUES (1, true)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &TABLES).await
    }
}
