//! Pending (month-to-date) charges (issue 15 "Month-to-date as pending", issue 17 pending
//! fields; docs/RULES.md R-PEND): `ingest --pending`, a newer run replacing it, then the
//! closed invoice, which must leave the ledger exactly as the closed invoice alone does.

use serde_json::Value;
use tests::{assert_mentions, Ledger};

const AGREEMENT: &str = r#"account = "acme"
currency = "USD"

[[macc]]
id = "m"
amount = "10000"
start = "2026-01-01"
end = "2027-12-31"

[[caco]]
id = "caco-1"
start = "2026-01-01"
  [[caco.milestones]]
  id = "Year"
  start = "2026-01-01"
  end = "2027-06-30"
  target = "2000"
  award = "100"

[[credit]]
id = "aco-1"
kind = "aco"
amount = "300"
start = "2026-01-01"
expires = "2027-06-30"

[[credit]]
id = "aco-nov"
kind = "aco"
amount = "500"
start = "2026-11-20"
expires = "2026-11-30"
"#;

const HEADER: &str =
    "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,period_start,period_end\n";

fn rows(id: &str, lines: &[(&str, &str)]) -> String {
    let mut text = HEADER.to_string();
    for (date, amount) in lines {
        text.push_str(&format!(
            "{id},2027-01-05,Ops,{date},usage,{amount},USD,2026-12-01,2026-12-31\n"
        ));
    }
    text
}

/// A ledger with the agreement and November's closed invoice (which uses aco-1 up and leaves
/// aco-nov, expiring 2026-11-30, with its whole balance: December's invoice evaluates it).
fn november() -> Ledger {
    let ledger = Ledger::new();
    ledger.write("agreement.toml", AGREEMENT);
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger.write(
        "nov.csv",
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,period_start,period_end\nINV-11,2026-12-05,Ops,2026-11-10,usage,400.00,USD,2026-11-01,2026-11-30\n",
    );
    ledger.ok(&["ingest", "nov.csv"]);
    ledger.write("mtd1.csv", rows("INV-12", &[("2026-12-03", "100.00")]));
    ledger.write(
        "mtd2.csv",
        rows(
            "INV-12",
            &[("2026-12-03", "100.00"), ("2026-12-09", "250.00")],
        ),
    );
    ledger.write(
        "dec.csv",
        rows(
            "G0012",
            &[
                ("2026-12-03", "100.00"),
                ("2026-12-09", "250.00"),
                ("2026-12-28", "80.00"),
            ],
        ),
    );
    ledger
}

fn items(v: &Value) -> Vec<Value> {
    v["value"].as_array().cloned().unwrap_or_default()
}

fn events_of_type(ledger: &Ledger, event_type: &str) -> Vec<Value> {
    items(&ledger.json(&["events"]))
        .into_iter()
        .filter(|e| e["properties"]["eventType"] == event_type)
        .collect()
}

fn lot<'a>(lots: &'a [Value], name: &str) -> &'a Value {
    lots.iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no lot {name}"))
}

fn value(v: &Value) -> f64 {
    v["value"].as_f64().unwrap_or_else(|| panic!("{v}"))
}

/// Every read view (and alerts as of a fixed date), the ledger clock included.
fn views(ledger: &Ledger) -> Vec<Value> {
    let mut out: Vec<Value> = ["lots", "events", "caco", "invoices"]
        .iter()
        .map(|v| ledger.json(&[*v]))
        .collect();
    out.push(ledger.json(&["alerts", "--as-of", "2027-01-10"]));
    out
}

#[test]
fn a_pending_run_shows_beside_the_settled_balances_and_moves_nothing_settled() {
    let ledger = november();
    let before = views(&ledger);
    let said = ledger.ok(&["ingest", "--pending", "mtd1.csv"]);
    assert_mentions(&said, &["1 recorded as pending"]);
    ledger.assert_audit_and_replay_pass();

    let pending = events_of_type(&ledger, "PendingCharges");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let p = &pending[0]["properties"];
    assert_eq!(p["invoiceNumber"], "INV-12");
    assert_eq!(value(&p["charges"]), -100.0);
    assert_eq!(value(&p["closedBalance"]), 9_800.0);
    assert_eq!(p["isEstimatedBalance"], true);

    let lots = items(&ledger.json(&["lots"]));
    let m = &lot(&lots, "m")["properties"];
    assert_eq!(value(&m["closedBalance"]), 9_900.0, "settled balance kept");
    assert_eq!(value(&m["pendingBalance"]), 9_800.0);
    assert_eq!(m["isEstimatedBalance"], true);

    let caco = items(&ledger.json(&["caco"]));
    assert_eq!(caco[0]["remainingCommitment"], 1_900.0);
    assert_eq!(caco[0]["pendingRemainingCommitment"], 1_800.0);
    assert_eq!(caco[0]["milestones"][0]["pendingProgress"], 200.0);

    let alerts = items(&ledger.json(&["alerts", "--as-of", "2027-01-10"]));
    let macc = alerts.iter().find(|a| a["id"] == "m").expect("MACC alert");
    assert_eq!(macc["remaining"], 9_900.0);
    assert_eq!(macc["pendingRemaining"], 9_800.0);

    // The report draws the estimate apart from the settled figures.
    ledger.ok(&["report", "--html", "report.html"]);
    let html = std::fs::read_to_string(ledger.path("report.html")).unwrap();
    assert_mentions(
        &html,
        &[
            "data-pending=\"estimate\">Pending (month-to-date) estimate: <span class=\"cur\">USD</span>9,800.00 remaining",
            "<span class=\"cur\">USD</span>1,800.00 remaining",
        ],
    );

    // Nothing settled moved: no deadline was evaluated (aco-nov expired on 2026-11-30 but is
    // evaluated only by a settled invoice of a later period), the clock stayed, and removing
    // the pending fields gives the views as they were.
    assert!(events_of_type(&ledger, "PendingExpiredCredit").is_empty());
    let mut after = views(&ledger);
    strip_pending(&mut after);
    assert_eq!(after, before);
}

/// The views without the pending estimate's fields and items.
fn strip_pending(views: &mut [Value]) {
    for view in views.iter_mut() {
        strip(view);
    }
}

fn strip(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with("pending"));
            if map.get("isEstimatedBalance").is_some() {
                map.insert("isEstimatedBalance".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strip);
        }
        Value::Array(list) => {
            list.retain(|x| {
                let t = x["properties"]["eventType"].as_str().unwrap_or("");
                !matches!(
                    t,
                    "PendingCharges" | "PendingNewCredit" | "PendingAdjustments"
                )
            });
            list.iter_mut().for_each(strip);
        }
        _ => {}
    }
}

#[test]
fn a_newer_run_replaces_the_pending_one_and_the_closed_invoice_replaces_all() {
    let ledger = november();
    ledger.ok(&["ingest", "--pending", "mtd1.csv"]);
    ledger.ok(&["ingest", "--pending", "mtd2.csv"]);
    ledger.assert_audit_and_replay_pass();
    let pending = events_of_type(&ledger, "PendingCharges");
    assert_eq!(
        pending.len(),
        1,
        "the newer run replaced the first: {pending:?}"
    );
    assert_eq!(value(&pending[0]["properties"]["charges"]), -350.0);

    // The same run again records nothing.
    let (_, head) = ledger.fingerprint();
    ledger.ok(&["ingest", "--pending", "mtd2.csv"]);
    assert_eq!(ledger.head_hash(), head);

    ledger.ok(&["ingest", "dec.csv"]);
    ledger.assert_audit_and_replay_pass();
    assert!(events_of_type(&ledger, "PendingCharges").is_empty());
    // The audit trail keeps every run and says what replaced it.
    let trace = ledger.ok(&["audit", "trace", "--lot", "m"]);
    assert_mentions(
        &trace,
        &[
            "PendingRecorded (R-PEND-1)  invoice INV-12  amount 100.00",
            "PendingSuperseded by INV-12 (R-PEND-2)  invoice INV-12  amount 100.00",
            "PendingRecorded (R-PEND-1)  invoice INV-12  amount 350.00",
            "PendingSuperseded by G0012 (R-PEND-2)  invoice INV-12  amount 350.00",
        ],
    );
    assert_eq!(events_of_type(&ledger, "PendingExpiredCredit").len(), 1);

    // A month-to-date run then the closed month equals the closed month alone: every view,
    // event ids included, byte for byte.
    let alone = november();
    alone.ok(&["ingest", "dec.csv"]);
    for (verb, with_pending) in ["lots", "events", "caco", "invoices", "alerts"]
        .iter()
        .map(|v| (*v, ledger.json(&alerts_args(v))))
    {
        assert_eq!(with_pending, alone.json(&alerts_args(verb)), "{verb}");
    }
    let text = |l: &Ledger| l.ok(&["events"]);
    assert_eq!(text(&ledger), text(&alone));
    ledger.ok(&["report", "--html", "report.html"]);
    let html = std::fs::read_to_string(ledger.path("report.html")).unwrap();
    assert!(
        !html.contains("data-pending"),
        "no estimate once the month closed"
    );

    // A late pending run for the closed period records nothing.
    let head = ledger.head_hash();
    ledger.ok(&["ingest", "--pending", "mtd1.csv"]);
    assert_eq!(ledger.head_hash(), head);
    assert!(events_of_type(&ledger, "PendingCharges").is_empty());
}

fn alerts_args(verb: &str) -> Vec<&str> {
    if verb == "alerts" {
        vec!["alerts", "--as-of", "2027-01-10"]
    } else {
        vec![verb]
    }
}

#[test]
fn a_pending_run_that_cannot_settle_is_refused_and_changes_nothing() {
    let ledger = november();
    // A pending run under the id of a settled invoice of another period.
    ledger.write(
        "reuse.csv",
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,period_start,period_end\nINV-11,2027-01-05,Ops,2026-12-03,usage,1.00,USD,2026-12-01,2026-12-31\n",
    );
    let head = ledger.head_hash();
    let message = ledger.fails(&["ingest", "--pending", "reuse.csv"]);
    assert_mentions(&message, &["INV-11"]);
    assert_eq!(ledger.head_hash(), head);
}
