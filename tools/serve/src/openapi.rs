//! `/openapi.json`: an OpenAPI 3.0 description of every endpoint, its parameters (with the
//! patterns the server enforces, so that a request valid by the document is answered and one
//! invalid by it is refused), its responses and the Azure error body.
//!
//! Hand-written; `tools/tests/serve_http.rs` checks that each documented path answers, and the
//! schemathesis run (see `scripts/serve-schemathesis.sh`) checks the responses against the
//! schemas.

use serde_json::{json, Value};

use super::filter::Target;
use super::openapi_benefits;
use super::openapi_parts::{
    api_version, date_or_datetime, error, filter_param, get, paged_errors, paging_params,
    path_param, query, read_errors, reference, response, ACCOUNT,
};
use super::respond::Context;
use super::writes;

fn write_op(summary: &str, operation_id: &str, content: Value, with_token: bool) -> Value {
    let mut responses = json!({
        "200": response("Recorded (or already recorded with the same content).", "WriteOutcome"),
        "400": error("The body breaks the request schema (code InvalidRequestBody): empty or blank, or a JSON agreement that is not an object with account and currency. Nothing was recorded."),
        "403": error("The server was started without --allow-writes."),
        "405": error("Method not allowed (see the Allow header)."),
        "408": error("The body stalled for --idle-timeout (RequestTimeout); nothing was recorded."),
        "413": error("The body is larger than --max-upload-bytes."),
        "422": error("The body is well-formed but the ledger refuses its content (InvalidAgreement, InvalidChargeFile): a column or value it cannot read, a rule it breaks (a MACC ending before it starts), an invoice settled before with other content. The message is the one `ledger` prints, with file, line and column; nothing was recorded."),
        "503": error("--max-uploads uploads are being received (ServerBusy: retry), another process held the ledger for the whole 60 s a write waits for it (LedgerBusy: retry), or an earlier write failed unexpectedly (StoreUnavailable: restart the server to write again)."),
        "default": error("Any other refusal, as an Azure error body."),
    });
    if with_token {
        responses["401"] = error("The bearer token is missing or wrong.");
    }
    json!({ "post": {
        "summary": summary,
        "operationId": operation_id,
        "parameters": [ query("name", false, "The file name used in messages.", json!({ "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$" })) ],
        "requestBody": { "required": true, "content": content },
        "responses": responses,
    } })
}

/// A text request body: at least one character that is not blank (the server answers 400 to
/// an empty or blank body and judges the rest by its content: 422 when refused).
fn text_body(description: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "pattern": writes::BLANK_PATTERN, "description": description })
}

/// An agreement as JSON: the server checks exactly the shape stated as required here (400
/// otherwise); the agreement reader judges the rest (422 when refused).
fn agreement_json_schema() -> Value {
    let text = json!({ "type": "string" });
    let amount = json!({ "oneOf": [ { "type": "string" }, { "type": "number" } ], "description": "An exact decimal: a string, or a number read by its shortest decimal spelling." });
    let date = json!({ "type": "string", "description": "YYYY-MM-DD" });
    json!({
        "type": "object",
        "description": "The agreement file's keys (docs: the agreement file). Only account and currency are checked by shape; the rest is judged by the agreement reader (422 with file, line and what was expected).",
        "required": ["account", "currency"],
        "properties": {
            "account": { "type": "string", "minLength": 1 },
            "currency": { "type": "string", "minLength": 1 },
            "rulebook": { "type": "integer" },
            "credit_order": text,
            "prepayment_term_months": { "type": "integer" },
            "partner_earned_credit_rate": amount,
            "eligible_publishers": { "type": "array", "items": text },
            "eligible_offers": { "type": "array", "items": text },
            "macc": { "type": "array", "items": { "type": "object", "properties": {
                "id": text, "amount": amount, "start": date, "end": date, "purchased": date,
                "enrollment_end": date, "renewed": { "type": "boolean" },
                "shortfall_credit_months": { "type": "integer" },
                "milestones": { "type": "array", "items": { "type": "object", "properties": {
                    "id": text, "due": date, "target": amount } } } } } },
            "caco": { "type": "array", "items": { "type": "object", "properties": {
                "id": text, "start": date, "basis": text, "award_months": { "type": "integer" },
                "milestones": { "type": "array", "items": { "type": "object", "properties": {
                    "id": text, "start": date, "end": date, "target": amount, "award": amount } } } } } },
            "credit": { "type": "array", "items": { "type": "object", "properties": {
                "id": text, "kind": text, "amount": amount, "start": date, "expires": date,
                "covers": { "type": "array", "items": text } } } }
        }
    })
}

fn schemas() -> Value {
    let amount = json!({ "type": "object", "required": ["currency", "value"], "properties": {
        "currency": { "type": "string" }, "value": { "type": "number" } } });
    let nullable_string = json!({ "type": "string", "nullable": true });
    let date = json!({ "type": "string", "format": "date" });
    json!({
        "ErrorResponse": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string" }, "message": { "type": "string" } } } }
        },
        "Amount": amount,
        "Caco": {
            "type": "object",
            "required": ["id", "account", "status", "basis", "currency", "startDate", "endDate", "commitmentAmount", "remainingCommitment", "milestones", "transactions"],
            "properties": {
                "id": { "type": "string" }, "account": { "type": "string" }, "status": { "type": "string" },
                "basis": { "type": "string" }, "currency": { "type": "string" },
                "startDate": date, "endDate": date,
                "commitmentAmount": { "type": "number" }, "remainingCommitment": { "type": "number" },
                "milestones": { "type": "array", "items": { "type": "object",
                    "required": ["id", "startDate", "endDate", "consumptionTarget", "progress", "progressPercent", "acoAward", "status"],
                    "properties": { "id": { "type": "string" }, "startDate": date, "endDate": date,
                        "consumptionTarget": { "type": "number" }, "progress": { "type": "number" },
                        "progressPercent": { "type": "number" }, "acoAward": { "type": "number" }, "status": { "type": "string" },
                        "pendingProgress": { "type": "number", "description": "R-PEND-3: progress with the pending (month-to-date) charges estimated; only while a pending run applies." } } } },
                "transactions": { "type": "array", "items": { "type": "object",
                    "required": ["date", "description", "billingProfile", "invoiceNumber", "cacoDecrement", "remainingCommitment"],
                    "properties": { "date": date, "description": { "type": "string" }, "billingProfile": { "type": "string" },
                        "invoiceNumber": { "type": "string" }, "cacoDecrement": { "type": "number" },
                        "remainingCommitment": { "type": "number" } } } },
                "pendingRemainingCommitment": { "type": "number", "description": "R-PEND-3: the remaining commitment with the pending charges estimated; only while a pending run applies." },
                "pendingTransactions": { "type": "array", "description": "The transactions the pending charges would add (R-PEND-3).", "items": { "type": "object" } }
            }
        },
        "CacoList": { "type": "object", "required": ["value"], "properties": { "value": { "type": "array", "items": reference("Caco") } } },
        "Invoice": {
            "type": "object",
            "required": ["invoiceNumber", "account", "currency", "invoiceDate", "periodStart", "periodEnd", "lineCount", "charges", "creditsApplied", "billed", "partnerEarnedCredit", "invoiceAmount", "synthetic"],
            "properties": {
                "invoiceNumber": { "type": "string" }, "account": { "type": "string" }, "currency": { "type": "string" },
                "invoiceDate": date, "periodStart": date, "periodEnd": date, "lineCount": { "type": "integer", "minimum": 0 },
                "charges": { "type": "number" }, "creditsApplied": { "type": "number" }, "billed": { "type": "number" },
                "partnerEarnedCredit": { "type": "number" }, "invoiceAmount": { "type": "number" }, "synthetic": { "type": "boolean" }
            }
        },
        "InvoiceList": { "type": "object", "required": ["value"], "properties": { "value": { "type": "array", "items": reference("Invoice") } } },
        "Alert": {
            "type": "object",
            "required": ["id", "kind", "account", "currency", "endDate", "daysLeft", "alert", "remaining", "requiredMonthlyRate", "actualMonthlyRate", "risk", "forecastCompletion", "forecastReason", "forecastShortfall"],
            "properties": {
                "id": { "type": "string" }, "kind": { "type": "string", "enum": ["macc", "caco", "milestone"] },
                "account": { "type": "string" }, "currency": { "type": "string" }, "parent": nullable_string, "endDate": date,
                "daysLeft": { "type": "integer" }, "alert": { "type": "integer", "nullable": true, "enum": [90, 60, 30, null] },
                "remaining": { "type": "number" }, "requiredMonthlyRate": { "type": "number" }, "actualMonthlyRate": { "type": "number" },
                "risk": { "type": "string", "enum": ["Low", "Medium", "High"] },
                "forecastCompletion": { "type": "string", "format": "date", "nullable": true },
                "forecastReason": nullable_string,
                "forecastShortfall": { "type": "number" },
                "pendingRemaining": { "type": "number", "description": "R-PEND-3: the remaining with the pending charges estimated; only while a pending run applies." }
            }
        },
        "AlertList": { "type": "object", "required": ["value", "credits"], "properties": { "value": { "type": "array", "items": reference("Alert") }, "credits": { "type": "array", "items": reference("ExpiringCredit") } } },
        "ExpiringCredit": {
            "type": "object",
            "required": ["lot", "kind", "account", "currency", "expires", "daysLeft", "alert", "amountAtRisk"],
            "properties": {
                "lot": { "type": "string" }, "kind": { "type": "string" }, "account": { "type": "string" },
                "currency": { "type": "string" }, "expires": date, "daysLeft": { "type": "integer" },
                "alert": { "type": "integer", "enum": [90, 60, 30] }, "amountAtRisk": { "type": "number" }
            }
        },
        "BillingAccount": {
            "type": "object", "required": ["id", "name", "type", "properties"],
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "type": { "type": "string", "enum": ["Microsoft.Billing/billingAccounts"] },
                "properties": { "type": "object", "properties": {
                    "displayName": { "type": "string" }, "currency": nullable_string,
                    "agreementVersion": { "type": "integer", "nullable": true } } }
            }
        },
        "BillingAccountList": { "type": "object", "required": ["value"], "properties": { "value": { "type": "array", "items": reference("BillingAccount") } } },
        "Index": { "type": "object", "required": ["name", "openapi", "accounts", "writes"], "properties": {
            "name": { "type": "string" }, "version": { "type": "string" }, "openapi": { "type": "string" },
            "accounts": { "type": "array", "items": { "type": "string" } }, "writes": { "type": "boolean" },
            "logPosition": { "type": "integer" }, "report": { "type": "string" },
            "accountReport": { "type": "string" } } },
        "AgreementJson": agreement_json_schema(),
        "WriteOutcome": { "type": "object", "required": ["message"], "properties": { "message": { "type": "string" } } }
    })
}

/// The document for this server (the bearer scheme is declared when a token is required).
pub fn document(cx: &Context<'_>) -> Value {
    let t = cx.state.access.required();
    // Examples from this ledger (what the caller may read), so that example-based clients
    // (and fuzzers) reach real data.
    let p = cx.current();
    let first_account = cx.readable(&p).first().copied();
    let first_profile = first_account.and_then(|a| p.views.get(a)).and_then(|v| {
        v.lot_events
            .iter()
            .find_map(|e| e.billing_profile.as_deref())
    });
    let account = path_param(
        "billingAccountId",
        "The billing account (the agreement's `account`); percent-encode `:` as %3A.",
        first_account,
    );
    let mut paths = serde_json::Map::new();
    for (path, item) in [
        report_paths(&account, t),
        index_paths(&account, t),
        consumption_paths(&account, first_profile, t),
        openapi_benefits::paths(&p, first_account, first_profile, t),
        view_paths(&account, t),
        write_paths(t),
    ]
    .into_iter()
    .flatten()
    {
        paths.insert(path, item);
    }
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "ledger serve: Azure Consumption and BillingBenefits APIs over an event-sourced commitment ledger",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Azure's Consumption lots, events and credits balance summary, and Microsoft.BillingBenefits MACCs, conditional credits (CACOs) and credits (paths, shapes, api-version, $filter, nextLink paging pinned to a log position), plus the ledger's CACO, invoices and alerts views. The BillingBenefits `{scope}` paths are listed with the billing account unencoded; the same paths with the scope percent-encoded as one segment (as the Azure SDK sends them) are answered too. The single BillingBenefits resources live under /subscriptions/{any}/resourceGroups/{billing account}. Errors are Azure error bodies."
        },
        "paths": Value::Object(paths),
        "components": { "schemas": all_schemas() },
    });
    if t {
        doc["components"]["securitySchemes"] =
            json!({ "bearer": { "type": "http", "scheme": "bearer" } });
        doc["security"] = json!([{ "bearer": [] }]);
    }
    doc
}

/// The Lots and Events API shapes (INTERFACE.md's fields and Azure's others).
fn lot_and_event_schemas() -> Vec<(&'static str, Value)> {
    let nullable_string = json!({ "type": "string", "nullable": true });
    let datetime = json!({ "type": "string", "format": "date-time" });
    vec![
        (
            "LotSummary",
            json!({
                "type": "object", "required": ["id", "name", "type", "eTag", "properties"],
                "properties": {
                    "id": { "type": "string" }, "name": { "type": "string" },
                    "type": { "type": "string", "enum": ["Microsoft.Consumption/lots"] },
                    "eTag": nullable_string,
                    "properties": { "type": "object",
                        "required": ["source", "status", "originalAmount", "closedBalance", "startDate", "expirationDate", "kind",
                            "usedAmount", "creditCurrency", "billingCurrency", "originalAmountInBillingCurrency", "closedBalanceInBillingCurrency", "isEstimatedBalance"],
                        "properties": {
                            "source": { "type": "string", "enum": ["ConsumptionCommitment", "PurchasedCredit", "PromotionalCredit"] },
                            "status": { "type": "string", "enum": ["Inactive", "Active", "Complete", "Expired", "Canceled"] },
                            "originalAmount": reference("Amount"), "closedBalance": reference("Amount"),
                            "startDate": datetime, "expirationDate": datetime, "purchasedDate": datetime,
                            "kind": { "type": "string" },
                            "usedAmount": reference("Amount"),
                            "creditCurrency": { "type": "string" }, "billingCurrency": { "type": "string" },
                            "originalAmountInBillingCurrency": reference("AmountWithExchangeRate"),
                            "closedBalanceInBillingCurrency": reference("AmountWithExchangeRate"),
                            "isEstimatedBalance": { "type": "boolean" },
                            "pendingBalance": reference("Amount"),
                            "milestones": { "type": "array", "items": { "type": "object",
                                "required": ["id", "dueDate", "status", "target", "progress", "shortfall"],
                                "properties": {
                                    "id": { "type": "string" }, "dueDate": { "type": "string", "format": "date" },
                                    "status": { "type": "string", "enum": ["Scheduled", "Active", "Pending", "Completed", "Missed", "Canceled"] },
                                    "target": { "type": "number" }, "progress": { "type": "number" },
                                    "shortfall": { "type": "number", "nullable": true } } } } } }
                }
            }),
        ),
        (
            "LotList",
            json!({ "type": "object", "required": ["value"], "properties": {
            "value": { "type": "array", "items": reference("LotSummary") },
            "nextLink": { "type": "string", "description": "Absolute URL of the next page; absent on the last." } } }),
        ),
        (
            "EventSummary",
            json!({
                "type": "object", "required": ["id", "name", "type", "eTag", "properties"],
                "properties": {
                    "id": { "type": "string" }, "name": { "type": "string" },
                    "type": { "type": "string", "enum": ["Microsoft.Consumption/events"] },
                    "eTag": nullable_string,
                    "properties": { "type": "object",
                        "required": ["transactionDate", "description", "lotId", "lotSource", "charges", "closedBalance", "eventType",
                            "billingAccountId", "billingProfileId", "newCredit", "adjustments", "creditExpired", "canceledCredit",
                            "creditCurrency", "billingCurrency", "isEstimatedBalance"],
                        "properties": {
                            "transactionDate": datetime, "description": { "type": "string" },
                            "billingProfileDisplayName": nullable_string,
                            "lotId": { "type": "string" }, "lotSource": { "type": "string" },
                            "charges": reference("Amount"), "closedBalance": reference("Amount"),
                            "eventType": { "type": "string", "enum": ["SettledCharges", "NewCredit", "PendingExpiredCredit",
                                "CommitmentAmended", "CommitmentCanceled", "CreditAmended", "CanceledCredit",
                                "PendingCharges", "PendingNewCredit", "PendingAdjustments"] },
                            "invoiceNumber": nullable_string,
                            "billingAccountId": { "type": "string" }, "billingAccountDisplayName": { "type": "string" },
                            "billingProfileId": nullable_string,
                            "newCredit": reference("Amount"), "adjustments": reference("Amount"),
                            "creditExpired": reference("Amount"), "canceledCredit": reference("Amount"),
                            "creditCurrency": { "type": "string" }, "billingCurrency": { "type": "string" },
                            "newCreditInBillingCurrency": reference("AmountWithExchangeRate"),
                            "adjustmentsInBillingCurrency": reference("AmountWithExchangeRate"),
                            "creditExpiredInBillingCurrency": reference("AmountWithExchangeRate"),
                            "chargesInBillingCurrency": reference("AmountWithExchangeRate"),
                            "closedBalanceInBillingCurrency": reference("AmountWithExchangeRate"),
                            "isEstimatedBalance": { "type": "boolean" } } }
                }
            }),
        ),
        (
            "EventList",
            json!({ "type": "object", "required": ["value"], "properties": {
            "value": { "type": "array", "items": reference("EventSummary") },
            "nextLink": { "type": "string", "description": "Absolute URL of the next page; absent on the last." } } }),
        ),
    ]
}

/// The schemas of the Consumption fields beyond INTERFACE.md's.
fn consumption_schemas() -> Vec<(&'static str, Value)> {
    let nullable_string = json!({ "type": "string", "nullable": true });
    let amount_with_rate = json!({ "type": "object", "required": ["currency", "value", "exchangeRate", "exchangeRateMonth"], "properties": {
        "currency": { "type": "string" }, "value": { "type": "number" },
        "exchangeRate": { "type": "number", "description": "1: a ledger account has one currency." },
        "exchangeRateMonth": { "type": "integer", "description": "YYYYMM: the month the amount is as of." } } });
    let summary = json!({
        "type": "object", "required": ["id", "name", "type", "properties"],
        "properties": {
            "id": { "type": "string" }, "name": { "type": "string", "enum": ["balanceSummary"] },
            "type": { "type": "string", "enum": ["Microsoft.Consumption/credits"] },
            "eTag": nullable_string,
            "properties": { "type": "object",
                "required": ["balanceSummary", "pendingCreditAdjustments", "expiredCredit", "pendingEligibleCharges", "creditCurrency", "billingCurrency", "isEstimatedBalance"],
                "properties": {
                    "balanceSummary": { "type": "object", "required": ["estimatedBalance", "currentBalance", "estimatedBalanceInBillingCurrency"], "properties": {
                        "estimatedBalance": reference("Amount"), "currentBalance": reference("Amount"),
                        "estimatedBalanceInBillingCurrency": reference("AmountWithExchangeRate") } },
                    "pendingCreditAdjustments": reference("Amount"),
                    "expiredCredit": reference("Amount"),
                    "pendingEligibleCharges": reference("Amount"),
                    "creditCurrency": { "type": "string" }, "billingCurrency": { "type": "string" },
                    "isEstimatedBalance": { "type": "boolean" } } }
        }
    });
    vec![
        ("AmountWithExchangeRate", amount_with_rate),
        ("CreditSummary", summary),
    ]
}

fn all_schemas() -> Value {
    let mut schemas = schemas();
    for (name, schema) in lot_and_event_schemas()
        .into_iter()
        .chain(consumption_schemas())
        .chain(openapi_benefits::schemas())
    {
        schemas[name] = schema;
    }
    schemas
}

/// The burn-down report pages.
fn report_paths(account: &Value, t: bool) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    let mut add = |path: String, item: Value| paths.push((path, item));
    let bad = |what: &'static str| [("400", what)];
    let html = |description: &str| json!({ "description": description, "content": { "text/html": { "schema": { "type": "string" } } } });
    let as_of_param = || {
        query(
            "asOf",
            false,
            "The report's \"today\": the as-of line, alerts and forecasts (default: the ledger clock, the newest settled invoice).",
            date_or_datetime(),
        )
    };
    add(
        "/".into(),
        get(
            "The burn-down report of every account (HTML, as `ledger report`)",
            "Report",
            vec![as_of_param()],
            html("A self-contained HTML page: burn-down charts, milestones, credits, transactions, alerts."),
            read_errors(t, &bad("Malformed asOf.")),
        ),
    );
    add(
        "/accounts/{billingAccountId}".into(),
        get(
            "The burn-down report of one billing account (HTML)",
            "AccountReport",
            vec![account.clone(), as_of_param()],
            html("A self-contained HTML page for the account."),
            read_errors(t, &bad("Malformed asOf.")),
        ),
    );
    paths
}

/// What the server serves, this document, and the billing accounts.
fn index_paths(account: &Value, t: bool) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    let mut add = |path: String, item: Value| paths.push((path, item));
    let bad = |what: &'static str| [("400", what)];
    add(
        "/api".into(),
        get(
            "What this server serves",
            "Index",
            vec![],
            response(
                "Accounts, log position, whether writes are allowed.",
                "Index",
            ),
            read_errors(t, &[]),
        ),
    );
    add(
        "/openapi.json".into(),
        get(
            "This document",
            "OpenApi",
            vec![],
            json!({ "description": "OpenAPI 3.0 document.", "content": { "application/json": { "schema": { "type": "object" } } } }),
            read_errors(t, &[]),
        ),
    );
    add(
        "/providers/Microsoft.Billing/billingAccounts".into(),
        get(
            "Billing accounts in this ledger",
            "BillingAccounts_List",
            vec![api_version(false)],
            response("The accounts.", "BillingAccountList"),
            read_errors(t, &bad("Malformed api-version.")),
        ),
    );
    add(
        ACCOUNT.into(),
        get(
            "One billing account",
            "BillingAccounts_Get",
            vec![account.clone(), api_version(false)],
            response("The account.", "BillingAccount"),
            read_errors(t, &bad("Malformed api-version.")),
        ),
    );
    paths
}

/// Azure's Consumption lots and events (by account and by billing profile).
fn consumption_paths(
    account: &Value,
    first_profile: Option<&str>,
    t: bool,
) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    let mut add = |path: String, item: Value| paths.push((path, item));
    let bad = |what: &'static str| [("400", what)];
    let consumption = |what: &str| format!("{ACCOUNT}/providers/Microsoft.Consumption/{what}");
    let lots_params = [
        vec![
            account.clone(),
            api_version(true),
            filter_param(Target::Lots, "source eq 'ConsumptionCommitment'"),
        ],
        paging_params(),
    ]
    .concat();
    let events_params = [
        vec![
            account.clone(),
            api_version(true),
            filter_param(Target::Events, "lotSource eq 'ConsumptionCommitment'"),
            query(
                "startDate",
                false,
                "Only events on or after this date (YYYY-MM-DD or an RFC 3339 date-time).",
                date_or_datetime(),
            ),
            query(
                "endDate",
                false,
                "Only events on or before this date.",
                date_or_datetime(),
            ),
        ],
        paging_params(),
    ]
    .concat();
    let profile_events_params = [
        vec![
            account.clone(),
            path_param(
                "billingProfileId",
                "The billing profile (its display name in the charge lines).",
                first_profile,
            ),
            api_version(true),
            query(
                "startDate",
                true,
                "Only events on or after this date.",
                date_or_datetime(),
            ),
            query(
                "endDate",
                true,
                "Only events on or before this date.",
                date_or_datetime(),
            ),
            filter_param(Target::Events, "lotId eq 'macc-2025'"),
        ],
        paging_params(),
    ]
    .concat();
    let profile = path_param(
        "billingProfileId",
        "The billing profile (its display name in the charge lines); 404 until a settled charge line names it.",
        first_profile,
    );
    let profile_lots_params = [
        vec![
            account.clone(),
            profile.clone(),
            api_version(true),
            filter_param(Target::Lots, "source eq 'ConsumptionCommitment'"),
        ],
        paging_params(),
    ]
    .concat();
    add(
        consumption("lots"),
        get(
            "MACC and credit lots (Azure Lots API, Lots_ListByBillingAccount)",
            "Lots_ListByBillingAccount",
            lots_params,
            response("One page of lots.", "LotList"),
            paged_errors(
                t,
                "Missing or malformed api-version, bad $filter, $top or $skiptoken.",
            ),
        ),
    );
    add(
        format!("{ACCOUNT}/billingProfiles/{{billingProfileId}}/providers/Microsoft.Consumption/lots"),
        get(
            "The lots of a billing profile (Azure Lots_ListByBillingProfile): the account's lots, which apply to every billing profile of it",
            "Lots_ListByBillingProfile",
            profile_lots_params,
            response("One page of lots.", "LotList"),
            paged_errors(
                t,
                "Missing or malformed api-version, bad $filter, $top or $skiptoken.",
            ),
        ),
    );
    add(
        consumption("events"),
        get(
            "Decrements and credit movements (Azure Events API, Events_ListByBillingAccount)",
            "Events_ListByBillingAccount",
            events_params,
            response("One page of events.", "EventList"),
            paged_errors(
                t,
                "Missing or malformed api-version, bad $filter, dates, $top or $skiptoken.",
            ),
        ),
    );
    add(
        format!(
            "{ACCOUNT}/billingProfiles/{{billingProfileId}}/providers/Microsoft.Consumption/events"
        ),
        get(
            "Events of one billing profile (Azure Events_ListByBillingProfile)",
            "Events_ListByBillingProfile",
            profile_events_params,
            response("One page of events.", "EventList"),
            paged_errors(
                t,
                "Missing or malformed api-version or dates, bad $filter, $top or $skiptoken.",
            ),
        ),
    );
    add(
        format!("{ACCOUNT}/billingProfiles/{{billingProfileId}}/providers/Microsoft.Consumption/credits/balanceSummary"),
        get(
            "The credits balance summary of a billing profile (Azure Credits_Get): the balance of the account's active credit lots, and what expired (negative)",
            "Credits_Get",
            vec![account.clone(), profile, api_version(true)],
            response("The summary.", "CreditSummary"),
            read_errors(t, &bad("Missing or malformed api-version.")),
        ),
    );
    paths
}

/// The ledger's own views: CACO, invoices, alerts.
fn view_paths(account: &Value, t: bool) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    let mut add = |path: String, item: Value| paths.push((path, item));
    let bad = |what: &'static str| [("400", what)];
    add(
        format!("{ACCOUNT}/caco"),
        get(
            "CACOs with milestones and transactions (`ledger caco --json`)",
            "Caco_List",
            vec![account.clone(), api_version(false)],
            response("The CACOs.", "CacoList"),
            read_errors(t, &bad("Malformed api-version.")),
        ),
    );
    add(
        format!("{ACCOUNT}/invoices"),
        get(
            "Settled invoices (`ledger invoices --json`)",
            "Invoices_List",
            vec![account.clone(), api_version(false)],
            response("The invoices.", "InvoiceList"),
            read_errors(t, &bad("Malformed api-version.")),
        ),
    );
    add(
        format!("{ACCOUNT}/alerts"),
        get(
            "Deadline alerts, risk and forecasts as of a date (`ledger alerts --as-of D --json`)",
            "Alerts_List",
            vec![
                account.clone(),
                api_version(false),
                query(
                    "asOf",
                    true,
                    "The date the alerts are evaluated as of.",
                    date_or_datetime(),
                ),
            ],
            response("The alerts.", "AlertList"),
            read_errors(t, &bad("Missing or malformed asOf, malformed api-version.")),
        ),
    );
    paths
}

/// The write endpoints (with --allow-writes).
fn write_paths(t: bool) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    let mut add = |path: String, item: Value| paths.push((path, item));
    add(
        "/ledger/agreements".into(),
        write_op(
            "Record an agreement (`ledger agreement FILE`); needs --allow-writes",
            "Ledger_RecordAgreement",
            json!({
                "application/toml": { "schema": text_body("An agreement file (TOML), as `ledger agreement` reads it; empty or blank is refused (400).") },
                "application/json": { "schema": reference("AgreementJson") },
            }),
            t,
        ),
    );
    add(
        "/ledger/charges".into(),
        write_op(
            "Settle a native charge-line CSV (`ledger ingest FILE`); needs --allow-writes",
            "Ledger_IngestCharges",
            json!({ "text/csv": { "schema": text_body("A charge file: native CSV, FOCUS or Azure cost details (told by its header), as `ledger ingest` reads it; empty or blank is refused (400).") } }),
            t,
        ),
    );
    paths
}
