//! The run rate (R-ALERT-2): one definition for alerts, the report and plans.
//!
//! A commitment's run rate is its eligible spend by charge month over the last `window`
//! complete months before the as-of month (6 by default; fewer if the commitment started
//! later), divided by the number of months measured:
//! - spend is the charge lines' amounts **before credits** (a line an ACO pays still shows
//!   what the customer burns);
//! - only kinds that count toward the commitment when paid on the invoice count, by the
//!   account's rulebook (`Rulebook::cell(kind, Payer::Paid)`, the R-ELIG cell settlement
//!   uses); a refund counts (negative) under the kind it corrects, as settlement reads it;
//! - one-off purchases are left out ([`is_one_off`]): prepayment and shortfall purchases, and
//!   reservation purchases (the ledger does not record exports' charge frequency, so every
//!   reservation or savings-plan purchase is taken as billed up front);
//! - only lines charged within the commitment's own dates count;
//! - a month of the window that no settled invoice's billing period covers yet is left out of
//!   the window (not counted as a month of zero spend).
//!
//! The spend comes from [`crate::projection::AccountViews::spend`], which the fold keeps from
//! the settled invoices' lines.

use std::collections::BTreeSet;

use ledger_core::rulebook::{rulebook, Rulebook, CURRENT_VERSION};
use ledger_core::{AccountState, ChargeKind, Date, Money, Payer};
use rust_decimal::Decimal;

pub use crate::projection::spend_kind;
use crate::projection::AccountViews;

/// Months measured when no window is given.
pub const DEFAULT_WINDOW: u32 = 6;

/// Which commitment's R-ELIG column a run rate follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counts {
    Macc,
    Caco,
}

/// What a run rate is measured for: the commitment's counting column and dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateQuery {
    pub counts: Counts,
    /// The commitment's (or the milestone period's) first day.
    pub start: Date,
    /// Its last day: lines charged after it do not count.
    pub end: Date,
    /// "Today": the window ends before this date's month.
    pub as_of: Date,
    /// At most this many complete months.
    pub window: u32,
}

/// A measured run rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRate {
    /// First days of the months measured (settled), oldest first.
    pub months: Vec<Date>,
    /// First days of the window's months left out: no settled invoice covers them yet.
    pub unsettled: Vec<Date>,
    /// Eligible spend charged in the months measured.
    pub spend: Money,
}

impl RunRate {
    /// Spend per month measured (zero when no month was measured).
    pub fn monthly(&self) -> Decimal {
        if self.months.is_empty() {
            Decimal::ZERO
        } else {
            self.spend.to_decimal() / Decimal::from(self.months.len() as u64)
        }
    }
}

/// A purchase billed once, not a monthly burn: left out of run rates.
pub fn is_one_off(kind: ChargeKind) -> bool {
    matches!(
        kind,
        ChargeKind::PrepaymentPurchase
            | ChargeKind::MaccShortfallPurchase
            | ChargeKind::MilestoneShortfallPurchase
            | ChargeKind::ReservationPurchase
    )
}

/// Whether `kind`, paid on the invoice, counts toward the commitment (the R-ELIG cell).
pub fn counts_when_paid(rb: &Rulebook, kind: ChargeKind, counts: Counts) -> bool {
    let cell = rb.cell(kind, Payer::Paid);
    match counts {
        Counts::Macc => cell.macc,
        Counts::Caco => cell.caco,
    }
}

/// The first days of the months a settled (not engine-made) invoice's billing period covers.
pub fn settled_months(acct: &AccountState) -> BTreeSet<Date> {
    let mut months = BTreeSet::new();
    for inv in acct.invoices.iter().filter(|i| !i.synthetic) {
        let mut m = inv.period_start.month_start();
        while m <= inv.period_end {
            months.insert(m);
            m = m.add_months(1);
        }
    }
    months
}

/// The window's months (first days), oldest first: at most `window` complete months before
/// the as-of month, none before the start's month.
pub fn window_months(as_of: Date, start: Date, window: u32) -> Vec<Date> {
    let after = as_of.month_start();
    let mut m = after.sub_months(window).max(start.month_start());
    let mut out = Vec::new();
    while m < after {
        out.push(m);
        m = m.add_months(1);
    }
    out
}

/// The run rate of one commitment of `acct` (R-ALERT-2).
pub fn run_rate(acct: &AccountState, views: Option<&AccountViews>, q: &RateQuery) -> RunRate {
    let rb = rulebook(acct.terms.rulebook_version)
        .or_else(|| rulebook(CURRENT_VERSION))
        .expect("the current rulebook exists");
    let settled = settled_months(acct);
    let (months, unsettled): (Vec<Date>, Vec<Date>) = window_months(q.as_of, q.start, q.window)
        .into_iter()
        .partition(|m| settled.contains(m));
    let mut spend = Money::ZERO;
    if let (Some(views), Some(&first), Some(&last)) = (views, months.first(), months.last()) {
        let from = first.max(q.start);
        let to = last.month_end().min(q.end);
        for (&(date, kind), &amount) in views.spend.range((from, ChargeKind::Usage)..) {
            if date > to {
                break;
            }
            let counted = settled.contains(&date.month_start())
                && counts_when_paid(rb, kind, q.counts)
                && !is_one_off(kind);
            if counted {
                spend = spend.checked_add(amount).unwrap_or(spend);
            }
        }
    }
    RunRate {
        months,
        unsettled,
        spend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn the_window_is_the_complete_months_before_the_as_of_month_from_the_start() {
        let w = window_months(d("2025-07-15"), d("2024-01-01"), 6);
        assert_eq!(w.first(), Some(&d("2025-01-01")));
        assert_eq!(w.last(), Some(&d("2025-06-01")));
        assert_eq!(w.len(), 6);
        assert_eq!(window_months(d("2025-07-15"), d("2025-04-10"), 6).len(), 3);
        assert_eq!(window_months(d("2025-07-15"), d("2024-01-01"), 2).len(), 2);
        assert!(window_months(d("2025-07-15"), d("2025-07-02"), 6).is_empty());
    }

    #[test]
    fn one_off_purchases_and_counting_kinds_follow_the_rulebook() {
        let rb = rulebook(1).unwrap();
        assert!(counts_when_paid(rb, ChargeKind::Usage, Counts::Macc));
        assert!(counts_when_paid(
            rb,
            ChargeKind::MarketplaceEligible,
            Counts::Macc
        ));
        assert!(!counts_when_paid(
            rb,
            ChargeKind::MarketplaceEligible,
            Counts::Caco
        ));
        assert!(!counts_when_paid(rb, ChargeKind::Support, Counts::Macc));
        assert!(is_one_off(ChargeKind::MaccShortfallPurchase));
        assert!(!is_one_off(ChargeKind::Usage));
        assert_eq!(
            spend_kind(ChargeKind::Refund, None),
            ChargeKind::Usage,
            "a refund counts under the kind it corrects"
        );
    }
}
