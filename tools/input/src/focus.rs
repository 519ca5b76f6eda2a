//! FOCUS 1.0 to 1.2 exports (FinOps Open Cost and Usage Specification), including Microsoft's
//! `x_` columns: which columns are read, and one row to a charge line (or a skip).
//!
//! - The amount is `BilledCost` (cash as invoiced); `EffectiveCost`, `ListCost` and
//!   `ContractedCost` are not read, so amortization is never counted and their
//!   inconsistencies in some exports do not matter.
//! - Rows that are not Microsoft's (`ServiceProviderName` / `ProviderName` and
//!   `InvoiceIssuerName` all name another company) are skipped before any other cell is read.
//! - The charge date is the date part of `ChargePeriodStart`. The billing period runs from
//!   `BillingPeriodStart` to `BillingPeriodEnd`, which FOCUS makes exclusive: the last day is
//!   the day before (unless the end has a time other than midnight, then that day itself).
//!   The invoice is dated the day after the period's last day.
//! - Account: the last segment of `x_BillingAccountId`, else of `BillingAccountId` (for MCA,
//!   Microsoft writes the billing profile in `BillingAccountId` and the account in
//!   `x_BillingAccountId`). Billing profile: `x_BillingProfileName`, `x_BillingProfileId`,
//!   `x_InvoiceSectionName`, `BillingAccountName`, then the account id, the first not null.
//! - Invoice id: `InvoiceId` (1.2) or `x_InvoiceId` (Microsoft 1.0), else derived as
//!   `EA-{x_BillingProfileId or account id}-{YYYY-MM of the billing period start}`.
//! - The kind: [`super::mapping::map_charge`].

use ledger_core::{Date, Money};

use super::assemble::Accounts;
use super::cells::{
    arm_last_segment, check_invoice_id, derive_invoice_id, invoice_date_after, Cells, DateCache,
    Header, ReadStats, Scratch, CHARGE_DATE, PERIOD_END, PERIOD_START,
};
use super::error::InputError;
use super::mapping::{
    is_microsoft, map_charge, same, Category, Charge, CommitmentStatus, Mapped, Pricing,
    PublisherCategory, Source,
};
use super::native::Row;

/// The columns a FOCUS file must have (as the spec spells them).
pub const REQUIRED_COLUMNS: [&str; 6] = [
    "BilledCost",
    "BillingCurrency",
    "ChargeCategory",
    "ChargePeriodStart",
    "BillingPeriodStart",
    "BillingPeriodEnd",
];

/// Where each column the reader uses is (0-based).
pub(crate) struct FocusColumns {
    billed_cost: usize,
    currency: usize,
    category: usize,
    charge_start: usize,
    period_start: usize,
    period_end: usize,
    /// ServiceProviderName (1.2), ProviderName.
    providers: [Option<usize>; 2],
    issuer: Option<usize>,
    /// x_BillingAccountId, BillingAccountId.
    accounts: [Option<usize>; 2],
    account_name: Option<usize>,
    charge_class: Option<usize>,
    pricing: Option<usize>,
    commitment_id: Option<usize>,
    commitment_status: Option<usize>,
    publisher: Option<usize>,
    publisher_category: Option<usize>,
    /// InvoiceId, x_InvoiceId.
    invoice_ids: [Option<usize>; 2],
    profile_id: Option<usize>,
    profile_name: Option<usize>,
    section_name: Option<usize>,
    service: Option<usize>,
    meter_category: Option<usize>,
    description: Option<usize>,
    order_name: Option<usize>,
    plan_name: Option<usize>,
    sku_id: Option<usize>,
}

impl FocusColumns {
    pub fn new(header: &Header) -> Result<FocusColumns, String> {
        let mut required = [0usize; REQUIRED_COLUMNS.len()];
        for (slot, name) in required.iter_mut().zip(REQUIRED_COLUMNS) {
            *slot = header.find(&[&name.to_ascii_lowercase()])?.ok_or_else(|| {
                format!(
                    "missing column {name}: a FOCUS file needs {} and one of ProviderName, ServiceProviderName or InvoiceIssuerName; the header has {}",
                    REQUIRED_COLUMNS.join(", "),
                    header.shown()
                )
            })?;
        }
        let f = |aliases: &[&str]| header.find(aliases);
        let columns = FocusColumns {
            billed_cost: required[0],
            currency: required[1],
            category: required[2],
            charge_start: required[3],
            period_start: required[4],
            period_end: required[5],
            providers: [f(&["serviceprovidername"])?, f(&["providername"])?],
            issuer: f(&["invoiceissuername"])?,
            accounts: [f(&["x_billingaccountid"])?, f(&["billingaccountid"])?],
            account_name: f(&["billingaccountname"])?,
            charge_class: f(&["chargeclass"])?,
            pricing: f(&["pricingcategory"])?,
            commitment_id: f(&["commitmentdiscountid"])?,
            commitment_status: f(&["commitmentdiscountstatus"])?,
            publisher: f(&["publishername"])?,
            publisher_category: f(&["x_publishercategory"])?,
            invoice_ids: [f(&["invoiceid"])?, f(&["x_invoiceid"])?],
            profile_id: f(&["x_billingprofileid"])?,
            profile_name: f(&["x_billingprofilename"])?,
            section_name: f(&["x_invoicesectionname"])?,
            service: f(&["servicename"])?,
            meter_category: f(&["x_skumetercategory"])?,
            description: f(&["chargedescription"])?,
            order_name: f(&["x_skuordername"])?,
            plan_name: f(&["x_skuplanname"])?,
            sku_id: f(&["skuid"])?,
        };
        if columns
            .providers
            .iter()
            .chain([&columns.issuer])
            .all(Option::is_none)
        {
            return Err(format!(
                "no ProviderName, ServiceProviderName or InvoiceIssuerName column: the ledger cannot tell Microsoft's rows from other providers' (FOCUS requires ProviderName); the header has {}",
                header.shown()
            ));
        }
        Ok(columns)
    }

    /// The column the amount is read from.
    pub fn amount_column(&self) -> usize {
        self.billed_cost
    }

    /// The columns behind the assembler's fields, for its messages.
    pub fn sources(&self) -> [(&'static str, Option<usize>); 7] {
        [
            (
                "invoice_id",
                self.invoice_ids.iter().flatten().next().copied(),
            ),
            ("invoice_date", Some(self.period_end)),
            ("period_start", Some(self.period_start)),
            ("period_end", Some(self.period_end)),
            (
                "billing_profile",
                [
                    self.profile_name,
                    self.profile_id,
                    self.section_name,
                    self.account_name,
                ]
                .into_iter()
                .flatten()
                .next(),
            ),
            ("account", self.accounts.iter().flatten().next().copied()),
            ("currency", Some(self.currency)),
        ]
    }
}

/// The billing period: `BillingPeriodStart` and the last day before `BillingPeriodEnd`
/// (exclusive at midnight).
#[inline]
fn billing_period(
    c: &FocusColumns,
    cells: &Cells<'_, '_>,
    dates: &mut [DateCache; 3],
) -> Result<(Date, Date), InputError> {
    let period_start = cells
        .when(
            c.period_start,
            &mut dates[PERIOD_START],
            "the start of the billing period",
        )?
        .0;
    let (end, end_at_midnight) = cells.when(
        c.period_end,
        &mut dates[PERIOD_END],
        "the (exclusive) end of the billing period",
    )?;
    let period_end = if end_at_midnight {
        end.checked_add_days(-1).map_err(|e| {
            cells.error(
                c.period_end,
                format!("the billing period's last day is the day before, and {e}"),
            )
        })?
    } else {
        end
    };
    if period_end < period_start {
        return Err(cells.error(
            c.period_end,
            format!("the billing period ends ({end}, exclusive) before it starts ({period_start}); expected BillingPeriodStart < BillingPeriodEnd"),
        ));
    }
    Ok((period_start, period_end))
}

/// What the mapping reads of a FOCUS row (`mapping::map_charge`).
#[inline]
fn charge_of<'c>(
    c: &FocusColumns,
    cells: &Cells<'_, 'c>,
    category: Category,
    provider: Option<&'c str>,
    amount: Money,
) -> Charge<'c> {
    let description = cells.get(c.description);
    let publisher = cells.get(c.publisher);
    Charge {
        source: Source::Focus,
        category,
        correction: cells
            .get(c.charge_class)
            .is_some_and(|v| same(v, "correction")),
        pricing: Pricing::from_focus(cells.get(c.pricing)),
        commitment_status: CommitmentStatus::from_focus(cells.get(c.commitment_status)),
        commitment_named: cells.get(c.commitment_id).is_some(),
        publisher_category: PublisherCategory::from_focus(cells.get(c.publisher_category)),
        provider,
        publisher,
        offers: [
            cells.get(c.plan_name),
            cells.get(c.order_name),
            cells.get(c.service),
            cells.get(c.sku_id),
        ],
        services: [
            cells.get(c.service),
            cells.get(c.meter_category),
            None,
            None,
        ],
        products: [
            description,
            cells.get(c.order_name),
            cells.get(c.service),
            cells.get(c.meter_category),
        ],
        amount,
    }
}

/// One FOCUS row: a charge line, or `None` when skipped (counted in `stats`).
pub(crate) fn row<'a>(
    c: &FocusColumns,
    cells: &Cells<'_, 'a>,
    scratch: &'a mut Scratch,
    accounts: &Accounts,
    stats: &mut ReadStats,
) -> Result<Option<Row<'a>>, InputError> {
    let Scratch {
        invoice_id: derived,
        dates,
    } = scratch;
    let provider = cells.first(&c.providers).map(|(_, v)| v);
    let issuer = cells.get(c.issuer);
    if !(provider.is_some_and(is_microsoft) || issuer.is_some_and(is_microsoft)) {
        let name = provider.or(issuer).unwrap_or("(no provider named)");
        stats.skip_provider(name, cells.line());
        return Ok(None);
    }
    let category_text = cells.required_with(c.category, || {
        format!("a ChargeCategory ({})", Category::FOCUS_VALUES)
    })?;
    let category = Category::from_focus(category_text).ok_or_else(|| {
        cells.error(
            c.category,
            format!(
                "'{}' is not a FOCUS ChargeCategory (expected {})",
                super::cells::shown(category_text),
                Category::FOCUS_VALUES
            ),
        )
    })?;
    let amount = cells.money(c.billed_cost, "the billed cost (a decimal amount)")?;
    let currency = cells.required(c.currency, "the billing currency, such as USD")?;
    let charge_date = cells
        .when(
            c.charge_start,
            &mut dates[CHARGE_DATE],
            "the start of the charge period",
        )?
        .0;
    let (period_start, period_end) = billing_period(c, cells, dates)?;
    let account = cells
        .first(&c.accounts)
        .and_then(|(_, v)| arm_last_segment(v));
    let profile_id = cells.get(c.profile_id).and_then(arm_last_segment);
    let billing_profile = match cells.get(c.profile_name).or(profile_id).or(cells.get(c.section_name)).or(cells.get(c.account_name)).or(account) {
        Some(p) => p,
        None => {
            return Err(cells.row_error(
                "no billing profile: x_BillingProfileName, x_BillingProfileId, x_InvoiceSectionName, BillingAccountName and BillingAccountId are all empty or absent".to_string(),
            ))
        }
    };
    let invoice_id: &'a str = match cells.first(&c.invoice_ids) {
        Some((column, id)) => {
            check_invoice_id(cells, id, Some(column))?;
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
    let service = cells.get(c.service).or(cells.get(c.meter_category));
    let publisher = cells.get(c.publisher);
    let description = cells.get(c.description);
    let charge = charge_of(c, cells, category, provider, amount);
    let (kind, corrects_kind) = match map_charge(&charge, accounts.marketplace(account)) {
        Ok(Mapped::Line {
            kind,
            corrects_kind,
        }) => (kind, corrects_kind),
        Ok(Mapped::Skip(reason)) => {
            stats.skip(reason, cells.line());
            return Ok(None);
        }
        Err(refusal) => return Err(cells.error(c.billed_cost, refusal.message(amount))),
    };
    Ok(Some(Row {
        line: cells.line(),
        account,
        invoice_id,
        invoice_date: invoice_date_after(cells, Some(c.period_end), period_end)?,
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
        description,
        corrects: None,
        corrects_kind,
    }))
}
