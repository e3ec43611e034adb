//! The reads the RPC surface pages through (batches, a batch's issues, workers), the audit log, and the
//! fields every new batch row starts with.

use crate::domain::batch::{BatchStatus, Counts, Severity};
use chrono::Utc;
use entity::{batch, batch_issue, health_worker, integration_audit};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// One page of a list, with the total for the pager.
#[derive(Debug)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// One page of an ordered query, with the total count for the pager.
pub(crate) async fn page_of<E: EntityTrait>(
    db: &DatabaseConnection,
    query: sea_orm::Select<E>,
    limit: u64,
    offset: u64,
) -> Result<Page<E::Model>, DbErr>
where
    E::Model: Sync,
{
    let total = query.clone().count(db).await?;
    let items = query.limit(limit).offset(offset).all(db).await?;
    Ok(Page { total, items })
}

/// Batches, newest first, optionally of one status.
pub async fn batches(
    db: &DatabaseConnection,
    status: Option<BatchStatus>,
    limit: u64,
    offset: u64,
) -> Result<Page<batch::Model>, DbErr> {
    let mut query = batch::Entity::find();
    if let Some(status) = status {
        query = query.filter(batch::Column::Status.eq(status.code()));
    }
    let ordered = query
        .order_by_desc(batch::Column::StartedAt)
        .order_by_desc(batch::Column::Id);
    page_of(db, ordered, limit, offset).await
}

/// A batch's rejected rows or warnings, in the order they were recorded.
pub async fn issues(
    db: &DatabaseConnection,
    batch_id: Uuid,
    severity: Severity,
    limit: u64,
    offset: u64,
) -> Result<Page<batch_issue::Model>, DbErr> {
    let query = batch_issue::Entity::find()
        .filter(batch_issue::Column::BatchId.eq(batch_id))
        .filter(batch_issue::Column::Severity.eq(severity.code()))
        .order_by_asc(batch_issue::Column::Id);
    page_of(db, query, limit, offset).await
}

/// What `worker.search` looks for: text (an STR number or part of a name), the blind index of a NIK
/// the text parses as, a profession.
pub struct WorkerSearch<'a> {
    pub text: Option<&'a str>,
    pub nik_index: Option<String>,
    pub profession: Option<&'a str>,
    /// Only the workers the registry no longer has (`missing_since` set; its own index).
    pub missing: bool,
}

/// Workers by name, then id.
pub async fn workers(
    db: &DatabaseConnection,
    search: &WorkerSearch<'_>,
    limit: u64,
    offset: u64,
) -> Result<Page<health_worker::Model>, DbErr> {
    use health_worker::Column as C;
    let mut select = health_worker::Entity::find();
    if let Some(code) = search.profession {
        select = select.filter(C::ProfessionCode.eq(code));
    }
    if search.missing {
        select = select.filter(C::MissingSince.is_not_null());
    }
    if let Some(text) = search.text {
        let name = crate::domain::sanitize::fold_for_matching(text);
        // Each term is served by an index (CONTRACT §3): the unique STR index, the NIK blind index, and
        // for the name a trigram index (PostgreSQL's GIN on `name_norm`; SQLite's FTS5 table, joined by
        // rowid), so the planner unions three index lookups instead of scanning the table.
        let name_term = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => Condition::all().add(Expr::cust_with_values(
                // The folded name holds letters, digits and spaces only: no LIKE wildcard.
                "health_worker.rowid IN (SELECT rowid FROM health_worker_name WHERE name_norm LIKE ?)",
                [format!("%{name}%")],
            )),
            _ => Condition::all().add(C::NameNorm.contains(name)),
        };
        let mut any = Condition::any().add(C::StrNumber.eq(text)).add(name_term);
        if let Some(index) = &search.nik_index {
            any = any.add(C::NikIndex.eq(index.as_str()));
        }
        select = select.filter(any);
    }
    let ordered = select.order_by_asc(C::NameNorm).order_by_asc(C::Id);
    page_of(db, ordered, limit, offset).await
}

/// A batch's zero counters and empty optional fields, for the fields a new batch does not set.
pub fn empty_batch() -> batch::ActiveModel {
    let mut model = batch::ActiveModel {
        requested_by: Set(None),
        professions: Set(None),
        window_since: Set(None),
        window_until: Set(None),
        changed_fields: Set(None),
        checkpoint: Set(None),
        pages: Set(0),
        total_pages: Set(None),
        failure_rate: Set(0.0),
        cancel_requested: Set(false),
        dry_run: Set(false),
        missing: Set(0),
        unknown_fields: Set(None),
        ..Default::default()
    };
    for (column, zero) in Counts::default().by_column() {
        model.set(column, zero.into());
    }
    model
}

/// Moves the entries a batch added to the name search's trigram index (PostgreSQL GIN, `pg_trgm`) out of
/// its pending list: until then every name search reads that list whole (5 ms a search after a 300 000
/// record load, 0.1 ms after). Autovacuum would do it later; searches right after a sync should not wait.
pub async fn settle_name_index(db: &DatabaseConnection) {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let sql = "SELECT gin_clean_pending_list(c.oid) FROM pg_class c \
               WHERE c.relname = 'health_worker_name_norm_trgm' AND c.relkind = 'i'";
    if let Err(err) = db.execute_unprepared(sql).await {
        tracing::debug!(error = %err, "settling the name search index failed; autovacuum will");
    }
}

/// A warning about the batch as a whole (the upstream's totals), kept with its rows' warnings.
pub async fn upstream_warning<C: ConnectionTrait>(
    db: &C,
    batch_id: Uuid,
    message: &str,
    at: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    batch_issue::ActiveModel {
        batch_id: Set(batch_id),
        severity: Set(Severity::Warning.code().to_string()),
        str_number: Set(None),
        reason: Set(UPSTREAM_TOTALS.into()),
        message: Set(message.into()),
        page: Set(0),
        raw: Set(None),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The reason of a warning about the upstream's totals.
pub const UPSTREAM_TOTALS: &str = "upstream_totals";

/// An audited administrative action, in the caller's transaction.
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    action: &str,
    actor: &str,
    detail: Option<String>,
) -> Result<(), DbErr> {
    integration_audit::ActiveModel {
        action: Set(action.into()),
        actor: Set(actor.into()),
        detail: Set(detail),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Which of `str_numbers` batch `batch_id` met: written to a worker, or rejected again.
pub async fn met_in_batch<C: ConnectionTrait>(
    db: &C,
    batch_id: Uuid,
    str_numbers: &[String],
) -> Result<std::collections::BTreeSet<String>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let mut met = std::collections::BTreeSet::new();
    for chunk in str_numbers.chunks(500) {
        let written: Vec<String> = health_worker::Entity::find()
            .select_only()
            .column(health_worker::Column::StrNumber)
            .filter(health_worker::Column::LastBatchId.eq(batch_id))
            .filter(health_worker::Column::StrNumber.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        let rejected: Vec<Option<String>> = batch_issue::Entity::find()
            .select_only()
            .column(batch_issue::Column::StrNumber)
            .filter(batch_issue::Column::BatchId.eq(batch_id))
            .filter(batch_issue::Column::StrNumber.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        met.extend(written);
        met.extend(rejected.into_iter().flatten());
    }
    Ok(met)
}
