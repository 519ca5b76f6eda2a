//! The dispatcher.
//!
//! Every request goes through [`dispatch`]: size limits (414, 431), the bearer token (401),
//! the path (404; fixed segments case-insensitive, as Azure Resource Manager matches them;
//! segments percent-decoded, so `a%3Ab` is the account `a:b`), the method (405 with `Allow`),
//! then the handler. Everything a handler refuses is an [`ApiError`]: the Azure error body.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_render::benefits::Benefit;
use percent_encoding::percent_decode_str;

use super::benefits::{self, Place, Scope};
use super::error::ApiError;
use super::params::{shorten, Query};
use super::respond::{json_response, origin, Context};
use super::state::AppState;
use super::{consumption, openapi, views, writes};

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
    ProfileLots(String, String),
    Events(String),
    ProfileEvents(String, String),
    CreditSummary(String, String),
    Caco(String),
    Invoices(String),
    Alerts(String),
    ApplicableMaccs(String),
    ApplicableConditionalCredits(Scope),
    ApplicableCredits(Scope),
    /// The contributors of an applicable MACC or conditional credit: (account, kind, id).
    Contributors(String, Benefit, String),
    /// `maccs`, `conditionalCredits`, `credits` under a subscription or resource group.
    Benefits(Benefit, Place),
    PostAgreement,
    PostCharges,
}

/// The lowercase suffixes of the two `{scope}` routes.
const SCOPE_SUFFIXES: &[(&str, bool)] = &[
    (
        "/providers/microsoft.billingbenefits/applicableconditionalcredits",
        true,
    ),
    (
        "/providers/microsoft.billingbenefits/applicablecredits",
        false,
    ),
];

impl Route {
    /// The route of a request path as sent (percent-encoded). `None`: no such resource.
    pub fn parse(raw_path: &str) -> Option<Route> {
        if let Some(route) = Route::parse_scope(raw_path) {
            return Some(route);
        }
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
        if is(0, "subscriptions") {
            return Route::parse_subscription(&s);
        }
        if !(is(0, "providers") && is(1, "microsoft.billing") && is(2, "billingaccounts")) {
            return None;
        }
        if s.len() == 3 {
            return Some(Route::Accounts);
        }
        Route::parse_account(&s)
    }

    /// `/{scope}/providers/Microsoft.BillingBenefits/applicable(Conditional)Credits`, the scope
    /// percent-encoded as one segment (as the SDK sends it) or not: the text before the suffix
    /// is decoded whole, its slashes trimmed, and read as a billing account or profile.
    fn parse_scope(raw_path: &str) -> Option<Route> {
        let trimmed = raw_path.strip_suffix('/').unwrap_or(raw_path);
        let lower = trimmed.to_ascii_lowercase();
        let (suffix, conditional) = SCOPE_SUFFIXES
            .iter()
            .find(|(suffix, _)| lower.ends_with(suffix))?;
        let scope_raw = &trimmed[..trimmed.len() - suffix.len()];
        let scope = percent_decode_str(scope_raw).decode_utf8().ok()?;
        let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
        let is = |i: usize, word: &str| parts.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
        if parts.iter().any(|p| p.is_empty())
            || !(is(0, "providers") && is(1, "microsoft.billing") && is(2, "billingaccounts"))
        {
            return None;
        }
        let scope = match parts.len() {
            4 => Scope {
                account: parts[3].to_string(),
                profile: None,
            },
            6 if is(4, "billingprofiles") => Scope {
                account: parts[3].to_string(),
                profile: Some(parts[5].to_string()),
            },
            _ => return None,
        };
        Some(if *conditional {
            Route::ApplicableConditionalCredits(scope)
        } else {
            Route::ApplicableCredits(scope)
        })
    }

    /// `/subscriptions/{s}[/resourceGroups/{account}]/providers/Microsoft.BillingBenefits/{type}[/{name}]`.
    fn parse_subscription(s: &[&str]) -> Option<Route> {
        let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
        let (group, at) = if is(2, "resourcegroups") {
            (Some(s.get(3)?.to_string()), 4)
        } else {
            (None, 2)
        };
        if !(is(at, "providers") && is(at + 1, "microsoft.billingbenefits")) {
            return None;
        }
        let benefit = benefit_of(s.get(at + 2)?)?;
        let place = match (group, s.len() - at) {
            (None, 3) => Place::Subscription,
            (Some(account), 3) => Place::Group(account),
            (Some(account), 4) => Place::Resource(account, s[at + 3].to_string()),
            _ => return None,
        };
        Some(Route::Benefits(benefit, place))
    }

    /// What follows `/providers/Microsoft.Billing/billingAccounts/{account}`.
    fn parse_account(s: &[&str]) -> Option<Route> {
        let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
        let named = |i: usize| s.get(i).map(|x| x.to_string());
        let account = named(3)?;
        let provider = |i: usize, namespace: &str, what: &str| {
            is(i, "providers") && is(i + 1, namespace) && is(i + 2, what)
        };
        let consumption =
            |i: usize, what: &str| s.len() == i + 3 && provider(i, "microsoft.consumption", what);
        let benefits = |what: &str| provider(4, "microsoft.billingbenefits", what);
        Some(match s.len() {
            4 => Route::Account(account),
            5 if is(4, "caco") => Route::Caco(account),
            5 if is(4, "invoices") => Route::Invoices(account),
            5 if is(4, "alerts") => Route::Alerts(account),
            7 if consumption(4, "lots") => Route::Lots(account),
            7 if consumption(4, "events") => Route::Events(account),
            7 if benefits("applicablemaccs") => Route::ApplicableMaccs(account),
            9 if is(4, "billingprofiles") && consumption(6, "lots") => {
                Route::ProfileLots(account, named(5)?)
            }
            9 if is(4, "billingprofiles") && consumption(6, "events") => {
                Route::ProfileEvents(account, named(5)?)
            }
            10 if is(4, "billingprofiles")
                && provider(6, "microsoft.consumption", "credits")
                && is(9, "balancesummary") =>
            {
                Route::CreditSummary(account, named(5)?)
            }
            11 if provider(8, "microsoft.billingbenefits", "applicablecontributors") => {
                let benefit = if benefits("applicablemaccs") {
                    Benefit::Macc
                } else if benefits("applicableconditionalcredits") {
                    Benefit::ConditionalCredit
                } else {
                    return None;
                };
                Route::Contributors(account, benefit, named(7)?)
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

/// `maccs`, `conditionalCredits`, `credits` (any case).
fn benefit_of(segment: &str) -> Option<Benefit> {
    [Benefit::Macc, Benefit::ConditionalCredit, Benefit::Credit]
        .into_iter()
        .find(|b| b.resource_type().eq_ignore_ascii_case(segment))
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
    let caller = state.access.caller(request.headers())?;
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
    let cx = Context {
        state,
        caller,
        query: Query::parse(request.uri().query()),
        origin: origin(state, request.headers()),
        path,
    };
    match route {
        Route::PostAgreement => writes::agreement(&cx, request).await,
        Route::PostCharges => writes::charges(&cx, request).await,
        route => read(&cx, route),
    }
}

fn read(cx: &Context<'_>, route: Route) -> Result<Response, ApiError> {
    match route {
        Route::Report => views::report(cx, None),
        Route::AccountReport(a) => views::report(cx, Some(&a)),
        Route::Index => Ok(views::index(cx)),
        Route::OpenApi => Ok(json_response(
            StatusCode::OK,
            openapi::document(cx).to_string().into_bytes(),
            None,
        )),
        Route::Accounts => views::accounts(cx),
        Route::Account(a) => views::account(cx, &a),
        Route::Lots(a) => consumption::lots(cx, &a, None),
        Route::ProfileLots(a, profile) => consumption::lots(cx, &a, Some(&profile)),
        Route::Events(a) => consumption::events(cx, &a, None),
        Route::ProfileEvents(a, profile) => consumption::events(cx, &a, Some(&profile)),
        Route::CreditSummary(a, profile) => consumption::credit_summary(cx, &a, &profile),
        Route::Caco(a) => views::caco(cx, &a),
        Route::Invoices(a) => views::invoices(cx, &a),
        Route::Alerts(a) => views::alerts(cx, &a),
        Route::ApplicableMaccs(a) => benefits::applicable_maccs(cx, &a),
        Route::ApplicableConditionalCredits(scope) => {
            benefits::applicable_conditional_credits(cx, &scope)
        }
        Route::ApplicableCredits(scope) => benefits::applicable_credits(cx, &scope),
        Route::Contributors(a, benefit, id) => benefits::contributors(cx, &a, benefit, &id),
        Route::Benefits(benefit, place) => benefits::resources(cx, benefit, &place),
        Route::PostAgreement | Route::PostCharges => {
            Err(ApiError::internal("a write routed as a read"))
        }
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
            // Consumption at billing-profile scope.
            (&format!("{base}/c/billingProfiles/Eng/providers/Microsoft.Consumption/lots"), Some(Route::ProfileLots("c".into(), "Eng".into()))),
            (&format!("{base}/c/billingProfiles/Eng/providers/Microsoft.Consumption/credits/balanceSummary"), Some(Route::CreditSummary("c".into(), "Eng".into()))),
            (&format!("{base}/c/billingProfiles/Eng/providers/Microsoft.Consumption/credits"), None),
            // BillingBenefits, as the SDK spells it (microsoft.Billing, %2F in a scope).
            ("/providers/microsoft.Billing/billingAccounts/a%3Ab/providers/Microsoft.BillingBenefits/applicableMaccs", Some(Route::ApplicableMaccs("a:b".into()))),
            ("/providers/microsoft.Billing/billingAccounts/c/providers/Microsoft.BillingBenefits/applicableMaccs/m%2F1/providers/microsoft.BillingBenefits/applicableContributors", Some(Route::Contributors("c".into(), Benefit::Macc, "m/1".into()))),
            ("/providers/microsoft.Billing/billingAccounts/c/providers/Microsoft.BillingBenefits/applicableConditionalCredits/k/providers/microsoft.BillingBenefits/applicableContributors", Some(Route::Contributors("c".into(), Benefit::ConditionalCredit, "k".into()))),
            ("/providers/microsoft.Billing/billingAccounts/c/providers/Microsoft.BillingBenefits/applicableCredits/k/providers/microsoft.BillingBenefits/applicableContributors", None),
            ("/providers%2FMicrosoft.Billing%2FbillingAccounts%2Fa%3Ab/providers/Microsoft.BillingBenefits/applicableCredits", Some(Route::ApplicableCredits(Scope { account: "a:b".into(), profile: None }))),
            ("/%2Fproviders%2FMicrosoft.Billing%2FbillingAccounts%2Fc/providers/Microsoft.BillingBenefits/applicableConditionalCredits", Some(Route::ApplicableConditionalCredits(Scope { account: "c".into(), profile: None }))),
            (&format!("{base}/c/providers/microsoft.billingbenefits/APPLICABLECREDITS/"), Some(Route::ApplicableCredits(Scope { account: "c".into(), profile: None }))),
            ("/providers%2FMicrosoft.Billing%2FbillingAccounts%2Fc%2FbillingProfiles%2FEng%20One/providers/Microsoft.BillingBenefits/applicableCredits", Some(Route::ApplicableCredits(Scope { account: "c".into(), profile: Some("Eng One".into()) }))),
            ("/providers%2FMicrosoft.Billing%2FbillingAccounts%2Fc%2Fcustomers%2Fx/providers/Microsoft.BillingBenefits/applicableCredits", None),
            ("/providers%2FMicrosoft.Billing%2FbillingAccounts/providers/Microsoft.BillingBenefits/applicableCredits", None),
            ("/providers/Microsoft.BillingBenefits/applicableCredits", None),
            ("/subscriptions/s/resourceGroups/a%3Ab/providers/Microsoft.BillingBenefits/maccs/m1", Some(Route::Benefits(Benefit::Macc, Place::Resource("a:b".into(), "m1".into())))),
            ("/subscriptions/s/resourceGroups/c/providers/Microsoft.BillingBenefits/credits/macc-2025%2FM1%2Fshortfall", Some(Route::Benefits(Benefit::Credit, Place::Resource("c".into(), "macc-2025/M1/shortfall".into())))),
            ("/SUBSCRIPTIONS/s/RESOURCEGROUPS/c/providers/microsoft.billingbenefits/CONDITIONALCREDITS", Some(Route::Benefits(Benefit::ConditionalCredit, Place::Group("c".into())))),
            ("/subscriptions/s/providers/Microsoft.BillingBenefits/credits", Some(Route::Benefits(Benefit::Credit, Place::Subscription))),
            ("/subscriptions/s/providers/Microsoft.BillingBenefits/credits/x", None),
            ("/subscriptions/s/providers/Microsoft.BillingBenefits/savingsPlans", None),
            ("/subscriptions/s/resourceGroups/c/providers/Microsoft.BillingBenefits/maccs/m/contributors", None),
        ];
        for (path, expected) in cases {
            assert_eq!(&Route::parse(path), expected, "{path}");
        }
    }
}
