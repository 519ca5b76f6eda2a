//! The decisions of a recorded resettle: the corrections a [`crate::fact::Fact::Resettle`]
//! carries and how the ledger turns them into events. Kept apart from [`crate::resettle`]
//! (which re-derives an account through the whole ledger) so that the ledger can apply a
//! resettle without depending on the code that computes one.

use crate::error::CoreError;
use crate::event::{AdjustmentTarget, Event};
use crate::fact::Correction;
use crate::rulebook;
use crate::settle::emit;
use crate::state::AccountState;

pub(crate) fn refused(account: &str, message: String) -> CoreError {
    CoreError::ResettleRefused {
        account: account.to_string(),
        message,
    }
}

/// The decisions of a [`Fact::Resettle`]: the account adopts `version`, then each correction
/// becomes a `Resettled` event (and a completion, when the commitment completes).
pub(crate) fn apply_resettle(
    acct: &mut AccountState,
    version: u16,
    corrections: &[Correction],
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    if rulebook::rulebook(version).is_none() || version < acct.terms.rulebook_version {
        return Err(refused(
            &acct.account,
            format!(
                "rulebook {version} cannot replace rulebook {}",
                acct.terms.rulebook_version
            ),
        ));
    }
    if version != acct.terms.rulebook_version {
        let mut terms = acct.terms.clone();
        terms.rulebook_version = version;
        emit(acct, out, Event::AccountTermsChanged { terms })?;
    }
    let Some(date) = acct.clock else {
        if corrections.is_empty() {
            return Ok(());
        }
        return Err(refused(&acct.account, "nothing was settled yet".into()));
    };
    for c in corrections {
        let (amounts, _, _) = acct.amounts_mut(c.target_kind, &c.target)?;
        let change = c
            .balance
            .checked_sub(amounts.balance)
            .map_err(|_| CoreError::Overflow {
                context: "resettle".into(),
            })?;
        let event = Event::Resettled {
            target: c.target.clone(),
            target_kind: c.target_kind,
            version,
            date,
            change,
            decremented: c.decremented,
            adjusted: c.adjusted,
            balance_after: c.balance,
        };
        emit(acct, out, event)?;
        if let Some((date, invoice)) = &c.completed {
            let (date, invoice) = (*date, invoice.clone());
            let completion = match c.target_kind {
                AdjustmentTarget::Macc => Event::MaccCompleted {
                    macc: c.target.clone(),
                    date,
                    invoice,
                },
                AdjustmentTarget::Caco => Event::CacoCompleted {
                    caco: c.target.clone(),
                    date,
                    invoice,
                },
                AdjustmentTarget::Credit => {
                    return Err(refused(
                        &acct.account,
                        format!("credit lot {} cannot complete", c.target),
                    ))
                }
            };
            emit(acct, out, completion)?;
        }
    }
    Ok(())
}
