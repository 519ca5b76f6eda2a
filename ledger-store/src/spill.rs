//! Staged records on a temporary file, so an ingest can encode a whole input before committing
//! any of it without holding it in memory.
//!
//! File layout, per group: `[record count u32 LE]`, then per record `[seq u64 LE][hash 32]
//! [length u32 LE][bytes][body length u32 LE][body]` (the body: a chunk reference's segment
//! frame, usually empty). The file lives in `DIR/staging/spill-PID-N.tmp`, is removed on drop,
//! and a file left by a killed process is removed by the next [`crate::Store::open`].

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codec::MAX_VALUE_BYTES;
use crate::error::StoreError;
use crate::record::EncodedRecord;

/// Where [`crate::Spill`] files live.
pub const STAGING_DIR: &str = "staging";

/// The most records one group may hold: an invoice of the most lines, in the smallest
/// chunks a line can force, plus header and decisions.
pub const MAX_GROUP_RECORDS: usize = 1 << 22;

const BUFFER_BYTES: usize = 1 << 20;

static SPILL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The pid in a spill file's name, if it is one.
pub(crate) fn spill_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("spill-")?.strip_suffix(".tmp")?;
    rest.split('-').next()?.parse().ok()
}

/// Records staged group by group (one group per atomically appended unit), read back in order.
pub struct Spill {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    group_count: u64,
    bytes: u64,
}

impl Spill {
    /// A new, empty spill file in `dir/staging/`, where `dir` is the ledger directory; a
    /// `dir` that is itself named `staging` is used as is.
    pub fn create(dir: &Path) -> Result<Spill, StoreError> {
        let staging = if dir.file_name().is_some_and(|name| name == STAGING_DIR) {
            dir.to_path_buf()
        } else {
            dir.join(STAGING_DIR)
        };
        fs::create_dir_all(&staging).map_err(|e| StoreError::io(&staging, e))?;
        let n = SPILL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = staging.join(format!("spill-{}-{n}.tmp", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Spill {
            path,
            writer: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
            group_count: 0,
            bytes: 0,
        })
    }

    /// The spill file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes staged so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn group_count(&self) -> u64 {
        self.group_count
    }

    /// Stage one group.
    pub fn push_group(&mut self, records: &[EncodedRecord]) -> Result<(), StoreError> {
        if records.len() > MAX_GROUP_RECORDS {
            return Err(StoreError::encode(
                "a staged group",
                format!("{} records; at most {MAX_GROUP_RECORDS}", records.len()),
            ));
        }
        let path = self.path.clone();
        let writer = self.writer.as_mut().ok_or_else(|| StoreError::Blob {
            message: format!("spill file {} failed earlier", path.display()),
        })?;
        let result = (|| -> std::io::Result<u64> {
            let mut written = 4u64;
            writer.write_all(&(records.len() as u32).to_le_bytes())?;
            for record in records {
                if record.bytes.len() as u64 > MAX_VALUE_BYTES {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("record {} is over {MAX_VALUE_BYTES} bytes", record.seq),
                    ));
                }
                writer.write_all(&record.seq.to_le_bytes())?;
                writer.write_all(&record.hash)?;
                writer.write_all(&(record.bytes.len() as u32).to_le_bytes())?;
                writer.write_all(&record.bytes)?;
                writer.write_all(&(record.body.len() as u32).to_le_bytes())?;
                writer.write_all(&record.body)?;
                written += 48 + record.bytes.len() as u64 + record.body.len() as u64;
            }
            Ok(written)
        })();
        match result {
            Ok(written) => {
                self.group_count += 1;
                self.bytes += written;
                Ok(())
            }
            Err(e) => {
                // A partly written group would desynchronize the file: refuse further use.
                self.writer = None;
                Err(StoreError::io(&self.path, e))
            }
        }
    }

    /// Read every group back, in order. May be called again (each call reads from the start).
    pub fn groups(
        &mut self,
    ) -> Result<impl Iterator<Item = Result<Vec<EncodedRecord>, StoreError>> + '_, StoreError> {
        let path = self.path.clone();
        let writer = self.writer.as_mut().ok_or_else(|| StoreError::Blob {
            message: format!("spill file {} failed earlier", path.display()),
        })?;
        writer.flush().map_err(|e| StoreError::io(&path, e))?;
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(SpillGroups {
            path: &self.path,
            reader: BufReader::with_capacity(BUFFER_BYTES, file),
            remaining: self.group_count,
            failed: false,
        })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        self.writer = None;
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove the spill file");
        }
    }
}

struct SpillGroups<'a> {
    path: &'a Path,
    reader: BufReader<File>,
    remaining: u64,
    failed: bool,
}

impl SpillGroups<'_> {
    fn read_group(&mut self) -> Result<Vec<EncodedRecord>, StoreError> {
        let damaged = |what: String| StoreError::Blob {
            message: format!("spill file {}: {what}", self.path.display()),
        };
        let io = |e: std::io::Error| StoreError::io(self.path, e);
        let mut u32_buf = [0u8; 4];
        self.reader.read_exact(&mut u32_buf).map_err(io)?;
        let count = u32::from_le_bytes(u32_buf) as usize;
        if count > MAX_GROUP_RECORDS {
            return Err(damaged(format!("a group of {count} records")));
        }
        let mut records = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            let mut seq = [0u8; 8];
            self.reader.read_exact(&mut seq).map_err(io)?;
            let mut hash = [0u8; 32];
            self.reader.read_exact(&mut hash).map_err(io)?;
            self.reader.read_exact(&mut u32_buf).map_err(io)?;
            let len = u32::from_le_bytes(u32_buf) as u64;
            if len > MAX_VALUE_BYTES {
                return Err(damaged(format!("a record of {len} bytes")));
            }
            let mut bytes = vec![0u8; len as usize];
            self.reader.read_exact(&mut bytes).map_err(io)?;
            self.reader.read_exact(&mut u32_buf).map_err(io)?;
            let body_len = u32::from_le_bytes(u32_buf) as u64;
            if body_len > MAX_VALUE_BYTES {
                return Err(damaged(format!("a chunk body of {body_len} bytes")));
            }
            let mut body = vec![0u8; body_len as usize];
            self.reader.read_exact(&mut body).map_err(io)?;
            records.push(EncodedRecord {
                seq: u64::from_le_bytes(seq),
                bytes,
                hash,
                body,
            });
        }
        Ok(records)
    }
}

impl Iterator for SpillGroups<'_> {
    type Item = Result<Vec<EncodedRecord>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let group = self.read_group();
        self.failed = group.is_err();
        Some(group)
    }
}
