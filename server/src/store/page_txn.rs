//! The transaction a page is stored in: sqlx's own, on a pooled connection of either backend, because
//! SeaORM's transaction does not expose the connection, and the bulk writes bind values the way SeaORM's
//! statements cannot (typed arrays on PostgreSQL, cached multi-row statements on SQLite). Every other
//! statement is a SeaORM/sea-query `Statement`, run the same way on either backend.

use sea_orm::sea_query::Values;
use sea_orm::{DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use std::sync::Arc;

/// The same sqlx code on whichever transaction a `PageTxn` holds: the code is the same, the types differ.
macro_rules! on_either {
    ($txn_enum:expr, $txn:ident => $body:expr) => {
        match $txn_enum {
            PageTxn::Postgres($txn) => $body,
            PageTxn::Sqlite($txn) => $body,
        }
    };
}

pub enum PageTxn {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

pub fn sqlx_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn values(stmt: &Statement) -> SqlxValues {
    SqlxValues(stmt.values.clone().unwrap_or(Values(Vec::new())))
}

impl PageTxn {
    /// Begins a page's transaction. On PostgreSQL its commit need not wait for its WAL to reach disk
    /// (set in the same round trip as `BEGIN`): a page lost in a crash takes its batch counters and
    /// checkpoint with it (same transaction), the watermark moves only in the batch's final, synchronous
    /// commit, and that commit's flush makes every earlier page durable. A crash costs a re-fetch, never
    /// a lost or double-counted record.
    pub async fn begin(db: &DatabaseConnection) -> Result<PageTxn, DbErr> {
        match db.get_database_backend() {
            DbBackend::Postgres => Ok(PageTxn::Postgres(
                db.get_postgres_connection_pool()
                    .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(sqlx_err)?,
            )),
            DbBackend::Sqlite => Ok(PageTxn::Sqlite(
                db.get_sqlite_connection_pool()
                    .begin()
                    .await
                    .map_err(sqlx_err)?,
            )),
            other => Err(DbErr::Custom(format!(
                "{other:?} is not supported: use PostgreSQL or SQLite"
            ))),
        }
    }

    pub fn backend(&self) -> DbBackend {
        match self {
            PageTxn::Postgres(_) => DbBackend::Postgres,
            PageTxn::Sqlite(_) => DbBackend::Sqlite,
        }
    }

    pub async fn execute(&mut self, stmt: Statement) -> Result<(), DbErr> {
        let sql = sqlx::AssertSqlSafe(stmt.sql.as_str());
        on_either!(self, txn => sqlx::query_with(sql, values(&stmt))
            .execute(&mut **txn)
            .await
            .map(|_| ())
            .map_err(sqlx_err))
    }

    pub async fn query_all(&mut self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let sql = sqlx::AssertSqlSafe(stmt.sql.as_str());
        on_either!(self, txn => sqlx::query_with(sql, values(&stmt))
            .fetch_all(&mut **txn)
            .await
            .map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(sqlx_err))
    }

    /// The PostgreSQL connection of the transaction, for statements with sqlx's own typed parameters.
    pub fn postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        match self {
            PageTxn::Postgres(txn) => Some(&mut **txn),
            PageTxn::Sqlite(_) => None,
        }
    }

    /// The SQLite connection of the transaction, for statements bound with sqlx directly.
    pub fn sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        match self {
            PageTxn::Sqlite(txn) => Some(&mut **txn),
            PageTxn::Postgres(_) => None,
        }
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        on_either!(self, txn => txn.commit().await.map_err(sqlx_err))
    }
}
