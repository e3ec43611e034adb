//! RegNakes Sync: keeps the SDMK health-workforce database in step with the national RegNakes registry.

pub mod cli;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod regnakes;
pub mod rpc;
pub mod rules;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod views;
