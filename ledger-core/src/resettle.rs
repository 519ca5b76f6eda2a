//! Correcting recorded decisions (`ledger resettle`): an account adopts a newer rulebook, and
//! each lot is corrected to what that version derives from every fact recorded before. The
//! log keeps what the older version decided; the correction is new events after it.
//!
//! Three pieces, shared by the command that records a resettle and the audit that checks one:
//! [`Rederivation`] folds an account's recorded facts under a given version, [`corrections`]
//! compares the recorded state with the re-derived one, and [`Ledger::apply`] of
//! [`Fact::Resettle`] turns the corrections into events.

use crate::correction::refused;
use crate::date::Date;
use crate::error::CoreError;
use crate::event::AdjustmentTarget;
pub use crate::fact::Correction;
use crate::fact::Fact;
use crate::ledger::Ledger;
use crate::rulebook;
use crate::state::{AccountState, CacoState, LotState, MaccState};
use crate::Amounts;

/// An account's recorded facts folded again under rulebook `version`.
pub struct Rederivation {
    ledger: Ledger,
    account: String,
    version: u16,
}

impl Rederivation {
    /// Start re-deriving `account` under `version`.
    pub fn new(account: &str, version: u16) -> Result<Rederivation, CoreError> {
        if rulebook::rulebook(version).is_none() {
            return Err(refused(account, format!("rulebook {version} is unknown")));
        }
        Ok(Rederivation {
            ledger: Ledger::new(),
            account: account.to_string(),
            version,
        })
    }

    /// Fold the next recorded fact (facts of other accounts are skipped). An agreement is read
    /// as naming `version`; an earlier resettle changes nothing, since every fact is already
    /// decided under `version`.
    pub fn apply(&mut self, fact: &Fact) -> Result<(), CoreError> {
        if fact.account() != self.account {
            return Ok(());
        }
        match fact {
            Fact::Resettle { .. } => Ok(()),
            Fact::Agreement {
                agreement,
                content_hash,
            } => {
                let mut agreement = agreement.clone();
                agreement.terms.rulebook_version = self.version;
                let fact = Fact::Agreement {
                    agreement,
                    content_hash: *content_hash,
                };
                self.ledger.apply(&fact).map(drop)
            }
            other => self.ledger.apply(other).map(drop),
        }
    }

    /// The account as `version` decides it, if any fact opened it.
    pub fn finish(self) -> Option<AccountState> {
        let Rederivation {
            mut ledger,
            account,
            ..
        } = self;
        ledger.accounts.remove(&account)
    }
}

/// What must change so that `current` (as recorded) holds the amounts `rederived` (the same
/// facts under a newer version) holds. Only what a correction can express is accepted:
/// balances of open lots, and an open MACC or CACO that completes. Anything else (a MACC that
/// expired as recorded but completes when re-derived, shortfall invoices, milestone outcomes)
/// is refused, naming it.
pub fn corrections(
    current: &AccountState,
    rederived: &AccountState,
) -> Result<Vec<Correction>, CoreError> {
    let account = &current.account;
    let differs = |what: String| refused(account, format!("{what} differs when re-derived"));
    if current.invoices != rederived.invoices {
        return Err(differs(
            "an invoice's totals (or the invoices the ledger made)".into(),
        ));
    }
    if current.pec_earning != rederived.pec_earning {
        return Err(differs("partner earned credit".into()));
    }
    let mut out = Vec::new();
    if current.maccs.len() != rederived.maccs.len() {
        return Err(differs("the set of MACCs".into()));
    }
    for (now, new) in current.maccs.iter().zip(&rederived.maccs) {
        if now.terms != new.terms || now.milestone_outcomes != new.milestone_outcomes {
            return Err(differs(format!("MACC {}'s milestones", now.terms.id)));
        }
        let completes = match (&now.state, &new.state) {
            (MaccState::Open, MaccState::Completed { date, invoice }) => {
                Some((*date, invoice.clone()))
            }
            _ => None,
        };
        let label = || format!("MACC {}", now.terms.id);
        let completed = completion(&now.state, &new.state, completes, label).map_err(differs)?;
        let id = &now.terms.id;
        push(
            &mut out,
            account,
            id,
            AdjustmentTarget::Macc,
            (now, new),
            completed,
        )?;
    }
    if current.cacos.len() != rederived.cacos.len() {
        return Err(differs("the set of CACOs".into()));
    }
    for (now, new) in current.cacos.iter().zip(&rederived.cacos) {
        if now.terms != new.terms || now.milestones != new.milestones {
            return Err(differs(format!("CACO {}'s milestones", now.terms.id)));
        }
        let completes = match (&now.state, &new.state) {
            (CacoState::Open, CacoState::Completed { date, invoice }) => {
                Some((*date, invoice.clone()))
            }
            _ => None,
        };
        let label = || format!("CACO {}", now.terms.id);
        let completed = completion(&now.state, &new.state, completes, label).map_err(differs)?;
        let id = &now.terms.id;
        push(
            &mut out,
            account,
            id,
            AdjustmentTarget::Caco,
            (now, new),
            completed,
        )?;
    }
    if current.lots.len() != rederived.lots.len() {
        return Err(differs("the set of credit lots".into()));
    }
    for (now, new) in current.lots.iter().zip(&rederived.lots) {
        if now.terms != new.terms || now.state != new.state {
            return Err(differs(format!("credit lot {}", now.terms.id)));
        }
        let id = &now.terms.id;
        push(
            &mut out,
            account,
            id,
            AdjustmentTarget::Credit,
            (now, new),
            None,
        )?;
    }
    Ok(out)
}

/// How a commitment's state moves from `now` (recorded) to `new` (re-derived): unchanged, or
/// `completes` (an open commitment that completes when re-derived); any other change is
/// refused, described for [`corrections`]' message.
fn completion<S: PartialEq + std::fmt::Debug>(
    now: &S,
    new: &S,
    completes: Option<(Date, String)>,
    label: impl Fn() -> String,
) -> Result<Option<(Date, String)>, String> {
    if now == new {
        return Ok(None);
    }
    completes
        .map(Some)
        .ok_or_else(|| format!("{} ({now:?} as recorded, {new:?} re-derived)", label()))
}

/// What [`corrections`] reads of any lot.
trait HasAmounts {
    fn amounts(&self) -> &Amounts;
    fn open(&self) -> bool;
}

impl HasAmounts for crate::state::Macc {
    fn amounts(&self) -> &Amounts {
        &self.amounts
    }
    fn open(&self) -> bool {
        self.state == MaccState::Open
    }
}

impl HasAmounts for crate::state::Caco {
    fn amounts(&self) -> &Amounts {
        &self.amounts
    }
    fn open(&self) -> bool {
        self.state == CacoState::Open
    }
}

impl HasAmounts for crate::state::CreditLot {
    fn amounts(&self) -> &Amounts {
        &self.amounts
    }
    fn open(&self) -> bool {
        self.state == LotState::Open
    }
}

/// A correction of one lot, if its amounts differ; only an open lot may be corrected.
fn push<L: HasAmounts>(
    out: &mut Vec<Correction>,
    account: &str,
    id: &str,
    kind: AdjustmentTarget,
    (now, new): (&L, &L),
    completed: Option<(Date, String)>,
) -> Result<(), CoreError> {
    if now.amounts() == new.amounts() && completed.is_none() {
        return Ok(());
    }
    if !now.open() {
        return Err(refused(
            account,
            format!("{id} is closed as recorded but its amounts differ when re-derived"),
        ));
    }
    let a = new.amounts();
    out.push(Correction {
        target: id.to_string(),
        target_kind: kind,
        decremented: a.decremented,
        adjusted: a.adjusted,
        balance: a.balance,
        completed,
    });
    Ok(())
}
