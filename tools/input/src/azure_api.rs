//! Azure's own figures for `ledger reconcile`: the JSON the Consumption Events and Lots APIs
//! return (`{"value": [...], "nextLink": ...}` or a bare array), read into [`AzureEvents`] and
//! [`AzureLots`]. Unknown fields and event types are tolerated, `charges` may be written
//! positive or negative, `lotSource` may be spelled `AzurePrepayment`, lot ids may be full ARM
//! paths or bare names. Amounts are read from their digits, never through a binary float.
//! [`read_events`] and [`read_lots`] read a file and name it, with the line, in a refusal.

use std::collections::BTreeMap;
use std::path::Path;

use ledger_core::{Date, Money};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::InputError;

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

/// The lots of a Lots API file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureLots {
    pub lots: Vec<AzureLot>,
    pub next_link: bool,
}

/// Read an Events API file.
pub fn read_events(path: &Path) -> Result<AzureEvents, InputError> {
    read(path, parse_events)
}

/// Read a Lots API file.
pub fn read_lots(path: &Path) -> Result<AzureLots, InputError> {
    read(path, parse_lots)
}

fn read<T>(path: &Path, parse: fn(&str) -> Result<T, ReadError>) -> Result<T, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError::io(path, "cannot read", &e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| InputError::new(path, "is not UTF-8 text (expected Azure's JSON)"))?;
    parse(&text).map_err(|e| match e {
        ReadError::Syntax {
            message,
            line,
            column,
        } => InputError::new(
            path,
            format!("is not valid JSON: {message} (column {column})"),
        )
        .at_line(line as u64),
        ReadError::Field { field, message } => InputError::new(path, message).in_field(field),
    })
}

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
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
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
