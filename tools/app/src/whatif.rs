//! `ledger whatif SCENARIO...` and `ledger report --whatif`: scenario files read by
//! `ledger-input`, turned into the what-if fold's [`Scenario`]s and folded on forks by
//! `ledger_replay::whatif` (the log is never written).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_core::Agreement;
use ledger_input::read_scenario;
use ledger_input::scenario::{self as file, ScenarioFile};
use ledger_replay::whatif::{self, Change, LineFilter, Scenario, WhatIfError};
use ledger_replay::Projections;

use crate::error::AppError;
use crate::session::Session;

/// Scenario files replayed against a ledger: the ledger as recorded (the baseline) and one
/// fork per file, in file order.
pub struct WhatIf {
    pub session: Session,
    /// Named apart by [`read_scenarios`].
    pub files: Vec<ScenarioFile>,
    pub results: Vec<Projections>,
}

/// Read every scenario file (before the log, so a bad one fails at once), two files with the
/// same name told apart by their paths: `ledger whatif` and `ledger report --whatif` name
/// them alike.
pub fn read_scenarios(paths: &[PathBuf]) -> Result<Vec<ScenarioFile>, AppError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        files.push(read_scenario(path)?);
    }
    let names = disambiguated_names(&files);
    for (file, name) in files.iter_mut().zip(names) {
        file.name = name;
    }
    Ok(files)
}

/// The scenarios' names, two files with the same name told apart by their paths.
fn disambiguated_names(files: &[ScenarioFile]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            let same = files.iter().filter(|g| g.name == f.name).count();
            if same > 1 {
                f.path.display().to_string()
            } else {
                f.name.clone()
            }
        })
        .collect()
}

/// `ledger whatif`: read the files, name them apart, fold them over the ledger at `data`.
pub fn run(data: &Path, paths: &[PathBuf]) -> Result<WhatIf, AppError> {
    let files = read_scenarios(paths)?;
    let session = Session::open_for_read(data, "whatif")?;
    let scenarios: Vec<Scenario> = files.iter().map(scenario).collect();
    // The comparison reads no run rate: the folds skip the spend view.
    let results = whatif::run_keeping(
        &session.store,
        &session.projections,
        &scenarios,
        whatif::Views::WithoutSpend,
    )
    .map_err(|e| failure(&files, e))?;
    Ok(WhatIf {
        session,
        files,
        results,
    })
}

/// Fold every scenario over the recorded facts of `session`, reading the log once.
pub fn fold(session: &Session, files: &[ScenarioFile]) -> Result<Vec<Projections>, WhatIfError> {
    let scenarios: Vec<Scenario> = files.iter().map(scenario).collect();
    whatif::run(&session.store, &session.projections, &scenarios)
}

/// The fold's scenario for a file.
pub fn scenario(f: &ScenarioFile) -> Scenario {
    let agreement_override: Option<whatif::AgreementOverride> = f.agreement.clone().map(|o| {
        let apply = move |a: &Agreement| o.apply(a).map_err(|e| e.to_string());
        Arc::new(apply) as whatif::AgreementOverride
    });
    Scenario {
        name: f.name.clone(),
        changes: f.changes.iter().map(change).collect(),
        agreement_override,
        through: f.through,
    }
}

fn change(c: &file::Change) -> Change {
    match c {
        file::Change::Scale { filter, factor } => Change::Scale {
            filter: line_filter(filter),
            factor: *factor,
        },
        file::Change::Drop { filter } => Change::Drop {
            filter: line_filter(filter),
        },
        file::Change::Add {
            monthly,
            kind,
            billing_profile,
            account,
            service,
            from_month,
            to_month,
        } => Change::Add {
            monthly: *monthly,
            kind: *kind,
            billing_profile: billing_profile.clone(),
            account: account.clone(),
            service: service.clone(),
            from_month: *from_month,
            to_month: *to_month,
        },
        file::Change::Project {
            account,
            from_month,
            to_month,
            growth,
            scale,
            window,
        } => Change::Project {
            account: account.clone(),
            from_month: *from_month,
            to_month: *to_month,
            growth: *growth,
            scale: *scale,
            window: *window,
        },
    }
}

fn line_filter(f: &file::LineFilter) -> LineFilter {
    LineFilter {
        kinds: f.kinds,
        service: f.service.clone(),
        billing_profile: f.billing_profile.clone(),
        account: f.account.clone(),
        from: f.from,
        to: f.to,
    }
}

/// A fold error pointed at the scenario file (and the line of the change) behind it.
fn failure(files: &[ScenarioFile], e: WhatIfError) -> AppError {
    let file_of = |name: &str| files.iter().find(|f| f.name == name);
    match e {
        // The overlay's message already names the file, line and key.
        WhatIfError::Agreement { message, .. } => AppError::ScenarioAgreement { message },
        WhatIfError::Change {
            scenario,
            change,
            message,
        } => match file_of(&scenario) {
            Some(f) => AppError::ScenarioChange {
                path: f.path.clone(),
                line: f.change_lines.get(change - 1).copied().flatten(),
                index: change - 1,
                message,
            },
            None => AppError::WhatIf(WhatIfError::Change {
                scenario,
                change,
                message,
            }),
        },
        WhatIfError::Fold { ref scenario, .. } => match file_of(scenario) {
            Some(f) => AppError::ScenarioFold {
                path: f.path.clone(),
                source: Box::new(e),
            },
            None => AppError::WhatIf(e),
        },
        other => AppError::WhatIf(other),
    }
}
