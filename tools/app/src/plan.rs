//! `ledger plan --as-of DATE`: what meeting every open MACC, MACC milestone and CACO
//! milestone takes, found on forks of the recorded ledger by `ledger_replay::plan` (the log
//! is read, never written).

use std::path::Path;

use ledger_core::Date;
use ledger_replay::plan::{self, PlanQuery, PlanRow};

use crate::error::AppError;
use crate::session::Session;

/// A plan as of a date.
pub struct Plan {
    pub as_of: Date,
    pub rows: Vec<PlanRow>,
}

/// Plan every commitment of `account` (every account when `None`) of the ledger at `data`.
pub fn plan(
    data: &Path,
    as_of: Date,
    account: Option<&str>,
    window: u32,
    simulate: Option<(u32, u64)>,
) -> Result<Plan, AppError> {
    let session = Session::open_for_read(data, "plan")?;
    if let Some(a) = account {
        if session.projections.ledger.account(a).is_none() {
            return Err(AppError::UnknownAccount(a.to_string()));
        }
    }
    let rows = rows(&session, as_of, account, window, simulate)?;
    Ok(Plan { as_of, rows })
}

/// The plan rows of an open session (the report's `--simulate` draws them too).
pub fn rows(
    session: &Session,
    as_of: Date,
    account: Option<&str>,
    window: u32,
    simulate: Option<(u32, u64)>,
) -> Result<Vec<PlanRow>, AppError> {
    Ok(plan::plan(
        &session.store,
        &session.projections,
        &PlanQuery {
            as_of,
            account,
            window,
            simulate,
        },
    )?)
}
