//! `ledger audit trace --lot M --why-not`: every charge-line portion of M's account that did
//! not count toward the MACC M, with the reason settlement had.
//!
//! The reasons are not worked out here: the trace re-runs the core over the recorded facts and
//! settlement reports, for every portion, the R-ELIG cell it used, the credit lot that paid it,
//! what each MACC of the queue took and why each MACC it passed over could not take it
//! ([`MaccSkip`], R-MACC-3). This module only words them, reading M's state before each fact to
//! say whether a closed M had completed, expired or been canceled.

use std::collections::BTreeMap;

use ledger_core::state::MaccState;
use ledger_core::trace::{MaccSkip, Portion, TraceSink};
use ledger_core::{ApplyOptions, ChargeKind, Date, Ledger, Money};
use ledger_store::{ReadOptions, Store};

use crate::trace::TraceError;

/// Why (part of) a portion did not count toward the MACC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The R-ELIG cell (kind × who paid) counts toward no MACC; `covered_by` is the credit lot
    /// that paid the portion, if one did.
    Elig {
        rule: String,
        covered_by: Option<String>,
    },
    /// Charged before the MACC's start or after its end.
    OutOfPeriod { before: bool },
    /// MACCs ahead in the queue took it (R-MACC-3).
    QueuedBehind { maccs: Vec<String> },
    /// The MACC had completed: on an earlier invoice (`on` its date) or on this one.
    AfterCompletion { on: Option<Date> },
    /// The MACC had expired at its end.
    Expired,
    /// An amendment had canceled the MACC.
    Canceled,
    /// A milestone shortfall purchase of another MACC (fine point 4).
    NamesAnotherMacc,
    /// Settled before the MACC was in the account's agreement.
    NotYetAgreed,
}

impl Reason {
    /// A short code for JSON: `elig`, `period`, `queued`, `completed`, `expired`, `canceled`,
    /// `otherMacc`, `notYetAgreed`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Elig { .. } => "elig",
            Reason::OutOfPeriod { .. } => "period",
            Reason::QueuedBehind { .. } => "queued",
            Reason::AfterCompletion { .. } => "completed",
            Reason::Expired => "expired",
            Reason::Canceled => "canceled",
            Reason::NamesAnotherMacc => "otherMacc",
            Reason::NotYetAgreed => "notYetAgreed",
        }
    }

    /// The reason in words.
    pub fn text(&self) -> String {
        match self {
            Reason::Elig {
                rule,
                covered_by: Some(lot),
            } => format!("covered by credit {lot}; {rule} counts toward no MACC"),
            Reason::Elig {
                rule,
                covered_by: None,
            } => format!("{rule} counts toward no MACC"),
            Reason::OutOfPeriod { before: true } => "charged before the MACC's start".into(),
            Reason::OutOfPeriod { before: false } => "charged after the MACC's end".into(),
            Reason::QueuedBehind { maccs } => {
                format!("queued behind MACC {} (R-MACC-3)", maccs.join(", "))
            }
            Reason::AfterCompletion { on: Some(date) } => {
                format!("after completion (completed {date})")
            }
            Reason::AfterCompletion { on: None } => {
                "after completion (completed earlier on this invoice)".into()
            }
            Reason::Expired => "after the MACC expired".into(),
            Reason::Canceled => "after an amendment canceled the MACC".into(),
            Reason::NamesAnotherMacc => {
                "a milestone shortfall purchase of another MACC (fine point 4)".into()
            }
            Reason::NotYetAgreed => "settled before the MACC was in the agreement".into(),
        }
    }
}

/// One portion, or the part of one, that did not count toward the MACC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCounted {
    pub invoice: String,
    /// 1-based position of the line in its invoice.
    pub line_position: u32,
    pub line_id: Option<String>,
    pub charge_date: Date,
    pub kind: ChargeKind,
    /// `paid`, or the kind of credit that paid the portion.
    pub payer: String,
    pub covered_by: Option<String>,
    /// What did not count toward the MACC.
    pub amount: Money,
    pub reason: Reason,
}

/// What did not count toward one MACC.
#[derive(Clone, Debug)]
pub struct WhyNot {
    pub lot: String,
    pub account: String,
    pub lines: Vec<NotCounted>,
}

/// Where the traced MACC stood when the current fact began.
enum Before {
    /// The fact's account has no such MACC.
    Absent,
    Open,
    Closed(MaccState),
}

struct Collector<'a> {
    lot: &'a str,
    before: Before,
    found: Vec<NotCounted>,
}

impl Collector<'_> {
    /// The reasons (with amounts) the portion did not count toward the MACC.
    fn reasons(&self, p: &Portion<'_>) -> Vec<(Money, Reason)> {
        if !p.elig.macc {
            let reason = Reason::Elig {
                rule: p.elig.rule.to_string(),
                covered_by: p.lot.map(str::to_owned),
            };
            return vec![(p.amount, reason)];
        }
        let ahead = |parts: &[(&str, Money)]| Reason::QueuedBehind {
            maccs: parts.iter().map(|(id, _)| id.to_string()).collect(),
        };
        if let Some(k) = p.macc.iter().position(|(id, _)| *id == self.lot) {
            let mut out = Vec::new();
            let taken_before = sum(&p.macc[..k]);
            if taken_before.is_positive() {
                out.push((taken_before, ahead(&p.macc[..k])));
            }
            let rest = p
                .amount
                .checked_sub(taken_before)
                .and_then(|r| r.checked_sub(p.macc[k].1))
                .unwrap_or(Money::ZERO);
            if rest.is_positive() {
                out.push((rest, Reason::AfterCompletion { on: None }));
            }
            return out;
        }
        let skip = p.macc_skipped.iter().find(|(id, _)| *id == self.lot);
        let reason = match skip.map(|(_, s)| *s) {
            Some(MaccSkip::NamesAnotherMacc) => Reason::NamesAnotherMacc,
            Some(MaccSkip::BeforeStart) => Reason::OutOfPeriod { before: true },
            Some(MaccSkip::AfterEnd) => Reason::OutOfPeriod { before: false },
            Some(MaccSkip::Closed) => self.closed(),
            None => ahead(p.macc),
        };
        vec![(p.amount, reason)]
    }

    /// Why a MACC settlement found closed was closed.
    fn closed(&self) -> Reason {
        match &self.before {
            Before::Closed(MaccState::Completed { date, .. }) => {
                Reason::AfterCompletion { on: Some(*date) }
            }
            Before::Closed(MaccState::Expired { .. }) => Reason::Expired,
            Before::Closed(MaccState::Canceled) => Reason::Canceled,
            _ => Reason::AfterCompletion { on: None },
        }
    }
}

fn sum(parts: &[(&str, Money)]) -> Money {
    parts
        .iter()
        .try_fold(Money::ZERO, |acc, (_, m)| acc.checked_add(*m))
        .unwrap_or(Money::ZERO)
}

impl TraceSink for Collector<'_> {
    const ENABLED: bool = true;

    fn portion(&mut self, p: &Portion<'_>) {
        if p.line.kind == ChargeKind::Refund || !p.amount.is_positive() {
            return;
        }
        let reasons = match &self.before {
            Before::Absent => vec![(p.amount, Reason::NotYetAgreed)],
            _ => self.reasons(p),
        };
        for (amount, reason) in reasons {
            self.found.push(NotCounted {
                invoice: p.invoice.id.clone(),
                line_position: p.line_position,
                line_id: p.invoice.str(p.line.line_id).map(str::to_owned),
                charge_date: p.line.charge_date,
                kind: p.line.kind,
                payer: p.payer.name().to_string(),
                covered_by: p.lot.map(str::to_owned),
                amount,
                reason,
            });
        }
    }
}

/// Every portion of MACC `lot`'s account that did not count toward it, through the whole log.
pub fn why_not(store: &Store, lot: &str) -> Result<WhyNot, TraceError> {
    let mut ledger = Ledger::new();
    // Every account's portions, in log order: M's account is known only at the end.
    let mut by_account: BTreeMap<String, Vec<NotCounted>> = BTreeMap::new();
    for entry in store.reader(ReadOptions {
        from_seq: 0,
        verify_chain: false,
    }) {
        let entry = entry?;
        let account = entry.fact.account().to_string();
        let state = ledger
            .account(&account)
            .and_then(|a| a.macc_index(lot).map(|i| a.maccs[i].state.clone()));
        let before = match state {
            None => Before::Absent,
            Some(MaccState::Open) => Before::Open,
            Some(state) => Before::Closed(state),
        };
        let mut collector = Collector {
            lot,
            before,
            found: Vec::new(),
        };
        ledger
            .apply_traced(&entry.fact, ApplyOptions::default(), &mut collector)
            .map_err(|e| TraceError::Refused {
                seq: entry.first_seq,
                message: e.to_string(),
            })?;
        if !collector.found.is_empty() {
            by_account
                .entry(account)
                .or_default()
                .extend(collector.found);
        }
    }
    let (account, acct) = ledger
        .accounts
        .iter()
        .find(|(_, a)| a.lot_ref(lot).is_some())
        .ok_or_else(|| TraceError::UnknownLot(lot.to_string()))?;
    if acct.macc_index(lot).is_none() {
        return Err(TraceError::NotAMacc(lot.to_string()));
    }
    Ok(WhyNot {
        lot: lot.to_string(),
        account: account.clone(),
        lines: by_account.remove(account).unwrap_or_default(),
    })
}
