//! `batch.retry` (CONTRACT §3): a batch's chosen rejected rows read again from RegNakes, each through a
//! narrow window around its `updated_at`, and run through today's rules and reference list as a new batch
//! with trigger `retry`.

use super::{ServiceError, StartRequest, Started, SyncService};
use crate::domain::batch::{Mode, Severity, Trigger};
use crate::domain::RejectReason;
use crate::pipeline::plan::RetryTarget;
use crate::regnakes::PageQuery;
use crate::rules::transform::upstream_time;
use chrono::{DateTime, Utc};
use entity::batch_issue;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::BTreeSet;
use std::sync::Arc;
use uuid::Uuid;

/// The most rows one retry reads again.
pub const MAX_RETRY_ROWS: u64 = 1000;

/// Which rejected rows to retry: by reason, by STR number, or both (all rejected rows when neither).
pub struct RetryRequest {
    pub batch_id: Uuid,
    pub reasons: Vec<RejectReason>,
    pub str_numbers: Vec<String>,
    pub actor: Option<String>,
    pub trace_id: Option<String>,
}

impl SyncService {
    pub async fn retry(&self, request: RetryRequest) -> Result<Started, ServiceError> {
        if !self.is_enabled().await? {
            return Err(ServiceError::Disabled);
        }
        self.get(request.batch_id).await?;
        use batch_issue::Column as C;
        let mut rows = batch_issue::Entity::find()
            .filter(C::BatchId.eq(request.batch_id))
            .filter(C::Severity.eq(Severity::Error.code()));
        if !request.reasons.is_empty() {
            rows = rows.filter(C::Reason.is_in(request.reasons.iter().map(|r| r.code())));
        }
        if !request.str_numbers.is_empty() {
            rows = rows.filter(C::StrNumber.is_in(request.str_numbers.iter().cloned()));
        }
        let rows = rows
            .order_by_asc(C::Id)
            .limit(MAX_RETRY_ROWS)
            .all(self.db())
            .await?;
        if rows.is_empty() {
            return Err(ServiceError::InvalidParam {
                param: "batch_id",
                problem: format!("batch {} has no rejected rows that match", request.batch_id),
            });
        }
        let target = retry_target(&rows);
        self.start_checked(
            StartRequest {
                mode: Mode::Incremental,
                trigger: Trigger::Retry,
                actor: request.actor,
                trace_id: request.trace_id,
                retry: Some(Arc::new(target)),
                ..StartRequest::default()
            },
            None,
        )
        .await
    }
}

/// One window `[t, t + 1 ms)` per distinct `updated_at` of the rows (several rows of one instant share
/// it); a row whose kept record has no STR number or no readable `updated_at` cannot be located.
fn retry_target(rows: &[batch_issue::Model]) -> RetryTarget {
    let mut instants: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    let mut target = RetryTarget::default();
    for row in rows {
        let at = row
            .raw
            .as_deref()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .and_then(|raw| raw.get("updated_at")?.as_str().and_then(upstream_time));
        match (&row.str_number, at) {
            (Some(number), Some(at)) => {
                instants.insert(at);
                target.wanted.insert(number.clone());
            }
            (Some(number), None) => target.unlocated.push(number.clone()),
            (None, _) => target
                .unlocated
                .push(format!("a row of page {} without an STR number", row.page)),
        }
    }
    target.queries = instants
        .into_iter()
        .map(|at| PageQuery {
            updated_since: Some(at),
            updated_until: Some(at + chrono::Duration::milliseconds(1)),
            ..PageQuery::default()
        })
        .collect();
    target
}
