//! `ledger close --through DATE`: evaluate every deadline up to a date (R-EVAL), account by
//! account, each close one fact with its decisions.

use std::path::Path;

use ledger_core::event::Event;
use ledger_core::{Date, Fact};
use ledger_replay::write::stage;
use ledger_store::Appender;

use crate::error::AppError;
use crate::session::Session;

/// The decisions a close of one account took.
#[derive(Clone, Debug)]
pub struct Closed {
    pub account: String,
    pub events: Vec<Event>,
}

/// Close `account` (every account when `None`) through `through`.
pub fn close(data: &Path, through: Date, account: Option<&str>) -> Result<Vec<Closed>, AppError> {
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
    let mut staged = Vec::with_capacity(accounts.len());
    for account in accounts {
        let fact = Fact::Close {
            account: account.clone(),
            through,
        };
        let one = stage(&mut session.projections, &mut appender, &fact)
            .map_err(|e| AppError::CloseRefused {
                account: account.clone(),
                through,
                source: Box::new(e),
            })?
            .expect("a close is never a repeat");
        staged.push((account, one));
    }
    let mut closed = Vec::with_capacity(staged.len());
    for (account, one) in staged {
        session.store.append(&one.records)?;
        closed.push(Closed {
            account,
            events: one.applied.events,
        });
    }
    session.finish_writes()?;
    Ok(closed)
}
