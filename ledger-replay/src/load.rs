//! Opening a ledger: the newest projection snapshot, then the decisions recorded after it.
//! The log is the truth; a snapshot is only a shortcut, and one that cannot be read is
//! ignored (the fold starts from the beginning instead).

use ledger_store::{decode_blob, encode_blob, ReadOptions, Store, StoreError};

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

/// Projections as of the end of the log: the newest snapshot plus the tail.
pub fn load(store: &Store) -> Result<Projections, ReplayError> {
    let mut projections = match store.latest_snapshot()? {
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
    };
    if projections.next_seq > store.head().next_seq {
        tracing::warn!("the snapshot is ahead of the log; folding the whole log");
        projections = Projections::new();
    }
    fold_from(store, &mut projections)?;
    Ok(projections)
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

/// Store a snapshot of `projections` at the log position they reflect.
pub fn save_snapshot(store: &Store, projections: &Projections) -> Result<(), ReplayError> {
    store.put_snapshot(projections.next_seq, &encode_blob(projections))?;
    Ok(())
}
