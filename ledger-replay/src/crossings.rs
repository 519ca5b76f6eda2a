//! What a write made newly worth telling: the alerts ([`crate::alerts`]) of an account as of
//! its ledger clock after the write, against the same as of its clock before. Judged by the
//! ledger clock, never the wall clock, so a replay of the same writes tells the same things.
//!
//! - a deadline (MACC, CACO, milestone) reached a tighter level: 90, 60, 30 days (R-ALERT-1);
//! - a burn-rate risk became `High` (R-ALERT-2);
//! - a milestone was missed (R-MACC-5 with a shortfall, R-CACO-4);
//! - a credit lot with a balance reached a tighter level before it expires.

use std::collections::{BTreeMap, BTreeSet};

use ledger_core::state::{AccountState, CacoMilestoneState};
use ledger_core::{Date, Money};

use crate::alerts::{alerts, credit_expiries, Alert, Risk};
use crate::projection::Projections;

/// What crossed, for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// A MACC, CACO or milestone (`kind`) reached `level` days or fewer before its `end`.
    Deadline {
        kind: &'static str,
        id: String,
        parent: Option<String>,
        level: u32,
        days_left: i32,
        end: Date,
        remaining: Money,
    },
    /// A MACC, CACO or milestone is now burning too slowly (risk `High`).
    RiskHigh {
        kind: &'static str,
        id: String,
        parent: Option<String>,
        end: Date,
        remaining: Money,
    },
    /// A MACC milestone (`kind` "macc") or CACO milestone ("caco") was missed: the MACC's
    /// shortfall invoiced, or the CACO's award forfeited (`amount`).
    MilestoneMissed {
        kind: &'static str,
        parent: String,
        milestone: String,
        due: Date,
        amount: Money,
    },
    /// A credit lot with `balance` left expires in `level` days or fewer.
    CreditExpiring {
        lot: String,
        level: u32,
        days_left: i32,
        expires: Date,
        balance: Money,
    },
}

/// The accounts whose state a write changed (settled invoices, clock, agreement, lots).
pub fn touched<'a>(before: &Projections, after: &'a Projections) -> Vec<&'a str> {
    after
        .ledger
        .accounts
        .iter()
        .filter(|(name, acct)| {
            before.ledger.account(name).is_none_or(|was| {
                was.clock != acct.clock
                    || was.invoices.len() != acct.invoices.len()
                    || was.agreement_version != acct.agreement_version
                    || was.lots.len() != acct.lots.len()
            })
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

type Key = (&'static str, String, Option<String>);

fn keyed(rows: Vec<Alert>) -> BTreeMap<Key, Alert> {
    rows.into_iter()
        .map(|a| ((a.kind, a.id.clone(), a.parent.clone()), a))
        .collect()
}

/// Whether `now` is a level tighter than `was` (a first level counts).
fn tighter(now: Option<u32>, was: Option<u32>) -> Option<u32> {
    match (now, was) {
        (Some(n), Some(w)) if n < w => Some(n),
        (Some(n), None) => Some(n),
        _ => None,
    }
}

/// Missed milestones of an account: (kind, parent, milestone) → (due, amount).
fn missed(acct: &AccountState) -> BTreeMap<(&'static str, String, String), (Date, Money)> {
    let mut out = BTreeMap::new();
    for macc in &acct.maccs {
        for (terms, outcome) in macc.terms.milestones.iter().zip(&macc.milestone_outcomes) {
            if let Some(o) = outcome.as_ref().filter(|o| o.shortfall.is_positive()) {
                let key = ("macc", macc.terms.id.clone(), terms.id.clone());
                out.insert(key, (terms.due, o.shortfall));
            }
        }
    }
    for caco in &acct.cacos {
        for m in &caco.milestones {
            if matches!(m.state, CacoMilestoneState::Missed { .. }) {
                let key = ("caco", caco.terms.id.clone(), m.terms.id.clone());
                out.insert(key, (m.terms.end, m.terms.award));
            }
        }
    }
    out
}

/// What crossed for `account` between `before` and `after` a write.
pub fn crossings(before: &Projections, after: &Projections, account: &str) -> Vec<Crossing> {
    let Some(acct) = after.ledger.account(account) else {
        return Vec::new();
    };
    let Some(now) = acct.clock else {
        return Vec::new();
    };
    let was_clock = before.ledger.account(account).and_then(|a| a.clock);
    let mut out = Vec::new();
    let old = was_clock
        .map(|c| keyed(alerts(before, c, Some(account))))
        .unwrap_or_default();
    for (key, a) in keyed(alerts(after, now, Some(account))) {
        let previous = old.get(&key);
        if let Some(level) = tighter(a.alert, previous.and_then(|p| p.alert)) {
            out.push(Crossing::Deadline {
                kind: a.kind,
                id: a.id.clone(),
                parent: a.parent.clone(),
                level,
                days_left: a.days_left,
                end: a.end,
                remaining: a.remaining,
            });
        }
        if a.risk == Risk::High && previous.is_none_or(|p| p.risk != Risk::High) {
            out.push(Crossing::RiskHigh {
                kind: a.kind,
                id: a.id,
                parent: a.parent,
                end: a.end,
                remaining: a.remaining,
            });
        }
    }
    let was_missed = before
        .ledger
        .account(account)
        .map(missed)
        .unwrap_or_default();
    let missed_now: BTreeSet<_> = missed(acct).into_iter().collect();
    for ((kind, parent, milestone), (due, amount)) in missed_now {
        if !was_missed.contains_key(&(kind, parent.clone(), milestone.clone())) {
            out.push(Crossing::MilestoneMissed {
                kind,
                parent,
                milestone,
                due,
                amount,
            });
        }
    }
    let old_credits: BTreeMap<String, Option<u32>> = was_clock
        .map(|c| credit_expiries(before, c, Some(account)))
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.lot, c.alert))
        .collect();
    for c in credit_expiries(after, now, Some(account)) {
        if let Some(level) = tighter(c.alert, old_credits.get(&c.lot).copied().flatten()) {
            out.push(Crossing::CreditExpiring {
                lot: c.lot,
                level,
                days_left: c.days_left,
                expires: c.expires,
                balance: c.balance,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tighter_level_crosses() {
        assert_eq!(tighter(Some(90), None), Some(90));
        assert_eq!(tighter(Some(60), Some(90)), Some(60));
        assert_eq!(tighter(Some(30), Some(90)), Some(30));
        assert_eq!(tighter(Some(60), Some(60)), None);
        assert_eq!(tighter(Some(90), Some(60)), None);
        assert_eq!(tighter(None, Some(30)), None);
        assert_eq!(tighter(None, None), None);
    }
}
