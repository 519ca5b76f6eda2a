//! The one codec: a pinned bincode 1.3.3 configuration, the compact charge-line encoding, the
//! content digests and the blob format. Nothing else in the workspace chooses an encoding.
//!
//! # The bincode configuration (pinned; changing it changes every stored byte)
//!
//! ```text
//! bincode::DefaultOptions::new()
//!     .with_varint_encoding()     // integers: < 251 one byte; 251 + u16; 252 + u32; 253 + u64; 254 + u128
//!     .with_little_endian()       // signed integers zigzag-encoded first
//!     .reject_trailing_bytes()    // a payload is exactly one value
//!     .with_limit(N)              // decoding only: MAX_VALUE_BYTES for records, MAX_BLOB_BYTES for blobs
//! ```
//!
//! Sequences and strings carry a varint length; `Option` a one-byte tag; enums a varint
//! variant index (so enum variants are append-only); `[u8; 32]` is 32 raw bytes.
//!
//! # Charge lines (format v1)
//!
//! A line chunk's lines are not a serde value: they are a run of hand-encoded lines using the
//! same varint primitives as the configuration above (and minimal encodings only), because
//! lines are the bulk of the log and must decode at tens of millions per second:
//!
//! ```text
//! flags     u8      bit0 corrects_kind, bit1 line_id, bit2 service, bit3 publisher,
//!                   bit4 description, bit5 corrects, bit6 profile != 0, bit7 reserved (0)
//! kind      u8      ChargeKind discriminant
//! mantissa  varint  zigzag i128: the amount's canonical mantissa (no trailing zeros)
//! scale     u8      0..=24 decimal places (0 when the mantissa is 0)
//! day       varint  zigzag i64: charge date minus the invoice's period start, in days
//! [corrects_kind u8]           if bit0
//! [profile   varint]           if bit6: index into the invoice's profiles (absent = 0)
//! [line_id, service, publisher, description, corrects: varint] each if its bit: string index
//! ```
//!
//! A typical line (a usage charge with a few decimals, no strings) takes 8 to 14 bytes.

use bincode::Options;
use ledger_core::{Agreement, ChargeKind, ChargeLine, Date, Event, Invoice, Money, StrRef};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The largest stored value (record) the store writes or decodes.
pub const MAX_VALUE_BYTES: u64 = 64 << 20;
/// The largest blob (snapshot) [`encode_blob`] output [`decode_blob`] accepts.
pub const MAX_BLOB_BYTES: u64 = 1 << 30;
/// The longest string (account, id, profile, interned line string) a record may carry.
pub const MAX_STRING_BYTES: usize = 32 << 10;
/// The most billing profiles per invoice (lines refer to them with a `u16`).
pub const MAX_PROFILES: usize = 1 << 16;
/// The most interned strings per invoice: at most five per line, and a little slack.
pub const MAX_STRINGS_PER_INVOICE: usize = 5 * ledger_core::fact::MAX_LINES_PER_INVOICE + 1024;
/// The largest encoded line (all fields present and at their widest).
pub const MAX_LINE_BYTES: usize = 1 + 1 + 17 + 1 + 9 + 1 + 3 + 5 * 5;

/// Version byte of [`encode_blob`]'s output.
pub const BLOB_VERSION: u8 = 4;

const DECIMAL_PLACES_MAX: u8 = 24;

/// Decoding configuration with a size limit.
pub(crate) fn decode_options(limit: u64) -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
        .with_limit(limit)
}

/// Encoding configuration: the same bytes as [`decode_options`], without the limit (a limit
/// makes bincode size every value twice; the store checks the length after encoding).
pub(crate) fn encode_options() -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// Append the bincode encoding of `value` to `out`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail, and none of the encoded types has a map or a
    // serializer error path.
    encode_options()
        .serialize_into(out, value)
        .expect("bincode encoding into a Vec cannot fail for the store's types");
}

/// Decode one value that must span `bytes` exactly.
pub(crate) fn decode_record_payload<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    decode_options(MAX_VALUE_BYTES)
        .deserialize(bytes)
        .map_err(|e| e.to_string())
}

/// `serialize_bytes` for a borrowed slice (a plain `&[u8]` would serialize element by
/// element; the bytes are the same, this is only faster). Decodes as a borrowed `&[u8]`.
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Varint primitives, byte-compatible with the configuration above.

const SINGLE_BYTE_MAX: u8 = 250;
const U16_BYTE: u8 = 251;
const U32_BYTE: u8 = 252;
const U64_BYTE: u8 = 253;
const U128_BYTE: u8 = 254;

#[inline]
pub(crate) fn put_varint_u64(out: &mut Vec<u8>, n: u64) {
    if n <= SINGLE_BYTE_MAX as u64 {
        out.push(n as u8);
    } else if n <= u16::MAX as u64 {
        out.push(U16_BYTE);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(U32_BYTE);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    } else {
        out.push(U64_BYTE);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

#[inline]
fn put_varint_u128(out: &mut Vec<u8>, n: u128) {
    if n <= u64::MAX as u128 {
        put_varint_u64(out, n as u64);
    } else {
        out.push(U128_BYTE);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

#[inline]
fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

#[inline]
fn unzigzag64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

#[inline]
fn zigzag128(n: i128) -> u128 {
    ((n << 1) ^ (n >> 127)) as u128
}

#[inline]
fn unzigzag128(n: u128) -> i128 {
    ((n >> 1) as i128) ^ -((n & 1) as i128)
}

/// A forward-only reader over one value's bytes. Errors are static strings so the hot path
/// never allocates; the caller adds the record and line.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let end = self.pos.checked_add(N).ok_or("length overflow")?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or("the value ends early")?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, &'static str> {
        let b = *self.bytes.get(self.pos).ok_or("the value ends early")?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn varint_u64(&mut self) -> Result<u64, &'static str> {
        match self.u8()? {
            b @ 0..=SINGLE_BYTE_MAX => Ok(b as u64),
            U16_BYTE => {
                let v = u16::from_le_bytes(self.take::<2>()?) as u64;
                if v <= SINGLE_BYTE_MAX as u64 {
                    return Err("non-minimal integer encoding");
                }
                Ok(v)
            }
            U32_BYTE => {
                let v = u32::from_le_bytes(self.take::<4>()?) as u64;
                if v <= u16::MAX as u64 {
                    return Err("non-minimal integer encoding");
                }
                Ok(v)
            }
            U64_BYTE => {
                let v = u64::from_le_bytes(self.take::<8>()?);
                if v <= u32::MAX as u64 {
                    return Err("non-minimal integer encoding");
                }
                Ok(v)
            }
            _ => Err("integer tag out of range"),
        }
    }

    #[inline]
    fn varint_u128(&mut self) -> Result<u128, &'static str> {
        if self.bytes.get(self.pos) == Some(&U128_BYTE) {
            self.pos += 1;
            let v = u128::from_le_bytes(self.take::<16>()?);
            if v <= u64::MAX as u128 {
                return Err("non-minimal integer encoding");
            }
            return Ok(v);
        }
        self.varint_u64().map(|v| v as u128)
    }
}

// ---------------------------------------------------------------------------------------------
// Charge lines.

const FLAG_CORRECTS_KIND: u8 = 1 << 0;
const FLAG_LINE_ID: u8 = 1 << 1;
const FLAG_SERVICE: u8 = 1 << 2;
const FLAG_PUBLISHER: u8 = 1 << 3;
const FLAG_DESCRIPTION: u8 = 1 << 4;
const FLAG_CORRECTS: u8 = 1 << 5;
const FLAG_PROFILE: u8 = 1 << 6;
const FLAG_RESERVED: u8 = 1 << 7;
/// The flag of each string reference, in wire order.
const FLAG_STRINGS: [u8; 5] = [
    FLAG_LINE_ID,
    FLAG_SERVICE,
    FLAG_PUBLISHER,
    FLAG_DESCRIPTION,
    FLAG_CORRECTS,
];

const POW10_I128: [i128; 25] = {
    let mut table = [1i128; 25];
    let mut i = 1;
    while i < 25 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// The canonical `(mantissa, scale)` of an amount (`Money::to_mantissa_scale`, which needs no
/// 128-bit division).
#[inline]
pub(crate) fn mantissa_scale(amount: Money) -> (i128, u8) {
    let (m, s) = amount.to_mantissa_scale();
    (m, s as u8)
}

/// The amount `mantissa × 10^-scale`, refusing non-canonical spellings.
#[inline]
fn money_from_parts(mantissa: i128, scale: u8) -> Result<Money, &'static str> {
    if scale > DECIMAL_PLACES_MAX {
        return Err("amount has more than 24 decimal places");
    }
    if mantissa == 0 {
        return if scale == 0 {
            Ok(Money::ZERO)
        } else {
            Err("non-canonical zero amount")
        };
    }
    if scale > 0 {
        let trailing_zero = match i64::try_from(mantissa) {
            Ok(m) => m % 10 == 0,
            Err(_) => mantissa % 10 == 0,
        };
        if trailing_zero {
            return Err("non-canonical amount (trailing zero)");
        }
    }
    mantissa
        .checked_mul(POW10_I128[(DECIMAL_PLACES_MAX - scale) as usize])
        .map(Money::from_units)
        .ok_or("amount out of range")
}

/// Append one line in format v1 (see the module doc).
#[inline]
pub(crate) fn encode_line(out: &mut Vec<u8>, line: &ChargeLine, period_start_day: i32) {
    let refs = [
        line.line_id,
        line.service,
        line.publisher,
        line.description,
        line.corrects,
    ];
    let mut flags = 0u8;
    if line.corrects_kind.is_some() {
        flags |= FLAG_CORRECTS_KIND;
    }
    for (r, flag) in refs.iter().zip(FLAG_STRINGS) {
        if r.index().is_some() {
            flags |= flag;
        }
    }
    if line.profile != 0 {
        flags |= FLAG_PROFILE;
    }
    out.push(flags);
    out.push(line.kind as u8);
    let (mantissa, scale) = mantissa_scale(line.amount);
    put_varint_u128(out, zigzag128(mantissa));
    out.push(scale);
    let day = line.charge_date.day_number() as i64 - period_start_day as i64;
    put_varint_u64(out, zigzag64(day));
    if let Some(k) = line.corrects_kind {
        out.push(k as u8);
    }
    if line.profile != 0 {
        put_varint_u64(out, line.profile as u64);
    }
    for r in refs {
        if let Some(i) = r.index() {
            put_varint_u64(out, i as u64);
        }
    }
}

/// Why a line did not decode: which line of the run (0-based) and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineError {
    pub line: usize,
    pub what: &'static str,
}

#[inline]
fn kind_from(byte: u8) -> Result<ChargeKind, &'static str> {
    ChargeKind::from_index(byte).ok_or("unknown charge kind")
}

#[inline]
fn str_ref(cursor: &mut Cursor<'_>, strings_available: usize) -> Result<StrRef, &'static str> {
    let index = cursor.varint_u64()?;
    if index >= strings_available as u64 {
        return Err("string reference beyond the strings recorded so far");
    }
    Ok(StrRef::new(index as u32))
}

/// Decode exactly `count` lines spanning `bytes`, appending them to `out`. References are
/// checked against `profiles` and `strings_available` (the invoice's strings up to and
/// including this chunk's).
pub(crate) fn decode_lines(
    bytes: &[u8],
    count: usize,
    period_start_day: i32,
    profiles: usize,
    strings_available: usize,
    out: &mut Vec<ChargeLine>,
) -> Result<(), LineError> {
    let mut cursor = Cursor::new(bytes);
    out.reserve(count);
    for line in 0..count {
        let decoded = decode_line(&mut cursor, period_start_day, profiles, strings_available)
            .map_err(|what| LineError { line, what })?;
        out.push(decoded);
    }
    if !cursor.is_empty() {
        return Err(LineError {
            line: count,
            what: "bytes left after the last line",
        });
    }
    Ok(())
}

#[inline]
fn decode_line(
    cursor: &mut Cursor<'_>,
    period_start_day: i32,
    profiles: usize,
    strings_available: usize,
) -> Result<ChargeLine, &'static str> {
    let flags = cursor.u8()?;
    if flags & FLAG_RESERVED != 0 {
        return Err("reserved line flag set");
    }
    let kind = kind_from(cursor.u8()?)?;
    let mantissa = unzigzag128(cursor.varint_u128()?);
    let scale = cursor.u8()?;
    let amount = money_from_parts(mantissa, scale)?;
    let day = unzigzag64(cursor.varint_u64()?);
    let day = i32::try_from(day as i128 + period_start_day as i128)
        .map_err(|_| "charge date out of range")?;
    let charge_date = Date::from_day_number(day).ok_or("charge date out of range")?;
    let corrects_kind = if flags & FLAG_CORRECTS_KIND != 0 {
        Some(kind_from(cursor.u8()?)?)
    } else {
        None
    };
    let profile = if flags & FLAG_PROFILE != 0 {
        let p = cursor.varint_u64()?;
        if p == 0 || p >= profiles as u64 {
            return Err("billing profile index out of range");
        }
        p as u16
    } else {
        // Profile 0 is also what a line of an invoice without profiles holds.
        0
    };
    let mut refs = [StrRef::NONE; 5];
    for (r, flag) in refs.iter_mut().zip(FLAG_STRINGS) {
        if flags & flag != 0 {
            *r = str_ref(cursor, strings_available)?;
        }
    }
    Ok(ChargeLine {
        amount,
        charge_date,
        kind,
        profile,
        corrects_kind,
        line_id: refs[0],
        service: refs[1],
        publisher: refs[2],
        description: refs[3],
        corrects: refs[4],
    })
}

// ---------------------------------------------------------------------------------------------
// Events, digests, blobs.

/// The canonical bytes of a list of events (what a Decisions record stores): the bincode
/// encoding of the slice under the pinned configuration. Audit re-encodes re-derived events
/// with this and compares byte for byte.
pub fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * events.len() + 8);
    encode_into(&mut out, events);
    out
}

/// Decode the bytes of [`encode_events`].
pub fn decode_events(bytes: &[u8]) -> Result<Vec<Event>, String> {
    decode_record_payload(bytes)
}

/// blake3 key-derivation contexts: a digest of one kind can never equal one of another.
const INVOICE_DIGEST_CONTEXT: &str = "ledger-store invoice content v1";
const AGREEMENT_DIGEST_CONTEXT: &str = "ledger-store agreement content v1";

#[derive(Serialize)]
struct InvoiceDigestHead<'a> {
    account: &'a str,
    id: &'a str,
    date: i32,
    period_start: i32,
    period_end: i32,
    currency: &'a str,
    profiles: &'a [String],
    strings: &'a [String],
    line_count: u64,
}

/// The content digest of an invoice (R-IDEM-1/2): blake3 (derived key "ledger-store invoice
/// content v1") over the bincode encoding of everything but `content_hash` (account, id,
/// dates, currency, profile and string tables, line count) followed by every line in format
/// v1. Equal invoices give equal digests; amounts are canonical whatever their spelling.
///
/// The string tables are hashed as given: callers intern strings in line order, which makes
/// the tables a function of the lines. This encoding is frozen: if the line format changes,
/// keep this function's v1 encoding for the digest (a test pins a digest value).
pub fn invoice_content_hash(invoice: &Invoice) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(INVOICE_DIGEST_CONTEXT);
    let head = InvoiceDigestHead {
        account: &invoice.account,
        id: &invoice.id,
        date: invoice.date.day_number(),
        period_start: invoice.period_start.day_number(),
        period_end: invoice.period_end.day_number(),
        currency: &invoice.currency,
        profiles: &invoice.profiles,
        strings: &invoice.strings,
        line_count: invoice.lines.len() as u64,
    };
    let mut buf = Vec::with_capacity(64 << 10);
    encode_into(&mut buf, &head);
    hasher.update(&buf);
    let period_start_day = invoice.period_start.day_number();
    for batch in invoice.lines.chunks(1024) {
        buf.clear();
        for line in batch {
            encode_line(&mut buf, line, period_start_day);
        }
        hasher.update(&buf);
    }
    *hasher.finalize().as_bytes()
}

/// The content digest of an agreement: blake3 (derived key "ledger-store agreement content
/// v1") over its bincode encoding.
pub fn agreement_content_hash(agreement: &Agreement) -> [u8; 32] {
    let mut buf = Vec::with_capacity(1024);
    encode_into(&mut buf, agreement);
    blake3::derive_key(AGREEMENT_DIGEST_CONTEXT, &buf)
}

/// Versioned encoding for snapshots and any other blob: `[BLOB_VERSION][bincode value]`.
pub fn encode_blob<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.push(BLOB_VERSION);
    encode_into(&mut out, value);
    out
}

/// Decode the output of [`encode_blob`]; at most [`MAX_BLOB_BYTES`].
pub fn decode_blob<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let (&version, body) = bytes.split_first().ok_or_else(|| StoreError::Blob {
        message: "the blob is empty".into(),
    })?;
    if version != BLOB_VERSION {
        return Err(StoreError::Blob {
            message: format!("blob format {version} is not one this build reads (it reads {BLOB_VERSION}); rebuild the projections with `ledger replay`"),
        });
    }
    if body.len() as u64 > MAX_BLOB_BYTES {
        return Err(StoreError::Blob {
            message: format!(
                "{} bytes is over the {MAX_BLOB_BYTES}-byte limit",
                body.len()
            ),
        });
    }
    decode_options(MAX_BLOB_BYTES)
        .deserialize(body)
        .map_err(|e| StoreError::Blob {
            message: format!("format {version}: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_bincode() {
        let values: [u64; 12] = [
            0,
            1,
            250,
            251,
            255,
            256,
            65535,
            65536,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            1 << 40,
            u64::MAX,
        ];
        for v in values {
            let mut mine = Vec::new();
            put_varint_u64(&mut mine, v);
            assert_eq!(mine, encode_options().serialize(&v).unwrap(), "u64 {v}");
            assert_eq!(Cursor::new(&mine).varint_u64().unwrap(), v);
        }
        let signed: [i128; 9] = [
            0,
            -1,
            1,
            -126,
            125,
            i64::MIN as i128,
            i64::MAX as i128,
            i128::MIN,
            i128::MAX,
        ];
        for v in signed {
            let mut mine = Vec::new();
            put_varint_u128(&mut mine, zigzag128(v));
            assert_eq!(mine, encode_options().serialize(&v).unwrap(), "i128 {v}");
            assert_eq!(unzigzag128(Cursor::new(&mine).varint_u128().unwrap()), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300, 300] {
            assert_eq!(unzigzag64(zigzag64(v)), v);
            let mut mine = Vec::new();
            put_varint_u64(&mut mine, zigzag64(v));
            assert_eq!(mine, encode_options().serialize(&v).unwrap(), "i64 {v}");
        }
    }

    #[test]
    fn non_minimal_varints_are_refused() {
        assert!(Cursor::new(&[U16_BYTE, 5, 0]).varint_u64().is_err());
        assert!(Cursor::new(&[U32_BYTE, 5, 0, 0, 0]).varint_u64().is_err());
        assert!(Cursor::new(&[U64_BYTE, 5, 0, 0, 0, 0, 0, 0, 0])
            .varint_u64()
            .is_err());
        assert!(Cursor::new(&[255]).varint_u64().is_err());
        assert!(Cursor::new(&[U16_BYTE, 5]).varint_u64().is_err());
    }

    #[test]
    fn mantissa_scale_matches_core() {
        for text in [
            "0",
            "1",
            "-1",
            "100",
            "12.5",
            "-0.29",
            "0.000000007292255759239199",
            "99999999999999.999999",
            "1234567.000001",
            "0.000000000001",
            "0.0000000000001",
        ] {
            let m = Money::parse(text).unwrap();
            let (core_m, core_s) = m.to_mantissa_scale();
            assert_eq!(mantissa_scale(m), (core_m, core_s as u8), "{text}");
            assert_eq!(money_from_parts(core_m, core_s as u8).unwrap(), m, "{text}");
        }
        assert!(money_from_parts(10, 1).is_err());
        assert!(money_from_parts(0, 1).is_err());
        assert!(money_from_parts(1, 25).is_err());
        assert!(money_from_parts(i128::MAX, 0).is_err());
    }

    #[test]
    fn blobs_round_trip_and_refuse_other_versions() {
        let value = (7u32, "x".to_string(), vec![1i64, -2]);
        let bytes = encode_blob(&value);
        assert_eq!(bytes[0], BLOB_VERSION);
        assert_eq!(
            decode_blob::<(u32, String, Vec<i64>)>(&bytes).unwrap(),
            value
        );
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(matches!(
            decode_blob::<(u32, String, Vec<i64>)>(&other),
            Err(StoreError::Blob { .. })
        ));
        assert!(decode_blob::<u8>(&[]).is_err());
        let mut trailing = bytes;
        trailing.push(0);
        assert!(decode_blob::<(u32, String, Vec<i64>)>(&trailing).is_err());
    }
}
