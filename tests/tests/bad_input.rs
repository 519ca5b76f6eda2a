//! Bad input (issue 2, "Bad input"; acceptance 5): every refused input exits 1 with a message
//! naming the file, the line and the column (or field) at fault and what was expected, and
//! leaves the ledger exactly as it was: the four views (`lots`, `events`, `caco`, `invoices`)
//! and the log's head hash (`ledger audit --json`) are compared before and after. Wrong usage
//! exits 2. Re-ingesting a file already ingested succeeds, says it changed nothing, and
//! changes nothing.

use std::fmt::Write as _;

use tests::{assert_mentions, assert_same_state, fixtures_dir, Ledger};

const HEADER: &str = "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";

/// A ledger holding the contoso-prepayment example: one USD agreement (MACC contoso-macc of
/// 50,000) and two settled invoices, INV-2025-06 and INV-2025-07 (2,500.00 of usage).
fn contoso() -> Ledger {
    let ledger = Ledger::new();
    let example = fixtures_dir().join("examples").join("contoso-prepayment");
    ledger.copy_in(&example.join("agreement.toml"), "agreement.toml");
    ledger.copy_in(&example.join("charges.csv"), "charges.csv");
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger.ok(&["ingest", "charges.csv"]);
    ledger
}

/// Run `args`, which must exit 1 with a message mentioning every one of `mentions`, and
/// leave the views and the log head as they were. Returns the message.
#[track_caller]
fn assert_refused(ledger: &Ledger, args: &[&str], mentions: &[&str]) -> String {
    let (state_before, head_before) = ledger.fingerprint();
    let message = ledger.fails(args);
    assert_mentions(&message, mentions);
    let (state_after, head_after) = ledger.fingerprint();
    assert_same_state(
        &state_before,
        &state_after,
        &format!("after the refused `ledger {}`", args.join(" ")),
    );
    assert_eq!(
        head_before,
        head_after,
        "the refused `ledger {}` appended to the log",
        args.join(" ")
    );
    message
}

/// A charge file: a good new invoice on line 2, then `bad_line` (a whole CSV line) on line 3.
fn good_then(bad_line: &str) -> String {
    format!("{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00,USD\n{bad_line}\n")
}

#[test]
fn an_unparsable_amount_is_refused_naming_line_and_column() {
    let ledger = contoso();
    ledger.write(
        "bad-amount.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,\"12,50\",USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "bad-amount.csv"],
        &[
            "bad-amount.csv:3",
            "column 6 (amount)",
            "'12,50'",
            "not a decimal amount",
            "expected",
        ],
    );
    ledger.write(
        "two-points.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,12.3.4,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "two-points.csv"],
        &[
            "two-points.csv:3",
            "column 6 (amount)",
            "'12.3.4'",
            "expected",
        ],
    );
}

#[test]
fn a_negative_amount_on_a_charge_that_is_not_a_refund_is_refused() {
    let ledger = contoso();
    ledger.write(
        "negative.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,-12.50,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "negative.csv"],
        &[
            "negative.csv:3",
            "column 6 (amount)",
            "-12.50",
            "refund",
            "expected",
        ],
    );
}

#[test]
fn an_unparsable_date_is_refused_naming_line_and_column() {
    let ledger = contoso();
    ledger.write(
        "bad-charge-date.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-02-30,usage,12.50,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "bad-charge-date.csv"],
        &[
            "bad-charge-date.csv:3",
            "column 4 (charge_date)",
            "'2025-02-30'",
            "expected YYYY-MM-DD",
        ],
    );
    ledger.write(
        "bad-invoice-date.csv",
        good_then("INV-2025-09,5/10/2025,Contoso,2025-09-10,usage,12.50,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "bad-invoice-date.csv"],
        &[
            "bad-invoice-date.csv:3",
            "column 2 (invoice_date)",
            "'5/10/2025'",
            "expected YYYY-MM-DD",
        ],
    );
}

#[test]
fn an_unknown_kind_is_refused_listing_the_kinds() {
    let ledger = contoso();
    ledger.write(
        "bad-kind.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,compute,12.50,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "bad-kind.csv"],
        &[
            "bad-kind.csv:3",
            "column 5 (kind)",
            "'compute'",
            "expected one of",
            "usage",
            "refund",
        ],
    );
}

#[test]
fn a_missing_column_is_refused_naming_it() {
    let ledger = contoso();
    ledger.write("no-currency.csv", "invoice_id,invoice_date,billing_profile,charge_date,kind,amount\nINV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00\n");
    assert_refused(
        &ledger,
        &["ingest", "no-currency.csv"],
        &["no-currency.csv:1", "missing column 'currency'"],
    );
    ledger.write(
        "short-row.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,12.50"),
    );
    assert_refused(
        &ledger,
        &["ingest", "short-row.csv"],
        &["short-row.csv:3", "6 fields", "7"],
    );
}

#[test]
fn a_file_in_no_known_format_is_refused_naming_the_expected_columns() {
    let ledger = contoso();
    ledger.write("other.csv", "date,cost\n2025-08-10,100\n");
    assert_refused(
        &ledger,
        &["ingest", "other.csv"],
        &["other.csv:1", "invoice_id", "amount", "currency"],
    );
}

#[test]
fn a_currency_that_is_not_the_agreements_is_refused() {
    let ledger = contoso();
    ledger.write(
        "euros.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,12.50,EUR"),
    );
    assert_refused(
        &ledger,
        &["ingest", "euros.csv"],
        &["euros.csv:3", "column 7 (currency)", "'EUR'", "USD"],
    );
}

#[test]
fn an_invoice_seen_before_with_different_content_is_refused_from_a_second_file() {
    let ledger = contoso();
    // INV-2025-07 was settled from charges.csv with 2,500.00; this file changes it by a cent,
    // after a new invoice that must not be recorded either.
    ledger.write(
        "second.csv",
        good_then("INV-2025-07,2025-08-05,Contoso,2025-07-15,usage,2500.01,USD"),
    );
    let message = assert_refused(
        &ledger,
        &["ingest", "second.csv"],
        &[
            "second.csv:3",
            "INV-2025-07",
            "different content",
            "R-IDEM-2",
            "2500.01",
        ],
    );
    assert_mentions(&message, &["nothing from this file was recorded"]);
    let invoices = ledger.json(&["invoices"]);
    assert!(
        !invoices.to_string().contains("INV-2025-08"),
        "INV-2025-08 of the refused file was recorded: {invoices}"
    );
}

#[test]
fn an_agreement_with_a_bad_amount_is_refused_naming_line_and_field() {
    let ledger = contoso();
    let text = std::fs::read_to_string(ledger.path("agreement.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("amount"))
        .expect("an amount line")
        + 1;
    ledger.write(
        "bad-amount.toml",
        text.replace("amount = \"50000\"", "amount = \"50,000\""),
    );
    assert_refused(
        &ledger,
        &["agreement", "bad-amount.toml"],
        &[
            &format!("bad-amount.toml:{line}"),
            "macc \"contoso-macc\" amount",
            "'50,000'",
            "expected",
        ],
    );
    // The same keys in JSON.
    ledger.write(
        "bad-amount.json",
        "{\"account\": \"contoso\", \"currency\": \"USD\",\n \"macc\": [{\"id\": \"contoso-macc\", \"amount\": \"lots\", \"start\": \"2025-05-01\", \"end\": \"2028-04-30\"}]}\n",
    );
    assert_refused(
        &ledger,
        &["agreement", "bad-amount.json"],
        &["bad-amount.json:2", "amount", "'lots'", "expected"],
    );
}

#[test]
fn an_agreement_ending_before_it_starts_is_refused() {
    let ledger = contoso();
    let text = std::fs::read_to_string(ledger.path("agreement.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("end"))
        .expect("an end line")
        + 1;
    ledger.write(
        "backwards.toml",
        text.replace("end = \"2028-04-30\"", "end = \"2024-04-30\""),
    );
    assert_refused(
        &ledger,
        &["agreement", "backwards.toml"],
        &[
            &format!("backwards.toml:{line}"),
            "end",
            "2024-04-30",
            "before its start 2025-05-01",
        ],
    );
}

#[test]
fn an_unknown_key_in_an_agreement_is_refused_listing_the_known_ones() {
    let ledger = contoso();
    let text = std::fs::read_to_string(ledger.path("agreement.toml")).unwrap();
    let text = text.replace(
        "currency = \"USD\"\n",
        "currency = \"USD\"\ncolour = \"blue\"\n",
    );
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    ledger.write("colour.toml", text);
    assert_refused(
        &ledger,
        &["agreement", "colour.toml"],
        &[
            &format!("colour.toml:{line}"),
            "unknown key 'colour'",
            "expected one of",
            "account",
            "macc",
        ],
    );
}

#[test]
fn a_missing_file_is_refused_naming_it() {
    let ledger = contoso();
    assert_refused(
        &ledger,
        &["agreement", "no-such-agreement.toml"],
        &["no-such-agreement.toml", "cannot read"],
    );
    assert_refused(
        &ledger,
        &["ingest", "no-such-charges.csv"],
        &["no-such-charges.csv", "cannot read"],
    );
    // A missing second file refuses the whole command before the first is read.
    ledger.write(
        "good.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,12.50,USD"),
    );
    assert_refused(
        &ledger,
        &["ingest", "good.csv", "no-such-charges.csv"],
        &["no-such-charges.csv", "cannot read"],
    );
}

/// A refused command in a directory with no ledger leaves no ledger behind: `--data` with a
/// typo must not turn into an empty ledger that later commands read as "no lots".
#[test]
fn a_refused_command_in_a_new_directory_creates_no_ledger() {
    let ledger = Ledger::new();
    ledger.write(
        "charges.csv",
        good_then("INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,12.50,USD"),
    );
    ledger.write("backwards.toml", "account = \"contoso\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"m\"\namount = \"10\"\nstart = \"2025-05-01\"\nend = \"2024-04-30\"\n");
    let refused: [&[&str]; 3] = [
        &["agreement", "no-such-agreement.toml"],
        &["agreement", "backwards.toml"],
        &["ingest", "charges.csv"],
    ];
    let mut created = String::new();
    for args in refused {
        ledger.fails(args);
        let lots = ledger.run(&["lots"]);
        let said = format!("{}{}", tests::text(&lots.stdout), tests::text(&lots.stderr));
        if lots.status.code() != Some(1) || !said.contains("no ledger at") {
            writeln!(
                created,
                "after the refused `ledger {}`, `ledger lots` exits {:?} saying: {}",
                args.join(" "),
                lots.status.code(),
                said.trim()
            )
            .unwrap();
        }
        if ledger.data().join("db").exists() {
            writeln!(
                created,
                "after the refused `ledger {}`, {} holds a new database",
                args.join(" "),
                ledger.data().display()
            )
            .unwrap();
        }
        let _ = std::fs::remove_dir_all(ledger.data());
    }
    assert!(
        created.is_empty(),
        "refused commands created a ledger:\n{created}"
    );
}

#[test]
fn a_bad_thousandth_line_after_999_good_ones_records_nothing_from_the_file() {
    let ledger = contoso();
    // 999 good charge lines in ten invoices (file lines 2..=1000), then a bad 1000th charge
    // line (file line 1001).
    let mut csv = String::from(HEADER);
    for i in 0..999 {
        let invoice = i / 100;
        writeln!(
            csv,
            "INV-BULK-{invoice:02},2025-09-05,Contoso,2025-08-{:02},usage,{}.{:02},USD",
            1 + i % 28,
            1 + i % 50,
            i % 100
        )
        .unwrap();
    }
    csv.push_str("INV-BULK-09,2025-09-05,Contoso,2025-08-28,usage,12.3.4,USD\n");
    ledger.write("bulk.csv", csv);
    assert_refused(
        &ledger,
        &["ingest", "bulk.csv"],
        &["bulk.csv:1001", "column 6 (amount)", "'12.3.4'"],
    );
    let invoices = ledger.json(&["invoices"]).to_string();
    assert!(
        !invoices.contains("INV-BULK"),
        "invoices of the refused file were recorded: {invoices}"
    );
}

#[test]
fn reserved_invoice_ids_are_refused() {
    let ledger = contoso();
    for (file, id) in [
        ("shortfall.csv", "SHORTFALL-contoso-macc"),
        ("whatif.csv", "WHATIF-2025-09"),
    ] {
        ledger.write(
            file,
            good_then(&format!(
                "{id},2025-10-05,Contoso,2025-09-10,usage,12.50,USD"
            )),
        );
        assert_refused(
            &ledger,
            &["ingest", file],
            &[
                &format!("{file}:3"),
                "column 1 (invoice_id)",
                &format!("'{id}'"),
                "reserved",
            ],
        );
    }
}

#[test]
fn ingest_without_an_agreement_is_refused_naming_what_to_do() {
    let ledger = contoso();
    ledger.write("other-account.csv", "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,account\nF-1,2025-09-05,Ops,2025-08-10,usage,1.00,USD,fabrikam\n");
    assert_refused(
        &ledger,
        &["ingest", "other-account.csv"],
        &["other-account.csv:2", "fabrikam"],
    );
}

#[test]
fn reingesting_a_file_changes_nothing_and_says_so() {
    let ledger = contoso();
    let (state_before, head_before) = ledger.fingerprint();
    let said = ledger.ok(&["ingest", "charges.csv"]);
    assert_mentions(&said, &["charges.csv", "already", "nothing changed"]);
    let (state_after, head_after) = ledger.fingerprint();
    assert_same_state(
        &state_before,
        &state_after,
        "after re-ingesting charges.csv",
    );
    assert_eq!(
        head_before, head_after,
        "re-ingesting charges.csv appended to the log"
    );
}

#[test]
fn recording_the_same_agreement_again_changes_nothing_and_says_so() {
    let ledger = contoso();
    let (state_before, head_before) = ledger.fingerprint();
    let said = ledger.ok(&["agreement", "agreement.toml"]);
    assert_mentions(&said, &["agreement.toml", "unchanged", "nothing recorded"]);
    let (state_after, head_after) = ledger.fingerprint();
    assert_same_state(
        &state_before,
        &state_after,
        "after recording agreement.toml again",
    );
    assert_eq!(
        head_before, head_after,
        "recording the same agreement again appended to the log"
    );
}

/// Files are decided in the order given, all before the first append (issue 11 pt 6): a
/// refused second file leaves the first unrecorded too, and the message says so.
#[test]
fn a_refused_second_file_records_neither_and_says_so() {
    let ledger = contoso();
    ledger.write(
        "august.csv",
        format!("{HEADER}INV-2025-08,2025-09-05,Contoso,2025-08-10,usage,100.00,USD\n"),
    );
    ledger.write(
        "september.csv",
        format!("{HEADER}INV-2025-09,2025-10-05,Contoso,2025-09-10,usage,1O0.00,USD\n"),
    );
    assert_refused(
        &ledger,
        &["ingest", "august.csv", "september.csv"],
        &[
            "september.csv:2",
            "column 6 (amount)",
            "none of the 2 files",
        ],
    );
    let invoices = ledger.json(&["invoices"]).to_string();
    assert!(
        !invoices.contains("INV-2025-08"),
        "the first file was settled: {invoices}"
    );
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn wrong_usage_exits_2() {
    let ledger = contoso();
    let (state_before, head_before) = ledger.fingerprint();
    let cases: [&[&str]; 7] = [
        &["frobnicate"],
        &["ingest"],
        &["agreement"],
        &["close"],
        &["close", "--through", "2025-02-30"],
        &["audit", "trace"],
        &["lots", "--colour"],
    ];
    for args in cases {
        let message = ledger.usage_error(args);
        assert!(
            message.contains("Usage") || message.contains("--help"),
            "`ledger {}` gives no usage hint:\n{message}",
            args.join(" ")
        );
    }
    let (state_after, head_after) = ledger.fingerprint();
    assert_same_state(&state_before, &state_after, "after wrong usage");
    assert_eq!(head_before, head_after);
}
