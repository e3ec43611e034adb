//! A health worker as SDMK holds it, with the current STR. NIK columns are written and read only by the
//! server's `rules::identity` module (blind index for matching, masked form for display).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "health_worker")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub str_number: String,
    #[sea_orm(indexed)]
    pub nik_index: String,
    pub nik: String,
    pub nik_masked: String,
    pub name: String,
    pub name_norm: String,
    pub sex: Option<String>,
    pub birth_place: String,
    pub birth_place_norm: String,
    pub birth_date: Date,
    #[sea_orm(indexed)]
    pub profession_code: String,
    pub profession_group: String,
    pub str_kind: Option<String>,
    pub str_council: Option<String>,
    pub str_issued_on: Option<Date>,
    pub str_valid_until: Option<Date>,
    pub str_status: String,
    pub licences_json: String,
    pub address_line: Option<String>,
    pub province_code: Option<String>,
    pub regency_code: Option<String>,
    pub content_hash: String,
    /// Hash of the upstream record this row was last written from (`rules::unchanged`); none on rows
    /// written before it existed.
    pub source_hash: Option<String>,
    /// One short hash per field group (`domain::worker_fields`), so an update can report which fields it
    /// changed; none on rows written before it existed.
    pub field_fingerprint: Option<String>,
    pub upstream_updated_at: Option<DateTimeUtc>,
    pub first_batch_id: Uuid,
    pub last_batch_id: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When a complete full read first did not see this worker in the registry; none while it is there.
    /// (Indexed where set only: migration 000008.)
    pub missing_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
