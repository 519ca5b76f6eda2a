//! R-SETTLE: settling one invoice. Lines are split into portions (covered by credit lots,
//! or paid), each portion counts toward MACC and CACO by R-ELIG, and the totals become events.
//!
//! Three phases. [`Work`] decides: the line loop works on plain copies of the balances and
//! dense per (billing profile, lot) tallies, and changes no state. Its [`Decided`] steps are
//! then emitted and folded by [`AccountState::evolve`], and the folded balances are checked
//! against the worked ones. Last come completions, partner earned credit and the summary.

use crate::agreement::{CacoBasis, CreditOrder};
use crate::date::Date;
use crate::error::CoreError;
use crate::event::{AdjustmentTarget, CommitmentKind, Event, InvoiceSummary, LotOrigin, LotTerms};
use crate::fact::{ChargeLine, Invoice};
use crate::kind::{ChargeKind, CreditKind, KindSet, Payer};
use crate::money::Money;
use crate::rulebook::{self, EligCell, Rulebook, Settlement};
use crate::state::{AccountState, CacoMilestoneState, CacoState, LotRef, LotState, MaccState};
use crate::trace::{MaccSkip, Portion, TraceSink};

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

/// `a − b` where `b <= a` is known (a take never exceeds what it is taken from).
#[inline]
fn less(a: Money, b: Money) -> Money {
    debug_assert!(b <= a);
    Money::from_units(a.units() - b.units())
}

/// How an engine-made invoice's purchase lines open lots.
#[derive(Clone, Debug)]
pub(crate) enum SyntheticOrigin {
    MilestoneShortfall { macc: String, milestone: String },
    MaccShortfall,
    WhatIf,
}

/// The rulebook an account settles under.
pub(crate) fn rulebook_of(acct: &AccountState) -> Result<&'static Rulebook, CoreError> {
    rulebook::rulebook(acct.terms.rulebook_version).ok_or_else(|| CoreError::Corrupt {
        message: format!("unknown rulebook version {}", acct.terms.rulebook_version),
    })
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
    let rb = rulebook_of(acct)?;
    let order = canonical_order(&inv.lines);
    open_purchased_lots(acct, inv, &order, synthetic, rb, out)?;
    let decided = Work::new(acct, inv, rb, S::ENABLED).decide(&order, sink)?;
    for step in &decided.steps {
        decided.emit_step(acct, inv, step, out)?;
    }
    decided.check_folded(acct)?;
    emit_macc_completions(acct, inv, out)?;
    emit_caco_completions(acct, inv, rb, out)?;
    let pec = partner_earned_credit(acct, inv, decided.paid_usage, out)?;
    emit_settled(acct, inv, synthetic.is_some(), &decided, pec, out)
}

/// Step 3: canonical order, by charge date then input order (R-DET-2).
fn canonical_order(lines: &[ChargeLine]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..lines.len() as u32).collect();
    if !lines
        .windows(2)
        .all(|w| w[0].charge_date <= w[1].charge_date)
    {
        order.sort_by_key(|&i| (lines[i as usize].charge_date, i));
    }
    order
}

/// The kinds of the purchases [`open_purchased_lots`] opens a lot for.
fn opens_a_lot(kind: ChargeKind) -> bool {
    matches!(
        kind,
        ChargeKind::PrepaymentPurchase | ChargeKind::MilestoneShortfallPurchase
    )
}

/// Step 4: purchases that open lots open them first, so they can cover this invoice.
fn open_purchased_lots(
    acct: &mut AccountState,
    inv: &Invoice,
    order: &[u32],
    synthetic: Option<&SyntheticOrigin>,
    rb: &Rulebook,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    // Most invoices have no purchase: one plain pass over the lines tells.
    if !inv.lines.iter().any(|l| opens_a_lot(l.kind)) {
        return Ok(());
    }
    for &i in order {
        let line = &inv.lines[i as usize];
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
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Deciding: working copies of the balances.

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
}

struct MaccWork<'a> {
    id: &'a str,
    start: Date,
    end: Date,
    balance: Money,
    original: Money,
    /// Open and not completed yet: it may be decremented and a refund may raise it.
    open: bool,
}

impl MaccWork<'_> {
    /// Why this MACC cannot take a portion charged on `date` (R-MACC-3), if it cannot.
    #[inline]
    fn refuses(&self, date: Date) -> Option<MaccSkip> {
        if !self.open || !self.balance.is_positive() {
            Some(MaccSkip::Closed)
        } else if date < self.start {
            Some(MaccSkip::BeforeStart)
        } else if date > self.end {
            Some(MaccSkip::AfterEnd)
        } else {
            None
        }
    }
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
    /// Range of this CACO's milestones in `Work::milestones`.
    milestones: std::ops::Range<usize>,
}

struct MilestoneWork {
    start: Date,
    end: Date,
    accrues: bool,
    progress: Money,
}

impl MilestoneWork {
    /// Whether spend dated `date` counts toward this milestone (R-CACO-2).
    fn counts(&self, basis: CacoBasis, date: Date) -> bool {
        self.accrues
            && match basis {
                CacoBasis::Period => self.start <= date && date <= self.end,
                CacoBasis::Cumulative => date <= self.end,
            }
    }
}

/// Who paid a portion and what it counts toward, for the trace.
struct Share<'s> {
    payer: Payer,
    /// The covering lot and the R-COVER rule that let it pay.
    lot: Option<(&'s str, &'static str)>,
    amount: Money,
    elig: EligCell,
}

/// Dense sizes of the tallies: `profile * count + index`.
#[derive(Clone, Copy)]
struct Layout {
    profiles: usize,
    lots: usize,
    maccs: usize,
    cacos: usize,
}

/// What a run of lines took, per (billing profile, lot); milestone deltas per milestone.
#[derive(Clone)]
struct Tally {
    credit: Vec<Money>,
    macc: Vec<Money>,
    caco: Vec<Money>,
    milestone: Vec<Money>,
}

impl Tally {
    fn new(layout: &Layout, milestones: usize) -> Tally {
        Tally {
            credit: vec![Money::ZERO; layout.profiles * layout.lots],
            macc: vec![Money::ZERO; layout.profiles * layout.maccs],
            caco: vec![Money::ZERO; layout.profiles * layout.cacos],
            milestone: vec![Money::ZERO; milestones],
        }
    }

    fn is_empty(&self) -> bool {
        [&self.credit, &self.macc, &self.caco, &self.milestone]
            .iter()
            .all(|v| v.iter().all(|m| m.is_zero()))
    }
}

/// A refund's effect on the lot it corrects (R-ADJ), emitted as `Adjusted`.
struct PendingAdjustment {
    target_kind: AdjustmentTarget,
    /// Index of the target in the state's MACCs, CACOs or credit lots.
    index: usize,
    profile: String,
    line_position: u32,
    requested: Money,
    applied: Money,
}

/// One batch of decisions, emitted in order.
enum Step {
    Tally(Tally),
    Adjust(PendingAdjustment),
}

/// What the line loop decided, owning no borrow of the state.
struct Decided {
    layout: Layout,
    steps: Vec<Step>,
    /// Per working lot, in paying order: its index in the state and its worked balance.
    lot_final: Vec<(usize, Money)>,
    macc_final: Vec<Money>,
    charges: Money,
    credits: Money,
    paid_usage: Money,
}

/// The settlement of one invoice in progress: the working balances and the tallies.
struct Work<'a> {
    acct: &'a AccountState,
    inv: &'a Invoice,
    rb: &'a Rulebook,
    layout: Layout,
    lots: Vec<LotWork<'a>>,
    maccs: Vec<MaccWork<'a>>,
    cacos: Vec<CacoWork<'a>>,
    milestones: Vec<MilestoneWork>,
    /// The charge kinds some open lot may cover.
    coverable: KindSet,
    any_macc: bool,
    any_caco: bool,
    tally: Tally,
    steps: Vec<Step>,
    /// `Settlement::AdjustFirst` lists all adjustments first.
    adjustments: Vec<PendingAdjustment>,
    charges: Money,
    credits: Money,
    paid_usage: Money,
    /// The sink records portions: keep what each counted toward.
    tracing: bool,
    /// The run of lines in progress (see [`Portion::run`]).
    run: u32,
    /// Trace scratch (only touched when tracing).
    macc_parts: Vec<(&'a str, Money)>,
    macc_skipped: Vec<(&'a str, MaccSkip)>,
    caco_parts: Vec<(&'a str, Money)>,
}

impl<'a> Work<'a> {
    fn new(acct: &'a AccountState, inv: &'a Invoice, rb: &'a Rulebook, tracing: bool) -> Work<'a> {
        let lots = lot_work(acct, rb);
        let maccs: Vec<MaccWork> = acct
            .maccs
            .iter()
            .map(|m| MaccWork {
                id: &m.terms.id,
                start: m.terms.start,
                end: m.terms.end,
                balance: m.amounts.balance,
                original: m.original(),
                open: m.state == MaccState::Open,
            })
            .collect();
        let (cacos, milestones) = caco_work(acct);
        let layout = Layout {
            profiles: inv.profiles.len().max(1),
            lots: lots.len(),
            maccs: maccs.len(),
            cacos: cacos.len(),
        };
        Work {
            acct,
            inv,
            rb,
            layout,
            coverable: lots
                .iter()
                .fold(KindSet::EMPTY, |acc, l| acc.union(l.covers)),
            any_macc: maccs.iter().any(|m| m.open),
            any_caco: cacos.iter().any(|c| c.accrues),
            tally: Tally::new(&layout, milestones.len()),
            lots,
            maccs,
            cacos,
            milestones,
            steps: Vec::new(),
            adjustments: Vec::new(),
            charges: Money::ZERO,
            credits: Money::ZERO,
            paid_usage: Money::ZERO,
            tracing,
            run: 0,
            macc_parts: Vec::new(),
            macc_skipped: Vec::new(),
            caco_parts: Vec::new(),
        }
    }

    fn in_decision_order(&self) -> bool {
        self.rb.settlement >= Settlement::InDecisionOrder
    }

    /// Steps 5 and 6: line by line, in canonical order.
    fn decide<S: TraceSink>(mut self, order: &[u32], sink: &mut S) -> Result<Decided, CoreError> {
        for &i in order {
            self.line(i, sink)?;
        }
        let mut steps = std::mem::take(&mut self.adjustments)
            .into_iter()
            .map(Step::Adjust)
            .collect::<Vec<_>>();
        steps.append(&mut self.steps);
        steps.push(Step::Tally(self.tally));
        Ok(Decided {
            layout: self.layout,
            steps,
            lot_final: self
                .lots
                .iter()
                .map(|l| (l.state_index, l.balance))
                .collect(),
            macc_final: self.maccs.iter().map(|m| m.balance).collect(),
            charges: self.charges,
            credits: self.credits,
            paid_usage: self.paid_usage,
        })
    }

    fn line<S: TraceSink>(&mut self, i: u32, sink: &mut S) -> Result<(), CoreError> {
        let inv = self.inv;
        let line = &inv.lines[i as usize];
        let position = i + 1;
        let profile = line.profile as usize;
        if profile >= self.layout.profiles {
            return Err(invalid(inv, position, "billing profile index out of range"));
        }
        add_to(&mut self.charges, line.amount)?;
        if line.kind == ChargeKind::Refund {
            return self.refund_line(line, position, sink);
        }
        if line.amount.is_negative() {
            return Err(invalid(
                inv,
                position,
                &format!(
                    "only refund lines may be negative; this {} line is {}",
                    line.kind, line.amount
                ),
            ));
        }
        let mut rest = line.amount;
        if rest.is_positive() && self.coverable.contains(line.kind) {
            rest = self.cover(line, position, profile, sink)?;
        }
        add_to(&mut self.credits, less(line.amount, rest))?;
        if !rest.is_zero() || line.amount.is_zero() {
            self.paid(line, position, profile, rest, sink)?;
        }
        Ok(())
    }

    /// Step 5: credit lots in their order pay what they may; returns what is left to pay.
    fn cover<S: TraceSink>(
        &mut self,
        line: &ChargeLine,
        position: u32,
        profile: usize,
        sink: &mut S,
    ) -> Result<Money, CoreError> {
        let mut rest = line.amount;
        for li in 0..self.lots.len() {
            let lot = &mut self.lots[li];
            if !lot.covers.contains(line.kind)
                || !lot.balance.is_positive()
                || line.charge_date < lot.start
                || line.charge_date > lot.expires
            {
                continue;
            }
            let take = rest.min(lot.balance);
            lot.balance = less(lot.balance, take);
            rest = less(rest, take);
            let (payer, lot_id, cover_rule) = (lot.payer, lot.id, lot.cover_rule);
            add_to(
                &mut self.tally.credit[profile * self.layout.lots + li],
                take,
            )?;
            let cell = self.rb.cell(line.kind, payer);
            self.count(cell, line, take, profile)?;
            if S::ENABLED {
                let lot = Some((lot_id, cover_rule));
                let share = Share {
                    payer,
                    lot,
                    amount: take,
                    elig: cell,
                };
                self.trace(sink, line, position, share);
            }
            if rest.is_zero() {
                break;
            }
        }
        Ok(rest)
    }

    /// The paid remainder of a line.
    fn paid<S: TraceSink>(
        &mut self,
        line: &ChargeLine,
        position: u32,
        profile: usize,
        rest: Money,
        sink: &mut S,
    ) -> Result<(), CoreError> {
        let cell = self.rb.cell(line.kind, Payer::Paid);
        self.count(cell, line, rest, profile)?;
        if line.kind == ChargeKind::Usage {
            add_to(&mut self.paid_usage, rest)?;
        }
        if S::ENABLED {
            let share = Share {
                payer: Payer::Paid,
                lot: None,
                amount: rest,
                elig: cell,
            };
            self.trace(sink, line, position, share);
        }
        Ok(())
    }

    /// Report a portion to the trace sink, with what it counted toward.
    fn trace<S: TraceSink>(&self, sink: &mut S, line: &ChargeLine, position: u32, share: Share) {
        sink.portion(&Portion {
            invoice: self.inv,
            line_position: position,
            line,
            payer: share.payer,
            lot: share.lot.map(|l| l.0),
            cover_rule: share.lot.map(|l| l.1),
            amount: share.amount,
            elig: share.elig,
            macc: &self.macc_parts,
            macc_skipped: &self.macc_skipped,
            caco: &self.caco_parts,
            run: self.run,
        });
    }

    /// Step 6: count one portion toward the MACC queue and the CACOs, by its R-ELIG cell.
    #[inline]
    fn count(
        &mut self,
        cell: EligCell,
        line: &ChargeLine,
        amount: Money,
        profile: usize,
    ) -> Result<(), CoreError> {
        if self.tracing {
            self.macc_parts.clear();
            self.macc_skipped.clear();
            self.caco_parts.clear();
        }
        if cell.macc && self.any_macc && amount.is_positive() {
            self.count_macc(line, amount, profile)?;
        }
        if self.tracing && cell.macc && !self.any_macc && amount.is_positive() {
            let closed = self.maccs.iter().map(|m| (m.id, MaccSkip::Closed));
            self.macc_skipped.extend(closed);
        }
        if cell.caco && self.any_caco {
            self.count_caco(line.charge_date, amount, profile)?;
        }
        Ok(())
    }

    /// R-MACC-3: the queue in order; what one cannot take passes to the next whose coverage
    /// period holds the charge date. A milestone shortfall purchase decrements its own MACC
    /// (fine point 4).
    #[inline]
    fn count_macc(
        &mut self,
        line: &ChargeLine,
        amount: Money,
        profile: usize,
    ) -> Result<(), CoreError> {
        let date = line.charge_date;
        let own = if line.kind == ChargeKind::MilestoneShortfallPurchase {
            self.inv
                .str(line.corrects)
                .and_then(|id| self.maccs.iter().position(|m| m.id == id))
        } else {
            None
        };
        let completes_on_its_line = self.in_decision_order();
        let mut rest = amount;
        for (m, macc) in self.maccs.iter_mut().enumerate() {
            let skip = if own.is_some_and(|o| o != m) {
                Some(MaccSkip::NamesAnotherMacc)
            } else {
                macc.refuses(date)
            };
            if let Some(skip) = skip {
                if self.tracing {
                    self.macc_skipped.push((macc.id, skip));
                }
                continue;
            }
            let take = rest.min(macc.balance);
            macc.balance = less(macc.balance, take);
            rest = less(rest, take);
            if completes_on_its_line && macc.balance.is_zero() {
                macc.open = false;
            }
            add_to(&mut self.tally.macc[profile * self.layout.maccs + m], take)?;
            if self.tracing {
                self.macc_parts.push((macc.id, take));
            }
            if rest.is_zero() {
                break;
            }
        }
        Ok(())
    }

    /// R-CACO-2, R-CACO-3: progress toward the milestones the date counts for, and the
    /// remaining commitment.
    #[inline]
    fn count_caco(&mut self, date: Date, amount: Money, profile: usize) -> Result<(), CoreError> {
        let completes_on_its_line = self.in_decision_order();
        for (c, caco) in self.cacos.iter_mut().enumerate() {
            if !caco.accrues || date < caco.start || date > caco.end {
                continue;
            }
            for k in caco.milestones.clone() {
                if !self.milestones[k].counts(caco.basis, date) {
                    continue;
                }
                self.milestones[k].progress = self.milestones[k]
                    .progress
                    .checked_add(amount)
                    .map_err(|_| overflow("milestone progress"))?;
                add_to(&mut self.tally.milestone[k], amount)?;
                if caco.basis == CacoBasis::Period {
                    break;
                }
            }
            let take = if caco.decrements {
                amount.min(caco.remaining)
            } else {
                Money::ZERO
            };
            caco.remaining = less(caco.remaining, take);
            if completes_on_its_line && caco.remaining.is_zero() {
                caco.decrements = false;
            }
            add_to(&mut self.tally.caco[profile * self.layout.cacos + c], take)?;
            if self.tracing {
                self.caco_parts.push((caco.id, take));
            }
        }
        Ok(())
    }

    /// A refund line (R-ADJ): never positive. Its adjustment, if it has a target, is a step
    /// of its own: after the lines before it (in decision order), or first (version 1).
    fn refund_line<S: TraceSink>(
        &mut self,
        line: &ChargeLine,
        position: u32,
        sink: &mut S,
    ) -> Result<(), CoreError> {
        if line.amount.is_positive() {
            return Err(invalid(
                self.inv,
                position,
                &format!("a refund must be negative, not {}", line.amount),
            ));
        }
        if let Some(target) = self.refund_target(line, position)? {
            if self.in_decision_order() {
                self.close_run();
            }
            let pending = self.refund(line, position, target)?;
            if self.in_decision_order() {
                self.steps.push(Step::Adjust(pending));
            } else {
                self.adjustments.push(pending);
            }
        }
        if S::ENABLED {
            self.macc_parts.clear();
            self.macc_skipped.clear();
            self.caco_parts.clear();
            let share = Share {
                payer: Payer::Paid,
                lot: None,
                amount: line.amount,
                elig: self.rb.cell(ChargeKind::Refund, Payer::Paid),
            };
            self.trace(sink, line, position, share);
        }
        Ok(())
    }

    /// End the run of lines before a refund: its tally becomes a step.
    fn close_run(&mut self) {
        let fresh = Tally::new(&self.layout, self.milestones.len());
        let done = std::mem::replace(&mut self.tally, fresh);
        if !done.is_empty() {
            self.steps.push(Step::Tally(done));
        }
        self.run += 1;
    }

    /// The lot a refund corrects: the one it names, else the MACC head (fine point 7).
    fn refund_target(&self, line: &ChargeLine, position: u32) -> Result<Option<LotRef>, CoreError> {
        if let Some(name) = self.inv.str(line.corrects) {
            return match self.acct.lot_ref(name) {
                Some(r) => Ok(Some(r)),
                None => Err(invalid(
                    self.inv,
                    position,
                    &format!("the refund corrects '{name}', which is not a MACC, CACO or credit lot of this account"),
                )),
            };
        }
        let head = if self.in_decision_order() {
            // The head at this line: a MACC completed by an earlier line is no longer it.
            self.maccs.iter().position(|m| m.open)
        } else {
            self.acct.macc_head()
        };
        Ok(head.map(|h| LotRef::Macc(h as u32)))
    }

    /// R-ADJ: a refund raises the balance of the lot it corrects, never above the original.
    fn refund(
        &mut self,
        line: &ChargeLine,
        position: u32,
        target: LotRef,
    ) -> Result<PendingAdjustment, CoreError> {
        let requested = line.amount.checked_neg().map_err(|_| overflow("refund"))?;
        let corrected_kind = line.corrects_kind.unwrap_or(ChargeKind::Usage);
        let cell = self.rb.cell(corrected_kind, Payer::Paid);
        let (index, target_kind, applied) = match target {
            LotRef::Macc(m) => {
                let work = &mut self.maccs[m as usize];
                // A Completed MACC stays completed (fine point 7): `open` is false for it.
                let applied = raise(
                    &mut work.balance,
                    work.original,
                    requested,
                    cell.macc && work.open,
                )?;
                (m as usize, AdjustmentTarget::Macc, applied)
            }
            LotRef::Caco(c) => {
                let applied = self.refund_caco(c as usize, line, requested, cell)?;
                (c as usize, AdjustmentTarget::Caco, applied)
            }
            LotRef::Credit(l) => {
                let work = self.lots.iter_mut().find(|w| w.state_index == l as usize);
                // An expired or canceled lot is not worked on and cannot be restored.
                let applied = match work {
                    Some(work) => raise(
                        &mut work.balance,
                        work.original,
                        requested,
                        work.covers.contains(corrected_kind),
                    )?,
                    None => Money::ZERO,
                };
                (l as usize, AdjustmentTarget::Credit, applied)
            }
        };
        Ok(PendingAdjustment {
            target_kind,
            index,
            profile: self.inv.profile_name(line).to_string(),
            line_position: position,
            requested,
            applied,
        })
    }

    /// A refund of CACO-eligible spend: the remaining commitment rises (while the CACO may be
    /// decremented) and the corrected spend stops counting toward its milestones.
    fn refund_caco(
        &mut self,
        c: usize,
        line: &ChargeLine,
        requested: Money,
        cell: EligCell,
    ) -> Result<Money, CoreError> {
        let work = &mut self.cacos[c];
        let applied = raise(
            &mut work.remaining,
            work.commitment,
            requested,
            cell.caco && work.decrements,
        )?;
        if cell.caco && work.accrues {
            for k in work.milestones.clone() {
                let ms = &mut self.milestones[k];
                if ms.counts(work.basis, line.charge_date) {
                    let cut = requested.min(ms.progress);
                    ms.progress = less(ms.progress, cut);
                    self.tally.milestone[k] = self.tally.milestone[k]
                        .checked_sub(cut)
                        .map_err(|_| overflow("refund"))?;
                }
            }
        }
        Ok(applied)
    }
}

/// Raise `balance` by up to `requested`, never above `original`; nothing unless `allowed`.
fn raise(
    balance: &mut Money,
    original: Money,
    requested: Money,
    allowed: bool,
) -> Result<Money, CoreError> {
    if !allowed {
        return Ok(Money::ZERO);
    }
    let room = original
        .checked_sub(*balance)
        .map_err(|_| overflow("refund"))?;
    let applied = requested.min(room).max(Money::ZERO);
    *balance = balance
        .checked_add(applied)
        .map_err(|_| overflow("refund"))?;
    Ok(applied)
}

fn invalid(inv: &Invoice, position: u32, message: &str) -> CoreError {
    CoreError::InvalidLine {
        invoice: inv.id.clone(),
        line_position: position,
        message: message.to_string(),
    }
}

/// The open credit lots, in the order they pay (R-CREDIT-ORDER).
fn lot_work<'a>(acct: &'a AccountState, rb: &Rulebook) -> Vec<LotWork<'a>> {
    let mut lots: Vec<LotWork> = acct
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
            balance: l.amounts.balance,
            original: l.original(),
        })
        .collect();
    match acct.terms.credit_order {
        CreditOrder::ExpiringFirst => {
            lots.sort_by(|a, b| (a.expires, a.start, a.id).cmp(&(b.expires, b.start, b.id)))
        }
        CreditOrder::OldestFirst => {
            lots.sort_by(|a, b| (a.start, a.expires, a.id).cmp(&(b.start, b.expires, b.id)))
        }
    }
    lots
}

/// Every CACO and, flattened, every milestone.
fn caco_work(acct: &AccountState) -> (Vec<CacoWork<'_>>, Vec<MilestoneWork>) {
    let mut milestones: Vec<MilestoneWork> = Vec::new();
    let mut cacos: Vec<CacoWork> = Vec::with_capacity(acct.cacos.len());
    for c in &acct.cacos {
        let from = milestones.len();
        milestones.extend(c.milestones.iter().map(|m| MilestoneWork {
            start: m.terms.start,
            end: m.terms.end,
            accrues: m.accrues(),
            progress: m.progress,
        }));
        cacos.push(CacoWork {
            id: &c.terms.id,
            start: c.terms.start,
            end: c.terms.end(),
            basis: c.terms.basis,
            accrues: c.state != CacoState::Canceled,
            decrements: c.state == CacoState::Open,
            remaining: c.amounts.balance,
            commitment: c.original(),
            milestones: from..milestones.len(),
        });
    }
    (cacos, milestones)
}

// ---------------------------------------------------------------------------------------------
// Emitting.

fn emit_adjustment(
    acct: &mut AccountState,
    inv: &Invoice,
    pending: &PendingAdjustment,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    let (target, current) = match pending.target_kind {
        AdjustmentTarget::Macc => {
            let m = &acct.maccs[pending.index];
            (&m.terms.id, m.amounts.balance)
        }
        AdjustmentTarget::Caco => {
            let c = &acct.cacos[pending.index];
            (&c.terms.id, c.amounts.balance)
        }
        AdjustmentTarget::Credit => {
            let l = &acct.lots[pending.index];
            (&l.terms.id, l.amounts.balance)
        }
    };
    let balance_after = current
        .checked_add(pending.applied)
        .map_err(|_| overflow("refund"))?;
    let event = Event::Adjusted {
        target: target.clone(),
        target_kind: pending.target_kind,
        invoice: inv.id.clone(),
        profile: pending.profile.clone(),
        line_position: pending.line_position,
        date: inv.date,
        requested: pending.requested,
        applied: pending.applied,
        balance_after,
    };
    emit(acct, out, event)
}

impl Decided {
    fn emit_step(
        &self,
        acct: &mut AccountState,
        inv: &Invoice,
        step: &Step,
        out: &mut Vec<Event>,
    ) -> Result<(), CoreError> {
        match step {
            Step::Adjust(pending) => emit_adjustment(acct, inv, pending, out),
            Step::Tally(tally) => self.emit_tally(acct, inv, tally, out),
        }
    }

    /// One run's credit applications, decrements (R-SETTLE step 6: one per billing profile
    /// and lot) and milestone progress.
    fn emit_tally(
        &self,
        acct: &mut AccountState,
        inv: &Invoice,
        tally: &Tally,
        out: &mut Vec<Event>,
    ) -> Result<(), CoreError> {
        let layout = &self.layout;
        emit_credits(acct, inv, &self.lot_final, layout, &tally.credit, out)?;
        emit_decrements(
            acct,
            out,
            inv,
            CommitmentKind::Macc,
            &tally.macc,
            layout.maccs,
        )?;
        emit_decrements(
            acct,
            out,
            inv,
            CommitmentKind::Caco,
            &tally.caco,
            layout.cacos,
        )?;
        emit_progress(acct, inv, &tally.milestone, out)
    }
}

fn profile_name(inv: &Invoice, p: usize) -> String {
    inv.profiles.get(p).cloned().unwrap_or_default()
}

/// Credit applications, one per (billing profile, lot); `lots` are the working lots in paying
/// order with their index in the state.
fn emit_credits(
    acct: &mut AccountState,
    inv: &Invoice,
    lots: &[(usize, Money)],
    layout: &Layout,
    credit: &[Money],
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    for p in 0..layout.profiles {
        for (li, &(state_index, _)) in lots.iter().enumerate() {
            let amount = credit[p * layout.lots + li];
            if amount.is_zero() {
                continue;
            }
            let current = &acct.lots[state_index];
            let balance_after = current
                .amounts
                .balance
                .checked_sub(amount)
                .map_err(|_| overflow("credit"))?;
            let event = Event::CreditApplied {
                lot: current.terms.id.clone(),
                invoice: inv.id.clone(),
                profile: profile_name(inv, p),
                date: inv.date,
                amount,
                balance_after,
            };
            emit(acct, out, event)?;
        }
    }
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
                CommitmentKind::Macc => (&acct.maccs[i].terms.id, acct.maccs[i].amounts.balance),
                CommitmentKind::Caco => (&acct.cacos[i].terms.id, acct.cacos[i].amounts.balance),
            };
            let balance_after = balance
                .checked_sub(amount)
                .map_err(|_| overflow("decrement"))?;
            let event = Event::Decremented {
                commitment: commitment.clone(),
                kind,
                invoice: inv.id.clone(),
                profile: profile_name(inv, p),
                date: inv.date,
                amount,
                balance_after,
            };
            emit(acct, out, event)?;
        }
    }
    Ok(())
}

/// CACO milestone progress, one event per milestone that moved (flattened milestone order).
fn emit_progress(
    acct: &mut AccountState,
    inv: &Invoice,
    deltas: &[Money],
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    let mut k = 0;
    for c in 0..acct.cacos.len() {
        for j in 0..acct.cacos[c].milestones.len() {
            let delta = deltas[k];
            k += 1;
            if delta.is_zero() {
                continue;
            }
            let current = &acct.cacos[c].milestones[j];
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
    Ok(())
}

impl Decided {
    /// The folded state must equal the working balances.
    fn check_folded(&self, acct: &AccountState) -> Result<(), CoreError> {
        for &(state_index, worked) in &self.lot_final {
            let lot = &acct.lots[state_index];
            if lot.amounts.balance != worked {
                return Err(CoreError::Invariant {
                    message: format!(
                        "credit lot {}: worked {} but folded {}",
                        lot.terms.id, worked, lot.amounts.balance
                    ),
                });
            }
        }
        for (macc, &worked) in acct.maccs.iter().zip(&self.macc_final) {
            if macc.amounts.balance != worked {
                return Err(CoreError::Invariant {
                    message: format!(
                        "MACC {}: worked {} but folded {}",
                        macc.terms.id, worked, macc.amounts.balance
                    ),
                });
            }
        }
        Ok(())
    }
}

/// R-MACC-4: a MACC whose balance reached zero completes on this invoice.
fn emit_macc_completions(
    acct: &mut AccountState,
    inv: &Invoice,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    for m in 0..acct.maccs.len() {
        if acct.maccs[m].state == MaccState::Open && acct.maccs[m].amounts.balance.is_zero() {
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
    Ok(())
}

/// R-CACO-5 (milestones met, their awards open) and R-CACO-7 (CACOs completed).
fn emit_caco_completions(
    acct: &mut AccountState,
    inv: &Invoice,
    rb: &Rulebook,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    for c in 0..acct.cacos.len() {
        if acct.cacos[c].state == CacoState::Canceled {
            continue;
        }
        for k in 0..acct.cacos[c].milestones.len() {
            emit_milestone_met(acct, inv, rb, c, k, out)?;
        }
        let caco = &acct.cacos[c];
        if caco.state == CacoState::Open && caco.amounts.balance.is_zero() {
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
    Ok(())
}

/// R-CACO-5: milestone `k` of CACO `c`, if its progress reached the target, completes and its
/// award opens as an `aco` lot.
fn emit_milestone_met(
    acct: &mut AccountState,
    inv: &Invoice,
    rb: &Rulebook,
    c: usize,
    k: usize,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    let caco = &acct.cacos[c];
    let ms = &caco.milestones[k];
    if ms.state != CacoMilestoneState::Open || ms.progress < ms.terms.target {
        return Ok(());
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
    if !award.is_positive() {
        return Ok(());
    }
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
    )
}

/// R-CSP: partner earned credit once the ACO balance is gone.
fn partner_earned_credit(
    acct: &mut AccountState,
    inv: &Invoice,
    paid_usage: Money,
    out: &mut Vec<Event>,
) -> Result<Money, CoreError> {
    let Some(rate) = acct.terms.partner_earned_credit_rate else {
        return Ok(Money::ZERO);
    };
    if !acct.pec_earning {
        let aco_left = acct
            .lots
            .iter()
            .filter(|l| l.terms.kind == CreditKind::Aco && l.state == LotState::Open)
            .any(|l| l.amounts.balance.is_positive());
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
    if !acct.pec_earning {
        return Ok(Money::ZERO);
    }
    paid_usage
        .mul_factor_rounded(rate)
        .map_err(|_| overflow("partner earned credit"))
}

/// Step 7: billed = charges − credits applied; the invoice amount less PEC.
fn emit_settled(
    acct: &mut AccountState,
    inv: &Invoice,
    synthetic: bool,
    decided: &Decided,
    pec: Money,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    let billed = decided
        .charges
        .checked_sub(decided.credits)
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
        charges: decided.charges,
        credits_applied: decided.credits,
        billed,
        partner_earned_credit: pec,
        invoice_amount,
        synthetic,
    };
    emit(acct, out, Event::InvoiceSettled { summary })
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
