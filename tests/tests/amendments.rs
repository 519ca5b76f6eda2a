//! Amendments as events (issue 16, Visibility; issue 17 `canceledCredit`): a changed MACC, a
//! canceled MACC, a removed milestone, a changed and a canceled credit, a changed CACO appear
//! in `events` (text and JSON), in a CACO's transactions and in `audit trace`, and the ledger
//! still audits and replays.

use serde_json::Value;
use tests::{Dec, Ledger};

const V1: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "m1"
amount = "10000"
start = "2025-01-01"
end = "2025-12-31"
  [[macc.milestones]]
  id = "H1"
  due = "2025-06-30"
  target = "4000"
  [[macc.milestones]]
  id = "Q3"
  due = "2025-09-30"
  target = "7000"

[[macc]]
id = "m2"
amount = "5000"
start = "2025-01-01"
end = "2025-12-31"

[[caco]]
id = "caco-1"
start = "2025-01-01"
  [[caco.milestones]]
  id = "First"
  start = "2025-01-01"
  end = "2025-06-30"
  target = "1000"
  award = "50"
  [[caco.milestones]]
  id = "Second"
  start = "2025-07-01"
  end = "2025-12-31"
  target = "1000"
  award = "50"

[[credit]]
id = "aco-1"
kind = "aco"
amount = "600"
start = "2025-01-01"
expires = "2025-12-31"

[[credit]]
id = "aco-2"
kind = "aco"
amount = "300"
start = "2025-01-01"
expires = "2025-12-31"
"#;

/// m1 grows to 12,000 and loses milestone Q3; m2 is gone; aco-1 is gone; aco-2 grows to 400;
/// caco-1 loses its Second milestone.
const V2: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "m1"
amount = "12000"
start = "2025-01-01"
end = "2025-12-31"
  [[macc.milestones]]
  id = "H1"
  due = "2025-06-30"
  target = "4000"

[[caco]]
id = "caco-1"
start = "2025-01-01"
  [[caco.milestones]]
  id = "First"
  start = "2025-01-01"
  end = "2025-06-30"
  target = "1000"
  award = "50"

[[credit]]
id = "aco-2"
kind = "aco"
amount = "400"
start = "2025-01-01"
expires = "2025-12-31"
"#;

/// 1,000 of usage: the credits pay 900 of it (aco-1 first: ties on expiry go by id), 100 is
/// paid and decrements m1 and caco-1.
const CHARGES: &str = "\
invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency
INV-01,2025-02-05,2025-01-01,2025-01-31,Eng,2025-01-15,usage,1000,USD
";

/// A ledger with V1, one invoice, then V2.
fn amended() -> Ledger {
    let l = Ledger::new();
    let v1 = l.write("v1.toml", V1);
    let v2 = l.write("v2.toml", V2);
    let charges = l.write("charges.csv", CHARGES);
    l.ok(&["agreement".as_ref(), v1.as_os_str()]);
    l.ok(&["ingest".as_ref(), charges.as_os_str()]);
    l.ok(&["agreement".as_ref(), v2.as_os_str()]);
    l
}

fn events_of<'a>(doc: &'a Value, event_type: &str) -> Vec<&'a Value> {
    doc["value"]
        .as_array()
        .expect("a value array")
        .iter()
        .filter(|e| e["properties"]["eventType"] == event_type)
        .collect()
}

/// A `{"currency", "value"}` amount, or a plain JSON number.
fn money(v: &Value) -> Dec {
    let value = if v.is_object() { &v["value"] } else { v };
    Dec::from_json(value).unwrap_or_else(|| panic!("not an amount: {v}"))
}

fn one<'a>(doc: &'a Value, event_type: &str, lot: &str) -> &'a Value {
    let found: Vec<&Value> = events_of(doc, event_type)
        .into_iter()
        .filter(|e| {
            e["properties"]["lotId"]
                .as_str()
                .is_some_and(|id| id.ends_with(&format!("/lots/{lot}")))
        })
        .collect();
    assert_eq!(found.len(), 1, "one {event_type} of {lot} in {doc:#}");
    &found[0]["properties"]
}

#[test]
fn amendments_are_events_in_events_json_and_text() {
    let l = amended();
    let doc = l.json(&["events"]);
    let m1 = one(&doc, "CommitmentAmended", "m1");
    assert_eq!(money(&m1["charges"]), Dec::parse("2000").unwrap(), "{m1:#}");
    assert_eq!(money(&m1["adjustments"]), Dec::parse("2000").unwrap());
    assert_eq!(money(&m1["closedBalance"]), Dec::parse("11900").unwrap());
    let description = m1["description"].as_str().unwrap();
    assert!(
        description.contains("amount 10000 to 12000")
            && description.contains("milestones removed: Q3"),
        "{description}"
    );
    // Dated at the ledger clock when the amendment was recorded (the invoice's date).
    assert!(
        m1["transactionDate"]
            .as_str()
            .unwrap()
            .starts_with("2025-02-05"),
        "{m1:#}"
    );

    let m2 = one(&doc, "CommitmentCanceled", "m2");
    assert_eq!(
        money(&m2["charges"]),
        Dec::parse("-5000").unwrap(),
        "{m2:#}"
    );
    assert_eq!(money(&m2["closedBalance"]), Dec::parse("5000").unwrap());
    assert_eq!(m2["lotSource"], "ConsumptionCommitment");

    // aco-1 paid 600 of the usage: nothing was left to cancel; aco-2 paid 300 and grew by 100.
    let aco1 = one(&doc, "CanceledCredit", "aco-1");
    assert_eq!(money(&aco1["canceledCredit"]), money(&aco1["charges"]));
    assert_eq!(money(&aco1["closedBalance"]), Dec::parse("0").unwrap());
    let aco2 = one(&doc, "CreditAmended", "aco-2");
    assert_eq!(
        money(&aco2["adjustments"]),
        Dec::parse("100").unwrap(),
        "{aco2:#}"
    );
    assert_eq!(money(&aco2["closedBalance"]), Dec::parse("100").unwrap());
    assert_eq!(money(&aco2["canceledCredit"]), Dec::parse("0").unwrap());

    let text = l.ok(&["events"]);
    for needle in [
        "CommitmentAmended",
        "CommitmentCanceled",
        "CanceledCredit",
        "CreditAmended",
    ] {
        assert!(text.contains(needle), "`events` lacks {needle}:\n{text}");
    }
    let only_m2 = l.ok(&["events", "--lot", "m2"]);
    assert!(only_m2.contains("CommitmentCanceled"), "{only_m2}");
}

#[test]
fn a_canceled_credit_with_a_balance_shows_the_balance_canceled() {
    let l = Ledger::new();
    let v1 = l.write("v1.toml", V1);
    l.ok(&["agreement".as_ref(), v1.as_os_str()]);
    // Before any invoice: dated at the lot's start, the whole amount canceled.
    let v2 = l.write("v2.toml", V2);
    l.ok(&["agreement".as_ref(), v2.as_os_str()]);
    let doc = l.json(&["events"]);
    let aco1 = one(&doc, "CanceledCredit", "aco-1");
    assert_eq!(
        money(&aco1["canceledCredit"]),
        Dec::parse("-600").unwrap(),
        "{aco1:#}"
    );
    assert_eq!(money(&aco1["charges"]), Dec::parse("-600").unwrap());
    assert!(aco1["transactionDate"]
        .as_str()
        .unwrap()
        .starts_with("2025-01-01"));
    l.assert_audit_and_replay_pass();
}

#[test]
fn a_removed_caco_milestone_is_a_caco_transaction() {
    let l = amended();
    let caco = l.json(&["caco"]);
    let transactions = caco["value"][0]["transactions"]
        .as_array()
        .unwrap_or_else(|| panic!("{caco:#}"));
    let amended: Vec<&Value> = transactions
        .iter()
        .filter(|t| {
            t["description"]
                .as_str()
                .is_some_and(|d| d.contains("milestones removed: Second"))
        })
        .collect();
    assert_eq!(amended.len(), 1, "{caco:#}");
}

#[test]
fn audit_trace_shows_the_amendments_of_a_lot_and_the_ledger_audits() {
    let l = amended();
    let m2 = l.ok(&["audit", "trace", "--lot", "m2"]);
    assert!(
        m2.contains("MaccCanceled (R-MACC-4)") && m2.contains("MACC m2 canceled by an amendment"),
        "{m2}"
    );
    let m1 = l.json(&["audit", "trace", "--lot", "m1"]);
    let amended: Vec<&Value> = m1["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "MaccAmended")
        .collect();
    assert_eq!(amended.len(), 1, "{m1:#}");
    assert_eq!(money(&amended[0]["amount"]), Dec::parse("2000").unwrap());
    assert!(amended[0]["description"]
        .as_str()
        .unwrap()
        .contains("milestones removed: Q3"));
    let caco = l.ok(&["audit", "trace", "--lot", "caco-1"]);
    assert!(caco.contains("CacoAmended"), "{caco}");
    l.assert_audit_and_replay_pass();
}
