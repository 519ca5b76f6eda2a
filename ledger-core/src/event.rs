//! Decisions: the events the core emits. The log records them; projections fold them.
//!
//! Compatibility rule (the log keeps these forever): never reorder, remove or change a variant
//! or a field. To add information, append a new variant at the end of [`Event`]; to change a
//! shape, append a new variant and keep reading the old one.

use serde::{Deserialize, Serialize};

use crate::agreement::{AccountTerms, CacoTerms, MaccTerms};
use crate::date::Date;
use crate::kind::{CreditKind, KindSet};
use crate::money::Money;

/// Where a credit lot came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LotOrigin {
    /// Granted by the agreement file.
    Agreement,
    /// Opened by a purchase line (R-SETTLE step 4), at its 1-based input position.
    Purchase { invoice: String, line_position: u32 },
    /// A CACO milestone's ACO award (R-CACO-5).
    Award { caco: String, milestone: String },
    /// A missed MACC's shortfall converted to credit (R-SHORT-1, R-SHORT-2).
    MaccShortfall { macc: String },
    /// A missed MACC milestone's shortfall credit (R-MACC-5).
    MilestoneShortfall { macc: String, milestone: String },
}

/// The terms of a credit lot as opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotTerms {
    pub id: String,
    pub kind: CreditKind,
    pub amount: Money,
    pub start: Date,
    pub expires: Date,
    pub covers: KindSet,
}

/// Which kind of commitment a decrement or adjustment touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommitmentKind {
    Macc,
    Caco,
}

/// What an adjustment (R-ADJ) restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentTarget {
    Macc,
    Caco,
    Credit,
}

/// What happened to a missed MACC's shortfall (R-SHORT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShortfallConversion {
    /// R-SHORT-1: enrollment still active; credit until the earlier of enrollment end and
    /// end + 12 months.
    ActiveEnrollment { expires: Date },
    /// R-SHORT-2: enrollment ended but renewed (or not said); credit for 12 months.
    Renewed { expires: Date },
    /// R-SHORT-3: enrollment ended and not renewed; no credit.
    NotConverted,
}

impl ShortfallConversion {
    pub fn rule(self) -> &'static str {
        match self {
            ShortfallConversion::ActiveEnrollment { .. } => "R-SHORT-1",
            ShortfallConversion::Renewed { .. } => "R-SHORT-2",
            ShortfallConversion::NotConverted => "R-SHORT-3",
        }
    }
}

/// The settled totals of one invoice (R-SETTLE step 7, R-CSP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceSummary {
    pub id: String,
    pub date: Date,
    pub period_start: Date,
    pub period_end: Date,
    pub content_hash: [u8; 32],
    pub line_count: u32,
    pub charges: Money,
    pub credits_applied: Money,
    pub billed: Money,
    pub partner_earned_credit: Money,
    pub invoice_amount: Money,
    /// Made by the engine (a shortfall invoice, a what-if month), not read from a file.
    pub synthetic: bool,
}

/// One decision. Every variant is explained by the rule [`Event::rule`] names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The account's first agreement.
    AccountOpened {
        currency: String,
        terms: AccountTerms,
    },
    /// An amendment changed account-wide terms.
    AccountTermsChanged {
        terms: AccountTerms,
    },
    /// An agreement version was recorded (R-IDEM-1 for agreements).
    AgreementRecorded {
        version: u32,
        content_hash: [u8; 32],
    },
    MaccOpened {
        terms: MaccTerms,
    },
    /// An amendment changed a MACC's terms; `balance_after` follows from them.
    MaccAmended {
        terms: MaccTerms,
        balance_after: Money,
    },
    /// An amendment removed the MACC (R-MACC-4 `Canceled`).
    MaccCanceled {
        macc: String,
    },
    CacoOpened {
        terms: CacoTerms,
    },
    /// An amendment changed a CACO; milestones missing from the new terms are `Removed`.
    CacoAmended {
        terms: CacoTerms,
        removed: Vec<String>,
        remaining_after: Money,
    },
    /// An amendment removed the CACO (R-CACO-7 `Canceled`, its open milestones `Canceled`).
    CacoCanceled {
        caco: String,
    },
    /// A credit lot opened (Events API `NewCredit`), dated `date`.
    CreditLotOpened {
        lot: LotTerms,
        origin: LotOrigin,
        date: Date,
        invoice: Option<String>,
    },
    /// An amendment changed an agreement credit lot.
    CreditLotAmended {
        lot: LotTerms,
        balance_after: Money,
    },
    /// An amendment removed an agreement credit lot.
    CreditLotCanceled {
        lot: String,
    },
    /// A credit lot paid part of an invoice for one billing profile (R-SETTLE step 5).
    CreditApplied {
        lot: String,
        invoice: String,
        profile: String,
        date: Date,
        amount: Money,
        balance_after: Money,
    },
    /// A commitment was decremented by one invoice for one billing profile (R-SETTLE step 6).
    Decremented {
        commitment: String,
        kind: CommitmentKind,
        invoice: String,
        profile: String,
        date: Date,
        amount: Money,
        balance_after: Money,
    },
    /// A CACO milestone's progress grew (or shrank, for a refund) by one invoice, dated the
    /// invoice date.
    MilestoneProgressed {
        caco: String,
        milestone: String,
        invoice: String,
        date: Date,
        amount: Money,
        progress_after: Money,
    },
    /// R-MACC-4: the balance reached zero on this invoice.
    MaccCompleted {
        macc: String,
        date: Date,
        invoice: String,
    },
    /// R-CACO-5: the milestone's progress reached its target on this invoice.
    CacoMilestoneCompleted {
        caco: String,
        milestone: String,
        date: Date,
        invoice: String,
        progress: Money,
        award: Money,
    },
    /// R-CACO-7: the remaining commitment reached zero on this invoice.
    CacoCompleted {
        caco: String,
        date: Date,
        invoice: String,
    },
    /// R-ADJ: a refund line restored part of a lot's balance.
    Adjusted {
        target: String,
        target_kind: AdjustmentTarget,
        invoice: String,
        profile: String,
        line_position: u32,
        date: Date,
        requested: Money,
        applied: Money,
        balance_after: Money,
    },
    /// R-MACC-5: a MACC milestone was evaluated after its due date.
    MaccMilestoneEvaluated {
        macc: String,
        milestone: String,
        due: Date,
        cumulative: Money,
        target: Money,
        shortfall: Money,
    },
    /// R-SHORT: a MACC was evaluated after its end with a balance left.
    MaccExpired {
        macc: String,
        end: Date,
        balance: Money,
        conversion: ShortfallConversion,
    },
    /// R-CACO-4: a milestone ended unmet; its award is forfeited.
    CacoMilestoneMissed {
        caco: String,
        milestone: String,
        end: Date,
        progress: Money,
        target: Money,
        forfeited_award: Money,
    },
    /// R-CACO-7: the CACO ended with commitment remaining.
    CacoExpired {
        caco: String,
        end: Date,
        remaining: Money,
    },
    /// R-EVAL: a credit lot expired with a balance (Events API `PendingExpiredCredit`).
    CreditLotExpired {
        lot: String,
        expires: Date,
        balance: Money,
    },
    /// R-CSP: from this invoice on, partner earned credit is earned.
    PecStarted {
        invoice: String,
    },
    /// R-SETTLE step 7: the invoice is settled; its totals.
    InvoiceSettled {
        summary: InvoiceSummary,
    },
    /// R-EVAL: `close --through` evaluated every deadline up to this date.
    Closed {
        through: Date,
    },
    /// `ledger resettle`: the lot's amounts as rulebook `version` derives them from every
    /// recorded fact, replacing what an earlier version decided (history is kept; this event
    /// corrects it). `change` = balance after − balance before.
    Resettled {
        target: String,
        target_kind: AdjustmentTarget,
        version: u16,
        date: Date,
        change: Money,
        decremented: Money,
        adjusted: Money,
        balance_after: Money,
    },
    /// R-PEND-1: a pending (month-to-date) run is now current for its billing period. It
    /// settles nothing; the pending estimate folds its lines on a copy of the state.
    PendingRecorded {
        run: PendingRun,
    },
    /// R-PEND-2: a pending run was replaced, by a newer run of its period or by the period's
    /// closed invoice, `by`.
    PendingSuperseded {
        invoice: String,
        content_hash: [u8; 32],
        by: String,
    },
}

impl Event {
    /// The rule id that explains this decision (docs/RULES.md).
    pub fn rule(&self) -> &'static str {
        match self {
            Event::AccountOpened { .. }
            | Event::AccountTermsChanged { .. }
            | Event::AgreementRecorded { .. } => "R-MACC-1",
            Event::MaccOpened { .. } | Event::MaccAmended { .. } => "R-MACC-1",
            Event::MaccCanceled { .. } => "R-MACC-4",
            Event::CacoOpened { .. } | Event::CacoAmended { .. } => "R-CACO-1",
            Event::CacoCanceled { .. } => "R-CACO-7",
            Event::CreditLotOpened { origin, .. } => match origin {
                LotOrigin::Agreement => "R-COVER",
                LotOrigin::Purchase { .. } => "R-SETTLE-4",
                LotOrigin::Award { .. } => "R-CACO-5",
                LotOrigin::MaccShortfall { .. } => "R-SHORT",
                LotOrigin::MilestoneShortfall { .. } => "R-MACC-5",
            },
            Event::CreditLotAmended { .. } | Event::CreditLotCanceled { .. } => "R-COVER",
            Event::CreditApplied { .. } => "R-SETTLE-5",
            Event::Decremented {
                kind: CommitmentKind::Macc,
                ..
            } => "R-MACC-2",
            Event::Decremented {
                kind: CommitmentKind::Caco,
                ..
            } => "R-CACO-3",
            Event::MilestoneProgressed { .. } => "R-CACO-2",
            Event::MaccCompleted { .. } => "R-MACC-4",
            Event::CacoMilestoneCompleted { .. } => "R-CACO-5",
            Event::CacoCompleted { .. } => "R-CACO-7",
            Event::Adjusted { .. } => "R-ADJ",
            Event::MaccMilestoneEvaluated { .. } => "R-MACC-5",
            Event::MaccExpired { conversion, .. } => conversion.rule(),
            Event::CacoMilestoneMissed { .. } => "R-CACO-4",
            Event::CacoExpired { .. } => "R-CACO-7",
            Event::CreditLotExpired { .. } => "R-EVAL",
            Event::PecStarted { .. } => "R-CSP",
            Event::InvoiceSettled { .. } => "R-SETTLE-7",
            Event::Closed { .. } => "R-EVAL",
            Event::Resettled { .. } => "R-SETTLE",
            Event::PendingRecorded { .. } => "R-PEND-1",
            Event::PendingSuperseded { .. } => "R-PEND-2",
        }
    }

    /// A short name of the variant, for messages and traces.
    pub fn name(&self) -> &'static str {
        match self {
            Event::AccountOpened { .. } => "AccountOpened",
            Event::AccountTermsChanged { .. } => "AccountTermsChanged",
            Event::AgreementRecorded { .. } => "AgreementRecorded",
            Event::MaccOpened { .. } => "MaccOpened",
            Event::MaccAmended { .. } => "MaccAmended",
            Event::MaccCanceled { .. } => "MaccCanceled",
            Event::CacoOpened { .. } => "CacoOpened",
            Event::CacoAmended { .. } => "CacoAmended",
            Event::CacoCanceled { .. } => "CacoCanceled",
            Event::CreditLotOpened { .. } => "CreditLotOpened",
            Event::CreditLotAmended { .. } => "CreditLotAmended",
            Event::CreditLotCanceled { .. } => "CreditLotCanceled",
            Event::CreditApplied { .. } => "CreditApplied",
            Event::Decremented { .. } => "Decremented",
            Event::MilestoneProgressed { .. } => "MilestoneProgressed",
            Event::MaccCompleted { .. } => "MaccCompleted",
            Event::CacoMilestoneCompleted { .. } => "CacoMilestoneCompleted",
            Event::CacoCompleted { .. } => "CacoCompleted",
            Event::Adjusted { .. } => "Adjusted",
            Event::MaccMilestoneEvaluated { .. } => "MaccMilestoneEvaluated",
            Event::MaccExpired { .. } => "MaccExpired",
            Event::CacoMilestoneMissed { .. } => "CacoMilestoneMissed",
            Event::CacoExpired { .. } => "CacoExpired",
            Event::CreditLotExpired { .. } => "CreditLotExpired",
            Event::PecStarted { .. } => "PecStarted",
            Event::InvoiceSettled { .. } => "InvoiceSettled",
            Event::Closed { .. } => "Closed",
            Event::Resettled { .. } => "Resettled",
            Event::PendingRecorded { .. } => "PendingRecorded",
            Event::PendingSuperseded { .. } => "PendingSuperseded",
        }
    }
}

/// A current pending run, as the account's state keeps it (its lines live in the fact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRun {
    pub invoice: String,
    pub content_hash: [u8; 32],
    pub date: Date,
    pub period_start: Date,
    pub period_end: Date,
    /// The billing profiles its lines name.
    pub profiles: Vec<String>,
    pub line_count: u32,
    pub charges: Money,
}

/// The billing period an invoice or run covers: (start, end) and its billing profiles.
#[derive(Clone, Copy, Debug)]
pub struct Period<'a> {
    pub start: Date,
    pub end: Date,
    pub profiles: &'a [String],
}

impl Period<'_> {
    /// R-PEND-2: the same period: same start and end, and a billing profile in common (a side
    /// that names no profile shares every one).
    pub fn same_as(&self, other: &Period<'_>) -> bool {
        self.start == other.start
            && self.end == other.end
            && (self.profiles.is_empty()
                || other.profiles.is_empty()
                || self.profiles.iter().any(|p| other.profiles.contains(p)))
    }
}

impl PendingRun {
    /// Its billing period.
    pub fn period(&self) -> Period<'_> {
        Period {
            start: self.period_start,
            end: self.period_end,
            profiles: &self.profiles,
        }
    }
}
