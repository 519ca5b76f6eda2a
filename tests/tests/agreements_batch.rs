//! Recording many agreements is one batch (issue 13): `ledger agreement` reads, validates and
//! decides every file first, then appends them all in one atomic batch, so a file refused
//! anywhere among them (malformed, or an amendment the core cannot make) records none.

use std::path::PathBuf;

use tests::{assert_mentions, generate, Ledger};

/// Accounts in one call: enough to be many, few enough for a quick test.
const ACCOUNTS: u32 = 300;

fn agreement_args(files: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["agreement".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args
}

/// The generated agreements of `ACCOUNTS` accounts.
fn many_agreements(ledger: &Ledger) -> Vec<PathBuf> {
    let (_, agreements) = generate(ledger, "charges.csv", u64::from(ACCOUNTS) * 12, ACCOUNTS);
    assert_eq!(agreements.len(), ACCOUNTS as usize);
    agreements
}

/// The ledger has recorded nothing: no lots, no events.
fn assert_nothing_recorded(ledger: &Ledger) {
    let state = ledger.state();
    let n = |v: &serde_json::Value| v["value"].as_array().map_or(0, |a| a.len());
    assert_eq!(
        (n(&state.lots), n(&state.events)),
        (0, 0),
        "a refused call recorded something: {}",
        state.counts()
    );
}

#[test]
fn hundreds_of_agreement_files_in_one_call_are_all_recorded() {
    let ledger = Ledger::new();
    let agreements = many_agreements(&ledger);
    let out = ledger.ok(&agreement_args(&agreements));
    let recorded = out.lines().filter(|l| l.contains(": recorded")).count();
    assert_eq!(recorded, ACCOUNTS as usize, "{out}");
    assert_mentions(&out, &["Log head:"]);
    ledger.assert_audit_and_replay_pass();

    // Every one of them is in the log: a second call finds each unchanged and appends nothing.
    let head = ledger.head_hash();
    let again = ledger.ok(&agreement_args(&agreements));
    let unchanged = again.lines().filter(|l| l.contains("is unchanged")).count();
    assert_eq!(unchanged, ACCOUNTS as usize, "{again}");
    assert_eq!(ledger.head_hash(), head);
}

#[test]
fn an_amendment_refused_among_many_files_records_none_of_them() {
    let ledger = Ledger::new();
    let mut agreements = many_agreements(&ledger);
    // A second version of an account recorded earlier in the same call, changing what an
    // amendment may not change: the core refuses it only after the files before it are decided.
    let first = std::fs::read_to_string(&agreements[10]).expect("an agreement file");
    assert!(first.contains("currency = \"USD\""), "{first}");
    let bad = ledger.write(
        "amended-currency.toml",
        first.replace("currency = \"USD\"", "currency = \"EUR\""),
    );
    agreements.insert(200, bad);
    let err = ledger.fails(&agreement_args(&agreements));
    assert_mentions(&err, &["amended-currency.toml", "currency"]);
    assert_nothing_recorded(&ledger);

    // Without the bad file, the same call records them all.
    agreements.remove(200);
    ledger.ok(&agreement_args(&agreements));
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn a_malformed_file_among_many_names_its_line_and_key_and_records_none() {
    let ledger = Ledger::new();
    let mut agreements = many_agreements(&ledger);
    let text = std::fs::read_to_string(&agreements[0]).expect("an agreement file");
    let bad = ledger.write(
        "misspelled.toml",
        text.replacen("currency = ", "curency = ", 1),
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("currency = "))
        .expect("a currency line")
        + 1;
    agreements.insert(150, bad);
    let err = ledger.fails(&agreement_args(&agreements));
    // `FILE:LINE: KEY: ...`
    assert_mentions(&err, &[&format!("misspelled.toml:{line}:"), "curency"]);
    // Read before the ledger is opened: not even an empty ledger is created.
    assert_mentions(&ledger.fails(&["lots"]), &["no ledger at"]);
}
