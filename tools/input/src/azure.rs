//! Azure Cost Management "cost details" exports (EA and MCA, actual cost): which columns are
//! read, and one row to a charge line (or a skip).
//!
//! - The amount is `CostInBillingCurrency` (MCA, newer EA), else `Cost` (EA), else
//!   `PreTaxCost` (legacy); the currency `BillingCurrency`, `BillingCurrencyCode` or
//!   `Currency`; the charge date `Date` (or legacy `UsageDateTime`).
//! - An amortized-cost export has the same columns as an actual-cost one. It is recognized by
//!   its rows and refused at the first that proves it: an `UnusedReservation` or
//!   `UnusedSavingsPlan` row (only amortized data has them), or usage covered by a reservation
//!   or savings plan with a cost other than 0 (actual cost bills covered usage at 0).
//! - The billing period runs from `BillingPeriodStartDate` to `BillingPeriodEndDate`, both
//!   inclusive (EA writes `MM/DD/YYYY`). Without them (columns absent or both cells empty) it
//!   is the calendar month of the charge date. The invoice is dated the day after it ends.
//! - Account: the last segment of `BillingAccountId` (absent: the ledger's only account).
//!   Billing profile: `BillingProfileName`, `BillingProfileId`, `InvoiceSectionName`,
//!   `InvoiceSection`, the first not empty; a file with none of these columns is refused
//!   (legacy pay-as-you-go usage files, for one, have no billing profile or period).
//! - Invoice id: `InvoiceId` (MCA), else derived as
//!   `EA-{BillingProfileId or account id}-{YYYY-MM of the billing period start}`.
//! - Rows with `PublisherType` `AWS` (the retired AWS connector) are another provider's.
//! - The kind: [`super::mapping::map_charge`].

use ledger_core::{Date, Money};

use super::assemble::Accounts;
use super::cells::{
    arm_last_segment, check_invoice_id, derive_invoice_id, invoice_date_after, Cells, DateCache,
    Header, ReadStats, Scratch, CHARGE_DATE, PERIOD_END, PERIOD_START,
};
use super::error::InputError;
use super::mapping::{
    map_charge, same, Category, Charge, CommitmentStatus, Mapped, Pricing, PublisherCategory,
    Refusal, Source,
};
use super::native::Row;

const COST: [&str; 3] = ["costinbillingcurrency", "cost", "pretaxcost"];
const CURRENCY: [&str; 3] = ["billingcurrency", "billingcurrencycode", "currency"];
const DATE: [&str; 3] = ["date", "usagedatetime", "usagedate"];

/// Where each column the reader uses is (0-based).
pub(crate) struct AzureColumns {
    cost: usize,
    currency: usize,
    date: usize,
    period_start: Option<usize>,
    period_end: Option<usize>,
    account: Option<usize>,
    profile_id: Option<usize>,
    profile_name: Option<usize>,
    /// InvoiceSectionName, InvoiceSection.
    sections: [Option<usize>; 2],
    invoice_id: Option<usize>,
    charge_type: Option<usize>,
    pricing_model: Option<usize>,
    publisher_type: Option<usize>,
    publisher: Option<usize>,
    reservation_id: Option<usize>,
    benefit_id: Option<usize>,
    meter_category: Option<usize>,
    service_family: Option<usize>,
    consumed_service: Option<usize>,
    product: Option<usize>,
    product_order: Option<usize>,
    plan_name: Option<usize>,
    meter_name: Option<usize>,
    product_id: Option<usize>,
}

impl AzureColumns {
    pub fn new(header: &Header) -> Result<AzureColumns, String> {
        let f = |aliases: &[&str]| header.find(aliases);
        let legacy = header.has("pretaxcost")
            || header.has("usagedatetime")
            || header.has("subscriptionguid");
        let required = |aliases: &[&str], what: &str| -> Result<usize, String> {
            header.find(aliases)?.ok_or_else(|| {
                format!(
                    "missing column {what}: an Azure cost-details file needs a cost (CostInBillingCurrency or Cost), a currency (BillingCurrency or BillingCurrencyCode), Date and a billing profile (BillingProfileName, BillingProfileId or InvoiceSectionName); the header has {}",
                    header.shown()
                )
            })
        };
        let cost = required(&COST, "CostInBillingCurrency (or Cost)")?;
        let currency = required(&CURRENCY, "BillingCurrency (or BillingCurrencyCode)")?;
        let date = required(&DATE, "Date")?;
        let columns = AzureColumns {
            cost,
            currency,
            date,
            period_start: f(&["billingperiodstartdate"])?,
            period_end: f(&["billingperiodenddate"])?,
            account: f(&["billingaccountid"])?,
            profile_id: f(&["billingprofileid"])?,
            profile_name: f(&["billingprofilename"])?,
            sections: [f(&["invoicesectionname"])?, f(&["invoicesection"])?],
            invoice_id: f(&["invoiceid"])?,
            charge_type: f(&["chargetype"])?,
            pricing_model: f(&["pricingmodel"])?,
            publisher_type: f(&["publishertype"])?,
            publisher: f(&["publishername"])?,
            reservation_id: f(&["reservationid"])?,
            benefit_id: f(&["benefitid"])?,
            meter_category: f(&["metercategory"])?,
            service_family: f(&["servicefamily"])?,
            consumed_service: f(&["consumedservice"])?,
            product: f(&["productname", "product"])?,
            product_order: f(&["productordername"])?,
            plan_name: f(&["planname"])?,
            meter_name: f(&["metername"])?,
            product_id: f(&["productid"])?,
        };
        if [
            columns.profile_name,
            columns.profile_id,
            columns.sections[0],
            columns.sections[1],
        ]
        .iter()
        .all(Option::is_none)
        {
            return Err(if legacy {
                format!(
                    "this is a legacy pay-as-you-go usage export (PreTaxCost, UsageDateTime): it names no billing profile, billing period or invoice, so its charges cannot be placed on invoices, and MACC and CACO need an EA or MCA agreement anyway. Export \"cost details\" (actual cost) or FOCUS from the billing account instead; the header has {}",
                    header.shown()
                )
            } else {
                format!(
                    "missing column BillingProfileName: an Azure cost-details file needs a billing profile (BillingProfileName, BillingProfileId, InvoiceSectionName or InvoiceSection); the header has {}",
                    header.shown()
                )
            });
        }
        match (columns.period_start, columns.period_end) {
            (Some(_), None) => return Err("column BillingPeriodStartDate is given without BillingPeriodEndDate; give both or neither".into()),
            (None, Some(_)) => return Err("column BillingPeriodEndDate is given without BillingPeriodStartDate; give both or neither".into()),
            _ => {}
        }
        Ok(columns)
    }

    /// The column the amount is read from.
    pub fn amount_column(&self) -> usize {
        self.cost
    }

    /// The columns behind the assembler's fields, for its messages.
    pub fn sources(&self) -> [(&'static str, Option<usize>); 7] {
        [
            ("invoice_id", self.invoice_id),
            ("invoice_date", self.period_end),
            ("period_start", self.period_start),
            ("period_end", self.period_end),
            (
                "billing_profile",
                [
                    self.profile_name,
                    self.profile_id,
                    self.sections[0],
                    self.sections[1],
                ]
                .into_iter()
                .flatten()
                .next(),
            ),
            ("account", self.account),
            ("currency", Some(self.currency)),
        ]
    }
}

/// The ChargeType values, for messages.
const CHARGE_TYPES: &str = "Usage, Purchase, Refund, Tax, Credit, RoundingAdjustment";

/// The billing period: its start and (inclusive) end columns when the row has them, else the
/// calendar month of the charge.
#[inline]
fn billing_period(
    c: &AzureColumns,
    cells: &Cells<'_, '_>,
    dates: &mut [DateCache; 3],
    charge_date: Date,
) -> Result<(Date, Date), InputError> {
    Ok(match (c.period_start, c.period_end) {
        (Some(start), Some(end))
            if cells.get(Some(start)).is_some() || cells.get(Some(end)).is_some() =>
        {
            let period_start = cells
                .when(
                    start,
                    &mut dates[PERIOD_START],
                    "the start of the billing period",
                )?
                .0;
            let period_end = cells
                .when(
                    end,
                    &mut dates[PERIOD_END],
                    "the (inclusive) end of the billing period",
                )?
                .0;
            if period_end < period_start {
                return Err(cells.error(
                    end,
                    format!(
                        "the billing period ends ({period_end}) before it starts ({period_start})"
                    ),
                ));
            }
            (period_start, period_end)
        }
        _ => (charge_date.month_start(), charge_date.month_end()),
    })
}

/// What the mapping reads of a cost-details row (`mapping::map_charge`).
#[inline]
fn charge_of<'c>(
    c: &AzureColumns,
    cells: &Cells<'_, 'c>,
    category: Category,
    publisher_type: Option<&'c str>,
    amount: Money,
) -> Charge<'c> {
    let product = cells.get(c.product);
    let publisher = cells.get(c.publisher);
    Charge {
        source: Source::Azure,
        category,
        correction: category == Category::Refund,
        pricing: Pricing::from_azure(cells.get(c.pricing_model)),
        commitment_status: CommitmentStatus::None,
        commitment_named: cells.get(c.benefit_id).is_some()
            || cells.get(c.reservation_id).is_some(),
        publisher_category: PublisherCategory::from_azure(publisher_type),
        provider: None,
        publisher,
        offers: [
            cells.get(c.plan_name),
            cells.get(c.product_order),
            product,
            cells.get(c.product_id),
        ],
        services: [
            cells.get(c.meter_category),
            cells.get(c.service_family),
            cells.get(c.consumed_service),
            None,
        ],
        products: [
            product,
            cells.get(c.product_order),
            cells.get(c.plan_name),
            cells.get(c.meter_name),
        ],
        amount,
    }
}

/// One cost-details row: a charge line, or `None` when skipped (counted in `stats`).
pub(crate) fn row<'a>(
    c: &AzureColumns,
    cells: &Cells<'_, 'a>,
    scratch: &'a mut Scratch,
    accounts: &Accounts,
    stats: &mut ReadStats,
) -> Result<Option<Row<'a>>, InputError> {
    let Scratch {
        invoice_id: derived,
        dates,
    } = scratch;
    let publisher_type = cells.get(c.publisher_type);
    if let Some(t) = publisher_type.filter(|t| same(t, "aws")) {
        stats.skip_provider(t, cells.line());
        return Ok(None);
    }
    let category = match c.charge_type {
        None => Category::Usage,
        Some(column) => Category::from_azure(
            cells.required_with(column, || format!("a ChargeType ({CHARGE_TYPES})"))?,
        ),
    };
    let amount = cells.money(c.cost, "the cost (a decimal amount)")?;
    let currency = cells.required(c.currency, "the billing currency, such as USD")?;
    let charge_date = cells
        .when(c.date, &mut dates[CHARGE_DATE], "the date of the charge")?
        .0;
    let (period_start, period_end) = billing_period(c, cells, dates, charge_date)?;
    let account = cells.get(c.account).and_then(arm_last_segment);
    let profile_id = cells.get(c.profile_id).and_then(arm_last_segment);
    let section = cells.first(&c.sections).map(|(_, v)| v);
    let billing_profile = match cells.get(c.profile_name).or(profile_id).or(section) {
        Some(p) => p,
        None => {
            return Err(cells.row_error(
                "no billing profile: BillingProfileName, BillingProfileId and InvoiceSectionName are all empty or absent".to_string(),
            ))
        }
    };
    let invoice_id: &'a str = match cells.get(c.invoice_id) {
        Some(id) => {
            check_invoice_id(cells, id, c.invoice_id)?;
            id
        }
        None => {
            derive_invoice_id(
                derived,
                profile_id.or(account).unwrap_or(billing_profile),
                period_start,
            );
            let derived: &'a String = derived;
            check_invoice_id(cells, derived, None)?;
            derived.as_str()
        }
    };
    let product = cells.get(c.product);
    let service = cells
        .get(c.meter_category)
        .or(cells.get(c.service_family))
        .or(cells.get(c.consumed_service));
    let publisher = cells.get(c.publisher);
    let charge = charge_of(c, cells, category, publisher_type, amount);
    let (kind, corrects_kind) = match map_charge(&charge, accounts.marketplace(account)) {
        Ok(Mapped::Line {
            kind,
            corrects_kind,
        }) => (kind, corrects_kind),
        Ok(Mapped::Skip(reason)) => {
            stats.skip(reason, cells.line());
            return Ok(None);
        }
        Err(refusal @ Refusal::AmortizedUnusedCommitment) => {
            return Err(cells.error(c.charge_type.unwrap_or(c.cost), refusal.message(amount)))
        }
        Err(refusal) => return Err(cells.error(c.cost, refusal.message(amount))),
    };
    Ok(Some(Row {
        line: cells.line(),
        account,
        invoice_id,
        invoice_date: invoice_date_after(cells, c.period_end, period_end)?,
        period_start: Some(period_start),
        period_end: Some(period_end),
        billing_profile,
        charge_date,
        kind,
        amount,
        currency,
        line_id: None,
        service,
        publisher,
        description: product.or(cells.get(c.meter_name)),
        corrects: None,
        corrects_kind,
    }))
}
