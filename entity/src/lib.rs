//! SeaORM entities of the SDMK RegNakes sync: tables only, no logic.

pub mod batch;
pub mod batch_change;
pub mod batch_issue;
pub mod health_worker;
pub mod identity_history;
pub mod integration_audit;
pub mod integration_setting;
pub mod review_case;
pub mod str_history;
pub mod sync_state;
pub mod upstream_field;
