//! The what-if comparison: the recorded ledger (baseline) against each scenario, as a
//! side-by-side table of typed figures, one sentence per consequence
//! ("Milestone2: Missed → Completed, +4,000.00 ACO award"), and INTERFACE.md's JSON
//! (`{"baseline": STATUS, "scenario": STATUS, "changes": [...]}`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ledger_app::core::Money;
use ledger_app::input::ScenarioFile;
use ledger_app::replay::views::{
    caco_rows, invoice_rows, lot_rows, CacoRow, InvoiceRow, LotFilter, LotRow,
};
use ledger_app::replay::whatif::{
    figures, AccountFigures, BilledFigures, CacoFigures, CacoMilestoneFigures, CreditFigures,
    Figures, MaccFigures, MaccMilestoneFigures,
};
use ledger_app::replay::Projections;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::amount::{amount, signed};
use crate::json::{CacoJson, InvoiceJson, LotJson};
use crate::table::{Align, Table};

/// The Lots, CACO and invoice documents of one side (INTERFACE.md's STATUS).
pub struct Status<'a> {
    pub lots: Vec<LotRow>,
    pub caco: Vec<CacoRow<'a>>,
    pub invoices: Vec<InvoiceRow<'a>>,
}

impl<'a> Status<'a> {
    pub fn of(p: &'a Projections) -> Status<'a> {
        Status {
            lots: lot_rows(p, &LotFilter::default()),
            caco: caco_rows(p, None),
            invoices: invoice_rows(p, None),
        }
    }
}

impl Serialize for Status<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        let lots: Vec<LotJson> = self.lots.iter().map(LotJson).collect();
        map.serialize_entry("lots", &lots)?;
        let caco: Vec<CacoJson> = self.caco.iter().map(CacoJson).collect();
        map.serialize_entry("caco", &caco)?;
        let invoices: Vec<InvoiceJson> = self.invoices.iter().map(InvoiceJson).collect();
        map.serialize_entry("invoices", &invoices)?;
        map.end()
    }
}

/// Baseline against one scenario. Serializes as INTERFACE.md's
/// `{"baseline": STATUS, "scenario": STATUS, "changes": [text, ...]}`.
pub struct WhatIfReport<'a> {
    pub name: String,
    pub baseline: Status<'a>,
    pub scenario: Status<'a>,
    /// One sentence per consequence, in a fixed order (see [`consequences`]).
    pub changes: Vec<String>,
    pub baseline_figures: Figures,
    pub scenario_figures: Figures,
}

impl Serialize for WhatIfReport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("baseline", &self.baseline)?;
        map.serialize_entry("scenario", &self.scenario)?;
        map.serialize_entry("changes", &self.changes)?;
        map.end()
    }
}

pub fn report<'a>(
    name: &str,
    baseline: &'a Projections,
    scenario: &'a Projections,
) -> WhatIfReport<'a> {
    let baseline_figures = figures(baseline);
    let scenario_figures = figures(scenario);
    WhatIfReport {
        name: name.to_string(),
        baseline: Status::of(baseline),
        scenario: Status::of(scenario),
        changes: consequences(&baseline_figures, &scenario_figures),
        baseline_figures,
        scenario_figures,
    }
}

/// One scenario of several in `--json`: INTERFACE.md's object with the scenario's name.
pub struct Named<'r, 'a>(pub &'r WhatIfReport<'a>);

impl Serialize for Named<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("name", &self.0.name)?;
        map.serialize_entry("baseline", &self.0.baseline)?;
        map.serialize_entry("scenario", &self.0.scenario)?;
        map.serialize_entry("changes", &self.0.changes)?;
        map.end()
    }
}

/// `ledger whatif --json`: the one report, or an array of named ones.
pub fn json_text(reports: &[WhatIfReport]) -> String {
    match reports {
        [one] => crate::json::to_text(one),
        several => crate::json::to_text(&several.iter().map(Named).collect::<Vec<_>>()),
    }
}

fn difference(after: Money, before: Money) -> Money {
    after.checked_sub(before).unwrap_or(Money::ZERO)
}

/// Items matched by key: baseline order first, then the scenario's new ones.
fn pairs<'a, T, K: PartialEq>(
    baseline: &'a [T],
    scenario: &'a [T],
    key: impl Fn(&T) -> K,
) -> Vec<(Option<&'a T>, Option<&'a T>)> {
    let mut out: Vec<(Option<&T>, Option<&T>)> = baseline
        .iter()
        .map(|b| (Some(b), scenario.iter().find(|s| key(s) == key(b))))
        .collect();
    for s in scenario {
        if !baseline.iter().any(|b| key(b) == key(s)) {
            out.push((None, Some(s)));
        }
    }
    out
}

/// One sentence per consequence of the scenario, per account (in account order; prefixed with
/// the account when there are several): MACCs, MACC milestones, CACO milestones, CACOs,
/// credit lots, then the billed total. Empty when the scenario changes nothing shown.
pub fn consequences(baseline: &Figures, scenario: &Figures) -> Vec<String> {
    let empty = |account: &str, currency: &str| AccountFigures {
        account: account.to_string(),
        currency: currency.to_string(),
        maccs: Vec::new(),
        macc_milestones: Vec::new(),
        cacos: Vec::new(),
        caco_milestones: Vec::new(),
        credits: Vec::new(),
        billed: BilledFigures::default(),
    };
    let accounts = pairs(&baseline.accounts, &scenario.accounts, |a| {
        a.account.clone()
    });
    let several = accounts.len() > 1;
    let mixed = mixed_currencies(accounts.iter().filter_map(|(b, s)| b.or(*s)));
    let mut out = Vec::new();
    for (b, s) in accounts {
        let any = b.or(s).expect("one side exists");
        let (b_empty, s_empty);
        let b = match b {
            Some(b) => b,
            None => {
                b_empty = empty(&any.account, &any.currency);
                &b_empty
            }
        };
        let s = match s {
            Some(s) => s,
            None => {
                s_empty = empty(&any.account, &any.currency);
                &s_empty
            }
        };
        let prefix = match (several, mixed) {
            (_, true) => format!("{} ({}): ", any.account, any.currency),
            (true, false) => format!("{}: ", any.account),
            (false, false) => String::new(),
        };
        for line in account_consequences(b, s) {
            out.push(format!("{prefix}{line}"));
        }
    }
    out
}

/// Whether the accounts have more than one currency between them.
fn mixed_currencies<'a>(accounts: impl Iterator<Item = &'a AccountFigures>) -> bool {
    let mut first: Option<&str> = None;
    for a in accounts {
        match first {
            None => first = Some(&a.currency),
            Some(c) if c != a.currency => return true,
            Some(_) => {}
        }
    }
    false
}

fn macc_state_text(m: &MaccFigures) -> String {
    match m.completed {
        Some(date) => format!("{} {date}", m.status),
        None => m.status.to_string(),
    }
}

fn account_consequences(b: &AccountFigures, s: &AccountFigures) -> Vec<String> {
    let mut out = Vec::new();
    macc_consequences(b, s, &mut out);
    macc_milestone_consequences(b, s, &mut out);
    caco_milestone_consequences(b, s, &mut out);
    caco_consequences(b, s, &mut out);
    credit_consequences(b, s, &mut out);
    billed_consequences(b, s, &mut out);
    out
}

/// A MACC whose status, completion or remaining changes.
fn macc_consequences(b: &AccountFigures, s: &AccountFigures, out: &mut Vec<String>) {
    for (mb, ms) in pairs(&b.maccs, &s.maccs, |m| m.id.clone()) {
        match (mb, ms) {
            (Some(mb), Some(ms)) => {
                if mb.status != ms.status || mb.completed != ms.completed {
                    let mut line = format!(
                        "{}: {} → {}",
                        mb.id,
                        macc_state_text(mb),
                        macc_state_text(ms)
                    );
                    if !ms.shortfall.is_zero() {
                        line.push_str(&format!(", shortfall {}", amount(ms.shortfall)));
                    } else if !mb.shortfall.is_zero() {
                        line.push_str(&format!(", no shortfall (was {})", amount(mb.shortfall)));
                    }
                    out.push(line);
                } else if mb.remaining != ms.remaining {
                    out.push(format!(
                        "{} remaining: {} → {}",
                        mb.id,
                        amount(mb.remaining),
                        amount(ms.remaining)
                    ));
                }
            }
            (None, Some(ms)) => out.push(format!(
                "{}: only in the scenario, {}, remaining {}",
                ms.id,
                macc_state_text(ms),
                amount(ms.remaining)
            )),
            (Some(mb), None) => out.push(format!(
                "{}: not in the scenario (baseline {}, remaining {})",
                mb.id,
                macc_state_text(mb),
                amount(mb.remaining)
            )),
            (None, None) => {}
        }
    }
}

/// A MACC milestone whose status or shortfall changes.
fn macc_milestone_consequences(b: &AccountFigures, s: &AccountFigures, out: &mut Vec<String>) {
    let milestone_key = |m: &MaccMilestoneFigures| (m.macc.clone(), m.id.clone());
    for (mb, ms) in pairs(&b.macc_milestones, &s.macc_milestones, milestone_key) {
        let describe = |m: &MaccMilestoneFigures| {
            if m.shortfall.is_zero() {
                m.status.to_string()
            } else {
                format!("{}, shortfall {}", m.status, amount(m.shortfall))
            }
        };
        match (mb, ms) {
            (Some(mb), Some(ms)) if mb.status != ms.status || mb.shortfall != ms.shortfall => out
                .push(format!(
                    "{} {}: {} → {}",
                    mb.macc,
                    mb.id,
                    describe(mb),
                    describe(ms)
                )),
            (None, Some(ms)) => out.push(format!(
                "{} {}: only in the scenario, {}",
                ms.macc,
                ms.id,
                describe(ms)
            )),
            (Some(mb), None) => out.push(format!(
                "{} {}: not in the scenario (baseline {})",
                mb.macc,
                mb.id,
                describe(mb)
            )),
            _ => {}
        }
    }
}

/// A CACO milestone whose status (and award), progress or target changes.
fn caco_milestone_consequences(b: &AccountFigures, s: &AccountFigures, out: &mut Vec<String>) {
    // CACO milestones are named by their id alone, unless two CACOs use the same id.
    let mut ids: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for m in b.caco_milestones.iter().chain(&s.caco_milestones) {
        ids.entry(m.id.as_str())
            .or_default()
            .insert(m.caco.as_str());
    }
    let name = |m: &CacoMilestoneFigures| {
        if ids.get(m.id.as_str()).is_some_and(|c| c.len() > 1) {
            format!("{} {}", m.caco, m.id)
        } else {
            m.id.clone()
        }
    };
    let caco_key = |m: &CacoMilestoneFigures| (m.caco.clone(), m.id.clone());
    for (mb, ms) in pairs(&b.caco_milestones, &s.caco_milestones, caco_key) {
        match (mb, ms) {
            (Some(mb), Some(ms)) => {
                if mb.status != ms.status {
                    let mut line = format!("{}: {} → {}", name(mb), mb.status, ms.status);
                    let was = mb.status == "Completed";
                    let now = ms.status == "Completed";
                    if now && !was {
                        line.push_str(&format!(", {} ACO award", signed(ms.award)));
                    } else if was && !now {
                        line.push_str(&format!(
                            ", {} ACO award",
                            signed(Money::ZERO.checked_sub(mb.award).unwrap_or(Money::ZERO))
                        ));
                    } else if ms.status == "Missed" && ms.award.is_positive() {
                        line.push_str(&format!(", {} ACO award forfeited", amount(ms.award)));
                    }
                    out.push(line);
                } else if mb.progress != ms.progress {
                    out.push(format!(
                        "{} progress: {} → {} of {}",
                        name(mb),
                        amount(mb.progress),
                        amount(ms.progress),
                        amount(ms.target)
                    ));
                } else if mb.target != ms.target {
                    out.push(format!(
                        "{} target: {} → {} (progress {})",
                        name(mb),
                        amount(mb.target),
                        amount(ms.target),
                        amount(ms.progress)
                    ));
                }
            }
            (None, Some(ms)) => out.push(format!(
                "{}: only in the scenario, {}, progress {} of {}",
                name(ms),
                ms.status,
                amount(ms.progress),
                amount(ms.target)
            )),
            (Some(mb), None) => out.push(format!(
                "{}: not in the scenario (baseline {})",
                name(mb),
                mb.status
            )),
            (None, None) => {}
        }
    }
}

/// A CACO whose status or remaining changes.
fn caco_consequences(b: &AccountFigures, s: &AccountFigures, out: &mut Vec<String>) {
    for (cb, cs) in pairs(&b.cacos, &s.cacos, |c| c.id.clone()) {
        match (cb, cs) {
            (Some(cb), Some(cs)) => {
                if cb.status != cs.status {
                    out.push(format!("{}: {} → {}", cb.id, cb.status, cs.status));
                } else if cb.remaining != cs.remaining {
                    out.push(format!(
                        "{} remaining: {} → {}",
                        cb.id,
                        amount(cb.remaining),
                        amount(cs.remaining)
                    ));
                }
            }
            (None, Some(cs)) => out.push(format!(
                "{}: only in the scenario, {}, remaining {}",
                cs.id,
                cs.status,
                amount(cs.remaining)
            )),
            (Some(cb), None) => out.push(format!(
                "{}: not in the scenario (baseline {})",
                cb.id, cb.status
            )),
            (None, None) => {}
        }
    }
}

/// A credit lot whose status or balance changes, or that opens on one side only.
fn credit_consequences(b: &AccountFigures, s: &AccountFigures, out: &mut Vec<String>) {
    for (lb, ls) in pairs(&b.credits, &s.credits, |l| l.id.clone()) {
        match (lb, ls) {
            (Some(lb), Some(ls)) => {
                if lb.status != ls.status {
                    out.push(format!("{}: {} → {}", lb.id, lb.status, ls.status));
                }
                if lb.balance != ls.balance {
                    out.push(format!(
                        "{} balance: {} → {}",
                        lb.id,
                        amount(lb.balance),
                        amount(ls.balance)
                    ));
                }
            }
            (None, Some(ls)) => out.push(format!(
                "{}: opens in the scenario ({} {}), balance {}",
                ls.id,
                ls.kind,
                amount(ls.original),
                amount(ls.balance)
            )),
            (Some(lb), None) => out.push(format!(
                "{}: does not open in the scenario (baseline {} {}, balance {})",
                lb.id,
                lb.kind,
                amount(lb.original),
                amount(lb.balance)
            )),
            (None, None) => {}
        }
    }
}

/// The billed total, and the invoice amount when partner earned credit makes it differ.
fn billed_consequences(b: &AccountFigures, s: &AccountFigures, out: &mut Vec<String>) {
    if b.billed.billed != s.billed.billed {
        out.push(format!(
            "billed total: {} → {} ({})",
            amount(b.billed.billed),
            amount(s.billed.billed),
            signed(difference(s.billed.billed, b.billed.billed))
        ));
    }
    if b.billed.invoice_amount != s.billed.invoice_amount
        && (b.billed.invoice_amount != b.billed.billed
            || s.billed.invoice_amount != s.billed.billed)
    {
        out.push(format!(
            "invoice amount total: {} → {} ({})",
            amount(b.billed.invoice_amount),
            amount(s.billed.invoice_amount),
            signed(difference(s.billed.invoice_amount, b.billed.invoice_amount))
        ));
    }
}

/// The rows of the side-by-side table: section titles, then one row per figure of an item,
/// the item named on its first row only.
struct Rows {
    sides: usize,
    rows: Vec<Vec<String>>,
    current: Option<String>,
}

impl Rows {
    fn section(&mut self, title: &str) {
        let mut row = vec![title.to_string(), String::new()];
        row.extend(std::iter::repeat_n(String::new(), self.sides));
        self.rows.push(row);
        self.current = None;
    }

    /// A figure of `item` on every side (`—` where a side does not have the item).
    fn figure(&mut self, item: &str, figure: &str, cells: Vec<Option<String>>) {
        let label = if self.current.as_deref() == Some(item) {
            String::new()
        } else {
            self.current = Some(item.to_string());
            format!("  {item}")
        };
        let mut row = vec![label, figure.to_string()];
        row.extend(cells.into_iter().map(|c| c.unwrap_or_else(|| "—".into())));
        self.rows.push(row);
    }
}

/// Every figure of every side, items matched by id (baseline order, then new ones).
fn side_by_side(sides: &[&Figures], names: &[String]) -> String {
    let mut rows = Rows {
        sides: sides.len(),
        rows: Vec::new(),
        current: None,
    };
    let mut accounts: Vec<&str> = Vec::new();
    for f in sides {
        for a in &f.accounts {
            if !accounts.contains(&a.account.as_str()) {
                accounts.push(&a.account);
            }
        }
    }
    let several = accounts.len() > 1;
    let mixed = mixed_currencies(sides.iter().flat_map(|f| &f.accounts));
    for account in &accounts {
        let per: Vec<Option<&AccountFigures>> = sides
            .iter()
            .map(|f| f.accounts.iter().find(|a| a.account == *account))
            .collect();
        let currency = per.iter().flatten().next().map_or("", |a| &a.currency);
        // Amounts of different currencies side by side: each item names its currency.
        let label = |id: &str| match (several, mixed) {
            (_, true) => format!("{account} {id} ({currency})"),
            (true, false) => format!("{account} {id}"),
            (false, false) => id.to_string(),
        };
        account_rows(&mut rows, &per, &label);
    }
    let mut columns: Vec<(&str, Align)> = vec![
        ("", Align::Left),
        ("", Align::Left),
        ("baseline", Align::Right),
    ];
    for name in names {
        columns.push((name.as_str(), Align::Right));
    }
    let mut table = Table::new(&columns);
    for row in rows.rows {
        table.row(row);
    }
    table.render()
}

/// One figure of an item: its name in the table, and how it reads.
type Figure<'f, T> = (&'f str, &'f dyn Fn(&T) -> String);

/// A section of the table: every item of one list (matched across sides by `key`), each with
/// its figures on every side.
fn section<T>(
    rows: &mut Rows,
    per: &[Option<&AccountFigures>],
    title: &str,
    list: fn(&AccountFigures) -> &[T],
    key: fn(&T) -> String,
    label: &dyn Fn(&str) -> String,
    figures: &[Figure<'_, T>],
) {
    let mut keys: Vec<String> = Vec::new();
    for a in per.iter().flatten() {
        for item in list(a) {
            let k = key(item);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    if !keys.is_empty() {
        rows.section(title);
    }
    for k in &keys {
        let item = label(k);
        for (figure, show) in figures {
            let cells = per
                .iter()
                .map(|a| {
                    a.and_then(|a| list(a).iter().find(|i| key(i) == *k))
                        .map(show)
                })
                .collect();
            rows.figure(&item, figure, cells);
        }
    }
}

/// The sections of one account: MACCs, MACC milestones, CACOs, CACO milestones, credits and
/// the billed totals.
fn account_rows(rows: &mut Rows, per: &[Option<&AccountFigures>], label: &dyn Fn(&str) -> String) {
    let completed = |m: &MaccFigures| m.completed.map_or_else(|| "—".into(), |d| d.to_string());
    section(
        rows,
        per,
        "MACC",
        |a| &a.maccs,
        |m| m.id.clone(),
        label,
        &[
            ("commitment", &|m: &MaccFigures| amount(m.amount)),
            ("remaining", &|m: &MaccFigures| amount(m.remaining)),
            ("status", &|m: &MaccFigures| m.status.to_string()),
            ("completed", &completed),
            ("shortfall", &|m: &MaccFigures| amount(m.shortfall)),
        ],
    );
    section(
        rows,
        per,
        "MACC milestones",
        |a| &a.macc_milestones,
        |m| format!("{} {}", m.macc, m.id),
        label,
        &[
            ("status", &|m: &MaccMilestoneFigures| m.status.to_string()),
            ("shortfall", &|m: &MaccMilestoneFigures| amount(m.shortfall)),
        ],
    );
    section(
        rows,
        per,
        "CACO",
        |a| &a.cacos,
        |c| c.id.clone(),
        label,
        &[
            ("remaining", &|c: &CacoFigures| amount(c.remaining)),
            ("status", &|c: &CacoFigures| c.status.to_string()),
            ("awards granted", &|c: &CacoFigures| {
                amount(c.awards_granted)
            }),
            ("awards forfeited", &|c: &CacoFigures| {
                amount(c.awards_forfeited)
            }),
        ],
    );
    let progress =
        |m: &CacoMilestoneFigures| format!("{} of {}", amount(m.progress), amount(m.target));
    section(
        rows,
        per,
        "CACO milestones",
        |a| &a.caco_milestones,
        |m| format!("{} {}", m.caco, m.id),
        label,
        &[
            ("progress", &progress),
            ("status", &|m: &CacoMilestoneFigures| m.status.to_string()),
        ],
    );
    section(
        rows,
        per,
        "Credits",
        |a| &a.credits,
        |c| c.id.clone(),
        label,
        &[
            ("balance", &|c: &CreditFigures| amount(c.balance)),
            ("status", &|c: &CreditFigures| c.status.to_string()),
        ],
    );
    billed_rows(rows, per, label);
}

/// The billed totals of every side.
fn billed_rows(rows: &mut Rows, per: &[Option<&AccountFigures>], label: &dyn Fn(&str) -> String) {
    rows.section("Billed");
    let item = label("invoices");
    let billed = |f: fn(&BilledFigures) -> String| -> Vec<Option<String>> {
        per.iter().map(|a| a.map(|a| f(&a.billed))).collect()
    };
    rows.figure(&item, "count", billed(|b| b.invoices.to_string()));
    rows.figure(&item, "charges", billed(|b| amount(b.charges)));
    rows.figure(
        &item,
        "credits applied",
        billed(|b| amount(b.credits_applied)),
    );
    rows.figure(&item, "billed", billed(|b| amount(b.billed)));
    rows.figure(
        &item,
        "partner earned credit",
        billed(|b| amount(b.partner_earned_credit)),
    );
    rows.figure(
        &item,
        "invoice amount",
        billed(|b| amount(b.invoice_amount)),
    );
}

/// The human output: the side-by-side table (the baseline once), then one section of
/// consequences per scenario.
pub fn text(files: &[ScenarioFile], reports: &[WhatIfReport]) -> String {
    let mut out = String::new();
    // One currency for every account is named once; several are named item by item.
    let all_accounts = || reports.iter().flat_map(|r| &r.baseline_figures.accounts);
    let currency = match mixed_currencies(all_accounts()) {
        true => String::new(),
        false => all_accounts()
            .next()
            .map(|a| a.currency.clone())
            .unwrap_or_default(),
    };
    let what = if reports.len() == 1 {
        "1 scenario".to_string()
    } else {
        format!("{} scenarios", reports.len())
    };
    writeln!(
        out,
        "What-if: the recorded ledger (baseline) against {what}, replayed on forks; the log is unchanged.\n"
    )
    .unwrap();
    let mut sides: Vec<&Figures> = Vec::new();
    if let Some(first) = reports.first() {
        sides.push(&first.baseline_figures);
    }
    sides.extend(reports.iter().map(|r| &r.scenario_figures));
    let names: Vec<String> = reports.iter().map(|r| r.name.clone()).collect();
    out.push_str(&side_by_side(&sides, &names));
    if !currency.is_empty() {
        writeln!(out, "(amounts in {currency})").unwrap();
    }
    for (file, report) in files.iter().zip(reports) {
        writeln!(
            out,
            "\nConsequences of {} ({}):",
            report.name,
            file.path.display()
        )
        .unwrap();
        if report.changes.is_empty() {
            out.push_str("  none: every figure above is as recorded\n");
        }
        for change in &report.changes {
            writeln!(out, "  {change}").unwrap();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_app::core::Date;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn account(maccs: Vec<MaccFigures>, credits: Vec<CreditFigures>, billed: &str) -> Figures {
        Figures {
            accounts: vec![AccountFigures {
                account: "contoso".into(),
                currency: "USD".into(),
                maccs,
                macc_milestones: Vec::new(),
                cacos: Vec::new(),
                caco_milestones: vec![CacoMilestoneFigures {
                    caco: "caco-1".into(),
                    id: "Milestone2".into(),
                    target: m("40000"),
                    progress: m("41000"),
                    award: m("4000"),
                    status: "Completed",
                }],
                credits,
                billed: BilledFigures {
                    invoices: 12,
                    billed: m(billed),
                    invoice_amount: m(billed),
                    ..BilledFigures::default()
                },
            }],
        }
    }

    #[test]
    fn consequences_read_as_sentences_in_a_fixed_order() {
        let macc = |status: &'static str, completed: Option<&str>, remaining: &str| MaccFigures {
            id: "macc-2025".into(),
            amount: m("50000"),
            remaining: m(remaining),
            status,
            completed: completed.map(|d| Date::parse(d).unwrap()),
            shortfall: if status == "Expired" {
                m(remaining)
            } else {
                Money::ZERO
            },
        };
        let credit = |balance: &str| CreditFigures {
            id: "aco-1".into(),
            kind: "aco",
            original: m("5000"),
            balance: m(balance),
            status: "Active",
        };
        let mut baseline = account(
            vec![macc("Completed", Some("2025-11-05"), "0")],
            vec![credit("0")],
            "964353.70",
        );
        let scenario = account(
            vec![macc("Expired", None, "12345.67")],
            vec![credit("1200")],
            "901222.10",
        );
        baseline.accounts[0].caco_milestones[0].status = "Missed";
        baseline.accounts[0].caco_milestones[0].progress = m("30000");
        let mut scenario = scenario;
        scenario.accounts[0].caco_milestones[0].status = "Completed";
        assert_eq!(
            consequences(&baseline, &scenario),
            [
                "macc-2025: Completed 2025-11-05 → Expired, shortfall 12,345.67",
                "Milestone2: Missed → Completed, +4,000.00 ACO award",
                "aco-1 balance: 0.00 → 1,200.00",
                "billed total: 964,353.70 → 901,222.10 (−63,131.60)",
            ]
        );
        assert!(consequences(&baseline, &baseline).is_empty());
    }

    #[test]
    fn the_report_serializes_as_interface_md_says() {
        let p = Projections::new();
        let report = report("nothing", &p, &p);
        let doc: serde_json::Value = serde_json::from_str(&json_text(&[report])).unwrap();
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["baseline", "changes", "scenario"]);
        for side in ["baseline", "scenario"] {
            let status = doc[side].as_object().unwrap();
            let keys: Vec<&str> = status.keys().map(|k| k.as_str()).collect();
            assert_eq!(keys, ["caco", "invoices", "lots"]);
        }
    }
}
