//! Golden outputs: every verb of `ledger`, run on every worked example (and on a generated
//! ledger with CACOs, milestones and two accounts), compared byte for byte with the files
//! committed under `tests/golden/`. It proves that a change meant to keep behaviour (a
//! refactor, a new crate boundary) keeps every byte a user sees: stdout, stderr, the exit
//! status, and the files a verb writes (`report --html`, `gen`).
//!
//! When a change is *meant* to alter output, regenerate the goldens deliberately and review
//! the diff before committing it:
//!
//! ```text
//! LEDGER_GOLDEN_UPDATE=1 cargo test --release -p tests --test golden
//! git diff tests/golden
//! ```
//!
//! What genuinely varies from run to run is normalised before comparing, and nothing else:
//! - the test's temporary directory (it can appear in messages) becomes `<ROOT>`;
//! - durations: `0.01 s` becomes `<T> s`, `12 ms` becomes `<T> ms`, and `"seconds": 0.0123` becomes `"seconds": <T>`;
//! - speeds: `1,234,567 lines/s` becomes `<N> lines/s`, and `"linesPerSecond": 12.5` becomes
//!   `"linesPerSecond": <N>`.
//!
//! Each step is one file `NN-what.txt` holding the command, its exit status, stdout and
//! stderr; a file a verb writes is kept beside it as `NN-what.<name>`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;
use tests::{fixtures_dir, show_args, text, Ledger};

/// The worked examples (the same list as `examples.rs`).
const EXAMPLES: &[&str] = &["aco-csp", "contoso-prepayment", "macc-events"];

/// Set to regenerate the golden files instead of comparing with them.
const UPDATE_VAR: &str = "LEDGER_GOLDEN_UPDATE";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn updating() -> bool {
    std::env::var_os(UPDATE_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The replacements of the module docs, in order.
fn normalise(text: &str, root: &Path) -> String {
    static RULES: std::sync::OnceLock<Vec<(Regex, &'static str)>> = std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (r#""seconds": -?[0-9.eE+-]+"#, r#""seconds": <T>"#),
            (
                r#""linesPerSecond": -?[0-9.eE+-]+"#,
                r#""linesPerSecond": <N>"#,
            ),
            (r"\b[0-9]+\.[0-9]+ s\b", "<T> s"),
            (r"\b[0-9]+ ms\b", "<T> ms"),
            (r"\b[0-9][0-9,]* lines/s\b", "<N> lines/s"),
        ]
        .into_iter()
        .map(|(pattern, with)| (Regex::new(pattern).expect("a valid pattern"), with))
        .collect()
    });
    let root_text = root.display().to_string();
    let mut out = text.replace(&root_text, "<ROOT>");
    // macOS and some CI runners reach the temp dir through a symlink.
    if let Ok(real) = root.canonicalize() {
        out = out.replace(&real.display().to_string(), "<ROOT>");
    }
    for (pattern, with) in rules {
        out = pattern.replace_all(&out, *with).into_owned();
    }
    out
}

/// One case: a fresh ledger, its steps written to (or compared with) `tests/golden/<name>/`.
struct Case {
    name: String,
    ledger: Ledger,
    step: usize,
    /// Relative paths of the golden files this run produced (to find stale ones).
    produced: BTreeSet<String>,
    mismatches: Vec<String>,
}

impl Case {
    fn new(name: &str) -> Case {
        Case {
            name: name.to_string(),
            ledger: Ledger::new(),
            step: 0,
            produced: BTreeSet::new(),
            mismatches: Vec::new(),
        }
    }

    fn dir(&self) -> PathBuf {
        golden_dir().join(&self.name)
    }

    /// Compare `actual` with the golden file `file` (or write it when updating).
    fn check(&mut self, file: &str, actual: &[u8]) {
        self.produced.insert(file.to_string());
        let path = self.dir().join(file);
        if updating() {
            std::fs::create_dir_all(self.dir()).expect("create the golden directory");
            std::fs::write(&path, actual).expect("write a golden file");
            return;
        }
        match std::fs::read(&path) {
            Err(e) => self.mismatches.push(format!(
                "{}: cannot read ({e}); run with {UPDATE_VAR}=1 to create it",
                path.display()
            )),
            Ok(expected) if expected != actual => self.mismatches.push(format!(
                "{}: differs\n{}",
                path.display(),
                first_difference(&expected, actual)
            )),
            Ok(_) => {}
        }
    }

    /// Run `ledger ARGS` in the ledger's directory and check its golden step file; returns
    /// stdout (normalised).
    fn run(&mut self, what: &str, args: &[&str]) -> String {
        self.step += 1;
        let out = self.ledger.run(args);
        let root = self.ledger.root().to_path_buf();
        let stdout = normalise(&text(&out.stdout), &root);
        let stderr = normalise(&text(&out.stderr), &root);
        let record = format!(
            "$ {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
            show_args(args),
            out.status
                .code()
                .map_or_else(|| "killed".to_string(), |c| c.to_string()),
            stdout,
            stderr
        );
        let file = format!("{:02}-{what}.txt", self.step);
        self.check(&file, record.as_bytes());
        stdout
    }

    /// Check a file a verb wrote into the ledger's directory, under the current step.
    fn written(&mut self, name: &str) {
        let path = self.ledger.path(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: cannot read what the verb wrote: {e}", path.display()));
        let root = self.ledger.root().to_path_buf();
        let normalised = normalise(&String::from_utf8_lossy(&bytes), &root);
        let file = format!("{:02}-{}", self.step, name.replace('/', "_"));
        self.check(&file, normalised.as_bytes());
    }

    /// Every golden file of this case was produced by this run (no stale ones are left), and
    /// every one matched.
    fn finish(mut self) -> Vec<String> {
        if !updating() {
            if let Ok(entries) = std::fs::read_dir(self.dir()) {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !self.produced.contains(&name) {
                        self.mismatches.push(format!(
                            "{}: no step produces this golden file any more (regenerate with {UPDATE_VAR}=1)",
                            entry.path().display()
                        ));
                    }
                }
            }
        } else if let Ok(entries) = std::fs::read_dir(self.dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !self.produced.contains(&name) {
                    std::fs::remove_file(entry.path()).expect("remove a stale golden file");
                }
            }
        }
        self.mismatches
    }
}

/// The first differing line of two texts, for the failure message.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let expected = String::from_utf8_lossy(expected);
    let actual = String::from_utf8_lossy(actual);
    let mut e = expected.lines();
    let mut a = actual.lines();
    for number in 1.. {
        match (e.next(), a.next()) {
            (None, None) => return "  (they differ only in line endings)".into(),
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "  line {number}:\n  expected: {}\n  actual:   {}",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                )
            }
        }
    }
    unreachable!()
}

/// The ids `ledger audit trace --lot` takes: every lot and every CACO.
fn traceable_ids(lots: &str, caco: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (doc, key) in [(lots, "name"), (caco, "id")] {
        let v: Value = serde_json::from_str(doc).expect("the JSON of a read verb");
        for item in v["value"].as_array().into_iter().flatten() {
            if let Some(id) = item[key].as_str() {
                if !ids.iter().any(|i| i == id) {
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids
}

/// The newest invoice date of `ledger invoices --json`, for `--as-of`.
fn newest_invoice_date(invoices: &str) -> Option<String> {
    let v: Value = serde_json::from_str(invoices).expect("the JSON of ledger invoices");
    v["value"]
        .as_array()?
        .iter()
        .filter_map(|i| i["invoiceDate"].as_str())
        .max()
        .map(str::to_string)
}

/// Azure's events as the ledger writes them, with the first decrement off by 1.00: a file that
/// `reconcile` must find one difference in.
fn events_with_one_difference(events: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(events).expect("the JSON of ledger events");
    let list = v["value"].as_array_mut()?;
    let settled = list
        .iter_mut()
        .find(|e| e["properties"]["eventType"] == "SettledCharges")?;
    let charges = &mut settled["properties"]["charges"]["value"];
    let changed = charges.as_f64()? - 1.0;
    *charges = serde_json::json!(changed);
    Some(serde_json::to_string_pretty(&v).expect("serializes"))
}

const SCENARIO_HALF: &str = "name = \"half\"\n[[change]]\nop = \"scale\"\nfactor = \"0.5\"\n";
const SCENARIO_NO_USAGE: &str = "[[change]]\nop = \"drop\"\n[change.where]\nkind = \"usage\"\n";
const SCENARIO_TERMS: &str =
    "name = \"terms\"\n[agreement]\npartner_earned_credit_rate = \"0.2\"\n";

/// Every read and check verb on a ledger that has its agreement and charges.
fn read_verbs(case: &mut Case, label: &str) -> (String, String, String) {
    case.run(&format!("{label}lots"), &["lots"]);
    let lots_json = case.run(&format!("{label}lots-json"), &["lots", "--json"]);
    case.run(&format!("{label}events"), &["events"]);
    let events_json = case.run(&format!("{label}events-json"), &["events", "--json"]);
    case.run(&format!("{label}caco"), &["caco"]);
    let caco_json = case.run(&format!("{label}caco-json"), &["caco", "--json"]);
    case.run(&format!("{label}invoices"), &["invoices"]);
    case.run(&format!("{label}invoices-json"), &["invoices", "--json"]);
    case.run(&format!("{label}replay"), &["replay"]);
    case.run(&format!("{label}replay-json"), &["replay", "--json"]);
    case.run(&format!("{label}audit"), &["audit"]);
    case.run(&format!("{label}audit-json"), &["audit", "--json"]);
    (lots_json, events_json, caco_json)
}

/// The whole tour on a ledger whose agreements and charges are in its directory.
fn tour(case: &mut Case, agreements: &[&str], charges: &[&str]) {
    case.run("lots-before-agreement", &["lots"]);
    let mut args = vec!["agreement"];
    args.extend(agreements);
    case.run("agreement", &args);
    case.run("agreement-again", &args);
    let mut args = vec!["ingest"];
    args.extend(charges);
    case.run("ingest", &args);
    args.push("--json");
    case.run("ingest-again-json", &args);
    let (lots, events, caco) = read_verbs(case, "");
    let invoices = case.run("invoices-for-dates", &["invoices", "--json"]);
    let as_of = newest_invoice_date(&invoices).unwrap_or_else(|| "2025-01-01".into());
    case.run("alerts", &["alerts", "--as-of", &as_of]);
    case.run("alerts-json", &["alerts", "--as-of", &as_of, "--json"]);
    case.run("plan", &["plan", "--as-of", &as_of]);
    case.run("plan-json", &["plan", "--as-of", &as_of, "--json"]);
    let ids = traceable_ids(&lots, &caco);
    for id in &ids {
        let slug = id.replace(['/', ' '], "_");
        case.run(&format!("trace-{slug}"), &["audit", "trace", "--lot", id]);
        case.run(
            &format!("trace-{slug}-json"),
            &["audit", "trace", "--lot", id, "--json"],
        );
        case.run(
            &format!("trace-{slug}-csv"),
            &["audit", "trace", "--lot", id, "--csv"],
        );
    }
    case.run("trace-unknown", &["audit", "trace", "--lot", "no-such-lot"]);

    case.ledger.write("half.toml", SCENARIO_HALF);
    case.ledger.write("a/s.toml", SCENARIO_NO_USAGE);
    case.ledger.write("b/s.toml", SCENARIO_NO_USAGE);
    case.ledger.write("terms.toml", SCENARIO_TERMS);
    case.run("whatif", &["whatif", "half.toml"]);
    case.run("whatif-json", &["whatif", "half.toml", "--json"]);
    case.run(
        "whatif-several",
        &["whatif", "half.toml", "a/s.toml", "b/s.toml", "terms.toml"],
    );
    case.run(
        "whatif-several-json",
        &[
            "whatif",
            "half.toml",
            "a/s.toml",
            "b/s.toml",
            "terms.toml",
            "--json",
        ],
    );

    case.ledger.write("azure-events.json", &events);
    case.ledger.write("azure-lots.json", &lots);
    case.run(
        "reconcile",
        &["reconcile", "azure-events.json", "azure-lots.json"],
    );
    case.run(
        "reconcile-json",
        &[
            "reconcile",
            "azure-events.json",
            "azure-lots.json",
            "--json",
        ],
    );
    if let Some(differing) = events_with_one_difference(&events) {
        case.ledger.write("azure-events-off.json", differing);
        case.run("reconcile-differs", &["reconcile", "azure-events-off.json"]);
        case.run(
            "reconcile-differs-json",
            &["reconcile", "azure-events-off.json", "--json"],
        );
    }

    case.run("report", &["report", "--html", "report.html"]);
    case.written("report.html");
    case.run(
        "report-as-of-whatif",
        &[
            "report",
            "--html",
            "report-whatif.html",
            "--as-of",
            &as_of,
            "--whatif",
            "half.toml",
        ],
    );
    case.written("report-whatif.html");

    case.run("close", &["close", "--through", "2030-12-31"]);
    read_verbs(case, "closed-");
    case.run("closed-alerts", &["alerts", "--as-of", &as_of]);
    case.run("closed-report", &["report", "--html", "report-closed.html"]);
    case.written("report-closed.html");
}

fn assert_no_mismatches(mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{} golden file(s) differ from this run (if the change is meant, regenerate with \
         {UPDATE_VAR}=1 and review `git diff tests/golden`):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_verb_on_every_worked_example_matches_its_golden_output() {
    let mut mismatches = Vec::new();
    for example in EXAMPLES {
        let mut case = Case::new(example);
        let folder = fixtures_dir().join("examples").join(example);
        case.ledger
            .copy_in(&folder.join("agreement.toml"), "agreement.toml");
        case.ledger
            .copy_in(&folder.join("charges.csv"), "charges.csv");
        tour(&mut case, &["agreement.toml"], &["charges.csv"]);
        mismatches.extend(case.finish());
    }
    assert_no_mismatches(mismatches);
}

/// `gen` (native and FOCUS), then the tour on what it wrote: two accounts with MACCs, CACO
/// milestones and credits, which the worked examples do not have.
#[test]
fn gen_and_every_verb_on_generated_data_match_their_golden_output() {
    let mut case = Case::new("generated");
    case.run(
        "gen",
        &[
            "gen",
            "--lines",
            "120",
            "--accounts",
            "2",
            "--seed",
            "7",
            "--out",
            "charges.csv",
        ],
    );
    for file in [
        "charges.csv",
        "charges-agreement-contoso.toml",
        "charges-agreement-fabrikam.toml",
    ] {
        case.written(file);
    }
    case.run(
        "gen-focus",
        &[
            "gen",
            "--lines",
            "60",
            "--seed",
            "9",
            "--format",
            "focus",
            "--out",
            "focus.csv",
        ],
    );
    case.written("focus.csv");
    case.written("focus-agreement-contoso.toml");
    case.run(
        "gen-no-accounts",
        &["gen", "--lines", "1", "--accounts", "0", "--out", "x.csv"],
    );
    tour(
        &mut case,
        &[
            "charges-agreement-contoso.toml",
            "charges-agreement-fabrikam.toml",
        ],
        &["charges.csv"],
    );
    let mut mismatches = case.finish();

    // FOCUS ingest, format told and detected.
    let mut focus = Case::new("generated-focus");
    focus.run(
        "gen-focus",
        &[
            "gen",
            "--lines",
            "60",
            "--seed",
            "9",
            "--format",
            "focus",
            "--out",
            "focus.csv",
        ],
    );
    focus.run("agreement", &["agreement", "focus-agreement-contoso.toml"]);
    focus.run("ingest-json", &["ingest", "focus.csv", "--json"]);
    focus.run(
        "ingest-again",
        &["ingest", "--format", "focus", "focus.csv"],
    );
    read_verbs(&mut focus, "");
    mismatches.extend(focus.finish());
    assert_no_mismatches(mismatches);
}

/// Every verb's `--help` (clap types may move between modules; the help must not change).
#[test]
fn every_help_text_matches_its_golden_output() {
    let mut case = Case::new("help");
    case.run("help", &["--help"]);
    for verb in [
        "demo",
        "agreement",
        "ingest",
        "close",
        "lots",
        "events",
        "caco",
        "invoices",
        "alerts",
        "plan",
        "replay",
        "audit",
        "gen",
        "whatif",
        "reconcile",
        "serve",
        "report",
    ] {
        case.run(&format!("help-{verb}"), &[verb, "--help"]);
    }
    case.run("help-audit-trace", &["audit", "trace", "--help"]);
    case.run("version", &["--version"]);
    case.run("no-verb", &[]);
    case.run("unknown-verb", &["frobnicate"]);
    case.run("bad-date", &["alerts", "--as-of", "2025-13-01"]);
    assert_no_mismatches(case.finish());
}

/// `ledger demo` on a small run, kept in a directory so its closing lines are stable.
#[test]
fn demo_matches_its_golden_output() {
    let mut case = Case::new("demo");
    case.run(
        "demo",
        &["demo", "--lines", "3000", "--keep", "demo-ledger"],
    );
    case.run(
        "demo-not-empty",
        &["demo", "--lines", "10", "--keep", "demo-ledger"],
    );
    assert_no_mismatches(case.finish());
}
