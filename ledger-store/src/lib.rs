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
//! command` of the process holding the ledger) and `staging/` (spill files).
//!
//! Tree `log`:
//!
//! | key | value |
//! | --- | --- |
//! | seq as big-endian `u64` (8 bytes) | one record |
//! | `FF×8 'H'` (sorts after every seq) | the head: `next_seq` BE `u64`, `last_hash` 32 bytes |
//! | `FF×8 'F'` | the log format (envelope version) the ledger was created with |
//!
//! The head is written in the same `apply_batch` as the records it covers, so the last
//! record's hash is covered by something too. Tree `snapshots`: key `next_seq_covered` BE
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
//! One process at a time: sled holds an exclusive `flock` on `DIR/db`; a second
//! [`Store::open`] (another process, or a second Store in this one) fails at once with
//! [`StoreError::Busy`] naming the holder from `owner.txt`. Readers too must wait for a writer
//! to finish (sled has no read-only mode). An open retries for up to 5 s while the lock is held
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
mod reader;
mod record;
mod spill;
mod store;
mod writer;

pub use codec::{
    agreement_content_hash, decode_blob, decode_events, encode_blob, encode_events,
    invoice_content_hash, BLOB_VERSION, MAX_BLOB_BYTES, MAX_PROFILES, MAX_STRINGS_PER_INVOICE,
    MAX_STRING_BYTES, MAX_VALUE_BYTES,
};
pub use error::StoreError;
pub use reader::{Decisions, LineVisitor, LogEntry, LogReader, ReadOptions};
pub use record::{
    parse_envelope, record_hash, Appender, EncodedRecord, Envelope, Head, RecordKind, CHUNK_LINES,
    CHUNK_SOFT_BYTES, ENVELOPE_BYTES, ENVELOPE_VERSION,
};
pub use spill::STAGING_DIR;
pub use spill::{Spill, MAX_GROUP_RECORDS};
pub use store::{SnapshotState, Store, StoredSnapshot, OWNER_FILE, SNAPSHOTS_KEPT};
pub use writer::{DEFAULT_STALL, FAULT_VAR, STALL_VAR};
