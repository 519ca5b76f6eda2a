//! Charge exports written as Parquet, the way Azure Cost Management's Parquet exports hold
//! them, from the same rows as a CSV export: for the tests (a Parquet export must settle
//! byte-identically to its CSV) and the ingest benchmark.
//!
//! Every column is optional (an empty CSV cell is null). Text columns are UTF-8 strings,
//! dictionary-encoded; the cost columns are `DOUBLE` or `DECIMAL(38, scale)` (16-byte fixed
//! length); the date columns are timestamps (`INT64` millis adjusted to UTC, `INT64` micros
//! not adjusted, legacy `INT96`) or `DATE`. Row groups hold at most `row_group_rows` rows.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

/// How cost columns are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostType {
    /// `DOUBLE`.
    Double,
    /// `DECIMAL(38, scale)` in a 16-byte fixed-length array.
    Decimal { scale: u32 },
}

/// How date columns are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeType {
    /// `INT64` `TIMESTAMP(MILLIS, adjusted to UTC)`.
    MillisUtc,
    /// `INT64` `TIMESTAMP(MICROS, not adjusted)`.
    MicrosLocal,
    /// Legacy `INT96` (nanoseconds of the day, Julian day).
    Int96,
    /// `INT32` `DATE` (the time of day is dropped).
    Date,
}

/// How to write a CSV export as Parquet.
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    pub snappy: bool,
    pub costs: CostType,
    pub times: TimeType,
    pub row_group_rows: usize,
    /// Columns holding amounts (matched ignoring ASCII case).
    pub cost_columns: Vec<String>,
    /// Columns holding dates or date-times.
    pub time_columns: Vec<String>,
}

/// How `ledger gen --format focus-parquet` writes its FOCUS rows: snappy, the cost columns
/// `DECIMAL(38, 10)`, the period columns UTC millisecond timestamps, row groups of 1M rows.
pub fn focus_export_options() -> ParquetOptions {
    ParquetOptions {
        snappy: true,
        costs: CostType::Decimal { scale: 10 },
        times: TimeType::MillisUtc,
        row_group_rows: 1 << 20,
        cost_columns: vec!["BilledCost".into(), "EffectiveCost".into()],
        time_columns: [
            "BillingPeriodStart",
            "BillingPeriodEnd",
            "ChargePeriodStart",
            "ChargePeriodEnd",
        ]
        .map(String::from)
        .to_vec(),
    }
}

/// One column's values in the current row group.
enum Buffer {
    Text(Vec<ByteArray>),
    Double(Vec<f64>),
    Decimal(Vec<FixedLenByteArray>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    I32(Vec<i32>),
}

struct Column {
    name: String,
    defs: Vec<i16>,
    values: Buffer,
}

/// Write the CSV export `csv` (a BOM is skipped) as the Parquet file `out`; the rows written.
pub fn csv_to_parquet(csv: &Path, out: &Path, o: &ParquetOptions) -> Result<u64, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(csv)
        .map_err(|e| format!("{}: {e}", csv.display()))?;
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", csv.display()))?
        .iter()
        .map(|n| n.trim_start_matches('\u{feff}').to_string())
        .collect();
    let is = |list: &[String], name: &str| list.iter().any(|c| c.eq_ignore_ascii_case(name));
    let mut columns: Vec<Column> = names
        .iter()
        .map(|name| Column {
            name: name.clone(),
            defs: Vec::new(),
            values: if is(&o.cost_columns, name) {
                match o.costs {
                    CostType::Double => Buffer::Double(Vec::new()),
                    CostType::Decimal { .. } => Buffer::Decimal(Vec::new()),
                }
            } else if is(&o.time_columns, name) {
                match o.times {
                    TimeType::MillisUtc | TimeType::MicrosLocal => Buffer::I64(Vec::new()),
                    TimeType::Int96 => Buffer::I96(Vec::new()),
                    TimeType::Date => Buffer::I32(Vec::new()),
                }
            } else {
                Buffer::Text(Vec::new())
            },
        })
        .collect();
    let schema = Arc::new(schema(&columns, o)?);
    let properties = WriterProperties::builder()
        .set_compression(if o.snappy {
            Compression::SNAPPY
        } else {
            Compression::UNCOMPRESSED
        })
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(o.row_group_rows.max(1)))
        .build();
    let file = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut writer = SerializedFileWriter::new(BufWriter::new(file), schema, Arc::new(properties))
        .map_err(|e| e.to_string())?;
    let (mut rows, mut in_group) = (0u64, 0usize);
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| format!("{}: {e}", csv.display()))?
    {
        for (column, cell) in columns.iter_mut().zip(record.iter()) {
            push(column, cell, o).map_err(|e| format!("row {}: {}: {e}", rows + 1, column.name))?;
        }
        rows += 1;
        in_group += 1;
        if in_group == o.row_group_rows.max(1) {
            write_group(&mut writer, &mut columns)?;
            in_group = 0;
        }
    }
    if in_group > 0 {
        write_group(&mut writer, &mut columns)?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(rows)
}

fn schema(columns: &[Column], o: &ParquetOptions) -> Result<Type, String> {
    let fields = columns
        .iter()
        .map(|c| {
            let builder = match &c.values {
                Buffer::Text(_) => Type::primitive_type_builder(&c.name, Physical::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String)),
                Buffer::Double(_) => Type::primitive_type_builder(&c.name, Physical::DOUBLE),
                Buffer::Decimal(_) => {
                    let scale = match o.costs {
                        CostType::Decimal { scale } => scale as i32,
                        CostType::Double => 0,
                    };
                    Type::primitive_type_builder(&c.name, Physical::FIXED_LEN_BYTE_ARRAY)
                        .with_length(16)
                        .with_precision(38)
                        .with_scale(scale)
                        .with_logical_type(Some(LogicalType::decimal(scale, 38)))
                }
                Buffer::I64(_) => {
                    let (utc, unit) = match o.times {
                        TimeType::MillisUtc => (true, TimeUnit::MILLIS),
                        _ => (false, TimeUnit::MICROS),
                    };
                    Type::primitive_type_builder(&c.name, Physical::INT64)
                        .with_logical_type(Some(LogicalType::timestamp(utc, unit)))
                }
                Buffer::I96(_) => Type::primitive_type_builder(&c.name, Physical::INT96),
                Buffer::I32(_) => Type::primitive_type_builder(&c.name, Physical::INT32)
                    .with_logical_type(Some(LogicalType::Date)),
            };
            builder
                .with_repetition(Repetition::OPTIONAL)
                .build()
                .map(Arc::new)
                .map_err(|e| format!("{}: {e}", c.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map_err(|e| e.to_string())
}

/// Add one cell to its column: empty is null; text columns keep `NULL` as text.
fn push(column: &mut Column, cell: &str, o: &ParquetOptions) -> Result<(), String> {
    let null = cell.trim().is_empty()
        || (!matches!(column.values, Buffer::Text(_)) && cell.trim().eq_ignore_ascii_case("null"));
    if null {
        column.defs.push(0);
        return Ok(());
    }
    column.defs.push(1);
    let cell = cell.trim();
    match &mut column.values {
        Buffer::Text(v) => v.push(ByteArray::from(cell.as_bytes().to_vec())),
        Buffer::Double(v) => v.push(cell.parse::<f64>().map_err(|e| format!("{cell}: {e}"))?),
        Buffer::Decimal(v) => {
            let scale = match o.costs {
                CostType::Decimal { scale } => scale,
                CostType::Double => 0,
            };
            let unscaled = scaled(cell, scale)
                .ok_or_else(|| format!("{cell} is not a decimal of scale {scale}"))?;
            v.push(FixedLenByteArray::from(unscaled.to_be_bytes().to_vec()));
        }
        Buffer::I64(v) => {
            let seconds = seconds(cell).ok_or_else(|| format!("{cell} is not a date"))?;
            v.push(match o.times {
                TimeType::MillisUtc => seconds * 1_000,
                _ => seconds * 1_000_000,
            });
        }
        Buffer::I96(v) => {
            let seconds = seconds(cell).ok_or_else(|| format!("{cell} is not a date"))?;
            let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
            let nanos = of_day * 1_000_000_000;
            let mut value = Int96::new();
            value.set_data(
                nanos as u32,
                (nanos >> 32) as u32,
                (days + 2_440_588) as u32,
            );
            v.push(value);
        }
        Buffer::I32(v) => {
            let seconds = seconds(cell).ok_or_else(|| format!("{cell} is not a date"))?;
            v.push(seconds.div_euclid(86_400) as i32);
        }
    }
    Ok(())
}

/// `-1.5E-05` as an integer count of `10^-scale`; `None` if it does not fit exactly.
pub fn scaled(text: &str, scale: u32) -> Option<i128> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut units: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        units = units.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    // units × 10^(exponent − fraction digits), expressed in 10^-scale.
    let shift = exponent - fraction.len() as i32 + scale as i32;
    if shift >= 0 {
        units = units.checked_mul(10i128.checked_pow(shift as u32)?)?;
    } else {
        let divisor = 10i128.checked_pow((-shift) as u32)?;
        if units % divisor != 0 {
            return None;
        }
        units /= divisor;
    }
    Some(if negative { -units } else { units })
}

/// Seconds since 1970-01-01 of `YYYY-MM-DD[( |T)HH:MM[:SS]][Z]` or `M/D/YYYY`.
fn seconds(text: &str) -> Option<i64> {
    let (date, time) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], text[i + 1..].trim_end_matches('Z')),
        None => (text, ""),
    };
    let (y, m, d) = if date.contains('/') {
        let mut p = date.split('/');
        let (m, d, y) = (p.next()?, p.next()?, p.next()?);
        (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    } else {
        let mut p = date.split('-');
        (
            p.next()?.parse().ok()?,
            p.next()?.parse().ok()?,
            p.next()?.parse().ok()?,
        )
    };
    let mut of_day = 0i64;
    if !time.is_empty() {
        let mut p = time.split(':');
        let h: i64 = p.next()?.parse().ok()?;
        let min: i64 = p.next()?.parse().ok()?;
        let s: i64 = p.next().map_or(Some(0), |s| s.parse().ok())?;
        of_day = h * 3_600 + min * 60 + s;
    }
    Some(days_from_civil(y, m, d) * 86_400 + of_day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn write_group(
    writer: &mut SerializedFileWriter<BufWriter<File>>,
    columns: &mut [Column],
) -> Result<(), String> {
    let mut group = writer.next_row_group().map_err(|e| e.to_string())?;
    for column in columns.iter_mut() {
        let mut out = group
            .next_column()
            .map_err(|e| e.to_string())?
            .ok_or("the schema has fewer columns than the rows")?;
        let defs = Some(column.defs.as_slice());
        let written = match (out.untyped(), &column.values) {
            (ColumnWriter::ByteArrayColumnWriter(w), Buffer::Text(v)) => {
                w.write_batch(v, defs, None)
            }
            (ColumnWriter::DoubleColumnWriter(w), Buffer::Double(v)) => {
                w.write_batch(v, defs, None)
            }
            (ColumnWriter::FixedLenByteArrayColumnWriter(w), Buffer::Decimal(v)) => {
                w.write_batch(v, defs, None)
            }
            (ColumnWriter::Int64ColumnWriter(w), Buffer::I64(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::Int96ColumnWriter(w), Buffer::I96(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::Int32ColumnWriter(w), Buffer::I32(v)) => w.write_batch(v, defs, None),
            _ => return Err(format!("{}: writer and buffer disagree", column.name)),
        };
        written.map_err(|e| format!("{}: {e}", column.name))?;
        out.close().map_err(|e| e.to_string())?;
        column.defs.clear();
        match &mut column.values {
            Buffer::Text(v) => v.clear(),
            Buffer::Double(v) => v.clear(),
            Buffer::Decimal(v) => v.clear(),
            Buffer::I64(v) => v.clear(),
            Buffer::I96(v) => v.clear(),
            Buffer::I32(v) => v.clear(),
        }
    }
    group.close().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_decimals_and_dates() {
        assert_eq!(scaled("1.5E-05", 6), Some(15));
        assert_eq!(scaled("-0.25", 2), Some(-25));
        assert_eq!(scaled("0.125", 2), None);
        assert_eq!(seconds("1970-01-02"), Some(86_400));
        assert_eq!(seconds("09/01/2023"), seconds("2023-09-01"));
        assert_eq!(
            seconds("2024-09-18 22:00:00"),
            seconds("2024-09-18T22:00:00Z")
        );
        assert_eq!(days_from_civil(2024, 9, 18), 19_984);
    }
}
