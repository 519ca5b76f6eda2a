//! What an identifier may be (invoice, account, billing profile, lot and line ids), so that
//! two ids that look the same are the same id, and an id is safe in a key, a URL, a file
//! name and a terminal. The rules (docs/INGEST.md, "Identifiers"):
//!
//! - every id: not empty; no space at either end; no control character (U+0000..U+001F,
//!   U+007F..U+009F); no invisible character: Unicode format characters (category Cf, e.g.
//!   U+200B ZERO WIDTH SPACE, U+FEFF, U+2060, the bidirectional controls), variation selectors,
//!   fillers that draw nothing, and no space other than U+0020 (U+00A0, U+3000, line and
//!   paragraph separators…); in Unicode normalization form NFC, so a composed `é` and `e` + a
//!   combining accent cannot be two ids;
//! - invoice ids: printable ASCII (`!`..`~` and inner spaces), so two invoice ids that look
//!   identical are identical (no Cyrillic `А` for a Latin `A`, no full-width digits); and not
//!   starting with a reserved prefix (`SHORTFALL-`, `WHATIF-`), in any case;
//! - account ids: ASCII letters, digits and `-` `_` `.` `:`, starting with a letter or digit,
//!   without `..` (Azure's `1234:5678` and `GUID:GUID_2019-05-31` are ids; no `/`).

use unicode_normalization::is_nfc;

use crate::fact::RESERVED_INVOICE_PREFIXES;

/// Which kind of identifier is checked (the rules differ, the message names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Invoice,
    Account,
    BillingProfile,
    Lot,
    Line,
}

impl IdKind {
    fn name(self) -> &'static str {
        match self {
            IdKind::Invoice => "an invoice id",
            IdKind::Account => "an account id",
            IdKind::BillingProfile => "a billing profile",
            IdKind::Lot => "a lot id",
            IdKind::Line => "a line id",
        }
    }
}

/// Why a text is not an identifier of its kind: what was found and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// Check `id` against the rules for `kind` (module documentation).
pub fn check_id(kind: IdKind, id: &str) -> Result<(), IdError> {
    let fail = |what: String| Err(IdError(format!("{what}; expected {}", expected(kind))));
    if id.is_empty() {
        return fail("is empty".into());
    }
    if id.starts_with(' ') || id.ends_with(' ') {
        return fail(format!("'{}' has a space at its start or end", shown(id)));
    }
    if let Some(c) = id.chars().find(|&c| invisible(c)) {
        return fail(format!(
            "'{}' contains U+{:04X}, {}",
            shown(id),
            c as u32,
            if c.is_control() {
                "a control character"
            } else {
                "an invisible character or a space other than U+0020"
            }
        ));
    }
    match kind {
        IdKind::Invoice => invoice_rules(id).or_else(fail),
        IdKind::Account => account_rules(id).or_else(fail),
        _ if !id.is_ascii() && !is_nfc(id) => fail(format!(
            "'{}' is not in Unicode normalization form NFC (a character written as a letter and a separate combining mark)",
            shown(id)
        )),
        _ => Ok(()),
    }
}

/// The reserved prefix `id` starts with, compared without regard to ASCII case.
pub fn reserved_prefix(id: &str) -> Option<&'static str> {
    RESERVED_INVOICE_PREFIXES.into_iter().find(|p| {
        id.len() >= p.len() && id.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    })
}

fn invoice_rules(id: &str) -> Result<(), String> {
    if let Some(c) = id.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "'{}' contains '{c}' (U+{:04X}), which is not printable ASCII",
            shown(id),
            c as u32
        ));
    }
    if let Some(prefix) = reserved_prefix(id) {
        return Err(format!(
            "'{}' is reserved: ids starting with {prefix} (in any case) are made by the ledger itself",
            shown(id)
        ));
    }
    Ok(())
}

fn account_rules(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if let Some(c) = id.chars().find(|&c| !allowed(c)) {
        return Err(format!("'{}' contains '{c}'", shown(id)));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "'{}' does not start with a letter or digit",
            shown(id)
        ));
    }
    if id.contains("..") {
        return Err(format!("'{}' contains '..'", shown(id)));
    }
    Ok(())
}

fn expected(kind: IdKind) -> String {
    let what = kind.name();
    match kind {
        IdKind::Invoice => format!("{what} of printable ASCII, not starting with SHORTFALL- or WHATIF-"),
        IdKind::Account => format!(
            "{what} of ASCII letters, digits, '-', '_', '.' and ':' (like 1234:5678), starting with a letter or digit, without '..'"
        ),
        _ => format!("{what} of visible characters in NFC, without spaces at either end"),
    }
}

/// A control character, a format character (Cf), a space other than U+0020, or another
/// character that draws nothing.
fn invisible(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control() || c.is_whitespace() || format_or_blank(c as u32)
}

/// Unicode 15's format characters (Cf) and the other default-ignorable or blank code points
/// that are not whitespace (variation selectors, fillers, the combining grapheme joiner).
fn format_or_blank(u: u32) -> bool {
    matches!(u,
        0x00AD | 0x034F | 0x061C | 0x06DD | 0x070F | 0x08E2 | 0x115F | 0x1160 | 0x17B4 | 0x17B5
        | 0x180E | 0x3164 | 0xFEFF | 0xFFA0 | 0x110BD | 0x110CD | 0xE0001
        | 0x0600..=0x0605 | 0x0890..=0x0891 | 0x180B..=0x180F | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0xFE00..=0xFE0F | 0xFFF0..=0xFFFB
        | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

fn shown(id: &str) -> String {
    let mut text: String = id
        .chars()
        .take(60)
        .map(|c| if invisible(c) { '\u{FFFD}' } else { c })
        .collect();
    if id.chars().count() > 60 {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(kind: IdKind, id: &str) -> String {
        check_id(kind, id).expect_err(id).0
    }

    #[test]
    fn invisible_and_control_characters_and_outer_spaces_are_refused_in_every_id() {
        for kind in [
            IdKind::Invoice,
            IdKind::Account,
            IdKind::BillingProfile,
            IdKind::Lot,
            IdKind::Line,
        ] {
            for id in [
                "A\0B",
                "A\u{200B}B",
                "\u{FEFF}AB",
                "AB\u{2060}",
                "A\u{00A0}B",
                "A\u{202E}B",
                "A\u{3000}B",
                "A\u{2028}B",
                "A\u{FE0F}B",
                "\u{E0041}AB",
                " AB",
                "AB ",
                "",
                "A\tB",
            ] {
                refused(kind, id);
            }
        }
        assert_eq!(
            refused(IdKind::Lot, "p\u{200B}1"),
            "'p\u{FFFD}1' contains U+200B, an invisible character or a space other than U+0020; expected a lot id of visible characters in NFC, without spaces at either end"
        );
        assert!(refused(IdKind::Line, "l\u{0}1").contains("U+0000, a control character"));
    }

    #[test]
    fn invoice_ids_are_printable_ascii_without_a_reserved_prefix_in_any_case() {
        for id in [
            "INV-2025-06",
            "G123456789",
            "E0600ABCD",
            "INV 7 (corrected)",
            "a~b!",
        ] {
            check_id(IdKind::Invoice, id).unwrap();
        }
        // Look-alikes: Cyrillic А, full-width 1, a decomposed é.
        for id in ["INV-\u{0410}1", "INV-\u{FF11}", "INV-e\u{0301}"] {
            assert!(
                refused(IdKind::Invoice, id).contains("not printable ASCII"),
                "{id}"
            );
        }
        for id in ["SHORTFALL-m", "shortfall-m", "Whatif-1", "WHATIF-"] {
            assert!(refused(IdKind::Invoice, id).contains("is reserved"), "{id}");
        }
        check_id(IdKind::Invoice, "SHORTFALL").unwrap();
        assert_eq!(reserved_prefix("wHaTiF-x"), Some("WHATIF-"));
    }

    #[test]
    fn account_ids_are_a_safe_set_that_admits_azures() {
        for id in [
            "contoso",
            "1234:5678",
            "7ca289b9-c32d-5f7d-a4b3-4f6d5e1b3a2c:0f5b8b3c-1e2d-4c5b-9a6f-2b3c4d5e6f70_2019-05-31",
            "smb-customer",
            "a.b",
        ] {
            check_id(IdKind::Account, id).unwrap();
        }
        assert!(refused(IdKind::Account, "a/b").contains("contains '/'"));
        assert!(refused(IdKind::Account, "a..b").contains("contains '..'"));
        assert!(refused(IdKind::Account, "..").contains("does not start"));
        assert!(refused(IdKind::Account, ".hidden").contains("does not start"));
        assert!(refused(IdKind::Account, "a b").contains("contains ' '"));
        assert!(refused(IdKind::Account, "k\u{00F6}ln").contains("contains"));
    }

    #[test]
    fn other_ids_may_be_any_visible_text_in_nfc() {
        for id in [
            "Contoso Ltd",
            "Finanzabteilung M\u{00FC}ller",
            "\u{65E5}\u{672C}",
            "p/1",
        ] {
            check_id(IdKind::BillingProfile, id).unwrap();
            check_id(IdKind::Lot, id).unwrap();
        }
        assert!(refused(IdKind::BillingProfile, "Mu\u{0308}ller").contains("NFC"));
    }
}
