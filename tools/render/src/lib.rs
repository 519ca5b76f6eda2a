//! # ledger-render: what people and programs read
//!
//! Every output of the ledger is decided here, from the typed results of `ledger-app` (and the
//! read models it re-exports): aligned text tables ([`table`], [`text`]), INTERFACE.md's JSON
//! with exact amounts ([`json`]), the Microsoft.BillingBenefits shapes ([`benefits`]), one sentence per decision ([`events`]), the head a write leaves ([`head`]), ingest summaries
//! ([`ingest`]), lot traces as text and CSV ([`trace`]), the what-if comparison and its
//! consequences ([`whatif`]), reconciliations ([`reconcile`]) and the HTML burn-down report
//! ([`report`]). Amounts look the same everywhere ([`amount`]).
//!
//! Nothing here reads a file or the log: the functions take data and return text.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod amount;
pub mod benefits;
pub mod events;
pub mod head;
pub mod ingest;
pub mod json;
pub mod reconcile;
pub mod report;
pub mod table;
pub mod text;
pub mod trace;
pub mod whatif;
