//! CSV records from a byte stream, fast for the common case.
//!
//! Most charge-line files have no quotes: a record is one line and its fields are the bytes
//! between commas. This reader finds line ends and commas in one pass, eight bytes at a time,
//! over one large reused buffer and hands out field ranges, copying nothing. A line holding a quote or a bare `\r`
//! is parsed by `csv_core` (the parser behind the `csv` crate), so quoted fields, doubled
//! quotes and line breaks inside quotes read exactly as `csv` reads them. Blank lines are
//! skipped, as `csv` does. Line numbers count every `\n` consumed, so they are exact even
//! after blank lines and multi-line fields.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use super::encoding::{read_up_to, Encoding};
use super::error::InputError;

/// The buffer starts at this size and doubles for a record that does not fit.
const INITIAL_BUFFER_BYTES: usize = 1 << 20;
/// The longest record accepted; a longer one is an error, not an allocation.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// One record: its bytes and each field's range within them.
pub struct RawRecord<'a> {
    /// The line (fast path) or the unquoted field bytes (quoted path).
    pub bytes: &'a [u8],
    pub ranges: &'a [(usize, usize)],
    /// 1-based line where the record starts.
    pub line: u64,
    /// Fields were split at commas in `bytes`, so UTF-8 text splits at char boundaries.
    split_at_ascii: bool,
}

impl<'a> RawRecord<'a> {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The record as text, or the first field that is not UTF-8 with the count of its valid
    /// leading bytes.
    pub fn to_text(&self) -> Result<TextRecord<'a>, (usize, usize)> {
        if let Ok(text) = std::str::from_utf8(self.bytes) {
            if self.split_at_ascii
                || self
                    .ranges
                    .iter()
                    .all(|&(start, end)| text.is_char_boundary(start) && text.is_char_boundary(end))
            {
                return Ok(TextRecord {
                    text,
                    ranges: self.ranges,
                    line: self.line,
                });
            }
        }
        for (i, &(start, end)) in self.ranges.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(&self.bytes[start..end]) {
                return Err((i, e.valid_up_to()));
            }
        }
        Err((0, 0))
    }
}

/// A record known to be UTF-8.
pub struct TextRecord<'a> {
    text: &'a str,
    ranges: &'a [(usize, usize)],
    pub line: u64,
}

impl<'a> TextRecord<'a> {
    /// A record of `text` cut at `ranges` (byte ranges on char boundaries), starting on `line`
    /// (for a columnar file, its row).
    pub(crate) fn new(text: &'a str, ranges: &'a [(usize, usize)], line: u64) -> TextRecord<'a> {
        TextRecord { text, ranges, line }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Field `i`, or `""` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> &'a str {
        match self.ranges.get(i) {
            Some(&(start, end)) => &self.text[start..end],
            None => "",
        }
    }
}

/// Reads CSV records from `source`.
pub struct RecordReader<R> {
    source: R,
    buffer: Vec<u8>,
    /// Unconsumed bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
    /// File offset of `buffer[0]`.
    buffer_offset: u64,
    eof: bool,
    /// The line of `buffer[start]`.
    line: u64,
    /// Where the current record's bytes are: in `buffer` (fast path) or `quoted`.
    record_start: usize,
    record_end: usize,
    record_quoted: bool,
    record_line: u64,
    ranges: Vec<(usize, usize)>,
    core: csv_core::Reader,
    quoted: Vec<u8>,
    quoted_ends: Vec<usize>,
}

impl<R: Read> RecordReader<R> {
    pub fn new(source: R) -> RecordReader<R> {
        RecordReader::with_capacity(source, INITIAL_BUFFER_BYTES)
    }

    /// A reader whose buffer starts at `capacity` bytes (small ones test the refill paths).
    pub fn with_capacity(source: R, capacity: usize) -> RecordReader<R> {
        RecordReader {
            source,
            buffer: vec![0; capacity.max(1)],
            start: 0,
            end: 0,
            buffer_offset: 0,
            eof: false,
            line: 1,
            record_start: 0,
            record_end: 0,
            record_quoted: false,
            record_line: 0,
            ranges: Vec::with_capacity(32),
            core: csv_core::Reader::new(),
            quoted: vec![0; 256],
            quoted_ends: vec![0; 32],
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.buffer_offset + self.start as u64
    }

    /// The line the next record would start on (or the line of a read failure).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The record read by the last successful [`RecordReader::advance`].
    pub fn record(&self) -> RawRecord<'_> {
        let bytes = if self.record_quoted {
            &self.quoted[self.record_start..self.record_end]
        } else {
            &self.buffer[self.record_start..self.record_end]
        };
        RawRecord {
            bytes,
            ranges: &self.ranges,
            line: self.record_line,
            split_at_ascii: !self.record_quoted,
        }
    }

    /// Read the next record; `false` at the end of the input.
    pub fn advance(&mut self) -> io::Result<bool> {
        loop {
            let unread = &self.buffer[self.start..self.end];
            if unread.is_empty() && self.eof {
                return Ok(false);
            }
            match scan_line(unread, self.eof, &mut self.ranges) {
                Scan::Incomplete => self.refill()?,
                Scan::Special => return self.quoted_record(),
                Scan::Blank { next } => {
                    self.line += u64::from(unread[..next].ends_with(b"\n"));
                    self.start += next;
                }
                Scan::Plain { content_end, next } => {
                    self.line += u64::from(unread[..next].ends_with(b"\n"));
                    self.record_start = self.start;
                    self.record_end = self.start + content_end;
                    self.record_quoted = false;
                    self.record_line = self.line - u64::from(unread[..next].ends_with(b"\n"));
                    self.start += next;
                    return Ok(true);
                }
            }
        }
    }

    /// The record at `start` has quotes or a bare `\r`: let csv_core read it.
    fn quoted_record(&mut self) -> io::Result<bool> {
        use csv_core::ReadRecordResult;
        let (mut fed, mut out_len, mut ends_len) = (0usize, 0usize, 0usize);
        loop {
            let input = &self.buffer[self.start + fed..self.end];
            let (result, read, written, ends) = self.core.read_record(
                input,
                &mut self.quoted[out_len..],
                &mut self.quoted_ends[ends_len..],
            );
            fed += read;
            out_len += written;
            ends_len += ends;
            match result {
                ReadRecordResult::InputEmpty => {
                    if !self.eof {
                        // refill moves `start` to 0; `fed` stays relative to it.
                        self.refill()?;
                    }
                }
                ReadRecordResult::OutputFull => {
                    let len = self.quoted.len() * 2;
                    self.quoted.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.quoted_ends.len() * 2;
                    self.quoted_ends.resize(len, 0);
                }
                ReadRecordResult::Record | ReadRecordResult::End => {
                    let consumed = &self.buffer[self.start..self.start + fed];
                    let newlines = consumed.iter().filter(|&&b| b == b'\n').count() as u64;
                    let leading_blank = consumed
                        .iter()
                        .take_while(|&&b| b == b'\n' || b == b'\r')
                        .filter(|&&b| b == b'\n')
                        .count() as u64;
                    self.record_line = self.line + leading_blank;
                    self.line += newlines;
                    self.start += fed;
                    if matches!(result, ReadRecordResult::End) {
                        return Ok(false);
                    }
                    self.ranges.clear();
                    let mut field_start = 0;
                    for &end in &self.quoted_ends[..ends_len] {
                        self.ranges.push((field_start, end));
                        field_start = end;
                    }
                    self.record_start = 0;
                    self.record_end = out_len;
                    self.record_quoted = true;
                    return Ok(true);
                }
            }
        }
    }

    /// Move the unread bytes to the front and read more; grow the buffer if it is full.
    fn refill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.buffer_offset += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            if self.buffer.len() >= MAX_RECORD_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a record is longer than {} MiB (is the file CSV?)",
                        MAX_RECORD_BYTES >> 20
                    ),
                ));
            }
            let len = (self.buffer.len() * 2).min(MAX_RECORD_BYTES);
            self.buffer.resize(len, 0);
        }
        loop {
            match self.source.read(&mut self.buffer[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// What [`scan_line`] found at the start of the unread bytes.
enum Scan {
    /// A line without quotes or bare `\r`: fields are in the ranges, relative to the line.
    Plain { content_end: usize, next: usize },
    /// An empty line (or `\r` alone before its `\n`).
    Blank { next: usize },
    /// The line has a quote or a bare `\r`: csv_core must read it.
    Special,
    /// No line end yet and more input may come.
    Incomplete,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that equals `byte` (exact: no carries across bytes).
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * byte as u64);
    !(((x & LOW7) + LOW7) | x) & HIGH
}

/// Find the first line of `bytes`, its commas, and whether it needs the quoted path, in one
/// pass of eight bytes at a time.
#[inline]
fn scan_line(bytes: &[u8], at_eof: bool, ranges: &mut Vec<(usize, usize)>) -> Scan {
    ranges.clear();
    let mut field_start = 0;
    let mut saw_cr = false;
    let mut i = 0;
    let line_end = loop {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let newlines = bytes_equal(word, b'\n');
            // Bits of the bytes before the first newline of this word (all when none).
            let before = if newlines == 0 {
                u64::MAX
            } else {
                (1u64 << newlines.trailing_zeros()) - 1
            };
            if bytes_equal(word, b'"') & before != 0 {
                return Scan::Special;
            }
            saw_cr |= bytes_equal(word, b'\r') & before != 0;
            let mut commas = bytes_equal(word, b',') & before;
            while commas != 0 {
                let at = i + (commas.trailing_zeros() / 8) as usize;
                ranges.push((field_start, at));
                field_start = at + 1;
                commas &= commas - 1;
            }
            if newlines != 0 {
                break i + (newlines.trailing_zeros() / 8) as usize;
            }
            i += 8;
        } else {
            let tail = &bytes[i..];
            let found = tail.iter().position(|&b| b == b'\n');
            let line_tail = &tail[..found.unwrap_or(tail.len())];
            if found.is_none() && !at_eof {
                return Scan::Incomplete;
            }
            for (j, &b) in line_tail.iter().enumerate() {
                match b {
                    b'"' => return Scan::Special,
                    b'\r' => saw_cr = true,
                    b',' => {
                        ranges.push((field_start, i + j));
                        field_start = i + j + 1;
                    }
                    _ => {}
                }
            }
            break i + line_tail.len();
        }
    };
    let next = if line_end < bytes.len() {
        line_end + 1
    } else {
        line_end
    };
    let mut content_end = line_end;
    if saw_cr {
        if content_end > 0 && bytes[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        if bytes[..content_end].contains(&b'\r') {
            return Scan::Special;
        }
    }
    if content_end == 0 {
        return Scan::Blank { next };
    }
    // Every comma is before content_end: what was cut off is one `\r`.
    ranges.push((field_start, content_end));
    Scan::Plain { content_end, next }
}

/// The UTF-8 byte order mark some exports start with.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// What a CSV reader reads: the file's bytes, or its gzip stream decompressed.
pub(crate) type TextSource = Box<dyn Read + Send>;

/// A charge file opened for reading as text.
pub(crate) struct Opened {
    /// The text after any UTF-8 BOM.
    pub(crate) source: TextSource,
    /// How many bytes the BOM took (0 or 3), for progress and byte offsets.
    pub(crate) bom_bytes: u64,
    /// For a gzip file: the compressed bytes read so far (progress is in file bytes).
    pub(crate) compressed: Option<Arc<AtomicU64>>,
}

impl Opened {
    /// Bytes of the file consumed, given the text position a reader reached.
    pub(crate) fn file_position(compressed: &Option<Arc<AtomicU64>>, text_position: u64) -> u64 {
        match compressed {
            Some(read) => read.load(Ordering::Relaxed),
            None => text_position,
        }
    }
}

/// Open a CSV file, plain or gzip-compressed (told by its magic bytes, whatever its name),
/// positioned after its UTF-8 BOM, if it has one. A Parquet file is refused here: Parquet
/// parts are read by [`crate::parquet`], never as text.
pub(crate) fn open_skipping_bom(path: &Path) -> Result<Opened, InputError> {
    let cannot_read = |e: &io::Error| InputError::io(path, "cannot read", e);
    let mut file = File::open(path).map_err(|e| cannot_read(&e))?;
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut file, &mut magic).map_err(|e| cannot_read(&e))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| cannot_read(&e))?;
    let (mut source, compressed): (TextSource, _) = match Encoding::of_magic(&magic[..got]) {
        Encoding::Csv => (Box::new(file), None),
        Encoding::GzipCsv => {
            let read = Arc::new(AtomicU64::new(0));
            let counted = Counted {
                inner: file,
                read: Arc::clone(&read),
            };
            let gunzip = Gunzip(MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                counted,
            )));
            (Box::new(gunzip), Some(read))
        }
        Encoding::Parquet => {
            return Err(InputError::new(
                path,
                "is a Parquet file (magic bytes PAR1) where a CSV text file is expected",
            ))
        }
    };
    let mut first = [0u8; 3];
    let got = read_up_to(&mut source, &mut first).map_err(|e| cannot_read(&e))?;
    if got == 3 && &first == BOM {
        return Ok(Opened {
            source,
            bom_bytes: 3,
            compressed,
        });
    }
    let source: TextSource = Box::new(io::Cursor::new(first[..got].to_vec()).chain(source));
    Ok(Opened {
        source,
        bom_bytes: 0,
        compressed,
    })
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A gzip stream decompressed; its errors say that the compressed data is at fault.
struct Gunzip<R: io::BufRead>(MultiGzDecoder<R>);

impl<R: io::BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the gzip data does not decompress (corrupt or cut short): {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every record's fields and line, read with a buffer of `capacity` bytes.
    fn records(input: &[u8], capacity: usize) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut reader = RecordReader::with_capacity(input, capacity);
        let mut out = Vec::new();
        while reader.advance().unwrap() {
            let r = reader.record();
            out.push((
                r.ranges
                    .iter()
                    .map(|&(s, e)| r.bytes[s..e].to_vec())
                    .collect(),
                r.line,
            ));
        }
        assert_eq!(reader.position(), input.len() as u64);
        out
    }

    /// What the csv crate reads from the same bytes.
    fn csv_records(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        reader
            .byte_records()
            .map(|r| r.unwrap().iter().map(|f| f.to_vec()).collect())
            .collect()
    }

    fn fields(records: &[(Vec<Vec<u8>>, u64)]) -> Vec<Vec<Vec<u8>>> {
        records.iter().map(|(f, _)| f.clone()).collect()
    }

    #[test]
    fn lines_quotes_and_blank_lines() {
        let input = b"a,b\r\n\n\"x,\"\"y\"\"\nz\",2\n,\nlast";
        let got = records(input, 1 << 20);
        assert_eq!(
            got,
            vec![
                (vec![b"a".to_vec(), b"b".to_vec()], 1),
                (vec![b"x,\"y\"\nz".to_vec(), b"2".to_vec()], 3),
                (vec![b"".to_vec(), b"".to_vec()], 5),
                (vec![b"last".to_vec()], 6),
            ]
        );
        assert_eq!(fields(&got), csv_records(input));
        assert_eq!(records(input, 3), got);
    }

    #[test]
    fn too_long_records_are_an_error() {
        let input = vec![b'a'; MAX_RECORD_BYTES + 1];
        let mut reader = RecordReader::with_capacity(&input[..], 1 << 20);
        let e = reader.advance().unwrap_err();
        assert!(e.to_string().contains("longer than 64 MiB"), "{e}");
    }

    proptest! {
        /// The fast path and the quoted path together read what the csv crate reads, with any
        /// buffer size; line numbers are where each record starts.
        #[test]
        fn reads_what_csv_reads(input in proptest::collection::vec(prop_oneof![
            Just(b'a'), Just(b'b'), Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(0xC3), Just(0xA9)
        ], 0..200), capacity in 1usize..64) {
            let got = records(&input, capacity);
            prop_assert_eq!(fields(&got), csv_records(&input));
            prop_assert_eq!(&records(&input, 1 << 20), &got);
            for (record, line) in &got {
                // A record starts after line - 1 newlines.
                let _ = record;
                prop_assert!(*line >= 1);
            }
        }

        /// Long lines with rare specials: the eight-byte scan over word boundaries.
        #[test]
        fn long_lines_read_what_csv_reads(input in proptest::collection::vec(prop_oneof![
            20 => Just(b'a'), 8 => Just(b','), 2 => Just(b'\n'), 1 => Just(b'"'), 1 => Just(b'\r'), 1 => Just(0xE2), 1 => Just(0x82)
        ], 0..600), capacity in prop_oneof![Just(1usize), Just(9), Just(64), Just(1 << 20)]) {
            let got = records(&input, capacity);
            prop_assert_eq!(fields(&got), csv_records(&input));
        }

        /// On unquoted text, a record's line is 1 + the newlines before it.
        #[test]
        fn lines_are_exact_without_quotes(input in proptest::collection::vec(prop_oneof![
            Just(b'a'), Just(b','), Just(b'\n')
        ], 0..200)) {
            let got = records(&input, 7);
            let mut expected = Vec::new();
            for (i, text) in input.split(|&b| b == b'\n').enumerate() {
                if !text.is_empty() {
                    expected.push((text.split(|&b| b == b',').map(|f| f.to_vec()).collect::<Vec<_>>(), i as u64 + 1));
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
