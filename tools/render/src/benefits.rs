//! Microsoft.BillingBenefits shapes (api-version 2025-12-01-preview), as the Python SDK
//! `azure-mgmt-billingbenefits` 1.0.0b2 deserializes them: MACCs with their milestones,
//! conditional credits (the ledger's CACOs) with theirs, and credits (the ledger's credit lots).
//!
//! Statuses map from the ledger's to the SDK's enums (they differ; the ledger's own is kept in
//! `ledgerStatus`):
//!
//! | ledger | SDK |
//! | --- | --- |
//! | MACC `Inactive` / `Active` / `Complete` / `Expired` / `Canceled` | `Scheduled` / `Active` / `Completed` / `ShortfallCharged` / `Canceled` |
//! | MACC milestone `Scheduled` / `Active` / `Pending` / `Completed` / `Missed` / `Canceled` | the same, but `Missed` is `ShortfallCharged` |
//! | CACO `Scheduled` / `Active` / `Completed` / `Expired` / `Canceled` | the same, but `Expired` is `Failed` |
//! | CACO milestone | the same (every value exists in `MilestoneStatus`) |
//! | credit lot `Inactive` / `Active` / `Complete` / `Expired` / `Canceled` | `NotStarted` / `Active` / `Exhausted` / `Expired` / `Canceled` |
//!
//! Amounts are exact JSON numbers; date-times are full RFC 3339 (`…T00:00:00Z` for a start,
//! `…T23:59:59Z` for an end, as Azure's documentation asks). The single resources live under
//! `/subscriptions/{subscription}/resourceGroups/{billing account}/…`: the resource group is
//! the ledger's billing account, and ids written by the server use [`SUBSCRIPTION`].

use ledger_app::core::state::LotStatus;
use ledger_app::core::{Date, LotOrigin, Money};
use ledger_app::replay::views::{
    CacoRow, CreditRow, MaccMilestoneRow, MaccMilestoneStatus, MaccRow, MilestoneRow, ShortfallRow,
};
use serde::Serialize;

use crate::json::{account_path, path_segment, Amount, DecimalNumber};

/// The subscription in the resource ids the server writes (any is accepted in requests).
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

const PROVIDER: &str = "Microsoft.BillingBenefits";

/// The three kinds of benefit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Benefit {
    Macc,
    ConditionalCredit,
    Credit,
}

impl Benefit {
    /// The resource type's last segment: `maccs`, `conditionalCredits`, `credits`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Benefit::Macc => "maccs",
            Benefit::ConditionalCredit => "conditionalCredits",
            Benefit::Credit => "credits",
        }
    }

    /// The billing-account list of this kind: `applicableMaccs`, ...
    pub fn applicable_type(self) -> &'static str {
        match self {
            Benefit::Macc => "applicableMaccs",
            Benefit::ConditionalCredit => "applicableConditionalCredits",
            Benefit::Credit => "applicableCredits",
        }
    }
}

/// Which envelope an item is served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// An item of a billing account's `applicable…` list.
    Applicable,
    /// The resource under its resource group (`GET …/maccs/{name}` and its lists).
    Tracked,
}

/// `/subscriptions/{SUBSCRIPTION}/resourceGroups/{account}/providers/Microsoft.BillingBenefits/{type}/{name}`.
pub fn resource_path(benefit: Benefit, account: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{}/providers/{PROVIDER}/{}/{}",
        path_segment(account),
        benefit.resource_type(),
        path_segment(name)
    )
}

fn applicable_path(benefit: Benefit, account: &str, name: &str) -> String {
    format!(
        "{}/providers/{PROVIDER}/{}/{}",
        account_path(account),
        benefit.applicable_type(),
        path_segment(name)
    )
}

fn start_at(d: Date) -> String {
    format!("{d}T00:00:00Z")
}

fn end_at(d: Date) -> String {
    format!("{d}T23:59:59Z")
}

/// `{"currencyCode": "USD", "amount": 50000.0}` (a Price).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Price<'a> {
    currency_code: &'a str,
    amount: Amount,
}

/// A Price with `"grain": "FullTerm"` (a Commitment).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Commitment<'a> {
    currency_code: &'a str,
    amount: Amount,
    grain: &'static str,
}

fn price(currency: &str, amount: Money) -> Price<'_> {
    Price {
        currency_code: currency,
        amount: Amount(amount),
    }
}

fn commitment(currency: &str, amount: Money) -> Commitment<'_> {
    Commitment {
        currency_code: currency,
        amount: Amount(amount),
        grain: "FullTerm",
    }
}

/// The envelope around `properties`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource<P: Serialize> {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Tags>,
    properties: P,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tags {
    ledger_account: String,
}

fn envelope<P: Serialize>(
    benefit: Benefit,
    shape: Envelope,
    account: &str,
    name: &str,
    properties: P,
) -> Resource<P> {
    // A MACC in its applicable list is a proxy resource (no location, no tags); every other
    // item is a tracked resource.
    let tracked = shape == Envelope::Tracked || benefit != Benefit::Macc;
    let (id, kind) = match shape {
        Envelope::Applicable => (
            applicable_path(benefit, account, name),
            benefit.applicable_type(),
        ),
        Envelope::Tracked => (
            resource_path(benefit, account, name),
            benefit.resource_type(),
        ),
    };
    Resource {
        id,
        name: name.to_string(),
        kind: format!("{PROVIDER}/{kind}"),
        location: tracked.then_some("global"),
        tags: tracked.then(|| Tags {
            ledger_account: account.to_string(),
        }),
        properties,
    }
}

// ---------------------------------------------------------------------------------------------
// MACCs

/// The SDK's MaccStatus of a MACC's Lots API status.
pub fn macc_status(status: LotStatus) -> &'static str {
    match status {
        LotStatus::Inactive => "Scheduled",
        LotStatus::Active => "Active",
        LotStatus::Complete => "Completed",
        LotStatus::Expired => "ShortfallCharged",
        LotStatus::Canceled => "Canceled",
    }
}

/// The SDK's MaccMilestoneStatus of a MACC milestone's status.
pub fn macc_milestone_status(status: MaccMilestoneStatus) -> &'static str {
    match status {
        MaccMilestoneStatus::Missed => "ShortfallCharged",
        other => other.name(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShortfallJson<'a> {
    product_code: &'static str,
    charge: Commitment<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_id: Option<&'a str>,
}

fn shortfall_json<'a>(
    account: &str,
    currency: &'a str,
    product_code: &'static str,
    s: &'a ShortfallRow,
) -> ShortfallJson<'a> {
    let lot = s.lot.as_ref().map(|c| &c.lot);
    ShortfallJson {
        product_code,
        charge: commitment(currency, s.amount),
        start_at: lot.map(|l| start_at(l.start)),
        end_at: lot.map(|l| end_at(l.expiration)),
        resource_id: lot.map(|l| resource_path(Benefit::Credit, account, &l.name)),
        system_id: lot.map(|l| l.name.as_str()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MaccMilestoneJson<'a> {
    milestone_id: &'a str,
    commitment: Price<'a>,
    end_at: String,
    automatic_shortfall: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shortfall: Option<ShortfallJson<'a>>,
    /// Extensions (kept by the SDK's models, readable as `milestone["ledgerStatus"]`).
    ledger_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cumulative: Option<Price<'a>>,
}

fn macc_milestone_json<'a>(
    account: &str,
    currency: &'a str,
    m: &'a MaccMilestoneRow,
) -> MaccMilestoneJson<'a> {
    MaccMilestoneJson {
        milestone_id: &m.id,
        commitment: price(currency, m.target),
        end_at: end_at(m.due),
        automatic_shortfall: "Enabled",
        status: macc_milestone_status(m.status),
        shortfall: m
            .shortfall
            .as_ref()
            .map(|s| shortfall_json(account, currency, "milestone-shortfall", s)),
        ledger_status: m.status.name(),
        cumulative: m.cumulative.map(|c| price(currency, c)),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MaccProperties<'a> {
    provisioning_state: &'static str,
    status: &'static str,
    entity_type: &'static str,
    display_name: &'a str,
    product_code: &'static str,
    billing_account_resource_id: String,
    commitment: Commitment<'a>,
    start_at: String,
    end_at: String,
    system_id: &'a str,
    automatic_shortfall: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shortfall: Option<ShortfallJson<'a>>,
    milestones: Vec<MaccMilestoneJson<'a>>,
    resource_id: String,
    allow_contributors: bool,
    /// Extensions.
    ledger_status: &'static str,
    remaining_commitment: Price<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purchased_at: Option<String>,
}

/// A MACC with its milestones, in the envelope asked for.
pub fn macc<'a>(m: &'a MaccRow<'a>, shape: Envelope) -> impl Serialize + 'a {
    let properties = MaccProperties {
        provisioning_state: "Succeeded",
        status: macc_status(m.status),
        entity_type: "Primary",
        display_name: m.id,
        product_code: "macc",
        billing_account_resource_id: account_path(m.account),
        commitment: commitment(m.currency, m.amount),
        start_at: start_at(m.start),
        end_at: end_at(m.end),
        system_id: m.id,
        automatic_shortfall: "Enabled",
        shortfall: m
            .shortfall
            .as_ref()
            .map(|s| shortfall_json(m.account, m.currency, "macc-shortfall", s)),
        milestones: m
            .milestones
            .iter()
            .map(|ms| macc_milestone_json(m.account, m.currency, ms))
            .collect(),
        resource_id: resource_path(Benefit::Macc, m.account, m.id),
        allow_contributors: false,
        ledger_status: m.status.name(),
        remaining_commitment: price(m.currency, m.balance),
        purchased_at: m.purchased.map(start_at),
    };
    envelope(Benefit::Macc, shape, m.account, m.id, properties)
}

// ---------------------------------------------------------------------------------------------
// Conditional credits (CACOs)

/// The SDK's ConditionalCreditStatus of a CACO status (R-CACO-7).
pub fn conditional_credit_status(ledger: &str) -> &str {
    match ledger {
        "Expired" => "Failed",
        other => other,
    }
}

/// An award's duration as the SDK's Term spells it: `P1Y`, `P3Y`, or `P{n}M`.
fn duration(months: u32) -> String {
    if months > 0 && months.is_multiple_of(12) {
        format!("P{}Y", months / 12)
    } else {
        format!("P{months}M")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AwardJson<'a> {
    credit: Commitment<'a>,
    duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConditionalMilestoneJson<'a> {
    milestone_id: &'a str,
    name: &'a str,
    status: &'static str,
    end_at: String,
    spend_target: Price<'a>,
    award: AwardJson<'a>,
    /// Extensions.
    start_at: String,
    progress: Price<'a>,
    progress_percent: DecimalNumber,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConditionalCreditProperties<'a> {
    entity_type: &'static str,
    display_name: &'a str,
    billing_account_resource_id: String,
    provisioning_state: &'static str,
    status: &'a str,
    start_at: String,
    end_at: String,
    product_code: &'static str,
    benefit_resource_id: String,
    resource_id: String,
    system_id: &'a str,
    allow_contributors: &'static str,
    milestones: Vec<ConditionalMilestoneJson<'a>>,
    /// Extensions.
    ledger_status: &'a str,
    basis: &'a str,
    commitment_amount: Price<'a>,
    remaining_commitment: Price<'a>,
}

fn conditional_milestone<'a>(
    c: &'a CacoRow<'a>,
    m: &'a MilestoneRow,
    credits: &'a [CreditRow],
) -> ConditionalMilestoneJson<'a> {
    let awarded = credits.iter().find(|lot| {
        matches!(&lot.origin, LotOrigin::Award { caco, milestone } if caco == c.id && milestone == &m.id)
    });
    let lot = awarded.map(|a| &a.lot);
    ConditionalMilestoneJson {
        milestone_id: &m.id,
        name: &m.id,
        status: m.status,
        end_at: end_at(m.end),
        spend_target: price(c.currency, m.target),
        award: AwardJson {
            credit: commitment(c.currency, m.award),
            duration: duration(c.award_months),
            start_at: lot.map(|l| start_at(l.start)),
            end_at: lot.map(|l| end_at(l.expiration)),
            resource_id: lot.map(|l| resource_path(Benefit::Credit, c.account, &l.name)),
            system_id: lot.map(|l| l.name.as_str()),
        },
        start_at: start_at(m.start),
        progress: price(c.currency, m.progress),
        progress_percent: DecimalNumber(m.progress_percent),
    }
}

/// A CACO as a conditional credit (`entityType: "Primary"`, so typed clients see its
/// milestones), in the envelope asked for; `credits` are the account's credit lots (for the
/// awarded ACOs).
pub fn conditional_credit<'a>(
    c: &'a CacoRow<'a>,
    credits: &'a [CreditRow],
    shape: Envelope,
) -> impl Serialize + 'a {
    let resource = resource_path(Benefit::ConditionalCredit, c.account, c.id);
    let properties = ConditionalCreditProperties {
        entity_type: "Primary",
        display_name: c.id,
        billing_account_resource_id: account_path(c.account),
        provisioning_state: "Succeeded",
        status: conditional_credit_status(c.status),
        start_at: start_at(c.start),
        end_at: end_at(c.end),
        product_code: "caco",
        benefit_resource_id: resource.clone(),
        resource_id: resource,
        system_id: c.id,
        allow_contributors: "Disabled",
        milestones: c
            .milestones
            .iter()
            .map(|m| conditional_milestone(c, m, credits))
            .collect(),
        ledger_status: c.status,
        basis: c.basis,
        commitment_amount: price(c.currency, c.commitment),
        remaining_commitment: price(c.currency, c.remaining),
    };
    envelope(
        Benefit::ConditionalCredit,
        shape,
        c.account,
        c.id,
        properties,
    )
}

// ---------------------------------------------------------------------------------------------
// Credits

/// The SDK's CreditStatus of a credit lot's Lots API status.
pub fn credit_status(status: LotStatus) -> &'static str {
    match status {
        LotStatus::Inactive => "NotStarted",
        LotStatus::Active => "Active",
        LotStatus::Complete => "Exhausted",
        LotStatus::Expired => "Expired",
        LotStatus::Canceled => "Canceled",
    }
}

/// Where a credit lot came from, in words.
fn origin_words(origin: &LotOrigin) -> String {
    match origin {
        LotOrigin::Agreement => "granted by the agreement".into(),
        LotOrigin::Purchase { invoice, .. } => format!("purchased on invoice {invoice}"),
        LotOrigin::Award { caco, milestone } => {
            format!("ACO awarded by CACO {caco} milestone {milestone}")
        }
        LotOrigin::MaccShortfall { macc } => format!("shortfall of MACC {macc}, as credit"),
        LotOrigin::MilestoneShortfall { macc, milestone } => {
            format!("shortfall of MACC {macc} milestone {milestone}, as credit")
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reason {
    code: &'static str,
    description: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Policies {
    redemption: &'static str,
    expiration: &'static str,
}

#[derive(Serialize)]
struct Dimension {
    key: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Breakdown<'a> {
    allocation: Commitment<'a>,
    start_at: String,
    end_at: String,
    dimensions: Vec<Dimension>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreditProperties<'a> {
    status: &'static str,
    product_code: &'a str,
    reason: Reason,
    credit: Commitment<'a>,
    start_at: String,
    end_at: String,
    policies: Policies,
    billing_account_resource_id: String,
    breakdown: [Breakdown<'a>; 1],
    provisioning_state: &'static str,
    system_id: &'a str,
    resource_id: String,
    /// Extensions.
    ledger_status: &'static str,
    ledger_kind: &'a str,
    lot_source: &'static str,
    closed_balance: Price<'a>,
    used_amount: Price<'a>,
}

/// A credit lot as a credit, in the envelope asked for.
pub fn credit<'a>(account: &'a str, c: &'a CreditRow, shape: Envelope) -> impl Serialize + 'a {
    let l = &c.lot;
    let used = l
        .original
        .checked_sub(l.closed_balance)
        .unwrap_or(Money::ZERO);
    let kind: &'static str = match c.origin {
        LotOrigin::Agreement => "agreement",
        LotOrigin::Purchase { .. } => "purchase",
        LotOrigin::Award { .. } => "award",
        LotOrigin::MaccShortfall { .. } => "maccShortfall",
        LotOrigin::MilestoneShortfall { .. } => "milestoneShortfall",
    };
    let properties = CreditProperties {
        status: credit_status(l.status),
        product_code: &l.kind,
        reason: Reason {
            code: kind,
            description: origin_words(&c.origin),
        },
        credit: commitment(&l.currency, l.original),
        start_at: start_at(l.start),
        end_at: end_at(l.expiration),
        policies: Policies {
            redemption: "AutoRedeem",
            expiration: "None",
        },
        billing_account_resource_id: account_path(account),
        breakdown: [Breakdown {
            allocation: commitment(&l.currency, l.original),
            start_at: start_at(l.start),
            end_at: end_at(l.expiration),
            dimensions: vec![
                Dimension {
                    key: "ledgerKind",
                    value: l.kind.clone(),
                },
                Dimension {
                    key: "usedAmount",
                    value: used.to_string(),
                },
                Dimension {
                    key: "remainingAmount",
                    value: l.closed_balance.to_string(),
                },
            ],
        }],
        provisioning_state: "Succeeded",
        system_id: &l.name,
        resource_id: resource_path(Benefit::Credit, account, &l.name),
        ledger_status: l.status.name(),
        ledger_kind: &l.kind,
        lot_source: l.source,
        closed_balance: price(&l.currency, l.closed_balance),
        used_amount: price(&l.currency, used),
    };
    envelope(Benefit::Credit, shape, account, &l.name, properties)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_sdk_terms() {
        assert_eq!(duration(12), "P1Y");
        assert_eq!(duration(36), "P3Y");
        assert_eq!(duration(6), "P6M");
        assert_eq!(duration(18), "P18M");
    }

    #[test]
    fn resource_paths_encode_names() {
        assert_eq!(
            resource_path(Benefit::Credit, "1234:5678", "macc-2025/M1/shortfall"),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/1234:5678/providers/Microsoft.BillingBenefits/credits/macc-2025%2FM1%2Fshortfall"
        );
    }
}
