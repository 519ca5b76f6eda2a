//! Charge kinds (R-KIND) and credit lot kinds, with their spellings in files and JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a charge line is (R-KIND). The discriminant is the wire value: append only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum ChargeKind {
    /// First-party pay-as-you-go consumption.
    Usage = 0,
    /// Reserved Instance or Savings Plan purchase, upfront or monthly.
    ReservationPurchase = 1,
    /// Usage covered by a reservation or savings plan (counts nowhere).
    ReservationUsage = 2,
    /// Purchase of Azure Prepayment: opens a prepayment lot.
    PrepaymentPurchase = 3,
    /// Marketplace charge with the "Azure benefit eligible" badge.
    MarketplaceEligible = 4,
    /// Any other Marketplace or third-party charge.
    Marketplace = 5,
    /// Support plan charges.
    Support = 6,
    /// Taxes.
    Tax = 7,
    /// A MACC shortfall invoice line.
    MaccShortfallPurchase = 8,
    /// A MACC milestone shortfall invoice line: opens a milestone shortfall credit lot.
    MilestoneShortfallPurchase = 9,
    /// A negative correction of an earlier eligible charge (R-ADJ).
    Refund = 10,
}

impl ChargeKind {
    pub const COUNT: usize = 11;
    pub const ALL: [ChargeKind; ChargeKind::COUNT] = [
        ChargeKind::Usage,
        ChargeKind::ReservationPurchase,
        ChargeKind::ReservationUsage,
        ChargeKind::PrepaymentPurchase,
        ChargeKind::MarketplaceEligible,
        ChargeKind::Marketplace,
        ChargeKind::Support,
        ChargeKind::Tax,
        ChargeKind::MaccShortfallPurchase,
        ChargeKind::MilestoneShortfallPurchase,
        ChargeKind::Refund,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }

    #[inline]
    pub fn from_index(i: u8) -> Option<ChargeKind> {
        ChargeKind::ALL.get(i as usize).copied()
    }

    /// The spelling in charge files and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            ChargeKind::Usage => "usage",
            ChargeKind::ReservationPurchase => "reservation_purchase",
            ChargeKind::ReservationUsage => "reservation_usage",
            ChargeKind::PrepaymentPurchase => "prepayment_purchase",
            ChargeKind::MarketplaceEligible => "marketplace_eligible",
            ChargeKind::Marketplace => "marketplace",
            ChargeKind::Support => "support",
            ChargeKind::Tax => "tax",
            ChargeKind::MaccShortfallPurchase => "macc_shortfall_purchase",
            ChargeKind::MilestoneShortfallPurchase => "milestone_shortfall_purchase",
            ChargeKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<ChargeKind> {
        ChargeKind::ALL.iter().copied().find(|k| k.name() == text)
    }

    /// All spellings, for error messages.
    pub fn expected_list() -> String {
        ChargeKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ChargeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of charge kinds, one bit each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct KindSet(u16);

impl KindSet {
    pub const EMPTY: KindSet = KindSet(0);

    pub const fn of(kinds: &[ChargeKind]) -> KindSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < kinds.len() {
            bits |= 1 << kinds[i] as u8;
            i += 1;
        }
        KindSet(bits)
    }

    #[inline]
    pub const fn contains(self, kind: ChargeKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }

    pub fn insert(&mut self, kind: ChargeKind) {
        self.0 |= 1 << kind as u8;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = ChargeKind> {
        ChargeKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }

    pub fn union(self, other: KindSet) -> KindSet {
        KindSet(self.0 | other.0)
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|k| k.name()))
            .finish()
    }
}

/// The kind of a credit lot. The discriminant is the wire value: append only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum CreditKind {
    /// An ACO award (CSP or CACO).
    Aco = 0,
    Goodwill = 1,
    Outage = 2,
    /// Azure Prepayment (monetary commitment).
    Prepayment = 3,
    /// What a missed MACC becomes (R-SHORT).
    MaccShortfallCredit = 4,
    /// What a missed MACC milestone becomes (R-MACC-5).
    MilestoneShortfallCredit = 5,
}

impl CreditKind {
    pub const COUNT: usize = 6;
    pub const ALL: [CreditKind; CreditKind::COUNT] = [
        CreditKind::Aco,
        CreditKind::Goodwill,
        CreditKind::Outage,
        CreditKind::Prepayment,
        CreditKind::MaccShortfallCredit,
        CreditKind::MilestoneShortfallCredit,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            CreditKind::Aco => "aco",
            CreditKind::Goodwill => "goodwill",
            CreditKind::Outage => "outage",
            CreditKind::Prepayment => "prepayment",
            CreditKind::MaccShortfallCredit => "macc_shortfall_credit",
            CreditKind::MilestoneShortfallCredit => "milestone_shortfall_credit",
        }
    }

    pub fn parse(text: &str) -> Option<CreditKind> {
        CreditKind::ALL.iter().copied().find(|k| k.name() == text)
    }

    pub fn expected_list() -> String {
        CreditKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Who pays a portion covered by a lot of this kind, as the R-ELIG table's columns say.
    pub const fn payer(self) -> Payer {
        match self {
            CreditKind::Aco | CreditKind::Goodwill | CreditKind::Outage => Payer::AwardedCredit,
            CreditKind::Prepayment => Payer::Prepayment,
            CreditKind::MaccShortfallCredit => Payer::MaccShortfallCredit,
            CreditKind::MilestoneShortfallCredit => Payer::MilestoneShortfallCredit,
        }
    }

    /// The Lots API `source` of a lot of this kind.
    pub const fn lot_source(self) -> &'static str {
        match self {
            CreditKind::Aco | CreditKind::Goodwill | CreditKind::Outage => "PromotionalCredit",
            _ => "PurchasedCredit",
        }
    }
}

impl fmt::Display for CreditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who paid a portion of a charge line: the columns of the R-ELIG table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum Payer {
    /// Paid on the invoice.
    Paid = 0,
    Prepayment = 1,
    MilestoneShortfallCredit = 2,
    MaccShortfallCredit = 3,
    AwardedCredit = 4,
}

impl Payer {
    pub const COUNT: usize = 5;
    pub const ALL: [Payer; Payer::COUNT] = [
        Payer::Paid,
        Payer::Prepayment,
        Payer::MilestoneShortfallCredit,
        Payer::MaccShortfallCredit,
        Payer::AwardedCredit,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Payer::Paid => "paid",
            Payer::Prepayment => "prepayment",
            Payer::MilestoneShortfallCredit => "milestone_shortfall_credit",
            Payer::MaccShortfallCredit => "macc_shortfall_credit",
            Payer::AwardedCredit => "awarded_credit",
        }
    }
}
