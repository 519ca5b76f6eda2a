//! The pieces `/openapi.json` is built from: parameters, responses and operations in the
//! shapes every path shares.

use serde_json::{json, Value};

use super::filter::{self, Target};
use super::paging::{MAX_TOP, SKIP_TOKEN_PATTERN, TOKEN_LIFETIME};

pub(crate) const ACCOUNT: &str = "/providers/Microsoft.Billing/billingAccounts/{billingAccountId}";

pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(crate) fn response(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": reference(schema) } } })
}

pub(crate) fn error(description: &str) -> Value {
    response(description, "ErrorResponse")
}

pub(crate) fn query(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema })
}

pub(crate) fn path_param(name: &str, description: &str, example: Option<&str>) -> Value {
    let mut param = json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string", "minLength": 1 } });
    if let Some(example) = example {
        param["example"] = json!(example);
    }
    param
}

pub(crate) fn api_version(required: bool) -> Value {
    query(
        "api-version",
        required,
        "Azure API version (any yyyy-MM-dd or yyyy-MM-dd-preview is accepted and echoed in the api-version response header).",
        json!({ "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(-[A-Za-z]+)?$", "example": "2024-08-01" }),
    )
}

pub(crate) fn date_or_datetime() -> Value {
    json!({ "anyOf": [ { "type": "string", "format": "date" }, { "type": "string", "format": "date-time" } ] })
}

pub(crate) fn paging_params() -> Vec<Value> {
    vec![
        query(
            "$top",
            false,
            "Items per page (default: the server's --page-size).",
            json!({ "type": "integer", "minimum": 1, "maximum": MAX_TOP }),
        ),
        query(
            "$skiptoken",
            false,
            &format!("Where the page starts: POSITION.OFFSET, the log position the listing began at and the offset; take it from the previous page's nextLink. Every page of a listing answers as of its first page's log position, whatever was written since; a token lasts {} minutes after the page that gave it (410 ContinuationTokenExpired after).", TOKEN_LIFETIME.as_secs() / 60),
            json!({ "type": "string", "pattern": SKIP_TOKEN_PATTERN }),
        ),
    ]
}

pub(crate) fn filter_param(target: Target, example: &str) -> Value {
    let fields = match target {
        Target::Lots => "source, status, lotId",
        Target::Events => "lotSource, lotId, eventType",
    };
    query(
        "$filter",
        false,
        &format!("OData subset: `field eq 'value'` on {fields}, joined by `and`; names and values case-insensitive."),
        json!({ "type": "string", "pattern": filter::pattern(target), "example": example }),
    )
}

/// The responses every read may give besides 200.
pub(crate) fn read_errors(with_token: bool, extra: &[(&str, &str)]) -> Value {
    let mut responses = json!({
        "404": error("No such path, or the billing account is not in this ledger."),
        "405": error("Method not allowed (see the Allow header)."),
        "414": error("The request URL is too long."),
        "431": error("The request headers are too large."),
        "default": error("Any other refusal, as an Azure error body."),
    });
    if with_token {
        responses["401"] = error("The bearer token is missing or wrong.");
    }
    for (code, description) in extra {
        responses[*code] = error(description);
    }
    responses
}

/// The responses of a paged list besides 200.
pub(crate) fn paged_errors(with_token: bool, bad: &str) -> Value {
    read_errors(
        with_token,
        &[
            ("400", bad),
            (
                "410",
                "The continuation token ($skiptoken) expired: list again from the first page.",
            ),
        ],
    )
}

pub(crate) fn get(
    summary: &str,
    operation_id: &str,
    parameters: Vec<Value>,
    ok: Value,
    errors: Value,
) -> Value {
    let mut responses = errors;
    responses["200"] = ok;
    json!({ "get": { "summary": summary, "operationId": operation_id, "parameters": parameters, "responses": responses } })
}
