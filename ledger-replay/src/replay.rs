//! `ledger replay`: rebuild every projection from the log alone and compare it with the
//! stored projections (the newest snapshot plus the tail folded after it).
//!
//! The rebuild decodes every record, line chunks included, checks each invoice's lines
//! against its recorded totals, and folds every decision; it never reads a snapshot.

use std::time::Instant;

use ledger_core::event::Event;
use ledger_core::{Fact, Money};
use ledger_store::{ReadOptions, Store};
use serde::Serialize;

use crate::load::{load, ReplayError};
use crate::projection::Projections;

/// What a replay did and found.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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

/// Fold the whole log into fresh projections, checking line totals on the way.
pub fn rebuild(store: &Store) -> Result<(Projections, ReplayReport), ReplayError> {
    let started = Instant::now();
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
    for entry in store.reader(ReadOptions {
        from_seq: 0,
        verify_chain: false,
    }) {
        let entry = entry?;
        report.records += entry.record_count;
        report.bytes += entry.bytes;
        report.facts += 1;
        let Some(decisions) = &entry.decisions else {
            return Err(ReplayError::Damaged {
                seq: entry.first_seq,
                message: "a fact without its decisions".into(),
            });
        };
        if let Fact::Invoice(invoice) = &entry.fact {
            report.invoices += 1;
            report.lines += invoice.lines.len() as u64;
            check_invoice_totals(entry.first_seq, invoice, &decisions.events)?;
        }
        report.events += decisions.events.len() as u64;
        projections
            .apply(&decisions.account, decisions.seq, &decisions.events)
            .map_err(|error| ReplayError::Fold {
                seq: decisions.seq,
                error,
            })?;
        projections.advance(entry.last_seq + 1);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.lines_per_second = if report.seconds > 0.0 {
        report.lines as f64 / report.seconds
    } else {
        0.0
    };
    Ok((projections, report))
}

/// The invoice's lines must add up to the charges its settlement recorded.
fn check_invoice_totals(
    seq: u64,
    invoice: &ledger_core::Invoice,
    events: &[Event],
) -> Result<(), ReplayError> {
    let mut total = Money::ZERO;
    for line in &invoice.lines {
        total = total
            .checked_add(line.amount)
            .map_err(|_| ReplayError::Damaged {
                seq,
                message: format!("invoice {}: line total overflows", invoice.id),
            })?;
    }
    let settled = events.iter().find_map(|e| match e {
        Event::InvoiceSettled { summary } if summary.id == invoice.id => Some(summary),
        _ => None,
    });
    match settled {
        Some(s) if s.charges == total && s.line_count as usize == invoice.lines.len() => Ok(()),
        Some(s) => Err(ReplayError::Damaged {
            seq,
            message: format!(
                "invoice {}: its {} lines add up to {}, but its settlement recorded {} lines and charges of {}",
                invoice.id,
                invoice.lines.len(),
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
    let stored = load(store)?;
    let snapshot_seq = store.latest_snapshot()?.map(|(seq, _)| seq).unwrap_or(0);
    let (rebuilt, mut report) = rebuild(store)?;
    report.snapshot_seq = snapshot_seq;
    report.differences = differences(&stored, &rebuilt);
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
                    x.terms.id, x.balance, x.state, y.balance, y.state
                ));
            }
        }
        for (x, y) in a.lots.iter().zip(&b.lots) {
            if x != y {
                out.push(format!(
                    "account {account} credit {}: stored balance {} ({:?}), rebuilt {} ({:?})",
                    x.terms.id, x.balance, x.state, y.balance, y.state
                ));
            }
        }
        for (x, y) in a.cacos.iter().zip(&b.cacos) {
            if x != y {
                out.push(format!(
                    "account {account} CACO {}: stored remaining {}, rebuilt {}",
                    x.terms.id, x.remaining, y.remaining
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
        out.push("the Events API or CACO transaction views differ".into());
    }
    if out.is_empty() && stored != rebuilt {
        out.push("the projections differ in their counters".into());
    }
    out.truncate(MAX);
    out
}
