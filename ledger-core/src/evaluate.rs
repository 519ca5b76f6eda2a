//! R-EVAL: evaluating deadlines once all their charges are in. MACC milestones (R-MACC-5),
//! MACC ends (R-SHORT), CACO milestones and ends (R-CACO-4, R-CACO-7), credit lot expiries.

use crate::date::{Date, DateRangeError};
use crate::error::CoreError;
use crate::event::{Event, LotOrigin, LotTerms, ShortfallConversion};
use crate::fact::{ChargeLine, Invoice, StrRef};
use crate::kind::{ChargeKind, CreditKind};
use crate::money::Money;
use crate::rulebook;
use crate::settle::{emit, settle_invoice, SyntheticOrigin};
use crate::state::{AccountState, CacoMilestoneState, CacoState, LotState, MaccState};
use crate::trace::TraceSink;

/// Kinds of deadline, in the order fine point 2 evaluates those falling on the same date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    MaccMilestone = 0,
    MaccEnd = 1,
    CacoMilestone = 2,
    CacoEnd = 3,
    LotExpiry = 4,
}

#[derive(Clone, Debug)]
struct Deadline {
    date: Date,
    rank: Rank,
    /// The deadline's own id, then its parent's (a milestone's MACC or CACO).
    id: String,
    parent: String,
    target: Target,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    MaccMilestone(usize, usize),
    MaccEnd(usize),
    CacoMilestone(usize, usize),
    CacoEnd(usize),
    LotExpiry(usize),
}

fn key(d: &Deadline) -> (Date, Rank, &str, &str) {
    (d.date, d.rank, &d.id, &d.parent)
}

/// The earliest deadline not yet evaluated that falls before `limit` (or on it, if
/// `inclusive`).
fn next_deadline(acct: &AccountState, limit: Date, inclusive: bool) -> Option<Deadline> {
    let due = |d: Date| if inclusive { d <= limit } else { d < limit };
    let mut best: Option<Deadline> = None;
    let mut consider = |d: Deadline| {
        if due(d.date) && best.as_ref().is_none_or(|b| key(&d) < key(b)) {
            best = Some(d);
        }
    };
    for (m, macc) in acct.maccs.iter().enumerate() {
        if macc.state == MaccState::Canceled {
            continue;
        }
        for (k, ms) in macc.terms.milestones.iter().enumerate() {
            if macc.milestone_outcomes[k].is_none() {
                consider(Deadline {
                    date: ms.due,
                    rank: Rank::MaccMilestone,
                    id: ms.id.clone(),
                    parent: macc.terms.id.clone(),
                    target: Target::MaccMilestone(m, k),
                });
            }
        }
        if macc.state == MaccState::Open && macc.amounts.balance.is_positive() {
            consider(Deadline {
                date: macc.terms.end,
                rank: Rank::MaccEnd,
                id: macc.terms.id.clone(),
                parent: String::new(),
                target: Target::MaccEnd(m),
            });
        }
    }
    for (c, caco) in acct.cacos.iter().enumerate() {
        if caco.state == CacoState::Canceled {
            continue;
        }
        for (k, ms) in caco.milestones.iter().enumerate() {
            if ms.state == CacoMilestoneState::Open {
                consider(Deadline {
                    date: ms.terms.end,
                    rank: Rank::CacoMilestone,
                    id: ms.terms.id.clone(),
                    parent: caco.terms.id.clone(),
                    target: Target::CacoMilestone(c, k),
                });
            }
        }
        if caco.state == CacoState::Open && caco.amounts.balance.is_positive() {
            consider(Deadline {
                date: caco.terms.end(),
                rank: Rank::CacoEnd,
                id: caco.terms.id.clone(),
                parent: String::new(),
                target: Target::CacoEnd(c),
            });
        }
    }
    for (l, lot) in acct.lots.iter().enumerate() {
        if lot.state == LotState::Open && lot.amounts.balance.is_positive() {
            consider(Deadline {
                date: lot.terms.expires,
                rank: Rank::LotExpiry,
                id: lot.terms.id.clone(),
                parent: String::new(),
                target: Target::LotExpiry(l),
            });
        }
    }
    best
}

/// Evaluate, in order, every deadline before `limit` (or on it, if `inclusive`).
pub(crate) fn evaluate_deadlines<S: TraceSink>(
    acct: &mut AccountState,
    limit: Date,
    inclusive: bool,
    out: &mut Vec<Event>,
    sink: &mut S,
) -> Result<(), CoreError> {
    // Each evaluation closes its deadline for good; new ones come only from lots it opens.
    let bound = 4
        * (acct
            .maccs
            .iter()
            .map(|m| m.terms.milestones.len() + 2)
            .sum::<usize>()
            + acct
                .cacos
                .iter()
                .map(|c| c.milestones.len() + 1)
                .sum::<usize>()
            + acct.lots.len())
        + 16;
    for _ in 0..bound {
        let Some(deadline) = next_deadline(acct, limit, inclusive) else {
            return Ok(());
        };
        evaluate(acct, &deadline, out, sink)?;
    }
    Err(CoreError::Invariant {
        message: format!("deadline evaluation did not finish within {bound} steps"),
    })
}

fn evaluate<S: TraceSink>(
    acct: &mut AccountState,
    d: &Deadline,
    out: &mut Vec<Event>,
    sink: &mut S,
) -> Result<(), CoreError> {
    match d.target {
        Target::MaccMilestone(m, k) => {
            let macc = &acct.maccs[m];
            let ms = &macc.terms.milestones[k];
            let cumulative = macc
                .terms
                .amount
                .checked_sub(macc.amounts.balance)
                .map_err(|_| CoreError::Overflow {
                    context: "milestone".into(),
                })?;
            let shortfall = ms
                .target
                .checked_sub(cumulative)
                .map_err(|_| CoreError::Overflow {
                    context: "milestone".into(),
                })?
                .max(Money::ZERO);
            let (macc_id, ms_id, due, target) =
                (macc.terms.id.clone(), ms.id.clone(), ms.due, ms.target);
            emit(
                acct,
                out,
                Event::MaccMilestoneEvaluated {
                    macc: macc_id.clone(),
                    milestone: ms_id.clone(),
                    due,
                    cumulative,
                    target,
                    shortfall,
                },
            )?;
            if shortfall.is_positive() {
                let day = day_after(due, || {
                    format!("the shortfall invoice of milestone '{ms_id}'")
                })?;
                let invoice = synthetic_invoice(
                    acct,
                    format!("SHORTFALL-{macc_id}-{ms_id}"),
                    day,
                    ChargeKind::MilestoneShortfallPurchase,
                    shortfall,
                    Some(format!("{macc_id}/{ms_id}/shortfall")),
                    Some(macc_id.clone()),
                )?;
                let origin = SyntheticOrigin::MilestoneShortfall {
                    macc: macc_id,
                    milestone: ms_id,
                };
                settle_invoice(acct, &invoice, Some(&origin), out, sink)?;
            }
        }
        Target::MaccEnd(m) => {
            let macc = &acct.maccs[m];
            let end = macc.terms.end;
            let balance = macc.amounts.balance;
            let conversion =
                shortfall_conversion(end, macc.terms.enrollment_end, macc.terms.renewed).map_err(
                    |source| CoreError::DateOutOfRange {
                        context: format!("the shortfall credit of MACC '{}'", macc.terms.id),
                        source,
                    },
                )?;
            let macc_id = macc.terms.id.clone();
            emit(
                acct,
                out,
                Event::MaccExpired {
                    macc: macc_id.clone(),
                    end,
                    balance,
                    conversion,
                },
            )?;
            let day = day_after(end, || format!("the shortfall invoice of MACC '{macc_id}'"))?;
            let invoice_id = format!("SHORTFALL-{macc_id}");
            let invoice = synthetic_invoice(
                acct,
                invoice_id.clone(),
                day,
                ChargeKind::MaccShortfallPurchase,
                balance,
                None,
                None,
            )?;
            settle_invoice(
                acct,
                &invoice,
                Some(&SyntheticOrigin::MaccShortfall),
                out,
                sink,
            )?;
            let expires = match conversion {
                ShortfallConversion::ActiveEnrollment { expires }
                | ShortfallConversion::Renewed { expires } => expires,
                ShortfallConversion::NotConverted => return Ok(()),
            };
            let lot_id = format!("{macc_id}/shortfall");
            if acct.lot_ref(&lot_id).is_some() {
                return Err(CoreError::DuplicateLotId {
                    invoice: invoice_id,
                    line_position: 1,
                    lot: lot_id,
                });
            }
            let rb = rulebook::rulebook(acct.terms.rulebook_version).expect("validated rulebook");
            let lot = LotTerms {
                id: lot_id,
                kind: CreditKind::MaccShortfallCredit,
                amount: balance,
                start: day,
                expires,
                covers: rb.default_cover(CreditKind::MaccShortfallCredit),
            };
            emit(
                acct,
                out,
                Event::CreditLotOpened {
                    lot,
                    origin: LotOrigin::MaccShortfall { macc: macc_id },
                    date: day,
                    invoice: Some(invoice_id),
                },
            )?;
        }
        Target::CacoMilestone(c, k) => {
            let caco = &acct.cacos[c];
            let ms = &caco.milestones[k];
            let event = Event::CacoMilestoneMissed {
                caco: caco.terms.id.clone(),
                milestone: ms.terms.id.clone(),
                end: ms.terms.end,
                progress: ms.progress,
                target: ms.terms.target,
                forfeited_award: ms.terms.award,
            };
            emit(acct, out, event)?;
        }
        Target::CacoEnd(c) => {
            let caco = &acct.cacos[c];
            let event = Event::CacoExpired {
                caco: caco.terms.id.clone(),
                end: caco.terms.end(),
                remaining: caco.amounts.balance,
            };
            emit(acct, out, event)?;
        }
        Target::LotExpiry(l) => {
            let lot = &acct.lots[l];
            let event = Event::CreditLotExpired {
                lot: lot.terms.id.clone(),
                expires: lot.terms.expires,
                balance: lot.amounts.balance,
            };
            emit(acct, out, event)?;
        }
    }
    Ok(())
}

/// R-SHORT-1..3, with fine point 3: without `enrollment_end` the enrollment counts as renewed
/// unless `renewed = false` says otherwise.
pub fn shortfall_conversion(
    end: Date,
    enrollment_end: Option<Date>,
    renewed: Option<bool>,
) -> Result<ShortfallConversion, DateRangeError> {
    let a_year_on = || end.checked_add_months(12);
    Ok(match (enrollment_end, renewed) {
        (Some(e), _) if e > end => ShortfallConversion::ActiveEnrollment {
            expires: e.min(a_year_on().unwrap_or(Date::MAX)),
        },
        (Some(_), Some(true)) | (None, None | Some(true)) => ShortfallConversion::Renewed {
            expires: a_year_on()?,
        },
        (Some(_), _) | (None, Some(false)) => ShortfallConversion::NotConverted,
    })
}

/// The day after `date` (when an engine-made invoice is dated), or why the log could not
/// hold it; `what` names the invoice.
fn day_after(date: Date, what: impl FnOnce() -> String) -> Result<Date, CoreError> {
    date.checked_add_days(1)
        .map_err(|source| CoreError::DateOutOfRange {
            context: what(),
            source,
        })
}

/// An engine-made invoice of one line.
fn synthetic_invoice(
    acct: &AccountState,
    id: String,
    day: Date,
    kind: ChargeKind,
    amount: Money,
    line_id: Option<String>,
    corrects: Option<String>,
) -> Result<Invoice, CoreError> {
    if acct.invoice(&id).is_some() {
        return Err(CoreError::Invariant {
            message: format!("engine invoice {id} would be made twice"),
        });
    }
    let mut strings = Vec::new();
    let mut intern = |s: Option<String>| match s {
        Some(s) => {
            strings.push(s);
            StrRef::new(strings.len() as u32 - 1)
        }
        None => StrRef::NONE,
    };
    let line_id = intern(line_id);
    let corrects = intern(corrects);
    Ok(Invoice {
        account: acct.account.clone(),
        id,
        date: day,
        period_start: day,
        period_end: day,
        currency: acct.currency.clone(),
        content_hash: [0; 32],
        profiles: vec![acct.account.clone()],
        strings,
        lines: vec![ChargeLine {
            amount,
            charge_date: day,
            kind,
            profile: 0,
            corrects_kind: None,
            line_id,
            service: StrRef::NONE,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn r_short_1_active_enrollment_credit_until_the_earlier_of_enrollment_end_and_a_year() {
        let c = shortfall_conversion(d("2028-04-30"), Some(d("2029-01-31")), None).unwrap();
        assert_eq!(
            c,
            ShortfallConversion::ActiveEnrollment {
                expires: d("2029-01-31")
            }
        );
        let c = shortfall_conversion(d("2028-04-30"), Some(d("2031-01-31")), Some(false)).unwrap();
        assert_eq!(
            c,
            ShortfallConversion::ActiveEnrollment {
                expires: d("2029-04-30")
            }
        );
    }

    #[test]
    fn r_short_2_ended_but_renewed_credit_for_a_year() {
        let c = shortfall_conversion(d("2028-04-30"), Some(d("2028-04-30")), Some(true)).unwrap();
        assert_eq!(
            c,
            ShortfallConversion::Renewed {
                expires: d("2029-04-30")
            }
        );
        // Fine point 3: without enrollment_end the enrollment counts as renewed.
        let c = shortfall_conversion(d("2028-04-30"), None, None).unwrap();
        assert_eq!(
            c,
            ShortfallConversion::Renewed {
                expires: d("2029-04-30")
            }
        );
    }

    #[test]
    fn r_short_3_ended_unrenewed_no_credit() {
        assert_eq!(
            shortfall_conversion(d("2028-04-30"), Some(d("2028-01-31")), None).unwrap(),
            ShortfallConversion::NotConverted
        );
        assert_eq!(
            shortfall_conversion(d("2028-04-30"), Some(d("2028-04-30")), Some(false)).unwrap(),
            ShortfallConversion::NotConverted
        );
        assert_eq!(
            shortfall_conversion(d("2028-04-30"), None, Some(false)).unwrap(),
            ShortfallConversion::NotConverted
        );
    }

    #[test]
    fn a_shortfall_credit_a_year_past_9999_is_refused_not_clamped() {
        let e = shortfall_conversion(d("9999-12-31"), None, None).unwrap_err();
        assert_eq!(e.from, d("9999-12-31"));
        // No credit, or an enrollment that ends first: nothing to derive, nothing refused.
        assert_eq!(
            shortfall_conversion(d("9999-12-31"), None, Some(false)).unwrap(),
            ShortfallConversion::NotConverted
        );
        assert_eq!(
            shortfall_conversion(d("9999-06-30"), Some(d("9999-12-31")), None).unwrap(),
            ShortfallConversion::ActiveEnrollment {
                expires: d("9999-12-31")
            }
        );
    }
}
