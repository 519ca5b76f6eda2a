//! The rulebook: R-ELIG (what counts toward MACC and CACO) and R-COVER (which credits may pay
//! which charges), as versioned data. Every cell carries the rule id the audit trail cites.
//!
//! To change a rule: add a new version below (never edit a published one), point
//! [`CURRENT_VERSION`] at it, and add the test named after the rule id. Logs record the version
//! that produced every decision, so old decisions re-derive under their own rules.

use crate::kind::{ChargeKind, CreditKind, KindSet, Payer};

/// Does a portion count toward MACC and CACO, and by which rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EligCell {
    pub macc: bool,
    pub caco: bool,
    /// The rule id cited in the audit trail, e.g. `R-ELIG usage/paid`.
    pub rule: &'static str,
}

/// How settlement orders and bounds what one invoice decides (R-SETTLE, R-ADJ, R-MACC-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Settlement {
    /// Version 1, kept so that ledgers recorded under it re-derive: a refund line may raise a
    /// MACC that a line before it in the same invoice completed, the head a refund corrects
    /// is the head when the invoice began, and an invoice's adjustments are listed before its
    /// credit applications and decrements.
    AdjustFirst,
    /// Version 2: settlement in decision order. A commitment that reaches zero on a line is
    /// completed there (fine point 7: a later refund cannot raise it; a refund naming no lot
    /// corrects the head at its own line), and each lot's events are listed in the order they
    /// were decided, so every balance after = the one before + its charges, within 0..=original.
    InDecisionOrder,
}

/// One published version of the rules.
#[derive(Debug)]
pub struct Rulebook {
    pub version: u16,
    /// How an invoice's decisions are ordered and bounded.
    pub settlement: Settlement,
    /// `elig[kind][payer]`.
    pub elig: [[EligCell; Payer::COUNT]; ChargeKind::COUNT],
    /// Which charge kinds each credit kind may cover by default (`cover[credit kind]`).
    pub cover: [KindSet; CreditKind::COUNT],
    /// The rule id cited when a lot of that kind covers a portion.
    pub cover_rule: [&'static str; CreditKind::COUNT],
}

impl Rulebook {
    #[inline]
    pub fn cell(&self, kind: ChargeKind, payer: Payer) -> EligCell {
        self.elig[kind as usize][payer as usize]
    }

    pub fn default_cover(&self, credit: CreditKind) -> KindSet {
        self.cover[credit as usize]
    }
}

/// The version new agreements get.
pub const CURRENT_VERSION: u16 = 2;

/// A published rulebook by version.
pub fn rulebook(version: u16) -> Option<&'static Rulebook> {
    match version {
        1 => Some(&V1),
        2 => Some(&V2),
        _ => None,
    }
}

/// Every published version, for messages.
pub const KNOWN_VERSIONS: &[u16] = &[1, 2];

const fn c(macc: bool, caco: bool, rule: &'static str) -> EligCell {
    EligCell { macc, caco, rule }
}

// Shorthands for the table: Y = counts, N = does not.
const Y: bool = true;
const N: bool = false;

/// Rulebook version 1: docs/RULES.md "What counts toward MACC and CACO (R-ELIG)" and R-COVER.
/// Columns: paid, prepayment, milestone shortfall credit, MACC shortfall credit, awarded credit.
/// A "—" cell of docs/RULES.md (a payer that cannot cover that kind unless a lot widens its
/// `covers`) counts nowhere and cites `R-ELIG {kind}/{payer} (not applicable)`.
pub static V1: Rulebook = TABLES_V1;

/// Rulebook version 2: the tables of version 1, settled in decision order
/// ([`Settlement::InDecisionOrder`]: R-SETTLE 5–6, R-MACC-3, R-ADJ, fine point 7).
pub static V2: Rulebook = Rulebook {
    version: 2,
    settlement: Settlement::InDecisionOrder,
    ..TABLES_V1
};

const TABLES_V1: Rulebook = Rulebook {
    version: 1,
    settlement: Settlement::AdjustFirst,
    elig: [
        // usage
        [
            c(Y, Y, "R-ELIG usage/paid"),
            c(N, Y, "R-ELIG usage/prepayment"),
            c(N, Y, "R-ELIG usage/milestone_shortfall_credit"),
            c(N, N, "R-ELIG usage/macc_shortfall_credit"),
            c(N, N, "R-ELIG usage/awarded_credit"),
        ],
        // reservation_purchase
        [
            c(Y, Y, "R-ELIG reservation_purchase/paid"),
            c(N, Y, "R-ELIG reservation_purchase/prepayment"),
            c(
                N,
                Y,
                "R-ELIG reservation_purchase/milestone_shortfall_credit",
            ),
            c(N, N, "R-ELIG reservation_purchase/macc_shortfall_credit"),
            c(
                N,
                N,
                "R-ELIG reservation_purchase/awarded_credit (not applicable)",
            ),
        ],
        // reservation_usage
        [
            c(N, N, "R-ELIG reservation_usage/paid"),
            c(N, N, "R-ELIG reservation_usage/prepayment (not applicable)"),
            c(
                N,
                N,
                "R-ELIG reservation_usage/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG reservation_usage/macc_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG reservation_usage/awarded_credit (not applicable)",
            ),
        ],
        // prepayment_purchase
        [
            c(Y, N, "R-ELIG prepayment_purchase/paid"),
            c(
                N,
                N,
                "R-ELIG prepayment_purchase/prepayment (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG prepayment_purchase/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG prepayment_purchase/macc_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG prepayment_purchase/awarded_credit (not applicable)",
            ),
        ],
        // marketplace_eligible
        [
            c(Y, N, "R-ELIG marketplace_eligible/paid"),
            c(
                N,
                N,
                "R-ELIG marketplace_eligible/prepayment (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG marketplace_eligible/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG marketplace_eligible/macc_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG marketplace_eligible/awarded_credit (not applicable)",
            ),
        ],
        // marketplace
        [
            c(N, N, "R-ELIG marketplace/paid"),
            c(N, N, "R-ELIG marketplace/prepayment (not applicable)"),
            c(
                N,
                N,
                "R-ELIG marketplace/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG marketplace/macc_shortfall_credit (not applicable)",
            ),
            c(N, N, "R-ELIG marketplace/awarded_credit (not applicable)"),
        ],
        // support
        [
            c(N, N, "R-ELIG support/paid"),
            c(N, N, "R-ELIG support/prepayment (not applicable)"),
            c(
                N,
                N,
                "R-ELIG support/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG support/macc_shortfall_credit (not applicable)",
            ),
            c(N, N, "R-ELIG support/awarded_credit (not applicable)"),
        ],
        // tax
        [
            c(N, N, "R-ELIG tax/paid"),
            c(N, N, "R-ELIG tax/prepayment (not applicable)"),
            c(
                N,
                N,
                "R-ELIG tax/milestone_shortfall_credit (not applicable)",
            ),
            c(N, N, "R-ELIG tax/macc_shortfall_credit (not applicable)"),
            c(N, N, "R-ELIG tax/awarded_credit (not applicable)"),
        ],
        // macc_shortfall_purchase
        [
            c(Y, N, "R-ELIG macc_shortfall_purchase/paid"),
            c(
                N,
                N,
                "R-ELIG macc_shortfall_purchase/prepayment (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG macc_shortfall_purchase/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG macc_shortfall_purchase/macc_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG macc_shortfall_purchase/awarded_credit (not applicable)",
            ),
        ],
        // milestone_shortfall_purchase
        [
            c(Y, N, "R-ELIG milestone_shortfall_purchase/paid"),
            c(
                N,
                N,
                "R-ELIG milestone_shortfall_purchase/prepayment (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG milestone_shortfall_purchase/milestone_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG milestone_shortfall_purchase/macc_shortfall_credit (not applicable)",
            ),
            c(
                N,
                N,
                "R-ELIG milestone_shortfall_purchase/awarded_credit (not applicable)",
            ),
        ],
        // refund: never counted as a portion; R-ADJ handles it (this row is never consulted
        // for counting, only for the audit trail).
        [
            c(N, N, "R-ADJ refund"),
            c(N, N, "R-ADJ refund"),
            c(N, N, "R-ADJ refund"),
            c(N, N, "R-ADJ refund"),
            c(N, N, "R-ADJ refund"),
        ],
    ],
    cover: [
        // aco, goodwill, outage: awarded credits cover usage
        KindSet::of(&[ChargeKind::Usage]),
        KindSet::of(&[ChargeKind::Usage]),
        KindSet::of(&[ChargeKind::Usage]),
        // prepayment, macc shortfall credit, milestone shortfall credit
        KindSet::of(&[ChargeKind::Usage, ChargeKind::ReservationPurchase]),
        KindSet::of(&[ChargeKind::Usage, ChargeKind::ReservationPurchase]),
        KindSet::of(&[ChargeKind::Usage, ChargeKind::ReservationPurchase]),
    ],
    cover_rule: [
        "R-COVER aco",
        "R-COVER goodwill",
        "R-COVER outage",
        "R-COVER prepayment",
        "R-COVER macc_shortfall_credit",
        "R-COVER milestone_shortfall_credit",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use ChargeKind::*;
    use Payer::*;

    fn counts(kind: ChargeKind, payer: Payer) -> (bool, bool) {
        let cell = V1.cell(kind, payer);
        (cell.macc, cell.caco)
    }

    // R-ELIG, every cell of the docs/RULES.md table, one assertion per cell.
    #[test]
    fn r_elig_usage_row() {
        assert_eq!(counts(Usage, Paid), (true, true));
        assert_eq!(counts(Usage, Prepayment), (false, true));
        assert_eq!(counts(Usage, MilestoneShortfallCredit), (false, true));
        assert_eq!(counts(Usage, MaccShortfallCredit), (false, false));
        assert_eq!(counts(Usage, AwardedCredit), (false, false));
    }

    #[test]
    fn r_elig_reservation_purchase_row() {
        assert_eq!(counts(ReservationPurchase, Paid), (true, true));
        assert_eq!(counts(ReservationPurchase, Prepayment), (false, true));
        assert_eq!(
            counts(ReservationPurchase, MilestoneShortfallCredit),
            (false, true)
        );
        assert_eq!(
            counts(ReservationPurchase, MaccShortfallCredit),
            (false, false)
        );
        assert_eq!(counts(ReservationPurchase, AwardedCredit), (false, false));
    }

    #[test]
    fn r_elig_paid_only_rows() {
        assert_eq!(counts(ReservationUsage, Paid), (false, false));
        assert_eq!(counts(PrepaymentPurchase, Paid), (true, false));
        assert_eq!(counts(MarketplaceEligible, Paid), (true, false));
        assert_eq!(counts(Marketplace, Paid), (false, false));
        assert_eq!(counts(Support, Paid), (false, false));
        assert_eq!(counts(Tax, Paid), (false, false));
        assert_eq!(counts(MaccShortfallPurchase, Paid), (true, false));
        assert_eq!(counts(MilestoneShortfallPurchase, Paid), (true, false));
    }

    #[test]
    fn r_elig_not_applicable_cells_count_nowhere() {
        for kind in [
            ReservationUsage,
            PrepaymentPurchase,
            MarketplaceEligible,
            Marketplace,
            Support,
            Tax,
            MaccShortfallPurchase,
            MilestoneShortfallPurchase,
        ] {
            for payer in [
                Prepayment,
                MilestoneShortfallCredit,
                MaccShortfallCredit,
                AwardedCredit,
            ] {
                assert_eq!(
                    counts(kind, payer),
                    (false, false),
                    "{kind} covered by {payer:?}"
                );
                assert!(V1.cell(kind, payer).rule.ends_with("(not applicable)"));
            }
        }
    }

    #[test]
    fn r_elig_rule_ids_name_their_cell() {
        for kind in ChargeKind::ALL {
            for payer in Payer::ALL {
                let rule = V1.cell(kind, payer).rule;
                if kind == Refund {
                    assert_eq!(rule, "R-ADJ refund");
                } else {
                    assert!(
                        rule.starts_with(&format!("R-ELIG {}/{}", kind.name(), payer.name())),
                        "{rule}"
                    );
                }
            }
        }
    }

    #[test]
    fn r_cover_default_coverage() {
        for awarded in [CreditKind::Aco, CreditKind::Goodwill, CreditKind::Outage] {
            let set = V1.default_cover(awarded);
            assert!(set.contains(Usage));
            assert!(!set.contains(ReservationPurchase));
            assert!(!set.contains(Marketplace));
        }
        for purchased in [
            CreditKind::Prepayment,
            CreditKind::MaccShortfallCredit,
            CreditKind::MilestoneShortfallCredit,
        ] {
            let set = V1.default_cover(purchased);
            assert!(set.contains(Usage));
            assert!(set.contains(ReservationPurchase));
            for never in [
                MarketplaceEligible,
                Marketplace,
                Support,
                Tax,
                PrepaymentPurchase,
                MaccShortfallPurchase,
                MilestoneShortfallPurchase,
                ReservationUsage,
                Refund,
            ] {
                assert!(!set.contains(never), "{purchased} must not cover {never}");
            }
        }
    }

    #[test]
    fn r_kind_every_kind_has_a_row_and_a_spelling() {
        for kind in ChargeKind::ALL {
            assert_eq!(ChargeKind::parse(kind.name()), Some(kind));
            assert_eq!(ChargeKind::from_index(kind as u8), Some(kind));
        }
        assert_eq!(ChargeKind::parse("Usage"), None);
        for &v in KNOWN_VERSIONS {
            assert_eq!(rulebook(v).map(|r| r.version), Some(v));
        }
        assert!(rulebook(0).is_none());
        assert!(rulebook(KNOWN_VERSIONS.len() as u16 + 1).is_none());
        assert_eq!(V2.elig, V1.elig, "version 2 changes settlement, not R-ELIG");
    }
}
