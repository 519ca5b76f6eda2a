//! `ledger ingest`: charge files to settled invoices, in three phases.
//!
//! 1. Read and validate the whole file, grouping lines into invoices (bounded memory: lines
//!    are spilled to disk by the assembler).
//! 2. Decide every invoice on the in-memory ledger and stage its records (facts and
//!    decisions, hash-chained) in a spill file. Any refusal here stops the command before
//!    anything is appended: a refused file changes nothing.
//! 3. Append the staged records, one invoice per atomic batch, flushing periodically and
//!    before reporting success. A crash leaves a prefix of whole invoices; ingesting the file
//!    again skips them (R-IDEM-1) and settles the rest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ledger_core::Fact;
use ledger_replay::write::stage;
use ledger_store::{invoice_content_hash, Appender, Spill};
use serde::Serialize;

use crate::input::assemble::{stage_native, Accounts};
use crate::session::{Failure, Session};

/// Lines appended between two flushes (bounds what a power loss could take).
const FLUSH_EVERY_LINES: u64 = 1_000_000;

/// What ingesting one file did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileOutcome {
    pub file: PathBuf,
    pub rows: u64,
    pub invoices: u64,
    pub settled: u64,
    pub already_settled: u64,
    pub lines_settled: u64,
    pub seconds: f64,
    pub lines_per_second: f64,
}

fn bar(len: u64, message: &'static str, quiet: bool) -> ProgressBar {
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {percent:>3}% {elapsed_precise} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// The accounts and currencies recorded so far.
fn accounts_of(session: &Session) -> Accounts {
    Accounts::new(session.projections.ledger.accounts.iter().map(|(id, a)| (id.clone(), a.currency.clone())).collect())
}

/// Ingest one native file into `session`.
pub fn ingest_file(session: &mut Session, file: &Path, quiet: bool) -> Result<FileOutcome, Failure> {
    let started = Instant::now();
    let staging = session.dir().join("staging");

    // Phase 1: read, validate, group.
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let reading = bar(size, "reading", quiet);
    let accounts = accounts_of(session);
    let mut invoices = stage_native(file, &accounts, &staging, |bytes, _rows| reading.set_position(bytes))?;
    reading.finish_and_clear();
    let read_seconds = started.elapsed().as_secs_f64();
    let rows = invoices.summary().rows;
    let invoice_count = invoices.len() as u64;
    let first_lines: Vec<u64> = (0..invoices.len()).map(|i| invoices.first_line(i)).collect();

    // Phase 2: decide and stage.
    let settling = bar(invoice_count, "settling", quiet);
    let mut appender = Appender::new(session.store.head());
    let mut spill = Spill::create(&staging)?;
    let mut outcome = FileOutcome { file: file.to_path_buf(), rows, invoices: invoice_count, ..FileOutcome::default() };
    let mut group_lines = Vec::new();
    for (index, invoice) in invoices.iter().enumerate() {
        let mut invoice = invoice?;
        invoice.content_hash = invoice_content_hash(&invoice);
        let lines = invoice.lines.len() as u64;
        let id = invoice.id.clone();
        let fact = Fact::Invoice(invoice);
        match stage(&mut session.projections, &mut appender, &fact) {
            Ok(None) => outcome.already_settled += 1,
            Ok(Some(staged)) => {
                spill.push_group(&staged.records)?;
                group_lines.push(lines);
                outcome.settled += 1;
                outcome.lines_settled += lines;
            }
            Err(e) => {
                return Err(Failure::new(format!(
                    "{}:{}: invoice {id}: {e}; nothing from this file was recorded",
                    file.display(),
                    first_lines[index]
                )))
            }
        }
        settling.inc(1);
    }
    settling.finish_and_clear();
    let decide_seconds = started.elapsed().as_secs_f64() - read_seconds;

    // Phase 3: append, one invoice per atomic batch.
    let appending = bar(spill.group_count(), "appending", quiet);
    let mut unflushed = 0u64;
    for (group, lines) in spill.groups()?.zip(group_lines) {
        session.store.append(&group?)?;
        unflushed += lines;
        if unflushed >= FLUSH_EVERY_LINES {
            session.store.flush()?;
            unflushed = 0;
        }
        appending.inc(1);
    }
    appending.finish_and_clear();
    let append_seconds = started.elapsed().as_secs_f64() - read_seconds - decide_seconds;
    drop(spill);
    session.finish_writes()?;
    outcome.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        file = %file.display(),
        read_s = read_seconds,
        decide_s = decide_seconds,
        append_s = append_seconds,
        finish_s = outcome.seconds - read_seconds - decide_seconds - append_seconds,
        "ingest phases"
    );
    outcome.lines_per_second = if outcome.seconds > 0.0 { outcome.lines_settled as f64 / outcome.seconds } else { 0.0 };
    Ok(outcome)
}

/// One line a person reads after a file is ingested.
pub fn describe(outcome: &FileOutcome) -> String {
    let name = outcome.file.display();
    if outcome.settled == 0 && outcome.already_settled > 0 {
        return format!(
            "{name}: already ingested: all {} invoices were settled before with the same content (R-IDEM-1); nothing changed",
            outcome.already_settled
        );
    }
    let mut text = format!(
        "{name}: {} lines in {} invoices: {} settled",
        group(outcome.rows),
        group(outcome.invoices),
        group(outcome.settled)
    );
    if outcome.already_settled > 0 {
        text.push_str(&format!(", {} already settled with the same content (skipped, R-IDEM-1)", outcome.already_settled));
    }
    text.push_str(&format!(" in {:.2} s", outcome.seconds));
    if outcome.lines_settled >= 100_000 {
        text.push_str(&format!(" ({} lines/s)", group(outcome.lines_per_second as u64)));
    }
    text
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    ledger_core::money::group_thousands(&n.to_string())
}
