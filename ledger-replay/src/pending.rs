//! The pending estimate (R-PEND-3) as the read views show it: the core's settlement fold run
//! over an account's current pending runs on a copy of its settled state
//! ([`ledger_core::pending::estimate`]), and the lot movements and CACO transactions that
//! fold would record, typed as Azure's pending event types. Nothing here is ever recorded.

use std::collections::BTreeMap;

use ledger_core::event::Event;
use ledger_core::state::AccountState;
use ledger_core::Invoice;

use crate::projection::{pending_event_id, CacoTransaction, LotEvent, Projections};

/// One account's pending estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEstimate {
    /// The settled state with the current pending runs settled on it (settled clock).
    pub state: AccountState,
    /// The lot movements the pending runs would make (`PendingCharges`, `PendingNewCredit`,
    /// `PendingAdjustments`), in decision order.
    pub lot_events: Vec<LotEvent>,
    /// The CACO transactions they would make, by CACO id.
    pub caco_transactions: BTreeMap<String, Vec<CacoTransaction>>,
    /// The current runs (invoice id, lines), in the order they are estimated.
    pub runs: Vec<(String, usize)>,
    /// Runs the estimate leaves out because they no longer settle, with why.
    pub skipped: Vec<(String, String)>,
}

/// The order the current runs of an account are estimated in: billing period start, invoice
/// date, invoice id (the order exports settle in, fine point 11).
fn estimation_order(runs: &[Invoice]) -> Vec<&Invoice> {
    let mut order: Vec<&Invoice> = runs.iter().collect();
    order.sort_by(|a, b| (a.period_start, a.date, &a.id).cmp(&(b.period_start, b.date, &b.id)));
    order
}

/// The Events API types of the pending estimate's movements (`PendingExpiredCredit` is not
/// one: it is a settled expiry, docs/RULES.md fine point 5).
pub const PENDING_TYPES: [&str; 3] = ["PendingCharges", "PendingNewCredit", "PendingAdjustments"];

/// Whether an Events API type is one of the pending estimate's ([`PENDING_TYPES`]).
pub fn is_estimate(event_type: &str) -> bool {
    PENDING_TYPES.contains(&event_type)
}

/// The Events API type of a pending decision that moves a lot, if it moves one.
fn pending_type(event: &Event) -> &'static str {
    match event {
        Event::CreditLotOpened { .. } => "PendingNewCredit",
        Event::Adjusted { .. } => "PendingAdjustments",
        _ => "PendingCharges",
    }
}

/// `account`'s pending estimate, or `None` when it has no current pending run.
pub fn estimate(p: &Projections, account: &str) -> Option<PendingEstimate> {
    let runs = p.pending.get(account).filter(|r| !r.is_empty())?;
    let settled = p.ledger.account(account)?;
    let order = estimation_order(runs);
    let folded = ledger_core::pending::estimate(settled, order.iter().copied());
    let mut fork = Projections::new();
    fork.ledger
        .accounts
        .insert(account.to_string(), folded.state.clone());
    let mut lot_events = Vec::new();
    for (invoice, events) in &folded.events {
        let run = order
            .iter()
            .find(|r| &r.id == invoice)
            .expect("estimated runs are current runs");
        for (index, event) in events.iter().enumerate() {
            let before = lot_events_len(&fork, account);
            fork.record(account, 0, std::slice::from_ref(event));
            let Some(movement) = fork
                .views
                .get_mut(account)
                .and_then(|v| v.lot_events.get_mut(before))
            else {
                continue;
            };
            movement.id = pending_event_id(account, invoice, &run.content_hash, index);
            movement.event_type = pending_type(event).into();
            movement.description = format!("Pending: {}", movement.description);
            movement.seq = p.next_seq;
            lot_events.push(movement.clone());
        }
    }
    let caco_transactions = fork
        .views
        .remove(account)
        .map(|v| v.caco_transactions)
        .unwrap_or_default()
        .into_iter()
        .map(|(caco, rows)| (caco, rows.into_iter().map(pending_row).collect()))
        .collect();
    Some(PendingEstimate {
        state: folded.state,
        lot_events,
        caco_transactions,
        runs: order
            .iter()
            .map(|r| (r.id.clone(), r.lines.len()))
            .collect(),
        skipped: folded.skipped,
    })
}

fn lot_events_len(p: &Projections, account: &str) -> usize {
    p.views.get(account).map_or(0, |v| v.lot_events.len())
}

fn pending_row(mut row: CacoTransaction) -> CacoTransaction {
    row.description = format!("Pending: {}", row.description);
    row
}

/// Every account's pending estimate, by account.
pub fn estimates(p: &Projections) -> BTreeMap<String, PendingEstimate> {
    p.pending
        .keys()
        .filter_map(|a| estimate(p, a).map(|e| (a.clone(), e)))
        .collect()
}

/// The estimated amounts of one lot: the balance the pending estimate gives `lot`, if the
/// account has an estimate and the lot exists in it.
pub fn estimated_balance(e: &PendingEstimate, lot: &str) -> Option<ledger_core::Money> {
    let s = &e.state;
    if let Some(i) = s.macc_index(lot) {
        return Some(s.maccs[i].amounts.balance);
    }
    if let Some(i) = s.caco_index(lot) {
        return Some(s.cacos[i].amounts.balance);
    }
    s.credit_index(lot).map(|i| s.lots[i].amounts.balance)
}
