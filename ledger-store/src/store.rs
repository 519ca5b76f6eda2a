//! The sled database: opening (one process at a time), appending, flushing, snapshots.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::codec::MAX_VALUE_BYTES;
use crate::error::StoreError;
use crate::published::{AccountPosition, PublishedEntry, PublishedIndex};
use crate::reader::{LogReader, ReadOptions};
use crate::record::seq_key;
use crate::record::{
    parse_envelope, record_hash, Appender, ChunkRefPayload, EncodedRecord, Head, RecordKind,
    ENVELOPE_VERSION,
};
use crate::segment::{ChunkLocation, SegmentCursor, SegmentWriter, FRAME_HEADER_BYTES};
use crate::spill::{spill_file_pid, STAGING_DIR};
use crate::writer::{Stalled, Writer};

/// The tree of records, keyed by big-endian seq, with the meta keys after every seq.
const LOG_TREE: &str = "log";
/// Snapshots keyed by big-endian `next_seq_covered`.
const SNAPSHOT_TREE: &str = "snapshots";
/// Meta keys live in the log tree (so the head is written in the records' batch) and sort
/// after every 8-byte seq key.
pub(crate) const HEAD_KEY: [u8; 9] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, b'H'];
const FORMAT_KEY: [u8; 9] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, b'F'];
/// The segment cursor: where the frames the log references end (segment `u32` BE, end `u64`
/// BE), written in the batch of the records that reference them.
const SEGMENT_KEY: [u8; 9] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, b'S'];
/// The file naming the process holding the ledger: `pid command`.
pub const OWNER_FILE: &str = "owner.txt";
/// How many snapshots are kept (the newest; an older one is the fallback if the newest is
/// damaged).
pub const SNAPSHOTS_KEPT: usize = 2;
/// Version byte of a snapshot value bound to the chain: `[2][checksum][head hash][bytes]`,
/// where the head hash is the hash of the last record the snapshot covers (zero for none) and
/// the checksum is blake3 keyed with that head hash over `next_seq_covered` (BE) and the bytes.
/// An edited snapshot therefore fails unless its checksum is recomputed for the head it names,
/// and a snapshot moved to another log position or another chain fails too.
const SNAPSHOT_FORMAT: u8 = 2;
/// The first snapshot format, `[1][blake3 of bytes][bytes]`: not bound to the chain, so reads
/// ignore it (the next write replaces it).
const SNAPSHOT_FORMAT_UNBOUND: u8 = 1;
/// Bytes before a bound snapshot's payload.
const SNAPSHOT_HEADER: usize = 1 + 32 + 32;
/// sled's page cache. It does not bound what sled keeps of the nodes it reads, but it does
/// bound what its write path keeps: writing 178 MB of line chunks peaks at 195 MiB with
/// 256 MiB and at 130 MiB with 16 MiB (BENCHMARKS.md, issue 13).
const CACHE_BYTES: u64 = 32 << 20;

fn encode_head(head: &Head) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&head.next_seq.to_be_bytes());
    out[8..].copy_from_slice(&head.last_hash);
    out
}

pub(crate) fn decode_head(bytes: &[u8]) -> Option<Head> {
    if bytes.len() != 40 {
        return None;
    }
    Some(Head {
        next_seq: u64::from_be_bytes(bytes[..8].try_into().ok()?),
        last_hash: bytes[8..].try_into().ok()?,
    })
}

/// The checksum of a bound snapshot (see [`SNAPSHOT_FORMAT`]).
fn snapshot_checksum(covered: u64, head_hash: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(head_hash);
    hasher.update(&covered.to_be_bytes());
    hasher.update(bytes);
    *hasher.finalize().as_bytes()
}

/// What a stored projection snapshot is worth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotState {
    /// Its checksum holds and it is bound to the chain head it covers: reads use it.
    Bound,
    /// Written before snapshots were bound to the chain (format 1): reads ignore it.
    Unbound,
    /// Its checksum, its head or its position does not hold: reads ignore it, and `audit`
    /// reports it (it was altered, or written by something other than the ledger).
    Damaged(String),
}

/// A stored projection snapshot, as [`Store::snapshots`] reads it.
#[derive(Clone, Debug)]
pub struct StoredSnapshot {
    /// The log position it reflects: every record before it.
    pub covered: u64,
    pub state: SnapshotState,
    /// The head hash it names (bound snapshots).
    pub head_hash: Option<[u8; 32]>,
    /// Its payload as stored (the projection bytes), whatever its state.
    pub bytes: Vec<u8>,
}

/// What a publication wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishStats {
    /// Accounts in the published set.
    pub accounts: usize,
    /// Account snapshot files written (the accounts that changed).
    pub written: usize,
}

/// The ledger's event log: one sled database in `dir`, held by one process at a time.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    pub(crate) log: sled::Tree,
    snapshots: sled::Tree,
    /// The head as last appended; the lock also serializes appends.
    head: Mutex<Head>,
    /// Blob files already fsynced, and whether an append since the last flush may have
    /// written one.
    blobs: Mutex<BlobSync>,
    owner_line: String,
    /// Every sled write goes through it, with a watchdog.
    writer: Writer,
    /// The segment file line chunk bodies are appended to.
    segments: Mutex<SegmentWriter>,
    /// Whether `published/UNPUBLISHED` names this process (records appended since the last
    /// publication).
    unpublished: AtomicBool,
    /// Dropped last, after the database.
    _held: HeldDir,
}

/// The blob files already written out, with their length then (a file sled was still
/// writing is written out again once it has grown).
#[derive(Default)]
struct BlobSync {
    synced: HashMap<OsString, u64>,
}

impl Store {
    /// Open or create the ledger at `dir`. Only one process may hold it: a second gets
    /// [`StoreError::Busy`] naming the holder. `command` (e.g. "ingest") is recorded in
    /// `DIR/owner.txt` for that message.
    pub fn open(dir: &Path, command: &str) -> Result<Store, StoreError> {
        if !is_ledger(dir) {
            refuse_foreign_directory(dir)?;
        }
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        Store::open_sled(dir, command)
    }

    /// Like [`Store::open`], but [`StoreError::NotFound`] if there is no ledger at `dir`.
    pub fn open_existing(dir: &Path, command: &str) -> Result<Store, StoreError> {
        if !is_ledger(dir) {
            return Err(StoreError::NotFound {
                dir: dir.to_path_buf(),
            });
        }
        Store::open_sled(dir, command)
    }

    fn open_sled(dir: &Path, command: &str) -> Result<Store, StoreError> {
        let canonical = fs::canonicalize(dir).map_err(|e| StoreError::io(dir, e))?;
        let held = HeldDir::claim(&canonical).ok_or_else(|| StoreError::Busy {
            dir: dir.to_path_buf(),
            holder: describe_holder(dir),
        })?;
        // A Store of this process that was just dropped may hold sled's lock a little longer
        // while sled's background threads finish; so does a process that was just killed
        // (until the kernel closes its files). Retry while the holder is not a live other
        // process.
        let deadline = Instant::now() + LOCK_RETRY;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_BYTES)
                .open()
            {
                Ok(db) => break db,
                Err(e) => {
                    let error = map_open_error(dir, e);
                    let retry = match &error {
                        StoreError::Busy { .. } => {
                            !owner_is_other_live_process(dir) && Instant::now() < deadline
                        }
                        _ => false,
                    };
                    if !retry {
                        return Err(error);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        let sled_err = |source| StoreError::Sled {
            dir: dir.to_path_buf(),
            source,
        };
        let log = db.open_tree(LOG_TREE).map_err(sled_err)?;
        let snapshots = db.open_tree(SNAPSHOT_TREE).map_err(sled_err)?;

        match log.get(FORMAT_KEY).map_err(sled_err)? {
            Some(v) if v.len() == 1 && v[0] <= ENVELOPE_VERSION => {}
            Some(v) if v.len() == 1 => {
                return Err(StoreError::Version {
                    dir: dir.to_path_buf(),
                    found: v[0],
                    supported: ENVELOPE_VERSION,
                });
            }
            Some(_) => {
                return Err(StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    message: "the format marker is damaged".into(),
                })
            }
            None => {
                log.insert(FORMAT_KEY, &[ENVELOPE_VERSION])
                    .map_err(sled_err)?;
            }
        }
        let head = match log.get(HEAD_KEY).map_err(sled_err)? {
            Some(v) => decode_head(&v).ok_or_else(|| StoreError::Corrupt {
                dir: dir.to_path_buf(),
                message: format!("the head marker is {} bytes, not 40", v.len()),
            })?,
            None => Head::EMPTY,
        };
        // The last record must be the one just before the head.
        let last = log
            .range(..=seq_key(u64::MAX))
            .next_back()
            .transpose()
            .map_err(sled_err)?;
        let last_seq = last
            .as_ref()
            .map(|(k, _)| k.as_ref().try_into().map(u64::from_be_bytes));
        match last_seq {
            None if head.next_seq == 0 => {}
            Some(Ok(seq)) if seq + 1 == head.next_seq => {}
            other => {
                let found = match other {
                    None => "no records".to_string(),
                    Some(Ok(seq)) => format!("records up to {seq}"),
                    Some(Err(_)) => "a malformed key".to_string(),
                };
                return Err(StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    message: format!(
                        "the head says the log has {} records but it holds {found}",
                        head.next_seq
                    ),
                });
            }
        }
        let segment_cursor = match log.get(SEGMENT_KEY).map_err(sled_err)? {
            None => SegmentCursor::EMPTY,
            Some(v) => SegmentCursor::decode(&v).ok_or_else(|| StoreError::Corrupt {
                dir: dir.to_path_buf(),
                message: "the segment cursor is damaged".into(),
            })?,
        };
        let segments = SegmentWriter::open(dir, segment_cursor)?;
        let owner_line = format!(
            "{} {}\n",
            std::process::id(),
            command.replace(['\n', '\r'], " ")
        );
        let owner_path = dir.join(OWNER_FILE);
        fs::write(&owner_path, &owner_line).map_err(|e| StoreError::io(&owner_path, e))?;
        clean_stale_spills(dir);
        Ok(Store {
            dir: dir.to_path_buf(),
            db,
            log,
            snapshots,
            head: Mutex::new(head),
            blobs: Mutex::new(BlobSync::default()),
            owner_line,
            writer: Writer::from_env(),
            segments: Mutex::new(segments),
            unpublished: AtomicBool::new(false),
            _held: held,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn head(&self) -> Head {
        *self.head.lock().expect("head lock")
    }

    /// Where the next line chunk body goes in the segment files.
    pub fn segment_cursor(&self) -> SegmentCursor {
        self.segments.lock().expect("segment lock").committed()
    }

    /// An [`Appender`] that continues this log at its head and puts line chunk bodies in
    /// segment files (the way every write of the ledger encodes invoices).
    pub fn appender(&self) -> Appender {
        Appender::new(self.head()).with_segments(self.segment_cursor())
    }

    fn sled_err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Run a sled write on the writer thread, waiting at most the stall limit; `head` is what
    /// is recorded for sure if it stalls.
    fn write(
        &self,
        what: &'static str,
        head: Head,
        job: impl FnOnce() -> Result<(), sled::Error> + Send + 'static,
    ) -> Result<(), StoreError> {
        match self.writer.run(job) {
            Ok(result) => result.map_err(|e| self.sled_err(e)),
            Err(Stalled { limit }) => Err(StoreError::Stalled {
                dir: self.dir.clone(),
                what,
                seconds: limit.as_secs_f64(),
                records: head.next_seq,
                head: head.hash_hex(),
            }),
        }
    }

    /// How long a sled write may make no progress before the command stops
    /// ([`StoreError::Stalled`]); `LEDGER_STALL_SECONDS` sets it, 60 s by default.
    pub fn set_stall_limit(&self, limit: Duration) {
        self.writer.set_limit(limit);
    }

    /// Block the `nth_write`-th sled write of this store forever, as sled's deadlock does
    /// (`LEDGER_FAULT_STALL=N` does the same). For the watchdog's tests only.
    #[doc(hidden)]
    pub fn inject_stall(&self, nth_write: u64) {
        self.writer.inject_stall(nth_write);
    }

    /// Append records atomically: one sled batch with the head meta key, so after a crash
    /// either all of them and the new head are there, or none. They must continue the head
    /// exactly (seq, prev hash, own hash) and form whole entries: the first record starts a
    /// fact and the last is a Decisions record. Does not flush.
    pub fn append(&self, records: &[EncodedRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.mark_unpublished()?;
        let mut head = self.head.lock().expect("head lock");
        let mut next = *head;
        let refuse = |message: String| StoreError::Continuity {
            expected_seq: head.next_seq,
            message,
        };
        let mut batch = sled::Batch::default();
        // Chunk references' frames, with the index of their record.
        let mut frames: Vec<(ChunkLocation, usize)> = Vec::new();
        for (i, record) in records.iter().enumerate() {
            if record.seq != next.next_seq {
                return Err(refuse(format!(
                    "record {} of the batch has seq {}, expected {}",
                    i, record.seq, next.next_seq
                )));
            }
            if record.bytes.len() as u64 > MAX_VALUE_BYTES {
                return Err(refuse(format!(
                    "record {} is {} bytes; at most {MAX_VALUE_BYTES}",
                    record.seq,
                    record.bytes.len()
                )));
            }
            let envelope =
                parse_envelope(record.seq, &record.bytes).map_err(|e| refuse(e.to_string()))?;
            if envelope.prev_hash != next.last_hash {
                return Err(refuse(format!("record {} does not chain to the log: its prev hash is not the hash of record {}", record.seq, record.seq as i128 - 1)));
            }
            if record_hash(&record.bytes) != record.hash {
                return Err(refuse(format!(
                    "record {}'s hash does not match its bytes",
                    record.seq
                )));
            }
            if i == 0 && !envelope.kind.starts_fact() {
                return Err(refuse(format!(
                    "the batch starts with a {} record; it must start with a fact",
                    envelope.kind.name()
                )));
            }
            if i == records.len() - 1 && envelope.kind != RecordKind::Decisions {
                return Err(refuse(format!(
                    "the batch ends with a {} record; it must end with the decisions, so no fact is ever recorded without them",
                    envelope.kind.name()
                )));
            }
            if envelope.kind == RecordKind::ChunkRef {
                frames.push((check_frame(record, envelope.payload).map_err(refuse)?, i));
            } else if !record.body.is_empty() {
                return Err(refuse(format!(
                    "record {} is a {} record but carries a segment frame",
                    record.seq,
                    envelope.kind.name()
                )));
            }
            batch.insert(&seq_key(record.seq), record.bytes.as_slice());
            next = Head {
                next_seq: record.seq + 1,
                last_hash: record.hash,
            };
        }
        batch.insert(&HEAD_KEY, &encode_head(&next)[..]);
        let mut segments = self.segments.lock().expect("segment lock");
        if !frames.is_empty() {
            let written = write_frames(&mut segments, records, &frames);
            let cursor = match written {
                Ok(cursor) => cursor,
                Err(e) => {
                    segments.roll_back();
                    return Err(e);
                }
            };
            batch.insert(&SEGMENT_KEY, &cursor.encode()[..]);
        }
        let log = self.log.clone();
        match self.write("appending", *head, move || log.apply_batch(batch)) {
            Ok(()) => {}
            Err(e) => {
                if !self.writer.stalled() {
                    segments.roll_back();
                }
                return Err(e);
            }
        }
        if segments.has_uncommitted() {
            segments.commit();
        }
        *head = next;
        Ok(())
    }

    /// Note in `published/UNPUBLISHED` that this process appends records the published
    /// snapshots do not show yet (once per publication).
    fn mark_unpublished(&self) -> Result<(), StoreError> {
        if !self.unpublished.swap(true, Ordering::AcqRel) {
            crate::published::mark_unpublished(&self.dir)?;
        }
        Ok(())
    }

    /// The hash of the record an account snapshot at `position` is bound to (its last
    /// decisions record); `None` if the log has no such record.
    pub fn position_hash(&self, position: AccountPosition) -> Result<Option<[u8; 32]>, StoreError> {
        if position.0 >= self.head().next_seq {
            return Ok(None);
        }
        Ok(self.head_before(position.0 + 1).ok().map(|h| h.last_hash))
    }

    /// Publish the projections at log position `next_seq` (the caller publishes only what is
    /// appended and flushed): `accounts` are every account with its position; the file of an
    /// account whose position is unchanged since the last publication (that set bound to this
    /// log, the file present) is kept without reading the log, the others are written with
    /// `encode(account)`, bound to the hash of the log record at their position. `globals`
    /// goes into the index. Clears the unpublished mark when the set reaches the head.
    pub fn publish(
        &self,
        next_seq: u64,
        globals: Vec<u8>,
        accounts: &[(String, AccountPosition)],
        encode: &mut dyn FnMut(&str) -> Vec<u8>,
    ) -> Result<PublishStats, StoreError> {
        let head_hash = self.head_before(next_seq)?.last_hash;
        let previous = crate::published::read_index(&self.dir).ok().flatten();
        // The previous set's entries are trusted (no read of the log per unchanged account)
        // only if that set is bound to this log.
        let bound = previous.as_ref().is_some_and(|p| {
            self.head_before(p.next_seq)
                .is_ok_and(|h| h.last_hash == p.head_hash)
        });
        let before: HashMap<&str, &PublishedEntry> = previous
            .iter()
            .filter(|_| bound)
            .flat_map(|p| &p.accounts)
            .map(|e| (e.account.as_str(), e))
            .collect();
        let folder = crate::published::published_dir(&self.dir);
        let mut index = PublishedIndex {
            next_seq,
            head_hash,
            accounts: Vec::with_capacity(accounts.len()),
            globals,
        };
        let mut fresh = Vec::new();
        for (account, position) in accounts {
            if let Some(kept) = before.get(account.as_str()).filter(|e| {
                e.position == *position
                    && folder
                        .join(crate::published::account_file_name(account, *position))
                        .is_file()
            }) {
                index.accounts.push((*kept).clone());
                continue;
            }
            let record_hash = self.position_hash(*position)?.ok_or_else(|| {
                StoreError::encode(
                    format!("the snapshot of account {account}"),
                    format!("its position {} is not in the log", position.0),
                )
            })?;
            let entry = PublishedEntry {
                account: account.clone(),
                position: *position,
                record_hash,
            };
            fresh.push((entry.clone(), encode(account)));
            index.accounts.push(entry);
        }
        crate::published::write_set(&self.dir, &index, &fresh, previous.as_ref())?;
        // The set reaches the head: nothing appended is unpublished, whoever appended it (a
        // mark left by a killed process is cleared too).
        if next_seq == self.head().next_seq {
            self.unpublished.store(false, Ordering::Release);
            crate::published::clear_unpublished(&self.dir)?;
        }
        Ok(PublishStats {
            accounts: accounts.len(),
            written: fresh.len(),
        })
    }

    /// Make everything appended durable: an fsync of every blob file sled wrote since the last
    /// flush (sled writes a value, or a tree node, over ~128 KiB to its own file under
    /// `blobs/` and never fsyncs it; our line chunks stay under that, but a leaf node of
    /// several chunks does not), then sled's flush of its main log (`sync_file_range`).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.sync_blobs()?;
        let db = self.db.clone();
        self.write("flushing", self.head(), move || db.flush().map(|_| ()))?;
        self.sync_blobs()
    }

    fn sync_blobs(&self) -> Result<(), StoreError> {
        let mut blobs = self.blobs.lock().expect("blob lock");
        let blob_dir = self.dir.join("blobs");
        let entries = match fs::read_dir(&blob_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(&blob_dir, e)),
        };
        let mut present = HashMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&blob_dir, e))?;
            let name = entry.file_name();
            let path = entry.path();
            let len = match fs::metadata(&path) {
                Ok(meta) => meta.len(),
                // sled removed it meanwhile: nothing to make durable.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(&path, e)),
            };
            if blobs.synced.get(&name) != Some(&len) {
                match fs::File::open(&path) {
                    Ok(file) => write_out(&file).map_err(|e| StoreError::io(&path, e))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io(&path, e)),
                }
            }
            present.insert(name, len);
        }
        blobs.synced = present;
        Ok(())
    }

    /// Store a snapshot that reflects the records before `next_seq_covered`, bound to the
    /// chain head it covers, keep the newest [`SNAPSHOTS_KEPT`], and flush.
    pub fn put_snapshot(&self, next_seq_covered: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let head = self.head();
        if next_seq_covered > head.next_seq {
            return Err(StoreError::encode(
                format!("a snapshot at record {next_seq_covered}"),
                format!(
                    "the log ends at record {}; a snapshot cannot cover records not in it",
                    head.next_seq
                ),
            ));
        }
        let covered_head = self.head_before(next_seq_covered)?.last_hash;
        let mut value = Vec::with_capacity(SNAPSHOT_HEADER + bytes.len());
        value.push(SNAPSHOT_FORMAT);
        value.extend_from_slice(&snapshot_checksum(next_seq_covered, &covered_head, bytes));
        value.extend_from_slice(&covered_head);
        value.extend_from_slice(bytes);
        let snapshots = self.snapshots.clone();
        self.write("storing a snapshot", head, move || {
            snapshots.insert(seq_key(next_seq_covered), value)?;
            let keys: Vec<sled::IVec> = snapshots.iter().keys().collect::<Result<_, _>>()?;
            if keys.len() > SNAPSHOTS_KEPT {
                for key in &keys[..keys.len() - SNAPSHOTS_KEPT] {
                    snapshots.remove(key)?;
                }
            }
            Ok(())
        })?;
        self.flush()
    }

    /// The newest bound, intact snapshot, as `(next_seq_covered, bytes)`. Any other (bad
    /// checksum, bound to another head, beyond the log's end, or unbound) is skipped with a
    /// warning in favour of an older one: snapshots are derived data, the log is the truth.
    pub fn latest_snapshot(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        for item in self.snapshots.iter().rev() {
            let (key, value) = item.map_err(|e| self.sled_err(e))?;
            let snapshot = self.check_snapshot(&key, &value)?;
            match snapshot.state {
                SnapshotState::Bound => return Ok(Some((snapshot.covered, snapshot.bytes))),
                SnapshotState::Unbound => {
                    tracing::warn!(dir = %self.dir.display(), covered = snapshot.covered, "skipping a snapshot written before snapshots were bound to the log; the log is folded instead");
                }
                SnapshotState::Damaged(why) => {
                    tracing::warn!(dir = %self.dir.display(), covered = snapshot.covered, "skipping a damaged snapshot ({why}); an older one or a full replay is used instead");
                }
            }
        }
        Ok(None)
    }

    /// Every stored snapshot, oldest first, each with what it is worth (for `audit`).
    pub fn snapshots(&self) -> Result<Vec<StoredSnapshot>, StoreError> {
        let mut out = Vec::new();
        for item in self.snapshots.iter() {
            let (key, value) = item.map_err(|e| self.sled_err(e))?;
            out.push(self.check_snapshot(&key, &value)?);
        }
        Ok(out)
    }

    /// Judge one stored snapshot value against the log.
    fn check_snapshot(&self, key: &[u8], value: &[u8]) -> Result<StoredSnapshot, StoreError> {
        let covered = <[u8; 8]>::try_from(key)
            .map(u64::from_be_bytes)
            .unwrap_or(u64::MAX);
        let damaged = |why: String, head_hash, bytes: &[u8]| StoredSnapshot {
            covered,
            state: SnapshotState::Damaged(why),
            head_hash,
            bytes: bytes.to_vec(),
        };
        if covered == u64::MAX {
            return Ok(damaged("its key is malformed".into(), None, &[]));
        }
        if value.first() == Some(&SNAPSHOT_FORMAT_UNBOUND) && value.len() >= 33 {
            return Ok(StoredSnapshot {
                covered,
                state: SnapshotState::Unbound,
                head_hash: None,
                bytes: value[33..].to_vec(),
            });
        }
        if value.first() != Some(&SNAPSHOT_FORMAT) || value.len() < SNAPSHOT_HEADER {
            return Ok(damaged(
                "its format byte or length is not a snapshot's".into(),
                None,
                value.get(1..).unwrap_or(&[]),
            ));
        }
        let checksum = &value[1..33];
        let head_hash: [u8; 32] = value[33..SNAPSHOT_HEADER].try_into().expect("32 bytes");
        let bytes = &value[SNAPSHOT_HEADER..];
        if snapshot_checksum(covered, &head_hash, bytes) != checksum {
            return Ok(damaged(
                format!("its checksum does not match its contents for record {covered} and the head it names"),
                Some(head_hash),
                bytes,
            ));
        }
        if covered > self.head().next_seq {
            return Ok(damaged(
                format!(
                    "it covers {covered} records but the log has {}",
                    self.head().next_seq
                ),
                Some(head_hash),
                bytes,
            ));
        }
        let why = match self.head_before(covered) {
            Ok(head) if head.last_hash == head_hash => None,
            Ok(_) => Some(format!(
                "the head it names is not the hash of record {}",
                covered as i128 - 1
            )),
            Err(e) => Some(format!("its head cannot be checked: {e}")),
        };
        if let Some(why) = why {
            return Ok(damaged(why, Some(head_hash), bytes));
        }
        Ok(StoredSnapshot {
            covered,
            state: SnapshotState::Bound,
            head_hash: Some(head_hash),
            bytes: bytes.to_vec(),
        })
    }

    /// Cut the log after `next_seq` records as an attacker with the files would: remove the
    /// later records and the snapshots beyond, and rewrite the head to the record before. For
    /// tamper tests only.
    #[doc(hidden)]
    pub fn raw_truncate(&self, next_seq: u64) -> Result<(), StoreError> {
        let new_head = self.head_before(next_seq)?;
        let mut head = self.head.lock().expect("head lock");
        for seq in next_seq..head.next_seq {
            self.log
                .remove(seq_key(seq))
                .map_err(|e| self.sled_err(e))?;
        }
        self.log
            .insert(HEAD_KEY, &encode_head(&new_head)[..])
            .map_err(|e| self.sled_err(e))?;
        for key in self.snapshots.range(seq_key(next_seq + 1)..).keys() {
            let key = key.map_err(|e| self.sled_err(e))?;
            self.snapshots.remove(key).map_err(|e| self.sled_err(e))?;
        }
        *head = new_head;
        drop(head);
        crate::published::drop_beyond(&self.dir, next_seq);
        self.mark_unpublished()
    }

    /// The stored value of the snapshot at `covered`, as is. For tamper tests.
    #[doc(hidden)]
    pub fn raw_snapshot_get(&self, covered: u64) -> Option<Vec<u8>> {
        self.snapshots
            .get(seq_key(covered))
            .ok()
            .flatten()
            .map(|v| v.to_vec())
    }

    /// Overwrite the stored value of the snapshot at `covered` without any check. For tamper
    /// tests only.
    #[doc(hidden)]
    pub fn raw_snapshot_put(&self, covered: u64, value: &[u8]) -> Result<(), StoreError> {
        self.snapshots
            .insert(seq_key(covered), value)
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    /// Read the log from `options.from_seq` (which must be the first record of a fact: 0, or
    /// a `next_seq_covered` of a snapshot, or a `LogEntry::last_seq + 1`).
    pub fn reader(&self, options: ReadOptions) -> LogReader<'_> {
        LogReader::new(
            &self.log,
            self.dir(),
            self.stored_head(),
            self.head(),
            options,
        )
    }

    /// The head as it was just before record `seq` was appended: `next_seq = seq` and the hash
    /// of record `seq - 1` (zero for 0). With it an [`crate::Appender`] re-encodes a recorded
    /// fact byte for byte (audit).
    pub fn head_before(&self, seq: u64) -> Result<Head, StoreError> {
        let head = self.head();
        if seq > head.next_seq {
            return Err(StoreError::decode(
                seq,
                format!("the log has only {} records", head.next_seq),
            ));
        }
        if seq == head.next_seq {
            return Ok(head);
        }
        if seq == 0 {
            return Ok(Head::EMPTY);
        }
        let before = self
            .log
            .get(seq_key(seq - 1))
            .map_err(|e| self.sled_err(e))?
            .ok_or_else(|| StoreError::Chain {
                seq: seq - 1,
                message: format!(
                    "record {} is missing (the head says the log has {} records)",
                    seq - 1,
                    head.next_seq
                ),
            })?;
        Ok(Head {
            next_seq: seq,
            last_hash: record_hash(&before),
        })
    }

    /// Bytes the data directory takes on disk (allocated blocks, as `du` counts them).
    pub fn disk_bytes(&self) -> u64 {
        dir_disk_bytes(&self.dir)
    }

    /// The first record at or after `seq` that starts a fact (an agreement, an invoice header
    /// or a close), for readers that split the log between threads. Looks at most
    /// `max_records` records; `None` if there is none that close (or at the end of the log).
    pub fn fact_start_at_or_after(&self, seq: u64, max_records: u64) -> Option<u64> {
        let end = self.head().next_seq.min(seq.saturating_add(max_records));
        (seq..end).find(|&s| {
            let Ok(Some(value)) = self.log.get(seq_key(s)) else {
                return false;
            };
            crate::record::parse_envelope(s, &value).is_ok_and(|e| e.kind.starts_fact())
        })
    }

    /// The stored value of record `seq`, as is. For tamper tests.
    #[doc(hidden)]
    pub fn raw_get(&self, seq: u64) -> Option<Vec<u8>> {
        self.log
            .get(seq_key(seq))
            .ok()
            .flatten()
            .map(|v| v.to_vec())
    }

    /// Overwrite the stored value of record `seq` without any check or head update. For
    /// tamper tests only.
    #[doc(hidden)]
    pub fn raw_put(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.mark_unpublished()?;
        self.log
            .insert(seq_key(seq), bytes)
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub(crate) fn stored_head(&self) -> Result<Head, StoreError> {
        match self.log.get(HEAD_KEY).map_err(|e| self.sled_err(e))? {
            None => Ok(Head::EMPTY),
            Some(v) => decode_head(&v).ok_or_else(|| StoreError::Corrupt {
                dir: self.dir.clone(),
                message: "the head marker is damaged".into(),
            }),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.writer.stalled() {
            // sled flushes when its last handle to a tree goes, and that flush would wait on
            // the lock the stalled write holds: keep the handles for the life of the process
            // (it is about to exit) and leave recovery to the next open.
            std::mem::forget((self.db.clone(), self.log.clone(), self.snapshots.clone()));
        } else if let Err(e) = self.db.flush() {
            tracing::warn!(dir = %self.dir.display(), error = %e, "flush on close failed");
        }
        let owner_path = self.dir.join(OWNER_FILE);
        // Remove the owner file only if it is still ours.
        if fs::read_to_string(&owner_path)
            .map(|s| s == self.owner_line)
            .unwrap_or(false)
        {
            let _ = fs::remove_file(&owner_path);
        }
    }
}

/// A chunk reference's frame must be the body its record names: its length and hash.
fn check_frame(record: &EncodedRecord, payload: &[u8]) -> Result<ChunkLocation, String> {
    let reference: ChunkRefPayload = crate::codec::decode_record_payload(payload)
        .map_err(|m| format!("record {}: {m}", record.seq))?;
    let header = FRAME_HEADER_BYTES as usize;
    let body = &record.body;
    let fits = body.len() == header + reference.len as usize
        && body[..4] == reference.len.to_le_bytes()
        && body[4..header] == reference.hash
        && blake3::hash(&body[header..]).as_bytes() == &reference.hash;
    if !fits {
        return Err(format!(
            "record {} references a line chunk its segment frame does not hold",
            record.seq
        ));
    }
    Ok(reference.location())
}

/// Write a batch's frames to the segment files and make them durable; the cursor after them.
fn write_frames(
    segments: &mut SegmentWriter,
    records: &[EncodedRecord],
    frames: &[(ChunkLocation, usize)],
) -> Result<SegmentCursor, StoreError> {
    for (location, i) in frames {
        segments.write(*location, &records[*i].body)?;
    }
    segments.sync()?;
    let last = frames.last().expect("at least one frame").0;
    Ok(SegmentCursor {
        segment: last.segment,
        end: last.end(),
    })
}

/// Whether `dir` holds a sled database (its `db` and `conf` files).
fn is_ledger(dir: &Path) -> bool {
    dir.join("db").is_file() && dir.join("conf").is_file()
}

/// A directory that exists, holds other things and no ledger is not ours to fill.
fn refuse_foreign_directory(dir: &Path) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(StoreError::NotALedger {
                dir: dir.to_path_buf(),
                found: "a file of that name".into(),
            })
        }
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != OWNER_FILE && name != STAGING_DIR {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let shown: Vec<String> = foreign.iter().take(3).map(|n| format!("'{n}'")).collect();
    let more = if foreign.len() > 3 {
        format!(" and {} more", foreign.len() - 3)
    } else {
        String::new()
    };
    Err(StoreError::NotALedger {
        dir: dir.to_path_buf(),
        found: format!("{}{more}", shown.join(", ")),
    })
}

/// How long an open waits for a lock held by this process's just-dropped Store or by a
/// process that no longer runs.
const LOCK_RETRY: Duration = Duration::from_secs(5);

/// The directories held by a live Store of this process.
static HELD_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A claim on a directory for the life of a Store of this process.
struct HeldDir(PathBuf);

impl HeldDir {
    fn claim(canonical: &Path) -> Option<HeldDir> {
        let mut held = HELD_DIRS.lock().unwrap_or_else(|e| e.into_inner());
        if held.iter().any(|d| d == canonical) {
            return None;
        }
        held.push(canonical.to_path_buf());
        Some(HeldDir(canonical.to_path_buf()))
    }
}

impl Drop for HeldDir {
    fn drop(&mut self) {
        let mut held = HELD_DIRS.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|d| *d != self.0);
    }
}

/// Whether `DIR/owner.txt` names a running process other than this one.
fn owner_is_other_live_process(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(OWNER_FILE)) else {
        return false;
    };
    let Some(pid) = text
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
}

fn map_open_error(dir: &Path, error: sled::Error) -> StoreError {
    let locked = match &error {
        sled::Error::Io(e) => {
            e.to_string().contains("could not acquire lock")
                || e.kind() == std::io::ErrorKind::WouldBlock
        }
        _ => false,
    };
    if !locked {
        return StoreError::Sled {
            dir: dir.to_path_buf(),
            source: error,
        };
    }
    let holder = describe_holder(dir);
    StoreError::Busy {
        dir: dir.to_path_buf(),
        holder,
    }
}

/// Write a file's dirty pages out and wait for them, as sled does for its main log
/// (`sync_file_range` with WAIT_BEFORE | WRITE | WAIT_AFTER): the same durability for blob
/// files as for the log that points to them, without a journal commit per file.
#[allow(unsafe_code)] // the one system call std does not offer
fn write_out(file: &fs::File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: sync_file_range only reads its integer arguments; the descriptor is open
        // for the duration of the call (borrowed from `file`).
        let ret = unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                0,
                0,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            )
        };
        if ret == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ENOSYS) {
            return Err(error);
        }
    }
    file.sync_all()
}

/// Who holds the ledger, from `DIR/owner.txt`.
fn describe_holder(dir: &Path) -> String {
    let text = fs::read_to_string(dir.join(OWNER_FILE)).unwrap_or_default();
    let text = text.trim();
    let (pid, command) = text.split_once(' ').unwrap_or((text, ""));
    let who = match pid.parse::<u32>() {
        Ok(pid) if pid == std::process::id() => format!("this process (pid {pid}"),
        Ok(pid) => format!("another process (pid {pid}"),
        Err(_) => return "another process".to_string(),
    };
    if command.is_empty() {
        format!("{who})")
    } else {
        format!("{who}, `ledger {command}`)")
    }
}

/// Remove spill files left by processes that no longer run (killed mid-ingest).
fn clean_stale_spills(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir.join(STAGING_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = spill_file_pid(&name) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn dir_disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return own;
    };
    own + entries
        .flatten()
        .map(|e| dir_disk_bytes(&e.path()))
        .sum::<u64>()
}
