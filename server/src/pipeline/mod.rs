//! One run of a batch: read RegNakes by key (`reader`), make each page ready ahead (CPU work and
//! the read-ahead lookup, `read_ahead`), store them in order through the commit chain
//! (`commit_chain`), and finish the batch (status, watermark, alerts, Odoo). `run::run_batch` is the
//! entry; the service starts it.

pub mod commit_chain;
pub mod plan;
pub mod read_ahead;
pub mod reader;
pub mod run;
