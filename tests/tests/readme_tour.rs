//! The README's five-minute tour works as written (issue 11, point 15): its commands, taken
//! from the fenced `sh` blocks of the "A five-minute tour" section, run in order in one shell,
//! in a temporary folder that holds what a fresh clone holds for them (`docs/` and
//! `tests/fixtures/examples/`), with `ledger` on the PATH resolved to the binary under test.
//!
//! The convention the README states: every command exits 0 unless its comment says
//! `# exits N: why`. Lines starting with `cargo ` are skipped (the binary under test is already
//! built). Afterwards the facts the tour promises are checked through the ledger's JSON, not
//! its wording, so that the tables may change without breaking this test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tests::{command, copy_dir, ledger_bin, run_command, text, wait_with_timeout};

/// The section of README.md whose `sh` blocks are the tour.
const TOUR_HEADING: &str = "## A five-minute tour";

/// The whole tour (it generates and ingests a million lines) may take this long.
const TOUR_TIMEOUT: Duration = Duration::from_secs(900);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}

/// One command of the tour.
#[derive(Debug)]
struct Step {
    line: String,
    expected_exit: i32,
}

/// The tour's commands, in order, from the README's text.
fn tour_steps(readme: &str) -> Vec<Step> {
    let start = readme
        .find(TOUR_HEADING)
        .unwrap_or_else(|| panic!("README.md has no `{TOUR_HEADING}` section"));
    let section = &readme[start + TOUR_HEADING.len()..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let mut steps = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        let trimmed = line.trim();
        if !in_sh {
            in_sh = trimmed == "```sh";
            continue;
        }
        if trimmed.starts_with("```") {
            in_sh = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("cargo ") {
            continue;
        }
        assert!(
            !trimmed.ends_with('\\'),
            "a tour command continues on the next line; keep each on one line: {trimmed}"
        );
        steps.push(Step {
            line: trimmed.to_string(),
            expected_exit: expected_exit(trimmed),
        });
    }
    assert!(!in_sh, "an `sh` block of the tour is not closed");
    steps
}

/// `# exits N: …` in a command's comment, else 0.
fn expected_exit(line: &str) -> i32 {
    let Some(at) = line.find("# exits ") else {
        return 0;
    };
    let digits: String = line[at + "# exits ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("`# exits` without a number: {line}"))
}

/// The shell script: each command followed by a marker with its exit status, and a marker
/// before it on both streams, so each command's output can be told apart.
fn script(steps: &[Step]) -> String {
    let mut s = String::new();
    for (i, step) in steps.iter().enumerate() {
        s.push_str(&format!(
            "printf '\\n@@step {i}\\n'; printf '\\n@@step {i}\\n' >&2\n{}\nprintf '\\n@@exit {i} %d\\n' \"$?\"\n",
            step.line
        ));
    }
    s
}

/// What one command printed, and how it exited.
#[derive(Debug, Default)]
struct Ran {
    stdout: String,
    stderr: String,
    exit: Option<i32>,
}

fn split_output(stdout: &str, stderr: &str, count: usize) -> Vec<Ran> {
    let mut ran: Vec<Ran> = (0..count).map(|_| Ran::default()).collect();
    let mut current: Option<usize> = None;
    for line in stdout.lines() {
        if let Some(i) = line.strip_prefix("@@step ") {
            current = i.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("@@exit ") {
            let mut parts = rest.split_whitespace();
            let i: usize = parts.next().and_then(|x| x.parse().ok()).expect("a step");
            ran[i].exit = parts.next().and_then(|x| x.parse().ok());
            current = None;
        } else if let Some(i) = current {
            ran[i].stdout.push_str(line);
            ran[i].stdout.push('\n');
        }
    }
    let mut current: Option<usize> = None;
    for line in stderr.lines() {
        if let Some(i) = line.strip_prefix("@@step ") {
            current = i.trim().parse().ok();
        } else if let Some(i) = current {
            ran[i].stderr.push_str(line);
            ran[i].stderr.push('\n');
        }
    }
    ran
}

/// A folder with what the tour reads from a fresh clone, and `bin/ledger`.
fn clone_dir(root: &Path) -> PathBuf {
    let clone = root.join("clone");
    let repo = repo_root();
    copy_dir(&repo.join("docs"), &clone.join("docs"));
    copy_dir(
        &repo.join("tests/fixtures/examples"),
        &clone.join("tests/fixtures/examples"),
    );
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("a bin folder");
    std::fs::copy(
        ledger_bin(),
        bin.join(format!("ledger{}", std::env::consts::EXE_SUFFIX)),
    )
    .expect("the ledger binary copied");
    std::fs::create_dir_all(root.join("tmp")).expect("a TMPDIR");
    clone
}

/// `ledger --data DATA ARGS... --json` after the tour, which must succeed.
fn json(data: &Path, cwd: &Path, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = run_command(command(data, cwd, &all), &all.join(" "));
    assert!(
        out.status.success() || all[0] == "reconcile",
        "ledger {all:?} failed: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("ledger {all:?}: no JSON: {e}"))
}

fn lot<'a>(lots: &'a Value, name: &str) -> &'a Value {
    lots["value"]
        .as_array()
        .expect("a value array")
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no lot {name} in {lots:#}"))
}

fn amount(v: &Value) -> f64 {
    v["value"]
        .as_f64()
        .or_else(|| v.as_f64())
        .expect("an amount")
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let steps = tour_steps(&readme);
    assert!(steps.len() > 20, "the tour has its commands: {steps:#?}");
    assert!(
        steps.iter().any(|s| s.expected_exit != 0),
        "the tour shows a refusal marked `# exits 1: …`"
    );

    let root = tempfile::tempdir().expect("a temporary folder");
    let clone = clone_dir(root.path());
    let path = std::env::join_paths(std::iter::once(root.path().join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a PATH");
    let mut shell = Command::new("bash");
    shell
        .arg("-c")
        .arg(script(&steps))
        .current_dir(&clone)
        .env("PATH", path)
        .env("TMPDIR", root.path().join("tmp"))
        .env_remove("LEDGER_DATA")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = shell.spawn().expect("bash runs");
    let out = wait_with_timeout(&mut child, "the README tour", TOUR_TIMEOUT);
    let ran = split_output(&text(&out.stdout), &text(&out.stderr), steps.len());

    let mut wrong = Vec::new();
    for (step, ran) in steps.iter().zip(&ran) {
        if ran.exit != Some(step.expected_exit) {
            wrong.push(format!(
                "`{}`: exit {:?}, the README says {}\n--- stdout\n{}--- stderr\n{}",
                step.line, ran.exit, step.expected_exit, ran.stdout, ran.stderr
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The facts the tour promises, read back from the ledgers it made ($T = mktemp -d).
    let made: Vec<PathBuf> = std::fs::read_dir(root.path().join("tmp"))
        .expect("the tour's TMPDIR")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        made.len(),
        1,
        "the tour makes one temporary folder: {made:?}"
    );
    let t = &made[0];
    check_promises(t, &clone, &ran, &steps);
}

fn step_output<'a>(steps: &[Step], ran: &'a [Ran], starts: &str) -> &'a Ran {
    let i = steps
        .iter()
        .position(|s| s.line.starts_with(starts))
        .unwrap_or_else(|| panic!("the tour has no `{starts}` step"));
    &ran[i]
}

fn check_promises(t: &Path, clone: &Path, ran: &[Ran], steps: &[Step]) {
    // 1: the Contoso MACC has 37,500.00 left, the prepayment is used up.
    let lots = json(&t.join("contoso"), clone, &["lots"]);
    assert_eq!(
        amount(&lot(&lots, "contoso-macc")["properties"]["closedBalance"]),
        37500.0
    );
    assert_eq!(
        amount(&lot(&lots, "INV-2025-06/1")["properties"]["closedBalance"]),
        0.0
    );
    // The refused file names its line and column.
    let refused = step_output(steps, ran, "ledger ingest $T/bad.csv");
    assert!(refused.stderr.contains("bad.csv:2"), "{}", refused.stderr);

    // 6: an export run of two parts (one gzip) is one input, read through its manifest; the
    // second ingest, by the manifest, skips it; the same rows as Parquet settle the same.
    let run = step_output(steps, ran, "ledger ingest $T/run ");
    assert!(
        run.stdout.contains(
            "manifest.json (FOCUS, 2 parts): 20,000 rows, 20,000 lines in 12 invoices: 12 settled"
        ),
        "{}",
        run.stdout
    );
    let again = step_output(steps, ran, "ledger ingest $T/run/manifest.json");
    assert!(
        again.stdout.contains("skipped run run-1"),
        "{}",
        again.stdout
    );
    let parquet = step_output(steps, ran, "ledger ingest $T/focus.parquet");
    assert!(
        parquet
            .stdout
            .contains("(FOCUS): 20,000 rows, 20,000 lines in 12 invoices: 12 settled"),
        "{}",
        parquet.stdout
    );
    for view in ["lots", "events", "invoices"] {
        assert_eq!(
            json(&t.join("parquet"), clone, &[view]),
            json(&t.join("exports"), clone, &[view]),
            "{view}: the Parquet export settles as the CSV run"
        );
    }

    // 3: the last CSP invoice: billed 47.00, PEC 7.05, due 39.95.
    let invoices = json(&t.join("csp"), clone, &["invoices"]);
    let last = invoices["value"]
        .as_array()
        .and_then(|v| v.last())
        .expect("invoices");
    assert_eq!(last["billed"].as_f64(), Some(47.0));
    assert_eq!(last["partnerEarnedCredit"].as_f64(), Some(7.05));
    assert_eq!(last["invoiceAmount"].as_f64(), Some(39.95));

    // 4: there were deadlines to evaluate, and the close evaluated them.
    let fab = t.join("fabrikam");
    // (The alerts were taken before the close, which ended everything they were about.)
    let alerts = step_output(steps, ran, "ledger alerts --as-of 2025-05-05");
    assert!(
        alerts.stdout.contains("M1") && alerts.stdout.contains("High"),
        "{}",
        alerts.stdout
    );
    // `plan` and a what-if projecting the run rate through the year agree (issue 16).
    let plan = step_output(steps, ran, "ledger plan --as-of 2025-05-05");
    let row = |id: &str| {
        plan.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no {id} row:\n{}", plan.stdout))
            .to_string()
    };
    assert!(row("fab-macc/M1").contains("1,150.00"), "{}", plan.stdout);
    assert!(row("fab-macc").contains("1,037.50"), "{}", plan.stdout);
    assert!(row("fab-macc").contains("500.00"), "{}", plan.stdout);
    let whatif = step_output(steps, ran, "ledger whatif docs/examples/run-rate.toml");
    assert!(
        whatif
            .stdout
            .contains("fab-macc: Active → Expired, shortfall 500.00")
            && whatif
                .stdout
                .contains("fab-macc M1: Open → Missed, shortfall 350.00"),
        "{}",
        whatif.stdout
    );
    let lots = json(&fab, clone, &["lots"]);
    let macc = &lot(&lots, "fab-macc")["properties"];
    assert_eq!(
        (macc["status"].as_str(), amount(&macc["closedBalance"])),
        (Some("Expired"), 6000.0)
    );
    assert_eq!(
        amount(&lot(&lots, "fab-macc/shortfall")["properties"]["originalAmount"]),
        6000.0
    );
    assert_eq!(
        amount(&lot(&lots, "fab-macc/M1/shortfall")["properties"]["originalAmount"]),
        2300.0
    );
    let invoices = json(&fab, clone, &["invoices"]);
    let ids: Vec<&str> = invoices["value"]
        .as_array()
        .expect("invoices")
        .iter()
        .filter_map(|i| i["invoiceNumber"].as_str())
        .collect();
    assert!(
        ids.contains(&"SHORTFALL-fab-macc-M1") && ids.contains(&"SHORTFALL-fab-macc"),
        "{ids:?}"
    );

    // 5: cut-usage.toml cuts usage: less charged, more MACC left, nothing written.
    let whatif = json(
        &t.join("contoso"),
        clone,
        &["whatif", "docs/examples/cut-usage.toml"],
    );
    let remaining = |side: &str| {
        whatif[side]["lots"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["name"] == "contoso-macc"))
            .map(|l| amount(&l["properties"]["closedBalance"]))
            .expect("the MACC on both sides")
    };
    assert!(remaining("scenario") > remaining("baseline"), "{whatif:#}");
    let charged = |side: &str| -> f64 {
        whatif[side]["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .map(|i| i["charges"].as_f64().expect("charges"))
            .sum()
    };
    assert!(charged("scenario") < charged("baseline"), "{whatif:#}");
    // Azure's events: the shipped sample agrees, the other differs on one invoice.
    let events = t.join("events");
    let clean = json(
        &events,
        clone,
        &["reconcile", "docs/examples/azure-events.json"],
    );
    assert_eq!(
        (clean["differs"].as_bool(), clean["matched"].as_u64()),
        (Some(false), Some(2))
    );
    let differs = json(
        &events,
        clone,
        &["reconcile", "docs/examples/azure-events-differs.json"],
    );
    assert_eq!(differs["differences"].as_u64(), Some(1), "{differs:#}");
    assert_eq!(differs["invoices"][0]["invoiceNumber"], "T00075XXXX");

    // 7: the generated agreements were recorded, so the lines settled on their accounts.
    let big = json(&t.join("big"), clone, &["invoices"]);
    let accounts: std::collections::BTreeSet<&str> = big["value"]
        .as_array()
        .expect("invoices")
        .iter()
        .filter_map(|i| i["account"].as_str())
        .collect();
    assert_eq!(accounts.len(), 3, "{accounts:?}");

    // 8: the report was written.
    let report = std::fs::read_to_string(t.join("report.html")).expect("the report");
    assert!(report.to_ascii_lowercase().starts_with("<!doctype html"));
}

#[test]
fn the_tour_convention_is_read_as_stated() {
    let readme = "intro\n## A five-minute tour\n```sh\ncargo build\nledger a   # fine\n\n\
                  ledger b  # exits 1: refused\n```\ntext\n```text\nnot a command\n```\n\
                  ## Next\n```sh\nledger c\n```\n";
    let steps = tour_steps(readme);
    let got: Vec<(&str, i32)> = steps
        .iter()
        .map(|s| (s.line.as_str(), s.expected_exit))
        .collect();
    assert_eq!(
        got,
        [
            ("ledger a   # fine", 0),
            ("ledger b  # exits 1: refused", 1)
        ]
    );
}
