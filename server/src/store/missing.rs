//! Workers the registry no longer has (CONTRACT §3): at the end of a complete full read, every stored
//! worker it did not see is marked `missing_since` the batch's start, and every marked worker it saw is
//! cleared; nothing is deleted. "Saw" is: noted in the read's bitmap (`rules::seen`: found unchanged,
//! or the holder of a looked-up record's STR number), written by the batch, named by one of its rejected
//! rows (a record that failed validation is still the registry's), or met, by STR number or NIK, by the
//! read of what changed while the batch ran (`ChangedDuring`). Only the workers not noted are read back, so a read that saw everyone
//! costs two index probes that find nothing.

use super::writes::seq_column;
use crate::rules::seen::{ChangedDuring, Seen};
use chrono::{DateTime, Utc};
use entity::{batch_issue, health_worker};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use std::collections::HashSet;
use uuid::Uuid;

/// Values per `IN (…)` list: well under SQLite's bound on parameters.
const CHUNK: usize = 5_000;

/// The greatest worker number given so far (0 when none), read without touching the table: on
/// PostgreSQL the `seq` column's sequence (a `MAX(seq)` would scan a million rows: the column has no
/// index, which would cost every insert), on SQLite `MAX(rowid)` (the table's own b-tree). Numbers
/// given to inserts that rolled back are counted too; no worker holds them.
pub async fn last_seq<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('health_worker', 'seq')), 0)"
        }
        _ => "SELECT COALESCE(MAX(rowid), 0) FROM health_worker",
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await?;
    row.map_or(Ok(0), |row| row.try_get_by_index::<i64>(0))
}

/// Workers marked missing now (the gauge `regnakes_workers_missing`).
pub async fn count_missing<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    health_worker::Entity::find()
        .filter(health_worker::Column::MissingSince.is_not_null())
        .count(db)
        .await
}

/// What the end of a complete full read changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub marked: i64,
    pub cleared: i64,
}

/// Marks the workers the read did not see and clears those it saw, in `txn` (the batch's final one).
pub async fn settle<C: ConnectionTrait>(
    txn: &C,
    batch_id: Uuid,
    started_at: DateTime<Utc>,
    seen: &Seen,
    changed: &ChangedDuring,
) -> Result<Settled, DbErr> {
    use health_worker::Column as C;
    let seq = seq_column(txn.get_database_backend());
    let mut candidates = Vec::new();
    for chunk in seen.unseen().chunks(CHUNK) {
        candidates.extend(
            numbered(txn)
                .filter(Expr::cust(seq).is_in(chunk.iter().copied()))
                .filter(C::MissingSince.is_null())
                .filter(C::LastBatchId.ne(batch_id))
                .into_tuple::<(i64, String, String)>()
                .all(txn)
                .await?,
        );
    }
    let marked: Vec<(i64, String, String)> = numbered(txn)
        .filter(C::MissingSince.is_not_null())
        .into_tuple()
        .all(txn)
        .await?;
    let named = rejected_among(txn, batch_id, candidates.iter().chain(&marked)).await?;
    let met = |(_, number, nik_index): &(i64, String, String)| {
        changed.str_numbers.contains(number)
            || changed.nik_indexes.contains(nik_index)
            || named.contains(number)
    };
    let to_mark: Vec<i64> = candidates
        .iter()
        .filter(|worker| !met(worker))
        .map(|(n, _, _)| *n)
        .collect();
    let to_clear: Vec<i64> = marked
        .iter()
        .filter(|worker| seen.saw(worker.0) || met(worker))
        .map(|(n, _, _)| *n)
        .collect();
    set_missing(txn, &to_mark, Some(started_at)).await?;
    set_missing(txn, &to_clear, None).await?;
    if !(to_mark.is_empty() && to_clear.is_empty())
        && txn.get_database_backend() == DbBackend::Postgres
    {
        // The marked rows' share changed: the planner reads them through their partial index only if
        // its statistics say they are few (a sample; milliseconds).
        txn.execute_unprepared("ANALYZE health_worker (missing_since)")
            .await?;
    }
    Ok(Settled {
        marked: to_mark.len() as i64,
        cleared: to_clear.len() as i64,
    })
}

/// Workers as (number, STR number, NIK blind index).
fn numbered<C: ConnectionTrait>(txn: &C) -> sea_orm::Select<health_worker::Entity> {
    health_worker::Entity::find()
        .select_only()
        .expr(Expr::cust(seq_column(txn.get_database_backend())))
        .column(health_worker::Column::StrNumber)
        .column(health_worker::Column::NikIndex)
}

/// The STR numbers among `workers` that the batch's rejected rows (or warnings) name.
async fn rejected_among<'a, C: ConnectionTrait>(
    txn: &C,
    batch_id: Uuid,
    workers: impl Iterator<Item = &'a (i64, String, String)>,
) -> Result<HashSet<String>, DbErr> {
    let numbers: Vec<&str> = workers.map(|(_, number, _)| number.as_str()).collect();
    let mut named = HashSet::new();
    for chunk in numbers.chunks(CHUNK) {
        let found: Vec<Option<String>> = batch_issue::Entity::find()
            .select_only()
            .column(batch_issue::Column::StrNumber)
            .filter(batch_issue::Column::BatchId.eq(batch_id))
            .filter(batch_issue::Column::StrNumber.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        named.extend(found.into_iter().flatten());
    }
    Ok(named)
}

async fn set_missing<C: ConnectionTrait>(
    txn: &C,
    numbers: &[i64],
    since: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let seq = seq_column(txn.get_database_backend());
    for chunk in numbers.chunks(CHUNK) {
        health_worker::Entity::update_many()
            .col_expr(health_worker::Column::MissingSince, Expr::value(since))
            .filter(Expr::cust(seq).is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(())
}
