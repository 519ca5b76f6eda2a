//! `evolve`: the fold of one decision into an account's state.
//!
//! Deciding and replaying share this code: the core emits an event and immediately evolves the
//! state with it, so a replay of the recorded events reaches exactly the state the decisions
//! were taken in. Every event that carries a balance after it is checked against the fold.

use std::collections::BTreeMap;

use crate::agreement::{CacoTerms, MaccTerms};
use crate::amounts::Amounts;
use crate::date::Date;
use crate::error::CoreError;
use crate::event::{AdjustmentTarget, CommitmentKind, Event, InvoiceSummary, LotOrigin, LotTerms};
use crate::money::Money;
use crate::state::{
    AccountState, Caco, CacoMilestone, CacoMilestoneState, CacoState, CreditLot, LotRef, LotState,
    Macc, MaccMilestoneOutcome, MaccState,
};

pub(crate) fn corrupt(message: String) -> CoreError {
    CoreError::Corrupt { message }
}

fn expect_balance(what: &str, id: &str, actual: Money, recorded: Money) -> Result<(), CoreError> {
    if actual != recorded {
        return Err(corrupt(format!(
            "{what} {id}: balance after is {actual} by the fold, {recorded} as recorded"
        )));
    }
    if actual.is_negative() {
        return Err(corrupt(format!(
            "{what} {id}: balance would fall below zero ({actual})"
        )));
    }
    Ok(())
}

/// The noun a message uses for a lot kind.
fn noun(kind: AdjustmentTarget) -> &'static str {
    match kind {
        AdjustmentTarget::Macc => "MACC",
        AdjustmentTarget::Caco => "CACO",
        AdjustmentTarget::Credit => "credit lot",
    }
}

impl AccountState {
    /// Fold one decision into the state. Fails (without a panic) on an event that cannot follow
    /// from this state, which means the log is damaged or was written by other rules.
    pub fn evolve(&mut self, event: &Event) -> Result<(), CoreError> {
        match event {
            Event::AccountOpened { .. } => {
                Err(corrupt(format!("account {} opened twice", self.account)))
            }
            Event::AccountTermsChanged { terms } => {
                self.terms = terms.clone();
                Ok(())
            }
            Event::AgreementRecorded {
                version,
                content_hash,
            } => self.agreement_recorded(*version, content_hash),
            Event::MaccOpened { terms } => self.macc_opened(terms),
            Event::MaccAmended {
                terms,
                balance_after,
            } => self.macc_amended(terms, *balance_after),
            Event::MaccCanceled { macc } => {
                self.macc_mut(macc)?.state = MaccState::Canceled;
                Ok(())
            }
            Event::CacoOpened { terms } => self.caco_opened(terms),
            Event::CacoAmended {
                terms,
                removed,
                remaining_after,
            } => self.caco_amended(terms, removed, *remaining_after),
            Event::CacoCanceled { caco } => self.caco_canceled(caco),
            Event::CreditLotOpened {
                lot, origin, date, ..
            } => self.credit_lot_opened(lot, origin, *date),
            Event::CreditLotAmended { lot, balance_after } => {
                self.credit_lot_amended(lot, *balance_after)
            }
            Event::CreditLotCanceled { lot } => {
                self.lot_mut(lot)?.state = LotState::Canceled;
                Ok(())
            }
            Event::CreditApplied {
                lot,
                amount,
                balance_after,
                ..
            } => self.credit_applied(lot, *amount, *balance_after),
            Event::Decremented {
                commitment,
                kind,
                amount,
                balance_after,
                ..
            } => self.decremented(commitment, *kind, *amount, *balance_after),
            Event::MilestoneProgressed {
                caco,
                milestone,
                amount,
                progress_after,
                ..
            } => self.milestone_progressed(caco, milestone, *amount, *progress_after),
            Event::MaccCompleted {
                macc,
                date,
                invoice,
            } => self.macc_completed(macc, *date, invoice),
            Event::CacoMilestoneCompleted {
                caco,
                milestone,
                date,
                invoice,
                ..
            } => self.caco_milestone_completed(caco, milestone, *date, invoice),
            Event::CacoCompleted {
                caco,
                date,
                invoice,
            } => self.caco_completed(caco, *date, invoice),
            Event::Adjusted {
                target,
                target_kind,
                applied,
                balance_after,
                ..
            } => self.adjusted(target, *target_kind, *applied, *balance_after),
            Event::MaccMilestoneEvaluated {
                macc,
                milestone,
                cumulative,
                shortfall,
                ..
            } => self.macc_milestone_evaluated(macc, milestone, *cumulative, *shortfall),
            Event::MaccExpired {
                macc, end, balance, ..
            } => self.macc_expired(macc, *end, *balance),
            Event::CacoMilestoneMissed {
                caco,
                milestone,
                end,
                ..
            } => self.caco_milestone_missed(caco, milestone, *end),
            Event::CacoExpired {
                caco,
                end,
                remaining,
            } => self.caco_expired(caco, *end, *remaining),
            Event::CreditLotExpired {
                lot,
                expires,
                balance,
            } => self.credit_lot_expired(lot, *expires, *balance),
            Event::PecStarted { .. } => {
                self.pec_earning = true;
                Ok(())
            }
            Event::InvoiceSettled { summary } => self.invoice_settled(summary),
            Event::Closed { through } => {
                self.advance_clock(*through);
                Ok(())
            }
            Event::Resettled {
                target,
                target_kind,
                decremented,
                adjusted,
                balance_after,
                ..
            } => self.resettled(
                target,
                *target_kind,
                *decremented,
                *adjusted,
                *balance_after,
            ),
            Event::PendingRecorded { run } => self.pending_recorded(run),
            Event::PendingSuperseded {
                invoice,
                content_hash,
                ..
            } => self.pending_superseded(invoice, content_hash),
        }
    }

    /// A lot corrected to a newer rulebook's amounts: they must keep the invariant, and the
    /// lot must still be open.
    fn resettled(
        &mut self,
        target: &str,
        kind: AdjustmentTarget,
        decremented: Money,
        adjusted: Money,
        balance_after: Money,
    ) -> Result<(), CoreError> {
        let (amounts, original, open) = self.amounts_mut(kind, target)?;
        if !open {
            return Err(corrupt(format!(
                "{} {target} resettled after it closed",
                noun(kind)
            )));
        }
        let corrected = Amounts {
            balance: balance_after,
            decremented,
            adjusted,
        };
        if let Err(why) = corrected.check(original) {
            return Err(corrupt(format!("{} {target} resettled: {why}", noun(kind))));
        }
        *amounts = corrected;
        Ok(())
    }

    pub(crate) fn advance_clock(&mut self, date: Date) {
        self.clock = Some(self.clock.map_or(date, |c| c.max(date)));
    }

    fn rebuild_lot_index(&mut self) {
        let mut index = BTreeMap::new();
        for (i, m) in self.maccs.iter().enumerate() {
            index.insert(m.terms.id.clone(), LotRef::Macc(i as u32));
        }
        for (i, c) in self.cacos.iter().enumerate() {
            index.insert(c.terms.id.clone(), LotRef::Caco(i as u32));
        }
        for (i, l) in self.lots.iter().enumerate() {
            index.insert(l.terms.id.clone(), LotRef::Credit(i as u32));
        }
        self.lot_index = index;
    }

    fn ensure_new_id(&self, id: &str) -> Result<(), CoreError> {
        if self.lot_index.contains_key(id) {
            return Err(corrupt(format!("lot id {id} opened twice")));
        }
        Ok(())
    }

    fn macc_mut(&mut self, id: &str) -> Result<&mut Macc, CoreError> {
        let i = self
            .macc_index(id)
            .ok_or_else(|| corrupt(format!("unknown MACC {id}")))?;
        Ok(&mut self.maccs[i])
    }

    fn caco_mut(&mut self, id: &str) -> Result<&mut Caco, CoreError> {
        let i = self
            .caco_index(id)
            .ok_or_else(|| corrupt(format!("unknown CACO {id}")))?;
        Ok(&mut self.cacos[i])
    }

    fn lot_mut(&mut self, id: &str) -> Result<&mut CreditLot, CoreError> {
        let i = self
            .credit_index(id)
            .ok_or_else(|| corrupt(format!("unknown credit lot {id}")))?;
        Ok(&mut self.lots[i])
    }

    /// The amounts of any lot, its original, and whether it is still open.
    pub(crate) fn amounts_mut(
        &mut self,
        kind: AdjustmentTarget,
        id: &str,
    ) -> Result<(&mut Amounts, Money, bool), CoreError> {
        Ok(match kind {
            AdjustmentTarget::Macc => {
                let m = self.macc_mut(id)?;
                let (original, open) = (m.original(), m.state == MaccState::Open);
                (&mut m.amounts, original, open)
            }
            AdjustmentTarget::Caco => {
                let c = self.caco_mut(id)?;
                let (original, open) = (c.original(), c.state == CacoState::Open);
                (&mut c.amounts, original, open)
            }
            AdjustmentTarget::Credit => {
                let l = self.lot_mut(id)?;
                let (original, open) = (l.original(), l.state == LotState::Open);
                (&mut l.amounts, original, open)
            }
        })
    }

    fn caco_milestone_mut(
        &mut self,
        caco: &str,
        milestone: &str,
    ) -> Result<&mut CacoMilestone, CoreError> {
        self.caco_mut(caco)?
            .milestones
            .iter_mut()
            .find(|m| m.terms.id == milestone)
            .ok_or_else(|| corrupt(format!("unknown milestone {caco}/{milestone}")))
    }

    // ----- agreements -----

    fn agreement_recorded(&mut self, version: u32, hash: &[u8; 32]) -> Result<(), CoreError> {
        if version != self.agreement_version + 1 {
            return Err(corrupt(format!(
                "agreement version {version} follows version {}",
                self.agreement_version
            )));
        }
        self.agreement_version = version;
        self.agreement_hash = *hash;
        Ok(())
    }

    fn macc_opened(&mut self, terms: &MaccTerms) -> Result<(), CoreError> {
        self.ensure_new_id(&terms.id)?;
        let macc = Macc {
            amounts: Amounts::new(terms.amount),
            state: MaccState::Open,
            milestone_outcomes: vec![None; terms.milestones.len()],
            terms: terms.clone(),
        };
        let at = self
            .maccs
            .iter()
            .position(|m| (m.terms.start, &m.terms.id) > (terms.start, &terms.id))
            .unwrap_or(self.maccs.len());
        self.maccs.insert(at, macc);
        self.rebuild_lot_index();
        Ok(())
    }

    fn macc_amended(&mut self, terms: &MaccTerms, balance_after: Money) -> Result<(), CoreError> {
        let macc = self.macc_mut(&terms.id)?;
        if macc.state != MaccState::Open {
            return Err(corrupt(format!(
                "MACC {} amended after it closed",
                terms.id
            )));
        }
        let outcomes: Vec<Option<MaccMilestoneOutcome>> = terms
            .milestones
            .iter()
            .map(|m| {
                macc.terms
                    .milestones
                    .iter()
                    .position(|old| old.id == m.id)
                    .and_then(|i| macc.milestone_outcomes[i].clone())
            })
            .collect();
        let expected = macc.amounts.balance_for(terms.amount)?;
        expect_balance("MACC", &terms.id, expected, balance_after)?;
        macc.terms = terms.clone();
        macc.amounts.balance = balance_after;
        macc.milestone_outcomes = outcomes;
        self.maccs
            .sort_by(|a, b| (a.terms.start, &a.terms.id).cmp(&(b.terms.start, &b.terms.id)));
        self.rebuild_lot_index();
        Ok(())
    }

    fn caco_opened(&mut self, terms: &CacoTerms) -> Result<(), CoreError> {
        self.ensure_new_id(&terms.id)?;
        let commitment = terms.commitment_amount();
        self.cacos.push(Caco {
            commitment,
            amounts: Amounts::new(commitment),
            state: CacoState::Open,
            milestones: terms
                .milestones
                .iter()
                .map(|m| CacoMilestone {
                    terms: m.clone(),
                    progress: Money::ZERO,
                    state: CacoMilestoneState::Open,
                })
                .collect(),
            terms: terms.clone(),
        });
        self.rebuild_lot_index();
        Ok(())
    }

    fn caco_amended(
        &mut self,
        terms: &CacoTerms,
        removed: &[String],
        remaining_after: Money,
    ) -> Result<(), CoreError> {
        let caco = self.caco_mut(&terms.id)?;
        if caco.state != CacoState::Open {
            return Err(corrupt(format!(
                "CACO {} amended after it closed",
                terms.id
            )));
        }
        let commitment = terms.commitment_amount();
        let expected = caco.amounts.balance_for(commitment)?;
        expect_balance("CACO", &terms.id, expected, remaining_after)?;
        let mut milestones = Vec::with_capacity(caco.milestones.len() + terms.milestones.len());
        for m in &terms.milestones {
            milestones.push(
                match caco.milestones.iter().find(|old| old.terms.id == m.id) {
                    Some(old) => CacoMilestone {
                        terms: m.clone(),
                        ..old.clone()
                    },
                    None => CacoMilestone {
                        terms: m.clone(),
                        progress: Money::ZERO,
                        state: CacoMilestoneState::Open,
                    },
                },
            );
        }
        for old in &caco.milestones {
            if !terms.milestones.iter().any(|m| m.id == old.terms.id) {
                let mut gone = old.clone();
                if removed.contains(&old.terms.id) {
                    gone.state = CacoMilestoneState::Removed;
                }
                milestones.push(gone);
            }
        }
        caco.terms = terms.clone();
        caco.commitment = commitment;
        caco.amounts.balance = remaining_after;
        caco.milestones = milestones;
        Ok(())
    }

    fn caco_canceled(&mut self, caco: &str) -> Result<(), CoreError> {
        let caco = self.caco_mut(caco)?;
        caco.state = CacoState::Canceled;
        for m in &mut caco.milestones {
            if m.state == CacoMilestoneState::Open {
                m.state = CacoMilestoneState::Canceled;
            }
        }
        Ok(())
    }

    fn credit_lot_opened(
        &mut self,
        lot: &LotTerms,
        origin: &LotOrigin,
        date: Date,
    ) -> Result<(), CoreError> {
        self.ensure_new_id(&lot.id)?;
        if !lot.amount.is_positive() {
            return Err(corrupt(format!(
                "credit lot {} opened with {}",
                lot.id, lot.amount
            )));
        }
        self.lots.push(CreditLot {
            terms: lot.clone(),
            origin: origin.clone(),
            opened: date,
            amounts: Amounts::new(lot.amount),
            state: LotState::Open,
        });
        self.rebuild_lot_index();
        Ok(())
    }

    fn credit_lot_amended(
        &mut self,
        lot: &LotTerms,
        balance_after: Money,
    ) -> Result<(), CoreError> {
        let current = self.lot_mut(&lot.id)?;
        if current.state != LotState::Open {
            return Err(corrupt(format!(
                "credit lot {} amended after it closed",
                lot.id
            )));
        }
        let expected = current.amounts.balance_for(lot.amount)?;
        expect_balance("credit lot", &lot.id, expected, balance_after)?;
        current.terms = lot.clone();
        current.amounts.balance = balance_after;
        Ok(())
    }

    // ----- settlement -----

    fn credit_applied(
        &mut self,
        lot: &str,
        amount: Money,
        balance_after: Money,
    ) -> Result<(), CoreError> {
        let current = self.lot_mut(lot)?;
        if current.state != LotState::Open || !amount.is_positive() {
            return Err(corrupt(format!("credit lot {lot} cannot pay {amount}")));
        }
        current.amounts.decrement(amount)?;
        expect_balance("credit lot", lot, current.amounts.balance, balance_after)
    }

    fn decremented(
        &mut self,
        commitment: &str,
        kind: CommitmentKind,
        amount: Money,
        balance_after: Money,
    ) -> Result<(), CoreError> {
        if !amount.is_positive() {
            return Err(corrupt(format!("{commitment} decremented by {amount}")));
        }
        let target = match kind {
            CommitmentKind::Macc => AdjustmentTarget::Macc,
            CommitmentKind::Caco => AdjustmentTarget::Caco,
        };
        let (amounts, _, open) = self.amounts_mut(target, commitment)?;
        if kind == CommitmentKind::Macc && !open {
            return Err(corrupt(format!(
                "MACC {commitment} decremented while closed"
            )));
        }
        amounts.decrement(amount)?;
        expect_balance(noun(target), commitment, amounts.balance, balance_after)
    }

    fn milestone_progressed(
        &mut self,
        caco: &str,
        milestone: &str,
        amount: Money,
        progress_after: Money,
    ) -> Result<(), CoreError> {
        let m = self.caco_milestone_mut(caco, milestone)?;
        m.progress = m
            .progress
            .checked_add(amount)
            .map_err(|_| CoreError::Overflow {
                context: "milestone progress".into(),
            })?;
        expect_balance("milestone", milestone, m.progress, progress_after)
    }

    fn adjusted(
        &mut self,
        target: &str,
        kind: AdjustmentTarget,
        applied: Money,
        balance_after: Money,
    ) -> Result<(), CoreError> {
        if applied.is_negative() {
            return Err(corrupt(format!("adjustment of {target} by {applied}")));
        }
        let (amounts, _, _) = self.amounts_mut(kind, target)?;
        amounts.adjust(applied)?;
        expect_balance(noun(kind), target, amounts.balance, balance_after)
    }

    fn macc_completed(&mut self, macc: &str, date: Date, invoice: &str) -> Result<(), CoreError> {
        let m = self.macc_mut(macc)?;
        if !m.amounts.balance.is_zero() || m.state != MaccState::Open {
            return Err(corrupt(format!(
                "MACC {macc} completed with balance {}",
                m.amounts.balance
            )));
        }
        m.state = MaccState::Completed {
            date,
            invoice: invoice.to_string(),
        };
        Ok(())
    }

    fn caco_milestone_completed(
        &mut self,
        caco: &str,
        milestone: &str,
        date: Date,
        invoice: &str,
    ) -> Result<(), CoreError> {
        let m = self.caco_milestone_mut(caco, milestone)?;
        if m.state != CacoMilestoneState::Open || m.progress < m.terms.target {
            return Err(corrupt(format!(
                "milestone {caco}/{milestone} cannot complete"
            )));
        }
        m.state = CacoMilestoneState::Completed {
            date,
            invoice: invoice.to_string(),
        };
        Ok(())
    }

    fn caco_completed(&mut self, caco: &str, date: Date, invoice: &str) -> Result<(), CoreError> {
        let c = self.caco_mut(caco)?;
        if !c.amounts.balance.is_zero() || c.state != CacoState::Open {
            return Err(corrupt(format!(
                "CACO {caco} completed with remaining {}",
                c.amounts.balance
            )));
        }
        c.state = CacoState::Completed {
            date,
            invoice: invoice.to_string(),
        };
        Ok(())
    }

    fn invoice_settled(&mut self, summary: &InvoiceSummary) -> Result<(), CoreError> {
        if self.invoice_index.contains_key(&summary.id) {
            return Err(corrupt(format!("invoice {} settled twice", summary.id)));
        }
        let overflow = |_| CoreError::Overflow {
            context: "invoice".into(),
        };
        let expected_billed = summary
            .charges
            .checked_sub(summary.credits_applied)
            .map_err(overflow)?;
        let expected_amount = expected_billed
            .checked_sub(summary.partner_earned_credit)
            .map_err(overflow)?;
        if expected_billed != summary.billed || expected_amount != summary.invoice_amount {
            return Err(corrupt(format!(
                "invoice {}: charges − credits ≠ billed",
                summary.id
            )));
        }
        self.invoice_index
            .insert(summary.id.clone(), self.invoices.len() as u32);
        self.invoices.push(summary.clone());
        self.advance_clock(summary.date);
        Ok(())
    }

    // ----- deadline evaluations -----

    fn macc_milestone_evaluated(
        &mut self,
        macc: &str,
        milestone: &str,
        cumulative: Money,
        shortfall: Money,
    ) -> Result<(), CoreError> {
        let m = self.macc_mut(macc)?;
        let i = m
            .terms
            .milestones
            .iter()
            .position(|t| t.id == milestone)
            .ok_or_else(|| corrupt(format!("unknown MACC milestone {macc}/{milestone}")))?;
        if m.milestone_outcomes[i].is_some() {
            return Err(corrupt(format!(
                "MACC milestone {macc}/{milestone} evaluated twice"
            )));
        }
        m.milestone_outcomes[i] = Some(MaccMilestoneOutcome {
            cumulative,
            shortfall,
        });
        Ok(())
    }

    fn macc_expired(&mut self, macc: &str, end: Date, balance: Money) -> Result<(), CoreError> {
        let m = self.macc_mut(macc)?;
        if m.state != MaccState::Open || m.amounts.balance != balance {
            return Err(corrupt(format!("MACC {macc} cannot expire with {balance}")));
        }
        m.state = MaccState::Expired { end };
        Ok(())
    }

    fn caco_milestone_missed(
        &mut self,
        caco: &str,
        milestone: &str,
        end: Date,
    ) -> Result<(), CoreError> {
        let m = self.caco_milestone_mut(caco, milestone)?;
        if m.state != CacoMilestoneState::Open {
            return Err(corrupt(format!(
                "milestone {caco}/{milestone} missed twice"
            )));
        }
        m.state = CacoMilestoneState::Missed { end };
        Ok(())
    }

    fn caco_expired(&mut self, caco: &str, end: Date, remaining: Money) -> Result<(), CoreError> {
        let c = self.caco_mut(caco)?;
        if c.state != CacoState::Open || c.amounts.balance != remaining {
            return Err(corrupt(format!(
                "CACO {caco} cannot expire with {remaining}"
            )));
        }
        c.state = CacoState::Expired { end };
        Ok(())
    }

    fn credit_lot_expired(
        &mut self,
        lot: &str,
        expires: Date,
        balance: Money,
    ) -> Result<(), CoreError> {
        let l = self.lot_mut(lot)?;
        if l.state != LotState::Open || l.amounts.balance != balance {
            return Err(corrupt(format!(
                "credit lot {lot} cannot expire with {balance}"
            )));
        }
        l.state = LotState::Expired { expires, balance };
        Ok(())
    }
}
