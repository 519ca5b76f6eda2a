//! Rows to invoices, with bounded memory.
//!
//! An [`Assembler`] takes the validated rows of one file and groups them into invoices in the
//! order their ids first appear (docs/RULES.md fine point 1), each invoice's lines in input order.
//! It checks that every row of an invoice agrees with the invoice's first row (date, period,
//! account, currency) and resolves the account.
//!
//! Memory: per invoice it keeps a small header (id, dates, account, profiles, chunk list).
//! Lines are encoded into per-invoice byte buffers; when all buffers together pass
//! [`SPILL_BUDGET_BYTES`], every buffer is written as one chunk to an anonymous temporary file
//! under the spill directory (deleted by the OS when dropped, even after a crash). The
//! optional strings of lines travel with the lines and are interned only when an invoice is
//! built, one invoice at a time, so no per-line table outlives its invoice.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indexmap::IndexSet;
use ledger_core::fact::MAX_LINES_PER_INVOICE;
use ledger_core::ident::{check_id, IdKind};
use ledger_core::{ChargeKind, ChargeLine, Date, Invoice, Money, StrRef};
use rustc_hash::FxBuildHasher;

use super::error::InputError;
use super::mapping::MarketplaceTerms;
use super::native::{RawRow, Row};

/// Encoded lines held in memory across all invoices before they are written to the spill file.
pub const SPILL_BUDGET_BYTES: usize = 64 << 20;
/// Most distinct billing profiles one invoice may name (lines refer to them by a `u16`).
pub const MAX_PROFILES_PER_INVOICE: usize = 1 << 16;

/// The ledger's billing accounts and their currencies, from the recorded agreements, and the
/// Marketplace terms the export readers need (`eligible_publishers`, `eligible_offers`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounts {
    /// Sorted by id.
    ids: Vec<String>,
    currencies: Vec<String>,
    /// Parallel to `ids`.
    marketplace: Vec<MarketplaceTerms>,
}

/// The terms of an account the ledger does not know: nothing is eligible.
static NO_MARKETPLACE_TERMS: MarketplaceTerms = MarketplaceTerms::EMPTY;

impl Accounts {
    /// Account id -> ISO currency code.
    pub fn new(map: BTreeMap<String, String>) -> Accounts {
        let (ids, currencies): (Vec<String>, Vec<String>) = map.into_iter().unzip();
        let marketplace = vec![MarketplaceTerms::default(); ids.len()];
        Accounts {
            ids,
            currencies,
            marketplace,
        }
    }

    /// Set the Marketplace terms of `account` (ignored if the account is unknown).
    pub fn set_marketplace(&mut self, account: &str, terms: MarketplaceTerms) {
        if let Some(i) = self.find(account) {
            self.marketplace[i] = terms;
        }
    }

    /// The Marketplace terms of `account`, or of the only account when a row names none;
    /// empty terms for an unknown account (the assembler refuses its rows anyway).
    pub fn marketplace(&self, account: Option<&str>) -> &MarketplaceTerms {
        let index = match account {
            Some(id) => self.find(id),
            None if self.ids.len() == 1 => Some(0),
            None => None,
        };
        index
            .map(|i| &self.marketplace[i])
            .unwrap_or(&NO_MARKETPLACE_TERMS)
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.ids
            .binary_search_by(|probe| probe.as_str().cmp(id))
            .ok()
    }
}

/// Counts and totals of one staged file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Data rows read (= lines staged).
    pub rows: u64,
    pub invoices: usize,
    /// Lines per charge kind, indexed by [`ChargeKind::index`].
    pub lines_by_kind: [u64; ChargeKind::COUNT],
    /// Sums of amounts per currency (in first-appearance order) and charge kind: amounts of
    /// different currencies are never added together.
    pub totals: Vec<CurrencyTotals>,
    /// Lines of each invoice, in first-appearance order.
    pub lines_per_invoice: Vec<u32>,
}

/// The sums of one currency's lines per charge kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyTotals {
    pub currency: String,
    /// Indexed by [`ChargeKind::index`].
    pub by_kind: [Money; ChargeKind::COUNT],
    /// Lines per kind in this currency, indexed by [`ChargeKind::index`].
    pub lines_by_kind: [u64; ChargeKind::COUNT],
}

impl IngestSummary {
    /// The sum of every line in `currency`.
    pub fn total(&self, currency: &str) -> Option<Money> {
        let totals = self.totals.iter().find(|t| t.currency == currency)?;
        totals
            .by_kind
            .iter()
            .try_fold(Money::ZERO, |acc, m| acc.checked_add(*m).ok())
    }

    /// The sums of `currency`'s lines per kind, opened at zero on its first line.
    fn totals_at(&mut self, currency: &str) -> usize {
        match self.totals.iter().position(|t| t.currency == currency) {
            Some(at) => at,
            None => {
                self.totals.push(CurrencyTotals {
                    currency: currency.to_string(),
                    by_kind: [Money::ZERO; ChargeKind::COUNT],
                    lines_by_kind: [0; ChargeKind::COUNT],
                });
                self.totals.len() - 1
            }
        }
    }
}

/// A chunk of one invoice's encoded lines in the spill file.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    offset: u64,
    len: u64,
}

/// What is kept in memory per invoice while a file is read.
struct Pending {
    account: u32,
    date: Date,
    first_line: u64,
    /// The part (index into the assembler's files) holding `first_line`.
    first_part: u16,
    /// The billing period as given by a row, and the line (and part) that gave it.
    period: Option<(Date, Date, u64, u16)>,
    earliest_charge: Date,
    lines: u32,
    /// Where the sums of its currency are in the summary's `totals`: found once per invoice,
    /// not by comparing currency names on every row.
    totals: u32,
    profiles: Vec<String>,
    /// Built once an invoice has many profiles; before that a linear scan is faster.
    profile_index: Option<HashMap<String, u16, FxBuildHasher>>,
    last_profile: u16,
    chunks: Vec<Chunk>,
    /// Encoded lines not yet written to the spill file.
    buffer: Vec<u8>,
}

/// Which columns the assembler's checks concern, for naming them.
#[derive(Clone, Copy)]
enum Column {
    InvoiceId,
    InvoiceDate,
    PeriodStart,
    PeriodEnd,
    BillingProfile,
    Account,
    Currency,
    LineId,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::InvoiceId => "invoice_id",
            Column::InvoiceDate => "invoice_date",
            Column::PeriodStart => "period_start",
            Column::PeriodEnd => "period_end",
            Column::BillingProfile => "billing_profile",
            Column::Account => "account",
            Column::Currency => "currency",
            Column::LineId => "line_id",
        }
    }
}

/// The spill file and its writer.
struct Spill {
    dir: PathBuf,
    writer: Option<BufWriter<File>>,
    written: u64,
    /// Bytes in all invoices' buffers.
    buffered: usize,
}

/// Groups the validated rows of one input (a file, or the parts of one export run) into
/// invoices.
pub struct Assembler {
    /// The file being read (the current part).
    file: PathBuf,
    /// Every part read so far, in reading order; `part` indexes the current one.
    files: Vec<PathBuf>,
    part: u16,
    /// Hand invoices and lines out in a canonical order of their content (exports), instead of
    /// first appearance and input order (native CSV).
    canonical: bool,
    accounts: Accounts,
    columns: Vec<String>,
    /// For formats whose columns are not the native ones: the file's column (1-based number,
    /// name) behind each checked field, so that errors name it.
    sources: Vec<(&'static str, usize, String)>,
    ids: StringSet,
    invoices: Vec<Pending>,
    /// The invoice of the previous row: files mostly list an invoice's lines together.
    last: Option<u32>,
    spill: Spill,
    summary: IngestSummary,
    /// What a row's `line` counts: `line`, or `row` for a file without lines (Parquet).
    unit: &'static str,
}

impl Assembler {
    /// An assembler for the rows of `file`, resolving accounts against `accounts`; lines that
    /// do not fit in memory go to an anonymous temporary file in `spill_dir` (created when
    /// first needed).
    pub fn new(
        file: &Path,
        accounts: &Accounts,
        spill_dir: &Path,
    ) -> Result<Assembler, InputError> {
        Ok(Assembler {
            file: file.to_path_buf(),
            files: vec![file.to_path_buf()],
            part: 0,
            canonical: false,
            accounts: accounts.clone(),
            columns: Vec::new(),
            sources: Vec::new(),
            ids: StringSet::default(),
            invoices: Vec::new(),
            last: None,
            spill: Spill {
                dir: spill_dir.to_path_buf(),
                writer: None,
                written: 0,
                buffered: 0,
            },
            summary: IngestSummary::default(),
            unit: "line",
        })
    }

    /// Read the next part of the same input: its rows join the invoices of the parts before
    /// it (an invoice may span parts), and errors name it.
    pub fn next_part(&mut self, file: &Path) -> Result<(), InputError> {
        if self.files.len() >= usize::from(u16::MAX) {
            return Err(InputError::new(
                file,
                format!("one input may have at most {} parts", u16::MAX),
            ));
        }
        self.files.push(file.to_path_buf());
        self.part = (self.files.len() - 1) as u16;
        self.file = file.to_path_buf();
        self.last = None;
        Ok(())
    }

    /// Hand invoices out by (billing period start, invoice date, invoice id) and each
    /// invoice's lines by (charge date, content): the same rows in any order or split give
    /// the same invoices (exports; native CSV keeps its input order, RULES.md fine point 1).
    pub fn set_canonical(&mut self) {
        self.canonical = true;
    }

    /// "line 12" (or "row 12" in Parquet), or "line 12 of part_0_0001.csv" when the line is in another part.
    fn place(&self, part: u16, line: u64) -> String {
        if part == self.part {
            format!("{} {line}", self.unit)
        } else {
            format!(
                "{} {line} of {}",
                self.unit,
                self.files[part as usize].display()
            )
        }
    }

    /// Rows' `line` numbers count data rows of a file without lines (Parquet): messages say
    /// `row N`.
    pub fn count_rows(&mut self) {
        self.unit = "row";
    }

    /// The header of the file, so that errors name columns by number (else by name only).
    pub fn set_columns(&mut self, columns: &[String]) {
        self.columns = columns.to_vec();
    }

    /// Name the file's column behind a checked field (`invoice_id`, `invoice_date`,
    /// `period_start`, `period_end`, `billing_profile`, `account`, `currency`) for a file in
    /// another format: `number` is 1-based.
    pub fn set_source(&mut self, field: &'static str, number: usize, name: String) {
        self.sources.retain(|(f, _, _)| *f != field);
        self.sources.push((field, number, name));
    }

    /// Add one owned row.
    pub fn push(&mut self, row: RawRow) -> Result<(), InputError> {
        self.push_row(&row.as_row())
    }

    /// Add one row, checked against the earlier rows of its invoice.
    pub fn push_row(&mut self, row: &Row<'_>) -> Result<(), InputError> {
        let index = match self.last {
            Some(i) if self.ids.get(i) == row.invoice_id => i as usize,
            _ => match self.ids.find(row.invoice_id) {
                Some(i) => i as usize,
                None => self.open_invoice(row)?,
            },
        };
        self.last = Some(index as u32);
        self.check_agrees(index, row)?;
        let pending = &mut self.invoices[index];
        if pending.lines as usize >= MAX_LINES_PER_INVOICE {
            let message = format!("invoice {} has more than {MAX_LINES_PER_INVOICE} lines; at most {MAX_LINES_PER_INVOICE} are accepted per invoice", row.invoice_id);
            return Err(self.error(row.line, Column::InvoiceId, message));
        }
        // A profile already in the invoice was checked when it was first seen.
        let known = find_profile(pending, row.billing_profile);
        if known.is_none() {
            if let Err(e) = check_id(IdKind::BillingProfile, row.billing_profile) {
                return Err(self.error(row.line, Column::BillingProfile, e.0));
            }
        }
        if let Some(line_id) = row.line_id {
            if let Err(e) = check_id(IdKind::Line, line_id) {
                return Err(self.error(row.line, Column::LineId, e.0));
            }
        }
        let pending = &mut self.invoices[index];
        let profile = match known.or_else(|| add_profile(pending, row.billing_profile)) {
            Some(p) => {
                pending.last_profile = p;
                p
            }
            None => {
                let message = format!(
                    "invoice {} names more than {MAX_PROFILES_PER_INVOICE} billing profiles",
                    row.invoice_id
                );
                return Err(self.error(row.line, Column::BillingProfile, message));
            }
        };
        let kind = row.kind.index();
        // Every row of the invoice is in its currency (check_agrees).
        let totals = &mut self.summary.totals[self.invoices[index].totals as usize];
        let total = totals.by_kind[kind].checked_add(row.amount).map_err(|_| {
            let message = format!(
                "the total of {} lines leaves the range the ledger keeps (±10^14)",
                row.kind
            );
            InputError::new(&self.file, message).at_line(row.line)
        })?;
        totals.by_kind[kind] = total;
        totals.lines_by_kind[kind] += 1;
        self.summary.lines_by_kind[kind] += 1;
        self.summary.rows += 1;
        let pending = &mut self.invoices[index];
        pending.lines += 1;
        pending.earliest_charge = pending.earliest_charge.min(row.charge_date);
        let before = pending.buffer.len();
        encode_line(&mut pending.buffer, row, profile);
        self.spill.buffered += pending.buffer.len() - before;
        if self.spill.buffered > SPILL_BUDGET_BYTES {
            self.spill_all()?;
        }
        Ok(())
    }

    /// Check and open a new invoice for `row`; its index.
    fn open_invoice(&mut self, row: &Row<'_>) -> Result<usize, InputError> {
        if let Err(e) = check_id(IdKind::Invoice, row.invoice_id) {
            return Err(self.error(row.line, Column::InvoiceId, e.0));
        }
        let account = self.resolve_account(row)?;
        let currency = &self.accounts.currencies[account];
        if row.currency != currency {
            return Err(self.currency_error(row, account));
        }
        let totals = self.summary.totals_at(row.currency) as u32;
        let index = self.ids.insert(row.invoice_id) as usize;
        debug_assert_eq!(index, self.invoices.len());
        self.invoices.push(Pending {
            account: account as u32,
            date: row.invoice_date,
            first_line: row.line,
            first_part: self.part,
            period: None,
            earliest_charge: row.charge_date,
            lines: 0,
            totals,
            profiles: Vec::new(),
            profile_index: None,
            last_profile: 0,
            chunks: Vec::new(),
            buffer: Vec::new(),
        });
        Ok(index)
    }

    /// Every row of an invoice agrees on date, period, account and currency.
    fn check_agrees(&mut self, index: usize, row: &Row<'_>) -> Result<(), InputError> {
        let pending = &self.invoices[index];
        let (first_part, first_line) = (pending.first_part, pending.first_line);
        // Worded only for a message: formatting it for every row cost a tenth of an ingest.
        let first_place = |this: &Self| this.place(first_part, first_line);
        if row.invoice_date != pending.date {
            let first_place = first_place(self);
            let message = format!(
                "{} differs from {} on {first_place}, where invoice {} first appears (every line of an invoice has the same invoice_date)",
                row.invoice_date, pending.date, row.invoice_id
            );
            return Err(self.error(row.line, Column::InvoiceDate, message));
        }
        let account = match row.account {
            Some(id) if id == self.accounts.ids[pending.account as usize] => {
                pending.account as usize
            }
            _ => self.resolve_account(row)?,
        };
        let pending = &self.invoices[index];
        if account != pending.account as usize {
            let first_place = first_place(self);
            let message = format!(
                "'{}' differs from '{}' on {first_place}, where invoice {} first appears (an invoice belongs to one account)",
                self.accounts.ids[account], self.accounts.ids[pending.account as usize], row.invoice_id
            );
            return Err(self.error(row.line, Column::Account, message));
        }
        if row.currency != self.accounts.currencies[account] {
            return Err(self.currency_error(row, account));
        }
        match (row.period_start, row.period_end, pending.period) {
            (None, None, _) => {}
            (Some(start), Some(end), None) => {
                self.invoices[index].period = Some((start, end, row.line, self.part))
            }
            (Some(start), Some(end), Some((given_start, given_end, given_line, given_part))) => {
                let (column, found, given) = if start != given_start {
                    (Column::PeriodStart, start, given_start)
                } else if end != given_end {
                    (Column::PeriodEnd, end, given_end)
                } else {
                    return Ok(());
                };
                let given_place = self.place(given_part, given_line);
                let first_place = first_place(self);
                let first = if given_place == first_place {
                    String::new()
                } else {
                    format!("; the invoice first appears on {first_place}")
                };
                let message = format!(
                    "{found} differs from {given} given for invoice {} on {given_place}{first} (every line of an invoice has the same billing period)",
                    row.invoice_id
                );
                return Err(self.error(row.line, column, message));
            }
            (Some(_), None, _) => {
                return Err(self.error(
                    row.line,
                    Column::PeriodStart,
                    "is given without period_end; give both or neither".to_string(),
                ))
            }
            (None, Some(_), _) => {
                return Err(self.error(
                    row.line,
                    Column::PeriodEnd,
                    "is given without period_start; give both or neither".to_string(),
                ))
            }
        }
        Ok(())
    }

    /// The row's account, or the ledger's only account when the row names none.
    fn resolve_account(&self, row: &Row<'_>) -> Result<usize, InputError> {
        let known = || {
            self.accounts
                .ids
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match row.account {
            Some(id) => self.accounts.find(id).ok_or_else(|| {
                let message = if self.accounts.is_empty() {
                    format!("'{id}' has no agreement: no agreement recorded; run `ledger agreement FILE` first")
                } else {
                    format!("'{id}' has no agreement recorded (the ledger has accounts {}); run `ledger agreement FILE` first", known())
                };
                self.error(row.line, Column::Account, message)
            }),
            None => match self.accounts.ids.len() {
                1 => Ok(0),
                0 => Err(self.error(row.line, Column::Account, "no agreement recorded; run `ledger agreement FILE` first".to_string())),
                _ => {
                    let fix = if self.column_number(Column::Account).is_some() || self.sources.iter().any(|(f, _, _)| *f == "account") { "fill in the account column" } else { "add an account column" };
                    Err(self.error(row.line, Column::Account, format!("the ledger has accounts {}: {fix}", known())))
                }
            },
        }
    }

    #[cold]
    fn currency_error(&self, row: &Row<'_>, account: usize) -> InputError {
        let message = format!(
            "'{}' is not the currency of account {} (expected {}, the agreement's currency)",
            row.currency, self.accounts.ids[account], self.accounts.currencies[account]
        );
        self.error(row.line, Column::Currency, message)
    }

    fn column_number(&self, column: Column) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c == column.name())
            .map(|i| i + 1)
    }

    #[cold]
    fn error(&self, line: u64, column: Column, message: String) -> InputError {
        let e = InputError::new(&self.file, message).at_line(line);
        if let Some((_, number, name)) = self.sources.iter().find(|(f, _, _)| *f == column.name()) {
            return e.in_column(*number, name.clone());
        }
        match self.column_number(column) {
            Some(number) => e.in_column(number, column.name()),
            None => e.in_field(column.name()),
        }
    }

    /// Write every invoice's buffered lines to the spill file, one chunk each.
    fn spill_all(&mut self) -> Result<(), InputError> {
        let spill = &mut self.spill;
        if spill.writer.is_none() {
            let cannot = |e: &std::io::Error| {
                InputError::io(
                    &self.file,
                    &format!("cannot create a spill file in {}", spill.dir.display()),
                    e,
                )
            };
            std::fs::create_dir_all(&spill.dir).map_err(|e| cannot(&e))?;
            let file = tempfile::tempfile_in(&spill.dir).map_err(|e| cannot(&e))?;
            spill.writer = Some(BufWriter::with_capacity(1 << 20, file));
        }
        let writer = spill.writer.as_mut().expect("spill writer exists");
        let current = self.last.map(|i| i as usize);
        for (index, pending) in self
            .invoices
            .iter_mut()
            .enumerate()
            .filter(|(_, p)| !p.buffer.is_empty())
        {
            writer.write_all(&pending.buffer).map_err(|e| {
                InputError::io(
                    &self.file,
                    &format!("cannot write the spill file in {}", spill.dir.display()),
                    &e,
                )
            })?;
            let len = pending.buffer.len() as u64;
            pending.chunks.push(Chunk {
                offset: spill.written,
                len,
            });
            spill.written += len;
            if Some(index) == current {
                pending.buffer.clear();
            } else {
                // Capacity kept by every invoice would add up past the budget over many
                // spills; only the invoice being read keeps its buffer.
                pending.buffer = Vec::new();
            }
        }
        spill.buffered = 0;
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.summary.rows
    }

    /// Close the file: compute default periods and hand over the staged invoices.
    pub fn finish(self) -> Result<StagedInvoices, InputError> {
        let Assembler {
            file,
            files,
            canonical,
            accounts,
            ids,
            invoices,
            spill,
            mut summary,
            ..
        } = self;
        let spill_file = match spill.writer {
            Some(writer) => {
                let file_handle = writer.into_inner().map_err(|e| {
                    InputError::io(
                        &file,
                        &format!("cannot write the spill file in {}", spill.dir.display()),
                        e.error(),
                    )
                })?;
                Some(file_handle)
            }
            None => None,
        };
        summary.invoices = invoices.len();
        let ids = ids.into_strings();
        let mut staged: Vec<Staged> = invoices
            .into_iter()
            .zip(ids)
            .map(|(p, id)| {
                let (period_start, period_end) = match p.period {
                    Some((start, end, _, _)) => (start, end),
                    None => (
                        p.earliest_charge.month_start(),
                        p.earliest_charge.month_end(),
                    ),
                };
                Staged {
                    id,
                    account: p.account,
                    date: p.date,
                    period_start,
                    period_end,
                    first_line: p.first_line,
                    first_part: p.first_part,
                    lines: p.lines,
                    profiles: p.profiles,
                    chunks: p.chunks,
                    buffer: p.buffer,
                }
            })
            .collect();
        if canonical {
            staged.sort_by(|a, b| {
                (a.period_start, a.date, &a.id).cmp(&(b.period_start, b.date, &b.id))
            });
            summary.totals.sort_by(|a, b| a.currency.cmp(&b.currency));
        }
        summary.lines_per_invoice = staged.iter().map(|p| p.lines).collect();
        Ok(StagedInvoices {
            file,
            files,
            canonical,
            accounts,
            invoices: staged,
            spill: spill_file,
            read_buffer: Vec::new(),
            summary,
        })
    }
}

/// The index of the profile `name` in the invoice, if it is there already.
fn find_profile(pending: &Pending, name: &str) -> Option<u16> {
    if let Some(last) = pending.profiles.get(pending.last_profile as usize) {
        if last == name {
            return Some(pending.last_profile);
        }
    }
    match &pending.profile_index {
        Some(index) => index.get(name).copied(),
        None => pending
            .profiles
            .iter()
            .position(|p| p == name)
            .map(|i| i as u16),
    }
}

/// Add the profile `name` (not in the invoice yet); `None` when the invoice has the most
/// profiles it may have.
fn add_profile(pending: &mut Pending, name: &str) -> Option<u16> {
    debug_assert!(find_profile(pending, name).is_none());
    if pending.profiles.len() >= MAX_PROFILES_PER_INVOICE {
        return None;
    }
    let i = pending.profiles.len() as u16;
    pending.profiles.push(name.to_string());
    if let Some(index) = &mut pending.profile_index {
        index.insert(name.to_string(), i);
    } else if pending.profiles.len() > 16 {
        let index = pending
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u16))
            .collect();
        pending.profile_index = Some(index);
    }
    Some(i)
}

// ---------------------------------------------------------------------------------------------
// The line encoding in buffers and the spill file (private to this process run):
// amount i128 LE, charge date i32 LE, kind u8, corrects_kind u8 (255 = none), profile u16 LE,
// a presence byte (bit i: string i given), then for each given string its length (u32 LE)
// and bytes, in the order line_id, service, publisher, description, corrects.

const NO_KIND: u8 = u8::MAX;

fn encode_line(out: &mut Vec<u8>, row: &Row<'_>, profile: u16) {
    out.extend_from_slice(&row.amount.units().to_le_bytes());
    out.extend_from_slice(&row.charge_date.day_number().to_le_bytes());
    out.push(row.kind as u8);
    out.push(row.corrects_kind.map(|k| k as u8).unwrap_or(NO_KIND));
    out.extend_from_slice(&profile.to_le_bytes());
    let strings = [
        row.line_id,
        row.service,
        row.publisher,
        row.description,
        row.corrects,
    ];
    let mut present = 0u8;
    for (i, s) in strings.iter().enumerate() {
        if s.is_some() {
            present |= 1 << i;
        }
    }
    out.push(present);
    for s in strings.into_iter().flatten() {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
}

/// Reads encoded lines back; a malformed buffer is a bug, reported as an error, not a panic.
struct Decoder<'a> {
    bytes: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).map(|b| b.try_into().expect("length checked"))
    }

    fn line(&mut self, strings: &mut StringSet) -> Option<ChargeLine> {
        let amount = Money::from_units(i128::from_le_bytes(self.array()?));
        let charge_date = Date::from_day_number(i32::from_le_bytes(self.array()?))?;
        let [kind, corrects_kind] = self.array()?;
        let kind = ChargeKind::from_index(kind)?;
        let corrects_kind = if corrects_kind == NO_KIND {
            None
        } else {
            Some(ChargeKind::from_index(corrects_kind)?)
        };
        let profile = u16::from_le_bytes(self.array()?);
        let [present] = self.array()?;
        let mut refs = [StrRef::NONE; 5];
        for (i, slot) in refs.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                let len = u32::from_le_bytes(self.array()?) as usize;
                let text = std::str::from_utf8(self.take(len)?).ok()?;
                *slot = StrRef::new(strings.intern(text));
            }
        }
        let [line_id, service, publisher, description, corrects] = refs;
        Some(ChargeLine {
            amount,
            charge_date,
            kind,
            profile,
            corrects_kind,
            line_id,
            service,
            publisher,
            description,
            corrects,
        })
    }
}

// ---------------------------------------------------------------------------------------------

/// One invoice staged for settlement.
struct Staged {
    id: String,
    account: u32,
    date: Date,
    period_start: Date,
    period_end: Date,
    first_line: u64,
    first_part: u16,
    lines: u32,
    profiles: Vec<String>,
    chunks: Vec<Chunk>,
    buffer: Vec<u8>,
}

/// The invoices of one input, validated, ready to be built one at a time.
pub struct StagedInvoices {
    file: PathBuf,
    /// The parts read, in reading order.
    files: Vec<PathBuf>,
    /// Invoices sorted and each built in its canonical order ([`Assembler::set_canonical`]).
    canonical: bool,
    accounts: Accounts,
    invoices: Vec<Staged>,
    /// The spill file, if lines had to leave memory; deleted when dropped.
    spill: Option<File>,
    read_buffer: Vec<u8>,
    summary: IngestSummary,
}

impl StagedInvoices {
    /// Number of invoices.
    pub fn len(&self) -> usize {
        self.invoices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.invoices.is_empty()
    }

    pub fn summary(&self) -> &IngestSummary {
        &self.summary
    }

    /// The file line where invoice `index` first appears.
    pub fn first_line(&self, index: usize) -> u64 {
        self.invoices[index].first_line
    }

    /// The file (part) where invoice `index` first appears.
    pub fn first_file(&self, index: usize) -> &Path {
        &self.files[self.invoices[index].first_part as usize]
    }

    /// The id of invoice `index`.
    pub fn id(&self, index: usize) -> &str {
        &self.invoices[index].id
    }

    /// The invoices in first-appearance order, each with its lines in input order; in the
    /// canonical order when the assembler was told so ([`Assembler::set_canonical`]).
    pub fn iter(&mut self) -> impl Iterator<Item = Result<Invoice, InputError>> + '_ {
        (0..self.invoices.len()).map(move |i| self.build(i))
    }

    /// Build invoice `index`: read its chunks, intern its strings in order of first reference.
    pub fn build(&mut self, index: usize) -> Result<Invoice, InputError> {
        let staged = &self.invoices[index];
        let mut strings = StringSet::default();
        let mut lines = Vec::with_capacity(staged.lines as usize);
        let corrupt = |file: &Path| {
            InputError::new(
                file,
                format!(
                    "internal error: the staged lines of invoice {} do not decode",
                    staged.id
                ),
            )
        };
        for chunk in &staged.chunks {
            let spill = self.spill.as_mut().ok_or_else(|| corrupt(&self.file))?;
            self.read_buffer.resize(chunk.len as usize, 0);
            spill
                .seek(SeekFrom::Start(chunk.offset))
                .and_then(|_| spill.read_exact(&mut self.read_buffer))
                .map_err(|e| InputError::io(&self.file, "cannot read back the spill file", &e))?;
            let mut decoder = Decoder {
                bytes: &self.read_buffer,
            };
            while !decoder.bytes.is_empty() {
                lines.push(
                    decoder
                        .line(&mut strings)
                        .ok_or_else(|| corrupt(&self.file))?,
                );
            }
        }
        let mut decoder = Decoder {
            bytes: &staged.buffer,
        };
        while !decoder.bytes.is_empty() {
            lines.push(
                decoder
                    .line(&mut strings)
                    .ok_or_else(|| corrupt(&self.file))?,
            );
        }
        if lines.len() != staged.lines as usize {
            return Err(corrupt(&self.file));
        }
        let invoice = Invoice {
            account: self.accounts.ids[staged.account as usize].clone(),
            id: staged.id.clone(),
            date: staged.date,
            period_start: staged.period_start,
            period_end: staged.period_end,
            currency: self.accounts.currencies[staged.account as usize].clone(),
            content_hash: [0; 32],
            profiles: staged.profiles.clone(),
            strings: strings.into_strings(),
            lines,
        };
        Ok(if self.canonical {
            super::canonical::canonical(invoice)
        } else {
            invoice
        })
    }
}

/// Read and stage a whole native file: the usual way to call the reader and the assembler.
pub fn stage_native_file(
    path: &Path,
    accounts: &Accounts,
    spill_dir: &Path,
) -> Result<StagedInvoices, InputError> {
    stage_native(path, accounts, spill_dir, |_, _| {})
}

/// Rows between two calls of a progress callback.
pub const PROGRESS_EVERY_ROWS: u64 = 1 << 16;

/// [`stage_native_file`], calling `progress(bytes_read, rows)` every
/// [`PROGRESS_EVERY_ROWS`] rows and once at the end (for a progress bar).
///
/// Two threads: one splits and validates rows (the CSV parse, the larger half of the work)
/// and hands them over in [`RowBatch`]es; this one groups them into invoices. Errors are
/// reported in file order: the parser stops at its first bad row, after handing over every
/// row before it, and the assembler's own refusals come from earlier rows.
pub fn stage_native(
    path: &Path,
    accounts: &Accounts,
    spill_dir: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<StagedInvoices, InputError> {
    let mut reader = super::native::NativeReader::open(path)?;
    let mut assembler = Assembler::new(path, accounts, spill_dir)?;
    assembler.set_columns(reader.columns());
    let mut rows = 0u64;
    let mut bytes_read = 0u64;
    std::thread::scope(|scope| -> Result<(), InputError> {
        let (parsed, to_assemble) =
            std::sync::mpsc::sync_channel::<Result<RowBatch, InputError>>(BATCHES_IN_FLIGHT);
        scope.spawn(move || {
            let mut batch = RowBatch::with_capacity(BATCH_ROWS);
            while let Some(row) = reader.next_row() {
                match row {
                    Ok(row) => batch.push(&row),
                    Err(e) => {
                        batch.bytes_read = reader.bytes_read();
                        // The rows before the bad one first: an assembler refusal among them
                        // comes earlier in the file and wins.
                        if parsed.send(Ok(batch)).is_ok() {
                            let _ = parsed.send(Err(e));
                        }
                        return;
                    }
                }
                if batch.len() == BATCH_ROWS {
                    batch.bytes_read = reader.bytes_read();
                    let full = std::mem::replace(&mut batch, RowBatch::with_capacity(BATCH_ROWS));
                    if parsed.send(Ok(full)).is_err() {
                        return; // the assembler stopped on an error
                    }
                }
            }
            batch.bytes_read = reader.bytes_read();
            let _ = parsed.send(Ok(batch));
        });
        let mut until_progress = PROGRESS_EVERY_ROWS;
        for batch in to_assemble {
            let batch = batch?;
            bytes_read = batch.bytes_read;
            for i in 0..batch.len() {
                assembler.push_row(&batch.row(i))?;
                rows += 1;
                until_progress -= 1;
                if until_progress == 0 {
                    progress(bytes_read, rows);
                    until_progress = PROGRESS_EVERY_ROWS;
                }
            }
        }
        Ok(())
    })?;
    progress(bytes_read, rows);
    assembler.finish()
}

/// Rows per [`RowBatch`].
const BATCH_ROWS: usize = 4096;
/// Batches between the parser and the assembler (bounds memory: about 2 MB).
const BATCHES_IN_FLIGHT: usize = 4;

/// A string of a packed row: a range of the batch's text, or none.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    const NONE: Span = Span {
        start: u32::MAX,
        len: 0,
    };
}

/// A validated row whose strings live in its batch's text.
#[derive(Clone, Copy, Debug)]
struct PackedRow {
    line: u64,
    account: Span,
    invoice_id: Span,
    invoice_date: Date,
    period_start: Option<Date>,
    period_end: Option<Date>,
    billing_profile: Span,
    charge_date: Date,
    kind: ChargeKind,
    amount: Money,
    currency: Span,
    line_id: Span,
    service: Span,
    publisher: Span,
    description: Span,
    corrects: Span,
    corrects_kind: Option<ChargeKind>,
}

/// Rows handed from the parsing thread to the assembling one: the strings of every row in one
/// buffer, so the handoff allocates per batch, not per row or per field.
pub struct RowBatch {
    text: String,
    rows: Vec<PackedRow>,
    /// How far the reader had read when the batch was handed over (for progress).
    bytes_read: u64,
}

impl RowBatch {
    fn with_capacity(rows: usize) -> RowBatch {
        RowBatch {
            text: String::with_capacity(rows * 64),
            rows: Vec::with_capacity(rows),
            bytes_read: 0,
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn put(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    fn put_opt(&mut self, s: Option<&str>) -> Span {
        s.map_or(Span::NONE, |s| self.put(s))
    }

    fn push(&mut self, row: &Row<'_>) {
        let packed = PackedRow {
            line: row.line,
            account: self.put_opt(row.account),
            invoice_id: self.put(row.invoice_id),
            invoice_date: row.invoice_date,
            period_start: row.period_start,
            period_end: row.period_end,
            billing_profile: self.put(row.billing_profile),
            charge_date: row.charge_date,
            kind: row.kind,
            amount: row.amount,
            currency: self.put(row.currency),
            line_id: self.put_opt(row.line_id),
            service: self.put_opt(row.service),
            publisher: self.put_opt(row.publisher),
            description: self.put_opt(row.description),
            corrects: self.put_opt(row.corrects),
            corrects_kind: row.corrects_kind,
        };
        self.rows.push(packed);
    }

    fn get(&self, span: Span) -> &str {
        &self.text[span.start as usize..(span.start + span.len) as usize]
    }

    fn get_opt(&self, span: Span) -> Option<&str> {
        (span.start != u32::MAX).then(|| self.get(span))
    }

    fn row(&self, i: usize) -> Row<'_> {
        let p = &self.rows[i];
        Row {
            line: p.line,
            account: self.get_opt(p.account),
            invoice_id: self.get(p.invoice_id),
            invoice_date: p.invoice_date,
            period_start: p.period_start,
            period_end: p.period_end,
            billing_profile: self.get(p.billing_profile),
            charge_date: p.charge_date,
            kind: p.kind,
            amount: p.amount,
            currency: self.get(p.currency),
            line_id: self.get_opt(p.line_id),
            service: self.get_opt(p.service),
            publisher: self.get_opt(p.publisher),
            description: self.get_opt(p.description),
            corrects: self.get_opt(p.corrects),
            corrects_kind: p.corrects_kind,
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Distinct strings numbered in order of first insertion; each string is stored once.
#[derive(Default)]
struct StringSet(IndexSet<String, FxBuildHasher>);

impl StringSet {
    fn get(&self, index: u32) -> &str {
        &self.0[index as usize]
    }

    fn find(&self, s: &str) -> Option<u32> {
        self.0.get_index_of(s).map(|i| i as u32)
    }

    /// Add `s`, known to be absent; its index.
    fn insert(&mut self, s: &str) -> u32 {
        let index = u32::try_from(self.0.len()).expect("fewer than 2^32 strings");
        self.0.insert(s.to_string());
        index
    }

    fn intern(&mut self, s: &str) -> u32 {
        match self.find(s) {
            Some(i) => i,
            None => self.insert(s),
        }
    }

    /// The strings, in insertion order.
    fn into_strings(self) -> Vec<String> {
        self.0.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::tests::{csv_file, shown_error};

    fn accounts(pairs: &[(&str, &str)]) -> Accounts {
        Accounts::new(
            pairs
                .iter()
                .map(|(a, c)| (a.to_string(), c.to_string()))
                .collect(),
        )
    }

    fn contoso() -> Accounts {
        accounts(&[("contoso", "USD")])
    }

    /// A native file of `rows` data rows over 3 invoices; `bad(i)` may replace row `i`.
    fn many_rows(rows: usize, bad: impl Fn(usize) -> Option<String>) -> String {
        let mut text = String::from(
            "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n",
        );
        for i in 0..rows {
            let line = bad(i).unwrap_or_else(|| {
                format!(
                    "INV-{},2025-02-05,P{},2025-01-{:02},usage,{}.{:02},USD",
                    i % 3,
                    i % 5,
                    1 + i % 28,
                    i,
                    i % 100
                )
            });
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    fn stage_threaded(text: &str) -> Result<Vec<Invoice>, String> {
        let (dir, path) = csv_file(text);
        let run = || -> Result<Vec<Invoice>, InputError> {
            let mut staged = stage_native(&path, &contoso(), dir.path(), |_, _| {})?;
            staged.iter().collect()
        };
        run().map_err(|e| shown_error(&dir, &e))
    }

    #[test]
    fn the_two_thread_reader_stages_exactly_what_one_thread_does() {
        let text = many_rows(3 * BATCH_ROWS + 17, |_| None);
        assert_eq!(
            stage_threaded(&text).unwrap(),
            stage(&text, &contoso()).unwrap()
        );
    }

    #[test]
    fn the_two_thread_reader_reports_the_first_error_in_file_order() {
        // An assembler refusal (row 5,000: another currency) before a parse error (row 9,000).
        let text = many_rows(10_000, |i| match i {
            5_000 => Some("INV-1,2025-02-05,P1,2025-01-02,usage,1.00,EUR".into()),
            9_000 => Some("INV-1,2025-02-05,P1,2025-01-02,usage,1,50,USD".into()),
            _ => None,
        });
        let e = stage_threaded(&text).unwrap_err();
        assert!(e.starts_with("charges.csv:5002:"), "{e}");
        assert_eq!(e, stage(&text, &contoso()).unwrap_err());
        // The parse error alone, in a later batch.
        let text = many_rows(10_000, |i| {
            (i == 9_000).then(|| "INV-1,2025-02-05,P1,2025-01-02,usage,abc,USD".into())
        });
        let e = stage_threaded(&text).unwrap_err();
        assert!(
            e.starts_with("charges.csv:9002:") && e.contains("amount"),
            "{e}"
        );
    }

    /// Stage `text` as `charges.csv`: the invoices, or the first error as displayed.
    fn stage(text: &str, accounts: &Accounts) -> Result<Vec<Invoice>, String> {
        stage_spilling(text, accounts, false)
    }

    fn stage_spilling(
        text: &str,
        accounts: &Accounts,
        spill_every_row: bool,
    ) -> Result<Vec<Invoice>, String> {
        let (dir, path) = csv_file(text);
        let run = || -> Result<Vec<Invoice>, InputError> {
            let mut reader = super::super::native::NativeReader::open(&path)?;
            let mut assembler = Assembler::new(&path, accounts, dir.path())?;
            assembler.set_columns(reader.columns());
            while let Some(row) = reader.next_row() {
                assembler.push_row(&row?)?;
                if spill_every_row {
                    assembler.spill_all()?;
                }
            }
            let mut staged = assembler.finish()?;
            assert_eq!(
                staged.spill.is_some(),
                spill_every_row && staged.summary().rows > 0
            );
            let invoices = staged.iter().collect::<Result<Vec<_>, _>>()?;
            Ok(invoices)
        };
        run().map_err(|e| shown_error(&dir, &e))
    }

    fn check_refused(text: &str, accounts: &Accounts, expected: &str) {
        match stage(text, accounts) {
            Ok(invoices) => panic!(
                "accepted {} invoices, expected {expected:?}",
                invoices.len()
            ),
            Err(message) => assert_eq!(message, expected),
        }
    }

    const HEADER: &str =
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    /// (id, amounts in order) of each invoice.
    fn shape(invoices: &[Invoice]) -> Vec<(String, Vec<String>)> {
        invoices
            .iter()
            .map(|i| {
                (
                    i.id.clone(),
                    i.lines.iter().map(|l| l.amount.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn interleaved_invoices_keep_first_appearance_order_and_line_order() {
        let text = format!(
            "{HEADER}B,2025-02-05,P,2025-01-03,usage,1,USD\nA,2025-02-05,P,2025-01-04,usage,2,USD\nB,2025-02-05,Q,2025-01-01,usage,3,USD\nC,2025-03-05,P,2025-02-01,usage,4,USD\nA,2025-02-05,P,2025-01-02,support,5,USD\n"
        );
        for spill in [false, true] {
            let invoices = stage_spilling(&text, &contoso(), spill).unwrap();
            assert_eq!(
                shape(&invoices),
                vec![
                    ("B".to_string(), vec!["1".to_string(), "3".to_string()]),
                    ("A".to_string(), vec!["2".to_string(), "5".to_string()]),
                    ("C".to_string(), vec!["4".to_string()]),
                ]
            );
            let b = &invoices[0];
            assert_eq!(
                (b.account.as_str(), b.currency.as_str(), b.date),
                ("contoso", "USD", d("2025-02-05"))
            );
            assert_eq!(b.profiles, vec!["P".to_string(), "Q".to_string()]);
            assert_eq!(
                b.lines.iter().map(|l| l.profile).collect::<Vec<_>>(),
                vec![0, 1]
            );
            assert_eq!(b.content_hash, [0; 32]);
        }
    }

    #[test]
    fn the_default_period_is_the_month_of_the_earliest_charge() {
        let text = format!("{HEADER}A,2025-03-05,P,2025-02-10,usage,1,USD\nA,2025-03-05,P,2025-01-31,usage,1,USD\n");
        let invoices = stage(&text, &contoso()).unwrap();
        assert_eq!(
            (invoices[0].period_start, invoices[0].period_end),
            (d("2025-01-01"), d("2025-01-31"))
        );
        let text = "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n\
                    A,2024-03-05,,,P,2024-02-10,usage,1,USD\nA,2024-03-05,2024-02-01,2024-02-29,P,2024-02-11,usage,1,USD\n";
        let invoices = stage(text, &contoso()).unwrap();
        assert_eq!(
            (invoices[0].period_start, invoices[0].period_end),
            (d("2024-02-01"), d("2024-02-29"))
        );
    }

    #[test]
    fn strings_are_interned_per_invoice_in_order_of_first_reference() {
        let text = "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,description,service,line_id,corrects,publisher\n\
                    A,2025-02-05,P,2025-01-03,usage,1,USD,d1,VMs,L1,,\n\
                    B,2025-02-05,P,2025-01-03,usage,1,USD,d1,Storage,,,\n\
                    A,2025-02-05,P,2025-01-03,refund,-1,USD,d2,VMs,L2,macc-1,acme\n\
                    A,2025-02-05,P,2025-01-03,usage,1,USD,,VMs,d1,,\n";
        for spill in [false, true] {
            let invoices = stage_spilling(text, &contoso(), spill).unwrap();
            let a = &invoices[0];
            // Per line in field order: line_id, service, publisher, description, corrects.
            assert_eq!(
                a.strings,
                vec!["L1", "VMs", "d1", "L2", "acme", "d2", "macc-1"]
            );
            let l = &a.lines[1];
            assert_eq!(
                (
                    a.str(l.line_id),
                    a.str(l.service),
                    a.str(l.publisher),
                    a.str(l.description),
                    a.str(l.corrects)
                ),
                (
                    Some("L2"),
                    Some("VMs"),
                    Some("acme"),
                    Some("d2"),
                    Some("macc-1")
                )
            );
            assert_eq!(a.str(a.lines[2].line_id), Some("d1"));
            assert_eq!(a.lines[2].description, StrRef::NONE);
            assert_eq!(invoices[1].strings, vec!["Storage", "d1"]);
        }
    }

    #[test]
    fn rows_of_one_invoice_must_agree() {
        let two = |second: &str| {
            format!("{HEADER}X,2025-02-05,P,2025-01-03,usage,1,USD\nINV-1,2025-02-05,P,2025-01-03,usage,1,USD\n{second}\n")
        };
        check_refused(
            &two("INV-1,2025-02-06,P,2025-01-04,usage,1,USD"),
            &contoso(),
            "charges.csv:4: column 2 (invoice_date): 2025-02-06 differs from 2025-02-05 on line 3, where invoice INV-1 first appears (every line of an invoice has the same invoice_date)",
        );
        let header = "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency,account\n";
        let text = format!("{header}I,2025-02-05,,,P,2025-01-03,usage,1,USD,a\nI,2025-02-05,2025-01-01,2025-01-31,P,2025-01-03,usage,1,USD,a\nI,2025-02-05,2025-01-01,2025-01-30,P,2025-01-03,usage,1,USD,a\n");
        let two_accounts = accounts(&[("a", "USD"), ("b", "USD")]);
        check_refused(
            &text,
            &two_accounts,
            "charges.csv:4: column 4 (period_end): 2025-01-30 differs from 2025-01-31 given for invoice I on line 3; the invoice first appears on line 2 (every line of an invoice has the same billing period)",
        );
        let text = format!("{header}I,2025-02-05,,,P,2025-01-03,usage,1,USD,a\nI,2025-02-05,,,P,2025-01-03,usage,1,USD,b\n");
        check_refused(
            &text,
            &two_accounts,
            "charges.csv:3: column 10 (account): 'b' differs from 'a' on line 2, where invoice I first appears (an invoice belongs to one account)",
        );
    }

    #[test]
    fn accounts_and_currencies_are_resolved_or_refused() {
        let row = format!("{HEADER}INV-1,2025-02-05,P,2025-01-03,usage,1,USD\n");
        assert_eq!(stage(&row, &contoso()).unwrap()[0].account, "contoso");
        check_refused(
            &row,
            &Accounts::default(),
            "charges.csv:2: account: no agreement recorded; run `ledger agreement FILE` first",
        );
        check_refused(
            &row,
            &accounts(&[("a", "USD"), ("b", "USD")]),
            "charges.csv:2: account: the ledger has accounts a, b: add an account column",
        );
        check_refused(
            &row,
            &accounts(&[("contoso", "EUR")]),
            "charges.csv:2: column 7 (currency): 'USD' is not the currency of account contoso (expected EUR, the agreement's currency)",
        );
        let header =
            "account,invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";
        check_refused(
            &format!("{header},INV-1,2025-02-05,P,2025-01-03,usage,1,USD\n"),
            &accounts(&[("a", "USD"), ("b", "USD")]),
            "charges.csv:2: column 1 (account): the ledger has accounts a, b: fill in the account column",
        );
        check_refused(
            &format!("{header}fabrikam,INV-1,2025-02-05,P,2025-01-03,usage,1,USD\n"),
            &accounts(&[("a", "USD"), ("b", "USD")]),
            "charges.csv:2: column 1 (account): 'fabrikam' has no agreement recorded (the ledger has accounts a, b); run `ledger agreement FILE` first",
        );
        let two = stage(&format!("{header}b,I1,2025-02-05,P,2025-01-03,usage,1,USD\na,I2,2025-02-05,P,2025-01-03,usage,1,EUR\n"), &accounts(&[("a", "EUR"), ("b", "USD")])).unwrap();
        assert_eq!(
            two.iter()
                .map(|i| (i.account.as_str(), i.currency.as_str()))
                .collect::<Vec<_>>(),
            vec![("b", "USD"), ("a", "EUR")]
        );
    }

    #[test]
    fn reserved_invoice_ids_are_refused() {
        for (id, prefix) in [
            ("SHORTFALL-macc-1", "SHORTFALL-"),
            ("WHATIF-2025-04", "WHATIF-"),
            ("shortfall-macc-1", "SHORTFALL-"),
            ("WhatIf-2025-04", "WHATIF-"),
        ] {
            check_refused(
                &format!("{HEADER}{id},2025-02-05,P,2025-01-03,usage,1,USD\n"),
                &contoso(),
                &format!("charges.csv:2: column 1 (invoice_id): '{id}' is reserved: ids starting with {prefix} (in any case) are made by the ledger itself; expected an invoice id of printable ASCII, not starting with SHORTFALL- or WHATIF-"),
            );
        }
    }

    /// Issue 11 pt 13: ids a person cannot tell apart, or that hide characters, are refused
    /// in the column that holds them.
    #[test]
    fn identifiers_with_invisible_or_look_alike_characters_are_refused() {
        let header =
            "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,line_id\n";
        for (row, column, found) in [
            (
                "INV\u{200B}-1,2025-02-05,P,2025-01-03,usage,1,USD,",
                "column 1 (invoice_id)",
                "U+200B",
            ),
            (
                "\u{FEFF}INV-1,2025-02-05,P,2025-01-03,usage,1,USD,",
                "column 1 (invoice_id)",
                "U+FEFF",
            ),
            (
                "INV-1 ,2025-02-05,P,2025-01-03,usage,1,USD,",
                "column 1 (invoice_id)",
                "space at its start or end",
            ),
            (
                "INV-\u{0410}1,2025-02-05,P,2025-01-03,usage,1,USD,",
                "column 1 (invoice_id)",
                "not printable ASCII",
            ),
            (
                "INV-1,2025-02-05,P\u{2060},2025-01-03,usage,1,USD,",
                "column 3 (billing_profile)",
                "U+2060",
            ),
            (
                "INV-1,2025-02-05,Mu\u{0308}ller,2025-01-03,usage,1,USD,",
                "column 3 (billing_profile)",
                "NFC",
            ),
            (
                "INV-1,2025-02-05,P,2025-01-03,usage,1,USD,l\u{0}1",
                "column 8 (line_id)",
                "U+0000",
            ),
        ] {
            let message = stage(&format!("{header}{row}\n"), &contoso()).unwrap_err();
            assert!(
                message.starts_with(&format!("charges.csv:2: {column}: "))
                    && message.contains(found),
                "{row:?}: {message}"
            );
        }
        // A second row naming another profile is checked too.
        let rows = format!("{header}INV-1,2025-02-05,P,2025-01-03,usage,1,USD,\nINV-1,2025-02-05,Q\u{200D},2025-01-03,usage,1,USD,\n");
        let message = stage(&rows, &contoso()).unwrap_err();
        assert!(
            message.starts_with("charges.csv:3: column 3 (billing_profile)"),
            "{message}"
        );
        // A profile is checked when it is new to its invoice, also after profiles alternate
        // and another invoice came between.
        let row = |id: &str, profile: &str| {
            format!("{id},2025-02-05,{profile},2025-01-03,usage,1,USD,\n")
        };
        let mut rows = header.to_string();
        for (id, profile) in [
            ("INV-1", "P"),
            ("INV-1", "Q"),
            ("INV-1", "P"),
            ("INV-2", "P"),
        ] {
            rows.push_str(&row(id, profile));
        }
        rows.push_str(&row("INV-1", "R\u{200B}"));
        let message = stage(&rows, &contoso()).unwrap_err();
        assert!(
            message.starts_with("charges.csv:6: column 3 (billing_profile)")
                && message.contains("U+200B"),
            "{message}"
        );
    }

    #[test]
    fn the_summary_counts_rows_lines_and_totals() {
        let text = format!("{HEADER}A,2025-02-05,P,2025-01-03,usage,1.5,USD\nB,2025-02-05,P,2025-01-03,tax,2,USD\nA,2025-02-05,P,2025-01-03,usage,3,USD\nA,2025-02-05,P,2025-01-03,refund,-0.5,USD\n");
        let (dir, path) = csv_file(&text);
        let staged = stage_native_file(&path, &contoso(), dir.path()).unwrap();
        let s = staged.summary();
        assert_eq!(
            (s.rows, s.invoices, s.lines_per_invoice.clone()),
            (4, 2, vec![3, 1])
        );
        assert_eq!(s.lines_by_kind[ChargeKind::Usage.index()], 2);
        assert_eq!(s.totals.len(), 1);
        assert_eq!(s.totals[0].by_kind[ChargeKind::Usage.index()], m("4.5"));
        assert_eq!(s.totals[0].by_kind[ChargeKind::Refund.index()], m("-0.5"));
        assert_eq!(s.total("USD"), Some(m("6")));
        assert_eq!(s.total("EUR"), None);
        assert_eq!(
            (
                staged.len(),
                staged.first_line(0),
                staged.first_line(1),
                staged.id(1)
            ),
            (2, 2, 3, "B")
        );
    }

    #[test]
    fn the_shared_examples_stage() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/examples");
        let dirs =
            std::fs::read_dir(&examples).unwrap_or_else(|e| panic!("{}: {e}", examples.display()));
        let mut staged_examples = 0;
        for dir in dirs {
            let dir = dir.unwrap().path();
            if !dir.join("agreement.toml").exists() {
                continue; // the folder's README
            }
            let agreement = crate::read_agreement(&dir.join("agreement.toml"))
                .unwrap_or_else(|e| panic!("{e}"));
            staged_examples += 1;
            let accounts = Accounts::new(BTreeMap::from([(
                agreement.account.clone(),
                agreement.currency.clone(),
            )]));
            let spill = tempfile::tempdir().unwrap();
            let mut staged = stage_native_file(&dir.join("charges.csv"), &accounts, spill.path())
                .unwrap_or_else(|e| panic!("{e}"));
            for invoice in staged.iter() {
                let invoice = invoice.unwrap();
                assert!(invoice.period_start <= invoice.period_end);
            }
        }
        assert!(staged_examples >= 3, "staged {staged_examples} examples");
    }

    #[test]
    fn spilled_lines_leave_no_file_behind_and_the_spill_dir_is_made_when_needed() {
        let text = format!("{HEADER}A,2025-02-05,P,2025-01-03,usage,1,USD\nB,2025-02-05,P,2025-01-03,usage,2,USD\nA,2025-02-05,P,2025-01-03,usage,3,USD\n");
        let (dir, path) = csv_file(&text);
        let spill_dir = dir.path().join("staging");
        let mut reader = super::super::native::NativeReader::open(&path).unwrap();
        let mut assembler = Assembler::new(&path, &contoso(), &spill_dir).unwrap();
        while let Some(row) = reader.next_row() {
            assembler.push_row(&row.unwrap()).unwrap();
            assembler.spill_all().unwrap();
        }
        let mut staged = assembler.finish().unwrap();
        assert!(staged.spill.is_some());
        // The spill file is anonymous: nothing to clean up after a crash.
        assert_eq!(std::fs::read_dir(&spill_dir).unwrap().count(), 0);
        let invoices: Vec<Invoice> = staged.iter().map(|i| i.unwrap()).collect();
        assert_eq!(
            shape(&invoices),
            vec![
                ("A".to_string(), vec!["1".to_string(), "3".to_string()]),
                ("B".to_string(), vec!["2".to_string()])
            ]
        );
        // Building twice gives the same invoices.
        assert_eq!(
            staged.iter().map(|i| i.unwrap()).collect::<Vec<_>>(),
            invoices
        );
    }

    #[test]
    fn progress_is_reported_with_bytes_and_rows() {
        let text = format!("{HEADER}A,2025-02-05,P,2025-01-03,usage,1,USD\n");
        let (dir, path) = csv_file(&text);
        let mut calls = Vec::new();
        stage_native(&path, &contoso(), dir.path(), |bytes, rows| {
            calls.push((bytes, rows))
        })
        .unwrap();
        assert_eq!(calls, vec![(text.len() as u64, 1)]);
    }

    #[test]
    fn string_sets_number_in_insertion_order() {
        let mut set = StringSet::default();
        let words: Vec<String> = (0..5000).map(|i| format!("w{}", i % 1000)).collect();
        for w in &words {
            set.intern(w);
        }
        assert_eq!(set.find("w17"), Some(17));
        assert_eq!(set.get(999), "w999");
        assert_eq!(set.find("z"), None);
        let strings = set.into_strings();
        assert_eq!(strings.len(), 1000);
        assert_eq!(strings[3], "w3");
    }

    fn peak_rss_mib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok());
        kib.unwrap_or(0) / 1024
    }

    /// `cargo test -p tools --release -- --ignored --nocapture ten_million_lines_stay_in_bounded_memory`
    #[test]
    #[ignore]
    fn ten_million_lines_stay_in_bounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        let lines = 10_000_000;
        crate::native::tests::generate(&path, lines);
        let size_mib = std::fs::metadata(&path).unwrap().len() >> 20;
        let before = peak_rss_mib();
        let start = std::time::Instant::now();
        let mut staged = stage_native_file(&path, &contoso(), dir.path()).unwrap();
        let staged_time = start.elapsed();
        let after_staging = peak_rss_mib();
        let mut count = 0;
        for invoice in staged.iter() {
            count += invoice.unwrap().lines.len();
        }
        assert_eq!(count, lines);
        println!(
            "{lines} rows ({size_mib} MiB) in {} invoices: staged in {:.2} s ({:.2} M rows/s); peak RSS {before} MiB before, {after_staging} MiB after staging, {} MiB after building every invoice; spilled: {}",
            staged.len(),
            staged_time.as_secs_f64(),
            lines as f64 / staged_time.as_secs_f64() / 1e6,
            peak_rss_mib(),
            staged.spill.is_some(),
        );
        assert!(
            after_staging < before + 3 * (SPILL_BUDGET_BYTES as u64 >> 20),
            "staging used {after_staging} MiB"
        );
    }

    /// `cargo test -p tools --release -- --ignored --nocapture assemble_rows_per_second`
    #[test]
    #[ignore]
    fn assemble_rows_per_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        let lines = 1_000_000;
        crate::native::tests::generate(&path, lines);
        for round in 0..3 {
            let start = std::time::Instant::now();
            let mut staged = stage_native_file(&path, &contoso(), dir.path()).unwrap();
            let staged_time = start.elapsed();
            let start = std::time::Instant::now();
            let mut count = 0;
            for invoice in staged.iter() {
                count += invoice.unwrap().lines.len();
            }
            let built_time = start.elapsed();
            assert_eq!(count, lines);
            let total = staged_time + built_time;
            println!(
                "round {round}: {lines} rows in {} invoices: read+assemble {:.2} M rows/s, build invoices {:.2} M rows/s, end to end {:.2} M rows/s (spilled: {})",
                staged.len(),
                lines as f64 / staged_time.as_secs_f64() / 1e6,
                lines as f64 / built_time.as_secs_f64() / 1e6,
                lines as f64 / total.as_secs_f64() / 1e6,
                staged.spill.is_some(),
            );
        }
    }
}
