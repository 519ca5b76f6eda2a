//! `ledger close --through DATE`: evaluate every deadline up to a date (R-EVAL), account by
//! account, each close one fact with its decisions.

use std::path::Path;

use ledger_core::event::Event;
use ledger_core::{Date, Fact};
use ledger_replay::write::stage;
use ledger_store::{Appender, Head};

use crate::error::AppError;
use crate::session::Session;

/// The decisions a close of one account took.
#[derive(Clone, Debug)]
pub struct Closed {
    pub account: String,
    pub events: Vec<Event>,
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
    let mut closed = Vec::with_capacity(accounts.len());
    for account in accounts {
        let fact = Fact::Close {
            account: account.clone(),
            through,
        };
        let mut appender = Appender::new(session.store.head());
        let staged = stage(&mut session.projections, &mut appender, &fact)?
            .expect("a close is never a repeat");
        session.store.append(&staged.records)?;
        closed.push(Closed {
            account,
            events: staged.applied.events,
        });
    }
    session.finish_writes()?;
    Ok(CloseOutcome {
        accounts: closed,
        head: session.store.head(),
    })
}
