//! Read models: plain rows for lots, events, CACOs and invoices, derived from projections. The
//! JSON of INTERFACE.md (`json`) and the human tables of the CLI are both rendered from these.

use ledger_core::state::{AccountState, LotStatus};
use ledger_core::{Date, Money};

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
        for (i, macc) in acct.maccs.iter().enumerate() {
            rows.push(LotRow {
                account: account.clone(),
                currency: acct.currency.clone(),
                name: macc.terms.id.clone(),
                kind: "macc".into(),
                source: "ConsumptionCommitment",
                status: acct.macc_status(i),
                original: macc.terms.amount,
                closed_balance: macc.balance,
                start: macc.terms.start,
                expiration: macc.terms.end,
                purchased: macc.terms.purchased,
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
                closed_balance: lot.balance,
                start: lot.terms.start,
                expiration: lot.terms.expires,
                purchased: match lot.origin {
                    ledger_core::LotOrigin::Purchase { .. } => Some(lot.terms.start),
                    _ => None,
                },
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
            let keep = filter.lot.as_ref().is_none_or(|l| l == &event.lot)
                && filter
                    .lot_source
                    .as_ref()
                    .is_none_or(|s| eq_ci(s, &event.lot_source))
                && filter.from.is_none_or(|f| event.date >= f)
                && filter.to.is_none_or(|t| event.date <= t);
            if keep {
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
    pub milestones: Vec<MilestoneRow>,
    pub transactions: &'a [CacoTransaction],
}

pub fn caco_rows<'a>(p: &'a Projections, account: Option<&str>) -> Vec<CacoRow<'a>> {
    let mut rows = Vec::new();
    for (name, acct) in &p.ledger.accounts {
        if account.is_some_and(|a| a != name) {
            continue;
        }
        for (i, caco) in acct.cacos.iter().enumerate() {
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
                remaining: caco.remaining,
                milestones,
                transactions,
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
