//! Opening a ledger: the newest projection snapshot, then the decisions recorded after it.
//! The log is the truth; a snapshot is only a shortcut, and one that cannot be read is
//! ignored (the fold starts from the beginning instead).

use ledger_store::{decode_blob, ReadOptions, Store, StoreError};

use crate::publish::{publish, published_at_log};

use crate::projection::Projections;

/// Why projections could not be built from the log.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("record {seq}: the recorded decisions do not fold: {error}")]
    Fold {
        seq: u64,
        error: ledger_core::CoreError,
    },
    #[error("record {seq}: {message}")]
    Damaged { seq: u64, message: String },
}

/// Projections as of the end of the log: the published per-account snapshots where the log
/// confirms them (else the newest snapshot of the format before, else nothing), plus the
/// tail.
pub fn load(store: &Store) -> Result<Projections, ReplayError> {
    let mut projections = match published_at_log(store) {
        Some(p) => p,
        None => legacy_snapshot(store)?,
    };
    if projections.next_seq > store.head().next_seq {
        tracing::warn!("the snapshot is ahead of the log; folding the whole log");
        projections = Projections::new();
    }
    fold_from(store, &mut projections)?;
    Ok(projections)
}

/// The newest snapshot of all accounts in sled's `snapshots` tree (ledgers written before
/// per-account publication), or empty projections.
fn legacy_snapshot(store: &Store) -> Result<Projections, ReplayError> {
    Ok(match store.latest_snapshot()? {
        Some((_, bytes)) => match decode_blob::<Projections>(&bytes) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(
                    "ignoring an unreadable projection snapshot ({e}); folding the whole log"
                );
                Projections::new()
            }
        },
        None => Projections::new(),
    })
}

/// Fold every entry at or after `projections.next_seq` into `projections`.
pub fn fold_from(store: &Store, projections: &mut Projections) -> Result<(), ReplayError> {
    let reader = store.reader(ReadOptions {
        from_seq: projections.next_seq,
        verify_chain: false,
    });
    for entry in reader {
        let entry = entry?;
        let Some(decisions) = &entry.decisions else {
            return Err(ReplayError::Damaged {
                seq: entry.first_seq,
                message: "a fact without its decisions".into(),
            });
        };
        projections
            .apply(&decisions.account, decisions.seq, &decisions.events)
            .map_err(|error| ReplayError::Fold {
                seq: decisions.seq,
                error,
            })?;
        projections.note_fact(&decisions.account, &entry.fact);
        projections.advance(entry.last_seq + 1);
    }
    Ok(())
}

/// Publish `projections` (the whole log, appended and flushed): the accounts that changed
/// get a new snapshot file, then the index names the set.
pub fn save_snapshot(store: &Store, projections: &Projections) -> Result<(), ReplayError> {
    publish(store, projections)?;
    Ok(())
}

/// Publish what the log holds now, folded from the last publication (a long ingest calls it
/// at its flushes, while its own projections are ahead of what is appended).
pub fn publish_log(store: &Store) -> Result<(), ReplayError> {
    let projections = load(store)?;
    publish(store, &projections)?;
    Ok(())
}
