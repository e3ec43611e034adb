//! The end-to-end suite: one binary, every test against the real server and simulator over HTTP.

mod doubles;
mod helpers;

mod engine;
mod faults;
mod rpc;
