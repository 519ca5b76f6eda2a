//! The shell around the ledger: input formats, the synthetic data generator, the commands of
//! the `ledger` binary and its HTTP server. Everything here may do I/O; the rules live in
//! `ledger-core`.

pub mod cli;
pub mod commands;
pub mod gen;
pub mod ingest;
pub mod input;
pub mod reconcile;
pub mod render;
pub mod report;
pub mod serve;
pub mod session;
pub mod table;
pub mod whatif;
