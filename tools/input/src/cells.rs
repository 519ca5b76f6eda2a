//! What the FOCUS and Azure cost-details readers share, row by row: header matching, cell
//! values, dates, ARM ids, derived invoice ids, and the counts of what reading found
//! ([`ReadStats`]). The conventions are listed in [`crate::export`]'s documentation.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ledger_core::agreement::MAX_ID_LEN;
use ledger_core::{Date, Money};

use crate::error::InputError;
use crate::mapping::SkipReason;
use crate::records::TextRecord;

/// Distinct provider names counted one by one in [`ReadStats::skipped_providers`]; the rest
/// are counted under [`OTHER_PROVIDERS`].
pub const MAX_PROVIDER_NAMES: usize = 32;
/// The name under which providers past [`MAX_PROVIDER_NAMES`] are counted.
pub const OTHER_PROVIDERS: &str = "(other names)";

/// What reading one file found, besides its lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Data rows read (every row: lines and skipped rows).
    pub rows: u64,
    /// Rows that became charge lines.
    pub lines: u64,
    /// Rows skipped, by [`SkipReason::index`].
    pub skipped: [u64; SkipReason::COUNT],
    /// Rows of other providers by provider name (bounded, see [`MAX_PROVIDER_NAMES`]).
    pub skipped_providers: BTreeMap<String, u64>,
}

impl ReadStats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Count a skipped row; the first of each reason is logged (debug) with its line.
    pub(crate) fn skip(&mut self, reason: SkipReason, line: u64) {
        self.skipped[reason.index()] += 1;
        if self.skipped[reason.index()] == 1 {
            tracing::debug!(
                line,
                reason = reason.name(),
                "first row skipped for this reason"
            );
        } else {
            tracing::trace!(line, reason = reason.name(), "row skipped");
        }
    }

    /// Add the counts of another part of the same input.
    pub fn absorb(&mut self, other: &ReadStats) {
        self.rows += other.rows;
        self.lines += other.lines;
        for (mine, theirs) in self.skipped.iter_mut().zip(other.skipped) {
            *mine += theirs;
        }
        for (name, n) in &other.skipped_providers {
            let name = if self.skipped_providers.contains_key(name)
                || self.skipped_providers.len() < MAX_PROVIDER_NAMES
            {
                name.clone()
            } else {
                OTHER_PROVIDERS.to_string()
            };
            *self.skipped_providers.entry(name).or_insert(0) += n;
        }
    }

    pub(crate) fn skip_provider(&mut self, name: &str, line: u64) {
        self.skip(SkipReason::OtherProvider, line);
        if let Some(n) = self.skipped_providers.get_mut(name) {
            *n += 1;
        } else if self.skipped_providers.len() < MAX_PROVIDER_NAMES {
            self.skipped_providers.insert(name.to_string(), 1);
        } else {
            *self
                .skipped_providers
                .entry(OTHER_PROVIDERS.to_string())
                .or_insert(0) += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Headers.

/// A header, with each column's key: lowercase, trimmed, `Name (English)` → `english`.
pub(crate) struct Header {
    pub names: Vec<String>,
    keys: Vec<String>,
    /// The columns [`Header::find`] has named so far (a columnar reader reads only these).
    found: std::cell::RefCell<Vec<usize>>,
}

impl Header {
    pub fn new(names: Vec<String>) -> Header {
        let keys = names.iter().map(|n| key_of(n)).collect();
        Header {
            names,
            keys,
            found: Default::default(),
        }
    }

    /// Every column [`Header::find`] has returned, in order, once each.
    pub fn found(&self) -> Vec<usize> {
        let mut found = self.found.borrow().clone();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The first of `aliases` (lowercase) that names a column; an alias naming two columns is
    /// refused (the reader could not tell which to use).
    pub fn find(&self, aliases: &[&str]) -> Result<Option<usize>, String> {
        for alias in aliases {
            let mut found = self
                .keys
                .iter()
                .enumerate()
                .filter(|(_, k)| k == alias)
                .map(|(i, _)| i);
            if let Some(first) = found.next() {
                if let Some(second) = found.next() {
                    return Err(format!(
                        "columns {} ('{}') and {} ('{}') both name {alias}; keep one",
                        first + 1,
                        self.names[first],
                        second + 1,
                        self.names[second]
                    ));
                }
                self.found.borrow_mut().push(first);
                return Ok(Some(first));
            }
        }
        Ok(None)
    }

    pub fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// The header as found, shortened, for messages.
    pub fn shown(&self) -> String {
        const SHOWN: usize = 12;
        let mut text = self
            .names
            .iter()
            .take(SHOWN)
            .map(|n| if n.is_empty() { "''" } else { n.as_str() })
            .collect::<Vec<_>>()
            .join(", ");
        if self.names.len() > SHOWN {
            let _ = write!(text, ", ... ({} columns)", self.names.len());
        }
        text
    }
}

/// The key a header name matches by.
pub(crate) fn key_of(name: &str) -> String {
    let name = name.trim().trim_start_matches('\u{feff}').trim();
    // `Kategorie der Verbrauchseinheit (MeterCategory)` → `MeterCategory`.
    let inner = match (name.rfind(" ("), name.ends_with(')')) {
        (Some(open), true) => &name[open + 2..name.len() - 1],
        _ => name,
    };
    inner.trim().to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Cells, dates, ids.

/// A cell's value: trimmed; empty and the literal `NULL` (any case) are null.
#[inline]
pub(crate) fn value(text: &str) -> Option<&str> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        None
    } else {
        Some(text)
    }
}

/// The last segment of an ARM id (`/providers/Microsoft.Billing/billingAccounts/8611537` →
/// `8611537`); any other text as it is.
pub(crate) fn arm_last_segment(text: &str) -> Option<&str> {
    let trimmed = text.trim().trim_end_matches('/');
    let last = match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    if last.is_empty() {
        None
    } else {
        Some(last)
    }
}

/// A date or date-time as exports write it: the date, and whether the time (if any) is
/// midnight. `None` if it is neither.
pub(crate) fn parse_when(text: &str) -> Option<(Date, bool)> {
    let text = text.trim();
    let split = text.find(['T', ' ']).unwrap_or(text.len());
    let (date_part, time_part) = text.split_at(split);
    let date = if date_part.len() == 10 && date_part.as_bytes()[4] == b'-' {
        Date::parse(date_part).ok()?
    } else if date_part.contains('/') {
        us_date(date_part)?
    } else {
        return None;
    };
    if !(Date::MIN..=Date::MAX).contains(&date) {
        return None;
    }
    let midnight = time_of_day(time_part)?;
    Some((date, midnight))
}

/// What [`parse_when`] accepts, for messages.
pub(crate) const DATE_FORMS: &str =
    "a date like 2024-09-18, 2024-09-18T22:00:00Z, 2024-09-18 22:00:00, 09/18/2024 or 9/18/24, from 0001-01-01 to 9999-12-31";

/// `M/D/YYYY` or `M/D/YY` (20YY).
fn us_date(text: &str) -> Option<Date> {
    let mut parts = text.split('/');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let number = |s: &str, min: usize, max: usize| -> Option<u32> {
        if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let month = number(m, 1, 2)?;
    let day = number(d, 1, 2)?;
    let year = match y.len() {
        2 => 2000 + number(y, 2, 2)?,
        4 => number(y, 4, 4)?,
        _ => return None,
    };
    Date::from_ymd(year as i32, month, day)
}

/// The time after a date: empty, or `[T ]H[H]:MM[:SS[.fff]]` with an optional `Z`, offset or
/// ` AM`/` PM`. Whether it is midnight; `None` if malformed.
fn time_of_day(text: &str) -> Option<bool> {
    if text.is_empty() {
        return Some(true);
    }
    let mut t = &text[1..];
    let mut twelve_hour = None;
    for (suffix, pm) in [(" AM", false), (" PM", true), (" am", false), (" pm", true)] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest;
            twelve_hour = Some(pm);
            break;
        }
    }
    if let Some(rest) = t.strip_suffix('Z') {
        t = rest;
    } else if t.len() > 6 {
        // An offset `+HH:MM`: ASCII, so cutting before it is at a char boundary.
        let o = &t.as_bytes()[t.len() - 6..];
        if (o[0] == b'+' || o[0] == b'-')
            && o[3] == b':'
            && [o[1], o[2], o[4], o[5]].iter().all(u8::is_ascii_digit)
        {
            t = &t[..t.len() - 6];
        }
    }
    let mut fields = t.split(':');
    let hour: u32 = digits(fields.next()?, 1, 2)?;
    let minute: u32 = digits(fields.next()?, 2, 2)?;
    let (second, fraction_zero) = match fields.next() {
        None => (0, true),
        Some(s) => {
            let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
            if !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (digits(whole, 2, 2)?, fraction.bytes().all(|b| b == b'0'))
        }
    };
    if fields.next().is_some() || minute > 59 || second > 60 {
        return None;
    }
    let hour = match twelve_hour {
        None if hour <= 23 => hour,
        Some(pm) if (1..=12).contains(&hour) => (hour % 12) + if pm { 12 } else { 0 },
        _ => return None,
    };
    Some(hour == 0 && minute == 0 && second == 0 && fraction_zero)
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// One date column's last text and value: consecutive rows mostly repeat them.
#[derive(Default)]
pub(crate) struct DateCache {
    text: Vec<u8>,
    value: Option<(Date, bool)>,
}

impl DateCache {
    #[inline]
    pub fn parse(&mut self, text: &str) -> Option<(Date, bool)> {
        if let Some(value) = self.value {
            if self.text == text.as_bytes() {
                return Some(value);
            }
        }
        let value = parse_when(text)?;
        self.text.clear();
        self.text.extend_from_slice(text.as_bytes());
        self.value = Some(value);
        Some(value)
    }
}

/// The cells of one record, with what is needed to name a fault.
pub(crate) struct Cells<'r, 'a> {
    pub file: &'r Path,
    pub header: &'r Header,
    pub record: &'r TextRecord<'a>,
}

impl<'a> Cells<'_, 'a> {
    pub fn line(&self) -> u64 {
        self.record.line
    }

    /// The value of a column, `None` when the column is absent or the cell null.
    #[inline]
    pub fn get(&self, column: Option<usize>) -> Option<&'a str> {
        column.and_then(|c| value(self.record.get(c)))
    }

    /// The first non-null value among `columns`, with its column.
    #[inline]
    pub fn first(&self, columns: &[Option<usize>]) -> Option<(usize, &'a str)> {
        columns
            .iter()
            .flatten()
            .find_map(|&c| value(self.record.get(c)).map(|v| (c, v)))
    }

    #[cold]
    #[inline(never)]
    pub fn error(&self, column: usize, message: String) -> InputError {
        InputError::new(self.file, message)
            .at_line(self.record.line)
            .in_column(column + 1, self.header.names[column].clone())
    }

    #[cold]
    #[inline(never)]
    pub fn row_error(&self, message: String) -> InputError {
        InputError::new(self.file, message).at_line(self.record.line)
    }

    /// A value that must be there.
    #[inline]
    pub fn required(&self, column: usize, what: &str) -> Result<&'a str, InputError> {
        self.required_with(column, || what.to_string())
    }

    /// A value that must be there, the words for what is expected made only if it is not.
    #[inline]
    pub fn required_with(
        &self,
        column: usize,
        what: impl FnOnce() -> String,
    ) -> Result<&'a str, InputError> {
        self.get(Some(column)).ok_or_else(|| {
            let what = what();
            let found = self.record.get(column).trim();
            let found = if found.is_empty() {
                "is empty".to_string()
            } else {
                format!("is '{}'", shown(found))
            };
            self.error(column, format!("{found}; expected {what}"))
        })
    }

    /// An amount (exact decimal; `1.5E-05` accepted).
    #[inline]
    pub fn money(&self, column: usize, what: &str) -> Result<Money, InputError> {
        let text = self.required(column, what)?;
        Money::parse(text).map_err(|e| self.error(column, e.to_string()))
    }

    /// A date or date-time through a cache.
    #[inline]
    pub fn when(
        &self,
        column: usize,
        cache: &mut DateCache,
        what: &str,
    ) -> Result<(Date, bool), InputError> {
        let text = self.required(column, what)?;
        cache
            .parse(text)
            .ok_or_else(|| self.error(column, format!("'{}' is not {DATE_FORMS}", shown(text))))
    }
}

pub(crate) fn shown(text: &str) -> String {
    crate::text::clip(text, 60, 60, "")
}

/// Derive an invoice id `EA-{billing profile id}-{YYYY-MM}` into `scratch`.
pub(crate) fn derive_invoice_id(scratch: &mut String, profile_id: &str, period_start: Date) {
    scratch.clear();
    let _ = write!(
        scratch,
        "EA-{profile_id}-{:04}-{:02}",
        period_start.year(),
        period_start.month()
    );
}

/// Refuse an invoice id the ledger cannot keep.
pub(crate) fn check_invoice_id(
    cells: &Cells<'_, '_>,
    id: &str,
    column: Option<usize>,
) -> Result<(), InputError> {
    if id.len() <= MAX_ID_LEN {
        return Ok(());
    }
    let message = format!(
        "the invoice id is {} bytes long; an invoice id has at most {MAX_ID_LEN}",
        id.len()
    );
    Err(match column {
        Some(c) => cells.error(c, message),
        None => cells.row_error(message),
    })
}

/// Per-row scratch the format readers write into.
pub(crate) struct Scratch {
    /// A derived invoice id.
    pub invoice_id: String,
    pub dates: [DateCache; 3],
}

/// Which [`Scratch::dates`] entry a column uses.
pub(crate) const CHARGE_DATE: usize = 0;
pub(crate) const PERIOD_START: usize = 1;
pub(crate) const PERIOD_END: usize = 2;

/// The invoice date convention for exports: the day after the billing period's last day,
/// refused (naming `column`, the period's end, or the row) when that is past 9999-12-31.
pub(crate) fn invoice_date_after(
    cells: &Cells<'_, '_>,
    column: Option<usize>,
    period_end: Date,
) -> Result<Date, InputError> {
    period_end.checked_add_days(1).map_err(|e| {
        let message =
            format!("the invoice date would be the day after the billing period, and {e}");
        match column {
            Some(c) => cells.error(c, message),
            None => cells.row_error(message),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn dates_in_every_form_exports_use() {
        for (text, date, midnight) in [
            ("2024-09-18", "2024-09-18", true),
            ("2024-09-18T22:00:00Z", "2024-09-18", false),
            ("2024-09-18 22:00:00", "2024-09-18", false),
            ("2024-10-01 00:00:00", "2024-10-01", true),
            ("2024-01-01T00:00Z", "2024-01-01", true),
            ("2024-01-01T00:00:00.0000000Z", "2024-01-01", true),
            ("2024-01-01T00:00:00+02:00", "2024-01-01", true),
            ("09/30/2023", "2023-09-30", true),
            ("9/1/2023", "2023-09-01", true),
            ("5/1/25", "2025-05-01", true),
            ("9/1/2023 12:00:00 AM", "2023-09-01", true),
            ("9/1/2023 12:00:00 PM", "2023-09-01", false),
        ] {
            assert_eq!(parse_when(text), Some((d(date), midnight)), "{text}");
        }
        for bad in [
            "",
            "2024-13-01",
            "2023-02-01T30:00:00Z",
            "18/09/2024",
            "2024/09/18",
            "9/1/123",
            "0.05",
            "NULL",
            "2024-09-18T",
            "2024-09-18T1:2",
        ] {
            assert_eq!(parse_when(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_keys_ignore_case_spaces_bom_and_localized_names() {
        assert_eq!(key_of(" BilledCost "), "billedcost");
        assert_eq!(key_of("\u{feff}SubscriptionGuid"), "subscriptionguid");
        assert_eq!(
            key_of("Kategorie der Verbrauchseinheit (MeterCategory)"),
            "metercategory"
        );
        assert_eq!(key_of("ServiceName"), "servicename");
        let h = Header::new(vec!["Cost".into(), "cost".into(), "Date".into()]);
        assert_eq!(h.find(&["date"]), Ok(Some(2)));
        assert!(h.find(&["cost"]).unwrap_err().contains("both name cost"));
        assert_eq!(h.find(&["x", "date"]), Ok(Some(2)));
    }

    #[test]
    fn values_and_arm_ids() {
        assert_eq!(value(" NULL "), None);
        assert_eq!(value("null"), None);
        assert_eq!(value(""), None);
        assert_eq!(value(" 0.5 "), Some("0.5"));
        assert_eq!(
            arm_last_segment("/providers/Microsoft.Billing/billingAccounts/8611537"),
            Some("8611537")
        );
        assert_eq!(
            arm_last_segment("/providers/Microsoft.Billing/billingAccounts/1234/"),
            Some("1234")
        );
        assert_eq!(arm_last_segment("12345"), Some("12345"));
        assert_eq!(arm_last_segment("/"), None);
    }

    #[test]
    fn derived_invoice_ids() {
        let mut s = String::from("old");
        derive_invoice_id(&mut s, "8611537", d("2023-09-01"));
        assert_eq!(s, "EA-8611537-2023-09");
    }
}
