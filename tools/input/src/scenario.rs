//! What-if scenario files (INTERFACE.md, "What-if scenario file"): `[[change]]` tables (scale,
//! drop, add) and an optional `[agreement]` table of replaced terms, read into a
//! [`ScenarioFile`] that `ledger-app` hands to the what-if fold of `ledger-replay`.
//!
//! A scenario's `[agreement]` table replaces terms with agreement-file keys. It is applied to
//! every recorded agreement fact by rendering that agreement back into the agreement-file shape
//! ([`render_agreement`], round-trip tested), merging the scenario's keys in, and reading the
//! result with the agreement reader, so replaced terms are validated exactly like recorded ones:
//! - top-level keys replace the recorded ones; `account`, when given, only selects the account
//!   the terms apply to (without it they apply to every account's agreement);
//! - `[[agreement.macc]]`, `[[agreement.caco]]`, `[[agreement.credit]]` entries are matched by
//!   `id`: the keys they give replace the recorded ones (a `milestones` array replaces the
//!   whole list); an id the agreement does not have adds a new item.
//!
//! Errors name the scenario file, the line and the key, as the agreement reader's do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledger_core::agreement::{CacoTerms, CreditTerms, MaccTerms};
use ledger_core::{Agreement, ChargeKind, Date, Factor, KindSet, Money};
use serde::Serialize;

use crate::agreement::{parse_agreement, toml_tree, AgreementFormat, Entry, Node, Value};
use crate::error::InputError;
use crate::source::Source;

/// Which charge lines a change applies to. A line matches when every given field matches; a
/// filter with no field matches every line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFilter {
    pub kinds: Option<KindSet>,
    pub service: Option<String>,
    pub billing_profile: Option<String>,
    pub account: Option<String>,
    /// `charge_date >= from`.
    pub from: Option<Date>,
    /// `charge_date <= to`.
    pub to: Option<Date>,
}

/// One alteration of the recorded spend, as the file says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Multiply the amount of every matching line by `factor` (not negative).
    Scale { filter: LineFilter, factor: Factor },
    /// Remove every matching line.
    Drop { filter: LineFilter },
    /// One line of `monthly` per month from `from_month` to `to_month`, dated the 15th.
    Add {
        monthly: Money,
        kind: ChargeKind,
        billing_profile: String,
        /// Default: the ledger's only account.
        account: Option<String>,
        service: Option<String>,
        from_month: Date,
        to_month: Date,
    },
    /// Future months at the run rate: the account's mix of counting kinds and billing
    /// profiles over the `window` months before `from_month`, times `scale`, growing by
    /// `growth` a month (compounding), in every month from..to no recorded invoice covers.
    Project {
        /// Default: the ledger's only account.
        account: Option<String>,
        from_month: Date,
        to_month: Date,
        growth: Option<Factor>,
        scale: Option<Factor>,
        /// Default 6 (R-ALERT-2).
        window: u32,
    },
}

/// Months of the run-rate window a `project` measures when it names none.
pub const DEFAULT_PROJECT_WINDOW: u32 = 6;

/// A scenario read from a file, with where its changes are (for messages).
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    pub path: PathBuf,
    /// `name` in the file, else the file's stem.
    pub name: String,
    pub changes: Vec<Change>,
    /// The `[agreement]` table: terms replacing the recorded ones.
    pub agreement: Option<Overlay>,
    /// The line of each `[[change]]`, in order.
    pub change_lines: Vec<Option<u64>>,
    /// `through`: every deadline up to this date is evaluated on the fork at the end.
    pub through: Option<Date>,
}

/// Read and check a scenario file.
pub fn read_scenario(path: &Path) -> Result<ScenarioFile, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError::io(path, "cannot read", &e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count() as u64;
        InputError::new(path, "is not UTF-8 text (expected a TOML scenario)").at_line(line)
    })?;
    parse_scenario(path, &text)
}

// ---------------------------------------------------------------------------------------------
// Reading the scenario file.

const TOP_KEYS: &[&str] = &["name", "change", "agreement", "through"];
const CHANGE_KEYS: &[&str] = &[
    "op",
    "factor",
    "where",
    "monthly",
    "kind",
    "billing_profile",
    "from",
    "to",
    "account",
    "service",
    "growth",
    "scale",
    "window",
];
const WHERE_KEYS: &[&str] = &[
    "kind",
    "kinds",
    "service",
    "billing_profile",
    "account",
    "from",
    "to",
];
const OPS: &[&str] = &["scale", "drop", "add", "project"];
const PROJECT_KEYS: &[&str] = &["from", "to", "growth", "scale", "window", "account"];
/// Per op, the keys of a `[[change]]` besides `op`.
const SCALE_KEYS: &[&str] = &["factor", "where"];
const DROP_KEYS: &[&str] = &["where"];
const ADD_KEYS: &[&str] = &[
    "monthly",
    "kind",
    "billing_profile",
    "from",
    "to",
    "account",
    "service",
];

impl Source<'_> {
    fn field_error(
        &self,
        line: Option<u64>,
        field: &str,
        message: impl Into<String>,
    ) -> InputError {
        InputError::new(self.file, message)
            .in_field(field)
            .at_line_opt(line)
    }
}

/// Parse a scenario held in memory; `path` names it in messages and gives its default name.
pub fn parse_scenario(path: &Path, text: &str) -> Result<ScenarioFile, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source::new(path, text);
    let tree = toml_tree(&source)?;
    let root = as_table(&source, &tree, None).expect("a TOML document is a table");
    check_keys(&source, &root, "", TOP_KEYS)?;
    let name = match root.get("name") {
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        Some(item) => string(&source, item, "name")?,
    };
    let mut changes = Vec::new();
    let mut change_lines = Vec::new();
    if let Some(item) = root.get("change") {
        let line = root.key_line(&source, "change");
        let tables = tables(&source, item, "change", line)?;
        for (i, table) in tables.into_iter().enumerate() {
            let field = format!("change[{i}]");
            change_lines.push(table.line);
            changes.push(change(&source, &table, &field)?);
        }
    }
    let through = root
        .get("through")
        .map(|item| date(&source, item, "through"))
        .transpose()?;
    let agreement = match root.get("agreement") {
        None => None,
        Some(item) => {
            let line = root.key_line(&source, "agreement");
            Some(Overlay::read(&source, item, line)?)
        }
    };
    Ok(ScenarioFile {
        path: path.to_path_buf(),
        name,
        changes,
        agreement,
        change_lines,
        through,
    })
}

/// A table of the file (a `[table]`, an entry of `[[tables]]`, or an inline table), read from
/// the tree of the one TOML walker (`agreement::toml_tree`), with the line it starts on.
struct TableRef<'n> {
    entries: &'n [Entry],
    line: Option<u64>,
}

impl<'n> TableRef<'n> {
    fn entry(&self, key: &str) -> Option<&'n Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// The line of `key` in the file.
    fn key_line(&self, source: &Source<'_>, key: &str) -> Option<u64> {
        self.entry(key).and_then(|e| e.at).map(|at| source.line(at))
    }
}

/// The table a node holds (its line, else `line`), if it is one.
fn as_table<'n>(source: &Source<'_>, node: &'n Node, line: Option<u64>) -> Option<TableRef<'n>> {
    match &node.value {
        Value::Table(entries) => Some(TableRef {
            entries,
            line: item_line(source, node).or(line),
        }),
        _ => None,
    }
}

fn item_line(source: &Source<'_>, item: &Node) -> Option<u64> {
    item.at.map(|at| source.line(at))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path} {key}")
    }
}

fn check_keys(
    source: &Source<'_>,
    table: &TableRef<'_>,
    path: &str,
    expected: &[&str],
) -> Result<(), InputError> {
    for entry in table.entries {
        let key = entry.key.as_str();
        if !expected.contains(&key) {
            return Err(source.field_error(
                entry.at.map(|at| source.line(at)),
                &join(path, key),
                format!(
                    "unknown key '{key}'; expected one of: {}",
                    expected.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn describe(item: &Node) -> String {
    item.value.describe()
}

/// The tables under a key: `[[key]]`, one `[key]`, or an array of inline tables.
fn tables<'n>(
    source: &Source<'_>,
    item: &'n Node,
    field: &str,
    line: Option<u64>,
) -> Result<Vec<TableRef<'n>>, InputError> {
    let not_tables = || {
        source.field_error(
            line,
            field,
            format!(
                "is {}; expected an array of tables ([[{field}]])",
                describe(item)
            ),
        )
    };
    match &item.value {
        Value::Array(items) => items
            .iter()
            .map(|n| as_table(source, n, line).ok_or_else(not_tables))
            .collect(),
        Value::Table(_) => Ok(as_table(source, item, line).into_iter().collect()),
        _ => Err(not_tables()),
    }
}

fn string(source: &Source<'_>, item: &Node, field: &str) -> Result<String, InputError> {
    match &item.value {
        Value::Str(s) => Ok(s.clone()),
        _ => Err(source.field_error(
            item_line(source, item),
            field,
            format!("is {}; expected a string", describe(item)),
        )),
    }
}

/// A number as written: a string, or a TOML integer or float read from its digits (never
/// through a binary float).
fn number_text(
    source: &Source<'_>,
    item: &Node,
    field: &str,
    example: &str,
) -> Result<String, InputError> {
    match &item.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Number { text, .. } => Ok(text.clone()),
        _ => Err(source.field_error(
            item_line(source, item),
            field,
            format!("is {}; expected {example}", describe(item)),
        )),
    }
}

fn date(source: &Source<'_>, item: &Node, field: &str) -> Result<Date, InputError> {
    let line = item_line(source, item);
    match &item.value {
        Value::Str(s) => Date::parse(s).map_err(|e| source.field_error(line, field, e.to_string())),
        Value::Date(d) => Ok(*d),
        Value::DateTime(dt) => Err(source.field_error(
            line,
            field,
            format!("is the date-time {dt}; expected a date like \"2025-04-01\""),
        )),
        _ => Err(source.field_error(
            line,
            field,
            format!("is {}; expected a date like \"2025-04-01\"", describe(item)),
        )),
    }
}

/// `YYYY-MM` (a full date names its month too).
fn month(source: &Source<'_>, item: &Node, field: &str) -> Result<Date, InputError> {
    if let Value::Str(text) = &item.value {
        let b = text.as_bytes();
        if b.len() == 7 && b[4] == b'-' {
            if let Ok(d) = Date::parse(&format!("{text}-01")) {
                return Ok(d);
            }
        }
        if let Ok(d) = Date::parse(text) {
            return Ok(d.month_start());
        }
        return Err(source.field_error(
            item_line(source, item),
            field,
            format!("'{text}' is not a month (expected YYYY-MM, like \"2025-04\")"),
        ));
    }
    date(source, item, field)
        .map(Date::month_start)
        .map_err(|_| {
            source.field_error(
                item_line(source, item),
                field,
                format!("is {}; expected a month like \"2025-04\"", describe(item)),
            )
        })
}

fn kind(source: &Source<'_>, item: &Node, field: &str) -> Result<ChargeKind, InputError> {
    let text = string(source, item, field)?;
    ChargeKind::parse(&text).ok_or_else(|| {
        source.field_error(
            item_line(source, item),
            field,
            format!(
                "'{text}' is not a charge kind (expected one of: {})",
                ChargeKind::expected_list()
            ),
        )
    })
}

fn required<'n>(
    source: &Source<'_>,
    table: &TableRef<'n>,
    key: &str,
    field: &str,
    what: &str,
) -> Result<&'n Node, InputError> {
    table.get(key).ok_or_else(|| {
        source.field_error(
            table.line,
            &join(field, key),
            format!("is missing; expected {what}"),
        )
    })
}

fn change(source: &Source<'_>, table: &TableRef<'_>, field: &str) -> Result<Change, InputError> {
    check_keys(source, table, field, CHANGE_KEYS)?;
    let op_item = required(source, table, "op", field, "scale, drop, add or project")?;
    let op_field = join(field, "op");
    let op = string(source, op_item, &op_field)?;
    let allowed = match op.as_str() {
        "scale" => SCALE_KEYS,
        "drop" => DROP_KEYS,
        "add" => ADD_KEYS,
        "project" => PROJECT_KEYS,
        _ => {
            return Err(source.field_error(
                item_line(source, op_item),
                &op_field,
                format!("'{op}' is not an op (expected one of: {})", OPS.join(", ")),
            ))
        }
    };
    for entry in table.entries {
        let key = entry.key.as_str();
        if key != "op" && !allowed.contains(&key) {
            return Err(source.field_error(
                table.key_line(source, key),
                &join(field, key),
                format!(
                    "does not apply to op = \"{op}\" (its keys: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    match op.as_str() {
        "scale" => {
            let item = required(source, table, "factor", field, "a factor like \"0.8\"")?;
            let f = join(field, "factor");
            let text = number_text(source, item, &f, "a factor like \"0.8\"")?;
            let factor = Factor::parse(&text)
                .map_err(|e| source.field_error(item_line(source, item), &f, e.to_string()))?;
            if factor.is_negative() {
                return Err(source.field_error(
                    item_line(source, item),
                    &f,
                    format!("is {text}; a scale factor is 0 or more"),
                ));
            }
            Ok(Change::Scale {
                filter: filter(source, table, field)?,
                factor,
            })
        }
        "drop" => Ok(Change::Drop {
            filter: filter(source, table, field)?,
        }),
        "project" => project(source, table, field),
        _ => {
            let item = required(source, table, "monthly", field, "an amount like \"15000\"")?;
            let f = join(field, "monthly");
            let text = number_text(source, item, &f, "an amount like \"15000\"")?;
            let monthly = Money::parse(&text)
                .map_err(|e| source.field_error(item_line(source, item), &f, e.to_string()))?;
            let kind_item = required(source, table, "kind", field, "a charge kind like \"usage\"")?;
            let kind = kind(source, kind_item, &join(field, "kind"))?;
            if (kind == ChargeKind::Refund) != monthly.is_negative() {
                let message = if kind == ChargeKind::Refund {
                    format!("is {text}; a refund line must be negative")
                } else {
                    format!("is {text}; only refund lines may be negative")
                };
                return Err(source.field_error(item_line(source, item), &f, message));
            }
            let profile_item = required(
                source,
                table,
                "billing_profile",
                field,
                "a billing profile name",
            )?;
            let billing_profile = string(source, profile_item, &join(field, "billing_profile"))?;
            let from_item = required(source, table, "from", field, "a month like \"2025-04\"")?;
            let from_month = month(source, from_item, &join(field, "from"))?;
            let to_item = required(source, table, "to", field, "a month like \"2025-12\"")?;
            let to_month = month(source, to_item, &join(field, "to"))?;
            if to_month < from_month {
                return Err(source.field_error(
                    item_line(source, to_item),
                    &join(field, "to"),
                    "is before from; expected from <= to",
                ));
            }
            let account = match table.get("account") {
                Some(i) => Some(string(source, i, &join(field, "account"))?),
                None => None,
            };
            let service = match table.get("service") {
                Some(i) => Some(string(source, i, &join(field, "service"))?),
                None => None,
            };
            Ok(Change::Add {
                monthly,
                kind,
                billing_profile,
                account,
                service,
                from_month,
                to_month,
            })
        }
    }
}

/// `op = "project"`: from, to, and optional growth, scale, window and account.
fn project(source: &Source<'_>, table: &TableRef<'_>, field: &str) -> Result<Change, InputError> {
    let from_item = required(source, table, "from", field, "a month like \"2025-07\"")?;
    let from_month = month(source, from_item, &join(field, "from"))?;
    let to_item = required(source, table, "to", field, "a month like \"2025-12\"")?;
    let to_month = month(source, to_item, &join(field, "to"))?;
    if to_month < from_month {
        return Err(source.field_error(
            item_line(source, to_item),
            &join(field, "to"),
            "is before from; expected from <= to",
        ));
    }
    let factor = |key: &str, lowest: i64| -> Result<Option<Factor>, InputError> {
        let Some(item) = table.get(key) else {
            return Ok(None);
        };
        let f = join(field, key);
        let text = number_text(source, item, &f, "a factor like \"0.02\"")?;
        let factor = Factor::parse(&text)
            .map_err(|e| source.field_error(item_line(source, item), &f, e.to_string()))?;
        if factor.as_money() < Money::from_whole(lowest) {
            return Err(source.field_error(
                item_line(source, item),
                &f,
                format!("is {text}; expected {lowest} or more"),
            ));
        }
        Ok(Some(factor))
    };
    let growth = factor("growth", -1)?;
    let scale = factor("scale", 0)?;
    let window = match table.get("window") {
        None => DEFAULT_PROJECT_WINDOW,
        Some(item) => {
            let f = join(field, "window");
            match &item.value {
                Value::Number {
                    text,
                    integer: true,
                } => text
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=120).contains(n))
                    .ok_or_else(|| {
                        source.field_error(
                            item_line(source, item),
                            &f,
                            format!("is {text}; expected a whole number of months from 1 to 120"),
                        )
                    })?,
                _ => {
                    return Err(source.field_error(
                        item_line(source, item),
                        &f,
                        format!("is {}; expected a number of months like 6", describe(item)),
                    ))
                }
            }
        }
    };
    let account = match table.get("account") {
        Some(i) => Some(string(source, i, &join(field, "account"))?),
        None => None,
    };
    Ok(Change::Project {
        account,
        from_month,
        to_month,
        growth,
        scale,
        window,
    })
}

fn filter(
    source: &Source<'_>,
    change: &TableRef<'_>,
    field: &str,
) -> Result<LineFilter, InputError> {
    let Some(item) = change.get("where") else {
        return Ok(LineFilter::default());
    };
    let field = join(field, "where");
    let Some(table) = as_table(source, item, change.line) else {
        return Err(source.field_error(
            item_line(source, item).or(change.line),
            &field,
            format!("is {}; expected a table ([change.where])", describe(item)),
        ));
    };
    check_keys(source, &table, &field, WHERE_KEYS)?;
    let mut filter = LineFilter::default();
    match (table.get("kind"), table.get("kinds")) {
        (Some(_), Some(_)) => {
            return Err(source.field_error(
                table.key_line(source, "kinds"),
                &join(&field, "kinds"),
                "is given with kind; give one or the other",
            ))
        }
        (Some(k), None) => {
            filter.kinds = Some(KindSet::of(&[kind(source, k, &join(&field, "kind"))?]));
        }
        (None, Some(k)) => {
            let f = join(&field, "kinds");
            let Value::Array(array) = &k.value else {
                return Err(source.field_error(
                    item_line(source, k),
                    &f,
                    format!(
                        "is {}; expected an array of charge kinds like [\"usage\"]",
                        describe(k)
                    ),
                ));
            };
            let mut set = KindSet::EMPTY;
            for (i, v) in array.iter().enumerate() {
                set.insert(kind(source, v, &format!("{f}[{i}]"))?);
            }
            filter.kinds = Some(set);
        }
        (None, None) => {}
    }
    let text = |key: &str| -> Result<Option<String>, InputError> {
        table
            .get(key)
            .map(|i| string(source, i, &join(&field, key)))
            .transpose()
    };
    filter.service = text("service")?;
    filter.billing_profile = text("billing_profile")?;
    filter.account = text("account")?;
    filter.from = table
        .get("from")
        .map(|i| date(source, i, &join(&field, "from")))
        .transpose()?;
    filter.to = table
        .get("to")
        .map(|i| date(source, i, &join(&field, "to")))
        .transpose()?;
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if to < from {
            return Err(source.field_error(
                table.key_line(source, "to"),
                &join(&field, "to"),
                format!("{to} is before from {from}"),
            ));
        }
    }
    Ok(filter)
}

// ---------------------------------------------------------------------------------------------
// Replaced terms.

/// The `[agreement]` table of a scenario, ready to merge into recorded agreements.
#[derive(Clone, Debug)]
pub struct Overlay {
    file: PathBuf,
    /// Only the agreement of this account is replaced (all, when `None`).
    account: Option<String>,
    table: toml::Table,
    /// Agreement-reader field paths (`macc "m" amount`) → line in the scenario file.
    lines: BTreeMap<String, u64>,
    /// The line of `[agreement]`.
    line: Option<u64>,
}

/// The agreement lists whose entries are matched by id.
const ITEM_LISTS: &[&str] = &["macc", "caco", "credit"];

impl Overlay {
    fn read(source: &Source<'_>, item: &Node, line: Option<u64>) -> Result<Overlay, InputError> {
        let Some(table) = as_table(source, item, line) else {
            return Err(source.field_error(
                line,
                "agreement",
                format!("is {}; expected a table ([agreement])", describe(item)),
            ));
        };
        let mut overlay = Overlay {
            file: source.file.to_path_buf(),
            account: None,
            table: toml::Table::new(),
            lines: BTreeMap::new(),
            line,
        };
        for entry in table.entries {
            let (key, value) = (entry.key.as_str(), &entry.node);
            let key_at = entry.at.map(|at| source.line(at));
            let field = format!("agreement {key}");
            if let Some(l) = key_at {
                overlay.lines.insert(key.to_string(), l);
            }
            if key == "account" {
                overlay.account = Some(string(source, value, &field)?);
                continue;
            }
            if ITEM_LISTS.contains(&key) {
                let mut items = Vec::new();
                for t in tables(source, value, &field, key_at)? {
                    let id = match t.get("id") {
                        Some(i) => string(source, i, &format!("{field} id"))?,
                        None => return Err(source.field_error(
                            t.line,
                            &format!("{field} id"),
                            "is missing; every entry needs the id of the item it replaces or adds",
                        )),
                    };
                    let path = format!("{key} \"{id}\"");
                    note_lines(source, &t, &path, &mut overlay.lines);
                    items.push(toml::Value::Table(to_table(t.entries)));
                }
                overlay
                    .table
                    .insert(key.to_string(), toml::Value::Array(items));
                continue;
            }
            overlay.table.insert(key.to_string(), to_value(value));
        }
        Ok(overlay)
    }

    /// The recorded agreement with this overlay's terms.
    pub fn apply(&self, recorded: &Agreement) -> Result<Agreement, InputError> {
        if self
            .account
            .as_ref()
            .is_some_and(|a| *a != recorded.account)
        {
            return Ok(recorded.clone());
        }
        let mut merged = render_agreement(recorded);
        for (key, value) in &self.table {
            if ITEM_LISTS.contains(&key.as_str()) {
                merge_items(&mut merged, key, value);
            } else {
                merged.insert(key.clone(), value.clone());
            }
        }
        let text = toml::to_string(&merged).map_err(|e| {
            InputError::new(
                &self.file,
                format!("agreement: the replaced terms cannot be written: {e}"),
            )
            .at_line_opt(self.line)
        })?;
        parse_agreement(&self.file, &text, AgreementFormat::Toml).map_err(|e| self.locate(e))
    }

    /// Point an error of the merged agreement at the scenario key behind it.
    fn locate(&self, mut e: InputError) -> InputError {
        let mut line = self.line;
        if let Some(field) = &e.field {
            let mut path = field.as_str();
            loop {
                if let Some(&l) = self.lines.get(path) {
                    line = Some(l);
                    break;
                }
                match path.rfind(' ') {
                    Some(i) => path = &path[..i],
                    None => break,
                }
            }
        }
        e.line = line;
        e.field = Some(match e.field.take() {
            Some(f) => format!("agreement {f}"),
            None => "agreement".into(),
        });
        e
    }
}

/// Replace or add items of a list (`macc`, `caco`, `credit`) by id.
fn merge_items(merged: &mut toml::Table, key: &str, overlay: &toml::Value) {
    let list = merged
        .entry(key.to_string())
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    let toml::Value::Array(list) = list else {
        return;
    };
    let toml::Value::Array(items) = overlay else {
        return;
    };
    for item in items {
        let toml::Value::Table(item) = item else {
            continue;
        };
        let id = item.get("id").and_then(|v| v.as_str());
        let existing = list.iter_mut().find_map(|v| match v {
            toml::Value::Table(t) if t.get("id").and_then(|v| v.as_str()) == id => Some(t),
            _ => None,
        });
        match existing {
            Some(existing) => {
                for (k, v) in item {
                    existing.insert(k.clone(), v.clone());
                }
            }
            None => list.push(toml::Value::Table(item.clone())),
        }
    }
}

/// Lines of the keys of an overlay item, and of its milestones, under agreement-reader paths.
fn note_lines(
    source: &Source<'_>,
    table: &TableRef<'_>,
    path: &str,
    lines: &mut BTreeMap<String, u64>,
) {
    if let Some(l) = table.line.or_else(|| table.key_line(source, "id")) {
        lines.insert(path.to_string(), l);
    }
    for entry in table.entries {
        let key = entry.key.as_str();
        let key_at = entry.at.map(|at| source.line(at));
        if let Some(l) = key_at {
            lines.insert(format!("{path} {key}"), l);
        }
        if key == "milestones" {
            if let Ok(milestones) = tables(source, &entry.node, key, key_at) {
                for m in milestones {
                    if let Some(Value::Str(id)) = m.get("id").map(|i| &i.value) {
                        note_lines(source, &m, &format!("{path} milestone \"{id}\""), lines);
                    }
                }
            }
        }
    }
}

fn to_table(entries: &[Entry]) -> toml::Table {
    entries
        .iter()
        .map(|e| (e.key.clone(), to_value(&e.node)))
        .collect()
}

/// A scenario value as a `toml::Value`; a fractional number becomes the string of its digits
/// as written, so an amount is never read through a binary float.
fn to_value(node: &Node) -> toml::Value {
    let datetime = |text: &str| {
        text.parse::<toml::value::Datetime>().map_or_else(
            |_| toml::Value::String(text.to_string()),
            toml::Value::Datetime,
        )
    };
    match &node.value {
        Value::Str(s) => toml::Value::String(s.clone()),
        Value::Number {
            text,
            integer: true,
        } => text
            .parse::<i64>()
            .map_or_else(|_| toml::Value::String(text.clone()), toml::Value::Integer),
        Value::Number { text, .. } => toml::Value::String(text.clone()),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Date(d) => datetime(&d.to_string()),
        Value::DateTime(text) => datetime(text),
        Value::Array(items) => toml::Value::Array(items.iter().map(to_value).collect()),
        Value::Table(entries) => toml::Value::Table(to_table(entries)),
        Value::Null => toml::Value::String(String::new()),
    }
}

/// An agreement in the agreement-file shape (INTERFACE.md), every term spelled out, so that
/// reading it back gives the same agreement.
pub fn render_agreement(a: &Agreement) -> toml::Table {
    toml::Table::try_from(AgreementFile::of(a)).expect("an agreement file is a TOML table")
}

/// The agreement file's keys; amounts and dates as the strings the file would hold.
#[derive(Serialize)]
struct AgreementFile<'a> {
    account: &'a str,
    currency: &'a str,
    rulebook: u32,
    credit_order: &'static str,
    prepayment_term_months: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_earned_credit_rate: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    eligible_publishers: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    eligible_offers: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    macc: Vec<MaccFile<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    caco: Vec<CacoFile<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    credit: Vec<CreditFile<'a>>,
}

#[derive(Serialize)]
struct MaccFile<'a> {
    id: &'a str,
    amount: String,
    start: String,
    end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    purchased: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    renewed: Option<bool>,
    shortfall_credit_months: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    milestones: Vec<MaccMilestoneFile<'a>>,
}

#[derive(Serialize)]
struct MaccMilestoneFile<'a> {
    id: &'a str,
    due: String,
    target: String,
}

#[derive(Serialize)]
struct CacoFile<'a> {
    id: &'a str,
    start: String,
    basis: &'static str,
    award_months: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    milestones: Vec<CacoMilestoneFile<'a>>,
}

#[derive(Serialize)]
struct CacoMilestoneFile<'a> {
    id: &'a str,
    start: String,
    end: String,
    target: String,
    award: String,
}

#[derive(Serialize)]
struct CreditFile<'a> {
    id: &'a str,
    kind: &'static str,
    amount: String,
    start: String,
    expires: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    covers: Option<Vec<&'static str>>,
}

impl<'a> AgreementFile<'a> {
    fn of(a: &'a Agreement) -> AgreementFile<'a> {
        let t = &a.terms;
        AgreementFile {
            account: &a.account,
            currency: &a.currency,
            rulebook: u32::from(t.rulebook_version),
            credit_order: t.credit_order.name(),
            prepayment_term_months: t.prepayment_term_months,
            partner_earned_credit_rate: t.partner_earned_credit_rate.map(|r| r.to_string()),
            eligible_publishers: &t.eligible_publishers,
            eligible_offers: &t.eligible_offers,
            macc: a.maccs.iter().map(MaccFile::of).collect(),
            caco: a.cacos.iter().map(CacoFile::of).collect(),
            credit: a.credits.iter().map(CreditFile::of).collect(),
        }
    }
}

impl<'a> MaccFile<'a> {
    fn of(m: &'a MaccTerms) -> MaccFile<'a> {
        MaccFile {
            id: &m.id,
            amount: m.amount.to_plain_string(),
            start: m.start.to_string(),
            end: m.end.to_string(),
            purchased: m.purchased.map(|d| d.to_string()),
            enrollment_end: m.enrollment_end.map(|d| d.to_string()),
            renewed: m.renewed,
            shortfall_credit_months: m.shortfall_credit_months,
            milestones: m
                .milestones
                .iter()
                .map(|ms| MaccMilestoneFile {
                    id: &ms.id,
                    due: ms.due.to_string(),
                    target: ms.target.to_plain_string(),
                })
                .collect(),
        }
    }
}

impl<'a> CacoFile<'a> {
    fn of(c: &'a CacoTerms) -> CacoFile<'a> {
        CacoFile {
            id: &c.id,
            start: c.start.to_string(),
            basis: c.basis.name(),
            award_months: c.award_months,
            milestones: c
                .milestones
                .iter()
                .map(|ms| CacoMilestoneFile {
                    id: &ms.id,
                    start: ms.start.to_string(),
                    end: ms.end.to_string(),
                    target: ms.target.to_plain_string(),
                    award: ms.award.to_plain_string(),
                })
                .collect(),
        }
    }
}

impl<'a> CreditFile<'a> {
    fn of(c: &'a CreditTerms) -> CreditFile<'a> {
        CreditFile {
            id: &c.id,
            kind: c.kind.name(),
            amount: c.amount.to_plain_string(),
            start: c.start.to_string(),
            expires: c.expires.to_string(),
            covers: c.covers.map(|k| k.iter().map(|k| k.name()).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::agreement::{
        AccountTerms, CacoBasis, CacoMilestoneTerms, CreditOrder, MaccMilestoneTerms,
    };
    use ledger_core::CreditKind;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn agreement() -> Agreement {
        Agreement {
            account: "contoso:east".into(),
            currency: "USD".into(),
            terms: AccountTerms {
                credit_order: CreditOrder::OldestFirst,
                prepayment_term_months: 24,
                partner_earned_credit_rate: Some(Factor::parse("0.15").unwrap()),
                eligible_publishers: vec!["Contoso Ltd".into()],
                eligible_offers: vec![],
                ..AccountTerms::default()
            },
            maccs: vec![
                MaccTerms {
                    id: "macc-2025".into(),
                    amount: m("50000.125"),
                    start: d("2025-05-01"),
                    end: d("2028-04-30"),
                    purchased: Some(d("2025-04-20")),
                    enrollment_end: Some(d("2029-04-30")),
                    renewed: Some(false),
                    shortfall_credit_months: 6,
                    milestones: vec![MaccMilestoneTerms {
                        id: "M1".into(),
                        due: d("2026-04-30"),
                        target: m("15000"),
                    }],
                },
                MaccTerms {
                    id: "macc-2028".into(),
                    amount: m("0.000000000000000000000001"),
                    start: d("2028-05-01"),
                    end: d("2029-04-30"),
                    purchased: None,
                    enrollment_end: None,
                    renewed: None,
                    shortfall_credit_months: 12,
                    milestones: vec![],
                },
            ],
            cacos: vec![CacoTerms {
                id: "caco-1".into(),
                start: d("2025-01-01"),
                basis: CacoBasis::Cumulative,
                award_months: 9,
                milestones: vec![
                    CacoMilestoneTerms {
                        id: "Milestone1".into(),
                        start: d("2025-01-01"),
                        end: d("2025-03-31"),
                        target: m("30000"),
                        award: m("3000"),
                    },
                    CacoMilestoneTerms {
                        id: "Milestone2".into(),
                        start: d("2025-04-01"),
                        end: d("2025-06-30"),
                        target: m("60000"),
                        award: m("4000"),
                    },
                ],
            }],
            credits: vec![
                CreditTerms {
                    id: "aco-1".into(),
                    kind: CreditKind::Aco,
                    amount: m("500"),
                    start: d("2024-01-01"),
                    expires: d("2024-12-31"),
                    covers: Some(KindSet::of(&[ChargeKind::Usage, ChargeKind::Support])),
                },
                CreditTerms {
                    id: "prepay".into(),
                    kind: CreditKind::Prepayment,
                    amount: m("1200"),
                    start: d("2024-01-01"),
                    expires: d("2025-01-01"),
                    covers: None,
                },
            ],
        }
    }

    fn round_trip(a: &Agreement) -> Agreement {
        let text = toml::to_string(&render_agreement(a)).unwrap();
        parse_agreement(Path::new("rendered.toml"), &text, AgreementFormat::Toml)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_rendered_agreement_reads_back_the_same() {
        let a = agreement();
        assert_eq!(round_trip(&a), a);
        let minimal = Agreement {
            account: "a".into(),
            currency: "EUR".into(),
            terms: AccountTerms::default(),
            maccs: vec![],
            cacos: vec![],
            credits: vec![],
        };
        assert_eq!(round_trip(&minimal), minimal);
    }

    fn scenario(text: &str) -> Result<ScenarioFile, InputError> {
        parse_scenario(Path::new("s.toml"), text)
    }

    fn error(text: &str) -> String {
        scenario(text).expect_err("refused").to_string()
    }

    #[test]
    fn reads_the_interface_md_example() {
        let s = scenario(
            r#"
[[change]]
op = "scale"             # scale | drop | add
factor = "1.5"
[change.where]
kind = "usage"
service = "Virtual Machines"
billing_profile = "Engineering"
from = "2025-04-01"
to = "2025-12-31"

[[change]]
op = "add"
monthly = "15000"
kind = "usage"
billing_profile = "Engineering"
from = "2025-04"
to = "2025-12"

[[change]]
op = "drop"
where = { kinds = ["marketplace", "support"], account = "contoso" }

[[change]]
op = "scale"
factor = 0.80
"#,
        )
        .unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.change_lines, [Some(2), Some(12), Some(20), Some(24)]);
        assert_eq!(
            s.changes,
            [
                Change::Scale {
                    filter: LineFilter {
                        kinds: Some(KindSet::of(&[ChargeKind::Usage])),
                        service: Some("Virtual Machines".into()),
                        billing_profile: Some("Engineering".into()),
                        account: None,
                        from: Some(d("2025-04-01")),
                        to: Some(d("2025-12-31")),
                    },
                    factor: Factor::parse("1.5").unwrap(),
                },
                Change::Add {
                    monthly: m("15000"),
                    kind: ChargeKind::Usage,
                    billing_profile: "Engineering".into(),
                    account: None,
                    service: None,
                    from_month: d("2025-04-01"),
                    to_month: d("2025-12-01"),
                },
                Change::Drop {
                    filter: LineFilter {
                        kinds: Some(KindSet::of(&[ChargeKind::Marketplace, ChargeKind::Support])),
                        account: Some("contoso".into()),
                        ..LineFilter::default()
                    },
                },
                Change::Scale {
                    filter: LineFilter::default(),
                    factor: Factor::parse("0.8").unwrap(),
                },
            ]
        );
        assert!(s.agreement.is_none());
    }

    #[test]
    fn refusals_name_the_line_and_the_key() {
        for (text, want) in [
            ("[[change]]\nop = \"grow\"\n", "s.toml:2: change[0] op: 'grow' is not an op (expected one of: scale, drop, add, project)"),
            ("[[change]]\nop = \"scale\"\nfactor = \"1,5\"\n", "s.toml:3: change[0] factor: '1,5' is not a decimal amount"),
            ("[[change]]\nop = \"scale\"\n", "s.toml:1: change[0] factor: is missing; expected a factor like \"0.8\""),
            ("[[change]]\nop = \"scale\"\nfactor = \"-1\"\n", "s.toml:3: change[0] factor: is -1; a scale factor is 0 or more"),
            ("[[change]]\nop = \"drop\"\nmonthly = \"5\"\n", "s.toml:3: change[0] monthly: does not apply to op = \"drop\" (its keys: where)"),
            ("[[change]]\nop = \"drop\"\n[change.where]\nkind = \"usage\"\nfrom = \"2025-13-01\"\n", "s.toml:5: change[0] where from: '2025-13-01' is not a date"),
            ("[[change]]\nop = \"drop\"\n[change.where]\nkindz = \"usage\"\n", "s.toml:4: change[0] where kindz: unknown key 'kindz'; expected one of:"),
            ("[[change]]\nop = \"drop\"\n[change.where]\nkind = \"compute\"\n", "s.toml:4: change[0] where kind: 'compute' is not a charge kind"),
            ("[[change]]\nop = \"add\"\nmonthly = \"15000\"\nkind = \"usage\"\nbilling_profile = \"E\"\nfrom = \"2025-4\"\nto = \"2025-12\"\n", "s.toml:6: change[0] from: '2025-4' is not a month (expected YYYY-MM"),
            ("[[change]]\nop = \"add\"\nmonthly = \"-5\"\nkind = \"usage\"\nbilling_profile = \"E\"\nfrom = \"2025-04\"\nto = \"2025-12\"\n", "s.toml:3: change[0] monthly: is -5; only refund lines may be negative"),
            ("[[change]]\nop = \"add\"\nmonthly = \"5\"\nkind = \"usage\"\nbilling_profile = \"E\"\nfrom = \"2025-04\"\nto = \"2025-01\"\n", "s.toml:7: change[0] to: is before from"),
            ("scenario = 1\n", "s.toml:1: scenario: unknown key 'scenario'; expected one of: name, change, agreement"),
            ("[[change]]\nop = \"scale\"\nfactor = \"1\"\n[[change]]\nop = 5\n", "s.toml:5: change[1] op: is the number 5; expected a string"),
            ("[agreement]\n[[agreement.macc]]\namount = \"5\"\n", "s.toml:2: agreement macc id: is missing"),
            ("[[change]\n", "s.toml:1: is not valid TOML"),
        ] {
            let got = error(text);
            assert!(got.starts_with(want), "for\n{text}\ngot  {got}\nwant {want}");
        }
    }

    fn overlay_of(text: &str) -> impl Fn(&Agreement) -> Result<Agreement, String> {
        let overlay = scenario(text)
            .unwrap()
            .agreement
            .expect("an [agreement] table");
        move |a| overlay.apply(a).map_err(|e| e.to_string())
    }

    #[test]
    fn replaced_terms_merge_by_id() {
        let recorded = agreement();
        let overlay = overlay_of(
            r#"
[agreement]
partner_earned_credit_rate = 0.2
[[agreement.macc]]
id = "macc-2025"
amount = 60000.50
[[agreement.caco]]
id = "caco-1"
  [[agreement.caco.milestones]]
  id = "Milestone1"
  start = 2025-01-01
  end = 2025-06-30
  target = "20000"
  award = "5000"
[[agreement.credit]]
id = "goodwill-1"
kind = "goodwill"
amount = "250"
start = "2025-01-01"
expires = "2025-12-31"
"#,
        );
        let a = overlay(&recorded).unwrap();
        let mut want = recorded.clone();
        want.terms.partner_earned_credit_rate = Some(Factor::parse("0.2").unwrap());
        want.maccs[0].amount = m("60000.50");
        want.cacos[0].milestones = vec![CacoMilestoneTerms {
            id: "Milestone1".into(),
            start: d("2025-01-01"),
            end: d("2025-06-30"),
            target: m("20000"),
            award: m("5000"),
        }];
        want.credits.push(CreditTerms {
            id: "goodwill-1".into(),
            kind: CreditKind::Goodwill,
            amount: m("250"),
            start: d("2025-01-01"),
            expires: d("2025-12-31"),
            covers: None,
        });
        assert_eq!(a, want);

        // `account` selects: another account's agreement passes through.
        let overlay = overlay_of("[agreement]\naccount = \"fabrikam\"\ncurrency = \"EUR\"\n");
        assert_eq!(overlay(&recorded).unwrap(), recorded);
    }

    #[test]
    fn bad_replaced_terms_name_the_scenario_line_and_key() {
        let recorded = agreement();
        for (text, want) in [
            (
                "name = \"x\"\n[agreement]\n[[agreement.macc]]\nid = \"macc-2025\"\namount = \"lots\"\n",
                "s.toml:5: agreement macc \"macc-2025\" amount: 'lots' is not a decimal amount",
            ),
            (
                "[agreement]\n[[agreement.macc]]\nid = \"macc-2025\"\nstart = \"2030-01-01\"\n",
                // `end` is not in the scenario: the entry that changed `start` is named.
                "s.toml:2: agreement macc \"macc-2025\" end: 2028-04-30 is before its start 2030-01-01",
            ),
            (
                "[agreement]\ncredit_ordr = \"oldest-first\"\n",
                "s.toml:2: agreement credit_ordr: unknown key 'credit_ordr' (did you mean 'credit_order'?)",
            ),
            (
                "[agreement]\n[[agreement.caco]]\nid = \"caco-1\"\n[[agreement.caco.milestones]]\nid = \"M\"\nstart = \"2025-01-01\"\nend = \"2025-02-01\"\ntarget = \"x\"\naward = \"1\"\n",
                "s.toml:8: agreement caco \"caco-1\" milestone \"M\" target: 'x' is not a decimal amount",
            ),
        ] {
            let got = overlay_of(text)(&recorded).expect_err("refused");
            assert!(got.starts_with(want), "for\n{text}\ngot  {got}\nwant {want}");
        }
    }
}
