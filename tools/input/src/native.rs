//! The native charge-line CSV (INTERFACE.md, "Native charge-line CSV"), read as a stream.
//!
//! Records come from [`RecordReader`] (line and comma search over one reused buffer, quoted
//! records through `csv_core`); each record's UTF-8 is checked once; dates, amounts and kinds
//! are parsed from the fields in place, and [`NativeReader::next_row`] lends a [`Row`] whose
//! strings borrow the buffer, so the hot path allocates nothing. The [`Iterator`] impl returns owned
//! [`RawRow`]s for callers that want to keep rows.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use ledger_core::agreement::MAX_ID_LEN;
use ledger_core::{ChargeKind, Date, Money};

use super::error::InputError;
use super::records::{Opened, RecordReader, TextRecord, TextSource};

/// One CSV data row, validated. Owned; see [`Row`] for the borrowed form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based line in the file where the row starts (the header is line 1).
    pub line: u64,
    pub account: Option<String>,
    pub invoice_id: String,
    pub invoice_date: Date,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub billing_profile: String,
    pub charge_date: Date,
    pub kind: ChargeKind,
    pub amount: Money,
    pub currency: String,
    pub line_id: Option<String>,
    pub service: Option<String>,
    pub publisher: Option<String>,
    pub description: Option<String>,
    /// The lot a refund restores (R-ADJ).
    pub corrects: Option<String>,
    /// The kind of charge a refund corrects (R-ADJ; `None` means the default, `usage`).
    pub corrects_kind: Option<ChargeKind>,
}

/// One CSV data row, validated, borrowing its strings from the reader's record buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    pub line: u64,
    pub account: Option<&'a str>,
    pub invoice_id: &'a str,
    pub invoice_date: Date,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub billing_profile: &'a str,
    pub charge_date: Date,
    pub kind: ChargeKind,
    pub amount: Money,
    pub currency: &'a str,
    pub line_id: Option<&'a str>,
    pub service: Option<&'a str>,
    pub publisher: Option<&'a str>,
    pub description: Option<&'a str>,
    pub corrects: Option<&'a str>,
    pub corrects_kind: Option<ChargeKind>,
}

impl Row<'_> {
    pub fn to_raw(&self) -> RawRow {
        let own = |s: Option<&str>| s.map(str::to_string);
        RawRow {
            line: self.line,
            account: own(self.account),
            invoice_id: self.invoice_id.to_string(),
            invoice_date: self.invoice_date,
            period_start: self.period_start,
            period_end: self.period_end,
            billing_profile: self.billing_profile.to_string(),
            charge_date: self.charge_date,
            kind: self.kind,
            amount: self.amount,
            currency: self.currency.to_string(),
            line_id: own(self.line_id),
            service: own(self.service),
            publisher: own(self.publisher),
            description: own(self.description),
            corrects: own(self.corrects),
            corrects_kind: self.corrects_kind,
        }
    }
}

impl RawRow {
    pub fn as_row(&self) -> Row<'_> {
        Row {
            line: self.line,
            account: self.account.as_deref(),
            invoice_id: &self.invoice_id,
            invoice_date: self.invoice_date,
            period_start: self.period_start,
            period_end: self.period_end,
            billing_profile: &self.billing_profile,
            charge_date: self.charge_date,
            kind: self.kind,
            amount: self.amount,
            currency: &self.currency,
            line_id: self.line_id.as_deref(),
            service: self.service.as_deref(),
            publisher: self.publisher.as_deref(),
            description: self.description.as_deref(),
            corrects: self.corrects.as_deref(),
            corrects_kind: self.corrects_kind,
        }
    }
}

/// The columns every native file must have.
pub const REQUIRED_COLUMNS: [&str; 7] = [
    "invoice_id",
    "invoice_date",
    "billing_profile",
    "charge_date",
    "kind",
    "amount",
    "currency",
];
/// The columns a native file may have; any other column is ignored.
pub const OPTIONAL_COLUMNS: [&str; 9] = [
    "period_start",
    "period_end",
    "account",
    "line_id",
    "service",
    "publisher",
    "description",
    "corrects",
    "corrects_kind",
];

/// Where each known column is in the file (0-based).
#[derive(Clone, Copy, Debug)]
struct ColumnMap {
    invoice_id: usize,
    invoice_date: usize,
    billing_profile: usize,
    charge_date: usize,
    kind: usize,
    amount: usize,
    currency: usize,
    period_start: Option<usize>,
    period_end: Option<usize>,
    account: Option<usize>,
    line_id: Option<usize>,
    service: Option<usize>,
    publisher: Option<usize>,
    description: Option<usize>,
    corrects: Option<usize>,
    corrects_kind: Option<usize>,
}

/// A streaming reader of one native CSV file.
pub struct NativeReader {
    file: PathBuf,
    records: RecordReader<TextSource>,
    /// For a gzip file, the compressed bytes read (progress).
    compressed: Option<Arc<AtomicU64>>,
    columns: Vec<String>,
    map: ColumnMap,
    /// The last text and value of each date column: consecutive rows mostly repeat them.
    date_cache: [DateCache; 4],
    bom_bytes: u64,
    /// Set after an error the reader cannot continue past (I/O).
    stopped: bool,
}

impl NativeReader {
    /// Open `path` and read its header.
    pub fn open(path: &Path) -> Result<NativeReader, InputError> {
        let Opened {
            source,
            bom_bytes,
            compressed,
        } = super::records::open_skipping_bom(path)?;
        let mut records = RecordReader::new(source);
        let expected = format!(
            "expected a header line naming the columns: {}",
            REQUIRED_COLUMNS.join(", ")
        );
        match records.advance() {
            Ok(true) => {}
            Ok(false) => return Err(InputError::new(path, format!("is empty; {expected}"))),
            Err(e) => return Err(InputError::io(path, "cannot read", &e).at_line(records.line())),
        }
        let header = records.record();
        let header_line = header.line;
        let header = header.to_text().map_err(|(i, _)| {
            InputError::new(
                path,
                format!(
                    "column {} of the header is not valid UTF-8; {expected}",
                    i + 1
                ),
            )
            .at_line(header_line)
        })?;
        let mut columns: Vec<String> = Vec::with_capacity(header.len());
        for i in 0..header.len() {
            let name = header.get(i).trim().to_string();
            if !name.is_empty() {
                if let Some(j) = columns.iter().position(|c| *c == name) {
                    return Err(InputError::new(
                        path,
                        format!(
                            "column '{name}' appears twice in the header (columns {} and {})",
                            j + 1,
                            i + 1
                        ),
                    )
                    .at_line(header_line)
                    .in_column(i + 1, name));
                }
            }
            columns.push(name);
        }
        let find = |name: &str| columns.iter().position(|c| c == name);
        let mut required = [0usize; REQUIRED_COLUMNS.len()];
        for (slot, name) in required.iter_mut().zip(REQUIRED_COLUMNS) {
            *slot = find(name).ok_or_else(|| {
                InputError::new(
                    path,
                    format!(
                        "missing column '{name}': the header has {}; a native file needs {}",
                        list_or_nothing(&columns),
                        REQUIRED_COLUMNS.join(", ")
                    ),
                )
                .at_line(header_line)
            })?;
        }
        let map = ColumnMap {
            invoice_id: required[0],
            invoice_date: required[1],
            billing_profile: required[2],
            charge_date: required[3],
            kind: required[4],
            amount: required[5],
            currency: required[6],
            period_start: find("period_start"),
            period_end: find("period_end"),
            account: find("account"),
            line_id: find("line_id"),
            service: find("service"),
            publisher: find("publisher"),
            description: find("description"),
            corrects: find("corrects"),
            corrects_kind: find("corrects_kind"),
        };
        Ok(NativeReader {
            file: path.to_path_buf(),
            records,
            columns,
            map,
            date_cache: [DateCache::default(); 4],
            bom_bytes,
            compressed,
            stopped: false,
        })
    }

    /// The header's column names, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file as named when opened.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Bytes of the file consumed so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        Opened::file_position(&self.compressed, self.records.position() + self.bom_bytes)
    }

    /// The next row, validated, borrowing the reader's buffer; `None` at the end of the file.
    /// After an error in one row the next call reads the following row; after an I/O error
    /// the reader stops.
    #[allow(clippy::should_implement_trait)] // a lending iterator: Row borrows the reader
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, InputError>> {
        if self.stopped {
            return None;
        }
        match self.records.advance() {
            Ok(true) => {}
            Ok(false) => {
                self.stopped = true;
                return None;
            }
            Err(e) => {
                self.stopped = true;
                return Some(Err(
                    InputError::io(&self.file, "cannot read", &e).at_line(self.records.line())
                ));
            }
        }
        let record = self.records.record();
        let line = record.line;
        let record = match record.to_text() {
            Ok(record) => record,
            Err((column, valid_up_to)) => {
                let message =
                    format!("is not valid UTF-8 text (invalid byte after {valid_up_to} bytes)");
                let error = InputError::new(&self.file, message).at_line(line);
                return Some(Err(match self.columns.get(column) {
                    Some(name) => error.in_column(column + 1, name.clone()),
                    None => error,
                }));
            }
        };
        let mut fields = Fields {
            file: &self.file,
            columns: &self.columns,
            record,
            dates: &mut self.date_cache,
        };
        Some(fields.row(&self.map))
    }
}

impl Iterator for NativeReader {
    type Item = Result<RawRow, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().map(|row| row.map(|r| r.to_raw()))
    }
}

fn list_or_nothing(columns: &[String]) -> String {
    if columns.iter().all(|c| c.is_empty()) {
        "no column names".to_string()
    } else {
        columns
            .iter()
            .map(|c| if c.is_empty() { "''" } else { c.as_str() })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The last text of a date column and its value.
#[derive(Clone, Copy, Default)]
struct DateCache {
    text: [u8; 10],
    date: Option<Date>,
}

/// Which [`DateCache`] a date column uses.
const INVOICE_DATE: usize = 0;
const CHARGE_DATE: usize = 1;
const PERIOD_START: usize = 2;
const PERIOD_END: usize = 3;

/// The fields of one record, with what is needed to name a fault.
struct Fields<'a> {
    file: &'a Path,
    columns: &'a [String],
    record: TextRecord<'a>,
    dates: &'a mut [DateCache; 4],
}

impl<'a> Fields<'a> {
    #[cold]
    #[inline(never)]
    fn error(&self, column: usize, message: String) -> InputError {
        InputError::new(self.file, message)
            .at_line(self.record.line)
            .in_column(column + 1, self.columns[column].clone())
    }

    #[inline]
    fn text(&self, column: usize) -> Result<&'a str, InputError> {
        Ok(self.record.get(column))
    }

    /// A required text: present and not empty.
    #[inline]
    fn required(&self, column: usize, what: &str) -> Result<&'a str, InputError> {
        let text = self.text(column)?;
        if text.is_empty() {
            return Err(self.error(column, format!("is empty; expected {what}")));
        }
        Ok(text)
    }

    /// An optional text: `None` when the column is absent or the field empty.
    #[inline]
    fn optional(&self, column: Option<usize>) -> Result<Option<&'a str>, InputError> {
        match column {
            None => Ok(None),
            Some(c) => {
                let text = self.text(c)?;
                Ok(if text.is_empty() { None } else { Some(text) })
            }
        }
    }

    /// `text` as a date, through the column's one-entry cache.
    #[inline]
    fn parse_date(&mut self, column: usize, cache: usize, text: &str) -> Result<Date, InputError> {
        let entry = &mut self.dates[cache];
        if let Some(date) = entry.date {
            if text.as_bytes() == entry.text {
                return Ok(date);
            }
        }
        let date = Date::parse(text).map_err(|e| self.error(column, e.to_string()))?;
        // Date::parse accepts exactly ten bytes.
        let entry = &mut self.dates[cache];
        entry.text.copy_from_slice(text.as_bytes());
        entry.date = Some(date);
        Ok(date)
    }

    #[inline]
    fn date(&mut self, column: usize, cache: usize) -> Result<Date, InputError> {
        let text = self.text(column)?;
        self.parse_date(column, cache, text)
    }

    #[inline]
    fn optional_date(
        &mut self,
        column: Option<usize>,
        cache: usize,
    ) -> Result<Option<Date>, InputError> {
        match (column, self.optional(column)?) {
            (Some(column), Some(text)) => self.parse_date(column, cache, text).map(Some),
            _ => Ok(None),
        }
    }

    #[inline]
    fn kind(&self, column: usize) -> Result<ChargeKind, InputError> {
        let text = self.text(column)?;
        parse_kind(text).ok_or_else(|| {
            self.error(
                column,
                format!(
                    "'{}' is not a charge kind (expected one of: {})",
                    shown(text),
                    ChargeKind::expected_list()
                ),
            )
        })
    }

    fn row(&mut self, map: &ColumnMap) -> Result<Row<'a>, InputError> {
        if self.record.len() != self.columns.len() {
            return Err(InputError::new(
                self.file,
                format!(
                    "has {} fields but the header has {} (a field containing a comma must be quoted)",
                    self.record.len(),
                    self.columns.len()
                ),
            )
            .at_line(self.record.line));
        }
        let invoice_id = self.required(map.invoice_id, "an invoice id")?;
        if invoice_id.len() > MAX_ID_LEN {
            return Err(self.error(
                map.invoice_id,
                format!(
                    "is {} bytes long; an invoice id has at most {MAX_ID_LEN}",
                    invoice_id.len()
                ),
            ));
        }
        let invoice_date = self.date(map.invoice_date, INVOICE_DATE)?;
        let period_start = self.optional_date(map.period_start, PERIOD_START)?;
        let period_end = self.optional_date(map.period_end, PERIOD_END)?;
        match (period_start, period_end) {
            (Some(start), Some(end)) if start > end => {
                let column = map.period_end.unwrap_or_default();
                return Err(self.error(column, format!("{end} is before period_start {start} (expected period_start <= period_end)")));
            }
            (Some(_), None) => {
                let column = map.period_start.unwrap_or_default();
                return Err(self.error(
                    column,
                    "is given without period_end; give both or neither".to_string(),
                ));
            }
            (None, Some(_)) => {
                let column = map.period_end.unwrap_or_default();
                return Err(self.error(
                    column,
                    "is given without period_start; give both or neither".to_string(),
                ));
            }
            _ => {}
        }
        let billing_profile = self.required(map.billing_profile, "a billing profile name")?;
        let charge_date = self.date(map.charge_date, CHARGE_DATE)?;
        let kind = self.kind(map.kind)?;
        let amount_text = self.text(map.amount)?;
        if amount_text.bytes().any(|b| b | 0x20 == b'e') {
            return Err(self.error(map.amount, format!("'{}' has an exponent; the ledger's CSV takes plain decimal amounts (digits with an optional '.' and sign, like 1234.56)", shown(amount_text))));
        }
        let amount =
            Money::parse(amount_text).map_err(|e| self.error(map.amount, e.to_string()))?;
        if kind == ChargeKind::Refund {
            if !amount.is_negative() {
                return Err(self.error(
                    map.amount,
                    format!(
                        "'{}' is not negative; a refund line has a negative amount",
                        shown(amount_text)
                    ),
                ));
            }
        } else if amount.is_negative() {
            return Err(self.error(
                map.amount,
                format!("'{}' is negative for kind {kind}; only refund lines may be negative (expected zero or more)", shown(amount_text)),
            ));
        }
        let currency = self.required(map.currency, "a currency code such as USD")?;
        let corrects_kind = match map.corrects_kind {
            Some(column) => {
                match self.optional(Some(column))? {
                    None => None,
                    Some(text) => {
                        let corrected = parse_kind(text).ok_or_else(|| {
                            self.error(
                                column,
                                format!(
                                    "'{}' is not a charge kind (expected one of: {})",
                                    shown(text),
                                    ChargeKind::expected_list()
                                ),
                            )
                        })?;
                        if kind != ChargeKind::Refund {
                            return Err(self.error(column, format!("is given on a {kind} line; only refund lines name the kind they correct")));
                        }
                        if corrected == ChargeKind::Refund {
                            return Err(self.error(column, "is refund; a refund corrects a charge of another kind (default usage)".to_string()));
                        }
                        Some(corrected)
                    }
                }
            }
            None => None,
        };
        Ok(Row {
            line: self.record.line,
            account: self.optional(map.account)?,
            invoice_id,
            invoice_date,
            period_start,
            period_end,
            billing_profile,
            charge_date,
            kind,
            amount,
            currency,
            line_id: self.optional(map.line_id)?,
            service: self.optional(map.service)?,
            publisher: self.optional(map.publisher)?,
            description: self.optional(map.description)?,
            corrects: self.optional(map.corrects)?,
            corrects_kind,
        })
    }
}

/// `usage` first: it is most lines.
#[inline]
fn parse_kind(text: &str) -> Option<ChargeKind> {
    if text == "usage" {
        Some(ChargeKind::Usage)
    } else {
        ChargeKind::parse(text)
    }
}

fn shown(text: &str) -> String {
    crate::text::clip(text, 40, 40, "")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;

    /// Write `text` as `charges.csv` in a fresh directory.
    pub(crate) fn csv_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        fs::write(&path, text).unwrap();
        (dir, path)
    }

    /// The error's display with the temporary directory removed.
    pub(crate) fn shown_error(dir: &tempfile::TempDir, e: &InputError) -> String {
        e.to_string()
            .replace(&format!("{}/", dir.path().display()), "")
    }

    /// Read every row of `text`; the rows, or the first error as displayed.
    fn read(text: &str) -> Result<Vec<RawRow>, String> {
        let (dir, path) = csv_file(text);
        let reader = NativeReader::open(&path).map_err(|e| shown_error(&dir, &e))?;
        reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| shown_error(&dir, &e))
    }

    fn check_refused(text: &str, expected: &str) {
        match read(text) {
            Ok(rows) => panic!("accepted {} rows, expected {expected:?}", rows.len()),
            Err(message) => assert_eq!(message, expected),
        }
    }

    const HEADER: &str =
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn reads_required_and_optional_columns_in_any_order() {
        let text = "currency,amount,kind,charge_date,billing_profile,invoice_date,invoice_id,extra,service,line_id,period_start,period_end,account\n\
                    USD,12.50,usage,2025-01-31,Eng,2025-02-05,INV-1,x,VMs,,2025-01-01,2025-01-31,contoso\n\
                    USD,-1,refund,2025-01-31,Eng,2025-02-05,INV-1,,,L2,,,\n";
        let rows = read(text).unwrap();
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r.line, 2);
        assert_eq!(
            (r.invoice_id.as_str(), r.invoice_date, r.charge_date),
            ("INV-1", d("2025-02-05"), d("2025-01-31"))
        );
        assert_eq!(
            (r.kind, r.amount, r.currency.as_str()),
            (ChargeKind::Usage, Money::parse("12.5").unwrap(), "USD")
        );
        assert_eq!(
            (
                r.service.as_deref(),
                r.line_id.as_deref(),
                r.account.as_deref()
            ),
            (Some("VMs"), None, Some("contoso"))
        );
        assert_eq!(
            (r.period_start, r.period_end),
            (Some(d("2025-01-01")), Some(d("2025-01-31")))
        );
        let r = &rows[1];
        assert_eq!(
            (
                r.line,
                r.kind,
                r.line_id.as_deref(),
                r.service.as_deref(),
                r.account.as_deref()
            ),
            (3, ChargeKind::Refund, Some("L2"), None, None)
        );
        assert_eq!((r.period_start, r.corrects_kind), (None, None));
    }

    #[test]
    fn a_bom_before_the_header_is_tolerated_and_quoted_fields_keep_lines() {
        let text = format!("\u{feff}{HEADER}INV-1,2025-02-05,\"Eng, Ops\",2025-01-31,usage,1,USD\n\nINV-1,2025-02-05,\"multi\nline\",2025-01-31,usage,2,USD\nINV-1,2025-02-05,Eng,2025-01-31,usage,3,USD\n");
        let (_dir, path) = csv_file(&text);
        let mut reader = NativeReader::open(&path).unwrap();
        assert_eq!(reader.columns()[0], "invoice_id");
        let rows: Vec<RawRow> = reader.by_ref().map(|r| r.unwrap()).collect();
        assert_eq!(
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 4, 6]
        );
        assert_eq!(rows[0].billing_profile, "Eng, Ops");
        assert_eq!(rows[1].billing_profile, "multi\nline");
        assert_eq!(reader.bytes_read(), text.len() as u64);
    }

    #[test]
    fn refused_rows_name_line_column_found_and_expected() {
        let row = |fields: &str| {
            format!("{HEADER}INV-1,2025-02-05,Eng,2025-01-31,usage,1,USD\n{fields}\n")
        };
        check_refused(
            &row("INV-1,2025-02-05,Eng,2025-01-31,usage,\"12,50\",USD"),
            "charges.csv:3: column 6 (amount): '12,50' is not a decimal amount (expected digits with an optional '.' and sign, like 1234.56)",
        );
        // Issue 11 pt 14: exponents are for exports; the ledger's own CSV is plain decimals.
        for exponent in ["1e3", "1E3", "-1.5e-2", "2.5E+1"] {
            check_refused(
                &row(&format!("INV-1,2025-02-05,Eng,2025-01-31,usage,{exponent},USD")),
                &format!("charges.csv:3: column 6 (amount): '{exponent}' has an exponent; the ledger's CSV takes plain decimal amounts (digits with an optional '.' and sign, like 1234.56)"),
            );
        }
        check_refused(
            &row("INV-1,2025-02-05,Eng,2025-01-31,usage,,USD"),
            "charges.csv:3: column 6 (amount): an empty value where an amount was expected",
        );
        check_refused(
            &row("INV-1,2025-02-30,Eng,2025-01-31,usage,1,USD"),
            "charges.csv:3: column 2 (invoice_date): '2025-02-30' is not a date (expected YYYY-MM-DD, a real calendar day from 0001-01-01 to 9999-12-31)",
        );
        check_refused(
            &row("INV-1,2025-02-05,Eng,31/01/2025,usage,1,USD"),
            "charges.csv:3: column 4 (charge_date): '31/01/2025' is not a date (expected YYYY-MM-DD, a real calendar day from 0001-01-01 to 9999-12-31)",
        );
        check_refused(
            &row("INV-1,2025-02-05,Eng,2025-01-31,Usage,1,USD"),
            "charges.csv:3: column 5 (kind): 'Usage' is not a charge kind (expected one of: usage, reservation_purchase, reservation_usage, prepayment_purchase, marketplace_eligible, marketplace, support, tax, macc_shortfall_purchase, milestone_shortfall_purchase, refund)",
        );
        check_refused(
            &row("INV-1,2025-02-05,Eng,2025-01-31,support,-3.5,USD"),
            "charges.csv:3: column 6 (amount): '-3.5' is negative for kind support; only refund lines may be negative (expected zero or more)",
        );
        check_refused(&row("INV-1,2025-02-05,Eng,2025-01-31,refund,3.5,USD"), "charges.csv:3: column 6 (amount): '3.5' is not negative; a refund line has a negative amount");
        check_refused(
            &row(",2025-02-05,Eng,2025-01-31,usage,1,USD"),
            "charges.csv:3: column 1 (invoice_id): is empty; expected an invoice id",
        );
        check_refused(
            &row("INV-1,2025-02-05,,2025-01-31,usage,1,USD"),
            "charges.csv:3: column 3 (billing_profile): is empty; expected a billing profile name",
        );
        check_refused(&row("INV-1,2025-02-05,Eng,2025-01-31,usage,1"), "charges.csv:3: has 6 fields but the header has 7 (a field containing a comma must be quoted)");
        check_refused(&row("INV-1,2025-02-05,Eng,2025-01-31,usage,1,USD,x"), "charges.csv:3: has 8 fields but the header has 7 (a field containing a comma must be quoted)");
    }

    #[test]
    fn periods_and_corrected_kinds_are_checked() {
        let header = "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency,corrects,corrects_kind\n";
        let row = |fields: &str| format!("{header}{fields}\n");
        check_refused(
            &row("I,2025-02-05,2025-02-01,2025-01-01,E,2025-01-31,usage,1,USD,,"),
            "charges.csv:2: column 4 (period_end): 2025-01-01 is before period_start 2025-02-01 (expected period_start <= period_end)",
        );
        check_refused(&row("I,2025-02-05,2025-02-01,,E,2025-01-31,usage,1,USD,,"), "charges.csv:2: column 3 (period_start): is given without period_end; give both or neither");
        check_refused(
            &row("I,2025-02-05,,,E,2025-01-31,usage,1,USD,,reservation_purchase"),
            "charges.csv:2: column 11 (corrects_kind): is given on a usage line; only refund lines name the kind they correct",
        );
        check_refused(
            &row("I,2025-02-05,,,E,2025-01-31,refund,-1,USD,,refund"),
            "charges.csv:2: column 11 (corrects_kind): is refund; a refund corrects a charge of another kind (default usage)",
        );
        let rows = read(&row(
            "I,2025-02-05,,,E,2025-01-31,refund,-1,USD,macc-1,reservation_purchase",
        ))
        .unwrap();
        assert_eq!(
            (rows[0].corrects.as_deref(), rows[0].corrects_kind),
            (Some("macc-1"), Some(ChargeKind::ReservationPurchase))
        );
    }

    #[test]
    fn headers_are_checked() {
        check_refused(
            "invoice_id,invoice_date,billing_profile,charge_date,kind,currency,note\n",
            "charges.csv:1: missing column 'amount': the header has invoice_id, invoice_date, billing_profile, charge_date, kind, currency, note; a native file needs invoice_id, invoice_date, billing_profile, charge_date, kind, amount, currency",
        );
        check_refused("", "charges.csv: is empty; expected a header line naming the columns: invoice_id, invoice_date, billing_profile, charge_date, kind, amount, currency");
        check_refused(
            "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency,kind\n",
            "charges.csv:1: column 8 (kind): column 'kind' appears twice in the header (columns 5 and 8)",
        );
        assert_eq!(read(HEADER).unwrap(), vec![]);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let e = NativeReader::open(&missing).err().unwrap();
        assert_eq!(
            shown_error(&dir, &e),
            "nope.csv: cannot read: No such file or directory"
        );
    }

    #[test]
    fn invalid_utf8_is_named() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"INV-1,2025-02-05,Eng\xff,2025-01-31,usage,1,USD\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        fs::write(&path, bytes).unwrap();
        let e = NativeReader::open(&path)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(shown_error(&dir, &e), "charges.csv:2: column 3 (billing_profile): is not valid UTF-8 text (invalid byte after 3 bytes)");
    }

    /// A native file of `lines` rows, 5,000 per invoice, shaped like `ledger gen`'s output:
    /// every column filled except `line_id` and `corrects`, services and publishers from
    /// small catalogs.
    pub(crate) fn generate(path: &Path, lines: usize) {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
        writeln!(out, "invoice_id,invoice_date,period_start,period_end,account,billing_profile,charge_date,kind,amount,currency,service,publisher,line_id,corrects").unwrap();
        let services = [
            "Virtual Machines",
            "Storage",
            "SQL Database",
            "Bandwidth",
            "Azure Monitor",
            "Azure Kubernetes Service",
        ];
        let kinds = [
            "usage",
            "usage",
            "usage",
            "usage",
            "usage",
            "reservation_usage",
            "marketplace_eligible",
            "support",
        ];
        let lines_per_invoice = 5000;
        for i in 0..lines {
            let invoice = i / lines_per_invoice;
            let (year, month) = (2020 + invoice / 12, invoice % 12 + 1);
            let (next_year, next_month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            let day = (i / 200) % 28 + 1;
            let kind = kinds[i % kinds.len()];
            let publisher = if kind == "marketplace_eligible" {
                "Contoso Marketplace"
            } else {
                "Microsoft"
            };
            let cents = (i * 7919) % 100_000;
            writeln!(
                out,
                "INV-{invoice:06},{next_year}-{next_month:02}-05,{year}-{month:02}-01,{year}-{month:02}-28,contoso,Profile-{},{year}-{month:02}-{day:02},{kind},{}.{:02},USD,{},{publisher},,",
                i % 3,
                cents / 100,
                cents % 100,
                services[i % services.len()]
            )
            .unwrap();
        }
        out.flush().unwrap();
    }

    /// `cargo test -p tools --release -- --ignored --nocapture native_rows_per_second`
    #[test]
    #[ignore]
    fn native_rows_per_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        let lines = 1_000_000;
        generate(&path, lines);
        let size = fs::metadata(&path).unwrap().len();
        for round in 0..3 {
            let start = std::time::Instant::now();
            let mut reader = NativeReader::open(&path).unwrap();
            let mut count = 0u64;
            let mut total = Money::ZERO;
            while let Some(row) = reader.next_row() {
                let row = row.unwrap();
                total = total.checked_add(row.amount).unwrap();
                count += 1;
            }
            let borrowed = start.elapsed();
            let start = std::time::Instant::now();
            let mut owned = 0u64;
            for row in NativeReader::open(&path).unwrap() {
                assert!(row.unwrap().line > 1);
                owned += 1;
            }
            let owned_time = start.elapsed();
            assert_eq!((count, owned), (lines as u64, lines as u64));
            println!(
                "round {round}: {lines} rows, {:.1} MB: borrowed rows {:.2} M rows/s ({:.0} MB/s), owned RawRow {:.2} M rows/s",
                size as f64 / 1e6,
                count as f64 / borrowed.as_secs_f64() / 1e6,
                size as f64 / borrowed.as_secs_f64() / 1e6,
                owned as f64 / owned_time.as_secs_f64() / 1e6,
            );
        }
    }
}
