//! Pending charges (R-PEND): month-to-date data, recorded as facts but never settled.
//!
//! A pending run is an invoice-shaped fact ([`crate::Fact::Pending`]) whose lines are not final.
//! Recording one decides only bookkeeping: which earlier runs of the same billing period it
//! replaces ([`Event::PendingSuperseded`]) and that it is now current
//! ([`Event::PendingRecorded`]). It never touches a balance, the ledger clock or a deadline, so
//! the settled decisions (and their ids) are the same as if it had never been recorded.
//!
//! What the pending charges would do is [`estimate`]: the one settlement fold
//! (`settle_invoice`, R-SETTLE) run over the current pending runs on a copy of the settled
//! state, without deadline evaluations, whose results are shown as estimates and never
//! recorded. The closed invoice of a period replaces every pending run of that period.

use crate::error::CoreError;
use crate::event::{Event, InvoiceSummary, PendingRun, Period};
use crate::evolve::corrupt;
use crate::fact::Invoice;
use crate::settle::{emit, settle_invoice};
use crate::state::AccountState;
use crate::trace::NoTrace;

/// The run an invoice-shaped pending fact records.
pub fn run_of(inv: &Invoice) -> Result<PendingRun, CoreError> {
    let charges = inv.total().ok_or_else(|| CoreError::Overflow {
        context: format!("pending invoice {}", inv.id),
    })?;
    Ok(PendingRun {
        invoice: inv.id.clone(),
        content_hash: inv.content_hash,
        date: inv.date,
        period_start: inv.period_start,
        period_end: inv.period_end,
        profiles: used_profiles(inv),
        line_count: inv.lines.len() as u32,
        charges,
    })
}

/// The billing profiles an invoice's lines name, sorted.
fn used_profiles(inv: &Invoice) -> Vec<String> {
    let mut names: Vec<String> = inv
        .lines
        .iter()
        .map(|l| inv.profile_name(l).to_string())
        .filter(|p| !p.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What recording a pending run decided.
pub(crate) enum Recorded {
    /// It is now current (events emitted).
    Current,
    /// The same run is current already, or its period's invoice is settled: nothing to record.
    Nothing,
}

/// R-PEND-1, R-PEND-2: record `inv` as the current pending run of its period, replacing the
/// runs of the same period. The run must settle on a copy of the state (so a run the estimate
/// could not fold is refused when it arrives, naming why).
pub(crate) fn record(
    acct: &mut AccountState,
    inv: &Invoice,
    out: &mut Vec<Event>,
) -> Result<Recorded, CoreError> {
    let run = run_of(inv)?;
    if acct
        .pending
        .iter()
        .any(|p| p.invoice == run.invoice && p.content_hash == run.content_hash)
    {
        return Ok(Recorded::Nothing);
    }
    if let Some(settled) = acct.invoice(&inv.id) {
        if settled_period(settled).same_as(&run.period()) {
            return Ok(Recorded::Nothing);
        }
        return Err(CoreError::InvoiceConflict {
            invoice: inv.id.clone(),
            detail: format!(
                "it was settled for the billing period {}..{}; a pending run cannot reuse its id",
                settled.period_start, settled.period_end
            ),
        });
    }
    if acct
        .invoices
        .iter()
        .any(|s| !s.synthetic && settled_period(s).same_as(&run.period()))
    {
        return Ok(Recorded::Nothing);
    }
    let mut trial = acct.clone();
    trial.pending.clear();
    settle_invoice(&mut trial, inv, None, &mut Vec::new(), &mut NoTrace)?;
    trial.check_invariants()?;
    let replaced: Vec<(String, [u8; 32])> = acct
        .pending
        .iter()
        .filter(|p| p.invoice == run.invoice || p.period().same_as(&run.period()))
        .map(|p| (p.invoice.clone(), p.content_hash))
        .collect();
    for (invoice, content_hash) in replaced {
        let by = run.invoice.clone();
        emit(
            acct,
            out,
            Event::PendingSuperseded {
                invoice,
                content_hash,
                by,
            },
        )?;
    }
    emit(acct, out, Event::PendingRecorded { run })?;
    Ok(Recorded::Current)
}

/// A settled invoice's period. Its profiles are not kept in the summary, so a settled invoice
/// shares every profile: the closed invoice replaces every pending run of its period.
fn settled_period(summary: &InvoiceSummary) -> Period<'static> {
    Period {
        start: summary.period_start,
        end: summary.period_end,
        profiles: &[],
    }
}

/// R-PEND-2: the closed invoice `inv`, just settled, replaces every pending run of its period
/// (and one recorded under its id).
pub(crate) fn supersede_by_invoice(
    acct: &mut AccountState,
    inv: &Invoice,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    if acct.pending.is_empty() {
        return Ok(());
    }
    let profiles = used_profiles(inv);
    let period = Period {
        start: inv.period_start,
        end: inv.period_end,
        profiles: &profiles,
    };
    let replaced: Vec<(String, [u8; 32])> = acct
        .pending
        .iter()
        .filter(|p| p.invoice == inv.id || p.period().same_as(&period))
        .map(|p| (p.invoice.clone(), p.content_hash))
        .collect();
    for (invoice, content_hash) in replaced {
        emit(
            acct,
            out,
            Event::PendingSuperseded {
                invoice,
                content_hash,
                by: inv.id.clone(),
            },
        )?;
    }
    Ok(())
}

impl AccountState {
    /// Fold [`Event::PendingRecorded`].
    pub(crate) fn pending_recorded(&mut self, run: &PendingRun) -> Result<(), CoreError> {
        if self.pending.iter().any(|p| p.invoice == run.invoice) {
            return Err(corrupt(format!(
                "pending run {} recorded while another run with its id is current",
                run.invoice
            )));
        }
        self.pending.push(run.clone());
        Ok(())
    }

    /// Fold [`Event::PendingSuperseded`].
    pub(crate) fn pending_superseded(
        &mut self,
        invoice: &str,
        content_hash: &[u8; 32],
    ) -> Result<(), CoreError> {
        let i = self
            .pending
            .iter()
            .position(|p| p.invoice == invoice && &p.content_hash == content_hash)
            .ok_or_else(|| corrupt(format!("pending run {invoice} superseded but not current")))?;
        self.pending.remove(i);
        Ok(())
    }
}

/// The pending estimate of one account (R-PEND-3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The settled state with the pending runs settled on it; its clock is the settled clock.
    pub state: AccountState,
    /// The decisions each run folded to, in the order of `runs`.
    pub events: Vec<(String, Vec<Event>)>,
    /// Runs that no longer settle on the current state (say, a lot id a later settled invoice
    /// took), with why; they are left out of the estimate.
    pub skipped: Vec<(String, String)>,
}

/// R-PEND-3: the settlement fold run over `runs` (the current pending runs, in the order
/// given) on a copy of `acct`. No deadline is evaluated, nothing is recorded, the clock stays
/// the settled one.
pub fn estimate<'a>(acct: &AccountState, runs: impl IntoIterator<Item = &'a Invoice>) -> Estimate {
    let mut fork = acct.clone();
    fork.pending.clear();
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for inv in runs {
        let mut trial = fork.clone();
        let mut out = Vec::new();
        let settled = settle_invoice(&mut trial, inv, None, &mut out, &mut NoTrace)
            .and_then(|()| trial.check_invariants());
        match settled {
            Ok(()) => {
                fork = trial;
                events.push((inv.id.clone(), out));
            }
            Err(e) => skipped.push((inv.id.clone(), e.to_string())),
        }
    }
    fork.clock = acct.clock;
    Estimate {
        state: fork,
        events,
        skipped,
    }
}
