//! Audit's check of the stored projections: every projection snapshot kept beside the log is
//! compared with the fold of the recorded decisions at the log position it covers, its binding
//! to the chain head it names is checked, and what a read shows (the newest usable snapshot
//! plus the tail) is compared with the rebuild of the whole log. So `audit` proves everything a
//! read can show, not only the log.

use std::collections::VecDeque;

use ledger_core::Fact;
use ledger_store::{decode_blob, Decisions, SnapshotState, Store, StoreError, StoredSnapshot};

use crate::finding::AuditFinding;
use crate::load::load;
use crate::projection::Projections;
use crate::published_check::PublishedCheck;
use crate::replay::differences;

/// What the check of the stored projections found when it passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionsAudit {
    /// Whether the stored projections were compared with the rebuild (false when the audit
    /// stopped on an earlier finding).
    pub checked: bool,
    /// The chain head (hex) the stored projections were checked at: the log's head.
    pub head: String,
    /// The log positions of the stored snapshots compared with the rebuild.
    pub snapshots: Vec<u64>,
    /// Stored snapshots reads ignore and that could not be compared (written by an older
    /// version in a shape this one does not read), with why.
    pub ignored: Vec<(u64, String)>,
}

/// The fold of the recorded decisions, compared with each stored snapshot as it reaches the
/// snapshot's position.
pub struct StoredCheck {
    /// Stored snapshots not yet reached, oldest first.
    pending: VecDeque<StoredSnapshot>,
    rebuilt: Projections,
    report: ProjectionsAudit,
    /// The published per-account snapshots.
    published: PublishedCheck,
}

fn finding(seq: u64, message: String) -> AuditFinding {
    AuditFinding {
        seq,
        kind: "projections".into(),
        message,
    }
}

impl StoredCheck {
    /// Read the stored snapshots of `store`; a snapshot at position 0 is compared at once.
    pub fn new(store: &Store) -> Result<(StoredCheck, Option<AuditFinding>), StoreError> {
        let (published, found) = PublishedCheck::new(store)?;
        let mut check = StoredCheck {
            pending: store.snapshots()?.into(),
            rebuilt: Projections::new(),
            report: ProjectionsAudit::default(),
            published,
        };
        let found = found.or_else(|| check.reached(0));
        Ok((check, found))
    }

    /// Fold the decisions of the entry ending at `last_seq` (already proven equal to what
    /// the rules derive from `fact`), then compare any snapshot taken right after it.
    pub fn fold(
        &mut self,
        last_seq: u64,
        fact: &Fact,
        decisions: &Decisions,
    ) -> Option<AuditFinding> {
        self.rebuilt.note_fact(&decisions.account, fact);
        if let Err(error) = self
            .rebuilt
            .apply(&decisions.account, decisions.seq, &decisions.events)
        {
            return Some(finding(
                decisions.seq,
                format!("the recorded decisions do not fold into projections: {error}"),
            ));
        }
        self.rebuilt.advance(last_seq + 1);
        self.published
            .reached(decisions.seq, last_seq + 1, &self.rebuilt)
            .or_else(|| self.reached(last_seq + 1))
    }

    /// Compare the snapshots at `position` with the rebuild; one that falls inside an entry
    /// (not after a whole fact) was not written by the ledger.
    fn reached(&mut self, position: u64) -> Option<AuditFinding> {
        while let Some(next) = self.pending.front() {
            if next.covered > position {
                return None;
            }
            let snapshot = self.pending.pop_front().expect("a front");
            if snapshot.covered < position {
                return Some(finding(
                    snapshot.covered,
                    format!(
                        "a stored projection snapshot says it covers {} records, which is not the end of a recorded fact",
                        snapshot.covered
                    ),
                ));
            }
            if let Some(found) = self.compare(&snapshot) {
                return Some(found);
            }
        }
        None
    }

    /// One snapshot at its own position: bound to the chain, and equal to the rebuild.
    fn compare(&mut self, snapshot: &StoredSnapshot) -> Option<AuditFinding> {
        let at = snapshot.covered;
        if let SnapshotState::Damaged(why) = &snapshot.state {
            return Some(finding(
                at,
                format!("the stored projection snapshot at record {at} was altered or is not the ledger's: {why}"),
            ));
        }
        let stored = match decode_blob::<Projections>(&snapshot.bytes) {
            Ok(stored) => stored,
            Err(e) => {
                self.report.ignored.push((at, e.to_string()));
                return None;
            }
        };
        let found = differences(&stored, &self.rebuilt);
        if !found.is_empty() {
            return Some(finding(
                at,
                format!(
                    "the stored projection snapshot at record {at} differs from the fold of the log: {}",
                    found.join("; ")
                ),
            ));
        }
        self.report.snapshots.push(at);
        None
    }

    /// After the whole log: no snapshot beyond it, and what a read shows equals the rebuild.
    /// `read` is what [`load`] gives for `store`, when the caller has it; else it is loaded.
    pub fn finish(
        mut self,
        store: &Store,
        read: Option<&Projections>,
    ) -> Result<Result<ProjectionsAudit, AuditFinding>, StoreError> {
        if let Some(beyond) = self.pending.pop_front() {
            return Ok(Err(finding(
                beyond.covered,
                format!(
                    "a stored projection snapshot says it covers {} records, but the log has {}",
                    beyond.covered, self.rebuilt.next_seq
                ),
            )));
        }
        if let Some(found) = self.published.finish(self.rebuilt.next_seq) {
            return Ok(Err(found));
        }
        self.report
            .snapshots
            .extend(self.published.checked.iter().copied());
        self.report.snapshots.sort_unstable();
        let loaded;
        let read = match read {
            Some(read) => read,
            None => match load(store) {
                Ok(read) => {
                    loaded = read;
                    &loaded
                }
                Err(crate::load::ReplayError::Store(e)) => return Err(e),
                Err(e) => {
                    return Ok(Err(finding(
                        self.rebuilt.next_seq,
                        format!("the projections a read shows cannot be built: {e}"),
                    )))
                }
            },
        };
        let found = differences(read, &self.rebuilt);
        if !found.is_empty() {
            return Ok(Err(finding(
                self.rebuilt.next_seq,
                format!(
                    "the projections a read shows differ from the fold of the log: {}",
                    found.join("; ")
                ),
            )));
        }
        self.report.checked = true;
        self.report.head = store
            .head()
            .last_hash
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Ok(self.report))
    }
}
