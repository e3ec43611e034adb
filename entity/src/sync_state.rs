//! The single row of sync state: the incremental watermark, the lease that makes one sync run at a time
//! across instances, and the alert state that keeps Slack to one message per failure streak.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub watermark: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub lease_batch_id: Option<Uuid>,
    pub lease_holder: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub alerting: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
