//! What the FOCUS and Azure cost-details readers share: header matching, cell values, dates,
//! ARM ids, the streaming reader loop and its counts, and staging into the [`Assembler`].
//!
//! A row of an export becomes at most one native [`Row`] borrowing the reader's record buffer
//! (and, for an invoice id the reader derives, one reused string), so the rows flow into the
//! same [`Assembler`] as native rows: bounded memory, first-appearance order, the same checks.
//!
//! Conventions shared by both formats (documented in `docs/INGEST.md`):
//! - headers match ignoring ASCII case and surrounding spaces; a localized header
//!   `Name (EnglishName)` matches `EnglishName`; a UTF-8 BOM before the header is skipped;
//! - a cell that is empty or the literal `NULL` / `null` is null; cells are trimmed;
//! - dates: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.f]][Z|±HH:MM]`, `YYYY-MM-DD HH:MM:SS`,
//!   `M/D/YYYY` and `M/D/YY` (US order, years 20YY), each optionally followed by a time;
//!   the date is the date as written (no time-zone shift);
//! - an ARM id (`/providers/Microsoft.Billing/billingAccounts/8611537`) stands for its last
//!   segment (`8611537`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::assemble::{Accounts, Assembler, StagedInvoices, PROGRESS_EVERY_ROWS};
use super::azure::AzureColumns;
use super::error::InputError;
use super::focus::FocusColumns;
use super::mapping::SkipReason;
use super::native::Row;
use super::records::{Opened, RecordReader, TextSource};

pub(crate) use crate::cells::{key_of, Cells, Header, Scratch};
pub use crate::cells::{ReadStats, MAX_PROVIDER_NAMES, OTHER_PROVIDERS};

/// The two export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Focus,
    Azure,
}

impl ExportFormat {
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Focus => "focus",
            ExportFormat::Azure => "azure",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reader.

/// Where each column is, per format.
pub(crate) enum Layout {
    Focus(Box<FocusColumns>),
    Azure(Box<AzureColumns>),
}

impl Layout {
    /// Find `format`'s columns in `header`; `Err` says which are missing.
    pub(crate) fn new(format: ExportFormat, header: &Header) -> Result<Layout, String> {
        Ok(match format {
            ExportFormat::Focus => Layout::Focus(Box::new(FocusColumns::new(header)?)),
            ExportFormat::Azure => Layout::Azure(Box::new(AzureColumns::new(header)?)),
        })
    }

    /// The columns behind the assembler's checked fields.
    pub(crate) fn sources(&self) -> [(&'static str, Option<usize>); 7] {
        match self {
            Layout::Focus(c) => c.sources(),
            Layout::Azure(c) => c.sources(),
        }
    }

    /// Tell the assembler which columns its checks concern, so that its errors name them.
    pub(crate) fn name_sources(&self, header: &Header, assembler: &mut Assembler) {
        for (field, column) in self.sources() {
            if let Some(c) = column {
                assembler.set_source(field, c + 1, header.names[c].clone());
            }
        }
    }

    /// One row to a charge line, a skip (`None`, counted in `stats`) or a refusal.
    #[inline]
    pub(crate) fn row<'a>(
        &self,
        cells: &Cells<'_, 'a>,
        scratch: &'a mut Scratch,
        accounts: &Accounts,
        stats: &mut ReadStats,
    ) -> Result<Option<Row<'a>>, InputError> {
        let result = match self {
            Layout::Focus(c) => super::focus::row(c, cells, scratch, accounts, stats),
            Layout::Azure(c) => super::azure::row(c, cells, scratch, accounts, stats),
        };
        if let Ok(Some(_)) = &result {
            stats.lines += 1;
        }
        result
    }

    /// Log (debug) which column each field is read from.
    pub(crate) fn log_header(&self, path: &Path, format: ExportFormat, header: &Header) {
        let named: Vec<String> = self
            .sources()
            .iter()
            .filter_map(|(field, c)| c.map(|c| format!("{field}<-{}", header.names[c])))
            .collect();
        let amount = match self {
            Layout::Focus(c) => c.amount_column(),
            Layout::Azure(c) => c.amount_column(),
        };
        tracing::debug!(
            file = %path.display(),
            format = format.name(),
            columns = header.names.len(),
            amount = %header.names[amount],
            fields = %named.join(", "),
            "export header read"
        );
    }
}

/// A streaming reader of one FOCUS or Azure cost-details file.
pub struct ExportReader {
    file: PathBuf,
    format: ExportFormat,
    records: RecordReader<TextSource>,
    /// For a gzip file, the compressed bytes read (progress).
    compressed: Option<Arc<AtomicU64>>,
    header: Header,
    layout: Layout,
    scratch: Scratch,
    stats: ReadStats,
    bom_bytes: u64,
    stopped: bool,
}

impl ExportReader {
    /// Open `path` and read its header as `format`.
    pub fn open(path: &Path, format: ExportFormat) -> Result<ExportReader, InputError> {
        let (records, opened, header_line, names) = open_records(path)?;
        let (bom_bytes, compressed) = (opened.bom_bytes, opened.compressed);
        let header = Header::new(names);
        let layout = Layout::new(format, &header)
            .map_err(|m| InputError::new(path, m).at_line(header_line))?;
        layout.log_header(path, format, &header);
        Ok(ExportReader {
            file: path.to_path_buf(),
            format,
            records,
            compressed,
            header,
            layout,
            scratch: Scratch {
                invoice_id: String::new(),
                dates: Default::default(),
            },
            stats: ReadStats::default(),
            bom_bytes,
            stopped: false,
        })
    }

    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// The header's column names, as in the file.
    pub fn columns(&self) -> &[String] {
        &self.header.names
    }

    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Bytes of the file consumed so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        Opened::file_position(&self.compressed, self.records.position() + self.bom_bytes)
    }

    /// Tell the assembler which columns its checks concern, so that its errors name them.
    pub fn name_sources(&self, assembler: &mut Assembler) {
        self.layout.name_sources(&self.header, assembler);
    }

    /// The next row: `Some(Ok(Some(row)))` a charge line, `Some(Ok(None))` a skipped row
    /// (counted in [`ExportReader::stats`]), `Some(Err(_))` a refused row, `None` at the end.
    /// After an I/O error the reader stops.
    #[allow(clippy::should_implement_trait)] // a lending iterator: Row borrows the reader
    pub fn next_row(&mut self, accounts: &Accounts) -> Option<Result<Option<Row<'_>>, InputError>> {
        if self.stopped {
            return None;
        }
        match self.records.advance() {
            Ok(true) => {}
            Ok(false) => {
                self.stopped = true;
                return None;
            }
            Err(e) => {
                self.stopped = true;
                return Some(Err(
                    InputError::io(&self.file, "cannot read", &e).at_line(self.records.line())
                ));
            }
        }
        self.stats.rows += 1;
        let record = self.records.record();
        let line = record.line;
        let record = match record.to_text() {
            Ok(record) => record,
            Err((column, valid_up_to)) => {
                let message = format!("is not valid UTF-8 text (invalid byte after {valid_up_to} bytes); exports must be UTF-8");
                let error = InputError::new(&self.file, message).at_line(line);
                return Some(Err(match self.header.names.get(column) {
                    Some(name) => error.in_column(column + 1, name.clone()),
                    None => error,
                }));
            }
        };
        if record.len() != self.header.names.len() {
            let message = format!(
                "has {} fields but the header has {} (a cut or joined row? a field containing a comma must be quoted)",
                record.len(),
                self.header.names.len()
            );
            return Some(Err(InputError::new(&self.file, message).at_line(line)));
        }
        let cells = Cells {
            file: &self.file,
            header: &self.header,
            record: &record,
        };
        Some(
            self.layout
                .row(&cells, &mut self.scratch, accounts, &mut self.stats),
        )
    }
}

/// Open a CSV file (plain or gzip), skip a BOM and read the header record; (records, how it
/// was opened (its `source` taken), header line, header names).
pub(crate) fn open_records(
    path: &Path,
) -> Result<(RecordReader<TextSource>, Opened, u64, Vec<String>), InputError> {
    let mut opened = super::records::open_skipping_bom(path)?;
    let source = std::mem::replace(&mut opened.source, Box::new(std::io::empty()));
    let mut records = RecordReader::new(source);
    match records.advance() {
        Ok(true) => {}
        Ok(false) => {
            return Err(InputError::new(
                path,
                "is empty; expected a header line naming the columns",
            ))
        }
        Err(e) => return Err(InputError::io(path, "cannot read", &e).at_line(records.line())),
    }
    let record = records.record();
    let line = record.line;
    let text = record.to_text().map_err(|(i, _)| {
        InputError::new(
            path,
            format!("column {} of the header is not valid UTF-8 text", i + 1),
        )
        .at_line(line)
    })?;
    let names = (0..text.len())
        .map(|i| text.get(i).trim().to_string())
        .collect();
    Ok((records, opened, line, names))
}

/// Read and stage a whole export file, calling `progress(bytes_read, rows)` every
/// [`PROGRESS_EVERY_ROWS`] rows and once at the end. Its invoices come out in the canonical
/// order of their content ([`Assembler::set_canonical`]).
pub fn stage_export(
    path: &Path,
    format: ExportFormat,
    accounts: &Accounts,
    spill_dir: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<(StagedInvoices, ReadStats), InputError> {
    let mut assembler = Assembler::new(path, accounts, spill_dir)?;
    assembler.set_canonical();
    let stats = read_export_part(path, format, accounts, &mut assembler, progress)?;
    Ok((assembler.finish()?, stats))
}

/// Read one CSV part (plain or gzip) of an export into `assembler`: the rows it read and
/// skipped.
pub fn read_export_part(
    path: &Path,
    format: ExportFormat,
    accounts: &Accounts,
    assembler: &mut Assembler,
    progress: impl FnMut(u64, u64),
) -> Result<ReadStats, InputError> {
    let mut reader = ExportReader::open(path, format)?;
    pump_rows(path, &mut reader, accounts, assembler, progress)
}

/// What the export readers share (CSV here, [`crate::parquet::ParquetReader`]): the rows of
/// one part, one at a time, with what reading found.
pub trait RowSource {
    /// The next row (`None` at the end; `Some(Ok(None))` for a row skipped).
    fn next_row(&mut self, accounts: &Accounts) -> Option<Result<Option<Row<'_>>, InputError>>;
    /// Rows read and skipped so far.
    fn stats(&self) -> &ReadStats;
    /// Bytes of the file read so far (for progress).
    fn bytes_read(&self) -> u64;
    /// Name the columns behind the checked fields, so the assembler's errors name them.
    fn name_sources(&self, assembler: &mut Assembler);
}

impl RowSource for ExportReader {
    fn next_row(&mut self, accounts: &Accounts) -> Option<Result<Option<Row<'_>>, InputError>> {
        ExportReader::next_row(self, accounts)
    }
    fn stats(&self) -> &ReadStats {
        ExportReader::stats(self)
    }
    fn bytes_read(&self) -> u64 {
        ExportReader::bytes_read(self)
    }
    fn name_sources(&self, assembler: &mut Assembler) {
        ExportReader::name_sources(self, assembler)
    }
}

/// Push every row of `reader` (a part at `path`) into `assembler`, calling
/// `progress(bytes_read, rows)` every [`PROGRESS_EVERY_ROWS`] rows and once at the end; log
/// the rows skipped. The rows read and skipped.
pub(crate) fn pump_rows(
    path: &Path,
    reader: &mut impl RowSource,
    accounts: &Accounts,
    assembler: &mut Assembler,
    mut progress: impl FnMut(u64, u64),
) -> Result<ReadStats, InputError> {
    reader.name_sources(assembler);
    let mut until_progress = PROGRESS_EVERY_ROWS;
    while let Some(next) = reader.next_row(accounts) {
        if let Some(row) = next? {
            assembler.push_row(&row)?;
        }
        until_progress -= 1;
        if until_progress == 0 {
            progress(reader.bytes_read(), reader.stats().rows);
            until_progress = PROGRESS_EVERY_ROWS;
        }
    }
    progress(reader.bytes_read(), reader.stats().rows);
    let stats = reader.stats().clone();
    log_skips(path, &stats);
    Ok(stats)
}

/// Log (info) the rows of `path` skipped, per reason.
pub(crate) fn log_skips(path: &Path, stats: &ReadStats) {
    for reason in SkipReason::ALL {
        let n = stats.skipped[reason.index()];
        if n > 0 {
            tracing::info!(file = %path.display(), reason = reason.name(), rows = n, "rows skipped");
        }
    }
}
