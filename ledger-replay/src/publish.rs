//! Projections published per account (see `ledger_store::published`): what an account's file
//! holds, writing the accounts a write changed, and reading the set back, with the log (a
//! process holding the ledger) or without it (a reader while another process writes).

use std::path::Path;

use ledger_core::{AccountState, Invoice};
use ledger_store::published::{read_account, read_index, PublishedAccount};
use ledger_store::{decode_blob, encode_blob, PublishStats, PublishedIndex, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::projection::{AccountViews, Counters, Projections};

/// One account's share of the projections: what its published file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    pub state: Option<AccountState>,
    pub views: Option<AccountViews>,
    pub pending: Option<Vec<Invoice>>,
}

/// [`AccountSnapshot`] borrowed from the projections, for encoding (same bytes).
#[derive(Serialize)]
struct AccountSnapshotRef<'a> {
    state: Option<&'a AccountState>,
    views: Option<&'a AccountViews>,
    pending: Option<&'a Vec<Invoice>>,
}

/// What the published index holds beyond the accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Globals {
    pub counters: Counters,
    pub pending_records: u64,
}

impl AccountSnapshot {
    /// `account`'s share of `projections`.
    pub fn of(projections: &Projections, account: &str) -> AccountSnapshot {
        AccountSnapshot {
            state: projections.ledger.accounts.get(account).cloned(),
            views: projections.views.get(account).cloned(),
            pending: projections.pending.get(account).cloned(),
        }
    }
}

fn encode_account(projections: &Projections, account: &str) -> Vec<u8> {
    encode_blob(&AccountSnapshotRef {
        state: projections.ledger.accounts.get(account),
        views: projections.views.get(account),
        pending: projections.pending.get(account),
    })
}

/// The globals of `projections`, as the index holds them.
pub fn globals(projections: &Projections) -> Globals {
    Globals {
        counters: projections.counters,
        pending_records: projections.pending_records,
    }
}

/// Publish `projections` (which must reflect the whole log: appended and flushed): a new file
/// for each account whose position moved since the last publication, then the index.
pub fn publish(store: &Store, projections: &Projections) -> Result<PublishStats, StoreError> {
    let accounts: Vec<_> = projections
        .positions
        .iter()
        .map(|(account, position)| (account.clone(), *position))
        .collect();
    store.publish(
        projections.next_seq,
        encode_blob(&globals(projections)),
        &accounts,
        &mut |account| encode_account(projections, account),
    )
}

/// Projections from an index and account files (all of them, or the one `only` names).
fn assemble(
    index: &PublishedIndex,
    accounts: impl IntoIterator<Item = PublishedAccount>,
) -> Result<Projections, StoreError> {
    let globals: Globals = decode_blob(&index.globals)?;
    let mut p = Projections {
        next_seq: index.next_seq,
        counters: globals.counters,
        pending_records: globals.pending_records,
        ..Projections::default()
    };
    for read in accounts {
        let snapshot: AccountSnapshot = decode_blob(&read.bytes)?;
        let account = read.entry.account;
        if let Some(state) = snapshot.state {
            p.ledger.accounts.insert(account.clone(), state);
        }
        if let Some(views) = snapshot.views {
            p.views.insert(account.clone(), views);
        }
        if let Some(pending) = snapshot.pending {
            p.pending.insert(account.clone(), pending);
        }
        p.positions.insert(account, read.entry.position);
    }
    Ok(p)
}

/// The published projections of the ledger at `dir`, read without the log or its lock:
/// every account (or only the one `only` names) as of the index's log position. `None` if
/// nothing was published. An index replaced while it is read (a writer published meanwhile)
/// is read again.
pub fn load_published(dir: &Path, only: Option<&str>) -> Result<Option<Projections>, StoreError> {
    let mut attempts = 0;
    loop {
        let Some(index) = read_index(dir)? else {
            return Ok(None);
        };
        match read_set(dir, &index, only) {
            Ok(projections) => return Ok(Some(projections)),
            Err(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && attempts < 20 =>
            {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn read_set(
    dir: &Path,
    index: &PublishedIndex,
    only: Option<&str>,
) -> Result<Projections, StoreError> {
    let mut files = Vec::new();
    for entry in &index.accounts {
        if only.is_none_or(|a| a == entry.account) {
            files.push(read_account(dir, entry)?);
        }
    }
    assemble(index, files)
}

/// The published projections where the log confirms them: the index bound to the log's
/// record at its position, and every account file to the record at the account's position.
/// `None` (with a warning) if anything does not hold: the caller folds the log instead.
pub fn published_at_log(store: &Store) -> Option<Projections> {
    match confirmed(store) {
        Ok(found) => found,
        Err(why) => {
            tracing::warn!(dir = %store.dir().display(), "ignoring the published snapshots ({why}); folding the log instead");
            None
        }
    }
}

fn confirmed(store: &Store) -> Result<Option<Projections>, String> {
    let dir = store.dir();
    let Some(index) = read_index(dir).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if index.next_seq > store.head().next_seq {
        return Err(format!(
            "the index covers {} records, the log has {}",
            index.next_seq,
            store.head().next_seq
        ));
    }
    let head = store
        .head_before(index.next_seq)
        .map_err(|e| e.to_string())?;
    if head.last_hash != index.head_hash {
        return Err("the index is not bound to the log's record at its position".into());
    }
    for entry in &index.accounts {
        let at = store
            .position_hash(entry.position)
            .map_err(|e| e.to_string())?;
        if entry.position.0 >= index.next_seq || at != Some(entry.record_hash) {
            return Err(format!(
                "account {}'s snapshot is not bound to the log's record at its position",
                entry.account
            ));
        }
    }
    read_set(dir, &index, None)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The log position of the published set, if the log confirms its index.
pub fn published_position(store: &Store) -> Option<u64> {
    let index = read_index(store.dir()).ok().flatten()?;
    let head = store.head_before(index.next_seq).ok()?;
    (head.last_hash == index.head_hash).then_some(index.next_seq)
}
