//! The transaction a page is stored in. On PostgreSQL it is sqlx's own transaction on a pooled
//! connection, because SeaORM's transaction does not expose the connection and the bulk insert of new
//! workers binds typed arrays, which SeaORM's values cannot express. Every other statement is a
//! SeaORM/sea-query `Statement`, run the same way on either backend.

use sea_orm::sea_query::Values;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    RuntimeErr, Statement, TransactionTrait,
};
use sea_query_sqlx::SqlxValues;
use std::sync::Arc;

pub enum PageTxn {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Other(DatabaseTransaction),
}

pub fn sqlx_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn sqlx_query(stmt: &Statement) -> sqlx::query::Query<'_, sqlx::Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

impl PageTxn {
    pub async fn begin(db: &DatabaseConnection) -> Result<PageTxn, DbErr> {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let txn = db
                    .get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(sqlx_err)?;
                Ok(PageTxn::Postgres(txn))
            }
            _ => Ok(PageTxn::Other(db.begin().await?)),
        }
    }

    pub fn backend(&self) -> DbBackend {
        match self {
            PageTxn::Postgres(_) => DbBackend::Postgres,
            PageTxn::Other(txn) => txn.get_database_backend(),
        }
    }

    pub async fn execute(&mut self, stmt: Statement) -> Result<(), DbErr> {
        match self {
            PageTxn::Postgres(txn) => {
                sqlx_query(&stmt)
                    .execute(&mut **txn)
                    .await
                    .map_err(sqlx_err)?;
            }
            PageTxn::Other(txn) => {
                txn.execute_raw(stmt).await?;
            }
        }
        Ok(())
    }

    pub async fn query_all(&mut self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            PageTxn::Postgres(txn) => Ok(sqlx_query(&stmt)
                .fetch_all(&mut **txn)
                .await
                .map_err(sqlx_err)?
                .into_iter()
                .map(QueryResult::from)
                .collect()),
            PageTxn::Other(txn) => txn.query_all_raw(stmt).await,
        }
    }

    /// The PostgreSQL connection of the transaction, for statements with sqlx's own typed parameters.
    pub fn postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        match self {
            PageTxn::Postgres(txn) => Some(&mut **txn),
            PageTxn::Other(_) => None,
        }
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            PageTxn::Postgres(txn) => txn.commit().await.map_err(sqlx_err),
            PageTxn::Other(txn) => txn.commit().await,
        }
    }
}
