//! Bulk reads and writes of one page, per backend. On PostgreSQL the page's keys and rows travel as
//! typed arrays, one per column (`unnest`, in PostgreSQL's binary format): a page is a few statements of
//! a fixed shape, prepared once per connection, whatever the page size. On SQLite, workers
//! are multi-row upserts of a few fixed lengths (`sqlite_chunks`), cached the same way; the page's few
//! other rows go through SeaORM's multi-row `VALUES`.

pub use crate::rules::page::{HistoryRow, LookupKey, LookupRow};
use crate::rules::unchanged::{Found, Probe};
use crate::store::page_txn::{sqlx_err, PageTxn};
use entity::{batch_issue, health_worker, str_history};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

/// A worker's number in the store (`rules::seen`): PostgreSQL's `seq` column; on SQLite the table's
/// `rowid`, which numbers rows the same way.
pub fn seq_column(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "seq",
        _ => "rowid",
    }
}

/// Rows per multi-row INSERT on SQLite at most: 31 columns × 500 stays under its 32 766 bound
/// parameters (worker upserts use powers of two up to 256: `sqlite_chunks`).
const SQLITE_ROWS_PER_STATEMENT: usize = 500;
/// Rows per multi-row INSERT of batch issues (9 columns).
const ISSUE_ROWS_PER_STATEMENT: usize = 200;

/// `health_worker` columns with their PostgreSQL types, in table order; `UPSERT_KEEPS` are never
/// updated (an update keeps the creation time and first batch).
const WORKER_COLUMNS: [(&str, &str); 31] = [
    ("id", "uuid"),
    ("str_number", "text"),
    ("nik_index", "text"),
    ("nik", "text"),
    ("nik_masked", "text"),
    ("name", "text"),
    ("name_norm", "text"),
    ("sex", "text"),
    ("birth_place", "text"),
    ("birth_place_norm", "text"),
    ("birth_date", "date"),
    ("profession_code", "text"),
    ("profession_group", "text"),
    ("str_kind", "text"),
    ("str_council", "text"),
    ("str_issued_on", "date"),
    ("str_valid_until", "date"),
    ("str_status", "text"),
    ("licences_json", "text"),
    ("address_line", "text"),
    ("province_code", "text"),
    ("regency_code", "text"),
    ("content_hash", "text"),
    ("source_hash", "text"),
    ("field_fingerprint", "text"),
    ("upstream_updated_at", "timestamptz"),
    ("first_batch_id", "uuid"),
    ("last_batch_id", "uuid"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("missing_since", "timestamptz"),
];
const UPSERT_KEEPS: [&str; 3] = ["id", "created_at", "first_batch_id"];

/// Calls `$callback!(args; fields)` with the `health_worker` model's fields in `WORKER_COLUMNS` order,
/// for the statements that bind them one by one (checked against the columns in a test).
macro_rules! with_worker_fields {
    ($callback:ident ! ( $($args:tt)* )) => {
        $callback!($($args)* ; id, str_number, nik_index, nik, nik_masked, name, name_norm, sex,
            birth_place, birth_place_norm, birth_date, profession_code, profession_group, str_kind,
            str_council, str_issued_on, str_valid_until, str_status, licences_json, address_line,
            province_code, regency_code, content_hash, source_hash, field_fingerprint, upstream_updated_at,
            first_batch_id, last_batch_id, created_at, updated_at, missing_since)
    };
}

/// Binds each field of the rows as one array (PostgreSQL `unnest`).
macro_rules! bind_columns {
    ($query:expr, $rows:expr ; $($field:ident),*) => {
        $query $(.bind($rows.iter().map(|w| &w.$field).collect::<Vec<_>>()))*
    };
}

/// Binds the fields of one row, in order (a row of a multi-row `VALUES`).
macro_rules! bind_row {
    ($query:expr, $row:expr ; $($field:ident),*) => {
        $query $(.bind(&$row.$field))*
    };
}

const HISTORY_COLUMNS: [(&str, &str); 6] = [
    ("worker_id", "uuid"),
    ("str_number", "text"),
    ("str_status", "text"),
    ("str_valid_until", "date"),
    ("batch_id", "uuid"),
    ("recorded_at", "timestamptz"),
];

/// `with_worker_fields!` for a `HistoryRow`, in `HISTORY_COLUMNS` order.
macro_rules! with_history_fields {
    ($callback:ident ! ( $($args:tt)* )) => {
        $callback!($($args)* ; worker_id, str_number, str_status, str_valid_until, batch_id, recorded_at)
    };
}

/// `unnest($1::uuid[]) AS id, unnest($2::text[]) AS str_number, …`: one typed array parameter per
/// column, each unnested in a select list. There PostgreSQL runs the unnests in step and passes their
/// rows on as they come; `FROM unnest($1, $2, …)` first copies every row into a tuplestore. Measured
/// in PostgreSQL 15, 300 statements of 1 000 rows of 31 columns inserted in 1.56 s against 2.44 s, and
/// 1 000 of three small columns counted in 0.10 s against 0.22 s.
fn unnested(columns: &[(&str, &str)]) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, t))| format!("unnest(${}::{t}[]) AS {name}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO table (…) SELECT unnest($1::…[]) AS …, …`: the page's rows of `columns` as typed arrays.
fn insert_unnested(table: &str, columns: &[(&str, &str)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {}",
        names.join(", "),
        unnested(columns)
    )
}

/// The page's PostgreSQL connection, for the statements sqlx runs itself (typed arrays).
fn postgres(txn: &mut PageTxn) -> Result<&mut sqlx::PgConnection, DbErr> {
    txn.postgres()
        .ok_or_else(|| DbErr::Custom("no PostgreSQL connection".into()))
}

/// Runs a statement whose parameters are bound, in the page's transaction.
async fn execute_bound(
    txn: &mut PageTxn,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<(), DbErr> {
    query.execute(postgres(txn)?).await.map_err(sqlx_err)?;
    Ok(())
}

/// Runs a SeaORM query (an insert, an update) in the page's transaction.
async fn execute_query<Q: QueryTrait>(txn: &mut PageTxn, query: &Q) -> Result<(), DbErr> {
    let stmt = query.build(txn.backend());
    txn.execute(stmt).await
}

/// Stored workers that matching may need for the page's records, in one query per page: each STR's
/// holder, and the workers with a record's NIK where the NIK can matter (the STR is repeated in the page,
/// or its holder, if any, has another NIK).
pub async fn lookup(txn: &mut PageTxn, keys: &[LookupKey<'_>]) -> Result<Vec<LookupRow>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    use health_worker::Column as C;
    let found: Vec<LookupRow> = match txn.backend() {
        DbBackend::Postgres => {
            // Each key is looked up in its index (LATERAL: one probe per key), whatever the planner's
            // statistics say during a bulk load; `col = ANY($1)` or a plain join can turn into a scan of
            // the whole table per page. A worker found twice is de-duplicated below. The keys travel as
            // typed arrays (binary), the rows come back by position.
            let sql = "WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bool[]) AS k(str, nik, repeated)), \
                       by_str AS (SELECT w.* FROM k CROSS JOIN LATERAL \
                         (SELECT id, str_number, nik_index, nik_masked, name_norm, birth_place_norm, content_hash, \
                          source_hash, str_status, str_valid_until, field_fingerprint, seq FROM health_worker WHERE str_number = k.str) w) \
                       SELECT * FROM by_str \
                       UNION ALL \
                       SELECT w.* FROM k CROSS JOIN LATERAL \
                         (SELECT id, str_number, nik_index, nik_masked, name_norm, birth_place_norm, content_hash, \
                          source_hash, str_status, str_valid_until, field_fingerprint, seq FROM health_worker WHERE nik_index = k.nik) w \
                       WHERE k.repeated OR NOT EXISTS \
                         (SELECT 1 FROM by_str b WHERE b.str_number = k.str AND b.nik_index = k.nik)";
            let conn = postgres(txn)?;
            sqlx::query(sql)
                .bind(keys.iter().map(|k| k.str_number).collect::<Vec<_>>())
                .bind(keys.iter().map(|k| k.nik_index).collect::<Vec<_>>())
                .bind(keys.iter().map(|k| k.str_repeated).collect::<Vec<_>>())
                .fetch_all(conn)
                .await
                .map_err(sqlx_err)?
                .iter()
                .map(lookup_row)
                .collect::<Result<_, _>>()
                .map_err(sqlx_err)?
        }
        backend => {
            let stmt = health_worker::Entity::find()
                .select_only()
                .columns([
                    C::Id,
                    C::StrNumber,
                    C::NikIndex,
                    C::NikMasked,
                    C::NameNorm,
                    C::BirthPlaceNorm,
                    C::ContentHash,
                    C::SourceHash,
                    C::StrStatus,
                    C::StrValidUntil,
                    C::FieldFingerprint,
                ])
                .expr_as(Expr::cust(seq_column(backend)), "seq")
                .filter(
                    Condition::any()
                        .add(C::StrNumber.is_in(keys.iter().map(|k| k.str_number)))
                        .add(C::NikIndex.is_in(keys.iter().map(|k| k.nik_index))),
                )
                .build(backend);
            txn.query_all(stmt)
                .await?
                .iter()
                .map(|r| LookupRow::from_query_result(r, ""))
                .collect::<Result<_, _>>()?
        }
    };
    let mut seen = foldhash::HashSet::with_capacity_and_hasher(keys.len(), Default::default());
    Ok(found.into_iter().filter(|r| seen.insert(r.id)).collect())
}

/// A lookup row from PostgreSQL, by position (the `SELECT` list of `lookup`).
fn lookup_row(row: &sqlx::postgres::PgRow) -> Result<LookupRow, sqlx::Error> {
    use sqlx::Row;
    Ok(LookupRow {
        id: row.try_get(0)?,
        str_number: row.try_get(1)?,
        nik_index: row.try_get(2)?,
        nik_masked: row.try_get(3)?,
        name_norm: row.try_get(4)?,
        birth_place_norm: row.try_get(5)?,
        content_hash: row.try_get(6)?,
        source_hash: row.try_get(7)?,
        str_status: row.try_get(8)?,
        str_valid_until: row.try_get(9)?,
        field_fingerprint: row.try_get(10)?,
        seq: row.try_get(11)?,
    })
}

/// The probes whose STR holder carries the probe's source hash: one statement per page, outside the
/// page's transaction (it reads ahead like `lookup`).
pub async fn find_unchanged(
    db: &DatabaseConnection,
    probes: &[Probe],
) -> Result<Vec<Found>, DbErr> {
    if probes.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::with_capacity(probes.len());
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // One index probe per STR number, as in `lookup`; typed arrays in (`unnested`), rows by
            // position out.
            let sql = "SELECT k.pos, w.id, w.seq \
                       FROM (SELECT unnest($1::text[]) AS str, unnest($2::text[]) AS h, unnest($3::int4[]) AS pos) AS k \
                       CROSS JOIN LATERAL (SELECT id, seq FROM health_worker \
                         WHERE str_number = k.str AND source_hash = k.h) w";
            let rows: Vec<(i32, Uuid, i64)> = sqlx::query_as(sql)
                .bind(
                    probes
                        .iter()
                        .map(|p| p.str_number.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    probes
                        .iter()
                        .map(|p| p.source_hash.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(probes.iter().map(|p| p.position as i32).collect::<Vec<_>>())
                .fetch_all(db.get_postgres_connection_pool())
                .await
                .map_err(sqlx_err)?;
            found.extend(rows.into_iter().map(|(pos, worker_id, seq)| Found {
                position: pos as usize,
                worker_id,
                seq,
            }));
        }
        backend => {
            use health_worker::Column as C;
            let by_str: foldhash::HashMap<&str, &Probe> =
                probes.iter().map(|p| (p.str_number.as_str(), p)).collect();
            let stmt = health_worker::Entity::find()
                .select_only()
                .columns([C::Id, C::StrNumber, C::SourceHash])
                .expr(Expr::cust(seq_column(backend)))
                .filter(C::StrNumber.is_in(probes.iter().map(|p| p.str_number.as_str())))
                .build(backend);
            for row in db.query_all_raw(stmt).await? {
                let (worker_id, str_number, hash, seq): (Uuid, String, Option<String>, i64) = (
                    row.try_get_by_index(0)?,
                    row.try_get_by_index(1)?,
                    row.try_get_by_index(2)?,
                    row.try_get_by_index(3)?,
                );
                if let Some(probe) = by_str.get(str_number.as_str()) {
                    if hash.as_deref() == Some(probe.source_hash.as_str()) {
                        found.push(Found {
                            position: probe.position,
                            worker_id,
                            seq,
                        });
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Stores the source and content hashes of workers found unchanged by matching (their record's bytes
/// differ from the ones they were written from, e.g. after a release, or they hold an earlier release's
/// content hash): the next re-sync finds them on the fast path.
pub async fn refresh_hashes(
    txn: &mut PageTxn,
    rows: Vec<(Uuid, String, String)>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    use health_worker::Column as C;
    match txn.backend() {
        DbBackend::Postgres => {
            let mut ids = Vec::with_capacity(rows.len());
            let mut sources = Vec::with_capacity(rows.len());
            let mut contents = Vec::with_capacity(rows.len());
            for (id, source, content) in rows {
                ids.push(id);
                sources.push(source);
                contents.push(content);
            }
            let query = sqlx::query(
                "UPDATE health_worker AS w SET source_hash = k.h, content_hash = k.c \
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(id, h, c) WHERE w.id = k.id",
            );
            execute_bound(txn, query.bind(ids).bind(sources).bind(contents)).await?;
        }
        _ => {
            // One short statement per worker, the same text each time (prepared once).
            for (id, source, content) in rows {
                let update = health_worker::Entity::update_many()
                    .col_expr(C::SourceHash, sea_orm::sea_query::Expr::value(source))
                    .col_expr(C::ContentHash, sea_orm::sea_query::Expr::value(content))
                    .filter(C::Id.eq(id));
                execute_query(txn, &update).await?;
            }
        }
    }
    Ok(())
}

/// Inserts new workers and updates changed ones. On PostgreSQL, new rows are one INSERT of typed arrays
/// (their ids are fresh, so no conflict check is needed) and changed rows one UPDATE joined to the
/// page's rows.
pub async fn write_workers(
    txn: &mut PageTxn,
    inserts: Vec<health_worker::Model>,
    updates: Vec<health_worker::Model>,
) -> Result<(), DbErr> {
    match txn.backend() {
        DbBackend::Postgres => {
            if !inserts.is_empty() {
                insert_new_workers(txn, &inserts).await?;
            }
            if !updates.is_empty() {
                update_changed_workers(txn, &updates).await?;
            }
        }
        _ => {
            let conn = txn
                .sqlite()
                .ok_or_else(|| DbErr::Custom("no SQLite connection".into()))?;
            for rows in [&inserts, &updates] {
                for chunk in sqlite_chunks(rows) {
                    upsert_workers_sqlite(conn, chunk).await?;
                }
            }
        }
    }
    Ok(())
}

/// Splits rows into chunks of 256, 128, …, 1 rows: the upsert's text depends only on its number of
/// rows, so at most nine statements are ever prepared and cached per connection (a cached statement of
/// each length a page happened to have grew the server by tens of MB).
fn sqlite_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let len = 1 << rows.len().min(SQLITE_ROWS_PER_STATEMENT).ilog2();
        let (chunk, rest) = rows.split_at(len);
        rows = rest;
        Some(chunk)
    })
}

/// Workers on SQLite: a multi-row upsert whose text depends only on the number of rows, so sqlx
/// prepares it once per connection and each page only binds values (SQLite's parser and SeaORM's
/// statement building were most of a page's time).
async fn upsert_workers_sqlite(
    conn: &mut sqlx::SqliteConnection,
    rows: &[health_worker::Model],
) -> Result<(), DbErr> {
    let names: Vec<&str> = WORKER_COLUMNS.iter().map(|(n, _)| *n).collect();
    let row = format!("({})", vec!["?"; names.len()].join(", "));
    let sets: Vec<String> = names
        .iter()
        .filter(|n| !UPSERT_KEEPS.contains(n))
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let sql = format!(
        "INSERT INTO health_worker ({}) VALUES {} ON CONFLICT (id) DO UPDATE SET {}",
        names.join(", "),
        vec![row; rows.len()].join(", "),
        sets.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        query = with_worker_fields!(bind_row!(query, row));
    }
    query.execute(conn).await.map_err(sqlx_err)?;
    Ok(())
}

/// New workers on PostgreSQL: one INSERT of typed arrays (`unnest`), which sqlx sends in PostgreSQL's
/// binary format, so the server parses no text. Measured against binary `COPY` at 200 k rows: as fast
/// on average, without COPY's occasional 40 ms stall (its data and its end are two writes, and sqlx
/// leaves Nagle's algorithm on), and one round trip instead of two.
async fn insert_new_workers(txn: &mut PageTxn, rows: &[health_worker::Model]) -> Result<(), DbErr> {
    let sql = insert_unnested("health_worker", &WORKER_COLUMNS);
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    execute_bound(txn, with_worker_fields!(bind_columns!(query, rows))).await
}

/// Changed workers on PostgreSQL: one UPDATE joined to the page's rows as typed arrays, bound as the
/// inserts are. (They were one JSON array before: the text of a page of updates and sqlx's copy of it
/// both grew by doubling, which set the server's peak memory, and PostgreSQL parsed it back.)
async fn update_changed_workers(
    txn: &mut PageTxn,
    rows: &[health_worker::Model],
) -> Result<(), DbErr> {
    let sets: Vec<String> = WORKER_COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !UPSERT_KEEPS.contains(n))
        .map(|n| format!("{n} = r.{n}"))
        .collect();
    let sql = format!(
        "UPDATE health_worker AS w SET {} FROM (SELECT {}) AS r WHERE w.id = r.id",
        sets.join(", "),
        unnested(&WORKER_COLUMNS)
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    execute_bound(txn, with_worker_fields!(bind_columns!(query, rows))).await
}

/// Refreshes the planner's statistics of `health_worker` (PostgreSQL). Called as a bulk load grows the
/// table: statistics from when it was small would turn the per-page lookups into table scans, and
/// autovacuum comes too late within one run. Only the lookup keys, and `missing_since` (without its
/// statistics the planner takes every row for marked, and counts the missing by a scan of the table
/// instead of their partial index): the other columns' statistics serve searches, which autovacuum's
/// own ANALYZE keeps fresh.
pub async fn refresh_statistics<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE health_worker (str_number, nik_index, missing_since)")
            .await?;
    }
    Ok(())
}

pub async fn insert_history(txn: &mut PageTxn, rows: Vec<HistoryRow>) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    match txn.backend() {
        DbBackend::Postgres => {
            let sql = insert_unnested("str_history", &HISTORY_COLUMNS);
            let query = sqlx::query(sqlx::AssertSqlSafe(sql));
            execute_bound(txn, with_history_fields!(bind_columns!(query, rows))).await?;
        }
        _ => {
            use sea_orm::ActiveValue::{NotSet, Set};
            let models: Vec<str_history::ActiveModel> = rows
                .into_iter()
                .map(|r| str_history::ActiveModel {
                    id: NotSet,
                    worker_id: Set(r.worker_id),
                    str_number: Set(r.str_number),
                    str_status: Set(r.str_status),
                    str_valid_until: Set(r.str_valid_until),
                    batch_id: Set(r.batch_id),
                    recorded_at: Set(r.recorded_at),
                })
                .collect();
            for chunk in models.chunks(SQLITE_ROWS_PER_STATEMENT) {
                execute_query(txn, &str_history::Entity::insert_many(chunk.to_vec())).await?;
            }
        }
    }
    Ok(())
}

/// Rejections and warnings of the page (few: multi-row inserts on both backends).
pub async fn insert_issues(
    txn: &mut PageTxn,
    issues: Vec<batch_issue::ActiveModel>,
) -> Result<(), DbErr> {
    for chunk in issues.chunks(ISSUE_ROWS_PER_STATEMENT) {
        execute_query(txn, &batch_issue::Entity::insert_many(chunk.to_vec())).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{IdenStatic, Iterable};

    #[test]
    fn column_lists_match_the_entities() {
        let workers: Vec<&str> = health_worker::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(workers, WORKER_COLUMNS.map(|(n, _)| n).to_vec());
        let history: Vec<&str> = str_history::Column::iter()
            .map(|c| c.as_str())
            .filter(|c| *c != "id")
            .collect();
        assert_eq!(history, HISTORY_COLUMNS.map(|(n, _)| n).to_vec());
    }

    #[test]
    fn sqlite_chunks_have_few_lengths() {
        for n in [0, 1, 7, 256, 257, 990, 1000] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = sqlite_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows, "every row once, in order");
            assert!(chunks
                .iter()
                .all(|c| c.len().is_power_of_two() && c.len() <= 256));
        }
    }

    #[test]
    fn bound_fields_are_the_columns_in_order() {
        macro_rules! names {
            (; $($field:ident),*) => { [$(stringify!($field)),*] };
        }
        assert_eq!(
            with_worker_fields!(names!()),
            WORKER_COLUMNS.map(|(n, _)| n)
        );
        assert_eq!(
            with_history_fields!(names!()),
            HISTORY_COLUMNS.map(|(n, _)| n)
        );
    }
}
