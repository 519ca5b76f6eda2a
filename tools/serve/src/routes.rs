//! The dispatcher and the read handlers.
//!
//! Every request goes through [`dispatch`]: size limits (414, 431), the bearer token (401),
//! the path (404; fixed segments case-insensitive, as Azure Resource Manager matches them;
//! segments percent-decoded, so `a%3Ab` is the account `a:b`), the method (405 with `Allow`),
//! then the handler. Everything a handler refuses is an [`ApiError`]: the Azure error body.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_app::replay::views::{
    caco_rows, event_rows, invoice_rows, lot_rows, EventFilter, LotFilter,
};
use ledger_app::replay::Projections;
use ledger_render::json::{self, account_path, EventJson, LotJson};
use percent_encoding::percent_decode_str;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::error::ApiError;
use super::filter::{self, Field, Target};
use super::paging::{next_link, PageRequest};
use super::params::{api_version, date_param, shorten, Query};
use super::state::AppState;
use super::{openapi, writes};

/// The longest request target (path and query) answered; longer gets 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) answered; more gets 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most header fields answered; more gets 431.
pub const MAX_HEADER_COUNT: usize = 64;

const READ_METHODS: &str = "GET, HEAD";
const WRITE_METHODS: &str = "POST";

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`: the burn-down report of every account (HTML, as `ledger report`).
    Report,
    /// `/accounts/{account}`: the report of one account.
    AccountReport(String),
    /// `/api`: what this server serves (JSON).
    Index,
    OpenApi,
    Accounts,
    Account(String),
    Lots(String),
    Events(String),
    ProfileEvents(String, String),
    Caco(String),
    Invoices(String),
    Alerts(String),
    PostAgreement,
    PostCharges,
}

impl Route {
    /// The route of a request path as sent (percent-encoded). `None`: no such resource.
    pub fn parse(raw_path: &str) -> Option<Route> {
        let rest = raw_path.strip_prefix('/')?;
        if rest.is_empty() {
            return Some(Route::Report);
        }
        let mut segments: Vec<String> = Vec::new();
        for raw in rest.split('/') {
            segments.push(percent_decode_str(raw).decode_utf8().ok()?.into_owned());
        }
        // One trailing slash is tolerated (`…/lots/`); `/` itself is the index.
        if segments.len() > 1 && segments.last().is_some_and(|s| s.is_empty()) {
            segments.pop();
        }
        if segments.iter().any(String::is_empty) {
            return None;
        }
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
        let named = |i: usize| s.get(i).map(|x| x.to_string());
        match s.as_slice() {
            ["openapi.json"] => return Some(Route::OpenApi),
            ["api"] => return Some(Route::Index),
            [_, account] if is(0, "accounts") => {
                return Some(Route::AccountReport(account.to_string()))
            }
            ["ledger", _] if is(1, "agreements") => return Some(Route::PostAgreement),
            ["ledger", _] if is(1, "charges") => return Some(Route::PostCharges),
            _ => {}
        }
        if !(is(0, "providers") && is(1, "microsoft.billing") && is(2, "billingaccounts")) {
            return None;
        }
        if s.len() == 3 {
            return Some(Route::Accounts);
        }
        let account = named(3)?;
        let consumption = |i: usize, what: &str| {
            s.len() == i + 3
                && is(i, "providers")
                && is(i + 1, "microsoft.consumption")
                && is(i + 2, what)
        };
        Some(match s.len() {
            4 => Route::Account(account),
            5 if is(4, "caco") => Route::Caco(account),
            5 if is(4, "invoices") => Route::Invoices(account),
            5 if is(4, "alerts") => Route::Alerts(account),
            7 if consumption(4, "lots") => Route::Lots(account),
            7 if consumption(4, "events") => Route::Events(account),
            9 if is(4, "billingprofiles") && consumption(6, "events") => {
                Route::ProfileEvents(account, named(5)?)
            }
            _ => return None,
        })
    }

    fn methods(&self) -> &'static str {
        match self {
            Route::PostAgreement | Route::PostCharges => WRITE_METHODS,
            _ => READ_METHODS,
        }
    }
}

/// The one handler of the application.
pub async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match handle(&state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    check_limits(&request)?;
    check_token(state, request.headers())?;
    let path = request.uri().path().to_string();
    let route = Route::parse(&path).ok_or_else(|| {
        ApiError::not_found(
            "NotFound",
            format!(
                "no resource at {}; GET /openapi.json lists the endpoints",
                shorten(&path)
            ),
        )
    })?;
    let method = request.method().clone();
    let allowed = route.methods();
    let method_ok = match allowed {
        READ_METHODS => method == Method::GET || method == Method::HEAD,
        _ => method == Method::POST,
    };
    if !method_ok {
        return Err(ApiError::method_not_allowed(
            method.as_str(),
            &shorten(&path),
            allowed,
        ));
    }
    let query = Query::parse(request.uri().query());
    let context = Context {
        origin: origin(state, request.headers()),
        path,
    };
    let p = state.current();
    match route {
        Route::Report => report(&p, &query, None),
        Route::AccountReport(a) => report(&p, &query, Some(&a)),
        Route::Index => Ok(index(state, &p)),
        Route::OpenApi => Ok(json_response(
            StatusCode::OK,
            openapi::document(state).to_string().into_bytes(),
            None,
        )),
        Route::Accounts => accounts(&p, &query),
        Route::Account(a) => account(&p, &query, &a),
        Route::Lots(a) => lots(state, &p, &context, &query, &a),
        Route::Events(a) => events(state, &p, &context, &query, &a, None),
        Route::ProfileEvents(a, profile) => events(state, &p, &context, &query, &a, Some(&profile)),
        Route::Caco(a) => caco(&p, &query, &a),
        Route::Invoices(a) => invoices(&p, &query, &a),
        Route::Alerts(a) => alerts(&p, &query, &a),
        Route::PostAgreement => writes::agreement(state, &query, request).await,
        Route::PostCharges => writes::charges(state, &query, request).await,
    }
}

/// 414 for a huge request target, 431 for huge or too many headers (hyper's own limits,
/// far above these, answer without a body).
fn check_limits(request: &Request) -> Result<(), ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().len())
        .unwrap_or(0);
    if target > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "RequestUriTooLong",
            format!("the request URL is {target} bytes long; at most {MAX_URI_BYTES} are accepted"),
        ));
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADER_COUNT {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "RequestHeaderFieldsTooLarge",
            format!(
                "the request has {} header fields of {bytes} bytes; at most {MAX_HEADER_COUNT} fields of {MAX_HEADER_BYTES} bytes in all are accepted",
                headers.len()
            ),
        ));
    }
    Ok(())
}

/// With a token configured, `Authorization: Bearer TOKEN` (compared in constant time).
fn check_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else {
        return Ok(());
    };
    let unauthorized = |code, message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing; send Authorization: Bearer <token>."));
    };
    let given = value.as_bytes();
    let presented = match given.iter().position(|&b| b == b' ') {
        Some(space) if given[..space].eq_ignore_ascii_case(b"bearer") => {
            given[space + 1..].trim_ascii()
        }
        _ => return Err(unauthorized(
            "InvalidAuthenticationToken",
            "The 'Authorization' header is not a bearer token; send Authorization: Bearer <token>.",
        )),
    };
    if !constant_time_eq(presented, token.as_bytes()) {
        return Err(unauthorized(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where the request was sent, for absolute `nextLink`s.
struct Context {
    /// `http://host:port`.
    origin: String,
    /// The path as sent (still percent-encoded).
    path: String,
}

/// `http://` + the Host header when it is a plain `host[:port]`, else the listening address.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
    format!("http://{}", host.unwrap_or(&state.local_authority))
}

/// A JSON response, echoing `api-version` when the request gave one.
fn json_response(status: StatusCode, body: Vec<u8>, api_version: Option<&str>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(version) = api_version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert("api-version", version);
    }
    response
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("cannot write the response: {e}")))
}

/// The billing account a path names: exactly, else the one account equal but for ASCII case.
fn resolve_account<'a>(p: &'a Projections, requested: &str) -> Result<&'a str, ApiError> {
    if let Some((name, _)) = p.ledger.accounts.get_key_value(requested) {
        return Ok(name);
    }
    let mut folded = p
        .ledger
        .accounts
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(requested));
    if let (Some(only), None) = (folded.next(), folded.next()) {
        return Ok(only);
    }
    let known: Vec<&str> = p
        .ledger
        .accounts
        .keys()
        .take(10)
        .map(String::as_str)
        .collect();
    Err(ApiError::not_found(
        "BillingAccountNotFound",
        if known.is_empty() {
            format!("billing account '{}' is not in this ledger: it has no accounts yet (record an agreement first)", shorten(requested))
        } else {
            format!(
                "billing account '{}' is not in this ledger; it has: {}",
                shorten(requested),
                known.join(", ")
            )
        },
    ))
}

/// `{"value": [...], "nextLink": "..."}` (`nextLink` only when there is a next page).
struct Page<T> {
    value: Vec<T>,
    next_link: Option<String>,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("value", &self.value)?;
        if let Some(link) = &self.next_link {
            map.serialize_entry("nextLink", link)?;
        }
        map.end()
    }
}

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

fn lots(
    state: &AppState,
    p: &Projections,
    context: &Context,
    query: &Query,
    account: &str,
) -> Result<Response, ApiError> {
    let version = api_version(query, true)?;
    let filter = match query.get("$filter")? {
        Some(text) => filter::parse(text, Target::Lots)?,
        None => filter::Filter::default(),
    };
    let page = PageRequest::from_query(query, state.page_size)?;
    let account = resolve_account(p, account)?;
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
    let (window, next) = page.window(rows.len());
    let body = Page {
        value: rows[window].iter().map(LotJson).collect(),
        next_link: next
            .map(|skip| next_link(&context.origin, &context.path, query, LOTS_KEEP, skip)),
    };
    Ok(json_response(
        StatusCode::OK,
        to_json(&body)?,
        version.as_deref(),
    ))
}

fn events(
    state: &AppState,
    p: &Projections,
    context: &Context,
    query: &Query,
    account: &str,
    profile: Option<&str>,
) -> Result<Response, ApiError> {
    let version = api_version(query, true)?;
    let filter = match query.get("$filter")? {
        Some(text) => filter::parse(text, Target::Events)?,
        None => filter::Filter::default(),
    };
    let from = date_param(query, "startdate", "startDate")?;
    let to = date_param(query, "enddate", "endDate")?;
    if profile.is_some() {
        // As Azure's billing-profile events API, which the SDK calls with both dates.
        for (given, name) in [(from.is_some(), "startDate"), (to.is_some(), "endDate")] {
            if !given {
                return Err(ApiError::bad_request(
                    "MissingParameter",
                    format!("{name} (YYYY-MM-DD) is required for the events of a billing profile"),
                ));
            }
        }
    }
    let page = PageRequest::from_query(query, state.page_size)?;
    let account = resolve_account(p, account)?;
    let narrow = EventFilter {
        account: Some(account.to_string()),
        lot: None,
        lot_source: filter.first(Field::LotSource),
        from,
        to,
    };
    let rows: Vec<_> = event_rows(p, &narrow)
        .into_iter()
        .filter(|r| filter.matches_event(r))
        .filter(|r| {
            profile.is_none_or(|wanted| {
                r.event
                    .billing_profile
                    .as_deref()
                    .is_some_and(|b| b.eq_ignore_ascii_case(wanted))
            })
        })
        .collect();
    let (window, next) = page.window(rows.len());
    let body = Page {
        value: rows[window].iter().map(EventJson).collect(),
        next_link: next
            .map(|skip| next_link(&context.origin, &context.path, query, EVENTS_KEEP, skip)),
    };
    Ok(json_response(
        StatusCode::OK,
        to_json(&body)?,
        version.as_deref(),
    ))
}

fn caco(p: &Projections, query: &Query, account: &str) -> Result<Response, ApiError> {
    let version = api_version(query, false)?;
    let account = resolve_account(p, account)?;
    let rows = caco_rows(p, Some(account));
    Ok(json_response(
        StatusCode::OK,
        to_json(&json::caco_document(&rows))?,
        version.as_deref(),
    ))
}

fn invoices(p: &Projections, query: &Query, account: &str) -> Result<Response, ApiError> {
    let version = api_version(query, false)?;
    let account = resolve_account(p, account)?;
    let rows = invoice_rows(p, Some(account));
    Ok(json_response(
        StatusCode::OK,
        to_json(&json::invoices_document(&rows))?,
        version.as_deref(),
    ))
}

fn alerts(p: &Projections, query: &Query, account: &str) -> Result<Response, ApiError> {
    let version = api_version(query, false)?;
    let as_of = date_param(query, "asof", "asOf")?.ok_or_else(|| {
        ApiError::bad_request(
            "MissingParameter",
            "asOf (YYYY-MM-DD) is required: the date the alerts are evaluated as of",
        )
    })?;
    let account = resolve_account(p, account)?;
    let rows = ledger_app::replay::alerts::alerts(p, as_of, Some(account));
    Ok(json_response(
        StatusCode::OK,
        to_json(&ledger_render::json::alerts_document(&rows))?,
        version.as_deref(),
    ))
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

fn accounts(p: &Projections, query: &Query) -> Result<Response, ApiError> {
    let version = api_version(query, false)?;
    let value: Vec<serde_json::Value> = p
        .ledger
        .accounts
        .keys()
        .map(|name| account_json(p, name))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        to_json(&serde_json::json!({ "value": value }))?,
        version.as_deref(),
    ))
}

fn account(p: &Projections, query: &Query, account: &str) -> Result<Response, ApiError> {
    let version = api_version(query, false)?;
    let account = resolve_account(p, account)?;
    Ok(json_response(
        StatusCode::OK,
        to_json(&account_json(p, account))?,
        version.as_deref(),
    ))
}

/// The burn-down report page (`ledger_render::report`), of every account or one, as of `asOf` (default:
/// the ledger clock). The page fetches nothing; the header says so to the browser too.
fn report(p: &Projections, query: &Query, account: Option<&str>) -> Result<Response, ApiError> {
    let as_of = date_param(query, "asof", "asOf")?;
    let account = account.map(|a| resolve_account(p, a)).transpose()?;
    let body = ledger_render::report::page(p, as_of, account, &[]);
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

fn index(state: &AppState, p: &Projections) -> Response {
    let body = serde_json::json!({
        "name": "ledger serve",
        "version": env!("CARGO_PKG_VERSION"),
        "openapi": "/openapi.json",
        "report": "/",
        "accountReport": "/accounts/{account}",
        "accounts": p.ledger.accounts.keys().collect::<Vec<_>>(),
        "writes": state.allow_writes,
        "logPosition": p.next_seq,
    });
    json_response(StatusCode::OK, body.to_string().into_bytes(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let base = "/providers/Microsoft.Billing/billingAccounts";
        let cases: &[(&str, Option<Route>)] = &[
            ("/", Some(Route::Report)),
            ("/api", Some(Route::Index)),
            ("/accounts/c", Some(Route::AccountReport("c".into()))),
            ("/Accounts/a%3Ab/", Some(Route::AccountReport("a:b".into()))),
            ("/accounts", None),
            ("/accounts/c/x", None),
            ("/openapi.json", Some(Route::OpenApi)),
            (base, Some(Route::Accounts)),
            (&format!("{base}/"), Some(Route::Accounts)),
            (&format!("{base}/a%3Ab"), Some(Route::Account("a:b".into()))),
            (&format!("{base}/c/providers/Microsoft.Consumption/lots"), Some(Route::Lots("c".into()))),
            ("/PROVIDERS/microsoft.billing/BILLINGACCOUNTS/c/providers/microsoft.consumption/LOTS/", Some(Route::Lots("c".into()))),
            (&format!("{base}/c/providers/Microsoft.Consumption/events"), Some(Route::Events("c".into()))),
            (&format!("{base}/c/billingProfiles/Eng%20One/providers/Microsoft.Consumption/events"), Some(Route::ProfileEvents("c".into(), "Eng One".into()))),
            (&format!("{base}/c/caco"), Some(Route::Caco("c".into()))),
            (&format!("{base}/c/invoices"), Some(Route::Invoices("c".into()))),
            (&format!("{base}/c/alerts"), Some(Route::Alerts("c".into()))),
            ("/ledger/agreements", Some(Route::PostAgreement)),
            ("/ledger/charges", Some(Route::PostCharges)),
            ("/nope", None),
            ("", None),
            ("//", None),
            (&format!("{base}//caco"), None),
            (&format!("{base}/c/providers/Microsoft.Consumption/lots/x"), None),
            (&format!("{base}/c/providers/Microsoft.Consumption/usageDetails"), None),
            (&format!("{base}/%FF/caco"), None),
            (&format!("{base}/c/caco//"), None),
        ];
        for (path, expected) in cases {
            assert_eq!(&Route::parse(path), expected, "{path}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
