//! # ledger-app: the ledger's use cases, with typed results
//!
//! What a verb of `ledger` (or a request to `ledger serve`) does, without saying how its
//! result looks: open a ledger ([`session`]), record agreements ([`agreement`]), ingest charge
//! files in three phases ([`ingest`]), close through a date ([`close`]), plan what meeting each
//! commitment takes ([`plan`]), correct
//! decisions of an older rulebook ([`resettle`]), replay scenarios
//! ([`whatif`]), reconcile with Azure's figures ([`reconcile`]), the data of the burn-down
//! report ([`report`]) and the decisions worth telling ([`timeline`]). `ledger-render` turns
//! the results into text, JSON and HTML; the binary and the server choose which.
//!
//! Every use case returns [`AppError`] when it fails; the binary and the server add what it
//! means for their user (exit status, HTTP status, context).
//!
//! The crates this one builds on are re-exported ([`core`], [`store`], [`replay`], [`input`]),
//! so the crates above it (render, serve, the binary) name the domain through one door.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod agreement;
pub mod close;
pub mod conflict;
pub mod error;
pub mod ingest;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod resettle;
pub mod session;
pub mod timeline;
pub mod whatif;

#[cfg(test)]
mod ingest_fuzz_tests;

pub use ledger_core as core;
pub use ledger_input as input;
pub use ledger_replay as replay;
pub use ledger_store as store;

pub use error::AppError;
pub use session::{Failure, Session};
