//! Reading an agreement file (TOML, or JSON with the same keys) into a validated
//! [`Agreement`].
//!
//! Both formats are first read into one small tree ([`Node`]) that keeps the byte offset of
//! every key and value, so that each refusal names the line and the field path
//! (`macc "macc-2025" end`). Numbers keep their literal spelling: an amount written as a TOML
//! float or a JSON number is read from the digits in the file, never through a binary float.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use ledger_core::agreement::AgreementError;
use ledger_core::agreement::{
    AccountTerms, CacoBasis, CacoMilestoneTerms, CacoTerms, CreditOrder, CreditTerms,
    MaccMilestoneTerms, MaccTerms,
};
use ledger_core::ident::{check_id, IdKind};
use ledger_core::{rulebook, Agreement, ChargeKind, CreditKind, Date, Factor, KindSet, Money};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::error::InputError;
use super::source::Source;

/// Which syntax an agreement text is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgreementFormat {
    Toml,
    Json,
}

/// Read and validate the agreement in `path`: JSON when the file name ends in `.json` or the
/// text starts with `{`, TOML otherwise.
pub fn read_agreement(path: &Path) -> Result<Agreement, InputError> {
    let bytes = fs::read(path).map_err(|e| InputError::io(path, "cannot read", &e))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count() as u64;
            return Err(InputError::new(
                path,
                "is not UTF-8 text (expected a TOML or JSON agreement)",
            )
            .at_line(line));
        }
    };
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let format = if is_json
        || text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{')
    {
        AgreementFormat::Json
    } else {
        AgreementFormat::Toml
    };
    parse_agreement(path, &text, format)
}

/// Parse and validate an agreement held in memory; `file` is only used in messages.
pub fn parse_agreement(
    file: &Path,
    text: &str,
    format: AgreementFormat,
) -> Result<Agreement, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source::new(file, text);
    let root = match format {
        AgreementFormat::Toml => toml_tree(&source)?,
        AgreementFormat::Json => json_tree(&source)?,
    };
    let mut reader = TreeReader {
        source: &source,
        lines: BTreeMap::new(),
    };
    let agreement = reader.agreement(&root)?;
    if let Err(e) = agreement.validate().and_then(|()| check_ids(&agreement)) {
        let line = reader.line_of_field(&e.field);
        return Err(InputError::new(file, e.message)
            .in_field(e.field)
            .at_line_opt(line));
    }
    Ok(agreement)
}

/// The identifier rules (`ledger_core::ident`, docs/INGEST.md) for the account and every lot
/// and milestone id, named as [`Agreement::validate`] names fields. Checked when a file is
/// read, not in the core, so a ledger recorded before these rules still replays.
fn check_ids(agreement: &Agreement) -> Result<(), AgreementError> {
    let check = |kind: IdKind, field: String, id: &str| {
        check_id(kind, id).map_err(|e| AgreementError {
            field,
            message: e.0,
        })
    };
    check(IdKind::Account, "account".into(), &agreement.account)?;
    for (i, macc) in agreement.maccs.iter().enumerate() {
        check(IdKind::Lot, format!("macc[{i}] id"), &macc.id)?;
        for m in &macc.milestones {
            let field = format!("macc \"{}\" milestone \"{}\" id", macc.id, m.id);
            check(IdKind::Lot, field, &m.id)?;
        }
    }
    for (i, caco) in agreement.cacos.iter().enumerate() {
        check(IdKind::Lot, format!("caco[{i}] id"), &caco.id)?;
        for m in &caco.milestones {
            let field = format!("caco \"{}\" milestone \"{}\" id", caco.id, m.id);
            check(IdKind::Lot, field, &m.id)?;
        }
    }
    for (i, credit) in agreement.credits.iter().enumerate() {
        check(IdKind::Lot, format!("credit[{i}] id"), &credit.id)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tree both formats are read into.

/// A value of an agreement file (TOML or JSON) or a scenario file (TOML), with where it is.
#[derive(Debug)]
pub(crate) struct Node {
    /// Byte offset of the value in the source.
    pub(crate) at: Option<usize>,
    pub(crate) value: Value,
}

#[derive(Debug)]
pub(crate) enum Value {
    Str(String),
    /// The literal digits (TOML underscores removed); `integer` when written without a
    /// fraction or exponent.
    Number {
        text: String,
        integer: bool,
    },
    Bool(bool),
    /// A TOML local date literal.
    Date(Date),
    /// A TOML date-time, time or offset date-time literal: never acceptable here.
    DateTime(String),
    Array(Vec<Node>),
    Table(Vec<Entry>),
    Null,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: String,
    /// Byte offset of the key in the source.
    pub(crate) at: Option<usize>,
    pub(crate) node: Node,
}

impl Value {
    /// What the value is, for a message: `the string "x"`, `the number 5`, `a table`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Str(s) => format!("the string \"{}\"", shorten(s)),
            Value::Number { text, .. } => format!("the number {}", shorten(text)),
            Value::Bool(b) => format!("{b}"),
            Value::Date(d) => format!("the date {d}"),
            Value::DateTime(s) => format!("the date-time {s}"),
            Value::Array(_) => "an array".to_string(),
            Value::Table(_) => "a table".to_string(),
            Value::Null => "null".to_string(),
        }
    }
}

fn shorten(text: &str) -> String {
    crate::text::clip(text, 40, 40, "...")
}

/// The text being read, with its line starts for offset-to-line conversion.
impl Source<'_> {
    fn error(&self, at: Option<usize>, message: impl Into<String>) -> InputError {
        InputError::new(self.file, message).at_line_opt(at.map(|o| self.line(o)))
    }
}

// ---------------------------------------------------------------------------------------------
// TOML

/// The one TOML walker: a TOML text as a [`Node`] tree (agreement and scenario files).
pub(crate) fn toml_tree(source: &Source<'_>) -> Result<Node, InputError> {
    let document = toml_edit::ImDocument::parse(source.text).map_err(|e| {
        let message = e.message().trim().to_string();
        source.error(
            e.span().map(|s| s.start),
            format!("is not valid TOML: {message}"),
        )
    })?;
    toml_table(source, document.as_table())
}

fn toml_table(source: &Source<'_>, table: &toml_edit::Table) -> Result<Node, InputError> {
    let mut entries = Vec::with_capacity(table.len());
    for (key, item) in table.iter() {
        let at = table.key(key).and_then(|k| k.span()).map(|s| s.start);
        let node = match item {
            toml_edit::Item::None => continue,
            toml_edit::Item::Value(v) => toml_value(source, v)?,
            toml_edit::Item::Table(t) => toml_table(source, t)?,
            toml_edit::Item::ArrayOfTables(a) => {
                let mut tables = Vec::with_capacity(a.len());
                for t in a.iter() {
                    tables.push(toml_table(source, t)?);
                }
                Node {
                    at: a.span().map(|s| s.start),
                    value: Value::Array(tables),
                }
            }
        };
        entries.push(Entry {
            key: key.to_string(),
            at,
            node,
        });
    }
    Ok(Node {
        at: table.span().map(|s| s.start),
        value: Value::Table(entries),
    })
}

fn toml_value(source: &Source<'_>, value: &toml_edit::Value) -> Result<Node, InputError> {
    let span = value.span();
    let at = span.as_ref().map(|s| s.start);
    let value = match value {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Number {
            text: i.value().to_string(),
            integer: true,
        },
        toml_edit::Value::Float(f) => {
            // The literal as written (exact; `nan` and `inf` are then refused as amounts); a
            // float's shortest spelling only if the parser kept no span.
            let literal = span
                .and_then(|s| source.text.get(s))
                .map(|t| t.trim().replace('_', ""));
            Value::Number {
                text: literal.unwrap_or_else(|| format!("{}", f.value())),
                integer: false,
            }
        }
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => {
            let dt = d.value();
            match (dt.date, dt.time, dt.offset) {
                (Some(date), None, None) => {
                    match Date::from_ymd(date.year as i32, date.month as u32, date.day as u32) {
                        Some(date) => Value::Date(date),
                        None => {
                            return Err(source.error(
                                at,
                                format!(
                                "'{dt}' is not a date (expected YYYY-MM-DD, a real calendar day from 0001-01-01 to 9999-12-31)"
                            ),
                            ))
                        }
                    }
                }
                _ => Value::DateTime(dt.to_string()),
            }
        }
        toml_edit::Value::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            for v in a.iter() {
                items.push(toml_value(source, v)?);
            }
            Value::Array(items)
        }
        toml_edit::Value::InlineTable(t) => {
            let mut entries = Vec::with_capacity(t.len());
            for (key, v) in t.iter() {
                let key_at = t.key(key).and_then(|k| k.span()).map(|s| s.start);
                entries.push(Entry {
                    key: key.to_string(),
                    at: key_at,
                    node: toml_value(source, v)?,
                });
            }
            Value::Table(entries)
        }
    };
    Ok(Node { at, value })
}

// ---------------------------------------------------------------------------------------------
// JSON, through serde_json's RawValue so that numbers keep their digits and every value its
// offset in the source.

/// A JSON object's members in file order, duplicates kept (refused later with a line).
struct JsonMembers<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for JsonMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = JsonMembers<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(JsonMembers(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

fn json_tree(source: &Source<'_>) -> Result<Node, InputError> {
    let raw: &RawValue =
        serde_json::from_str(source.text).map_err(|e| json_syntax(source, &e, None))?;
    json_node(source, raw)
}

fn json_syntax(source: &Source<'_>, e: &serde_json::Error, base: Option<usize>) -> InputError {
    // serde_json counts lines within the text it was given; sub-documents start at `base`.
    let line = match base {
        None => Some(e.line() as u64),
        Some(offset) => Some(source.line(offset) + e.line() as u64 - 1),
    };
    let mut message = e.to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    InputError::new(source.file, format!("is not valid JSON: {message}")).at_line_opt(line)
}

fn json_node(source: &Source<'_>, raw: &RawValue) -> Result<Node, InputError> {
    let text = raw.get();
    let at = (text.as_ptr() as usize)
        .checked_sub(source.text.as_ptr() as usize)
        .filter(|&o| o <= source.text.len());
    let fail = |e: serde_json::Error| json_syntax(source, &e, at);
    let value = match text.trim_start().as_bytes().first() {
        Some(b'{') => {
            let members: JsonMembers<'_> = serde_json::from_str(text).map_err(fail)?;
            let mut entries = Vec::with_capacity(members.0.len());
            for (key, raw_value) in members.0 {
                let node = json_node(source, raw_value)?;
                entries.push(Entry {
                    key,
                    at: node.at,
                    node,
                });
            }
            Value::Table(entries)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(fail)?;
            let mut nodes = Vec::with_capacity(items.len());
            for item in items {
                nodes.push(json_node(source, item)?);
            }
            Value::Array(nodes)
        }
        Some(b'"') => Value::Str(serde_json::from_str::<String>(text).map_err(fail)?),
        Some(b't') | Some(b'f') => Value::Bool(serde_json::from_str::<bool>(text).map_err(fail)?),
        Some(b'n') => Value::Null,
        _ => {
            let digits = text.trim();
            let integer = !digits.contains(['.', 'e', 'E']);
            Value::Number {
                text: digits.to_string(),
                integer,
            }
        }
    };
    Ok(Node { at, value })
}

// ---------------------------------------------------------------------------------------------
// From the tree to an Agreement.

const TOP_KEYS: &[&str] = &[
    "account",
    "currency",
    "rulebook",
    "credit_order",
    "prepayment_term_months",
    "partner_earned_credit_rate",
    "eligible_publishers",
    "eligible_offers",
    "macc",
    "caco",
    "credit",
];
const MACC_KEYS: &[&str] = &[
    "id",
    "amount",
    "start",
    "end",
    "purchased",
    "enrollment_end",
    "renewed",
    "shortfall_credit_months",
    "milestones",
];
const MACC_MILESTONE_KEYS: &[&str] = &["id", "due", "target"];
const CACO_KEYS: &[&str] = &["id", "start", "basis", "award_months", "milestones"];
const CACO_MILESTONE_KEYS: &[&str] = &["id", "start", "end", "target", "award"];
const CREDIT_KEYS: &[&str] = &["id", "kind", "amount", "start", "expires", "covers"];

struct TreeReader<'s> {
    source: &'s Source<'s>,
    /// Field path -> line, to place the errors `Agreement::validate` reports.
    lines: BTreeMap<String, u64>,
}

/// One table being read: its entries, its path in messages, and the keys it may have.
struct Table<'n> {
    entries: &'n [Entry],
    /// `""` at the top, else e.g. `macc "macc-2025"` (with a trailing space added in paths).
    path: String,
    at: Option<usize>,
}

impl<'n> Table<'n> {
    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{} {key}", self.path)
        }
    }
}

impl<'s> TreeReader<'s> {
    fn line_of_field(&self, field: &str) -> Option<u64> {
        // The field itself, else the closest enclosing item (`macc "m" milestones` -> `macc "m"`).
        let mut path = field;
        loop {
            if let Some(&line) = self.lines.get(path) {
                return Some(line);
            }
            match path.rfind(' ') {
                Some(i) => path = &path[..i],
                None => return None,
            }
        }
    }

    fn error(&self, at: Option<usize>, field: &str, message: impl Into<String>) -> InputError {
        self.source.error(at, message).in_field(field)
    }

    fn note(&mut self, field: &str, at: Option<usize>) {
        if let Some(at) = at {
            let line = self.source.line(at);
            self.lines.entry(field.to_string()).or_insert(line);
        }
    }

    /// Check the keys of a table node against `expected` and refuse duplicates.
    fn table<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        expected: &[&str],
    ) -> Result<Table<'n>, InputError> {
        let entries = match &node.value {
            Value::Table(entries) => entries,
            other => {
                let field = if path.is_empty() { "agreement" } else { path };
                return Err(self.error(
                    node.at,
                    field,
                    format!("is {}; expected a table", other.describe()),
                ));
            }
        };
        for (i, entry) in entries.iter().enumerate() {
            if !expected.contains(&entry.key.as_str()) {
                let near = closest(&entry.key, expected)
                    .map(|k| format!(" (did you mean '{k}'?)"))
                    .unwrap_or_default();
                let field = if path.is_empty() {
                    entry.key.clone()
                } else {
                    format!("{path} {}", entry.key)
                };
                return Err(self.error(
                    entry.at,
                    &field,
                    format!(
                        "unknown key '{}'{near}; expected one of: {}",
                        entry.key,
                        expected.join(", ")
                    ),
                ));
            }
            if entries[..i].iter().any(|e| e.key == entry.key) {
                let field = if path.is_empty() {
                    entry.key.clone()
                } else {
                    format!("{path} {}", entry.key)
                };
                return Err(self.error(entry.at, &field, "is given twice"));
            }
        }
        let table = Table {
            entries,
            path: path.to_string(),
            at: node.at,
        };
        self.note(path, node.at);
        Ok(table)
    }

    /// The node of `key`, absent when missing or JSON `null`.
    fn get<'n>(&mut self, table: &Table<'n>, key: &str) -> Option<&'n Node> {
        let entry = table.entries.iter().find(|e| e.key == key)?;
        if matches!(entry.node.value, Value::Null) {
            return None;
        }
        self.note(&table.field(key), entry.node.at.or(entry.at));
        Some(&entry.node)
    }

    fn required<'n>(
        &mut self,
        table: &Table<'n>,
        key: &str,
        what: &str,
    ) -> Result<&'n Node, InputError> {
        match self.get(table, key) {
            Some(node) => Ok(node),
            None => Err(self.error(
                table.at,
                &table.field(key),
                format!("is missing; expected {what}"),
            )),
        }
    }

    fn string(&self, node: &Node, field: &str) -> Result<String, InputError> {
        match &node.value {
            Value::Str(s) => Ok(s.clone()),
            other => Err(self.error(
                node.at,
                field,
                format!("is {}; expected a string", other.describe()),
            )),
        }
    }

    fn required_string(&mut self, table: &Table<'_>, key: &str) -> Result<String, InputError> {
        let node = self.required(table, key, "a string")?;
        self.string(node, &table.field(key))
    }

    fn money(&self, node: &Node, field: &str) -> Result<Money, InputError> {
        let text = match &node.value {
            Value::Str(s) => s.as_str(),
            Value::Number { text, .. } => text.as_str(),
            other => {
                return Err(self.error(
                    node.at,
                    field,
                    format!(
                        "is {}; expected an amount like \"50000.00\"",
                        other.describe()
                    ),
                ))
            }
        };
        Money::parse(text).map_err(|e| self.error(node.at, field, e.to_string()))
    }

    fn required_money(&mut self, table: &Table<'_>, key: &str) -> Result<Money, InputError> {
        let node = self.required(table, key, "an amount like \"50000.00\"")?;
        self.money(node, &table.field(key))
    }

    fn date(&self, node: &Node, field: &str) -> Result<Date, InputError> {
        match &node.value {
            Value::Date(d) => Ok(*d),
            Value::Str(s) => Date::parse(s).map_err(|e| self.error(node.at, field, e.to_string())),
            other => Err(self.error(
                node.at,
                field,
                format!(
                    "is {}; expected a date like \"2025-05-01\"",
                    other.describe()
                ),
            )),
        }
    }

    fn required_date(&mut self, table: &Table<'_>, key: &str) -> Result<Date, InputError> {
        let node = self.required(table, key, "a date like \"2025-05-01\"")?;
        self.date(node, &table.field(key))
    }

    fn optional_date(&mut self, table: &Table<'_>, key: &str) -> Result<Option<Date>, InputError> {
        match self.get(table, key) {
            Some(node) => self.date(node, &table.field(key)).map(Some),
            None => Ok(None),
        }
    }

    fn whole_number(
        &mut self,
        table: &Table<'_>,
        key: &str,
        default: u64,
        max: u64,
        expected: &str,
    ) -> Result<u64, InputError> {
        let field = table.field(key);
        let Some(node) = self.get(table, key) else {
            return Ok(default);
        };
        match &node.value {
            Value::Number {
                text,
                integer: true,
            } => match text.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(self.error(node.at, &field, format!("is {text}; expected {expected}"))),
            },
            other => Err(self.error(
                node.at,
                &field,
                format!("is {}; expected {expected}", other.describe()),
            )),
        }
    }

    fn months(&mut self, table: &Table<'_>, key: &str) -> Result<u32, InputError> {
        // Zero passes here so that `Agreement::validate` gives its one message for the range.
        let max = ledger_core::agreement::MAX_TERM_MONTHS;
        let expected = format!("a whole number of months from 1 to {max}");
        Ok(self.whole_number(table, key, 12, max as u64, &expected)? as u32)
    }

    fn optional_bool(&mut self, table: &Table<'_>, key: &str) -> Result<Option<bool>, InputError> {
        match self.get(table, key) {
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => Ok(Some(*b)),
            Some(node) => Err(self.error(
                node.at,
                &table.field(key),
                format!("is {}; expected true or false", node.value.describe()),
            )),
            None => Ok(None),
        }
    }

    fn strings(&mut self, table: &Table<'_>, key: &str) -> Result<Vec<String>, InputError> {
        let field = table.field(key);
        let Some(node) = self.get(table, key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = &node.value else {
            return Err(self.error(
                node.at,
                &field,
                format!("is {}; expected an array of strings", node.value.describe()),
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.string(item, &format!("{field}[{i}]")))
            .collect()
    }

    /// The tables under `key`: an array of tables (`[[macc]]`), or one table.
    fn tables<'n>(&mut self, table: &Table<'n>, key: &str) -> Result<Vec<&'n Node>, InputError> {
        let Some(node) = self.get(table, key) else {
            return Ok(Vec::new());
        };
        match &node.value {
            Value::Array(items) => Ok(items.iter().collect()),
            Value::Table(_) => Ok(vec![node]),
            other => Err(self.error(
                node.at,
                &table.field(key),
                format!(
                    "is {}; expected an array of tables ([[{key}]])",
                    other.describe()
                ),
            )),
        }
    }

    /// The id of the `index`th item of a list, and the path its other fields are named under.
    fn item_id(
        &mut self,
        node: &Node,
        list: &str,
        index: usize,
        parent: &str,
    ) -> Result<(String, String), InputError> {
        let positional = if parent.is_empty() {
            format!("{list}[{index}]")
        } else {
            format!("{parent} {list}[{index}]")
        };
        let entries = match &node.value {
            Value::Table(entries) => entries,
            other => {
                return Err(self.error(
                    node.at,
                    &positional,
                    format!("is {}; expected a table", other.describe()),
                ))
            }
        };
        let id_field = format!("{positional} id");
        let id = match entries.iter().find(|e| e.key == "id") {
            Some(entry) => {
                self.note(&id_field, entry.node.at.or(entry.at));
                self.string(&entry.node, &id_field)?
            }
            None => return Err(self.error(node.at, &id_field, "is missing; expected a string")),
        };
        let path = if parent.is_empty() {
            format!("{list} \"{id}\"")
        } else {
            format!("{parent} {list} \"{id}\"")
        };
        Ok((id, path))
    }

    fn agreement(&mut self, root: &Node) -> Result<Agreement, InputError> {
        let top = self.table(root, "", TOP_KEYS)?;
        let account = self.required_string(&top, "account")?;
        let currency = self.required_string(&top, "currency")?;
        let mut terms = AccountTerms::default();
        let version = self.whole_number(
            &top,
            "rulebook",
            rulebook::CURRENT_VERSION as u64,
            u16::MAX as u64,
            "a rulebook version number",
        )?;
        terms.rulebook_version = version as u16;
        if let Some(node) = self.get(&top, "credit_order") {
            let text = self.string(node, "credit_order")?;
            terms.credit_order = CreditOrder::parse(&text).ok_or_else(|| {
                self.error(
                    node.at,
                    "credit_order",
                    format!(
                        "'{}' is not a credit order (expected expiring-first or oldest-first)",
                        shorten(&text)
                    ),
                )
            })?;
        }
        terms.prepayment_term_months = self.months(&top, "prepayment_term_months")?;
        if let Some(node) = self.get(&top, "partner_earned_credit_rate") {
            let text = match &node.value {
                Value::Str(s) => s.clone(),
                Value::Number { text, .. } => text.clone(),
                other => {
                    return Err(self.error(
                        node.at,
                        "partner_earned_credit_rate",
                        format!("is {}; expected a rate like \"0.15\"", other.describe()),
                    ))
                }
            };
            let rate = Factor::parse(&text)
                .map_err(|e| self.error(node.at, "partner_earned_credit_rate", e.to_string()))?;
            terms.partner_earned_credit_rate = Some(rate);
        }
        terms.eligible_publishers = self.strings(&top, "eligible_publishers")?;
        terms.eligible_offers = self.strings(&top, "eligible_offers")?;

        let mut maccs = Vec::new();
        for (i, node) in self.tables(&top, "macc")?.into_iter().enumerate() {
            maccs.push(self.macc(node, i)?);
        }
        let mut cacos = Vec::new();
        for (i, node) in self.tables(&top, "caco")?.into_iter().enumerate() {
            cacos.push(self.caco(node, i)?);
        }
        let mut credits = Vec::new();
        for (i, node) in self.tables(&top, "credit")?.into_iter().enumerate() {
            credits.push(self.credit(node, i)?);
        }
        Ok(Agreement {
            account,
            currency,
            terms,
            maccs,
            cacos,
            credits,
        })
    }

    fn macc(&mut self, node: &Node, index: usize) -> Result<MaccTerms, InputError> {
        let (id, path) = self.item_id(node, "macc", index, "")?;
        let t = self.table(node, &path, MACC_KEYS)?;
        let mut macc = MaccTerms {
            id,
            amount: self.required_money(&t, "amount")?,
            start: self.required_date(&t, "start")?,
            end: self.required_date(&t, "end")?,
            purchased: self.optional_date(&t, "purchased")?,
            enrollment_end: self.optional_date(&t, "enrollment_end")?,
            renewed: self.optional_bool(&t, "renewed")?,
            shortfall_credit_months: self.months(&t, "shortfall_credit_months")?,
            milestones: Vec::new(),
        };
        for (i, m) in self.tables(&t, "milestones")?.into_iter().enumerate() {
            let (mid, mpath) = self.item_id(m, "milestone", i, &path)?;
            let mt = self.table(m, &mpath, MACC_MILESTONE_KEYS)?;
            macc.milestones.push(MaccMilestoneTerms {
                id: mid,
                due: self.required_date(&mt, "due")?,
                target: self.required_money(&mt, "target")?,
            });
        }
        Ok(macc)
    }

    fn caco(&mut self, node: &Node, index: usize) -> Result<CacoTerms, InputError> {
        let (id, path) = self.item_id(node, "caco", index, "")?;
        let t = self.table(node, &path, CACO_KEYS)?;
        let start = self.required_date(&t, "start")?;
        let basis = match self.get(&t, "basis") {
            Some(b) => {
                let field = t.field("basis");
                let text = self.string(b, &field)?;
                CacoBasis::parse(&text).ok_or_else(|| {
                    self.error(
                        b.at,
                        &field,
                        format!(
                            "'{}' is not a CACO basis (expected period or cumulative)",
                            shorten(&text)
                        ),
                    )
                })?
            }
            None => CacoBasis::Period,
        };
        let award_months = self.months(&t, "award_months")?;
        let mut milestones = Vec::new();
        for (i, m) in self.tables(&t, "milestones")?.into_iter().enumerate() {
            let (mid, mpath) = self.item_id(m, "milestone", i, &path)?;
            let mt = self.table(m, &mpath, CACO_MILESTONE_KEYS)?;
            milestones.push(CacoMilestoneTerms {
                id: mid,
                start: self.required_date(&mt, "start")?,
                end: self.required_date(&mt, "end")?,
                target: self.required_money(&mt, "target")?,
                award: self.required_money(&mt, "award")?,
            });
        }
        Ok(CacoTerms {
            id,
            start,
            basis,
            award_months,
            milestones,
        })
    }

    fn credit(&mut self, node: &Node, index: usize) -> Result<CreditTerms, InputError> {
        let (id, path) = self.item_id(node, "credit", index, "")?;
        let t = self.table(node, &path, CREDIT_KEYS)?;
        let kind_node = self.required(
            &t,
            "kind",
            &format!("a credit kind ({})", CreditKind::expected_list()),
        )?;
        let kind_field = t.field("kind");
        let kind_text = self.string(kind_node, &kind_field)?;
        let kind = CreditKind::parse(&kind_text).ok_or_else(|| {
            self.error(
                kind_node.at,
                &kind_field,
                format!(
                    "'{}' is not a credit kind (expected one of: {})",
                    shorten(&kind_text),
                    CreditKind::expected_list()
                ),
            )
        })?;
        let amount = self.required_money(&t, "amount")?;
        let start = self.required_date(&t, "start")?;
        let expires = self.required_date(&t, "expires")?;
        let covers = match self.get(&t, "covers") {
            None => None,
            Some(c) => {
                let field = t.field("covers");
                let Value::Array(items) = &c.value else {
                    return Err(self.error(
                        c.at,
                        &field,
                        format!(
                            "is {}; expected an array of charge kinds like [\"usage\"]",
                            c.value.describe()
                        ),
                    ));
                };
                let mut set = KindSet::EMPTY;
                for (i, item) in items.iter().enumerate() {
                    let item_field = format!("{field}[{i}]");
                    let text = self.string(item, &item_field)?;
                    let kind = ChargeKind::parse(&text).ok_or_else(|| {
                        self.error(
                            item.at,
                            &item_field,
                            format!(
                                "'{}' is not a charge kind (expected one of: {})",
                                shorten(&text),
                                ChargeKind::expected_list()
                            ),
                        )
                    })?;
                    set.insert(kind);
                }
                Some(set)
            }
        };
        Ok(CreditTerms {
            id,
            kind,
            amount,
            start,
            expires,
            covers,
        })
    }
}

/// The expected key nearest to a misspelt one, when it is plausibly a typo.
fn closest<'e>(key: &str, expected: &[&'e str]) -> Option<&'e str> {
    expected
        .iter()
        .map(|e| (strsim::levenshtein(key, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// Read `text` as file `name` and return the agreement, or the error's display with the
    /// temporary directory removed (so messages read `agreement.toml:3: ...`).
    fn read(name: &str, text: &str) -> Result<Agreement, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, name, text);
        read_agreement(&path).map_err(|e| {
            let shown = e.to_string();
            let prefix = format!("{}/", dir.path().display());
            shown.replace(&prefix, "")
        })
    }

    /// `check(text, expected)`: the file is refused with exactly this message.
    fn check_refused(text: &str, expected: &str) {
        match read("agreement.toml", text) {
            Ok(a) => panic!("accepted, expected {expected:?}: {a:?}"),
            Err(message) => assert_eq!(message, expected),
        }
    }

    const BASE: &str = r#"account = "contoso"
currency = "USD"
"#;

    fn with_macc(fields: &str) -> String {
        format!("{BASE}\n[[macc]]\nid = \"macc-2025\"\n{fields}\n")
    }

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn the_interface_example_parses_with_every_key() {
        let text = r#"account = "contoso"                  # billing account id
currency = "USD"
credit_order = "expiring-first"      # R-SETTLE step 5
prepayment_term_months = 12          # optional
partner_earned_credit_rate = "0.15"  # optional, R-CSP

[[macc]]
id = "macc-2025"
amount = "50000.00"
start = "2025-05-01"
end = "2028-04-30"
purchased = "2025-04-20"             # optional
enrollment_end = "2029-04-30"        # optional, R-SHORT
renewed = false                      # optional, R-SHORT
shortfall_credit_months = 12         # optional, R-MACC-5
  [[macc.milestones]]                # optional
  id = "M1"
  due = "2026-04-30"
  target = "15000"

[[caco]]
id = "caco-1"
start = "2025-01-01"
basis = "period"                     # or "cumulative", R-CACO-2
award_months = 12                    # optional, R-CACO-5
  [[caco.milestones]]
  id = "Milestone1"
  start = "2025-01-01"
  end = "2025-03-31"
  target = "30000"
  award = "3000"

[[credit]]
id = "aco-1"
kind = "aco"        # aco | goodwill | outage | prepayment | macc_shortfall_credit | milestone_shortfall_credit
amount = "500"
start = "2024-01-01"
expires = "2024-12-31"
covers = ["usage"]  # optional, R-COVER
"#;
        let a = read("agreement.toml", text).unwrap();
        assert_eq!(a.account, "contoso");
        assert_eq!(
            a.terms.partner_earned_credit_rate,
            Some(Factor::parse("0.15").unwrap())
        );
        assert_eq!(a.terms.rulebook_version, rulebook::CURRENT_VERSION);
        let macc = &a.maccs[0];
        assert_eq!(
            (macc.amount, macc.start, macc.end),
            (m("50000"), d("2025-05-01"), d("2028-04-30"))
        );
        assert_eq!(macc.renewed, Some(false));
        assert_eq!(macc.enrollment_end, Some(d("2029-04-30")));
        assert_eq!(
            macc.milestones,
            vec![MaccMilestoneTerms {
                id: "M1".into(),
                due: d("2026-04-30"),
                target: m("15000")
            }]
        );
        assert_eq!(a.cacos[0].milestones[0].award, m("3000"));
        assert_eq!(a.credits[0].covers, Some(KindSet::of(&[ChargeKind::Usage])));
        assert_eq!(a.credits[0].kind, CreditKind::Aco);

        // The same agreement in JSON, by extension and by content.
        let json = r#"{"account": "contoso", "currency": "USD", "credit_order": "expiring-first",
  "prepayment_term_months": 12, "partner_earned_credit_rate": 0.15,
  "macc": [{"id": "macc-2025", "amount": 50000.00, "start": "2025-05-01", "end": "2028-04-30",
            "purchased": "2025-04-20", "enrollment_end": "2029-04-30", "renewed": false,
            "shortfall_credit_months": 12,
            "milestones": [{"id": "M1", "due": "2026-04-30", "target": "15000"}]}],
  "caco": [{"id": "caco-1", "start": "2025-01-01", "basis": "period", "award_months": 12,
            "milestones": [{"id": "Milestone1", "start": "2025-01-01", "end": "2025-03-31",
                            "target": 30000, "award": "3000"}]}],
  "credit": [{"id": "aco-1", "kind": "aco", "amount": "500", "start": "2024-01-01",
              "expires": "2024-12-31", "covers": ["usage"]}]}"#;
        assert_eq!(read("agreement.json", json).unwrap(), a);
        assert_eq!(read("agreement.txt", json).unwrap(), a);
    }

    #[test]
    fn defaults_fill_what_is_omitted() {
        let a = read(
            "a.toml",
            &with_macc("amount = 100\nstart = 2025-05-01\nend = 2026-04-30"),
        )
        .unwrap();
        assert_eq!(a.terms, AccountTerms::default());
        assert_eq!(a.maccs[0].shortfall_credit_months, 12);
        assert_eq!(a.maccs[0].renewed, None);
        assert!(a.cacos.is_empty() && a.credits.is_empty());
        let c = read("a.toml", &format!("{BASE}[[caco]]\nid='c'\nstart='2025-01-01'\n[[caco.milestones]]\nid='M'\nstart='2025-01-01'\nend='2025-02-01'\ntarget=1\naward=0\n")).unwrap();
        assert_eq!(
            (c.cacos[0].basis, c.cacos[0].award_months),
            (CacoBasis::Period, 12)
        );
        let e = read("a.toml", &format!("{BASE}rulebook = 1\neligible_publishers = [\"acme\"]\neligible_offers = []\ncredit_order = \"oldest-first\"\n")).unwrap();
        assert_eq!(e.terms.eligible_publishers, vec!["acme".to_string()]);
        assert_eq!(e.terms.credit_order, CreditOrder::OldestFirst);
    }

    #[test]
    fn numbers_and_strings_give_the_same_money_exactly() {
        for (literal, expected) in [
            ("50000.0", "50000"),
            ("\"50000.00\"", "50000"),
            ("50000", "50000"),
            ("0.1", "0.1"),
            ("\"0.1\"", "0.1"),
            ("1_000.25", "1000.25"),
            ("1.5e3", "1500"),
            ("0.10000000000000000001", "0.10000000000000000001"),
        ] {
            let a = read(
                "a.toml",
                &with_macc(&format!(
                    "amount = {literal}\nstart = \"2025-05-01\"\nend = \"2026-04-30\""
                )),
            )
            .unwrap();
            assert_eq!(a.maccs[0].amount, m(expected), "TOML {literal}");
        }
        for (literal, expected) in [
            ("50000.0", "50000"),
            ("0.1", "0.1"),
            ("12345678901234.56789", "12345678901234.56789"),
            ("1E2", "100"),
        ] {
            let json = format!(
                r#"{{"account": "a", "currency": "USD", "macc": [{{"id": "m", "amount": {literal}, "start": "2025-05-01", "end": "2026-04-30"}}]}}"#
            );
            let a = read("a.json", &json).unwrap();
            assert_eq!(a.maccs[0].amount, m(expected), "JSON {literal}");
        }
    }

    #[test]
    fn bad_amounts_name_the_line_field_and_what_was_expected() {
        let dates = "start = \"2025-05-01\"\nend = \"2026-04-30\"";
        check_refused(
            &with_macc(&format!("amount = \"12,50\"\n{dates}")),
            "agreement.toml:6: macc \"macc-2025\" amount: '12,50' is not a decimal amount (expected digits with an optional '.' and sign, like 1234.56)",
        );
        check_refused(
            &with_macc(&format!("amount = \"abc\"\n{dates}")),
            "agreement.toml:6: macc \"macc-2025\" amount: 'abc' is not a decimal amount (expected digits with an optional '.' and sign, like 1234.56)",
        );
        check_refused(&with_macc(&format!("amount = \"-5\"\n{dates}")), "agreement.toml:6: macc \"macc-2025\" amount: is -5; expected an amount greater than zero");
        check_refused(&with_macc(&format!("amount = -5\n{dates}")), "agreement.toml:6: macc \"macc-2025\" amount: is -5; expected an amount greater than zero");
        check_refused(&with_macc(&format!("amount = true\n{dates}")), "agreement.toml:6: macc \"macc-2025\" amount: is true; expected an amount like \"50000.00\"");
        check_refused(&with_macc(dates), "agreement.toml:4: macc \"macc-2025\" amount: is missing; expected an amount like \"50000.00\"");
        check_refused(&with_macc(&format!("amount = nan\n{dates}")), "agreement.toml:6: macc \"macc-2025\" amount: 'nan' is not a decimal amount (expected digits with an optional '.' and sign, like 1234.56)");
    }

    #[test]
    fn end_before_start_is_refused_at_the_line_of_the_end() {
        check_refused(
            &with_macc("amount = \"100\"\nstart = \"2025-05-01\"\nend = \"2024-04-30\""),
            "agreement.toml:8: macc \"macc-2025\" end: 2024-04-30 is before its start 2025-05-01",
        );
        check_refused(
            &format!("{BASE}\n[[credit]]\nid = \"aco\"\nkind = \"aco\"\namount = 5\nstart = 2024-02-01\nexpires = 2024-01-01\n"),
            "agreement.toml:9: credit \"aco\" expires: 2024-01-01 is before its start 2024-02-01",
        );
    }

    #[test]
    fn unknown_keys_are_named_with_the_expected_ones() {
        check_refused(
            &with_macc("ammount = \"100\"\nstart = \"2025-05-01\"\nend = \"2026-04-30\""),
            "agreement.toml:6: macc \"macc-2025\" ammount: unknown key 'ammount' (did you mean 'amount'?); expected one of: id, amount, start, end, purchased, enrollment_end, renewed, shortfall_credit_months, milestones",
        );
        check_refused(
            &format!("{BASE}colour = 1\n"),
            "agreement.toml:3: colour: unknown key 'colour'; expected one of: account, currency, rulebook, credit_order, prepayment_term_months, partner_earned_credit_rate, eligible_publishers, eligible_offers, macc, caco, credit",
        );
        let json = r#"{"account": "a", "currency": "USD",
 "credit": [{"id": "x", "kind": "aco", "amount": 1, "start": "2024-01-01", "expires": "2024-02-01", "cover": []}]}"#;
        let e = read("a.json", json).unwrap_err();
        assert!(
            e.starts_with(
                "a.json:2: credit \"x\" cover: unknown key 'cover' (did you mean 'covers'?)"
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_dates_kinds_and_choices_are_named() {
        check_refused(
            &with_macc("amount = 1\nstart = \"2025-13-01\"\nend = \"2026-04-30\""),
            "agreement.toml:7: macc \"macc-2025\" start: '2025-13-01' is not a date (expected YYYY-MM-DD, a real calendar day from 0001-01-01 to 9999-12-31)",
        );
        check_refused(
            &with_macc("amount = 1\nstart = \"05/01/2025\"\nend = \"2026-04-30\""),
            "agreement.toml:7: macc \"macc-2025\" start: '05/01/2025' is not a date (expected YYYY-MM-DD, a real calendar day from 0001-01-01 to 9999-12-31)",
        );
        check_refused(
            &with_macc("amount = 1\nstart = 2025-05-01T00:00:00\nend = \"2026-04-30\""),
            "agreement.toml:7: macc \"macc-2025\" start: is the date-time 2025-05-01T00:00:00; expected a date like \"2025-05-01\"",
        );
        check_refused(
            &format!("{BASE}[[credit]]\nid = \"c\"\nkind = \"acco\"\namount = 5\nstart = 2024-01-01\nexpires = 2024-12-31\n"),
            "agreement.toml:5: credit \"c\" kind: 'acco' is not a credit kind (expected one of: aco, goodwill, outage, prepayment, macc_shortfall_credit, milestone_shortfall_credit)",
        );
        check_refused(
            &format!("{BASE}[[credit]]\nid = \"c\"\nkind = \"aco\"\namount = 5\nstart = 2024-01-01\nexpires = 2024-12-31\ncovers = [\"usage\", \"usgae\"]\n"),
            "agreement.toml:9: credit \"c\" covers[1]: 'usgae' is not a charge kind (expected one of: usage, reservation_purchase, reservation_usage, prepayment_purchase, marketplace_eligible, marketplace, support, tax, macc_shortfall_purchase, milestone_shortfall_purchase, refund)",
        );
        check_refused(
            &format!("{BASE}[[caco]]\nid = \"c\"\nstart = 2025-01-01\nbasis = \"periodic\"\n"),
            "agreement.toml:6: caco \"c\" basis: 'periodic' is not a CACO basis (expected period or cumulative)",
        );
        check_refused(&format!("{BASE}credit_order = \"newest\"\n"), "agreement.toml:3: credit_order: 'newest' is not a credit order (expected expiring-first or oldest-first)");
        check_refused(&format!("{BASE}prepayment_term_months = \"12\"\n"), "agreement.toml:3: prepayment_term_months: is the string \"12\"; expected a whole number of months from 1 to 1200");
        check_refused(&format!("{BASE}prepayment_term_months = 0\n"), "agreement.toml:3: prepayment_term_months: is 0; expected a whole number of months from 1 to 1200");
    }

    #[test]
    fn validation_errors_are_placed_on_their_item() {
        check_refused(
            &format!("{BASE}[[caco]]\nid = \"c\"\nstart = 2025-01-01\n"),
            "agreement.toml:3: caco \"c\" milestones: is empty; a CACO needs at least one milestone",
        );
        check_refused("account = \"a\"\ncurrency = \"usd\"\n", "agreement.toml:2: currency: is 'usd'; expected a three-letter ISO 4217 code such as USD");
        check_refused(
            &format!("{BASE}[[macc]]\nid = \"x\"\namount = 1\nstart = 2025-01-01\nend = 2025-02-01\n[[credit]]\nid = \"x\"\nkind = \"aco\"\namount = 1\nstart = 2025-01-01\nexpires = 2025-02-01\n"),
            "agreement.toml:9: credit[0] id: 'x' is used twice; MACC, CACO and credit ids share one namespace per account",
        );
        check_refused(
            "currency = \"USD\"\n",
            "agreement.toml:1: account: is missing; expected a string",
        );
        check_refused(
            &format!("{BASE}[[macc]]\namount = 1\n"),
            "agreement.toml:3: macc[0] id: is missing; expected a string",
        );
    }

    #[test]
    fn syntax_errors_and_missing_files_are_named() {
        let e = read("agreement.toml", "account = \"a\"\ncurrency = \n").unwrap_err();
        assert!(
            e.starts_with("agreement.toml:2: is not valid TOML: "),
            "{e}"
        );
        let e = read("agreement.json", "{\"account\": \"a\",\n \"currency\": }").unwrap_err();
        assert!(
            e.starts_with("agreement.json:2: is not valid JSON: "),
            "{e}"
        );
        let e = read(
            "agreement.json",
            "{\"account\": \"a\", \"account\": \"b\", \"currency\": \"USD\"}",
        )
        .unwrap_err();
        assert_eq!(e, "agreement.json:1: account: is given twice");
        let missing = read_agreement(Path::new("agreement.toml")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "agreement.toml: cannot read: No such file or directory"
        );
    }

    #[test]
    fn the_shared_examples_parse() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/examples");
        let dirs =
            fs::read_dir(&examples).unwrap_or_else(|e| panic!("{}: {e}", examples.display()));
        let mut count = 0;
        for dir in dirs {
            let path = dir.unwrap().path().join("agreement.toml");
            if path.exists() {
                read_agreement(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
        assert!(count >= 3, "found {count} example agreements");
    }
}
