//! The write path: decide a fact, encode it and its decisions as chained records, and record
//! the views. Nothing here touches the disk; the caller appends the records (atomically, one
//! fact at a time) once a whole input has been staged without error.

use ledger_core::{Applied, CoreError, Fact};
use ledger_store::{Appender, EncodedRecord, StoreError};

use crate::projection::Projections;

/// Why a fact could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fact decided and encoded, ready to append.
pub struct Staged {
    pub records: Vec<EncodedRecord>,
    pub applied: Applied,
    /// Seq of the fact's first record and of its decisions record.
    pub fact_seq: u64,
    pub decision_seq: u64,
}

/// Decide `fact` on `projections`, encode it with `appender`. `Ok(None)` when the fact repeats
/// one already recorded (R-IDEM-1): nothing to append. On error, `projections` must be
/// discarded (the core may have applied part of the fact).
pub fn stage(
    projections: &mut Projections,
    appender: &mut Appender,
    fact: &Fact,
) -> Result<Option<Staged>, StageError> {
    let applied = projections.ledger.apply(fact)?;
    if applied.duplicate {
        return Ok(None);
    }
    let mut records = Vec::new();
    let fact_seq = appender.fact(fact, &mut records)?;
    let decision_seq = appender.head().next_seq;
    let rulebook_version = projections
        .ledger
        .account(&applied.account)
        .map(|a| a.terms.rulebook_version)
        .unwrap_or(ledger_core::rulebook::CURRENT_VERSION);
    appender.decisions(
        &applied.account,
        rulebook_version,
        fact_seq,
        &applied.events,
        &mut records,
    )?;
    projections.record(&applied.account, decision_seq, &applied.events);
    projections.note_fact(&applied.account, fact);
    projections.advance(appender.head().next_seq);
    Ok(Some(Staged {
        records,
        applied,
        fact_seq,
        decision_seq,
    }))
}
