//! The RegNakes upstream (CONTRACT §1): token, paged health-worker list, retries with backoff, and
//! `X-Request-ID` on every request.

pub mod client;
pub mod dto;
pub mod json_scan;
pub mod page_scan;
pub mod raw_record;
pub mod retry;
pub mod wire_struct;

pub use client::{PageQuery, RegnakesClient};
pub use raw_record::RawRecord;
