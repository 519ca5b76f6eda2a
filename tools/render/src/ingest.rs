//! One line a person reads after a charge file is ingested, and counts grouped for people.

use ledger_app::ingest::FileOutcome;
use ledger_app::input::{InputFormat, SkipReason};

/// One line a person reads after a file is ingested. Native files: `charges.csv: 12 lines in
/// 2 invoices: 2 settled in 0.01 s`. Exports also say the format, the rows read and the rows
/// skipped by reason: `export.csv (FOCUS): 1,000 rows, 51 lines in 1 invoices: 1 settled;
/// 949 rows skipped: 949 of other providers (AWS 942, Oracle 7); in 0.02 s`.
pub fn describe(outcome: &FileOutcome) -> String {
    let native = outcome.format == InputFormat::Native.name();
    let name = if native {
        outcome.file.display().to_string()
    } else {
        let label = [InputFormat::Focus, InputFormat::Azure]
            .into_iter()
            .find(|f| f.name() == outcome.format)
            .map(InputFormat::label)
            .unwrap_or(outcome.format);
        let parts = if outcome.parts > 1 {
            format!(", {} parts", outcome.parts)
        } else {
            String::new()
        };
        format!("{} ({label}{parts})", outcome.file.display())
    };
    let skipped = skipped_text(outcome);
    if outcome.pending {
        return pending_text(&name, outcome, &skipped);
    }
    if outcome.settled == 0 && outcome.already_settled > 0 {
        if let Some(run) = &outcome.run {
            return format!(
                "{name}: skipped run {} (content digest {}): already ingested: all {} invoices were settled before with the same content (R-IDEM-1); nothing changed{skipped}",
                run.id.as_deref().unwrap_or("without id"),
                run.digest.get(..16).unwrap_or(&run.digest),
                outcome.already_settled
            );
        }
        return format!(
            "{name}: already ingested: all {} invoices were settled before with the same content (R-IDEM-1); nothing changed{skipped}",
            outcome.already_settled
        );
    }
    let rows = if native {
        String::new()
    } else {
        format!("{} rows, ", group(outcome.rows))
    };
    if outcome.invoices == 0 {
        return format!("{name}: {rows}no charge lines; nothing to settle{skipped}");
    }
    let mut text = format!(
        "{name}: {rows}{} lines in {} invoices: {} settled",
        group(outcome.lines),
        group(outcome.invoices),
        group(outcome.settled)
    );
    if outcome.already_settled > 0 {
        text.push_str(&format!(
            ", {} already settled with the same content (skipped, R-IDEM-1)",
            outcome.already_settled
        ));
    }
    if !skipped.is_empty() {
        text.push_str(&skipped);
        text.push(';');
    }
    text.push_str(&format!(" in {:.2} s", outcome.seconds));
    if outcome.lines_settled >= 100_000 {
        text.push_str(&format!(
            " ({} lines/s)",
            group(outcome.lines_per_second as u64)
        ));
    }
    text
}

/// A file read as pending (month-to-date) data: `mtd.csv: 4 lines in 1 invoices: 1 recorded
/// as pending (estimates, not settled; R-PEND) in 0.01 s`.
fn pending_text(name: &str, outcome: &FileOutcome, skipped: &str) -> String {
    let mut text = format!(
        "{name}: {} lines in {} invoices: {} recorded as pending (estimates, not settled; R-PEND)",
        group(outcome.lines),
        group(outcome.invoices),
        group(outcome.settled)
    );
    if outcome.already_settled > 0 {
        text.push_str(&format!(
            ", {} unchanged (the same run is current, or its period's invoice is settled)",
            outcome.already_settled
        ));
    }
    text.push_str(skipped);
    text.push_str(&format!(" in {:.2} s", outcome.seconds));
    text
}

/// `; 949 rows skipped: 949 of other providers (AWS 942, Oracle 7), 1 credits (...)`, or
/// nothing.
fn skipped_text(outcome: &FileOutcome) -> String {
    let total = outcome.rows_skipped();
    if total == 0 {
        return String::new();
    }
    let mut parts = Vec::new();
    for reason in SkipReason::ALL {
        let Some(&n) = outcome.skipped.get(reason.name()) else {
            continue;
        };
        let mut part = format!("{} {}", group(n), reason.describe());
        if reason == SkipReason::OtherProvider && !outcome.skipped_providers.is_empty() {
            let names: Vec<String> = outcome
                .skipped_providers
                .iter()
                .map(|(p, n)| format!("{p} {}", group(*n)))
                .collect();
            part.push_str(&format!(" ({})", names.join(", ")));
        }
        parts.push(part);
    }
    format!("; {} rows skipped: {}", group(total), parts.join(", "))
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    ledger_app::core::money::group_thousands(&n.to_string())
}
