//! A dry run's own copy of the workers (CONTRACT §3, `sync.start {dry_run: true}`). The run reads and
//! decides exactly as a real one, through the same code, on a connection of its own where a temporary
//! `health_worker` (a copy of the stored workers, with the keys matching uses) hides the real table:
//! what its pages write lands in the copy, so later pages see earlier pages' effects as in a real run,
//! and the real workers are never touched. The batch's own rows (counters, rejected rows, the change
//! report) are not copied: they are written to the real tables, as the batch's report.
//!
//! Both backends look a temporary table up before the database's own of the same name. The copy dies
//! with its connection; the connection's pool opens it once and refuses to open another (a second
//! connection would not see the copy, and would write the real table).

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlxPostgresConnector,
    SqlxSqliteConnector, Statement,
};
use sqlx::pool::PoolOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A page may wait for the one connection while the page before it commits and the next is read ahead.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(600);

/// Opens the dry run's connection and copies the workers into it.
pub async fn open(db: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    let started = std::time::Instant::now();
    let shadow = match db.get_database_backend() {
        DbBackend::Postgres => SqlxPostgresConnector::from_sqlx_postgres_pool(
            single_connection_beside(db.get_postgres_connection_pool()).await?,
        ),
        DbBackend::Sqlite => SqlxSqliteConnector::from_sqlx_sqlite_pool(
            single_connection_beside(db.get_sqlite_connection_pool()).await?,
        ),
        other => {
            return Err(DbErr::Custom(format!(
                "{other:?} is not supported: use PostgreSQL or SQLite"
            )))
        }
    };
    if let Err(err) = copy_workers(&shadow).await {
        let _ = shadow.close().await;
        return Err(err);
    }
    tracing::info!(
        copy_ms = started.elapsed().as_millis() as u64,
        "dry run: the stored workers are copied"
    );
    Ok(shadow)
}

/// Drops the copy with its connection.
pub async fn close(shadow: DatabaseConnection) {
    if let Err(err) = shadow.close().await {
        tracing::warn!(error = %err, "closing the dry run's connection failed");
    }
}

/// A pool of one connection to the database `pool` reaches, with its connect options.
async fn single_connection_beside<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::Pool<DB>, DbErr> {
    single_connection()
        .connect_with((*pool.connect_options()).clone())
        .await
        .map_err(super::page_txn::sqlx_err)
}

/// A pool of exactly one connection, kept for the whole run: a second one is refused.
fn single_connection<DB: sqlx::Database>() -> PoolOptions<DB> {
    let opened = Arc::new(AtomicBool::new(false));
    PoolOptions::<DB>::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |_conn, _meta| {
            let again = opened.swap(true, Ordering::SeqCst);
            Box::pin(async move {
                if again {
                    return Err(sqlx::Error::Protocol(
                        "the dry run lost its connection (and with it its copy of the workers); it stops"
                            .into(),
                    ));
                }
                Ok(())
            })
        })
}

async fn copy_workers(shadow: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = shadow.get_database_backend();
    let statements: Vec<String> = match backend {
        DbBackend::Postgres => {
            let schema = scalar(shadow, "SELECT current_schema()::text").await?;
            let real = format!("\"{}\".health_worker", schema.replace('"', "\"\""));
            vec![
                // A sequence of its own for `seq` (INCLUDING IDENTITY): the copy's inserts leave the
                // real table's numbering as it was.
                format!("CREATE TEMP TABLE health_worker (LIKE {real} INCLUDING DEFAULTS INCLUDING IDENTITY)"),
                format!("INSERT INTO pg_temp.health_worker SELECT * FROM {real}"),
                "ALTER TABLE pg_temp.health_worker ADD PRIMARY KEY (id)".into(),
                "CREATE UNIQUE INDEX ON pg_temp.health_worker (str_number)".into(),
                "CREATE INDEX ON pg_temp.health_worker (nik_index)".into(),
                "ANALYZE pg_temp.health_worker".into(),
            ]
        }
        _ => {
            // The table's own definition (keys and unique STR number included), as a temporary table.
            let definition = scalar(
                shadow,
                "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'health_worker'",
            )
            .await?;
            let temporary = definition
                .strip_prefix("CREATE TABLE")
                .map(|rest| format!("CREATE TEMP TABLE{rest}"))
                .ok_or_else(|| {
                    DbErr::Custom(
                        "the health_worker table's definition is not a CREATE TABLE".into(),
                    )
                })?;
            vec![
                temporary,
                "INSERT INTO temp.health_worker SELECT * FROM main.health_worker".into(),
                "CREATE INDEX temp.dry_run_nik_index ON health_worker (nik_index)".into(),
            ]
        }
    };
    for sql in statements {
        shadow
            .execute_raw(Statement::from_string(backend, sql))
            .await?;
    }
    // What the pages will write must be the copy: refuse to go on otherwise.
    let check = match backend {
        DbBackend::Postgres => {
            "SELECT relpersistence::text FROM pg_class WHERE oid = 'health_worker'::regclass"
        }
        _ => "SELECT CASE WHEN EXISTS (SELECT 1 FROM temp.sqlite_master WHERE name = 'health_worker') THEN 't' ELSE 'p' END",
    };
    if scalar(shadow, check).await? != "t" {
        return Err(DbErr::Custom(
            "the dry run's copy of the workers does not hide the real table".into(),
        ));
    }
    Ok(())
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> Result<String, DbErr> {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_string(),
    ))
    .await?
    .ok_or_else(|| DbErr::Custom(format!("no answer to {sql}")))?
    .try_get_by_index::<String>(0)
}
