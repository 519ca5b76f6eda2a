//! # ledger-replay: projections, replay, what-if forks, audit and reconciliation
//!
//! Everything here is a fold. [`projection::Projections`] folds recorded decisions into what
//! the read commands show; [`replay`] rebuilds it from the log alone; [`audit`] re-runs the
//! core over the recorded facts and compares the decisions byte for byte; [`trace`] re-runs it
//! with a sink that keeps the line portions behind one lot; [`write::stage`] is the decide
//! path the writers share.

pub mod alerts;
pub mod audit;
pub mod json;
pub mod load;
pub mod projection;
pub mod reconcile;
pub mod replay;
pub mod trace;
pub mod views;
pub mod whatif;
pub mod write;

pub use projection::{LotEvent, Projections};
