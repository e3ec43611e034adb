//! The end-to-end suite: one binary, every test against the real server and simulator over HTTP.

mod certs;
mod doubles;
mod helpers;

mod announcements;
mod before_and_after;
mod changes;
mod cursor;
mod edges;
mod engine;
mod faults;
mod live;
mod monitoring;
mod nik_at_rest;
mod operations;
mod retention;
mod review;
mod rpc;
mod schema;
mod security;
mod tls;
