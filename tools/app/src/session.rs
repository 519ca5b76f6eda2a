//! An open ledger: the store and its projections; and [`Failure`], what a command of the
//! binary (or the server's start-up) tells its user when it fails: a message and the exit
//! status it means. The use cases themselves return the typed [`AppError`].

use std::fmt;
use std::path::{Path, PathBuf};

use ledger_replay::load::{load, publish_log, save_snapshot, ReplayError};
use ledger_replay::publish::load_published;
use ledger_replay::write::StageError;
use ledger_replay::Projections;
use ledger_store::published::{freshness, Freshness};
use ledger_store::{Store, StoreError};

use ledger_input::InputError;

use crate::error::AppError;

/// A command failed: exit status 1 with `message` on stderr (2 for wrong usage).
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
    /// What the command wrote before it failed is still printed (a report that lists what
    /// differs, then fails): `replay`, `audit` and `reconcile` set this.
    pub keep_output: bool,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
            keep_output: false,
        }
    }
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
            keep_output: false,
        }
    }
    /// Prefix the message with where it happened.
    pub fn context(self, what: impl fmt::Display) -> Failure {
        Failure {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }

    /// Print what the command wrote before failing, too.
    pub fn keeping_output(self) -> Failure {
        Failure {
            keep_output: true,
            ..self
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<ReplayError> for Failure {
    fn from(e: ReplayError) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<StageError> for Failure {
    fn from(e: StageError) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(e.to_string())
    }
}

fn no_ledger(dir: &Path, error: StoreError) -> AppError {
    match error {
        StoreError::NotFound { .. } => AppError::NoLedger {
            dir: dir.to_path_buf(),
        },
        other => AppError::from(other),
    }
}

/// The ledger at `--data`, opened and folded to its current projections.
pub struct Session {
    pub store: Store,
    pub projections: Projections,
}

impl Session {
    /// Open for writing. Only `agreement` (and `serve`, which takes agreements over HTTP) may
    /// create a ledger: any other writer needs one to exist, so a mistyped `--data` never turns
    /// into an empty ledger, and a refused command in a new directory leaves nothing behind.
    pub fn open_for_write(dir: &Path, command: &str) -> Result<Session, AppError> {
        let store = if matches!(command, "agreement" | "serve") {
            Store::open(dir, command)?
        } else {
            Store::open_existing(dir, command).map_err(|e| no_ledger(dir, e))?
        };
        let projections = load(&store)?;
        Ok(Session { store, projections })
    }

    /// Open an existing ledger for reading.
    pub fn open_for_read(dir: &Path, command: &str) -> Result<Session, AppError> {
        let store = Store::open_existing(dir, command).map_err(|e| no_ledger(dir, e))?;
        let projections = load(&store)?;
        Ok(Session { store, projections })
    }

    /// Make what was appended durable and publish the projections (a new snapshot file for
    /// each account they changed, then the index).
    pub fn finish_writes(&self) -> Result<(), AppError> {
        self.store.flush()?;
        save_snapshot(&self.store, &self.projections)?;
        Ok(())
    }

    /// Flush what was appended and publish it, while the session's own projections may be
    /// ahead of the log (an ingest decides every invoice before it appends): the published
    /// state is the last publication folded forward over the records appended since.
    pub fn publish_committed(&self) -> Result<(), AppError> {
        self.store.flush()?;
        publish_log(&self.store)?;
        Ok(())
    }

    pub fn dir(&self) -> PathBuf {
        self.store.dir().to_path_buf()
    }
}

/// The projections a read verb shows, for the ledger at `dir`: the published snapshots when
/// they stand for the log or another process is writing it (read without the log and its
/// lock, so reads run during an ingest), else the log itself (snapshots + tail). `only`: read
/// that account's snapshot only (the others are not touched) when the published set is used.
pub fn read_projections(
    dir: &Path,
    command: &str,
    only: Option<&str>,
) -> Result<Projections, AppError> {
    if freshness(dir) != Freshness::Behind {
        match load_published(dir, only) {
            Ok(Some(projections)) => return Ok(projections),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("the published snapshots cannot be read ({e}); reading the log")
            }
        }
    }
    match Session::open_for_read(dir, command) {
        Ok(session) => Ok(session.projections),
        Err(AppError::Store(StoreError::Busy { dir: busy, holder })) => {
            match load_published(dir, only) {
                Ok(Some(projections)) => Ok(projections),
                _ => Err(AppError::Store(StoreError::Busy { dir: busy, holder })),
            }
        }
        Err(e) => Err(e),
    }
}
