//! R-IDEM-2 explained: when an invoice settled before comes again with other content, name the
//! first thing that differs (the invoice's date, period or currency, or its first differing
//! line, with the file line it was read from) instead of two summaries that may look alike.

use std::path::Path;

use ledger_core::fact::{ChargeLine, Invoice};
use ledger_core::Fact;
use ledger_input::NativeReader;
use ledger_store::{ReadOptions, Store};

/// The first difference between an invoice as settled and as it comes now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The 1-based position of the first differing line among the invoice's lines (input
    /// order), or `None` when the invoice's own fields differ.
    pub position: Option<usize>,
    /// What differs, as settled and as it comes now.
    pub was: String,
    pub now: String,
}

impl Difference {
    /// `its line 2 differs: settled as …, now …`.
    pub fn describe(&self) -> String {
        let what = match self.position {
            Some(k) => format!("its line {k} differs"),
            None => "it differs".to_string(),
        };
        format!("{what}: settled as {}, now {}", self.was, self.now)
    }
}

fn header(inv: &Invoice) -> String {
    format!(
        "dated {}, period {}..{}, in {}",
        inv.date, inv.period_start, inv.period_end, inv.currency
    )
}

fn line_text(inv: &Invoice, line: &ChargeLine) -> String {
    let mut text = format!(
        "{} {} {} (billing profile {}",
        line.charge_date,
        line.kind,
        line.amount.to_plain_string(),
        inv.profile_name(line)
    );
    for (name, value) in [
        ("line id", inv.str(line.line_id)),
        ("service", inv.str(line.service)),
        ("publisher", inv.str(line.publisher)),
        ("description", inv.str(line.description)),
        ("corrects", inv.str(line.corrects)),
    ] {
        if let Some(v) = value {
            text.push_str(&format!(", {name} {v}"));
        }
    }
    if let Some(kind) = line.corrects_kind {
        text.push_str(&format!(", corrects kind {kind}"));
    }
    text.push(')');
    text
}

fn lines(n: usize) -> String {
    if n == 1 {
        "1 line".to_string()
    } else {
        format!("{n} lines")
    }
}

/// The first difference between `was` and `now`, or `None` if they read the same.
pub fn first_difference(was: &Invoice, now: &Invoice) -> Option<Difference> {
    let (a, b) = (header(was), header(now));
    if a != b {
        return Some(Difference {
            position: None,
            was: a,
            now: b,
        });
    }
    let count = was.lines.len().max(now.lines.len());
    (0..count).find_map(|i| {
        let text = |inv: &Invoice| match inv.lines.get(i) {
            Some(line) => line_text(inv, line),
            None => format!("no line {} (it has {})", i + 1, lines(inv.lines.len())),
        };
        let (a, b) = (text(was), text(now));
        (a != b).then_some(Difference {
            position: Some(i + 1),
            was: a,
            now: b,
        })
    })
}

/// The invoice `now.id` of `now.account` as recorded in `store`, if it is there.
pub fn settled_invoice(store: &Store, now: &Invoice) -> Option<Invoice> {
    store
        .reader(ReadOptions::default())
        .map_while(Result::ok)
        .find_map(|entry| match entry.fact {
            Fact::Invoice(inv) if inv.id == now.id && inv.account == now.account => Some(inv),
            _ => None,
        })
}

/// The file line of the `position`-th line of invoice `invoice` (of `account`) in a native
/// CSV file; `None` when it cannot be told.
pub fn native_file_line(file: &Path, invoice: &str, account: &str, position: usize) -> Option<u64> {
    let mut reader = NativeReader::open(file).ok()?;
    let mut seen = 0;
    while let Some(row) = reader.next_row() {
        let row = row.ok()?;
        if row.invoice_id == invoice && row.account.is_none_or(|a| a == account) {
            seen += 1;
            if seen == position {
                return Some(row.line);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::fact::StrRef;
    use ledger_core::{ChargeKind, Date, Money};

    fn invoice(lines: &[(&str, &str)]) -> Invoice {
        Invoice {
            account: "a".into(),
            id: "INV-1".into(),
            date: Date::parse("2025-02-05").unwrap(),
            period_start: Date::parse("2025-01-01").unwrap(),
            period_end: Date::parse("2025-01-31").unwrap(),
            currency: "USD".into(),
            content_hash: [0; 32],
            profiles: vec!["Fin".into()],
            strings: Vec::new(),
            lines: lines
                .iter()
                .map(|(date, amount)| ChargeLine {
                    amount: Money::parse(amount).unwrap(),
                    charge_date: Date::parse(date).unwrap(),
                    kind: ChargeKind::Usage,
                    profile: 0,
                    corrects_kind: None,
                    line_id: StrRef::NONE,
                    service: StrRef::NONE,
                    publisher: StrRef::NONE,
                    description: StrRef::NONE,
                    corrects: StrRef::NONE,
                })
                .collect(),
        }
    }

    #[test]
    fn names_the_first_line_that_differs_even_when_the_totals_agree() {
        // Same line count, total and date: the summaries the refusal used to print were equal.
        let was = invoice(&[
            ("2025-01-10", "10"),
            ("2025-01-11", "20"),
            ("2025-01-12", "30"),
        ]);
        let now = invoice(&[
            ("2025-01-10", "10"),
            ("2025-01-12", "20"),
            ("2025-01-11", "30"),
        ]);
        let d = first_difference(&was, &now).unwrap();
        assert_eq!(d.position, Some(2));
        assert_eq!(
            d.describe(),
            "its line 2 differs: settled as 2025-01-11 usage 20 (billing profile Fin), now 2025-01-12 usage 20 (billing profile Fin)"
        );
        assert_eq!(first_difference(&was, &was.clone()), None);
    }

    #[test]
    fn names_a_missing_line_and_a_changed_date() {
        let was = invoice(&[("2025-01-10", "10")]);
        let now = invoice(&[("2025-01-10", "10"), ("2025-01-11", "0")]);
        let d = first_difference(&was, &now).unwrap();
        assert_eq!(d.position, Some(2));
        assert!(d.was.starts_with("no line 2 (it has 1 line)"), "{}", d.was);
        let mut later = was.clone();
        later.date = Date::parse("2025-02-06").unwrap();
        let d = first_difference(&was, &later).unwrap();
        assert_eq!(d.position, None);
        assert!(d
            .describe()
            .starts_with("it differs: settled as dated 2025-02-05"));
    }
}
