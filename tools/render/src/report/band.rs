//! `ledger report --simulate N --seed S` (issue 16, "Uncertainty"): the futures `ledger plan
//! --simulate` draws (the same fold, `ledger_replay::plan`), drawn on each MACC's chart as the
//! band between the 10th and 90th percentile of what is left after each projected month and
//! the line of the 50th, and listed under the chart with every plan row of the commitment
//! (the chance of meeting it and the P10/P50/P90 shortfall).
//!
//! The DOM the tests read: the band is `<g data-band="{id}" data-runs data-seed>`; its table
//! is `<table data-table="band" data-band="{id}">` whose rows carry `data-date`, `data-p10`,
//! `data-p50` and `data-p90` (exact amounts); each plan row's figures are
//! `<tr data-simulation="{id}">` with `data-probability` and `data-shortfall-p10/50/90`.

use std::fmt::Write as _;

use ledger_app::core::Date;
use ledger_app::replay::plan::{PlanKind, PlanRow};
use ledger_app::replay::simulate::BandPoint;
use ledger_app::report::Commitment;
use maud::{display, html, Render as _};

use super::svg::{self, escaped, to_f64, Frame, Svg};
use crate::amount::amount;

/// The plan rows of commitment `c` of `account`: a MACC's own row and its milestones', a
/// CACO's milestones'.
pub fn rows_of<'r>(rows: &'r [PlanRow], account: &str, c: &Commitment) -> Vec<&'r PlanRow> {
    rows.iter()
        .filter(|r| r.account == account && r.simulation.is_some())
        .filter(|r| match r.kind {
            PlanKind::Macc => c.kind == "macc" && r.id == c.id,
            PlanKind::MaccMilestone => c.kind == "macc" && is_below(&r.id, &c.id),
            PlanKind::CacoMilestone => c.kind == "caco" && is_below(&r.id, &c.id),
        })
        .collect()
}

fn is_below(row: &str, parent: &str) -> bool {
    row.strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The band drawn on `c`'s chart: its own row's (a MACC's remaining balance), if any.
pub fn band_of<'r>(rows: &[&'r PlanRow], c: &Commitment) -> Option<&'r PlanRow> {
    rows.iter()
        .copied()
        .find(|r| r.kind == PlanKind::Macc && r.id == c.id)
        .filter(|r| r.simulation.as_ref().is_some_and(|s| !s.band.is_empty()))
}

/// The last date the band reaches (the chart's frame must hold it).
pub fn last_date(row: Option<&PlanRow>) -> Option<Date> {
    row?.simulation.as_ref()?.band.last().map(|b| b.date)
}

/// The band from the as-of date (all futures start at today's remaining) through the last
/// projected month, and the P50 line.
pub fn draw(s: &mut Svg, f: &Frame, c: &Commitment, row: &PlanRow, as_of: Date) {
    let Some(sim) = &row.simulation else {
        return;
    };
    let start = (as_of, to_f64(c.remaining));
    let at = |b: &BandPoint, v| (b.date, to_f64(v));
    let upper: Vec<(Date, f64)> = std::iter::once(start)
        .chain(sim.band.iter().map(|b| at(b, b.p90)))
        .collect();
    let lower: Vec<(Date, f64)> = std::iter::once(start)
        .chain(sim.band.iter().map(|b| at(b, b.p10)))
        .collect();
    let median: Vec<(Date, f64)> = std::iter::once(start)
        .chain(sim.band.iter().map(|b| at(b, b.p50)))
        .collect();
    let mut area = String::new();
    for (i, &(d, v)) in upper.iter().chain(lower.iter().rev()).enumerate() {
        let _ = write!(
            area,
            "{}{} {}",
            if i == 0 { "M" } else { "L" },
            svg::n(f.x(d)),
            svg::n(f.y(v))
        );
    }
    let _ = write!(
        s.out,
        "<g data-band=\"{}\" data-runs=\"{}\" data-seed=\"{}\"><title>{}</title>\
         <path class=\"band\" style=\"fill: var(--forecast); fill-opacity: 0.18; stroke: none\" d=\"{area}Z\"/>\
         <path class=\"band-median\" style=\"fill: none; stroke: var(--forecast); stroke-width: 1.5; stroke-dasharray: 2 3\" d=\"{}\"/></g>",
        escaped(&row.id),
        sim.runs,
        sim.seed,
        escaped(&format!(
            "{} simulated futures (seed {}): P10–P90 of what is left after each month, and P50",
            sim.runs, sim.seed
        )),
        polyline(f, &median)
    );
}

fn polyline(f: &Frame, points: &[(Date, f64)]) -> String {
    let mut d = String::new();
    for (i, &(date, v)) in points.iter().enumerate() {
        let _ = write!(
            d,
            "{}{} {}",
            if i == 0 { "M" } else { "L" },
            svg::n(f.x(date)),
            svg::n(f.y(v))
        );
    }
    d
}

/// The legend's sample of the band.
pub const LEGEND_SAMPLE: &str = "<path style=\"fill: var(--forecast); fill-opacity: 0.18\" d=\"M1 2L25 6L25 11L1 8Z\"/><path style=\"fill: none; stroke: var(--forecast); stroke-width: 1.5; stroke-dasharray: 2 3\" d=\"M1 5L25 8.5\"/>";

/// The simulated futures under a chart: each plan row's figures, then the band's months.
pub fn section(out: &mut String, currency: &str, rows: &[&PlanRow], band: Option<&PlanRow>) {
    let Some(first) = rows.first().and_then(|r| r.simulation.as_ref()) else {
        return;
    };
    html! {
        div class="scroll" { table data-table="simulation" {
            caption { "Simulated futures: " (first.runs) " per commitment drawn from the run-rate window's months (seed " (first.seed) ", as " code { "ledger plan --simulate" } ")" }
            thead { tr { th { "Commitment" } th { "Deadline" } th class="num" { "P(meet)" } th class="num" { "Shortfall P10 (" (currency) ")" } th class="num" { "P50" } th class="num" { "P90" } } }
            tbody {
                @for r in rows {
                    @if let Some(sim) = &r.simulation {
                        tr data-simulation=(r.id) data-probability=(sim.probability().round_dp(4)) data-shortfall-p10=(sim.shortfall_p10.to_plain_string()) data-shortfall-p50=(sim.shortfall_p50.to_plain_string()) data-shortfall-p90=(sim.shortfall_p90.to_plain_string()) {
                            td { (r.id) } td class="date" { (display(r.deadline)) }
                            td class="num" { (sim.probability().round_dp(4)) }
                            td class="num" { (amount(sim.shortfall_p10)) } td class="num" { (amount(sim.shortfall_p50)) } td class="num" { (amount(sim.shortfall_p90)) }
                        }
                    }
                }
            }
        } }
        @if let Some(sim) = band.and_then(|r| r.simulation.as_ref()) {
            details {
                summary { "Band data: what is left after each projected month, P10 / P50 / P90" }
                div class="scroll" { table data-table="band" data-band=(band.map_or("", |r| r.id.as_str())) {
                    thead { tr { th { "Invoice date" } th class="num" { "P10 (" (currency) ")" } th class="num" { "P50" } th class="num" { "P90" } } }
                    tbody {
                        @for b in &sim.band {
                            tr data-date=(b.date) data-p10=(b.p10.to_plain_string()) data-p50=(b.p50.to_plain_string()) data-p90=(b.p90.to_plain_string()) {
                                td class="date" { (display(b.date)) } td class="num" { (amount(b.p10)) } td class="num" { (amount(b.p50)) } td class="num" { (amount(b.p90)) }
                            }
                        }
                    }
                } }
            }
        }
    }
    .render_to(out);
}
