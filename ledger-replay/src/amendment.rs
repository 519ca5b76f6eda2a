//! Amendments as events (issue 16, Visibility): what recording a changed agreement did to a
//! lot, told from the decisions the core already records for it (`MaccAmended`,
//! `MaccCanceled`, `CacoAmended`, `CacoCanceled`, `CreditLotAmended`, `CreditLotCanceled`).
//!
//! Nothing here is logged: the amendment decisions have been in the log since agreements could
//! be amended, and the audit re-derives them byte for byte with every other decision. Only how
//! they are *shown* is derived here, by the projection (`events`, the Events API, a CACO's
//! transactions) and by `audit trace`, so ledgers written before this module still audit and
//! show their amendments.
//!
//! An amendment carries no date of its own (an agreement file has none): it is dated at the
//! account's ledger clock when it was recorded (the newest settled invoice or close), or, when
//! the account had none yet, at the lot's start.

use std::collections::BTreeMap;

use ledger_core::event::Event;
use ledger_core::state::AccountState;
use ledger_core::{Date, Money};
use serde::{Deserialize, Serialize};

/// What the fold remembers of an amendable lot's agreed terms, to tell what an amendment
/// changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreed {
    /// A MACC's amount, a CACO's commitment, a credit's amount.
    pub amount: Money,
    /// A MACC's end, a CACO's last milestone end, a credit's expiry.
    pub end: Date,
    /// Milestone ids (MACC or CACO), in agreement order.
    pub milestones: Vec<String>,
}

/// The agreed terms of each amendable lot of one account, by lot id.
pub type AgreedTerms = BTreeMap<String, Agreed>;

/// What kind of amendment: its Events API `eventType` is [`AmendmentKind::event_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmendmentKind {
    /// A MACC's terms changed (amount, dates, milestones).
    CommitmentAmended,
    /// A MACC was removed from the agreement (R-MACC-4 `Canceled`).
    CommitmentCanceled,
    /// A CACO's terms changed; milestones it no longer names are `Removed`.
    CacoAmended,
    /// A CACO was removed (R-CACO-7 `Canceled`).
    CacoCanceled,
    /// An agreement credit's terms changed.
    CreditAmended,
    /// An agreement credit was removed: its balance is canceled (Events API `canceledCredit`).
    CanceledCredit,
}

impl AmendmentKind {
    /// The Events API `eventType` (docs/INTERFACE.md: Azure has none for amendments; these
    /// follow its field names, `canceledCredit` → `CanceledCredit`).
    pub fn event_type(self) -> &'static str {
        match self {
            AmendmentKind::CommitmentAmended => "CommitmentAmended",
            AmendmentKind::CommitmentCanceled => "CommitmentCanceled",
            AmendmentKind::CacoAmended => "CacoAmended",
            AmendmentKind::CacoCanceled => "CacoCanceled",
            AmendmentKind::CreditAmended => "CreditAmended",
            AmendmentKind::CanceledCredit => "CanceledCredit",
        }
    }

    /// The lot's kind, in words.
    fn what(self) -> &'static str {
        match self {
            AmendmentKind::CommitmentAmended | AmendmentKind::CommitmentCanceled => "MACC",
            AmendmentKind::CacoAmended | AmendmentKind::CacoCanceled => "CACO",
            AmendmentKind::CreditAmended | AmendmentKind::CanceledCredit => "credit",
        }
    }

    /// Whether the lot is a CACO (shown in its transactions, not in the Events API).
    pub fn is_caco(self) -> bool {
        matches!(
            self,
            AmendmentKind::CacoAmended | AmendmentKind::CacoCanceled
        )
    }
}

/// One amendment of one lot, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amendment {
    pub lot: String,
    pub kind: AmendmentKind,
    pub date: Date,
    /// How the lot's balance (a CACO's remaining commitment) changed: new amount − old amount
    /// for an amendment, − the balance for a cancel.
    pub change: Money,
    /// The balance after an amendment; for a cancel, the balance that was canceled (as the
    /// Lots API keeps showing it).
    pub balance_after: Money,
    /// What changed, in words.
    pub description: String,
}

/// The amendment `event` records for `acct`, if it is one. Call it before [`remember`] with
/// the same event (it compares with the terms remembered so far); `acct` may already have
/// folded the event.
pub fn amendment(acct: &AccountState, agreed: &AgreedTerms, event: &Event) -> Option<Amendment> {
    match event {
        Event::MaccAmended {
            terms,
            balance_after,
        } => {
            let new = Agreed {
                amount: terms.amount,
                end: terms.end,
                milestones: terms.milestones.iter().map(|m| m.id.clone()).collect(),
            };
            let start = terms.start;
            amended(
                acct,
                agreed,
                AmendmentKind::CommitmentAmended,
                &terms.id,
                start,
                new,
                *balance_after,
            )
        }
        Event::CacoAmended {
            terms,
            remaining_after,
            ..
        } => {
            let new = Agreed {
                amount: terms.commitment_amount(),
                end: terms.end(),
                milestones: terms.milestones.iter().map(|m| m.id.clone()).collect(),
            };
            amended(
                acct,
                agreed,
                AmendmentKind::CacoAmended,
                &terms.id,
                terms.start,
                new,
                *remaining_after,
            )
        }
        Event::CreditLotAmended { lot, balance_after } => {
            let new = Agreed {
                amount: lot.amount,
                end: lot.expires,
                milestones: Vec::new(),
            };
            amended(
                acct,
                agreed,
                AmendmentKind::CreditAmended,
                &lot.id,
                lot.start,
                new,
                *balance_after,
            )
        }
        Event::MaccCanceled { macc } => {
            let m = &acct.maccs[acct.macc_index(macc)?];
            canceled(
                acct,
                AmendmentKind::CommitmentCanceled,
                macc,
                m.terms.start,
                m.amounts.balance,
            )
        }
        Event::CacoCanceled { caco } => {
            let c = &acct.cacos[acct.caco_index(caco)?];
            canceled(
                acct,
                AmendmentKind::CacoCanceled,
                caco,
                c.terms.start,
                c.amounts.balance,
            )
        }
        Event::CreditLotCanceled { lot } => {
            let l = &acct.lots[acct.credit_index(lot)?];
            canceled(
                acct,
                AmendmentKind::CanceledCredit,
                lot,
                l.terms.start,
                l.amounts.balance,
            )
        }
        _ => None,
    }
}

/// Remember the agreed terms an opening or amendment sets (agreement lots only: the lots the
/// ledger opens itself cannot be amended).
pub fn remember(agreed: &mut AgreedTerms, event: &Event) {
    let (id, terms) = match event {
        Event::MaccOpened { terms } | Event::MaccAmended { terms, .. } => (
            &terms.id,
            Agreed {
                amount: terms.amount,
                end: terms.end,
                milestones: terms.milestones.iter().map(|m| m.id.clone()).collect(),
            },
        ),
        Event::CacoOpened { terms } | Event::CacoAmended { terms, .. } => (
            &terms.id,
            Agreed {
                amount: terms.commitment_amount(),
                end: terms.end(),
                milestones: terms.milestones.iter().map(|m| m.id.clone()).collect(),
            },
        ),
        Event::CreditLotOpened {
            lot,
            origin: ledger_core::LotOrigin::Agreement,
            ..
        }
        | Event::CreditLotAmended { lot, .. } => (
            &lot.id,
            Agreed {
                amount: lot.amount,
                end: lot.expires,
                milestones: Vec::new(),
            },
        ),
        _ => return,
    };
    agreed.insert(id.clone(), terms);
}

/// When an amendment of a lot starting `start` is dated (module doc).
fn dated(acct: &AccountState, start: Date) -> Date {
    acct.clock.unwrap_or(start)
}

fn amended(
    acct: &AccountState,
    agreed: &AgreedTerms,
    kind: AmendmentKind,
    id: &str,
    start: Date,
    new: Agreed,
    balance_after: Money,
) -> Option<Amendment> {
    let old = agreed.get(id);
    let change = old
        .and_then(|o| new.amount.checked_sub(o.amount).ok())
        .unwrap_or(Money::ZERO);
    let mut parts = Vec::new();
    if let Some(o) = old {
        if o.amount != new.amount {
            parts.push(format!("amount {} to {}", o.amount, new.amount));
        }
        if o.end != new.end {
            parts.push(format!("end {} to {}", o.end, new.end));
        }
        let removed: Vec<&str> = o
            .milestones
            .iter()
            .filter(|m| !new.milestones.contains(m))
            .map(String::as_str)
            .collect();
        if !removed.is_empty() {
            parts.push(format!("milestones removed: {}", removed.join(", ")));
        }
        let added: Vec<&str> = new
            .milestones
            .iter()
            .filter(|m| !o.milestones.contains(m))
            .map(String::as_str)
            .collect();
        if !added.is_empty() {
            parts.push(format!("milestones added: {}", added.join(", ")));
        }
    }
    if parts.is_empty() {
        parts.push("terms changed".into());
    }
    Some(Amendment {
        lot: id.to_string(),
        kind,
        date: dated(acct, start),
        change,
        balance_after,
        description: format!("{} {id} amended: {}", kind.what(), parts.join("; ")),
    })
}

fn canceled(
    acct: &AccountState,
    kind: AmendmentKind,
    id: &str,
    start: Date,
    balance: Money,
) -> Option<Amendment> {
    Some(Amendment {
        lot: id.to_string(),
        kind,
        date: dated(acct, start),
        change: Money::ZERO.checked_sub(balance).ok()?,
        balance_after: balance,
        description: format!(
            "{} {id} canceled by an amendment; balance {balance} canceled",
            kind.what()
        ),
    })
}
