//! `ledger reconcile` as text and as JSON: what matched, each invoice and lot whose figures
//! differ (with the ledger's trace), and the notes.

use std::fmt::Write as _;

use ledger_app::core::Money;
use ledger_app::replay::reconcile::{
    InvoiceDifference, InvoiceFigures, LotDifference, LotFigures, Note, Reconciliation,
};
use ledger_app::replay::trace::{TracedEvent, TracedPortion};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::amount::{amount, signed};
use crate::json::Amount;

/// A note in words.
pub fn note_text(note: &Note) -> String {
    match note {
        Note::EventWithoutAccount { index, lot, invoice } => format!(
            "event value[{index}] (lot {lot}, invoice {invoice}): no account in its lot id, and several accounts of this ledger could own the lot"
        ),
        Note::LotWithoutAccount { index, lot } => format!(
            "lot value[{index}] ({lot}): no account in its id, and several accounts of this ledger could own it"
        ),
        Note::LotStatus { lot, azure, ledger } => {
            format!("lot {lot}: status {azure} at Azure, {ledger} in the ledger")
        }
        Note::LotsNextLink => {
            "the lots file has a nextLink: Azure has more pages than the file holds".into()
        }
        Note::EventsNextLink => "the events file has a nextLink: Azure has more pages than the file holds; only what the file holds is compared".into(),
        Note::IgnoredEvents { kind, count } => {
            format!("{count} event(s) of type {kind} not compared (only SettledCharges are)")
        }
        Note::UnusableEvent { what } => format!("event {what}: not compared"),
    }
}

fn figures(label: &str, f: &Option<InvoiceFigures>) -> String {
    match f {
        None => format!("  {label:<7} no such event\n"),
        Some(f) => format!(
            "  {label:<7} decrement {:>16}   closed balance {:>16}   ({} event{})\n",
            amount(f.decrement),
            f.closed_balance.map(amount).unwrap_or_else(|| "—".into()),
            f.events,
            if f.events == 1 { "" } else { "s" }
        ),
    }
}

/// What decided a portion: kind, payer, covering lot, R-ELIG cell, R-COVER rule.
type PortionGroup = (String, String, String, String, String);

/// A traced event and its line portions, grouped by what decided them.
fn trace_text(out: &mut String, e: &TracedEvent) {
    writeln!(
        out,
        "    {} {} ({}) {}{}{}",
        e.date,
        e.event,
        e.rule,
        e.billing_profile
            .as_deref()
            .map(|p| format!("{p} "))
            .unwrap_or_default(),
        amount(e.amount),
        e.balance_after
            .map(|b| format!(", balance after {}", amount(b)))
            .unwrap_or_default()
    )
    .unwrap();
    // (kind, payer, covering lot, R-ELIG cell, R-COVER rule) -> (portions, amount counted).
    let mut groups: Vec<(PortionGroup, usize, Money)> = Vec::new();
    for p in &e.portions {
        let key = (
            p.kind.name().to_string(),
            p.payer.clone(),
            p.covered_by.clone().unwrap_or_default(),
            p.elig_rule.clone(),
            p.cover_rule.clone().unwrap_or_default(),
        );
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => {
                g.1 += 1;
                g.2 = g.2.checked_add(p.counted).unwrap_or(g.2);
            }
            None => groups.push((key, 1, p.counted)),
        }
    }
    const SHOWN: usize = 12;
    for ((kind, payer, lot, elig, cover), count, counted) in groups.iter().take(SHOWN) {
        let by = if lot.is_empty() {
            String::new()
        } else {
            format!(" by {lot} ({cover})")
        };
        writeln!(
            out,
            "      {count} {kind} portion{} {payer}{by}, {elig}: {}",
            if *count == 1 { "" } else { "s" },
            amount(*counted)
        )
        .unwrap();
    }
    if groups.len() > SHOWN {
        writeln!(
            out,
            "      ... and {} more kinds of portion (see --json)",
            groups.len() - SHOWN
        )
        .unwrap();
    }
}

fn invoice_text(out: &mut String, d: &InvoiceDifference, several_accounts: bool) {
    let account = if several_accounts {
        format!(" (account {})", d.account)
    } else {
        String::new()
    };
    writeln!(out, "Invoice {}, lot {}{account}:", d.invoice, d.lot).unwrap();
    out.push_str(&figures("Azure", &d.azure));
    out.push_str(&figures("ledger", &d.ledger));
    writeln!(
        out,
        "  Azure − ledger: decrement {}{}",
        signed(d.decrement_difference),
        d.closed_balance_difference
            .map(|c| format!(", closed balance {}", signed(c)))
            .unwrap_or_default()
    )
    .unwrap();
    if d.ledger.is_some() {
        writeln!(
            out,
            "  The ledger's figure (ledger audit trace --lot {}):",
            d.lot
        )
        .unwrap();
        for e in &d.trace {
            trace_text(out, e);
        }
    }
    out.push('\n');
}

fn lot_text(out: &mut String, d: &LotDifference) {
    let side = |f: &Option<LotFigures>| match f {
        None => "no such lot".to_string(),
        Some(f) => format!(
            "original {}, closed balance {}, status {}",
            f.original.map(amount).unwrap_or_else(|| "—".into()),
            f.closed_balance.map(amount).unwrap_or_else(|| "—".into()),
            f.status.as_deref().unwrap_or("—")
        ),
    };
    writeln!(out, "Lot {} ({}):", d.lot, d.account).unwrap();
    writeln!(out, "  Azure   {}", side(&d.azure)).unwrap();
    writeln!(out, "  ledger  {}", side(&d.ledger)).unwrap();
    if let Some(c) = d.closed_balance_difference {
        writeln!(out, "  Azure − ledger: closed balance {}", signed(c)).unwrap();
    }
    out.push('\n');
}

/// `ledger reconcile` as text: a summary line, then each differing invoice (with the ledger's
/// trace) and lot, then the notes.
pub fn text(r: &Reconciliation) -> String {
    let mut out = String::new();
    let span = r
        .span
        .map(|(a, b)| format!(", dated {a} .. {b}"))
        .unwrap_or_default();
    writeln!(
        out,
        "Reconciled Azure's events for {}{span} with the ledger's: {} (lot, invoice) entr{} on both sides{}.",
        r.accounts.join(", "),
        r.matched,
        if r.matched == 1 { "y" } else { "ies" },
        if r.matched_lots > 0 {
            format!(", {} lot{} on both sides", r.matched_lots, if r.matched_lots == 1 { "" } else { "s" })
        } else {
            String::new()
        }
    )
    .unwrap();
    let count = r.difference_count();
    if count == 0 {
        writeln!(out, "Everything agrees within 0.01.").unwrap();
    } else {
        writeln!(
            out,
            "{count} difference{} over 0.01:",
            if count == 1 { "" } else { "s" }
        )
        .unwrap();
    }
    out.push('\n');
    let several = r.accounts.len() > 1;
    for d in &r.invoices {
        invoice_text(&mut out, d, several);
    }
    for d in &r.lots {
        lot_text(&mut out, d);
    }
    if !r.notes.is_empty() {
        writeln!(out, "Notes:").unwrap();
        for note in &r.notes {
            writeln!(out, "  {}", note_text(note)).unwrap();
        }
    }
    out
}

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

struct PortionJson<'a>(&'a TracedPortion);

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
pub struct ReconciliationJson<'a>(pub &'a Reconciliation);

impl Serialize for ReconciliationJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("differs", &r.differs())?;
        map.serialize_entry("differences", &r.difference_count())?;
        map.serialize_entry("matched", &r.matched)?;
        map.serialize_entry("matchedLots", &r.matched_lots)?;
        map.serialize_entry("accounts", &r.accounts)?;
        map.serialize_entry("span", &r.span.map(|(a, b)| [a.to_string(), b.to_string()]))?;
        let invoices: Vec<InvoiceDifferenceJson> =
            r.invoices.iter().map(InvoiceDifferenceJson).collect();
        map.serialize_entry("invoices", &invoices)?;
        let lots: Vec<LotDifferenceJson> = r.lots.iter().map(LotDifferenceJson).collect();
        map.serialize_entry("lots", &lots)?;
        let notes: Vec<String> = r.notes.iter().map(note_text).collect();
        map.serialize_entry("notes", &notes)?;
        map.end()
    }
}
