//! Human output of the read models: aligned tables with grouped amounts.

use std::collections::BTreeMap;

use ledger_app::core::{Date, Money};
use ledger_app::replay::alerts::{Alert, CreditExpiry};
use ledger_app::replay::plan::PlanRow;
use ledger_app::replay::views::{CacoRow, EventRow, InvoiceRow, LotRow};

use crate::amount::{amount, amount_in, decimal};
use crate::table::{Align, Table};

pub fn lots_table(rows: &[LotRow]) -> String {
    if rows.is_empty() {
        return "No lots. Record an agreement with `ledger agreement FILE`.\n".into();
    }
    let spread = Spread::of(
        rows.iter()
            .map(|r| (r.account.as_str(), r.currency.as_str())),
    );
    let mut columns = spread.account_column();
    columns.extend([
        ("lot", Align::Left),
        ("kind", Align::Left),
        ("status", Align::Left),
    ]);
    columns.extend(spread.currency_column());
    columns.extend([("original", Align::Right), ("balance", Align::Right)]);
    // R-PEND-3: the estimate with pending (month-to-date) charges, only while one applies.
    let pending = rows.iter().any(|r| r.pending_balance.is_some());
    if pending {
        columns.push(("pending estimate", Align::Right));
    }
    columns.extend([("start", Align::Left), ("expires", Align::Left)]);
    let mut t = Table::new(&columns);
    for r in rows {
        let mut cells = spread.account_cell(&r.account);
        cells.extend([r.name.clone(), r.kind.clone(), r.status.name().to_string()]);
        cells.extend(spread.currency_cell(&r.currency));
        cells.extend([amount(r.original), amount(r.closed_balance)]);
        if pending {
            cells.push(r.pending_balance.map(amount).unwrap_or_default());
        }
        cells.extend([r.start.to_string(), r.expiration.to_string()]);
        t.row(cells);
    }
    format!("{}{}", t.render(), spread.note("", "\n"))
}

/// The milestones of the MACC lots among `rows` (below the lots table); empty when none has any.
pub fn macc_milestones_table(rows: &[LotRow]) -> String {
    let maccs: Vec<&LotRow> = rows.iter().filter(|r| !r.milestones.is_empty()).collect();
    if maccs.is_empty() {
        return String::new();
    }
    let multi = rows.iter().any(|r| r.account != rows[0].account);
    let mut columns = vec![];
    if multi {
        columns.push(("account", Align::Left));
    }
    columns.extend([
        ("macc", Align::Left),
        ("milestone", Align::Left),
        ("due", Align::Left),
        ("status", Align::Left),
        ("target", Align::Right),
        ("progress", Align::Right),
        ("shortfall", Align::Right),
    ]);
    let mut t = Table::new(&columns);
    for r in maccs {
        for m in &r.milestones {
            let mut cells = vec![];
            if multi {
                cells.push(r.account.clone());
            }
            cells.extend([
                r.name.clone(),
                m.id.clone(),
                m.due.to_string(),
                m.status.name().to_string(),
                amount_in(&r.currency, m.target),
                amount_in(&r.currency, m.progress),
                m.shortfall_amount()
                    .map(|s| amount_in(&r.currency, s))
                    .unwrap_or_else(|| "-".into()),
            ]);
            t.row(cells);
        }
    }
    format!("\nMACC milestones\n{}", t.render())
}

pub fn events_table(rows: &[EventRow]) -> String {
    if rows.is_empty() {
        return "No events.\n".into();
    }
    let spread = Spread::of(rows.iter().map(|r| (r.account, r.currency)));
    let mut columns = spread.account_column();
    columns.extend([
        ("date", Align::Left),
        ("lot", Align::Left),
        ("type", Align::Left),
        ("invoice", Align::Left),
        ("profile", Align::Left),
    ]);
    columns.extend(spread.currency_column());
    columns.extend([("charges", Align::Right), ("balance after", Align::Right)]);
    let mut t = Table::new(&columns);
    for r in rows {
        let e = r.event;
        let mut cells = spread.account_cell(r.account);
        cells.extend([
            e.date.to_string(),
            e.lot.clone(),
            e.event_type.clone(),
            e.invoice.clone().unwrap_or_default(),
            e.billing_profile.clone().unwrap_or_default(),
        ]);
        cells.extend(spread.currency_cell(r.currency));
        cells.extend([amount(e.charges), amount(e.closed_balance)]);
        t.row(cells);
    }
    format!(
        "{}{} events{}\n",
        t.render(),
        rows.len(),
        spread.note(" ", "")
    )
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
            amount_in(c.currency, c.commitment),
            amount_in(c.currency, c.remaining)
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
            amount(m.target),
            amount(m.progress),
            format!("{:.2}", m.progress_percent),
            amount(m.award),
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
            amount_in(c.currency, c.commitment),
            amount_in(c.currency, c.remaining)
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
                    amount(tx.decrement),
                    amount(tx.remaining),
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
    let spread = Spread::of(rows.iter().map(|r| (r.account, r.currency)));
    let mut columns = vec![
        ("invoice", Align::Left),
        ("date", Align::Left),
        ("lines", Align::Right),
    ];
    columns.extend(spread.currency_column());
    columns.extend([
        ("charges", Align::Right),
        ("credits", Align::Right),
        ("billed", Align::Right),
        ("PEC", Align::Right),
        ("amount due", Align::Right),
    ]);
    let mut t = Table::new(&columns);
    // Amounts of different currencies are never added together: one total per currency.
    let mut totals: BTreeMap<&str, Money> = BTreeMap::new();
    for r in rows {
        let s = r.summary;
        let total = totals.entry(r.currency).or_insert(Money::ZERO);
        *total = total.checked_add(s.invoice_amount).unwrap_or(*total);
        let mut cells = vec![s.id.clone(), s.date.to_string(), s.line_count.to_string()];
        cells.extend(spread.currency_cell(r.currency));
        cells.extend([
            amount(s.charges),
            amount(s.credits_applied),
            amount(s.billed),
            amount(s.partner_earned_credit),
            amount(s.invoice_amount),
        ]);
        t.row(cells);
    }
    let totals: Vec<String> = totals
        .into_iter()
        .map(|(currency, total)| amount_in(currency, total))
        .collect();
    format!(
        "{}{} invoices, {} due in all\n",
        t.render(),
        rows.len(),
        and_list(&totals)
    )
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Whether the rows of a table span several accounts or several currencies: a column for
/// what differs from row to row; one currency shared by every row is named once, in a note.
struct Spread<'r> {
    accounts: bool,
    /// The one currency of every row, or `None` when they differ.
    currency: Option<&'r str>,
}

impl<'r> Spread<'r> {
    fn of(mut rows: impl Iterator<Item = (&'r str, &'r str)>) -> Spread<'r> {
        let Some((account, currency)) = rows.next() else {
            return Spread {
                accounts: false,
                currency: None,
            };
        };
        let mut spread = Spread {
            accounts: false,
            currency: Some(currency),
        };
        for (a, c) in rows {
            spread.accounts |= a != account;
            if spread.currency.is_some_and(|one| one != c) {
                spread.currency = None;
            }
        }
        spread
    }

    fn account_column(&self) -> Vec<(&'static str, Align)> {
        self.column(self.accounts, "account")
    }

    fn currency_column(&self) -> Vec<(&'static str, Align)> {
        self.column(self.currency.is_none(), "currency")
    }

    fn column(&self, shown: bool, name: &'static str) -> Vec<(&'static str, Align)> {
        if shown {
            vec![(name, Align::Left)]
        } else {
            Vec::new()
        }
    }

    fn account_cell(&self, account: &str) -> Vec<String> {
        self.cell(self.accounts, account)
    }

    fn currency_cell(&self, currency: &str) -> Vec<String> {
        self.cell(self.currency.is_none(), currency)
    }

    fn cell(&self, shown: bool, text: &str) -> Vec<String> {
        if shown {
            vec![text.to_string()]
        } else {
            Vec::new()
        }
    }

    /// `(amounts in USD)` between `before` and `after` when every row has that currency;
    /// nothing when the rows name theirs.
    fn note(&self, before: &str, after: &str) -> String {
        match self.currency {
            Some(currency) => format!("{before}(amounts in {currency}){after}"),
            None => String::new(),
        }
    }
}

/// `ledger plan`: one row per open MACC, MACC milestone and CACO milestone.
pub fn plan_table(rows: &[PlanRow], as_of: Date) -> String {
    if rows.is_empty() {
        return format!("No open MACC or milestone is due on or after {as_of}.\n");
    }
    let spread = Spread::of(
        rows.iter()
            .map(|r| (r.account.as_str(), r.currency.as_str())),
    );
    let mut columns = spread.account_column();
    columns.extend([
        ("id", Align::Left),
        ("kind", Align::Left),
        ("deadline", Align::Left),
        ("months", Align::Right),
    ]);
    columns.extend(spread.currency_column());
    columns.extend([
        ("remaining", Align::Right),
        ("run rate/mo", Align::Right),
        ("required/mo", Align::Right),
        ("gap/mo", Align::Right),
        ("projected shortfall", Align::Right),
        ("projected done", Align::Left),
        ("award at risk", Align::Right),
    ]);
    let simulated = rows.iter().any(|r| r.simulation.is_some());
    if simulated {
        columns.extend([
            ("P(meet)", Align::Right),
            ("shortfall P10", Align::Right),
            ("P50", Align::Right),
            ("P90", Align::Right),
        ]);
    }
    let mut t = Table::new(&columns);
    for r in rows {
        let mut cells = spread.account_cell(&r.account);
        cells.extend([
            r.id.clone(),
            r.kind.name().to_string(),
            r.deadline.to_string(),
            r.months_left.to_string(),
        ]);
        cells.extend(spread.currency_cell(&r.currency));
        cells.extend([
            amount(r.remaining),
            amount(r.run_rate),
            r.required_monthly
                .map_or_else(|| "cannot be met".into(), amount),
            r.gap_monthly.map_or_else(|| "-".into(), amount),
            amount(r.projected_shortfall),
            r.projected_completion
                .map_or_else(|| "not at this rate".into(), |d| d.to_string()),
            r.award_at_risk.map_or_else(|| "-".into(), amount),
        ]);
        if let Some(sim) = r.simulation.as_ref().filter(|_| simulated) {
            cells.extend([
                format!(
                    "{} %",
                    decimal(sim.probability() * rust_decimal::Decimal::from(100))
                ),
                amount(sim.shortfall_p10),
                amount(sim.shortfall_p50),
                amount(sim.shortfall_p90),
            ]);
        }
        t.row(cells);
    }
    let runs = rows
        .iter()
        .find_map(|r| r.simulation.as_ref())
        .map(|s| {
            format!(
                "\n{} futures per row drawn from the window's months (seed {}).\n",
                s.runs, s.seed
            )
        })
        .unwrap_or_default();
    format!(
        "Plan as of {as_of}{}: what each commitment needs a month from {} on\n{}{runs}",
        spread.note(" ", ""),
        month_name(as_of),
        t.render()
    )
}

fn month_name(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// Every line indented by two spaces.
pub fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The credit lots expiring within 90 days with a balance (below the alerts table).
pub fn expiring_credits_table(rows: &[CreditExpiry], as_of: Date) -> String {
    if rows.is_empty() {
        return format!("No credit with a balance expires within 90 days of {as_of}.\n");
    }
    let mut t = Table::new(&[
        ("credit", Align::Left),
        ("kind", Align::Left),
        ("expires", Align::Left),
        ("days", Align::Right),
        ("alert", Align::Right),
        ("at risk", Align::Right),
    ]);
    for c in rows {
        t.row(vec![
            c.lot.clone(),
            c.kind.to_string(),
            c.expires.to_string(),
            c.days_left.to_string(),
            c.alert.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            amount_in(&c.currency, c.balance),
        ]);
    }
    format!("Credits expiring within 90 days\n{}", t.render())
}

pub fn alerts_table(rows: &[Alert], as_of: Date) -> String {
    if rows.is_empty() {
        return format!("No open MACC, CACO or milestone ends on or after {as_of}.\n");
    }
    let spread = Spread::of(
        rows.iter()
            .map(|a| (a.account.as_str(), a.currency.as_str())),
    );
    let mut columns = spread.account_column();
    columns.extend([
        ("id", Align::Left),
        ("kind", Align::Left),
        ("of", Align::Left),
        ("end", Align::Left),
        ("days", Align::Right),
        ("alert", Align::Right),
    ]);
    columns.extend(spread.currency_column());
    columns.extend([
        ("remaining", Align::Right),
        ("needed/mo", Align::Right),
        ("actual/mo", Align::Right),
        ("risk", Align::Left),
        ("forecast done", Align::Left),
        ("forecast shortfall", Align::Right),
    ]);
    let mut t = Table::new(&columns);
    for a in rows {
        let mut cells = spread.account_cell(&a.account);
        cells.extend([
            a.id.clone(),
            a.kind.to_string(),
            a.parent.clone().unwrap_or_default(),
            a.end.to_string(),
            a.days_left.to_string(),
            a.alert.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
        ]);
        cells.extend(spread.currency_cell(&a.currency));
        cells.extend([
            amount(a.remaining),
            decimal(a.required_monthly_rate),
            decimal(a.actual_monthly_rate),
            a.risk.name().to_string(),
            a.forecast_completion
                .map(|d| d.to_string())
                .unwrap_or_else(|| "not at this rate".into()),
            decimal(a.forecast_shortfall),
        ]);
        t.row(cells);
    }
    format!(
        "Alerts as of {as_of}{}\n{}",
        spread.note(" ", ""),
        t.render()
    )
}
