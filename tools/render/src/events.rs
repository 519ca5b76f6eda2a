//! One sentence per decision: what recording an agreement did, what a close evaluated, and
//! the decisions `ledger demo` tells under "What happened".

use std::fmt::Write as _;

use ledger_app::agreement::Recorded;
use ledger_app::close::Closed;
use ledger_app::core::event::{Event, ShortfallConversion};
use ledger_app::core::Date;
use ledger_app::resettle::Resettled;

use crate::amount::amount;

/// The line `ledger agreement` prints for one file.
pub fn agreement_line(r: &Recorded) -> String {
    let file = r.file.display();
    match &r.events {
        None => format!(
            "{file}: the agreement of account {} is unchanged (version {}); nothing recorded",
            r.account, r.version
        ),
        Some(events) => agreement_recorded(&file.to_string(), &r.account, events),
    }
}

fn agreement_recorded(file: &str, account: &str, events: &[Event]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut version = 0;
    for e in events {
        match e {
            Event::AgreementRecorded { version: v, .. } => version = *v,
            Event::MaccOpened { terms } => parts.push(format!(
                "opened MACC {} ({})",
                terms.id,
                amount(terms.amount)
            )),
            Event::CacoOpened { terms } => parts.push(format!(
                "opened CACO {} ({} milestones)",
                terms.id,
                terms.milestones.len()
            )),
            Event::CreditLotOpened { lot, .. } => parts.push(format!(
                "opened {} credit {} ({})",
                lot.kind,
                lot.id,
                amount(lot.amount)
            )),
            Event::MaccAmended { terms, .. } => parts.push(format!("amended MACC {}", terms.id)),
            Event::CacoAmended { terms, removed, .. } if removed.is_empty() => {
                parts.push(format!("amended CACO {}", terms.id))
            }
            Event::CacoAmended { terms, removed, .. } => parts.push(format!(
                "amended CACO {} (removed {})",
                terms.id,
                removed.join(", ")
            )),
            Event::MaccCanceled { macc } => parts.push(format!("canceled MACC {macc}")),
            Event::CacoCanceled { caco } => parts.push(format!("canceled CACO {caco}")),
            Event::CreditLotAmended { lot, .. } => parts.push(format!("amended credit {}", lot.id)),
            Event::CreditLotCanceled { lot } => parts.push(format!("canceled credit {lot}")),
            Event::AccountTermsChanged { .. } => parts.push("changed account terms".into()),
            _ => {}
        }
    }
    let what = if version == 1 {
        "recorded the agreement"
    } else {
        "recorded amendment"
    };
    format!(
        "{file}: {what} of account {account} (version {version}): {}",
        parts.join("; ")
    )
}

/// What `ledger close --through DATE` prints: per account, the deadlines it evaluated.
pub fn close_text(through: Date, closed: &[Closed]) -> String {
    let mut out = String::new();
    for c in closed {
        let evaluations: Vec<String> = c.events.iter().filter_map(evaluation).collect();
        let account = &c.account;
        if !c.recorded {
            writeln!(
                out,
                "{account}: already closed through {through}; nothing was due, nothing recorded"
            )
            .unwrap();
        } else if evaluations.is_empty() {
            writeln!(
                out,
                "{account}: closed through {through}; no deadline was due"
            )
            .unwrap();
        } else {
            writeln!(out, "{account}: closed through {through}:").unwrap();
            for line in evaluations {
                writeln!(out, "  {line}").unwrap();
            }
        }
    }
    out
}

/// What `ledger resettle` prints: per account, each lot's balance as recorded and as
/// corrected, or that nothing was appended.
pub fn resettle_text(done: &[Resettled]) -> String {
    let mut out = String::new();
    for r in done {
        let account = &r.account;
        if r.events.is_empty() {
            writeln!(
                out,
                "{account}: settles under rulebook {}; nothing to correct, nothing recorded",
                r.to
            )
            .unwrap();
            continue;
        }
        writeln!(
            out,
            "{account}: resettled under rulebook {} (decided under rulebook {} until now); earlier decisions are kept:",
            r.to, r.from
        )
        .unwrap();
        let corrections: Vec<String> = r.events.iter().filter_map(correction).collect();
        if corrections.is_empty() {
            writeln!(out, "  every balance was already right").unwrap();
        }
        for line in corrections {
            writeln!(out, "  {line}").unwrap();
        }
    }
    out
}

/// A sentence for a resettle's correction or completion, if the event is one.
fn correction(event: &Event) -> Option<String> {
    Some(match event {
        Event::Resettled {
            target,
            change,
            decremented,
            adjusted,
            balance_after,
            ..
        } => {
            let before = balance_after.checked_sub(*change).ok()?;
            format!(
                "{target}: balance {} as recorded, {} corrected (decrements {}, adjustments {})",
                amount(before),
                amount(*balance_after),
                amount(*decremented),
                amount(*adjusted)
            )
        }
        Event::MaccCompleted {
            macc,
            date,
            invoice,
        } => format!("{macc}: Completed on {date} by invoice {invoice}"),
        Event::CacoCompleted {
            caco,
            date,
            invoice,
        } => format!("{caco}: Completed on {date} by invoice {invoice}"),
        _ => return None,
    })
}

/// A sentence for an evaluation decision (R-EVAL), if the event is one.
pub fn evaluation(event: &Event) -> Option<String> {
    Some(match event {
        Event::MaccMilestoneEvaluated {
            macc,
            milestone,
            due,
            cumulative,
            target,
            shortfall,
        } if shortfall.is_zero() => {
            format!(
                "MACC {macc} milestone {milestone} (due {due}) met: {} of {}",
                amount(*cumulative),
                amount(*target)
            )
        }
        Event::MaccMilestoneEvaluated {
            macc,
            milestone,
            due,
            shortfall,
            ..
        } => {
            format!("MACC {macc} milestone {milestone} (due {due}) missed: shortfall {} invoiced (R-MACC-5)", amount(*shortfall))
        }
        Event::MaccExpired {
            macc,
            end,
            balance,
            conversion,
        } => format!(
            "MACC {macc} expired {end} with {} left: shortfall invoiced, {} ({})",
            amount(*balance),
            match conversion {
                ShortfallConversion::NotConverted => "not converted to credit".to_string(),
                ShortfallConversion::ActiveEnrollment { expires }
                | ShortfallConversion::Renewed { expires } =>
                    format!("converted to credit until {expires}"),
            },
            conversion.rule()
        ),
        Event::CacoMilestoneMissed {
            caco,
            milestone,
            forfeited_award,
            ..
        } => {
            format!(
                "CACO {caco} milestone {milestone} missed: ACO award {} forfeited (R-CACO-4)",
                amount(*forfeited_award)
            )
        }
        Event::CacoExpired {
            caco, remaining, ..
        } => format!(
            "CACO {caco} expired with {} remaining (R-CACO-7)",
            amount(*remaining)
        ),
        Event::CreditLotExpired { lot, balance, .. } => format!(
            "credit {lot} expired with {} unused (R-EVAL)",
            amount(*balance)
        ),
        _ => return None,
    })
}

/// A decision of the demo's timeline: evaluations as [`evaluation`] words them, completions,
/// awards and partner earned credit starting.
pub fn timeline_line(event: &Event) -> Option<String> {
    if let Some(text) = evaluation(event) {
        return Some(text);
    }
    Some(match event {
        Event::MaccCompleted { macc, invoice, .. } => {
            format!("MACC {macc} completed by invoice {invoice} (R-MACC-4)")
        }
        Event::CacoMilestoneCompleted {
            caco,
            milestone,
            award,
            ..
        } => format!(
            "CACO {caco} milestone {milestone} met: ACO award {} granted (R-CACO-5)",
            amount(*award)
        ),
        Event::CacoCompleted { caco, .. } => {
            format!("CACO {caco} commitment completed (R-CACO-7)")
        }
        Event::PecStarted { invoice } => {
            format!("ACO credits used up: partner earned credit from invoice {invoice} (R-CSP)")
        }
        _ => return None,
    })
}
