//! One writer at a time (issue 3): while `ledger ingest` runs, a second process that tries to
//! write (`ingest`, `agreement`) exits 1 at once with a "busy" message naming the data
//! directory and the holder (`pid N, `ledger ingest``), and the ledger ends exactly as the
//! first ingest alone leaves it, its audit passing.
//!
//! Readers (issue 13): `lots`, `events`, `caco` and `invoices` read the published snapshots
//! without the ledger's lock, so they answer while a writer runs (`tests/readers.rs` checks
//! what they show); `audit` and `replay` read the log itself, so they are refused the same way
//! as a second writer (sled 0.34 has no read-only mode) and work again once the writer is done.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tests::{
    assert_mentions, assert_same_state, copy_dir, generate, is_release, text, wait_with_timeout,
    Ledger, State,
};

/// Charge lines: about a second of ingest in release.
fn lines() -> u64 {
    if is_release() {
        1_000_000
    } else {
        250_000
    }
}

/// A generated charge file, its agreements recorded in `ledger`'s data directory, and the
/// state and head of a ledger where that file alone was ingested.
struct Busy {
    ledger: Ledger,
    charges: String,
    reference: State,
    reference_head: String,
}

fn setup() -> Busy {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", lines(), 1);
    let mut args = vec!["agreement".to_string()];
    args.extend(agreements.iter().map(|p| p.display().to_string()));
    ledger.ok(&args);
    // The state the first ingest alone must leave: the same agreements and file, alone.
    let alone = Ledger::new();
    copy_dir(ledger.data(), alone.data());
    let charges = charges.display().to_string();
    alone.ok(&["ingest", &charges]);
    let (reference, reference_head) = alone.fingerprint();
    // A small file that would change the ledger if a second writer got through.
    ledger.write(
        "extra.csv",
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,account\nEXTRA-1,2026-02-05,Ops,2026-01-10,usage,12.34,USD,contoso\n",
    );
    Busy {
        ledger,
        charges,
        reference,
        reference_head,
    }
}

/// Start `ledger ingest FILE` and wait until it holds the ledger (its pid in `owner.txt`).
fn start_writer(busy: &Busy) -> Child {
    let owner = busy.ledger.data().join(ledger_store::OWNER_FILE);
    let mut child = busy
        .ledger
        .command(&["ingest", &busy.charges])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ledger ingest");
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holder = std::fs::read_to_string(&owner).unwrap_or_default();
        if holder.split_whitespace().next() == Some(pid.as_str()) {
            return child;
        }
        if let Some(status) = child.try_wait().expect("poll the writer") {
            panic!("the first ingest ended ({status:?}) before it was seen holding the ledger");
        }
        assert!(
            Instant::now() < deadline,
            "the first ingest never named itself in {}",
            owner.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The writer must still be running (else what was observed says nothing about concurrency).
#[track_caller]
fn assert_still_running(child: &mut Child, what: &str) {
    assert!(
        child.try_wait().expect("poll the writer").is_none(),
        "the first ingest finished before `{what}` was tried: the input is too small for this machine, the test observed nothing"
    );
}

fn finish(child: Child) {
    let mut child = child;
    let out = wait_with_timeout(&mut child, "the first ingest", Duration::from_secs(300));
    assert!(
        out.status.success(),
        "the first ingest failed: {}",
        text(&out.stderr)
    );
}

fn data_dir(busy: &Busy) -> PathBuf {
    busy.ledger.data().to_path_buf()
}

#[test]
fn a_second_writer_is_refused_while_an_ingest_runs_and_the_first_ends_intact() {
    let busy = setup();
    let mut writer = start_writer(&busy);
    let pid = writer.id();
    let dir = data_dir(&busy).display().to_string();
    let mut messages = Vec::new();
    for args in [
        vec!["ingest", "extra.csv"],
        vec!["ingest", &busy.charges],
        vec!["agreement", "charges-agreement-contoso.toml"],
        vec!["close", "--through", "2030-01-01"],
    ] {
        let started = Instant::now();
        let message = busy.ledger.fails(&args);
        let waited = started.elapsed();
        assert_still_running(&mut writer, &args.join(" "));
        assert_mentions(
            &message,
            &[
                &dir,
                "in use",
                &format!("pid {pid}"),
                "ledger ingest",
                "try again",
            ],
        );
        assert!(
            waited < Duration::from_secs(3),
            "`ledger {}` took {waited:?} to report the ledger busy",
            args.join(" ")
        );
        messages.push(message);
    }
    finish(writer);

    let (state, head) = busy.ledger.fingerprint();
    assert_same_state(
        &busy.reference,
        &state,
        "after the first ingest, with writers refused meanwhile",
    );
    assert_eq!(
        head, busy.reference_head,
        "the log differs from that of the first ingest alone"
    );
    busy.ledger.assert_audit_and_replay_pass();
    // Once the writer is done, the refused writer gets through.
    busy.ledger.ok(&["ingest", "extra.csv"]);
    assert!(busy
        .ledger
        .json(&["invoices"])
        .to_string()
        .contains("EXTRA-1"));
    println!("a second writer was told: {}", messages[0].trim());
}

#[test]
fn log_readers_are_refused_while_a_writer_runs_and_projection_readers_are_not() {
    let busy = setup();
    let mut writer = start_writer(&busy);
    let pid = writer.id();
    let dir = data_dir(&busy).display().to_string();
    for verb in ["audit", "replay"] {
        let message = busy.ledger.fails(&[verb]);
        assert_still_running(&mut writer, verb);
        assert_mentions(&message, &[&dir, "in use", &format!("pid {pid}")]);
    }
    // A read that ends while the writer still runs read without the lock.
    assert_still_running(&mut writer, "lots");
    busy.ledger.ok(&["lots", "--json"]);
    assert_still_running(&mut writer, "lots");
    for verb in ["events", "caco", "invoices"] {
        busy.ledger.ok(&[verb, "--json"]);
    }
    finish(writer);
    let (state, _) = busy.ledger.fingerprint();
    assert_same_state(
        &busy.reference,
        &state,
        "after the writer finished, readers read its result",
    );
}

#[test]
fn two_ingests_started_together_never_corrupt_the_ledger() {
    let busy = setup();
    let spawn = || {
        busy.ledger
            .command(&["ingest", &busy.charges])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ledger ingest")
    };
    let (mut a, mut b) = (spawn(), spawn());
    let outs = [
        wait_with_timeout(&mut a, "ingest a", Duration::from_secs(300)),
        wait_with_timeout(&mut b, "ingest b", Duration::from_secs(300)),
    ];
    let succeeded = outs.iter().filter(|o| o.status.success()).count();
    assert!(
        succeeded >= 1,
        "neither ingest succeeded: {:?}",
        outs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>()
    );
    for out in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert_mentions(&text(&out.stderr), &["in use", "try again"]);
    }
    let (state, head) = busy.ledger.fingerprint();
    assert_same_state(
        &busy.reference,
        &state,
        "after two ingests of the same file raced",
    );
    assert_eq!(
        head, busy.reference_head,
        "the log differs from that of one ingest"
    );
    busy.ledger.assert_audit_and_replay_pass();
    println!(
        "two ingests started together: {succeeded} succeeded, {} refused as busy",
        2 - succeeded
    );
}
