//! R-ALERT: deadline alerts, burn-rate risk and forecasts, as of a date.
//!
//! For every MACC, CACO and milestone (CACO or MACC) not yet met and not ended:
//! - R-ALERT-1: alert level 90, 60 or 30 when the days to its end are at most 90, 60, 30;
//! - R-ALERT-2: required monthly rate = remaining / (days to end / 30.4375); actual monthly
//!   rate = decrements in the 6 calendar months before the as-of month (fewer if it started
//!   later) / that number of months; risk Low above 1.1× the required rate, High below 0.9×,
//!   else Medium;
//! - R-ALERT-3: at the actual rate, the date the remaining reaches zero and the shortfall left
//!   at the end.
//!
//! [`credit_expiries`] gives credit lots the same levels over the days to their expiry (what
//! would be lost unused).
//!
//! The ledger's current state is used; the as-of date is "today" for days left and for the
//! rate window, and 0 days left counts as 1 (fine point 8). Rates are quotients: they are
//! Decimals, compared by cross-multiplication so the 0.9× and 1.1× thresholds are exact.

use crate::projection::Projections;
use ledger_core::state::{CacoMilestoneState, CacoState, LotState, MaccState};
use ledger_core::{Date, Money};
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
    pub actual_monthly_rate: Decimal,
    pub risk: Risk,
    pub forecast_completion: Option<Date>,
    pub forecast_shortfall: Decimal,
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

/// Months between two month starts (`to` after `from` gives a positive count).
fn months_between(from: Date, to: Date) -> i32 {
    (to.year() * 12 + to.month() as i32) - (from.year() * 12 + from.month() as i32)
}

/// The rate window of R-ALERT-2: the months before `as_of`'s month, at most 6, from `start`'s
/// month at the earliest. Returns (first day, first day after, number of months).
pub fn rate_window(as_of: Date, start: Date) -> (Date, Date, i32) {
    let end = as_of.month_start();
    let mut first = end.sub_months(6);
    if start.month_start() > first {
        first = start.month_start();
    }
    let months = months_between(first, end).max(0);
    (first, end, months)
}

/// What [`evaluate`] finds for one commitment as of a date (R-ALERT-1..3).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub days_left: i32,
    /// 90, 60 or 30 (R-ALERT-1), if within 90 days.
    pub alert: Option<u32>,
    pub required: Decimal,
    pub actual: Decimal,
    pub risk: Risk,
    pub forecast_completion: Option<Date>,
    pub forecast_shortfall: Decimal,
}

/// Compute one alert from its remaining amount, end, start and dated decrements.
pub fn evaluate(
    as_of: Date,
    end: Date,
    start: Date,
    remaining: Money,
    history: impl Iterator<Item = (Date, Money)>,
) -> Evaluation {
    let days_left = as_of.days_until(end);
    let days = Decimal::from(days_left.max(1));
    let remaining_d = remaining.to_decimal();
    let per_month = days_per_month();
    // required = remaining / (days / 30.4375) = remaining × 30.4375 / days
    let required = remaining_d * per_month / days;
    let (first, after, months) = rate_window(as_of, start);
    let mut decremented = Money::ZERO;
    for (date, amount) in history {
        if date >= first && date < after && amount.is_positive() {
            decremented = decremented.checked_add(amount).unwrap_or(decremented);
        }
    }
    let sum = decremented.to_decimal();
    let actual = if months > 0 {
        sum / Decimal::from(months)
    } else {
        Decimal::ZERO
    };
    // Exact thresholds: actual vs k × required ⟺ sum × days vs k × remaining × 30.4375 × months.
    let lhs = sum * days;
    let rhs = remaining_d * per_month * Decimal::from(months);
    let risk = if months == 0 {
        if remaining.is_positive() {
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
    };
    // R-ALERT-3.
    let forecast_completion = if remaining.is_zero() {
        Some(as_of)
    } else if actual > Decimal::ZERO {
        let days_needed = (remaining_d / actual * per_month).ceil();
        let days_needed: i32 = days_needed.try_into().unwrap_or(i32::MAX / 2);
        Some(as_of.add_days(days_needed))
    } else {
        None
    };
    let months_left = days / per_month;
    let shortfall = (remaining_d - actual * months_left).max(Decimal::ZERO);
    Evaluation {
        days_left,
        alert: alert_level(days_left),
        required,
        actual,
        risk,
        forecast_completion,
        forecast_shortfall: shortfall,
    }
}

/// Every alert as of `as_of`, ordered by end date, kind, id.
pub fn alerts(p: &Projections, as_of: Date, account: Option<&str>) -> Vec<Alert> {
    let mut out = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if account.is_some_and(|a| a != name) {
            continue;
        }
        let views = p.views.get(name);
        let macc_history = |macc: &str| -> Vec<(Date, Money)> {
            views
                .map(|v| {
                    v.lot_events
                        .iter()
                        .filter(|e| {
                            e.lot == macc
                                && e.event_type == "SettledCharges"
                                && e.charges.is_negative()
                        })
                        .map(|e| (e.date, e.charges.abs()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut push = |id: String,
                        kind: &'static str,
                        parent: Option<String>,
                        start: Date,
                        end: Date,
                        remaining: Money,
                        history: Vec<(Date, Money)>| {
            if as_of > end || !remaining.is_positive() {
                return;
            }
            let Evaluation {
                days_left,
                alert,
                required,
                actual,
                risk,
                forecast_completion,
                forecast_shortfall,
            } = evaluate(as_of, end, start, remaining, history.into_iter());
            out.push(Alert {
                account: name.clone(),
                currency: acct.currency.clone(),
                id,
                kind,
                parent,
                end,
                days_left,
                alert,
                remaining,
                required_monthly_rate: required,
                actual_monthly_rate: actual,
                risk,
                forecast_completion,
                forecast_shortfall,
            });
        };
        for macc in &acct.maccs {
            if macc.state != MaccState::Open {
                continue;
            }
            let history = macc_history(&macc.terms.id);
            push(
                macc.terms.id.clone(),
                "macc",
                None,
                macc.terms.start,
                macc.terms.end,
                macc.amounts.balance,
                history.clone(),
            );
            let cumulative = macc
                .terms
                .amount
                .checked_sub(macc.amounts.balance)
                .unwrap_or(Money::ZERO);
            for (k, ms) in macc.terms.milestones.iter().enumerate() {
                if macc.milestone_outcomes[k].is_some() {
                    continue;
                }
                let remaining = ms
                    .target
                    .checked_sub(cumulative)
                    .unwrap_or(Money::ZERO)
                    .max(Money::ZERO);
                push(
                    ms.id.clone(),
                    "milestone",
                    Some(macc.terms.id.clone()),
                    macc.terms.start,
                    ms.due,
                    remaining,
                    history.clone(),
                );
            }
        }
        for caco in &acct.cacos {
            if caco.state == CacoState::Canceled {
                continue;
            }
            if caco.state == CacoState::Open {
                let history: Vec<(Date, Money)> = views
                    .and_then(|v| v.caco_transactions.get(&caco.terms.id))
                    .map(|t| t.iter().map(|t| (t.date, t.decrement)).collect())
                    .unwrap_or_default();
                push(
                    caco.terms.id.clone(),
                    "caco",
                    None,
                    caco.terms.start,
                    caco.terms.end(),
                    caco.amounts.balance,
                    history,
                );
            }
            for ms in &caco.milestones {
                if ms.state != CacoMilestoneState::Open {
                    continue;
                }
                let remaining = ms
                    .terms
                    .target
                    .checked_sub(ms.progress)
                    .unwrap_or(Money::ZERO)
                    .max(Money::ZERO);
                let history = views
                    .and_then(|v| {
                        v.milestone_progress
                            .get(&(caco.terms.id.clone(), ms.terms.id.clone()))
                    })
                    .cloned()
                    .unwrap_or_default();
                let start = match caco.terms.basis {
                    ledger_core::CacoBasis::Period => ms.terms.start,
                    ledger_core::CacoBasis::Cumulative => caco.terms.start,
                };
                push(
                    ms.terms.id.clone(),
                    "milestone",
                    Some(caco.terms.id.clone()),
                    start,
                    ms.terms.end,
                    remaining,
                    history,
                );
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
    pub expires: Date,
    pub days_left: i32,
    /// 90, 60, 30 or none.
    pub alert: Option<u32>,
    pub balance: Money,
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
            let Evaluation {
                days_left: left,
                alert,
                ..
            } = evaluate(
                as_of,
                as_of.add_days(days),
                d("2024-01-01"),
                m("100"),
                std::iter::empty(),
            );
            assert_eq!((left, alert), (days, level));
        }
    }

    #[test]
    fn r_alert_2_required_rate_and_zero_days_counts_as_one() {
        // 122 remaining over 61 days (2 days a unit): 2 × 30.4375 = 60.875 a month.
        let as_of = d("2025-01-01");
        let Evaluation { required, .. } = evaluate(
            as_of,
            as_of.add_days(61),
            d("2024-01-01"),
            m("122"),
            std::iter::empty(),
        );
        assert_eq!(required, Decimal::new(60875, 3));
        let Evaluation { required, .. } =
            evaluate(as_of, as_of, d("2024-01-01"), m("10"), std::iter::empty());
        assert_eq!(
            required,
            Decimal::new(304375, 3),
            "0 days left counts as 1: 10 × 30.4375 / 1"
        );
    }

    #[test]
    fn r_alert_2_actual_rate_uses_the_six_months_before_the_as_of_month() {
        let as_of = d("2025-07-15");
        let history = vec![
            (d("2024-12-31"), m("999")), // before the window
            (d("2025-01-05"), m("60")),
            (d("2025-06-30"), m("60")),
            (d("2025-07-01"), m("999")), // the as-of month: not counted
        ];
        let Evaluation { actual, .. } = evaluate(
            as_of,
            d("2025-12-31"),
            d("2024-01-01"),
            m("1000"),
            history.clone().into_iter(),
        );
        assert_eq!(actual, Decimal::new(20, 0), "120 over 6 months");
        // A lot that started in April has only April..June: 3 months.
        let r = evaluate(
            as_of,
            d("2025-12-31"),
            d("2025-04-10"),
            m("1000"),
            history.into_iter(),
        );
        assert_eq!(
            r.actual,
            Decimal::new(20, 0),
            "only June's 60 falls in April..June: 60 over 3 months"
        );
        assert_eq!(
            rate_window(as_of, d("2025-04-10")),
            (d("2025-04-01"), d("2025-07-01"), 3)
        );
    }

    /// Risk exactly at 0.9× and 1.1× the required rate is Medium; beyond either, Low or High.
    #[test]
    fn r_alert_2_risk_thresholds_are_exact() {
        // 30.4375 days = 487/16, so an end 487 days away is exactly 16 months: 1600 remaining
        // needs exactly 100 a month.
        let as_of = d("2025-07-01");
        let end = as_of.add_days(487);
        let remaining = m("1600");
        let Evaluation { required, .. } =
            evaluate(as_of, end, d("2024-01-01"), remaining, std::iter::empty());
        assert_eq!(required, Decimal::from(100));
        // Actual: the 6 months before July, one decrement of `monthly` in each.
        let history = |monthly: &str| -> Vec<(Date, Money)> {
            (1..=6)
                .map(|k| (d("2025-01-15").add_months(k - 1), m(monthly)))
                .collect()
        };
        let risk = |monthly: &str| {
            evaluate(
                as_of,
                end,
                d("2024-01-01"),
                remaining,
                history(monthly).into_iter(),
            )
            .risk
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
        let history = (1..=6).map(|k| (d("2025-01-15").add_months(k - 1), m("100")));
        // 100 a month; 300 remaining: 3 months = 91.3125 days → completion 92 days on.
        let r = evaluate(
            as_of,
            d("2025-12-31"),
            d("2024-01-01"),
            m("300"),
            history.clone(),
        );
        assert_eq!(r.forecast_completion, Some(as_of.add_days(92)));
        assert_eq!(r.forecast_shortfall, Decimal::ZERO);
        // 1000 remaining, end in 91.3125/… days: shortfall = 1000 − 100 × months left.
        let end = as_of.add_days(61);
        let r = evaluate(as_of, end, d("2024-01-01"), m("1000"), history);
        let months_left = Decimal::from(61) / days_per_month();
        assert_eq!(
            r.forecast_shortfall,
            Decimal::from(1000) - Decimal::from(100) * months_left
        );
        // Nothing burned: no completion date, the whole remaining is the shortfall.
        let r = evaluate(as_of, end, d("2024-01-01"), m("1000"), std::iter::empty());
        assert_eq!(
            (r.forecast_completion, r.forecast_shortfall),
            (None, Decimal::from(1000))
        );
    }
}
