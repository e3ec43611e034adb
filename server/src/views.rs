//! The JSON views of CONTRACT §3: what the RPC surface answers, and the `Batch` the Odoo notification
//! carries. The service returns models and `SyncStatus`; only this module knows the wire format.

use crate::domain::batch::SyncStatus;
use crate::domain::worker_fields::FieldCounts;
use crate::rules::record_diff;
use entity::{batch, batch_issue, health_worker};
use serde_json::value::RawValue;
use serde_json::{json, Value};

pub use crate::domain::time::ts;

/// The `Batch` object of CONTRACT §3 (plus a few extra fields).
pub fn view(model: &batch::Model) -> Value {
    json!({
        "id": model.id,
        "trace_id": model.trace_id,
        "trigger": model.trigger,
        "mode": model.mode,
        "status": model.status,
        "started_at": ts(model.started_at),
        "finished_at": model.finished_at.map(ts),
        "duration_ms": model.duration_ms,
        "pages": model.pages,
        "total_pages": model.total_pages,
        "received": model.received,
        "inserted": model.inserted,
        "updated": model.updated,
        "unchanged": model.unchanged,
        "rejected": model.rejected,
        "warnings": model.warnings,
        "failure_rate": model.failure_rate,
        "error": model.error,
        // A cancel was asked for: the run stops at its next page (it is still `running` until then).
        "cancel_requested": model.cancel_requested,
        "requested_by": model.requested_by,
        "professions": model.professions.as_deref().map(|p| p.split(',').collect::<Vec<_>>()),
        // The window of upstream `updated_at` the run read: [since, until). An incremental run's
        // `since` is the watermark minus SYNC_LOOKBACK.
        "since": model.window_since.map(ts),
        "until": model.window_until.map(ts),
        "changed_fields": FieldCounts::from_json(model.changed_fields.as_deref()).to_json(),
        "dry_run": model.dry_run,
        "missing": model.missing,
        "unknown_fields": crate::rules::unknown_fields::UnknownFields::from_json(model.unknown_fields.as_deref()).to_json(),
    })
}

/// The `worker.search` row (CONTRACT §3): the NIK only masked.
pub fn worker_view(w: &health_worker::Model) -> Value {
    json!({
        "id": w.id,
        "str_number": w.str_number,
        "name": w.name,
        "profession": w.profession_code,
        "profession_group": w.profession_group,
        "str_status": w.str_status,
        "str_valid_until": w.str_valid_until.map(|d| d.to_string()),
        "birth_place": w.birth_place,
        "nik_masked": w.nik_masked,
        "updated_at": ts(w.updated_at),
        "in_registry": w.missing_since.is_none(),
        "missing_since": w.missing_since.map(ts),
    })
}

/// A rejected row or warning of `batch.errors` / `batch.warnings`; the raw record is written as stored
/// (JSON, NIK masked), or as a string when it is not JSON.
#[derive(serde::Serialize)]
pub struct IssueView<'a> {
    str_number: Option<&'a str>,
    reason: &'a str,
    message: &'a str,
    page: i64,
    raw: Option<RawRecord<'a>>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum RawRecord<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

pub fn issue_view(i: &batch_issue::Model) -> IssueView<'_> {
    IssueView {
        str_number: i.str_number.as_deref(),
        reason: &i.reason,
        message: &i.message,
        page: i.page,
        raw: i.raw.as_deref().map(|r| {
            serde_json::from_str::<&RawValue>(r)
                .map(RawRecord::Json)
                .unwrap_or(RawRecord::Text(r))
        }),
    }
}

/// `sync.status` (CONTRACT §3).
pub fn status(s: &SyncStatus) -> Value {
    let change = s.enabled_change.as_ref();
    json!({
        "enabled": s.enabled,
        // Who last switched the integration on or off, when and why (the dashboard says it).
        "enabled_changed_by": change.and_then(|c| c.by.clone()),
        "enabled_changed_at": change.and_then(|c| c.at).map(ts),
        "enabled_reason": change.and_then(|c| c.reason.clone()),
        "running": s.running.as_ref().map(view),
        "last": s.last.as_ref().map(view),
        "last_success_at": s.last_success_at.map(ts),
        "next_run_at": s.next_run_at.map(ts),
        "watermark": s.watermark.map(ts),
        "missing_workers": s.missing_workers,
    })
}

/// The `Case` of CONTRACT §3: the stored worker and the incoming record side by side, and where they
/// differ (NIK masked on both sides).
pub fn case_view(file: &crate::store::review::CaseFile) -> Value {
    let case = &file.case;
    let incoming_row = file.incoming.as_ref().map(|prepared| {
        let input = crate::rules::page::PageInput::new(case.last_batch_id, case.last_seen_at);
        crate::rules::decide::worker_row(uuid::Uuid::nil(), prepared.clone(), &input)
    });
    let mut incoming: Value =
        serde_json::from_str(&case.incoming).unwrap_or_else(|_| json!({"raw": case.incoming}));
    if let (Some(row), Some(fields)) = (&incoming_row, incoming.as_object_mut()) {
        fields.insert("nik_masked".into(), json!(row.nik_masked));
    }
    let differences = match (&file.stored, &incoming_row) {
        (Some(stored), Some(row)) => {
            record_diff::to_json(&record_diff::differences(Some(stored), row))
        }
        _ => json!([]),
    };
    let decision = case.decision.as_ref().map(|d| {
        json!({"decision": d, "note": case.decision_note, "by": case.decided_by,
               "at": case.decided_at.map(ts), "batch_id": case.applied_batch_id})
    });
    json!({
        "id": case.id,
        "kind": case.kind,
        "status": case.status,
        "str_number": case.str_number,
        "opened_at": ts(case.opened_at),
        "last_seen_at": ts(case.last_seen_at),
        "seen_count": case.seen_count,
        "first_batch_id": case.first_batch_id,
        "last_batch_id": case.last_batch_id,
        "stored": file.stored.as_ref().map(worker_view),
        "incoming": incoming,
        "differences": differences,
        "decision": decision,
    })
}
