//! The canonical order of an export invoice: the same rows in any order, split over any
//! number of parts, build the same invoice, byte for byte.
//!
//! Exports (FOCUS, Azure cost details) arrive as parts in any order with rows in any order,
//! so their order carries no meaning. An invoice built from them is put in an order of its
//! content: billing profiles by name; lines by (charge date, billing profile, kind, corrected
//! kind, amount, line id, service, publisher, description, corrected lot); the string table in
//! order of first reference. Two lines that compare equal are equal in every field, so which
//! of them came first cannot matter. A purchase that opens a lot (`prepayment_purchase`) and
//! has no line id gets its lot id from a digest of its content (`{invoice}/{16 hex digits}`,
//! `-2`, `-3`, … for identical lines), not from its position, so other lines of the invoice
//! do not move it. Native CSV is not reordered (RULES.md fine point 1).
//!
//! Memory: one invoice at a time, the lines the settlement holds anyway.

use std::cmp::Ordering;

use indexmap::IndexSet;
use ledger_core::{ChargeKind, ChargeLine, Invoice, StrRef};

/// `invoice` in its canonical order, with content-derived lot ids for purchases without one.
pub fn canonical(mut invoice: Invoice) -> Invoice {
    sort_profiles(&mut invoice);
    let strings = std::mem::take(&mut invoice.strings);
    let text = |r: StrRef| r.index().and_then(|i| strings.get(i)).map(String::as_str);
    let profiles = &invoice.profiles;
    let mut lines = std::mem::take(&mut invoice.lines);
    lines.sort_by(|a, b| compare(a, b, &text));
    // Before any line's references move to the new table below.
    let same_as_before: Vec<bool> = (0..lines.len())
        .map(|i| i > 0 && compare(&lines[i - 1], &lines[i], &text) == Ordering::Equal)
        .collect();
    let mut table = Table::default();
    let mut repeats = 0u32;
    for i in 0..lines.len() {
        repeats = if same_as_before[i] { repeats + 1 } else { 1 };
        let line = &mut lines[i];
        let lot_id = opens_lot_without_id(line).then(|| {
            let digest = content_digest(line, &profiles[line.profile as usize], &text);
            match repeats {
                1 => format!("{}/{digest}", invoice.id),
                n => format!("{}/{digest}-{n}", invoice.id),
            }
        });
        line.line_id = match lot_id {
            Some(id) => table.intern(Some(&id)),
            None => table.intern(text(line.line_id)),
        };
        line.service = table.intern(text(line.service));
        line.publisher = table.intern(text(line.publisher));
        line.description = table.intern(text(line.description));
        line.corrects = table.intern(text(line.corrects));
    }
    invoice.lines = lines;
    invoice.strings = table.strings.into_iter().collect();
    invoice
}

/// Whether `recorded` (an invoice as the log holds it) has the content of `now` (an export
/// invoice in canonical order) in another order: the same invoice recorded before exports were
/// put in canonical order (file order, lot ids by position) is a repeat (R-IDEM-1), not a
/// conflict.
pub fn same_content_in_another_order(recorded: &Invoice, now: &Invoice) -> bool {
    if recorded.lines.len() != now.lines.len() || recorded.id != now.id {
        return false;
    }
    let mut recorded = canonical(recorded.clone());
    recorded.content_hash = now.content_hash;
    recorded == *now
}

/// Billing profiles sorted by name, the lines' indexes moved with them.
fn sort_profiles(invoice: &mut Invoice) {
    let mut order: Vec<usize> = (0..invoice.profiles.len()).collect();
    order.sort_by(|&a, &b| invoice.profiles[a].cmp(&invoice.profiles[b]));
    let mut moved_to = vec![0u16; order.len()];
    for (new, &old) in order.iter().enumerate() {
        moved_to[old] = new as u16;
    }
    invoice.profiles = order
        .iter()
        .map(|&old| invoice.profiles[old].clone())
        .collect();
    for line in &mut invoice.lines {
        line.profile = moved_to[line.profile as usize];
    }
}

/// The canonical order of two lines of one invoice (profiles already sorted by name).
fn compare<'s>(
    a: &ChargeLine,
    b: &ChargeLine,
    text: &impl Fn(StrRef) -> Option<&'s str>,
) -> Ordering {
    let kind = |k: Option<ChargeKind>| k.map(|k| k.index());
    a.charge_date
        .cmp(&b.charge_date)
        .then(a.profile.cmp(&b.profile))
        .then(a.kind.index().cmp(&b.kind.index()))
        .then(kind(a.corrects_kind).cmp(&kind(b.corrects_kind)))
        .then(a.amount.units().cmp(&b.amount.units()))
        .then_with(|| text(a.line_id).cmp(&text(b.line_id)))
        .then_with(|| text(a.service).cmp(&text(b.service)))
        .then_with(|| text(a.publisher).cmp(&text(b.publisher)))
        .then_with(|| text(a.description).cmp(&text(b.description)))
        .then_with(|| text(a.corrects).cmp(&text(b.corrects)))
}

/// A line that opens a credit lot (a positive prepayment purchase) and names no line id.
fn opens_lot_without_id(line: &ChargeLine) -> bool {
    line.kind == ChargeKind::PrepaymentPurchase
        && line.amount.is_positive()
        && line.line_id.index().is_none()
}

/// 16 hex digits of the blake3 digest of a line's content (every field but the line id).
fn content_digest<'s>(
    line: &ChargeLine,
    profile: &str,
    text: &impl Fn(StrRef) -> Option<&'s str>,
) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"ledger purchase line v1\0");
    hasher.update(&line.charge_date.day_number().to_le_bytes());
    hasher.update(&line.amount.units().to_le_bytes());
    hasher.update(&[line.kind.index() as u8]);
    hasher.update(&[line
        .corrects_kind
        .map(|k| k.index() as u8)
        .unwrap_or(u8::MAX)]);
    let mut field = |s: Option<&str>| match s {
        None => {
            hasher.update(&[0]);
        }
        Some(s) => {
            hasher.update(&[1]);
            hasher.update(&(s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
    };
    field(Some(profile));
    for r in [
        line.service,
        line.publisher,
        line.description,
        line.corrects,
    ] {
        field(text(r));
    }
    let digest = hasher.finalize();
    digest.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The rebuilt string table, in order of first reference.
#[derive(Default)]
struct Table {
    strings: IndexSet<String>,
}

impl Table {
    fn intern(&mut self, s: Option<&str>) -> StrRef {
        match s {
            None => StrRef::NONE,
            Some(s) => match self.strings.get_index_of(s) {
                Some(i) => StrRef::new(i as u32),
                None => {
                    self.strings.insert(s.to_string());
                    StrRef::new((self.strings.len() - 1) as u32)
                }
            },
        }
    }
}
