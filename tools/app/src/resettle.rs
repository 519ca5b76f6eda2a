//! `ledger resettle [--account A]`: correct accounts decided under an older rulebook to what
//! the current one derives from every recorded fact. The log keeps the old decisions; a
//! resettle appends one fact per account with its corrections (`Resettled` events). An
//! account that already settles under the current rulebook, with nothing to correct, gets
//! nothing appended, so a second run appends nothing.

use std::path::Path;

use ledger_core::event::Event;
use ledger_core::rulebook::CURRENT_VERSION;
use ledger_core::Fact;
use ledger_replay::resettle::plan;
use ledger_replay::write::stage;
use ledger_store::Appender;

use crate::error::AppError;
use crate::session::Session;

/// What a resettle did to one account.
#[derive(Clone, Debug)]
pub struct Resettled {
    pub account: String,
    /// The rulebook the account settled under before, and now.
    pub from: u16,
    pub to: u16,
    /// The decisions appended (`AccountTermsChanged`, `Resettled`, completions); empty when
    /// nothing was appended.
    pub events: Vec<Event>,
}

/// Resettle `account` (every account when `None`) under the current rulebook. Every account
/// is re-derived and checked before the first append: a refusal appends nothing.
pub fn resettle(data: &Path, account: Option<&str>) -> Result<Vec<Resettled>, AppError> {
    let mut session = Session::open_for_write(data, "resettle")?;
    let ledger = &session.projections.ledger;
    let accounts: Vec<String> = match account {
        Some(a) if ledger.account(a).is_none() => {
            return Err(AppError::UnknownAccount(a.to_string()));
        }
        Some(a) => vec![a.to_string()],
        None => ledger.accounts.keys().cloned().collect(),
    };
    if accounts.is_empty() {
        return Err(AppError::NothingToResettle);
    }
    let mut planned: Vec<(String, u16, Option<Fact>)> = Vec::with_capacity(accounts.len());
    for account in accounts {
        let current = ledger.account(&account).expect("listed above");
        let fact = plan(&session.store, current, CURRENT_VERSION)?;
        planned.push((account, current.terms.rulebook_version, fact));
    }
    let mut done = Vec::with_capacity(planned.len());
    for (account, from, fact) in planned {
        let events = match fact {
            None => Vec::new(),
            Some(fact) => {
                let mut appender = Appender::new(session.store.head());
                let staged = stage(&mut session.projections, &mut appender, &fact)?
                    .expect("a resettle is never a repeat");
                session.store.append(&staged.records)?;
                staged.applied.events
            }
        };
        done.push(Resettled {
            account,
            from,
            to: CURRENT_VERSION,
            events,
        });
    }
    session.finish_writes()?;
    Ok(done)
}
