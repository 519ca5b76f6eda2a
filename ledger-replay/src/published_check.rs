//! Audit's check of the published snapshots: every account file in `published/` is bound to
//! the log's record at its position and equal to the fold of the log at that position (for
//! its account), and the index is bound to the log and its counters equal the fold's. A
//! mismatch names the account.

use std::collections::{BTreeMap, VecDeque};

use ledger_store::published::{published_files, read_index, PublishedAccount};
use ledger_store::{decode_blob, PublishedIndex, Store, StoreError};

use crate::finding::AuditFinding;
use crate::projection::Projections;
use crate::publish::{globals, AccountSnapshot, Globals};

fn finding(seq: u64, message: String) -> AuditFinding {
    AuditFinding {
        seq,
        kind: "projections".into(),
        message,
    }
}

/// The published files still to compare, by position, and the index.
pub(crate) struct PublishedCheck {
    files: BTreeMap<u64, VecDeque<PublishedAccount>>,
    index: Option<PublishedIndex>,
    /// Positions of the files found equal to the fold.
    pub(crate) checked: Vec<u64>,
}

impl PublishedCheck {
    /// Read every published file of `store`; a file that cannot be read, or is not bound to
    /// the log's record at its position, is the first finding.
    pub(crate) fn new(store: &Store) -> Result<(PublishedCheck, Option<AuditFinding>), StoreError> {
        let mut check = PublishedCheck {
            files: BTreeMap::new(),
            index: None,
            checked: Vec::new(),
        };
        let dir = store.dir();
        let mut found = None;
        for file in published_files(dir)? {
            let account = ledger_store::published::account_of_file_name(&file.name)
                .unwrap_or_else(|| file.name.clone());
            match file.content {
                Err(why) => {
                    found = found.or(Some(finding(0, format!("the published projection snapshot of account {account} ({}) was altered or is not the ledger's: {why}", file.name))));
                }
                Ok(read) => {
                    let bound = store.position_hash(read.entry.position)?;
                    if bound != Some(read.entry.record_hash) {
                        found = found.or(Some(finding(read.entry.position.0, format!("the published projection snapshot of account {} at record {} is not bound to the log's record there (moved, or written for another log)", read.entry.account, read.entry.position.0))));
                    }
                    let at = check.files.entry(read.entry.position.0).or_default();
                    at.push_back(read);
                }
            }
        }
        match read_index(dir) {
            Ok(index) => check.index = index,
            Err(e) => {
                found = found.or(Some(finding(
                    0,
                    format!("the published projection snapshot index: {e}"),
                )))
            }
        }
        if let Some(index) = &check.index {
            let bound = store.head_before(index.next_seq).ok().map(|h| h.last_hash);
            if bound != Some(index.head_hash) {
                found = found.or(Some(finding(index.next_seq, format!("the published projection snapshot index at record {} is not bound to the log's head there", index.next_seq))));
            }
        }
        if found.is_none() {
            found = check.reached_position(0, &Projections::new());
        }
        Ok((check, found))
    }

    /// The fold has folded the decisions recorded at `decisions_seq` and reached `next_seq`:
    /// compare the files at that position, and the index if it stands there.
    pub(crate) fn reached(
        &mut self,
        decisions_seq: u64,
        next_seq: u64,
        rebuilt: &Projections,
    ) -> Option<AuditFinding> {
        if let Some(files) = self.files.remove(&decisions_seq) {
            for read in files {
                if let Some(found) = self.compare(&read, rebuilt) {
                    return Some(found);
                }
            }
        }
        self.reached_position(next_seq, rebuilt)
    }

    fn reached_position(&mut self, next_seq: u64, rebuilt: &Projections) -> Option<AuditFinding> {
        let index = self.index.as_ref()?;
        if index.next_seq != next_seq {
            return None;
        }
        let stored: Result<Globals, _> = decode_blob(&index.globals);
        match stored {
            Ok(stored) if stored == globals(rebuilt) => None,
            Ok(_) => Some(finding(next_seq, format!("the published projection snapshot index at record {next_seq} differs from the fold of the log in its counters"))),
            Err(e) => Some(finding(next_seq, format!("the published projection snapshot index at record {next_seq} cannot be decoded: {e}"))),
        }
    }

    /// One account's file at its own position, against the fold's share of that account.
    fn compare(&mut self, read: &PublishedAccount, rebuilt: &Projections) -> Option<AuditFinding> {
        let (account, at) = (&read.entry.account, read.entry.position.0);
        let position = rebuilt.positions.get(account).map(|p| p.0);
        if position != Some(at) {
            return Some(finding(at, format!("the published projection snapshot of account {account} says it stands at record {at}, which is not a decisions record of that account")));
        }
        let stored: AccountSnapshot = match decode_blob(&read.bytes) {
            Ok(stored) => stored,
            Err(e) => {
                return Some(finding(at, format!("the published projection snapshot of account {account} at record {at} cannot be decoded: {e}")))
            }
        };
        let expected = AccountSnapshot::of(rebuilt, account);
        if stored != expected {
            return Some(finding(at, format!("the published projection snapshot of account {account} at record {at} differs from the fold of the log: {}", describe(account, &stored, &expected))));
        }
        self.checked.push(at);
        None
    }

    /// After the whole log: every file and the index must have been reached.
    pub(crate) fn finish(&mut self, log_end: u64) -> Option<AuditFinding> {
        if let Some((at, files)) = self.files.iter().next() {
            let account = files
                .front()
                .map(|f| f.entry.account.as_str())
                .unwrap_or("");
            return Some(finding(*at, format!("the published projection snapshot of account {account} says it stands at record {at}, which is not a decisions record of that account in a log of {log_end} records")));
        }
        match &self.index {
            Some(index) if index.next_seq > log_end => Some(finding(index.next_seq, format!("the published projection snapshot index covers {} records, but the log has {log_end}", index.next_seq))),
            _ => None,
        }
    }
}

/// What differs between two snapshots of `account`, in words (the first few balances).
fn describe(account: &str, stored: &AccountSnapshot, expected: &AccountSnapshot) -> String {
    let (Some(a), Some(b)) = (&stored.state, &expected.state) else {
        return format!("account {account} has a state in only one of them");
    };
    let mut a_proj = Projections::default();
    let mut b_proj = Projections::default();
    a_proj
        .ledger
        .accounts
        .insert(account.to_string(), a.clone());
    b_proj
        .ledger
        .accounts
        .insert(account.to_string(), b.clone());
    let found = crate::replay::differences(&a_proj, &b_proj);
    if found.is_empty() {
        format!(
            "account {account}: its Events API, CACO transaction, spend or pending views differ"
        )
    } else {
        found.join("; ")
    }
}
