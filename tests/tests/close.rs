//! `ledger close` is idempotent (issue 11 pt 7): a close that would change nothing appends
//! nothing, so a second identical close leaves the log as it was, and re-running a close that
//! stopped after some accounts (as after a crash) gives the log, and the event ids, a single
//! run gives.

use tests::{assert_mentions, copy_dir, generate, Ledger};

const THROUGH: &str = "2030-12-31";

/// Two accounts (contoso, fabrikam) with agreements and a year of invoices.
fn two_accounts() -> Ledger {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 2_000, 2);
    let mut args = vec!["agreement".to_string()];
    args.extend(agreements.iter().map(|a| a.display().to_string()));
    ledger.ok(&args);
    ledger.ok(&["ingest".to_string(), charges.display().to_string()]);
    ledger
}

fn copy_of(pristine: &Ledger) -> Ledger {
    let copy = Ledger::new();
    copy_dir(pristine.data(), copy.data());
    copy
}

#[test]
fn a_second_identical_close_appends_nothing_and_says_nothing_was_due() {
    let ledger = two_accounts();
    let first = ledger.ok(&["close", "--through", THROUGH]);
    assert_mentions(&first, &["fabrikam: closed through 2030-12-31:"]);
    let (state, head) = ledger.fingerprint();
    let records = ledger.json(&["audit"])["records"].clone();

    let second = ledger.ok(&["close", "--through", THROUGH]);
    assert_mentions(
        &second,
        &[
            "contoso: already closed through 2030-12-31; nothing was due, nothing recorded",
            "fabrikam: already closed through 2030-12-31; nothing was due, nothing recorded",
        ],
    );
    assert_eq!(ledger.json(&["audit"])["records"], records, "{second}");
    assert_eq!(ledger.fingerprint(), (state, head), "{second}");
    // An earlier date changes nothing either.
    ledger.ok(&["close", "--through", "2030-06-30"]);
    assert_eq!(ledger.json(&["audit"])["records"], records);
}

#[test]
fn a_close_rerun_after_stopping_part_way_gives_the_same_log_and_event_ids() {
    let pristine = two_accounts();
    let whole = copy_of(&pristine);
    whole.ok(&["close", "--through", THROUGH]);

    // Accounts are closed in id order: stop after the first, then run the whole close again.
    let resumed = copy_of(&pristine);
    resumed.ok(&["close", "--through", THROUGH, "--account", "contoso"]);
    let again = resumed.ok(&["close", "--through", THROUGH]);
    assert_mentions(&again, &["contoso: already closed through 2030-12-31"]);

    assert_eq!(resumed.fingerprint(), whole.fingerprint());
    resumed.assert_audit_and_replay_pass();
}
