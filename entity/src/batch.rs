//! One sync run: the integration audit log (trigger, mode, window, counts, status, trace id, error).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_batch")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trace_id: String,
    pub trigger: String,
    pub mode: String,
    #[sea_orm(indexed)]
    pub status: String,
    pub requested_by: Option<String>,
    /// The scheduler's fire time; unique so that one scheduled run exists across all instances.
    #[sea_orm(unique)]
    pub schedule_slot: Option<String>,
    pub professions: Option<String>,
    pub window_since: Option<DateTimeUtc>,
    pub window_until: Option<DateTimeUtc>,
    pub checkpoint: Option<DateTimeUtc>,
    #[sea_orm(indexed)]
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub pages: i64,
    pub total_pages: Option<i64>,
    pub received: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub warnings: i64,
    pub failure_rate: f64,
    pub error: Option<String>,
    /// Per field group, how many of the batch's updates changed it (JSON, `domain::worker_fields`).
    pub changed_fields: Option<String>,
    pub cancel_requested: bool,
    pub instance_id: String,
    /// A dry run (CONTRACT §3): read and decided like a real run, wrote no worker.
    #[sea_orm(default_value = false)]
    pub dry_run: bool,
    /// Workers this complete full read marked missing from the registry.
    #[sea_orm(default_value = 0)]
    pub missing: i64,
    /// Record paths the mapping does not know, with how many records carried each (JSON `{path: count}`).
    pub unknown_fields: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
