//! The worked examples (`tests/fixtures/examples/`, see the README there), each replayed
//! through the `ledger` binary in a fresh data directory and checked against its
//! `expect.json`: amounts within 0.005, every other field equal. After each example, `ledger audit` and `ledger replay` pass.

use std::path::PathBuf;
use std::process::Output;

use serde_json::{Map, Value};
use tests::{command, fixtures_dir, run_command, show_args, text, truncate, Ledger};

/// Every example folder; a folder added to the fixtures must be added here (and gets checked
/// by [`every_example_folder_is_checked`]).
const EXAMPLES: &[&str] = &["aco-csp", "contoso-prepayment", "macc-events"];

fn examples_dir() -> PathBuf {
    fixtures_dir().join("examples")
}

/// A fresh ledger whose commands run in the example's folder (its files are named relative to
/// it, as in `expect.json`).
struct Example {
    folder: PathBuf,
    ledger: Ledger,
}

impl Example {
    fn run(&self, args: &[String]) -> Output {
        run_command(
            command(self.ledger.data(), &self.folder, args),
            &show_args(args),
        )
    }

    /// `ledger VERB... --json`, which must succeed.
    fn json(&self, verb: &[&str]) -> Result<Value, String> {
        let mut args: Vec<String> = verb.iter().map(|s| s.to_string()).collect();
        args.push("--json".into());
        let out = self.run(&args);
        if !out.status.success() {
            return Err(format!(
                "`{}` exited {:?}: {}",
                show_args(&args),
                out.status.code(),
                truncate(text(&out.stderr).trim(), 300)
            ));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`{}` printed no JSON: {e}", show_args(&args)))
    }
}

/// `{"currency": .., "value": x}` stands for `x`.
fn value_of(v: &Value) -> &Value {
    match v {
        Value::Object(m) if m.contains_key("value") && m.len() <= 2 => &m["value"],
        _ => v,
    }
}

/// `same`: numbers within 0.005 (bools are not numbers), anything else equal.
fn same(want: &Value, got: Option<&Value>) -> bool {
    let Some(got) = got else {
        return want.is_null();
    };
    let got = value_of(got);
    match want {
        Value::Number(w) => {
            let w = w.as_f64().expect("a finite number");
            let g = match got {
                Value::Number(g) => g.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            g.is_some_and(|g| (g - w).abs() < 0.005)
        }
        _ => want == got,
    }
}

/// Entries of a `{"value": [...]}` document keyed by `key(entry)`.
fn keyed<'a>(doc: &'a Value, key: impl Fn(&'a Value) -> Option<&'a Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for entry in doc["value"].as_array().into_iter().flatten() {
        let k = key(entry)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.insert(k, entry.clone());
    }
    out
}

/// Lots keyed by name, as their `properties`.
fn lot_table(doc: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for lot in doc["value"].as_array().into_iter().flatten() {
        let name = lot["name"].as_str().unwrap_or_default().to_string();
        out.insert(
            name,
            lot.get("properties")
                .cloned()
                .unwrap_or(Value::Object(Map::new())),
        );
    }
    out
}

fn compare_map(kind: &str, want: &Value, got: &Map<String, Value>, fails: &mut Vec<String>) {
    for (key, fields) in want.as_object().expect("an object of expectations") {
        let Some(entry) = got.get(key) else {
            let have: Vec<&String> = got.keys().take(10).collect();
            fails.push(format!("{kind} {key}: missing (have {have:?})"));
            continue;
        };
        for (field, w) in fields.as_object().expect("an object of fields") {
            if field == "milestones" {
                let milestones = keyed(
                    &Value::Object(Map::from_iter([(
                        "value".to_string(),
                        entry["milestones"].clone(),
                    )])),
                    |m| m.get("id"),
                );
                compare_map(&format!("{kind} {key} milestone"), w, &milestones, fails);
                continue;
            }
            let g = entry.get(field);
            if !same(w, g) {
                fails.push(format!(
                    "{kind} {key}.{field}: want {w}, got {}",
                    g.map(|g| g.to_string()).unwrap_or_else(|| "nothing".into())
                ));
            }
        }
    }
}

/// An event as the expectations name it: (lot name, invoice number, charges, closed balance).
type SeenEvent<'a> = (
    String,
    Option<&'a Value>,
    Option<&'a Value>,
    Option<&'a Value>,
);

fn check_status(ex: &Example, exp: &Value, fails: &mut Vec<String>) -> Result<(), String> {
    if exp.get("lots").is_some() || exp.get("absent_lots").is_some() {
        let lots = lot_table(&ex.json(&["lots"])?);
        compare_map(
            "lot",
            exp.get("lots").unwrap_or(&Value::Object(Map::new())),
            &lots,
            fails,
        );
        for name in exp
            .get("absent_lots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().expect("a lot name");
            if lots.contains_key(name) {
                fails.push(format!("lot {name}: should not exist"));
            }
        }
    }
    if let Some(want) = exp.get("caco") {
        compare_map(
            "caco",
            want,
            &keyed(&ex.json(&["caco"])?, |c| c.get("id")),
            fails,
        );
    }
    if let Some(want) = exp.get("invoices") {
        compare_map(
            "invoice",
            want,
            &keyed(&ex.json(&["invoices"])?, |i| i.get("invoiceNumber")),
            fails,
        );
    }
    if let Some(alerts) = exp.get("alerts") {
        let as_of = alerts["as_of"].as_str().expect("alerts.as_of");
        compare_map(
            "alert",
            &alerts["items"],
            &keyed(&ex.json(&["alerts", "--as-of", as_of])?, |a| a.get("id")),
            fails,
        );
    }
    if let Some(want) = exp.get("events") {
        let doc = ex.json(&["events"])?;
        let seen: Vec<SeenEvent> = doc["value"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let p = &e["properties"];
                let lot = p["lotId"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (
                    lot,
                    p.get("invoiceNumber"),
                    p.get("charges"),
                    p.get("closedBalance"),
                )
            })
            .collect();
        for w in want.as_array().expect("a list of events") {
            let found = seen.iter().any(|(lot, invoice, charges, balance)| {
                Some(lot.as_str()) == w["lot"].as_str()
                    && *invoice == w.get("invoiceNumber")
                    && same(&w["charges"], *charges)
                    && same(&w["closedBalance"], *balance)
            });
            if !found {
                fails.push(format!("event {w}: not found"));
            }
        }
    }
    Ok(())
}

/// Run one example and return every expectation it misses (`expect.json`, key by key).
fn check_example(name: &str) -> Vec<String> {
    let folder = examples_dir().join(name);
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("expect.json")).expect("expect.json"),
    )
    .expect("expect.json is JSON");
    let ex = Example {
        folder,
        ledger: Ledger::new(),
    };
    let mut fails = Vec::new();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("a list of arguments")
            .iter()
            .map(|a| a.as_str().expect("a string argument").to_string())
            .collect()
    };

    for step in exp
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let args = strings(step);
        let out = ex.run(&args);
        if !out.status.success() {
            return vec![format!(
                "step `{}` exited {:?}: {}",
                show_args(&args),
                out.status.code(),
                truncate(text(&out.stderr).trim(), 300)
            )];
        }
    }
    let views = |ex: &Example| -> Result<(Value, Value), String> {
        Ok((ex.json(&["lots"])?, ex.json(&["invoices"])?))
    };
    let before = match views(&ex) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    for f in exp
        .get("fails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let args = strings(&f["args"]);
        let pattern = f
            .get("stderr_matches")
            .and_then(Value::as_str)
            .unwrap_or(".");
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .dot_matches_new_line(true)
            .build()
            .expect("stderr_matches is a regex");
        let out = ex.run(&args);
        let stderr = text(&out.stderr);
        if out.status.success() {
            fails.push(format!("`{}` should fail but exited 0", show_args(&args)));
        } else if !regex.is_match(&stderr) {
            fails.push(format!(
                "`{}`: message {:?} does not match {pattern:?}",
                show_args(&args),
                truncate(stderr.trim(), 200)
            ));
        }
        match views(&ex) {
            Ok(after) if after == before => {}
            Ok(_) => fails.push(format!(
                "`{}` failed but changed the ledger",
                show_args(&args)
            )),
            Err(e) => fails.push(e),
        }
    }
    if let Err(e) = check_status(&ex, &exp, &mut fails) {
        fails.push(e);
    }
    if let Some(w) = exp.get("whatif") {
        let scenario = w["scenario"].as_str().expect("whatif.scenario");
        match ex.json(&["whatif", scenario]) {
            Err(e) => fails.push(e),
            Ok(doc) => {
                let sc = &doc["scenario"];
                let wrap = |key: &str| {
                    Value::Object(Map::from_iter([("value".to_string(), sc[key].clone())]))
                };
                if let Some(want) = w.get("lots") {
                    compare_map("whatif lot", want, &lot_table(&wrap("lots")), &mut fails);
                }
                if let Some(want) = w.get("caco") {
                    compare_map(
                        "whatif caco",
                        want,
                        &keyed(&wrap("caco"), |c| c.get("id")),
                        &mut fails,
                    );
                }
                if let Some(want) = w.get("invoices") {
                    compare_map(
                        "whatif invoice",
                        want,
                        &keyed(&wrap("invoices"), |i| i.get("invoiceNumber")),
                        &mut fails,
                    );
                }
            }
        }
        match views(&ex) {
            Ok(after) if after == before => {}
            Ok(_) => fails.push("whatif changed the ledger".into()),
            Err(e) => fails.push(e),
        }
    }
    // Every example, whether or not its expect.json asks (issue 3, acceptance 2).
    for verb in ["audit", "replay"] {
        let out = ex.run(&[verb.to_string()]);
        if !out.status.success() {
            fails.push(format!(
                "`ledger {verb}` exited {:?}: {}",
                out.status.code(),
                truncate(text(&out.stderr).trim(), 300)
            ));
        }
    }
    fails
}

#[track_caller]
fn assert_example(name: &str) {
    let fails = check_example(name);
    assert!(
        fails.is_empty(),
        "example {name} misses {} expectation(s):\n  {}",
        fails.len(),
        fails.join("\n  ")
    );
}

#[test]
fn aco_csp_example_consumes_the_aco_first_and_earns_pec_after() {
    assert_example("aco-csp");
}

#[test]
fn contoso_prepayment_example_counts_the_purchase_not_the_consumption_it_pays() {
    assert_example("contoso-prepayment");
}

#[test]
fn macc_events_example_matches_the_azure_events_api() {
    assert_example("macc-events");
}

#[test]
fn every_example_folder_is_checked() {
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("tests/fixtures/examples")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("expect.json").is_file())
        .map(|p| {
            p.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    assert_eq!(
        found, EXAMPLES,
        "example folders and the EXAMPLES list differ: add a test for each new folder"
    );
}

/// The comparison itself must be able to fail: a wrong expectation is reported.
#[test]
fn a_wrong_expectation_is_reported() {
    let ex = Example {
        folder: examples_dir().join("macc-events"),
        ledger: Ledger::new(),
    };
    for step in [["agreement", "agreement.toml"], ["ingest", "charges.csv"]] {
        let args: Vec<String> = step.iter().map(|s| s.to_string()).collect();
        assert!(ex.run(&args).status.success());
    }
    let exp = serde_json::json!({
        "lots": {"G2021032459206000XXXX": {"closedBalance": 9899.72, "status": "Active"}},
        "absent_lots": ["G2021032459206000XXXX"],
        "events": [{"lot": "G2021032459206000XXXX", "invoiceNumber": "T00075XXXX", "charges": -100.0, "closedBalance": 9999.71}]
    });
    let mut fails = Vec::new();
    check_status(&ex, &exp, &mut fails).expect("the views read");
    assert_eq!(fails.len(), 3, "{fails:?}");
    assert!(fails[0].contains("closedBalance"), "{fails:?}");
    assert!(fails[1].contains("should not exist"), "{fails:?}");
    assert!(fails[2].contains("not found"), "{fails:?}");
}
