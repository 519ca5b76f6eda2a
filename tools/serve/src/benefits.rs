//! Microsoft.BillingBenefits reads (api-version 2025-12-01-preview), in the shapes the Python
//! SDK `azure-mgmt-billingbenefits` 1.0.0b2 reads ([`ledger_render::benefits`]):
//!
//! - `…/billingAccounts/{account}/providers/Microsoft.BillingBenefits/applicableMaccs`;
//! - `/{scope}/providers/Microsoft.BillingBenefits/applicableConditionalCredits` and
//!   `…/applicableCredits`, `{scope}` a billing account or one of its billing profiles (the
//!   account's items: the ledger's benefits are the account's), percent-encoded as one segment
//!   or not;
//! - their `…/{id}/providers/microsoft.BillingBenefits/applicableContributors`: none (the
//!   ledger keeps no contributors);
//! - `/subscriptions/{subscription}/resourceGroups/{account}/providers/Microsoft.BillingBenefits/maccs/{id}`
//!   (and `conditionalCredits`, `credits`), their lists by resource group, and by subscription
//!   (every account the caller may read). The resource group is the billing account; any
//!   subscription is accepted.

use std::collections::BTreeMap;

use axum::response::Response;
use ledger_app::replay::views::{caco_rows, credit_rows, macc_rows, CreditRow};
use ledger_app::replay::Projections;
use ledger_render::benefits::{self as shapes, Benefit, Envelope};

use super::consumption::profile;
use super::error::ApiError;
use super::params::{api_version, shorten};
use super::respond::{ok_json, Context, Listing};

const KEEP: &[(&str, &str)] = &[("api-version", "api-version"), ("$top", "$top")];

/// Where a BillingBenefits list or resource is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// `/subscriptions/{s}/providers/…`: every account the caller may read.
    Subscription,
    /// `/subscriptions/{s}/resourceGroups/{account}/providers/…`.
    Group(String),
    /// `…/resourceGroups/{account}/providers/…/{type}/{name}`.
    Resource(String, String),
}

/// A `{scope}`: a billing account, or one of its billing profiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub account: String,
    pub profile: Option<String>,
}

/// The accounts a place covers, each checked against what the caller may read.
fn accounts<'p>(
    cx: &Context<'_>,
    p: &'p Projections,
    place: &Place,
) -> Result<Vec<&'p str>, ApiError> {
    match place {
        Place::Subscription => Ok(cx.readable(p)),
        Place::Group(account) | Place::Resource(account, _) => Ok(vec![cx.account(p, account)?]),
    }
}

fn scope_account<'p>(
    cx: &Context<'_>,
    p: &'p Projections,
    scope: &Scope,
) -> Result<&'p str, ApiError> {
    let account = cx.account(p, &scope.account)?;
    if let Some(wanted) = &scope.profile {
        profile(p, account, wanted)?;
    }
    Ok(account)
}

/// The one name among `names` equal to `wanted` (exactly, else but for ASCII case).
fn find<'n>(names: impl Iterator<Item = &'n str> + Clone, wanted: &str) -> Option<&'n str> {
    names.clone().find(|n| *n == wanted).or_else(|| {
        let mut folded = names.filter(|n| n.eq_ignore_ascii_case(wanted));
        match (folded.next(), folded.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

fn not_found(benefit: Benefit, account: &str, name: &str) -> ApiError {
    let what = match benefit {
        Benefit::Macc => "MACC",
        Benefit::ConditionalCredit => "conditional credit (CACO)",
        Benefit::Credit => "credit",
    };
    ApiError::not_found(
        "ResourceNotFound",
        format!(
            "no {what} '{}' in billing account (resource group) '{account}'",
            shorten(name)
        ),
    )
}

/// The account's credit lots, for every account of a listing.
fn credits_of<'p>(p: &'p Projections, accounts: &[&'p str]) -> BTreeMap<&'p str, Vec<CreditRow>> {
    accounts.iter().map(|a| (*a, credit_rows(p, a))).collect()
}

/// `applicableMaccs` of a billing account.
pub fn applicable_maccs(cx: &Context<'_>, account: &str) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let listing = Listing::of(cx)?;
    let p = &listing.projections;
    let account = cx.account(p, account)?;
    let rows = macc_rows(p, account);
    listing.respond(
        cx,
        KEEP,
        &rows,
        |m| shapes::macc(m, Envelope::Applicable),
        version.as_deref(),
    )
}

/// `applicableConditionalCredits` of a scope.
pub fn applicable_conditional_credits(
    cx: &Context<'_>,
    scope: &Scope,
) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let listing = Listing::of(cx)?;
    let p = &listing.projections;
    let account = scope_account(cx, p, scope)?;
    let credits = credit_rows(p, account);
    let rows = caco_rows(p, Some(account));
    listing.respond(
        cx,
        KEEP,
        &rows,
        |c| shapes::conditional_credit(c, &credits, Envelope::Applicable),
        version.as_deref(),
    )
}

/// `applicableCredits` of a scope.
pub fn applicable_credits(cx: &Context<'_>, scope: &Scope) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let listing = Listing::of(cx)?;
    let p = &listing.projections;
    let account = scope_account(cx, p, scope)?;
    let rows = credit_rows(p, account);
    listing.respond(
        cx,
        KEEP,
        &rows,
        |c| shapes::credit(account, c, Envelope::Applicable),
        version.as_deref(),
    )
}

/// The contributors of an applicable MACC or conditional credit: none (404 if it does not
/// exist).
pub fn contributors(
    cx: &Context<'_>,
    account: &str,
    benefit: Benefit,
    id: &str,
) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let p = cx.current();
    let account = cx.account(&p, account)?;
    let acct = p
        .ledger
        .account(account)
        .ok_or_else(|| ApiError::internal("an account without its state"))?;
    let exists = match benefit {
        Benefit::Macc => find(acct.maccs.iter().map(|m| m.terms.id.as_str()), id).is_some(),
        _ => find(acct.cacos.iter().map(|c| c.terms.id.as_str()), id).is_some(),
    };
    if !exists {
        return Err(not_found(benefit, account, id));
    }
    ok_json(&serde_json::json!({ "value": [] }), version.as_deref())
}

/// The whole list (paged), or the one item named in `wanted` (its 404 without it).
fn one_or_list<'r, R, T: serde::Serialize>(
    cx: &Context<'_>,
    listing: &Listing,
    rows: &'r [R],
    id: impl Fn(&R) -> &str,
    item: impl Fn(&'r R) -> T,
    wanted: Option<(&str, ApiError)>,
) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, true)?;
    let Some((name, missing)) = wanted else {
        return listing.respond(cx, KEEP, rows, item, version.as_deref());
    };
    let Some(found) =
        find(rows.iter().map(&id), name).and_then(|exact| rows.iter().find(|r| id(r) == exact))
    else {
        return Err(missing);
    };
    ok_json(&item(found), version.as_deref())
}

/// `maccs`, `conditionalCredits` or `credits`: one resource, or the list of a resource group
/// or of the subscription.
pub fn resources(cx: &Context<'_>, benefit: Benefit, place: &Place) -> Result<Response, ApiError> {
    api_version(&cx.query, true)?;
    let listing = Listing::of(cx)?;
    let p = &listing.projections;
    let accounts = accounts(cx, p, place)?;
    let credits = credits_of(p, &accounts);
    let wanted = match place {
        Place::Resource(account, name) => Some((name.as_str(), not_found(benefit, account, name))),
        _ => None,
    };
    match benefit {
        Benefit::Macc => {
            let rows: Vec<_> = accounts.iter().flat_map(|a| macc_rows(p, a)).collect();
            one_or_list(
                cx,
                &listing,
                &rows,
                |m| m.id,
                |m| shapes::macc(m, Envelope::Tracked),
                wanted,
            )
        }
        Benefit::ConditionalCredit => {
            let rows: Vec<_> = accounts
                .iter()
                .flat_map(|a| caco_rows(p, Some(a)))
                .collect();
            one_or_list(
                cx,
                &listing,
                &rows,
                |c| c.id,
                |c| shapes::conditional_credit(c, &credits[c.account], Envelope::Tracked),
                wanted,
            )
        }
        Benefit::Credit => {
            let rows: Vec<(&str, &CreditRow)> = credits
                .iter()
                .flat_map(|(a, lots)| lots.iter().map(move |l| (*a, l)))
                .collect();
            one_or_list(
                cx,
                &listing,
                &rows,
                |(_, c)| c.lot.name.as_str(),
                |(a, c)| shapes::credit(a, c, Envelope::Tracked),
                wanted,
            )
        }
    }
}
