//! The one mapping from rows of cost exports (FOCUS and Azure cost details) to the charge
//! kinds of R-KIND. Both readers (`focus.rs`, `azure.rs`) reduce a row to a [`Charge`] (the
//! few facts the mapping looks at, already normalized) and call [`map_charge`]; nothing else
//! decides a kind. The table, with the reasons, is in `docs/INGEST.md`; keep the two in step.
//!
//! In order, first match wins:
//!
//! | # | row | kind |
//! | --- | --- | --- |
//! | 0 | not Microsoft's (FOCUS ProviderName / ServiceProviderName / InvoiceIssuerName; Azure PublisherType `AWS`) | skipped: `other_provider` (decided by the reader with [`is_microsoft`], before any other field is read) |
//! | 1 | ChargeCategory / ChargeType `Credit` | skipped: `credit` (the ledger applies credits from agreement lots) |
//! | 2 | Azure ChargeType `UnusedReservation` / `UnusedSavingsPlan` | refused: an amortized-cost export |
//! | 3 | `Tax` | `tax` |
//! | 4 | FOCUS CommitmentDiscountStatus `Unused` | skipped: `unused_commitment` if BilledCost is 0, else refused |
//! | 5 | a purchase or refund whose product names a shortfall | skipped: `shortfall` (the ledger invoices shortfalls itself, R-SHORT, R-MACC-5) |
//! | 6 | a Marketplace (third-party) charge | `marketplace_eligible` if the account's agreement lists its publisher or offer, else `marketplace` |
//! | 7 | a purchase or refund of a reservation or savings plan | `reservation_purchase` |
//! | 8 | usage covered by a reservation or savings plan | `reservation_usage` (Azure: refused as amortized unless its cost is 0) |
//! | 9 | a support plan | `support` |
//! | 10 | a purchase of Azure Prepayment (monetary commitment) | `prepayment_purchase` |
//! | 11 | anything else first-party | `usage` |
//!
//! Then the sign: a negative amount becomes `refund` correcting the kind found above
//! (`corrects_kind`, R-ADJ), so a negative tax or Marketplace line restores nothing and a
//! negative usage line restores the MACC it counted toward.

use ledger_core::{ChargeKind, Money};

/// Which export a row comes from (two rules differ, see [`map_charge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Focus,
    Azure,
}

/// The nature of a charge: FOCUS ChargeCategory, or Azure ChargeType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Usage,
    Purchase,
    Tax,
    Credit,
    Adjustment,
    /// Azure ChargeType `Refund` (FOCUS writes these as Purchase with ChargeClass Correction).
    Refund,
    /// Azure ChargeType `UnusedReservation` or `UnusedSavingsPlan`: amortized data only.
    UnusedCommitment,
}

impl Category {
    /// FOCUS ChargeCategory (1.0 to 1.2), any case and spacing; `None` for another value.
    pub fn from_focus(text: &str) -> Option<Category> {
        [
            ("usage", Category::Usage),
            ("purchase", Category::Purchase),
            ("tax", Category::Tax),
            ("credit", Category::Credit),
            ("adjustment", Category::Adjustment),
        ]
        .into_iter()
        .find(|(name, _)| same(text, name))
        .map(|(_, c)| c)
    }

    /// The values FOCUS allows, for messages.
    pub const FOCUS_VALUES: &'static str = "Usage, Purchase, Tax, Credit or Adjustment";

    /// Azure ChargeType, any case and spacing. Values the ledger does not know
    /// (`RoundingAdjustment`, ...) are adjustments, as Microsoft's own FOCUS conversion treats
    /// them.
    pub fn from_azure(text: &str) -> Category {
        [
            ("usage", Category::Usage),
            ("purchase", Category::Purchase),
            ("tax", Category::Tax),
            ("credit", Category::Credit),
            ("refund", Category::Refund),
            ("unusedreservation", Category::UnusedCommitment),
            ("unusedsavingsplan", Category::UnusedCommitment),
        ]
        .into_iter()
        .find(|(name, _)| same(text, name))
        .map_or(Category::Adjustment, |(_, c)| c)
    }

    fn is_purchase_like(self) -> bool {
        matches!(self, Category::Purchase | Category::Refund)
    }
}

/// How a charge was priced: FOCUS PricingCategory, Azure PricingModel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pricing {
    /// Not given.
    Unknown,
    /// On demand, standard, spot, dynamic: anything not a commitment.
    Standard,
    /// A reservation or savings plan (FOCUS `Committed` / 1.0 `Commitment-Based`, Azure
    /// `Reservation` / `SavingsPlan`).
    Commitment,
}

impl Pricing {
    pub fn from_focus(text: Option<&str>) -> Pricing {
        match text {
            None => Pricing::Unknown,
            Some(t) if same(t, "committed") || same(t, "commitmentbased") => Pricing::Commitment,
            Some(_) => Pricing::Standard,
        }
    }

    pub fn from_azure(text: Option<&str>) -> Pricing {
        match text {
            None => Pricing::Unknown,
            Some(t) if same(t, "reservation") || same(t, "savingsplan") => Pricing::Commitment,
            Some(_) => Pricing::Standard,
        }
    }
}

/// FOCUS CommitmentDiscountStatus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitmentStatus {
    None,
    Used,
    Unused,
}

impl CommitmentStatus {
    pub fn from_focus(text: Option<&str>) -> CommitmentStatus {
        match text {
            Some(t) if same(t, "used") => CommitmentStatus::Used,
            Some(t) if same(t, "unused") => CommitmentStatus::Unused,
            _ => CommitmentStatus::None,
        }
    }
}

/// Who published what was charged: FOCUS x_PublisherCategory, Azure PublisherType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublisherCategory {
    /// Not given: decided from the publisher's name.
    Unknown,
    /// The cloud provider itself (FOCUS `Cloud Provider`, Azure `Azure` / `Microsoft`).
    Provider,
    /// A third party (FOCUS `Vendor`, Azure `Marketplace`).
    Vendor,
}

impl PublisherCategory {
    pub fn from_focus(text: Option<&str>) -> PublisherCategory {
        match text {
            Some(t) if same(t, "vendor") || same(t, "marketplace") => PublisherCategory::Vendor,
            Some(t) if same(t, "cloudprovider") || same(t, "provider") || same(t, "microsoft") => {
                PublisherCategory::Provider
            }
            _ => PublisherCategory::Unknown,
        }
    }

    pub fn from_azure(text: Option<&str>) -> PublisherCategory {
        match text {
            Some(t) if same(t, "marketplace") => PublisherCategory::Vendor,
            Some(t) if same(t, "azure") || same(t, "microsoft") => PublisherCategory::Provider,
            _ => PublisherCategory::Unknown,
        }
    }
}

/// What the mapping looks at in one row, as the readers found it (null values are `None`).
#[derive(Clone, Copy, Debug)]
pub struct Charge<'a> {
    pub source: Source,
    pub category: Category,
    /// FOCUS ChargeClass `Correction`.
    pub correction: bool,
    pub pricing: Pricing,
    pub commitment_status: CommitmentStatus,
    /// A commitment is named: FOCUS CommitmentDiscountId, Azure BenefitId or ReservationId.
    pub commitment_named: bool,
    pub publisher_category: PublisherCategory,
    /// The provider's name when the row gives one (a publisher of that name is first-party).
    pub provider: Option<&'a str>,
    pub publisher: Option<&'a str>,
    /// Names an agreement's `eligible_offers` may list (plan, offer, product names).
    pub offers: [Option<&'a str>; 4],
    /// Service and meter category names (support is recognized here on any row).
    pub services: [Option<&'a str>; 4],
    /// Product names and descriptions (support, prepayment and shortfall purchases).
    pub products: [Option<&'a str>; 4],
    /// The billed (actual) cost.
    pub amount: Money,
}

/// Why a row was read but not turned into a charge line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// A row of another provider in a multi-cloud file.
    OtherProvider = 0,
    /// A credit row: the ledger applies credits itself, from the agreement's lots.
    Credit = 1,
    /// FOCUS: the unused part of a commitment (BilledCost 0; the purchase carries the cost).
    UnusedCommitment = 2,
    /// A MACC shortfall charge: the ledger invoices shortfalls itself (R-SHORT, R-MACC-5).
    Shortfall = 3,
}

impl SkipReason {
    pub const COUNT: usize = 4;
    pub const ALL: [SkipReason; SkipReason::COUNT] = [
        SkipReason::OtherProvider,
        SkipReason::Credit,
        SkipReason::UnusedCommitment,
        SkipReason::Shortfall,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The key in `--json` output.
    pub const fn name(self) -> &'static str {
        match self {
            SkipReason::OtherProvider => "other_provider",
            SkipReason::Credit => "credit",
            SkipReason::UnusedCommitment => "unused_commitment",
            SkipReason::Shortfall => "shortfall",
        }
    }

    /// Words for the summary line.
    pub const fn describe(self) -> &'static str {
        match self {
            SkipReason::OtherProvider => "of other providers",
            SkipReason::Credit => "credits (the ledger applies credits from the agreement's lots)",
            SkipReason::UnusedCommitment => {
                "unused commitment (billed 0; the purchase carries the cost)"
            }
            SkipReason::Shortfall => "shortfall charges (the ledger invoices shortfalls itself)",
        }
    }
}

/// What a row becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapped {
    Line {
        kind: ChargeKind,
        /// For `refund`: the kind corrected (R-ADJ).
        corrects_kind: Option<ChargeKind>,
    },
    Skip(SkipReason),
}

/// Why a row is refused by the mapping (the reader names the line and column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Azure: usage covered by a reservation or savings plan with a cost: amortized data.
    AmortizedCoveredUsage,
    /// Azure: an `UnusedReservation` / `UnusedSavingsPlan` row: amortized data.
    AmortizedUnusedCommitment,
    /// FOCUS: an unused-commitment row with a BilledCost other than 0.
    UnusedCommitmentBilled,
}

impl Refusal {
    pub fn message(self, amount: Money) -> String {
        match self {
            Refusal::AmortizedCoveredUsage => format!(
                "{amount} on usage covered by a reservation or savings plan: this is an amortized-cost export \
                 (an actual-cost export bills covered usage at 0 and the purchase at its price); amortized rows \
                 would count commitment purchases a second time. Export the actual cost instead"
            ),
            Refusal::AmortizedUnusedCommitment => "an unused reservation or savings plan row: this is an amortized-cost export \
                 (unused commitment rows exist only in amortized data); amortized rows would count commitment \
                 purchases a second time. Export the actual cost instead"
                .to_string(),
            Refusal::UnusedCommitmentBilled => format!(
                "{amount} billed on an unused-commitment row (CommitmentDiscountStatus Unused): FOCUS bills unused \
                 commitment at 0 (the purchase carries the cost), so the ledger cannot tell what this amount is"
            ),
        }
    }
}

/// The Marketplace terms of one account's agreement (`eligible_publishers`,
/// `eligible_offers`), compared without regard to ASCII case or surrounding spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketplaceTerms {
    publishers: Vec<String>,
    offers: Vec<String>,
}

impl MarketplaceTerms {
    /// No publisher or offer is eligible.
    pub const EMPTY: MarketplaceTerms = MarketplaceTerms {
        publishers: Vec::new(),
        offers: Vec::new(),
    };

    pub fn new(publishers: &[String], offers: &[String]) -> MarketplaceTerms {
        let clean = |list: &[String]| {
            list.iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        MarketplaceTerms {
            publishers: clean(publishers),
            offers: clean(offers),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.publishers.is_empty() && self.offers.is_empty()
    }

    /// Whether the agreement marks this publisher or one of these offers as eligible.
    pub fn eligible(&self, publisher: Option<&str>, offers: &[Option<&str>]) -> bool {
        let listed = |list: &[String], name: &str| {
            let name = name.trim();
            list.iter().any(|l| l.eq_ignore_ascii_case(name))
        };
        publisher.is_some_and(|p| listed(&self.publishers, p))
            || offers.iter().flatten().any(|o| listed(&self.offers, o))
    }
}

/// Whether a provider, publisher or invoice issuer name is Microsoft's (`Microsoft`,
/// `Microsoft Corporation`, `Microsoft Azure`, any case).
pub fn is_microsoft(name: &str) -> bool {
    let name = name.trim();
    name.len() >= 9 && name.as_bytes()[..9].eq_ignore_ascii_case(b"microsoft")
}

/// Map one row (see the module table).
pub fn map_charge(charge: &Charge<'_>, terms: &MarketplaceTerms) -> Result<Mapped, Refusal> {
    let c = charge;
    match c.category {
        Category::Credit => return Ok(Mapped::Skip(SkipReason::Credit)),
        Category::UnusedCommitment => return Err(Refusal::AmortizedUnusedCommitment),
        Category::Tax => return Ok(signed(ChargeKind::Tax, c.amount)),
        _ => {}
    }
    if c.commitment_status == CommitmentStatus::Unused {
        return if c.amount.is_zero() {
            Ok(Mapped::Skip(SkipReason::UnusedCommitment))
        } else {
            Err(Refusal::UnusedCommitmentBilled)
        };
    }
    let purchase = c.category.is_purchase_like();
    if purchase && any_mentions(&c.products, &["shortfall"]) {
        return Ok(Mapped::Skip(SkipReason::Shortfall));
    }
    let base = if is_marketplace(c) {
        if terms.eligible(c.publisher, &c.offers) {
            ChargeKind::MarketplaceEligible
        } else {
            ChargeKind::Marketplace
        }
    } else if purchase && (c.pricing == Pricing::Commitment || c.commitment_named) {
        ChargeKind::ReservationPurchase
    } else if is_covered_usage(c) {
        if c.source == Source::Azure && c.category == Category::Usage && !c.amount.is_zero() {
            return Err(Refusal::AmortizedCoveredUsage);
        }
        ChargeKind::ReservationUsage
    } else if any_has_word(&c.services, "support")
        || (purchase && any_has_word(&c.products, "support"))
    {
        ChargeKind::Support
    } else if purchase
        && (any_mentions(&c.products, &["prepayment", "monetary commitment"])
            || any_mentions(&c.services, &["prepayment", "monetary commitment"]))
    {
        ChargeKind::PrepaymentPurchase
    } else {
        ChargeKind::Usage
    };
    Ok(signed(base, c.amount))
}

/// A negative amount is a refund correcting `base` (R-ADJ); zero or more is `base` itself.
fn signed(base: ChargeKind, amount: Money) -> Mapped {
    if amount.is_negative() {
        Mapped::Line {
            kind: ChargeKind::Refund,
            corrects_kind: Some(base),
        }
    } else {
        Mapped::Line {
            kind: base,
            corrects_kind: None,
        }
    }
}

fn is_marketplace(c: &Charge<'_>) -> bool {
    match c.publisher_category {
        PublisherCategory::Vendor => true,
        PublisherCategory::Provider => false,
        PublisherCategory::Unknown => match c.publisher.map(str::trim) {
            None | Some("") => false,
            Some(p) => {
                !is_microsoft(p) && !c.provider.is_some_and(|q| q.trim().eq_ignore_ascii_case(p))
            }
        },
    }
}

/// Usage (or an adjustment of usage) that a reservation or savings plan paid for.
fn is_covered_usage(c: &Charge<'_>) -> bool {
    if !matches!(c.category, Category::Usage | Category::Adjustment) {
        return false;
    }
    c.commitment_status == CommitmentStatus::Used
        || c.pricing == Pricing::Commitment
        || (c.pricing == Pricing::Unknown && c.commitment_named)
}

/// Lowercase ASCII letters and digits only: `Usage-Based`, `usage based` and `UsageBased` are
/// one value.
pub fn normalized(text: &str) -> String {
    text.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

/// `normalized(text) == target` (target lowercase letters and digits), without allocating.
#[inline]
pub fn same(text: &str, target: &str) -> bool {
    let mut letters = text
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase());
    let mut wanted = target.bytes();
    loop {
        match (letters.next(), wanted.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Some text contains one of the phrases (lowercase; matched ASCII case-insensitively).
fn any_mentions(texts: &[Option<&str>], phrases: &[&str]) -> bool {
    texts.iter().flatten().any(|t| {
        phrases.iter().any(|p| {
            t.as_bytes()
                .windows(p.len())
                .any(|w| w.eq_ignore_ascii_case(p.as_bytes()))
        })
    })
}

/// Some text has `word` as a whole word (ASCII case-insensitive): `Azure Support` does,
/// `Supported regions` does not.
fn any_has_word(texts: &[Option<&str>], word: &str) -> bool {
    texts.iter().flatten().any(|t| {
        t.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.eq_ignore_ascii_case(word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn charge(category: Category) -> Charge<'static> {
        Charge {
            source: Source::Focus,
            category,
            correction: false,
            pricing: Pricing::Standard,
            commitment_status: CommitmentStatus::None,
            commitment_named: false,
            publisher_category: PublisherCategory::Unknown,
            provider: Some("Microsoft"),
            publisher: Some("Microsoft"),
            offers: [None; 4],
            services: [None; 4],
            products: [None; 4],
            amount: m("1"),
        }
    }

    fn line(kind: ChargeKind) -> Result<Mapped, Refusal> {
        Ok(Mapped::Line {
            kind,
            corrects_kind: None,
        })
    }

    fn refund(of: ChargeKind) -> Result<Mapped, Refusal> {
        Ok(Mapped::Line {
            kind: ChargeKind::Refund,
            corrects_kind: Some(of),
        })
    }

    fn none() -> MarketplaceTerms {
        MarketplaceTerms::default()
    }

    #[test]
    fn categories_and_values_are_read_in_any_case_and_spacing() {
        assert_eq!(Category::from_focus("Usage"), Some(Category::Usage));
        assert_eq!(Category::from_focus("PURCHASE"), Some(Category::Purchase));
        assert_eq!(Category::from_focus("Discount"), None);
        assert_eq!(
            Category::from_azure("RoundingAdjustment"),
            Category::Adjustment
        );
        assert_eq!(
            Category::from_azure("Unused Savings Plan"),
            Category::UnusedCommitment
        );
        assert_eq!(Pricing::from_azure(Some("On Demand")), Pricing::Standard);
        assert_eq!(
            Pricing::from_azure(Some("Savings Plan")),
            Pricing::Commitment
        );
        assert_eq!(
            Pricing::from_focus(Some("Commitment-Based")),
            Pricing::Commitment
        );
        assert_eq!(Pricing::from_focus(None), Pricing::Unknown);
        assert_eq!(normalized("Usage-Based"), normalized("Usage-based"));
        assert!(same("Usage-Based", "usagebased") && same("usage based", "usagebased"));
        assert!(!same("Usage", "usagebased") && !same("UsageBasedX", "usagebased"));
        assert!(is_microsoft("Microsoft Corporation") && is_microsoft(" microsoft"));
        assert!(!is_microsoft("AWS") && !is_microsoft("Micro"));
    }

    #[test]
    fn the_table_in_order() {
        let t = none();
        // 1 credits are skipped, 2 unused reservations refused (Azure), 3 tax.
        assert_eq!(
            map_charge(&charge(Category::Credit), &t),
            Ok(Mapped::Skip(SkipReason::Credit))
        );
        assert_eq!(
            map_charge(&charge(Category::UnusedCommitment), &t),
            Err(Refusal::AmortizedUnusedCommitment)
        );
        assert_eq!(
            map_charge(&charge(Category::Tax), &t),
            line(ChargeKind::Tax)
        );
        // 4 unused commitment (FOCUS): skipped at 0, refused otherwise.
        let mut c = charge(Category::Usage);
        c.commitment_status = CommitmentStatus::Unused;
        assert_eq!(map_charge(&c, &t), Err(Refusal::UnusedCommitmentBilled));
        c.amount = Money::ZERO;
        assert_eq!(
            map_charge(&c, &t),
            Ok(Mapped::Skip(SkipReason::UnusedCommitment))
        );
        // 5 shortfall purchases.
        let mut c = charge(Category::Purchase);
        c.products[0] = Some("Azure Consumption Commitment Shortfall");
        assert_eq!(map_charge(&c, &t), Ok(Mapped::Skip(SkipReason::Shortfall)));
        // 7 commitment purchases, 8 covered usage.
        let mut c = charge(Category::Purchase);
        c.commitment_named = true;
        assert_eq!(map_charge(&c, &t), line(ChargeKind::ReservationPurchase));
        let mut c = charge(Category::Usage);
        c.commitment_status = CommitmentStatus::Used;
        assert_eq!(map_charge(&c, &t), line(ChargeKind::ReservationUsage));
        c.source = Source::Azure;
        assert_eq!(map_charge(&c, &t), Err(Refusal::AmortizedCoveredUsage));
        c.amount = Money::ZERO;
        assert_eq!(map_charge(&c, &t), line(ChargeKind::ReservationUsage));
        // 9 support, 10 prepayment, 11 usage.
        let mut c = charge(Category::Purchase);
        c.services[0] = Some("Azure Support");
        assert_eq!(map_charge(&c, &t), line(ChargeKind::Support));
        let mut c = charge(Category::Usage);
        c.products[0] = Some("Support for Premium SSD");
        assert_eq!(
            map_charge(&c, &t),
            line(ChargeKind::Usage),
            "products name support only on purchases"
        );
        let mut c = charge(Category::Purchase);
        c.products[1] = Some("Azure Prepayment");
        assert_eq!(map_charge(&c, &t), line(ChargeKind::PrepaymentPurchase));
        let mut c = charge(Category::Usage);
        c.services[0] = Some("Supported Regions Compute");
        assert_eq!(map_charge(&c, &t), line(ChargeKind::Usage));
    }

    #[test]
    fn marketplace_is_eligible_only_when_the_agreement_says_so() {
        let mut c = charge(Category::Usage);
        c.publisher = Some("Datadog");
        c.offers[0] = Some("datadog-saas-plan");
        assert_eq!(map_charge(&c, &none()), line(ChargeKind::Marketplace));
        let by_publisher = MarketplaceTerms::new(&[" DATADOG ".into()], &[]);
        assert_eq!(
            map_charge(&c, &by_publisher),
            line(ChargeKind::MarketplaceEligible)
        );
        let by_offer = MarketplaceTerms::new(&[], &["Datadog-SaaS-Plan".into()]);
        assert_eq!(
            map_charge(&c, &by_offer),
            line(ChargeKind::MarketplaceEligible)
        );
        // A publisher named like the provider is first-party; an explicit category wins.
        c.publisher = Some("Microsoft Corporation");
        assert_eq!(map_charge(&c, &none()), line(ChargeKind::Usage));
        c.publisher_category = PublisherCategory::Vendor;
        assert_eq!(map_charge(&c, &none()), line(ChargeKind::Marketplace));
        let mut c = charge(Category::Usage);
        c.provider = Some("ACMECORP");
        c.publisher = Some("acmecorp");
        assert_eq!(map_charge(&c, &none()), line(ChargeKind::Usage));
    }

    #[test]
    fn negative_amounts_are_refunds_of_the_kind_they_correct() {
        let mut c = charge(Category::Usage);
        c.amount = m("-2.5");
        assert_eq!(map_charge(&c, &none()), refund(ChargeKind::Usage));
        let mut c = charge(Category::Refund);
        c.pricing = Pricing::Commitment;
        c.amount = m("-100");
        assert_eq!(
            map_charge(&c, &none()),
            refund(ChargeKind::ReservationPurchase)
        );
        let mut c = charge(Category::Tax);
        c.amount = m("-1");
        assert_eq!(map_charge(&c, &none()), refund(ChargeKind::Tax));
        // A positive correction is a charge of its kind.
        let mut c = charge(Category::Purchase);
        c.correction = true;
        assert_eq!(map_charge(&c, &none()), line(ChargeKind::Usage));
    }
}
