//! `ledger reconcile` end to end (issue 4, acceptance 3): Azure-shaped JSON made from the
//! ledger's own `events --json` and `lots --json` reconciles cleanly; with one invoice altered,
//! exactly that invoice is found (exit 1), with the ledger's trace; Azure's variations
//! (positive charges, `AzurePrepayment`, unknown fields and event types, `nextLink`, bare lot
//! names, a bare array) are tolerated.

use serde_json::{json, Value};
use tests::{generate, Dec, Ledger};

/// A generated ledger (one account, every kind of lot) and its own Events and Lots output.
fn ledger() -> (Ledger, Value, Value) {
    let l = Ledger::new();
    let (charges, agreements) = generate(&l, "charges.csv", 20_000, 1);
    for a in &agreements {
        l.ok(&["agreement".to_string(), a.display().to_string()]);
    }
    l.ok(&["ingest".to_string(), charges.display().to_string()]);
    let events = l.json(&["events"]);
    let lots = l.json(&["lots"]);
    (l, events, lots)
}

fn write(l: &Ledger, name: &str, doc: &Value) -> String {
    l.write(name, serde_json::to_string_pretty(doc).unwrap());
    name.to_string()
}

fn items(doc: &mut Value) -> &mut Vec<Value> {
    doc["value"].as_array_mut().expect("a value array")
}

/// `ledger reconcile ... --json`, with its exit status.
fn reconcile(l: &Ledger, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["reconcile"];
    all.extend(args);
    all.push("--json");
    let out = l.run(&all);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON from {all:?} ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), doc)
}

fn settled(events: &Value) -> Vec<&Value> {
    events["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["properties"]["eventType"] == "SettledCharges")
        .collect()
}

#[test]
fn the_ledgers_own_output_reconciles_cleanly() {
    let (l, events, lots) = ledger();
    assert!(settled(&events).len() > 50, "a ledger with many events");
    write(&l, "events.json", &events);
    write(&l, "lots.json", &lots);
    let (code, doc) = reconcile(&l, &["events.json", "lots.json"]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["differs"], false);
    assert_eq!(doc["invoices"], json!([]));
    assert_eq!(doc["lots"], json!([]));
    assert_eq!(doc["matched"].as_u64().unwrap() as usize, {
        let mut keys: Vec<(String, String)> = settled(&events)
            .iter()
            .map(|e| {
                (
                    e["properties"]["lotId"].as_str().unwrap().to_string(),
                    e["properties"]["invoiceNumber"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys.len()
    });
    let text = l.ok(&["reconcile", "events.json", "lots.json"]);
    assert!(text.contains("Everything agrees within 0.01."), "{text}");
}

#[test]
fn azure_variations_are_tolerated() {
    let (l, mut events, mut lots) = ledger();
    // Positive charges, AzurePrepayment, bare lot names on every other event, unknown fields,
    // an unknown event type, a nextLink; newest first.
    for (i, e) in items(&mut events).iter_mut().enumerate() {
        let p = &mut e["properties"];
        if let Some(v) = p["charges"]["value"].as_f64() {
            p["charges"]["value"] = json!(-v);
        }
        if p["lotSource"] == "PurchasedCredit" {
            p["lotSource"] = json!("AzurePrepayment");
        }
        if i % 2 == 1 {
            let id = p["lotId"].as_str().unwrap().to_string();
            let name = id.rsplit('/').next().unwrap().replace("%2F", "/");
            p["lotId"] = json!(name);
        }
        p["reseller"] = json!({"resellerId": null, "resellerDescription": "x"});
        e["tags"] = json!({"cost-center": "42"});
    }
    items(&mut events).reverse();
    items(&mut events).push(json!({
        "id": "/providers/Microsoft.Billing/billingAccounts/contoso/providers/Microsoft.Consumption/events/zzz",
        "properties": {"eventType": "CreditExpired", "lotId": "nope", "charges": {"currency": "USD", "value": 1.0}}
    }));
    events["nextLink"] = json!("https://management.azure.com/providers/...&skiptoken=abc");
    for lot in items(&mut lots) {
        if lot["properties"]["source"] == "PurchasedCredit" {
            lot["properties"]["source"] = json!("AzurePrepayment");
        }
        lot["properties"]["newField"] = json!([1, 2, 3]);
    }
    write(&l, "events.json", &events);
    write(&l, "lots.json", &lots);
    let (code, doc) = reconcile(&l, &["events.json", "lots.json"]);
    assert_eq!(code, Some(0), "{doc:#}");
    let notes: Vec<&str> = doc["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("CreditExpired")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("nextLink")), "{notes:?}");

    // A bare array (no {"value": ...}) is read too.
    write(&l, "bare.json", &Value::Array(items(&mut events).clone()));
    let (code, _) = reconcile(&l, &["bare.json"]);
    assert_eq!(code, Some(0));
}

#[test]
fn one_altered_invoice_is_found_and_traced() {
    let (l, mut events, mut lots) = ledger();
    // A MACC decrement in the middle of the log: Azure says it decremented 10.00 more.
    let index = {
        let all = items(&mut events);
        let candidates: Vec<usize> = (0..all.len())
            .filter(|&i| {
                let p = &all[i]["properties"];
                p["eventType"] == "SettledCharges" && p["lotSource"] == "ConsumptionCommitment"
            })
            .collect();
        candidates[candidates.len() / 2]
    };
    let (invoice, lot) = {
        let p = &mut items(&mut events)[index]["properties"];
        // In exact decimals (an f64 subtraction would leave 9.99999999999998).
        let v = Dec::from_json(&p["charges"]["value"]).unwrap();
        let altered = v - Dec::parse("10").unwrap();
        p["charges"]["value"] = serde_json::from_str(&altered.to_string()).unwrap();
        let lot = p["lotId"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        (p["invoiceNumber"].as_str().unwrap().to_string(), lot)
    };
    write(&l, "events.json", &events);
    let (code, doc) = reconcile(&l, &["events.json"]);
    assert_eq!(code, Some(1), "{doc:#}");
    let found = doc["invoices"].as_array().unwrap();
    assert_eq!(found.len(), 1, "exactly the altered invoice: {doc:#}");
    let d = &found[0];
    assert_eq!(d["invoiceNumber"], invoice.as_str());
    assert_eq!(d["lot"], lot.as_str());
    assert_eq!(d["differs"], true);
    assert_eq!(d["decrementDifference"], 10.0);
    let trace = d["trace"].as_array().unwrap();
    assert!(!trace.is_empty(), "the ledger's trace for it");
    // Its decrements (one per billing profile) with their line portions; a completion or
    // milestone event of the same invoice may follow.
    let decrements: Vec<&Value> = trace
        .iter()
        .filter(|e| e["event"] == "Decremented")
        .collect();
    assert!(!decrements.is_empty(), "{trace:#?}");
    assert!(decrements
        .iter()
        .all(|e| !e["portions"].as_array().unwrap().is_empty()));

    // The human report names it with the trace, and ledger reconcile exits 1.
    let out = l.run(&["reconcile", "events.json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Invoice {invoice}, lot {lot}:")),
        "{text}"
    );
    assert!(text.contains("Azure − ledger: decrement +10.00"), "{text}");
    assert!(
        text.contains("The ledger's figure (ledger audit trace --lot"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 difference(s) over 0.01"));

    // A lot whose closed balance differs, and one Azure has that the ledger does not.
    let unaltered = l.json(&["events"]);
    write(&l, "events.json", &unaltered);
    let first = items(&mut lots)[0]["name"].as_str().unwrap().to_string();
    let v = Dec::from_json(&items(&mut lots)[0]["properties"]["closedBalance"]["value"]).unwrap();
    let altered = v + Dec::parse("0.02").unwrap();
    items(&mut lots)[0]["properties"]["closedBalance"]["value"] =
        serde_json::from_str(&altered.to_string()).unwrap();
    let mut extra = items(&mut lots)[0].clone();
    extra["name"] = json!("G-ONLY-AT-AZURE");
    extra["id"] = json!("/providers/Microsoft.Billing/billingAccounts/contoso/providers/Microsoft.Consumption/lots/G-ONLY-AT-AZURE");
    items(&mut lots).push(extra);
    write(&l, "lots.json", &lots);
    let (code, doc) = reconcile(&l, &["events.json", "lots.json"]);
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(doc["invoices"], json!([]));
    let names: Vec<&str> = doc["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["lot"].as_str().unwrap())
        .collect();
    let mut want = vec![first.as_str(), "G-ONLY-AT-AZURE"];
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn unreadable_files_name_the_file_and_place() {
    let (l, _, _) = ledger();
    l.write("broken.json", "{\"value\": [\n  {\"properties\": }\n]}");
    let stderr = l.fails(&["reconcile", "broken.json"]);
    assert!(
        stderr.contains("broken.json:2: is not valid JSON"),
        "{stderr}"
    );
    l.write(
        "amount.json",
        r#"{"value": [{"properties": {"eventType": "SettledCharges", "lotId": "x", "invoiceNumber": "I", "charges": {"value": "ten"}}}]}"#,
    );
    let stderr = l.fails(&["reconcile", "amount.json"]);
    assert!(
        stderr.contains(
            "amount.json: value[0].properties.charges.value: 'ten' is not a decimal amount"
        ),
        "{stderr}"
    );
}
