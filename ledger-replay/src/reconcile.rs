//! Reconciliation: Azure's own Events and Lots API figures against the ledger's.
//!
//! [`parse_events`] and [`parse_lots`] read the JSON the Consumption APIs return
//! (`{"value": [...], "nextLink": ...}` or a bare array), tolerating unknown fields and event
//! types, `charges` written positive or negative, `lotSource` spelled `AzurePrepayment`, lot
//! ids as full ARM paths or bare names. Amounts are read from their digits, never through a
//! binary float. [`reconcile`] matches Azure's `SettledCharges` events with the ledger's by
//! (account, lot, invoice number) and its lots by (account, lot), and lists every figure that
//! differs by more than [`TOLERANCE`]; [`attach_traces`] adds the ledger's trace (the line
//! portions and rules behind its figure, `trace::trace_lot`) to each differing invoice.
//!
//! How the figures are compared (the decisions where INTERFACE.md is silent):
//! - Per (account, lot, invoice): the decrement is the magnitude of the sum of the events'
//!   `charges` (Azure writes decrements negative, some exports positive: magnitudes compare
//!   either way); the closed balance is that of the group's last event (a file listed newest
//!   first, told by most of its dates stepping back, is read in reverse).
//! - The ledger's side is limited to the accounts the Azure file is about and to the span of
//!   its transaction dates, so a file for one month does not flag every other month as missing.
//! - An entry on one side only is listed; it counts as a difference when its decrement exceeds
//!   the tolerance. Lot status differences are listed as notes (they are not amounts).

use std::collections::{BTreeMap, BTreeSet};

use ledger_core::{Date, Money};
use ledger_store::Store;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::Amount;
use crate::projection::Projections;
use crate::trace::{trace_lot, TraceError, TracedEvent};
use crate::views::{lot_rows, LotFilter};

/// Differences up to this much (in currency units) are rounding, not differences.
pub const TOLERANCE: Money = Money::from_units(10_000_000_000_000_000_000_000); // 0.01

/// Why an Azure file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("is not valid JSON: {message} (line {line}, column {column})")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{field}: {message}")]
    Field { field: String, message: String },
}

/// One event of Azure's Events API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureEvent {
    /// Position in the file's `value` list.
    pub index: usize,
    /// From the lot id's (or the event id's) `billingAccounts/{account}`.
    pub account: Option<String>,
    pub lot: String,
    pub lot_source: Option<String>,
    pub invoice: Option<String>,
    pub billing_profile: Option<String>,
    pub date: Option<Date>,
    /// As written (its sign is the file's convention).
    pub charges: Money,
    pub closed_balance: Option<Money>,
}

/// The events of a file that can be reconciled, and what was set aside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureEvents {
    /// `SettledCharges` events, in file order.
    pub settled: Vec<AzureEvent>,
    /// Event type → count of events not compared (NewCredit, unknown types...).
    pub ignored: BTreeMap<String, usize>,
    /// `SettledCharges` events without a lot or an invoice number: (index, what is missing).
    pub unusable: Vec<(usize, String)>,
    /// The file says Azure has more pages.
    pub next_link: bool,
}

/// One lot of Azure's Lots API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureLot {
    pub index: usize,
    pub account: Option<String>,
    pub name: String,
    /// Normalized: `AzurePrepayment` reads as `PurchasedCredit`.
    pub source: Option<String>,
    pub status: Option<String>,
    pub original: Option<Money>,
    pub closed_balance: Option<Money>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureLots {
    pub lots: Vec<AzureLot>,
    pub next_link: bool,
}

// ---------------------------------------------------------------------------------------------
// Reading Azure's JSON.

/// `{"value": [...]}` (with any other members, `nextLink` among them) or a bare array.
fn items(text: &str) -> Result<(Vec<&RawValue>, bool), ReadError> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        value: Option<Vec<&'a RawValue>>,
        #[serde(rename = "nextLink")]
        next_link: Option<String>,
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let syntax = |e: serde_json::Error| ReadError::Syntax {
        message: strip_position(&e.to_string()),
        line: e.line(),
        column: e.column(),
    };
    if text.trim_start().starts_with('[') {
        let list: Vec<&RawValue> = serde_json::from_str(text).map_err(syntax)?;
        return Ok((list, false));
    }
    let page: Page = serde_json::from_str(text).map_err(syntax)?;
    let Some(value) = page.value else {
        return Err(ReadError::Field {
            field: "value".into(),
            message: "is missing; expected {\"value\": [...]} as the Consumption APIs return it, or an array".into(),
        });
    };
    Ok((value, page.next_link.is_some_and(|l| !l.is_empty())))
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[derive(Deserialize)]
struct Item<'a> {
    id: Option<String>,
    name: Option<String>,
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventProperties<'a> {
    transaction_date: Option<String>,
    billing_profile_display_name: Option<String>,
    lot_id: Option<String>,
    lot_source: Option<String>,
    #[serde(borrow)]
    charges: Option<&'a RawValue>,
    #[serde(borrow)]
    closed_balance: Option<&'a RawValue>,
    event_type: Option<String>,
    invoice_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LotProperties<'a> {
    source: Option<String>,
    lot_source: Option<String>,
    status: Option<String>,
    #[serde(borrow)]
    original_amount: Option<&'a RawValue>,
    #[serde(borrow)]
    closed_balance: Option<&'a RawValue>,
}

fn field_error(field: String, e: impl std::fmt::Display) -> ReadError {
    ReadError::Field {
        field,
        message: strip_position(&e.to_string()),
    }
}

/// An amount: `{"currency": .., "value": 12.5}`, a bare number, or a string of digits.
fn amount(raw: &RawValue, field: &str) -> Result<Option<Money>, ReadError> {
    let text = raw.get().trim();
    if text == "null" {
        return Ok(None);
    }
    if text.starts_with('{') {
        #[derive(Deserialize)]
        struct WithCurrency<'a> {
            #[serde(borrow)]
            value: Option<&'a RawValue>,
        }
        let inner: WithCurrency =
            serde_json::from_str(text).map_err(|e| field_error(field.to_string(), e))?;
        return match inner.value {
            Some(v) => amount(v, &format!("{field}.value")),
            None => Ok(None),
        };
    }
    let digits = if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|e| field_error(field.to_string(), e))?
    } else {
        text.to_string()
    };
    Money::parse(digits.trim())
        .map(Some)
        .map_err(|e| field_error(field.to_string(), e))
}

/// `2021-05-05T00:00:00.0000000Z` or `2021-05-05`: the date.
fn date(text: Option<&str>) -> Option<Date> {
    let text = text?;
    Date::parse(text.get(..10)?).ok()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The segment after `/{segment}/` in an ARM path (case-insensitive), percent-decoded.
fn path_part(path: &str, segment: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    let marker = format!("/{}/", segment.to_ascii_lowercase());
    let start = lower.rfind(&marker)? + marker.len();
    let rest = &path[start..];
    let end = rest.find('/').unwrap_or(rest.len());
    (end > 0).then(|| percent_decode(&rest[..end]))
}

/// A lot id as the ledger names it: the last segment of an ARM path (`.../lots/{name}`), or
/// the text itself when it is a bare name (which may hold `/`, like `INV-1/1`).
fn lot_name(lot_id: &str) -> String {
    if lot_id.to_ascii_lowercase().contains("/providers/") {
        if let Some(name) = path_part(lot_id, "lots") {
            return name;
        }
    }
    lot_id.to_string()
}

/// Lots API source spellings.
pub fn normalize_source(source: &str) -> String {
    match source.to_ascii_lowercase().as_str() {
        "azureprepayment" | "purchasedcredit" => "PurchasedCredit".into(),
        "consumptioncommitment" => "ConsumptionCommitment".into(),
        "promotionalcredit" => "PromotionalCredit".into(),
        _ => source.to_string(),
    }
}

/// Read an Events API response.
pub fn parse_events(text: &str) -> Result<AzureEvents, ReadError> {
    let (list, next_link) = items(text)?;
    let mut out = AzureEvents {
        next_link,
        ..AzureEvents::default()
    };
    for (index, raw) in list.into_iter().enumerate() {
        let at = format!("value[{index}]");
        let item: Item = serde_json::from_str(raw.get()).map_err(|e| field_error(at.clone(), e))?;
        let Some(props) = item.properties else {
            *out.ignored.entry("(no properties)".into()).or_default() += 1;
            continue;
        };
        let p: EventProperties = serde_json::from_str(props.get())
            .map_err(|e| field_error(format!("{at}.properties"), e))?;
        let event_type = p.event_type.clone().unwrap_or_default();
        if !event_type.eq_ignore_ascii_case("SettledCharges") {
            let key = if event_type.is_empty() {
                "(no eventType)".to_string()
            } else {
                event_type
            };
            *out.ignored.entry(key).or_default() += 1;
            continue;
        }
        let (Some(lot_id), Some(invoice)) = (p.lot_id.as_deref(), p.invoice_number.as_deref())
        else {
            let missing = if p.lot_id.is_none() {
                "lotId"
            } else {
                "invoiceNumber"
            };
            out.unusable.push((index, format!("{at}: no {missing}")));
            continue;
        };
        let charges = match p.charges {
            Some(raw) => amount(raw, &format!("{at}.properties.charges"))?,
            None => None,
        };
        let Some(charges) = charges else {
            out.unusable.push((index, format!("{at}: no charges")));
            continue;
        };
        let closed_balance = match p.closed_balance {
            Some(raw) => amount(raw, &format!("{at}.properties.closedBalance"))?,
            None => None,
        };
        let account = path_part(lot_id, "billingAccounts").or_else(|| {
            item.id
                .as_deref()
                .and_then(|id| path_part(id, "billingAccounts"))
        });
        out.settled.push(AzureEvent {
            index,
            account,
            lot: lot_name(lot_id),
            lot_source: p.lot_source.as_deref().map(normalize_source),
            invoice: Some(invoice.to_string()),
            billing_profile: p.billing_profile_display_name,
            date: date(p.transaction_date.as_deref()),
            charges,
            closed_balance,
        });
    }
    Ok(out)
}

/// Read a Lots API response.
pub fn parse_lots(text: &str) -> Result<AzureLots, ReadError> {
    let (list, next_link) = items(text)?;
    let mut out = AzureLots {
        next_link,
        ..AzureLots::default()
    };
    for (index, raw) in list.into_iter().enumerate() {
        let at = format!("value[{index}]");
        let item: Item = serde_json::from_str(raw.get()).map_err(|e| field_error(at.clone(), e))?;
        let p: Option<LotProperties> = match item.properties {
            Some(props) => Some(
                serde_json::from_str(props.get())
                    .map_err(|e| field_error(format!("{at}.properties"), e))?,
            ),
            None => None,
        };
        let name = match (item.name.as_deref(), item.id.as_deref()) {
            (Some(name), _) if !name.is_empty() => lot_name(name),
            (_, Some(id)) => lot_name(id),
            _ => {
                return Err(ReadError::Field {
                    field: at,
                    message: "has neither a name nor an id".into(),
                })
            }
        };
        let account = item
            .id
            .as_deref()
            .and_then(|id| path_part(id, "billingAccounts"));
        let (mut source, mut status, mut original, mut closed_balance) = (None, None, None, None);
        if let Some(p) = p {
            source = p.source.or(p.lot_source).as_deref().map(normalize_source);
            status = p.status;
            if let Some(raw) = p.original_amount {
                original = amount(raw, &format!("{at}.properties.originalAmount"))?;
            }
            if let Some(raw) = p.closed_balance {
                closed_balance = amount(raw, &format!("{at}.properties.closedBalance"))?;
            }
        }
        out.lots.push(AzureLot {
            index,
            account,
            name,
            source,
            status,
            original,
            closed_balance,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/// One side's figures for one (account, lot, invoice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceFigures {
    /// Magnitude of the sum of the charges.
    pub decrement: Money,
    /// After the invoice (the last event's).
    pub closed_balance: Option<Money>,
    pub events: usize,
}

/// An (account, lot, invoice) whose figures differ, or that one side lacks.
#[derive(Clone, Debug)]
pub struct InvoiceDifference {
    pub account: String,
    pub invoice: String,
    pub lot: String,
    pub azure: Option<InvoiceFigures>,
    pub ledger: Option<InvoiceFigures>,
    /// Azure − ledger.
    pub decrement_difference: Money,
    /// Azure − ledger, when both sides give a balance.
    pub closed_balance_difference: Option<Money>,
    /// Over the tolerance (a one-sided entry of no amount is listed but is not one).
    pub differs: bool,
    /// The ledger's events of this lot on this invoice, with their line portions.
    pub trace: Vec<TracedEvent>,
}

/// One side's figures for one lot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotFigures {
    pub source: Option<String>,
    pub status: Option<String>,
    pub original: Option<Money>,
    pub closed_balance: Option<Money>,
}

#[derive(Clone, Debug)]
pub struct LotDifference {
    pub account: String,
    pub lot: String,
    pub azure: Option<LotFigures>,
    pub ledger: Option<LotFigures>,
    pub closed_balance_difference: Option<Money>,
    pub original_difference: Option<Money>,
    pub differs: bool,
}

/// What a reconciliation found.
#[derive(Clone, Debug, Default)]
pub struct Reconciliation {
    /// (account, lot, invoice) entries found on both sides.
    pub matched: usize,
    /// Lots found on both sides.
    pub matched_lots: usize,
    /// The transaction dates of Azure's settled events (the ledger's side is limited to it).
    pub span: Option<(Date, Date)>,
    pub accounts: Vec<String>,
    /// Sorted by account, invoice, lot.
    pub invoices: Vec<InvoiceDifference>,
    pub lots: Vec<LotDifference>,
    pub notes: Vec<String>,
}

impl Reconciliation {
    /// Whether anything differs by more than the tolerance.
    pub fn differs(&self) -> bool {
        self.invoices.iter().any(|d| d.differs) || self.lots.iter().any(|d| d.differs)
    }

    pub fn difference_count(&self) -> usize {
        self.invoices.iter().filter(|d| d.differs).count()
            + self.lots.iter().filter(|d| d.differs).count()
    }
}

fn over(m: Money) -> bool {
    m.abs() > TOLERANCE
}

fn minus(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap_or(Money::ZERO)
}

type Key = (String, String, String);

/// Compare Azure's events (and lots) with the ledger's projections.
pub fn reconcile(
    p: &Projections,
    events: &AzureEvents,
    lots: Option<&AzureLots>,
) -> Reconciliation {
    let mut r = Reconciliation::default();
    let ledger_accounts: Vec<&String> = p.ledger.accounts.keys().collect();
    // Which account an Azure entry without one belongs to: the only account, or the only one
    // with a lot of that name.
    let resolve = |account: &Option<String>, lot: &str| -> Option<String> {
        if let Some(a) = account {
            return Some(a.clone());
        }
        if ledger_accounts.len() == 1 {
            return Some(ledger_accounts[0].clone());
        }
        let owners: Vec<&&String> = ledger_accounts
            .iter()
            .filter(|a| {
                p.ledger
                    .account(a)
                    .is_some_and(|s| s.lot_ref(lot).is_some())
            })
            .collect();
        match owners.as_slice() {
            [one] => Some((**one).clone()),
            _ => None,
        }
    };

    // Azure's side, in time order (a file listed newest first is reversed).
    let mut settled: Vec<&AzureEvent> = events.settled.iter().collect();
    let dated: Vec<Date> = settled.iter().filter_map(|e| e.date).collect();
    // Listed newest first when more neighbours step back in time than forward (a few steps
    // against the grain are normal: a shortfall invoice is dated before the invoice that
    // triggered its evaluation).
    let backward = dated.windows(2).filter(|w| w[0] > w[1]).count();
    let forward = dated.windows(2).filter(|w| w[0] < w[1]).count();
    if backward > forward {
        settled.reverse();
    }
    settled.sort_by_key(|e| e.date.unwrap_or(Date::MIN));
    r.span = match (dated.iter().min(), dated.iter().max()) {
        (Some(a), Some(b)) => Some((*a, *b)),
        _ => None,
    };
    let mut azure: BTreeMap<Key, (Money, Option<Money>, usize)> = BTreeMap::new();
    let mut scope: BTreeSet<String> = BTreeSet::new();
    for e in settled {
        let Some(account) = resolve(&e.account, &e.lot) else {
            r.notes.push(format!(
                "event value[{}] (lot {}, invoice {}): no account in its lot id, and several accounts of this ledger could own the lot",
                e.index,
                e.lot,
                e.invoice.as_deref().unwrap_or("")
            ));
            continue;
        };
        scope.insert(account.clone());
        let key = (
            account,
            e.invoice.clone().unwrap_or_default(),
            e.lot.clone(),
        );
        let entry = azure.entry(key).or_insert((Money::ZERO, None, 0));
        entry.0 = entry.0.checked_add(e.charges).unwrap_or(entry.0);
        if e.closed_balance.is_some() {
            entry.1 = e.closed_balance;
        }
        entry.2 += 1;
    }
    if scope.is_empty() {
        scope.extend(ledger_accounts.iter().map(|a| a.to_string()));
    }
    r.accounts = scope.iter().cloned().collect();

    // The ledger's side: its settled-charges events in the same accounts and dates.
    let mut ledger: BTreeMap<Key, (Money, Option<Money>, usize)> = BTreeMap::new();
    for (account, views) in &p.views {
        if !scope.contains(account) {
            continue;
        }
        for e in &views.lot_events {
            let Some(invoice) = &e.invoice else { continue };
            if e.event_type != "SettledCharges" {
                continue;
            }
            if r.span.is_some_and(|(a, b)| e.date < a || e.date > b) {
                continue;
            }
            let key = (account.clone(), invoice.clone(), e.lot.clone());
            let entry = ledger.entry(key).or_insert((Money::ZERO, None, 0));
            entry.0 = entry.0.checked_add(e.charges).unwrap_or(entry.0);
            entry.1 = Some(e.closed_balance);
            entry.2 += 1;
        }
    }

    let keys: BTreeSet<&Key> = azure.keys().chain(ledger.keys()).collect();
    for key in keys {
        let figures = |side: &BTreeMap<Key, (Money, Option<Money>, usize)>| {
            side.get(key).map(|(sum, closed, n)| InvoiceFigures {
                decrement: sum.abs(),
                closed_balance: *closed,
                events: *n,
            })
        };
        let a = figures(&azure);
        let l = figures(&ledger);
        let decrement =
            |f: &Option<InvoiceFigures>| f.as_ref().map_or(Money::ZERO, |f| f.decrement);
        let decrement_difference = minus(decrement(&a), decrement(&l));
        let closed_balance_difference = match (&a, &l) {
            (Some(a), Some(l)) => match (a.closed_balance, l.closed_balance) {
                (Some(x), Some(y)) => Some(minus(x, y)),
                _ => None,
            },
            _ => None,
        };
        if a.is_some() && l.is_some() {
            r.matched += 1;
        }
        let differs = over(decrement_difference) || closed_balance_difference.is_some_and(over);
        if !differs && a.is_some() && l.is_some() {
            continue;
        }
        r.invoices.push(InvoiceDifference {
            account: key.0.clone(),
            invoice: key.1.clone(),
            lot: key.2.clone(),
            azure: a,
            ledger: l,
            decrement_difference,
            closed_balance_difference,
            differs,
            trace: Vec::new(),
        });
    }

    if let Some(azure_lots) = lots {
        compare_lots(p, azure_lots, &scope, &resolve, &mut r);
        if azure_lots.next_link {
            r.notes.push(
                "the lots file has a nextLink: Azure has more pages than the file holds".into(),
            );
        }
    }
    if events.next_link {
        r.notes.push("the events file has a nextLink: Azure has more pages than the file holds; only what the file holds is compared".into());
    }
    for (kind, count) in &events.ignored {
        r.notes.push(format!(
            "{count} event(s) of type {kind} not compared (only SettledCharges are)"
        ));
    }
    for (_, what) in &events.unusable {
        r.notes.push(format!("event {what}: not compared"));
    }
    r
}

fn compare_lots(
    p: &Projections,
    azure: &AzureLots,
    scope: &BTreeSet<String>,
    resolve: &dyn Fn(&Option<String>, &str) -> Option<String>,
    r: &mut Reconciliation,
) {
    let mut theirs: BTreeMap<(String, String), LotFigures> = BTreeMap::new();
    for lot in &azure.lots {
        let Some(account) = resolve(&lot.account, &lot.name) else {
            r.notes.push(format!(
                "lot value[{}] ({}): no account in its id, and several accounts of this ledger could own it",
                lot.index, lot.name
            ));
            continue;
        };
        theirs.insert(
            (account, lot.name.clone()),
            LotFigures {
                source: lot.source.clone(),
                status: lot.status.clone(),
                original: lot.original,
                closed_balance: lot.closed_balance,
            },
        );
    }
    let mut ours: BTreeMap<(String, String), LotFigures> = BTreeMap::new();
    for row in lot_rows(p, &LotFilter::default()) {
        if !scope.contains(&row.account) {
            continue;
        }
        ours.insert(
            (row.account.clone(), row.name.clone()),
            LotFigures {
                source: Some(row.source.to_string()),
                status: Some(row.status.name().to_string()),
                original: Some(row.original),
                closed_balance: Some(row.closed_balance),
            },
        );
    }
    let keys: BTreeSet<&(String, String)> = theirs.keys().chain(ours.keys()).collect();
    for key in keys {
        let a = theirs.get(key).cloned();
        let l = ours.get(key).cloned();
        let both = |f: fn(&LotFigures) -> Option<Money>| match (&a, &l) {
            (Some(a), Some(l)) => match (f(a), f(l)) {
                (Some(x), Some(y)) => Some(minus(x, y)),
                _ => None,
            },
            _ => None,
        };
        let closed_balance_difference = both(|f| f.closed_balance);
        let original_difference = both(|f| f.original);
        let one_sided_amount = match (&a, &l) {
            (Some(only), None) | (None, Some(only)) => {
                only.closed_balance.is_some_and(over) || only.original.is_some_and(over)
            }
            _ => false,
        };
        let differs = one_sided_amount
            || closed_balance_difference.is_some_and(over)
            || original_difference.is_some_and(over);
        if let (Some(x), Some(y)) = (&a, &l) {
            r.matched_lots += 1;
            if let (Some(s), Some(t)) = (&x.status, &y.status) {
                if !s.eq_ignore_ascii_case(t) {
                    r.notes.push(format!(
                        "lot {}: status {s} at Azure, {t} in the ledger",
                        key.1
                    ));
                }
            }
        }
        if !differs && a.is_some() && l.is_some() {
            continue;
        }
        r.lots.push(LotDifference {
            account: key.0.clone(),
            lot: key.1.clone(),
            azure: a,
            ledger: l,
            closed_balance_difference,
            original_difference,
            differs,
        });
    }
}

/// Add the ledger's trace to every differing invoice the ledger has: one re-run of the log per
/// lot involved.
pub fn attach_traces(store: &Store, r: &mut Reconciliation) -> Result<(), TraceError> {
    let lots: BTreeSet<String> = r
        .invoices
        .iter()
        .filter(|d| d.ledger.is_some())
        .map(|d| d.lot.clone())
        .collect();
    for lot in lots {
        let trace = trace_lot(store, &lot)?;
        for d in r
            .invoices
            .iter_mut()
            .filter(|d| d.lot == lot && d.ledger.is_some())
        {
            d.trace = trace
                .events
                .iter()
                .filter(|e| e.invoice.as_deref() == Some(d.invoice.as_str()))
                .cloned()
                .collect();
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON.

struct Opt(Option<Money>);

impl Serialize for Opt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(m) => Amount(m).serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

struct InvoiceFiguresJson<'a>(&'a InvoiceFigures);

impl Serialize for InvoiceFiguresJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("decrement", &Amount(self.0.decrement))?;
        map.serialize_entry("closedBalance", &Opt(self.0.closed_balance))?;
        map.serialize_entry("events", &self.0.events)?;
        map.end()
    }
}

struct LotFiguresJson<'a>(&'a LotFigures);

impl Serialize for LotFiguresJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("source", &self.0.source)?;
        map.serialize_entry("status", &self.0.status)?;
        map.serialize_entry("originalAmount", &Opt(self.0.original))?;
        map.serialize_entry("closedBalance", &Opt(self.0.closed_balance))?;
        map.end()
    }
}

/// A traced event with amounts as JSON numbers and dates as `YYYY-MM-DD`.
struct TracedEventJson<'a>(&'a TracedEvent);

impl Serialize for TracedEventJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("event", &e.event)?;
        map.serialize_entry("rule", &e.rule)?;
        map.serialize_entry("date", &e.date.to_string())?;
        map.serialize_entry("billingProfile", &e.billing_profile)?;
        map.serialize_entry("amount", &Amount(e.amount))?;
        map.serialize_entry("balanceAfter", &Opt(e.balance_after))?;
        let portions: Vec<PortionJson> = e.portions.iter().map(PortionJson).collect();
        map.serialize_entry("portions", &portions)?;
        map.end()
    }
}

struct PortionJson<'a>(&'a crate::trace::TracedPortion);

impl Serialize for PortionJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("linePosition", &p.line_position)?;
        map.serialize_entry("lineId", &p.line_id)?;
        map.serialize_entry("chargeDate", &p.charge_date.to_string())?;
        map.serialize_entry("kind", p.kind.name())?;
        map.serialize_entry("lineAmount", &Amount(p.line_amount))?;
        map.serialize_entry("payer", &p.payer)?;
        map.serialize_entry("coveredBy", &p.covered_by)?;
        map.serialize_entry("portionAmount", &Amount(p.portion_amount))?;
        map.serialize_entry("counted", &Amount(p.counted))?;
        map.serialize_entry("eligRule", &p.elig_rule)?;
        map.serialize_entry("coverRule", &p.cover_rule)?;
        map.end()
    }
}

struct InvoiceDifferenceJson<'a>(&'a InvoiceDifference);

impl Serialize for InvoiceDifferenceJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("invoiceNumber", &d.invoice)?;
        map.serialize_entry("lot", &d.lot)?;
        map.serialize_entry("account", &d.account)?;
        map.serialize_entry("differs", &d.differs)?;
        map.serialize_entry("azure", &d.azure.as_ref().map(InvoiceFiguresJson))?;
        map.serialize_entry("ledger", &d.ledger.as_ref().map(InvoiceFiguresJson))?;
        map.serialize_entry("decrementDifference", &Amount(d.decrement_difference))?;
        map.serialize_entry("closedBalanceDifference", &Opt(d.closed_balance_difference))?;
        let trace: Vec<TracedEventJson> = d.trace.iter().map(TracedEventJson).collect();
        map.serialize_entry("trace", &trace)?;
        map.end()
    }
}

struct LotDifferenceJson<'a>(&'a LotDifference);

impl Serialize for LotDifferenceJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("lot", &d.lot)?;
        map.serialize_entry("account", &d.account)?;
        map.serialize_entry("differs", &d.differs)?;
        map.serialize_entry("azure", &d.azure.as_ref().map(LotFiguresJson))?;
        map.serialize_entry("ledger", &d.ledger.as_ref().map(LotFiguresJson))?;
        map.serialize_entry("closedBalanceDifference", &Opt(d.closed_balance_difference))?;
        map.serialize_entry("originalAmountDifference", &Opt(d.original_difference))?;
        map.end()
    }
}

/// `{"differs", "differences", "matched", "span", "invoices": [...], "lots": [...], "notes"}`;
/// amounts are JSON numbers from the exact decimal.
impl Serialize for Reconciliation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("differs", &self.differs())?;
        map.serialize_entry("differences", &self.difference_count())?;
        map.serialize_entry("matched", &self.matched)?;
        map.serialize_entry("matchedLots", &self.matched_lots)?;
        map.serialize_entry("accounts", &self.accounts)?;
        map.serialize_entry(
            "span",
            &self.span.map(|(a, b)| [a.to_string(), b.to_string()]),
        )?;
        let invoices: Vec<InvoiceDifferenceJson> =
            self.invoices.iter().map(InvoiceDifferenceJson).collect();
        map.serialize_entry("invoices", &invoices)?;
        let lots: Vec<LotDifferenceJson> = self.lots.iter().map(LotDifferenceJson).collect();
        map.serialize_entry("lots", &lots)?;
        map.serialize_entry("notes", &self.notes)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn tolerance_is_one_cent() {
        assert_eq!(TOLERANCE, m("0.01"));
    }

    #[test]
    fn lot_ids_and_accounts_come_from_arm_paths_or_bare_names() {
        let path = "/providers/Microsoft.Billing/billingAccounts/contoso%20east/providers/Microsoft.Consumption/lots/caco-1%2FM1%2Faward";
        assert_eq!(lot_name(path), "caco-1/M1/award");
        assert_eq!(
            path_part(path, "billingAccounts").as_deref(),
            Some("contoso east")
        );
        assert_eq!(lot_name("INV-1/1"), "INV-1/1");
        assert_eq!(lot_name("G2021032459206000XXXX"), "G2021032459206000XXXX");
        let scoped = "/providers/Microsoft.Billing/billingAccounts/1234:5678_2019-05-31/billingProfiles/AB12/providers/Microsoft.Consumption/lots/G1";
        assert_eq!(lot_name(scoped), "G1");
        assert_eq!(
            path_part(scoped, "billingaccounts").as_deref(),
            Some("1234:5678_2019-05-31")
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn events_tolerate_shapes_signs_and_unknowns() {
        let text = r#"{"value": [
            {"id": "x", "name": "e1", "type": "Microsoft.Consumption/events", "extra": [1, 2],
             "properties": {"transactionDate": "2021-05-05T00:00:00.0000000Z",
                "lotId": "/providers/Microsoft.Billing/billingAccounts/9a157b81/providers/Microsoft.Consumption/lots/G1",
                "lotSource": "AzurePrepayment", "charges": {"currency": "USD", "value": 100.000000000000000000001},
                "closedBalance": {"currency": "USD", "value": "9899.71"}, "eventType": "SettledCharges",
                "invoiceNumber": "T1", "somethingNew": {"a": null}}},
            {"properties": {"eventType": "NewCredit", "lotId": "G1"}},
            {"properties": {"eventType": "SomethingElse"}},
            {"properties": {"eventType": "SettledCharges", "lotId": "G1", "charges": -5}}
        ], "nextLink": "https://management.azure.com/...&skiptoken=abc"}"#;
        let events = parse_events(text).unwrap();
        assert!(events.next_link);
        assert_eq!(events.settled.len(), 1);
        let e = &events.settled[0];
        assert_eq!(e.account.as_deref(), Some("9a157b81"));
        assert_eq!(e.lot, "G1");
        assert_eq!(e.lot_source.as_deref(), Some("PurchasedCredit"));
        assert_eq!(
            e.charges,
            m("100.000000000000000000001"),
            "digits, not a float"
        );
        assert_eq!(e.closed_balance, Some(m("9899.71")));
        assert_eq!(e.date, Some(Date::parse("2021-05-05").unwrap()));
        assert_eq!(events.ignored.get("NewCredit"), Some(&1));
        assert_eq!(events.ignored.get("SomethingElse"), Some(&1));
        assert_eq!(events.unusable.len(), 1, "no invoice number");
        // A bare array works too.
        let bare = parse_events("[]").unwrap();
        assert!(bare.settled.is_empty() && !bare.next_link);
    }

    #[test]
    fn unreadable_files_say_where() {
        match parse_events("{\"value\": [\n{\"properties\": }]}") {
            Err(ReadError::Syntax { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
        let e = parse_events(r#"{"value": [{"properties": {"eventType": "SettledCharges", "lotId": "G", "invoiceNumber": "I", "charges": {"value": "ten"}}}]}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("value[0].properties.charges.value: 'ten' is not a decimal amount"),
            "{e}"
        );
        let e = parse_events(r#"{"items": []}"#).unwrap_err();
        assert!(e.to_string().starts_with("value: is missing"), "{e}");
    }
}
