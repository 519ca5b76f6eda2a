//! Reconciliation: Azure's own Events and Lots API figures against the ledger's.
//!
//! `ledger-input` reads the JSON the Consumption APIs return into [`AzureEvents`] and
//! [`AzureLots`]. [`reconcile`] matches Azure's `SettledCharges` events with the ledger's by
//! (account, lot, invoice number) and its lots by (account, lot), and lists every figure that
//! differs by more than [`TOLERANCE`]; [`attach_traces`] adds the ledger's trace (the line
//! portions and rules behind its figure, `trace::trace_lot`) to each differing invoice.
//!
//! How the figures are compared (the decisions where INTERFACE.md is silent):
//! - Per (account, lot, invoice): the decrement is the magnitude of the sum of the events'
//!   `charges` (Azure writes decrements negative, some exports positive: magnitudes compare
//!   either way); the closed balance is that of the group's last event (a file listed newest
//!   first, told by most of its dates stepping back, is read in reverse).
//! - The ledger's side is limited to the accounts the Azure file is about and to the span of
//!   its transaction dates, so a file for one month does not flag every other month as missing.
//! - An entry on one side only is listed; it counts as a difference when its decrement exceeds
//!   the tolerance. Lot status differences are listed as notes (they are not amounts).

use std::collections::{BTreeMap, BTreeSet};

use crate::projection::Projections;
use crate::trace::{trace_lot, TraceError, TracedEvent};
use crate::views::{lot_rows, LotFilter};
use ledger_core::{Date, Money};
use ledger_store::Store;

/// Differences up to this much (in currency units) are rounding, not differences.
pub const TOLERANCE: Money = Money::from_units(10_000_000_000_000_000_000_000); // 0.01

/// One event of Azure's Events API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureEvent {
    /// Position in the file's `value` list.
    pub index: usize,
    /// From the lot id's (or the event id's) `billingAccounts/{account}`.
    pub account: Option<String>,
    pub lot: String,
    pub lot_source: Option<String>,
    pub invoice: Option<String>,
    pub billing_profile: Option<String>,
    pub date: Option<Date>,
    /// As written (its sign is the file's convention).
    pub charges: Money,
    pub closed_balance: Option<Money>,
}

/// The events of a file that can be reconciled, and what was set aside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureEvents {
    /// `SettledCharges` events, in file order.
    pub settled: Vec<AzureEvent>,
    /// Event type → count of events not compared (NewCredit, unknown types...).
    pub ignored: BTreeMap<String, usize>,
    /// `SettledCharges` events without a lot or an invoice number: (index, what is missing).
    pub unusable: Vec<(usize, String)>,
    /// The file says Azure has more pages.
    pub next_link: bool,
}

/// One lot of Azure's Lots API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureLot {
    pub index: usize,
    pub account: Option<String>,
    pub name: String,
    /// Normalized: `AzurePrepayment` reads as `PurchasedCredit`.
    pub source: Option<String>,
    pub status: Option<String>,
    pub original: Option<Money>,
    pub closed_balance: Option<Money>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureLots {
    pub lots: Vec<AzureLot>,
    pub next_link: bool,
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/// One side's figures for one (account, lot, invoice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceFigures {
    /// Magnitude of the sum of the charges.
    pub decrement: Money,
    /// After the invoice (the last event's).
    pub closed_balance: Option<Money>,
    pub events: usize,
}

/// An (account, lot, invoice) whose figures differ, or that one side lacks.
#[derive(Clone, Debug)]
pub struct InvoiceDifference {
    pub account: String,
    pub invoice: String,
    pub lot: String,
    pub azure: Option<InvoiceFigures>,
    pub ledger: Option<InvoiceFigures>,
    /// Azure − ledger.
    pub decrement_difference: Money,
    /// Azure − ledger, when both sides give a balance.
    pub closed_balance_difference: Option<Money>,
    /// Over the tolerance (a one-sided entry of no amount is listed but is not one).
    pub differs: bool,
    /// The ledger's events of this lot on this invoice, with their line portions.
    pub trace: Vec<TracedEvent>,
}

/// One side's figures for one lot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotFigures {
    pub source: Option<String>,
    pub status: Option<String>,
    pub original: Option<Money>,
    pub closed_balance: Option<Money>,
}

#[derive(Clone, Debug)]
pub struct LotDifference {
    pub account: String,
    pub lot: String,
    pub azure: Option<LotFigures>,
    pub ledger: Option<LotFigures>,
    pub closed_balance_difference: Option<Money>,
    pub original_difference: Option<Money>,
    pub differs: bool,
}

/// What a reconciliation found.
#[derive(Clone, Debug, Default)]
pub struct Reconciliation {
    /// (account, lot, invoice) entries found on both sides.
    pub matched: usize,
    /// Lots found on both sides.
    pub matched_lots: usize,
    /// The transaction dates of Azure's settled events (the ledger's side is limited to it).
    pub span: Option<(Date, Date)>,
    pub accounts: Vec<String>,
    /// Sorted by account, invoice, lot.
    pub invoices: Vec<InvoiceDifference>,
    pub lots: Vec<LotDifference>,
    /// What was not compared, and differences that are not amounts, in the order found.
    pub notes: Vec<Note>,
}

/// Something a reader of a reconciliation should know besides the differences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A settled event whose lot id names no account, when several accounts could own the lot.
    EventWithoutAccount {
        index: usize,
        lot: String,
        invoice: String,
    },
    /// A lot whose id names no account, when several accounts could own it.
    LotWithoutAccount { index: usize, lot: String },
    /// The two sides give a lot different statuses (not an amount, so not a difference).
    LotStatus {
        lot: String,
        azure: String,
        ledger: String,
    },
    /// The lots file has a `nextLink`: Azure has more pages than the file holds.
    LotsNextLink,
    /// The events file has a `nextLink`: only what the file holds is compared.
    EventsNextLink,
    /// Events of a type other than `SettledCharges`, not compared.
    IgnoredEvents { kind: String, count: usize },
    /// A settled event that cannot be compared (`value[3]: no invoiceNumber`).
    UnusableEvent { what: String },
}

impl Reconciliation {
    /// Whether anything differs by more than the tolerance.
    pub fn differs(&self) -> bool {
        self.invoices.iter().any(|d| d.differs) || self.lots.iter().any(|d| d.differs)
    }

    pub fn difference_count(&self) -> usize {
        self.invoices.iter().filter(|d| d.differs).count()
            + self.lots.iter().filter(|d| d.differs).count()
    }
}

fn over(m: Money) -> bool {
    m.abs() > TOLERANCE
}

fn minus(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap_or(Money::ZERO)
}

type Key = (String, String, String);

/// Compare Azure's events (and lots) with the ledger's projections.
pub fn reconcile(
    p: &Projections,
    events: &AzureEvents,
    lots: Option<&AzureLots>,
) -> Reconciliation {
    let mut r = Reconciliation::default();
    let ledger_accounts: Vec<&String> = p.ledger.accounts.keys().collect();
    // Which account an Azure entry without one belongs to: the only account, or the only one
    // with a lot of that name.
    let resolve = |account: &Option<String>, lot: &str| -> Option<String> {
        if let Some(a) = account {
            return Some(a.clone());
        }
        if ledger_accounts.len() == 1 {
            return Some(ledger_accounts[0].clone());
        }
        let owners: Vec<&&String> = ledger_accounts
            .iter()
            .filter(|a| {
                p.ledger
                    .account(a)
                    .is_some_and(|s| s.lot_ref(lot).is_some())
            })
            .collect();
        match owners.as_slice() {
            [one] => Some((**one).clone()),
            _ => None,
        }
    };

    // Azure's side, in time order (a file listed newest first is reversed).
    let mut settled: Vec<&AzureEvent> = events.settled.iter().collect();
    let dated: Vec<Date> = settled.iter().filter_map(|e| e.date).collect();
    // Listed newest first when more neighbours step back in time than forward (a few steps
    // against the grain are normal: a shortfall invoice is dated before the invoice that
    // triggered its evaluation).
    let backward = dated.windows(2).filter(|w| w[0] > w[1]).count();
    let forward = dated.windows(2).filter(|w| w[0] < w[1]).count();
    if backward > forward {
        settled.reverse();
    }
    settled.sort_by_key(|e| e.date.unwrap_or(Date::MIN));
    r.span = match (dated.iter().min(), dated.iter().max()) {
        (Some(a), Some(b)) => Some((*a, *b)),
        _ => None,
    };
    let mut azure: BTreeMap<Key, (Money, Option<Money>, usize)> = BTreeMap::new();
    let mut scope: BTreeSet<String> = BTreeSet::new();
    for e in settled {
        let Some(account) = resolve(&e.account, &e.lot) else {
            r.notes.push(Note::EventWithoutAccount {
                index: e.index,
                lot: e.lot.clone(),
                invoice: e.invoice.clone().unwrap_or_default(),
            });
            continue;
        };
        scope.insert(account.clone());
        let key = (
            account,
            e.invoice.clone().unwrap_or_default(),
            e.lot.clone(),
        );
        let entry = azure.entry(key).or_insert((Money::ZERO, None, 0));
        entry.0 = entry.0.checked_add(e.charges).unwrap_or(entry.0);
        if e.closed_balance.is_some() {
            entry.1 = e.closed_balance;
        }
        entry.2 += 1;
    }
    if scope.is_empty() {
        scope.extend(ledger_accounts.iter().map(|a| a.to_string()));
    }
    r.accounts = scope.iter().cloned().collect();

    // The ledger's side: its settled-charges events in the same accounts and dates.
    let mut ledger: BTreeMap<Key, (Money, Option<Money>, usize)> = BTreeMap::new();
    for (account, views) in &p.views {
        if !scope.contains(account) {
            continue;
        }
        for e in &views.lot_events {
            let Some(invoice) = &e.invoice else { continue };
            if e.event_type != "SettledCharges" {
                continue;
            }
            if r.span.is_some_and(|(a, b)| e.date < a || e.date > b) {
                continue;
            }
            let key = (account.clone(), invoice.clone(), e.lot.clone());
            let entry = ledger.entry(key).or_insert((Money::ZERO, None, 0));
            entry.0 = entry.0.checked_add(e.charges).unwrap_or(entry.0);
            entry.1 = Some(e.closed_balance);
            entry.2 += 1;
        }
    }

    let keys: BTreeSet<&Key> = azure.keys().chain(ledger.keys()).collect();
    for key in keys {
        let figures = |side: &BTreeMap<Key, (Money, Option<Money>, usize)>| {
            side.get(key).map(|(sum, closed, n)| InvoiceFigures {
                decrement: sum.abs(),
                closed_balance: *closed,
                events: *n,
            })
        };
        let a = figures(&azure);
        let l = figures(&ledger);
        let decrement =
            |f: &Option<InvoiceFigures>| f.as_ref().map_or(Money::ZERO, |f| f.decrement);
        let decrement_difference = minus(decrement(&a), decrement(&l));
        let closed_balance_difference = match (&a, &l) {
            (Some(a), Some(l)) => match (a.closed_balance, l.closed_balance) {
                (Some(x), Some(y)) => Some(minus(x, y)),
                _ => None,
            },
            _ => None,
        };
        if a.is_some() && l.is_some() {
            r.matched += 1;
        }
        let differs = over(decrement_difference) || closed_balance_difference.is_some_and(over);
        if !differs && a.is_some() && l.is_some() {
            continue;
        }
        r.invoices.push(InvoiceDifference {
            account: key.0.clone(),
            invoice: key.1.clone(),
            lot: key.2.clone(),
            azure: a,
            ledger: l,
            decrement_difference,
            closed_balance_difference,
            differs,
            trace: Vec::new(),
        });
    }

    if let Some(azure_lots) = lots {
        compare_lots(p, azure_lots, &scope, &resolve, &mut r);
        if azure_lots.next_link {
            r.notes.push(Note::LotsNextLink);
        }
    }
    if events.next_link {
        r.notes.push(Note::EventsNextLink);
    }
    for (kind, count) in &events.ignored {
        r.notes.push(Note::IgnoredEvents {
            kind: kind.clone(),
            count: *count,
        });
    }
    for (_, what) in &events.unusable {
        r.notes.push(Note::UnusableEvent { what: what.clone() });
    }
    r
}

fn compare_lots(
    p: &Projections,
    azure: &AzureLots,
    scope: &BTreeSet<String>,
    resolve: &dyn Fn(&Option<String>, &str) -> Option<String>,
    r: &mut Reconciliation,
) {
    let mut theirs: BTreeMap<(String, String), LotFigures> = BTreeMap::new();
    for lot in &azure.lots {
        let Some(account) = resolve(&lot.account, &lot.name) else {
            r.notes.push(Note::LotWithoutAccount {
                index: lot.index,
                lot: lot.name.clone(),
            });
            continue;
        };
        theirs.insert(
            (account, lot.name.clone()),
            LotFigures {
                source: lot.source.clone(),
                status: lot.status.clone(),
                original: lot.original,
                closed_balance: lot.closed_balance,
            },
        );
    }
    let mut ours: BTreeMap<(String, String), LotFigures> = BTreeMap::new();
    for row in lot_rows(p, &LotFilter::default()) {
        if !scope.contains(&row.account) {
            continue;
        }
        ours.insert(
            (row.account.clone(), row.name.clone()),
            LotFigures {
                source: Some(row.source.to_string()),
                status: Some(row.status.name().to_string()),
                original: Some(row.original),
                closed_balance: Some(row.closed_balance),
            },
        );
    }
    let keys: BTreeSet<&(String, String)> = theirs.keys().chain(ours.keys()).collect();
    for key in keys {
        let a = theirs.get(key).cloned();
        let l = ours.get(key).cloned();
        let both = |f: fn(&LotFigures) -> Option<Money>| match (&a, &l) {
            (Some(a), Some(l)) => match (f(a), f(l)) {
                (Some(x), Some(y)) => Some(minus(x, y)),
                _ => None,
            },
            _ => None,
        };
        let closed_balance_difference = both(|f| f.closed_balance);
        let original_difference = both(|f| f.original);
        let one_sided_amount = match (&a, &l) {
            (Some(only), None) | (None, Some(only)) => {
                only.closed_balance.is_some_and(over) || only.original.is_some_and(over)
            }
            _ => false,
        };
        let differs = one_sided_amount
            || closed_balance_difference.is_some_and(over)
            || original_difference.is_some_and(over);
        if let (Some(x), Some(y)) = (&a, &l) {
            r.matched_lots += 1;
            if let (Some(s), Some(t)) = (&x.status, &y.status) {
                if !s.eq_ignore_ascii_case(t) {
                    r.notes.push(Note::LotStatus {
                        lot: key.1.clone(),
                        azure: s.clone(),
                        ledger: t.clone(),
                    });
                }
            }
        }
        if !differs && a.is_some() && l.is_some() {
            continue;
        }
        r.lots.push(LotDifference {
            account: key.0.clone(),
            lot: key.1.clone(),
            azure: a,
            ledger: l,
            closed_balance_difference,
            original_difference,
            differs,
        });
    }
}

/// Add the ledger's trace to every differing invoice the ledger has: one re-run of the log per
/// lot involved.
pub fn attach_traces(store: &Store, r: &mut Reconciliation) -> Result<(), TraceError> {
    let lots: BTreeSet<String> = r
        .invoices
        .iter()
        .filter(|d| d.ledger.is_some())
        .map(|d| d.lot.clone())
        .collect();
    for lot in lots {
        let trace = trace_lot(store, &lot)?;
        for d in r
            .invoices
            .iter_mut()
            .filter(|d| d.lot == lot && d.ledger.is_some())
        {
            d.trace = trace
                .events
                .iter()
                .filter(|e| e.invoice.as_deref() == Some(d.invoice.as_str()))
                .cloned()
                .collect();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn tolerance_is_one_cent() {
        assert_eq!(TOLERANCE, m("0.01"));
    }
}
