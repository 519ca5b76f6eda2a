//! The ledger's own views (CACO, invoices, alerts), the billing accounts, the report pages and
//! the index: each shows only what the caller may read.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_app::replay::views::{caco_rows, invoice_rows};
use ledger_app::replay::Projections;
use ledger_render::json::{self, account_path};

use super::error::ApiError;
use super::params::{api_version, date_param};
use super::respond::{json_response, ok_json, Context};

pub fn caco(cx: &Context<'_>, account: &str) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, false)?;
    let p = cx.current();
    let account = cx.account(&p, account)?;
    let rows = caco_rows(&p, Some(account));
    ok_json(&json::caco_document(&rows), version.as_deref())
}

pub fn invoices(cx: &Context<'_>, account: &str) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, false)?;
    let p = cx.current();
    let account = cx.account(&p, account)?;
    let rows = invoice_rows(&p, Some(account));
    ok_json(&json::invoices_document(&rows), version.as_deref())
}

pub fn alerts(cx: &Context<'_>, account: &str) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, false)?;
    let as_of = date_param(&cx.query, "asof", "asOf")?.ok_or_else(|| {
        ApiError::bad_request(
            "MissingParameter",
            "asOf (YYYY-MM-DD) is required: the date the alerts are evaluated as of",
        )
    })?;
    let p = cx.current();
    let account = cx.account(&p, account)?;
    let rows = ledger_app::replay::alerts::alerts(&p, as_of, Some(account));
    let credits = ledger_app::replay::alerts::expiring_credits(&p, as_of, Some(account));
    let doc = json::alerts_document(&rows, &credits);
    ok_json(&doc, version.as_deref())
}

/// A billing account as a resource.
fn account_json(p: &Projections, name: &str) -> serde_json::Value {
    let acct = p.ledger.account(name);
    serde_json::json!({
        "id": account_path(name),
        "name": name,
        "type": "Microsoft.Billing/billingAccounts",
        "properties": {
            "displayName": name,
            "currency": acct.map(|a| a.currency.as_str()),
            "agreementVersion": acct.map(|a| a.agreement_version),
        }
    })
}

pub fn accounts(cx: &Context<'_>) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, false)?;
    let p = cx.current();
    let value: Vec<serde_json::Value> = cx
        .readable(&p)
        .into_iter()
        .map(|name| account_json(&p, name))
        .collect();
    ok_json(&serde_json::json!({ "value": value }), version.as_deref())
}

pub fn account(cx: &Context<'_>, account: &str) -> Result<Response, ApiError> {
    let version = api_version(&cx.query, false)?;
    let p = cx.current();
    let account = cx.account(&p, account)?;
    ok_json(&account_json(&p, account), version.as_deref())
}

/// The projections of only the accounts the caller may read (a copy of those accounts; the
/// whole projections, shared, when it reads every one).
fn readable_projections(
    cx: &Context<'_>,
    p: std::sync::Arc<Projections>,
) -> std::sync::Arc<Projections> {
    if cx.caller.reads_all() {
        return p;
    }
    let mut only = Projections {
        next_seq: p.next_seq,
        counters: p.counters,
        ..Projections::default()
    };
    for name in cx.readable(&p) {
        if let Some(acct) = p.ledger.accounts.get(name) {
            only.ledger.accounts.insert(name.to_string(), acct.clone());
        }
        if let Some(views) = p.views.get(name) {
            only.views.insert(name.to_string(), views.clone());
        }
        if let Some(runs) = p.pending.get(name) {
            only.pending.insert(name.to_string(), runs.clone());
        }
    }
    std::sync::Arc::new(only)
}

/// The burn-down report page (`ledger_render::report`), of every account the caller may read
/// or one, as of `asOf` (default: the ledger clock). The page fetches nothing; the header says
/// so to the browser too.
pub fn report(cx: &Context<'_>, account: Option<&str>) -> Result<Response, ApiError> {
    let as_of = date_param(&cx.query, "asof", "asOf")?;
    let p = readable_projections(cx, cx.current());
    let account = account.map(|a| cx.account(&p, a)).transpose()?;
    let body = ledger_render::report::page(&p, as_of, account, &[]);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ledger_render::report::CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

pub fn index(cx: &Context<'_>) -> Response {
    let p = cx.current();
    let body = serde_json::json!({
        "name": "ledger serve",
        "version": env!("CARGO_PKG_VERSION"),
        "openapi": "/openapi.json",
        "report": "/",
        "accountReport": "/accounts/{account}",
        "accounts": cx.readable(&p),
        "writes": cx.state.allow_writes && cx.caller.writes(),
        "logPosition": p.next_seq,
    });
    json_response(StatusCode::OK, body.to_string().into_bytes(), None)
}
