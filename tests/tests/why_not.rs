//! `ledger audit trace --lot M --why-not` (issue 16, Visibility): every charge-line portion of
//! M's account that did not count toward the MACC M, with the reason settlement had: the R-ELIG
//! cell, the credit that paid it, out of M's dates, queued behind another MACC, after M
//! completed, after an amendment canceled M, before M was agreed.

use serde_json::Value;
use tests::{Dec, Ledger};

const V1: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "m1"
amount = "1000"
start = "2025-01-01"
end = "2025-12-31"

[[macc]]
id = "m2"
amount = "5000"
start = "2025-01-01"
end = "2026-06-30"

[[credit]]
id = "aco-1"
kind = "aco"
amount = "100"
start = "2025-01-01"
expires = "2025-01-31"
"#;

/// INV-01: the ACO pays 100 of vm-1, m1 (the queue's head) takes the other 800; support
/// counts nowhere; late-1 is charged before both MACCs start. INV-02: m1 takes 200 and
/// completes, m2 the other 300. INV-03: m1 is complete, m2 takes it all.
const CHARGES: &str = "\
invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency,line_id
INV-01,2025-02-05,2025-01-01,2025-01-31,Eng,2025-01-10,usage,900,USD,vm-1
INV-01,2025-02-05,2025-01-01,2025-01-31,Eng,2025-01-12,support,50,USD,sup-1
INV-01,2025-02-05,2025-01-01,2025-01-31,Eng,2024-12-20,usage,70,USD,late-1
INV-02,2025-03-05,2025-02-01,2025-02-28,Eng,2025-02-10,usage,500,USD,vm-2
INV-03,2025-04-05,2025-03-01,2025-03-31,Eng,2025-03-10,usage,400,USD,vm-3
";

/// After an amendment that cancels m2 and adds m3.
const LATER: &str = "\
invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency,line_id
INV-04,2025-05-05,2025-04-01,2025-04-30,Eng,2025-04-10,usage,300,USD,vm-4
";

fn ledger() -> Ledger {
    let l = Ledger::new();
    let v1 = l.write("v1.toml", V1);
    let charges = l.write("charges.csv", CHARGES);
    let m2 = V1.find("[[macc]]\nid = \"m2\"").unwrap();
    let credit = V1.find("[[credit]]").unwrap();
    let m3 =
        "[[macc]]\nid = \"m3\"\namount = \"900\"\nstart = \"2025-01-01\"\nend = \"2025-12-31\"\n\n";
    let v2 = l.write("v2.toml", format!("{}{m3}{}", &V1[..m2], &V1[credit..]));
    let later = l.write("later.csv", LATER);
    l.ok(&["agreement".as_ref(), v1.as_os_str()]);
    l.ok(&["ingest".as_ref(), charges.as_os_str()]);
    l.ok(&["agreement".as_ref(), v2.as_os_str()]);
    l.ok(&["ingest".as_ref(), later.as_os_str()]);
    l
}

/// (invoice, line id, amount, reason code, description) of each entry.
fn entries(doc: &Value) -> Vec<(String, String, Dec, String, String)> {
    doc["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no lines: {doc:#}"))
        .iter()
        .map(|l| {
            (
                l["invoice"].as_str().unwrap().to_string(),
                l["lineId"].as_str().unwrap().to_string(),
                Dec::from_json(&l["amount"]).unwrap(),
                l["reason"].as_str().unwrap().to_string(),
                l["description"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn d(s: &str) -> Dec {
    Dec::parse(s).unwrap()
}

fn has(
    list: &[(String, String, Dec, String, String)],
    invoice: &str,
    line: &str,
    amount: &str,
    reason: &str,
    words: &str,
) {
    assert!(
        list.iter().any(|(i, l, a, r, t)| i == invoice
            && l == line
            && *a == d(amount)
            && r == reason
            && t.contains(words)),
        "no {invoice}/{line} {amount} {reason} ({words}) in {list:#?}"
    );
}

#[test]
fn why_not_gives_each_reason_settlement_had() {
    let l = ledger();
    let m2 = entries(&l.json(&["audit", "trace", "--lot", "m2", "--why-not"]));
    has(
        &m2,
        "INV-01",
        "vm-1",
        "100",
        "elig",
        "covered by credit aco-1; R-ELIG usage/",
    );
    has(
        &m2,
        "INV-01",
        "vm-1",
        "800",
        "queued",
        "queued behind MACC m1",
    );
    has(&m2, "INV-01", "sup-1", "50", "elig", "R-ELIG support/paid");
    has(
        &m2,
        "INV-01",
        "late-1",
        "70",
        "period",
        "before the MACC's start",
    );
    // m1 took 200 of vm-2 ahead of m2; m2 took the rest.
    has(
        &m2,
        "INV-02",
        "vm-2",
        "200",
        "queued",
        "queued behind MACC m1",
    );
    has(&m2, "INV-04", "vm-4", "300", "canceled", "canceled");
    assert_eq!(m2.len(), 6, "{m2:#?}");

    let m1 = entries(&l.json(&["audit", "trace", "--lot", "m1", "--why-not"]));
    has(
        &m1,
        "INV-02",
        "vm-2",
        "300",
        "completed",
        "completed earlier on this invoice",
    );
    has(&m1, "INV-03", "vm-3", "400", "completed", "completed 2025-");
    assert_eq!(m1.len(), 6, "{m1:#?}");

    let m3 = entries(&l.json(&["audit", "trace", "--lot", "m3", "--why-not"]));
    has(
        &m3,
        "INV-03",
        "vm-3",
        "400",
        "notYetAgreed",
        "before the MACC was in the agreement",
    );
    // m1 is complete and m2 canceled: m3 took vm-4 whole.
    assert!(!m3.iter().any(|e| e.0 == "INV-04"), "{m3:#?}");

    let text = l.ok(&["audit", "trace", "--lot", "m2", "--why-not"]);
    for needle in [
        "INV-01",
        "vm-1",
        "800.00",
        "queued behind MACC m1",
        "6 portions",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let refused = l.fails(&["audit", "trace", "--lot", "aco-1", "--why-not"]);
    assert!(refused.contains("not a MACC"), "{refused}");
}
