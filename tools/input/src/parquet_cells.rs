//! One Parquet value to the text a CSV export would hold in its cell, so that Parquet rows go
//! through the same FOCUS and Azure readers (`focus::row`, `azure::row`) as CSV rows.
//!
//! - Strings (`BYTE_ARRAY`, plain or dictionary-encoded): the UTF-8 text itself; other bytes
//!   are refused naming the row and column.
//! - Decimals (`INT32`, `INT64`, `BYTE_ARRAY`, `FIXED_LEN_BYTE_ARRAY` annotated `DECIMAL`):
//!   the exact unscaled integer with its scale (`-12345` scale 4 → `-1.2345`).
//! - `FLOAT` / `DOUBLE`: the shortest decimal that reads back as the same floating-point
//!   number (Rust's `{}` display: `0.1f64` → `0.1`, never `0.1000000000000000055…`), converted
//!   to exact money at once by the reader.
//! - Timestamps (`INT64` millis, micros or nanos, with or without UTC adjustment; legacy
//!   `INT96`): `YYYY-MM-DDTHH:MM:SS[.f]`, with `Z` when adjusted to UTC; the date is the date
//!   as stored (no time-zone shift), as for CSV.
//! - Dates (`INT32` `DATE`): `YYYY-MM-DD`.
//! - Integers and booleans: as written; other bytes: lowercase hex.

use std::io::Write as _;

use ::parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use ::parquet::schema::types::ColumnDescriptor;

/// How one column's values become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Convert {
    /// UTF-8 bytes.
    Text,
    /// An unscaled integer and its scale.
    Decimal { scale: u32 },
    /// Days since 1970-01-01.
    Date,
    /// Units since 1970-01-01T00:00:00, per second.
    Timestamp { per_second: i64, utc: bool },
    /// Legacy INT96: nanoseconds of the day and a Julian day.
    Int96,
    /// A number or boolean as Rust displays it (floats: shortest round-trip).
    Plain,
    /// Bytes without a text meaning: lowercase hex.
    Hex,
}

impl Convert {
    /// The conversion a column's type calls for; `Err` names a type the ledger cannot read.
    pub(crate) fn of(column: &ColumnDescriptor) -> Result<Convert, String> {
        let physical = column.physical_type();
        let decimal = || -> Result<Convert, String> {
            let scale = u32::try_from(column.type_scale())
                .map_err(|_| format!("has a negative decimal scale {}", column.type_scale()))?;
            Ok(Convert::Decimal { scale })
        };
        let timestamp = |unit: &TimeUnit, utc: bool| Convert::Timestamp {
            per_second: match unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                _ => 1_000_000_000,
            },
            utc,
        };
        let by_logical = match column.logical_type_ref() {
            Some(LogicalType::Decimal(_)) => Some(decimal()?),
            Some(LogicalType::Date) => Some(Convert::Date),
            Some(LogicalType::Timestamp(t)) if physical == Physical::INT64 => {
                Some(timestamp(&t.unit, t.is_adjusted_to_u_t_c))
            }
            Some(LogicalType::String | LogicalType::Enum | LogicalType::Json) => {
                Some(Convert::Text)
            }
            _ => None,
        };
        if let Some(convert) = by_logical {
            return Ok(convert);
        }
        Ok(match (physical, column.converted_type()) {
            (_, ConvertedType::DECIMAL) => decimal()?,
            (Physical::INT32, ConvertedType::DATE) => Convert::Date,
            (Physical::INT64, ConvertedType::TIMESTAMP_MILLIS) => Convert::Timestamp {
                per_second: 1_000,
                utc: true,
            },
            (Physical::INT64, ConvertedType::TIMESTAMP_MICROS) => Convert::Timestamp {
                per_second: 1_000_000,
                utc: true,
            },
            (Physical::INT96, _) => Convert::Int96,
            (Physical::BYTE_ARRAY, _) => Convert::Text,
            (Physical::FIXED_LEN_BYTE_ARRAY, _) => Convert::Hex,
            _ => Convert::Plain,
        })
    }
}

/// One typed value of a column, as a page holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Bool(bool),
    I32(i32),
    I64(i64),
    /// Legacy INT96: its three little-endian words.
    I96([u32; 3]),
    F32(f32),
    F64(f64),
    /// `BYTE_ARRAY` and `FIXED_LEN_BYTE_ARRAY`.
    Bytes(&'a [u8]),
}

/// Append `value`'s cell text to `out` by `convert`; `Err` says why the value cannot be read.
/// Text bytes are copied as they are (the caller checks they are UTF-8); everything else is
/// ASCII.
pub(crate) fn write_value(
    out: &mut Vec<u8>,
    value: Value<'_>,
    convert: Convert,
) -> Result<(), String> {
    match value {
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::I32(v) => write_integer(out, i64::from(v), convert)?,
        Value::I64(v) => write_integer(out, v, convert)?,
        Value::I96(words) => {
            if !write_int96(out, words) {
                return Err("is an INT96 timestamp outside the calendar".into());
            }
        }
        // The shortest decimal that reads back as the same number (NaN and infinities are
        // written as they are; the amount parser refuses them naming the cell).
        Value::F32(v) => {
            let _ = write!(out, "{v}");
        }
        Value::F64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Bytes(bytes) => write_bytes(out, bytes, convert)?,
    }
    Ok(())
}

/// An INT32 or INT64 by its conversion: a decimal, a date, a timestamp or the number.
fn write_integer(out: &mut Vec<u8>, value: i64, convert: Convert) -> Result<(), String> {
    let ok = match convert {
        Convert::Decimal { scale } => {
            write_decimal(out, i128::from(value), scale);
            true
        }
        Convert::Date => write_date(out, value),
        Convert::Timestamp { per_second, utc } => write_timestamp(out, value, per_second, utc),
        _ => {
            let _ = write!(out, "{value}");
            true
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{value} is not a date the calendar holds"))
    }
}

/// A byte array: UTF-8 text (copied; checked by the caller), an exact decimal, or hex.
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8], convert: Convert) -> Result<(), String> {
    match convert {
        Convert::Decimal { scale } => {
            let unscaled = be_integer(bytes).ok_or_else(|| {
                format!("is a decimal of {} bytes; at most 16 are read", bytes.len())
            })?;
            write_decimal(out, unscaled, scale);
        }
        Convert::Hex => write_hex(out, bytes),
        _ => out.extend_from_slice(bytes),
    }
    Ok(())
}

/// Write a decimal `unscaled × 10^-scale` exactly.
pub(crate) fn write_decimal(out: &mut Vec<u8>, unscaled: i128, scale: u32) {
    // The digits of |unscaled|, most significant first, in a stack buffer (u64 arithmetic
    // when it fits: costs almost always do).
    let mut buffer = [0u8; 40];
    let mut at = buffer.len();
    let magnitude = unscaled.unsigned_abs();
    if let Ok(mut small) = u64::try_from(magnitude) {
        loop {
            at -= 1;
            buffer[at] = b'0' + (small % 10) as u8;
            small /= 10;
            if small == 0 {
                break;
            }
        }
    } else {
        let mut big = magnitude;
        while big != 0 {
            at -= 1;
            buffer[at] = b'0' + (big % 10) as u8;
            big /= 10;
        }
    }
    let digits = &buffer[at..];
    if unscaled < 0 {
        out.push(b'-');
    }
    let scale = scale as usize;
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

/// A big-endian two's complement integer (a decimal's bytes), if it fits in 128 bits.
pub(crate) fn be_integer(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() {
        return Some(0);
    }
    if bytes.len() > 16 {
        // Leading bytes that only extend the sign are fine.
        let (head, tail) = bytes.split_at(bytes.len() - 16);
        let fill = if tail[0] & 0x80 != 0 { 0xff } else { 0 };
        if head.iter().any(|&b| b != fill) {
            return None;
        }
        return be_integer(tail);
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut buffer = [fill; 16];
    buffer[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(buffer))
}

/// Write days since 1970-01-01 as `YYYY-MM-DD`; `false` if no calendar date.
pub(crate) fn write_date(out: &mut Vec<u8>, days: i64) -> bool {
    let Some(date) = chrono::DateTime::from_timestamp(days.saturating_mul(86_400), 0) else {
        return false;
    };
    let date = date.date_naive();
    write_ymd(out, &date);
    true
}

fn write_ymd(out: &mut Vec<u8>, date: &chrono::NaiveDate) {
    use chrono::Datelike;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month(),
        date.day()
    );
}

/// Write `units` (of `per_second`) since the epoch as `YYYY-MM-DDTHH:MM:SS[.f][Z]`; `false`
/// if out of the calendar's range.
pub(crate) fn write_timestamp(out: &mut Vec<u8>, units: i64, per_second: i64, utc: bool) -> bool {
    let seconds = units.div_euclid(per_second);
    let fraction = units.rem_euclid(per_second);
    let nanos = (fraction as i128 * 1_000_000_000 / per_second as i128) as u32;
    let Some(when) = chrono::DateTime::from_timestamp(seconds, nanos) else {
        return false;
    };
    write_date_time(out, &when.naive_utc(), utc);
    true
}

/// Write a legacy INT96 timestamp (always UTC); `false` if out of range.
pub(crate) fn write_int96(out: &mut Vec<u8>, words: [u32; 3]) -> bool {
    let [low, high, julian_day] = words;
    let nanos_of_day = ((high as i64) << 32) | low as i64;
    if !(0..86_400 * 1_000_000_000).contains(&nanos_of_day) {
        return false;
    }
    const JULIAN_DAY_OF_EPOCH: i64 = 2_440_588;
    let days = julian_day as i32 as i64 - JULIAN_DAY_OF_EPOCH;
    let Some(midnight) = chrono::DateTime::from_timestamp(days.saturating_mul(86_400), 0) else {
        return false;
    };
    let when = midnight.naive_utc() + chrono::Duration::nanoseconds(nanos_of_day);
    write_date_time(out, &when, true);
    true
}

fn write_date_time(out: &mut Vec<u8>, when: &chrono::NaiveDateTime, utc: bool) {
    use chrono::Timelike;
    write_ymd(out, &when.date());
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}",
        when.hour(),
        when.minute(),
        when.second()
    );
    let nanos = when.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push(b'.');
        out.extend_from_slice(fraction.trim_end_matches('0').as_bytes());
    }
    if utc {
        out.push(b'Z');
    }
}

/// Write bytes as lowercase hex.
pub(crate) fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>) -> bool) -> Option<String> {
        let mut s = Vec::new();
        f(&mut s).then(|| String::from_utf8(s).unwrap())
    }

    #[test]
    fn decimals_are_exact() {
        for (unscaled, scale, expected) in [
            (12345i128, 4u32, "1.2345"),
            (-12345, 4, "-1.2345"),
            (5, 3, "0.005"),
            (-5, 3, "-0.005"),
            (0, 2, "0.00"),
            (42, 0, "42"),
            (i128::MAX, 24, "170141183460469.231731687303715884105727"),
        ] {
            let mut s = Vec::new();
            write_decimal(&mut s, unscaled, scale);
            assert_eq!(String::from_utf8(s).unwrap(), expected);
        }
    }

    #[test]
    fn decimal_bytes_are_twos_complement_big_endian() {
        assert_eq!(be_integer(&[0x01, 0x00]), Some(256));
        assert_eq!(be_integer(&[0xff, 0xfe]), Some(-2));
        assert_eq!(be_integer(&[]), Some(0));
        let mut wide = vec![0xff; 4];
        wide.extend([0xff; 15]);
        wide.push(0xfe);
        assert_eq!(be_integer(&wide), Some(-2));
        let mut too_wide = vec![0x01];
        too_wide.extend([0; 16]);
        assert_eq!(be_integer(&too_wide), None);
    }

    #[test]
    fn floats_print_their_shortest_round_trip_decimal() {
        // What the reader writes for a DOUBLE cost: `{}` gives the shortest round-trip text.
        assert_eq!(format!("{}", 0.1f64), "0.1");
        assert_eq!(format!("{}", 0.1f64 + 0.2f64), "0.30000000000000004");
        assert_eq!(format!("{}", 1.5e-5f64), "0.000015");
        assert_eq!(format!("{}", 0.1f32), "0.1");
        assert_eq!(format!("{}", -0.0f64), "-0");
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(
            text(|s| write_date(s, 19_984)).as_deref(),
            Some("2024-09-18")
        );
        assert_eq!(
            text(|s| write_timestamp(s, 1_726_696_800_000, 1_000, true)).as_deref(),
            Some("2024-09-18T22:00:00Z")
        );
        assert_eq!(
            text(|s| write_timestamp(s, 1_726_696_800_123_456, 1_000_000, false)).as_deref(),
            Some("2024-09-18T22:00:00.123456")
        );
        assert_eq!(
            text(|s| write_timestamp(s, -1, 1_000, true)).as_deref(),
            Some("1969-12-31T23:59:59.999Z")
        );
        // 2024-09-18 is Julian day 2_460_572; 22:00 is 79_200 s.
        let nanos: i64 = 79_200 * 1_000_000_000;
        let v = [nanos as u32, (nanos >> 32) as u32, 2_460_572];
        assert_eq!(
            text(|s| write_int96(s, v)).as_deref(),
            Some("2024-09-18T22:00:00Z")
        );
        assert_eq!(text(|s| write_date(s, i64::MAX)), None);
    }
}
