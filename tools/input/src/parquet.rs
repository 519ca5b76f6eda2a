//! FOCUS and Azure cost-details exports in Parquet (uncompressed or snappy), read column by
//! column into the same rows as CSV exports.
//!
//! The schema's top-level columns are the header; the same [`Layout`] (FOCUS or Azure
//! columns) finds its columns in it, so a schema without a required column is refused naming
//! the file and the column, with the CSV reader's words. Only the columns the layout names are
//! read, a batch of [`BATCH_ROWS`] rows at a time (memory stays bounded whatever the row
//! groups' size). Each value becomes the text a CSV cell would hold ([`crate::parquet_cells`]:
//! decimals exact, floats by their shortest round-trip decimal, timestamps and dates as ISO
//! text). Column chunks are decoded page by page ([`crate::parquet_pages`]): a dictionary's
//! entries become text once per row group and each row's cell is a range into that text (no
//! copy, no allocation per cell); plain values are converted cell by cell; encodings that
//! module does not decode go through the `parquet` crate's column reader. Each row goes through `focus::row` / `azure::row` and the [`Assembler`]: one
//! mapping, one set of checks for both encodings. Rows are numbered from 1 in file order; a
//! refusal names the file, the row and the column (`costs.parquet: row 7: column 3
//! (BilledCost): ...`).

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use ::parquet::column::reader::ColumnReader;
use ::parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use ::parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use ::parquet::schema::types::ColumnDescPtr;

use crate::assemble::{Accounts, Assembler, StagedInvoices};
use crate::cells::{Cells, Header, ReadStats, Scratch};
use crate::error::InputError;
use crate::export::{pump_rows, ExportFormat, Layout, RowSource};
use crate::native::Row;
use crate::parquet_cells::{Convert, Value};
use crate::parquet_pages::{self, Arena, Pages, Range};
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

/// One column's values in the current batch (the crate's column reader).
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

impl Values {
    fn of(physical: ::parquet::basic::Type) -> Values {
        use ::parquet::basic::Type as T;
        match physical {
            T::BOOLEAN => Values::Bool(Vec::new()),
            T::INT32 => Values::I32(Vec::new()),
            T::INT64 => Values::I64(Vec::new()),
            T::INT96 => Values::I96(Vec::new()),
            T::FLOAT => Values::F32(Vec::new()),
            T::DOUBLE => Values::F64(Vec::new()),
            T::BYTE_ARRAY => Values::Bytes(Vec::new()),
            T::FIXED_LEN_BYTE_ARRAY => Values::Fixed(Vec::new()),
        }
    }

    /// Value `i`, if there is one.
    #[inline]
    fn get(&self, i: usize) -> Option<Value<'_>> {
        Some(match self {
            Values::Bool(v) => Value::Bool(*v.get(i)?),
            Values::I32(v) => Value::I32(*v.get(i)?),
            Values::I64(v) => Value::I64(*v.get(i)?),
            Values::I96(v) => {
                let d = v.get(i)?.data();
                Value::I96([d[0], d[1], d[2]])
            }
            Values::F32(v) => Value::F32(*v.get(i)?),
            Values::F64(v) => Value::F64(*v.get(i)?),
            Values::Bytes(v) => Value::Bytes(v.get(i)?.data()),
            Values::Fixed(v) => Value::Bytes(v.get(i)?.data()),
        })
    }
}

/// A column chunk read through the `parquet` crate's column reader: the encodings
/// [`parquet_pages`] does not decode (booleans, delta encodings, byte stream split).
struct ValueReader {
    reader: ColumnReader,
    defs: Vec<i16>,
    values: Values,
}

impl ValueReader {
    /// Read up to `rows` rows; the count read.
    fn read(&mut self, rows: usize, max_def: i16) -> ::parquet::errors::Result<usize> {
        self.defs.clear();
        let defs = (max_def > 0).then_some(&mut self.defs);
        macro_rules! read {
            ($reader:expr, $values:expr) => {{
                $values.clear();
                $reader.read_records(rows, defs, None, $values)?.0
            }};
        }
        Ok(match (&mut self.reader, &mut self.values) {
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

    /// The next `rows` cells into `ranges` (row `r` at `ranges[r * stride]`), as
    /// [`Pages::fill`].
    fn fill(
        &mut self,
        rows: usize,
        ranges: &mut [Range],
        stride: usize,
        arena: &mut Arena,
        column: &ColumnType,
    ) -> Result<(), (usize, String)> {
        let got = self
            .read(rows, column.max_def)
            .map_err(|e| (0, format!("cannot be read as Parquet: {e}")))?;
        let mut next = 0;
        for r in 0..rows {
            if r == got {
                return Err((r, SHORT.to_string()));
            }
            if column.max_def > 0 && self.defs.get(r) != Some(&column.max_def) {
                ranges[r * stride] = (0, 0);
                continue;
            }
            let value = self
                .values
                .get(next)
                .ok_or_else(|| (r, "has fewer values than its definition levels say".into()))?;
            next += 1;
            ranges[r * stride] = arena.push(value, column.convert).map_err(|m| (r, m))?;
        }
        Ok(())
    }
}

/// Why a column chunk ended before its row group.
const SHORT: &str = "has fewer rows than its row group (the column ends before this row)";

/// What a column is: its place, its conversion, its nesting.
struct ColumnType {
    /// Position in the header (and the schema's leaves).
    index: usize,
    descr: ColumnDescPtr,
    convert: Convert,
    max_def: i16,
}

/// How the current row group's chunk of a column is read.
enum Chunk {
    /// No row group open yet.
    Closed,
    Pages(Pages),
    Values(ValueReader),
}

/// A column the layout reads and its chunk in the current row group.
struct Column {
    of: ColumnType,
    chunk: Chunk,
}

impl Column {
    fn new(index: usize, descr: &ColumnDescPtr) -> Result<Column, String> {
        if descr.max_rep_level() > 0 {
            return Err("is a repeated (list or map) column; expected one value per row".into());
        }
        Ok(Column {
            of: ColumnType {
                index,
                descr: descr.clone(),
                convert: Convert::of(descr)?,
                max_def: descr.max_def_level(),
            },
            chunk: Chunk::Closed,
        })
    }

    /// Open this column's chunk of `group`: page by page when [`parquet_pages::decodes`] its
    /// encodings (and `pages` allows), else through the crate's column reader.
    fn open(
        &mut self,
        group: &dyn RowGroupReader,
        pages: bool,
        arena: &mut Arena,
    ) -> Result<(), String> {
        let parquet =
            |e: ::parquet::errors::ParquetError| format!("cannot be read as Parquet: {e}");
        let physical = self.of.descr.physical_type();
        let index = self.of.index;
        self.chunk = if pages && parquet_pages::decodes(physical, group.metadata().column(index)) {
            let reader = group.get_column_page_reader(index).map_err(parquet)?;
            let length = usize::try_from(self.of.descr.type_length()).unwrap_or(0);
            Chunk::Pages(Pages::open(
                reader,
                physical,
                length,
                self.of.convert,
                self.of.max_def,
                arena,
            )?)
        } else {
            Chunk::Values(ValueReader {
                reader: group.get_column_reader(index).map_err(parquet)?,
                defs: Vec::with_capacity(BATCH_ROWS),
                values: Values::of(physical),
            })
        };
        Ok(())
    }

    fn fill(
        &mut self,
        rows: usize,
        ranges: &mut [Range],
        stride: usize,
        arena: &mut Arena,
    ) -> Result<(), (usize, String)> {
        match &mut self.chunk {
            Chunk::Closed => Err((0, "is read before its row group is open".into())),
            Chunk::Pages(p) => p.fill(rows, ranges, stride, arena),
            Chunk::Values(v) => v.fill(rows, ranges, stride, arena, &self.of),
        }
    }
}

/// A batch, a refusal, or the end of the file (`None`).
type Decoded = Result<Option<Batch>, InputError>;

/// Rows decoded into cell ranges of the decoder's [`Arena`], a batch at a time.
#[derive(Default)]
struct Batch {
    /// Per row, each header column's range in the arena (`width` entries a row; the first
    /// `rows` rows are this batch's, any after them stale).
    ranges: Vec<Range>,
    /// Rows that can be handed out.
    rows: usize,
    /// Why the row after `rows` cannot be read (told when it is reached, so that a bad row
    /// is refused in its turn, after the rows before it).
    error: Option<InputError>,
    /// Compressed bytes of the row groups opened so far.
    bytes_read: u64,
}

/// The file and the columns the layout reads, decoded a batch at a time.
struct Decoder {
    file: PathBuf,
    names: Vec<String>,
    source: SerializedFileReader<File>,
    columns: Vec<Column>,
    /// Whether column chunks may be decoded page by page ([`parquet_pages`]).
    pages: bool,
    arena: Arena,
    /// The next row group to open, and its rows not yet decoded.
    next_group: usize,
    group_rows_left: u64,
    /// Rows decoded before the current batch.
    rows_done: u64,
    bytes_read: u64,
    /// Column chunks opened page by page so far (the tests check which path ran).
    page_chunks: u64,
}

impl Decoder {
    /// A decoder of the columns at `read` (header positions, in order) of `source`.
    fn new(
        path: &Path,
        source: SerializedFileReader<File>,
        names: &[String],
        read: &[usize],
        pages: bool,
    ) -> Result<Decoder, InputError> {
        let schema = source.metadata().file_metadata().schema_descr_ptr();
        let columns = read
            .iter()
            .map(|&i| {
                Column::new(i, &schema.column(i))
                    .map_err(|m| InputError::new(path, m).in_column(i + 1, names[i].clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Decoder {
            file: path.to_path_buf(),
            names: names.to_vec(),
            source,
            columns,
            pages,
            arena: Arena::default(),
            next_group: 0,
            group_rows_left: 0,
            rows_done: 0,
            bytes_read: 0,
            page_chunks: 0,
        })
    }

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
            self.arena.clear();
            let mut refused = None;
            for column in &mut self.columns {
                if let Err(message) = column.open(group.as_ref(), self.pages, &mut self.arena) {
                    refused = Some((column.of.index, message));
                    break;
                }
            }
            drop(group);
            self.page_chunks += self
                .columns
                .iter()
                .filter(|c| matches!(c.chunk, Chunk::Pages(_)))
                .count() as u64;
            if let Some((column, message)) = refused {
                return Err(self.cell_error(self.rows_done + 1, column, message));
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
        let width = self.names.len();
        self.arena.start_batch();
        // Every row of a column read is written below (null as (0, 0)); the columns not read
        // stay (0, 0) from when the buffer grew, so it is not cleared per batch.
        if batch.ranges.len() < want * width {
            batch.ranges.resize(want * width, (0, 0));
        }
        let mut first_bad: Option<(usize, usize, String)> = None;
        for column in &mut self.columns {
            let index = column.of.index;
            let ranges = &mut batch.ranges[index..];
            if let Err((row, message)) = column.fill(want, ranges, width, &mut self.arena) {
                if first_bad.as_ref().is_none_or(|(r, _, _)| row < *r) {
                    first_bad = Some((row, index, message));
                }
            }
        }
        self.group_rows_left -= want as u64;
        batch.rows = want;
        batch.error = None;
        if let Some((row, column, message)) = first_bad {
            batch.rows = row;
            batch.error = Some(self.cell_error(self.rows_done + row as u64 + 1, column, message));
        }
        batch.bytes_read = self.bytes_read;
        self.rows_done += want as u64;
        Ok(Some(batch))
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
        ParquetReader::open_with(path, format, true)
    }

    /// [`ParquetReader::open`], decoding column chunks page by page ([`parquet_pages`]) only
    /// if `pages` (else every chunk goes through the crate's column reader: the tests compare
    /// the two).
    pub(crate) fn open_with(
        path: &Path,
        format: ExportFormat,
        pages: bool,
    ) -> Result<ParquetReader, InputError> {
        let source = open_file(path)?;
        let header = Header::new(header_names(&source));
        let layout = Layout::new(format, &header).map_err(|m| InputError::new(path, m))?;
        layout.log_header(path, format, &header);
        let decoder = Decoder::new(path, source, &header.names, &header.found(), pages)?;
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
            if let Some(e) = self.batch.error.take() {
                self.stopped = true;
                return Some(Err(e));
            }
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
            &self.decoder.arena.text,
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

/// Every cell of every column of a Parquet file as text, row by row (`None` for null), decoded
/// page by page if `pages`; the error that stops reading, if any; and the column chunks
/// decoded page by page.
#[cfg(test)]
pub(crate) fn all_cells(
    path: &Path,
    pages: bool,
) -> (Vec<Vec<Option<String>>>, Option<InputError>, u64) {
    let source = open_file(path).expect("opens");
    let names = header_names(&source);
    let read: Vec<usize> = (0..names.len()).collect();
    let mut decoder = Decoder::new(path, source, &names, &read, pages).expect("a decoder");
    let mut rows = Vec::new();
    let mut batch = Batch::default();
    loop {
        batch = match decoder.fill(batch) {
            Ok(Some(batch)) => batch,
            Ok(None) => return (rows, None, decoder.page_chunks),
            Err(e) => return (rows, Some(e), decoder.page_chunks),
        };
        for r in 0..batch.rows {
            let row = &batch.ranges[r * names.len()..(r + 1) * names.len()];
            rows.push(
                row.iter()
                    .map(|&(start, end)| {
                        (start != end).then(|| decoder.arena.text[start..end].to_string())
                    })
                    .collect(),
            );
        }
        if let Some(e) = batch.error.take() {
            return (rows, Some(e), decoder.page_chunks);
        }
    }
}
