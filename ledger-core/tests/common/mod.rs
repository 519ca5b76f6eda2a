//! Builders shared by the rule tests: agreements and invoices in a few readable lines.
#![allow(dead_code)]

use ledger_core::agreement::*;
use ledger_core::event::{CommitmentKind, Event};
use ledger_core::fact::{ChargeLine, Fact, Invoice, StrRef};
use ledger_core::kind::{ChargeKind, CreditKind, KindSet};
use ledger_core::state::{AccountState, LotStatus};
use ledger_core::{Date, Factor, Ledger, Money};

pub const ACCOUNT: &str = "acme";

pub fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}
pub fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

/// A deterministic 32-byte digest of any Debug-printable value (tests only; the store uses blake3).
pub fn digest<T: std::fmt::Debug>(value: &T) -> [u8; 32] {
    let text = format!("{value:?}");
    let mut out = [0u8; 32];
    let mut h: u64 = 0xcbf29ce484222325;
    for (i, b) in text.bytes().enumerate() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
        out[i % 32] ^= (h >> 24) as u8;
    }
    out
}

pub struct AgreementBuilder(pub Agreement);

pub fn agreement() -> AgreementBuilder {
    AgreementBuilder(Agreement {
        account: ACCOUNT.into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs: vec![],
        cacos: vec![],
        credits: vec![],
    })
}

impl AgreementBuilder {
    pub fn macc(mut self, id: &str, amount: &str, start: &str, end: &str) -> Self {
        self.0.maccs.push(MaccTerms {
            id: id.into(),
            amount: m(amount),
            start: d(start),
            end: d(end),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![],
        });
        self
    }
    pub fn macc_milestone(mut self, id: &str, due: &str, target: &str) -> Self {
        self.0
            .maccs
            .last_mut()
            .unwrap()
            .milestones
            .push(MaccMilestoneTerms {
                id: id.into(),
                due: d(due),
                target: m(target),
            });
        self
    }
    pub fn enrollment(mut self, enrollment_end: Option<&str>, renewed: Option<bool>) -> Self {
        let macc = self.0.maccs.last_mut().unwrap();
        macc.enrollment_end = enrollment_end.map(d);
        macc.renewed = renewed;
        self
    }
    pub fn caco(mut self, id: &str, start: &str, basis: CacoBasis) -> Self {
        self.0.cacos.push(CacoTerms {
            id: id.into(),
            start: d(start),
            basis,
            award_months: 12,
            milestones: vec![],
        });
        self
    }
    pub fn caco_milestone(
        mut self,
        id: &str,
        start: &str,
        end: &str,
        target: &str,
        award: &str,
    ) -> Self {
        self.0
            .cacos
            .last_mut()
            .unwrap()
            .milestones
            .push(CacoMilestoneTerms {
                id: id.into(),
                start: d(start),
                end: d(end),
                target: m(target),
                award: m(award),
            });
        self
    }
    pub fn credit(
        mut self,
        id: &str,
        kind: CreditKind,
        amount: &str,
        start: &str,
        expires: &str,
    ) -> Self {
        self.0.credits.push(CreditTerms {
            id: id.into(),
            kind,
            amount: m(amount),
            start: d(start),
            expires: d(expires),
            covers: None,
        });
        self
    }
    pub fn covers(mut self, kinds: &[ChargeKind]) -> Self {
        self.0.credits.last_mut().unwrap().covers = Some(KindSet::of(kinds));
        self
    }
    pub fn credit_order(mut self, order: CreditOrder) -> Self {
        self.0.terms.credit_order = order;
        self
    }
    pub fn pec_rate(mut self, rate: &str) -> Self {
        self.0.terms.partner_earned_credit_rate = Some(Factor::parse(rate).unwrap());
        self
    }
    pub fn fact(&self) -> Fact {
        Fact::Agreement {
            agreement: self.0.clone(),
            content_hash: digest(&self.0),
        }
    }
}

/// An invoice under construction; lines are added in input order.
pub struct InvoiceBuilder {
    pub invoice: Invoice,
    profile: u16,
}

/// An invoice dated `date` for the calendar month before it (the usual billing period).
pub fn invoice(id: &str, date: &str) -> InvoiceBuilder {
    let date = d(date);
    let period_start = date.month_start().sub_months(1);
    InvoiceBuilder {
        invoice: Invoice {
            account: ACCOUNT.into(),
            id: id.into(),
            date,
            period_start,
            period_end: period_start.month_end(),
            currency: "USD".into(),
            content_hash: [0; 32],
            profiles: vec!["Engineering".into()],
            strings: vec![],
            lines: vec![],
        },
        profile: 0,
    }
}

impl InvoiceBuilder {
    pub fn period(mut self, start: &str, end: &str) -> Self {
        self.invoice.period_start = d(start);
        self.invoice.period_end = d(end);
        self
    }
    /// Lines added after this use billing profile `name`.
    pub fn profile(mut self, name: &str) -> Self {
        let i = match self.invoice.profiles.iter().position(|p| p == name) {
            Some(i) => i,
            None => {
                self.invoice.profiles.push(name.into());
                self.invoice.profiles.len() - 1
            }
        };
        self.profile = i as u16;
        self
    }
    fn intern(&mut self, s: &str) -> StrRef {
        match self.invoice.strings.iter().position(|x| x == s) {
            Some(i) => StrRef::new(i as u32),
            None => {
                self.invoice.strings.push(s.into());
                StrRef::new(self.invoice.strings.len() as u32 - 1)
            }
        }
    }
    pub fn line(mut self, charge_date: &str, kind: ChargeKind, amount: &str) -> Self {
        self.invoice.lines.push(ChargeLine {
            amount: m(amount),
            charge_date: d(charge_date),
            kind,
            profile: self.profile,
            corrects_kind: None,
            line_id: StrRef::NONE,
            service: StrRef::NONE,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        });
        self
    }
    /// Give the last line a line id.
    pub fn line_id(mut self, id: &str) -> Self {
        let r = self.intern(id);
        self.invoice.lines.last_mut().unwrap().line_id = r;
        self
    }
    /// Make the last line (a refund) correct `lot`, of `kind`.
    pub fn corrects(mut self, lot: Option<&str>, kind: Option<ChargeKind>) -> Self {
        let r = lot.map(|l| self.intern(l)).unwrap_or(StrRef::NONE);
        let line = self.invoice.lines.last_mut().unwrap();
        line.corrects = r;
        line.corrects_kind = kind;
        self
    }
    pub fn fact(mut self) -> Fact {
        self.invoice.content_hash = [0; 32];
        self.invoice.content_hash = digest(&self.invoice);
        Fact::Invoice(self.invoice)
    }
}

/// A ledger and every event it decided, for assertions.
pub struct World {
    pub ledger: Ledger,
    pub events: Vec<Event>,
}

impl World {
    pub fn new(agreement: &AgreementBuilder) -> World {
        let mut w = World {
            ledger: Ledger::new(),
            events: vec![],
        };
        w.apply(agreement.fact());
        w
    }
    /// Apply a fact that must be accepted; returns its decisions.
    pub fn apply(&mut self, fact: Fact) -> Vec<Event> {
        let applied = self
            .ledger
            .apply(&fact)
            .unwrap_or_else(|e| panic!("fact refused: {e}"));
        self.events.extend(applied.events.clone());
        applied.events
    }
    pub fn close(&mut self, through: &str) -> Vec<Event> {
        self.apply(Fact::Close {
            account: ACCOUNT.into(),
            through: d(through),
        })
    }
    pub fn acct(&self) -> &AccountState {
        self.ledger.account(ACCOUNT).unwrap()
    }
    pub fn macc_balance(&self, id: &str) -> Money {
        let a = self.acct();
        a.maccs[a.macc_index(id).unwrap()].amounts.balance
    }
    pub fn macc_status(&self, id: &str) -> LotStatus {
        let a = self.acct();
        a.macc_status(a.macc_index(id).unwrap())
    }
    pub fn lot_balance(&self, id: &str) -> Money {
        let a = self.acct();
        a.lots[a.credit_index(id).unwrap_or_else(|| panic!("no lot {id}"))]
            .amounts
            .balance
    }
    pub fn lot_status(&self, id: &str) -> LotStatus {
        let a = self.acct();
        a.credit_status(a.credit_index(id).unwrap())
    }
    pub fn caco_remaining(&self, id: &str) -> Money {
        let a = self.acct();
        a.cacos[a.caco_index(id).unwrap()].amounts.balance
    }
    pub fn milestone_progress(&self, caco: &str, milestone: &str) -> Money {
        let a = self.acct();
        let c = &a.cacos[a.caco_index(caco).unwrap()];
        c.milestones
            .iter()
            .find(|m| m.terms.id == milestone)
            .unwrap()
            .progress
    }
    pub fn milestone_status(&self, caco: &str, milestone: &str) -> &'static str {
        let a = self.acct();
        let ci = a.caco_index(caco).unwrap();
        let mi = a.cacos[ci]
            .milestones
            .iter()
            .position(|m| m.terms.id == milestone)
            .unwrap();
        a.caco_milestone_status(ci, mi).name()
    }
    pub fn caco_status(&self, id: &str) -> &'static str {
        let a = self.acct();
        a.caco_status(a.caco_index(id).unwrap()).name()
    }
    /// Sum of MACC decrements of `commitment` made by `invoice`.
    pub fn decrement(&self, commitment: &str, invoice: &str) -> Money {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Decremented {
                    commitment: c,
                    invoice: i,
                    amount,
                    ..
                } if c == commitment && i == invoice => Some(*amount),
                _ => None,
            })
            .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap())
    }
    pub fn decrement_kind(&self, kind: CommitmentKind, invoice: &str) -> Money {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Decremented {
                    kind: k,
                    invoice: i,
                    amount,
                    ..
                } if *k == kind && i == invoice => Some(*amount),
                _ => None,
            })
            .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap())
    }
    /// Sum of credit applications of `lot` on `invoice`.
    pub fn applied(&self, lot: &str, invoice: &str) -> Money {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::CreditApplied {
                    lot: l,
                    invoice: i,
                    amount,
                    ..
                } if l == lot && i == invoice => Some(*amount),
                _ => None,
            })
            .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap())
    }
    pub fn invoice(&self, id: &str) -> &ledger_core::InvoiceSummary {
        self.acct()
            .invoice(id)
            .unwrap_or_else(|| panic!("no invoice {id}"))
    }
    pub fn has_event(&self, pred: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(pred)
    }
}

/// Walk every lot's trail in the order its events are listed: each balance after = the one
/// before + the event's charges, within 0..=original, and a Completed MACC or CACO is never
/// decremented or raised again. Returns the first breach, naming the event.
pub fn check_trail(events: &[Event]) -> Result<(), String> {
    use std::collections::BTreeMap;
    // id -> (balance, original, completed)
    let mut lots: BTreeMap<String, (Money, Money, bool)> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let (id, before, after, completes) = match e {
            Event::MaccOpened { terms } => {
                lots.insert(terms.id.clone(), (terms.amount, terms.amount, false));
                continue;
            }
            Event::CacoOpened { terms } => {
                let c = terms.commitment_amount();
                lots.insert(terms.id.clone(), (c, c, false));
                continue;
            }
            Event::CreditLotOpened { lot, .. } => {
                lots.insert(lot.id.clone(), (lot.amount, lot.amount, false));
                continue;
            }
            Event::MaccAmended {
                terms,
                balance_after,
            } => {
                lots.insert(terms.id.clone(), (*balance_after, terms.amount, false));
                continue;
            }
            Event::CacoAmended {
                terms,
                remaining_after,
                ..
            } => {
                let c = terms.commitment_amount();
                lots.insert(terms.id.clone(), (*remaining_after, c, false));
                continue;
            }
            Event::CreditLotAmended { lot, balance_after } => {
                lots.insert(lot.id.clone(), (*balance_after, lot.amount, false));
                continue;
            }
            Event::CreditApplied {
                lot,
                amount,
                balance_after,
                ..
            } => (lot, amount.checked_neg().unwrap(), *balance_after, false),
            Event::Decremented {
                commitment,
                amount,
                balance_after,
                ..
            } => (
                commitment,
                amount.checked_neg().unwrap(),
                *balance_after,
                false,
            ),
            Event::Adjusted {
                target,
                applied,
                balance_after,
                ..
            } => (target, *applied, *balance_after, false),
            Event::Resettled {
                target,
                change,
                balance_after,
                ..
            } => (target, *change, *balance_after, false),
            Event::MaccCompleted { macc, .. } => (macc, Money::ZERO, Money::ZERO, true),
            Event::CacoCompleted { caco, .. } => (caco, Money::ZERO, Money::ZERO, true),
            _ => continue,
        };
        let Some(lot) = lots.get_mut(id) else {
            return Err(format!("event {i} ({}) names unknown lot {id}", e.name()));
        };
        let (balance, original, completed) = *lot;
        if completed && !before.is_zero() {
            return Err(format!(
                "event {i}: {} changes {id} by {before} after it completed",
                e.name()
            ));
        }
        let expected = balance.checked_add(before).unwrap();
        if expected != after {
            return Err(format!(
                "event {i}: {} of {id}: balance before {balance} + charges {before} = {expected}, shown {after}",
                e.name()
            ));
        }
        if after.is_negative() || after > original {
            return Err(format!(
                "event {i}: {} of {id}: balance after {after} outside 0..={original}",
                e.name()
            ));
        }
        *lot = (after, original, completed || completes);
    }
    Ok(())
}
