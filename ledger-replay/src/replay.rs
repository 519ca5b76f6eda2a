//! `ledger replay`: rebuild every projection from the log alone and compare it with the
//! stored projections (the newest snapshot plus the tail folded after it).
//!
//! The rebuild decodes every record, line chunks included, checks each invoice's lines
//! against its recorded totals, and folds every decision; it never reads a snapshot.

use std::time::Instant;

use ledger_core::event::Event;
use ledger_core::{Fact, Money};
use ledger_store::{ReadOptions, Store};

use crate::load::{load, ReplayError};
use crate::projection::Projections;

/// What a replay did and found.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    pub records: u64,
    pub facts: u64,
    pub invoices: u64,
    pub lines: u64,
    pub events: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub lines_per_second: f64,
    /// The log position the stored snapshot reflected (0 when there was none).
    pub snapshot_seq: u64,
    /// Empty when the rebuild equals the stored projections.
    pub differences: Vec<String>,
}

/// What one reader thread found in its part of the log: the decisions to fold (small) and
/// counts. The lines themselves are checked and dropped.
struct Part {
    /// (account, decisions seq, last seq of the entry, events), in log order.
    entries: Vec<PartEntry>,
    records: u64,
    invoices: u64,
    lines: u64,
    bytes: u64,
}

/// One entry to fold: (account, decisions seq, last seq of the entry, events, the spend of
/// its invoice's lines by charge date and kind, the fact itself when it is a pending run).
type PartEntry = (String, u64, u64, Vec<Event>, Vec<SpendKey>, Option<Fact>);

type SpendKey = ((ledger_core::Date, ledger_core::ChargeKind), Money);

/// What the lines of one settled invoice add up to, summed chunk by chunk as the reader
/// streams them (no invoice is held whole, issue 13).
#[derive(Default)]
struct LineSums {
    /// `None` once the total overflowed.
    total: Option<Money>,
    spend: std::collections::BTreeMap<(ledger_core::Date, ledger_core::ChargeKind), Money>,
}

impl LineSums {
    fn new() -> LineSums {
        LineSums {
            total: Some(Money::ZERO),
            spend: Default::default(),
        }
    }

    fn add(&mut self, lines: &[ledger_core::ChargeLine]) {
        for line in lines {
            self.total = self.total.and_then(|t| t.checked_add(line.amount).ok());
        }
        for (key, amount) in crate::projection::lines_spend(lines) {
            let sum = self.spend.entry(key).or_insert(Money::ZERO);
            *sum = sum.checked_add(amount).unwrap_or(*sum);
        }
    }
}

/// Read the entries that start in `from..until`, checking every invoice's lines against its
/// recorded totals.
fn read_part(store: &Store, from: u64, until: Option<u64>) -> Result<Part, ReplayError> {
    let mut part = Part {
        entries: Vec::new(),
        records: 0,
        invoices: 0,
        lines: 0,
        bytes: 0,
    };
    let sums = std::cell::RefCell::new(LineSums::new());
    let reader = store
        .reader(ReadOptions {
            from_seq: from,
            verify_chain: false,
        })
        .streaming_lines(|lines| sums.borrow_mut().add(lines));
    for entry in reader {
        let entry = entry?;
        let lines = sums.replace(LineSums::new());
        if until.is_some_and(|u| entry.first_seq >= u) {
            break;
        }
        part.records += entry.record_count;
        part.bytes += entry.bytes;
        let Some(decisions) = entry.decisions else {
            return Err(ReplayError::Damaged {
                seq: entry.first_seq,
                message: "a fact without its decisions".into(),
            });
        };
        let mut spend = Vec::new();
        if let Fact::Invoice(invoice) = &entry.fact {
            part.invoices += 1;
            part.lines += entry.line_count;
            let counted = (lines.total, entry.line_count);
            check_invoice_totals(entry.first_seq, invoice, counted, &decisions.events)?;
            spend = lines.spend.into_iter().collect();
        }
        let pending = matches!(entry.fact, Fact::Pending(_)).then_some(entry.fact);
        part.entries.push((
            decisions.account,
            decisions.seq,
            entry.last_seq,
            decisions.events,
            spend,
            pending,
        ));
    }
    Ok(part)
}

/// Records a reader looks past the middle of the log for a fact to start at (more than the
/// chunks of the largest invoice).
const SPLIT_SEARCH_RECORDS: u64 = 1 << 14;

/// Fold the whole log into fresh projections, checking line totals on the way. The log is
/// read by two threads (decoding lines is most of the work), each over one half, split at a
/// fact boundary; the decisions are folded in log order on this one.
pub fn rebuild(store: &Store) -> Result<(Projections, ReplayReport), ReplayError> {
    let started = Instant::now();
    let head = store.head().next_seq;
    let split = if head > 64 {
        store.fact_start_at_or_after(head / 2, SPLIT_SEARCH_RECORDS)
    } else {
        None
    };
    let ranges: Vec<(u64, Option<u64>)> = match split {
        Some(s) => vec![(0, Some(s)), (s, None)],
        None => vec![(0, None)],
    };
    let parts: Vec<Result<Part, ReplayError>> = std::thread::scope(|scope| {
        let readers: Vec<_> = ranges
            .iter()
            .map(|&(from, until)| scope.spawn(move || read_part(store, from, until)))
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().expect("a replay reader panicked"))
            .collect()
    });
    let mut projections = Projections::new();
    let mut report = ReplayReport {
        records: 0,
        facts: 0,
        invoices: 0,
        lines: 0,
        events: 0,
        bytes: 0,
        seconds: 0.0,
        lines_per_second: 0.0,
        snapshot_seq: 0,
        differences: Vec::new(),
    };
    // In log order: the first part's error, if any, is the first in the log.
    for part in parts {
        let part = part?;
        report.records += part.records;
        report.invoices += part.invoices;
        report.lines += part.lines;
        report.bytes += part.bytes;
        for (account, seq, last_seq, events, spend, pending) in part.entries {
            report.facts += 1;
            report.events += events.len() as u64;
            projections
                .apply(&account, seq, &events)
                .map_err(|error| ReplayError::Fold { seq, error })?;
            projections.note_spend(&account, &spend);
            if let Some(fact) = &pending {
                projections.note_fact(&account, fact);
            }
            projections.advance(last_seq + 1);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.lines_per_second = if report.seconds > 0.0 {
        report.lines as f64 / report.seconds
    } else {
        0.0
    };
    Ok((projections, report))
}

/// The invoice's lines (their total, `None` when it overflows, and their count) must add up
/// to the charges its settlement recorded.
fn check_invoice_totals(
    seq: u64,
    invoice: &ledger_core::Invoice,
    (total, count): (Option<Money>, u64),
    events: &[Event],
) -> Result<(), ReplayError> {
    let total = total.ok_or_else(|| ReplayError::Damaged {
        seq,
        message: format!("invoice {}: line total overflows", invoice.id),
    })?;
    let settled = events.iter().find_map(|e| match e {
        Event::InvoiceSettled { summary } if summary.id == invoice.id => Some(summary),
        _ => None,
    });
    match settled {
        Some(s) if s.charges == total && s.line_count as u64 == count => Ok(()),
        Some(s) => Err(ReplayError::Damaged {
            seq,
            message: format!(
                "invoice {}: its {} lines add up to {}, but its settlement recorded {} lines and charges of {}",
                invoice.id,
                count,
                total,
                s.line_count,
                s.charges
            ),
        }),
        None => Err(ReplayError::Damaged { seq, message: format!("invoice {}: no settlement among its decisions", invoice.id) }),
    }
}

/// Rebuild from the log alone and compare with the stored projections.
pub fn replay(store: &Store) -> Result<ReplayReport, ReplayError> {
    replay_read(store, &load(store)?)
}

/// Replay as [`replay`] does, with `stored`: the projections [`load`] gave for this store when
/// the command opened it (nothing can append in between: the store is locked), instead of
/// loading them again, which would decode the newest snapshot once more.
pub fn replay_read(store: &Store, stored: &Projections) -> Result<ReplayReport, ReplayError> {
    let snapshot_seq = match crate::publish::published_position(store) {
        Some(seq) => seq,
        None => store.latest_snapshot()?.map(|(seq, _)| seq).unwrap_or(0),
    };
    let (rebuilt, mut report) = rebuild(store)?;
    report.snapshot_seq = snapshot_seq;
    report.differences = differences(stored, &rebuilt);
    Ok(report)
}

/// Where two projections differ, in words (at most a few, most telling first).
pub fn differences(stored: &Projections, rebuilt: &Projections) -> Vec<String> {
    const MAX: usize = 10;
    let mut out = Vec::new();
    if stored.next_seq != rebuilt.next_seq {
        out.push(format!(
            "stored projections reflect the log up to record {}, the rebuild up to {}",
            stored.next_seq, rebuilt.next_seq
        ));
    }
    let accounts: std::collections::BTreeSet<&String> = stored
        .ledger
        .accounts
        .keys()
        .chain(rebuilt.ledger.accounts.keys())
        .collect();
    for account in accounts {
        let (Some(a), Some(b)) = (
            stored.ledger.account(account),
            rebuilt.ledger.account(account),
        ) else {
            out.push(format!("account {account} exists in only one of them"));
            continue;
        };
        for (x, y) in a.maccs.iter().zip(&b.maccs) {
            if x != y {
                out.push(format!(
                    "account {account} MACC {}: stored balance {} ({:?}), rebuilt {} ({:?})",
                    x.terms.id, x.amounts.balance, x.state, y.amounts.balance, y.state
                ));
            }
        }
        for (x, y) in a.lots.iter().zip(&b.lots) {
            if x != y {
                out.push(format!(
                    "account {account} credit {}: stored balance {} ({:?}), rebuilt {} ({:?})",
                    x.terms.id, x.amounts.balance, x.state, y.amounts.balance, y.state
                ));
            }
        }
        for (x, y) in a.cacos.iter().zip(&b.cacos) {
            if x != y {
                out.push(format!(
                    "account {account} CACO {}: stored remaining {}, rebuilt {}",
                    x.terms.id, x.amounts.balance, y.amounts.balance
                ));
            }
        }
        for (x, y) in a.invoices.iter().zip(&b.invoices) {
            if x != y {
                out.push(format!(
                    "account {account} invoice {}: stored billed {}, rebuilt {}",
                    x.id, x.billed, y.billed
                ));
            }
        }
        if a.maccs.len() != b.maccs.len()
            || a.lots.len() != b.lots.len()
            || a.cacos.len() != b.cacos.len()
            || a.invoices.len() != b.invoices.len()
        {
            out.push(format!(
                "account {account}: different numbers of MACCs, credits, CACOs or invoices"
            ));
        }
        if out.is_empty() && a != b {
            out.push(format!(
                "account {account}: state differs (clock {:?} vs {:?})",
                a.clock, b.clock
            ));
        }
    }
    if out.is_empty() && stored.views != rebuilt.views {
        out.push("the Events API, CACO transaction or spend views differ".into());
    }
    if out.is_empty() && stored != rebuilt {
        out.push("the projections differ in their counters".into());
    }
    out.truncate(MAX);
    out
}
