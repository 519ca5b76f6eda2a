//! Amendments in the Consumption Events API (issue 16 Visibility, issue 17 `canceledCredit`):
//! an agreement credit removed by an amendment is a `CanceledCredit` event whose
//! `canceledCredit` is minus the balance canceled, a changed credit is a `CreditAmended` event
//! with the change in `adjustments`, and `$filter` on `eventType` finds them.

mod serve_common;

use serde_json::Value;
use serve_common::*;

const API: &str = "api-version=2024-08-01";

const V1: &str = r#"
account = "contoso"
currency = "USD"

[[credit]]
id = "aco-1"
kind = "aco"
amount = "600"
start = "2025-01-01"
expires = "2025-12-31"

[[credit]]
id = "goodwill-1"
kind = "goodwill"
amount = "300"
start = "2025-01-01"
expires = "2025-12-31"
"#;

/// aco-1 is gone, goodwill-1 grows to 450.
const V2: &str = r#"
account = "contoso"
currency = "USD"

[[credit]]
id = "goodwill-1"
kind = "goodwill"
amount = "450"
start = "2025-01-01"
expires = "2025-12-31"
"#;

const CHARGES: &str = "\
invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency
INV-01,2025-02-05,2025-01-01,2025-01-31,Eng,2025-01-15,usage,100,USD
";

fn value(amount: &Value) -> f64 {
    amount["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{amount}"))
}

#[test]
fn a_canceled_credit_is_a_canceled_credit_event_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (v1, v2, charges) = (
        file("v1.toml", V1),
        file("v2.toml", V2),
        file("c.csv", CHARGES),
    );
    ledger_ok(&data, &["agreement", &v1]);
    ledger_ok(&data, &["ingest", &charges]);
    ledger_ok(&data, &["agreement", &v2]);
    let cli: Value = serde_json::from_str(&ledger_ok(&data, &["events", "--json"])).unwrap();
    let server = Server::start(&data, &[]);
    let events_url = format!(
        "{}/providers/Microsoft.Consumption/events?{API}",
        account_base("contoso")
    );
    let (all, _) = server.get_all(&events_url, None);
    assert_eq!(all, cli["value"].as_array().unwrap().clone());

    let (canceled, _) = server.get_all(
        &format!("{events_url}&$filter=eventType%20eq%20'CanceledCredit'"),
        None,
    );
    assert_eq!(canceled.len(), 1, "{canceled:#?}");
    let p = &canceled[0]["properties"];
    // aco-1 (expiring like goodwill-1, first by id) paid the 100 of usage: 500 canceled.
    assert!(p["lotId"].as_str().unwrap().ends_with("/lots/aco-1"), "{p}");
    assert_eq!(value(&p["canceledCredit"]), -500.0, "{p}");
    assert_eq!(value(&p["charges"]), -500.0);
    assert_eq!(value(&p["closedBalance"]), 500.0);
    assert_eq!(p["lotSource"], "PromotionalCredit");
    assert!(p["transactionDate"]
        .as_str()
        .unwrap()
        .starts_with("2025-02-05"));

    let (amended, _) = server.get_all(
        &format!("{events_url}&$filter=eventType%20eq%20'CreditAmended'"),
        None,
    );
    assert_eq!(amended.len(), 1, "{amended:#?}");
    let p = &amended[0]["properties"];
    assert_eq!(value(&p["adjustments"]), 150.0, "{p}");
    assert_eq!(value(&p["closedBalance"]), 450.0);
    assert_eq!(value(&p["canceledCredit"]), 0.0);
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}
