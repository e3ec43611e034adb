//! The initial schema. It is generated from the entities as they stand at this migration; later schema
//! changes get their own migration file with explicit ALTER statements.

use entity::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{EntityTrait, Schema};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn create<E: EntityTrait>(manager: &SchemaManager<'_>, entity: E) -> Result<(), DbErr> {
    let schema = Schema::new(manager.get_database_backend());
    manager
        .create_table(
            schema
                .create_table_from_entity(entity)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
    for mut index in schema.create_index_from_entity(entity) {
        manager
            .create_index(index.if_not_exists().to_owned())
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, health_worker::Entity).await?;
        create(manager, str_history::Entity).await?;
        create(manager, batch::Entity).await?;
        create(manager, batch_issue::Entity).await?;
        create(manager, sync_state::Entity).await?;
        create(manager, integration_setting::Entity).await?;
        create(manager, integration_audit::Entity).await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO sync_state (id, alerting) VALUES (1, false)")
            .await?;
        db.execute_unprepared("INSERT INTO integration_setting (id, enabled) VALUES (1, true)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "integration_audit",
            "integration_setting",
            "sync_state",
            "batch_issue",
            "sync_batch",
            "str_history",
            "health_worker",
        ] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
