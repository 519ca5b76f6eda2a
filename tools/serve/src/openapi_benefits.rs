//! The Microsoft.BillingBenefits part of `/openapi.json`: the paths of
//! [`crate::benefits`] and the schemas of `ledger_render::benefits`.

use ledger_app::replay::Projections;
use ledger_render::benefits::SUBSCRIPTION;
use serde_json::{json, Value};

use super::openapi_parts::{
    api_version, get, paged_errors, paging_params, path_param, read_errors, reference, response,
    ACCOUNT,
};

const PROVIDER: &str = "providers/Microsoft.BillingBenefits";

/// Examples from this ledger: the account's first MACC, CACO and credit lot.
struct Examples<'a> {
    account: Option<&'a str>,
    profile: Option<&'a str>,
    macc: Option<&'a str>,
    caco: Option<&'a str>,
    credit: Option<&'a str>,
}

impl<'a> Examples<'a> {
    fn of(p: &'a Projections, account: Option<&'a str>, profile: Option<&'a str>) -> Examples<'a> {
        let acct = account.and_then(|a| p.ledger.account(a));
        Examples {
            account,
            profile,
            macc: acct
                .and_then(|a| a.maccs.first())
                .map(|m| m.terms.id.as_str()),
            caco: acct
                .and_then(|a| a.cacos.first())
                .map(|c| c.terms.id.as_str()),
            credit: acct
                .and_then(|a| a.lots.first())
                .map(|l| l.terms.id.as_str()),
        }
    }
}

/// The BillingBenefits paths.
pub(crate) fn paths(
    p: &Projections,
    first_account: Option<&str>,
    first_profile: Option<&str>,
    t: bool,
) -> Vec<(String, Value)> {
    let ex = Examples::of(p, first_account, first_profile);
    let mut paths = Vec::new();
    paths.extend(applicable_paths(&ex, t));
    paths.extend(resource_paths(&ex, t));
    paths
}

fn account_param(ex: &Examples<'_>) -> Value {
    path_param(
        "billingAccountId",
        "The billing account (the agreement's `account`); percent-encode `:` as %3A.",
        ex.account,
    )
}

fn paged(params: Vec<Value>) -> Vec<Value> {
    [params, vec![api_version(true)], paging_params()].concat()
}

const BAD: &str = "Missing or malformed api-version, bad $top or $skiptoken.";

/// The billing-account lists (and their profile-scope forms) and the contributors.
fn applicable_paths(ex: &Examples<'_>, t: bool) -> Vec<(String, Value)> {
    let account = account_param(ex);
    let profile = path_param(
        "billingProfileId",
        "A billing profile of the account (its display name in the charge lines): the account's items, which apply to every profile.",
        ex.profile,
    );
    let mut paths = Vec::new();
    paths.push((
        format!("{ACCOUNT}/{PROVIDER}/applicableMaccs"),
        get(
            "MACCs with their milestones (ApplicableMaccs_List)",
            "ApplicableMaccs_List",
            paged(vec![account.clone()]),
            response("One page of MACCs.", "ApplicableMaccList"),
            paged_errors(t, BAD),
        ),
    ));
    for (what, schema, summary) in [
        ("applicableConditionalCredits", "ConditionalCreditList", "CACOs as conditional credits with their milestones (ConditionalCredits_ScopeList); {scope} is the billing account or a billing profile, encoded as one segment or not"),
        ("applicableCredits", "CreditList", "Credit lots as credits (Credits_ListApplicable); {scope} is the billing account or a billing profile, encoded as one segment or not"),
    ] {
        let id = format!("{}_Scope", what.trim_start_matches("applicable"));
        paths.push((
            format!("{ACCOUNT}/{PROVIDER}/{what}"),
            get(
                summary,
                &format!("{id}_BillingAccount"),
                paged(vec![account.clone()]),
                response("One page.", schema),
                paged_errors(t, BAD),
            ),
        ));
        paths.push((
            format!("{ACCOUNT}/billingProfiles/{{billingProfileId}}/{PROVIDER}/{what}"),
            get(
                summary,
                &format!("{id}_BillingProfile"),
                paged(vec![account.clone(), profile.clone()]),
                response("One page.", schema),
                paged_errors(t, BAD),
            ),
        ));
    }
    for (what, example, id) in [
        (
            "applicableMaccs",
            ex.macc,
            "Contributors_ListFromApplicableMacc",
        ),
        (
            "applicableConditionalCredits",
            ex.caco,
            "ConditionalCreditContributors_ListFromApplicableConditionalCredit",
        ),
    ] {
        paths.push((
            format!("{ACCOUNT}/{PROVIDER}/{what}/{{systemId}}/providers/microsoft.BillingBenefits/applicableContributors"),
            get(
                "Contributors: none (the ledger keeps no contributors); 404 when the benefit does not exist",
                id,
                vec![
                    account.clone(),
                    path_param("systemId", "The MACC or CACO id.", example),
                    api_version(true),
                ],
                response("No contributors.", "EmptyList"),
                read_errors(t, &[("400", "Missing or malformed api-version.")]),
            ),
        ));
    }
    paths
}

/// `maccs`, `conditionalCredits`, `credits` by subscription, by resource group, and one.
fn resource_paths(ex: &Examples<'_>, t: bool) -> Vec<(String, Value)> {
    let subscription = path_param(
        "subscriptionId",
        "Any subscription id: it is accepted whatever it is (ids written by the server use 00000000-0000-0000-0000-000000000000).",
        Some(SUBSCRIPTION),
    );
    let group = path_param(
        "resourceGroupName",
        "The billing account (the agreement's `account`).",
        ex.account,
    );
    let mut paths = Vec::new();
    for (kind, name_param, example, schema, list) in [
        ("maccs", "maccName", ex.macc, "Macc", "MaccList"),
        (
            "conditionalCredits",
            "conditionalCreditName",
            ex.caco,
            "ConditionalCredit",
            "ConditionalCreditList",
        ),
        ("credits", "creditName", ex.credit, "Credit", "CreditList"),
    ] {
        let op = |verb: &str| {
            let mut c = kind.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
            format!("{first}{}_{verb}", c.as_str())
        };
        paths.push((
            format!("/subscriptions/{{subscriptionId}}/{PROVIDER}/{kind}"),
            get(
                &format!("Every {kind} of the billing accounts this token may read"),
                &op("ListBySubscription"),
                paged(vec![subscription.clone()]),
                response("One page.", list),
                paged_errors(t, BAD),
            ),
        ));
        let in_group = format!(
            "/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/{PROVIDER}/{kind}"
        );
        paths.push((
            in_group.clone(),
            get(
                &format!("The {kind} of a billing account (the resource group)"),
                &op("ListByResourceGroup"),
                paged(vec![subscription.clone(), group.clone()]),
                response("One page.", list),
                paged_errors(t, BAD),
            ),
        ));
        paths.push((
            format!("{in_group}/{{{name_param}}}"),
            get(
                &format!("One of the {kind} of a billing account; percent-encode a `/` in its name as %2F"),
                &op("Get"),
                vec![
                    subscription.clone(),
                    group.clone(),
                    path_param(name_param, "The ledger's id.", example),
                    api_version(true),
                ],
                response("The resource.", schema),
                read_errors(t, &[("400", "Missing or malformed api-version.")]),
            ),
        ));
    }
    paths
}

fn list_of(item: &str) -> Value {
    json!({ "type": "object", "required": ["value"], "properties": {
        "value": { "type": "array", "items": reference(item) },
        "nextLink": { "type": "string", "description": "Absolute URL of the next page; absent on the last." } } })
}

/// The schemas of the BillingBenefits shapes.
pub(crate) fn schemas() -> Vec<(&'static str, Value)> {
    let text = json!({ "type": "string" });
    let datetime = json!({ "type": "string", "format": "date-time" });
    let price = json!({ "type": "object", "required": ["currencyCode", "amount"], "properties": {
        "currencyCode": text, "amount": { "type": "number" } } });
    let commitment = json!({ "type": "object", "required": ["currencyCode", "amount", "grain"], "properties": {
        "currencyCode": text, "amount": { "type": "number" }, "grain": { "type": "string", "enum": ["FullTerm"] } } });
    let shortfall = json!({ "type": "object", "required": ["productCode", "charge"], "properties": {
        "productCode": text, "charge": reference("Commitment"), "startAt": datetime, "endAt": datetime,
        "resourceId": text, "systemId": text } });
    let envelope = |properties: &str, tracked: bool| {
        let mut required = vec!["id", "name", "type", "properties"];
        if tracked {
            required.push("location");
        }
        json!({ "type": "object", "required": required, "properties": {
            "id": text, "name": text, "type": text, "location": text,
            "tags": { "type": "object", "additionalProperties": { "type": "string" } },
            "properties": reference(properties) } })
    };
    let macc_milestone = json!({ "type": "object",
        "required": ["milestoneId", "commitment", "endAt", "automaticShortfall", "status", "ledgerStatus"],
        "properties": {
            "milestoneId": text, "commitment": reference("Price"), "endAt": datetime,
            "automaticShortfall": { "type": "string", "enum": ["Enabled"] },
            "status": { "type": "string", "enum": ["Scheduled", "Active", "Pending", "Completed", "ShortfallCharged", "Canceled"] },
            "shortfall": reference("Shortfall"),
            "ledgerStatus": { "type": "string", "enum": ["Scheduled", "Active", "Pending", "Completed", "Missed", "Canceled"] },
            "cumulative": reference("Price") } });
    let macc_properties = json!({ "type": "object",
        "required": ["provisioningState", "status", "entityType", "displayName", "billingAccountResourceId", "commitment", "startAt", "endAt", "systemId", "automaticShortfall", "milestones", "resourceId", "allowContributors", "ledgerStatus", "remainingCommitment"],
        "properties": {
            "provisioningState": text,
            "status": { "type": "string", "enum": ["Scheduled", "Active", "Completed", "ShortfallCharged", "Canceled"] },
            "entityType": { "type": "string", "enum": ["Primary"] },
            "displayName": text, "productCode": text, "billingAccountResourceId": text,
            "commitment": reference("Commitment"), "startAt": datetime, "endAt": datetime,
            "systemId": text, "automaticShortfall": { "type": "string", "enum": ["Enabled"] },
            "shortfall": reference("Shortfall"),
            "milestones": { "type": "array", "items": reference("MaccMilestone") },
            "resourceId": text, "allowContributors": { "type": "boolean" },
            "ledgerStatus": { "type": "string", "enum": ["Inactive", "Active", "Complete", "Expired", "Canceled"] },
            "remainingCommitment": reference("Price"), "purchasedAt": datetime } });
    let award = json!({ "type": "object", "required": ["credit", "duration"], "properties": {
        "credit": reference("Commitment"), "duration": text, "startAt": datetime, "endAt": datetime,
        "resourceId": text, "systemId": text } });
    let cc_milestone = json!({ "type": "object",
        "required": ["milestoneId", "name", "status", "endAt", "spendTarget", "award", "startAt", "progress", "progressPercent"],
        "properties": {
            "milestoneId": text, "name": text,
            "status": { "type": "string", "enum": ["Scheduled", "Active", "Pending", "Completed", "Missed", "Canceled", "Removed"] },
            "endAt": datetime, "spendTarget": reference("Price"), "award": reference("Award"),
            "startAt": datetime, "progress": reference("Price"), "progressPercent": { "type": "number" } } });
    let cc_properties = json!({ "type": "object",
        "required": ["entityType", "displayName", "billingAccountResourceId", "provisioningState", "status", "startAt", "endAt", "benefitResourceId", "resourceId", "systemId", "allowContributors", "milestones", "ledgerStatus", "basis", "commitmentAmount", "remainingCommitment"],
        "properties": {
            "entityType": { "type": "string", "enum": ["Primary"] },
            "displayName": text, "billingAccountResourceId": text, "provisioningState": text,
            "status": { "type": "string", "enum": ["Scheduled", "Active", "Completed", "Failed", "Canceled"] },
            "startAt": datetime, "endAt": datetime, "productCode": text,
            "benefitResourceId": text, "resourceId": text, "systemId": text,
            "allowContributors": { "type": "string", "enum": ["Disabled"] },
            "milestones": { "type": "array", "items": reference("ConditionalCreditMilestone") },
            "ledgerStatus": { "type": "string", "enum": ["Scheduled", "Active", "Completed", "Expired", "Canceled"] },
            "basis": text, "commitmentAmount": reference("Price"), "remainingCommitment": reference("Price") } });
    let credit_properties = json!({ "type": "object",
        "required": ["status", "productCode", "reason", "credit", "startAt", "endAt", "policies", "billingAccountResourceId", "breakdown", "provisioningState", "systemId", "resourceId", "ledgerStatus", "ledgerKind", "lotSource", "closedBalance", "usedAmount"],
        "properties": {
            "status": { "type": "string", "enum": ["NotStarted", "Active", "Exhausted", "Expired", "Canceled"] },
            "productCode": text,
            "reason": { "type": "object", "required": ["code", "description"], "properties": { "code": text, "description": text } },
            "credit": reference("Commitment"), "startAt": datetime, "endAt": datetime,
            "policies": { "type": "object", "properties": { "redemption": text, "expiration": text } },
            "billingAccountResourceId": text,
            "breakdown": { "type": "array", "items": { "type": "object", "required": ["allocation", "dimensions"], "properties": {
                "allocation": reference("Commitment"), "startAt": datetime, "endAt": datetime,
                "dimensions": { "type": "array", "items": { "type": "object", "required": ["key", "value"], "properties": { "key": text, "value": text } } } } } },
            "provisioningState": text, "systemId": text, "resourceId": text,
            "ledgerStatus": { "type": "string", "enum": ["Inactive", "Active", "Complete", "Expired", "Canceled"] },
            "ledgerKind": text, "lotSource": text,
            "closedBalance": reference("Price"), "usedAmount": reference("Price") } });
    vec![
        ("Price", price),
        ("Commitment", commitment),
        ("Shortfall", shortfall),
        ("MaccMilestone", macc_milestone),
        ("MaccProperties", macc_properties),
        ("ApplicableMacc", envelope("MaccProperties", false)),
        ("ApplicableMaccList", list_of("ApplicableMacc")),
        ("Macc", envelope("MaccProperties", true)),
        ("MaccList", list_of("Macc")),
        ("Award", award),
        ("ConditionalCreditMilestone", cc_milestone),
        ("ConditionalCreditProperties", cc_properties),
        (
            "ConditionalCredit",
            envelope("ConditionalCreditProperties", true),
        ),
        ("ConditionalCreditList", list_of("ConditionalCredit")),
        ("CreditProperties", credit_properties),
        ("Credit", envelope("CreditProperties", true)),
        ("CreditList", list_of("Credit")),
        (
            "EmptyList",
            json!({ "type": "object", "required": ["value"], "properties": { "value": { "type": "array", "maxItems": 0 } } }),
        ),
    ]
}
