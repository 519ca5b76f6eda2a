//! The public samples (copies in `tests/fixtures/data/`, provenance and licences there) read by
//! the FOCUS and Azure readers. Every expected number below was computed without this code:
//! by `python3 tests/fixtures/data/expected_totals.py` (Python's csv module and Decimal,
//! applying docs/INGEST.md's table independently), whose output was copied here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledger_core::{ChargeKind, Invoice, Money};

use super::assemble::Accounts;
use super::export::ReadStats;
use super::format::{detect_format, stage_file, InputFormat};
use super::mapping::SkipReason;

fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/data")
        .join(relative)
}

fn accounts(list: &[(&str, &str)]) -> Accounts {
    Accounts::new(
        list.iter()
            .map(|(a, c)| (a.to_string(), c.to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

/// Everything staging one file gives: the invoices, the counts, the totals per kind.
struct Staged {
    invoices: Vec<Invoice>,
    stats: ReadStats,
    kinds: Vec<(ChargeKind, u64, Money)>,
}

fn stage(path: &Path, accounts: &Accounts) -> Result<Staged, String> {
    let format = detect_format(path).map_err(|e| e.to_string())?;
    let spill = tempfile::tempdir().unwrap();
    let (mut staged, stats) =
        stage_file(path, format, accounts, spill.path(), |_, _| {}).map_err(|e| e.to_string())?;
    let summary = staged.summary().clone();
    assert!(summary.totals.len() <= 1, "each sample is in one currency");
    let kinds = ChargeKind::ALL
        .into_iter()
        .filter(|k| summary.lines_by_kind[k.index()] > 0)
        .map(|k| {
            (
                k,
                summary.lines_by_kind[k.index()],
                summary.totals[0].by_kind[k.index()],
            )
        })
        .collect();
    let invoices = staged.iter().collect::<Result<Vec<_>, _>>().unwrap();
    Ok(Staged {
        invoices,
        stats,
        kinds,
    })
}

/// (id, date, period start, period end, lines, total) of each invoice.
fn invoices(s: &Staged) -> Vec<(String, String, String, String, usize, Money)> {
    s.invoices
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.date.to_string(),
                i.period_start.to_string(),
                i.period_end.to_string(),
                i.lines.len(),
                i.total().unwrap(),
            )
        })
        .collect()
}

fn invoice(
    id: &str,
    date: &str,
    start: &str,
    end: &str,
    lines: usize,
    total: &str,
) -> (String, String, String, String, usize, Money) {
    (
        id.into(),
        date.into(),
        start.into(),
        end.into(),
        lines,
        m(total),
    )
}

fn skipped(s: &Staged) -> Vec<(&'static str, u64)> {
    SkipReason::ALL
        .into_iter()
        .filter(|r| s.stats.skipped[r.index()] > 0)
        .map(|r| (r.name(), s.stats.skipped[r.index()]))
        .collect()
}

fn refused(path: &Path, accounts: &Accounts) -> String {
    match stage(path, accounts) {
        Ok(s) => panic!(
            "{} was accepted ({} invoices)",
            path.display(),
            s.invoices.len()
        ),
        Err(e) => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/data");
            e.replace(&format!("{}/", root.display()), "")
        }
    }
}

#[test]
fn the_fixtures_are_the_shared_samples_byte_for_byte() {
    // SHA256SUMS.txt came with the samples; the tests below rely on unchanged bytes. Checked
    // here by size and header only (no hashing crate); `sha256sum -c SHA256SUMS.txt` in
    // tests/fixtures/data checks the rest.
    let sums = std::fs::read_to_string(data("SHA256SUMS.txt")).unwrap();
    let files: Vec<&str> = sums
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(files.len(), 39);
    for f in files {
        assert!(data(f).is_file(), "{f} is missing from tests/fixtures/data");
    }
    assert_eq!(
        std::fs::metadata(data("focus-sample-data/focus_sample.csv"))
            .unwrap()
            .len(),
        755_423
    );
}

#[test]
fn ea_actual_cost_sample() {
    // expected_totals.py: rows 11, lines 11; reservation_purchase 1 line 3.25; usage 10 lines
    // 5.2950077867419368; invoice EA-8611537-2023-09 dated 2023-10-01, period
    // 2023-09-01..2023-09-30, 11 lines, total 8.5450077867419368.
    let path = data("finops-toolkit/EA_ActualCost_Small.csv");
    assert_eq!(detect_format(&path).unwrap(), InputFormat::Azure);
    let s = stage(&path, &accounts(&[("8611537", "USD")])).unwrap();
    assert_eq!((s.stats.rows, s.stats.lines), (11, 11));
    assert_eq!(skipped(&s), vec![]);
    assert_eq!(
        s.kinds,
        vec![
            (ChargeKind::Usage, 10, m("5.2950077867419368")),
            (ChargeKind::ReservationPurchase, 1, m("3.25")),
        ]
    );
    assert_eq!(
        invoices(&s),
        vec![invoice(
            "EA-8611537-2023-09",
            "2023-10-01",
            "2023-09-01",
            "2023-09-30",
            11,
            "8.5450077867419368"
        )]
    );
    let i = &s.invoices[0];
    assert_eq!(
        (i.account.as_str(), i.currency.as_str()),
        ("8611537", "USD")
    );
    assert_eq!(
        i.profiles,
        vec!["Trey Research Demo (DO NOT USE)".to_string()]
    );
    // The purchase's service and the charge date from MM/DD/YYYY.
    let purchase = i
        .lines
        .iter()
        .find(|l| l.kind == ChargeKind::ReservationPurchase)
        .unwrap();
    assert_eq!(purchase.charge_date.to_string(), "2023-09-21");
    assert_eq!(i.str(purchase.service), Some("Virtual Machines"));
}

#[test]
fn ea_amortized_cost_sample_is_refused_as_amortized() {
    // expected_totals.py: refused at line 2 (a reservation-covered usage row costing 0.493152).
    let message = refused(
        &data("finops-toolkit/EA_AmortizedCost_Small.csv"),
        &accounts(&[("8611537", "USD")]),
    );
    assert!(
        message.starts_with(
            "finops-toolkit/EA_AmortizedCost_Small.csv:2: column 22 (Cost): 0.493152 on usage covered by a reservation or savings plan: this is an amortized-cost export"
        ),
        "{message}"
    );
    assert!(
        message.contains("Export the actual cost instead"),
        "{message}"
    );
}

#[test]
fn ea_header_only_sample_has_nothing_to_settle() {
    let s = stage(
        &data("finops-toolkit/EA_NoRows.csv"),
        &accounts(&[("8611537", "USD")]),
    )
    .unwrap();
    assert_eq!((s.stats.rows, s.stats.lines, s.invoices.len()), (0, 0, 0));
}

#[test]
fn focus_sample_data_multi_cloud() {
    // expected_totals.py: rows 1000, lines 51, skipped other_provider 949 (AWS 942, Oracle 7);
    // usage 39 lines 2.13848548596; refund 12 lines -0.1619713001; invoice EA-8611537-2024-09
    // dated 2024-10-01, period 2024-09-01..2024-09-30, 51 lines, total 1.97651418586.
    // The sample's defects (numbers in AvailabilityZone, ListCost != ListUnitPrice x
    // PricingQuantity, "Usage-Based"/"Usage-based", the AWS credit row, literal NULL, every
    // value quoted) are tolerated as docs/INGEST.md says: unread columns, skipped rows, NULL
    // as empty.
    let path = data("focus-sample-data/focus_sample.csv");
    assert_eq!(detect_format(&path).unwrap(), InputFormat::Focus);
    let s = stage(&path, &accounts(&[("8611537", "USD")])).unwrap();
    assert_eq!((s.stats.rows, s.stats.lines), (1000, 51));
    assert_eq!(skipped(&s), vec![("other_provider", 949)]);
    assert_eq!(
        s.stats.skipped_providers,
        BTreeMap::from([("AWS".to_string(), 942), ("Oracle".to_string(), 7)])
    );
    assert_eq!(
        s.kinds,
        vec![
            (ChargeKind::Usage, 39, m("2.13848548596")),
            (ChargeKind::Refund, 12, m("-0.1619713001")),
        ]
    );
    assert_eq!(
        invoices(&s),
        vec![invoice(
            "EA-8611537-2024-09",
            "2024-10-01",
            "2024-09-01",
            "2024-09-30",
            51,
            "1.97651418586"
        )]
    );
    let i = &s.invoices[0];
    // The billing profile falls back to BillingAccountName (no x_ columns in FOCUS 1.0 data).
    assert_eq!(i.profiles, vec!["SunBird".to_string()]);
    // Negative usage is a refund correcting usage (R-ADJ).
    assert!(i
        .lines
        .iter()
        .filter(|l| l.kind == ChargeKind::Refund)
        .all(|l| l.corrects_kind == Some(ChargeKind::Usage)));
}

/// A FOCUS spec example with the three columns it lacks appended to every non-blank line
/// (BillingCurrency=USD, ProviderName=Microsoft, BillingAccountId=focus-spec), as
/// expected_totals.py reads it.
fn with_spec_columns(path: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = String::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        out.push_str(line.trim_end_matches('\r'));
        out.push_str(if i == 0 {
            ",BillingCurrency,ProviderName,BillingAccountId\n"
        } else {
            ",USD,Microsoft,focus-spec\n"
        });
    }
    let to = dir.join(path.file_name().unwrap());
    std::fs::write(&to, out).unwrap();
    to
}

#[test]
fn focus_spec_commitment_examples_as_they_are_are_refused_for_the_columns_they_lack() {
    let message = refused(
        &data("focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv"),
        &accounts(&[("focus-spec", "USD")]),
    );
    assert!(
        message.starts_with("focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv:1: missing column BillingCurrency: a FOCUS file needs"),
        "{message}"
    );
}

#[test]
fn focus_spec_commitment_examples_map_purchases_used_and_unused_commitment() {
    // expected_totals.py (+3 columns): per file, (rows, lines, unused_commitment skipped,
    // kinds as (kind, lines, total)); every file is one invoice EA-focus-spec-2023-01 dated
    // 2023-02-01 for 2023-01-01..2023-01-31 whose total is the sum of the kinds.
    use ChargeKind::{ReservationPurchase as RP, ReservationUsage as RU, Usage as U};
    /// (file, rows, lines, unused commitment rows skipped, (kind, lines, total) per kind).
    type Case = (
        &'static str,
        u64,
        u64,
        u64,
        &'static [(ChargeKind, u64, &'static str)],
    );
    let cases: [Case; 11] = [
        ("commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv", 3, 3, 0, &[(U, 1, "2.25"), (RP, 1, "0.5"), (RU, 1, "0")]),
        ("commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv", 3, 3, 0, &[(RP, 1, "2"), (RU, 2, "0")]),
        ("commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv", 2, 2, 0, &[(RP, 1, "1.5"), (RU, 1, "0")]),
        ("commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv", 3, 2, 1, &[(U, 1, "2"), (RP, 1, "1.5")]),
        ("commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv", 1, 1, 0, &[(RP, 1, "8760")]),
        ("commitment_discount_scenarios/commitment_discount_purchase_scenario_2.csv", 3, 3, 0, &[(RP, 3, "3")]),
        ("commitment_discount_scenarios/commitment_discount_purchase_scenario_3.csv", 4, 4, 0, &[(RP, 4, "4381.5")]),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv", 1, 1, 0, &[(RU, 1, "0")]),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv", 1, 0, 1, &[]),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv", 2, 1, 1, &[(RU, 1, "0")]),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv", 2, 2, 0, &[(U, 1, "0.5"), (RU, 1, "0")]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (file, rows, lines, unused, kinds) in cases {
        let path = with_spec_columns(&data(&format!("focus-spec-examples/{file}")), dir.path());
        let s = stage(&path, &accounts(&[("focus-spec", "USD")]))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((s.stats.rows, s.stats.lines), (rows, lines), "{file}");
        assert_eq!(
            s.stats.skipped[SkipReason::UnusedCommitment.index()],
            unused,
            "{file}"
        );
        let want: Vec<(ChargeKind, u64, Money)> =
            kinds.iter().map(|(k, n, t)| (*k, *n, m(t))).collect();
        assert_eq!(s.kinds, want, "{file}");
        if lines > 0 {
            let total = want
                .iter()
                .map(|k| k.2)
                .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap());
            assert_eq!(
                invoices(&s),
                vec![(
                    "EA-focus-spec-2023-01".to_string(),
                    "2023-02-01".to_string(),
                    "2023-01-01".to_string(),
                    "2023-01-31".to_string(),
                    lines as usize,
                    total
                )],
                "{file}"
            );
        }
    }
}

#[test]
fn focus_spec_saas_examples_are_other_providers_bills() {
    // expected_totals.py: every row of the 15 SaaS examples is skipped as another provider's
    // (ACMECORP or Acme Co bill them; no Microsoft provider or issuer), so their defects
    // ("$10,000.00 " amounts, M/D/YY dates) are never read.
    let cases: [(&str, u64, &str); 15] = [
        (
            "saas_examples/simple_agreements/simple_saas_agreements_a1.csv",
            1,
            "ACMECORP",
        ),
        (
            "saas_examples/simple_agreements/simple_saas_agreements_a2.csv",
            1,
            "ACMECORP",
        ),
        (
            "saas_examples/simple_agreements/simple_saas_agreements_a3.csv",
            1,
            "ACMECORP",
        ),
        (
            "saas_examples/simple_agreements/simple_saas_agreements_b.csv",
            1,
            "ACMECORP",
        ),
        (
            "saas_examples/simple_agreements/simple_saas_agreements_c.csv",
            3,
            "ACMECORP",
        ),
        (
            "saas_examples/spend_agreements/saas_spend_agreements_a1.csv",
            4,
            "Acme Co",
        ),
        (
            "saas_examples/spend_agreements/saas_spend_agreements_a2.csv",
            13,
            "Acme Co",
        ),
        (
            "saas_examples/spend_agreements/saas_spend_agreements_b1.csv",
            5,
            "Acme Co",
        ),
        (
            "saas_examples/spend_agreements/saas_spend_agreements_b2.csv",
            14,
            "Acme Co",
        ),
        (
            "saas_examples/virtual_currency_pricing_model_a1.csv",
            1,
            "ACMECORP",
        ),
        (
            "saas_examples/virtual_currency_pricing_model_a2.csv",
            3,
            "ACMECORP",
        ),
        (
            "saas_examples/virtual_currency_pricing_model_b1.csv",
            1,
            "ACMECORP",
        ),
        (
            "saas_examples/virtual_currency_pricing_model_b2.csv",
            3,
            "ACMECORP",
        ),
        (
            "saas_examples/virtual_currency_pricing_model_b3.csv",
            3,
            "ACMECORP",
        ),
        (
            "saas_examples/virtual_currency_pricing_model_c.csv",
            2,
            "ACMECORP",
        ),
    ];
    for (file, rows, provider) in cases {
        let s = stage(
            &data(&format!("focus-spec-examples/{file}")),
            &Accounts::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (s.stats.rows, s.stats.lines, s.invoices.len()),
            (rows, 0, 0),
            "{file}"
        );
        assert_eq!(skipped(&s), vec![("other_provider", rows)], "{file}");
        assert_eq!(
            s.stats.skipped_providers,
            BTreeMap::from([(provider.to_string(), rows)]),
            "{file}"
        );
    }
}

#[test]
fn opencost_enterprise_header_set_reads_with_its_account() {
    // expected_totals.py: 1 row, reservation_usage 1 line 0 (ReservationId set, cost 0);
    // invoice EA-12345678-2021-05 dated 2021-06-01 for 2021-05-01..2021-05-31 (the charge date
    // 02/02/2021 lies outside the period in this anonymised fixture; accepted as given).
    let path = data("opencost-azure-billingexports/headersets/Enterprise.csv");
    let s = stage(&path, &accounts(&[("12345678", "CAD")])).unwrap();
    assert_eq!(
        s.kinds,
        vec![(ChargeKind::ReservationUsage, 1, Money::ZERO)]
    );
    assert_eq!(
        invoices(&s),
        vec![invoice(
            "EA-12345678-2021-05",
            "2021-06-01",
            "2021-05-01",
            "2021-05-31",
            1,
            "0"
        )]
    );
    assert_eq!(s.invoices[0].profiles, vec!["Example Company".to_string()]);
    // Without an agreement for the account: a clear refusal naming the column.
    let message = refused(&path, &accounts(&[("8611537", "USD")]));
    assert_eq!(
        message,
        "opencost-azure-billingexports/headersets/Enterprise.csv:2: column 40 (BillingAccountId): '12345678' has no agreement recorded (the ledger has accounts 8611537); run `ledger agreement FILE` first"
    );
}

#[test]
fn opencost_header_variants_are_refused_clearly() {
    let none = accounts(&[("8611537", "USD")]);
    let legacy = "this is a legacy pay-as-you-go usage export (PreTaxCost, UsageDateTime)";
    for (file, expected) in [
        // UTF-8 BOM, legacy PAYG headers.
        ("headersets/BOM.csv", legacy),
        // Localized "Name (EnglishName)" headers read as their English names: legacy PAYG.
        ("headersets/German.csv", legacy),
        ("headersets/PayAsYouGo.csv", legacy),
        // Mixed camelCase and German: a cost, a date, a currency, but no billing profile.
        ("headersets/YA.csv", "missing column BillingProfileName"),
        // MCA partner camelCase: no billing profile columns.
        (
            "headersets/EnterpriseCamel.csv",
            "missing column BillingProfileName",
        ),
        // No currency column: not a format the ledger reads.
        (
            "values/Template.csv",
            "the header is not one the ledger reads",
        ),
        (
            "values/VirtualMachine.csv",
            "the header is not one the ledger reads",
        ),
        (
            "values/MissingBrackets.csv",
            "the header is not one the ledger reads",
        ),
    ] {
        let message = refused(
            &data(&format!("opencost-azure-billingexports/{file}")),
            &none,
        );
        assert!(
            message.starts_with(&format!(
                "opencost-azure-billingexports/{file}:1: {expected}"
            )),
            "{file}: {message}"
        );
    }
}
