//! The decisions worth telling, in date order (what `ledger demo` prints under "What
//! happened"): evaluations, completions, awards, expiries, partner earned credit starting.

use ledger_core::event::Event;
use ledger_core::Date;
use ledger_store::{ReadOptions, Store};

use crate::error::AppError;

/// Each decision worth telling with the date it happened on, sorted by date (stable: log
/// order within a day).
pub fn timeline(store: &Store) -> Result<Vec<(Date, Event)>, AppError> {
    let mut dated = Vec::new();
    for entry in store.reader(ReadOptions::default()) {
        let entry = entry?;
        let Some(decisions) = entry.decisions else {
            continue;
        };
        for event in &decisions.events {
            let date = match event {
                Event::MaccMilestoneEvaluated { due, .. } => Some(*due),
                Event::MaccExpired { end, .. } => Some(*end),
                Event::CacoMilestoneMissed { end, .. } => Some(*end),
                Event::CacoExpired { end, .. } => Some(*end),
                Event::CreditLotExpired { expires, .. } => Some(*expires),
                Event::MaccCompleted { date, .. } => Some(*date),
                Event::CacoMilestoneCompleted { date, .. } => Some(*date),
                Event::CacoCompleted { date, .. } => Some(*date),
                Event::PecStarted { invoice } => Some(
                    decisions
                        .events
                        .iter()
                        .find_map(|e| match e {
                            Event::InvoiceSettled { summary } if &summary.id == invoice => {
                                Some(summary.date)
                            }
                            _ => None,
                        })
                        .unwrap_or(Date::MIN),
                ),
                _ => None,
            };
            if let Some(date) = date {
                dated.push((date, event.clone()));
            }
        }
    }
    dated.sort_by_key(|(date, _)| *date);
    Ok(dated)
}
