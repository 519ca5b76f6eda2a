//! The JSON of INTERFACE.md, exactly: Azure's Lots and Events API shapes, the CACO page, the
//! invoice totals and the alerts; and the JSON of the ledger's own reports (replay, audit, a
//! lot's trace, ingest). Amounts are JSON numbers written from the exact decimal (never through
//! a float); datetimes are written the way Azure writes them.

use ledger_app::core::{ChargeKind, Date, Money};
use ledger_app::ingest::{FileOutcome, KindTotal};
use ledger_app::replay::alerts::{Alert, CreditExpiry};
use ledger_app::replay::audit::{AuditFinding, AuditReport};
use ledger_app::replay::plan::PlanRow;
use ledger_app::replay::projection::CacoTransaction;
use ledger_app::replay::replay::ReplayReport;
use ledger_app::replay::trace::{LotTrace, TracedEvent, TracedPortion};
use ledger_app::replay::views::{
    CacoRow, EventRow, InvoiceRow, LotRow, MaccMilestoneRow, MilestoneRow,
};
use ledger_app::replay::why_not::{NotCounted, Reason, WhyNot};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

/// A JSON number spelled from the exact decimal: `9899.71`, `50000.0`.
#[derive(Clone, Copy, Debug)]
pub struct Amount(pub Money);

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw =
            RawValue::from_string(self.0.to_json_number()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A JSON number from a Decimal, with at least one decimal place (`120.0`, `33.33`).
#[derive(Clone, Copy, Debug)]
pub struct DecimalNumber(pub rust_decimal::Decimal);

impl Serialize for DecimalNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = self.0.normalize().to_string();
        if !text.contains('.') {
            text.push_str(".0");
        }
        let raw = RawValue::from_string(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// `{"currency": "USD", "value": 123.45}`.
pub struct CurrencyAmount<'a>(pub &'a str, pub Money);

impl Serialize for CurrencyAmount<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("currency", self.0)?;
        map.serialize_entry("value", &Amount(self.1))?;
        map.end()
    }
}

/// `{"currency": "USD", "value": 123.45, "exchangeRate": 1.0, "exchangeRateMonth": 202602}`:
/// an amount in the billing currency. A ledger account has one currency, so the credit
/// currency is the billing currency and the rate is 1; the month is the one the amount is as
/// of.
pub struct BillingAmount<'a> {
    pub currency: &'a str,
    pub value: Money,
    pub month: Date,
}

impl Serialize for BillingAmount<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("currency", self.currency)?;
        map.serialize_entry("value", &Amount(self.value))?;
        map.serialize_entry("exchangeRate", &DecimalNumber(Decimal::ONE))?;
        map.serialize_entry(
            "exchangeRateMonth",
            &(self.month.year() * 100 + self.month.month() as i32),
        )?;
        map.end()
    }
}

/// `a − b` for amounts the ledger keeps within range (a balance below its original).
fn minus(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap_or(Money::ZERO)
}

/// What stands for itself in a path segment: letters, digits and `-_.~:`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

/// Percent-encode what cannot stand in one path segment (lot ids like `INV-1/1`).
pub fn path_segment(text: &str) -> String {
    utf8_percent_encode(text, PATH_SEGMENT).to_string()
}

/// `/providers/Microsoft.Billing/billingAccounts/{account}`.
pub fn account_path(account: &str) -> String {
    format!(
        "/providers/Microsoft.Billing/billingAccounts/{}",
        path_segment(account)
    )
}

pub fn lot_path(account: &str, lot: &str) -> String {
    format!(
        "{}/providers/Microsoft.Consumption/lots/{}",
        account_path(account),
        path_segment(lot)
    )
}

pub fn event_path(account: &str, event_id: &str) -> String {
    format!(
        "{}/providers/Microsoft.Consumption/events/{}",
        account_path(account),
        path_segment(event_id)
    )
}

/// A Lots API item.
pub struct LotJson<'a>(pub &'a LotRow);

impl Serialize for LotJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("id", &lot_path(&r.account, &r.name))?;
        map.serialize_entry("name", &r.name)?;
        map.serialize_entry("type", "Microsoft.Consumption/lots")?;
        map.serialize_entry("eTag", &None::<String>)?;
        map.serialize_entry("properties", &LotProperties(r))?;
        map.end()
    }
}

struct LotProperties<'a>(&'a LotRow);

impl Serialize for LotProperties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", r.source)?;
        map.serialize_entry("status", r.status.name())?;
        map.serialize_entry("originalAmount", &CurrencyAmount(&r.currency, r.original))?;
        map.serialize_entry(
            "closedBalance",
            &CurrencyAmount(&r.currency, r.closed_balance),
        )?;
        map.serialize_entry("startDate", &r.start.to_azure_datetime())?;
        map.serialize_entry("expirationDate", &r.expiration.to_azure_datetime())?;
        if let Some(p) = r.purchased {
            map.serialize_entry("purchasedDate", &p.to_azure_datetime())?;
        }
        map.serialize_entry("kind", &r.kind)?;
        let billing = |value| BillingAmount {
            currency: &r.currency,
            value,
            month: r.clock.unwrap_or(r.start),
        };
        map.serialize_entry(
            "usedAmount",
            &CurrencyAmount(&r.currency, minus(r.original, r.closed_balance)),
        )?;
        map.serialize_entry("creditCurrency", &r.currency)?;
        map.serialize_entry("billingCurrency", &r.currency)?;
        map.serialize_entry("originalAmountInBillingCurrency", &billing(r.original))?;
        map.serialize_entry("closedBalanceInBillingCurrency", &billing(r.closed_balance))?;
        // R-PEND-3: `closedBalance` stays the settled balance; the estimate with the pending
        // (month-to-date) charges is beside it while a pending run applies.
        map.serialize_entry("isEstimatedBalance", &r.pending_balance.is_some())?;
        if let Some(pending) = r.pending_balance {
            map.serialize_entry("pendingBalance", &CurrencyAmount(&r.currency, pending))?;
        }
        if !r.milestones.is_empty() {
            let milestones: Vec<_> = r.milestones.iter().map(MaccMilestoneJson).collect();
            map.serialize_entry("milestones", &milestones)?;
        }
        map.end()
    }
}

/// A MACC milestone on its MACC lot (issue 16): amounts are plain numbers in the lot's currency.
struct MaccMilestoneJson<'a>(&'a MaccMilestoneRow);

impl Serialize for MaccMilestoneJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &m.id)?;
        map.serialize_entry("dueDate", &m.due.to_string())?;
        map.serialize_entry("status", m.status.name())?;
        map.serialize_entry("target", &Amount(m.target))?;
        map.serialize_entry("progress", &Amount(m.progress))?;
        map.serialize_entry("shortfall", &m.shortfall_amount().map(Amount))?;
        map.end()
    }
}

/// An Events API item.
pub struct EventJson<'a>(pub &'a EventRow<'a>);

impl Serialize for EventJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let e = r.event;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("id", &event_path(r.account, &e.id))?;
        map.serialize_entry("name", &e.id)?;
        map.serialize_entry("type", "Microsoft.Consumption/events")?;
        map.serialize_entry("eTag", &None::<String>)?;
        map.serialize_entry("properties", &EventProperties(r))?;
        map.end()
    }
}

struct EventProperties<'a>(&'a EventRow<'a>);

impl Serialize for EventProperties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let e = r.event;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("transactionDate", &e.date.to_azure_datetime())?;
        map.serialize_entry("description", &e.description)?;
        map.serialize_entry("billingProfileDisplayName", &e.billing_profile)?;
        map.serialize_entry("lotId", &lot_path(r.account, &e.lot))?;
        map.serialize_entry("lotSource", &e.lot_source)?;
        map.serialize_entry("charges", &CurrencyAmount(r.currency, e.charges))?;
        map.serialize_entry(
            "closedBalance",
            &CurrencyAmount(r.currency, e.closed_balance),
        )?;
        map.serialize_entry("eventType", &e.event_type)?;
        map.serialize_entry("invoiceNumber", &e.invoice)?;
        let amounts = EventAmounts::of(e);
        let zero_or = |v: Option<Money>| CurrencyAmount(r.currency, v.unwrap_or(Money::ZERO));
        map.serialize_entry("billingAccountId", r.account)?;
        map.serialize_entry("billingAccountDisplayName", r.account)?;
        map.serialize_entry(
            "billingProfileId",
            &e.billing_profile
                .as_deref()
                .map(|profile| billing_profile_path(r.account, profile)),
        )?;
        map.serialize_entry("newCredit", &zero_or(amounts.new_credit))?;
        map.serialize_entry("adjustments", &zero_or(amounts.adjustments))?;
        map.serialize_entry("creditExpired", &zero_or(amounts.credit_expired))?;
        map.serialize_entry("canceledCredit", &zero_or(amounts.canceled_credit))?;
        map.serialize_entry("creditCurrency", r.currency)?;
        map.serialize_entry("billingCurrency", r.currency)?;
        let billing = |value: Option<Money>| BillingAmount {
            currency: r.currency,
            value: value.unwrap_or(Money::ZERO),
            month: e.date,
        };
        map.serialize_entry("newCreditInBillingCurrency", &billing(amounts.new_credit))?;
        map.serialize_entry(
            "adjustmentsInBillingCurrency",
            &billing(amounts.adjustments),
        )?;
        map.serialize_entry(
            "creditExpiredInBillingCurrency",
            &billing(amounts.credit_expired),
        )?;
        map.serialize_entry("chargesInBillingCurrency", &billing(Some(e.charges)))?;
        map.serialize_entry(
            "closedBalanceInBillingCurrency",
            &billing(Some(e.closed_balance)),
        )?;
        // Pending event types are estimates (R-PEND-3): never recorded, replaced by the
        // closed invoice.
        let estimate = ledger_app::replay::pending::is_estimate(&e.event_type);
        map.serialize_entry("isEstimatedBalance", &estimate)?;
        map.end()
    }
}

/// The amounts of an Events API entry besides `charges` and `closedBalance`, by what the
/// entry records: a lot that opened (`NewCredit`: `newCredit`), a refund that restored a
/// balance (`SettledCharges` with positive charges: `adjustments`), a credit that expired
/// (`PendingExpiredCredit`, docs/RULES.md fine point 5: `creditExpired` = −balance), an
/// amendment that changed a lot's amount (`CreditAmended`, `CommitmentAmended`: `adjustments`
/// = the change), an amendment that canceled a credit (`CanceledCredit`: `canceledCredit` =
/// −balance, as for an expiry).
struct EventAmounts {
    new_credit: Option<Money>,
    adjustments: Option<Money>,
    credit_expired: Option<Money>,
    canceled_credit: Option<Money>,
}

impl EventAmounts {
    fn of(e: &ledger_app::replay::projection::LotEvent) -> EventAmounts {
        let mut amounts = EventAmounts {
            new_credit: None,
            adjustments: None,
            credit_expired: None,
            canceled_credit: None,
        };
        match e.event_type.as_str() {
            "NewCredit" | "PendingNewCredit" => amounts.new_credit = Some(e.charges),
            "PendingAdjustments" => amounts.adjustments = Some(e.charges),
            "PendingExpiredCredit" => amounts.credit_expired = Some(e.charges),
            "CanceledCredit" => amounts.canceled_credit = Some(e.charges),
            "CreditAmended" | "CommitmentAmended" => amounts.adjustments = Some(e.charges),
            "SettledCharges" if e.charges.is_positive() => amounts.adjustments = Some(e.charges),
            _ => {}
        }
        amounts
    }
}

/// `/providers/Microsoft.Billing/billingAccounts/{account}/billingProfiles/{profile}`.
pub fn billing_profile_path(account: &str, profile: &str) -> String {
    format!(
        "{}/billingProfiles/{}",
        account_path(account),
        path_segment(profile)
    )
}

fn date_text(d: Date) -> String {
    d.to_string()
}

/// A CACO page item.
pub struct CacoJson<'a>(pub &'a CacoRow<'a>);

impl Serialize for CacoJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", c.id)?;
        map.serialize_entry("account", c.account)?;
        map.serialize_entry("status", c.status)?;
        map.serialize_entry("basis", c.basis)?;
        map.serialize_entry("currency", c.currency)?;
        map.serialize_entry("startDate", &date_text(c.start))?;
        map.serialize_entry("endDate", &date_text(c.end))?;
        map.serialize_entry("commitmentAmount", &Amount(c.commitment))?;
        map.serialize_entry("remainingCommitment", &Amount(c.remaining))?;
        let milestones: Vec<MilestoneJson> = c.milestones.iter().map(MilestoneJson).collect();
        map.serialize_entry("milestones", &milestones)?;
        let transactions: Vec<TransactionJson> =
            c.transactions.iter().map(TransactionJson).collect();
        map.serialize_entry("transactions", &transactions)?;
        // R-PEND-3: present only while a pending (month-to-date) run applies.
        if let Some(pending) = c.pending_remaining {
            map.serialize_entry("pendingRemainingCommitment", &Amount(pending))?;
            let pending: Vec<TransactionJson> =
                c.pending_transactions.iter().map(TransactionJson).collect();
            map.serialize_entry("pendingTransactions", &pending)?;
        }
        map.end()
    }
}

struct MilestoneJson<'a>(&'a MilestoneRow);

impl Serialize for MilestoneJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("id", &m.id)?;
        map.serialize_entry("startDate", &date_text(m.start))?;
        map.serialize_entry("endDate", &date_text(m.end))?;
        map.serialize_entry("consumptionTarget", &Amount(m.target))?;
        map.serialize_entry("progress", &Amount(m.progress))?;
        map.serialize_entry("progressPercent", &DecimalNumber(m.progress_percent))?;
        map.serialize_entry("acoAward", &Amount(m.award))?;
        map.serialize_entry("status", m.status)?;
        if let Some(pending) = m.pending_progress {
            map.serialize_entry("pendingProgress", &Amount(pending))?;
        }
        map.end()
    }
}

struct TransactionJson<'a>(&'a CacoTransaction);

impl Serialize for TransactionJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("date", &date_text(t.date))?;
        map.serialize_entry("description", &t.description)?;
        map.serialize_entry("billingProfile", &t.billing_profile)?;
        map.serialize_entry("invoiceNumber", &t.invoice)?;
        map.serialize_entry("cacoDecrement", &Amount(t.decrement))?;
        map.serialize_entry("remainingCommitment", &Amount(t.remaining))?;
        map.end()
    }
}

/// An invoice item.
pub struct InvoiceJson<'a>(pub &'a InvoiceRow<'a>);

impl Serialize for InvoiceJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let s = r.summary;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("invoiceNumber", &s.id)?;
        map.serialize_entry("account", r.account)?;
        map.serialize_entry("currency", r.currency)?;
        map.serialize_entry("invoiceDate", &date_text(s.date))?;
        map.serialize_entry("periodStart", &date_text(s.period_start))?;
        map.serialize_entry("periodEnd", &date_text(s.period_end))?;
        map.serialize_entry("lineCount", &s.line_count)?;
        map.serialize_entry("charges", &Amount(s.charges))?;
        map.serialize_entry("creditsApplied", &Amount(s.credits_applied))?;
        map.serialize_entry("billed", &Amount(s.billed))?;
        map.serialize_entry("partnerEarnedCredit", &Amount(s.partner_earned_credit))?;
        map.serialize_entry("invoiceAmount", &Amount(s.invoice_amount))?;
        map.serialize_entry("synthetic", &s.synthetic)?;
        map.end()
    }
}

/// `{"value": [...]}`.
pub struct ValueList<T>(pub Vec<T>);

impl<T: Serialize> Serialize for ValueList<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("value", &self.0)?;
        map.end()
    }
}

pub fn lots_document(rows: &[LotRow]) -> ValueList<LotJson<'_>> {
    ValueList(rows.iter().map(LotJson).collect())
}

pub fn events_document<'a>(rows: &'a [EventRow<'a>]) -> ValueList<EventJson<'a>> {
    ValueList(rows.iter().map(EventJson).collect())
}

pub fn caco_document<'a>(rows: &'a [CacoRow<'a>]) -> ValueList<CacoJson<'a>> {
    ValueList(rows.iter().map(CacoJson).collect())
}

pub fn invoices_document<'a>(rows: &'a [InvoiceRow<'a>]) -> ValueList<InvoiceJson<'a>> {
    ValueList(rows.iter().map(InvoiceJson).collect())
}

/// Pretty JSON text of a document, with a trailing newline.
pub fn to_text<T: Serialize>(doc: &T) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("projection JSON serializes");
    text.push('\n');
    text
}

/// `#[serde(serialize_with = ...)]` helpers for types that derive `Serialize` but must follow
/// INTERFACE.md in JSON: amounts as exact numbers, dates as `YYYY-MM-DD`, kinds by name.
pub mod exact {
    use ledger_app::core::{ChargeKind, Date, Money};
    use serde::{Serialize, Serializer};

    use super::Amount;

    pub fn money<S: Serializer>(value: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        Amount(*value).serialize(serializer)
    }

    pub fn option_money<S: Serializer>(
        value: &Option<Money>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(m) => Amount(*m).serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn date<S: Serializer>(value: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn kind<S: Serializer>(value: &ChargeKind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.name())
    }

    /// An amount as its `Display` text spells it, as a JSON number (ingest's kind totals).
    pub fn decimal_text<S: Serializer>(value: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(value.to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Decimals in JSON: six places, half to even (rates are quotients; amounts stay exact).
fn six(d: Decimal) -> DecimalNumber {
    DecimalNumber(d.round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointNearestEven))
}

/// An alerts item of INTERFACE.md.
pub struct AlertJson<'a>(pub &'a Alert);

impl Serialize for AlertJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &a.id)?;
        map.serialize_entry("kind", a.kind)?;
        map.serialize_entry("account", &a.account)?;
        map.serialize_entry("currency", &a.currency)?;
        map.serialize_entry("parent", &a.parent)?;
        map.serialize_entry("endDate", &a.end.to_string())?;
        map.serialize_entry("daysLeft", &a.days_left)?;
        map.serialize_entry("alert", &a.alert)?;
        map.serialize_entry("remaining", &Amount(a.remaining))?;
        map.serialize_entry("requiredMonthlyRate", &six(a.required_monthly_rate))?;
        map.serialize_entry("actualMonthlyRate", &six(a.actual_monthly_rate))?;
        map.serialize_entry("risk", a.risk.name())?;
        map.serialize_entry(
            "forecastCompletion",
            &a.forecast_completion.map(|d| d.to_string()),
        )?;
        map.serialize_entry("forecastReason", &a.no_forecast.map(|n| n.reason()))?;
        map.serialize_entry("forecastShortfall", &six(a.forecast_shortfall))?;
        if let Some(pending) = a.pending_remaining {
            map.serialize_entry("pendingRemaining", &Amount(pending))?;
        }
        map.end()
    }
}

/// `ledger alerts --json` (and the HTTP alerts): the commitments' alerts in `value`, the
/// credit lots expiring within 90 days in `credits`.
pub fn alerts_document<'a>(rows: &'a [Alert], credits: &'a [CreditExpiry]) -> impl Serialize + 'a {
    AlertsJson {
        value: rows.iter().map(AlertJson).collect(),
        credits: credits.iter().map(CreditExpiryJson).collect(),
    }
}

#[derive(serde::Serialize)]
struct AlertsJson<'a> {
    value: Vec<AlertJson<'a>>,
    credits: Vec<CreditExpiryJson<'a>>,
}

/// A credit lot expiring within 90 days with a balance (issue 16).
pub struct CreditExpiryJson<'a>(pub &'a CreditExpiry);

impl Serialize for CreditExpiryJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("lot", &c.lot)?;
        map.serialize_entry("kind", c.kind)?;
        map.serialize_entry("account", &c.account)?;
        map.serialize_entry("currency", &c.currency)?;
        map.serialize_entry("expires", &c.expires.to_string())?;
        map.serialize_entry("daysLeft", &c.days_left)?;
        map.serialize_entry("alert", &c.alert)?;
        map.serialize_entry("amountAtRisk", &Amount(c.balance))?;
        map.end()
    }
}

/// `ledger audit trace --lot M --why-not --json`.
pub fn why_not_document(why: &WhyNot) -> impl Serialize + '_ {
    WhyNotJson {
        lot: &why.lot,
        account: &why.account,
        lines: why.lines.iter().map(NotCountedJson::of).collect(),
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WhyNotJson<'a> {
    lot: &'a str,
    account: &'a str,
    lines: Vec<NotCountedJson<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NotCountedJson<'a> {
    invoice: &'a str,
    line_position: u32,
    line_id: &'a Option<String>,
    #[serde(serialize_with = "exact::date")]
    charge_date: Date,
    #[serde(serialize_with = "exact::kind")]
    kind: ChargeKind,
    payer: &'a str,
    covered_by: &'a Option<String>,
    #[serde(serialize_with = "exact::money")]
    amount: Money,
    reason: &'static str,
    /// The R-ELIG cell, for `elig`.
    elig_rule: Option<&'a str>,
    /// The MACCs ahead that took it, for `queued`.
    #[serde(skip_serializing_if = "Option::is_none")]
    queued_behind: Option<&'a [String]>,
    description: String,
}

impl<'a> NotCountedJson<'a> {
    fn of(l: &'a NotCounted) -> NotCountedJson<'a> {
        NotCountedJson {
            invoice: &l.invoice,
            line_position: l.line_position,
            line_id: &l.line_id,
            charge_date: l.charge_date,
            kind: l.kind,
            payer: &l.payer,
            covered_by: &l.covered_by,
            amount: l.amount,
            reason: l.reason.code(),
            elig_rule: match &l.reason {
                Reason::Elig { rule, .. } => Some(rule),
                _ => None,
            },
            queued_behind: match &l.reason {
                Reason::QueuedBehind { maccs } => Some(maccs),
                _ => None,
            },
            description: l.reason.text(),
        }
    }
}

/// `ledger plan --json`: `{"value": [...]}`, one object per planned commitment.
pub fn plan_document(rows: &[PlanRow]) -> ValueList<PlanJson<'_>> {
    ValueList(rows.iter().map(PlanJson).collect())
}

/// One row of `ledger plan --json` (INTERFACE.md): amounts in the commitment's currency.
pub struct PlanJson<'a>(pub &'a PlanRow);

impl Serialize for PlanJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let option = |m: Option<Money>| m.map(Amount);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &r.id)?;
        map.serialize_entry("kind", r.kind.name())?;
        map.serialize_entry("account", &r.account)?;
        map.serialize_entry("currency", &r.currency)?;
        map.serialize_entry("deadline", &r.deadline.to_string())?;
        map.serialize_entry("remaining", &Amount(r.remaining))?;
        map.serialize_entry("monthsLeft", &r.months_left)?;
        map.serialize_entry("runRate", &Amount(r.run_rate))?;
        map.serialize_entry("runRateMonths", &r.rate_months)?;
        map.serialize_entry("requiredMonthly", &option(r.required_monthly))?;
        map.serialize_entry("gapMonthly", &option(r.gap_monthly))?;
        map.serialize_entry("projectedShortfall", &Amount(r.projected_shortfall))?;
        map.serialize_entry(
            "projectedCompletion",
            &r.projected_completion.map(|d| d.to_string()),
        )?;
        map.serialize_entry("awardAtRisk", &option(r.award_at_risk))?;
        if let Some(sim) = &r.simulation {
            map.serialize_entry(
                "simulation",
                &SimulationJson {
                    runs: sim.runs,
                    seed: sim.seed,
                    probability_met: DecimalNumber(sim.probability().round_dp(4)),
                    shortfall_p10: Amount(sim.shortfall_p10),
                    shortfall_p50: Amount(sim.shortfall_p50),
                    shortfall_p90: Amount(sim.shortfall_p90),
                    band: sim
                        .band
                        .iter()
                        .map(|b| BandJson {
                            date: b.date.to_string(),
                            p10: Amount(b.p10),
                            p50: Amount(b.p50),
                            p90: Amount(b.p90),
                        })
                        .collect(),
                },
            )?;
        }
        map.end()
    }
}

/// `--simulate`'s figures of one plan row.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SimulationJson {
    runs: u32,
    seed: u64,
    probability_met: DecimalNumber,
    #[serde(rename = "shortfallP10")]
    shortfall_p10: Amount,
    #[serde(rename = "shortfallP50")]
    shortfall_p50: Amount,
    #[serde(rename = "shortfallP90")]
    shortfall_p90: Amount,
    /// Per projected month: what is left of the target at the 10th, 50th and 90th percentile.
    band: Vec<BandJson>,
}

/// One month of `--simulate`'s band.
#[derive(serde::Serialize)]
struct BandJson {
    date: String,
    p10: Amount,
    p50: Amount,
    p90: Amount,
}

/// A lot's trace (`ledger audit trace --lot ID --json`).
pub fn trace_document(trace: &LotTrace) -> impl Serialize + '_ {
    TraceJson {
        lot: &trace.lot,
        account: &trace.account,
        events: trace.events.iter().map(TracedEventJson::of).collect(),
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TraceJson<'a> {
    lot: &'a str,
    account: &'a str,
    events: Vec<TracedEventJson<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TracedEventJson<'a> {
    seq: u64,
    event: &'a str,
    rule: &'a str,
    #[serde(serialize_with = "exact::date")]
    date: Date,
    invoice: &'a Option<String>,
    billing_profile: &'a Option<String>,
    #[serde(serialize_with = "exact::money")]
    amount: Money,
    #[serde(serialize_with = "exact::option_money")]
    balance_after: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    portions: Vec<TracedPortionJson<'a>>,
}

impl<'a> TracedEventJson<'a> {
    fn of(e: &'a TracedEvent) -> TracedEventJson<'a> {
        TracedEventJson {
            seq: e.seq,
            event: &e.event,
            rule: &e.rule,
            date: e.date,
            invoice: &e.invoice,
            billing_profile: &e.billing_profile,
            amount: e.amount,
            balance_after: e.balance_after,
            description: e.description.as_deref(),
            portions: e.portions.iter().map(TracedPortionJson::of).collect(),
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TracedPortionJson<'a> {
    line_position: u32,
    line_id: &'a Option<String>,
    #[serde(serialize_with = "exact::date")]
    charge_date: Date,
    #[serde(serialize_with = "exact::kind")]
    kind: ChargeKind,
    #[serde(serialize_with = "exact::money")]
    line_amount: Money,
    payer: &'a str,
    covered_by: &'a Option<String>,
    #[serde(serialize_with = "exact::money")]
    portion_amount: Money,
    #[serde(serialize_with = "exact::money")]
    counted: Money,
    elig_rule: &'a str,
    cover_rule: &'a Option<String>,
}

impl<'a> TracedPortionJson<'a> {
    fn of(p: &'a TracedPortion) -> TracedPortionJson<'a> {
        TracedPortionJson {
            line_position: p.line_position,
            line_id: &p.line_id,
            charge_date: p.charge_date,
            kind: p.kind,
            line_amount: p.line_amount,
            payer: &p.payer,
            covered_by: &p.covered_by,
            portion_amount: p.portion_amount,
            counted: p.counted,
            elig_rule: &p.elig_rule,
            cover_rule: &p.cover_rule,
        }
    }
}

/// `ledger replay --json`.
pub fn replay_document(r: &ReplayReport) -> impl Serialize + '_ {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ReplayJson<'a> {
        records: u64,
        facts: u64,
        invoices: u64,
        lines: u64,
        events: u64,
        bytes: u64,
        seconds: f64,
        lines_per_second: f64,
        snapshot_seq: u64,
        differences: &'a [String],
    }
    ReplayJson {
        records: r.records,
        facts: r.facts,
        invoices: r.invoices,
        lines: r.lines,
        events: r.events,
        bytes: r.bytes,
        seconds: r.seconds,
        lines_per_second: r.lines_per_second,
        snapshot_seq: r.snapshot_seq,
        differences: &r.differences,
    }
}

/// `ledger audit --json`.
pub fn audit_document(r: &AuditReport) -> impl Serialize + '_ {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct FindingJson<'a> {
        seq: u64,
        kind: &'a str,
        message: &'a str,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AuditJson<'a> {
        records: u64,
        facts: u64,
        lines: u64,
        events: u64,
        seconds: f64,
        lines_per_second: f64,
        head_hash: &'a str,
        projections: ProjectionsJson<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expected_head: Option<ExpectedHeadJson<'a>>,
        finding: Option<FindingJson<'a>>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ExpectedHeadJson<'a> {
        hash: &'a str,
        records: Option<u64>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ProjectionsJson<'a> {
        checked: bool,
        head: &'a str,
        snapshots: &'a [u64],
    }
    fn finding(f: &AuditFinding) -> FindingJson<'_> {
        FindingJson {
            seq: f.seq,
            kind: &f.kind,
            message: &f.message,
        }
    }
    AuditJson {
        records: r.records,
        facts: r.facts,
        lines: r.lines,
        events: r.events,
        seconds: r.seconds,
        lines_per_second: r.lines_per_second,
        head_hash: &r.head_hash,
        projections: ProjectionsJson {
            checked: r.projections.checked,
            head: &r.projections.head,
            snapshots: &r.projections.snapshots,
        },
        expected_head: r.expected_head.as_ref().map(|a| ExpectedHeadJson {
            hash: &a.hash,
            records: a.records,
        }),
        finding: r.finding.as_ref().map(finding),
    }
}

/// What ingesting one file did, as `ledger ingest --json` and `POST /ledger/charges` write it.
pub struct FileOutcomeJson<'a>(pub &'a FileOutcome);

impl Serialize for FileOutcomeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let kinds: std::collections::BTreeMap<&str, KindJson> =
            o.kinds.iter().map(|(k, t)| (*k, KindJson(t))).collect();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("file", &o.file)?;
        map.serialize_entry("format", o.format)?;
        map.serialize_entry("rows", &o.rows)?;
        map.serialize_entry("lines", &o.lines)?;
        map.serialize_entry("skipped", &o.skipped)?;
        map.serialize_entry("skippedProviders", &o.skipped_providers)?;
        map.serialize_entry("kinds", &kinds)?;
        map.serialize_entry("invoices", &o.invoices)?;
        map.serialize_entry("settled", &o.settled)?;
        map.serialize_entry("alreadySettled", &o.already_settled)?;
        map.serialize_entry("linesSettled", &o.lines_settled)?;
        map.serialize_entry("seconds", &o.seconds)?;
        map.serialize_entry("linesPerSecond", &o.lines_per_second)?;
        if o.pending {
            // R-PEND: `settled` counts pending runs recorded, not settled invoices.
            map.serialize_entry("pending", &true)?;
        }
        if let Some(run) = &o.run {
            #[derive(serde::Serialize)]
            struct RunJson<'a> {
                id: Option<&'a str>,
                digest: &'a str,
                parts: usize,
                pending: bool,
            }
            let run = RunJson {
                id: run.id.as_deref(),
                digest: &run.digest,
                parts: o.parts,
                pending: o.pending,
            };
            map.serialize_entry("run", &run)?;
        }
        map.end()
    }
}

/// Lines of one kind and their total: `{"lines", "amount"}` when they are in one currency,
/// `{"lines", "amounts": {"EUR": …, "USD": …}}` when in several (never added together).
struct KindJson<'a>(&'a KindTotal);

impl Serialize for KindJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Exact(#[serde(serialize_with = "exact::decimal_text")] Money);
        let t = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("lines", &t.lines)?;
        match t.amounts.as_slice() {
            [(_, amount)] => map.serialize_entry("amount", &Exact(*amount))?,
            several => {
                let amounts: std::collections::BTreeMap<&str, Exact> = several
                    .iter()
                    .map(|(currency, amount)| (currency.as_str(), Exact(*amount)))
                    .collect();
                map.serialize_entry("amounts", &amounts)?;
            }
        }
        map.end()
    }
}

/// `ledger ingest --json`: `{"files": [...], "head": {"hash", "records"}}`, amounts exact.
pub fn ingest_document(outcomes: &[FileOutcome]) -> impl Serialize + '_ {
    #[derive(serde::Serialize)]
    struct Files<'a> {
        files: Vec<FileOutcomeJson<'a>>,
        /// The log's head after the last file.
        head: Option<crate::head::HeadJson>,
    }
    Files {
        files: outcomes.iter().map(FileOutcomeJson).collect(),
        head: outcomes.last().map(|o| (&o.head).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn trace_json_has_exact_numbers_dates_and_kind_names() {
        let trace = LotTrace {
            lot: "m".into(),
            account: "a".into(),
            events: vec![TracedEvent {
                seq: 3,
                event: "Decrement".into(),
                rule: "R-SETTLE-3".into(),
                date: Date::parse("2025-02-05").unwrap(),
                invoice: Some("INV-1".into()),
                billing_profile: None,
                amount: m("100.25"),
                balance_after: Some(m("930")),
                description: None,
                portions: vec![TracedPortion {
                    line_position: 1,
                    line_id: None,
                    charge_date: Date::parse("2025-01-10").unwrap(),
                    kind: ChargeKind::Usage,
                    line_amount: m("100.25"),
                    payer: "paid".into(),
                    covered_by: None,
                    portion_amount: m("100.25"),
                    counted: m("100.25"),
                    elig_rule: "R-ELIG usage/paid".into(),
                    cover_rule: None,
                }],
            }],
        };
        let text = serde_json::to_string(&trace_document(&trace)).unwrap();
        assert!(text.contains(r#""amount":100.25"#), "{text}");
        assert!(text.contains(r#""date":"2025-02-05""#), "{text}");
        assert!(text.contains(r#""chargeDate":"2025-01-10""#), "{text}");
        assert!(text.contains(r#""kind":"usage""#), "{text}");
        assert!(text.contains(r#""balanceAfter":930.0"#), "{text}");
    }
}
