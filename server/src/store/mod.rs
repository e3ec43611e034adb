//! The database only: one page's transaction (`page`: look up, write the plan, count), the writes per
//! backend (`writes`: PostgreSQL `UNNEST`/`COPY`-like statements, SQLite batches), the single-flight
//! lease, retention, NIK key rotation, re-keying an earlier release's hashes (`rehash`), and the reads the RPC surface pages through (`queries`).

pub mod changes;
pub mod dry_run;
pub mod lease;
pub mod missing;
pub mod nik_keys;
pub mod page;
pub mod page_txn;
pub mod queries;
pub mod rehash;
pub mod retention;
pub mod review;
pub mod upstream_fields;
pub mod writes;

#[cfg(test)]
mod fast_path_tests;
