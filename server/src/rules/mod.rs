//! The sync's rules, pure (no I/O, no database handle): a record's transform (mapping, sanitising,
//! validation), reading a window by key (`cursor`), the fast path's probes, the NIK columns, what a page looks up, the decision of every
//! record (`decide::decide_page` → `PagePlan`), and how a batch ends. Everything here is tested without
//! a database; `store` and `pipeline` call it.

pub mod cursor;
pub mod decide;
pub mod first_load;
pub mod identity;
pub mod key_hash;
mod key_scan;
pub mod matching;
pub mod outcome;
pub mod page;
pub mod record_diff;
pub mod record_keys;
#[cfg(test)]
pub(crate) mod samples;
pub mod seen;
pub mod transform;
pub mod unchanged;
pub mod unknown_fields;
