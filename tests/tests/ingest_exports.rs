//! `ledger ingest` of the exports users already have: FOCUS and Azure cost details (issue 5),
//! end to end through the binary, on the public samples copied to `tests/fixtures/data/`
//! (provenance and licences in its SOURCES.txt and LICENSES/).
//!
//! Expected numbers were computed without the ledger: `python3
//! tests/fixtures/data/expected_totals.py` (Python csv + Decimal applying docs/INGEST.md's
//! table) gives rows, lines, skips, totals per kind and per invoice; the MACC balances follow
//! from those totals by R-ELIG and R-ADJ as each test says.

use std::path::PathBuf;

use serde_json::Value;
use tests::{fixtures_dir, Ledger};

fn sample(relative: &str) -> PathBuf {
    fixtures_dir().join("data").join(relative)
}

/// A ledger with one account and a MACC wide enough for every sample month.
fn ledger_for(account: &str, currency: &str, extra: &str) -> Ledger {
    let ledger = Ledger::new();
    ledger.write(
        "agreement.toml",
        format!(
            "account = \"{account}\"\ncurrency = \"{currency}\"\n{extra}\n[[macc]]\nid = \"macc-1\"\namount = \"100000\"\nstart = \"2020-01-01\"\nend = \"2026-12-31\"\n"
        ),
    );
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger
}

/// The exact spelling of the number after `"key": ` following `anchor` in a JSON text.
fn exact(text: &str, anchor: &str, key: &str) -> String {
    let from = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} not in:\n{text}"));
    let needle = format!("\"{key}\": ");
    let at = from
        + text[from..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{key} after {anchor} not in:\n{text}"))
        + needle.len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect()
}

/// `ledger ingest FILE --json` (which must succeed): the raw text and its one file entry.
fn ingest_json(ledger: &Ledger, args: &[&str]) -> (String, Value) {
    let mut all = vec!["ingest"];
    all.extend_from_slice(args);
    all.push("--json");
    let text = ledger.ok(&all);
    let value: Value = serde_json::from_str(&text).expect("ingest --json prints JSON");
    (text, value["files"][0].clone())
}

#[test]
fn ea_actual_cost_export_settles_one_invoice_and_decrements_the_macc() {
    let ledger = ledger_for("8611537", "USD", "");
    let file = ledger.copy_in(
        &sample("finops-toolkit/EA_ActualCost_Small.csv"),
        "EA_ActualCost_Small.csv",
    );
    let (text, outcome) = ingest_json(&ledger, &[file.to_str().unwrap()]);
    // expected_totals.py: 11 rows, 11 lines; usage 10 lines 5.2950077867419368,
    // reservation_purchase 1 line 3.25; one invoice EA-8611537-2023-09.
    assert_eq!(outcome["format"], "azure");
    assert_eq!(
        (outcome["rows"].as_u64(), outcome["lines"].as_u64()),
        (Some(11), Some(11))
    );
    assert_eq!(outcome["skipped"], serde_json::json!({}));
    assert_eq!(outcome["kinds"]["usage"]["lines"], 10);
    assert_eq!(exact(&text, "\"usage\"", "amount"), "5.2950077867419368");
    assert_eq!(exact(&text, "\"reservation_purchase\"", "amount"), "3.25");
    assert_eq!(
        (outcome["invoices"].as_u64(), outcome["settled"].as_u64()),
        (Some(1), Some(1))
    );

    let invoices = ledger.ok(&["invoices", "--json"]);
    // Invoice date = the day after the inclusive EA period end 09/30/2023.
    for (key, value) in [
        ("invoiceNumber", "\"EA-8611537-2023-09\""),
        ("invoiceDate", "\"2023-10-01\""),
        ("periodStart", "\"2023-09-01\""),
        ("periodEnd", "\"2023-09-30\""),
    ] {
        assert!(
            invoices.contains(&format!("\"{key}\": {value}")),
            "{key} {value} in {invoices}"
        );
    }
    assert_eq!(
        exact(&invoices, "EA-8611537-2023-09", "charges"),
        "8.5450077867419368"
    );
    // R-ELIG: paid usage and reservation purchases count toward the MACC:
    // 100000 - 8.5450077867419368.
    let lots = ledger.ok(&["lots", "--json"]);
    assert_eq!(
        exact(&lots, "closedBalance", "value"),
        "99991.4549922132580632"
    );
    ledger.assert_audit_and_replay_pass();

    // The same file again changes nothing and says so.
    let again = ledger.ok(&["ingest", file.to_str().unwrap()]);
    assert!(again.contains("already ingested"), "{again}");
}

#[test]
fn multi_cloud_focus_sample_settles_microsofts_rows_and_counts_the_others() {
    let ledger = ledger_for("8611537", "USD", "");
    let ea = sample("finops-toolkit/EA_ActualCost_Small.csv");
    ledger.ok(&["ingest", ea.to_str().unwrap()]);
    ledger.copy_in(
        &sample("focus-sample-data/focus_sample.csv"),
        "focus_sample.csv",
    );
    let said = ledger.ok(&["ingest", "focus_sample.csv"]);
    // The file's summary, then the log's head.
    let summary = said.lines().next().unwrap_or_default();
    assert!(
        said.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("Log head: ")),
        "{said}"
    );
    assert_eq!(
        summary.trim(),
        format!(
            "focus_sample.csv (FOCUS): 1,000 rows, 51 lines in 1 invoices: 1 settled; 949 rows skipped: 949 of other providers (AWS 942, Oracle 7); in {}",
            summary.trim().rsplit("; in ").next().unwrap()
        )
    );
    // expected_totals.py: usage 39 lines 2.13848548596, refund 12 lines -0.1619713001 (the
    // sample's negative usage rows), one invoice EA-8611537-2024-09 of 1.97651418586.
    let invoices = ledger.ok(&["invoices", "--json"]);
    assert_eq!(
        exact(&invoices, "EA-8611537-2024-09", "charges"),
        "1.97651418586"
    );
    assert!(invoices.contains("\"invoiceDate\": \"2024-10-01\""));
    // R-ELIG and R-ADJ: 100000 - 8.5450077867419368 (the EA file) - 2.13848548596 (usage)
    // + 0.1619713001 (refunds of usage restore the MACC head; none is capped, the head has
    // room) = 99989.4784780273980632.
    let lots = ledger.ok(&["lots", "--json"]);
    assert_eq!(
        exact(&lots, "closedBalance", "value"),
        "99989.4784780273980632"
    );
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn an_amortized_export_is_refused_and_nothing_changes() {
    let ledger = ledger_for("8611537", "USD", "");
    let before = ledger.state();
    let file = sample("finops-toolkit/EA_AmortizedCost_Small.csv");
    let stderr = ledger.fails(&["ingest", file.to_str().unwrap()]);
    assert!(
        stderr.contains("EA_AmortizedCost_Small.csv:2: column 22 (Cost): 0.493152 on usage covered by a reservation or savings plan: this is an amortized-cost export"),
        "{stderr}"
    );
    tests::assert_same_state(
        &before,
        &ledger.state(),
        "after the refused amortized export",
    );
}

#[test]
fn a_wrong_format_or_a_header_only_file_is_said_plainly() {
    let ledger = ledger_for("8611537", "USD", "");
    let before = ledger.state();
    let ea = sample("finops-toolkit/EA_ActualCost_Small.csv");
    let stderr = ledger.fails(&["ingest", "--format", "focus", ea.to_str().unwrap()]);
    assert!(
        stderr.contains("EA_ActualCost_Small.csv:1: missing column BilledCost: a FOCUS file needs"),
        "{stderr}"
    );
    let focus = sample("focus-sample-data/focus_sample.csv");
    let stderr = ledger.fails(&["ingest", "--format", "azure", focus.to_str().unwrap()]);
    assert!(
        stderr.contains("focus_sample.csv:1: missing column CostInBillingCurrency (or Cost)"),
        "{stderr}"
    );
    let german = sample("opencost-azure-billingexports/headersets/German.csv");
    let stderr = ledger.fails(&["ingest", german.to_str().unwrap()]);
    assert!(
        stderr.contains("German.csv:1: this is a legacy pay-as-you-go usage export"),
        "{stderr}"
    );
    tests::assert_same_state(&before, &ledger.state(), "after the refused files");
    let empty = sample("finops-toolkit/EA_NoRows.csv");
    let out = ledger.ok(&["ingest", empty.to_str().unwrap()]);
    assert!(
        out.lines().next().is_some_and(|l| l.ends_with(
            "EA_NoRows.csv (Azure cost details): 0 rows, no charge lines; nothing to settle"
        )),
        "{out}"
    );
    // A SaaS vendor's own bill (FOCUS spec example): every row another provider's.
    let saas =
        sample("focus-spec-examples/saas_examples/spend_agreements/saas_spend_agreements_b2.csv");
    let out = ledger.ok(&["ingest", saas.to_str().unwrap()]);
    assert!(out.contains("14 rows, no charge lines; nothing to settle; 14 rows skipped: 14 of other providers (Acme Co 14)"), "{out}");
    tests::assert_same_state(
        &before,
        &ledger.state(),
        "after files with nothing to settle",
    );
}

/// A small FOCUS file: one first-party usage row and one Datadog Marketplace row.
const MARKETPLACE: &str = "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ProviderName,PublisherName,x_PublisherCategory,x_BillingProfileName,ServiceName\n\
100,contoso,USD,2025-03-01T00:00:00Z,2025-04-01T00:00:00Z,Usage,2025-03-02T00:00:00Z,Microsoft,Microsoft,Cloud Provider,Engineering,Virtual Machines\n\
40,contoso,USD,2025-03-01T00:00:00Z,2025-04-01T00:00:00Z,Usage,2025-03-03T00:00:00Z,Microsoft,Datadog,Vendor,Engineering,Datadog\n";

#[test]
fn marketplace_counts_toward_the_macc_only_when_the_agreement_lists_it() {
    // R-ELIG: marketplace_eligible counts toward the MACC, marketplace does not.
    for (extra, balance, kind) in [
        ("", "99900", "marketplace"),
        (
            "eligible_publishers = [\"datadog\"]",
            "99860",
            "marketplace_eligible",
        ),
        (
            "eligible_offers = [\"Datadog\"]",
            "99860",
            "marketplace_eligible",
        ),
    ] {
        let ledger = ledger_for("contoso", "USD", extra);
        ledger.write("march.csv", MARKETPLACE);
        let (_, outcome) = ingest_json(&ledger, &["march.csv"]);
        assert_eq!(outcome["kinds"][kind]["lines"], 1, "{extra}: {outcome}");
        let lots = ledger.ok(&["lots", "--json"]);
        assert_eq!(
            exact(&lots, "closedBalance", "value"),
            format!("{balance}.0"),
            "{extra}"
        );
    }
}

#[test]
fn damaged_exports_exit_1_naming_the_place_and_append_nothing() {
    let ledger = ledger_for("contoso", "USD", "");
    let before = ledger.state();
    let good = MARKETPLACE;
    let mut invalid_utf8 = good.as_bytes().to_vec();
    let at = good.find("Datadog,Vendor").unwrap();
    invalid_utf8[at + 4] = 0xff;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // A cut row.
        ("cut.csv", good.as_bytes()[..good.len() - 60].to_vec(), "cut.csv:3: has 7 fields but the header has 12"),
        // A broken encoding.
        ("utf8.csv", invalid_utf8, "utf8.csv:3: column 9 (PublisherName): is not valid UTF-8 text (invalid byte after 4 bytes)"),
        // A missing column.
        ("missing.csv", good.replacen("ChargePeriodStart", "ChargeStart", 1).into_bytes(), "missing.csv:1: missing column ChargePeriodStart"),
        // Wrong types.
        ("type.csv", good.replacen("\n40,", "\nforty,", 1).into_bytes(), "type.csv:3: column 1 (BilledCost): 'forty' is not a decimal amount"),
        ("date.csv", good.replacen("2025-03-03T00:00:00Z", "2025-03-32T00:00:00Z", 1).into_bytes(), "date.csv:3: column 7 (ChargePeriodStart): '2025-03-32T00:00:00Z' is not a date"),
    ];
    for (name, bytes, expected) in cases {
        ledger.write(name, bytes);
        let stderr = ledger.fails(&["ingest", name]);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        tests::assert_same_state(
            &before,
            &ledger.state(),
            &format!("after the refused {name}"),
        );
    }
}

#[test]
fn generated_focus_lines_settle_like_the_same_native_lines() {
    // The generator writes the same synthetic lines as native CSV and as FOCUS; both ingest to
    // the same lines and totals per kind (invoice dates differ by convention: the 5th of the
    // next month in native files, the 1st in FOCUS).
    let mut kinds = Vec::new();
    for format in ["native", "focus"] {
        let ledger = Ledger::new();
        let out = ledger.path("charges.csv");
        ledger.ok(&[
            "gen",
            "--lines",
            "3000",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        ledger.ok(&["agreement", "charges-agreement-contoso.toml"]);
        let (_, outcome) = ingest_json(&ledger, &["charges.csv"]);
        assert_eq!(outcome["format"], format);
        assert_eq!(
            (outcome["rows"].as_u64(), outcome["lines"].as_u64()),
            (Some(3000), Some(3000))
        );
        kinds.push(outcome["kinds"].clone());
        ledger.assert_audit_and_replay_pass();
    }
    assert_eq!(kinds[0], kinds[1]);
}
