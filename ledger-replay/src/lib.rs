//! # ledger-replay: projections, replay, what-if forks, audit and reconciliation
//!
//! Everything here is a fold. [`projection::Projections`] folds recorded decisions into what
//! the read commands show; replay rebuilds it from the log alone; audit re-runs the core over
//! the recorded facts and compares the decisions; a what-if is the same fold over altered
//! facts, on a fork that never writes to the log.

pub mod json;
pub mod projection;
pub mod views;

pub use projection::{LotEvent, Projections};
