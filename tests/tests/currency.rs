//! Two accounts in two currencies (issue 11 point 4): amounts of different currencies are never
//! added together, and every row whose currency can differ from the next one names it.
//! `invoices` totals per currency; `lots` puts a currency on every row (never "(amounts in
//! USD)" over a EUR lot); `events` and `alerts` show the account and the currency of each row;
//! `alerts --json` carries the currency; `whatif` names each account's currency; `ingest
//! --json` totals each kind per currency.

use tests::Ledger;

const US: &str = r#"
account = "us-co"
currency = "USD"

[[macc]]
id = "us-macc"
amount = "50000"
start = "2025-01-01"
end = "2025-12-31"
"#;

const EU: &str = r#"
account = "eu-co"
currency = "EUR"

[[macc]]
id = "eu-macc"
amount = "8000"
start = "2025-01-01"
end = "2025-12-31"
"#;

/// One invoice per account: 20,000.00 USD and 3,000.00 EUR.
const CHARGES: &str = "\
invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,account
US-2025-01,2025-02-05,Engineering,2025-01-15,usage,20000,USD,us-co
EU-2025-01,2025-02-05,Finance,2025-01-15,usage,3000,EUR,eu-co
";

const SCENARIO: &str = r#"
name = "double"
[[change]]
op = "scale"
factor = "2"
"#;

/// A ledger with both accounts recorded and the charges ingested.
fn two_currencies() -> Ledger {
    let l = Ledger::new();
    l.write("us.toml", US);
    l.write("eu.toml", EU);
    l.write("charges.csv", CHARGES);
    l.ok(&["agreement", "us.toml"]);
    l.ok(&["agreement", "eu.toml"]);
    l.ok(&["ingest", "charges.csv"]);
    l
}

/// The table rows (after the header and its rule) that mention `needle`.
fn rows_with<'t>(table: &'t str, needle: &str) -> Vec<&'t str> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("--"))
        .skip(1)
        .filter(|l| l.contains(needle))
        .collect()
}

#[test]
fn ingest_json_totals_each_kind_per_currency() {
    let l = Ledger::new();
    l.write("us.toml", US);
    l.write("eu.toml", EU);
    l.write("charges.csv", CHARGES);
    l.ok(&["agreement", "us.toml"]);
    l.ok(&["agreement", "eu.toml"]);
    let json = l.json(&["ingest", "charges.csv"]);
    let usage = &json["files"][0]["kinds"]["usage"];
    assert_eq!(usage["lines"], 2, "{json}");
    assert!(
        usage.get("amount").is_none(),
        "USD and EUR usage were added into one amount: {json}"
    );
    assert_eq!(usage["amounts"]["USD"], 20000, "{json}");
    assert_eq!(usage["amounts"]["EUR"], 3000, "{json}");
}

#[test]
fn invoices_total_per_currency() {
    let l = two_currencies();
    let out = l.ok(&["invoices"]);
    assert!(
        !out.contains("23,000.00"),
        "USD and EUR were added together:\n{out}"
    );
    let total = out.lines().last().expect("a total line");
    assert!(
        total.contains("USD 20,000.00") && total.contains("EUR 3,000.00"),
        "the total line should give each currency's total:\n{out}"
    );
    for (invoice, currency) in [("US-2025-01", "USD"), ("EU-2025-01", "EUR")] {
        let rows = rows_with(&out, invoice);
        assert_eq!(rows.len(), 1, "one row for {invoice}:\n{out}");
        assert!(
            rows[0].contains(currency),
            "the row of {invoice} should name {currency}:\n{out}"
        );
    }
}

#[test]
fn lots_name_each_rows_currency() {
    let l = two_currencies();
    let out = l.ok(&["lots"]);
    assert!(
        !out.contains("(amounts in USD)"),
        "a EUR lot is labelled as USD:\n{out}"
    );
    for (lot, account, currency) in [("us-macc", "us-co", "USD"), ("eu-macc", "eu-co", "EUR")] {
        let rows = rows_with(&out, lot);
        assert_eq!(rows.len(), 1, "one row for {lot}:\n{out}");
        assert!(
            rows[0].contains(account) && rows[0].contains(currency),
            "the row of {lot} should name {account} and {currency}:\n{out}"
        );
    }
}

#[test]
fn events_show_account_and_currency() {
    let l = two_currencies();
    let out = l.ok(&["events"]);
    for (lot, account, currency) in [("us-macc", "us-co", "USD"), ("eu-macc", "eu-co", "EUR")] {
        let rows = rows_with(&out, lot);
        assert!(!rows.is_empty(), "no event of {lot}:\n{out}");
        for row in rows {
            assert!(
                row.contains(account) && row.contains(currency),
                "an event of {lot} should name {account} and {currency}: {row}\n{out}"
            );
        }
    }
}

#[test]
fn alerts_show_account_and_currency() {
    let l = two_currencies();
    let out = l.ok(&["alerts", "--as-of", "2025-11-15"]);
    for (lot, account, currency) in [("us-macc", "us-co", "USD"), ("eu-macc", "eu-co", "EUR")] {
        let rows = rows_with(&out, lot);
        assert_eq!(rows.len(), 1, "one alert for {lot}:\n{out}");
        assert!(
            rows[0].contains(account) && rows[0].contains(currency),
            "the alert of {lot} should name {account} and {currency}:\n{out}"
        );
    }
    let json = l.json(&["alerts", "--as-of", "2025-11-15"]);
    let items = json["value"].as_array().expect("a value array");
    assert_eq!(items.len(), 2, "{json}");
    for item in items {
        let expected = match item["account"].as_str() {
            Some("us-co") => "USD",
            Some("eu-co") => "EUR",
            other => panic!("unexpected account {other:?}: {json}"),
        };
        assert_eq!(item["currency"], expected, "{json}");
    }
}

#[test]
fn whatif_names_each_accounts_currency() {
    let l = two_currencies();
    l.write("double.toml", SCENARIO);
    let out = l.ok(&["whatif", "double.toml"]);
    assert!(
        !out.contains("(amounts in USD)"),
        "the EUR account's figures are labelled as USD:\n{out}"
    );
    for (lot, currency) in [("us-macc", "USD"), ("eu-macc", "EUR")] {
        let labelled = out
            .lines()
            .any(|line| line.contains(lot) && line.contains(currency));
        assert!(labelled, "{lot}'s figures should name {currency}:\n{out}");
    }
    for line in out.lines().filter(|l| l.contains("billed total")) {
        let currency = if line.contains("us-co") { "USD" } else { "EUR" };
        assert!(
            line.contains(currency),
            "a billed total should name its currency: {line}\n{out}"
        );
    }
}
