//! What the report shows, read from projections: per account, each commitment's remaining
//! balance after each invoice, its milestones and forecast, each credit lot's balance over
//! time, the alerts and the transactions. Plain data; `ledger_render::report` draws it.

use ledger_core::state::{AccountState, CacoMilestoneState, LotState, MaccState};
use ledger_core::{CacoBasis, Date, Money};
use ledger_replay::alerts::{alerts, Alert};
use ledger_replay::projection::{CacoTransaction, LotEvent};
use ledger_replay::views::caco_rows;
use ledger_replay::whatif::{figures, AccountFigures};
use ledger_replay::Projections;
use rust_decimal::Decimal;

/// The balance of a lot after one invoice (one chart point).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoicePoint {
    pub date: Date,
    pub invoice: String,
    /// Signed as the Events API `charges`: negative when the balance went down.
    pub change: Money,
    pub remaining: Money,
}

/// A milestone of a MACC (R-MACC-5) or a CACO (R-CACO-4).
#[derive(Clone, Debug, PartialEq)]
pub struct Milestone {
    pub id: String,
    /// CACO milestones have a window; MACC milestones only a due date.
    pub start: Option<Date>,
    pub due: Date,
    pub target: Money,
    /// Where the marker sits: the remaining commitment the milestone asks for by its date.
    pub level: Money,
    pub progress: Money,
    /// progress / target × 100, two places (R-CACO-6).
    pub percent: Decimal,
    pub status: &'static str,
    /// CACO: the ACO award.
    pub award: Option<Money>,
    /// MACC: the shortfall invoiced at evaluation.
    pub shortfall: Option<Money>,
}

/// The R-ALERT-3 forecast of a commitment, as of the report date.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    pub as_of: Date,
    pub remaining: Money,
    pub completion: Option<Date>,
    pub shortfall: Decimal,
    pub actual_monthly: Decimal,
    pub required_monthly: Decimal,
    pub risk: &'static str,
}

/// A MACC or a CACO with its burn-down.
#[derive(Clone, Debug, PartialEq)]
pub struct Commitment {
    /// `macc` or `caco`.
    pub kind: &'static str,
    pub id: String,
    pub status: &'static str,
    pub amount: Money,
    pub remaining: Money,
    pub start: Date,
    pub end: Date,
    /// When it completed (balance reached zero).
    pub completed: Option<Date>,
    /// `period` or `cumulative` for a CACO.
    pub basis: Option<&'static str>,
    pub points: Vec<InvoicePoint>,
    pub milestones: Vec<Milestone>,
    pub forecast: Option<Forecast>,
    /// The Transactions section: one row per decrement event (invoice and billing profile).
    pub transactions: Vec<Transaction>,
    /// R-PEND-3: the remaining with the pending (month-to-date) charges estimated on it, while
    /// a pending run applies.
    pub pending_remaining: Option<Money>,
}

/// A row of a commitment's Transactions section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub date: Date,
    pub description: String,
    pub billing_profile: String,
    /// Signed as the Events API `charges`: negative for a decrement.
    pub change: Money,
    pub balance: Money,
}

/// A credit lot with its balance over time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    pub id: String,
    pub kind: &'static str,
    pub source: &'static str,
    pub status: &'static str,
    pub original: Money,
    pub balance: Money,
    pub start: Date,
    pub expires: Date,
    /// The date its `NewCredit` event gives (when it opened).
    pub opened: Date,
    /// Where it came from, for people: "agreement", "purchase on INV-1", ...
    pub origin: String,
    pub points: Vec<InvoicePoint>,
    /// Expired with this balance unused.
    pub expired_unused: Option<Money>,
}

/// One billing account of the report.
pub struct Account<'p> {
    pub name: &'p str,
    pub currency: &'p str,
    pub invoices: usize,
    pub clock: Option<Date>,
    pub maccs: Vec<Commitment>,
    pub cacos: Vec<Commitment>,
    pub credits: Vec<Credit>,
    pub alerts: Vec<Alert>,
    /// The Events API entries of the account (MACC decrements and credit movements).
    pub events: &'p [LotEvent],
    pub figures: Option<AccountFigures>,
}

/// Consecutive events of one invoice folded into one point: the balance after the last.
fn points<'e>(
    events: impl Iterator<Item = (&'e Option<String>, Date, Money, Money)>,
) -> Vec<InvoicePoint> {
    let mut out: Vec<InvoicePoint> = Vec::new();
    for (invoice, date, change, balance) in events {
        let invoice = invoice.as_deref().unwrap_or("");
        match out.last_mut() {
            Some(last) if last.invoice == invoice && last.date == date => {
                last.change = last.change.checked_add(change).unwrap_or(last.change);
                last.remaining = balance;
            }
            _ => out.push(InvoicePoint {
                date,
                invoice: invoice.to_string(),
                change,
                remaining: balance,
            }),
        }
    }
    out
}

fn lot_points(events: &[LotEvent], lot: &str) -> Vec<InvoicePoint> {
    points(
        events
            .iter()
            .filter(|e| e.lot == lot && e.event_type == "SettledCharges")
            .map(|e| (&e.invoice, e.date, e.charges, e.closed_balance)),
    )
}

fn caco_points(transactions: &[CacoTransaction]) -> Vec<InvoicePoint> {
    let invoices: Vec<Option<String>> = transactions
        .iter()
        .map(|t| Some(t.invoice.clone()))
        .collect();
    points(transactions.iter().zip(&invoices).map(|(t, invoice)| {
        (
            invoice,
            t.date,
            Money::ZERO.checked_sub(t.decrement).unwrap_or(Money::ZERO),
            t.remaining,
        )
    }))
}

/// progress / target × 100 to two places, half to even (R-CACO-6).
fn percent(progress: Money, target: Money) -> Decimal {
    let t = target.to_decimal();
    if t.is_zero() {
        return Decimal::ZERO;
    }
    (progress.to_decimal() * Decimal::ONE_HUNDRED / t)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven)
}

fn less(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap_or(Money::ZERO).max(Money::ZERO)
}

fn forecast_of(alerts: &[Alert], kind: &str, id: &str, as_of: Date) -> Option<Forecast> {
    alerts
        .iter()
        .find(|a| a.kind == kind && a.id == id && a.parent.is_none())
        .map(|a| Forecast {
            as_of,
            remaining: a.remaining,
            completion: a.forecast_completion,
            shortfall: a.forecast_shortfall,
            actual_monthly: a.actual_monthly_rate,
            required_monthly: a.required_monthly_rate,
            risk: a.risk.name(),
        })
}

/// A human name for a credit kind.
pub fn credit_kind_label(kind: &str) -> &'static str {
    match kind {
        "aco" => "ACO credit",
        "goodwill" => "Goodwill credit",
        "outage" => "Outage credit",
        "prepayment" => "Azure Prepayment",
        "macc_shortfall_credit" => "MACC shortfall credit",
        "milestone_shortfall_credit" => "Milestone shortfall credit",
        _ => "Credit",
    }
}

/// Every account of `p` (or only `only`), as of `as_of`.
pub fn accounts<'p>(p: &'p Projections, as_of: Date, only: Option<&str>) -> Vec<Account<'p>> {
    let all_figures = figures(p);
    let mut out = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let views = p.views.get(name);
        let events: &[LotEvent] = views.map(|v| v.lot_events.as_slice()).unwrap_or(&[]);
        let account_alerts = alerts(p, as_of, Some(name));
        let account_figures = all_figures
            .accounts
            .iter()
            .find(|f| &f.account == name)
            .cloned();

        let maccs = macc_commitments(
            acct,
            events,
            account_figures.as_ref(),
            &account_alerts,
            as_of,
        );
        let mut cacos = caco_commitments(p, name, acct, &account_alerts, as_of);
        let mut maccs = maccs;
        if let Some(estimate) = ledger_replay::pending::estimate(p, name) {
            for c in maccs.iter_mut().chain(cacos.iter_mut()) {
                c.pending_remaining = ledger_replay::pending::estimated_balance(&estimate, &c.id);
            }
        }
        let credits = credit_lots(acct, events);

        out.push(Account {
            name,
            currency: &acct.currency,
            invoices: acct.invoices.len(),
            clock: acct.clock,
            maccs,
            cacos,
            credits,
            alerts: account_alerts,
            events,
            figures: account_figures,
        });
    }
    out
}

/// Each MACC with its burn-down, milestones and forecast.
fn macc_commitments(
    acct: &AccountState,
    events: &[LotEvent],
    account_figures: Option<&AccountFigures>,
    account_alerts: &[Alert],
    as_of: Date,
) -> Vec<Commitment> {
    let mut maccs = Vec::new();
    for (i, m) in acct.maccs.iter().enumerate() {
        let status = match acct.macc_status(i).name() {
            "Complete" => "Completed",
            other => other,
        };
        let milestone_figures: Vec<_> = account_figures
            .iter()
            .flat_map(|f| f.macc_milestones.iter())
            .filter(|f| f.macc == m.terms.id)
            .collect();
        let cumulative_now = less(m.terms.amount, m.amounts.balance);
        let milestones = m
            .terms
            .milestones
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let outcome = m.milestone_outcomes.get(k).and_then(|o| o.as_ref());
                let status = milestone_figures
                    .iter()
                    .find(|f| f.id == t.id)
                    .map(|f| f.status)
                    .unwrap_or("Open");
                let progress = outcome.map_or(cumulative_now, |o| o.cumulative);
                Milestone {
                    id: t.id.clone(),
                    start: None,
                    due: t.due,
                    target: t.target,
                    level: less(m.terms.amount, t.target),
                    progress,
                    percent: percent(progress, t.target),
                    status,
                    award: None,
                    shortfall: outcome.map(|o| o.shortfall),
                }
            })
            .collect();
        let points = lot_points(events, &m.terms.id);
        maccs.push(Commitment {
            kind: "macc",
            id: m.terms.id.clone(),
            status,
            amount: m.terms.amount,
            remaining: m.amounts.balance,
            start: m.terms.start,
            end: m.terms.end,
            completed: match &m.state {
                MaccState::Completed { date, .. } => Some(*date),
                _ => None,
            },
            basis: None,
            transactions: events
                .iter()
                .filter(|e| e.lot == m.terms.id && e.event_type == "SettledCharges")
                .map(|e| Transaction {
                    date: e.date,
                    description: e.description.clone(),
                    billing_profile: e.billing_profile.clone().unwrap_or_default(),
                    change: e.charges,
                    balance: e.closed_balance,
                })
                .collect(),
            points,
            milestones,
            forecast: forecast_of(account_alerts, "macc", &m.terms.id, as_of),
            pending_remaining: None,
        });
    }
    maccs
}

/// Each CACO with its burn-down, milestones and forecast.
fn caco_commitments(
    p: &Projections,
    name: &str,
    acct: &AccountState,
    account_alerts: &[Alert],
    as_of: Date,
) -> Vec<Commitment> {
    let mut cacos = Vec::new();
    for row in caco_rows(p, Some(name)) {
        let Some(index) = acct.caco_index(row.id) else {
            continue;
        };
        let caco = &acct.cacos[index];
        let milestones = caco
            .milestones
            .iter()
            .zip(&row.milestones)
            .map(|(state, r)| {
                let reached = match caco.terms.basis {
                    CacoBasis::Period => caco
                        .milestones
                        .iter()
                        .filter(|o| o.accrues() && o.terms.end <= state.terms.end)
                        .try_fold(Money::ZERO, |acc, o| acc.checked_add(o.terms.target))
                        .unwrap_or(row.commitment),
                    CacoBasis::Cumulative => state.terms.target,
                };
                Milestone {
                    id: r.id.clone(),
                    start: Some(r.start),
                    due: r.end,
                    target: r.target,
                    level: less(row.commitment, reached),
                    progress: r.progress,
                    percent: r.progress_percent,
                    status: r.status,
                    award: Some(r.award),
                    shortfall: match state.state {
                        CacoMilestoneState::Missed { .. } => Some(less(r.target, r.progress)),
                        _ => None,
                    },
                }
            })
            .collect();
        let points = caco_points(row.transactions);
        cacos.push(Commitment {
            kind: "caco",
            id: row.id.to_string(),
            status: row.status,
            amount: row.commitment,
            remaining: row.remaining,
            start: row.start,
            end: row.end,
            completed: match &caco.state {
                ledger_core::state::CacoState::Completed { date, .. } => Some(*date),
                _ => None,
            },
            basis: Some(row.basis),
            transactions: row
                .transactions
                .iter()
                .map(|t| Transaction {
                    date: t.date,
                    description: t.description.clone(),
                    billing_profile: t.billing_profile.clone(),
                    change: Money::ZERO.checked_sub(t.decrement).unwrap_or(Money::ZERO),
                    balance: t.remaining,
                })
                .collect(),
            points,
            milestones,
            forecast: forecast_of(account_alerts, "caco", row.id, as_of),
            pending_remaining: row.pending_remaining,
        });
    }
    cacos
}

/// Each credit lot with its balance over time and where it came from.
fn credit_lots(acct: &AccountState, events: &[LotEvent]) -> Vec<Credit> {
    acct.lots
        .iter()
        .enumerate()
        .map(|(i, lot)| {
            let origin = match &lot.origin {
                ledger_core::LotOrigin::Agreement => "granted by the agreement".to_string(),
                ledger_core::LotOrigin::Purchase { invoice, .. } => {
                    format!("purchased on invoice {invoice}")
                }
                ledger_core::LotOrigin::Award { caco, milestone } => {
                    format!("award of {caco} {milestone}")
                }
                ledger_core::LotOrigin::MaccShortfall { macc } => {
                    format!("shortfall of {macc}")
                }
                ledger_core::LotOrigin::MilestoneShortfall { macc, milestone } => {
                    format!("shortfall of {macc} {milestone}")
                }
            };
            Credit {
                id: lot.terms.id.clone(),
                kind: lot.terms.kind.name(),
                source: lot.terms.kind.lot_source(),
                status: acct.credit_status(i).name(),
                original: lot.terms.amount,
                balance: lot.amounts.balance,
                start: lot.terms.start,
                expires: lot.terms.expires,
                opened: lot.opened,
                origin,
                points: lot_points(events, &lot.terms.id),
                expired_unused: match lot.state {
                    LotState::Expired { balance, .. } if balance.is_positive() => Some(balance),
                    _ => None,
                },
            }
        })
        .collect()
}

/// The ledger clock of the report: the latest clock of the accounts shown.
pub fn ledger_clock(p: &Projections, only: Option<&str>) -> Option<Date> {
    p.ledger
        .accounts
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
        .filter_map(|(_, a)| a.clock)
        .max()
}

/// The report's as-of date and where it came from (for the page's header): the given date,
/// else the ledger clock, else (no invoice yet) today's date, read by the tool, never the
/// engine.
pub fn as_of_for(
    p: &Projections,
    given: Option<Date>,
    account: Option<&str>,
) -> (Date, &'static str) {
    if let Some(d) = given {
        return (d, "given");
    }
    match ledger_clock(p, account) {
        Some(d) => (d, "the ledger clock: newest settled invoice or close"),
        None => (
            Date::from_naive(chrono::Utc::now().date_naive()).unwrap_or(Date::MAX),
            "today: the ledger has no settled invoice yet",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn one_point_per_invoice_from_several_profiles() {
        let d = Date::parse("2025-02-05").unwrap();
        let a = Some("INV-1".to_string());
        let b = Some("INV-2".to_string());
        let events = [
            (&a, d, m("-100"), m("900")),
            (&a, d, m("-50"), m("850")),
            (&b, d.add_days(28), m("-10"), m("840")),
        ];
        let p = points(events.into_iter());
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].change, p[0].remaining), (m("-150"), m("850")));
        assert_eq!((p[1].invoice.as_str(), p[1].remaining), ("INV-2", m("840")));
    }

    #[test]
    fn percent_rounds_half_to_even() {
        assert_eq!(percent(m("1"), m("3")), Decimal::new(3333, 2));
        assert_eq!(percent(m("5"), m("0")), Decimal::ZERO);
    }
}
