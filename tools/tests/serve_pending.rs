//! Issue 17's pending fields over HTTP (docs/RULES.md R-PEND): the Consumption lots carry
//! `isEstimatedBalance` and the estimate beside the settled balance while a month-to-date run
//! is current, the events list the pending charges as `PendingCharges` (and `$filter` on
//! `eventType` selects them), the credits summary estimates, and the closed invoice leaves
//! none of it.

mod serve_common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serve_common::*;

const API: &str = "api-version=2024-08-01";
const HEADER: &str =
    "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,period_start,period_end\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn value(v: &Value) -> f64 {
    v["value"].as_f64().unwrap_or_else(|| panic!("{v}"))
}

fn served(data: &Path) -> (Vec<Value>, Vec<Value>, Vec<Value>, Value) {
    let mut server = Server::start(data, &[]);
    let base = account_base("acme");
    let get = |path: &str| {
        let response = server.get(path, None);
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response.json()
    };
    let list = |v: Value| v["value"].as_array().cloned().unwrap_or_default();
    let lots = list(get(&format!(
        "{base}/providers/Microsoft.Consumption/lots?{API}"
    )));
    let events = list(get(&format!(
        "{base}/providers/Microsoft.Consumption/events?{API}"
    )));
    let pending = list(get(&format!(
        "{base}/providers/Microsoft.Consumption/events?{API}&$filter=eventType%20eq%20'PendingCharges'"
    )));
    let summary = get(&format!(
        "{base}/billingProfiles/Ops/providers/Microsoft.Consumption/credits/balanceSummary?{API}"
    ));
    server.terminate(Duration::from_secs(30));
    (lots, events, pending, summary)
}

#[test]
fn the_consumption_api_shows_pending_charges_as_estimates_until_the_invoice_closes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agreement = write(
        dir.path(),
        "agreement.toml",
        "account = \"acme\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"m\"\namount = \"10000\"\nstart = \"2026-01-01\"\nend = \"2027-12-31\"\n\n[[credit]]\nid = \"aco-1\"\nkind = \"aco\"\namount = \"1000\"\nstart = \"2026-01-01\"\nexpires = \"2027-06-30\"\n",
    );
    ledger_ok(&data, &["agreement", &agreement]);
    let nov = write(
        dir.path(),
        "nov.csv",
        &format!(
            "{HEADER}INV-11,2026-12-05,Ops,2026-11-10,usage,400.00,USD,2026-11-01,2026-11-30\n"
        ),
    );
    ledger_ok(&data, &["ingest", &nov]);
    let mtd = write(
        dir.path(),
        "mtd.csv",
        &format!(
            "{HEADER}INV-12,2027-01-05,Ops,2026-12-03,usage,100.00,USD,2026-12-01,2026-12-31\n"
        ),
    );
    ledger_ok(&data, &["ingest", "--pending", &mtd]);

    let (lots, events, pending, summary) = served(&data);
    let aco = lots
        .iter()
        .find(|l| l["name"] == "aco-1")
        .expect("lot aco-1");
    assert_eq!(aco["properties"]["isEstimatedBalance"], true);
    assert_eq!(value(&aco["properties"]["closedBalance"]), 600.0);
    assert_eq!(value(&aco["properties"]["pendingBalance"]), 500.0);
    assert_eq!(pending.len(), 1, "{pending:?}");
    let p = &pending[0]["properties"];
    assert_eq!(p["eventType"], "PendingCharges");
    assert_eq!(p["isEstimatedBalance"], true);
    assert_eq!(value(&p["charges"]), -100.0);
    assert_eq!(value(&p["closedBalance"]), 500.0);
    assert!(events
        .iter()
        .any(|e| e["properties"]["eventType"] == "PendingCharges"));
    assert!(events
        .iter()
        .filter(|e| e["properties"]["eventType"] == "SettledCharges")
        .all(|e| e["properties"]["isEstimatedBalance"] == false));
    let s = &summary["properties"];
    assert_eq!(s["isEstimatedBalance"], true);
    assert_eq!(value(&s["balanceSummary"]["currentBalance"]), 600.0);
    assert_eq!(value(&s["balanceSummary"]["estimatedBalance"]), 500.0);
    assert_eq!(value(&s["pendingEligibleCharges"]), -100.0);

    let dec = write(
        dir.path(),
        "dec.csv",
        &format!(
            "{HEADER}G0012,2027-01-05,Ops,2026-12-03,usage,120.00,USD,2026-12-01,2026-12-31\n"
        ),
    );
    ledger_ok(&data, &["ingest", &dec]);
    let (lots, events, pending, summary) = served(&data);
    assert!(pending.is_empty(), "{pending:?}");
    assert!(events
        .iter()
        .all(|e| e["properties"]["isEstimatedBalance"] == false));
    assert!(lots
        .iter()
        .all(|l| l["properties"]["isEstimatedBalance"] == false
            && l["properties"].get("pendingBalance").is_none()));
    assert_eq!(summary["properties"]["isEstimatedBalance"], false);
    assert_eq!(value(&summary["properties"]["pendingEligibleCharges"]), 0.0);
}
