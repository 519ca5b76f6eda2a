//! Re-deriving an account from the log under a newer rulebook: what `ledger resettle` records
//! and what `ledger audit` checks a recorded resettle against. One implementation for both.

use ledger_core::resettle::{corrections, Correction, Rederivation};
use ledger_core::state::AccountState;
use ledger_core::{CoreError, Fact};
use ledger_store::{ReadOptions, Store, StoreError};

/// Why a re-derivation failed.
#[derive(Debug, thiserror::Error)]
pub enum ResettleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// `account` as rulebook `version` derives it from every fact recorded before record
/// `before_seq` (`None` if no fact before it opened the account).
pub fn rederive(
    store: &Store,
    account: &str,
    version: u16,
    before_seq: u64,
) -> Result<Option<AccountState>, ResettleError> {
    let mut rederivation = Rederivation::new(account, version)?;
    for entry in store.reader(ReadOptions {
        from_seq: 0,
        verify_chain: false,
    }) {
        let entry = entry?;
        if entry.first_seq >= before_seq {
            break;
        }
        rederivation.apply(&entry.fact)?;
    }
    Ok(rederivation.finish())
}

/// The corrections a resettle of `current` under `version` calls for, re-deriving from the
/// facts recorded before `before_seq`.
pub fn corrections_for(
    store: &Store,
    current: &AccountState,
    version: u16,
    before_seq: u64,
) -> Result<Vec<Correction>, ResettleError> {
    let rederived = rederive(store, &current.account, version, before_seq)?.ok_or_else(|| {
        CoreError::UnknownAccount {
            account: current.account.clone(),
        }
    })?;
    Ok(corrections(current, &rederived)?)
}

/// The resettle fact for `current` at the end of the log, or `None` when it would record
/// nothing: the account already settles under `version` and nothing differs (so a second
/// resettle appends nothing).
pub fn plan(
    store: &Store,
    current: &AccountState,
    version: u16,
) -> Result<Option<Fact>, ResettleError> {
    let corrections = corrections_for(store, current, version, store.head().next_seq)?;
    if corrections.is_empty() && current.terms.rulebook_version == version {
        return Ok(None);
    }
    Ok(Some(Fact::Resettle {
        account: current.account.clone(),
        version,
        corrections,
    }))
}
