//! Schema migrations, one per file, applied at start-up and by `regnakes-sync migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_initial_schema;
mod m20261126_000002_planner_statistics;
mod m20261127_000003_source_hash;
mod m20261129_000004_change_report;
mod m20261202_000005_worker_name_search;
mod m20261202_000006_review_cases;
mod m20261202_000007_batch_changes;
mod m20261203_000008_know_before_and_after;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial_schema::Migration),
            Box::new(m20261126_000002_planner_statistics::Migration),
            Box::new(m20261127_000003_source_hash::Migration),
            Box::new(m20261129_000004_change_report::Migration),
            Box::new(m20261202_000005_worker_name_search::Migration),
            Box::new(m20261202_000006_review_cases::Migration),
            Box::new(m20261202_000007_batch_changes::Migration),
            Box::new(m20261203_000008_know_before_and_after::Migration),
        ]
    }
}
