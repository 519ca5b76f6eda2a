//! Records: the envelope, the payload of each record kind, and the [`Appender`] that turns facts
//! and decisions into chained records without doing any I/O.

use ledger_core::{Agreement, Date, Event, Fact, Invoice};
use serde::{Deserialize, Serialize};

use crate::codec::{
    self, encode_line, Bytes, MAX_LINE_BYTES, MAX_PROFILES, MAX_STRINGS_PER_INVOICE,
    MAX_STRING_BYTES, MAX_VALUE_BYTES,
};
use crate::error::StoreError;
use crate::segment::{self, ChunkLocation, SegmentCursor};

/// Lines per LineChunk record (fewer when the chunk's strings would make the value large).
pub const CHUNK_LINES: usize = 2048;
/// The version byte that starts every stored record.
pub const ENVELOPE_VERSION: u8 = 1;
/// Bytes before the payload: version, kind, seq, prev hash.
pub const ENVELOPE_BYTES: usize = 1 + 1 + 8 + 32;
/// A chunk closes before its encoded lines and strings pass this many bytes, so every value
/// stays well under sled's ~128 KiB blob threshold (values above it go to blob files).
pub const CHUNK_SOFT_BYTES: usize = 96 << 10;

/// What a record holds. The byte is the wire value: append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    Agreement = 1,
    InvoiceHeader = 2,
    LineChunk = 3,
    Close = 4,
    Decisions = 5,
    Resettle = 6,
    /// A pending (month-to-date) run: an invoice header's payload, followed by its line
    /// chunks like an invoice's (R-PEND).
    PendingHeader = 7,
    /// A line chunk whose body (kind 3's payload) is in a segment file: where it is and its
    /// blake3 hash.
    ChunkRef = 8,
}

impl RecordKind {
    pub fn from_byte(byte: u8) -> Option<RecordKind> {
        Some(match byte {
            1 => RecordKind::Agreement,
            2 => RecordKind::InvoiceHeader,
            3 => RecordKind::LineChunk,
            4 => RecordKind::Close,
            5 => RecordKind::Decisions,
            6 => RecordKind::Resettle,
            7 => RecordKind::PendingHeader,
            8 => RecordKind::ChunkRef,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Agreement => "agreement",
            RecordKind::InvoiceHeader => "invoice header",
            RecordKind::LineChunk => "line chunk",
            RecordKind::Close => "close",
            RecordKind::Decisions => "decisions",
            RecordKind::Resettle => "resettle",
            RecordKind::PendingHeader => "pending header",
            RecordKind::ChunkRef => "line chunk reference",
        }
    }

    /// Whether a record of this kind starts a fact.
    pub fn starts_fact(self) -> bool {
        matches!(
            self,
            RecordKind::Agreement
                | RecordKind::InvoiceHeader
                | RecordKind::Close
                | RecordKind::Resettle
                | RecordKind::PendingHeader
        )
    }
}

/// The log position after the last record: the next seq and the last record's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub next_seq: u64,
    pub last_hash: [u8; 32],
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        next_seq: 0,
        last_hash: [0; 32],
    };

    /// The last record's hash in lower-case hex: the anchor `ledger audit --expect-head`
    /// takes.
    pub fn hash_hex(&self) -> String {
        self.last_hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A hash as [`Head::hash_hex`] writes it (64 hex digits, either case) back to bytes.
    pub fn parse_hash(text: &str) -> Option<[u8; 32]> {
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(out)
    }
}

impl Default for Head {
    fn default() -> Self {
        Head::EMPTY
    }
}

/// One record, encoded: its seq, the stored value and blake3 of the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedRecord {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub hash: [u8; 32],
    /// For a [`RecordKind::ChunkRef`] record: the segment frame it references (written to
    /// its segment file before the record is applied); empty for every other record.
    pub body: Vec<u8>,
}

/// The hash of a stored value.
pub fn record_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// The envelope of a stored value, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    pub kind: RecordKind,
    pub seq: u64,
    pub prev_hash: [u8; 32],
    pub payload: &'a [u8],
}

/// Parse a stored value's envelope; `key_seq` is the seq it was stored under.
pub fn parse_envelope(key_seq: u64, bytes: &[u8]) -> Result<Envelope<'_>, StoreError> {
    if bytes.len() < ENVELOPE_BYTES {
        return Err(StoreError::decode(
            key_seq,
            format!(
                "{} bytes is shorter than the {ENVELOPE_BYTES}-byte envelope",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != ENVELOPE_VERSION {
        return Err(StoreError::decode(
            key_seq,
            format!(
                "envelope version {} is not one this build reads (it reads {ENVELOPE_VERSION})",
                bytes[0]
            ),
        ));
    }
    let kind = RecordKind::from_byte(bytes[1])
        .ok_or_else(|| StoreError::decode(key_seq, format!("unknown record kind {}", bytes[1])))?;
    let seq = u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes"));
    if seq != key_seq {
        return Err(StoreError::decode(
            key_seq,
            format!("the record says it is record {seq}"),
        ));
    }
    let prev_hash: [u8; 32] = bytes[10..42].try_into().expect("32 bytes");
    Ok(Envelope {
        kind,
        seq,
        prev_hash,
        payload: &bytes[ENVELOPE_BYTES..],
    })
}

fn envelope(kind: RecordKind, seq: u64, prev_hash: &[u8; 32], payload_hint: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ENVELOPE_BYTES + payload_hint);
    bytes.push(ENVELOPE_VERSION);
    bytes.push(kind as u8);
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(prev_hash);
    bytes
}

// ---------------------------------------------------------------------------------------------
// Payloads. Each has a borrowed form for encoding and an owned (or borrowing) form for
// decoding; the two must stay field for field identical.

/// Agreement fact: `(agreement, content_hash)` with ledger-core's serde shapes.
pub(crate) type AgreementIn = (Agreement, [u8; 32]);

/// Resettle fact: `(account, rulebook version, corrections)` in ledger-core's serde shapes.
pub(crate) type ResettleIn = (String, u16, Vec<ledger_core::resettle::Correction>);

/// InvoiceHeader fact: the invoice without its lines and strings.
#[derive(Serialize)]
pub(crate) struct InvoiceHeaderOut<'a> {
    pub account: &'a str,
    pub id: &'a str,
    pub date: i32,
    pub period_start: i32,
    pub period_end: i32,
    pub currency: &'a str,
    pub content_hash: &'a [u8; 32],
    pub profiles: &'a [String],
    pub line_count: u64,
    pub string_count: u64,
    pub chunk_count: u32,
}

#[derive(Deserialize)]
pub(crate) struct InvoiceHeaderIn {
    pub account: String,
    pub id: String,
    pub date: i32,
    pub period_start: i32,
    pub period_end: i32,
    pub currency: String,
    pub content_hash: [u8; 32],
    pub profiles: Vec<String>,
    pub line_count: u64,
    pub string_count: u64,
    pub chunk_count: u32,
}

/// LineChunk fact: a run of lines in format v1 and the strings they introduce.
#[derive(Serialize)]
pub(crate) struct LineChunkOut<'a> {
    pub chunk_index: u32,
    pub first_line: u64,
    pub line_count: u32,
    pub strings: &'a [String],
    pub lines: Bytes<'a>,
}

#[derive(Deserialize)]
pub(crate) struct LineChunkIn<'a> {
    pub chunk_index: u32,
    pub first_line: u64,
    pub line_count: u32,
    pub strings: Vec<String>,
    #[serde(borrow)]
    pub lines: &'a [u8],
}

/// ChunkRef: where a line chunk's body is (see `segment`) and its blake3 hash.
#[derive(Serialize, Deserialize)]
pub(crate) struct ChunkRefPayload {
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
    pub hash: [u8; 32],
}

impl ChunkRefPayload {
    pub(crate) fn location(&self) -> ChunkLocation {
        ChunkLocation {
            segment: self.segment,
            offset: self.offset,
            len: self.len,
        }
    }
}

/// The location and hash a stored [`RecordKind::ChunkRef`] value (stored under `seq`) names.
pub fn parse_chunk_ref(seq: u64, bytes: &[u8]) -> Result<(ChunkLocation, [u8; 32]), StoreError> {
    let envelope = parse_envelope(seq, bytes)?;
    if envelope.kind != RecordKind::ChunkRef {
        return Err(StoreError::decode(
            seq,
            format!(
                "a {} record, not a line chunk reference",
                envelope.kind.name()
            ),
        ));
    }
    let reference: ChunkRefPayload =
        codec::decode_record_payload(envelope.payload).map_err(|m| StoreError::decode(seq, m))?;
    Ok((reference.location(), reference.hash))
}

/// Close fact: `(account, through day number)`.
pub(crate) type CloseIn = (String, i32);

/// Decisions: what the core decided on the fact at `fact_seq`, under `rulebook_version`.
#[derive(Serialize)]
pub(crate) struct DecisionsOut<'a> {
    pub account: &'a str,
    pub rulebook_version: u16,
    pub fact_seq: u64,
    pub events: Bytes<'a>,
}

#[derive(Deserialize)]
pub(crate) struct DecisionsIn<'a> {
    pub account: String,
    pub rulebook_version: u16,
    pub fact_seq: u64,
    #[serde(borrow)]
    pub events: &'a [u8],
}

pub(crate) fn date_from(day: i32, seq: u64, field: &str) -> Result<Date, StoreError> {
    Date::from_day_number(day).ok_or_else(|| {
        StoreError::decode(seq, format!("{field} (day {day}) is out of the date range"))
    })
}

// ---------------------------------------------------------------------------------------------
// The appender.

/// Builds chained records. Pure (no I/O): used both to stage an ingest before committing and
/// to re-encode during audit. On error nothing is pushed and the head does not move.
#[derive(Clone, Debug)]
pub struct Appender {
    head: Head,
    /// The first seq and account of the last fact encoded, to check `decisions` against.
    last_fact: Option<(u64, String)>,
    /// Where the next line chunk body goes; `None`: line chunks are inline records (kind 3).
    segments: Option<SegmentCursor>,
}

impl Appender {
    pub fn new(head: Head) -> Appender {
        Appender {
            head,
            last_fact: None,
            segments: None,
        }
    }

    /// Put line chunk bodies in segment files from `cursor` on (the store's
    /// [`crate::Store::segment_cursor`]), each referenced by a [`RecordKind::ChunkRef`] record,
    /// instead of inline [`RecordKind::LineChunk`] records.
    pub fn with_segments(mut self, cursor: SegmentCursor) -> Appender {
        self.segments = Some(cursor);
        self
    }

    pub fn head(&self) -> Head {
        self.head
    }

    /// Where the next line chunk body goes (`None` when chunks are inline).
    pub fn segment_cursor(&self) -> Option<SegmentCursor> {
        self.segments
    }

    /// Encode a fact as records: Agreement and Close as one record each; an Invoice as one
    /// InvoiceHeader record followed by its LineChunk records (at most [`CHUNK_LINES`] lines
    /// each, fewer if the chunk's strings would pass [`CHUNK_SOFT_BYTES`]). Each chunk carries
    /// the strings of the invoice's table up to the highest index its lines (and earlier
    /// lines) refer to, and the last chunk carries any unreferenced rest, so the table is the
    /// concatenation of the chunks' tables in any order; interning in line order keeps chunks
    /// small. Returns the seq of the fact's first record.
    pub fn fact(&mut self, fact: &Fact, out: &mut Vec<EncodedRecord>) -> Result<u64, StoreError> {
        let first_seq = self.head.next_seq;
        let mut staged = Vec::new();
        match fact {
            Fact::Agreement {
                agreement,
                content_hash,
            } => {
                check_string("agreement account", &agreement.account)?;
                let mut payload = Vec::with_capacity(1024);
                codec::encode_into(&mut payload, &(agreement, content_hash));
                staged.push((RecordKind::Agreement, payload));
            }
            Fact::Close { account, through } => {
                check_string("close account", account)?;
                let mut payload = Vec::with_capacity(32);
                codec::encode_into(&mut payload, &(account.as_str(), through.day_number()));
                staged.push((RecordKind::Close, payload));
            }
            Fact::Invoice(invoice) => {
                encode_invoice(invoice, RecordKind::InvoiceHeader, &mut staged)?
            }
            Fact::Pending(invoice) => {
                encode_invoice(invoice, RecordKind::PendingHeader, &mut staged)?
            }
            Fact::Resettle {
                account,
                version,
                corrections,
            } => {
                check_string("resettle account", account)?;
                let mut payload = Vec::with_capacity(64 + 128 * corrections.len());
                codec::encode_into(&mut payload, &(account.as_str(), *version, corrections));
                staged.push((RecordKind::Resettle, payload));
            }
        }
        let mut head = self.head;
        let mut segments = self.segments;
        let start = out.len();
        for (kind, payload) in staged {
            let sealed = match (kind, segments.as_mut()) {
                (RecordKind::LineChunk, Some(cursor)) => {
                    seal_chunk_ref(&mut head, cursor, &payload)
                }
                _ => seal(&mut head, kind, &payload),
            };
            match sealed {
                Ok(record) => out.push(record),
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        self.head = head;
        self.segments = segments;
        self.last_fact = Some((first_seq, fact.account().to_string()));
        Ok(first_seq)
    }

    /// Encode the decisions taken on the fact whose first record is `fact_seq`.
    pub fn decisions(
        &mut self,
        account: &str,
        rulebook_version: u16,
        fact_seq: u64,
        events: &[Event],
        out: &mut Vec<EncodedRecord>,
    ) -> Result<(), StoreError> {
        let what = || format!("the decisions on record {fact_seq}");
        if fact_seq >= self.head.next_seq {
            return Err(StoreError::encode(
                what(),
                format!(
                    "record {fact_seq} is not in the log yet (next record is {})",
                    self.head.next_seq
                ),
            ));
        }
        if let Some((seq, fact_account)) = &self.last_fact {
            if *seq != fact_seq || fact_account != account {
                return Err(StoreError::encode(
                    what(),
                    format!("the last fact encoded is record {seq} of account '{fact_account}', not record {fact_seq} of '{account}'"),
                ));
            }
        }
        let events_bytes = codec::encode_events(events);
        let mut payload = Vec::with_capacity(events_bytes.len() + account.len() + 16);
        codec::encode_into(
            &mut payload,
            &DecisionsOut {
                account,
                rulebook_version,
                fact_seq,
                events: Bytes(&events_bytes),
            },
        );
        let mut head = self.head;
        let record = seal(&mut head, RecordKind::Decisions, &payload)?;
        out.push(record);
        self.head = head;
        self.last_fact = None;
        Ok(())
    }
}

/// Wrap a payload in an envelope at the head, advancing it.
fn seal(head: &mut Head, kind: RecordKind, payload: &[u8]) -> Result<EncodedRecord, StoreError> {
    let seq = head.next_seq;
    let mut bytes = envelope(kind, seq, &head.last_hash, payload.len());
    bytes.extend_from_slice(payload);
    if bytes.len() as u64 > MAX_VALUE_BYTES {
        return Err(StoreError::encode(
            format!("record {seq} ({})", kind.name()),
            format!(
                "it would take {} bytes; a record may take at most {MAX_VALUE_BYTES}",
                bytes.len()
            ),
        ));
    }
    let hash = record_hash(&bytes);
    *head = Head {
        next_seq: seq + 1,
        last_hash: hash,
    };
    Ok(EncodedRecord {
        seq,
        bytes,
        hash,
        body: Vec::new(),
    })
}

/// A line chunk's payload as a segment frame placed at `cursor`, and the ChunkRef record
/// that references it (its hash chained like any record's).
fn seal_chunk_ref(
    head: &mut Head,
    cursor: &mut SegmentCursor,
    body: &[u8],
) -> Result<EncodedRecord, StoreError> {
    if body.len() as u64 > segment::MAX_FRAME_BODY as u64 {
        return Err(StoreError::encode(
            format!("record {} (line chunk)", head.next_seq),
            format!(
                "its body would take {} bytes; at most {}",
                body.len(),
                segment::MAX_FRAME_BODY
            ),
        ));
    }
    let hash = *blake3::hash(body).as_bytes();
    let location = cursor.place(body.len() as u32);
    let mut payload = Vec::with_capacity(64);
    codec::encode_into(
        &mut payload,
        &ChunkRefPayload {
            segment: location.segment,
            offset: location.offset,
            len: location.len,
            hash,
        },
    );
    let mut record = seal(head, RecordKind::ChunkRef, &payload)?;
    record.body = segment::frame(body, &hash);
    Ok(record)
}

fn check_string(what: &str, text: &str) -> Result<(), StoreError> {
    if text.len() > MAX_STRING_BYTES {
        return Err(StoreError::encode(
            what,
            format!(
                "it is {} bytes long; at most {MAX_STRING_BYTES}",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// One planned chunk: lines `[first_line, first_line + line_count)` encoded, and the strings
/// `[strings_start, strings_end)` of the invoice's table.
struct PlannedChunk {
    first_line: usize,
    line_count: usize,
    strings_start: usize,
    strings_end: usize,
    lines: Vec<u8>,
}

fn encode_invoice(
    invoice: &Invoice,
    header_kind: RecordKind,
    staged: &mut Vec<(RecordKind, Vec<u8>)>,
) -> Result<(), StoreError> {
    let what = || format!("invoice {}", invoice.id);
    let refuse = |message: String| StoreError::encode(what(), message);
    let max_lines = ledger_core::fact::MAX_LINES_PER_INVOICE;
    if invoice.lines.len() > max_lines {
        return Err(refuse(format!(
            "it has {} lines; at most {max_lines}",
            invoice.lines.len()
        )));
    }
    if invoice.profiles.len() > MAX_PROFILES {
        return Err(refuse(format!(
            "it has {} billing profiles; at most {MAX_PROFILES}",
            invoice.profiles.len()
        )));
    }
    if invoice.strings.len() > MAX_STRINGS_PER_INVOICE {
        return Err(refuse(format!(
            "it has {} distinct strings; at most {MAX_STRINGS_PER_INVOICE}",
            invoice.strings.len()
        )));
    }
    for (field, text) in [
        ("account", &invoice.account),
        ("id", &invoice.id),
        ("currency", &invoice.currency),
    ] {
        check_string(&format!("invoice {} {field}", invoice.id), text)?;
    }
    for (i, text) in invoice
        .profiles
        .iter()
        .chain(invoice.strings.iter())
        .enumerate()
    {
        if text.len() > MAX_STRING_BYTES {
            return Err(refuse(format!(
                "string {i} of its tables is {} bytes long; at most {MAX_STRING_BYTES}",
                text.len()
            )));
        }
    }

    let period_start_day = invoice.period_start.day_number();
    let strings = &invoice.strings;
    // Bytes a string adds to a chunk: its varint length and its text.
    let string_cost = |i: usize| strings[i].len() + 9;
    let mut chunks: Vec<PlannedChunk> = Vec::with_capacity(invoice.lines.len() / CHUNK_LINES + 1);
    let mut current = PlannedChunk {
        first_line: 0,
        line_count: 0,
        strings_start: 0,
        strings_end: 0,
        lines: Vec::with_capacity(32 << 10),
    };
    let mut current_string_bytes = 0usize;
    let mut scratch = Vec::with_capacity(MAX_LINE_BYTES);
    for (position, line) in invoice.lines.iter().enumerate() {
        if line.profile != 0 && line.profile as usize >= invoice.profiles.len() {
            return Err(refuse(format!(
                "line {} refers to billing profile {} but the invoice has {}",
                position + 1,
                line.profile,
                invoice.profiles.len()
            )));
        }
        let mut needed_end = current.strings_end;
        for r in [
            line.line_id,
            line.service,
            line.publisher,
            line.description,
            line.corrects,
        ] {
            if let Some(i) = r.index() {
                if i >= strings.len() {
                    return Err(refuse(format!(
                        "line {} refers to string {i} but the invoice has {}",
                        position + 1,
                        strings.len()
                    )));
                }
                needed_end = needed_end.max(i + 1);
            }
        }
        scratch.clear();
        encode_line(&mut scratch, line, period_start_day);
        let added_string_bytes: usize = (current.strings_end..needed_end).map(string_cost).sum();
        let full = current.line_count == CHUNK_LINES
            || current.lines.len() + current_string_bytes + scratch.len() + added_string_bytes
                > CHUNK_SOFT_BYTES;
        if current.line_count > 0 && full {
            let next = PlannedChunk {
                first_line: position,
                line_count: 0,
                strings_start: current.strings_end,
                strings_end: current.strings_end,
                lines: Vec::with_capacity(32 << 10),
            };
            chunks.push(std::mem::replace(&mut current, next));
            current_string_bytes = 0;
        }
        current.lines.extend_from_slice(&scratch);
        current.line_count += 1;
        current.strings_end = needed_end;
        current_string_bytes += added_string_bytes;
    }
    // The last chunk carries every string not yet carried (unreferenced ones included); an
    // invoice without lines but with strings gets one chunk without lines.
    current.strings_end = strings.len();
    if current.line_count > 0 || current.strings_end > current.strings_start {
        chunks.push(current);
    }

    let header = InvoiceHeaderOut {
        account: &invoice.account,
        id: &invoice.id,
        date: invoice.date.day_number(),
        period_start: period_start_day,
        period_end: invoice.period_end.day_number(),
        currency: &invoice.currency,
        content_hash: &invoice.content_hash,
        profiles: &invoice.profiles,
        line_count: invoice.lines.len() as u64,
        string_count: strings.len() as u64,
        chunk_count: chunks.len() as u32,
    };
    let mut payload = Vec::with_capacity(256);
    codec::encode_into(&mut payload, &header);
    staged.push((header_kind, payload));
    for (index, chunk) in chunks.iter().enumerate() {
        let chunk_strings = &strings[chunk.strings_start..chunk.strings_end];
        let mut payload = Vec::with_capacity(chunk.lines.len() + 64);
        codec::encode_into(
            &mut payload,
            &LineChunkOut {
                chunk_index: index as u32,
                first_line: chunk.first_line as u64,
                line_count: chunk.line_count as u32,
                strings: chunk_strings,
                lines: Bytes(&chunk.lines),
            },
        );
        staged.push((RecordKind::LineChunk, payload));
    }
    Ok(())
}

/// The sled key of record `seq`: big-endian, so keys sort in log order.
pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}
