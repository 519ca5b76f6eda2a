//! The state of the ledger and `evolve`, the fold of decisions into it.
//!
//! Deciding and replaying share this code: the core emits an event and immediately evolves the
//! state with it, so a replay of the recorded events reaches exactly the state the decisions
//! were taken in. `check_invariants` states what must hold between facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agreement::{AccountTerms, CacoBasis, CacoMilestoneTerms, CacoTerms, MaccTerms};
use crate::amounts::Amounts;
use crate::date::Date;
use crate::error::CoreError;
use crate::event::{InvoiceSummary, LotOrigin, LotTerms};
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
    /// Remaining commitment (the Lots API `closedBalance`), decrements, adjustments.
    pub amounts: Amounts,
    pub state: MaccState,
    /// Aligned with `terms.milestones`.
    pub milestone_outcomes: Vec<Option<MaccMilestoneOutcome>>,
}

impl Macc {
    /// The amount committed: the original of its [`Amounts`].
    pub fn original(&self) -> Money {
        self.terms.amount
    }
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
    /// The commitment amount (R-CACO-2): the original of `amounts`.
    pub commitment: Money,
    /// Remaining commitment (R-CACO-3), decrements, adjustments.
    pub amounts: Amounts,
    pub state: CacoState,
    /// Every milestone ever agreed, removed ones included, in agreed order.
    pub milestones: Vec<CacoMilestone>,
}

impl Caco {
    /// The commitment amount: the original of its [`Amounts`].
    pub fn original(&self) -> Money {
        self.commitment
    }
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
    /// Balance, credit applied (`decremented`), adjustments.
    pub amounts: Amounts,
    pub state: LotState,
}

impl CreditLot {
    /// The amount the lot opened with: the original of its [`Amounts`].
    pub fn original(&self) -> Money {
        self.terms.amount
    }
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
    pub(crate) invoice_index: BTreeMap<String, u32>,
    pub(crate) lot_index: BTreeMap<String, LotRef>,
    /// The ledger clock: newest settled invoice date or close date.
    pub clock: Option<Date>,
    /// R-CSP: partner earned credit is being earned.
    pub pec_earning: bool,
    /// The current pending runs (R-PEND), in recording order; never part of a balance.
    pub pending: Vec<crate::event::PendingRun>,
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
            pending: Vec::new(),
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

    /// What must hold after every fact: for every lot, original − decrements + adjustments =
    /// closed balance, and 0 <= balance <= original ([`Amounts::check`]); an open MACC has a
    /// balance left; milestone progress is never negative.
    pub fn check_invariants(&self) -> Result<(), CoreError> {
        let fail = |m: String| Err(CoreError::Invariant { message: m });
        for m in &self.maccs {
            if let Err(why) = m.amounts.check(m.original()) {
                return fail(format!("MACC {}: {why}", m.terms.id));
            }
            if m.state == MaccState::Open && m.amounts.balance.is_zero() {
                return fail(format!("MACC {} is open with a zero balance", m.terms.id));
            }
        }
        for c in &self.cacos {
            if let Err(why) = c.amounts.check(c.original()) {
                return fail(format!("CACO {}: {why}", c.terms.id));
            }
            if let Some(ms) = c.milestones.iter().find(|ms| ms.progress.is_negative()) {
                return fail(format!(
                    "milestone {}/{} progress below zero",
                    c.terms.id, ms.terms.id
                ));
            }
        }
        for l in &self.lots {
            if let Err(why) = l.amounts.check(l.original()) {
                return fail(format!("credit lot {}: {why}", l.terms.id));
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
            LotState::Open if l.amounts.balance.is_zero() => LotStatus::Complete,
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
