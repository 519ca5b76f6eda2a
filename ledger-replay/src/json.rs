//! The JSON of INTERFACE.md, exactly: Azure's Lots and Events API shapes, the CACO page and
//! the invoice totals. Amounts are JSON numbers written from the exact decimal (never through
//! a float); datetimes are written the way Azure writes them.

use ledger_core::{Date, Money};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::views::{CacoRow, EventRow, InvoiceRow, LotRow};

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
struct CurrencyAmount<'a>(&'a str, Money);

impl Serialize for CurrencyAmount<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("currency", self.0)?;
        map.serialize_entry("value", &Amount(self.1))?;
        map.end()
    }
}

/// Percent-encode what cannot stand in one path segment (lot ids like `INV-1/1`).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
        map.end()
    }
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
        map.end()
    }
}

struct MilestoneJson<'a>(&'a crate::views::MilestoneRow);

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
        map.end()
    }
}

struct TransactionJson<'a>(&'a crate::projection::CacoTransaction);

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
    use ledger_core::{ChargeKind, Date, Money};
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
}
