//! Errors of the store. Every message names the directory or the record (by sequence number)
//! it is about, and says what to do when there is something to do.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the ledger (sled takes an exclusive file lock).
    #[error(
        "the ledger at {} is in use by {holder}; only one process may open it at a time: wait for it to finish and try again",
        dir.display()
    )]
    Busy { dir: PathBuf, holder: String },

    /// `open_existing` found no ledger.
    #[error(
        "no ledger at {}: record an agreement or ingest invoices first, or point --data / LEDGER_DATA at an existing ledger",
        dir.display()
    )]
    NotFound { dir: PathBuf },

    /// The directory exists, holds other files and no ledger: refuse to litter it.
    #[error(
        "{} is not a ledger directory (it holds {found} but no ledger); choose an empty or new directory for --data",
        dir.display()
    )]
    NotALedger { dir: PathBuf, found: String },

    /// The ledger was written by a newer build.
    #[error(
        "the ledger at {} uses log format {found}; this build reads formats up to {supported}: upgrade the ledger binary",
        dir.display()
    )]
    Version {
        dir: PathBuf,
        found: u8,
        supported: u8,
    },

    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("database error in the ledger at {}: {source}", dir.display())]
    Sled {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },

    /// A stored record does not decode (damaged, or written by something else).
    #[error("log record {seq} cannot be decoded: {message}")]
    Decode { seq: u64, message: String },

    /// The hash chain does not hold at this record.
    #[error("hash chain broken at log record {seq}: {message}")]
    Chain { seq: u64, message: String },

    /// A line chunk in a segment file does not read back as the log references it (its
    /// bytes do not hash to the hash its chained record holds, or the file is short).
    #[error("segment file {} at offset {offset} (the line chunk of log record {seq}): {message}", path.display())]
    Segment {
        path: PathBuf,
        offset: u64,
        seq: u64,
        message: String,
    },

    /// An append that does not continue the log exactly; nothing was written.
    #[error(
        "append refused, nothing was written: {message} (the log's next record is {expected_seq})"
    )]
    Continuity { expected_seq: u64, message: String },

    /// A value the store will not encode: out of a bound, or inconsistent.
    #[error("cannot record {what}: {message}")]
    Encode { what: String, message: String },

    /// A blob (snapshot, staged record) that does not decode.
    #[error("stored blob cannot be decoded: {message}")]
    Blob { message: String },

    /// The ledger's own bookkeeping is inconsistent (e.g. the head does not match the log).
    #[error("the ledger at {} is damaged: {message}; run `ledger audit` to locate the damage", dir.display())]
    Corrupt { dir: PathBuf, message: String },

    /// A sled write made no progress within the stall limit (sled 0.34 can deadlock under
    /// load): the command stops instead of hanging.
    #[error("the ledger at {} made no progress for {seconds} s while {what} (the storage engine did not return), so the command stopped. Nothing is half-recorded: the ledger keeps whole invoices only, at most the {records} records up to head {head}. Run the same command again to complete it (what is already recorded is skipped).", dir.display())]
    Stalled {
        dir: PathBuf,
        what: &'static str,
        seconds: f64,
        records: u64,
        head: String,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn decode(seq: u64, message: impl Into<String>) -> StoreError {
        StoreError::Decode {
            seq,
            message: message.into(),
        }
    }

    pub(crate) fn encode(what: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Encode {
            what: what.into(),
            message: message.into(),
        }
    }
}
