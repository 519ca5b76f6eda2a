//! Azure's Microsoft.Consumption reads: lots (of a billing account or a billing profile),
//! events (of either), and the credits balance summary of a billing profile.
//!
//! The ledger's lots belong to the billing account and apply to every billing profile of it,
//! so the lots of a billing profile are the account's lots. A billing profile exists once a
//! settled charge line names it (404 `BillingProfileNotFound` before).

use std::collections::BTreeSet;

use axum::response::Response;
use ledger_app::core::state::LotStatus;
use ledger_app::core::Money;
use ledger_app::replay::views::{event_rows_with_pending, lot_rows, EventFilter, LotFilter};
use ledger_app::replay::Projections;
use ledger_render::json::{
    billing_profile_path, BillingAmount, CurrencyAmount, EventJson, LotJson,
};
use serde::Serialize;

use super::error::ApiError;
use super::filter::{self, Field, Target};
use super::params::{api_version, date_param, shorten};
use super::respond::{ok_json, Context, Listing};

/// The parameters a `nextLink` carries over from the request.
const LOTS_KEEP: &[(&str, &str)] = &[
    ("api-version", "api-version"),
    ("$filter", "$filter"),
    ("$top", "$top"),
];
const EVENTS_KEEP: &[(&str, &str)] = &[
    ("api-version", "api-version"),
    ("$filter", "$filter"),
    ("startdate", "startDate"),
    ("enddate", "endDate"),
    ("$top", "$top"),
];

/// The billing profiles of an account: those its settled charge lines name.
fn profiles<'p>(p: &'p Projections, account: &str) -> BTreeSet<&'p str> {
    let Some(views) = p.views.get(account) else {
        return BTreeSet::new();
    };
    let from_lots = views
        .lot_events
        .iter()
        .filter_map(|e| e.billing_profile.as_deref());
    let from_caco = views
        .caco_transactions
        .values()
        .flatten()
        .map(|t| t.billing_profile.as_str());
    from_lots.chain(from_caco).collect()
}

/// The billing profile a path names (exactly, else the one equal but for ASCII case).
pub fn profile<'p>(
    p: &'p Projections,
    account: &str,
    requested: &str,
) -> Result<&'p str, ApiError> {
    let known = profiles(p, account);
    if let Some(found) = known.get(requested) {
        return Ok(found);
    }
    let mut folded = known.iter().filter(|k| k.eq_ignore_ascii_case(requested));
    if let (Some(only), None) = (folded.next(), folded.next()) {
        return Ok(only);
    }
    Err(ApiError::not_found(
        "BillingProfileNotFound",
        format!(
            "billing profile '{}' is not in billing account '{account}': no settled charge line names it{}",
            shorten(requested),
            if known.is_empty() {
                String::new()
            } else {
                format!(
                    "; it has: {}",
                    known.iter().take(10).copied().collect::<Vec<_>>().join(", ")
                )
            }
        ),
    ))
}

/// `…/lots` of a billing account, or of a billing profile (`profile`).
pub fn lots(
    cx: &Context<'_>,
    account: &str,
    profile_name: Option<&str>,
) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let filter = match cx.query.get("$filter")? {
        Some(text) => filter::parse(text, Target::Lots)?,
        None => filter::Filter::default(),
    };
    let listing = Listing::of(cx)?;
    let p = &listing.projections;
    let account = cx.account(p, account)?;
    if let Some(wanted) = profile_name {
        profile(p, account, wanted)?;
    }
    let narrow = LotFilter {
        account: Some(account.to_string()),
        source: filter.first(Field::Source),
        status: filter.first(Field::Status),
        lot: None,
    };
    let rows: Vec<_> = lot_rows(p, &narrow)
        .into_iter()
        .filter(|r| filter.matches_lot(r))
        .collect();
    listing.respond(cx, LOTS_KEEP, &rows, LotJson, version.as_deref())
}

/// `…/events` of a billing account, or of a billing profile (`profile`: both dates required,
/// as Azure's billing-profile events API, which the SDK calls with both).
pub fn events(
    cx: &Context<'_>,
    account: &str,
    profile_name: Option<&str>,
) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let filter = match cx.query.get("$filter")? {
        Some(text) => filter::parse(text, Target::Events)?,
        None => filter::Filter::default(),
    };
    let from = date_param(&cx.query, "startdate", "startDate")?;
    let to = date_param(&cx.query, "enddate", "endDate")?;
    if profile_name.is_some() {
        for (given, name) in [(from.is_some(), "startDate"), (to.is_some(), "endDate")] {
            if !given {
                return Err(ApiError::bad_request(
                    "MissingParameter",
                    format!("{name} (YYYY-MM-DD) is required for the events of a billing profile"),
                ));
            }
        }
    }
    let listing = Listing::of(cx)?;
    let p = &listing.projections;
    let account = cx.account(p, account)?;
    let narrow = EventFilter {
        account: Some(account.to_string()),
        lot: None,
        lot_source: filter.first(Field::LotSource),
        from,
        to,
    };
    let pending: std::collections::BTreeMap<String, _> =
        ledger_app::replay::pending::estimate(p, account)
            .map(|e| (account.to_string(), e))
            .into_iter()
            .collect();
    let rows: Vec<_> = event_rows_with_pending(p, &pending, &narrow)
        .into_iter()
        .filter(|r| filter.matches_event(r))
        .filter(|r| {
            profile_name.is_none_or(|wanted| {
                r.event
                    .billing_profile
                    .as_deref()
                    .is_some_and(|b| b.eq_ignore_ascii_case(wanted))
            })
        })
        .collect();
    listing.respond(cx, EVENTS_KEEP, &rows, EventJson, version.as_deref())
}

/// The credits balance summary of a billing profile (Azure's `credits/balanceSummary`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreditSummaryJson<'a> {
    id: String,
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    e_tag: Option<String>,
    properties: SummaryProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryProperties<'a> {
    balance_summary: BalanceJson<'a>,
    pending_credit_adjustments: CurrencyAmount<'a>,
    expired_credit: CurrencyAmount<'a>,
    pending_eligible_charges: CurrencyAmount<'a>,
    credit_currency: &'a str,
    billing_currency: &'a str,
    is_estimated_balance: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceJson<'a> {
    estimated_balance: CurrencyAmount<'a>,
    current_balance: CurrencyAmount<'a>,
    estimated_balance_in_billing_currency: BillingAmount<'a>,
}

/// `…/billingProfiles/{profile}/providers/Microsoft.Consumption/credits/balanceSummary`: the
/// balance of the account's credit lots (not its MACCs) that are active now, and (negative, as
/// the Events API's `creditExpired`) what expired unused. The estimated balance includes the
/// pending (month-to-date) charges (R-PEND-3); without any it is the current balance.
pub fn credit_summary(
    cx: &Context<'_>,
    account: &str,
    profile_name: &str,
) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let p = cx.current();
    let account = cx.account(&p, account)?;
    let profile = profile(&p, account, profile_name)?;
    let acct = p
        .ledger
        .account(account)
        .ok_or_else(|| ApiError::internal("an account without its state"))?;
    // A billing profile is known from settled lines, so the ledger clock is set.
    let month = acct
        .clock
        .ok_or_else(|| ApiError::internal("a billing profile without a ledger clock"))?;
    let mut current = Money::ZERO;
    let mut estimated = Money::ZERO;
    let mut expired = Money::ZERO;
    let narrow = LotFilter {
        account: Some(account.to_string()),
        ..LotFilter::default()
    };
    let lots = lot_rows(&p, &narrow);
    for row in lots.iter().skip(acct.maccs.len()) {
        match row.status {
            LotStatus::Active => {
                current = add(current, row.closed_balance)?;
                estimated = add(estimated, row.pending_balance.unwrap_or(row.closed_balance))?;
            }
            LotStatus::Expired => expired = add(expired, row.closed_balance)?,
            _ => {}
        }
    }
    let expired = Money::ZERO
        .checked_sub(expired)
        .map_err(|_| ApiError::internal("expired credit out of range"))?;
    let currency = acct.currency.as_str();
    // R-PEND-3: what the pending charges would take from these lots (negative, as the Events
    // API's charges).
    let pending_charges = estimated
        .checked_sub(current)
        .map_err(|_| ApiError::internal("pending charges out of range"))?;
    let summary = CreditSummaryJson {
        id: format!(
            "{}/providers/Microsoft.Consumption/credits/balanceSummary",
            billing_profile_path(account, profile)
        ),
        name: "balanceSummary",
        kind: "Microsoft.Consumption/credits",
        e_tag: None,
        properties: SummaryProperties {
            balance_summary: BalanceJson {
                estimated_balance: CurrencyAmount(currency, estimated),
                current_balance: CurrencyAmount(currency, current),
                estimated_balance_in_billing_currency: BillingAmount {
                    currency,
                    value: estimated,
                    month,
                },
            },
            pending_credit_adjustments: CurrencyAmount(currency, Money::ZERO),
            expired_credit: CurrencyAmount(currency, expired),
            pending_eligible_charges: CurrencyAmount(currency, pending_charges),
            credit_currency: currency,
            billing_currency: currency,
            is_estimated_balance: lots.iter().any(|r| r.pending_balance.is_some()),
        },
    };
    ok_json(&summary, version.as_deref())
}

fn add(a: Money, b: Money) -> Result<Money, ApiError> {
    a.checked_add(b)
        .map_err(|_| ApiError::internal("a credit balance out of range"))
}
