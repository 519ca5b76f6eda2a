//! # ledger-replay: projections, replay, what-if forks, audit and reconciliation
//!
//! Everything here is a fold. [`projection::Projections`] folds recorded decisions into what
//! the read commands show; [`replay`] rebuilds it from the log alone; [`audit`] re-runs the
//! core over the recorded facts and compares the decisions byte for byte; [`trace`] re-runs it
//! with a sink that keeps the line portions behind one lot; [`write::stage`] is the decide
//! path the writers share; [`resettle`] re-derives an account under a newer rulebook; [`whatif`] folds scenarios over altered facts; [`reconcile`] matches
//! Azure's reported figures with the ledger's; [`alerts`] judges deadlines, burn rates and
//! expiring credits as of a date, and [`crossings`] what a write made newly worth telling.
//!
//! Everything returns typed data: what it looks like as text, JSON or HTML is decided by
//! `ledger-render`, and reading files is `ledger-input`'s. This crate depends on no JSON,
//! command-line or HTTP library.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod alerts;
pub mod amendment;
pub mod anchor;
pub mod audit;
pub mod crossings;
pub mod finding;
pub mod load;
pub mod pending;
pub mod plan;
pub mod project;
pub mod projection;
pub mod publish;
mod published_check;
pub mod reconcile;
pub mod replay;
pub mod resettle;
pub mod run_rate;
pub mod simulate;
pub mod spend;
pub mod stored;
pub mod trace;
pub mod views;
pub mod whatif;
pub mod why_not;
pub mod write;

pub use projection::{LotEvent, Projections};
