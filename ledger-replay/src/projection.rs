//! Projections: the fold of recorded decisions into everything the read commands show.
//!
//! `Projections` holds the core's [`Ledger`] (balances, statuses, invoices) plus the views the
//! state alone does not keep: the Events API list of lot movements and each CACO's
//! transactions. Folding the same decisions always gives the same projections (R-DET-2), so a
//! snapshot of them can stand in for a full replay, and `replay` can prove it does.

use std::collections::BTreeMap;

use ledger_core::event::{AdjustmentTarget, CommitmentKind, Event};
use ledger_core::{ChargeKind, CoreError, Date, Fact, Invoice, Ledger, Money};
use ledger_store::AccountPosition;
use serde::{Deserialize, Serialize};

use crate::amendment::{amendment, remember, AgreedTerms, Amendment};

/// An entry of the Events API view: a decrement, a credit movement, an adjustment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotEvent {
    /// Deterministic: derived from the account, the decision record and the event's index.
    pub id: String,
    pub date: Date,
    pub description: String,
    pub billing_profile: Option<String>,
    pub lot: String,
    /// Lots API source of the lot: ConsumptionCommitment, PurchasedCredit, PromotionalCredit.
    pub lot_source: String,
    /// Negative when the lot's balance went down.
    pub charges: Money,
    pub closed_balance: Money,
    /// SettledCharges, NewCredit, PendingExpiredCredit; for amendments CommitmentAmended,
    /// CommitmentCanceled, CreditAmended, CanceledCredit (the amendment module).
    pub event_type: String,
    pub invoice: Option<String>,
    /// Position of the decision record in the log (or of the fact in a what-if fold).
    pub seq: u64,
}

/// A row of a CACO's Transactions section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacoTransaction {
    pub date: Date,
    pub description: String,
    pub billing_profile: String,
    pub invoice: String,
    /// Positive for a decrement; negative for a refund adjustment.
    pub decrement: Money,
    pub remaining: Money,
}

/// Views of one account beyond its state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountViews {
    pub lot_events: Vec<LotEvent>,
    pub caco_transactions: BTreeMap<String, Vec<CacoTransaction>>,
    /// Progress of each CACO milestone by invoice date, keyed by (CACO id, milestone id); for
    /// burn rates (R-ALERT-2).
    pub milestone_progress: BTreeMap<(String, String), Vec<(Date, Money)>>,
    /// Spend of the settled invoices' lines by charge date and kind, before credits (a refund
    /// under the kind it corrects, negative); for run rates (the run_rate module).
    #[serde(deserialize_with = "crate::spend::sorted_map")]
    pub spend: BTreeMap<(Date, ChargeKind), Money>,
    /// The agreed terms of each agreement lot, to tell what an amendment changed.
    pub agreed: AgreedTerms,
}

/// Counts of what the fold has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub facts: u64,
    pub invoices: u64,
    pub lines: u64,
    pub events: u64,
}

/// Everything the read commands show, as of a log position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projections {
    pub ledger: Ledger,
    pub views: BTreeMap<String, AccountViews>,
    /// The log position reflected: every record with a smaller seq is folded in.
    pub next_seq: u64,
    pub counters: Counters,
    /// The current pending runs of each account (R-PEND), in recording order: the facts the
    /// pending estimate folds (the `pending` module).
    pub pending: BTreeMap<String, Vec<Invoice>>,
    /// Log records taken by pending runs and their decisions so far. Event ids count only the
    /// other records, so they are the same as if no pending run had been recorded (R-PEND-4).
    pub pending_records: u64,
    /// The fact being folded is a pending run: [`Projections::advance`] counts its records.
    pub folding_pending: bool,
    /// Each account's position: its last decisions record (what its published snapshot is
    /// bound to).
    pub positions: BTreeMap<String, AccountPosition>,
}

/// Namespace of event ids (a fixed random UUID; changing it changes every event id).
const EVENT_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5f0c_3a4e_9b1d_4c7a_8e2f_6d9b_0a1c_3e57);

/// The id of the `index`-th lot movement the pending estimate shows for run `invoice` (its
/// content digest `content_hash`) of `account`: stable while that run is current.
pub fn pending_event_id(
    account: &str,
    invoice: &str,
    content_hash: &[u8; 32],
    index: usize,
) -> String {
    let digest: String = content_hash[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    uuid::Uuid::new_v5(
        &EVENT_ID_NAMESPACE,
        format!("{account}/pending/{invoice}/{digest}/{index}").as_bytes(),
    )
    .to_string()
}

/// The stable id of the `index`-th event of the decision record at `seq` of `account`.
pub fn event_id(account: &str, seq: u64, index: usize) -> String {
    uuid::Uuid::new_v5(
        &EVENT_ID_NAMESPACE,
        format!("{account}/{seq}/{index}").as_bytes(),
    )
    .to_string()
}

impl Projections {
    pub fn new() -> Projections {
        Projections::default()
    }

    /// Fold the decisions recorded at `seq` for `account` (the replay path).
    pub fn apply(&mut self, account: &str, seq: u64, events: &[Event]) -> Result<(), CoreError> {
        self.note_position(account, seq);
        for (index, event) in events.iter().enumerate() {
            self.ledger.evolve(account, event)?;
            self.note(account, seq, index, event);
        }
        Ok(())
    }

    /// Record the views of decisions the ledger has already folded: `Ledger::apply` decides
    /// and evolves in one step, so the decide path only adds what the state does not keep.
    pub fn record(&mut self, account: &str, seq: u64, events: &[Event]) {
        self.note_position(account, seq);
        for (index, event) in events.iter().enumerate() {
            self.note(account, seq, index, event);
        }
    }

    /// `account`'s decisions were recorded at `seq`: its position moves there.
    fn note_position(&mut self, account: &str, seq: u64) {
        self.positions
            .insert(account.to_string(), AccountPosition(seq));
    }

    fn note(&mut self, account: &str, seq: u64, index: usize, event: &Event) {
        self.counters.events += 1;
        if let Event::InvoiceSettled { summary } = event {
            self.counters.invoices += 1;
            if !summary.synthetic {
                self.counters.lines += summary.line_count as u64;
            }
        }
        if is_agreement_decision(event) {
            self.note_agreement(account, seq, index, event);
        }
        self.record_view(account, seq, index, event);
    }

    /// Show an amendment of a lot as an event (a CACO's in its transactions), and remember
    /// the agreed terms an agreement decision sets.
    fn note_agreement(&mut self, account: &str, seq: u64, index: usize, event: &Event) {
        let Some(acct) = self.ledger.account(account) else {
            return;
        };
        let views = self.views.entry(account.to_string()).or_default();
        if let Some(a) = amendment(acct, &views.agreed, event) {
            if a.kind.is_caco() {
                views
                    .caco_transactions
                    .entry(a.lot.clone())
                    .or_default()
                    .push(CacoTransaction {
                        date: a.date,
                        description: a.description,
                        billing_profile: String::new(),
                        invoice: String::new(),
                        decrement: negate(a.change),
                        remaining: a.balance_after,
                    });
            } else {
                let lot_source = match acct.credit_index(&a.lot) {
                    Some(i) => acct.lots[i].terms.kind.lot_source(),
                    None => "ConsumptionCommitment",
                };
                views.lot_events.push(amendment_event(
                    a,
                    lot_source,
                    event_id(account, seq, index),
                    seq,
                ));
            }
        }
        remember(&mut views.agreed, event);
    }

    /// Record the spend of a fact folded for `account` (every fold path calls it for each
    /// fact whose decisions it folds: the spend view is kept from the facts' lines).
    pub fn note_fact(&mut self, account: &str, fact: &Fact) {
        match fact {
            Fact::Invoice(invoice) => self.note_spend(account, &invoice_spend(invoice)),
            Fact::Pending(invoice) => {
                self.pending
                    .entry(account.to_string())
                    .or_default()
                    .push(invoice.clone());
                self.folding_pending = true;
            }
            _ => {}
        }
    }

    /// Add spend made by [`invoice_spend`] to `account`'s view.
    pub fn note_spend(&mut self, account: &str, spend: &[((Date, ChargeKind), Money)]) {
        if spend.is_empty() {
            return;
        }
        let view = &mut self.views.entry(account.to_string()).or_default().spend;
        for &(key, amount) in spend {
            let sum = view.entry(key).or_insert(Money::ZERO);
            *sum = sum.checked_add(amount).unwrap_or(*sum);
        }
    }

    /// Note that one more fact was folded and the log position it reached.
    pub fn advance(&mut self, next_seq: u64) {
        if std::mem::take(&mut self.folding_pending) {
            self.pending_records += next_seq.saturating_sub(self.next_seq);
        }
        self.counters.facts += 1;
        self.next_seq = self.next_seq.max(next_seq);
    }

    fn lot_source(&self, account: &str, lot: &str) -> String {
        let Some(acct) = self.ledger.account(account) else {
            return String::new();
        };
        if acct.macc_index(lot).is_some() {
            return "ConsumptionCommitment".into();
        }
        match acct.credit_index(lot) {
            Some(i) => acct.lots[i].terms.kind.lot_source().into(),
            None => String::new(),
        }
    }

    fn record_view(&mut self, account: &str, seq: u64, index: usize, event: &Event) {
        let settled_seq = seq.saturating_sub(self.pending_records);
        let id = || event_id(account, settled_seq, index);
        let entry = match event {
            Event::PendingSuperseded {
                invoice,
                content_hash,
                ..
            } => {
                self.drop_pending(account, invoice, content_hash);
                None
            }
            Event::Decremented {
                commitment,
                kind: CommitmentKind::Macc,
                invoice,
                profile,
                date,
                amount,
                balance_after,
            } => Some(LotEvent {
                id: id(),
                date: *date,
                description: format!("Balance after invoice {invoice}"),
                billing_profile: Some(profile.clone()),
                lot: commitment.clone(),
                lot_source: "ConsumptionCommitment".into(),
                charges: negate(*amount),
                closed_balance: *balance_after,
                event_type: "SettledCharges".into(),
                invoice: Some(invoice.clone()),
                seq,
            }),
            Event::Decremented {
                commitment,
                kind: CommitmentKind::Caco,
                invoice,
                profile,
                date,
                amount,
                balance_after,
            } => {
                self.views
                    .entry(account.to_string())
                    .or_default()
                    .caco_transactions
                    .entry(commitment.clone())
                    .or_default()
                    .push(CacoTransaction {
                        date: *date,
                        description: format!("Balance after invoice {invoice}"),
                        billing_profile: profile.clone(),
                        invoice: invoice.clone(),
                        decrement: *amount,
                        remaining: *balance_after,
                    });
                None
            }
            Event::MilestoneProgressed {
                caco,
                milestone,
                date,
                amount,
                ..
            } => {
                self.views
                    .entry(account.to_string())
                    .or_default()
                    .milestone_progress
                    .entry((caco.clone(), milestone.clone()))
                    .or_default()
                    .push((*date, *amount));
                None
            }
            Event::CreditApplied {
                lot,
                invoice,
                profile,
                date,
                amount,
                balance_after,
            } => Some(LotEvent {
                id: id(),
                date: *date,
                description: format!("Balance after invoice {invoice}"),
                billing_profile: Some(profile.clone()),
                lot: lot.clone(),
                lot_source: self.lot_source(account, lot),
                charges: negate(*amount),
                closed_balance: *balance_after,
                event_type: "SettledCharges".into(),
                invoice: Some(invoice.clone()),
                seq,
            }),
            Event::CreditLotOpened {
                lot, date, invoice, ..
            } => Some(LotEvent {
                id: id(),
                date: *date,
                description: format!("New credit {}", lot.id),
                billing_profile: None,
                lot: lot.id.clone(),
                lot_source: lot.kind.lot_source().into(),
                charges: lot.amount,
                closed_balance: lot.amount,
                event_type: "NewCredit".into(),
                invoice: invoice.clone(),
                seq,
            }),
            Event::CreditLotExpired {
                lot,
                expires,
                balance,
            } => Some(LotEvent {
                id: id(),
                date: *expires,
                description: format!("Credit {lot} expired unused"),
                billing_profile: None,
                lot: lot.clone(),
                lot_source: self.lot_source(account, lot),
                charges: negate(*balance),
                closed_balance: *balance,
                event_type: "PendingExpiredCredit".into(),
                invoice: None,
                seq,
            }),
            Event::Adjusted {
                target,
                target_kind,
                invoice,
                profile,
                date,
                applied,
                balance_after,
                ..
            } => match target_kind {
                AdjustmentTarget::Caco => {
                    self.views
                        .entry(account.to_string())
                        .or_default()
                        .caco_transactions
                        .entry(target.clone())
                        .or_default()
                        .push(CacoTransaction {
                            date: *date,
                            description: format!("Refund on invoice {invoice}"),
                            billing_profile: profile.clone(),
                            invoice: invoice.clone(),
                            decrement: negate(*applied),
                            remaining: *balance_after,
                        });
                    None
                }
                AdjustmentTarget::Macc | AdjustmentTarget::Credit => Some(LotEvent {
                    id: id(),
                    date: *date,
                    description: format!("Refund on invoice {invoice}"),
                    billing_profile: Some(profile.clone()),
                    lot: target.clone(),
                    lot_source: self.lot_source(account, target),
                    charges: *applied,
                    closed_balance: *balance_after,
                    event_type: "SettledCharges".into(),
                    invoice: Some(invoice.clone()),
                    seq,
                }),
            },
            Event::Resettled {
                target,
                target_kind,
                version,
                date,
                change,
                balance_after,
                ..
            } => {
                let description = format!("Corrected under rulebook {version} (ledger resettle)");
                if *target_kind == AdjustmentTarget::Caco {
                    self.views
                        .entry(account.to_string())
                        .or_default()
                        .caco_transactions
                        .entry(target.clone())
                        .or_default()
                        .push(CacoTransaction {
                            date: *date,
                            description,
                            billing_profile: String::new(),
                            invoice: String::new(),
                            decrement: negate(*change),
                            remaining: *balance_after,
                        });
                    None
                } else {
                    Some(LotEvent {
                        id: id(),
                        date: *date,
                        description,
                        billing_profile: None,
                        lot: target.clone(),
                        lot_source: self.lot_source(account, target),
                        charges: *change,
                        closed_balance: *balance_after,
                        event_type: "SettledCharges".into(),
                        invoice: None,
                        seq,
                    })
                }
            }
            _ => None,
        };
        if let Some(entry) = entry {
            self.views
                .entry(account.to_string())
                .or_default()
                .lot_events
                .push(entry);
        }
    }
}

impl Projections {
    /// Forget a superseded pending run's lines.
    fn drop_pending(&mut self, account: &str, invoice: &str, content_hash: &[u8; 32]) {
        let Some(runs) = self.pending.get_mut(account) else {
            return;
        };
        runs.retain(|r| !(r.id == invoice && &r.content_hash == content_hash));
        if runs.is_empty() {
            self.pending.remove(account);
        }
    }
}

/// An invoice's line amounts summed by charge date and spend kind
/// ([`spend_kind`]).
pub fn invoice_spend(invoice: &Invoice) -> Vec<((Date, ChargeKind), Money)> {
    lines_spend(&invoice.lines)
}

/// Some lines' amounts summed by charge date and spend kind ([`spend_kind`]).
pub fn lines_spend(lines: &[ledger_core::ChargeLine]) -> Vec<((Date, ChargeKind), Money)> {
    crate::spend::sum_lines(lines, |line| spend_kind(line.kind, line.corrects_kind))
}

/// The decisions an agreement fact records.
fn is_agreement_decision(event: &Event) -> bool {
    matches!(
        event,
        Event::MaccOpened { .. }
            | Event::MaccAmended { .. }
            | Event::MaccCanceled { .. }
            | Event::CacoOpened { .. }
            | Event::CacoAmended { .. }
            | Event::CacoCanceled { .. }
            | Event::CreditLotOpened { .. }
            | Event::CreditLotAmended { .. }
            | Event::CreditLotCanceled { .. }
    )
}

/// The Events API entry of an amendment of a MACC or credit lot.
fn amendment_event(a: Amendment, lot_source: &str, id: String, seq: u64) -> LotEvent {
    LotEvent {
        id,
        date: a.date,
        description: a.description,
        billing_profile: None,
        lot: a.lot,
        lot_source: lot_source.into(),
        charges: a.change,
        closed_balance: a.balance_after,
        event_type: a.kind.event_type().into(),
        invoice: None,
        seq,
    }
}

fn negate(amount: Money) -> Money {
    Money::ZERO.checked_sub(amount).unwrap_or(Money::ZERO)
}

/// The kind a line's spend is kept under: a refund under the kind it corrects (R-ADJ).
pub fn spend_kind(kind: ChargeKind, corrects_kind: Option<ChargeKind>) -> ChargeKind {
    match kind {
        ChargeKind::Refund => corrects_kind.unwrap_or(ChargeKind::Usage),
        other => other,
    }
}
