//! What a batch's updates changed: `health_worker.field_fingerprint` (one short hash per field group)
//! and `sync_batch.changed_fields` (the per-field counts of a batch). Releases that built the initial
//! schema from the entities created them with the tables, so each is added only where missing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, &str); 2] = [
    ("health_worker", "field_fingerprint"),
    ("sync_batch", "changed_fields"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS {
            if manager.has_column(table, column).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        // `string()`: the type the entity gives a fresh database (varchar on PostgreSQL).
                        .add_column(ColumnDef::new(column).string().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
