//! Never hang (issue 13): a sled write that makes no progress (sled 0.34 can deadlock under
//! load) stops the command within `LEDGER_STALL_SECONDS` with a clear message and exit 1, and
//! running the same command again completes it. The stall is injected with
//! `LEDGER_FAULT_STALL=N` (the N-th sled write of the process blocks forever).

use tests::{assert_mentions, copy_dir, generate, run_command, text, Ledger};

#[test]
fn an_ingest_whose_store_stalls_stops_and_the_same_command_completes_it() {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 5_000, 1);
    ledger.ok(&["agreement".to_string(), agreements[0].display().to_string()]);
    let charges = charges.display().to_string();
    let reference = Ledger::new();
    copy_dir(ledger.data(), reference.data());
    reference.ok(&["ingest", charges.as_str()]);

    // The first sled write of the ingest (the batch of its invoices: 5,000 lines are one
    // commit group) never returns.
    let mut stalled = ledger.command(&["ingest", charges.as_str()]);
    stalled
        .env("LEDGER_STALL_SECONDS", "1")
        .env("LEDGER_FAULT_STALL", "1");
    let out = run_command(stalled, "an ingest whose store stalls");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_mentions(
        &stderr,
        &[
            "made no progress for 1 s while appending",
            "Run the same command again to complete it",
        ],
    );

    let again = ledger.ok(&["ingest", charges.as_str()]);
    assert_mentions(&again, &["Log head:"]);
    assert_eq!(ledger.fingerprint(), reference.fingerprint());
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn the_invoices_of_a_small_ingest_are_appended_in_one_commit_group() {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 5_000, 1);
    ledger.ok(&["agreement".to_string(), agreements[0].display().to_string()]);
    let charges = charges.display().to_string();
    let reference = Ledger::new();
    copy_dir(ledger.data(), reference.data());
    let said = reference.ok(&["ingest", charges.as_str()]);
    assert!(!said.contains(" 1 settled"), "several invoices: {said}");

    // Group commit: every invoice is in the first sled write, so the second is the flush
    // (one sled batch per invoice would make it the second invoice's append).
    let mut stalled = ledger.command(&["ingest", charges.as_str()]);
    stalled
        .env("LEDGER_STALL_SECONDS", "1")
        .env("LEDGER_FAULT_STALL", "2");
    let out = run_command(stalled, "an ingest whose flush stalls");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_mentions(&stderr, &["made no progress for 1 s while flushing"]);

    ledger.ok(&["ingest", charges.as_str()]);
    assert_eq!(ledger.fingerprint(), reference.fingerprint());
    ledger.assert_audit_and_replay_pass();
}
