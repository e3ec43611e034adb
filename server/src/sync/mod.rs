//! The sync engine: transform (pure), matching (pure), store (one transaction per page), batch lifecycle,
//! the single-flight lease, the run loop, the scheduler, and the service every caller goes through.

pub mod batch;
pub mod bulk;
pub mod commit_chain;
pub mod decide;
pub mod first_load;
pub mod identity;
pub mod lease;
pub mod matching;
pub mod nik_keys;
pub mod page_txn;
pub mod read_ahead;
pub mod retention;
pub mod run;
pub mod scheduler;
pub mod service;
pub mod store;
pub mod transform;
pub mod unchanged;
