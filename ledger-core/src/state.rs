//! The state of the ledger and `evolve`, the fold of decisions into it.
//!
//! Deciding and replaying share this code: the core emits an event and immediately evolves the
//! state with it, so a replay of the recorded events reaches exactly the state the decisions
//! were taken in. `check_invariants` states what must hold between facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agreement::{AccountTerms, CacoBasis, CacoMilestoneTerms, CacoTerms, MaccTerms};
use crate::date::Date;
use crate::error::CoreError;
use crate::event::{AdjustmentTarget, CommitmentKind, Event, InvoiceSummary, LotOrigin, LotTerms};
use crate::money::Money;

/// Where a lot id points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LotRef {
    Macc(u32),
    Caco(u32),
    Credit(u32),
}

/// Lifecycle of a MACC (R-MACC-4). `Inactive` and `Active` are derived from the clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaccState {
    Open,
    Completed { date: Date, invoice: String },
    Expired { end: Date },
    Canceled,
}

/// The outcome of a MACC milestone evaluation (R-MACC-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaccMilestoneOutcome {
    pub cumulative: Money,
    pub shortfall: Money,
}

/// A MACC and its balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Macc {
    pub terms: MaccTerms,
    /// Remaining commitment, the Lots API `closedBalance`.
    pub balance: Money,
    /// Sum of decrements.
    pub decremented: Money,
    /// Sum of refund adjustments (R-ADJ).
    pub adjusted: Money,
    pub state: MaccState,
    /// Aligned with `terms.milestones`.
    pub milestone_outcomes: Vec<Option<MaccMilestoneOutcome>>,
}

/// Lifecycle of a CACO (R-CACO-7). `Scheduled` and `Active` are derived from the clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacoState {
    Open,
    Completed { date: Date, invoice: String },
    Expired { end: Date },
    Canceled,
}

/// Lifecycle of a CACO milestone (R-CACO-4). `Scheduled`, `Active`, `Pending` are derived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacoMilestoneState {
    Open,
    Completed { date: Date, invoice: String },
    Missed { end: Date },
    Canceled,
    Removed,
}

/// A CACO milestone with its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacoMilestone {
    pub terms: CacoMilestoneTerms,
    pub progress: Money,
    pub state: CacoMilestoneState,
}

impl CacoMilestone {
    /// Whether spend still accrues to it (not canceled or removed).
    pub fn accrues(&self) -> bool {
        !matches!(
            self.state,
            CacoMilestoneState::Canceled | CacoMilestoneState::Removed
        )
    }
}

/// A CACO with its remaining commitment and milestones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caco {
    pub terms: CacoTerms,
    pub commitment: Money,
    pub remaining: Money,
    pub decremented: Money,
    pub adjusted: Money,
    pub state: CacoState,
    /// Every milestone ever agreed, removed ones included, in agreed order.
    pub milestones: Vec<CacoMilestone>,
}

/// Lifecycle of a credit lot. `Inactive`, `Active`, `Complete` are derived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LotState {
    Open,
    Expired { expires: Date, balance: Money },
    Canceled,
}

/// A credit lot and its balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLot {
    pub terms: LotTerms,
    pub origin: LotOrigin,
    /// The date of its `NewCredit` event.
    pub opened: Date,
    pub balance: Money,
    pub applied: Money,
    pub adjusted: Money,
    pub state: LotState,
}

/// Everything the ledger knows about one billing account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub account: String,
    pub currency: String,
    pub terms: AccountTerms,
    pub agreement_version: u32,
    pub agreement_hash: [u8; 32],
    /// The MACC queue, ordered by start then id (R-MACC-3).
    pub maccs: Vec<Macc>,
    pub cacos: Vec<Caco>,
    /// In opening order.
    pub lots: Vec<CreditLot>,
    /// In settlement order.
    pub invoices: Vec<InvoiceSummary>,
    invoice_index: BTreeMap<String, u32>,
    lot_index: BTreeMap<String, LotRef>,
    /// The ledger clock: newest settled invoice date or close date.
    pub clock: Option<Date>,
    /// R-CSP: partner earned credit is being earned.
    pub pec_earning: bool,
}

/// Lots API status spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LotStatus {
    Inactive,
    Active,
    Complete,
    Expired,
    Canceled,
}

impl LotStatus {
    pub fn name(self) -> &'static str {
        match self {
            LotStatus::Inactive => "Inactive",
            LotStatus::Active => "Active",
            LotStatus::Complete => "Complete",
            LotStatus::Expired => "Expired",
            LotStatus::Canceled => "Canceled",
        }
    }
}

/// CACO status (R-CACO-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacoStatus {
    Scheduled,
    Active,
    Completed,
    Expired,
    Canceled,
}

impl CacoStatus {
    pub fn name(self) -> &'static str {
        match self {
            CacoStatus::Scheduled => "Scheduled",
            CacoStatus::Active => "Active",
            CacoStatus::Completed => "Completed",
            CacoStatus::Expired => "Expired",
            CacoStatus::Canceled => "Canceled",
        }
    }
}

/// CACO milestone status (R-CACO-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MilestoneStatus {
    Scheduled,
    Active,
    Pending,
    Completed,
    Missed,
    Canceled,
    Removed,
}

impl MilestoneStatus {
    pub fn name(self) -> &'static str {
        match self {
            MilestoneStatus::Scheduled => "Scheduled",
            MilestoneStatus::Active => "Active",
            MilestoneStatus::Pending => "Pending",
            MilestoneStatus::Completed => "Completed",
            MilestoneStatus::Missed => "Missed",
            MilestoneStatus::Canceled => "Canceled",
            MilestoneStatus::Removed => "Removed",
        }
    }
}

fn corrupt(message: String) -> CoreError {
    CoreError::Corrupt { message }
}

fn add(a: Money, b: Money, what: &str) -> Result<Money, CoreError> {
    a.checked_add(b).map_err(|_| CoreError::Overflow {
        context: what.to_string(),
    })
}

fn sub(a: Money, b: Money, what: &str) -> Result<Money, CoreError> {
    a.checked_sub(b).map_err(|_| CoreError::Overflow {
        context: what.to_string(),
    })
}

fn expect_balance(what: &str, id: &str, actual: Money, recorded: Money) -> Result<(), CoreError> {
    if actual != recorded {
        return Err(corrupt(format!(
            "{what} {id}: balance after is {actual} by the fold, {recorded} as recorded"
        )));
    }
    if actual.is_negative() {
        return Err(corrupt(format!(
            "{what} {id}: balance would fall below zero ({actual})"
        )));
    }
    Ok(())
}

impl AccountState {
    /// A new account with no commitments, as `AccountOpened` makes it.
    pub fn new(account: &str, currency: &str, terms: AccountTerms) -> AccountState {
        AccountState {
            account: account.to_string(),
            currency: currency.to_string(),
            terms,
            agreement_version: 0,
            agreement_hash: [0; 32],
            maccs: Vec::new(),
            cacos: Vec::new(),
            lots: Vec::new(),
            invoices: Vec::new(),
            invoice_index: BTreeMap::new(),
            lot_index: BTreeMap::new(),
            clock: None,
            pec_earning: false,
        }
    }

    /// What a lot id names in this account (MACC, CACO or credit lot).
    pub fn lot_ref(&self, id: &str) -> Option<LotRef> {
        self.lot_index.get(id).copied()
    }

    /// A settled invoice by id.
    pub fn invoice(&self, id: &str) -> Option<&InvoiceSummary> {
        self.invoice_index
            .get(id)
            .map(|&i| &self.invoices[i as usize])
    }

    pub fn macc_index(&self, id: &str) -> Option<usize> {
        match self.lot_ref(id) {
            Some(LotRef::Macc(i)) => Some(i as usize),
            _ => None,
        }
    }

    pub fn caco_index(&self, id: &str) -> Option<usize> {
        match self.lot_ref(id) {
            Some(LotRef::Caco(i)) => Some(i as usize),
            _ => None,
        }
    }

    pub fn credit_index(&self, id: &str) -> Option<usize> {
        match self.lot_ref(id) {
            Some(LotRef::Credit(i)) => Some(i as usize),
            _ => None,
        }
    }

    /// The head of the MACC queue: the first MACC still open (R-MACC-3).
    pub fn macc_head(&self) -> Option<usize> {
        self.maccs.iter().position(|m| m.state == MaccState::Open)
    }

    fn rebuild_lot_index(&mut self) {
        let mut index = BTreeMap::new();
        for (i, m) in self.maccs.iter().enumerate() {
            index.insert(m.terms.id.clone(), LotRef::Macc(i as u32));
        }
        for (i, c) in self.cacos.iter().enumerate() {
            index.insert(c.terms.id.clone(), LotRef::Caco(i as u32));
        }
        for (i, l) in self.lots.iter().enumerate() {
            index.insert(l.terms.id.clone(), LotRef::Credit(i as u32));
        }
        self.lot_index = index;
    }

    fn ensure_new_id(&self, id: &str) -> Result<(), CoreError> {
        if self.lot_index.contains_key(id) {
            return Err(corrupt(format!("lot id {id} opened twice")));
        }
        Ok(())
    }

    fn macc_mut(&mut self, id: &str) -> Result<&mut Macc, CoreError> {
        let i = self
            .macc_index(id)
            .ok_or_else(|| corrupt(format!("unknown MACC {id}")))?;
        Ok(&mut self.maccs[i])
    }

    fn caco_mut(&mut self, id: &str) -> Result<&mut Caco, CoreError> {
        let i = self
            .caco_index(id)
            .ok_or_else(|| corrupt(format!("unknown CACO {id}")))?;
        Ok(&mut self.cacos[i])
    }

    fn lot_mut(&mut self, id: &str) -> Result<&mut CreditLot, CoreError> {
        let i = self
            .credit_index(id)
            .ok_or_else(|| corrupt(format!("unknown credit lot {id}")))?;
        Ok(&mut self.lots[i])
    }

    /// Fold one decision into the state. Fails (without a panic) on an event that cannot follow
    /// from this state, which means the log is damaged or was written by other rules.
    pub fn evolve(&mut self, event: &Event) -> Result<(), CoreError> {
        match event {
            Event::AccountOpened { .. } => {
                return Err(corrupt(format!("account {} opened twice", self.account)));
            }
            Event::AccountTermsChanged { terms } => self.terms = terms.clone(),
            Event::AgreementRecorded {
                version,
                content_hash,
            } => {
                if *version != self.agreement_version + 1 {
                    return Err(corrupt(format!(
                        "agreement version {version} follows version {}",
                        self.agreement_version
                    )));
                }
                self.agreement_version = *version;
                self.agreement_hash = *content_hash;
            }
            Event::MaccOpened { terms } => {
                self.ensure_new_id(&terms.id)?;
                let macc = Macc {
                    balance: terms.amount,
                    decremented: Money::ZERO,
                    adjusted: Money::ZERO,
                    state: MaccState::Open,
                    milestone_outcomes: vec![None; terms.milestones.len()],
                    terms: terms.clone(),
                };
                let at = self
                    .maccs
                    .iter()
                    .position(|m| (m.terms.start, &m.terms.id) > (terms.start, &terms.id))
                    .unwrap_or(self.maccs.len());
                self.maccs.insert(at, macc);
                self.rebuild_lot_index();
            }
            Event::MaccAmended {
                terms,
                balance_after,
            } => {
                let macc = self.macc_mut(&terms.id)?;
                if macc.state != MaccState::Open {
                    return Err(corrupt(format!(
                        "MACC {} amended after it closed",
                        terms.id
                    )));
                }
                let outcomes: Vec<Option<MaccMilestoneOutcome>> = terms
                    .milestones
                    .iter()
                    .map(|m| {
                        macc.terms
                            .milestones
                            .iter()
                            .position(|old| old.id == m.id)
                            .and_then(|i| macc.milestone_outcomes[i].clone())
                    })
                    .collect();
                let expected = add(
                    sub(terms.amount, macc.decremented, "MACC amendment")?,
                    macc.adjusted,
                    "MACC amendment",
                )?;
                expect_balance("MACC", &terms.id, expected, *balance_after)?;
                macc.terms = terms.clone();
                macc.balance = *balance_after;
                macc.milestone_outcomes = outcomes;
                self.maccs.sort_by(|a, b| {
                    (a.terms.start, &a.terms.id).cmp(&(b.terms.start, &b.terms.id))
                });
                self.rebuild_lot_index();
            }
            Event::MaccCanceled { macc } => self.macc_mut(macc)?.state = MaccState::Canceled,
            Event::CacoOpened { terms } => {
                self.ensure_new_id(&terms.id)?;
                let commitment = terms.commitment_amount();
                self.cacos.push(Caco {
                    commitment,
                    remaining: commitment,
                    decremented: Money::ZERO,
                    adjusted: Money::ZERO,
                    state: CacoState::Open,
                    milestones: terms
                        .milestones
                        .iter()
                        .map(|m| CacoMilestone {
                            terms: m.clone(),
                            progress: Money::ZERO,
                            state: CacoMilestoneState::Open,
                        })
                        .collect(),
                    terms: terms.clone(),
                });
                self.rebuild_lot_index();
            }
            Event::CacoAmended {
                terms,
                removed,
                remaining_after,
            } => {
                let caco = self.caco_mut(&terms.id)?;
                if caco.state != CacoState::Open {
                    return Err(corrupt(format!(
                        "CACO {} amended after it closed",
                        terms.id
                    )));
                }
                let commitment = terms.commitment_amount();
                let expected = add(
                    sub(commitment, caco.decremented, "CACO amendment")?,
                    caco.adjusted,
                    "CACO amendment",
                )?;
                expect_balance("CACO", &terms.id, expected, *remaining_after)?;
                let mut milestones =
                    Vec::with_capacity(caco.milestones.len() + terms.milestones.len());
                for m in &terms.milestones {
                    match caco.milestones.iter().find(|old| old.terms.id == m.id) {
                        Some(old) => milestones.push(CacoMilestone {
                            terms: m.clone(),
                            ..old.clone()
                        }),
                        None => milestones.push(CacoMilestone {
                            terms: m.clone(),
                            progress: Money::ZERO,
                            state: CacoMilestoneState::Open,
                        }),
                    }
                }
                for old in &caco.milestones {
                    if !terms.milestones.iter().any(|m| m.id == old.terms.id) {
                        let mut gone = old.clone();
                        if removed.contains(&old.terms.id) {
                            gone.state = CacoMilestoneState::Removed;
                        }
                        milestones.push(gone);
                    }
                }
                caco.terms = terms.clone();
                caco.commitment = commitment;
                caco.remaining = *remaining_after;
                caco.milestones = milestones;
            }
            Event::CacoCanceled { caco } => {
                let caco = self.caco_mut(caco)?;
                caco.state = CacoState::Canceled;
                for m in &mut caco.milestones {
                    if m.state == CacoMilestoneState::Open {
                        m.state = CacoMilestoneState::Canceled;
                    }
                }
            }
            Event::CreditLotOpened {
                lot, origin, date, ..
            } => {
                self.ensure_new_id(&lot.id)?;
                if !lot.amount.is_positive() {
                    return Err(corrupt(format!(
                        "credit lot {} opened with {}",
                        lot.id, lot.amount
                    )));
                }
                self.lots.push(CreditLot {
                    terms: lot.clone(),
                    origin: origin.clone(),
                    opened: *date,
                    balance: lot.amount,
                    applied: Money::ZERO,
                    adjusted: Money::ZERO,
                    state: LotState::Open,
                });
                self.rebuild_lot_index();
            }
            Event::CreditLotAmended { lot, balance_after } => {
                let current = self.lot_mut(&lot.id)?;
                if current.state != LotState::Open {
                    return Err(corrupt(format!(
                        "credit lot {} amended after it closed",
                        lot.id
                    )));
                }
                let expected = add(
                    sub(lot.amount, current.applied, "lot amendment")?,
                    current.adjusted,
                    "lot amendment",
                )?;
                expect_balance("credit lot", &lot.id, expected, *balance_after)?;
                current.terms = lot.clone();
                current.balance = *balance_after;
            }
            Event::CreditLotCanceled { lot } => self.lot_mut(lot)?.state = LotState::Canceled,
            Event::CreditApplied {
                lot,
                amount,
                balance_after,
                ..
            } => {
                let current = self.lot_mut(lot)?;
                if current.state != LotState::Open || !amount.is_positive() {
                    return Err(corrupt(format!("credit lot {lot} cannot pay {amount}")));
                }
                current.balance = sub(current.balance, *amount, "credit application")?;
                current.applied = add(current.applied, *amount, "credit application")?;
                expect_balance("credit lot", lot, current.balance, *balance_after)?;
            }
            Event::Decremented {
                commitment,
                kind,
                amount,
                balance_after,
                ..
            } => {
                if !amount.is_positive() {
                    return Err(corrupt(format!("{commitment} decremented by {amount}")));
                }
                match kind {
                    CommitmentKind::Macc => {
                        let macc = self.macc_mut(commitment)?;
                        if macc.state != MaccState::Open {
                            return Err(corrupt(format!(
                                "MACC {commitment} decremented while closed"
                            )));
                        }
                        macc.balance = sub(macc.balance, *amount, "MACC decrement")?;
                        macc.decremented = add(macc.decremented, *amount, "MACC decrement")?;
                        expect_balance("MACC", commitment, macc.balance, *balance_after)?;
                    }
                    CommitmentKind::Caco => {
                        let caco = self.caco_mut(commitment)?;
                        caco.remaining = sub(caco.remaining, *amount, "CACO decrement")?;
                        caco.decremented = add(caco.decremented, *amount, "CACO decrement")?;
                        expect_balance("CACO", commitment, caco.remaining, *balance_after)?;
                    }
                }
            }
            Event::MilestoneProgressed {
                caco,
                milestone,
                amount,
                progress_after,
                ..
            } => {
                let caco_state = self.caco_mut(caco)?;
                let m = caco_state
                    .milestones
                    .iter_mut()
                    .find(|m| &m.terms.id == milestone)
                    .ok_or_else(|| corrupt(format!("unknown milestone {caco}/{milestone}")))?;
                m.progress = add(m.progress, *amount, "milestone progress")?;
                expect_balance("milestone", milestone, m.progress, *progress_after)?;
            }
            Event::MaccCompleted {
                macc,
                date,
                invoice,
            } => {
                let m = self.macc_mut(macc)?;
                if !m.balance.is_zero() || m.state != MaccState::Open {
                    return Err(corrupt(format!(
                        "MACC {macc} completed with balance {}",
                        m.balance
                    )));
                }
                m.state = MaccState::Completed {
                    date: *date,
                    invoice: invoice.clone(),
                };
            }
            Event::CacoMilestoneCompleted {
                caco,
                milestone,
                date,
                invoice,
                ..
            } => {
                let c = self.caco_mut(caco)?;
                let m = c
                    .milestones
                    .iter_mut()
                    .find(|m| &m.terms.id == milestone)
                    .ok_or_else(|| corrupt(format!("unknown milestone {caco}/{milestone}")))?;
                if m.state != CacoMilestoneState::Open || m.progress < m.terms.target {
                    return Err(corrupt(format!(
                        "milestone {caco}/{milestone} cannot complete"
                    )));
                }
                m.state = CacoMilestoneState::Completed {
                    date: *date,
                    invoice: invoice.clone(),
                };
            }
            Event::CacoCompleted {
                caco,
                date,
                invoice,
            } => {
                let c = self.caco_mut(caco)?;
                if !c.remaining.is_zero() || c.state != CacoState::Open {
                    return Err(corrupt(format!(
                        "CACO {caco} completed with remaining {}",
                        c.remaining
                    )));
                }
                c.state = CacoState::Completed {
                    date: *date,
                    invoice: invoice.clone(),
                };
            }
            Event::Adjusted {
                target,
                target_kind,
                applied,
                balance_after,
                ..
            } => {
                if applied.is_negative() {
                    return Err(corrupt(format!("adjustment of {target} by {applied}")));
                }
                match target_kind {
                    AdjustmentTarget::Macc => {
                        let m = self.macc_mut(target)?;
                        m.balance = add(m.balance, *applied, "adjustment")?;
                        m.adjusted = add(m.adjusted, *applied, "adjustment")?;
                        expect_balance("MACC", target, m.balance, *balance_after)?;
                    }
                    AdjustmentTarget::Caco => {
                        let c = self.caco_mut(target)?;
                        c.remaining = add(c.remaining, *applied, "adjustment")?;
                        c.adjusted = add(c.adjusted, *applied, "adjustment")?;
                        expect_balance("CACO", target, c.remaining, *balance_after)?;
                    }
                    AdjustmentTarget::Credit => {
                        let l = self.lot_mut(target)?;
                        l.balance = add(l.balance, *applied, "adjustment")?;
                        l.adjusted = add(l.adjusted, *applied, "adjustment")?;
                        expect_balance("credit lot", target, l.balance, *balance_after)?;
                    }
                }
            }
            Event::MaccMilestoneEvaluated {
                macc,
                milestone,
                cumulative,
                shortfall,
                ..
            } => {
                let m = self.macc_mut(macc)?;
                let i = m
                    .terms
                    .milestones
                    .iter()
                    .position(|t| &t.id == milestone)
                    .ok_or_else(|| corrupt(format!("unknown MACC milestone {macc}/{milestone}")))?;
                if m.milestone_outcomes[i].is_some() {
                    return Err(corrupt(format!(
                        "MACC milestone {macc}/{milestone} evaluated twice"
                    )));
                }
                m.milestone_outcomes[i] = Some(MaccMilestoneOutcome {
                    cumulative: *cumulative,
                    shortfall: *shortfall,
                });
            }
            Event::MaccExpired {
                macc, end, balance, ..
            } => {
                let m = self.macc_mut(macc)?;
                if m.state != MaccState::Open || m.balance != *balance {
                    return Err(corrupt(format!("MACC {macc} cannot expire with {balance}")));
                }
                m.state = MaccState::Expired { end: *end };
            }
            Event::CacoMilestoneMissed {
                caco,
                milestone,
                end,
                ..
            } => {
                let c = self.caco_mut(caco)?;
                let m = c
                    .milestones
                    .iter_mut()
                    .find(|m| &m.terms.id == milestone)
                    .ok_or_else(|| corrupt(format!("unknown milestone {caco}/{milestone}")))?;
                if m.state != CacoMilestoneState::Open {
                    return Err(corrupt(format!(
                        "milestone {caco}/{milestone} missed twice"
                    )));
                }
                m.state = CacoMilestoneState::Missed { end: *end };
            }
            Event::CacoExpired {
                caco,
                end,
                remaining,
            } => {
                let c = self.caco_mut(caco)?;
                if c.state != CacoState::Open || c.remaining != *remaining {
                    return Err(corrupt(format!(
                        "CACO {caco} cannot expire with {remaining}"
                    )));
                }
                c.state = CacoState::Expired { end: *end };
            }
            Event::CreditLotExpired {
                lot,
                expires,
                balance,
            } => {
                let l = self.lot_mut(lot)?;
                if l.state != LotState::Open || l.balance != *balance {
                    return Err(corrupt(format!(
                        "credit lot {lot} cannot expire with {balance}"
                    )));
                }
                l.state = LotState::Expired {
                    expires: *expires,
                    balance: *balance,
                };
            }
            Event::PecStarted { .. } => self.pec_earning = true,
            Event::InvoiceSettled { summary } => {
                if self.invoice_index.contains_key(&summary.id) {
                    return Err(corrupt(format!("invoice {} settled twice", summary.id)));
                }
                let expected_billed = sub(summary.charges, summary.credits_applied, "invoice")?;
                let expected_amount =
                    sub(expected_billed, summary.partner_earned_credit, "invoice")?;
                if expected_billed != summary.billed || expected_amount != summary.invoice_amount {
                    return Err(corrupt(format!(
                        "invoice {}: charges − credits ≠ billed",
                        summary.id
                    )));
                }
                self.invoice_index
                    .insert(summary.id.clone(), self.invoices.len() as u32);
                self.invoices.push(summary.clone());
                self.advance_clock(summary.date);
            }
            Event::Closed { through } => self.advance_clock(*through),
        }
        Ok(())
    }

    fn advance_clock(&mut self, date: Date) {
        self.clock = Some(self.clock.map_or(date, |c| c.max(date)));
    }

    /// What must hold after every fact: for every lot, original − decrements + adjustments =
    /// closed balance, and 0 <= balance <= original.
    pub fn check_invariants(&self) -> Result<(), CoreError> {
        let fail = |m: String| Err(CoreError::Invariant { message: m });
        for m in &self.maccs {
            let expected = add(
                sub(m.terms.amount, m.decremented, "check")?,
                m.adjusted,
                "check",
            )?;
            if expected != m.balance || m.balance.is_negative() || m.balance > m.terms.amount {
                return fail(format!(
                    "MACC {}: original {} − decrements {} + adjustments {} ≠ balance {} (or out of range)",
                    m.terms.id, m.terms.amount, m.decremented, m.adjusted, m.balance
                ));
            }
            if m.state == MaccState::Open && m.balance.is_zero() {
                return fail(format!("MACC {} is open with a zero balance", m.terms.id));
            }
        }
        for c in &self.cacos {
            let expected = add(
                sub(c.commitment, c.decremented, "check")?,
                c.adjusted,
                "check",
            )?;
            if expected != c.remaining || c.remaining.is_negative() || c.remaining > c.commitment {
                return fail(format!(
                    "CACO {}: commitment {} − decrements {} + adjustments {} ≠ remaining {}",
                    c.terms.id, c.commitment, c.decremented, c.adjusted, c.remaining
                ));
            }
            for ms in &c.milestones {
                if ms.progress.is_negative() {
                    return fail(format!(
                        "milestone {}/{} progress below zero",
                        c.terms.id, ms.terms.id
                    ));
                }
            }
        }
        for l in &self.lots {
            let expected = add(
                sub(l.terms.amount, l.applied, "check")?,
                l.adjusted,
                "check",
            )?;
            if expected != l.balance || l.balance.is_negative() || l.balance > l.terms.amount {
                return fail(format!(
                    "credit lot {}: original {} − applied {} + adjustments {} ≠ balance {}",
                    l.terms.id, l.terms.amount, l.applied, l.adjusted, l.balance
                ));
            }
        }
        Ok(())
    }

    // ----- statuses, derived from the state and the ledger clock -----

    fn before(&self, date: Date) -> bool {
        matches!(self.clock, Some(c) if c < date)
    }

    /// Lots API status of a MACC (R-MACC-4).
    pub fn macc_status(&self, i: usize) -> LotStatus {
        let m = &self.maccs[i];
        match m.state {
            MaccState::Canceled => LotStatus::Canceled,
            MaccState::Completed { .. } => LotStatus::Complete,
            MaccState::Expired { .. } => LotStatus::Expired,
            MaccState::Open => {
                if self.macc_head() != Some(i) || self.before(m.terms.start) {
                    LotStatus::Inactive
                } else {
                    LotStatus::Active
                }
            }
        }
    }

    /// Lots API status of a credit lot.
    pub fn credit_status(&self, i: usize) -> LotStatus {
        let l = &self.lots[i];
        match l.state {
            LotState::Canceled => LotStatus::Canceled,
            LotState::Expired { .. } => LotStatus::Expired,
            LotState::Open if l.balance.is_zero() => LotStatus::Complete,
            LotState::Open if self.before(l.terms.start) => LotStatus::Inactive,
            LotState::Open => LotStatus::Active,
        }
    }

    /// R-CACO-7.
    pub fn caco_status(&self, i: usize) -> CacoStatus {
        let c = &self.cacos[i];
        match c.state {
            CacoState::Canceled => CacoStatus::Canceled,
            CacoState::Completed { .. } => CacoStatus::Completed,
            CacoState::Expired { .. } => CacoStatus::Expired,
            CacoState::Open if self.before(c.terms.start) => CacoStatus::Scheduled,
            CacoState::Open => CacoStatus::Active,
        }
    }

    /// R-CACO-4.
    pub fn caco_milestone_status(&self, caco: usize, milestone: usize) -> MilestoneStatus {
        let m = &self.cacos[caco].milestones[milestone];
        match m.state {
            CacoMilestoneState::Removed => MilestoneStatus::Removed,
            CacoMilestoneState::Canceled => MilestoneStatus::Canceled,
            CacoMilestoneState::Completed { .. } => MilestoneStatus::Completed,
            CacoMilestoneState::Missed { .. } => MilestoneStatus::Missed,
            CacoMilestoneState::Open => match self.clock {
                Some(c) if c < m.terms.start => MilestoneStatus::Scheduled,
                Some(c) if c > m.terms.end => MilestoneStatus::Pending,
                _ => MilestoneStatus::Active,
            },
        }
    }

    /// R-CACO-6: progress / target × 100 (not capped), exact.
    pub fn milestone_progress_percent(m: &CacoMilestone) -> rust_decimal::Decimal {
        let target = m.terms.target.to_decimal();
        if target.is_zero() {
            return rust_decimal::Decimal::ZERO;
        }
        m.progress.to_decimal() * rust_decimal::Decimal::ONE_HUNDRED / target
    }

    /// Whether a CACO counts spend by period or cumulatively.
    pub fn caco_basis(&self, i: usize) -> CacoBasis {
        self.cacos[i].terms.basis
    }
}
