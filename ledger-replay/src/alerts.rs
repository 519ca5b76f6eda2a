//! R-ALERT: deadline alerts, burn-rate risk and forecasts, as of a date.
//!
//! For every MACC, CACO and milestone (CACO or MACC) not yet met and not ended:
//! - R-ALERT-1: alert level 90, 60 or 30 when the days to its end are at most 90, 60, 30;
//! - R-ALERT-2: required monthly rate = remaining / (days to end / 30.4375); actual monthly
//!   rate = the run rate ([`crate::run_rate`]: eligible spend by charge month, before credits,
//!   without one-off purchases, over the settled months of the window); risk Low above 1.1×
//!   the required rate, High below 0.9×, else Medium;
//! - R-ALERT-3: at the actual rate, the date the remaining reaches zero (none when that is
//!   later than twice the term after its start: "not at this rate") and the shortfall left at
//!   the end.
//!
//! [`credit_expiries`] gives credit lots the same levels over the days to their expiry (what
//! would be lost unused).
//!
//! The ledger's current state is used; the as-of date is "today" for days left and for the
//! rate window, and 0 days left counts as 1 (fine point 8). Rates are quotients: they are
//! Decimals, compared by cross-multiplication so the 0.9× and 1.1× thresholds are exact.

use crate::projection::{AccountViews, Projections};
use crate::run_rate::{run_rate, Counts, RateQuery, RunRate, DEFAULT_WINDOW};
use ledger_core::state::{CacoMilestoneState, CacoState, LotState, MaccState};
use ledger_core::{AccountState, Date, Money};
use rust_decimal::Decimal;

/// Days in an average month (365.25 / 12).
pub fn days_per_month() -> Decimal {
    Decimal::new(304375, 4)
}

/// Burn-rate risk (R-ALERT-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn name(self) -> &'static str {
        match self {
            Risk::Low => "Low",
            Risk::Medium => "Medium",
            Risk::High => "High",
        }
    }
}

/// Why a forecast has no completion date (R-ALERT-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoForecast {
    /// Nothing eligible was spent in the rate window.
    NoSpend,
    /// At the run rate the remaining would be spent more than twice the term after the start.
    BeyondTwiceTheTerm,
}

impl NoForecast {
    /// The reason in words (JSON `forecastReason`).
    pub fn reason(self) -> &'static str {
        match self {
            NoForecast::NoSpend => "no eligible spend in the rate window",
            NoForecast::BeyondTwiceTheTerm => "not at this rate: later than twice the term",
        }
    }
}

/// One alert row.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub account: String,
    pub currency: String,
    pub id: String,
    /// `macc`, `caco` or `milestone`.
    pub kind: &'static str,
    /// The MACC or CACO a milestone belongs to.
    pub parent: Option<String>,
    pub end: Date,
    pub days_left: i32,
    /// R-ALERT-1: 90, 60, 30 or none.
    pub alert: Option<u32>,
    pub remaining: Money,
    pub required_monthly_rate: Decimal,
    /// The run rate (R-ALERT-2).
    pub actual_monthly_rate: Decimal,
    /// Months the run rate measured (settled months of the window).
    pub rate_months: usize,
    pub risk: Risk,
    pub forecast_completion: Option<Date>,
    /// Why there is no completion date, when there is none.
    pub no_forecast: Option<NoForecast>,
    pub forecast_shortfall: Decimal,
    /// R-PEND-3: the remaining with the account's pending charges estimated on it; `None`
    /// when the account has no current pending run. Levels and risk are judged on the
    /// settled remaining.
    pub pending_remaining: Option<Money>,
}

/// R-ALERT-1.
pub fn alert_level(days_left: i32) -> Option<u32> {
    match days_left {
        d if d <= 30 => Some(30),
        d if d <= 60 => Some(60),
        d if d <= 90 => Some(90),
        _ => None,
    }
}

/// What one alert is judged from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub as_of: Date,
    /// The commitment's (or milestone period's) first day: the term runs from it to `end`.
    pub start: Date,
    pub end: Date,
    pub remaining: Money,
    /// Eligible spend in the months the run rate measured.
    pub spend: Money,
    /// How many months it measured.
    pub months: usize,
}

/// What [`evaluate`] finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub days_left: i32,
    pub alert: Option<u32>,
    pub required: Decimal,
    pub actual: Decimal,
    pub risk: Risk,
    pub forecast_completion: Option<Date>,
    pub no_forecast: Option<NoForecast>,
    pub forecast_shortfall: Decimal,
}

/// R-ALERT-1 to 3 for one commitment or milestone.
pub fn evaluate(j: &Judged) -> Evaluation {
    let days_left = j.as_of.days_until(j.end);
    let days = Decimal::from(days_left.max(1));
    let remaining_d = j.remaining.to_decimal();
    let per_month = days_per_month();
    // required = remaining / (days / 30.4375) = remaining × 30.4375 / days
    let required = remaining_d * per_month / days;
    let sum = j.spend.to_decimal();
    let months = Decimal::from(j.months as u64);
    let actual = if j.months > 0 {
        sum / months
    } else {
        Decimal::ZERO
    };
    let risk = risk(j, sum * days, remaining_d * per_month * months);
    let (forecast_completion, no_forecast) = forecast(j, actual);
    let months_left = days / per_month;
    let forecast_shortfall = (remaining_d - actual * months_left).max(Decimal::ZERO);
    Evaluation {
        days_left,
        alert: alert_level(days_left),
        required,
        actual,
        risk,
        forecast_completion,
        no_forecast,
        forecast_shortfall,
    }
}

/// Exact thresholds: actual vs k × required ⟺ spend × days (`lhs`) vs k × remaining ×
/// 30.4375 × months (`rhs`).
fn risk(j: &Judged, lhs: Decimal, rhs: Decimal) -> Risk {
    if j.months == 0 {
        if j.remaining.is_positive() {
            Risk::High
        } else {
            Risk::Low
        }
    } else if lhs > rhs * Decimal::new(11, 1) {
        Risk::Low
    } else if lhs < rhs * Decimal::new(9, 1) {
        Risk::High
    } else {
        Risk::Medium
    }
}

/// R-ALERT-3's completion date at `actual` a month, if within twice the term from the start.
fn forecast(j: &Judged, actual: Decimal) -> (Option<Date>, Option<NoForecast>) {
    if j.remaining.is_zero() {
        return (Some(j.as_of), None);
    }
    if actual <= Decimal::ZERO {
        return (None, Some(NoForecast::NoSpend));
    }
    let days_needed = (j.remaining.to_decimal() / actual * days_per_month()).ceil();
    let term = Decimal::from(j.start.days_until(j.end).max(1));
    let latest = Decimal::from(j.as_of.days_until(j.start)) + term * Decimal::from(2);
    match i32::try_from(days_needed) {
        Ok(days) if days_needed <= latest => (Some(j.as_of.add_days(days)), None),
        _ => (None, Some(NoForecast::BeyondTwiceTheTerm)),
    }
}

/// What `alerts` looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertQuery<'a> {
    pub as_of: Date,
    /// One account, or every account.
    pub account: Option<&'a str>,
    /// Months of the run-rate window (default 6).
    pub window: u32,
}

/// Every alert as of `as_of`, ordered by end date, kind, id, with the default window.
pub fn alerts(p: &Projections, as_of: Date, account: Option<&str>) -> Vec<Alert> {
    alerts_with(
        p,
        &AlertQuery {
            as_of,
            account,
            window: DEFAULT_WINDOW,
        },
    )
}

/// One commitment or milestone to judge (alerts) or plan for (`crate::plan`).
pub(crate) struct Subject {
    pub(crate) id: String,
    /// `macc`, `caco` or `milestone`.
    pub(crate) kind: &'static str,
    pub(crate) parent: Option<String>,
    pub(crate) counts: Counts,
    /// The first day of the run-rate window: the commitment's or milestone period's start.
    pub(crate) start: Date,
    pub(crate) end: Date,
    pub(crate) remaining: Money,
}

/// Judge `s` for `acct`, if it is still open on the as-of date.
fn judge(
    acct: &AccountState,
    views: Option<&AccountViews>,
    q: &AlertQuery<'_>,
    s: Subject,
) -> Option<Alert> {
    if q.as_of > s.end || !s.remaining.is_positive() {
        return None;
    }
    let rate: RunRate = run_rate(
        acct,
        views,
        &RateQuery {
            counts: s.counts,
            start: s.start,
            end: s.end,
            as_of: q.as_of,
            window: q.window,
        },
    );
    let e = evaluate(&Judged {
        as_of: q.as_of,
        start: s.start,
        end: s.end,
        remaining: s.remaining,
        spend: rate.spend,
        months: rate.months.len(),
    });
    Some(Alert {
        account: acct.account.clone(),
        currency: acct.currency.clone(),
        id: s.id,
        kind: s.kind,
        parent: s.parent,
        end: s.end,
        days_left: e.days_left,
        alert: e.alert,
        remaining: s.remaining,
        required_monthly_rate: e.required,
        actual_monthly_rate: e.actual,
        rate_months: rate.months.len(),
        risk: e.risk,
        forecast_completion: e.forecast_completion,
        no_forecast: e.no_forecast,
        forecast_shortfall: e.forecast_shortfall,
        pending_remaining: None,
    })
}

/// The open MACCs of `acct` and their milestones not yet evaluated.
pub(crate) fn macc_subjects(acct: &AccountState) -> Vec<Subject> {
    let mut out = Vec::new();
    for macc in acct.maccs.iter().filter(|m| m.state == MaccState::Open) {
        out.push(Subject {
            id: macc.terms.id.clone(),
            kind: "macc",
            parent: None,
            counts: Counts::Macc,
            start: macc.terms.start,
            end: macc.terms.end,
            remaining: macc.amounts.balance,
        });
        let cumulative = macc
            .terms
            .amount
            .checked_sub(macc.amounts.balance)
            .unwrap_or(Money::ZERO);
        for (k, ms) in macc.terms.milestones.iter().enumerate() {
            if macc.milestone_outcomes[k].is_some() {
                continue;
            }
            out.push(Subject {
                id: ms.id.clone(),
                kind: "milestone",
                parent: Some(macc.terms.id.clone()),
                counts: Counts::Macc,
                start: macc.terms.start,
                end: ms.due,
                remaining: ms
                    .target
                    .checked_sub(cumulative)
                    .unwrap_or(Money::ZERO)
                    .max(Money::ZERO),
            });
        }
    }
    out
}

/// The open CACOs of `acct` and their open milestones.
pub(crate) fn caco_subjects(acct: &AccountState) -> Vec<Subject> {
    let mut out = Vec::new();
    for caco in acct.cacos.iter().filter(|c| c.state != CacoState::Canceled) {
        if caco.state == CacoState::Open {
            out.push(Subject {
                id: caco.terms.id.clone(),
                kind: "caco",
                parent: None,
                counts: Counts::Caco,
                start: caco.terms.start,
                end: caco.terms.end(),
                remaining: caco.amounts.balance,
            });
        }
        for ms in &caco.milestones {
            if ms.state != CacoMilestoneState::Open {
                continue;
            }
            let start = match caco.terms.basis {
                ledger_core::CacoBasis::Period => ms.terms.start,
                ledger_core::CacoBasis::Cumulative => caco.terms.start,
            };
            out.push(Subject {
                id: ms.terms.id.clone(),
                kind: "milestone",
                parent: Some(caco.terms.id.clone()),
                counts: Counts::Caco,
                start,
                end: ms.terms.end,
                remaining: ms
                    .terms
                    .target
                    .checked_sub(ms.progress)
                    .unwrap_or(Money::ZERO)
                    .max(Money::ZERO),
            });
        }
    }
    out
}

/// The remaining of `alert`'s subject in the pending estimate: zero when the estimate
/// completes it.
fn pending_remaining(forked: &[Subject], alert: &Alert) -> Money {
    forked
        .iter()
        .find(|s| s.kind == alert.kind && s.parent == alert.parent && s.id == alert.id)
        .map_or(Money::ZERO, |s| s.remaining)
}

/// Every alert of `q`, ordered by end date, kind, id.
pub fn alerts_with(p: &Projections, q: &AlertQuery<'_>) -> Vec<Alert> {
    let mut out = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if q.account.is_some_and(|a| a != name) {
            continue;
        }
        let views = p.views.get(name);
        let subjects = macc_subjects(acct).into_iter().chain(caco_subjects(acct));
        let judged = subjects.filter_map(|s| judge(acct, views, q, s));
        match crate::pending::estimate(p, name) {
            None => out.extend(judged),
            Some(estimate) => {
                let forked: Vec<Subject> = macc_subjects(&estimate.state)
                    .into_iter()
                    .chain(caco_subjects(&estimate.state))
                    .collect();
                out.extend(judged.map(|mut alert| {
                    alert.pending_remaining = Some(pending_remaining(&forked, &alert));
                    alert
                }));
            }
        }
    }
    let rank = |k: &str| match k {
        "macc" => 0,
        "caco" => 1,
        _ => 2,
    };
    out.sort_by(|a, b| (a.end, rank(a.kind), &a.id).cmp(&(b.end, rank(b.kind), &b.id)));
    out
}

/// A credit lot about to expire with a balance left (R-ALERT-1's levels over days to its
/// `expires`): what would be lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditExpiry {
    pub account: String,
    pub currency: String,
    pub lot: String,
    /// The credit lot kind (`aco`, `prepayment`, `milestone_shortfall_credit`, …).
    pub kind: &'static str,
    pub expires: Date,
    pub days_left: i32,
    /// 90, 60, 30 or none.
    pub alert: Option<u32>,
    pub balance: Money,
}

/// The credit lots of `credit_expiries` that expire within 90 days: what `alerts` lists, by
/// expiry date, then lot id.
pub fn expiring_credits(p: &Projections, as_of: Date, account: Option<&str>) -> Vec<CreditExpiry> {
    let mut out: Vec<CreditExpiry> = credit_expiries(p, as_of, account)
        .into_iter()
        .filter(|c| c.alert.is_some())
        .collect();
    out.sort_by(|a, b| (a.expires, &a.account, &a.lot).cmp(&(b.expires, &b.account, &b.lot)));
    out
}

/// Every credit lot still open on `as_of` with a balance, and the alert level of its expiry.
pub fn credit_expiries(p: &Projections, as_of: Date, account: Option<&str>) -> Vec<CreditExpiry> {
    let mut out = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if account.is_some_and(|a| a != name) {
            continue;
        }
        for lot in &acct.lots {
            let live = lot.state == LotState::Open && lot.terms.start <= as_of;
            if !live || as_of > lot.terms.expires || !lot.amounts.balance.is_positive() {
                continue;
            }
            let days_left = as_of.days_until(lot.terms.expires);
            out.push(CreditExpiry {
                account: name.clone(),
                currency: acct.currency.clone(),
                lot: lot.terms.id.clone(),
                kind: lot.terms.kind.name(),
                expires: lot.terms.expires,
                days_left,
                alert: alert_level(days_left),
                balance: lot.amounts.balance,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    /// Judged as of `as_of` for a commitment started 2024-01-01.
    fn judged(as_of: Date, end: Date, remaining: &str, spend: &str, months: usize) -> Judged {
        Judged {
            as_of,
            start: d("2024-01-01"),
            end,
            remaining: m(remaining),
            spend: m(spend),
            months,
        }
    }

    #[test]
    fn r_alert_1_levels_at_the_boundaries() {
        let cases = [
            (91, None),
            (90, Some(90)),
            (61, Some(90)),
            (60, Some(60)),
            (31, Some(60)),
            (30, Some(30)),
            (0, Some(30)),
        ];
        for (days, level) in cases {
            assert_eq!(alert_level(days), level, "{days} days left");
        }
        // Through `evaluate`: days left counted from the as-of date to the end.
        let as_of = d("2025-01-01");
        for (days, level) in cases {
            let e = evaluate(&judged(as_of, as_of.add_days(days), "100", "0", 0));
            assert_eq!((e.days_left, e.alert), (days, level));
        }
    }

    #[test]
    fn r_alert_2_required_rate_and_zero_days_counts_as_one() {
        // 122 remaining over 61 days (2 days a unit): 2 × 30.4375 = 60.875 a month.
        let as_of = d("2025-01-01");
        let e = evaluate(&judged(as_of, as_of.add_days(61), "122", "0", 0));
        assert_eq!(e.required, Decimal::new(60875, 3));
        let e = evaluate(&judged(as_of, as_of, "10", "0", 0));
        assert_eq!(
            e.required,
            Decimal::new(304375, 3),
            "0 days left counts as 1: 10 × 30.4375 / 1"
        );
    }

    #[test]
    fn r_alert_2_actual_rate_is_the_spend_over_the_months_measured() {
        let as_of = d("2025-07-15");
        let e = evaluate(&judged(as_of, d("2025-12-31"), "1000", "120", 6));
        assert_eq!(e.actual, Decimal::new(20, 0), "120 over 6 months");
        let e = evaluate(&judged(as_of, d("2025-12-31"), "1000", "60", 3));
        assert_eq!(e.actual, Decimal::new(20, 0), "60 over 3 months");
    }

    /// Risk exactly at 0.9× and 1.1× the required rate is Medium; beyond either, Low or High.
    #[test]
    fn r_alert_2_risk_thresholds_are_exact() {
        // 30.4375 days = 487/16, so an end 487 days away is exactly 16 months: 1600 remaining
        // needs exactly 100 a month.
        let as_of = d("2025-07-01");
        let end = as_of.add_days(487);
        assert_eq!(
            evaluate(&judged(as_of, end, "1600", "0", 0)).required,
            Decimal::from(100)
        );
        // Actual: 6 months of `monthly`.
        let risk = |monthly: &str| {
            let spend = (m(monthly).to_decimal() * Decimal::from(6)).to_string();
            evaluate(&judged(as_of, end, "1600", &spend, 6)).risk
        };
        assert_eq!(risk("90"), Risk::Medium, "exactly 0.9×");
        assert_eq!(risk("89.99"), Risk::High);
        assert_eq!(risk("110"), Risk::Medium, "exactly 1.1×");
        assert_eq!(risk("110.01"), Risk::Low);
        assert_eq!(risk("100"), Risk::Medium);
    }

    #[test]
    fn r_alert_3_forecast_completion_and_shortfall() {
        let as_of = d("2025-07-01");
        // 100 a month; 300 remaining: 3 months = 91.3125 days → completion 92 days on.
        let e = evaluate(&judged(as_of, d("2025-12-31"), "300", "600", 6));
        assert_eq!(e.forecast_completion, Some(as_of.add_days(92)));
        assert_eq!(e.forecast_shortfall, Decimal::ZERO);
        // 1000 remaining, end in 61 days: shortfall = 1000 − 100 × months left.
        let end = as_of.add_days(61);
        let e = evaluate(&judged(as_of, end, "1000", "600", 6));
        let months_left = Decimal::from(61) / days_per_month();
        assert_eq!(
            e.forecast_shortfall,
            Decimal::from(1000) - Decimal::from(100) * months_left
        );
        // Nothing burned: no completion date, the whole remaining is the shortfall.
        let e = evaluate(&judged(as_of, end, "1000", "0", 0));
        assert_eq!(
            (e.forecast_completion, e.no_forecast, e.forecast_shortfall),
            (None, Some(NoForecast::NoSpend), Decimal::from(1000))
        );
    }

    /// A completion later than twice the term after the start is no date ("not at this
    /// rate"); one just within it is a date.
    #[test]
    fn r_alert_3_no_forecast_date_beyond_twice_the_term() {
        // Term 2024-01-01 .. 2024-12-31 (365 days): the latest forecast is 730 days after the
        // start, 2025-12-31. As of 2024-07-01 (182 days in), 548 days are left for it.
        let as_of = d("2024-07-01");
        let end = d("2024-12-31");
        // 0.01 a month against 1,000,000: thousands of years away.
        let e = evaluate(&judged(as_of, end, "1000000", "0.06", 6));
        assert_eq!(
            (e.forecast_completion, e.no_forecast),
            (None, Some(NoForecast::BeyondTwiceTheTerm))
        );
        // 30.4375 × 18 = 547.875 → 548 days: exactly the latest date.
        let e = evaluate(&judged(as_of, end, "1800", "600", 6));
        assert_eq!(e.forecast_completion, Some(d("2025-12-31")));
        assert_eq!(e.no_forecast, None);
        // 1,801.00 needs 548.18… → 549 days: beyond.
        let e = evaluate(&judged(as_of, end, "1801", "600", 6));
        assert_eq!(e.no_forecast, Some(NoForecast::BeyondTwiceTheTerm));
    }
}
