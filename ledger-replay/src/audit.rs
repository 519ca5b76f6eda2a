//! `ledger audit`: prove the log untampered and every decision derived from the facts.
//!
//! Two checks in one pass: the hash chain (every record's hash is the next record's previous
//! hash, the last is the head), and re-derivation (the core re-decides every recorded fact,
//! from an empty ledger, and the encoded decisions must equal the recorded bytes exactly).
//! The recorded decisions are folded on the way, and every stored projection snapshot, and
//! what a read shows, is compared with that fold ([`crate::stored`]).

use std::time::Instant;

use ledger_core::{Fact, Ledger};
use ledger_store::{encode_events, ReadOptions, Store, StoreError};

use crate::anchor::{Anchor, AnchorCheck};
use crate::projection::Projections;
use crate::stored::{ProjectionsAudit, StoredCheck};

pub use crate::finding::AuditFinding;

/// What an audit checked.
#[derive(Clone, Debug)]
pub struct AuditReport {
    pub records: u64,
    pub facts: u64,
    pub lines: u64,
    pub events: u64,
    pub seconds: f64,
    pub lines_per_second: f64,
    /// The head hash the chain ends in (hex), when the chain is whole.
    pub head_hash: String,
    /// The stored projections compared with the rebuild.
    pub projections: ProjectionsAudit,
    /// Where the head `--expect-head` named was found.
    pub expected_head: Option<AnchorCheck>,
    pub finding: Option<AuditFinding>,
}

impl AuditReport {
    pub fn passed(&self) -> bool {
        self.finding.is_none()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entries queued between the reading thread and the checking one: none (a hand-over), so at
/// most two decoded entries are alive, the one being checked and the one read next (an
/// entry may be an invoice of up to `MAX_LINES_PER_INVOICE` lines; issue 13).
const ENTRIES_IN_FLIGHT: usize = 0;

/// Audit the whole log.
pub fn audit(store: &Store) -> Result<AuditReport, StoreError> {
    audit_expecting(store, None)
}

/// Audit the whole log; with `expected_head`, the log must also contain that head (the hash
/// of a record that ends an entry) with its chain intact up to it.
pub fn audit_expecting(
    store: &Store,
    expected_head: Option<[u8; 32]>,
) -> Result<AuditReport, StoreError> {
    audit_with(store, expected_head, None)
}

/// Audit as [`audit_expecting`] does, with `read`: what a read shows, the projections
/// [`crate::load::load`] gave for this store when the command opened it (nothing can append in
/// between: the store is locked). They are compared with the rebuild instead of loading them
/// again, which would decode the newest snapshot once more.
pub fn audit_read(
    store: &Store,
    expected_head: Option<[u8; 32]>,
    read: &Projections,
) -> Result<AuditReport, StoreError> {
    audit_with(store, expected_head, Some(read))
}

/// The audit; `read`, when given, is what [`crate::load::load`] gives for `store`.
fn audit_with(
    store: &Store,
    expected_head: Option<[u8; 32]>,
    read: Option<&Projections>,
) -> Result<AuditReport, StoreError> {
    let mut anchor = expected_head.map(Anchor::new);
    let started = Instant::now();
    let mut report = AuditReport {
        records: 0,
        facts: 0,
        lines: 0,
        events: 0,
        seconds: 0.0,
        lines_per_second: 0.0,
        head_hash: String::new(),
        projections: ProjectionsAudit::default(),
        expected_head: None,
        finding: None,
    };
    let mut ledger = Ledger::new();
    let (mut stored, found) = StoredCheck::new(store)?;
    report.finding = found;
    // One thread reads, decodes and verifies the chain; this one re-derives and compares. The
    // reader hands entries over in log order and stops at its first error, so the first
    // finding is still the first in the log; at most a few entries are in flight.
    let outcome = std::thread::scope(|scope| -> Result<(), StoreError> {
        let (read, to_check) = std::sync::mpsc::sync_channel(ENTRIES_IN_FLIGHT);
        scope.spawn(move || {
            for entry in store.reader(ReadOptions {
                from_seq: 0,
                verify_chain: true,
            }) {
                let failed = entry.is_err();
                // A closed channel means the checker found something and stopped.
                if read.send(entry).is_err() || failed {
                    break;
                }
            }
        });
        for entry in to_check {
            if report.finding.is_some() {
                break;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(StoreError::Chain { seq, message }) => {
                    report.finding = Some(AuditFinding {
                        seq,
                        kind: "chain".into(),
                        message,
                    });
                    break;
                }
                Err(StoreError::Decode { seq, message }) => {
                    report.finding = Some(AuditFinding {
                        seq,
                        kind: "decode".into(),
                        message,
                    });
                    break;
                }
                Err(error @ StoreError::Segment { seq, .. }) => {
                    report.finding = Some(AuditFinding {
                        seq,
                        kind: "segment".into(),
                        message: error.to_string(),
                    });
                    break;
                }
                Err(other) => return Err(other),
            };
            report.records += entry.record_count;
            report.facts += 1;
            if let Fact::Invoice(inv) = &entry.fact {
                report.lines += inv.lines.len() as u64;
            }
            let Some(recorded) = &entry.decisions else {
                report.finding = Some(AuditFinding {
                    seq: entry.first_seq,
                    kind: "decisions".into(),
                    message: "a fact without its decisions".into(),
                });
                break;
            };
            report.events += recorded.events.len() as u64;
            if let Some(message) = check_resettle(store, &ledger, &entry.fact, entry.first_seq)? {
                report.finding = Some(AuditFinding {
                    seq: entry.first_seq,
                    kind: "decisions".into(),
                    message,
                });
                break;
            }
            let applied = match ledger.apply(&entry.fact) {
                Ok(applied) => applied,
                Err(e) => {
                    report.finding = Some(AuditFinding {
                        seq: entry.first_seq,
                        kind: "refused".into(),
                        message: format!(
                            "the core refuses the recorded {}: {e}",
                            describe_fact(&entry.fact)
                        ),
                    });
                    break;
                }
            };
            if applied.duplicate {
                report.finding = Some(AuditFinding {
                    seq: entry.first_seq,
                    kind: "decisions".into(),
                    message: format!(
                        "the recorded {} repeats an earlier fact; it should not have been recorded",
                        describe_fact(&entry.fact)
                    ),
                });
                break;
            }
            let rederived = encode_events(&applied.events);
            let version = ledger
                .account(&applied.account)
                .map(|a| a.terms.rulebook_version)
                .unwrap_or(0);
            if rederived != recorded.events_bytes
                || applied.account != recorded.account
                || version != recorded.rulebook_version
            {
                report.finding = Some(AuditFinding {
                    seq: recorded.seq,
                    kind: "decisions".into(),
                    message: format!(
                        "the decisions recorded for the {} differ from what the rules derive: {}",
                        describe_fact(&entry.fact),
                        first_difference(
                            &recorded.events,
                            &applied.events,
                            (&recorded.account, recorded.rulebook_version),
                            (&applied.account, version)
                        )
                    ),
                });
                break;
            }
            report.finding = stored.fold(entry.last_seq, &entry.fact, recorded);
            if let Some(anchor) = &mut anchor {
                anchor.see(entry.last_seq + 1, &entry.last_hash);
            }
        }
        Ok(())
    });
    outcome?;
    if report.finding.is_none() {
        match stored.finish(store, read)? {
            Ok(projections) => report.projections = projections,
            Err(found) => report.finding = Some(found),
        }
    }
    if let (Some(anchor), None) = (&anchor, &report.finding) {
        let head = store.head();
        match anchor.finish(head.next_seq, &hex(&head.last_hash)) {
            Ok(found) => report.expected_head = Some(found),
            Err(found) => report.finding = Some(found),
        }
    }
    if report.finding.is_none() {
        report.head_hash = hex(&store.head().last_hash);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.lines_per_second = if report.seconds > 0.0 {
        report.lines as f64 / report.seconds
    } else {
        0.0
    };
    Ok(report)
}

fn describe_fact(fact: &Fact) -> String {
    match fact {
        Fact::Agreement { agreement, .. } => format!("agreement of account {}", agreement.account),
        Fact::Invoice(inv) => format!("invoice {} ({} lines)", inv.id, inv.lines.len()),
        Fact::Pending(inv) => format!(
            "pending run of invoice {} ({} lines)",
            inv.id,
            inv.lines.len()
        ),
        Fact::Close { account, through } => format!("close of account {account} through {through}"),
        Fact::Resettle {
            account, version, ..
        } => format!("resettle of account {account} under rulebook {version}"),
    }
}

/// A recorded resettle must carry exactly the corrections its rulebook derives from the facts
/// recorded before it (`ledger resettle` computes them with the same code). `Some(why)` if not.
fn check_resettle(
    store: &Store,
    ledger: &Ledger,
    fact: &Fact,
    seq: u64,
) -> Result<Option<String>, StoreError> {
    let Fact::Resettle {
        account,
        version,
        corrections,
    } = fact
    else {
        return Ok(None);
    };
    let Some(current) = ledger.account(account) else {
        return Ok(None); // the core refuses it below: unknown account
    };
    let derived = match crate::resettle::corrections_for(store, current, *version, seq) {
        Ok(derived) => derived,
        Err(crate::resettle::ResettleError::Store(e)) => return Err(e),
        Err(crate::resettle::ResettleError::Core(e)) => {
            return Ok(Some(format!(
                "the recorded resettle of account {account} cannot be derived again: {e}"
            )))
        }
    };
    if &derived != corrections {
        return Ok(Some(format!(
            "the recorded resettle of account {account} corrects {corrections:?}, but rulebook {version} derives {derived:?} from the facts before it"
        )));
    }
    Ok(None)
}

/// The first event that differs, both sides shown.
fn first_difference(
    recorded: &[ledger_core::Event],
    derived: &[ledger_core::Event],
    recorded_meta: (&str, u16),
    derived_meta: (&str, u16),
) -> String {
    if recorded_meta != derived_meta {
        return format!(
            "recorded for account {} under rulebook {}, derived for account {} under rulebook {}",
            recorded_meta.0, recorded_meta.1, derived_meta.0, derived_meta.1
        );
    }
    for (i, (r, d)) in recorded.iter().zip(derived).enumerate() {
        if r != d {
            return format!("event {} recorded as {r:?}, derived as {d:?}", i + 1);
        }
    }
    if recorded.len() != derived.len() {
        return format!(
            "{} events recorded, {} derived",
            recorded.len(),
            derived.len()
        );
    }
    "the same events, encoded differently (a non-canonical encoding)".into()
}
