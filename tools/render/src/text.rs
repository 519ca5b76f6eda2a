//! Human output of the read models: aligned tables with grouped amounts.

use ledger_app::core::{Date, Money};
use ledger_app::replay::alerts::Alert;
use ledger_app::replay::views::{CacoRow, EventRow, InvoiceRow, LotRow};

use crate::amount::{amount as money, amount_in as money_in, rate};
use crate::table::{Align, Table};

pub fn lots_table(rows: &[LotRow]) -> String {
    if rows.is_empty() {
        return "No lots. Record an agreement with `ledger agreement FILE`.\n".into();
    }
    let multi = rows.iter().any(|r| r.account != rows[0].account);
    let mut columns = vec![];
    if multi {
        columns.push(("account", Align::Left));
    }
    columns.extend([
        ("lot", Align::Left),
        ("kind", Align::Left),
        ("status", Align::Left),
        ("original", Align::Right),
        ("balance", Align::Right),
        ("start", Align::Left),
        ("expires", Align::Left),
    ]);
    let mut t = Table::new(&columns);
    for r in rows {
        let mut cells = vec![];
        if multi {
            cells.push(r.account.clone());
        }
        cells.extend([
            r.name.clone(),
            r.kind.clone(),
            r.status.name().to_string(),
            money(r.original),
            money(r.closed_balance),
            r.start.to_string(),
            r.expiration.to_string(),
        ]);
        t.row(cells);
    }
    let currency = &rows[0].currency;
    format!("{}(amounts in {currency})\n", t.render())
}

pub fn events_table(rows: &[EventRow]) -> String {
    if rows.is_empty() {
        return "No events.\n".into();
    }
    let mut t = Table::new(&[
        ("date", Align::Left),
        ("lot", Align::Left),
        ("type", Align::Left),
        ("invoice", Align::Left),
        ("profile", Align::Left),
        ("charges", Align::Right),
        ("balance after", Align::Right),
    ]);
    for r in rows {
        let e = r.event;
        t.row(vec![
            e.date.to_string(),
            e.lot.clone(),
            e.event_type.clone(),
            e.invoice.clone().unwrap_or_default(),
            e.billing_profile.clone().unwrap_or_default(),
            money(e.charges),
            money(e.closed_balance),
        ]);
    }
    format!("{}{} events\n", t.render(), rows.len())
}

/// Each CACO's milestones only (no transactions): for reports.
pub fn caco_milestones(rows: &[CacoRow]) -> String {
    let mut out = String::new();
    for c in rows {
        out.push_str(&format!(
            "{} ({}, {} basis, {} .. {}): commitment {}, remaining {}\n",
            c.id,
            c.status,
            c.basis,
            c.start,
            c.end,
            money(c.commitment),
            money(c.remaining)
        ));
        out.push_str(&milestone_table(c));
    }
    if out.is_empty() {
        out.push_str("No CACOs.\n");
    }
    out
}

fn milestone_table(c: &CacoRow) -> String {
    let mut t = Table::new(&[
        ("milestone", Align::Left),
        ("start", Align::Left),
        ("end", Align::Left),
        ("target", Align::Right),
        ("progress", Align::Right),
        ("%", Align::Right),
        ("ACO award", Align::Right),
        ("status", Align::Left),
    ]);
    for m in &c.milestones {
        t.row(vec![
            m.id.clone(),
            m.start.to_string(),
            m.end.to_string(),
            money(m.target),
            money(m.progress),
            format!("{:.2}", m.progress_percent),
            money(m.award),
            m.status.to_string(),
        ]);
    }
    indent(&t.render())
}

pub fn caco_text(rows: &[CacoRow]) -> String {
    if rows.is_empty() {
        return "No CACOs.\n".into();
    }
    let mut out = String::new();
    for c in rows {
        out.push_str(&format!(
            "CACO {} ({}, {} basis)  {} .. {}\n  commitment {}   remaining {}\n\n",
            c.id,
            c.status,
            c.basis,
            c.start,
            c.end,
            money_in(c.currency, c.commitment),
            money_in(c.currency, c.remaining)
        ));
        out.push_str(&milestone_table(c));
        if !c.transactions.is_empty() {
            let mut t = Table::new(&[
                ("date", Align::Left),
                ("description", Align::Left),
                ("billing profile", Align::Left),
                ("CACO decrement", Align::Right),
                ("remaining", Align::Right),
            ]);
            for tx in c.transactions {
                t.row(vec![
                    tx.date.to_string(),
                    tx.description.clone(),
                    tx.billing_profile.clone(),
                    money(tx.decrement),
                    money(tx.remaining),
                ]);
            }
            out.push_str("\n  Transactions\n");
            out.push_str(&indent(&t.render()));
        }
        out.push('\n');
    }
    out
}

pub fn invoices_table(rows: &[InvoiceRow]) -> String {
    if rows.is_empty() {
        return "No invoices. Ingest charge lines with `ledger ingest FILE`.\n".into();
    }
    let mut t = Table::new(&[
        ("invoice", Align::Left),
        ("date", Align::Left),
        ("lines", Align::Right),
        ("charges", Align::Right),
        ("credits", Align::Right),
        ("billed", Align::Right),
        ("PEC", Align::Right),
        ("amount due", Align::Right),
    ]);
    let mut total = Money::ZERO;
    for r in rows {
        let s = r.summary;
        total = total.checked_add(s.invoice_amount).unwrap_or(total);
        t.row(vec![
            s.id.clone(),
            s.date.to_string(),
            s.line_count.to_string(),
            money(s.charges),
            money(s.credits_applied),
            money(s.billed),
            money(s.partner_earned_credit),
            money(s.invoice_amount),
        ]);
    }
    format!(
        "{}{} invoices, {} due in all\n",
        t.render(),
        rows.len(),
        money_in(rows[0].currency, total)
    )
}

/// Every line indented by two spaces.
pub fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

pub fn alerts_table(rows: &[Alert], as_of: Date) -> String {
    if rows.is_empty() {
        return format!("No open MACC, CACO or milestone ends on or after {as_of}.\n");
    }
    let mut t = Table::new(&[
        ("id", Align::Left),
        ("kind", Align::Left),
        ("of", Align::Left),
        ("end", Align::Left),
        ("days", Align::Right),
        ("alert", Align::Right),
        ("remaining", Align::Right),
        ("needed/mo", Align::Right),
        ("actual/mo", Align::Right),
        ("risk", Align::Left),
        ("forecast done", Align::Left),
        ("forecast shortfall", Align::Right),
    ]);
    for a in rows {
        t.row(vec![
            a.id.clone(),
            a.kind.to_string(),
            a.parent.clone().unwrap_or_default(),
            a.end.to_string(),
            a.days_left.to_string(),
            a.alert.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            money(a.remaining),
            rate(a.required_monthly_rate),
            rate(a.actual_monthly_rate),
            a.risk.name().to_string(),
            a.forecast_completion
                .map(|d| d.to_string())
                .unwrap_or_else(|| "never at this rate".into()),
            rate(a.forecast_shortfall),
        ]);
    }
    format!("Alerts as of {as_of}\n{}", t.render())
}
