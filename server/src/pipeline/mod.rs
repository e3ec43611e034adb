//! One run of a batch: fetch pages from RegNakes a few at a time, make each ready ahead (CPU work and
//! the read-ahead lookup, `read_ahead`), store them in order through the commit chain
//! (`commit_chain`), and finish the batch (status, watermark, alerts, Odoo). `run::run_batch` is the
//! entry; the service starts it.

pub mod commit_chain;
pub mod read_ahead;
pub mod run;
