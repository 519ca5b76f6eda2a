//! `ledger whatif` end to end (issue 4, acceptance 1): each change kind and replaced terms
//! through scenario files, several files in one call equal to one by one, a log byte-identical
//! before and after, refusals naming the file, line and key, and a worked-example style
//! expectation (`expect.json`'s `whatif` block, checked as `examples.rs` checks the others).

use std::path::Path;

use ledger_store::Store;
use serde_json::{Map, Value};
use tests::{fixtures_dir, Ledger};

const AGREEMENT: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "macc-2025"
amount = "50000"
start = "2025-01-01"
end = "2025-12-31"
  [[macc.milestones]]
  id = "M1"
  due = "2025-03-31"
  target = "12000"

[[caco]]
id = "caco-1"
start = "2025-01-01"
  [[caco.milestones]]
  id = "Milestone1"
  start = "2025-01-01"
  end = "2025-03-31"
  target = "9000"
  award = "1000"
  [[caco.milestones]]
  id = "Milestone2"
  start = "2025-04-01"
  end = "2025-06-30"
  target = "9000"
  award = "2000"

[[credit]]
id = "aco-1"
kind = "aco"
amount = "500"
start = "2025-01-01"
expires = "2025-12-31"
"#;

/// January to April and June (no May invoice); a prepayment bought in February.
const CHARGES: &str = "\
invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency,service
INV-2025-01,2025-02-05,2025-01-01,2025-01-31,Engineering,2025-01-15,usage,4000,USD,Virtual Machines
INV-2025-01,2025-02-05,2025-01-01,2025-01-31,Finance,2025-01-15,usage,1000,USD,Storage
INV-2025-01,2025-02-05,2025-01-01,2025-01-31,Finance,2025-01-15,marketplace,200,USD,
INV-2025-02,2025-03-05,2025-02-01,2025-02-28,Finance,2025-02-10,usage,1000,USD,Storage
INV-2025-02,2025-03-05,2025-02-01,2025-02-28,Engineering,2025-02-11,prepayment_purchase,3000,USD,
INV-2025-02,2025-03-05,2025-02-01,2025-02-28,Engineering,2025-02-15,usage,4000,USD,Virtual Machines
INV-2025-03,2025-04-05,2025-03-01,2025-03-31,Engineering,2025-03-15,usage,4000,USD,Virtual Machines
INV-2025-03,2025-04-05,2025-03-01,2025-03-31,Finance,2025-03-15,usage,1000,USD,Storage
INV-2025-03,2025-04-05,2025-03-01,2025-03-31,Finance,2025-03-15,marketplace,200,USD,
INV-2025-04,2025-05-05,2025-04-01,2025-04-30,Engineering,2025-04-15,usage,4000,USD,Virtual Machines
INV-2025-04,2025-05-05,2025-04-01,2025-04-30,Finance,2025-04-15,usage,1000,USD,Storage
INV-2025-04,2025-05-05,2025-04-01,2025-04-30,Finance,2025-04-15,marketplace,200,USD,
INV-2025-06,2025-07-05,2025-06-01,2025-06-30,Engineering,2025-06-15,usage,4000,USD,Virtual Machines
INV-2025-06,2025-07-05,2025-06-01,2025-06-30,Finance,2025-06-15,usage,1000,USD,Storage
INV-2025-06,2025-07-05,2025-06-01,2025-06-30,Finance,2025-06-15,marketplace,200,USD,
";

const CUT: &str = r#"
name = "cut"
[[change]]
op = "scale"
factor = "0.5"
[change.where]
kind = "usage"
from = "2025-04-01"
"#;

const NO_STORAGE: &str = r#"
[[change]]
op = "drop"
[change.where]
service = "Storage"
"#;

const GROW: &str = r#"
[[change]]
op = "add"
monthly = "3000"
kind = "usage"
billing_profile = "Research"
from = "2025-04"
to = "2025-08"
"#;

const TERMS: &str = r#"
[agreement]
[[agreement.macc]]
id = "macc-2025"
amount = "30000"
[[agreement.caco]]
id = "caco-1"
  [[agreement.caco.milestones]]
  id = "Milestone1"
  start = "2025-01-01"
  end = "2025-03-31"
  target = "9000"
  award = "1000"
  [[agreement.caco.milestones]]
  id = "Milestone2"
  start = "2025-04-01"
  end = "2025-06-30"
  target = "30000"
  award = "2000"
"#;

fn ledger() -> Ledger {
    let l = Ledger::new();
    l.write("agreement.toml", AGREEMENT);
    l.write("charges.csv", CHARGES);
    l.write("cut.toml", CUT);
    l.write("no-storage.toml", NO_STORAGE);
    l.write("grow.toml", GROW);
    l.write("terms.toml", TERMS);
    l.ok(&["agreement", "agreement.toml"]);
    l.ok(&["ingest", "charges.csv"]);
    l.ok(&["close", "--through", "2025-07-31"]);
    l
}

/// The scenario side of `ledger whatif FILE --json`.
fn scenario(l: &Ledger, file: &str) -> Value {
    let doc = l.json(&["whatif", file]);
    let keys: Vec<&String> = doc.as_object().expect("an object").keys().collect();
    assert_eq!(
        keys,
        ["baseline", "changes", "scenario"],
        "INTERFACE.md's shape"
    );
    doc
}

fn find<'a>(list: &'a Value, key: &str, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| e[key] == id)
}

fn invoice<'a>(status: &'a Value, id: &str) -> &'a Value {
    find(&status["invoices"], "invoiceNumber", id)
        .unwrap_or_else(|| panic!("no invoice {id} in {}", status["invoices"]))
}

fn milestone_status(status: &Value, caco: &str, milestone: &str) -> String {
    let c = find(&status["caco"], "id", caco).expect("the CACO");
    find(&c["milestones"], "id", milestone).expect("the milestone")["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn changes(doc: &Value) -> Vec<String> {
    doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

fn invoice_numbers(status: &Value) -> Vec<String> {
    status["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["invoiceNumber"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn scale_misses_a_milestone() {
    let l = ledger();
    let doc = scenario(&l, "cut.toml");
    assert_eq!(
        milestone_status(&doc["baseline"], "caco-1", "Milestone2"),
        "Completed"
    );
    assert_eq!(
        milestone_status(&doc["scenario"], "caco-1", "Milestone2"),
        "Missed"
    );
    assert_eq!(invoice(&doc["scenario"], "INV-2025-04")["charges"], 2700.0);
    assert_eq!(invoice(&doc["scenario"], "INV-2025-03")["charges"], 5200.0);
    let changes = changes(&doc);
    assert!(
        changes.contains(&"Milestone2: Completed → Missed, −2,000.00 ACO award".to_string()),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("billed total:") && c.ends_with("(−5,000.00)")),
        "{changes:#?}"
    );
}

#[test]
fn drop_removes_matching_lines() {
    let l = ledger();
    let doc = scenario(&l, "no-storage.toml");
    for (id, charges) in [
        ("INV-2025-01", 4200.0),
        ("INV-2025-02", 7000.0),
        ("INV-2025-06", 4200.0),
    ] {
        assert_eq!(invoice(&doc["scenario"], id)["charges"], charges, "{id}");
        assert_eq!(
            invoice(&doc["scenario"], id)["lineCount"],
            2,
            "{id}: 3 lines, 1 dropped"
        );
    }
    // The prepayment keeps its recorded lot id although the line before it is dropped.
    let lots = &doc["scenario"]["lots"];
    assert!(find(lots, "name", "INV-2025-02/2").is_some(), "{lots}");
}

#[test]
fn add_joins_invoices_and_makes_whatif_months() {
    let l = ledger();
    let doc = scenario(&l, "grow.toml");
    let s = &doc["scenario"];
    assert_eq!(invoice(s, "INV-2025-04")["charges"], 8200.0);
    assert_eq!(invoice(s, "INV-2025-06")["charges"], 8200.0);
    let may = invoice(s, "WHATIF-2025-05");
    assert_eq!(may["invoiceDate"], "2025-06-05");
    assert_eq!(may["periodStart"], "2025-05-01");
    assert_eq!(may["periodEnd"], "2025-05-31");
    assert_eq!(may["charges"], 3000.0);
    assert_eq!(
        invoice_numbers(s),
        [
            "INV-2025-01",
            "INV-2025-02",
            "INV-2025-03",
            "INV-2025-04",
            "WHATIF-2025-05",
            "INV-2025-06",
            "WHATIF-2025-07",
            "WHATIF-2025-08"
        ],
        "May before June's invoice, July before the close through July, August last"
    );
    // The baseline side is the recorded ledger.
    assert_eq!(invoice_numbers(&doc["baseline"]).len(), 5);
}

#[test]
fn replaced_terms_change_the_commitments() {
    let l = ledger();
    let doc = scenario(&l, "terms.toml");
    let macc = find(&doc["scenario"]["lots"], "name", "macc-2025").unwrap();
    assert_eq!(macc["properties"]["originalAmount"]["value"], 30000.0);
    assert_eq!(
        milestone_status(&doc["scenario"], "caco-1", "Milestone2"),
        "Missed"
    );
    let changes = changes(&doc);
    assert!(
        changes.contains(&"Milestone2: Completed → Missed, −2,000.00 ACO award".to_string()),
        "{changes:#?}"
    );
}

#[test]
fn several_files_in_one_call_equal_one_by_one() {
    let l = ledger();
    let files = ["cut.toml", "no-storage.toml", "grow.toml", "terms.toml"];
    let mut args = vec!["whatif"];
    args.extend(files);
    let together = l.json(&args);
    let together = together.as_array().expect("an array for several files");
    assert_eq!(together.len(), files.len());
    let names: Vec<&str> = together
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cut", "no-storage", "grow", "terms"]);
    for (file, doc) in files.iter().zip(together) {
        let alone = scenario(&l, file);
        for key in ["baseline", "scenario", "changes"] {
            assert_eq!(doc[key], alone[key], "{file}: {key}");
        }
    }
    // The human output shows the baseline once, then one section per scenario.
    let mut args = vec!["whatif"];
    args.extend(files);
    let text = l.ok(&args);
    let header = text.lines().nth(2).expect("the table's header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["baseline", "cut", "no-storage", "grow", "terms"],
        "{text}"
    );
    for name in ["cut", "no-storage", "grow", "terms"] {
        assert!(
            text.contains(&format!("Consequences of {name} (")),
            "{text}"
        );
    }
    assert!(
        text.contains("  Milestone2: Completed → Missed, −2,000.00 ACO award\n"),
        "{text}"
    );
}

/// Every stored record and the head, read through the store.
fn raw_log(data: &Path) -> (u64, [u8; 32], Vec<Vec<u8>>) {
    let store = Store::open_existing(data, "whatif test").expect("open the ledger");
    let head = store.head();
    let records = (0..head.next_seq)
        .map(|seq| store.raw_get(seq).expect("every record up to the head"))
        .collect();
    assert!(store.raw_get(head.next_seq).is_none());
    (head.next_seq, head.last_hash, records)
}

#[test]
fn the_log_is_byte_identical_before_and_after() {
    let l = ledger();
    let before = raw_log(l.data());
    let (state, head_hash) = l.fingerprint();
    l.ok(&[
        "whatif",
        "cut.toml",
        "no-storage.toml",
        "grow.toml",
        "terms.toml",
    ]);
    l.json(&["whatif", "grow.toml"]);
    l.write(
        "bad-terms.toml",
        "[agreement]\n[[agreement.macc]]\nid = \"macc-2025\"\namount = \"-1\"\n",
    );
    l.fails(&["whatif", "bad-terms.toml"]);
    assert_eq!(raw_log(l.data()), before, "records and head unchanged");
    assert_eq!(l.fingerprint(), (state, head_hash));
    l.assert_audit_and_replay_pass();
}

#[test]
fn refusals_name_the_file_line_and_key() {
    let l = ledger();
    let before = raw_log(l.data());
    for (name, text, want) in [
        (
            "factor.toml",
            "[[change]]\nop = \"scale\"\nfactor = \"1,5\"\n",
            "factor.toml:3: change[0] factor: '1,5' is not a decimal amount",
        ),
        (
            "account.toml",
            "[[change]]\nop = \"add\"\nmonthly = \"5\"\nkind = \"usage\"\nbilling_profile = \"E\"\nfrom = \"2025-01\"\nto = \"2025-02\"\naccount = \"fabrikam\"\n",
            "account.toml:1: change[0]: no account 'fabrikam' in this ledger",
        ),
        (
            "terms-bad.toml",
            "[agreement]\n[[agreement.macc]]\nid = \"macc-2025\"\namount = \"-1\"\n",
            "terms-bad.toml:4: agreement macc \"macc-2025\" amount: is -1; expected an amount greater than zero",
        ),
        (
            "kind.toml",
            "[[change]]\nop = \"drop\"\n[change.where]\nkind = \"compute\"\n",
            "kind.toml:4: change[0] where kind: 'compute' is not a charge kind",
        ),
    ] {
        l.write(name, text);
        let stderr = l.fails(&["whatif", name]);
        assert!(stderr.contains(want), "{name}: {stderr}\nwant: {want}");
    }
    let stderr = l.fails(&["whatif", "missing.toml"]);
    assert!(stderr.contains("missing.toml: cannot read"), "{stderr}");
    assert_eq!(raw_log(l.data()), before);
}

// ---------------------------------------------------------------------------------------------
// A worked example's `whatif` expectation, checked the way check.py checks it.

/// check.py's `same`: numbers within 0.005, anything else equal; `{"currency", "value"}`
/// stands for its value.
fn same(want: &Value, got: Option<&Value>) -> bool {
    let Some(mut got) = got else {
        return want.is_null();
    };
    if let Value::Object(m) = got {
        if m.contains_key("value") && m.len() <= 2 {
            got = &m["value"];
        }
    }
    match (want, got) {
        (Value::Number(w), Value::Number(g)) => {
            (w.as_f64().unwrap() - g.as_f64().unwrap()).abs() < 0.005
        }
        _ => want == got,
    }
}

fn compare_map(kind: &str, want: &Value, got: &Map<String, Value>, fails: &mut Vec<String>) {
    for (key, fields) in want.as_object().unwrap() {
        let Some(entry) = got.get(key) else {
            fails.push(format!("{kind} {key}: missing"));
            continue;
        };
        for (field, w) in fields.as_object().unwrap() {
            if !same(w, entry.get(field)) {
                fails.push(format!(
                    "{kind} {key}.{field}: want {w}, got {:?}",
                    entry.get(field)
                ));
            }
        }
    }
}

fn keyed(list: &Value, key: &str, inner: Option<&str>) -> Map<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let entry = inner.map_or(e, |i| &e[i]).clone();
            (e[key].as_str().unwrap().to_string(), entry)
        })
        .collect()
}

#[test]
fn worked_example_whatif_expectation() {
    // contoso-prepayment (001_…): halve the usage. June's 5,000 of usage is then paid by the
    // prepayment (it counts toward no MACC), July's 1,250 too; the MACC keeps only the
    // prepayment purchase's 10,000.
    let l = Ledger::new();
    let folder = fixtures_dir().join("examples").join("contoso-prepayment");
    l.copy_in(&folder.join("agreement.toml"), "agreement.toml");
    l.copy_in(&folder.join("charges.csv"), "charges.csv");
    l.write(
        "half-usage.toml",
        "[[change]]\nop = \"scale\"\nfactor = \"0.5\"\n[change.where]\nkind = \"usage\"\n",
    );
    l.ok(&["agreement", "agreement.toml"]);
    l.ok(&["ingest", "charges.csv"]);
    let expect: Value = serde_json::from_str(
        r#"{"whatif": {
            "scenario": "half-usage.toml",
            "lots": {
                "contoso-macc": {"status": "Active", "closedBalance": 40000.0},
                "INV-2025-06/1": {"source": "PurchasedCredit", "originalAmount": 10000.0, "closedBalance": 3750.0}
            },
            "invoices": {
                "INV-2025-06": {"charges": 15000.0, "creditsApplied": 5000.0, "billed": 10000.0},
                "INV-2025-07": {"charges": 1250.0, "creditsApplied": 1250.0, "billed": 0.0}
            }
        }}"#,
    )
    .unwrap();
    let w = &expect["whatif"];
    let before = l.state();
    let doc = l.json(&["whatif", w["scenario"].as_str().unwrap()]);
    let sc = &doc["scenario"];
    let mut fails = Vec::new();
    compare_map(
        "whatif lot",
        &w["lots"],
        &keyed(&sc["lots"], "name", Some("properties")),
        &mut fails,
    );
    compare_map(
        "whatif invoice",
        &w["invoices"],
        &keyed(&sc["invoices"], "invoiceNumber", None),
        &mut fails,
    );
    assert!(fails.is_empty(), "{fails:#?}");
    assert!(l.state() == before, "whatif changed the ledger");
}
