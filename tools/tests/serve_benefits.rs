//! `ledger serve` beyond the Lots and Events lists (issue 17): Microsoft.BillingBenefits items
//! against the CLI's own JSON, the Consumption reads at billing-profile scope, continuation
//! tokens that hold while invoices arrive, and tokens per customer (`--tokens FILE`).

mod serve_common;

use std::time::Duration;

use serde_json::Value;
use serve_common::*;

const BB: &str = "api-version=2025-12-01-preview";
const API: &str = "api-version=2024-08-01";

fn benefits_url(account: &str, what: &str) -> String {
    format!(
        "{}/providers/Microsoft.BillingBenefits/{what}?{BB}",
        account_base(account)
    )
}

/// The SDK's CreditStatus of a Lots API status.
fn credit_status(lots_status: &str) -> &'static str {
    match lots_status {
        "Inactive" => "NotStarted",
        "Active" => "Active",
        "Complete" => "Exhausted",
        "Expired" => "Expired",
        "Canceled" => "Canceled",
        other => panic!("unknown lot status {other}"),
    }
}

/// The SDK's MaccStatus of a Lots API status.
fn macc_status(lots_status: &str) -> &'static str {
    match lots_status {
        "Inactive" => "Scheduled",
        "Active" => "Active",
        "Complete" => "Completed",
        "Expired" => "ShortfallCharged",
        "Canceled" => "Canceled",
        other => panic!("unknown lot status {other}"),
    }
}

fn value(amount: &Value) -> &Value {
    &amount["value"]
}

fn get_json(server: &Server, target: &str, token: Option<&str>) -> Value {
    let response = server.get(target, token);
    assert_eq!(response.status, 200, "GET {target}: {}", response.text());
    response.json()
}

/// The path part of a resource id as a request target (the id is already percent-encoded).
fn target_of(id: &str, query: &str) -> String {
    format!("{id}?{query}")
}

#[test]
fn billing_benefits_carry_the_cli_figures() {
    let fixture = Fixture::generated(4_000, 2);
    let cli_lots = fixture.cli_json("lots");
    let cli_caco = fixture.cli_json("caco");
    let server = Server::start(&fixture.data(), &["--page-size", "2"]);
    let mut all_credits = Vec::new();
    // In the ledger's order of accounts (the subscription listing's).
    for account in [COLON_ACCOUNT, "contoso"] {
        let lots = for_account(&cli_lots, account);
        // MACCs: each MACC lot, with its amounts and status.
        let (maccs, _) = server.get_all(&benefits_url(account, "applicableMaccs"), None);
        let macc_lots: Vec<&Value> = lots
            .iter()
            .filter(|l| l["properties"]["kind"] == "macc")
            .collect();
        assert_eq!(maccs.len(), macc_lots.len(), "{account}");
        for (m, lot) in maccs.iter().zip(&macc_lots) {
            let p = &m["properties"];
            assert_eq!(m["name"], lot["name"]);
            assert_eq!(m["type"], "Microsoft.BillingBenefits/applicableMaccs");
            assert_eq!(p["entityType"], "Primary");
            assert_eq!(
                &p["commitment"]["amount"],
                value(&lot["properties"]["originalAmount"])
            );
            assert_eq!(
                &p["remainingCommitment"]["amount"],
                value(&lot["properties"]["closedBalance"])
            );
            let status = lot["properties"]["status"].as_str().unwrap();
            assert_eq!(p["status"], macc_status(status));
            assert_eq!(p["ledgerStatus"], status);
            assert!(!p["milestones"].as_array().unwrap().is_empty(), "{m}");
            // The single resource says the same, in the tracked envelope.
            let one = get_json(
                &server,
                &target_of(p["resourceId"].as_str().unwrap(), BB),
                None,
            );
            assert_eq!(one["type"], "Microsoft.BillingBenefits/maccs");
            assert_eq!(one["location"], "global");
            assert_eq!(one["properties"], *p);
        }
        // Conditional credits: the CLI's CACOs, milestone by milestone.
        let cacos: Vec<&Value> = cli_caco["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["account"] == account)
            .collect();
        let (credits_cc, _) =
            server.get_all(&benefits_url(account, "applicableConditionalCredits"), None);
        assert_eq!(credits_cc.len(), cacos.len());
        for (cc, caco) in credits_cc.iter().zip(&cacos) {
            let p = &cc["properties"];
            assert_eq!(cc["name"], caco["id"]);
            assert_eq!(p["entityType"], "Primary");
            assert_eq!(p["ledgerStatus"], caco["status"]);
            assert_eq!(
                p["remainingCommitment"]["amount"],
                caco["remainingCommitment"]
            );
            let milestones = p["milestones"].as_array().unwrap();
            let want = caco["milestones"].as_array().unwrap();
            assert_eq!(milestones.len(), want.len());
            for (got, want) in milestones.iter().zip(want) {
                assert_eq!(got["milestoneId"], want["id"]);
                assert_eq!(got["status"], want["status"]);
                assert_eq!(got["spendTarget"]["amount"], want["consumptionTarget"]);
                assert_eq!(got["award"]["credit"]["amount"], want["acoAward"]);
                assert_eq!(got["progress"]["amount"], want["progress"]);
                // A completed milestone's award is a credit lot the ledger opened.
                if want["status"] == "Completed" {
                    let lot = got["award"]["systemId"].as_str().expect("awarded lot");
                    assert!(lots.iter().any(|l| l["name"] == lot), "{lot}");
                }
            }
            let one = get_json(
                &server,
                &target_of(p["resourceId"].as_str().unwrap(), BB),
                None,
            );
            assert_eq!(one["type"], "Microsoft.BillingBenefits/conditionalCredits");
            assert_eq!(one["properties"], *p);
        }
        // Credits: every credit lot.
        let (credits, pages) = server.get_all(&benefits_url(account, "applicableCredits"), None);
        let credit_lots: Vec<&Value> = lots
            .iter()
            .filter(|l| l["properties"]["kind"] != "macc")
            .collect();
        assert_eq!(credits.len(), credit_lots.len());
        assert!(pages > 1 || credits.len() <= 2);
        for (c, lot) in credits.iter().zip(&credit_lots) {
            let p = &c["properties"];
            let l = &lot["properties"];
            assert_eq!(c["name"], lot["name"]);
            assert_eq!(&p["credit"]["amount"], value(&l["originalAmount"]));
            assert_eq!(&p["closedBalance"]["amount"], value(&l["closedBalance"]));
            assert_eq!(&p["usedAmount"]["amount"], value(&l["usedAmount"]));
            assert_eq!(p["status"], credit_status(l["status"].as_str().unwrap()));
            assert_eq!(p["ledgerKind"], l["kind"]);
            // Names with '/' (an award, a shortfall credit) are one encoded segment.
            let one = get_json(
                &server,
                &target_of(p["resourceId"].as_str().unwrap(), BB),
                None,
            );
            assert_eq!(one["properties"], *p);
            all_credits.push(one);
        }
        // {scope} percent-encoded as one segment (as the SDK sends it), with or without its
        // leading slash, and a billing profile as the scope: the same items.
        let scope = format!("providers/Microsoft.Billing/billingAccounts/{account}");
        for encoded in [
            scope.replace('/', "%2F").replace(':', "%3A"),
            format!("/{scope}").replace('/', "%2F").replace(':', "%3A"),
        ] {
            let (same, _) = server.get_all(
                &format!("/{encoded}/providers/Microsoft.BillingBenefits/applicableCredits?{BB}"),
                None,
            );
            assert_eq!(same, credits);
        }
        let profile = get_json(
            &server,
            &format!(
                "{}/providers/Microsoft.Consumption/events?{API}&$top=1000",
                account_base(account)
            ),
            None,
        )["value"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| {
                e["properties"]["billingProfileDisplayName"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap();
        let (same, _) = server.get_all(
            &format!(
                "{}/billingProfiles/{}/providers/Microsoft.BillingBenefits/applicableConditionalCredits?{BB}",
                account_base(account),
                profile.replace(' ', "%20")
            ),
            None,
        );
        assert_eq!(same, credits_cc);
        // ARM segments in any case; the resource group listing.
        let group = format!(
            "/SUBSCRIPTIONS/x/RESOURCEGROUPS/{}/providers/microsoft.billingbenefits/CREDITS?{BB}",
            account.replace(':', "%3A")
        );
        let (listed, _) = server.get_all(&group, None);
        assert_eq!(listed.len(), credits.len());
    }
    // The subscription listing: every account's.
    let (every, _) = server.get_all(
        &format!("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.BillingBenefits/credits?{BB}"),
        None,
    );
    assert_eq!(every, all_credits);

    // Contributors: none; refusals as Azure errors.
    let contributors = get_json(
        &server,
        &format!("{}/providers/Microsoft.BillingBenefits/applicableMaccs/macc-2024/providers/microsoft.BillingBenefits/applicableContributors?{BB}", account_base("contoso")),
        None,
    );
    assert_eq!(contributors, serde_json::json!({ "value": [] }));
    server
        .get(&format!("/subscriptions/s/resourceGroups/contoso/providers/Microsoft.BillingBenefits/maccs/no-such?{BB}"), None)
        .assert_azure_error(404, "ResourceNotFound");
    server
        .get(&format!("/subscriptions/s/resourceGroups/nobody/providers/Microsoft.BillingBenefits/maccs?{BB}"), None)
        .assert_azure_error(404, "BillingAccountNotFound");
    server
        .get(&format!("{}/billingProfiles/Nobody/providers/Microsoft.BillingBenefits/applicableCredits?{BB}", account_base("contoso")), None)
        .assert_azure_error(404, "BillingProfileNotFound");
    server
        .get(
            &format!(
                "{}/providers/Microsoft.BillingBenefits/applicableCredits",
                account_base("contoso")
            ),
            None,
        )
        .assert_azure_error(400, "MissingApiVersionParameter");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn consumption_at_billing_profile_scope_and_event_types() {
    let fixture = Fixture::generated(3_000, 1);
    let cli_lots = fixture.cli_json("lots");
    let cli_events = fixture.cli_json("events");
    let server = Server::start(&fixture.data(), &[]);
    let account = "contoso";
    let lots = for_account(&cli_lots, account);
    let events = for_account(&cli_events, account);
    let profile = events
        .iter()
        .find_map(|e| e["properties"]["billingProfileDisplayName"].as_str())
        .unwrap()
        .to_string();
    let profile_base = format!("{}/billingProfiles/{profile}", account_base(account));
    // The lots of a billing profile are the account's (they apply to every profile).
    let (got, _) = server.get_all(
        &format!("{profile_base}/providers/Microsoft.Consumption/lots?{API}"),
        None,
    );
    assert_eq!(got, lots);
    // The balance summary: the active credit lots' balance, and what expired (negative).
    let summary = get_json(
        &server,
        &format!("{profile_base}/providers/Microsoft.Consumption/credits/balanceSummary?{API}"),
        None,
    );
    let sum = |status: &str| -> f64 {
        lots.iter()
            .filter(|l| l["properties"]["kind"] != "macc" && l["properties"]["status"] == status)
            .map(|l| l["properties"]["closedBalance"]["value"].as_f64().unwrap())
            .sum()
    };
    let p = &summary["properties"];
    let current = p["balanceSummary"]["currentBalance"]["value"]
        .as_f64()
        .unwrap();
    assert!((current - sum("Active")).abs() < 1e-6, "{summary}");
    let expired = p["expiredCredit"]["value"].as_f64().unwrap();
    assert!((expired + sum("Expired")).abs() < 1e-6, "{summary}");
    assert_eq!(p["isEstimatedBalance"], false);
    // Every event carries the fields Azure's model has; $filter on eventType.
    for e in &events {
        let p = &e["properties"];
        for field in [
            "newCredit",
            "adjustments",
            "creditExpired",
            "canceledCredit",
            "chargesInBillingCurrency",
        ] {
            assert!(p[field]["value"].is_number(), "{field}: {e}");
        }
        assert_eq!(p["billingAccountId"], account);
        match p["eventType"].as_str().unwrap() {
            "NewCredit" => assert_eq!(p["newCredit"], p["charges"]),
            "PendingExpiredCredit" => assert_eq!(p["creditExpired"], p["charges"]),
            _ => {}
        }
        if let Some(profile) = p["billingProfileDisplayName"].as_str() {
            let encoded = profile.replace(' ', "%20");
            assert_eq!(
                p["billingProfileId"],
                format!("{}/billingProfiles/{encoded}", account_base(account))
            );
        }
    }
    for kind in ["NewCredit", "SettledCharges", "PendingExpiredCredit"] {
        let (got, _) = server.get_all(
            &format!(
                "{}/providers/Microsoft.Consumption/events?{API}&$filter=eventType%20eq%20%27{}%27",
                account_base(account),
                kind.to_ascii_lowercase()
            ),
            None,
        );
        let want: Vec<Value> = events
            .iter()
            .filter(|e| e["properties"]["eventType"] == kind)
            .cloned()
            .collect();
        assert_eq!(got, want, "{kind}");
    }
    server
        .get(
            &format!(
                "{}/billingProfiles/Nobody/providers/Microsoft.Consumption/lots?{API}",
                account_base(account)
            ),
            None,
        )
        .assert_azure_error(404, "BillingProfileNotFound");
}

/// One more invoice for `account`, after everything the generated data holds: a prepayment
/// purchase, which opens a credit lot whatever else has ended.
fn extra_invoice(account: &str) -> String {
    format!(
        "invoice_id,invoice_date,period_start,period_end,account,billing_profile,charge_date,kind,amount,currency\n\
         EXTRA-2025-06,2025-07-05,2025-06-01,2025-06-30,{account},Engineering,2025-06-10,prepayment_purchase,1234.56,USD\n"
    )
}

#[test]
fn pages_hold_while_invoices_arrive() {
    let fixture = Fixture::generated(3_000, 1);
    let before_events = for_account(&fixture.cli_json("events"), "contoso");
    let before_lots = for_account(&fixture.cli_json("lots"), "contoso");
    let server = Server::start(&fixture.data(), &["--allow-writes", "--page-size", "5"]);
    let events_url = format!(
        "{}/providers/Microsoft.Consumption/events?{API}",
        account_base("contoso")
    );
    let lots_url = format!(
        "{}/providers/Microsoft.Consumption/lots?{API}",
        account_base("contoso")
    );
    // First pages of two listings, then an invoice arrives, then the rest of the pages.
    let first_events = get_json(&server, &events_url, None);
    let first_lots = get_json(&server, &lots_url, None);
    let response = server.request(
        "POST",
        "/ledger/charges?name=extra.csv",
        &[("Content-Type", "text/csv")],
        extra_invoice("contoso").as_bytes(),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let rest = |first: &Value| -> Vec<Value> {
        let mut items: Vec<Value> = first["value"].as_array().unwrap().clone();
        let mut next = first["nextLink"].as_str().map(String::from);
        while let Some(link) = next {
            let token = link.split("$skiptoken=").nth(1).unwrap();
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
                "{token}"
            );
            let target = link.split_once(&server.addr.to_string()).unwrap().1;
            let page = get_json(&server, target, None);
            items.extend(page["value"].as_array().unwrap().iter().cloned());
            next = page["nextLink"].as_str().map(String::from);
        }
        items
    };
    assert_eq!(
        rest(&first_events),
        before_events,
        "events paged across a write"
    );
    assert_eq!(rest(&first_lots), before_lots, "lots paged across a write");
    // A new listing sees the new invoice.
    let (now, _) = server.get_all(&events_url, None);
    assert!(now.len() > before_events.len());
    let (lots_now, _) = server.get_all(&lots_url, None);
    assert!(lots_now.len() > before_lots.len());
    assert!(now
        .iter()
        .any(|e| e["properties"]["invoiceNumber"] == "EXTRA-2025-06"));
}

fn tokens_file(fixture: &Fixture) -> std::path::PathBuf {
    let path = fixture.path("tokens.toml");
    std::fs::write(
        &path,
        format!(
            "[[token]]\nname = \"contoso-portal\"\ntoken = \"tok-contoso\"\naccounts = [\"contoso\"]\n\n\
             [[token]]\nname = \"colon-partner\"\ntoken = \"tok-colon\"\naccounts = [\"{COLON_ACCOUNT}\"]\nwrites = true\n\n\
             [[token]]\ntoken = \"tok-admin\"\naccounts = [\"*\"]\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn tokens_per_customer_see_only_their_accounts() {
    let fixture = Fixture::generated(2_000, 2);
    let tokens = tokens_file(&fixture);
    let server = Server::start(
        &fixture.data(),
        &["--tokens", tokens.to_str().unwrap(), "--allow-writes"],
    );
    let c = Some("tok-contoso");
    // The accounts, the index, the subscription listings: only its own.
    let accounts = get_json(&server, "/providers/Microsoft.Billing/billingAccounts", c);
    let names: Vec<&str> = accounts["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["contoso"]);
    assert_eq!(
        get_json(&server, "/api", c)["accounts"],
        serde_json::json!(["contoso"])
    );
    let (maccs, _) = server.get_all(
        &format!("/subscriptions/s/providers/Microsoft.BillingBenefits/maccs?{BB}"),
        c,
    );
    assert!(maccs
        .iter()
        .all(|m| m["tags"]["ledgerAccount"] == "contoso"));
    let admin = Some("tok-admin");
    let (all_maccs, _) = server.get_all(
        &format!("/subscriptions/s/providers/Microsoft.BillingBenefits/maccs?{BB}"),
        admin,
    );
    assert!(all_maccs.len() > maccs.len());
    // Another account is answered exactly as one the ledger does not have.
    let other = server
        .get(
            &format!(
                "{}/providers/Microsoft.Consumption/lots?{API}",
                account_base(COLON_ACCOUNT)
            ),
            c,
        )
        .assert_azure_error(404, "BillingAccountNotFound");
    let missing = server
        .get(
            &format!(
                "{}/providers/Microsoft.Consumption/lots?{API}",
                account_base("no-such")
            ),
            c,
        )
        .assert_azure_error(404, "BillingAccountNotFound");
    let after_name = |m: &str| m.split_once("' ").unwrap().1.to_string();
    assert_eq!(after_name(&other), after_name(&missing));
    server
        .get(&format!("/subscriptions/s/resourceGroups/{}/providers/Microsoft.BillingBenefits/credits?{BB}", COLON_ACCOUNT.replace(':', "%3A")), c)
        .assert_azure_error(404, "BillingAccountNotFound");
    let report = server.get("/", c).text();
    assert!(report.contains("contoso") && !report.contains(COLON_ACCOUNT));
    assert!(!server
        .get("/openapi.json", c)
        .text()
        .contains(COLON_ACCOUNT));
    // Writes: a read-only token may not; a writing token only for its accounts.
    server
        .request(
            "POST",
            "/ledger/charges",
            &[("Authorization", "Bearer tok-contoso")],
            b"x",
        )
        .assert_azure_error(403, "WritesNotAllowed");
    let w = ("Authorization", "Bearer tok-colon");
    server
        .request(
            "POST",
            "/ledger/agreements",
            &[w, ("Content-Type", "application/json")],
            b"{\"account\": \"contoso\", \"currency\": \"USD\"}",
        )
        .assert_azure_error(404, "BillingAccountNotFound");
    let foreign = server.request(
        "POST",
        "/ledger/charges?name=x.csv",
        &[w],
        extra_invoice("contoso").as_bytes(),
    );
    let unknown = server.request(
        "POST",
        "/ledger/charges?name=x.csv",
        &[w],
        extra_invoice("nobody-at-all").as_bytes(),
    );
    let foreign = foreign.assert_azure_error(422, "InvalidChargeFile");
    let unknown = unknown.assert_azure_error(422, "InvalidChargeFile");
    assert_eq!(
        foreign.replace("contoso", "X"),
        unknown.replace("nobody-at-all", "X")
    );
    let own = server.request(
        "POST",
        "/ledger/charges?name=x.csv",
        &[w],
        extra_invoice(COLON_ACCOUNT).as_bytes(),
    );
    assert_eq!(own.status, 200, "{}", own.text());
    // Unknown tokens are 401 as ever.
    server
        .get("/api", Some("tok-nobody"))
        .assert_azure_error(401, "InvalidAuthenticationToken");
}

#[test]
fn a_tokens_file_protects_writes_beyond_loopback() {
    let fixture = Fixture::generated(200, 1);
    let tokens = tokens_file(&fixture);
    let mut server = Server::start_at(
        &fixture.data(),
        "0.0.0.0:0",
        &["--allow-writes", "--tokens", tokens.to_str().unwrap()],
        &[],
    );
    assert_eq!(server.get("/api", Some("tok-admin")).status, 200);
    assert_eq!(server.get("/api", None).status, 401);
    assert!(server.terminate(Duration::from_secs(20)).success());
    let bad = fixture.path("bad-tokens.toml");
    std::fs::write(&bad, "[[token]]\ntoken = \" \"\naccounts = [\"*\"]\n").unwrap();
    let out = serve_refused(
        &fixture.data(),
        &["--addr", "127.0.0.1:0", "--tokens", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("token 1") && stderr.contains("whitespace"),
        "{stderr}"
    );
}
