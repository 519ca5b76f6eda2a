//! The page-by-page Parquet decoder ([`crate::parquet_pages`]) against the `parquet` crate's
//! column reader, cell by cell, over files written with every layout a writer may choose:
//! data pages v1 and v2, dictionary-encoded, plain, a dictionary that overflows into plain
//! pages within a chunk, nulls, several pages, batches and row groups, and every physical type
//! (decimals as INT32, INT64, FIXED_LEN_BYTE_ARRAY and BYTE_ARRAY of other scales, floats,
//! timestamps, dates, INT96, booleans and delta encodings through the crate's reader).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use ::parquet::basic::Compression;
use ::parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FixedLenByteArray,
    FixedLenByteArrayType, FloatType, Int32Type, Int64Type, Int96, Int96Type,
};
use ::parquet::file::properties::{WriterProperties, WriterVersion};
use ::parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use ::parquet::schema::parser::parse_message_type;

use crate::parquet::all_cells;

const SCHEMA: &str = "message schema {
    OPTIONAL BYTE_ARRAY name (UTF8);
    REQUIRED BYTE_ARRAY city (UTF8);
    OPTIONAL INT32 cents (DECIMAL(9,2));
    OPTIONAL INT64 small (DECIMAL(18,4));
    OPTIONAL FIXED_LEN_BYTE_ARRAY (16) cost (DECIMAL(38,10));
    OPTIONAL BYTE_ARRAY var (DECIMAL(20,3));
    OPTIONAL DOUBLE d;
    OPTIONAL FLOAT f;
    OPTIONAL INT64 ts (TIMESTAMP(MILLIS,true));
    OPTIONAL INT32 day (DATE);
    OPTIONAL INT96 old;
    OPTIONAL INT64 n;
    OPTIONAL BOOLEAN flag;
    OPTIONAL FIXED_LEN_BYTE_ARRAY (4) raw;
}";

const ROWS: usize = 10_000;
const NAMES: [&str; 4] = ["Contoso", "Zürich AG", "東京", "Fabrikam"];

/// Definition levels: null every `every` rows (from row 0).
fn defs(every: usize) -> Vec<i16> {
    (0..ROWS).map(|i| i16::from(i % every != 0)).collect()
}

fn column<T: DataType>(
    group: &mut SerializedRowGroupWriter<'_, File>,
    values: &[T::T],
    defs: Option<&[i16]>,
) {
    let mut writer = group.next_column().unwrap().unwrap();
    writer.typed::<T>().write_batch(values, defs, None).unwrap();
    writer.close().unwrap();
}

/// The smallest two's complement big-endian bytes of `v`.
fn minimal_bytes(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut at = 0;
    while at < 15 {
        let (b, next) = (bytes[at], bytes[at + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            at += 1;
        } else {
            break;
        }
    }
    bytes[at..].to_vec()
}

/// Write the test rows to `path` in row groups of `group_rows` rows.
fn write_file(
    path: &Path,
    properties: WriterProperties,
    group_rows: usize,
    name: &dyn Fn(usize) -> Vec<u8>,
) {
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
    let file = File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(properties)).unwrap();
    let every: [usize; 14] = [7, 1, 11, 13, 5, 17, 19, 23, 29, 31, 37, 41, 43, 47];
    let all: Vec<Vec<i16>> = every
        .iter()
        .map(|&e| if e == 1 { vec![1; ROWS] } else { defs(e) })
        .collect();
    for start in (0..ROWS).step_by(group_rows) {
        let end = (start + group_rows).min(ROWS);
        let part = |d: &Vec<i16>| d[start..end].to_vec();
        let rows = |d: &Vec<i16>| (start..end).filter(|&i| d[i] == 1).collect::<Vec<_>>();
        let mut group = writer.next_row_group().unwrap();
        let d = &all;
        column::<ByteArrayType>(
            &mut group,
            &rows(&d[0])
                .iter()
                .map(|&i| ByteArray::from(name(i)))
                .collect::<Vec<_>>(),
            Some(&part(&d[0])),
        );
        column::<ByteArrayType>(
            &mut group,
            &(start..end)
                .map(|i| ByteArray::from(format!("city-{}", i % 50).into_bytes()))
                .collect::<Vec<_>>(),
            None,
        );
        column::<Int32Type>(
            &mut group,
            &rows(&d[2])
                .iter()
                .map(|&i| (i as i32 - 5_000) * 3)
                .collect::<Vec<_>>(),
            Some(&part(&d[2])),
        );
        column::<Int64Type>(
            &mut group,
            &rows(&d[3])
                .iter()
                .map(|&i| i as i64 * 12_345 - 1_000_000)
                .collect::<Vec<_>>(),
            Some(&part(&d[3])),
        );
        column::<FixedLenByteArrayType>(
            &mut group,
            &rows(&d[4])
                .iter()
                .map(|&i| {
                    FixedLenByteArray::from(
                        ((i as i128 - 4_000) * 1_000_000_007).to_be_bytes().to_vec(),
                    )
                })
                .collect::<Vec<_>>(),
            Some(&part(&d[4])),
        );
        column::<ByteArrayType>(
            &mut group,
            &rows(&d[5])
                .iter()
                .map(|&i| ByteArray::from(minimal_bytes(i as i128 * -37_000_001)))
                .collect::<Vec<_>>(),
            Some(&part(&d[5])),
        );
        column::<DoubleType>(
            &mut group,
            &rows(&d[6])
                .iter()
                .map(|&i| i as f64 * 0.1)
                .collect::<Vec<_>>(),
            Some(&part(&d[6])),
        );
        column::<FloatType>(
            &mut group,
            &rows(&d[7])
                .iter()
                .map(|&i| i as f32 / 3.0)
                .collect::<Vec<_>>(),
            Some(&part(&d[7])),
        );
        column::<Int64Type>(
            &mut group,
            &rows(&d[8])
                .iter()
                .map(|&i| {
                    1_726_696_800_000 + (i / 100) as i64 * 86_400_000 + (i % 3) as i64 * 1_000
                })
                .collect::<Vec<_>>(),
            Some(&part(&d[8])),
        );
        column::<Int32Type>(
            &mut group,
            &rows(&d[9])
                .iter()
                .map(|&i| 19_984 + (i / 500) as i32)
                .collect::<Vec<_>>(),
            Some(&part(&d[9])),
        );
        column::<Int96Type>(
            &mut group,
            &rows(&d[10])
                .iter()
                .map(|&i| {
                    let mut v = Int96::new();
                    let nanos = (i % 86_400) as i64 * 1_000_000_000;
                    v.set_data(
                        nanos as u32,
                        (nanos >> 32) as u32,
                        2_460_572 + (i / 1_000) as u32,
                    );
                    v
                })
                .collect::<Vec<_>>(),
            Some(&part(&d[10])),
        );
        column::<Int64Type>(
            &mut group,
            &rows(&d[11]).iter().map(|&i| i as i64).collect::<Vec<_>>(),
            Some(&part(&d[11])),
        );
        column::<BoolType>(
            &mut group,
            &rows(&d[12]).iter().map(|&i| i % 2 == 0).collect::<Vec<_>>(),
            Some(&part(&d[12])),
        );
        column::<FixedLenByteArrayType>(
            &mut group,
            &rows(&d[13])
                .iter()
                .map(|&i| FixedLenByteArray::from(vec![i as u8, 0xab, 0, 0x10]))
                .collect::<Vec<_>>(),
            Some(&part(&d[13])),
        );
        group.close().unwrap();
    }
    writer.close().unwrap();
}

fn properties(version: WriterVersion, dictionary: bool, snappy: bool) -> WriterProperties {
    WriterProperties::builder()
        .set_writer_version(version)
        .set_dictionary_enabled(dictionary)
        // Small dictionary pages: the distinct costs overflow into plain pages mid-chunk.
        .set_dictionary_page_size_limit(2_048)
        .set_data_page_row_count_limit(700)
        .set_write_batch_size(100)
        .set_compression(if snappy {
            Compression::SNAPPY
        } else {
            Compression::UNCOMPRESSED
        })
        .build()
}

fn text_name(i: usize) -> Vec<u8> {
    NAMES[i % NAMES.len()].as_bytes().to_vec()
}

/// The same cells through both decoders; the page-by-page one read `page_chunks` chunks.
fn same_cells_both_ways(path: &Path) -> (Vec<Vec<Option<String>>>, u64) {
    let (pages, error, page_chunks) = all_cells(path, true);
    assert!(error.is_none(), "{error:?}");
    let (values, error, none) = all_cells(path, false);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(none, 0);
    assert_eq!(pages.len(), ROWS);
    for (i, (a, b)) in pages.iter().zip(&values).enumerate() {
        assert_eq!(a, b, "row {}", i + 1);
    }
    (pages, page_chunks)
}

fn cell(rows: &[Vec<Option<String>>], row: usize, column: usize) -> Option<&str> {
    rows[row][column].as_deref()
}

#[test]
fn pages_decode_every_type_and_layout_as_the_column_reader_does() {
    let dir = tempfile::tempdir().unwrap();
    // 14 columns in row groups of 3,000 rows: 4 groups; booleans never go page by page.
    for (name, version, dictionary, snappy, pages_at_least) in [
        (
            "v1-dictionary",
            WriterVersion::PARQUET_1_0,
            true,
            true,
            4 * 13,
        ),
        ("v2-dictionary", WriterVersion::PARQUET_2_0, true, false, 1),
        ("v1-plain", WriterVersion::PARQUET_1_0, false, false, 4 * 13),
        ("v2-plain", WriterVersion::PARQUET_2_0, false, true, 0),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        write_file(
            &path,
            properties(version, dictionary, snappy),
            3_000,
            &text_name,
        );
        let (rows, page_chunks) = same_cells_both_ways(&path);
        assert!(
            page_chunks >= pages_at_least,
            "{name}: {page_chunks} chunks page by page"
        );
        // What each cell must say, computed here from the written values.
        let at = |row: usize, column: usize| cell(&rows, row, column);
        assert_eq!(at(0, 0), None, "{name}: a null string");
        assert_eq!(at(1, 0), Some("Zürich AG"));
        assert_eq!(at(2, 0), Some("東京"));
        assert_eq!(at(9_999, 1), Some("city-49"));
        assert_eq!(at(1, 2), Some("-149.97"), "{name}: INT32 DECIMAL(9,2)");
        assert_eq!(at(0, 2), None);
        assert_eq!(at(1, 3), Some("-98.7655"), "{name}: INT64 DECIMAL(18,4)");
        assert_eq!(at(1, 4), Some("-399.9000027993"), "{name}: DECIMAL(38,10)");
        assert_eq!(at(9_999, 4), Some("599.9000041993"));
        assert_eq!(
            at(3, 5),
            Some("-111000.003"),
            "{name}: BYTE_ARRAY DECIMAL(20,3)"
        );
        assert_eq!(
            at(1, 6),
            Some("0.1"),
            "{name}: DOUBLE by its shortest round trip"
        );
        assert_eq!(at(3, 6), Some("0.30000000000000004"));
        assert_eq!(at(1, 7), Some("0.33333334"), "{name}: FLOAT");
        assert_eq!(
            at(1, 8),
            Some("2024-09-18T22:00:01Z"),
            "{name}: TIMESTAMP(MILLIS)"
        );
        assert_eq!(at(9_999, 8), Some("2024-12-26T22:00:00Z"));
        assert_eq!(at(1, 9), Some("2024-09-18"), "{name}: DATE");
        assert_eq!(at(1, 10), Some("2024-09-18T00:00:01Z"), "{name}: INT96");
        assert_eq!(at(1, 11), Some("1"));
        assert_eq!(at(1, 12), Some("false"));
        assert_eq!(at(1, 13), Some("01ab0010"));
    }
}

#[test]
fn a_text_cell_that_is_not_utf8_is_refused_at_its_row_and_column_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    for (name, dictionary) in [("dictionary", true), ("plain", false)] {
        let path = dir.path().join(format!("{name}.parquet"));
        let bad = |i: usize| {
            if i == 5_000 {
                vec![b'A', 0xff]
            } else {
                text_name(i)
            }
        };
        write_file(
            &path,
            properties(WriterVersion::PARQUET_1_0, dictionary, false),
            3_000,
            &bad,
        );
        let (rows, error, _) = all_cells(&path, true);
        let error = error.expect("refused").to_string();
        assert!(
            error.contains(
                ":5001: column 1 (name): is not valid UTF-8 text (invalid byte after 1 bytes)"
            ),
            "{name}: {error}"
        );
        assert_eq!(rows.len(), 5_000, "{name}: the rows before it are read");
        let (_, before, _) = all_cells(&path, false);
        assert_eq!(before.expect("refused").to_string(), error, "{name}");
    }
}

#[test]
fn minimal_decimal_bytes() {
    assert_eq!(minimal_bytes(0), [0]);
    assert_eq!(minimal_bytes(-1), [0xff]);
    assert_eq!(minimal_bytes(128), [0, 128]);
    assert_eq!(minimal_bytes(-129), [0xff, 0x7f]);
    assert_eq!(
        crate::parquet_cells::be_integer(&minimal_bytes(-37_000_001)),
        Some(-37_000_001)
    );
}
