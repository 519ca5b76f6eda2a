//! `$filter`: the OData subset the Consumption lots and events APIs take.
//!
//! ```text
//! filter := ' '* clause (' '+ "and" ' '+ clause)* ' '*
//! clause := field ' '+ "eq" ' '+ value
//! value  := "'" (any character but "'" | "''")* "'"      ('' is a quote inside the value)
//! ```
//!
//! Field names, `eq` and `and` are case-insensitive, and so is the comparison of values
//! (`status eq 'active'` matches `Active`). Lots take `source`, `status` and `lotId`; events take
//! `lotSource`, `lotId` and `eventType`. [`pattern`] is the same grammar as a regular expression, for the
//! OpenAPI document: the two must accept exactly the same strings (a test checks examples).

use ledger_app::replay::views::{EventRow, LotRow};

use super::error::ApiError;
use super::params::shorten;

/// What a filter is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Lots,
    Events,
}

/// A filterable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Lots: the Lots API `source`.
    Source,
    /// Lots: the Lots API `status`.
    Status,
    /// Lots and events: the lot's name (`macc-2025`).
    LotId,
    /// Events: the source of the event's lot.
    LotSource,
    /// Events: `SettledCharges`, `NewCredit`, `PendingExpiredCredit`, ...
    EventType,
}

impl Target {
    /// (name in lowercase, name as documented, field).
    fn fields(self) -> &'static [(&'static str, &'static str, Field)] {
        match self {
            Target::Lots => &[
                ("source", "source", Field::Source),
                ("status", "status", Field::Status),
                ("lotid", "lotId", Field::LotId),
            ],
            Target::Events => &[
                ("lotsource", "lotSource", Field::LotSource),
                ("lotid", "lotId", Field::LotId),
                ("eventtype", "eventType", Field::EventType),
            ],
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Target::Lots => "lots",
            Target::Events => "events",
        }
    }

    fn field_list(self) -> String {
        let names: Vec<&str> = self.fields().iter().map(|f| f.1).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

/// One `field eq 'value'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    pub field: Field,
    pub value: String,
}

/// A parsed `$filter`: every clause must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub clauses: Vec<Clause>,
}

impl Filter {
    /// The first value given for `field`, to narrow the read model's own filter.
    pub fn first(&self, field: Field) -> Option<String> {
        self.clauses
            .iter()
            .find(|c| c.field == field)
            .map(|c| c.value.clone())
    }

    /// Whether every clause holds, given the value of each field (`None`: the field does not
    /// apply, which [`parse`] never lets a filter name).
    fn holds<'a>(&self, value: impl Fn(Field) -> Option<&'a str>) -> bool {
        self.clauses
            .iter()
            .all(|c| value(c.field).unwrap_or("").eq_ignore_ascii_case(&c.value))
    }

    pub fn matches_lot(&self, row: &LotRow) -> bool {
        self.holds(|field| match field {
            Field::LotId => Some(&row.name),
            Field::Source | Field::LotSource => Some(row.source),
            Field::Status => Some(row.status.name()),
            Field::EventType => None,
        })
    }

    pub fn matches_event(&self, row: &EventRow<'_>) -> bool {
        let e = row.event;
        self.holds(|field| match field {
            Field::LotId => Some(&e.lot),
            Field::Source | Field::LotSource => Some(&e.lot_source),
            Field::EventType => Some(&e.event_type),
            Field::Status => None,
        })
    }
}

fn invalid(target: Target, text: &str, why: String) -> ApiError {
    ApiError::bad_request(
        "InvalidFilter",
        format!(
            "$filter '{}' is invalid: {why}. {} can be filtered with eq on {}, clauses joined by and, values in single quotes, e.g. {}",
            shorten(text),
            capitalize(target.noun()),
            target.field_list(),
            match target {
                Target::Lots => "$filter=source eq 'ConsumptionCommitment' and status eq 'Active'",
                Target::Events => "$filter=lotSource eq 'ConsumptionCommitment' and eventType eq 'SettledCharges'",
            }
        ),
    )
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Parse a `$filter` for `target`.
pub fn parse(text: &str, target: Target) -> Result<Filter, ApiError> {
    let b = text.as_bytes();
    let mut at = 0;
    let spaces = |at: &mut usize| {
        let start = *at;
        while b.get(*at) == Some(&b' ') {
            *at += 1;
        }
        *at - start
    };
    let word = |at: &mut usize| {
        let start = *at;
        while b.get(*at).is_some_and(|c| c.is_ascii_alphabetic()) {
            *at += 1;
        }
        &text[start..*at]
    };
    let mut clauses = Vec::new();
    spaces(&mut at);
    loop {
        // field
        let name = word(&mut at);
        if name.is_empty() {
            let why = if at == b.len() {
                "a field name is missing".to_string()
            } else {
                format!(
                    "expected a field name at character {}",
                    char_position(text, at)
                )
            };
            return Err(invalid(target, text, why));
        }
        let lower = name.to_ascii_lowercase();
        let Some(&(_, _, field)) = target.fields().iter().find(|f| f.0 == lower) else {
            return Err(invalid(
                target,
                text,
                format!("'{}' is not a field of {}", shorten(name), target.noun()),
            ));
        };
        if spaces(&mut at) == 0 {
            return Err(invalid(
                target,
                text,
                format!("expected a space and eq after '{name}'"),
            ));
        }
        // operator
        let op = word(&mut at);
        if !op.eq_ignore_ascii_case("eq") {
            let why = if op.is_empty() {
                format!("expected eq after '{name}'")
            } else {
                format!("the operator '{}' is not supported, only eq", shorten(op))
            };
            return Err(invalid(target, text, why));
        }
        if spaces(&mut at) == 0 {
            return Err(invalid(
                target,
                text,
                format!("expected a space and a quoted value after '{name} {op}'"),
            ));
        }
        // value
        if b.get(at) != Some(&b'\'') {
            return Err(invalid(
                target,
                text,
                format!("the value of '{name}' must be in single quotes"),
            ));
        }
        at += 1;
        let mut value = String::new();
        loop {
            let rest = &text[at..];
            let Some(quote) = rest.find('\'') else {
                return Err(invalid(
                    target,
                    text,
                    format!("the value of '{name}' has no closing quote"),
                ));
            };
            value.push_str(&rest[..quote]);
            at += quote + 1;
            if b.get(at) == Some(&b'\'') {
                value.push('\'');
                at += 1;
            } else {
                break;
            }
        }
        clauses.push(Clause { field, value });
        // end, or "and"
        let gap = spaces(&mut at);
        if at == b.len() {
            return Ok(Filter { clauses });
        }
        let joiner = word(&mut at);
        if gap == 0 || !joiner.eq_ignore_ascii_case("and") {
            let why = if joiner.eq_ignore_ascii_case("or") || joiner.eq_ignore_ascii_case("not") {
                format!("'{joiner}' is not supported, only and")
            } else {
                format!(
                    "expected and or the end after the value of '{name}' at character {}",
                    char_position(text, at - joiner.len())
                )
            };
            return Err(invalid(target, text, why));
        }
        if spaces(&mut at) == 0 {
            return Err(invalid(
                target,
                text,
                "expected a space and a clause after and".into(),
            ));
        }
    }
}

fn char_position(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].chars().count() + 1
}

/// A regular expression (ECMA-262, for the OpenAPI document) accepting exactly the filters
/// [`parse`] accepts for `target`.
pub fn pattern(target: Target) -> String {
    fn any_case(word: &str) -> String {
        word.chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
            .collect()
    }
    let fields: Vec<String> = target.fields().iter().map(|f| any_case(f.0)).collect();
    let clause = format!("({}) +{} +'([^']|'')*'", fields.join("|"), any_case("eq"));
    format!("^ *{clause}( +{} +{clause})* *$", any_case("and"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, target: Target, expected: Result<&[(Field, &str)], &str>) {
        let got = parse(text, target);
        match expected {
            Ok(clauses) => {
                let got = got.unwrap_or_else(|e| panic!("{text:?}: {}", e.message));
                let want: Vec<Clause> = clauses
                    .iter()
                    .map(|(f, v)| Clause {
                        field: *f,
                        value: v.to_string(),
                    })
                    .collect();
                assert_eq!(got.clauses, want, "{text:?}");
            }
            Err(fragment) => {
                let e = got.expect_err(text);
                assert_eq!(e.code, "InvalidFilter");
                assert!(e.message.contains(fragment), "{text:?}: {}", e.message);
            }
        }
    }

    #[test]
    fn grammar() {
        use Field::*;
        use Target::*;
        check(
            "source eq 'ConsumptionCommitment'",
            Lots,
            Ok(&[(Source, "ConsumptionCommitment")]),
        );
        check(
            "  SOURCE Eq 'x'  AND   status eq 'active' ",
            Lots,
            Ok(&[(Source, "x"), (Status, "active")]),
        );
        check(
            "lotId eq 'it''s' and lotid eq ''",
            Lots,
            Ok(&[(LotId, "it's"), (LotId, "")]),
        );
        check(
            "lotsource eq 'PromotionalCredit' and LotId eq 'aco-1'",
            Events,
            Ok(&[(LotSource, "PromotionalCredit"), (LotId, "aco-1")]),
        );
        check("lotId eq 'a b and c'", Events, Ok(&[(LotId, "a b and c")]));
        check(
            "eventType eq 'PendingExpiredCredit'",
            Events,
            Ok(&[(EventType, "PendingExpiredCredit")]),
        );
        check(
            "eventtype eq 'x'",
            Lots,
            Err("'eventtype' is not a field of lots"),
        );
        check("", Lots, Err("a field name is missing"));
        check("   ", Lots, Err("a field name is missing"));
        check(
            "source ne 'x'",
            Lots,
            Err("the operator 'ne' is not supported"),
        );
        check("source eq x", Lots, Err("single quotes"));
        check("source eq 'x", Lots, Err("no closing quote"));
        check(
            "source eq 'x' or status eq 'y'",
            Lots,
            Err("'or' is not supported"),
        );
        check(
            "source eq 'x'and status eq 'y'",
            Lots,
            Err("expected and or the end"),
        );
        check(
            "source eq 'x' and",
            Lots,
            Err("expected a space and a clause"),
        );
        check("source eq 'x' and ", Lots, Err("a field name is missing"));
        check(
            "lotsource eq 'x'",
            Lots,
            Err("'lotsource' is not a field of lots"),
        );
        check(
            "status eq 'x'",
            Events,
            Err("'status' is not a field of events"),
        );
        check(
            "properties/source eq 'x'",
            Lots,
            Err("'properties' is not a field of lots"),
        );
        check(
            "source  eq\t'x'",
            Lots,
            Err("expected a space and a quoted value"),
        );
        check("source eq 'x' 'y'", Lots, Err("expected and or the end"));
        check("source eq 'x'\n", Lots, Err("expected and or the end"));
    }

    #[test]
    fn pattern_spells_the_grammar() {
        let fields = "([Ll][Oo][Tt][Ss][Oo][Uu][Rr][Cc][Ee]|[Ll][Oo][Tt][Ii][Dd]|[Ee][Vv][Ee][Nn][Tt][Tt][Yy][Pp][Ee])";
        assert_eq!(
            pattern(Target::Events),
            format!("^ *{fields} +[Ee][Qq] +'([^']|'')*'( +[Aa][Nn][Dd] +{fields} +[Ee][Qq] +'([^']|'')*')* *$")
        );
    }
}
