//! `ledger close --through DATE`: evaluate every deadline up to a date (R-EVAL), account by
//! account, each close one fact with its decisions.
//!
//! A close is idempotent: a close of an account that would change nothing (no deadline due
//! through the date, and the account's clock already at or past it) appends nothing. So a
//! second identical close records nothing, and re-running a close that stopped part way (a
//! crash after some accounts) appends only the accounts not yet closed, at the log positions
//! the first run would have used, with the same event ids.

use std::path::Path;

use ledger_core::event::Event;
use ledger_core::{Date, Fact, Ledger};
use ledger_replay::write::stage;
use ledger_store::{Appender, Head};

use crate::error::AppError;
use crate::session::Session;

/// The decisions a close of one account took.
#[derive(Clone, Debug)]
pub struct Closed {
    pub account: String,
    pub events: Vec<Event>,
    /// Whether the close was recorded; `false` when it would have changed nothing.
    pub recorded: bool,
}

/// What a close did: per account, and the log's head after it.
#[derive(Clone, Debug)]
pub struct CloseOutcome {
    pub accounts: Vec<Closed>,
    pub head: Head,
}

/// Close `account` (every account when `None`) through `through`.
pub fn close(data: &Path, through: Date, account: Option<&str>) -> Result<CloseOutcome, AppError> {
    let mut session = Session::open_for_write(data, "close")?;
    let accounts: Vec<String> = match account {
        Some(a) if session.projections.ledger.account(a).is_none() => {
            return Err(AppError::UnknownAccount(a.to_string()));
        }
        Some(a) => vec![a.to_string()],
        None => session
            .projections
            .ledger
            .accounts
            .keys()
            .cloned()
            .collect(),
    };
    if accounts.is_empty() {
        return Err(AppError::NothingToClose);
    }
    // Every account is decided before the first append: a close refused for one account
    // (a shortfall dated past 9999-12-31) records nothing for any.
    let mut appender = Appender::new(session.store.head());
    let mut decided = Vec::with_capacity(accounts.len());
    for account in accounts {
        let fact = Fact::Close {
            account: account.clone(),
            through,
        };
        if changes_nothing(&session.projections.ledger, &fact)? {
            decided.push((account, None));
            continue;
        }
        let one = stage(&mut session.projections, &mut appender, &fact)
            .map_err(|e| AppError::CloseRefused {
                account: account.clone(),
                through,
                source: Box::new(e),
            })?
            .expect("a close is never a repeat");
        decided.push((account, Some(one)));
    }
    let mut closed = Vec::with_capacity(decided.len());
    for (account, one) in decided {
        let Some(one) = one else {
            closed.push(Closed {
                account,
                events: Vec::new(),
                recorded: false,
            });
            continue;
        };
        session.store.append(&one.records)?;
        closed.push(Closed {
            account,
            events: one.applied.events,
            recorded: true,
        });
    }
    if closed.iter().any(|c| c.recorded) {
        session.finish_writes()?;
    }
    Ok(CloseOutcome {
        accounts: closed,
        head: session.store.head(),
    })
}

/// Whether closing would change nothing: the account's clock is at or past the date and the
/// close would decide nothing but its own marker. Decided on a copy of the one account, so
/// the projections stay untouched.
fn changes_nothing(ledger: &Ledger, fact: &Fact) -> Result<bool, AppError> {
    let Fact::Close { account, through } = fact else {
        return Ok(false);
    };
    let Some(state) = ledger.account(account) else {
        return Ok(false);
    };
    if state.clock.is_none_or(|clock| clock < *through) {
        return Ok(false);
    }
    let mut scratch = Ledger::new();
    scratch.accounts.insert(account.clone(), state.clone());
    let applied = scratch
        .apply(fact)
        .map_err(ledger_replay::write::StageError::from)?;
    Ok(matches!(applied.events.as_slice(), [Event::Closed { .. }]))
}
