//! `worker.search` by name through an index fit for "contains" (CONTRACT §3: never a scan). The exact NIK
//! (blind index) and STR (unique) lookups had theirs already.
//! - PostgreSQL: a trigram GIN index on `name_norm` (`pg_trgm`, a trusted extension: the database owner
//!   may create it), which serves `LIKE '%…%'`. Without the privilege to create the extension the
//!   migration still applies, and says so: name searches then scan.
//! - SQLite: an FTS5 table with the trigram tokenizer over `name_norm` (external content, kept in step by
//!   triggers), which serves `LIKE '%…%'` on itself; the search joins it by rowid.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The FTS5 table of names, and what keeps it in step with `health_worker`.
const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS health_worker_name USING fts5(\
     name_norm, content='health_worker', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS health_worker_name_ai AFTER INSERT ON health_worker BEGIN \
     INSERT INTO health_worker_name(rowid, name_norm) VALUES (new.rowid, new.name_norm); END",
    "CREATE TRIGGER IF NOT EXISTS health_worker_name_ad AFTER DELETE ON health_worker BEGIN \
     INSERT INTO health_worker_name(health_worker_name, rowid, name_norm) \
     VALUES ('delete', old.rowid, old.name_norm); END",
    "CREATE TRIGGER IF NOT EXISTS health_worker_name_au AFTER UPDATE OF name_norm ON health_worker \
     WHEN old.name_norm IS NOT new.name_norm BEGIN \
     INSERT INTO health_worker_name(health_worker_name, rowid, name_norm) \
     VALUES ('delete', old.rowid, old.name_norm); \
     INSERT INTO health_worker_name(rowid, name_norm) VALUES (new.rowid, new.name_norm); END",
    "INSERT INTO health_worker_name(health_worker_name) VALUES ('rebuild')",
];

const POSTGRES_UP: [&str; 2] = [
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; \
     EXCEPTION WHEN insufficient_privilege THEN \
     RAISE WARNING 'pg_trgm cannot be created here: worker.search by name scans the table'; END $$",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
     CREATE INDEX IF NOT EXISTS health_worker_name_norm_trgm ON health_worker \
     USING gin (name_norm gin_trgm_ops); END IF; END $$",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Postgres => &POSTGRES_UP,
            DbBackend::Sqlite => &SQLITE_UP,
            _ => &[],
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Postgres => &["DROP INDEX IF EXISTS health_worker_name_norm_trgm"],
            DbBackend::Sqlite => &[
                "DROP TRIGGER IF EXISTS health_worker_name_ai",
                "DROP TRIGGER IF EXISTS health_worker_name_ad",
                "DROP TRIGGER IF EXISTS health_worker_name_au",
                "DROP TABLE IF EXISTS health_worker_name",
            ],
            _ => &[],
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
