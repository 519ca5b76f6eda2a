//! The FOCUS and Azure readers on small hand-written files: every column convention, every
//! row the mapping treats specially, and the refusals, each naming file, line and column.

use std::collections::BTreeMap;

use ledger_core::{ChargeKind, Invoice, Money};

use super::assemble::Accounts;
use super::export::ReadStats;
use super::format::{stage_file, InputFormat};
use super::mapping::MarketplaceTerms;
use super::native::tests::{csv_file, shown_error};

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

fn contoso() -> Accounts {
    Accounts::new(BTreeMap::from([("contoso".to_string(), "USD".to_string())]))
}

/// Stage `text` as `format`; the invoices and counts, or the error as displayed.
fn read(
    text: &str,
    format: InputFormat,
    accounts: &Accounts,
) -> Result<(Vec<Invoice>, ReadStats), String> {
    let (dir, path) = csv_file(text);
    let (mut staged, stats) = stage_file(&path, format, accounts, dir.path(), |_, _| {})
        .map_err(|e| shown_error(&dir, &e))?;
    let invoices = staged
        .iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| shown_error(&dir, &e))?;
    Ok((invoices, stats))
}

/// (kind, amount, corrects_kind) of every line, in input order.
fn lines(invoice: &Invoice) -> Vec<(ChargeKind, Money, Option<ChargeKind>)> {
    invoice
        .lines
        .iter()
        .map(|l| (l.kind, l.amount, l.corrects_kind))
        .collect()
}

/// `lines` in a fixed order (kind, amount), to compare what does not depend on order.
fn sorted(
    mut lines: Vec<(ChargeKind, Money, Option<ChargeKind>)>,
) -> Vec<(ChargeKind, Money, Option<ChargeKind>)> {
    lines.sort_by_key(|(kind, amount, _)| (kind.index(), amount.units()));
    lines
}

const FOCUS_HEADER: &str = "BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargeClass,ChargePeriodStart,CommitmentDiscountId,CommitmentDiscountStatus,PricingCategory,ProviderName,PublisherName,ServiceName,x_PublisherCategory,InvoiceId,x_BillingProfileName\n";

/// A FOCUS row with the given cells for (BilledCost, ChargeCategory, ChargeClass,
/// CommitmentDiscountId, CommitmentDiscountStatus, PricingCategory, PublisherName,
/// ServiceName, x_PublisherCategory); the rest fixed.
fn focus_row(cells: [&str; 9]) -> String {
    let [cost, category, class, cid, status, pricing, publisher, service, pcat] = cells;
    format!(
        "{cost},/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,{category},{class},2025-01-15T08:00:00Z,{cid},{status},{pricing},Microsoft,{publisher},{service},{pcat},NULL,Engineering\n"
    )
}

#[test]
fn focus_rows_map_to_every_kind() {
    let text = [
        focus_row([
            "10",
            "Usage",
            "",
            "",
            "",
            "Standard",
            "Microsoft",
            "Virtual Machines",
            "Cloud Provider",
        ]),
        focus_row([
            "0",
            "Usage",
            "",
            "ri-1",
            "Used",
            "Committed",
            "Microsoft",
            "Virtual Machines",
            "Cloud Provider",
        ]),
        focus_row([
            "0",
            "Usage",
            "",
            "ri-1",
            "Unused",
            "Committed",
            "Microsoft",
            "Virtual Machines",
            "Cloud Provider",
        ]),
        focus_row([
            "100",
            "Purchase",
            "",
            "ri-1",
            "",
            "Standard",
            "Microsoft",
            "Virtual Machines",
            "Cloud Provider",
        ]),
        focus_row([
            "-100",
            "Purchase",
            "Correction",
            "ri-1",
            "",
            "Standard",
            "Microsoft",
            "Virtual Machines",
            "Cloud Provider",
        ]),
        focus_row([
            "5000",
            "Purchase",
            "",
            "",
            "",
            "Standard",
            "Microsoft",
            "Azure Prepayment",
            "Cloud Provider",
        ]),
        focus_row([
            "29",
            "Purchase",
            "",
            "",
            "",
            "Standard",
            "Microsoft",
            "Azure Support",
            "Cloud Provider",
        ]),
        focus_row(["7", "Tax", "", "", "", "", "Microsoft", "", ""]),
        focus_row(["-3", "Credit", "", "", "", "", "Microsoft", "", ""]),
        focus_row([
            "40", "Usage", "", "", "", "Standard", "Datadog", "Datadog", "Vendor",
        ]),
        focus_row([
            "41",
            "Usage",
            "",
            "",
            "",
            "Standard",
            "Canonical",
            "Ubuntu Pro",
            "NULL",
        ]),
        focus_row([
            "1.5E-05",
            "Adjustment",
            "",
            "",
            "",
            "",
            "Microsoft",
            "Storage",
            "Cloud Provider",
        ]),
        focus_row([
            "-2",
            "Usage",
            "Correction",
            "",
            "",
            "Standard",
            "Microsoft",
            "Storage",
            "Cloud Provider",
        ]),
        focus_row([
            "100",
            "Purchase",
            "",
            "",
            "",
            "Standard",
            "Microsoft",
            "Azure Consumption Commitment shortfall",
            "Cloud Provider",
        ]),
    ]
    .concat();
    let mut accounts = contoso();
    accounts.set_marketplace("contoso", MarketplaceTerms::new(&["datadog".into()], &[]));
    let (invoices, stats) = read(
        &format!("{FOCUS_HEADER}{text}"),
        InputFormat::Focus,
        &accounts,
    )
    .unwrap();
    assert_eq!((stats.rows, stats.lines), (14, 11));
    assert_eq!(
        stats.skipped,
        [0, 1, 1, 1],
        "one credit, one unused commitment, one shortfall"
    );
    assert_eq!(invoices.len(), 1);
    let i = &invoices[0];
    assert_eq!(
        (
            i.id.as_str(),
            i.date.to_string(),
            i.period_start.to_string(),
            i.period_end.to_string()
        ),
        (
            "EA-contoso-2025-01",
            "2025-02-01".into(),
            "2025-01-01".into(),
            "2025-01-31".into()
        )
    );
    use ChargeKind::*;
    // Lines come out in the canonical order of their content (canonical.rs), not file order.
    assert_eq!(
        sorted(lines(i)),
        sorted(vec![
            (Usage, m("10"), None),
            (ReservationUsage, m("0"), None),
            (ReservationPurchase, m("100"), None),
            (Refund, m("-100"), Some(ReservationPurchase)),
            (PrepaymentPurchase, m("5000"), None),
            (Support, m("29"), None),
            (Tax, m("7"), None),
            (MarketplaceEligible, m("40"), None),
            (Marketplace, m("41"), None),
            (Usage, m("0.000015"), None),
            (Refund, m("-2"), Some(Usage)),
        ])
    );
    assert_eq!(i.profiles, vec!["Engineering".to_string()]);
    let eligible = i
        .lines
        .iter()
        .find(|l| l.kind == MarketplaceEligible)
        .unwrap();
    assert_eq!(i.str(eligible.publisher), Some("Datadog"));
}

#[test]
fn focus_mca_columns_invoice_ids_and_exclusive_ends() {
    // MCA: BillingAccountId holds the billing profile, x_BillingAccountId the account.
    let header = "BilledCost,BillingAccountId,x_BillingAccountId,x_BillingProfileId,x_BillingProfileName,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ProviderName,InvoiceIssuerName,InvoiceId\n";
    let text = format!(
        "{header}\
         1.25,/providers/Microsoft.Billing/billingAccounts/contoso/billingProfiles/BP1,/providers/Microsoft.Billing/billingAccounts/contoso,BP1,Finance,USD,2024-01-01T00:00Z,2024-02-01T00:00Z,Usage,2024-01-31T00:00Z,Microsoft,Microsoft,G012345\n\
         2,/providers/Microsoft.Billing/billingAccounts/contoso/billingProfiles/BP1,/providers/Microsoft.Billing/billingAccounts/contoso,BP1,Finance,USD,2024-02-01 00:00:00,2024-03-01 00:00:00,Usage,2024-02-10 13:00:00,Microsoft,Microsoft,\n\
         3,x,/providers/Microsoft.Billing/billingAccounts/contoso,BP1,Finance,USD,2024-03-01,2024-03-31T23:59:59Z,Usage,2024-03-05,Microsoft Corporation,Contoso CSP Partner,\n"
    );
    let (invoices, _) = read(&text, InputFormat::Focus, &contoso()).unwrap();
    let shape: Vec<(String, String, String, String)> = invoices
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.date.to_string(),
                i.period_start.to_string(),
                i.period_end.to_string(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (
                "G012345".into(),
                "2024-02-01".into(),
                "2024-01-01".into(),
                "2024-01-31".into()
            ),
            (
                "EA-BP1-2024-02".into(),
                "2024-03-01".into(),
                "2024-02-01".into(),
                "2024-02-29".into()
            ),
            // An end with a time other than midnight is that day itself.
            (
                "EA-BP1-2024-03".into(),
                "2024-04-01".into(),
                "2024-03-01".into(),
                "2024-03-31".into()
            ),
        ]
    );
    assert!(invoices
        .iter()
        .all(|i| i.account == "contoso" && i.profiles == ["Finance"]));
    assert_eq!(invoices[1].lines[0].charge_date.to_string(), "2024-02-10");
}

#[test]
fn focus_rows_of_other_providers_are_skipped_unread() {
    let header = "BilledCost,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ProviderName,InvoiceIssuerName,BillingAccountId\n";
    let text = format!(
        "{header}\
         \"$10,000.00 \",USD,5/1/25,6/1/25,Purchase,5/1/25,ACMECORP,ACMECORP,contoso\n\
         garbage,???,x,y,Credit,z,AWS,AWS,contoso\n\
         1,USD,2025-05-01,2025-06-01,Usage,2025-05-02,NULL,Microsoft,contoso\n"
    );
    let (invoices, stats) = read(&text, InputFormat::Focus, &contoso()).unwrap();
    assert_eq!((stats.rows, stats.lines), (3, 1));
    assert_eq!(
        stats.skipped_providers,
        BTreeMap::from([("ACMECORP".to_string(), 1), ("AWS".to_string(), 1)])
    );
    assert_eq!(invoices[0].period_end.to_string(), "2025-05-31");
}

#[test]
fn focus_refusals_name_line_column_found_and_expected() {
    let check = |row: String, expected: &str| {
        let e = read(
            &format!("{FOCUS_HEADER}{row}"),
            InputFormat::Focus,
            &contoso(),
        )
        .unwrap_err();
        assert_eq!(e, expected);
    };
    let ok = ["1", "Usage", "", "", "", "Standard", "Microsoft", "VMs", ""];
    let with = |i: usize, v: &'static str| {
        let mut cells = ok;
        cells[i] = v;
        focus_row(cells)
    };
    check(with(0, "NULL"), "charges.csv:2: column 1 (BilledCost): is 'NULL'; expected the billed cost (a decimal amount)");
    check(with(0, "12,5"), "charges.csv:2: has 19 fields but the header has 18 (a cut or joined row? a field containing a comma must be quoted)");
    check(with(0, "1O0"), "charges.csv:2: column 1 (BilledCost): '1O0' is not a decimal amount (expected digits with an optional '.' and sign, like 1234.56)");
    check(with(1, "Discount"), "charges.csv:2: column 7 (ChargeCategory): 'Discount' is not a FOCUS ChargeCategory (expected Usage, Purchase, Tax, Credit or Adjustment)");
    check(
        [with(4, "Unused")].concat().replace("1,/providers", "0.5,/providers"),
        "charges.csv:2: column 1 (BilledCost): 0.5 billed on an unused-commitment row (CommitmentDiscountStatus Unused): FOCUS bills unused commitment at 0 (the purchase carries the cost), so the ledger cannot tell what this amount is",
    );
    check(
        focus_row(ok).replace("2025-01-15T08:00:00Z", "15/01/2025"),
        "charges.csv:2: column 9 (ChargePeriodStart): '15/01/2025' is not a date like 2024-09-18, 2024-09-18T22:00:00Z, 2024-09-18 22:00:00, 09/18/2024 or 9/18/24, from 0001-01-01 to 9999-12-31",
    );
    check(
        focus_row(ok).replace("2025-02-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        "charges.csv:2: column 6 (BillingPeriodEnd): the billing period ends (2025-01-01, exclusive) before it starts (2025-01-01); expected BillingPeriodStart < BillingPeriodEnd",
    );
    check(
        focus_row(ok).replace(",USD,", ",EUR,"),
        "charges.csv:2: column 4 (BillingCurrency): 'EUR' is not the currency of account contoso (expected USD, the agreement's currency)",
    );
    check(
        focus_row(ok).replace("billingAccounts/contoso", "billingAccounts/fabrikam"),
        "charges.csv:2: column 2 (BillingAccountId): 'fabrikam' has no agreement recorded (the ledger has accounts contoso); run `ledger agreement FILE` first",
    );
    // Two rows of one invoice with different billing periods: named at the second.
    let two = format!(
        "{}{}",
        focus_row(ok).replace("NULL,Engineering", "INV-1,Engineering"),
        focus_row(ok)
            .replace("NULL,Engineering", "INV-1,Engineering")
            .replace("2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z")
    );
    check(
        two,
        "charges.csv:3: column 6 (BillingPeriodEnd): 2025-02-02 differs from 2025-02-01 on line 2, where invoice INV-1 first appears (every line of an invoice has the same invoice_date)",
    );
    // Invalid UTF-8 in a cell.
    let (dir, path) = csv_file("");
    let mut bytes = FOCUS_HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(
        &focus_row(ok)
            .into_bytes()
            .iter()
            .map(|&b| if b == b'V' { 0xff } else { b })
            .collect::<Vec<_>>(),
    );
    std::fs::write(&path, bytes).unwrap();
    let e = stage_file(&path, InputFormat::Focus, &contoso(), dir.path(), |_, _| {})
        .err()
        .unwrap();
    assert_eq!(
        shown_error(&dir, &e),
        "charges.csv:2: column 15 (ServiceName): is not valid UTF-8 text (invalid byte after 0 bytes); exports must be UTF-8"
    );
}

#[test]
fn focus_headers_are_checked() {
    let e = read(
        "BilledCost,ChargeCategory\n",
        InputFormat::Focus,
        &contoso(),
    )
    .unwrap_err();
    assert!(e.starts_with("charges.csv:1: missing column BillingCurrency: a FOCUS file needs BilledCost, BillingCurrency, ChargeCategory, ChargePeriodStart, BillingPeriodStart, BillingPeriodEnd and one of ProviderName, ServiceProviderName or InvoiceIssuerName; the header has BilledCost, ChargeCategory"), "{e}");
    let e = read(
        "BilledCost,BillingCurrency,ChargeCategory,ChargePeriodStart,BillingPeriodStart,BillingPeriodEnd\n",
        InputFormat::Focus,
        &contoso(),
    )
    .unwrap_err();
    assert!(
        e.starts_with(
            "charges.csv:1: no ProviderName, ServiceProviderName or InvoiceIssuerName column"
        ),
        "{e}"
    );
    let e = read(
        "BilledCost,billedcost,BillingCurrency,ChargeCategory,ChargePeriodStart,BillingPeriodStart,BillingPeriodEnd,ProviderName\n",
        InputFormat::Focus,
        &contoso(),
    )
    .unwrap_err();
    assert_eq!(e, "charges.csv:1: columns 1 ('BilledCost') and 2 ('billedcost') both name billedcost; keep one");
    // A BOM, every value quoted, camelCase: read alike.
    let header = "\u{feff}\"billedCost\",\"billingCurrency\",\"chargeCategory\",\"chargePeriodStart\",\"billingPeriodStart\",\"billingPeriodEnd\",\"providerName\"";
    let row = "\"2\",\"USD\",\"Usage\",\"2025-03-03\",\"2025-03-01\",\"2025-04-01\",\"Microsoft\"";
    let (invoices, _) = read(
        &format!("{header},\"billingAccountId\"\n{row},\"contoso\"\n"),
        InputFormat::Focus,
        &contoso(),
    )
    .unwrap();
    assert_eq!(
        (invoices[0].id.as_str(), invoices[0].profiles[0].as_str()),
        ("EA-contoso-2025-03", "contoso")
    );
    // Without any account or profile column a row has no billing profile.
    let e = read(
        &format!("{header}\n{row}\n"),
        InputFormat::Focus,
        &contoso(),
    )
    .unwrap_err();
    assert_eq!(e, "charges.csv:2: no billing profile: x_BillingProfileName, x_BillingProfileId, x_InvoiceSectionName, BillingAccountName and BillingAccountId are all empty or absent");
}

const EA_HEADER: &str = "BillingAccountId,BillingPeriodStartDate,BillingPeriodEndDate,BillingProfileId,BillingProfileName,Date,Cost,BillingCurrency,ChargeType,PricingModel,PublisherType,PublisherName,ReservationId,benefitId,MeterCategory,ProductName,PlanName\n";

fn ea_row(cells: [&str; 9]) -> String {
    let [cost, charge_type, pricing, publisher_type, publisher, reservation, meter, product, plan] =
        cells;
    format!("contoso,01/01/2025,01/31/2025,contoso,Contoso Ltd,1/15/25,{cost},USD,{charge_type},{pricing},{publisher_type},{publisher},{reservation},,{meter},{product},{plan}\n")
}

#[test]
fn azure_rows_map_to_every_kind() {
    let text = [
        ea_row([
            "10",
            "Usage",
            "OnDemand",
            "Azure",
            "Microsoft",
            "",
            "Virtual Machines",
            "D2 v3",
            "",
        ]),
        ea_row([
            "0",
            "Usage",
            "Reservation",
            "Azure",
            "Microsoft",
            "ri-1",
            "Virtual Machines",
            "D2 v3",
            "",
        ]),
        ea_row([
            "0",
            "Usage",
            "Savings Plan",
            "Azure",
            "Microsoft",
            "",
            "Virtual Machines",
            "D2 v3",
            "",
        ]),
        ea_row([
            "300",
            "Purchase",
            "Reservation",
            "Azure",
            "",
            "ri-1",
            "Virtual Machines",
            "Reserved VM Instance",
            "",
        ]),
        ea_row([
            "-300",
            "Refund",
            "Reservation",
            "Azure",
            "",
            "ri-1",
            "Virtual Machines",
            "Reserved VM Instance",
            "",
        ]),
        ea_row([
            "20",
            "Usage",
            "On Demand",
            "Marketplace",
            "Elastic",
            "",
            "",
            "Elastic Cloud",
            "gold",
        ]),
        ea_row([
            "21",
            "Purchase",
            "",
            "Marketplace",
            "Fortinet",
            "",
            "",
            "FortiGate",
            "byol",
        ]),
        ea_row([
            "1000",
            "Purchase",
            "",
            "Azure",
            "Microsoft",
            "",
            "",
            "Azure Prepayment",
            "",
        ]),
        ea_row([
            "100",
            "Purchase",
            "",
            "Azure",
            "Microsoft",
            "",
            "Azure Support",
            "Standard support",
            "",
        ]),
        ea_row(["8", "Tax", "", "", "", "", "", "", ""]),
        ea_row(["-5", "Credit", "", "", "", "", "", "", ""]),
        ea_row(["0.001", "RoundingAdjustment", "", "", "", "", "", "", ""]),
        ea_row(["1", "Usage", "", "AWS", "Amazon", "", "", "", ""]),
    ]
    .concat();
    let mut accounts = contoso();
    accounts.set_marketplace("contoso", MarketplaceTerms::new(&[], &["GOLD".into()]));
    let (invoices, stats) =
        read(&format!("{EA_HEADER}{text}"), InputFormat::Azure, &accounts).unwrap();
    assert_eq!((stats.rows, stats.lines), (13, 11));
    assert_eq!(
        stats.skipped,
        [1, 1, 0, 0],
        "the AWS connector row and the credit"
    );
    let i = &invoices[0];
    assert_eq!(
        (i.id.as_str(), i.date.to_string(), i.period_end.to_string()),
        (
            "EA-contoso-2025-01",
            "2025-02-01".to_string(),
            "2025-01-31".to_string()
        )
    );
    use ChargeKind::*;
    assert_eq!(
        sorted(lines(i)),
        sorted(vec![
            (Usage, m("10"), None),
            (ReservationUsage, m("0"), None),
            (ReservationUsage, m("0"), None),
            (ReservationPurchase, m("300"), None),
            (Refund, m("-300"), Some(ReservationPurchase)),
            (MarketplaceEligible, m("20"), None),
            (Marketplace, m("21"), None),
            (PrepaymentPurchase, m("1000"), None),
            (Support, m("100"), None),
            (Tax, m("8"), None),
            (Usage, m("0.001"), None),
        ])
    );
    let usage = i.lines.iter().find(|l| l.amount == m("10")).unwrap();
    assert_eq!(usage.charge_date.to_string(), "2025-01-15");
}

#[test]
fn azure_amortized_exports_are_refused() {
    let e = read(
        &format!(
            "{EA_HEADER}{}",
            ea_row([
                "0.49",
                "Usage",
                "Reservation",
                "Azure",
                "",
                "ri-1",
                "Virtual Machines",
                "",
                ""
            ])
        ),
        InputFormat::Azure,
        &contoso(),
    )
    .unwrap_err();
    assert!(e.starts_with("charges.csv:2: column 7 (Cost): 0.49 on usage covered by a reservation or savings plan: this is an amortized-cost export"), "{e}");
    let e = read(
        &format!(
            "{EA_HEADER}{}",
            ea_row([
                "2",
                "UnusedSavingsPlan",
                "SavingsPlan",
                "Azure",
                "",
                "",
                "",
                "",
                ""
            ])
        ),
        InputFormat::Azure,
        &contoso(),
    )
    .unwrap_err();
    assert!(e.starts_with("charges.csv:2: column 9 (ChargeType): an unused reservation or savings plan row: this is an amortized-cost export"), "{e}");
}

#[test]
fn azure_mca_camel_case_with_invoice_ids_and_month_fallback() {
    let header = "invoiceId,billingAccountId,billingProfileId,billingProfileName,invoiceSectionName,billingPeriodStartDate,billingPeriodEndDate,date,costInBillingCurrency,billingCurrency,chargeType,pricingModel,publisherType\n";
    let text = format!(
        "{header}\
         G0001,/providers/Microsoft.Billing/billingAccounts/contoso,BP-1,,Research,2024-06-01,2024-06-30,2024-06-03,4.5,USD,Usage,On Demand,Microsoft\n\
         ,contoso,BP-1,Finance,,,,2024-07-09,1.5,USD,Usage,On Demand,Microsoft\n"
    );
    let (invoices, _) = read(&text, InputFormat::Azure, &contoso()).unwrap();
    let shape: Vec<(String, String, String, String, Vec<String>)> = invoices
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.date.to_string(),
                i.period_start.to_string(),
                i.period_end.to_string(),
                i.profiles.clone(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            // BillingProfileName empty: BillingProfileId, then InvoiceSectionName.
            (
                "G0001".into(),
                "2024-07-01".into(),
                "2024-06-01".into(),
                "2024-06-30".into(),
                vec!["BP-1".into()]
            ),
            // No invoice id, no billing period: the month of the charge date.
            (
                "EA-BP-1-2024-07".into(),
                "2024-08-01".into(),
                "2024-07-01".into(),
                "2024-07-31".into(),
                vec!["Finance".into()]
            ),
        ]
    );
}

#[test]
fn azure_refusals_name_line_and_column() {
    let ok = [
        "1",
        "Usage",
        "OnDemand",
        "Azure",
        "Microsoft",
        "",
        "Storage",
        "",
        "",
    ];
    let check = |row: String, expected: &str| {
        let e = read(&format!("{EA_HEADER}{row}"), InputFormat::Azure, &contoso()).unwrap_err();
        assert_eq!(e, expected);
    };
    check(ea_row(ok).replace("1/15/25", "15.01.2025"), "charges.csv:2: column 6 (Date): '15.01.2025' is not a date like 2024-09-18, 2024-09-18T22:00:00Z, 2024-09-18 22:00:00, 09/18/2024 or 9/18/24, from 0001-01-01 to 9999-12-31");
    check(ea_row(ok).replace("01/31/2025", ""), "charges.csv:2: column 3 (BillingPeriodEndDate): is empty; expected the (inclusive) end of the billing period");
    check(ea_row(ok).replace(",Usage,", ",,"), "charges.csv:2: column 9 (ChargeType): is empty; expected a ChargeType (Usage, Purchase, Refund, Tax, Credit, RoundingAdjustment)");
    check(
        ea_row(ok).replace("contoso,Contoso Ltd", ",NULL"),
        "charges.csv:2: no billing profile: BillingProfileName, BillingProfileId and InvoiceSectionName are all empty or absent",
    );
    check(ea_row(ok).replace(",USD,", ",usd,"), "charges.csv:2: column 8 (BillingCurrency): 'usd' is not the currency of account contoso (expected USD, the agreement's currency)");
    let e = read(
        "Date,Cost,BillingCurrency,BillingPeriodStartDate,BillingProfileName\n",
        InputFormat::Azure,
        &contoso(),
    )
    .unwrap_err();
    assert_eq!(e, "charges.csv:1: column BillingPeriodStartDate is given without BillingPeriodEndDate; give both or neither");
}

/// Issue 11 point 5: the invoice date an export implies (the day after the billing period)
/// must be a date the log can keep, and so must every date read.
#[test]
fn export_dates_past_9999_are_refused_naming_the_column() {
    let ok = ["1", "Usage", "", "", "", "Standard", "Microsoft", "VMs", ""];
    let focus = |row: String| {
        read(
            &format!("{FOCUS_HEADER}{row}"),
            InputFormat::Focus,
            &contoso(),
        )
        .unwrap_err()
    };
    let last_day = focus_row(ok)
        .replace("2025-01-01T00:00:00Z", "9999-12-01T00:00:00Z")
        .replace("2025-02-01T00:00:00Z", "9999-12-31T12:00:00Z")
        .replace("2025-01-15T08:00:00Z", "9999-12-15T08:00:00Z");
    assert_eq!(
        focus(last_day),
        "charges.csv:2: column 6 (BillingPeriodEnd): the invoice date would be the day after the billing period, and 9999-12-31 + 1 day falls outside 0001-01-01..9999-12-31, the dates the ledger keeps"
    );
    let e = focus(focus_row(ok).replace("2025-01-01T00:00:00Z", "0000-12-01T00:00:00Z"));
    assert!(
        e.starts_with(
            "charges.csv:2: column 5 (BillingPeriodStart): '0000-12-01T00:00:00Z' is not a date"
        ),
        "{e}"
    );
    let ea = ea_row([
        "1",
        "Usage",
        "OnDemand",
        "Azure",
        "Microsoft",
        "",
        "Storage",
        "",
        "",
    ])
    .replace("01/01/2025", "12/01/9999")
    .replace("01/31/2025", "12/31/9999")
    .replace("1/15/25", "12/15/9999");
    let e = read(&format!("{EA_HEADER}{ea}"), InputFormat::Azure, &contoso()).unwrap_err();
    assert_eq!(
        e,
        "charges.csv:2: column 3 (BillingPeriodEndDate): the invoice date would be the day after the billing period, and 9999-12-31 + 1 day falls outside 0001-01-01..9999-12-31, the dates the ledger keeps"
    );
}
