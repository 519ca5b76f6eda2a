//! FOCUS and Azure cost-details exports in Parquet (uncompressed or snappy), read column by
//! column into the same rows as CSV exports.
//!
//! The schema's top-level columns are the header; the same [`Layout`] (FOCUS or Azure
//! columns) finds its columns in it, so a schema without a required column is refused naming
//! the file and the column, with the CSV reader's words. Only the columns the layout names are
//! read, a batch of [`BATCH_ROWS`] rows at a time (memory stays bounded whatever the row
//! groups' size). Each value becomes the text a CSV cell would hold ([`crate::parquet_cells`]:
//! decimals exact, floats by their shortest round-trip decimal, timestamps and dates as ISO
//! text), and each row goes through `focus::row` / `azure::row` and the [`Assembler`]: one
//! mapping, one set of checks for both encodings. Rows are numbered from 1 in file order; a
//! refusal names the file, the row and the column (`costs.parquet: row 7: column 3
//! (BilledCost): ...`).

use std::fs::File;
use std::io::Read as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ::parquet::column::reader::ColumnReader;
use ::parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::schema::types::ColumnDescPtr;

use crate::assemble::{Accounts, Assembler, StagedInvoices};
use crate::cells::{Cells, Header, ReadStats, Scratch};
use crate::error::InputError;
use crate::export::{pump_rows, ExportFormat, Layout, RowSource};
use crate::native::Row;
use crate::parquet_cells::{
    be_integer, write_date, write_decimal, write_hex, write_int96, write_timestamp, Convert,
};
use crate::records::TextRecord;

/// The four bytes a Parquet file starts (and ends) with.
pub const MAGIC: [u8; 4] = *b"PAR1";

/// Rows read per column per batch.
pub const BATCH_ROWS: usize = 4096;

/// Whether `path` starts with the Parquet magic `PAR1` (its content, not its name, decides).
pub fn is_parquet(path: &Path) -> Result<bool, InputError> {
    let mut file = File::open(path).map_err(|e| InputError::io(path, "cannot open", &e))?;
    let mut magic = [0u8; 4];
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..]) {
            Ok(0) => return Ok(false),
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InputError::io(path, "cannot read", &e)),
        }
    }
    Ok(magic == MAGIC)
}

/// Open a Parquet file and its footer.
fn open_file(path: &Path) -> Result<SerializedFileReader<File>, InputError> {
    let file = File::open(path).map_err(|e| InputError::io(path, "cannot open", &e))?;
    SerializedFileReader::new(file).map_err(|e| {
        InputError::new(
            path,
            format!("starts like a Parquet file but cannot be read as one: {e}"),
        )
    })
}

/// The schema's leaf columns as a header: a top-level column by its name, a nested one by its
/// dotted path.
fn header_names(source: &SerializedFileReader<File>) -> Vec<String> {
    let schema = source.metadata().file_metadata().schema_descr_ptr();
    schema
        .columns()
        .iter()
        .map(|c| {
            if c.path().parts().len() == 1 {
                c.name().to_string()
            } else {
                c.path().string()
            }
        })
        .collect()
}

/// The column names of a Parquet file's schema, to tell its format by
/// ([`crate::format::sniff`]).
pub fn column_names(path: &Path) -> Result<Vec<String>, InputError> {
    Ok(header_names(&open_file(path)?))
}

/// One column's values in the current batch.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

/// A column the layout reads: its reader in the current row group and its current batch.
struct Column {
    /// Position in the header (and the schema's leaves).
    index: usize,
    convert: Convert,
    max_def: i16,
    reader: Option<ColumnReader>,
    defs: Vec<i16>,
    values: Values,
    /// The next value of `values` to hand out.
    next: usize,
    /// The last date or timestamp converted and its text (consecutive rows repeat them).
    last: Option<(i64, Vec<u8>)>,
}

impl Column {
    fn new(index: usize, descr: &ColumnDescPtr) -> Result<Column, String> {
        if descr.max_rep_level() > 0 {
            return Err("is a repeated (list or map) column; expected one value per row".into());
        }
        use ::parquet::basic::Type as T;
        let values = match descr.physical_type() {
            T::BOOLEAN => Values::Bool(Vec::new()),
            T::INT32 => Values::I32(Vec::new()),
            T::INT64 => Values::I64(Vec::new()),
            T::INT96 => Values::I96(Vec::new()),
            T::FLOAT => Values::F32(Vec::new()),
            T::DOUBLE => Values::F64(Vec::new()),
            T::BYTE_ARRAY => Values::Bytes(Vec::new()),
            T::FIXED_LEN_BYTE_ARRAY => Values::Fixed(Vec::new()),
        };
        Ok(Column {
            index,
            convert: Convert::of(descr)?,
            max_def: descr.max_def_level(),
            reader: None,
            defs: Vec::with_capacity(BATCH_ROWS),
            values,
            next: 0,
            last: None,
        })
    }

    /// Read up to `rows` rows of the current row group; the count read.
    fn read(&mut self, rows: usize) -> ::parquet::errors::Result<usize> {
        self.defs.clear();
        self.next = 0;
        let defs = (self.max_def > 0).then_some(&mut self.defs);
        let reader = self.reader.as_mut().expect("a row group is open");
        macro_rules! read {
            ($reader:expr, $values:expr) => {{
                $values.clear();
                $reader.read_records(rows, defs, None, $values)?.0
            }};
        }
        Ok(match (reader, &mut self.values) {
            (ColumnReader::BoolColumnReader(r), Values::Bool(v)) => read!(r, v),
            (ColumnReader::Int32ColumnReader(r), Values::I32(v)) => read!(r, v),
            (ColumnReader::Int64ColumnReader(r), Values::I64(v)) => read!(r, v),
            (ColumnReader::Int96ColumnReader(r), Values::I96(v)) => read!(r, v),
            (ColumnReader::FloatColumnReader(r), Values::F32(v)) => read!(r, v),
            (ColumnReader::DoubleColumnReader(r), Values::F64(v)) => read!(r, v),
            (ColumnReader::ByteArrayColumnReader(r), Values::Bytes(v)) => read!(r, v),
            (ColumnReader::FixedLenByteArrayColumnReader(r), Values::Fixed(v)) => read!(r, v),
            _ => {
                return Err(::parquet::errors::ParquetError::General(
                    "the column's reader and its physical type disagree".into(),
                ))
            }
        })
    }

    /// Whether row `at` of the batch has a value (not null).
    #[inline]
    fn present(&self, at: usize) -> bool {
        self.max_def == 0 || self.defs.get(at) == Some(&self.max_def)
    }

    /// Append the next value's text to `out`; `Err` says why it cannot be read.
    #[inline]
    fn write_next(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let i = self.next;
        self.next += 1;
        let missing = || "has fewer values than its definition levels say".to_string();
        match &self.values {
            Values::Bool(v) => out.extend_from_slice(if *v.get(i).ok_or_else(missing)? {
                b"true"
            } else {
                b"false"
            }),
            Values::I32(v) => {
                let value = *v.get(i).ok_or_else(missing)?;
                self.write_integer(out, i64::from(value))?;
            }
            Values::I64(v) => {
                let value = *v.get(i).ok_or_else(missing)?;
                self.write_integer(out, value)?;
            }
            Values::I96(v) => {
                if !write_int96(out, v.get(i).ok_or_else(missing)?) {
                    return Err("is an INT96 timestamp outside the calendar".into());
                }
            }
            // The shortest decimal that reads back as the same number (NaN and infinities are
            // written as they are; the amount parser refuses them naming the cell).
            Values::F32(v) => {
                let _ = write!(out, "{}", v.get(i).ok_or_else(missing)?);
            }
            Values::F64(v) => {
                let _ = write!(out, "{}", v.get(i).ok_or_else(missing)?);
            }
            Values::Bytes(v) => {
                write_bytes(out, v.get(i).ok_or_else(missing)?.data(), self.convert)?
            }
            Values::Fixed(v) => {
                write_bytes(out, v.get(i).ok_or_else(missing)?.data(), self.convert)?
            }
        }
        Ok(())
    }

    /// An INT32 or INT64 by its conversion, dates and timestamps through the one-entry cache.
    #[inline]
    fn write_integer(&mut self, out: &mut Vec<u8>, value: i64) -> Result<(), String> {
        match self.convert {
            Convert::Decimal { scale } => write_decimal(out, i128::from(value), scale),
            Convert::Date | Convert::Timestamp { .. } => {
                if let Some((last, text)) = &self.last {
                    if *last == value {
                        out.extend_from_slice(text);
                        return Ok(());
                    }
                }
                let start = out.len();
                let ok = match self.convert {
                    Convert::Date => write_date(out, value),
                    Convert::Timestamp { per_second, utc } => {
                        write_timestamp(out, value, per_second, utc)
                    }
                    _ => unreachable!("matched above"),
                };
                if !ok {
                    return Err(format!("{value} is not a date the calendar holds"));
                }
                self.last = Some((value, out[start..].to_vec()));
            }
            _ => {
                let _ = write!(out, "{value}");
            }
        }
        Ok(())
    }
}

/// A byte array: UTF-8 text, an exact decimal, or hex.
#[inline]
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8], convert: Convert) -> Result<(), String> {
    match convert {
        Convert::Decimal { scale } => {
            let unscaled = be_integer(bytes).ok_or_else(|| {
                format!("is a decimal of {} bytes; at most 16 are read", bytes.len())
            })?;
            write_decimal(out, unscaled, scale);
        }
        Convert::Hex => write_hex(out, bytes),
        // Text is checked to be UTF-8 once per row (`ParquetReader::fill_row`).
        _ => out.extend_from_slice(bytes),
    }
    Ok(())
}

/// Rows decoded into cell text, a batch at a time.
#[derive(Default)]
struct Batch {
    /// Every cell of the batch's rows, checked to be UTF-8.
    text: String,
    /// Per row, each header column's range in `text` (`width` entries a row).
    ranges: Vec<(usize, usize)>,
    rows: usize,
    /// Compressed bytes of the row groups opened so far.
    bytes_read: u64,
}

/// A batch, a refusal, or the end of the file (`None`).
type Decoded = Result<Option<Batch>, InputError>;

/// The file and the columns the layout reads, decoded a batch at a time.
struct Decoder {
    file: PathBuf,
    names: Vec<String>,
    source: SerializedFileReader<File>,
    columns: Vec<Column>,
    /// The next row group to open, and its rows not yet decoded.
    next_group: usize,
    group_rows_left: u64,
    /// Rows decoded before the current batch.
    rows_done: u64,
    bytes_read: u64,
}

impl Decoder {
    fn parquet_error(&self, e: ::parquet::errors::ParquetError) -> InputError {
        InputError::new(&self.file, format!("cannot be read as Parquet: {e}"))
            .at_line(self.rows_done + 1)
    }

    #[cold]
    fn cell_error(&self, row: u64, column: usize, message: String) -> InputError {
        InputError::new(&self.file, message)
            .at_line(row)
            .in_column(column + 1, self.names[column].clone())
    }

    /// Open the next row group when the current one is done; `false` at the end of the file.
    fn next_group(&mut self) -> Result<bool, InputError> {
        while self.group_rows_left == 0 {
            if self.next_group >= self.source.num_row_groups() {
                return Ok(false);
            }
            let group = self
                .source
                .get_row_group(self.next_group)
                .map_err(|e| self.parquet_error(e))?;
            let rows = u64::try_from(group.metadata().num_rows()).unwrap_or(0);
            self.bytes_read += u64::try_from(group.metadata().compressed_size()).unwrap_or(0);
            let mut readers = Vec::with_capacity(self.columns.len());
            for column in &self.columns {
                readers.push(
                    group
                        .get_column_reader(column.index)
                        .map_err(|e| self.parquet_error(e))?,
                );
            }
            drop(group);
            for (column, reader) in self.columns.iter_mut().zip(readers) {
                column.reader = Some(reader);
            }
            self.group_rows_left = rows;
            self.next_group += 1;
        }
        Ok(true)
    }

    /// Decode the next rows into `batch`; `None` at the end of the file.
    fn fill(&mut self, mut batch: Batch) -> Decoded {
        if !self.next_group()? {
            return Ok(None);
        }
        let want = self.group_rows_left.min(BATCH_ROWS as u64) as usize;
        let mut short = None;
        for column in &mut self.columns {
            match column.read(want) {
                Ok(got) if got == want => {}
                Ok(got) => {
                    short = Some(Ok((column.index, got)));
                    break;
                }
                Err(e) => {
                    short = Some(Err(e));
                    break;
                }
            }
        }
        match short {
            None => {}
            Some(Err(e)) => return Err(self.parquet_error(e)),
            Some(Ok((column, got))) => {
                let message =
                    format!("has {got} rows in this row group where the others have {want}");
                return Err(self.cell_error(self.rows_done + 1, column, message));
            }
        }
        self.group_rows_left -= want as u64;
        let width = self.names.len();
        let mut bytes = std::mem::take(&mut batch.text).into_bytes();
        bytes.clear();
        batch.ranges.clear();
        batch.ranges.resize(want * width, (0, 0));
        for r in 0..want {
            let ranges = &mut batch.ranges[r * width..(r + 1) * width];
            for column in &mut self.columns {
                let start = bytes.len();
                if column.present(r) {
                    if let Err(message) = column.write_next(&mut bytes) {
                        let (row, c) = (self.rows_done + r as u64 + 1, column.index);
                        return Err(self.cell_error(row, c, message));
                    }
                }
                ranges[column.index] = (start, bytes.len());
            }
        }
        // One check for the whole batch; a cell that splits a character fails it too.
        let text = match std::str::from_utf8(&bytes) {
            Ok(text)
                if batch.ranges.iter().all(|&(start, end)| {
                    text.is_char_boundary(start) && text.is_char_boundary(end)
                }) =>
            {
                String::from_utf8(bytes).expect("checked above")
            }
            _ => return Err(self.not_utf8(&bytes, &batch.ranges, width)),
        };
        batch.text = text;
        batch.rows = want;
        batch.bytes_read = self.bytes_read;
        self.rows_done += want as u64;
        Ok(Some(batch))
    }

    /// The first cell of a batch that is not UTF-8, as an error.
    #[cold]
    fn not_utf8(&self, bytes: &[u8], ranges: &[(usize, usize)], width: usize) -> InputError {
        for (i, &(start, end)) in ranges.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(&bytes[start..end]) {
                let message = format!(
                    "is not valid UTF-8 text (invalid byte after {} bytes); exports must be UTF-8",
                    e.valid_up_to()
                );
                let row = self.rows_done + (i / width) as u64 + 1;
                return self.cell_error(row, i % width, message);
            }
        }
        InputError::new(&self.file, "is not valid UTF-8 text")
    }
}

/// A streaming reader of one FOCUS or Azure cost-details export in Parquet: the columns are
/// decoded into cell text [`BATCH_ROWS`] rows at a time, then each row is mapped.
pub struct ParquetReader {
    file: PathBuf,
    format: ExportFormat,
    header: Header,
    layout: Layout,
    decoder: Decoder,
    batch: Batch,
    /// The next row of `batch` to hand out.
    at: usize,
    scratch: Scratch,
    stats: ReadStats,
    stopped: bool,
}

impl ParquetReader {
    /// Open `path` and find `format`'s columns in its schema.
    pub fn open(path: &Path, format: ExportFormat) -> Result<ParquetReader, InputError> {
        let source = open_file(path)?;
        let header = Header::new(header_names(&source));
        let layout = Layout::new(format, &header).map_err(|m| InputError::new(path, m))?;
        layout.log_header(path, format, &header);
        let schema = source.metadata().file_metadata().schema_descr_ptr();
        let columns = header
            .found()
            .into_iter()
            .map(|i| {
                Column::new(i, &schema.column(i))
                    .map_err(|m| InputError::new(path, m).in_column(i + 1, header.names[i].clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let decoder = Decoder {
            file: path.to_path_buf(),
            names: header.names.clone(),
            source,
            columns,
            next_group: 0,
            group_rows_left: 0,
            rows_done: 0,
            bytes_read: 0,
        };
        Ok(ParquetReader {
            file: path.to_path_buf(),
            format,
            header,
            layout,
            decoder,
            batch: Batch::default(),
            at: 0,
            scratch: Scratch {
                invoice_id: String::new(),
                dates: Default::default(),
            },
            stats: ReadStats::default(),
            stopped: false,
        })
    }

    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// The schema's column names.
    pub fn columns(&self) -> &[String] {
        &self.header.names
    }

    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Compressed bytes of the row groups read so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.batch.bytes_read
    }

    /// Tell the assembler which columns its checks concern, so that its errors name them.
    pub fn name_sources(&self, assembler: &mut Assembler) {
        self.layout.name_sources(&self.header, assembler);
    }

    /// Decode the next batch, reusing the spent one's buffers: `Ok(false)` at the end.
    fn next_batch(&mut self) -> Result<bool, InputError> {
        let spent = std::mem::take(&mut self.batch);
        self.at = 0;
        match self.decoder.fill(spent)? {
            Some(batch) => {
                self.batch = batch;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The next row: `Some(Ok(Some(row)))` a charge line, `Some(Ok(None))` a skipped row
    /// (counted in [`ParquetReader::stats`]), `Some(Err(_))` a refused row, `None` at the end.
    /// After a read error the reader stops.
    #[allow(clippy::should_implement_trait)] // a lending iterator: Row borrows the reader
    pub fn next_row(&mut self, accounts: &Accounts) -> Option<Result<Option<Row<'_>>, InputError>> {
        if self.stopped {
            return None;
        }
        if self.at == self.batch.rows {
            match self.next_batch() {
                Ok(true) => {}
                Ok(false) => {
                    self.stopped = true;
                    return None;
                }
                Err(e) => {
                    self.stopped = true;
                    return Some(Err(e));
                }
            }
        }
        self.stats.rows += 1;
        let width = self.header.names.len();
        let at = self.at;
        self.at += 1;
        let record = TextRecord::new(
            &self.batch.text,
            &self.batch.ranges[at * width..(at + 1) * width],
            self.stats.rows,
        );
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

/// Read and stage a whole Parquet export, calling `progress(bytes_read, rows)` every
/// [`PROGRESS_EVERY_ROWS`] rows and once at the end. A refusal's line is the 1-based data row.
pub fn stage_parquet(
    path: &Path,
    format: ExportFormat,
    accounts: &Accounts,
    spill_dir: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<(StagedInvoices, ReadStats), InputError> {
    let mut assembler = Assembler::new(path, accounts, spill_dir)?;
    let stats = read_parquet_part(path, format, accounts, &mut assembler, progress)?;
    Ok((assembler.finish()?, stats))
}

/// Read one Parquet part of an export into `assembler` (rows numbered from 1, messages say
/// `row N`): the rows it read and skipped.
pub fn read_parquet_part(
    path: &Path,
    format: ExportFormat,
    accounts: &Accounts,
    assembler: &mut Assembler,
    progress: impl FnMut(u64, u64),
) -> Result<ReadStats, InputError> {
    let mut reader = ParquetReader::open(path, format)?;
    assembler.count_rows();
    pump_rows(path, &mut reader, accounts, assembler, progress)
}

impl RowSource for ParquetReader {
    fn next_row(&mut self, accounts: &Accounts) -> Option<Result<Option<Row<'_>>, InputError>> {
        ParquetReader::next_row(self, accounts)
    }
    fn stats(&self) -> &ReadStats {
        ParquetReader::stats(self)
    }
    fn bytes_read(&self) -> u64 {
        ParquetReader::bytes_read(self)
    }
    fn name_sources(&self, assembler: &mut Assembler) {
        ParquetReader::name_sources(self, assembler)
    }
}
