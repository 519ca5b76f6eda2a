//! # ledger-input: files to facts
//!
//! Reading what users hand the ledger: agreement files (TOML or JSON), charge-line CSV (native,
//! FOCUS, Azure cost details), what-if scenario files and Azure's events and lots JSON,
//! validated whole, with every refusal naming the file, line, column or field, what was
//! found and what was expected.
//!
//! - [`agreement::read_agreement`]: an agreement file to a validated `Agreement`.
//! - [`native::NativeReader`]: a streaming reader of native CSV rows, validated one by one.
//! - [`assemble::Assembler`]: rows to invoices in first-appearance order, lines spilled to a
//!   temporary file so memory stays bounded on large files.
//! - [`assemble::stage_native`]: the two together over one file, with a progress callback;
//!   the fast path (borrowed rows, errors naming columns by number).
//! - [`records::RecordReader`]: CSV records from bytes (used by every CSV reader).
//! - [`focus`], [`azure`]: FOCUS and Azure cost-details exports, read by
//!   [`export::ExportReader`] into the same rows as native files; [`mapping`] is the one
//!   mapping of their rows to charge kinds (table in `docs/INGEST.md`).
//! - [`format::detect_format`], [`format::stage_file`]: a file of any format, told by its
//!   header, staged with what reading it found ([`export::ReadStats`]: rows, skips).
//! - [`layout::plan_inputs`]: what the inputs of `ledger ingest` are (files, parts listed
//!   together, run folders, `manifest.json`, export roots) as [`layout::Run`]s of ordered parts
//!   with their [`encoding::Encoding`] (plain, gzip, Parquet, by magic bytes);
//!   [`run::stage_run`] reads every part of a run into one assembler; [`manifest`] reads and
//!   checks Azure's export manifest. Export invoices come out in the canonical order of their
//!   content (`canonical.rs`), native ones in file order.
//! - [`scenario::read_scenario`]: a what-if scenario file; [`azure_api::read_events`] and
//!   [`azure_api::read_lots`]: Azure's Consumption API responses for `ledger reconcile`.
//!
//! Invariants: this crate knows the domain (`ledger-core`) and files, nothing of the log or
//! the projections; nothing here appends to the ledger; a file (every part of a run) is read
//! whole before any invoice is handed out; every line number is the 1-based line where the record starts.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod agreement;
pub mod assemble;
pub mod azure;
pub mod azure_api;
pub mod canonical;
pub mod cells;
pub mod encoding;
pub mod error;
pub mod export;
pub mod focus;
pub mod format;
pub mod layout;
pub mod manifest;
pub mod mapping;
pub mod native;
pub mod parquet;
pub(crate) mod parquet_cells;
pub(crate) mod parquet_pages;
pub mod records;
pub mod run;
pub mod scenario;
pub(crate) mod source;
pub mod text;

#[cfg(test)]
mod export_tests;
#[cfg(test)]
mod parquet_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod samples_tests;

pub use agreement::{parse_agreement, read_agreement, AgreementFormat};
pub use assemble::{
    stage_native, stage_native_file, Accounts, Assembler, IngestSummary, StagedInvoices,
};
pub use encoding::Encoding;
pub use error::InputError;
pub use export::{ExportFormat, ExportReader, ReadStats};
pub use format::{detect_format, stage_file, InputFormat};
pub use layout::{file_run, plan_inputs, Origin, Part, Run};
pub use manifest::{read_manifest, Manifest};
pub use mapping::{MarketplaceTerms, SkipReason};
pub use native::{NativeReader, RawRow, Row};
pub use parquet::{is_parquet, stage_parquet, ParquetReader};
pub use run::stage_run;
pub use scenario::{read_scenario, ScenarioFile};
