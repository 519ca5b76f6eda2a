//! `ledger ingest FILE.parquet` (issue 15, Parquet): the public CSV samples written as Parquet
//! in the test (`ledger_gen::parquet::csv_to_parquet`: uncompressed or snappy, strings
//! dictionary-encoded, costs as `DOUBLE` or `DECIMAL(38, s)`, dates as timestamps in millis
//! (UTC) or micros (local), legacy `INT96`, or `DATE`, several row groups) settle exactly as
//! the CSV does: the same `lots`, `events` and `invoices --json`, byte for byte, and the same
//! log head. A schema without a required column and a bad value are refused naming file, row
//! (in the place of a CSV line number) and column, and nothing is appended.

use std::path::{Path, PathBuf};

use ledger_gen::parquet::{csv_to_parquet, CostType, ParquetOptions, TimeType};
use tests::{fixtures_dir, Ledger};

const FOCUS: &str = "focus-sample-data/focus_sample.csv";
const EA: &str = "finops-toolkit/EA_ActualCost_Small.csv";

fn sample(relative: &str) -> PathBuf {
    fixtures_dir().join("data").join(relative)
}

/// A ledger with one account and a MACC wide enough for every sample month.
fn ledger_for(account: &str) -> Ledger {
    let ledger = Ledger::new();
    ledger.write(
        "agreement.toml",
        format!(
            "account = \"{account}\"\ncurrency = \"USD\"\n[[macc]]\nid = \"macc-1\"\namount = \"100000\"\nstart = \"2020-01-01\"\nend = \"2026-12-31\"\n"
        ),
    );
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger
}

fn options(
    csv: &str,
    snappy: bool,
    costs: CostType,
    times: TimeType,
    rows: usize,
) -> ParquetOptions {
    let (cost_columns, time_columns): (&[&str], &[&str]) = if csv == FOCUS {
        (
            &["BilledCost"],
            &[
                "ChargePeriodStart",
                "BillingPeriodStart",
                "BillingPeriodEnd",
            ],
        )
    } else {
        (
            &["Cost"],
            &["Date", "BillingPeriodStartDate", "BillingPeriodEndDate"],
        )
    };
    ParquetOptions {
        snappy,
        costs,
        times,
        row_group_rows: rows,
        cost_columns: cost_columns.iter().map(|s| s.to_string()).collect(),
        time_columns: time_columns.iter().map(|s| s.to_string()).collect(),
    }
}

/// What ingesting `file` shows: the log head line, and the read views as JSON text.
fn ingested(ledger: &Ledger, file: &Path) -> (String, String, String, String) {
    let said = ledger.ok(&["ingest", file.to_str().unwrap()]);
    let head = said
        .lines()
        .find(|l| l.starts_with("Log head: "))
        .unwrap_or_else(|| panic!("no log head in:\n{said}"))
        .to_string();
    (
        head,
        ledger.ok(&["lots", "--json"]),
        ledger.ok(&["events", "--json"]),
        ledger.ok(&["invoices", "--json"]),
    )
}

/// Ingest `csv` into one ledger and its Parquet form into another; everything must agree.
fn parquet_settles_as_the_csv(csv: &str, account: &str, o: &ParquetOptions) {
    let plain = ledger_for(account);
    let expected = ingested(&plain, &sample(csv));
    let ledger = ledger_for(account);
    let file = ledger.path("export.parquet");
    let rows = csv_to_parquet(&sample(csv), &file, o).expect("the sample converts to Parquet");
    assert!(rows > 0);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], b"PAR1", "a Parquet file");
    let got = ingested(&ledger, &file);
    assert_eq!(got.0, expected.0, "log head, {o:?}");
    assert_eq!(got.1, expected.1, "lots --json, {o:?}");
    assert_eq!(got.2, expected.2, "events --json, {o:?}");
    assert_eq!(got.3, expected.3, "invoices --json, {o:?}");
    assert!(got.3.contains("EA-"), "an invoice was settled: {}", got.3);
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn focus_parquet_snappy_with_float_costs_and_utc_millis_settles_as_the_csv() {
    let o = options(FOCUS, true, CostType::Double, TimeType::MillisUtc, 128);
    parquet_settles_as_the_csv(FOCUS, "8611537", &o);
}

#[test]
fn focus_parquet_uncompressed_with_decimal_costs_and_local_micros_settles_as_the_csv() {
    let o = options(
        FOCUS,
        false,
        CostType::Decimal { scale: 11 },
        TimeType::MicrosLocal,
        1000,
    );
    parquet_settles_as_the_csv(FOCUS, "8611537", &o);
}

#[test]
fn focus_parquet_with_int96_timestamps_settles_as_the_csv() {
    let o = options(
        FOCUS,
        true,
        CostType::Decimal { scale: 12 },
        TimeType::Int96,
        333,
    );
    parquet_settles_as_the_csv(FOCUS, "8611537", &o);
}

#[test]
fn azure_cost_details_parquet_with_decimals_and_dates_settles_as_the_csv() {
    let o = options(EA, true, CostType::Decimal { scale: 18 }, TimeType::Date, 4);
    parquet_settles_as_the_csv(EA, "8611537", &o);
}

#[test]
fn azure_cost_details_parquet_with_floats_and_int96_settles_as_the_csv() {
    let o = options(EA, false, CostType::Double, TimeType::Int96, 100);
    parquet_settles_as_the_csv(EA, "8611537", &o);
}

/// The focus sample's CSV text with `edit` applied to its records (header first).
fn edited_focus(ledger: &Ledger, name: &str, edit: impl Fn(&mut Vec<Vec<String>>)) -> PathBuf {
    let text = std::fs::read_to_string(sample(FOCUS)).unwrap();
    let mut rows = tests::csv_rows(&text);
    edit(&mut rows);
    let quoted: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    ledger.write(name, quoted.join("\n") + "\n")
}

#[test]
fn a_parquet_schema_without_a_required_column_is_refused_naming_it_and_nothing_is_appended() {
    let ledger = ledger_for("8611537");
    let before = ledger.fingerprint();
    let csv = edited_focus(&ledger, "no-cost.csv", |rows| {
        let at = rows[0].iter().position(|c| c == "BilledCost").unwrap();
        for r in rows.iter_mut() {
            r.remove(at);
        }
    });
    let file = ledger.path("no-cost.parquet");
    let o = options(FOCUS, true, CostType::Double, TimeType::MillisUtc, 1000);
    csv_to_parquet(&csv, &file, &o).unwrap();
    let said = ledger.fails(&["ingest", "--format", "focus", file.to_str().unwrap()]);
    assert!(
        said.contains("no-cost.parquet") && said.contains("missing column BilledCost"),
        "{said}"
    );
    assert_eq!(ledger.fingerprint(), before, "nothing appended");
}

#[test]
fn a_bad_value_in_a_parquet_file_names_file_row_and_column_and_nothing_is_appended() {
    let ledger = ledger_for("8611537");
    let before = ledger.fingerprint();
    // The 3rd Microsoft row (a data row number, 1-based) gets a cost that is no amount; the
    // cost column stays text here so the bad value reaches the reader.
    let bad_row = std::cell::Cell::new(0usize);
    let csv = edited_focus(&ledger, "bad.csv", |rows| {
        let cost = rows[0].iter().position(|c| c == "BilledCost").unwrap();
        let provider = rows[0].iter().position(|c| c == "ProviderName").unwrap();
        let index = rows
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, r)| r[provider] == "Microsoft")
            .nth(2)
            .map(|(i, _)| i)
            .unwrap();
        rows[index][cost] = "12,50".into();
        bad_row.set(index);
    });
    let file = ledger.path("bad.parquet");
    let mut o = options(FOCUS, false, CostType::Double, TimeType::MillisUtc, 64);
    o.cost_columns.clear();
    csv_to_parquet(&csv, &file, &o).unwrap();
    let said = ledger.fails(&["ingest", file.to_str().unwrap()]);
    let column = 2; // BilledCost is the sample's second column.
    let expected = format!(
        "bad.parquet:{}: column {column} (BilledCost): ",
        bad_row.get()
    );
    assert!(said.contains(&expected), "{expected} in:\n{said}");
    assert!(said.contains("12,50"), "{said}");
    assert_eq!(ledger.fingerprint(), before, "nothing appended");
    // The same rows as CSV are refused at the CSV line (row + 1, after the header).
    let said = ledger.fails(&["ingest", csv.to_str().unwrap()]);
    assert!(
        said.contains(&format!(
            "bad.csv:{}: column {column} (BilledCost)",
            bad_row.get() + 1
        )),
        "{said}"
    );
}
