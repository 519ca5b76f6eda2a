//! Read models: plain rows for lots, events, CACOs and invoices, derived from projections. The
//! JSON of INTERFACE.md (`json`) and the human tables of the CLI are both rendered from these.

use ledger_core::state::{AccountState, LotStatus, MaccState};
use ledger_core::{Date, LotOrigin, Money};

use std::collections::BTreeMap;

use crate::pending::PendingEstimate;
use crate::projection::{CacoTransaction, LotEvent, Projections};

/// A MACC or credit lot as the Lots API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotRow {
    pub account: String,
    pub currency: String,
    pub name: String,
    /// `macc` or a credit kind (`aco`, `prepayment`, ...).
    pub kind: String,
    pub source: &'static str,
    pub status: LotStatus,
    pub original: Money,
    pub closed_balance: Money,
    pub start: Date,
    pub expiration: Date,
    pub purchased: Option<Date>,
    /// The account's ledger clock (newest settled invoice or close), if it has one.
    pub clock: Option<Date>,
    /// A MACC's milestones (R-MACC-5), without the credit lots their shortfalls became; none
    /// for a credit lot.
    pub milestones: Vec<MaccMilestoneRow>,
    /// R-PEND-3: the balance with the account's pending charges estimated on it; `None` when
    /// the account has no current pending run.
    pub pending_balance: Option<Money>,
}

/// Which lots to show.
#[derive(Clone, Debug, Default)]
pub struct LotFilter {
    pub account: Option<String>,
    /// Lots API `source`, compared case-insensitively.
    pub source: Option<String>,
    pub status: Option<String>,
    pub lot: Option<String>,
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Every MACC (queue order) then every credit lot (opening order), account by account.
pub fn lot_rows(p: &Projections, filter: &LotFilter) -> Vec<LotRow> {
    let mut rows = Vec::new();
    for (account, acct) in &p.ledger.accounts {
        if filter.account.as_ref().is_some_and(|a| a != account) {
            continue;
        }
        let estimate = crate::pending::estimate(p, account);
        let pending = |lot: &str| {
            estimate
                .as_ref()
                .and_then(|e| crate::pending::estimated_balance(e, lot))
        };
        for (i, macc) in acct.maccs.iter().enumerate() {
            rows.push(LotRow {
                account: account.clone(),
                currency: acct.currency.clone(),
                name: macc.terms.id.clone(),
                kind: "macc".into(),
                source: "ConsumptionCommitment",
                status: acct.macc_status(i),
                original: macc.terms.amount,
                closed_balance: macc.amounts.balance,
                start: macc.terms.start,
                expiration: macc.terms.end,
                purchased: macc.terms.purchased,
                clock: acct.clock,
                milestones: macc_milestone_rows(acct, i, &|_| None),
                pending_balance: pending(&macc.terms.id),
            });
        }
        for (i, lot) in acct.lots.iter().enumerate() {
            rows.push(LotRow {
                account: account.clone(),
                currency: acct.currency.clone(),
                name: lot.terms.id.clone(),
                kind: lot.terms.kind.name().into(),
                source: lot.terms.kind.lot_source(),
                status: acct.credit_status(i),
                original: lot.terms.amount,
                closed_balance: lot.amounts.balance,
                start: lot.terms.start,
                expiration: lot.terms.expires,
                purchased: match lot.origin {
                    ledger_core::LotOrigin::Purchase { .. } => Some(lot.terms.start),
                    _ => None,
                },
                clock: acct.clock,
                milestones: Vec::new(),
                pending_balance: pending(&lot.terms.id),
            });
        }
    }
    rows.retain(|r| {
        filter.source.as_ref().is_none_or(|s| eq_ci(s, r.source))
            && filter
                .status
                .as_ref()
                .is_none_or(|s| eq_ci(s, r.status.name()))
            && filter.lot.as_ref().is_none_or(|l| l == &r.name)
    });
    rows
}

/// An Events API entry with its account and currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow<'a> {
    pub account: &'a str,
    pub currency: &'a str,
    pub event: &'a LotEvent,
}

/// Which events to show.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub account: Option<String>,
    pub lot: Option<String>,
    /// Lots API source of the event's lot, case-insensitive.
    pub lot_source: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
}

/// Lot movements in the order they were decided, account by account.
pub fn event_rows<'a>(p: &'a Projections, filter: &EventFilter) -> Vec<EventRow<'a>> {
    let mut rows = Vec::new();
    for (account, views) in &p.views {
        if filter.account.as_ref().is_some_and(|a| a != account) {
            continue;
        }
        let currency = p
            .ledger
            .account(account)
            .map(|a| a.currency.as_str())
            .unwrap_or("");
        for event in &views.lot_events {
            if keeps(filter, event) {
                rows.push(EventRow {
                    account,
                    currency,
                    event,
                });
            }
        }
    }
    rows
}

fn keeps(filter: &EventFilter, event: &LotEvent) -> bool {
    filter.lot.as_ref().is_none_or(|l| l == &event.lot)
        && filter
            .lot_source
            .as_ref()
            .is_none_or(|s| eq_ci(s, &event.lot_source))
        && filter.from.is_none_or(|f| event.date >= f)
        && filter.to.is_none_or(|t| event.date <= t)
}

/// [`event_rows`] and, after each account's settled movements, the movements its pending
/// estimate would make (R-PEND-3; `pending` from [`crate::pending::estimates`]).
pub fn event_rows_with_pending<'a>(
    p: &'a Projections,
    pending: &'a BTreeMap<String, PendingEstimate>,
    filter: &EventFilter,
) -> Vec<EventRow<'a>> {
    let mut rows = event_rows(p, filter);
    for (account, estimate) in pending {
        if filter.account.as_ref().is_some_and(|a| a != account) {
            continue;
        }
        let Some(acct) = p.ledger.account(account) else {
            continue;
        };
        for event in estimate.lot_events.iter().filter(|e| keeps(filter, e)) {
            rows.push(EventRow {
                account,
                currency: &acct.currency,
                event,
            });
        }
    }
    // Stable: each account's settled movements, then its pending ones.
    rows.sort_by(|a, b| a.account.cmp(b.account));
    rows
}

/// A CACO milestone row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MilestoneRow {
    pub id: String,
    pub start: Date,
    pub end: Date,
    pub target: Money,
    pub progress: Money,
    /// R-CACO-6: progress / target × 100, rounded to 2 places for display.
    pub progress_percent: rust_decimal::Decimal,
    pub award: Money,
    pub status: &'static str,
    /// R-PEND-3: the progress with the pending charges estimated on it, if any apply.
    pub pending_progress: Option<Money>,
}

/// A CACO with its milestones and transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacoRow<'a> {
    pub account: &'a str,
    pub currency: &'a str,
    pub id: &'a str,
    pub status: &'static str,
    pub basis: &'static str,
    pub start: Date,
    pub end: Date,
    pub commitment: Money,
    pub remaining: Money,
    /// R-CACO-5: the months an awarded ACO lasts.
    pub award_months: u32,
    pub milestones: Vec<MilestoneRow>,
    pub transactions: &'a [CacoTransaction],
    /// R-PEND-3: the remaining commitment with the pending charges estimated on it, if any
    /// apply.
    pub pending_remaining: Option<Money>,
    /// The transactions the pending charges would add (descriptions start `Pending:`).
    pub pending_transactions: Vec<CacoTransaction>,
}

pub fn caco_rows<'a>(p: &'a Projections, account: Option<&str>) -> Vec<CacoRow<'a>> {
    let mut rows = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if account.is_some_and(|a| a != name) {
            continue;
        }
        let estimate = crate::pending::estimate(p, name);
        for (i, caco) in acct.cacos.iter().enumerate() {
            let forked = estimate.as_ref().and_then(|e| {
                e.state
                    .caco_index(&caco.terms.id)
                    .map(|k| &e.state.cacos[k])
            });
            let milestones = caco
                .milestones
                .iter()
                .enumerate()
                .map(|(k, m)| MilestoneRow {
                    id: m.terms.id.clone(),
                    start: m.terms.start,
                    end: m.terms.end,
                    target: m.terms.target,
                    progress: m.progress,
                    progress_percent: AccountState::milestone_progress_percent(m)
                        .round_dp_with_strategy(
                            2,
                            rust_decimal::RoundingStrategy::MidpointNearestEven,
                        ),
                    award: m.terms.award,
                    status: acct.caco_milestone_status(i, k).name(),
                    pending_progress: forked.and_then(|f| f.milestones.get(k)).map(|m| m.progress),
                })
                .collect();
            let transactions = p
                .views
                .get(name)
                .and_then(|v| v.caco_transactions.get(&caco.terms.id))
                .map(|t| t.as_slice())
                .unwrap_or(&[]);
            rows.push(CacoRow {
                account: name,
                currency: &acct.currency,
                id: &caco.terms.id,
                status: acct.caco_status(i).name(),
                basis: caco.terms.basis.name(),
                start: caco.terms.start,
                end: caco.terms.end(),
                commitment: caco.commitment,
                remaining: caco.amounts.balance,
                award_months: caco.terms.award_months,
                milestones,
                transactions,
                pending_remaining: forked.map(|f| f.amounts.balance),
                pending_transactions: estimate
                    .as_ref()
                    .and_then(|e| e.caco_transactions.get(&caco.terms.id))
                    .cloned()
                    .unwrap_or_default(),
            });
        }
    }
    rows
}

/// An invoice's settled totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRow<'a> {
    pub account: &'a str,
    pub currency: &'a str,
    pub summary: &'a ledger_core::InvoiceSummary,
}

/// Invoices in settlement order, account by account.
pub fn invoice_rows<'a>(p: &'a Projections, account: Option<&str>) -> Vec<InvoiceRow<'a>> {
    let mut rows = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if account.is_some_and(|a| a != name) {
            continue;
        }
        for summary in &acct.invoices {
            rows.push(InvoiceRow {
                account: name,
                currency: &acct.currency,
                summary,
            });
        }
    }
    rows
}

/// The status of a MACC milestone (R-MACC-5), derived as the CACO milestones' are (R-CACO-4):
/// from its evaluation, the MACC's state and the ledger clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaccMilestoneStatus {
    /// The ledger clock is before the MACC's start.
    Scheduled,
    Active,
    /// Its due date has passed; it is evaluated by the next invoice or `close`.
    Pending,
    /// Evaluated with its target met (or the whole MACC completed before it was due).
    Completed,
    /// Evaluated short of its target: the shortfall was invoiced.
    Missed,
    /// The MACC was canceled before the milestone was evaluated.
    Canceled,
}

impl MaccMilestoneStatus {
    pub fn name(self) -> &'static str {
        match self {
            MaccMilestoneStatus::Scheduled => "Scheduled",
            MaccMilestoneStatus::Active => "Active",
            MaccMilestoneStatus::Pending => "Pending",
            MaccMilestoneStatus::Completed => "Completed",
            MaccMilestoneStatus::Missed => "Missed",
            MaccMilestoneStatus::Canceled => "Canceled",
        }
    }
}

/// A shortfall that was invoiced (a missed MACC milestone, R-MACC-5; a MACC that ended short,
/// R-SHORT), and the credit lot it became, if any (R-SHORT-3 converts none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortfallRow {
    pub amount: Money,
    pub lot: Option<CreditRow>,
}

/// A MACC milestone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaccMilestoneRow {
    pub id: String,
    pub due: Date,
    /// Cumulative decrements the MACC must reach by `due`.
    pub target: Money,
    pub status: MaccMilestoneStatus,
    /// The cumulative decrements found when it was evaluated.
    pub cumulative: Option<Money>,
    /// Progress toward the target: `cumulative` once evaluated, else the decrements so far.
    pub progress: Money,
    pub shortfall: Option<ShortfallRow>,
}

impl MaccMilestoneRow {
    /// The shortfall found when it was evaluated (zero when met); none before.
    pub fn shortfall_amount(&self) -> Option<Money> {
        match &self.shortfall {
            Some(s) => Some(s.amount),
            None => self.cumulative.map(|_| Money::ZERO),
        }
    }
}

/// A MACC with its milestones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaccRow<'a> {
    pub account: &'a str,
    pub currency: &'a str,
    pub id: &'a str,
    /// The Lots API status (R-MACC-4).
    pub status: LotStatus,
    pub amount: Money,
    pub balance: Money,
    pub start: Date,
    pub end: Date,
    pub purchased: Option<Date>,
    pub milestones: Vec<MaccMilestoneRow>,
    /// When it ended with a balance (R-SHORT).
    pub shortfall: Option<ShortfallRow>,
}

/// A credit lot with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRow {
    pub lot: LotRow,
    pub origin: LotOrigin,
}

/// The credit lots of `account` (opening order), with their origins.
pub fn credit_rows(p: &Projections, account: &str) -> Vec<CreditRow> {
    let Some(acct) = p.ledger.account(account) else {
        return Vec::new();
    };
    let narrow = LotFilter {
        account: Some(account.to_string()),
        ..LotFilter::default()
    };
    // lot_rows lists an account's MACCs, then its credit lots in opening order.
    lot_rows(p, &narrow)
        .into_iter()
        .skip(acct.maccs.len())
        .zip(&acct.lots)
        .map(|(lot, credit)| CreditRow {
            lot,
            origin: credit.origin.clone(),
        })
        .collect()
}

/// The MACCs of `account` (queue order) with their milestones and shortfalls.
pub fn macc_rows<'a>(p: &'a Projections, account: &str) -> Vec<MaccRow<'a>> {
    let Some((name, acct)) = p.ledger.accounts.get_key_value(account) else {
        return Vec::new();
    };
    let credits = credit_rows(p, account);
    let shortfall_lot = |wanted: &LotOrigin| credits.iter().find(|c| &c.origin == wanted).cloned();
    acct.maccs
        .iter()
        .enumerate()
        .map(|(i, macc)| {
            let milestones = macc_milestone_rows(acct, i, &shortfall_lot);
            let shortfall = match macc.state {
                MaccState::Expired { .. } if macc.amounts.balance.is_positive() => {
                    Some(ShortfallRow {
                        amount: macc.amounts.balance,
                        lot: shortfall_lot(&LotOrigin::MaccShortfall {
                            macc: macc.terms.id.clone(),
                        }),
                    })
                }
                _ => None,
            };
            MaccRow {
                account: name,
                currency: &acct.currency,
                id: &macc.terms.id,
                status: acct.macc_status(i),
                amount: macc.terms.amount,
                balance: macc.amounts.balance,
                start: macc.terms.start,
                end: macc.terms.end,
                purchased: macc.terms.purchased,
                milestones,
                shortfall,
            }
        })
        .collect()
}

/// The milestones of the `i`-th MACC of `acct`, with the credit lot each shortfall became
/// (`shortfall_lot` finds it by origin).
pub fn macc_milestone_rows(
    acct: &AccountState,
    i: usize,
    shortfall_lot: &dyn Fn(&LotOrigin) -> Option<CreditRow>,
) -> Vec<MaccMilestoneRow> {
    let macc = &acct.maccs[i];
    let so_far = macc
        .terms
        .amount
        .checked_sub(macc.amounts.balance)
        .unwrap_or(Money::ZERO)
        .max(Money::ZERO);
    macc.terms
        .milestones
        .iter()
        .zip(&macc.milestone_outcomes)
        .map(|(terms, outcome)| {
            let missed = outcome.as_ref().filter(|o| o.shortfall.is_positive());
            MaccMilestoneRow {
                id: terms.id.clone(),
                due: terms.due,
                target: terms.target,
                status: macc_milestone_status(
                    acct,
                    i,
                    outcome.as_ref().map(|o| o.shortfall),
                    terms.due,
                ),
                cumulative: outcome.as_ref().map(|o| o.cumulative),
                progress: outcome.as_ref().map_or(so_far, |o| o.cumulative),
                shortfall: missed.map(|o| ShortfallRow {
                    amount: o.shortfall,
                    lot: shortfall_lot(&LotOrigin::MilestoneShortfall {
                        macc: macc.terms.id.clone(),
                        milestone: terms.id.clone(),
                    }),
                }),
            }
        })
        .collect()
}

/// R-MACC-5's milestone, as of the ledger clock: evaluated (met or missed), else by the MACC's
/// state and where the clock stands against the MACC's start and the milestone's due date.
fn macc_milestone_status(
    acct: &AccountState,
    macc: usize,
    evaluated_shortfall: Option<Money>,
    due: Date,
) -> MaccMilestoneStatus {
    let m = &acct.maccs[macc];
    match (evaluated_shortfall, &m.state) {
        (Some(shortfall), _) if shortfall.is_positive() => MaccMilestoneStatus::Missed,
        (Some(_), _) | (None, MaccState::Completed { .. }) => MaccMilestoneStatus::Completed,
        (None, MaccState::Canceled) => MaccMilestoneStatus::Canceled,
        (None, MaccState::Expired { .. }) => MaccMilestoneStatus::Pending,
        (None, MaccState::Open) => match acct.clock {
            Some(clock) if clock < m.terms.start => MaccMilestoneStatus::Scheduled,
            Some(clock) if clock > due => MaccMilestoneStatus::Pending,
            _ => MaccMilestoneStatus::Active,
        },
    }
}
