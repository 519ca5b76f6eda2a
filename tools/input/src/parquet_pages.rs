//! One Parquet column chunk decoded page by page, without the `parquet` crate's value
//! readers: its dictionary page is turned into cell text once (each entry converted as
//! [`crate::parquet_cells`] says) and every dictionary-encoded row then points at its entry by
//! index; plain values are converted one by one. Nothing is allocated per row.
//!
//! Decoded here: data pages v1 and v2, `PLAIN` values of every physical type but `BOOLEAN`,
//! `PLAIN_DICTIONARY` / `RLE_DICTIONARY` indices, `RLE` definition levels, no repetition
//! (the reader refuses repeated columns). A chunk using any other encoding ([`decodes`] says)
//! is read through the crate's column reader instead (`parquet.rs`).

use ::parquet::basic::{Encoding, Type as Physical};
use ::parquet::column::page::{Page, PageReader};
use ::parquet::file::metadata::ColumnChunkMetaData;

use crate::parquet_cells::{write_value, Convert, Value};

/// Whether every encoding of `chunk` is one [`Pages`] decodes.
pub(crate) fn decodes(physical: Physical, chunk: &ColumnChunkMetaData) -> bool {
    physical != Physical::BOOLEAN
        && chunk.encodings().all(|e| {
            matches!(
                e,
                Encoding::PLAIN
                    | Encoding::PLAIN_DICTIONARY
                    | Encoding::RLE_DICTIONARY
                    | Encoding::RLE
            )
        })
}

/// Where a cell's text is: a byte range of the arena (empty for null).
pub(crate) type Range = (usize, usize);

/// The text cells are written into: the current row group's dictionaries, then the current
/// batch's other cells (dropped at each batch).
#[derive(Default)]
pub(crate) struct Arena {
    pub text: String,
    /// Bytes of `text` that hold dictionaries (kept across the row group's batches).
    pub dictionaries: usize,
    scratch: Vec<u8>,
}

impl Arena {
    /// Start a row group: no dictionaries, no cells.
    pub fn clear(&mut self) {
        self.text.clear();
        self.dictionaries = 0;
    }

    /// Start a batch: drop the previous batch's cells, keep the dictionaries.
    pub fn start_batch(&mut self) {
        self.text.truncate(self.dictionaries);
    }

    /// Convert `value` into cell text at the end of the arena; its range.
    #[inline]
    pub fn push(&mut self, value: Value<'_>, convert: Convert) -> Result<Range, String> {
        let start = self.text.len();
        if let (Value::Bytes(bytes), Convert::Text) = (value, convert) {
            self.text.push_str(utf8(bytes)?);
        } else {
            self.scratch.clear();
            write_value(&mut self.scratch, value, convert)?;
            self.text.push_str(utf8(&self.scratch)?);
        }
        Ok((start, self.text.len()))
    }
}

/// `bytes` as text, or the reader's words for a cell that is not UTF-8.
#[inline]
fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "is not valid UTF-8 text (invalid byte after {} bytes); exports must be UTF-8",
            e.valid_up_to()
        )
    })
}

/// The pages of one column chunk and the current data page, decoded.
pub(crate) struct Pages {
    pages: Box<dyn PageReader>,
    physical: Physical,
    type_length: usize,
    convert: Convert,
    max_def: i16,
    /// The dictionary's entries as cell text, or why an entry cannot be read (told when a row
    /// uses it).
    dictionary: Vec<Result<Range, String>>,
    /// The current data page's buffer (levels and values), once it is loaded.
    page: Option<Page>,
    /// Its definition levels (empty when the column is required), one per row.
    levels: Vec<u32>,
    /// Its dictionary indices, one per value present, when dictionary-encoded.
    indices: Vec<u32>,
    dictionary_encoded: bool,
    rows_in_page: usize,
    /// Rows of the page handed out.
    row_at: usize,
    /// Values of the page handed out (an index into `indices`).
    value_at: usize,
    /// For plain values: the next value's byte offset in the page.
    value_pos: usize,
    /// The last plain date or timestamp of this batch and its cell (rows repeat them).
    last: Option<(i64, Range)>,
}

impl Pages {
    /// Open a column chunk: decode its dictionary page, if any, into `arena` (to be called for
    /// every column of a row group before the first batch).
    pub fn open(
        mut pages: Box<dyn PageReader>,
        physical: Physical,
        type_length: usize,
        convert: Convert,
        max_def: i16,
        arena: &mut Arena,
    ) -> Result<Pages, String> {
        let first = pages.get_next_page().map_err(|e| e.to_string())?;
        let mut column = Pages {
            pages,
            physical,
            type_length,
            convert,
            max_def,
            dictionary: Vec::new(),
            page: None,
            levels: Vec::new(),
            indices: Vec::new(),
            dictionary_encoded: false,
            rows_in_page: 0,
            row_at: 0,
            value_at: 0,
            value_pos: 0,
            last: None,
        };
        match first {
            Some(Page::DictionaryPage {
                buf, num_values, ..
            }) => {
                let mut pos = 0;
                for _ in 0..num_values {
                    let value = plain_value(&buf, &mut pos, physical, type_length)?;
                    column.dictionary.push(arena.push(value, convert));
                }
                arena.dictionaries = arena.text.len();
            }
            Some(page) => column.load(page)?,
            None => {}
        }
        Ok(column)
    }

    /// Make `page` the current data page: decode its levels and dictionary indices.
    fn load(&mut self, page: Page) -> Result<(), String> {
        let (values_at, encoding, rows) = match &page {
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                ..
            } => {
                let rows = *num_values as usize;
                let mut at = 0;
                if self.max_def > 0 {
                    if *def_level_encoding != Encoding::RLE {
                        return Err(format!(
                            "has definition levels encoded {def_level_encoding}; expected RLE"
                        ));
                    }
                    let length = u32::from_le_bytes(read_array(buf, 0)?) as usize;
                    let levels = buf.get(4..4 + length).ok_or_else(truncated)?;
                    hybrid(levels, bit_width(self.max_def), rows, &mut self.levels)?;
                    at = 4 + length;
                }
                (at, *encoding, rows)
            }
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => {
                let rows = *num_values as usize;
                let start = *rep_levels_byte_len as usize;
                let end = start + *def_levels_byte_len as usize;
                if self.max_def > 0 {
                    let levels = buf.get(start..end).ok_or_else(truncated)?;
                    hybrid(levels, bit_width(self.max_def), rows, &mut self.levels)?;
                }
                (end, *encoding, rows)
            }
            Page::DictionaryPage { .. } => {
                return Err("has a second dictionary page in one column chunk".into())
            }
        };
        if self.max_def == 0 {
            self.levels.clear();
        }
        let present = if self.max_def == 0 {
            rows
        } else {
            let max = self.max_def as u32;
            self.levels.iter().filter(|&&l| l == max).count()
        };
        self.dictionary_encoded = match encoding {
            Encoding::PLAIN => false,
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY => true,
            other => {
                return Err(format!(
                    "has a data page encoded {other}, which is not read"
                ))
            }
        };
        if self.dictionary_encoded {
            let values = page.buffer().get(values_at..).ok_or_else(truncated)?;
            let (&width, indices) = values.split_first().unwrap_or((&0, &[]));
            if width > 32 {
                return Err(format!("has dictionary indices of {width} bits"));
            }
            hybrid(indices, width, present, &mut self.indices)?;
        }
        self.rows_in_page = rows;
        self.row_at = 0;
        self.value_at = 0;
        self.value_pos = values_at;
        self.page = Some(page);
        Ok(())
    }

    /// Load the next data page when the current one is spent; `false` at the end of the chunk.
    fn next_page(&mut self) -> Result<bool, String> {
        while self.page.is_none() || self.row_at == self.rows_in_page {
            match self.pages.get_next_page().map_err(|e| e.to_string())? {
                Some(page) => self.load(page)?,
                None => {
                    self.page = None;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The next `rows` cells into `ranges` (the cell of row `r` at `ranges[r * stride]`).
    /// `Err((row, message))` stops at the first row that cannot be read (rows before it are
    /// written); a chunk shorter than `rows` is `Err` with `row == rows`.
    pub fn fill(
        &mut self,
        rows: usize,
        ranges: &mut [Range],
        stride: usize,
        arena: &mut Arena,
    ) -> Result<(), (usize, String)> {
        self.last = None;
        let mut r = 0;
        while r < rows {
            match self.next_page() {
                Ok(true) => {}
                Ok(false) => {
                    return Err((
                        rows,
                        format!("has {r} rows in this batch where the others have {rows}"),
                    ))
                }
                Err(message) => return Err((r, message)),
            }
            let take = (rows - r).min(self.rows_in_page - self.row_at);
            for _ in 0..take {
                ranges[r * stride] = self.cell(arena).map_err(|m| (r, m))?;
                r += 1;
            }
        }
        Ok(())
    }

    /// The current row's cell.
    #[inline]
    fn cell(&mut self, arena: &mut Arena) -> Result<Range, String> {
        let row = self.row_at;
        self.row_at += 1;
        if self.max_def > 0 && self.levels[row] != self.max_def as u32 {
            return Ok((0, 0));
        }
        if self.dictionary_encoded {
            let index = *self
                .indices
                .get(self.value_at)
                .ok_or("has fewer values than its definition levels say")?;
            self.value_at += 1;
            return match self.dictionary.get(index as usize) {
                Some(Ok(range)) => Ok(*range),
                Some(Err(message)) => Err(message.clone()),
                None => Err(format!(
                    "refers to dictionary entry {index} of {}",
                    self.dictionary.len()
                )),
            };
        }
        let page = self.page.as_ref().expect("a data page is loaded");
        let value = plain_value(
            page.buffer(),
            &mut self.value_pos,
            self.physical,
            self.type_length,
        )?;
        let day_or_time = matches!(self.convert, Convert::Date | Convert::Timestamp { .. });
        let key = match value {
            Value::I32(v) if day_or_time => Some(i64::from(v)),
            Value::I64(v) if day_or_time => Some(v),
            _ => None,
        };
        if let (Some(key), Some((last, range))) = (key, self.last) {
            if key == last {
                return Ok(range);
            }
        }
        let range = arena.push(value, self.convert)?;
        if let Some(key) = key {
            self.last = Some((key, range));
        }
        Ok(range)
    }
}

fn truncated() -> String {
    "has a page shorter than its header says".into()
}

/// Bits of a definition level up to `max`.
fn bit_width(max: i16) -> u8 {
    (16 - (max as u16).leading_zeros()) as u8
}

fn read_array<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], String> {
    buf.get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(truncated)
}

/// The plain-encoded value at `*pos` of `buf`, moving `pos` past it.
#[inline]
fn plain_value<'b>(
    buf: &'b [u8],
    pos: &mut usize,
    physical: Physical,
    type_length: usize,
) -> Result<Value<'b>, String> {
    let at = *pos;
    let (value, size) = match physical {
        Physical::INT32 => (Value::I32(i32::from_le_bytes(read_array(buf, at)?)), 4),
        Physical::INT64 => (Value::I64(i64::from_le_bytes(read_array(buf, at)?)), 8),
        Physical::FLOAT => (Value::F32(f32::from_le_bytes(read_array(buf, at)?)), 4),
        Physical::DOUBLE => (Value::F64(f64::from_le_bytes(read_array(buf, at)?)), 8),
        Physical::INT96 => {
            let b: [u8; 12] = read_array(buf, at)?;
            let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            (Value::I96([word(0), word(4), word(8)]), 12)
        }
        Physical::BYTE_ARRAY => {
            let length = u32::from_le_bytes(read_array(buf, at)?) as usize;
            let bytes = buf.get(at + 4..at + 4 + length).ok_or_else(truncated)?;
            (Value::Bytes(bytes), 4 + length)
        }
        Physical::FIXED_LEN_BYTE_ARRAY => {
            let bytes = buf.get(at..at + type_length).ok_or_else(truncated)?;
            (Value::Bytes(bytes), type_length)
        }
        Physical::BOOLEAN => return Err("is a BOOLEAN column, read elsewhere".into()),
    };
    *pos = at + size;
    Ok(value)
}

/// An unsigned LEB128 integer at `*pos`.
fn uleb128(data: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*pos).ok_or_else(truncated)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("has a run header longer than 64 bits".into())
}

/// Decode `count` values of `width` bits in the RLE / bit-packing hybrid encoding into `out`.
pub(crate) fn hybrid(
    data: &[u8],
    width: u8,
    count: usize,
    out: &mut Vec<u32>,
) -> Result<(), String> {
    out.clear();
    out.reserve(count);
    let width = usize::from(width);
    let mask = if width == 32 {
        u32::MAX
    } else {
        (1u32 << width) - 1
    };
    let mut pos = 0;
    while out.len() < count {
        let header = uleb128(data, &mut pos)?;
        let left = count - out.len();
        if header & 1 == 0 {
            // A run: the value repeated, in ceil(width / 8) little-endian bytes.
            let bytes = width.div_ceil(8);
            let raw = data.get(pos..pos + bytes).ok_or_else(truncated)?;
            pos += bytes;
            let value = raw.iter().rev().fold(0u32, |v, &b| (v << 8) | u32::from(b));
            let run = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            out.extend(std::iter::repeat_n(value, run.min(left)));
        } else {
            // Groups of 8 values bit-packed, least significant bit first.
            let groups = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            let size = groups.saturating_mul(width);
            let packed = data
                .get(pos..pos.saturating_add(size).min(data.len()))
                .ok_or_else(truncated)?;
            pos = pos.saturating_add(size);
            let n = groups.saturating_mul(8).min(left);
            if n * width > packed.len() * 8 {
                return Err(truncated());
            }
            for i in 0..n {
                let bit = i * width;
                let byte = bit / 8;
                let mut word = [0u8; 8];
                let end = (byte + 8).min(packed.len());
                word[..end - byte].copy_from_slice(&packed[byte..end]);
                let value = (u64::from_le_bytes(word) >> (bit % 8)) as u32 & mask;
                out.push(value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_runs_and_bit_packed_groups() {
        let mut out = Vec::new();
        // A run of 5 threes (width 2: one byte), then one group of 8 bit-packed 3-bit values
        // 0..8: 0b10001000 0b11000110 0b11111010.
        let data = [
            5 << 1,
            3,
            (1 << 1) | 1,
            0b1000_1000,
            0b1100_0110,
            0b1111_1010,
        ];
        hybrid(&data, 3, 13, &mut out).unwrap();
        assert_eq!(out, [3, 3, 3, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7]);
        // Fewer values wanted than the last group holds: the padding is ignored.
        hybrid(&data, 3, 7, &mut out).unwrap();
        assert_eq!(out, [3, 3, 3, 3, 3, 0, 1]);
        // Width 0: every value is 0.
        hybrid(&[4 << 1], 0, 4, &mut out).unwrap();
        assert_eq!(out, [0; 4]);
        // A run value of 17 bits takes three bytes.
        hybrid(&[2 << 1, 0x01, 0x00, 0x01], 17, 2, &mut out).unwrap();
        assert_eq!(out, [65_537, 65_537]);
        // Data that ends early is refused, never read past.
        assert!(hybrid(&[(1 << 1) | 1, 0xff], 3, 8, &mut out).is_err());
        assert!(hybrid(&[], 1, 1, &mut out).is_err());
    }

    #[test]
    fn definition_level_widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(2), 2);
        assert_eq!(bit_width(3), 2);
        assert_eq!(bit_width(4), 3);
    }
}
