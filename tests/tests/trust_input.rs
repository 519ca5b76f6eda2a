//! Issue 11, "Data loss" and "Bad input that is accepted" (points 5, 6, 13, 14): inputs that
//! used to be accepted, or half-recorded, are refused naming the file, line and column, and
//! leave the ledger exactly as it was and readable by every verb.

use tests::{assert_mentions, assert_same_state, fixtures_dir, Ledger};

const HEADER: &str = "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";

/// The contoso-prepayment example: MACC contoso-macc (50,000 USD, 2025-05-01..2028-04-30)
/// and two settled invoices.
fn contoso() -> Ledger {
    let ledger = Ledger::new();
    let example = fixtures_dir().join("examples").join("contoso-prepayment");
    ledger.copy_in(&example.join("agreement.toml"), "agreement.toml");
    ledger.copy_in(&example.join("charges.csv"), "charges.csv");
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger.ok(&["ingest", "charges.csv"]);
    ledger
}

/// Run `args`, which must exit 1 naming every one of `mentions`, and leave the four views and
/// the log head as they were. Returns the message.
#[track_caller]
fn assert_refused(ledger: &Ledger, args: &[&str], mentions: &[&str]) -> String {
    let (state_before, head_before) = ledger.fingerprint();
    let message = ledger.fails(args);
    assert_mentions(&message, mentions);
    let (state_after, head_after) = ledger.fingerprint();
    let shown = args.join(" ");
    assert_same_state(
        &state_before,
        &state_after,
        &format!("after the refused `ledger {shown}`"),
    );
    assert_eq!(
        head_before, head_after,
        "the refused `ledger {shown}` appended to the log"
    );
    message
}

/// Every verb still reads the ledger, and another invoice can still be settled.
#[track_caller]
fn assert_still_usable(ledger: &Ledger) {
    ledger.assert_audit_and_replay_pass();
    for verb in ["lots", "events", "caco", "invoices"] {
        ledger.ok(&[verb]);
    }
    ledger.ok(&["alerts", "--as-of", "2025-12-01"]);
    ledger.write(
        "later.csv",
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,account\n\
         INV-LATER,2025-11-05,Contoso,2025-10-10,usage,1.00,USD,contoso\n",
    );
    ledger.ok(&["ingest", "later.csv"]);
}

fn good_then(bad_line: &str) -> String {
    format!("{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00,USD\n{bad_line}\n")
}

// ---- point 5: dates outside 0001..9999 ----

#[test]
fn an_invoice_dated_in_year_zero_is_refused_and_the_ledger_stays_readable() {
    let ledger = contoso();
    for (file, line, column) in [
        (
            "year0-invoice.csv",
            "INV-0,0000-09-05,Contoso,2025-09-10,usage,1.00,USD",
            "column 2 (invoice_date)",
        ),
        (
            "year0-charge.csv",
            "INV-0,2025-09-05,Contoso,0000-12-31,usage,1.00,USD",
            "column 4 (charge_date)",
        ),
    ] {
        ledger.write(file, good_then(line));
        assert_refused(
            &ledger,
            &["ingest", file],
            &[
                &format!("{file}:3"),
                column,
                "0000-",
                "0001-01-01 to 9999-12-31",
            ],
        );
    }
    let periods = "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n\
                   INV-P,2025-09-05,0000-08-01,2025-08-31,Contoso,2025-08-10,usage,1.00,USD\n";
    ledger.write("year0-period.csv", periods);
    assert_refused(
        &ledger,
        &["ingest", "year0-period.csv"],
        &[
            "year0-period.csv:2",
            "column 3 (period_start)",
            "0000-08-01",
        ],
    );
    assert_still_usable(&ledger);
}

#[test]
fn an_agreement_dated_in_year_zero_is_refused_naming_line_and_field() {
    let ledger = contoso();
    for (file, text) in [
        (
            "year0.toml",
            "account = \"other\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"m\"\namount = \"10\"\nstart = 0000-05-01\nend = 2028-04-30\n",
        ),
        (
            "year0-quoted.toml",
            "account = \"other\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"m\"\namount = \"10\"\nstart = \"2025-05-01\"\nend = \"0000-04-30\"\n",
        ),
    ] {
        ledger.write(file, text);
        let message = assert_refused(&ledger, &["agreement", file], &[file, "0000-0"]);
        assert!(
            message.contains(&format!("{file}:7")) || message.contains(&format!("{file}:8")),
            "the refusal names no line: {message}"
        );
    }
    assert_still_usable(&ledger);
}

/// A MACC ending 9999-12-31 (with a milestone due that day) is a valid agreement; the close
/// that would date its shortfall invoice 10000-01-01 is refused and records nothing, for any
/// account.
#[test]
fn a_close_whose_shortfall_would_be_dated_past_9999_is_refused_and_changes_nothing() {
    let ledger = contoso();
    ledger.write(
        "forever.toml",
        "account = \"forever\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"forever-macc\"\namount = \"1000\"\nstart = \"2025-01-01\"\nend = \"9999-12-31\"\n",
    );
    ledger.ok(&["agreement", "forever.toml"]);
    assert_refused(
        &ledger,
        &["close", "--through", "9999-12-31"],
        &["forever-macc", "9999-12-31", "0001-01-01..9999-12-31"],
    );
    assert_refused(
        &ledger,
        &["close", "--through", "9999-12-31", "--account", "forever"],
        &["forever-macc", "9999-12-31"],
    );
    ledger.ok(&["close", "--through", "9999-12-30", "--account", "forever"]);
    ledger.usage_error(&["close", "--through", "0000-12-31"]);
    ledger.usage_error(&["close", "--through", "10000-01-01"]);
    assert_still_usable(&ledger);
}

#[test]
fn a_prepayment_expiring_past_9999_is_refused_naming_the_invoice_line() {
    let ledger = contoso();
    ledger.write(
        "late-prepayment.csv",
        format!(
            "{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00,USD\n\
             INV-9999,9999-07-05,Contoso,9999-06-01,prepayment_purchase,100.00,USD\n"
        ),
    );
    assert_refused(
        &ledger,
        &["ingest", "late-prepayment.csv"],
        &[
            "late-prepayment.csv:3",
            "INV-9999",
            "9999-06-01 + 12 months",
            "0001-01-01..9999-12-31",
            "nothing from this file was recorded",
        ],
    );
    assert_still_usable(&ledger);
}

#[test]
fn a_caco_award_expiring_past_9999_is_refused() {
    let ledger = Ledger::new();
    ledger.write(
        "caco.toml",
        "account = \"late\"\ncurrency = \"USD\"\n\n[[caco]]\nid = \"caco-9999\"\nstart = \"9999-01-01\"\nbasis = \"period\"\naward_months = 12\n  [[caco.milestones]]\n  id = \"M1\"\n  start = \"9999-01-01\"\n  end = \"9999-06-30\"\n  target = \"100.00\"\n  award = \"50.00\"\n",
    );
    ledger.ok(&["agreement", "caco.toml"]);
    ledger.write(
        "award.csv",
        format!("{HEADER}INV-A,9999-07-05,Late,9999-03-10,usage,200.00,USD\n"),
    );
    let message = assert_refused(
        &ledger,
        &["ingest", "award.csv"],
        &[
            "award.csv:2",
            "INV-A",
            "caco-9999/M1/award",
            "9999-07-05 + 12 months",
        ],
    );
    assert!(!message.contains("panicked"), "{message}");
    ledger.assert_audit_and_replay_pass();
    ledger.ok(&["caco"]);
}

// ---- point 6: one command, all files or none ----

#[test]
fn a_refused_file_in_a_multi_file_ingest_records_none_of_them() {
    let ledger = contoso();
    ledger.write(
        "august.csv",
        format!("{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00,USD\n"),
    );
    ledger.write(
        "september.csv",
        format!("{HEADER}INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,100.00,USD\n"),
    );
    // Refused while read (a bad amount) and while decided (R-IDEM-2 against the first file).
    ledger.write(
        "bad-read.csv",
        format!("{HEADER}INV-2025-10,2025-11-05,Contoso,2025-10-10,usage,1O0.00,USD\n"),
    );
    ledger.write(
        "bad-decide.csv",
        format!("{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.01,USD\n"),
    );
    for bad in ["bad-read.csv", "bad-decide.csv"] {
        let message = assert_refused(
            &ledger,
            &["ingest", "august.csv", "september.csv", bad],
            &[bad, "none of the 3 files"],
        );
        assert!(
            !message.contains("were ingested"),
            "the message says files went in: {message}"
        );
    }
    let invoices = ledger.json(&["invoices"]).to_string();
    assert!(!invoices.contains("INV-2025-08"), "{invoices}");
    ledger.ok(&["ingest", "august.csv", "september.csv"]);
    let invoices = ledger.json(&["invoices"]).to_string();
    assert!(
        invoices.contains("INV-2025-08") && invoices.contains("INV-2025-09"),
        "{invoices}"
    );
    ledger.assert_audit_and_replay_pass();
}

/// The second file sees what the first decided: an invoice repeated across two files of one
/// command is settled once, and a second file may rely on the first's lots.
#[test]
fn files_of_one_command_are_decided_in_order() {
    let ledger = contoso();
    let august = format!("{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00,USD\n");
    ledger.write("a.csv", &august);
    ledger.write("b.csv", &august);
    let said = ledger.ok(&["ingest", "a.csv", "b.csv"]);
    assert_mentions(&said, &["a.csv", "b.csv", "already"]);
    let invoices = ledger.json(&["invoices"]).to_string();
    assert_eq!(invoices.matches("INV-2025-08").count(), 1, "{invoices}");
    ledger.assert_audit_and_replay_pass();
}

// ---- point 14: plain decimals, the real limit of a rate, R-IDEM-2 names the line ----

#[test]
fn an_exponent_in_a_native_amount_is_refused() {
    let ledger = contoso();
    ledger.write(
        "exponent.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,1e3,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "exponent.csv"],
        &[
            "exponent.csv:3",
            "column 6 (amount)",
            "'1e3'",
            "plain decimal",
        ],
    );
}

#[test]
fn a_rate_with_too_many_digits_names_the_real_limit() {
    let ledger = contoso();
    ledger.write(
        "rate.toml",
        "account = \"csp\"\ncurrency = \"USD\"\npartner_earned_credit_rate = \"0.150000000000001\"\n",
    );
    let message = assert_refused(
        &ledger,
        &["agreement", "rate.toml"],
        &[
            "rate.toml:3",
            "partner_earned_credit_rate",
            "15 significant digits",
            "at most 14",
        ],
    );
    assert!(!message.contains("10^14"), "{message}");
}

/// Same invoice, same line count, total and date, two lines' charge dates swapped: the
/// refusal names the first line that differs (its file line) with both versions.
#[test]
fn an_r_idem_2_refusal_names_the_first_line_that_differs() {
    let ledger = contoso();
    ledger.write(
        "first.csv",
        format!(
            "{HEADER}INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,100.00,USD\n\
             INV-2025-09,2025-10-05,Contoso,2025-09-11,usage,200.00,USD\n"
        ),
    );
    ledger.ok(&["ingest", "first.csv"]);
    ledger.write(
        "again.csv",
        format!(
            "{HEADER}INV-2025-10,2025-11-05,Contoso,2025-10-10,usage,5.00,USD\n\
             INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,100.00,USD\n\
             INV-2025-10,2025-11-05,Contoso,2025-10-11,usage,5.00,USD\n\
             INV-2025-09,2025-10-05,Contoso,2025-09-12,usage,200.00,USD\n"
        ),
    );
    let message = assert_refused(
        &ledger,
        &["ingest", "again.csv"],
        &[
            "again.csv:5",
            "INV-2025-09",
            "R-IDEM-2",
            "its line 2 differs",
            "settled as 2025-09-11 usage 200",
            "now 2025-09-12 usage 200",
        ],
    );
    assert!(!message.contains("totalling"), "{message}");
}

// ---- point 13: identifiers ----

/// Ids that hide characters, or that a person could not tell from another, are refused in
/// charge files and agreements, naming the file, line and column or field.
#[test]
fn identifiers_with_hidden_or_look_alike_characters_are_refused() {
    let ledger = contoso();
    for (name, bad_line, column, found) in [
        (
            "nul.csv",
            "INV\u{0}9,2025-10-05,Contoso,2025-09-10,usage,1.00,USD",
            "column 1 (invoice_id)",
            "U+0000",
        ),
        (
            "zwsp.csv",
            "INV-2025-0\u{200B}7,2025-08-05,Contoso,2025-07-15,usage,2500.00,USD",
            "column 1 (invoice_id)",
            "U+200B",
        ),
        (
            "bom.csv",
            "\u{FEFF}INV-2025-07,2025-08-05,Contoso,2025-07-15,usage,2500.00,USD",
            "column 1 (invoice_id)",
            "U+FEFF",
        ),
        (
            "wj.csv",
            "INV-9,2025-10-05,Contoso\u{2060},2025-09-10,usage,1.00,USD",
            "column 3 (billing_profile)",
            "U+2060",
        ),
        (
            "space.csv",
            " INV-9,2025-10-05,Contoso,2025-09-10,usage,1.00,USD",
            "column 1 (invoice_id)",
            "space at its start or end",
        ),
        (
            "cyrillic.csv",
            "INV-2025-0\u{0437},2025-08-05,Contoso,2025-07-15,usage,2500.00,USD",
            "column 1 (invoice_id)",
            "printable ASCII",
        ),
        (
            "lower.csv",
            "shortfall-contoso-macc,2025-10-05,Contoso,2025-09-10,usage,1.00,USD",
            "column 1 (invoice_id)",
            "reserved",
        ),
        (
            "mixed.csv",
            "WhatIf-9,2025-10-05,Contoso,2025-09-10,usage,1.00,USD",
            "column 1 (invoice_id)",
            "reserved",
        ),
    ] {
        ledger.write(name, good_then(bad_line));
        assert_refused(
            &ledger,
            &["ingest", name],
            &[&format!("{name}:3"), column, found],
        );
    }
    for (name, account, found) in [
        ("slash.toml", "a/b", "contains '/'"),
        ("dots.toml", "..", "does not start"),
        ("dotdot.toml", "a..b", "contains '..'"),
        ("zw.toml", "contoso\u{200B}", "U+200B"),
    ] {
        ledger.write(
            name,
            format!("account = \"{account}\"\ncurrency = \"USD\"\n"),
        );
        assert_refused(
            &ledger,
            &["agreement", name],
            &[&format!("{name}:1"), "account", found],
        );
    }
    ledger.write(
        "lot.toml",
        "account = \"other\"\ncurrency = \"USD\"\n\n[[credit]]\nid = \"aco\u{FEFF}\"\nkind = \"aco\"\namount = \"5\"\nstart = \"2025-01-01\"\nexpires = \"2025-12-31\"\n",
    );
    assert_refused(
        &ledger,
        &["agreement", "lot.toml"],
        &["lot.toml:5", "credit[0] id", "U+FEFF"],
    );
}

/// Azure's own account ids are accepted as they are.
#[test]
fn azure_account_ids_are_accepted() {
    let ledger = Ledger::new();
    for (name, account) in [
        ("ea.toml", "1234:5678"),
        (
            "mca.toml",
            "7ca289b9-c32d-5f7d-a4b3-4f6d5e1b3a2c:0f5b8b3c-1e2d-4c5b-9a6f-2b3c4d5e6f70_2019-05-31",
        ),
    ] {
        ledger.write(
            name,
            format!("account = \"{account}\"\ncurrency = \"USD\"\n"),
        );
        ledger.ok(&["agreement", name]);
    }
}
