//! Review cases in the store (CONTRACT §3): opened or seen again by the pages of real runs, read by
//! `review.list` / `review.get`, closed by `review.decide`.

use super::page_txn::PageTxn;
use super::queries::{page_of, Page};
use crate::domain::review::CaseStatus;
use crate::rules::decide::CaseSighting;
use chrono::{DateTime, Utc};
use entity::review_case;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// A case with what a person compares: the worker holding its STR now, and the incoming record as
/// today's rules read it (`None` when they no longer accept it).
pub struct CaseFile {
    pub case: review_case::Model,
    pub stored: Option<entity::health_worker::Model>,
    pub incoming: Option<crate::rules::page::Prepared>,
}

/// Opens a case for each sighting, or counts it seen again: once per batch, and only while the case is
/// open (a case decided `keep_sdmk` stays closed for the same content).
pub async fn record_sightings(
    txn: &mut PageTxn,
    sightings: Vec<CaseSighting>,
    batch_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use review_case::Column as C;
    for sighting in sightings {
        let mut insert = Query::insert();
        insert
            .into_table(review_case::Entity)
            .columns([
                C::Id,
                C::CaseKey,
                C::Kind,
                C::Status,
                C::StrNumber,
                C::Incoming,
                C::IncomingSealed,
                C::OpenedAt,
                C::LastSeenAt,
                C::SeenCount,
                C::FirstBatchId,
                C::LastBatchId,
            ])
            .values_panic([
                Uuid::now_v7().into(),
                sighting.case_key().into(),
                sighting.kind.code().into(),
                CaseStatus::Open.code().into(),
                sighting.str_number.into(),
                sighting.incoming.into(),
                sighting.incoming_sealed.into(),
                now.into(),
                now.into(),
                1i64.into(),
                batch_id.into(),
                batch_id.into(),
            ])
            .on_conflict(
                OnConflict::column(C::CaseKey)
                    .value(
                        C::SeenCount,
                        Expr::col((review_case::Entity, C::SeenCount)).add(1),
                    )
                    .value(C::LastSeenAt, now)
                    .value(C::LastBatchId, batch_id)
                    .action_and_where(
                        Expr::col((review_case::Entity, C::Status))
                            .eq(CaseStatus::Open.code())
                            .and(Expr::col((review_case::Entity, C::LastBatchId)).ne(batch_id)),
                    )
                    .to_owned(),
            );
        txn.execute(txn.backend().build(&insert)).await?;
    }
    Ok(())
}

/// One page of cases, oldest first.
pub async fn list(
    db: &DatabaseConnection,
    status: CaseStatus,
    kind: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Page<review_case::Model>, DbErr> {
    use review_case::Column as Col;
    let mut query = review_case::Entity::find().filter(Col::Status.eq(status.code()));
    if let Some(kind) = kind {
        query = query.filter(Col::Kind.eq(kind));
    }
    let ordered = query.order_by_asc(Col::OpenedAt).order_by_asc(Col::Id);
    page_of(db, ordered, limit, offset).await
}
