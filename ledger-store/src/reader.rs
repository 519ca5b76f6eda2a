//! Reading the log back: one [`LogEntry`] per fact with its decisions, invoices reassembled,
//! the hash chain optionally verified on the way.

use std::path::Path;

use ledger_core::fact::MAX_LINES_PER_INVOICE;
use ledger_core::{ChargeLine, Event, Fact, Invoice};

use crate::codec::{
    decode_events, decode_lines, decode_record_payload, MAX_PROFILES, MAX_STRINGS_PER_INVOICE,
};
use crate::error::StoreError;
use crate::record::{
    date_from, parse_envelope, record_hash, seq_key, AgreementIn, ChunkRefPayload, CloseIn,
    DecisionsIn, Head, InvoiceHeaderIn, LineChunkIn, RecordKind, ResettleIn, CHUNK_LINES,
    ENVELOPE_BYTES,
};
use crate::segment::{SegmentReader, FRAME_HEADER_BYTES};

/// Where to start reading and whether to verify the hash chain.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// The first record of a fact: 0, a snapshot's `next_seq_covered`, or an entry's
    /// `last_seq + 1`.
    pub from_seq: u64,
    /// Recompute every record's hash and check it against the next record's prev hash (and
    /// the last against the head) before decoding it.
    pub verify_chain: bool,
}

/// One fact with its decisions, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub first_seq: u64,
    pub last_seq: u64,
    /// Invoices reassembled from header and chunks, lines in input order.
    pub fact: Fact,
    /// Always `Some` from [`LogReader`]: a fact without decisions (which [`Store::append`]
    /// never writes) is reported as an error instead.
    pub decisions: Option<Decisions>,
    pub line_count: u64,
    pub record_count: u64,
    /// Stored bytes of the entry's records.
    pub bytes: u64,
    /// The hash of the entry's last record (its decisions): the head of the log right after
    /// this entry.
    pub last_hash: [u8; 32],
}

/// The decisions recorded on one fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decisions {
    pub seq: u64,
    pub account: String,
    pub rulebook_version: u16,
    pub fact_seq: u64,
    pub events: Vec<Event>,
    /// The events exactly as stored (what [`crate::encode_events`] produced).
    pub events_bytes: Vec<u8>,
}

/// What [`LogReader::streaming_lines`] hands each chunk of a settled invoice's lines to.
pub type LineVisitor<'a> = Box<dyn FnMut(&[ChargeLine]) + 'a>;

/// Iterates the log entry by entry. Stops after the first error.
pub struct LogReader<'a> {
    /// When set, settled invoices' lines go here chunk by chunk instead of into the entry.
    on_lines: Option<LineVisitor<'a>>,
    log: &'a sled::Tree,
    /// The ledger's directory, for messages.
    dir: &'a Path,
    verify: bool,
    iter: sled::Iter,
    /// The next raw record, read ahead by chain verification.
    lookahead: Option<(u64, sled::IVec)>,
    /// The seq of the next record to return.
    next_seq: u64,
    /// The head as stored: records at and after `head.next_seq` are not read.
    head: Head,
    /// Whether the first record's link to its predecessor has been checked.
    first_link_checked: bool,
    pending_error: Option<StoreError>,
    done: bool,
    /// Line chunk bodies in segment files, read one frame at a time.
    segments: SegmentReader,
}

impl<'a> LogReader<'a> {
    /// A reader of `log` (the ledger in `dir`) whose stored head is `stored_head` and whose
    /// open store's head is `open_head` (they must agree).
    pub(crate) fn new(
        log: &'a sled::Tree,
        dir: &'a Path,
        stored_head: Result<Head, StoreError>,
        open_head: Head,
        options: ReadOptions,
    ) -> LogReader<'a> {
        let mut pending_error = None;
        let head = match stored_head {
            Ok(head) => head,
            Err(e) => {
                pending_error = Some(e);
                Head::EMPTY
            }
        };
        if pending_error.is_none() && head != open_head {
            pending_error = Some(StoreError::Corrupt {
                dir: dir.to_path_buf(),
                message: format!("the stored head (next record {}) differs from the open ledger's (next record {})", head.next_seq, open_head.next_seq),
            });
        }
        if pending_error.is_none() && options.from_seq > head.next_seq {
            pending_error = Some(StoreError::decode(
                options.from_seq,
                format!(
                    "reading from record {} but the log has only {} records",
                    options.from_seq, head.next_seq
                ),
            ));
        }
        let end = head.next_seq.max(options.from_seq);
        let iter = log.range(seq_key(options.from_seq)..seq_key(end));
        LogReader {
            on_lines: None,
            log,
            dir,
            verify: options.verify_chain,
            iter,
            lookahead: None,
            next_seq: options.from_seq,
            head,
            first_link_checked: false,
            pending_error,
            done: false,
            segments: SegmentReader::new(dir),
        }
    }

    /// Hand the lines of every settled invoice (not of pending runs) to `visit`, one chunk at a
    /// time, in input order, instead of keeping them: the invoices this reader returns have no
    /// lines (their entry's `line_count` says how many they had), so reading never holds a
    /// whole invoice's lines, however large (issue 13). `visit` sees every chunk of an entry
    /// before the entry is returned.
    pub fn streaming_lines(mut self, visit: impl FnMut(&[ChargeLine]) + 'a) -> LogReader<'a> {
        self.on_lines = Some(Box::new(visit));
        self
    }

    fn sled_err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            dir: self.dir.to_path_buf(),
            source,
        }
    }

    /// The next stored (seq, value) from the range, whatever its seq.
    fn pull(&mut self) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        if let Some(raw) = self.lookahead.take() {
            return Ok(Some(raw));
        }
        match self.iter.next() {
            None => Ok(None),
            Some(Err(e)) => Err(self.sled_err(e)),
            Some(Ok((key, value))) => {
                let key: [u8; 8] = key.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                    dir: self.dir.to_path_buf(),
                    message: "a log key is not 8 bytes".into(),
                })?;
                Ok(Some((u64::from_be_bytes(key), value)))
            }
        }
    }

    fn missing(&self, seq: u64) -> StoreError {
        StoreError::Chain {
            seq,
            message: format!(
                "record {seq} is missing (the head says the log has {} records)",
                self.head.next_seq
            ),
        }
    }

    /// The next record, which must be `next_seq`; `None` at the head. With verification, its
    /// hash is checked against its successor's prev hash (or the head) before it is returned.
    fn fetch(&mut self) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        if self.next_seq >= self.head.next_seq {
            return Ok(None);
        }
        let seq = self.next_seq;
        let (found, value) = self.pull()?.ok_or_else(|| self.missing(seq))?;
        if found != seq {
            return Err(self.missing(seq));
        }
        if self.verify {
            if !self.first_link_checked {
                self.check_first_link(seq, &value)?;
                self.first_link_checked = true;
            }
            let hash = record_hash(&value);
            let expected = if seq + 1 == self.head.next_seq {
                self.head.last_hash
            } else {
                let (next_seq, next_value) = self.pull()?.ok_or_else(|| self.missing(seq + 1))?;
                if next_seq != seq + 1 {
                    return Err(self.missing(seq + 1));
                }
                let prev = prev_field(&next_value);
                self.lookahead = Some((next_seq, next_value));
                match prev {
                    Some(p) => p,
                    None => return Err(self.blame(seq)),
                }
            };
            if hash != expected {
                return Err(self.blame(seq));
            }
        }
        self.next_seq += 1;
        Ok(Some((seq, value)))
    }

    /// The first record read must chain to its predecessor (or to zero at the start).
    fn check_first_link(&self, seq: u64, value: &[u8]) -> Result<(), StoreError> {
        let prev = prev_field(value);
        if seq == 0 {
            if prev != Some([0; 32]) {
                return Err(StoreError::Chain {
                    seq,
                    message: "record 0 was altered: its prev hash is not zero".into(),
                });
            }
            return Ok(());
        }
        let before = self.get(seq - 1)?.ok_or_else(|| self.missing(seq - 1))?;
        if prev != Some(record_hash(&before)) {
            return Err(self.blame(seq - 1));
        }
        Ok(())
    }

    fn get(&self, seq: u64) -> Result<Option<sled::IVec>, StoreError> {
        self.log.get(seq_key(seq)).map_err(|e| self.sled_err(e))
    }

    /// The link from record `a` to its successor (or the head) is broken: name the record
    /// that was altered. If the successor is intact (its own hash matches what follows it),
    /// `a` was altered; otherwise the successor was.
    fn blame(&self, a: u64) -> StoreError {
        let b = a + 1;
        if b >= self.head.next_seq {
            return StoreError::Chain {
                seq: a,
                message: format!("record {a}, the last record, does not hash to the last hash the head holds: record {a} (or the head) was altered after it was written"),
            };
        }
        let value_b = match self.get(b) {
            Ok(Some(value)) => value,
            Ok(None) => return self.missing(b),
            Err(e) => return e,
        };
        let after_b = if b + 1 == self.head.next_seq {
            Ok(Some(self.head.last_hash))
        } else {
            self.get(b + 1).map(|v| v.and_then(|v| prev_field(&v)))
        };
        match after_b {
            Ok(after_b) if after_b == Some(record_hash(&value_b)) => StoreError::Chain {
                seq: a,
                message: format!(
                    "record {a} was altered after it was written: its hash is not the one record {b} holds for it (record {b} is intact)"
                ),
            },
            Ok(_) => StoreError::Chain {
                seq: b,
                message: format!(
                    "record {b} was altered after it was written: its prev hash does not match record {a}, and its own hash does not match what follows it"
                ),
            },
            Err(e) => e,
        }
    }

    /// At the end of a verified read: nothing may be stored beyond the head.
    fn finish(&mut self) -> Result<(), StoreError> {
        if !self.verify {
            return Ok(());
        }
        let beyond = self
            .log
            .range(seq_key(self.head.next_seq)..=seq_key(u64::MAX))
            .next()
            .transpose()
            .map_err(|e| self.sled_err(e))?;
        if let Some((key, _)) = beyond {
            let seq = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            return Err(StoreError::Chain {
                seq,
                message: format!("record {seq} is stored beyond the head (which ends the log at {}): it was not appended by the ledger", self.head.next_seq),
            });
        }
        Ok(())
    }

    fn next_entry(&mut self) -> Result<Option<LogEntry>, StoreError> {
        let Some((seq, value)) = self.fetch()? else {
            self.finish()?;
            return Ok(None);
        };
        let envelope = parse_envelope(seq, &value)?;
        let mut bytes = value.len() as u64;
        let mut record_count = 1u64;
        let mut line_count = 0u64;
        let fact = match envelope.kind {
            RecordKind::Agreement => {
                let (agreement, content_hash): AgreementIn = decode_record_payload(envelope.payload).map_err(|m| StoreError::decode(seq, m))?;
                Fact::Agreement { agreement, content_hash }
            }
            RecordKind::Close => {
                let (account, through): CloseIn = decode_record_payload(envelope.payload).map_err(|m| StoreError::decode(seq, m))?;
                Fact::Close { account, through: date_from(through, seq, "the close date")? }
            }
            RecordKind::Resettle => {
                let (account, version, corrections): ResettleIn = decode_record_payload(envelope.payload).map_err(|m| StoreError::decode(seq, m))?;
                Fact::Resettle { account, version, corrections }
            }
            RecordKind::InvoiceHeader => {
                let header: InvoiceHeaderIn = decode_record_payload(envelope.payload).map_err(|m| StoreError::decode(seq, m))?;
                let stream = self.on_lines.is_some();
                let (invoice, lines) = self.read_invoice(seq, header, stream, &mut bytes, &mut record_count)?;
                line_count = lines;
                Fact::Invoice(invoice)
            }
            RecordKind::PendingHeader => {
                let header: InvoiceHeaderIn = decode_record_payload(envelope.payload).map_err(|m| StoreError::decode(seq, m))?;
                let (invoice, lines) = self.read_invoice(seq, header, false, &mut bytes, &mut record_count)?;
                line_count = lines;
                Fact::Pending(invoice)
            }
            kind => {
                return Err(StoreError::decode(
                    seq,
                    format!("a {} record where a fact should start (reading must start at the first record of a fact)", kind.name()),
                ))
            }
        };

        let Some((dseq, dvalue)) = self.fetch()? else {
            return Err(StoreError::decode(
                seq,
                "the fact has no decisions: the log ends after it",
            ));
        };
        let denvelope = parse_envelope(dseq, &dvalue)?;
        if denvelope.kind != RecordKind::Decisions {
            return Err(StoreError::decode(
                dseq,
                format!(
                    "a {} record where the decisions on record {seq} should be",
                    denvelope.kind.name()
                ),
            ));
        }
        let decisions: DecisionsIn =
            decode_record_payload(denvelope.payload).map_err(|m| StoreError::decode(dseq, m))?;
        if decisions.fact_seq != seq {
            return Err(StoreError::decode(
                dseq,
                format!(
                    "the decisions name record {} as their fact, but follow record {seq}",
                    decisions.fact_seq
                ),
            ));
        }
        if decisions.account != fact.account() {
            return Err(StoreError::decode(
                dseq,
                format!(
                    "the decisions are for account '{}' but their fact is for '{}'",
                    decisions.account,
                    fact.account()
                ),
            ));
        }
        let events = decode_events(decisions.events)
            .map_err(|m| StoreError::decode(dseq, format!("events: {m}")))?;
        bytes += dvalue.len() as u64;
        record_count += 1;
        Ok(Some(LogEntry {
            first_seq: seq,
            last_seq: dseq,
            fact,
            decisions: Some(Decisions {
                seq: dseq,
                account: decisions.account,
                rulebook_version: decisions.rulebook_version,
                fact_seq: decisions.fact_seq,
                events,
                events_bytes: decisions.events.to_vec(),
            }),
            line_count,
            record_count,
            bytes,
            last_hash: record_hash(&dvalue),
        }))
    }

    /// The invoice whose header is `header`, and its line count; with `stream`, its lines go
    /// to the line visitor chunk by chunk and the invoice returned has none.
    fn read_invoice(
        &mut self,
        seq: u64,
        header: InvoiceHeaderIn,
        stream: bool,
        bytes: &mut u64,
        record_count: &mut u64,
    ) -> Result<(Invoice, u64), StoreError> {
        let bad =
            |message: String| StoreError::decode(seq, format!("invoice {}: {message}", header.id));
        if header.line_count > MAX_LINES_PER_INVOICE as u64 {
            return Err(bad(format!(
                "{} lines is over the limit of {MAX_LINES_PER_INVOICE}",
                header.line_count
            )));
        }
        if header.string_count > MAX_STRINGS_PER_INVOICE as u64 {
            return Err(bad(format!(
                "{} strings is over the limit of {MAX_STRINGS_PER_INVOICE}",
                header.string_count
            )));
        }
        if header.profiles.len() > MAX_PROFILES {
            return Err(bad(format!(
                "{} billing profiles is over the limit of {MAX_PROFILES}",
                header.profiles.len()
            )));
        }
        if header.chunk_count as u64 > header.line_count + 1 {
            return Err(bad(format!(
                "{} chunks for {} lines",
                header.chunk_count, header.line_count
            )));
        }
        let date = date_from(header.date, seq, "the invoice date")?;
        let period_start = date_from(header.period_start, seq, "the period start")?;
        let period_end = date_from(header.period_end, seq, "the period end")?;
        let mut lines = Vec::with_capacity(if stream {
            CHUNK_LINES
        } else {
            header.line_count as usize
        });
        // Lines decoded so far (all of them are in `lines` unless streaming).
        let mut decoded = 0usize;
        let mut strings: Vec<String> =
            Vec::with_capacity((header.string_count as usize).min(1 << 16));
        for index in 0..header.chunk_count {
            let Some((cseq, cvalue)) = self.fetch()? else {
                return Err(bad(format!(
                    "it has {} line chunks but the log ends after {index}",
                    header.chunk_count
                )));
            };
            let cenvelope = parse_envelope(cseq, &cvalue)?;
            let body = match cenvelope.kind {
                RecordKind::LineChunk => cenvelope.payload,
                RecordKind::ChunkRef => {
                    let reference: ChunkRefPayload = decode_record_payload(cenvelope.payload)
                        .map_err(|m| StoreError::decode(cseq, m))?;
                    *bytes += FRAME_HEADER_BYTES + reference.len as u64;
                    self.segments
                        .read(reference.location(), &reference.hash, cseq)?
                }
                kind => {
                    return Err(StoreError::decode(
                        cseq,
                        format!("a {} record where line chunk {index} of invoice {} (record {seq}) should be", kind.name(), header.id),
                    ))
                }
            };
            let chunk: LineChunkIn =
                decode_record_payload(body).map_err(|m| StoreError::decode(cseq, m))?;
            let chunk_bad = |message: String| {
                StoreError::decode(
                    cseq,
                    format!(
                        "line chunk {index} of invoice {} (record {seq}): {message}",
                        header.id
                    ),
                )
            };
            if chunk.chunk_index != index || chunk.first_line != decoded as u64 {
                return Err(chunk_bad(format!(
                    "it says it is chunk {} starting at line {}, expected chunk {index} starting at line {decoded}",
                    chunk.chunk_index,
                    chunk.first_line,
                )));
            }
            let chunk_lines = chunk.line_count as usize;
            if chunk_lines > CHUNK_LINES || (decoded + chunk_lines) as u64 > header.line_count {
                return Err(chunk_bad(format!(
                    "{chunk_lines} lines is more than the chunk or the invoice may hold"
                )));
            }
            if (strings.len() + chunk.strings.len()) as u64 > header.string_count {
                return Err(chunk_bad(format!(
                    "{} strings is more than the invoice's {}",
                    chunk.strings.len(),
                    header.string_count
                )));
            }
            strings.extend(chunk.strings);
            let first_line = decoded;
            decode_lines(
                chunk.lines,
                chunk_lines,
                header.period_start,
                header.profiles.len(),
                strings.len(),
                &mut lines,
            )
            .map_err(|e| chunk_bad(format!("line {}: {}", first_line + e.line + 1, e.what)))?;
            decoded += chunk_lines;
            if stream {
                if let Some(visit) = self.on_lines.as_mut() {
                    visit(&lines);
                }
                lines.clear();
            }
            *bytes += cvalue.len() as u64;
            *record_count += 1;
        }
        if decoded as u64 != header.line_count || strings.len() as u64 != header.string_count {
            return Err(bad(format!(
                "its chunks hold {} lines and {} strings, the header says {} and {}",
                decoded,
                strings.len(),
                header.line_count,
                header.string_count
            )));
        }
        let invoice = Invoice {
            account: header.account,
            id: header.id,
            date,
            period_start,
            period_end,
            currency: header.currency,
            content_hash: header.content_hash,
            profiles: header.profiles,
            strings,
            lines,
        };
        Ok((invoice, decoded as u64))
    }
}

/// The prev-hash field of a stored value, if it is long enough to have one.
fn prev_field(value: &[u8]) -> Option<[u8; 32]> {
    if value.len() < ENVELOPE_BYTES {
        return None;
    }
    value[10..42].try_into().ok()
}

impl Iterator for LogReader<'_> {
    type Item = Result<LogEntry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
