//! The audit trail of one line: how it was split into portions, who paid each portion, and
//! what each portion counted toward, with the rule ids. Settlement reports portions to a
//! [`TraceSink`]; the default sink compiles to nothing, so the hot path pays nothing for it.

use crate::fact::{ChargeLine, Invoice};
use crate::kind::Payer;
use crate::money::Money;
use crate::rulebook::EligCell;

/// One portion of one charge line.
#[derive(Debug)]
pub struct Portion<'a> {
    pub invoice: &'a Invoice,
    /// 1-based position of the line in its invoice, in input order.
    pub line_position: u32,
    pub line: &'a ChargeLine,
    pub payer: Payer,
    /// The covering credit lot, when `payer` is not `Paid`.
    pub lot: Option<&'a str>,
    /// The R-COVER rule that let the lot pay this portion.
    pub cover_rule: Option<&'static str>,
    pub amount: Money,
    /// The R-ELIG cell that decided what the portion counts toward.
    pub elig: EligCell,
    /// MACC decrements this portion made: `(MACC id, amount)`, in queue order (R-MACC-3).
    pub macc: &'a [(&'a str, Money)],
    /// MACCs of the queue that did not take this portion and why (R-MACC-3), in queue order;
    /// a MACC in neither list was never reached (the ones before it took the whole portion).
    pub macc_skipped: &'a [(&'a str, MaccSkip)],
    /// CACO decrements this portion made: `(CACO id, amount)`; `amount` is the part that
    /// lowered the remaining commitment (it may be zero once the CACO is complete).
    pub caco: &'a [(&'a str, Money)],
    /// Which run of the invoice's lines the portion belongs to. Settled in decision order
    /// (rulebook 2), a refund with a target ends a run: the decrements and credit applications
    /// of each run are separate events, listed before the refund's adjustment. Always 0 under
    /// rulebook 1.
    pub run: u32,
}

/// Why a MACC of the queue did not take a portion its R-ELIG cell lets count (R-MACC-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaccSkip {
    /// A milestone shortfall purchase decrements only the MACC it names (fine point 4).
    NamesAnotherMacc,
    /// Not open (completed, expired or canceled), or completed earlier in this invoice.
    Closed,
    /// The charge date is before the MACC's start.
    BeforeStart,
    /// The charge date is after the MACC's end.
    AfterEnd,
}

/// Receives the portions settlement produces.
pub trait TraceSink {
    /// `false` lets the compiler remove every trace call from the hot loop.
    const ENABLED: bool;
    fn portion(&mut self, portion: &Portion<'_>);
}

/// The sink of normal settlement: records nothing.
pub struct NoTrace;

impl TraceSink for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn portion(&mut self, _portion: &Portion<'_>) {}
}
