//! # ledger-store: the append-only, hash-chained event log
//!
//! The ledger's facts (agreements, invoices with their lines, close dates) and the decisions
//! the core took on each are recorded in one sled 0.34 database, one record per sled value.
//! Nothing here knows the rules; this crate only keeps, chains and reads back bytes.
//!
//! - [`Appender`]: facts and decisions → chained [`EncodedRecord`]s. Pure, no I/O.
//! - [`Store`]: the sled database; [`Store::append`] writes records atomically,
//!   [`Store::flush`] makes them durable, snapshots live beside the log.
//! - [`LogReader`]: the log back as [`LogEntry`]s (one fact with its decisions), optionally
//!   verifying the hash chain.
//! - [`Spill`]: records staged on a temporary file before they are committed.
//! - `codec`: the one bincode configuration, the charge-line encoding, content digests, blobs.
//!
//! ## On disk
//!
//! `DIR/` is the sled database (`conf`, `db`, `blobs/`, `snap.*`), plus `owner.txt` (`pid
//! command` of the process holding the ledger), `staging/` (spill files), `segments/` (the
//! bodies of line chunks, see below) and `published/` (the projection snapshots, one
//! immutable file per account, see [`published`]).
//!
//! sled holds small records only (headers, chunk references, decisions, agreements); the
//! line bodies, the bulk of a ledger, are appended to segment files the store manages:
//! `segments/NNNNNNNN.seg`, an 8-byte header (`LSEG`, format 1) then frames
//! `[body length u32 LE][blake3 of body 32 bytes][body]`, a file closing at about 256 MiB.
//! The body is exactly what a kind-3 record's payload would be. A kind-8 record references it
//! by `(segment, offset, length, blake3)`, so the hash chain covers every line. The appender
//! plans each frame's place from the store's segment cursor ([`Store::appender`]), so the
//! records are chained before anything is written; [`Store::append`] writes the frames,
//! fsyncs the segment, then applies the sled batch that references them together with the
//! new cursor (meta key `FF×8 'S'`). Bytes after the cursor (a crash between the two) are
//! never referenced and [`Store::open`] cuts them off, so running the same ingest again
//! writes the same frames. Reading fetches one frame at a time through a bounded window and
//! checks its hash: a mismatch is [`StoreError::Segment`], naming the file, the offset and
//! the record (`ledger audit` reports it).
//!
//! Tree `log`:
//!
//! | key | value |
//! | --- | --- |
//! | seq as big-endian `u64` (8 bytes) | one record |
//! | `FF×8 'H'` (sorts after every seq) | the head: `next_seq` BE `u64`, `last_hash` 32 bytes |
//! | `FF×8 'F'` | the log format (envelope version) the ledger was created with |
//! | `FF×8 'S'` | the segment cursor: segment `u32` BE, end of the last referenced frame `u64` BE |
//!
//! The head is written in the same `apply_batch` as the records it covers, so the last
//! record's hash is covered by something too.
//!
//! ## Projection snapshots: published per account
//!
//! After a writing command (and at each flush of a long ingest) the projections are
//! *published*: [`Store::publish`] writes a file for each account whose position changed
//! since the last publication (an account's position, [`AccountPosition`], is its last
//! decisions record; the file is bound to that record's hash and checksummed with it), then an
//! `INDEX` naming every account's file and the log position (`next_seq`, head hash) the set
//! stands for. Every file is written to a temporary name, fsynced, renamed, and the folder
//! fsynced; nothing published is ever changed in place. So the cost of a publication is the
//! accounts a write changed, not the ledger, and reading one account reads the index and that
//! account's file only.
//!
//! Readers load the published set **without sled and without its lock**
//! ([`published::read_index`], [`published::read_account`]), so `lots`, `events`, `invoices`,
//! `report` and `serve` run while another process writes. What such a reader sees: the set the
//! last `INDEX` names, i.e. every account as of one log position, each with whole invoices
//! only (the last committed invoice published, never part of one); an ingest in progress shows
//! up at its flushes and at its end, not invoice by invoice. A process that appends writes
//! `published/UNPUBLISHED` (its pid) first; while it runs readers use the published set; if it
//! was killed before publishing, the set is behind the log and readers open the log
//! ([`published::freshness`]). A process holding the log uses the set only where the log
//! confirms it (the index's head hash and each file's record hash), and folds the records
//! after it.
//!
//! Tree `snapshots` (the format before per-account publication; read, audited, no longer
//! written): key `next_seq_covered` BE
//! `u64`, value `[2][checksum 32][head hash 32][bytes]`, where the head hash is the hash of the
//! last record covered (zero for none) and the checksum is blake3 keyed with that head hash
//! over `next_seq_covered` BE and the bytes; the newest two are kept. A snapshot is used only
//! when its checksum holds and its head hash is the log's at that position; one of the first
//! format (`[1][blake3 of bytes][bytes]`, not bound to the chain) is ignored and replaced by
//! the next write. `ledger audit` compares every stored snapshot with the rebuild.
//!
//! A record (stored value):
//!
//! ```text
//! [ENVELOPE_VERSION u8 = 1][kind u8][seq u64 BE][prev_hash 32 bytes][payload]
//! hash(record) = blake3(stored value);  prev_hash of record 0 = 32 zero bytes
//! ```
//!
//! | kind | payload (bincode, see `codec`) |
//! | --- | --- |
//! | 1 Agreement | `(Agreement, content_hash)` in ledger-core's serde shapes |
//! | 2 InvoiceHeader | account, id, date, period start/end (day numbers), currency, content_hash, profiles, line_count, string_count, chunk_count |
//! | 3 LineChunk | chunk_index, first_line, line_count, the strings it introduces, lines (format v1, ≤ [`CHUNK_LINES`]) |
//! | 4 Close | `(account, through day number)` |
//! | 5 Decisions | account, rulebook_version, fact_seq, events as [`encode_events`] bytes |
//! | 6 Resettle | `(account, rulebook version, corrections)` in ledger-core's serde shapes |
//! | 7 PendingHeader | a pending (month-to-date) run: kind 2's payload, followed by its LineChunk records |
//! | 8 ChunkRef | a line chunk whose body (kind 3's payload) is in a segment file: segment `u32`, frame offset `u64`, body length `u32`, blake3 of the body (32 bytes); takes kind 3's place after a header |
//!
//! Writes put chunks in segments (kind 8); kind-3 records written before (and by
//! [`Appender::new`] without [`Appender::with_segments`]) are read as ever.
//!
//! An entry is a fact's records followed by one Decisions record; [`Store::append`] accepts only
//! whole entries, in one batch, so no fact is ever recorded without its decisions.
//!
//! ## Schema evolution
//!
//! - Append only: record kinds, line flags, ledger-core enum variants (`Event`, `ChargeKind`,
//!   ...) get new values at the end; existing ones never change meaning, order or fields.
//! - A change to an existing payload shape bumps [`ENVELOPE_VERSION`], and only together with
//!   a reader that still decodes every older version (the version is in every record).
//! - Content digests are frozen (v1); a ledger keeps comparing new facts with old digests.
//! - A committed log fixture, written by this version, must keep reading back identically;
//!   regenerate it only together with a migration.
//!
//! ## Concurrency and durability
//!
//! One process at a time on the log: sled holds an exclusive `flock` on `DIR/db`; a second
//! [`Store::open`] (another process, or a second Store in this one) fails at once with
//! [`StoreError::Busy`] naming the holder from `owner.txt` (sled has no read-only mode).
//! Readers of projections do not open the store: they read the published snapshots (above). An open retries for up to 5 s while the lock is held
//! by this process's just-dropped Store or by a process that no longer runs.
//!
//! [`Store::append`] is one sled `apply_batch` (atomic across a crash: all of the batch and
//! the new head, or none). [`Store::flush`] makes it durable as far as sled can: sled writes
//! its main log with `sync_file_range` as it goes (safe against a process crash, weaker
//! against power loss: no disk-cache flush, no metadata journal commit). sled puts any value
//! or tree node over ~128 KiB into its own file under `blobs/` and never syncs those; line
//! chunks stay under 96 KiB, but a leaf of several chunks and large snapshots do not, so
//! `flush` writes out every new blob file the same way (`sync_file_range`) before and after
//! sled's flush.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

mod codec;
mod error;
pub mod published;
mod reader;
mod record;
mod segment;
mod spill;
mod store;
mod writer;

pub use codec::{
    agreement_content_hash, decode_blob, decode_events, encode_blob, encode_events,
    invoice_content_hash, BLOB_VERSION, MAX_BLOB_BYTES, MAX_PROFILES, MAX_STRINGS_PER_INVOICE,
    MAX_STRING_BYTES, MAX_VALUE_BYTES,
};
pub use error::StoreError;
pub use published::{AccountPosition, Freshness, PublishedEntry, PublishedIndex};
pub use reader::{Decisions, LineVisitor, LogEntry, LogReader, ReadOptions};
pub use record::{
    parse_chunk_ref, parse_envelope, record_hash, Appender, EncodedRecord, Envelope, Head,
    RecordKind, CHUNK_LINES, CHUNK_SOFT_BYTES, ENVELOPE_BYTES, ENVELOPE_VERSION,
};
pub use segment::{
    segment_path, ChunkLocation, SegmentCursor, FRAME_HEADER_BYTES, SEGMENTS_DIR,
    SEGMENT_HEADER_BYTES, SEGMENT_SOFT_BYTES,
};
pub use spill::STAGING_DIR;
pub use spill::{Spill, MAX_GROUP_RECORDS};
pub use store::{PublishStats, SnapshotState, Store, StoredSnapshot, OWNER_FILE, SNAPSHOTS_KEPT};
pub use writer::{DEFAULT_STALL, FAULT_VAR, STALL_VAR};
