//! `regnakes-sim`: a simulator of the RegNakes API (CONTRACT §1) with deterministic generated data and
//! fault injection, for the demo, the tests and the benchmark.

pub mod dataset;
pub mod faults;
pub mod gateway;
pub mod people;
pub mod rng;
pub mod server;

pub use dataset::{AdvanceReport, AdvanceSpec, BadKind, Dataset, Expected};
pub use faults::{Fault, FaultPlan};
pub use server::{SimConfig, SimHandle, SimState};
