//! `ledger --help` lists every verb, and every verb's help ends with an example.
//!
//! Besides what it checks, this test makes `cargo test --workspace` build the `ledger` binary
//! (`CARGO_BIN_EXE_ledger`) into `target/<profile>/ledger` before any test runs, which is where
//! the end-to-end suite in `tests/` looks for it.

use std::process::Command;

/// The verbs users and scripts rely on (INTERFACE.md); more may be listed.
const REQUIRED_VERBS: &[&str] = &[
    "demo",
    "agreement",
    "ingest",
    "close",
    "lots",
    "events",
    "caco",
    "invoices",
    "replay",
    "audit",
    "gen",
];

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .env_remove("LEDGER_DATA")
        .output()
        .expect("run the ledger binary");
    assert!(
        out.status.success(),
        "`ledger {}` exited {:?}: {}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The verbs of the `Commands:` section of a help text (lines indented by exactly two spaces).
fn listed_verbs(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn help_lists_every_verb() {
    let text = help(&["--help"]);
    let verbs = listed_verbs(&text);
    for verb in REQUIRED_VERBS {
        assert!(
            verbs.iter().any(|v| v == verb),
            "`ledger --help` does not list `{verb}`; it lists {verbs:?}:\n{text}"
        );
    }
}

#[test]
fn every_verb_help_shows_an_example() {
    let verbs = listed_verbs(&help(&["--help"]));
    assert!(
        verbs.len() >= REQUIRED_VERBS.len(),
        "too few verbs: {verbs:?}"
    );
    for verb in verbs.iter().filter(|v| *v != "help") {
        let text = help(&[verb, "--help"]);
        assert!(
            text.contains("Example"),
            "`ledger {verb} --help` shows no example:\n{text}"
        );
    }
    let trace = help(&["audit", "trace", "--help"]);
    assert!(
        trace.contains("Example"),
        "`ledger audit trace --help` shows no example:\n{trace}"
    );
}
