//! The schema comes from explicit migrations: an empty database migrated today has the tables, columns,
//! types, nullability, keys and indexes the entities describe, and a database created by the previous
//! release (whose first migration built its tables from the entities of its day) upgrades to exactly the
//! same schema, keeps its rows and syncs. On SQLite and PostgreSQL.

use crate::helpers::{fresh_database, spawn_server, Backend, Options};
use migration::{Migrator, MigratorTrait};
use regnakes_sim::server::{spawn as spawn_sim, SimConfig};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Schema, Statement};
use serde_json::json;
use std::collections::BTreeSet;

/// The previous release's database, as `pg_dump` / `sqlite3 .dump` wrote it right after its migrations
/// ran (schema, the two single rows, its `seaql_migrations`).
const PREVIOUS_POSTGRES: &str = include_str!("../fixtures/previous-release.postgres.sql");
const PREVIOUS_SQLITE: &str = include_str!("../fixtures/previous-release.sqlite.sql");

/// One line per column, key, index and column option, in a stable order: the comparable schema.
type Shape = BTreeSet<String>;

async fn rows(db: &DatabaseConnection, sql: &str, columns: usize) -> Vec<Vec<String>> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_string(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .iter()
    .map(|row| {
        (0..columns)
            .map(|i| {
                row.try_get_by_index::<Option<String>>(i)
                    .or_else(|_| row.try_get_by_index::<i64>(i).map(|n| Some(n.to_string())))
                    .expect("text or integer")
                    .unwrap_or_default()
            })
            .collect()
    })
    .collect()
}

/// The schema of the application's tables (not `seaql_migrations`), with or without PostgreSQL's
/// per-column planner options (migration 000002 sets one; the entities know nothing of them).
async fn shape(db: &DatabaseConnection, with_options: bool) -> Shape {
    let mut shape = Shape::new();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let queries: [(&str, &str, usize); 3] = [
                // `health_worker.seq` numbers workers for the missing-workers bitmap (`rules::seen`); the entities
                // do not know it (SQLite's rowid serves instead): `before_and_after::only_a_complete_full_read_marks_workers_missing` checks it.
                ("column", "SELECT table_name, column_name, data_type, is_nullable, COALESCE(column_default, ''), is_identity FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'seaql_migrations' AND NOT (table_name = 'health_worker' AND column_name = 'seq')", 6),
                // The search's trigram index is checked on its own (`search_indexes_are_in_place`).
                ("index", "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'seaql_migrations' AND indexname NOT LIKE '%\\_trgm' AND indexname <> 'idx-health_worker-missing'", 3),
                // Options the server sets (`n_distinct`), not the `pg_*` bookkeeping some builds add.
                ("option", "SELECT c.relname::text, a.attname::text, o FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(a.attoptions) o WHERE n.nspname = 'public' AND o NOT LIKE 'pg\\_%'", 3),
            ];
            for (kind, sql, columns) in queries {
                if kind == "option" && !with_options {
                    continue;
                }
                for row in rows(db, sql, columns).await {
                    shape.insert(format!("{kind} {}", row.join(" | ")));
                }
            }
        }
        DbBackend::Sqlite => {
            // The search's FTS5 table (and its shadow tables) is checked on its own.
            let tables = rows(db, "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' AND name NOT LIKE 'health_worker_name%'", 2).await;
            for table in tables {
                let (name, sql) = (&table[0], &table[1]);
                shape.insert(format!(
                    "table {name} autoincrement={}",
                    sql.contains("AUTOINCREMENT")
                ));
                let info = format!("SELECT name, type, \"notnull\", COALESCE(dflt_value, ''), pk FROM pragma_table_info('{name}')");
                for row in rows(db, &info, 5).await {
                    shape.insert(format!("column {name} {}", row.join(" | ")));
                }
                let indexes =
                    format!("SELECT name, \"unique\", origin FROM pragma_index_list('{name}')");
                for index in rows(db, &indexes, 3).await {
                    // The partial index of missing workers is checked on its own (`before_and_after`).
                    if index[0] == "idx-health_worker-missing" {
                        continue;
                    }
                    let columns = rows(
                        db,
                        &format!("SELECT name FROM pragma_index_info('{}')", index[0]),
                        1,
                    )
                    .await;
                    // Automatic indexes (unique constraints) are named by position; their columns say
                    // what they are.
                    let label = if index[0].starts_with("sqlite_autoindex") {
                        "auto"
                    } else {
                        &index[0]
                    };
                    shape.insert(format!(
                        "index {name} {label} unique={} origin={} on {:?}",
                        index[1], index[2], columns
                    ));
                }
            }
        }
        other => panic!("no shape for {other:?}"),
    }
    shape
}

/// The tables as the entities describe them, built in an empty database.
async fn entity_database(backend: Backend) -> DatabaseConnection {
    use entity::*;
    let db = Database::connect(fresh_database(backend).await)
        .await
        .unwrap();
    let schema = Schema::new(db.get_database_backend());
    macro_rules! create {
        ($($entity:path),*) => {$(
            db.execute(&schema.create_table_from_entity($entity)).await.unwrap();
            for index in schema.create_index_from_entity($entity) {
                db.execute(&index).await.unwrap();
            }
        )*};
    }
    create!(
        health_worker::Entity,
        str_history::Entity,
        batch::Entity,
        batch_issue::Entity,
        sync_state::Entity,
        integration_setting::Entity,
        integration_audit::Entity,
        review_case::Entity,
        identity_history::Entity,
        batch_change::Entity,
        upstream_field::Entity
    );
    db
}

fn difference(left: &Shape, right: &Shape) -> String {
    let only_left: Vec<&String> = left.difference(right).collect();
    let only_right: Vec<&String> = right.difference(left).collect();
    format!("only in the first: {only_left:#?}\nonly in the second: {only_right:#?}")
}

async fn a_fresh_database_matches_the_entities(backend: Backend) {
    let migrated = Database::connect(fresh_database(backend).await)
        .await
        .unwrap();
    Migrator::up(&migrated, None).await.unwrap();
    let entities = entity_database(backend).await;
    let (migrated_shape, entity_shape) =
        (shape(&migrated, false).await, shape(&entities, false).await);
    assert!(migrated_shape.len() > 100, "{migrated_shape:#?}");
    assert_eq!(
        migrated_shape,
        entity_shape,
        "{}",
        difference(&migrated_shape, &entity_shape)
    );
}

#[actix_web::test]
async fn a_fresh_postgres_database_matches_the_entities() {
    a_fresh_database_matches_the_entities(Backend::Postgres).await;
}

#[actix_web::test]
async fn a_fresh_sqlite_database_matches_the_entities() {
    a_fresh_database_matches_the_entities(Backend::Sqlite).await;
}

/// Loads the previous release's database, lets the server migrate it at start, compares its schema with
/// a freshly migrated one, and runs a sync on it.
async fn the_previous_release_upgrades(backend: Backend, dump: &str) {
    crate::helpers::init();
    let url = fresh_database(backend).await;
    let previous = Database::connect(&url).await.unwrap();
    previous.execute_unprepared(dump).await.unwrap();
    previous
        .execute_unprepared(
            "INSERT INTO integration_audit (action, actor, detail, at) \
             VALUES ('integration.set_enabled', 'admin.lama', 'before the upgrade', '2026-11-01T00:00:00Z')",
        )
        .await
        .unwrap();

    let sim = spawn_sim(SimConfig {
        records: 300,
        bad_share: 0.0,
        ..SimConfig::default()
    })
    .unwrap();
    let app = spawn_server(sim, url, &Options::records(300)).await;
    let fresh = Database::connect(fresh_database(backend).await)
        .await
        .unwrap();
    Migrator::up(&fresh, None).await.unwrap();
    let (upgraded_shape, fresh_shape) = (shape(&app.db, true).await, shape(&fresh, true).await);
    assert_eq!(
        upgraded_shape,
        fresh_shape,
        "{}",
        difference(&upgraded_shape, &fresh_shape)
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM integration_audit WHERE actor = 'admin.lama'")
            .await,
        1
    );
    let batch = app.sync(json!({"mode": "full"})).await;
    assert_eq!(batch["status"], json!("succeeded"), "{batch}");
    assert_eq!(batch["inserted"], json!(300), "{batch}");
}

#[actix_web::test]
async fn a_postgres_database_of_the_previous_release_upgrades() {
    the_previous_release_upgrades(Backend::Postgres, PREVIOUS_POSTGRES).await;
}

#[actix_web::test]
async fn a_sqlite_database_of_the_previous_release_upgrades() {
    the_previous_release_upgrades(Backend::Sqlite, PREVIOUS_SQLITE).await;
}
