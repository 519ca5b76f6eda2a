//! Facts: what the world told the ledger. An agreement, an invoice with its charge lines, a
//! close date. Facts are recorded as given; every decision is derived from them.

use serde::{Deserialize, Serialize};

use crate::agreement::Agreement;
use crate::date::Date;
use crate::event::AdjustmentTarget;
use crate::kind::ChargeKind;
use crate::money::Money;

/// A reference into an invoice's string table, or none. Encoded as `index + 1` (none = 0) so
/// the common "no string" costs one byte under a varint encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct StrRef(u32);

impl Default for StrRef {
    fn default() -> Self {
        StrRef::NONE
    }
}

impl Serialize for StrRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0.wrapping_add(1))
    }
}

impl<'de> Deserialize<'de> for StrRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = u32::deserialize(deserializer)?;
        Ok(StrRef(raw.wrapping_sub(1)))
    }
}

impl StrRef {
    pub const NONE: StrRef = StrRef(u32::MAX);
    #[inline]
    pub fn new(index: u32) -> StrRef {
        assert!(index != u32::MAX, "string table index out of range");
        StrRef(index)
    }
    pub fn index(self) -> Option<usize> {
        if self.0 == u32::MAX {
            None
        } else {
            Some(self.0 as usize)
        }
    }
    pub fn raw(self) -> u32 {
        self.0
    }
    pub fn from_raw(raw: u32) -> StrRef {
        StrRef(raw)
    }
}

/// One charge line. Strings live in the invoice's tables so a line is a small plain value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChargeLine {
    pub amount: Money,
    pub charge_date: Date,
    pub kind: ChargeKind,
    /// Index into [`Invoice::profiles`].
    pub profile: u16,
    /// For `refund` lines: the kind of the charge being corrected (R-ADJ; default `usage`).
    pub corrects_kind: Option<ChargeKind>,
    pub line_id: StrRef,
    pub service: StrRef,
    pub publisher: StrRef,
    pub description: StrRef,
    /// For `refund` lines: the lot (MACC, CACO or credit) the refund restores (R-ADJ).
    /// For `milestone_shortfall_purchase` lines: the MACC the purchase decrements.
    pub corrects: StrRef,
}

/// The most lines one invoice may have: settlement holds one invoice in memory.
pub const MAX_LINES_PER_INVOICE: usize = 1 << 22;

/// An invoice: a set of charge lines settled exactly once, as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub account: String,
    pub id: String,
    pub date: Date,
    pub period_start: Date,
    pub period_end: Date,
    pub currency: String,
    /// A digest of the invoice's canonical content, computed by whoever builds the fact; the
    /// core compares digests to tell a repeat (R-IDEM-1) from a conflict (R-IDEM-2).
    pub content_hash: [u8; 32],
    /// Billing profile names; lines refer to them by index.
    pub profiles: Vec<String>,
    /// Interned optional strings (line ids, services, publishers, descriptions, lot names).
    pub strings: Vec<String>,
    /// In input order.
    pub lines: Vec<ChargeLine>,
}

impl Invoice {
    /// The text behind a [`StrRef`], if any.
    pub fn str(&self, r: StrRef) -> Option<&str> {
        r.index()
            .and_then(|i| self.strings.get(i))
            .map(|s| s.as_str())
    }

    pub fn profile_name(&self, line: &ChargeLine) -> &str {
        self.profiles
            .get(line.profile as usize)
            .map(|s| s.as_str())
            .unwrap_or("")
    }

    /// Sum of all line amounts.
    pub fn total(&self) -> Option<Money> {
        self.lines
            .iter()
            .try_fold(Money::ZERO, |acc, l| acc.checked_add(l.amount).ok())
    }
}

/// The ids no file may use: the engine makes these invoices itself.
pub const RESERVED_INVOICE_PREFIXES: [&str; 2] = ["SHORTFALL-", "WHATIF-"];

/// A fact for one billing account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fact {
    /// An agreement was recorded (first time, or a changed version: an amendment).
    Agreement {
        agreement: Agreement,
        content_hash: [u8; 32],
    },
    /// An invoice arrived.
    Invoice(Invoice),
    /// Evaluate every deadline up to and including `through` (R-EVAL).
    Close { account: String, through: Date },
    /// Adopt rulebook `version` and correct each lot to what that version derives from every
    /// fact recorded before this one (`ledger resettle`). The corrections are computed by
    /// `corrections` of the resettle module; the audit derives them again.
    Resettle {
        account: String,
        version: u16,
        corrections: Vec<Correction>,
    },
    /// A pending (month-to-date) run of an invoice's lines (R-PEND): recorded, estimated on a
    /// copy of the state, never settled.
    Pending(Invoice),
}

impl Fact {
    pub fn account(&self) -> &str {
        match self {
            Fact::Agreement { agreement, .. } => &agreement.account,
            Fact::Invoice(inv) => &inv.account,
            Fact::Close { account, .. } => account,
            Fact::Resettle { account, .. } => account,
            Fact::Pending(inv) => &inv.account,
        }
    }
}

/// One lot's amounts as the newer version derives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub target: String,
    pub target_kind: AdjustmentTarget,
    pub decremented: Money,
    pub adjusted: Money,
    pub balance: Money,
    /// The commitment completes (R-MACC-4, R-CACO-7): on this invoice date, by this invoice.
    pub completed: Option<(Date, String)>,
}
