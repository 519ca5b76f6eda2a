//! `ledger reconcile EVENTS.json [LOTS.json] [--json]`: Azure's reported events (and lots)
//! against the ledger's, through `ledger_replay::reconcile`. Exits 1 when anything differs
//! by more than 0.01, after printing every difference with the ledger's trace for it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ledger_core::Money;
use ledger_replay::reconcile::{
    attach_traces, parse_events, parse_lots, reconcile, InvoiceDifference, InvoiceFigures,
    LotDifference, ReadError, Reconciliation,
};
use ledger_replay::trace::TracedEvent;

use crate::input::InputError;
use crate::session::{Failure, Session};

/// `ledger reconcile EVENTS.json [LOTS.json] [--json]`.
#[derive(clap::Args, Debug)]
pub struct ReconcileArgs {
    /// Azure's events: a Consumption Events API response (`{"value": [...]}`) or its array.
    #[arg(value_name = "EVENTS.json")]
    pub events: PathBuf,
    /// Azure's lots: a Consumption Lots API response, compared lot by lot.
    #[arg(value_name = "LOTS.json")]
    pub lots: Option<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

fn read<T>(path: &Path, parse: fn(&str) -> Result<T, ReadError>) -> Result<T, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError::io(path, "cannot read", &e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| InputError::new(path, "is not UTF-8 text (expected Azure's JSON)"))?;
    parse(&text).map_err(|e| match e {
        ReadError::Syntax {
            message,
            line,
            column,
        } => InputError::new(
            path,
            format!("is not valid JSON: {message} (column {column})"),
        )
        .at_line(line as u64),
        ReadError::Field { field, message } => InputError::new(path, message).in_field(field),
    })
}

pub fn run(data: &Path, args: &ReconcileArgs) -> Result<String, Failure> {
    let events = read(&args.events, parse_events)?;
    let lots = match &args.lots {
        Some(path) => Some(read(path, parse_lots)?),
        None => None,
    };
    let session = Session::open_for_read(data, "reconcile")?;
    let mut found = reconcile(&session.projections, &events, lots.as_ref());
    attach_traces(&session.store, &mut found).map_err(|e| Failure::new(e.to_string()))?;
    let text = if args.json {
        serde_json::to_string_pretty(&found).expect("serializes") + "\n"
    } else {
        render(&found)
    };
    if found.differs() {
        print!("{text}");
        return Err(Failure::new(format!(
            "reconcile: {} difference(s) over 0.01 between Azure's figures and the ledger's (listed on stdout)",
            found.difference_count()
        )));
    }
    Ok(text)
}

fn money(m: Money) -> String {
    m.to_display(2)
}

fn signed(m: Money) -> String {
    ledger_replay::whatif::signed(m)
}

fn figures(label: &str, f: &Option<InvoiceFigures>) -> String {
    match f {
        None => format!("  {label:<7} no such event\n"),
        Some(f) => format!(
            "  {label:<7} decrement {:>16}   closed balance {:>16}   ({} event{})\n",
            money(f.decrement),
            f.closed_balance.map(money).unwrap_or_else(|| "—".into()),
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
        money(e.amount),
        e.balance_after
            .map(|b| format!(", balance after {}", money(b)))
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
            money(*counted)
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
    let side = |f: &Option<ledger_replay::reconcile::LotFigures>| match f {
        None => "no such lot".to_string(),
        Some(f) => format!(
            "original {}, closed balance {}, status {}",
            f.original.map(money).unwrap_or_else(|| "—".into()),
            f.closed_balance.map(money).unwrap_or_else(|| "—".into()),
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

pub fn render(r: &Reconciliation) -> String {
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
            writeln!(out, "  {note}").unwrap();
        }
    }
    out
}
