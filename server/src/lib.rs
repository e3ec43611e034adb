//! RegNakes Sync: keeps the SDMK health-workforce database in step with the national RegNakes registry.

pub mod allocator;
pub mod cli;
pub mod config;
pub mod cpu_path;
pub mod domain;
pub mod http_body;
pub mod metrics;
pub(crate) mod notify;
pub(crate) mod pipeline;
pub(crate) mod regnakes;
pub mod rpc;
pub(crate) mod rules;
pub mod service;
pub mod startup;
pub(crate) mod store;
pub mod telemetry;
pub mod testing;
pub mod tls;
pub mod views;

/// The NIK columns (blind index, encryption, masking): for tools and tests that read a stored NIK back.
pub use rules::identity::{NikColumns, NikIndexer};
