//! `ledger ingest` and `POST /ledger/charges`: charge files to settled invoices, in three phases.
//!
//! 1. Read and validate the whole file, grouping lines into invoices (bounded memory: lines
//!    are spilled to disk by the assembler).
//! 2. Decide every invoice on the in-memory ledger and stage its records (facts and
//!    decisions, hash-chained) in a spill file. Any refusal here stops the command before
//!    anything is appended: a refused file changes nothing. `ledger ingest A B C` reads and
//!    decides every file (each after the ones before it) before the first append, so a
//!    refused file C leaves A and B unrecorded too.
//! 3. Append the staged records, several whole invoices per atomic batch (group commit),
//!    flushing periodically and before reporting success. A crash leaves a prefix of whole
//!    invoices; ingesting the file again skips them (R-IDEM-1) and settles the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ledger_core::CoreError;
use ledger_core::{ChargeKind, Fact, Invoice, Money};
use ledger_input::assemble::Accounts;
use ledger_input::canonical::{canonical, same_content_in_another_order};
use ledger_input::{
    file_run, plan_inputs, stage_run, IngestSummary, InputError, InputFormat, MarketplaceTerms,
    Origin, ReadStats, Run, SkipReason, StagedInvoices,
};
use ledger_replay::write::{stage, StageError};

use crate::conflict::{first_difference, native_file_line, settled_invoice};
use ledger_store::{invoice_content_hash, Appender, EncodedRecord, Head, Spill};

use crate::error::AppError;
use crate::session::Session;

/// How the invoices of an input are recorded (R-PEND).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Settlement {
    /// Closed invoices: settled (R-SETTLE).
    #[default]
    Settled,
    /// Month-to-date data: recorded as pending runs, estimated, never settled (`ingest
    /// --pending`, or an export run that says it is month-to-date).
    Pending,
}

impl Settlement {
    /// Pending when `self` is, or when the input itself says it is month-to-date.
    pub fn or_pending(self, input_is_pending: bool) -> Settlement {
        if input_is_pending {
            Settlement::Pending
        } else {
            self
        }
    }
}

/// Lines appended between two flushes (bounds what a power loss could take).
const FLUSH_EVERY_LINES: u64 = 1_000_000;
/// A commit group (one atomic sled batch of whole invoices) closes at this many lines...
const COMMIT_GROUP_LINES: u64 = 64 << 10;
/// ... or at this many bytes of records and segment frames.
const COMMIT_GROUP_BYTES: usize = 8 << 20;

/// What ingesting one input did (`ledger ingest --json` prints one per input): a file, or
/// the parts of one export run.
#[derive(Clone, Debug)]
pub struct FileOutcome {
    /// The file, or what names the run (its folder or manifest; its first part when listed).
    pub file: PathBuf,
    /// Files read (1 for a file; a run's parts).
    pub parts: usize,
    /// The export run, when the input is one (a folder, a manifest, or parts listed together).
    pub run: Option<RunIdentity>,
    /// `native`, `focus` or `azure`.
    pub format: &'static str,
    /// Data rows read from the file (charge lines and skipped rows).
    pub rows: u64,
    /// Rows that became charge lines.
    pub lines: u64,
    /// Rows read but not turned into lines, by reason (only reasons that occurred).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Rows skipped as another provider's, by provider name.
    pub skipped_providers: BTreeMap<String, u64>,
    /// Lines and their total amount per charge kind (only kinds that occurred).
    pub kinds: BTreeMap<&'static str, KindTotal>,
    pub invoices: u64,
    pub settled: u64,
    pub already_settled: u64,
    pub lines_settled: u64,
    /// The input was read as pending (month-to-date) data, by `--pending` or because its export
    /// run is month-to-date (`ledger_input::Manifest::pending`): `settled` and `lines_settled`
    /// count pending runs recorded, not settled invoices (R-PEND).
    pub pending: bool,
    pub seconds: f64,
    pub lines_per_second: f64,
    /// The log's head once the file was recorded (the last file's head is the command's).
    pub head: Head,
}

/// Which run an outcome is about: the manifest's run id (else none) and the run's content
/// digest: blake3 over the content digests (R-IDEM) of its invoices in canonical order, so the
/// same rows in any split or order have the same digest. A run whose invoices are all
/// recorded with the same content is already ingested; the log's facts say so, so replay
/// and audit keep it (nothing else is remembered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIdentity {
    pub id: Option<String>,
    /// 64 hex digits.
    pub digest: String,
}

/// Lines of one kind in a file and their total in each currency (amounts of different
/// currencies are never added together).
#[derive(Clone, Debug)]
pub struct KindTotal {
    pub lines: u64,
    /// (currency, total), in the file's order of currencies.
    pub amounts: Vec<(String, Money)>,
}

impl FileOutcome {
    fn new(run: &Run) -> FileOutcome {
        let is_run = run.origin != Origin::Files || run.parts.len() > 1;
        FileOutcome {
            file: run.source.clone(),
            parts: run.parts.len(),
            run: is_run.then(|| RunIdentity {
                id: run.id.clone(),
                digest: String::new(),
            }),
            format: run.format.name(),
            rows: 0,
            lines: 0,
            skipped: BTreeMap::new(),
            skipped_providers: BTreeMap::new(),
            kinds: BTreeMap::new(),
            invoices: 0,
            settled: 0,
            already_settled: 0,
            lines_settled: 0,
            pending: false,
            seconds: 0.0,
            head: Head::EMPTY,
            lines_per_second: 0.0,
        }
    }

    fn read(&mut self, stats: &ReadStats, summary: &IngestSummary) {
        self.rows = stats.rows;
        self.lines = stats.lines;
        for reason in SkipReason::ALL {
            let n = stats.skipped[reason.index()];
            if n > 0 {
                self.skipped.insert(reason.name(), n);
            }
        }
        self.skipped_providers = stats.skipped_providers.clone();
        for kind in ChargeKind::ALL {
            let lines = summary.lines_by_kind[kind.index()];
            if lines > 0 {
                let amounts = summary
                    .totals
                    .iter()
                    .filter(|t| t.lines_by_kind[kind.index()] > 0)
                    .map(|t| (t.currency.clone(), t.by_kind[kind.index()]))
                    .collect();
                self.kinds.insert(kind.name(), KindTotal { lines, amounts });
            }
        }
    }

    /// Rows read but not turned into lines.
    pub fn rows_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }
}

fn bar(len: u64, message: &'static str, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {percent:>3}% {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// Which recorded accounts a file may name: all of them for `ledger ingest`; for a server
/// token, only the accounts it may write (the others read as unknown, with the same message).
pub type Visible<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// The accounts and currencies recorded so far (those `visible`), with the Marketplace terms of
/// their agreements (for FOCUS and Azure files, which do not say what is "Azure benefit
/// eligible").
fn accounts_of(session: &Session, visible: Visible) -> Accounts {
    let recorded: Vec<_> = session
        .projections
        .ledger
        .accounts
        .iter()
        .filter(|(id, _)| visible(id))
        .collect();
    let mut accounts = Accounts::new(
        recorded
            .iter()
            .map(|(id, a)| ((*id).clone(), a.currency.clone()))
            .collect(),
    );
    for (id, a) in recorded {
        let terms = MarketplaceTerms::new(&a.terms.eligible_publishers, &a.terms.eligible_offers);
        if !terms.is_empty() {
            accounts.set_marketplace(id, terms);
        }
    }
    accounts
}

/// Ingest one file into `session`, its format told by its header.
pub fn ingest_file(
    session: &mut Session,
    file: &Path,
    quiet: bool,
) -> Result<FileOutcome, AppError> {
    ingest_file_as(session, file, None, quiet)
}

/// Ingest one file in `format` (detected from the header when `None`) into `session`.
pub fn ingest_file_as(
    session: &mut Session,
    file: &Path,
    format: Option<InputFormat>,
    quiet: bool,
) -> Result<FileOutcome, AppError> {
    ingest_file_visible(session, file, format, quiet, &|_| true)
}

/// Ingest one file as [`ingest_file_as`] does, the file may name only the `visible` accounts.
pub fn ingest_file_visible(
    session: &mut Session,
    file: &Path,
    format: Option<InputFormat>,
    quiet: bool,
    visible: Visible,
) -> Result<FileOutcome, AppError> {
    let run = file_run(file, format)?;
    let mut appender = session.store.appender();
    let decided = read_and_decide(
        session,
        &mut appender,
        &run,
        (Settlement::Settled, quiet),
        visible,
    )?;
    let mut outcomes = append_decided(session, vec![decided], quiet)?;
    Ok(outcomes.pop().expect("one file decided"))
}

/// An input read and decided, its records staged and not yet appended.
struct Decided {
    outcome: FileOutcome,
    spill: Spill,
    group_lines: Vec<u64>,
    started: Instant,
}

/// Phases 1 and 2 for one input (a file or a run): its records staged after those `appender`
/// has chained so far.
fn read_and_decide(
    session: &mut Session,
    appender: &mut Appender,
    run: &Run,
    (settlement, quiet): (Settlement, bool),
    visible: Visible,
) -> Result<Decided, AppError> {
    let started = Instant::now();
    let staging = session.dir().join("staging");
    let mut outcome = FileOutcome::new(run);
    outcome.pending = settlement == Settlement::Pending;
    let mut invoices = read_run(session, run, &staging, quiet, visible, &mut outcome)?;
    let read_seconds = started.elapsed().as_secs_f64();
    let (spill, group_lines) = decide_invoices(
        session,
        appender,
        &mut invoices,
        &staging,
        quiet,
        &mut outcome,
    )?;
    tracing::info!(
        input = %run.source.display(),
        read_s = read_seconds,
        decide_s = started.elapsed().as_secs_f64() - read_seconds,
        "ingest phases: read and decided"
    );
    Ok(Decided {
        outcome,
        spill,
        group_lines,
        started,
    })
}

/// Phase 3 for files all decided: append their staged records in order, then flush and save
/// the projections once.
fn append_decided(
    session: &mut Session,
    decided: Vec<Decided>,
    quiet: bool,
) -> Result<Vec<FileOutcome>, AppError> {
    let appending = Instant::now();
    let mut outcomes = Vec::with_capacity(decided.len());
    for d in decided {
        let Decided {
            mut outcome,
            spill,
            group_lines,
            started,
        } = d;
        append_invoices(session, spill, group_lines, quiet)?;
        outcome.head = session.store.head();
        outcome.seconds = started.elapsed().as_secs_f64();
        outcomes.push(outcome);
    }
    let append = appending.elapsed().as_secs_f64();
    session.finish_writes()?;
    let finish = appending.elapsed().as_secs_f64();
    tracing::info!(
        append_s = append,
        finish_s = finish - append,
        "ingest phases: appended, then flushed and the snapshot stored"
    );
    for outcome in &mut outcomes {
        outcome.lines_per_second = if outcome.seconds > 0.0 {
            outcome.lines_settled as f64 / outcome.seconds
        } else {
            0.0
        };
    }
    Ok(outcomes)
}

/// Phase 1: read, validate and group the whole input (every part of a run) into staged
/// invoices.
fn read_run(
    session: &Session,
    run: &Run,
    staging: &Path,
    quiet: bool,
    visible: Visible,
    outcome: &mut FileOutcome,
) -> Result<StagedInvoices, AppError> {
    let size = run
        .parts
        .iter()
        .map(|p| std::fs::metadata(&p.path).map(|m| m.len()).unwrap_or(0))
        .sum();
    let reading = bar(size, "reading", quiet);
    let accounts = accounts_of(session, visible);
    let (invoices, stats) = stage_run(run, &accounts, staging, |bytes, _rows| {
        reading.set_position(bytes)
    })?;
    reading.finish_and_clear();
    outcome.read(&stats, invoices.summary());
    outcome.invoices = invoices.len() as u64;
    tracing::info!(
        input = %run.source.display(),
        format = run.format.name(),
        parts = run.parts.len(),
        pending = run.pending,
        rows = outcome.rows,
        lines = outcome.lines,
        skipped = outcome.rows_skipped(),
        invoices = outcome.invoices,
        "read"
    );
    Ok(invoices)
}

/// Phase 2: decide every invoice and stage its records in a spill file; returns the spill and
/// the lines of each staged group; sets the run's digest in `outcome`. A second thread builds each invoice from the staged lines
/// and computes its content digest while this one decides and encodes the one before it, and
/// hands it over without a queue: at most two invoices are in memory (the one being decided,
/// and the next one, being built or waiting; issue 13).
fn decide_invoices(
    session: &mut Session,
    appender: &mut Appender,
    invoices: &mut StagedInvoices,
    staging: &Path,
    quiet: bool,
    outcome: &mut FileOutcome,
) -> Result<(Spill, Vec<u64>), AppError> {
    let first_places: Vec<(PathBuf, u64)> = (0..invoices.len())
        .map(|i| (invoices.first_file(i).to_path_buf(), invoices.first_line(i)))
        .collect();
    let mut digest = blake3::Hasher::new();
    let settling = bar(invoices.len() as u64, "settling", quiet);
    let mut spill = Spill::create(staging)?;
    let mut group_lines = Vec::new();
    std::thread::scope(|scope| -> Result<(), AppError> {
        let (built, to_decide) = std::sync::mpsc::sync_channel::<Result<Invoice, InputError>>(0);
        scope.spawn(move || {
            for invoice in invoices.iter() {
                let invoice = invoice.map(|mut invoice| {
                    invoice.content_hash = invoice_content_hash(&invoice);
                    invoice
                });
                let failed = invoice.is_err();
                // A closed channel means the decider stopped on an error: stop too.
                if built.send(invoice).is_err() || failed {
                    break;
                }
            }
        });
        for (index, invoice) in to_decide.into_iter().enumerate() {
            let invoice = invoice?;
            digest.update(&invoice.content_hash);
            let lines = invoice.lines.len() as u64;
            let (file, first_line) = (&first_places[index].0, first_places[index].1);
            let id = invoice.id.clone();
            let fact = if outcome.pending {
                Fact::Pending(invoice)
            } else {
                Fact::Invoice(invoice)
            };
            match stage(&mut session.projections, appender, &fact) {
                Ok(None) => outcome.already_settled += 1,
                Ok(Some(staged)) => {
                    spill.push_group(&staged.records)?;
                    group_lines.push(lines);
                    outcome.settled += 1;
                    outcome.lines_settled += lines;
                }
                Err(StageError::Core(CoreError::InvoiceConflict { .. })) => {
                    let (Fact::Invoice(invoice) | Fact::Pending(invoice)) = &fact else {
                        unreachable!("an invoice was staged")
                    };
                    let native = outcome.format == InputFormat::Native.name();
                    if !native && recorded_in_another_order(session, invoice) {
                        outcome.already_settled += 1;
                        settling.inc(1);
                        continue;
                    }
                    return Err(conflict(session, file, native, invoice, first_line));
                }
                Err(e) => {
                    return Err(AppError::InvoiceRefused {
                        file: file.clone(),
                        line: first_line,
                        invoice: id.to_string(),
                        source: Box::new(e),
                    })
                }
            }
            settling.inc(1);
        }
        Ok(())
    })?;
    settling.finish_and_clear();
    if let Some(run) = &mut outcome.run {
        run.digest = digest.finalize().to_hex().to_string();
    }
    Ok((spill, group_lines))
}

/// An export invoice recorded before exports settled in canonical order (its lines in file
/// order, a purchase's lot id by position) with the same lines: a repeat (R-IDEM-1).
fn recorded_in_another_order(session: &Session, invoice: &Invoice) -> bool {
    settled_invoice(&session.store, invoice)
        .is_some_and(|was| same_content_in_another_order(&was, invoice))
}

/// R-IDEM-2: `invoice` was settled before with other content; the refusal names the first
/// line that differs (its file line when the file is native CSV, else the invoice's first).
fn conflict(
    session: &Session,
    file: &Path,
    native: bool,
    invoice: &Invoice,
    first_line: u64,
) -> AppError {
    // An export's lines are compared in canonical order, whatever order they were recorded in.
    let difference = settled_invoice(&session.store, invoice)
        .map(|was| if native { was } else { canonical(was) })
        .and_then(|was| first_difference(&was, invoice));
    let detail = match &difference {
        Some(d) => d.describe(),
        None => "its content digest differs".to_string(),
    };
    let line = difference
        .and_then(|d| d.position)
        .filter(|_| native)
        .and_then(|k| native_file_line(file, &invoice.id, &invoice.account, k))
        .unwrap_or(first_line);
    AppError::InvoiceConflict {
        file: file.to_path_buf(),
        line,
        invoice: invoice.id.clone(),
        detail,
    }
}

/// Phase 3: append the staged records, several whole invoices per atomic batch (group
/// commit: one sled batch and one segment sync per [`COMMIT_GROUP_LINES`] lines or
/// [`COMMIT_GROUP_BYTES`] bytes), flushing every [`FLUSH_EVERY_LINES`] lines. A crash still
/// leaves a prefix of whole invoices.
fn append_invoices(
    session: &mut Session,
    mut spill: Spill,
    group_lines: Vec<u64>,
    quiet: bool,
) -> Result<(), AppError> {
    let appending = bar(spill.group_count(), "appending", quiet);
    let mut unflushed = 0u64;
    let mut batch: Vec<EncodedRecord> = Vec::new();
    let (mut batch_lines, mut batch_bytes, mut batch_invoices) = (0u64, 0usize, 0u64);
    let mut groups = spill.groups()?.zip(group_lines).peekable();
    while let Some((group, lines)) = groups.next() {
        let group = group?;
        batch_bytes += group
            .iter()
            .map(|r| r.bytes.len() + r.body.len())
            .sum::<usize>();
        batch.extend(group);
        batch_lines += lines;
        batch_invoices += 1;
        let last = groups.peek().is_none();
        if last || batch_lines >= COMMIT_GROUP_LINES || batch_bytes >= COMMIT_GROUP_BYTES {
            session.store.append(&batch)?;
            batch.clear();
            appending.inc(batch_invoices);
            unflushed += batch_lines;
            (batch_lines, batch_bytes, batch_invoices) = (0, 0, 0);
        }
        if unflushed >= FLUSH_EVERY_LINES {
            // Readers during the ingest see what is committed so far (whole invoices).
            session.publish_committed()?;
            unflushed = 0;
        }
    }
    appending.finish_and_clear();
    Ok(())
}

/// Ingest `inputs` in order (files, run folders, manifests, export roots; see
/// `ledger_input::layout`), each in `format` (detected from its header when `None`): all or
/// nothing. Every input is planned (its runs and parts found, readable, of a format the ledger
/// reads) before the ledger is opened, then every run is read whole and decided, each after
/// the ones before it (the runs of a root oldest first), and only when all are decided is
/// anything appended: a refused input, whichever it is, leaves the ledger as it was.
pub fn ingest_files(
    data: &Path,
    inputs: &[PathBuf],
    format: Option<InputFormat>,
    quiet: bool,
) -> Result<Vec<FileOutcome>, AppError> {
    ingest_files_as(data, inputs, format, Settlement::Settled, quiet)
}

/// [`ingest_files`], recording the invoices as `settlement` says (pending runs for
/// month-to-date data, R-PEND); an export run that says it is month-to-date is pending
/// whatever `settlement` is.
pub fn ingest_files_as(
    data: &Path,
    inputs: &[PathBuf],
    format: Option<InputFormat>,
    settlement: Settlement,
    quiet: bool,
) -> Result<Vec<FileOutcome>, AppError> {
    let runs = plan_inputs(inputs, format)?;
    for run in &runs {
        tracing::debug!(
            input = %run.source.display(),
            run = run.id.as_deref().unwrap_or(""),
            parts = run.parts.len(),
            format = run.format.name(),
            pending = run.pending,
            "input planned"
        );
    }
    let mut session = Session::open_for_write(data, "ingest")?;
    let mut appender = session.store.appender();
    let mut decided = Vec::with_capacity(runs.len());
    for run in &runs {
        let how = (settlement.or_pending(run.pending), quiet);
        let one = read_and_decide(&mut session, &mut appender, run, how, &|_| true)
            .map_err(|failure| none_recorded(failure, runs.len()))?;
        decided.push(one);
    }
    append_decided(&mut session, decided, quiet)
}

/// A refusal in a command of `count` files: none of them was recorded.
fn none_recorded(error: AppError, count: usize) -> AppError {
    if count > 1 {
        AppError::NoneRecorded {
            count,
            source: Box::new(error),
        }
    } else {
        error
    }
}
