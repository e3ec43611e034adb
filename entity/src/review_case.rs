//! Review cases (CONTRACT §3): a record the sync may not settle alone (`identity_conflict`,
//! `duplicate_str`), one per STR number and incoming content, until a person decides it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_case")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `<str_number> <content hash>`: what makes a case one, however many batches meet it.
    #[sea_orm(unique)]
    pub case_key: String,
    pub kind: String,
    #[sea_orm(indexed)]
    pub status: String,
    #[sea_orm(indexed)]
    pub str_number: String,
    /// The incoming record as read, every NIK masked (what people see).
    pub incoming: String,
    /// The incoming record as read, encrypted with the NIK key (what `accept_registry` applies).
    pub incoming_sealed: String,
    pub opened_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub seen_count: i64,
    pub first_batch_id: Uuid,
    pub last_batch_id: Uuid,
    pub decision: Option<String>,
    pub decision_note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// The `review` batch that applied an `accept_registry`.
    pub applied_batch_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
