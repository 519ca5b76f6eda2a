//! The burn-down report as one self-contained HTML page (`ledger report --html`, and `/` of
//! `ledger serve`), drawn from `ledger_app::report`'s data:
//!
//! - [`svg`]: the charts (scales, axes, marks) as inline SVG;
//! - [`html`]: the page, its stylesheet (`style.css`, light and dark) and its tables.
//!
//! The page needs nothing but itself: no script, no font, no image, no link but `#fragment`
//! ones, and a Content-Security-Policy of `default-src 'none'` so that a browser would refuse a
//! fetch even if one slipped in. Its size grows with invoices and events, not with charge
//! lines: a 1M-line ledger's report is a few hundred kilobytes.

pub mod band;
pub mod html;
pub mod svg;

use ledger_app::core::Date;
use ledger_app::replay::plan::PlanRow;
use ledger_app::replay::whatif::{figures, Figures};
use ledger_app::replay::Projections;
use ledger_app::report::{accounts, as_of_for, ledger_clock};

use crate::whatif::consequences;
use html::{PageInput, ScenarioView};

pub use html::{CONTENT_SECURITY_POLICY, MAX_SCENARIOS};

/// A scenario's projections with its name.
pub struct ScenarioResult<'p> {
    pub name: String,
    pub projections: &'p Projections,
}

/// The page for `p`, optionally one account, as of a date (default: the ledger clock), with
/// scenarios beside it. `ledger serve` calls this with no scenarios.
pub fn page(
    p: &Projections,
    as_of: Option<Date>,
    account: Option<&str>,
    scenarios: &[ScenarioResult],
) -> String {
    page_with_futures(p, as_of, account, scenarios, &[])
}

/// [`page`] with the futures `ledger plan --simulate` drew (`simulations`: plan rows made as
/// of the page's date, [`report_date`]), drawn as a band on each MACC's chart.
pub fn page_with_futures(
    p: &Projections,
    as_of: Option<Date>,
    account: Option<&str>,
    scenarios: &[ScenarioResult],
    simulations: &[PlanRow],
) -> String {
    let (as_of, as_of_source) = as_of_for(p, as_of, account);
    let accounts_shown = accounts(p, as_of, account);
    let baseline_figures = figures(p);
    let views: Vec<ScenarioView> = scenarios
        .iter()
        .map(|s| {
            let scenario_figures = figures(s.projections);
            ScenarioView {
                name: s.name.clone(),
                accounts: accounts(s.projections, as_of, account),
                consequences: per_account_consequences(&baseline_figures, &scenario_figures),
            }
        })
        .collect();
    let subject = match (account, accounts_shown.len()) {
        (Some(a), _) => a.to_string(),
        (None, 1) => accounts_shown[0].name.to_string(),
        (None, n) => format!("{n} accounts"),
    };
    html::page(&PageInput {
        as_of,
        as_of_source,
        accounts: &accounts_shown,
        scenarios: &views,
        log_position: p.next_seq,
        subject,
        clock: ledger_clock(p, account),
        simulations,
    })
}

/// The date a page is as of: `as_of`, else the ledger clock (what [`page`] shows).
pub fn report_date(p: &Projections, as_of: Option<Date>, account: Option<&str>) -> Date {
    as_of_for(p, as_of, account).0
}

/// The consequence lines of a scenario, account by account (without the account prefix).
fn per_account_consequences(baseline: &Figures, scenario: &Figures) -> Vec<(String, Vec<String>)> {
    let mut names: Vec<&str> = baseline
        .accounts
        .iter()
        .map(|a| a.account.as_str())
        .collect();
    for a in &scenario.accounts {
        if !names.contains(&a.account.as_str()) {
            names.push(&a.account);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let pick = |f: &Figures| Figures {
                accounts: f
                    .accounts
                    .iter()
                    .filter(|a| a.account == name)
                    .cloned()
                    .collect(),
            };
            (
                name.to_string(),
                consequences(&pick(baseline), &pick(scenario)),
            )
        })
        .collect()
}
