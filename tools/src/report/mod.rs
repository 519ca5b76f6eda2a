//! `ledger report --html FILE [--as-of DATE] [--whatif SCENARIO...] [--account A]`: the
//! burn-down report as one self-contained HTML file, and the same page for `ledger serve`.
//!
//! - [`model`]: what is shown, read from projections (points per invoice, milestones,
//!   forecasts from R-ALERT-3, credit balances, alerts, transactions);
//! - [`svg`]: the charts (scales, axes, marks) as inline SVG;
//! - [`html`]: the page, its stylesheet (`style.css`, light and dark) and its tables.
//!
//! The page needs nothing but itself: no script, no font, no image, no link but `#fragment`
//! ones, and a Content-Security-Policy of `default-src 'none'` so that a browser would refuse a
//! fetch even if one slipped in. Its size grows with invoices and events, not with charge
//! lines: a 1M-line ledger's report is a few hundred kilobytes.

pub mod html;
pub mod model;
pub mod svg;

use std::path::{Path, PathBuf};
use std::time::Instant;

use ledger_core::Date;
use ledger_replay::whatif::{self, consequences, figures, Figures, Scenario};
use ledger_replay::Projections;

use crate::cli::parse_date;
use crate::session::{Failure, Session};
use html::{PageInput, ScenarioView, MAX_SCENARIOS};

/// `ledger report` options.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The HTML file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// "Today" for the as-of line, the alerts and the forecasts (YYYY-MM-DD); default: the
    /// ledger clock (the newest settled invoice date, or the latest close).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// What-if scenario files (as for `ledger whatif`), drawn dashed beside the recorded
    /// ledger, with their consequences listed (at most 4).
    #[arg(long, value_name = "SCENARIO", num_args = 1..)]
    pub whatif: Vec<PathBuf>,
    /// Only this billing account.
    #[arg(long)]
    pub account: Option<String>,
}

/// Where the as-of date came from, for the page's header.
fn as_of_for(p: &Projections, given: Option<Date>, account: Option<&str>) -> (Date, &'static str) {
    if let Some(d) = given {
        return (d, "given");
    }
    match model::ledger_clock(p, account) {
        Some(d) => (d, "the ledger clock: newest settled invoice or close"),
        // No invoice yet: the tool (never the engine) reads today's date.
        None => (
            Date::from_naive(chrono::Utc::now().date_naive()),
            "today: the ledger has no settled invoice yet",
        ),
    }
}

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
    let (as_of, as_of_source) = as_of_for(p, as_of, account);
    let accounts = model::accounts(p, as_of, account);
    let baseline_figures = figures(p);
    let views: Vec<ScenarioView> = scenarios
        .iter()
        .map(|s| {
            let scenario_figures = figures(s.projections);
            ScenarioView {
                name: s.name.clone(),
                accounts: model::accounts(s.projections, as_of, account),
                consequences: per_account_consequences(&baseline_figures, &scenario_figures),
            }
        })
        .collect();
    let subject = match (account, accounts.len()) {
        (Some(a), _) => a.to_string(),
        (None, 1) => accounts[0].name.to_string(),
        (None, n) => format!("{n} accounts"),
    };
    html::page(&PageInput {
        as_of,
        as_of_source,
        accounts: &accounts,
        scenarios: &views,
        log_position: p.next_seq,
        subject,
        clock: model::ledger_clock(p, account),
    })
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

/// `ledger report`.
pub fn run(data: &Path, args: &ReportArgs) -> Result<String, Failure> {
    let started = Instant::now();
    if args.whatif.len() > MAX_SCENARIOS {
        return Err(Failure::usage(format!(
            "--whatif takes at most {MAX_SCENARIOS} scenarios (a chart stays readable); got {}",
            args.whatif.len()
        )));
    }
    // Scenario files are read before the ledger, so a bad one fails at once.
    let mut files = Vec::with_capacity(args.whatif.len());
    for path in &args.whatif {
        files.push(crate::whatif::read_scenario(path)?);
    }
    let session = Session::open_for_read(data, "report")?;
    let p = &session.projections;
    if let Some(account) = &args.account {
        if p.ledger.account(account).is_none() {
            let known: Vec<&str> = p
                .ledger
                .accounts
                .keys()
                .map(String::as_str)
                .take(10)
                .collect();
            return Err(Failure::new(format!(
                "--account {account}: no such billing account in this ledger (it has: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    let names = scenario_names(&files);
    let scenarios: Vec<Scenario> = files.iter().map(|f| f.scenario.clone()).collect();
    let results = whatif::run(&session.store, p, &scenarios)
        .map_err(|e| Failure::new(format!("what-if: {e}")))?;
    let scenario_results: Vec<ScenarioResult> = names
        .into_iter()
        .zip(&results)
        .map(|(name, projections)| ScenarioResult { name, projections })
        .collect();
    let text = page(p, args.as_of, args.account.as_deref(), &scenario_results);
    write_atomically(&args.html, text.as_bytes())?;
    let accounts = match &args.account {
        Some(_) => 1,
        None => p.ledger.accounts.len(),
    };
    Ok(format!(
        "ledger report: wrote {} ({} bytes; {} account{}{}) in {:.0} ms\n",
        args.html.display(),
        text.len(),
        accounts,
        if accounts == 1 { "" } else { "s" },
        if scenario_results.is_empty() {
            String::new()
        } else {
            format!(
                ", {} what-if scenario{}",
                scenario_results.len(),
                if scenario_results.len() == 1 { "" } else { "s" }
            )
        },
        started.elapsed().as_secs_f64() * 1e3
    ))
}

/// Scenario names, told apart by their paths when two files share one.
fn scenario_names(files: &[crate::whatif::ScenarioFile]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            let same = files
                .iter()
                .filter(|g| g.scenario.name == f.scenario.name)
                .count();
            if same > 1 {
                f.path.display().to_string()
            } else {
                f.scenario.name.clone()
            }
        })
        .collect()
}

/// Write beside the target and rename over it, so a reader never sees half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fail = |e: std::io::Error| {
        Failure::new(format!("{}: cannot write the report: {e}", path.display()))
    };
    let mut temp = tempfile::NamedTempFile::new_in(&parent).map_err(fail)?;
    std::io::Write::write_all(&mut temp, bytes).map_err(fail)?;
    // A report is a document to share, not a secret: the usual permissions, not the temporary
    // file's private ones.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
