//! `ledger audit trace --lot ID`: every decrement and credit movement of one lot, with the
//! charge-line portions behind it and the rules that decided each portion.
//!
//! The portions are not stored in the log (that would cost bytes per line for something the
//! facts already determine): the trace re-runs the core over the recorded facts with a sink
//! that keeps the portions touching the lot.

use std::collections::BTreeMap;

use ledger_core::event::Event;
use ledger_core::trace::{Portion, TraceSink};
use ledger_core::{ApplyOptions, ChargeKind, Date, Fact, Ledger, Money};
use ledger_store::{ReadOptions, Store, StoreError};

use crate::amendment::{amendment, remember, AgreedTerms};

/// One portion of one charge line that touched the lot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedPortion {
    /// 1-based position of the line in its invoice.
    pub line_position: u32,
    pub line_id: Option<String>,
    pub charge_date: Date,
    pub kind: ChargeKind,
    pub line_amount: Money,
    /// `paid`, or the credit kind that covered it.
    pub payer: String,
    /// The credit lot that covered it, if any.
    pub covered_by: Option<String>,
    pub portion_amount: Money,
    /// What this portion did to the traced lot (decrement or credit application).
    pub counted: Money,
    pub elig_rule: String,
    pub cover_rule: Option<String>,
}

/// One event of the lot with what is behind it.
#[derive(Clone, Debug)]
pub struct TracedEvent {
    pub seq: u64,
    pub event: String,
    pub rule: String,
    pub date: Date,
    pub invoice: Option<String>,
    pub billing_profile: Option<String>,
    pub amount: Money,
    pub balance_after: Option<Money>,
    /// What an amendment changed, in words (the amendment module); none for other events.
    pub description: Option<String>,
    pub portions: Vec<TracedPortion>,
}

/// The trace of one lot.
#[derive(Clone, Debug)]
pub struct LotTrace {
    pub lot: String,
    pub account: String,
    pub events: Vec<TracedEvent>,
}

/// Why a trace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("record {seq}: the core refuses a recorded fact: {message}; run `ledger audit`")]
    Refused { seq: u64, message: String },
    #[error("no lot '{0}' in this ledger (see `ledger lots` and `ledger caco`)")]
    UnknownLot(String),
    #[error(
        "'{0}' is not a MACC: --why-not lists what did not count toward a MACC (see `ledger lots`)"
    )]
    NotAMacc(String),
}

/// Keeps the portions of the current fact that touched the lot, keyed by (invoice, profile,
/// run): each run's portions are behind one decrement or credit application of the lot.
struct Collector<'a> {
    lot: &'a str,
    found: BTreeMap<(String, String, u32), Vec<TracedPortion>>,
}

impl Collector<'_> {
    /// The portions behind the next decrement or credit application of (invoice, profile):
    /// the earliest run that moved the lot. Runs that moved it by nothing have no event.
    fn take(&mut self, invoice: &str, profile: &str) -> Vec<TracedPortion> {
        let key = self
            .found
            .iter()
            .find(|((i, p, _), portions)| {
                i == invoice && p == profile && portions.iter().any(|x| !x.counted.is_zero())
            })
            .map(|(k, _)| k.clone());
        key.and_then(|k| self.found.remove(&k)).unwrap_or_default()
    }
}

impl TraceSink for Collector<'_> {
    const ENABLED: bool = true;

    fn portion(&mut self, p: &Portion<'_>) {
        let as_credit = (p.lot == Some(self.lot)).then_some(p.amount);
        let as_macc = p
            .macc
            .iter()
            .find(|(id, _)| *id == self.lot)
            .map(|(_, a)| *a);
        let as_caco = p
            .caco
            .iter()
            .find(|(id, _)| *id == self.lot)
            .map(|(_, a)| *a);
        let Some(counted) = as_credit.or(as_macc).or(as_caco) else {
            return;
        };
        let portion = TracedPortion {
            line_position: p.line_position,
            line_id: p.invoice.str(p.line.line_id).map(str::to_owned),
            charge_date: p.line.charge_date,
            kind: p.line.kind,
            line_amount: p.line.amount,
            payer: p.payer.name().to_string(),
            covered_by: p.lot.map(str::to_owned),
            portion_amount: p.amount,
            counted,
            elig_rule: p.elig.rule.to_string(),
            cover_rule: p.cover_rule.map(str::to_owned),
        };
        let profile = p.invoice.profile_name(p.line).to_string();
        self.found
            .entry((p.invoice.id.clone(), profile, p.run))
            .or_default()
            .push(portion);
    }
}

/// Trace lot `lot` (a MACC, CACO or credit lot id) through the whole log.
pub fn trace_lot(store: &Store, lot: &str) -> Result<LotTrace, TraceError> {
    let mut ledger = Ledger::new();
    let mut agreed: BTreeMap<String, AgreedTerms> = BTreeMap::new();
    let mut runs = PendingRuns::new();
    let mut trace = LotTrace {
        lot: lot.to_string(),
        account: String::new(),
        events: Vec::new(),
    };
    for entry in store.reader(ReadOptions {
        from_seq: 0,
        verify_chain: false,
    }) {
        let entry = entry?;
        let mut collector = Collector {
            lot,
            found: BTreeMap::new(),
        };
        let applied = ledger
            .apply_traced(&entry.fact, ApplyOptions::default(), &mut collector)
            .map_err(|e| TraceError::Refused {
                seq: entry.first_seq,
                message: e.to_string(),
            })?;
        let seq = entry
            .decisions
            .as_ref()
            .map(|d| d.seq)
            .unwrap_or(entry.last_seq);
        let terms = agreed.entry(applied.account.clone()).or_default();
        for event in &applied.events {
            if let Some(traced) = ledger
                .account(&applied.account)
                .and_then(|acct| amendment(acct, terms, event))
                .filter(|a| a.lot == lot)
                .map(|a| amendment_event(seq, event, a))
            {
                trace.account = applied.account.clone();
                trace.events.push(traced);
            }
            remember(terms, event);
            let owns_lot = |l: &Ledger| {
                l.account(&applied.account)
                    .is_some_and(|a| a.lot_ref(lot).is_some())
            };
            if owns_lot(&ledger) {
                if let Some(traced) = pending_traced(&mut runs, seq, event) {
                    trace.account = applied.account.clone();
                    trace.events.push(traced);
                    continue;
                }
            }
            if let Some(mut traced) = traced_event(lot, seq, event) {
                if let (Some(invoice), Some(profile)) = (&traced.invoice, &traced.billing_profile) {
                    if matches!(
                        event,
                        Event::Decremented { .. } | Event::CreditApplied { .. }
                    ) {
                        traced.portions = collector.take(invoice, profile);
                    }
                }
                if let (
                    Event::Adjusted {
                        line_position,
                        applied: restored,
                        invoice,
                        ..
                    },
                    Fact::Invoice(inv),
                ) = (event, &entry.fact)
                {
                    if let Some(portion) = refund_portion(inv, invoice, *line_position, *restored) {
                        traced.portions.push(portion);
                    }
                }
                trace.account = applied.account.clone();
                trace.events.push(traced);
            }
        }
    }
    let known = ledger.accounts.values().any(|a| a.lot_ref(lot).is_some());
    if !known {
        return Err(TraceError::UnknownLot(lot.to_string()));
    }
    Ok(trace)
}

/// The trace entry of an amendment of the traced lot.
fn amendment_event(seq: u64, event: &Event, a: crate::amendment::Amendment) -> TracedEvent {
    TracedEvent {
        seq,
        event: event.name().to_string(),
        rule: event.rule().to_string(),
        date: a.date,
        invoice: None,
        billing_profile: None,
        amount: a.change,
        balance_after: Some(a.balance_after),
        description: Some(a.description),
        portions: Vec::new(),
    }
}

/// The pending runs recorded so far, by (invoice, content digest).
type PendingRuns = BTreeMap<(String, [u8; 32]), ledger_core::event::PendingRun>;

/// A pending run recorded or superseded in the lot's account (R-PEND-1, R-PEND-2): the trace
/// shows each, and what replaced it, though none moves a settled balance.
fn pending_traced(runs: &mut PendingRuns, seq: u64, event: &Event) -> Option<TracedEvent> {
    let (name, run) = match event {
        Event::PendingRecorded { run } => {
            runs.insert((run.invoice.clone(), run.content_hash), run.clone());
            ("PendingRecorded".to_string(), run.clone())
        }
        Event::PendingSuperseded {
            invoice,
            content_hash,
            by,
        } => {
            let run = runs.remove(&(invoice.clone(), *content_hash))?;
            (format!("PendingSuperseded by {by}"), run)
        }
        _ => return None,
    };
    Some(TracedEvent {
        seq,
        event: name,
        rule: event.rule().to_string(),
        date: run.date,
        invoice: Some(run.invoice),
        billing_profile: None,
        amount: run.charges,
        balance_after: None,
        description: None,
        portions: Vec::new(),
    })
}

/// The refund line behind an `Adjusted` event (R-ADJ), when the adjustment was made by the
/// recorded invoice itself (not by an engine-made one).
fn refund_portion(
    inv: &ledger_core::Invoice,
    invoice: &str,
    line_position: u32,
    restored: Money,
) -> Option<TracedPortion> {
    if inv.id != invoice {
        return None;
    }
    let line = inv.lines.get((line_position as usize).checked_sub(1)?)?;
    let corrected = line.corrects_kind.unwrap_or(ChargeKind::Usage);
    Some(TracedPortion {
        line_position,
        line_id: inv.str(line.line_id).map(str::to_owned),
        charge_date: line.charge_date,
        kind: line.kind,
        line_amount: line.amount,
        payer: "paid".into(),
        covered_by: None,
        portion_amount: line.amount,
        counted: restored,
        elig_rule: format!("R-ADJ refund of {corrected}"),
        cover_rule: None,
    })
}

fn traced_event(lot: &str, seq: u64, event: &Event) -> Option<TracedEvent> {
    let base = |date: Date,
                invoice: Option<&String>,
                profile: Option<&String>,
                amount: Money,
                after: Option<Money>| TracedEvent {
        seq,
        event: event.name().to_string(),
        rule: event.rule().to_string(),
        date,
        invoice: invoice.cloned(),
        billing_profile: profile.cloned(),
        amount,
        balance_after: after,
        description: None,
        portions: Vec::new(),
    };
    match event {
        Event::Decremented {
            commitment,
            invoice,
            profile,
            date,
            amount,
            balance_after,
            ..
        } if commitment == lot => Some(base(
            *date,
            Some(invoice),
            Some(profile),
            *amount,
            Some(*balance_after),
        )),
        Event::CreditApplied {
            lot: l,
            invoice,
            profile,
            date,
            amount,
            balance_after,
        } if l == lot => Some(base(
            *date,
            Some(invoice),
            Some(profile),
            *amount,
            Some(*balance_after),
        )),
        Event::Adjusted {
            target,
            invoice,
            profile,
            date,
            applied,
            balance_after,
            ..
        } if target == lot => Some(base(
            *date,
            Some(invoice),
            Some(profile),
            *applied,
            Some(*balance_after),
        )),
        Event::CreditLotOpened {
            lot: terms,
            date,
            invoice,
            ..
        } if terms.id == lot => Some(base(
            *date,
            invoice.as_ref(),
            None,
            terms.amount,
            Some(terms.amount),
        )),
        Event::CreditLotExpired {
            lot: l,
            expires,
            balance,
        } if l == lot => Some(base(*expires, None, None, *balance, Some(*balance))),
        Event::Resettled {
            target,
            date,
            change,
            balance_after,
            ..
        } if target == lot => Some(base(*date, None, None, *change, Some(*balance_after))),
        Event::MaccExpired {
            macc, end, balance, ..
        } if macc == lot => Some(base(*end, None, None, *balance, Some(*balance))),
        Event::MaccCompleted {
            macc,
            date,
            invoice,
        } if macc == lot => Some(base(
            *date,
            Some(invoice),
            None,
            Money::ZERO,
            Some(Money::ZERO),
        )),
        Event::CacoCompleted {
            caco,
            date,
            invoice,
        } if caco == lot => Some(base(
            *date,
            Some(invoice),
            None,
            Money::ZERO,
            Some(Money::ZERO),
        )),
        Event::CacoExpired {
            caco,
            end,
            remaining,
        } if caco == lot => Some(base(*end, None, None, *remaining, Some(*remaining))),
        _ => None,
    }
}
