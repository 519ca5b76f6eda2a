//! The report page: one self-contained HTML document (inline CSS, inline SVG, no script, no
//! URL but `#fragment` links) built from `ledger_app::report`'s data by maud's `html!`, which
//! escapes every interpolated value; the charts' SVG is written as text by [`svg`], its values
//! escaped by maud's escaper too ([`svg::escaped`]).
//!
//! The DOM is part of the contract tests rely on:
//! - every burn-down point is `<circle data-series="{lot}" data-point data-invoice=…>`, one per
//!   invoice that changed the lot's balance; a what-if scenario's points add
//!   `data-scenario="{name}"`;
//! - every milestone marker is `<g data-milestone="{id}" data-status="{status}">` holding its
//!   status as visible text;
//! - the 90/60/30-day marks are `<g data-mark="90|60|30" data-deadline="{id}">`;
//! - sections carry `data-account`, `data-kind` (`macc`, `caco`, `credit`) and `data-lot`;
//! - with `--simulate`, the band of futures and its figures ([`super::band`]).

use std::fmt::Write as _;

use ledger_app::core::{Date, Money};
use ledger_app::replay::alerts::Alert;
use ledger_app::replay::plan::PlanRow;
use ledger_app::report::{
    self as model, Account, Commitment, Credit, InvoicePoint, Milestone, Transaction,
};
use maud::{display, html, Markup, PreEscaped, Render as _, DOCTYPE};
use rust_decimal::Decimal;

use super::band;
use super::svg::{self, escaped, milestone, to_f64, Frame, Svg};
use crate::amount::{amount, amount_in, decimal, signed};

const STYLE: &str = include_str!("style.css");

/// The page's Content-Security-Policy (a `<meta>` in the page, and a header from `ledger
/// serve`): nothing may be fetched, only the inline stylesheet applies.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// The most rows a transactions table shows (the newest); the CLI lists them all.
pub const MAX_TABLE_ROWS: usize = 2_000;
/// The most scenarios drawn beside the baseline.
pub const MAX_SCENARIOS: usize = 4;

/// A percentage with two places, always: `116.00`.
fn pct(d: Decimal) -> String {
    format!("{:.2}", d)
}

/// The colour family of a status word (the word itself is always shown too).
pub fn tone(status: &str) -> &'static str {
    match status {
        "Met" | "Completed" | "Complete" | "Low" => "good",
        "Missed" | "Expired" | "High" => "bad",
        "Pending" | "Medium" => "warn",
        _ => "neutral",
    }
}

fn pill(status: &str) -> String {
    html! { span class={ "pill tone-" (tone(status)) } { (status) } }.into_string()
}

/// One what-if scenario drawn beside the baseline.
pub struct ScenarioView<'p> {
    pub name: String,
    pub accounts: Vec<Account<'p>>,
    /// Per account name: the consequence lines.
    pub consequences: Vec<(String, Vec<String>)>,
}

/// What the page is about.
pub struct PageInput<'a, 'p> {
    pub as_of: Date,
    /// Why this date: "given", "the ledger clock (newest settled invoice)", ...
    pub as_of_source: &'a str,
    pub accounts: &'a [Account<'p>],
    pub scenarios: &'a [ScenarioView<'p>],
    /// The log position the projections reflect.
    pub log_position: u64,
    /// The title's subject, e.g. "contoso" or "3 accounts".
    pub subject: String,
    /// The ledger clock of the accounts shown (the as-of date may be before it).
    pub clock: Option<Date>,
    /// `--simulate`: the plan rows with their simulated futures (empty without it).
    pub simulations: &'a [PlanRow],
}

/// The whole page.
pub fn page(input: &PageInput) -> String {
    let title = format!(
        "Commitment burn-down · {} · as of {}",
        input.subject, input.as_of
    );
    let mut sections = String::with_capacity(64 * 1024);
    for (i, account) in input.accounts.iter().enumerate() {
        account_section(&mut sections, input, i, account);
    }
    let mut end = String::new();
    footer(&mut end, input);
    let mut out = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                meta name="referrer" content="no-referrer";
                meta name="generator" content={ "ledger " (env!("CARGO_PKG_VERSION")) };
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            "\n"
            body { div class="wrap" {
                (page_header(input))
                main {
                    @if input.accounts.is_empty() {
                        p class="empty" { "This ledger has no billing accounts yet: record an agreement first (" code { "ledger agreement FILE" } ")." }
                    }
                    (PreEscaped(sections))
                }
                (PreEscaped(end))
            } }
        }
    }
    .into_string();
    out.push('\n');
    out
}

/// The page's header: what, as of when, the scenarios and the accounts.
fn page_header(input: &PageInput) -> Markup {
    let as_of = input.as_of.to_string();
    html! {
        header class="page" {
            h1 { "Commitment burn-down" }
            p class="meta" { "As of " time datetime=(as_of) { (as_of) } " (" (input.as_of_source) ") · " (input.subject) " · log position " (input.log_position) }
            @if let Some(clock) = input.clock.filter(|c| *c > input.as_of) {
                p class="meta" data-note="as-of-before-clock" {
                    "The charts show every settled invoice up to the ledger clock (" (display(clock)) "); "
                    "alerts and forecasts take " (as_of) " as today with the current balances, as " code { "ledger alerts --as-of" } " does."
                }
            }
            @if !input.scenarios.is_empty() {
                p class="meta" {
                    "What-if scenarios, drawn dashed beside the recorded ledger: "
                    @for (i, s) in input.scenarios.iter().enumerate() {
                        @if i > 0 { ", " }
                        span class={ "s" (i % MAX_SCENARIOS + 1) } { span class="swatch" {} (s.name) }
                    }
                }
            }
            @if input.accounts.len() > 1 {
                nav class="accounts" aria-label="Accounts" {
                    @for (i, a) in input.accounts.iter().enumerate() {
                        a href={ "#a" (i + 1) } { (a.name) }
                    }
                }
            }
        }
    }
}

fn footer(out: &mut String, input: &PageInput) {
    html! {
        footer {
            p { "Amounts are exact in the ledger and rounded to the cent for display; charts are drawn from the same figures, and each chart's data is in the table under it." }
            p {
                "Remaining commitment: one point per invoice that changed it (R-SETTLE step 6). Straight line: from the commitment at its start to zero at its end. "
                "Forecast (R-ALERT-3): from the as-of date at the actual monthly rate, the decrements of the six calendar months before " (display(input.as_of.month_start())) " (fewer if the commitment started later), to zero or to the shortfall left at the end. "
                "Marks at 90, 60 and 30 days before each deadline (R-ALERT-1). Alerts and forecasts use the ledger's current balances."
            }
            p { "Generated by " code { "ledger report" } " " (env!("CARGO_PKG_VERSION")) " from log position " (input.log_position) ". This file makes no network requests." }
        }
    }
    .render_to(out);
}

fn account_section(out: &mut String, input: &PageInput, index: usize, a: &Account) {
    let id = format!("a{}", index + 1);
    let mut panels = String::with_capacity(16 * 1024);
    account_panels(&mut panels, input, a, &id);
    html! {
        section class="account" id=(id) data-account=(a.name) aria-labelledby={ (id) "-h" } {
            div class="account-head" {
                h2 id={ (id) "-h" } { (a.name) }
                span class="muted" {
                    span class="nw" { "billing account" } " · " (a.currency) " · "
                    span class="nw" { (a.invoices) " invoice" (if a.invoices == 1 { "" } else { "s" }) } " · "
                    span class="nw" { "clock " @match a.clock { Some(c) => { (display(c)) } None => { "none yet" } } }
                }
            }
            (PreEscaped(panels))
        }
    }
    .render_to(out);
}

/// What a scenario changes for this account.
fn whatif(out: &mut String, a: &Account, k: usize, s: &ScenarioView) {
    let lines = s
        .consequences
        .iter()
        .find(|(name, _)| name == a.name)
        .map(|(_, lines)| lines.as_slice())
        .unwrap_or(&[]);
    let n = k % MAX_SCENARIOS + 1;
    html! {
        div class={ "whatif s" (n) } style={ "border-left-color: var(--s" (n) ")" } data-scenario=(s.name) {
            h3 { "What-if: " (s.name) }
            @if lines.is_empty() {
                p class="muted" { "No change to anything this report shows for this account." }
            } @else {
                ul { @for line in lines { li data-consequence { (line) } } }
            }
        }
    }
    .render_to(out);
}

/// The account's headline figures, scenarios, commitments, credits and alerts.
fn account_panels(out: &mut String, input: &PageInput, a: &Account, id: &str) {
    kpis(out, input, a);
    for (k, s) in input.scenarios.iter().enumerate() {
        whatif(out, a, k, s);
    }
    for (k, c) in a.maccs.iter().chain(&a.cacos).enumerate() {
        let chart_id = format!("{id}-c{}", k + 1);
        let others: Vec<(usize, &str, Option<&Commitment>)> = input
            .scenarios
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let found = s
                    .accounts
                    .iter()
                    .find(|sa| sa.name == a.name)
                    .and_then(|sa| {
                        sa.maccs
                            .iter()
                            .chain(&sa.cacos)
                            .find(|sc| sc.kind == c.kind && sc.id == c.id)
                    });
                (si, s.name.as_str(), found)
            })
            .collect();
        commitment_panel(out, input, a, c, &chart_id, &others);
    }
    credits_panel(out, input, a, id);
    alerts_panel(out, input, a);
}

fn kpis(out: &mut String, input: &PageInput, a: &Account) {
    let active: Vec<&Credit> = a.credits.iter().filter(|c| c.status == "Active").collect();
    let available = active
        .iter()
        .try_fold(Money::ZERO, |acc, c| acc.checked_add(c.balance))
        .unwrap_or(Money::ZERO);
    html! {
        div class="kpis" {
            @for c in a.maccs.iter().chain(&a.cacos) { (commitment_kpi(a, c)) }
            div class="kpi" data-kpi="credits" {
                div class="label" { "Credits available" }
                div class="value" { span class="cur" { (a.currency) } (amount(available)) }
                div class="sub" { (active.len()) " active of " (a.credits.len()) " credit lot" (plural(a.credits.len())) }
            }
            div class="kpi" data-kpi="next-deadline" {
                div class="label" { "Next deadline" }
                @match a.alerts.first() {
                    Some(next) => {
                        div class="value" { (next.id) " " span class="cur" { "in " (next.days_left) " day" (if next.days_left == 1 { "" } else { "s" }) } }
                        div class="sub" {
                            (alert_kind(next)) " " (display(next.end))
                            @if let Some(l) = next.alert { " · " (l) "-day alert" }
                            " · risk " (PreEscaped(pill(next.risk.name())))
                        }
                    }
                    None => {
                        div class="value" { "None open" }
                        div class="sub" { "as of " (display(input.as_of)) }
                    }
                }
            }
        }
    }
    .render_to(out);
}

/// A commitment's headline: what remains, and how much of it is consumed.
fn commitment_kpi(a: &Account, c: &Commitment) -> Markup {
    let consumed = c.amount.checked_sub(c.remaining).unwrap_or(Money::ZERO);
    let share = if c.amount.is_positive() {
        (to_f64(consumed) / to_f64(c.amount) * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    html! {
        div class="kpi" data-kpi=(c.id) {
            div class="label" { (if c.kind == "macc" { "MACC" } else { "CACO" }) " " (c.id) " · remaining" }
            div class="value" { span class="cur" { (a.currency) } (amount(c.remaining)) }
            div class="bar" role="img" aria-label={ (format!("{share:.0}")) "% consumed" } { span style={ "width:" (format!("{share:.1}")) "%" } {} }
            div class="sub" {
                (format!("{share:.1}")) "% of " (amount(c.amount)) " consumed · " (c.status)
                @match c.completed {
                    Some(d) => { " " span class="nw" { (display(d)) } }
                    None => { ", ends " span class="nw" { (display(c.end)) } }
                }
            }
            @if let Some(pending) = c.pending_remaining {
                // R-PEND-3: an estimate, drawn apart from the settled figures.
                div class="sub pending" data-pending="estimate" {
                    "Pending (month-to-date) estimate: " span class="cur" { (a.currency) } (amount(pending)) " remaining"
                }
            }
        }
    }
}

/// What an alert's deadline is: the end of a MACC or CACO, or a milestone's due date.
fn alert_kind(a: &Alert) -> String {
    match (a.kind, &a.parent) {
        ("macc", _) => "MACC ends".into(),
        ("caco", _) => "CACO ends".into(),
        (_, Some(parent)) => format!("milestone of {parent} due"),
        _ => "due".into(),
    }
}

/// The date range a commitment's chart covers.
fn domain(
    c: &Commitment,
    others: &[(usize, &str, Option<&Commitment>)],
    as_of: Date,
) -> (Date, Date, bool) {
    let mut first = c.start;
    let mut last = c.end;
    let all_points = c.points.iter().chain(
        others
            .iter()
            .filter_map(|o| o.2)
            .flat_map(|o| o.points.iter()),
    );
    for p in all_points {
        first = first.min(p.date);
        last = last.max(p.date);
    }
    for o in others.iter().filter_map(|o| o.2) {
        first = first.min(o.start);
        last = last.max(o.end);
    }
    // The as-of line is drawn when it is not far outside the term (half the term's length).
    let span = first.days_until(last).max(1);
    let show_today = as_of >= first.add_days(-span / 2) && as_of <= last.add_days(span / 2);
    if show_today {
        first = first.min(as_of);
        last = last.max(as_of);
    }
    // A little room after the end, so the last labels fit.
    (first, last.add_days(span / 40 + 2), show_today)
}

/// (date, remaining) of a burn-down: the opening balance at the start, then each invoice,
/// held flat to `until` when that is later.
fn steps(c: &Commitment, until: Option<Date>) -> Vec<(Date, f64)> {
    let mut v = Vec::with_capacity(c.points.len() + 2);
    v.push((
        c.start.min(c.points.first().map_or(c.start, |p| p.date)),
        to_f64(c.amount),
    ));
    for p in &c.points {
        v.push((p.date, to_f64(p.remaining)));
    }
    if let Some(until) = until {
        let last = v.last().map(|l| l.0).unwrap_or(c.start);
        if until > last {
            let value = v.last().map(|l| l.1).unwrap_or(0.0);
            v.push((until, value));
        }
    }
    v
}

fn point_tooltip(currency: &str, p: &InvoicePoint, prefix: &str) -> String {
    format!(
        "{prefix}{} · invoice {} · {} · remaining {}",
        p.date,
        p.invoice,
        signed(p.change),
        amount_in(currency, p.remaining)
    )
}

/// One point per invoice of a series, each carrying the data attributes the tests and
/// readers rely on (`data-series`, `data-point`, `data-invoice`, `data-date`, `data-remaining`).
fn invoice_points(
    s: &mut Svg,
    f: &Frame,
    currency: &str,
    series: &str,
    points: &[InvoicePoint],
    class: &str,
) {
    for p in points {
        s.point(
            f,
            (p.date, to_f64(p.remaining)),
            class,
            &format!(
                " data-series=\"{}\" data-point data-invoice=\"{}\" data-date=\"{}\" data-remaining=\"{}\"",
                escaped(series),
                escaped(&p.invoice),
                p.date,
                p.remaining.to_plain_string()
            ),
            &point_tooltip(currency, p, ""),
        );
    }
}

fn commitment_panel(
    out: &mut String,
    input: &PageInput,
    a: &Account,
    c: &Commitment,
    chart_id: &str,
    others: &[(usize, &str, Option<&Commitment>)],
) {
    let label = if c.kind == "macc" { "MACC" } else { "CACO" };
    let simulated = band::rows_of(input.simulations, a.name, c);
    let band_row = band::band_of(&simulated, c);
    let chart = commitment_chart(input, a, c, chart_id, others, band_row);
    let mut keys = String::new();
    legend(&mut keys, c, others, band_row.is_some());
    let mut below = String::with_capacity(16 * 1024);
    forecast_note(&mut below, a, c);
    band::section(&mut below, a.currency, &simulated, band_row);
    if !c.milestones.is_empty() {
        milestone_table(&mut below, a, c, others);
    }
    chart_data(&mut below, a, c, others);
    transactions(&mut below, a, c);
    html! {
        section class="panel" data-kind=(c.kind) data-lot=(c.id) aria-labelledby={ (chart_id) "-h" } {
            div class="panel-head" {
                h3 id={ (chart_id) "-h" } { (label) " " (c.id) }
                (PreEscaped(pill(c.status)))
                span class="facts" {
                    (amount_in(a.currency, c.amount)) " · " (display(c.start)) " → " (display(c.end))
                    @if let Some(b) = c.basis { " · " (b) " basis" }
                }
            }
            figure class="chart" { div class="scroll" { (PreEscaped(chart)) } (PreEscaped(keys)) }
            (PreEscaped(below))
        }
    }
    .render_to(out);
}

fn commitment_chart(
    input: &PageInput,
    a: &Account,
    c: &Commitment,
    chart_id: &str,
    others: &[(usize, &str, Option<&Commitment>)],
    band_row: Option<&PlanRow>,
) -> String {
    let as_of = input.as_of;
    let (f, show_today) = chart_frame(c, others, as_of, band::last_date(band_row));
    let (title, desc) = chart_words(a, c);
    let mut s = Svg::open(chart_id, svg::WIDE, "burndown", &title, &desc);
    s.value_axis(&f, a.currency, true);
    deadline_marks(&mut s, &f, c);
    s.time_axis(&f, 13);
    // The end of the term.
    s.vertical(
        &f,
        c.end,
        "deadline",
        Some("End"),
        &format!(" data-deadline-line=\"{}\"", escaped(&c.id)),
        &format!("{} ends {}", c.id, c.end),
    );
    // The straight line to zero.
    s.segment(&f, (c.start, to_f64(c.amount)), (c.end, 0.0), "plan");
    scenario_lines(&mut s, &f, a, others, as_of);
    // The recorded burn-down, its balance held to the as-of date (or to the end of the term
    // when that is earlier).
    let until = Some(as_of.min(c.end.max(c.points.last().map_or(c.end, |p| p.date))));
    s.step_path(
        &f,
        &steps(c, until),
        "actual",
        &format!(" data-line=\"{}\"", escaped(&c.id)),
    );
    invoice_points(&mut s, &f, a.currency, &c.id, &c.points, "actual-point");
    if let Some(row) = band_row {
        band::draw(&mut s, &f, c, row, as_of);
    }
    forecast_line(&mut s, &f, a, c);
    milestone_markers(&mut s, &f, a, c);
    if show_today {
        today_line(&mut s, &f, c, as_of);
    }
    s.close()
}

/// The chart's frame (its dates and the largest amount drawn), and whether the as-of line
/// is inside it.
fn chart_frame(
    c: &Commitment,
    others: &[(usize, &str, Option<&Commitment>)],
    as_of: Date,
    band_end: Option<Date>,
) -> (Frame, bool) {
    let (first, mut last, show_today) = domain(c, others, as_of);
    if let Some(end) = band_end.filter(|&end| end > last) {
        last = end.add_days(first.days_until(end).max(1) / 40 + 2);
    }
    let mut max = to_f64(c.amount);
    for p in c.points.iter() {
        max = max.max(to_f64(p.remaining));
    }
    for o in others.iter().filter_map(|o| o.2) {
        max = max.max(to_f64(o.amount));
    }
    (
        Frame::new(first, last, max, svg::WIDE, (62.0, 18.0, 40.0, 40.0)),
        show_today,
    )
}

/// The chart's title and its description for screen readers.
fn chart_words(a: &Account, c: &Commitment) -> (String, String) {
    let label = if c.kind == "macc" { "MACC" } else { "CACO" };
    let title = format!("{label} {}: remaining commitment after each invoice", c.id);
    let mut desc = format!(
        "Burn-down of {} from {} on {} to {} by {}; remaining {} after {} invoice{}",
        c.id,
        amount_in(a.currency, c.amount),
        c.start,
        "zero",
        c.end,
        amount_in(a.currency, c.remaining),
        c.points.len(),
        if c.points.len() == 1 { "" } else { "s" }
    );
    if let Some(done) = c.completed {
        let _ = write!(desc, "; completed {done}");
    }
    if let Some(fc) = &c.forecast {
        match fc.completion {
            Some(d) if d <= c.end => {
                let _ = write!(desc, "; forecast at the actual rate: zero by {d}");
            }
            _ => {
                let _ = write!(
                    desc,
                    "; forecast at the actual rate: shortfall of {} {} at the end",
                    a.currency,
                    decimal(fc.shortfall)
                );
            }
        }
    }
    let _ = write!(
        desc,
        "; {} milestone{}. The table below the chart holds the same figures.",
        c.milestones.len(),
        if c.milestones.len() == 1 { "" } else { "s" }
    );
    (title, desc)
}

/// 90/60/30-day marks before each deadline: the end and every milestone date.
fn deadline_marks(s: &mut Svg, f: &Frame, c: &Commitment) {
    // A milestone due on the end date shares the end's marks.
    let mut deadlines: Vec<(String, Date, bool)> = vec![("end".to_string(), c.end, true)];
    for m in &c.milestones {
        if !deadlines.iter().any(|(_, d, _)| *d == m.due) {
            deadlines.push((m.id.clone(), m.due, false));
        }
    }
    // Labels of the end's marks: each its own when 30 days are wide enough, else one.
    let day30_width = f.x(c.end) - f.x(c.end.add_days(-30));
    let separate_labels = day30_width >= 26.0;
    // Where mark labels already are, so that no two overlap (the end's are placed first).
    let mut placed: Vec<f64> = Vec::new();
    let room = |x: f64, placed: &mut Vec<f64>| {
        let free = x > f.left + 14.0 && placed.iter().all(|p| (p - x).abs() >= 24.0);
        if free {
            placed.push(x);
        }
        free
    };
    s.out.push_str("<g class=\"marks\">");
    for (name, date, main) in &deadlines {
        for days in [90, 60, 30] {
            let at = date.add_days(-days);
            if !f.contains(at) {
                continue;
            }
            let what = if *main {
                format!("{} ends {date}", c.id)
            } else {
                format!("{name} due {date}")
            };
            let tooltip = format!("{days} days before {what}: {at}");
            let data = format!(
                " data-mark=\"{days}\" data-deadline=\"{}\"",
                escaped(if *main { &c.id } else { name })
            );
            let xf = f.x(at);
            let x = svg::n(xf);
            if *main {
                // The commitment's own end: lines across the plot, labelled at its top edge.
                let label = match (separate_labels, days) {
                    (true, _) if room(xf, &mut placed) => format!("{days}d"),
                    (false, 60) if room(xf, &mut placed) => "90 · 60 · 30 d".to_string(),
                    _ => String::new(),
                };
                let _ = write!(
                    s.out,
                    "<g class=\"mark\"{data}><title>{}</title><line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/>\
                     <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label}</text></g>",
                    escaped(&tooltip),
                    svg::n(f.top + 14.0),
                    svg::n(f.bottom),
                    svg::n(f.top + 10.0)
                );
            } else {
                // A milestone's: short ticks hanging from the plot's top edge, so the plot
                // stays readable; labelled like the end's where there is room.
                let label = if separate_labels && room(xf, &mut placed) {
                    format!(
                        "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{days}d</text>",
                        svg::n(f.top + 17.0)
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    s.out,
                    "<g class=\"mark minor\"{data}><title>{}</title><line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/>{label}</g>",
                    escaped(&tooltip),
                    svg::n(f.top),
                    svg::n(f.top + 7.0)
                );
            }
        }
    }
    s.out.push_str("</g>");
}

/// Each scenario's burn-down, dashed, beneath the recorded line.
fn scenario_lines(
    s: &mut Svg,
    f: &Frame,
    a: &Account,
    others: &[(usize, &str, Option<&Commitment>)],
    as_of: Date,
) {
    for (si, name, other) in others {
        let Some(o) = other else { continue };
        let class = format!("s{}", si % MAX_SCENARIOS + 1);
        let until = Some(as_of.min(o.end.max(o.points.last().map_or(o.end, |p| p.date))));
        let data = format!(" data-scenario-line=\"{}\"", escaped(name));
        let _ = write!(
            s.out,
            "<g data-scenario-series=\"{}\"><title>What-if {}: remaining after each invoice</title>",
            escaped(name),
            escaped(name)
        );
        s.step_path(f, &steps(o, until), &format!("scenario {class}"), &data);
        for p in &o.points {
            s.square(
                f,
                (p.date, to_f64(p.remaining)),
                &format!("scenario-point {class}"),
                &format!(
                    " data-series=\"{}\" data-scenario=\"{}\" data-point data-invoice=\"{}\"",
                    escaped(&o.id),
                    escaped(name),
                    escaped(&p.invoice)
                ),
                &point_tooltip(a.currency, p, &format!("What-if {name}: ")),
            );
        }
        s.out.push_str("</g>");
    }
}

/// The forecast at the actual rate (R-ALERT-3), from the as-of date.
fn forecast_line(s: &mut Svg, f: &Frame, a: &Account, c: &Commitment) {
    if let Some(fc) = &c.forecast {
        if f.contains(fc.as_of) {
            let from = (fc.as_of, to_f64(fc.remaining));
            let (to, text) = match fc.completion {
                Some(d) if d <= c.end => ((d, 0.0), format!("Forecast: zero by {d}")),
                _ => {
                    let shortfall = fc.shortfall.to_string().parse::<f64>().unwrap_or(0.0);
                    (
                        (c.end, shortfall),
                        format!(
                            "Forecast shortfall {} {}",
                            a.currency,
                            decimal(fc.shortfall)
                        ),
                    )
                }
            };
            s.out.push_str("<g data-forecast>");
            s.segment(f, from, to, "forecast");
            let _ = write!(
                s.out,
                "<circle class=\"forecast-end\" cx=\"{}\" cy=\"{}\" r=\"3\"/>",
                svg::n(f.x(to.0)),
                svg::n(f.y(to.1))
            );
            let x = f.x(to.0);
            let anchor = if x > f.right - 150.0 { "end" } else { "start" };
            let dx = if anchor == "end" { -6.0 } else { 6.0 };
            let y = (f.y(to.1) - 8.0).max(f.top + 22.0);
            s.text(x + dx, y, anchor, "forecast-label", &text);
            s.out.push_str("</g>");
        }
    }
}

/// A marker per milestone, labels alternating above and below where they crowd.
fn milestone_markers(s: &mut Svg, f: &Frame, a: &Account, c: &Commitment) {
    let mut previous_x = f64::NEG_INFINITY;
    let mut below = false;
    for m in &c.milestones {
        let x = f.x(m.due);
        below = if x - previous_x < 140.0 {
            !below
        } else {
            false
        };
        previous_x = x;
        let label = format!("{} · {} · {}%", m.id, m.status, pct(m.percent));
        let data = format!(
            " data-milestone=\"{}\" data-status=\"{}\" data-progress=\"{}\"",
            escaped(&m.id),
            escaped(m.status),
            pct(m.percent)
        );
        milestone(
            s,
            f,
            &svg::Marker {
                at: (m.due, to_f64(m.level)),
                shape: svg::MarkerShape::of(m.status),
                class: &format!("ms tone-{}", tone(m.status)),
                label: &label,
                label_below: below,
                data: &data,
                tooltip: &milestone_tooltip(a.currency, m),
            },
        );
    }
}

/// The as-of line, its label lifted above the end's when they would collide.
fn today_line(s: &mut Svg, f: &Frame, c: &Commitment, as_of: Date) {
    let x_today = f.x(as_of);
    let x_end = f.x(c.end);
    let mut g = Svg { out: String::new() };
    g.vertical(
        f,
        as_of,
        "today",
        Some(&format!("As of {as_of}")),
        " data-today",
        &format!("As of {as_of}"),
    );
    // Where `vertical` puts a label of `width` units at `x` (its anchoring rule).
    let span = |x: f64, width: f64| {
        if x > f.right - 60.0 {
            (x - width, x)
        } else if x < f.left + 60.0 {
            (x - 2.0, x - 2.0 + width)
        } else {
            (x - width / 2.0, x + width / 2.0)
        }
    };
    let (today_from, today_to) = span(x_today, 108.0);
    let (end_from, end_to) = span(x_end, 24.0);
    if today_from < end_to + 6.0 && end_from < today_to + 6.0 {
        // Lift the label above the "End" label it would collide with.
        g.out = g.out.replacen(
            &format!("y=\"{}\"", svg::n(f.top - 6.0)),
            &format!("y=\"{}\"", svg::n(f.top - 20.0)),
            1,
        );
    }
    s.out.push_str(&g.out);
}

fn milestone_tooltip(currency: &str, m: &Milestone) -> String {
    let mut t = format!(
        "{}: {} · target {} by {} · progress {} ({}%)",
        m.id,
        m.status,
        amount_in(currency, m.target),
        m.due,
        amount_in(currency, m.progress),
        pct(m.percent)
    );
    if let Some(s) = m.shortfall.filter(|s| s.is_positive()) {
        let _ = write!(t, " · shortfall {}", amount_in(currency, s));
    }
    t
}

/// A legend key: a small line sample and its words.
fn key(out: &mut String, sample: &str, words: &str) {
    html! {
        span class="key" { svg viewBox="0 0 26 12" aria-hidden="true" { (PreEscaped(sample)) } (words) }
    }
    .render_to(out);
}

fn legend(
    figure: &mut String,
    c: &Commitment,
    others: &[(usize, &str, Option<&Commitment>)],
    band: bool,
) {
    let mut out = String::new();
    let out = &mut out;
    key(
        out,
        "<path class=\"actual\" d=\"M1 4H13V9H25\"/><circle class=\"actual-point\" cx=\"13\" cy=\"9\" r=\"3\"/>",
        "Remaining after each invoice",
    );
    key(
        out,
        "<line class=\"plan\" x1=\"1\" y1=\"2\" x2=\"25\" y2=\"10\"/>",
        "Straight line to zero at the end",
    );
    if c.forecast.is_some() {
        key(
            out,
            "<line class=\"forecast\" x1=\"1\" y1=\"3\" x2=\"25\" y2=\"9\"/>",
            "Forecast at the actual rate",
        );
    }
    if band {
        key(
            out,
            band::LEGEND_SAMPLE,
            "Simulated futures: P10–P90 band and P50",
        );
    }
    key(
        out,
        "<g class=\"today\"><line x1=\"13\" y1=\"0\" x2=\"13\" y2=\"12\"/></g>",
        "As-of date",
    );
    key(out, "<g class=\"mark\"><line x1=\"7\" y1=\"0\" x2=\"7\" y2=\"12\"/><line x1=\"19\" y1=\"0\" x2=\"19\" y2=\"12\"/></g>", "90 / 60 / 30 days before a deadline");
    if !c.milestones.is_empty() {
        key(
            out,
            "<g class=\"ms tone-good\"><path class=\"marker\" d=\"M6 1L11 6L6 11L1 6Z\"/></g><g class=\"ms tone-bad\"><path class=\"marker\" d=\"M19 1L24 6L19 11L14 6Z\"/></g>",
            "Milestone: filled met, crossed missed, hollow open",
        );
    }
    for (si, name, other) in others {
        if other.is_some() {
            key(
                out,
                &format!(
                    "<line class=\"scenario s{}\" x1=\"1\" y1=\"6\" x2=\"25\" y2=\"6\"/>",
                    si % MAX_SCENARIOS + 1
                ),
                &format!("What-if: {name}"),
            );
        }
    }
    html! { figcaption class="legend" { (PreEscaped(out.as_str())) } }.render_to(figure);
}

fn forecast_note(out: &mut String, a: &Account, c: &Commitment) {
    let cur = a.currency;
    let note = match (&c.forecast, c.completed) {
        (_, Some(done)) => html! {
            p class="note" { strong { "Completed " (display(done)) } ": the whole " (amount_in(cur, c.amount)) " was consumed." }
        },
        (Some(fc), None) => html! {
            p class="note" {
                "At the actual rate of " (cur) " " (decimal(fc.actual_monthly)) " a month (needed: " (cur) " " (decimal(fc.required_monthly)) " a month), the remaining "
                (amount_in(cur, fc.remaining)) " " (forecast_outcome(cur, c, fc)) ". Risk " (PreEscaped(pill(fc.risk))) "."
            }
        },
        (None, None) => html! {
            p class="note muted" { "No forecast: " (c.id) " is " (c.status.to_lowercase()) " with " (amount_in(cur, c.remaining)) " remaining." }
        },
    };
    note.render_to(out);
}

/// Where the forecast at the actual rate ends: zero in time, zero too late, or never.
fn forecast_outcome(cur: &str, c: &Commitment, fc: &model::Forecast) -> Markup {
    match fc.completion {
        Some(d) if d <= c.end => html! {
            "reaches zero by " strong { (display(d)) } ", before the end (" (display(c.end)) ")"
        },
        Some(d) => html! {
            "would reach zero only on " (display(d)) ", after the end: " strong { "forecast shortfall " (cur) " " (decimal(fc.shortfall)) }
        },
        None => html! {
            "does not reach zero at this rate: " strong { "forecast shortfall " (cur) " " (decimal(fc.shortfall)) } " at the end"
        },
    }
}

fn milestone_table(
    out: &mut String,
    a: &Account,
    c: &Commitment,
    others: &[(usize, &str, Option<&Commitment>)],
) {
    let caco = c.kind == "caco";
    html! {
        h4 { "Milestones" }
        div class="scroll" { table data-table="milestones" {
            thead { tr {
                th { "Milestone" } th { (if caco { "Window" } else { "Due" }) }
                th class="num" { "Target" } th class="num" { "Progress" } th class="num" { "%" } th { "Status" }
                th class="num" { (if caco { "ACO award" } else { "Shortfall" }) }
                @for (_, name, other) in others { @if other.is_some() { th { "What-if: " (name) } } }
            } }
            tbody { @for m in &c.milestones { (milestone_row(caco, m, others)) } }
        } }
        p class="muted" style="font-size:12.5px" {
            "Amounts in " (a.currency) ". "
            (if caco {
                "Progress is CACO-eligible spend in the milestone's window (R-CACO-2); the marker sits where the remaining commitment must be by the window's end."
            } else {
                "Targets are cumulative decrements by the due date (R-MACC-5); the marker sits where the remaining commitment must be by then."
            })
        }
    }
    .render_to(out);
}

/// A milestone's row, with each scenario's outcome of it (its status and progress).
fn milestone_row(
    caco: bool,
    m: &Milestone,
    others: &[(usize, &str, Option<&Commitment>)],
) -> Markup {
    let last = if caco {
        m.award.map(amount).unwrap_or_default()
    } else {
        m.shortfall.map(amount).unwrap_or_else(|| "—".into())
    };
    html! {
        tr data-milestone-row=(m.id) {
            td { (m.id) }
            td class="date" { @if let Some(s) = m.start { (display(s)) " → " } (display(m.due)) }
            td class="num" { (amount(m.target)) } td class="num" { (amount(m.progress)) } td class="num" { (pct(m.percent)) }
            td { (PreEscaped(pill(m.status))) }
            td class="num" { (last) }
            @for (_, _, other) in others {
                @if let Some(o) = other {
                    @match o.milestones.iter().find(|om| om.id == m.id) {
                        Some(om) => { td { (PreEscaped(pill(om.status))) " " span class="muted small" { (pct(om.percent)) "%" } } }
                        None => { td class="muted" { "not in the scenario" } }
                    }
                }
            }
        }
    }
}

fn chart_data(
    out: &mut String,
    a: &Account,
    c: &Commitment,
    others: &[(usize, &str, Option<&Commitment>)],
) {
    let cur = a.currency;
    html! {
        details {
            summary { "Chart data: " (c.points.len()) " invoice" (plural(c.points.len())) }
            div class="scroll" { table data-table="chart-data" {
                thead { tr { th { "Date" } th { "Invoice" } th class="num" { "Change (" (cur) ")" } th class="num" { "Remaining (" (cur) ")" } } }
                tbody {
                    tr { td class="date" { (display(c.start)) } td class="muted" { "start" } td class="num" {} td class="num" { (amount(c.amount)) } }
                    (point_rows(&c.points))
                }
            } }
            @for (_, name, other) in others {
                @if let Some(o) = other {
                    div class="scroll" { table data-table="scenario-data" {
                        caption { "What-if " (name) ": remaining after each invoice" }
                        thead { tr { th { "Date" } th { "Invoice" } th class="num" { "Change" } th class="num" { "Remaining" } } }
                        tbody { (point_rows(&o.points)) }
                    } }
                }
            }
        }
    }
    .render_to(out);
}

/// "s" unless there is one.
fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// A row per invoice point (the newest [`MAX_TABLE_ROWS`]).
fn point_rows(points: &[InvoicePoint]) -> Markup {
    html! {
        @for p in points.iter().rev().take(MAX_TABLE_ROWS).rev() {
            tr { td class="date" { (display(p.date)) } td { (p.invoice) } td class="num" { (signed(p.change)) } td class="num" { (amount(p.remaining)) } }
        }
    }
}

fn transactions(out: &mut String, a: &Account, c: &Commitment) {
    let rows: &[Transaction] = &c.transactions;
    let shown = rows.len().min(MAX_TABLE_ROWS);
    let cur = a.currency;
    html! {
        details {
            summary {
                "Transactions: " (rows.len()) " decrement event" (plural(rows.len()))
                @if shown < rows.len() { ", the newest " (shown) " shown (`ledger events` lists all)" }
            }
            div class="scroll" { table data-table="transactions" {
                thead { tr {
                    th { "Date" } th { "Description" } th { "Billing profile" }
                    th class="num" { (if c.kind == "macc" { "MACC" } else { "CACO" }) " decrement (" (cur) ")" }
                    th class="num" { "Remaining (" (cur) ")" }
                } }
                tbody {
                    @for t in &rows[rows.len() - shown..] {
                        tr { td class="date" { (display(t.date)) } td { (t.description) } td { (t.billing_profile) } td class="num" { (signed(t.change)) } td class="num" { (amount(t.balance)) } }
                    }
                }
            } }
        }
    }
    .render_to(out);
}

fn credits_panel(out: &mut String, input: &PageInput, a: &Account, account_id: &str) {
    let mut cards = String::new();
    if let (Some(first), Some(last)) = (
        a.credits.iter().map(|c| c.opened.min(c.start)).min(),
        a.credits
            .iter()
            .map(|c| c.expires.max(c.points.last().map_or(c.expires, |p| p.date)))
            .max(),
    ) {
        for (k, c) in a.credits.iter().enumerate() {
            credit_card(
                &mut cards,
                input,
                a,
                c,
                &format!("{account_id}-l{}", k + 1),
                first,
                last,
            );
        }
    }
    html! {
        section class="panel" data-kind="credits" aria-labelledby={ (account_id) "-cr" } {
            div class="panel-head" { h3 id={ (account_id) "-cr" } { "Credits" } span class="facts" { "ACO, prepayment and shortfall credits: balance after each invoice, until expiry" } }
            @if a.credits.is_empty() {
                p class="empty" { "No credit lots." }
            } @else {
                div class="credits" { (PreEscaped(cards)) }
                (credit_lots(a))
                (credit_movements(a))
            }
        }
    }
    .render_to(out);
}

/// The credit lots as a table.
fn credit_lots(a: &Account) -> Markup {
    let cur = a.currency;
    html! {
        h4 { "Credit lots" }
        div class="scroll" { table data-table="credits" {
            thead { tr {
                th { "Lot" } th { "Kind" } th { "Origin" } th class="num" { "Original (" (cur) ")" } th class="num" { "Balance (" (cur) ")" }
                th { "Start" } th { "Expires" } th { "Status" }
            } }
            tbody {
                @for c in &a.credits {
                    tr {
                        td { (c.id) } td { (model::credit_kind_label(c.kind)) } td { (c.origin) }
                        td class="num" { (amount(c.original)) } td class="num" { (amount(c.balance)) }
                        td class="date" { (display(c.start)) } td class="date" { (display(c.expires)) } td { (PreEscaped(pill(c.status))) }
                    }
                }
            }
        } }
    }
}

/// Credit movements, as the Events API lists them (the newest [`MAX_TABLE_ROWS`]).
fn credit_movements(a: &Account) -> Markup {
    let cur = a.currency;
    let events: Vec<_> = a
        .events
        .iter()
        .filter(|e| a.credits.iter().any(|c| c.id == e.lot))
        .collect();
    let shown = events.len().min(MAX_TABLE_ROWS);
    html! {
        details {
            summary {
                "Credit movements: " (events.len()) " event" (plural(events.len()))
                @if shown < events.len() { ", the newest " (shown) " shown (`ledger events` lists all)" }
            }
            div class="scroll" { table data-table="credit-events" {
                thead { tr {
                    th { "Date" } th { "Description" } th { "Billing profile" } th { "Lot" } th { "Event" }
                    th class="num" { "Charges (" (cur) ")" } th class="num" { "Balance (" (cur) ")" }
                } }
                tbody {
                    @for e in &events[events.len() - shown..] {
                        tr {
                            td class="date" { (display(e.date)) } td { (e.description) } td { (e.billing_profile.as_deref().unwrap_or("")) }
                            td { (e.lot) } td { (e.event_type) } td class="num" { (signed(e.charges)) } td class="num" { (amount(e.closed_balance)) }
                        }
                    }
                }
            } }
        }
    }
}

fn credit_card(
    out: &mut String,
    input: &PageInput,
    a: &Account,
    c: &Credit,
    chart_id: &str,
    first: Date,
    last: Date,
) {
    let span = first.days_until(last).max(1);
    let f = Frame::new(
        first,
        last.add_days(span / 30 + 1),
        to_f64(c.original).max(
            c.points
                .iter()
                .map(|p| to_f64(p.remaining))
                .fold(0.0, f64::max),
        ),
        svg::SMALL,
        (46.0, 10.0, 22.0, 36.0),
    );
    let title = format!(
        "{} {}: balance after each invoice",
        model::credit_kind_label(c.kind),
        c.id
    );
    let mut desc = format!(
        "{} of {} opened {}, {} after {} invoice{}, expires {}",
        c.id,
        amount_in(a.currency, c.original),
        c.opened,
        amount_in(a.currency, c.balance),
        c.points.len(),
        if c.points.len() == 1 { "" } else { "s" },
        c.expires
    );
    if let Some(unused) = c.expired_unused {
        let _ = write!(
            desc,
            "; expired with {} unused",
            amount_in(a.currency, unused)
        );
    }
    let mut s = Svg::open(chart_id, svg::SMALL, "credit-chart", &title, &desc);
    s.value_axis(&f, a.currency, true);
    s.time_axis(&f, 7);
    let mut line = vec![(c.opened, to_f64(c.original))];
    for p in &c.points {
        line.push((p.date, to_f64(p.remaining)));
    }
    let end = if c.expired_unused.is_some() || c.status == "Expired" {
        c.expires
    } else if c.balance.is_zero() {
        line.last().map_or(c.opened, |l| l.0)
    } else {
        input.as_of.min(c.expires)
    };
    if end > line.last().map_or(c.opened, |l| l.0) {
        let value = line.last().map_or(0.0, |l| l.1);
        line.push((end, value));
    }
    s.step_path(
        &f,
        &line,
        "credit-line",
        &format!(" data-line=\"{}\"", escaped(&c.id)),
    );
    invoice_points(&mut s, &f, a.currency, &c.id, &c.points, "credit-point");
    s.vertical(
        &f,
        c.expires,
        "expiry",
        Some("Expires"),
        &format!(" data-expiry=\"{}\"", c.expires),
        &format!("{} expires {}", c.id, c.expires),
    );
    if let Some(unused) = c.expired_unused {
        let x = f.x(c.expires);
        s.text(
            x - 4.0,
            f.y(to_f64(unused)) - 6.0,
            "end",
            "expiry-label",
            &format!("{} unused", amount(unused)),
        );
    }
    html! {
        div class="credit" data-kind="credit" data-lot=(c.id) {
            div class="head" { span class="id" { (c.id) } (PreEscaped(pill(c.status))) }
            div class="facts" {
                (model::credit_kind_label(c.kind)) " · " (amount_in(a.currency, c.balance)) " of " (amount(c.original)) " left · expires " (display(c.expires))
            }
            div class="scroll" { (PreEscaped(s.close())) }
            div class="facts" { (c.origin) }
        }
    }
    .render_to(out);
}

fn alerts_panel(out: &mut String, input: &PageInput, a: &Account) {
    let as_of = display(input.as_of);
    html! {
        section class="panel" data-kind="alerts" {
            div class="panel-head" { h3 { "Alerts as of " (as_of) } span class="facts" { "every MACC, CACO and milestone not yet met and not ended (R-ALERT)" } }
            @if a.alerts.is_empty() {
                p class="empty" { "No open deadlines as of " (as_of) ": every commitment and milestone has been met or has ended." }
            } @else {
                div class="scroll" { table data-table="alerts" {
                    thead { tr {
                        th { "Deadline" } th { "Ends" } th class="num" { "Days left" } th { "Alert" }
                        th class="num" { "Remaining (" (a.currency) ")" } th class="num" { "Needed a month" } th class="num" { "Actual a month" } th { "Risk" } th { "Forecast zero" } th class="num" { "Forecast shortfall" }
                    } }
                    tbody { @for al in &a.alerts { (alert_row(al)) } }
                } }
            }
        }
    }
    .render_to(out);
}

/// One open deadline of the alerts table.
fn alert_row(al: &Alert) -> Markup {
    html! {
        tr data-alert=(al.id) {
            td {
                (al.id)
                div class="muted small" {
                    @match (al.kind, &al.parent) {
                        ("milestone", Some(parent)) => { "milestone of " (parent) }
                        (k, _) => { (k.to_uppercase()) }
                    }
                }
            }
            td class="date" { (display(al.end)) }
            td class="num" { (al.days_left) }
            td {
                @match al.alert {
                    Some(l) => { span class={ "pill tone-" (if l == 30 { "bad" } else { "warn" }) } { (l) " days" } }
                    None => { span class="muted" { "—" } }
                }
            }
            td class="num" { (amount(al.remaining)) }
            td class="num" { (decimal(al.required_monthly_rate)) }
            td class="num" { (decimal(al.actual_monthly_rate)) }
            td { (PreEscaped(pill(al.risk.name()))) }
            td class="date" {
                @match al.forecast_completion {
                    Some(d) => { (display(d)) }
                    None => { "not at this rate" }
                }
            }
            td class="num" { (decimal(al.forecast_shortfall)) }
        }
    }
}
