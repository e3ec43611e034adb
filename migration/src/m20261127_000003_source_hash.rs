//! `health_worker.source_hash`: the hash of the upstream record a row was last written from, so a re-sync
//! can tell unchanged records without transforming them (`rules::unchanged`). Releases that built the
//! initial schema from the entities created it with the table, so it is added only where missing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("health_worker", "source_hash").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table("health_worker")
                    // `string()`: the type the entity gives a fresh database (varchar on PostgreSQL).
                    .add_column(ColumnDef::new("source_hash").string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("health_worker")
                    .drop_column("source_hash")
                    .to_owned(),
            )
            .await
    }
}
