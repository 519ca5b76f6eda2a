//! R-SETTLE: settling one invoice. Lines are split into portions (covered by credit lots,
//! or paid), each portion counts toward MACC and CACO by R-ELIG, and the totals become events.
//!
//! The line loop works on plain copies of the balances (`*Work` structs) and dense per
//! (billing profile, lot) accumulators indexed by small integers; the state changes only
//! through the events emitted at the end, which are folded by [`AccountState::evolve`]. The
//! working balances are then checked against the folded state.

use crate::agreement::{CacoBasis, CreditOrder};
use crate::date::Date;
use crate::error::CoreError;
use crate::event::{AdjustmentTarget, CommitmentKind, Event, InvoiceSummary, LotOrigin, LotTerms};
use crate::fact::{ChargeLine, Invoice};
use crate::kind::{ChargeKind, CreditKind, KindSet, Payer};
use crate::money::Money;
use crate::rulebook::{self, EligCell, Rulebook};
use crate::state::{AccountState, CacoMilestoneState, CacoState, LotRef, LotState, MaccState};
use crate::trace::{Portion, TraceSink};

/// Apply `event` to the state and record it.
pub(crate) fn emit(
    acct: &mut AccountState,
    out: &mut Vec<Event>,
    event: Event,
) -> Result<(), CoreError> {
    acct.evolve(&event)?;
    out.push(event);
    Ok(())
}

fn overflow(context: &str) -> CoreError {
    CoreError::Overflow {
        context: context.to_string(),
    }
}

#[inline]
fn add_to(slot: &mut Money, amount: Money) -> Result<(), CoreError> {
    *slot = slot
        .checked_add(amount)
        .map_err(|_| overflow("invoice totals"))?;
    Ok(())
}

/// How an engine-made invoice's purchase lines open lots.
#[derive(Clone, Debug)]
pub(crate) enum SyntheticOrigin {
    MilestoneShortfall { macc: String, milestone: String },
    MaccShortfall,
    WhatIf,
}

struct LotWork<'a> {
    state_index: usize,
    id: &'a str,
    covers: KindSet,
    start: Date,
    expires: Date,
    payer: Payer,
    cover_rule: &'static str,
    balance: Money,
    original: Money,
    open: bool,
}

struct MaccWork<'a> {
    id: &'a str,
    start: Date,
    end: Date,
    balance: Money,
    original: Money,
    open: bool,
}

struct CacoWork<'a> {
    id: &'a str,
    start: Date,
    end: Date,
    basis: CacoBasis,
    /// Spend accrues to milestones (not canceled).
    accrues: bool,
    /// The remaining commitment may still be decremented (open).
    decrements: bool,
    remaining: Money,
    commitment: Money,
    /// Range of this CACO's milestones in `MilestoneWork`.
    milestones: std::ops::Range<usize>,
}

struct MilestoneWork {
    start: Date,
    end: Date,
    accrues: bool,
    progress: Money,
    delta: Money,
}

/// Settle one invoice into `acct`. Deadline evaluation (R-SETTLE step 2) and idempotency
/// (step 1) are the caller's. On error the account state must be discarded.
pub(crate) fn settle_invoice<S: TraceSink>(
    acct: &mut AccountState,
    inv: &Invoice,
    synthetic: Option<&SyntheticOrigin>,
    out: &mut Vec<Event>,
    sink: &mut S,
) -> Result<(), CoreError> {
    let rb: &Rulebook =
        rulebook::rulebook(acct.terms.rulebook_version).ok_or_else(|| CoreError::Corrupt {
            message: format!("unknown rulebook version {}", acct.terms.rulebook_version),
        })?;
    let lines = &inv.lines;

    // Step 3: canonical order, by charge date then input order (R-DET-2).
    let mut order: Vec<u32> = (0..lines.len() as u32).collect();
    if !lines
        .windows(2)
        .all(|w| w[0].charge_date <= w[1].charge_date)
    {
        order.sort_by_key(|&i| (lines[i as usize].charge_date, i));
    }

    // Step 4: purchases that open lots open them first.
    for &i in &order {
        let line = &lines[i as usize];
        let credit_kind = match line.kind {
            ChargeKind::PrepaymentPurchase => CreditKind::Prepayment,
            ChargeKind::MilestoneShortfallPurchase => CreditKind::MilestoneShortfallCredit,
            _ => continue,
        };
        if !line.amount.is_positive() {
            continue;
        }
        let position = i + 1;
        let id = match inv.str(line.line_id) {
            Some(id) => id.to_string(),
            None => format!("{}/{}", inv.id, position),
        };
        if acct.lot_ref(&id).is_some() {
            return Err(CoreError::DuplicateLotId {
                invoice: inv.id.clone(),
                line_position: position,
                lot: id,
            });
        }
        let months = match credit_kind {
            CreditKind::Prepayment => acct.terms.prepayment_term_months,
            _ => inv
                .str(line.corrects)
                .and_then(|m| acct.macc_index(m))
                .map(|m| acct.maccs[m].terms.shortfall_credit_months)
                .unwrap_or(12),
        };
        let origin = match synthetic {
            Some(SyntheticOrigin::MilestoneShortfall { macc, milestone }) => {
                LotOrigin::MilestoneShortfall {
                    macc: macc.clone(),
                    milestone: milestone.clone(),
                }
            }
            _ => LotOrigin::Purchase {
                invoice: inv.id.clone(),
                line_position: position,
            },
        };
        let expires = checked_expiry(line.charge_date, months, &id)?;
        let lot = LotTerms {
            id,
            kind: credit_kind,
            amount: line.amount,
            start: line.charge_date,
            expires,
            covers: rb.default_cover(credit_kind),
        };
        emit(
            acct,
            out,
            Event::CreditLotOpened {
                lot,
                origin,
                date: inv.date,
                invoice: Some(inv.id.clone()),
            },
        )?;
    }

    let profile_count = inv.profiles.len().max(1);

    // Working copies of every balance the lines may touch.
    let mut lot_work: Vec<LotWork> = acct
        .lots
        .iter()
        .enumerate()
        .filter(|(_, l)| l.state == LotState::Open)
        .map(|(i, l)| LotWork {
            state_index: i,
            id: &l.terms.id,
            covers: l.terms.covers,
            start: l.terms.start,
            expires: l.terms.expires,
            payer: l.terms.kind.payer(),
            cover_rule: rb.cover_rule[l.terms.kind as usize],
            balance: l.balance,
            original: l.terms.amount,
            open: true,
        })
        .collect();
    match acct.terms.credit_order {
        CreditOrder::ExpiringFirst => {
            lot_work.sort_by(|a, b| (a.expires, a.start, a.id).cmp(&(b.expires, b.start, b.id)))
        }
        CreditOrder::OldestFirst => {
            lot_work.sort_by(|a, b| (a.start, a.expires, a.id).cmp(&(b.start, b.expires, b.id)))
        }
    }
    let coverable = lot_work
        .iter()
        .fold(KindSet::EMPTY, |acc, l| acc.union(l.covers));

    let mut macc_work: Vec<MaccWork> = acct
        .maccs
        .iter()
        .map(|m| MaccWork {
            id: &m.terms.id,
            start: m.terms.start,
            end: m.terms.end,
            balance: m.balance,
            original: m.terms.amount,
            open: m.state == MaccState::Open,
        })
        .collect();

    let mut milestone_work: Vec<MilestoneWork> = Vec::new();
    let mut caco_work: Vec<CacoWork> = Vec::with_capacity(acct.cacos.len());
    for c in &acct.cacos {
        let from = milestone_work.len();
        for m in &c.milestones {
            milestone_work.push(MilestoneWork {
                start: m.terms.start,
                end: m.terms.end,
                accrues: m.accrues(),
                progress: m.progress,
                delta: Money::ZERO,
            });
        }
        caco_work.push(CacoWork {
            id: &c.terms.id,
            start: c.terms.start,
            end: c.terms.end(),
            basis: c.terms.basis,
            accrues: c.state != CacoState::Canceled,
            decrements: c.state == CacoState::Open,
            remaining: c.remaining,
            commitment: c.commitment,
            milestones: from..milestone_work.len(),
        });
    }
    let any_macc = macc_work.iter().any(|m| m.open);
    let any_caco = caco_work.iter().any(|c| c.accrues);

    let lot_count = lot_work.len();
    let macc_count = macc_work.len();
    let caco_count = caco_work.len();
    let mut credit_by_profile = vec![Money::ZERO; profile_count * lot_count];
    let mut macc_by_profile = vec![Money::ZERO; profile_count * macc_count];
    let mut caco_by_profile = vec![Money::ZERO; profile_count * caco_count];

    let mut charges = Money::ZERO;
    let mut credits = Money::ZERO;
    let mut paid_usage = Money::ZERO;
    let mut adjustments: Vec<PendingAdjustment> = Vec::new();

    // Trace scratch (only touched when the sink is enabled).
    let mut macc_parts: Vec<(&str, Money)> = Vec::new();
    let mut caco_parts: Vec<(&str, Money)> = Vec::new();

    // Step 5 and 6: line by line, in canonical order.
    for &i in &order {
        let line: &ChargeLine = &lines[i as usize];
        let position = i + 1;
        let profile = line.profile as usize;
        if profile >= profile_count {
            return Err(CoreError::InvalidLine {
                invoice: inv.id.clone(),
                line_position: position,
                message: "billing profile index out of range".into(),
            });
        }
        add_to(&mut charges, line.amount)?;

        if line.kind == ChargeKind::Refund {
            if line.amount.is_positive() {
                return Err(CoreError::InvalidLine {
                    invoice: inv.id.clone(),
                    line_position: position,
                    message: format!("a refund must be negative, not {}", line.amount),
                });
            }
            let adjustment = refund(
                acct,
                rb,
                inv,
                line,
                position,
                &mut macc_work,
                &mut caco_work,
                &mut milestone_work,
                &mut lot_work,
            )?;
            if let Some(pending) = adjustment {
                adjustments.push(pending);
            }
            if S::ENABLED {
                sink.portion(&Portion {
                    invoice: inv,
                    line_position: position,
                    line,
                    payer: Payer::Paid,
                    lot: None,
                    cover_rule: None,
                    amount: line.amount,
                    elig: rb.cell(ChargeKind::Refund, Payer::Paid),
                    macc: &[],
                    caco: &[],
                });
            }
            continue;
        }
        if line.amount.is_negative() {
            return Err(CoreError::InvalidLine {
                invoice: inv.id.clone(),
                line_position: position,
                message: format!(
                    "only refund lines may be negative; this {} line is {}",
                    line.kind, line.amount
                ),
            });
        }

        let mut rest = line.amount;
        if rest.is_positive() && coverable.contains(line.kind) {
            for (li, lot) in lot_work.iter_mut().enumerate() {
                if !lot.covers.contains(line.kind)
                    || !lot.balance.is_positive()
                    || line.charge_date < lot.start
                    || line.charge_date > lot.expires
                {
                    continue;
                }
                let take = rest.min(lot.balance);
                // take <= both operands: neither subtraction can overflow or go negative.
                lot.balance = Money::from_units(lot.balance.units() - take.units());
                rest = Money::from_units(rest.units() - take.units());
                add_to(&mut credit_by_profile[profile * lot_count + li], take)?;
                let cell = rb.cell(line.kind, lot.payer);
                let (payer, lot_id, cover_rule) = (lot.payer, lot.id, lot.cover_rule);
                count_portion::<S>(
                    cell,
                    line,
                    inv,
                    take,
                    profile,
                    any_macc,
                    any_caco,
                    &mut macc_work,
                    &mut macc_by_profile,
                    &mut caco_work,
                    &mut milestone_work,
                    &mut caco_by_profile,
                    &mut macc_parts,
                    &mut caco_parts,
                )?;
                if S::ENABLED {
                    sink.portion(&Portion {
                        invoice: inv,
                        line_position: position,
                        line,
                        payer,
                        lot: Some(lot_id),
                        cover_rule: Some(cover_rule),
                        amount: take,
                        elig: cell,
                        macc: &macc_parts,
                        caco: &caco_parts,
                    });
                }
                if rest.is_zero() {
                    break;
                }
            }
        }
        add_to(
            &mut credits,
            Money::from_units(line.amount.units() - rest.units()),
        )?;
        if !rest.is_zero() || line.amount.is_zero() {
            let cell = rb.cell(line.kind, Payer::Paid);
            count_portion::<S>(
                cell,
                line,
                inv,
                rest,
                profile,
                any_macc,
                any_caco,
                &mut macc_work,
                &mut macc_by_profile,
                &mut caco_work,
                &mut milestone_work,
                &mut caco_by_profile,
                &mut macc_parts,
                &mut caco_parts,
            )?;
            if line.kind == ChargeKind::Usage {
                add_to(&mut paid_usage, rest)?;
            }
            if S::ENABLED {
                sink.portion(&Portion {
                    invoice: inv,
                    line_position: position,
                    line,
                    payer: Payer::Paid,
                    lot: None,
                    cover_rule: None,
                    amount: rest,
                    elig: cell,
                    macc: &macc_parts,
                    caco: &caco_parts,
                });
            }
        }
    }

    // The working balances the folded state must reach; the borrows of `acct` end here.
    let lot_final: Vec<(usize, Money)> = lot_work
        .iter()
        .map(|l| (l.state_index, l.balance))
        .collect();
    let macc_final: Vec<Money> = macc_work.iter().map(|m| m.balance).collect();
    let milestone_deltas: Vec<Money> = milestone_work.iter().map(|m| m.delta).collect();
    let caco_ranges: Vec<std::ops::Range<usize>> =
        caco_work.iter().map(|c| c.milestones.clone()).collect();
    drop(lot_work);
    drop(macc_work);
    drop(caco_work);
    drop(macc_parts);
    drop(caco_parts);

    // Emit the decisions. Adjustments first (they only raise balances), then credit
    // applications and decrements (they only lower them), so no balance is ever negative.
    for pending in adjustments {
        let current = match pending.target_kind {
            AdjustmentTarget::Macc => acct.maccs[pending.index].balance,
            AdjustmentTarget::Caco => acct.cacos[pending.index].remaining,
            AdjustmentTarget::Credit => acct.lots[pending.index].balance,
        };
        let balance_after = current
            .checked_add(pending.applied)
            .map_err(|_| overflow("refund"))?;
        let event = Event::Adjusted {
            target: pending.target,
            target_kind: pending.target_kind,
            invoice: inv.id.clone(),
            profile: pending.profile,
            line_position: pending.line_position,
            date: inv.date,
            requested: pending.requested,
            applied: pending.applied,
            balance_after,
        };
        emit(acct, out, event)?;
    }
    for p in 0..profile_count {
        for (li, &(state_index, _)) in lot_final.iter().enumerate() {
            let amount = credit_by_profile[p * lot_count + li];
            if amount.is_zero() {
                continue;
            }
            let current = &acct.lots[state_index];
            let balance_after = current
                .balance
                .checked_sub(amount)
                .map_err(|_| overflow("credit"))?;
            let event = Event::CreditApplied {
                lot: current.terms.id.clone(),
                invoice: inv.id.clone(),
                profile: inv.profiles.get(p).cloned().unwrap_or_default(),
                date: inv.date,
                amount,
                balance_after,
            };
            emit(acct, out, event)?;
        }
    }
    emit_decrements(
        acct,
        out,
        inv,
        CommitmentKind::Macc,
        &macc_by_profile,
        macc_count,
    )?;
    emit_decrements(
        acct,
        out,
        inv,
        CommitmentKind::Caco,
        &caco_by_profile,
        caco_count,
    )?;
    for (c, range) in caco_ranges.iter().enumerate() {
        for (k, &delta) in milestone_deltas[range.clone()].iter().enumerate() {
            if delta.is_zero() {
                continue;
            }
            let current = &acct.cacos[c].milestones[k];
            let progress_after = current
                .progress
                .checked_add(delta)
                .map_err(|_| overflow("milestone"))?;
            let event = Event::MilestoneProgressed {
                caco: acct.cacos[c].terms.id.clone(),
                milestone: current.terms.id.clone(),
                invoice: inv.id.clone(),
                date: inv.date,
                amount: delta,
                progress_after,
            };
            emit(acct, out, event)?;
        }
    }

    // The folded state must equal the working balances.
    for &(state_index, worked) in &lot_final {
        let lot = &acct.lots[state_index];
        if lot.balance != worked {
            return Err(CoreError::Invariant {
                message: format!(
                    "credit lot {}: worked {} but folded {}",
                    lot.terms.id, worked, lot.balance
                ),
            });
        }
    }
    for (m, &worked) in macc_final.iter().enumerate() {
        let macc = &acct.maccs[m];
        if macc.balance != worked {
            return Err(CoreError::Invariant {
                message: format!(
                    "MACC {}: worked {} but folded {}",
                    macc.terms.id, worked, macc.balance
                ),
            });
        }
    }

    // Completions (R-MACC-4, R-CACO-5, R-CACO-7).
    for m in 0..macc_count {
        if acct.maccs[m].state == MaccState::Open && acct.maccs[m].balance.is_zero() {
            let macc = acct.maccs[m].terms.id.clone();
            emit(
                acct,
                out,
                Event::MaccCompleted {
                    macc,
                    date: inv.date,
                    invoice: inv.id.clone(),
                },
            )?;
        }
    }
    for c in 0..caco_count {
        if acct.cacos[c].state == CacoState::Canceled {
            continue;
        }
        for k in 0..acct.cacos[c].milestones.len() {
            let caco = &acct.cacos[c];
            let ms = &caco.milestones[k];
            if ms.state != CacoMilestoneState::Open || ms.progress < ms.terms.target {
                continue;
            }
            let (caco_id, ms_id, award, progress) = (
                caco.terms.id.clone(),
                ms.terms.id.clone(),
                ms.terms.award,
                ms.progress,
            );
            let award_months = caco.terms.award_months;
            emit(
                acct,
                out,
                Event::CacoMilestoneCompleted {
                    caco: caco_id.clone(),
                    milestone: ms_id.clone(),
                    date: inv.date,
                    invoice: inv.id.clone(),
                    progress,
                    award,
                },
            )?;
            if award.is_positive() {
                let id = format!("{caco_id}/{ms_id}/award");
                if acct.lot_ref(&id).is_some() {
                    return Err(CoreError::DuplicateLotId {
                        invoice: inv.id.clone(),
                        line_position: 0,
                        lot: id,
                    });
                }
                let expires = checked_expiry(inv.date, award_months, &id)?;
                let lot = LotTerms {
                    id,
                    kind: CreditKind::Aco,
                    amount: award,
                    start: inv.date,
                    expires,
                    covers: rb.default_cover(CreditKind::Aco),
                };
                emit(
                    acct,
                    out,
                    Event::CreditLotOpened {
                        lot,
                        origin: LotOrigin::Award {
                            caco: caco_id,
                            milestone: ms_id,
                        },
                        date: inv.date,
                        invoice: Some(inv.id.clone()),
                    },
                )?;
            }
        }
        let caco = &acct.cacos[c];
        if caco.state == CacoState::Open && caco.remaining.is_zero() {
            let caco_id = caco.terms.id.clone();
            emit(
                acct,
                out,
                Event::CacoCompleted {
                    caco: caco_id,
                    date: inv.date,
                    invoice: inv.id.clone(),
                },
            )?;
        }
    }

    // R-CSP: partner earned credit once the ACO balance is gone.
    let mut pec = Money::ZERO;
    if let Some(rate) = acct.terms.partner_earned_credit_rate {
        if !acct.pec_earning {
            let aco_left = acct
                .lots
                .iter()
                .filter(|l| l.terms.kind == CreditKind::Aco && l.state == LotState::Open)
                .any(|l| l.balance.is_positive());
            if !aco_left {
                emit(
                    acct,
                    out,
                    Event::PecStarted {
                        invoice: inv.id.clone(),
                    },
                )?;
            }
        }
        if acct.pec_earning {
            pec = paid_usage
                .mul_factor_rounded(rate)
                .map_err(|_| overflow("partner earned credit"))?;
        }
    }

    // Step 7.
    let billed = charges
        .checked_sub(credits)
        .map_err(|_| overflow("billed"))?;
    let invoice_amount = billed
        .checked_sub(pec)
        .map_err(|_| overflow("invoice amount"))?;
    let summary = InvoiceSummary {
        id: inv.id.clone(),
        date: inv.date,
        period_start: inv.period_start,
        period_end: inv.period_end,
        content_hash: inv.content_hash,
        line_count: inv.lines.len() as u32,
        charges,
        credits_applied: credits,
        billed,
        partner_earned_credit: pec,
        invoice_amount,
        synthetic: synthetic.is_some(),
    };
    emit(acct, out, Event::InvoiceSettled { summary })?;
    Ok(())
}

/// R-SETTLE step 6: one `Decremented` event per (billing profile, commitment) with a non-zero
/// amount, each with the commitment's balance after it. `by_profile` is indexed
/// `profile * count + commitment`.
fn emit_decrements(
    acct: &mut AccountState,
    out: &mut Vec<Event>,
    inv: &Invoice,
    kind: CommitmentKind,
    by_profile: &[Money],
    count: usize,
) -> Result<(), CoreError> {
    for p in 0..by_profile.len().checked_div(count).unwrap_or(0) {
        for i in 0..count {
            let amount = by_profile[p * count + i];
            if amount.is_zero() {
                continue;
            }
            let (commitment, balance) = match kind {
                CommitmentKind::Macc => (&acct.maccs[i].terms.id, acct.maccs[i].balance),
                CommitmentKind::Caco => (&acct.cacos[i].terms.id, acct.cacos[i].remaining),
            };
            let balance_after = balance
                .checked_sub(amount)
                .map_err(|_| overflow("decrement"))?;
            let event = Event::Decremented {
                commitment: commitment.clone(),
                kind,
                invoice: inv.id.clone(),
                profile: inv.profiles.get(p).cloned().unwrap_or_default(),
                date: inv.date,
                amount,
                balance_after,
            };
            emit(acct, out, event)?;
        }
    }
    Ok(())
}

/// Count one portion toward the MACC queue and the CACOs, by its R-ELIG cell.
#[allow(clippy::too_many_arguments)]
#[inline]
fn count_portion<'w, S: TraceSink>(
    cell: EligCell,
    line: &ChargeLine,
    inv: &Invoice,
    amount: Money,
    profile: usize,
    any_macc: bool,
    any_caco: bool,
    maccs: &mut [MaccWork<'w>],
    macc_by_profile: &mut [Money],
    cacos: &mut [CacoWork<'w>],
    milestones: &mut [MilestoneWork],
    caco_by_profile: &mut [Money],
    macc_parts: &mut Vec<(&'w str, Money)>,
    caco_parts: &mut Vec<(&'w str, Money)>,
) -> Result<(), CoreError> {
    if S::ENABLED {
        macc_parts.clear();
        caco_parts.clear();
    }
    let date = line.charge_date;
    if cell.macc && any_macc && amount.is_positive() {
        let macc_count = maccs.len();
        // A milestone shortfall purchase decrements its own MACC (fine point 4).
        let own = if line.kind == ChargeKind::MilestoneShortfallPurchase {
            inv.str(line.corrects)
                .and_then(|id| maccs.iter().position(|m| m.id == id))
        } else {
            None
        };
        let mut rest = amount;
        for (m, macc) in maccs.iter_mut().enumerate() {
            if own.is_some_and(|o| o != m) {
                continue;
            }
            // R-MACC-3: the queue in order; what one cannot take passes to the next whose
            // coverage period holds the charge date.
            if !macc.open || !macc.balance.is_positive() || date < macc.start || date > macc.end {
                continue;
            }
            let take = rest.min(macc.balance);
            macc.balance = Money::from_units(macc.balance.units() - take.units());
            rest = Money::from_units(rest.units() - take.units());
            add_to(&mut macc_by_profile[profile * macc_count + m], take)?;
            if S::ENABLED {
                macc_parts.push((macc.id, take));
            }
            if rest.is_zero() {
                break;
            }
        }
    }
    if cell.caco && any_caco {
        let caco_count = cacos.len();
        for (c, caco) in cacos.iter_mut().enumerate() {
            if !caco.accrues || date < caco.start || date > caco.end {
                continue;
            }
            for ms in &mut milestones[caco.milestones.clone()] {
                if !ms.accrues {
                    continue;
                }
                let counts = match caco.basis {
                    CacoBasis::Period => ms.start <= date && date <= ms.end,
                    CacoBasis::Cumulative => date <= ms.end,
                };
                if counts {
                    ms.progress = ms
                        .progress
                        .checked_add(amount)
                        .map_err(|_| overflow("milestone progress"))?;
                    ms.delta = ms
                        .delta
                        .checked_add(amount)
                        .map_err(|_| overflow("milestone progress"))?;
                    if caco.basis == CacoBasis::Period {
                        break;
                    }
                }
            }
            let take = if caco.decrements {
                amount.min(caco.remaining)
            } else {
                Money::ZERO
            };
            caco.remaining = Money::from_units(caco.remaining.units() - take.units());
            add_to(&mut caco_by_profile[profile * caco_count + c], take)?;
            if S::ENABLED {
                caco_parts.push((caco.id, take));
            }
        }
    }
    Ok(())
}

/// R-ADJ: a refund raises the balance of the lot it corrects (or the MACC head), never above
/// the original amount. Returns the `Adjusted` event, if the refund has a target.
#[allow(clippy::too_many_arguments)]
fn refund(
    acct: &AccountState,
    rb: &Rulebook,
    inv: &Invoice,
    line: &ChargeLine,
    position: u32,
    maccs: &mut [MaccWork],
    cacos: &mut [CacoWork],
    milestones: &mut [MilestoneWork],
    lots: &mut [LotWork],
) -> Result<Option<PendingAdjustment>, CoreError> {
    let requested = line.amount.checked_neg().map_err(|_| overflow("refund"))?;
    let corrected_kind = line.corrects_kind.unwrap_or(ChargeKind::Usage);
    let cell = rb.cell(corrected_kind, Payer::Paid);
    let target = match inv.str(line.corrects) {
        Some(name) => match acct.lot_ref(name) {
            Some(r) => r,
            None => {
                return Err(CoreError::InvalidLine {
                    invoice: inv.id.clone(),
                    line_position: position,
                    message: format!("the refund corrects '{name}', which is not a MACC, CACO or credit lot of this account"),
                })
            }
        },
        None => match acct.macc_head() {
            Some(h) => LotRef::Macc(h as u32),
            None => return Ok(None),
        },
    };
    let (index, target_kind, applied) = match target {
        LotRef::Macc(m) => {
            let work = &mut maccs[m as usize];
            // A Completed MACC stays completed (fine point 7): `open` is false for it.
            let applied = if cell.macc && work.open {
                let room = work
                    .original
                    .checked_sub(work.balance)
                    .map_err(|_| overflow("refund"))?;
                requested.min(room).max(Money::ZERO)
            } else {
                Money::ZERO
            };
            work.balance = work
                .balance
                .checked_add(applied)
                .map_err(|_| overflow("refund"))?;
            (m as usize, AdjustmentTarget::Macc, applied)
        }
        LotRef::Caco(c) => {
            let work = &mut cacos[c as usize];
            let applied = if cell.caco && work.decrements {
                let room = work
                    .commitment
                    .checked_sub(work.remaining)
                    .map_err(|_| overflow("refund"))?;
                requested.min(room).max(Money::ZERO)
            } else {
                Money::ZERO
            };
            work.remaining = work
                .remaining
                .checked_add(applied)
                .map_err(|_| overflow("refund"))?;
            if cell.caco && work.accrues {
                // The corrected spend no longer counts toward the milestone(s) it counted for.
                for ms in &mut milestones[work.milestones.clone()] {
                    let counts = match work.basis {
                        CacoBasis::Period => {
                            ms.start <= line.charge_date && line.charge_date <= ms.end
                        }
                        CacoBasis::Cumulative => line.charge_date <= ms.end,
                    };
                    if counts && ms.accrues {
                        let cut = requested.min(ms.progress);
                        ms.progress = Money::from_units(ms.progress.units() - cut.units());
                        ms.delta = ms.delta.checked_sub(cut).map_err(|_| overflow("refund"))?;
                    }
                }
            }
            (c as usize, AdjustmentTarget::Caco, applied)
        }
        LotRef::Credit(l) => {
            let Some(work) = lots.iter_mut().find(|w| w.state_index == l as usize) else {
                // An expired or canceled lot cannot be restored.
                return Ok(Some(PendingAdjustment::new(
                    acct,
                    inv,
                    line,
                    position,
                    l as usize,
                    AdjustmentTarget::Credit,
                    requested,
                    Money::ZERO,
                )));
            };
            let applied = if work.open && work.covers.contains(corrected_kind) {
                let room = work
                    .original
                    .checked_sub(work.balance)
                    .map_err(|_| overflow("refund"))?;
                requested.min(room).max(Money::ZERO)
            } else {
                Money::ZERO
            };
            work.balance = work
                .balance
                .checked_add(applied)
                .map_err(|_| overflow("refund"))?;
            (l as usize, AdjustmentTarget::Credit, applied)
        }
    };
    Ok(Some(PendingAdjustment::new(
        acct,
        inv,
        line,
        position,
        index,
        target_kind,
        requested,
        applied,
    )))
}

/// A refund's effect, computed in line order and emitted as `Adjusted` after the loop.
struct PendingAdjustment {
    target: String,
    target_kind: AdjustmentTarget,
    /// Index of the target in the state's MACCs, CACOs or credit lots.
    index: usize,
    profile: String,
    line_position: u32,
    requested: Money,
    applied: Money,
}

impl PendingAdjustment {
    #[allow(clippy::too_many_arguments)]
    fn new(
        acct: &AccountState,
        inv: &Invoice,
        line: &ChargeLine,
        position: u32,
        index: usize,
        target_kind: AdjustmentTarget,
        requested: Money,
        applied: Money,
    ) -> PendingAdjustment {
        let target = match target_kind {
            AdjustmentTarget::Macc => acct.maccs[index].terms.id.clone(),
            AdjustmentTarget::Caco => acct.cacos[index].terms.id.clone(),
            AdjustmentTarget::Credit => acct.lots[index].terms.id.clone(),
        };
        PendingAdjustment {
            target,
            target_kind,
            index,
            profile: inv.profile_name(line).to_string(),
            line_position: position,
            requested,
            applied,
        }
    }
}

/// The expiry of lot `id`, `months` after `start`, or why the log could not hold it.
fn checked_expiry(start: Date, months: u32, id: &str) -> Result<Date, CoreError> {
    start
        .checked_add_months(months)
        .map_err(|source| CoreError::DateOutOfRange {
            context: format!("the expiry of credit lot '{id}'"),
            source,
        })
}
