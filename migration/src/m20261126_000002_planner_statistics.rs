//! PostgreSQL: tell the planner that a NIK index value is nearly unique (one per person; a person with two
//! STRs shares it). During a bulk load, statistics gathered on a small table make the per-page lookup by
//! NIK a sequential scan of the whole table; with this it stays an index probe per key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE health_worker ALTER COLUMN nik_index SET (n_distinct = -0.95)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE health_worker ALTER COLUMN nik_index RESET (n_distinct)",
                )
                .await?;
        }
        Ok(())
    }
}
