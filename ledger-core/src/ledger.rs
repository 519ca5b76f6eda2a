//! The ledger: every account's state, and `apply`, the one entry point that turns a fact into
//! decisions. Replay, what-if and audit are all folds of this function (or of `evolve`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agreement::{Agreement, CreditTerms};
use crate::error::CoreError;
use crate::evaluate::evaluate_deadlines;
use crate::event::{Event, LotOrigin, LotTerms};
use crate::fact::{Fact, Invoice, MAX_LINES_PER_INVOICE, RESERVED_INVOICE_PREFIXES};
use crate::rulebook;
use crate::settle::{emit, settle_invoice, SyntheticOrigin};
use crate::state::{AccountState, CacoState, LotRef, LotState, MaccState};
use crate::trace::{NoTrace, TraceSink};

/// All billing accounts. Accounts never share balances.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub accounts: BTreeMap<String, AccountState>,
}

/// What applying one fact decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The account the decisions belong to.
    pub account: String,
    pub events: Vec<Event>,
    /// The fact repeats one already applied with the same content (R-IDEM-1): no decisions.
    pub duplicate: bool,
}

/// Options of a fold that are not facts: what-if invoices may use the reserved `WHATIF-` ids.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApplyOptions {
    pub allow_whatif_ids: bool,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    pub fn account(&self, id: &str) -> Option<&AccountState> {
        self.accounts.get(id)
    }

    /// Decide what `fact` means and fold the decisions in. On error the ledger may hold a
    /// partly applied fact and must be discarded (reload it from the log or a snapshot).
    pub fn apply(&mut self, fact: &Fact) -> Result<Applied, CoreError> {
        self.apply_traced(fact, ApplyOptions::default(), &mut NoTrace)
    }

    /// [`Ledger::apply`], reporting every line portion to `sink`.
    pub fn apply_traced<S: TraceSink>(
        &mut self,
        fact: &Fact,
        options: ApplyOptions,
        sink: &mut S,
    ) -> Result<Applied, CoreError> {
        let mut events = Vec::new();
        let account = fact.account().to_string();
        let duplicate = match fact {
            Fact::Agreement {
                agreement,
                content_hash,
            } => self.record_agreement(agreement, *content_hash, &mut events)?,
            Fact::Invoice(invoice) => self.settle(invoice, options, &mut events, sink)?,
            Fact::Close { account, through } => {
                let acct = self.account_mut(account)?;
                evaluate_deadlines(acct, *through, true, &mut events, sink)?;
                emit(acct, &mut events, Event::Closed { through: *through })?;
                false
            }
            Fact::Resettle {
                account,
                version,
                corrections,
            } => {
                let acct = self.account_mut(account)?;
                crate::correction::apply_resettle(acct, *version, corrections, &mut events)?;
                false
            }
            Fact::Pending(invoice) => self.record_pending(invoice, &mut events)?,
        };
        if let Some(acct) = self.accounts.get(&account) {
            acct.check_invariants()?;
        }
        Ok(Applied {
            account,
            events,
            duplicate,
        })
    }

    /// Fold one recorded decision (replay).
    pub fn evolve(&mut self, account: &str, event: &Event) -> Result<(), CoreError> {
        if let Event::AccountOpened { currency, terms } = event {
            if self.accounts.contains_key(account) {
                return Err(CoreError::Corrupt {
                    message: format!("account {account} opened twice"),
                });
            }
            self.accounts.insert(
                account.to_string(),
                AccountState::new(account, currency, terms.clone()),
            );
            return Ok(());
        }
        self.accounts
            .get_mut(account)
            .ok_or_else(|| CoreError::Corrupt {
                message: format!("event for unknown account {account}"),
            })?
            .evolve(event)
    }

    /// Check every account's invariants.
    pub fn check_invariants(&self) -> Result<(), CoreError> {
        self.accounts
            .values()
            .try_for_each(|a| a.check_invariants())
    }

    fn account_mut(&mut self, account: &str) -> Result<&mut AccountState, CoreError> {
        self.accounts
            .get_mut(account)
            .ok_or_else(|| CoreError::UnknownAccount {
                account: account.to_string(),
            })
    }

    fn settle<S: TraceSink>(
        &mut self,
        inv: &Invoice,
        options: ApplyOptions,
        out: &mut Vec<Event>,
        sink: &mut S,
    ) -> Result<bool, CoreError> {
        let acct = self.account_mut(&inv.account)?;
        admit(acct, inv, options)?;
        // Step 1: R-IDEM-1 / R-IDEM-2.
        if let Some(previous) = acct.invoice(&inv.id) {
            if previous.content_hash == inv.content_hash {
                return Ok(true);
            }
            let total = inv
                .total()
                .map(|t| t.to_plain_string())
                .unwrap_or_else(|| "an overflowing total".into());
            let lines = |n: usize| {
                if n == 1 {
                    "1 line".to_string()
                } else {
                    format!("{n} lines")
                }
            };
            let detail = format!(
                "settled with {} totalling {} dated {}, now {} totalling {} dated {}",
                lines(previous.line_count as usize),
                previous.charges,
                previous.date,
                lines(inv.lines.len()),
                total,
                inv.date
            );
            return Err(CoreError::InvoiceConflict {
                invoice: inv.id.clone(),
                detail,
            });
        }
        // Step 2: deadlines before the billing period.
        evaluate_deadlines(acct, inv.period_start, false, out, sink)?;
        let synthetic = if inv.id.starts_with("WHATIF-") {
            Some(SyntheticOrigin::WhatIf)
        } else {
            None
        };
        settle_invoice(acct, inv, synthetic.as_ref(), out, sink)?;
        crate::pending::supersede_by_invoice(acct, inv, out)?;
        Ok(false)
    }

    /// R-PEND-1: record a pending run (checked as an invoice would be). `Ok(true)` when there
    /// is nothing to record: the same run is current, or its period's invoice is settled.
    fn record_pending(&mut self, inv: &Invoice, out: &mut Vec<Event>) -> Result<bool, CoreError> {
        let acct = self.account_mut(&inv.account)?;
        admit(acct, inv, ApplyOptions::default())?;
        let recorded = crate::pending::record(acct, inv, out)?;
        Ok(matches!(recorded, crate::pending::Recorded::Nothing))
    }

    fn record_agreement(
        &mut self,
        agreement: &Agreement,
        content_hash: [u8; 32],
        out: &mut Vec<Event>,
    ) -> Result<bool, CoreError> {
        agreement.validate()?;
        let rb = rulebook::rulebook(agreement.terms.rulebook_version).expect("validated");
        let account = agreement.account.clone();
        if !self.accounts.contains_key(&account) {
            let opened = Event::AccountOpened {
                currency: agreement.currency.clone(),
                terms: agreement.terms.clone(),
            };
            self.evolve(&account, &opened)?;
            out.push(opened);
            let acct = self.accounts.get_mut(&account).expect("just opened");
            for macc in &agreement.maccs {
                emit(
                    acct,
                    out,
                    Event::MaccOpened {
                        terms: macc.clone(),
                    },
                )?;
            }
            for caco in &agreement.cacos {
                emit(
                    acct,
                    out,
                    Event::CacoOpened {
                        terms: caco.clone(),
                    },
                )?;
            }
            for credit in &agreement.credits {
                emit(acct, out, credit_opened(credit, rb))?;
            }
            emit(
                acct,
                out,
                Event::AgreementRecorded {
                    version: 1,
                    content_hash,
                },
            )?;
            return Ok(false);
        }
        let acct = self.accounts.get_mut(&account).expect("exists");
        if acct.agreement_hash == content_hash {
            return Ok(true);
        }
        amend(acct, agreement, content_hash, rb, out)?;
        Ok(false)
    }
}

/// What every invoice-shaped fact must be before its content is looked at: an id the files may
/// use, the account's currency, a bounded number of lines.
fn admit(acct: &AccountState, inv: &Invoice, options: ApplyOptions) -> Result<(), CoreError> {
    for prefix in RESERVED_INVOICE_PREFIXES {
        let allowed = options.allow_whatif_ids && prefix == "WHATIF-";
        if inv.id.starts_with(prefix) && !allowed {
            return Err(CoreError::ReservedInvoiceId {
                invoice: inv.id.clone(),
            });
        }
    }
    if inv.currency != acct.currency {
        return Err(CoreError::CurrencyMismatch {
            account: acct.account.clone(),
            invoice: inv.id.clone(),
            expected: acct.currency.clone(),
            found: inv.currency.clone(),
        });
    }
    if inv.lines.len() > MAX_LINES_PER_INVOICE {
        return Err(CoreError::TooManyLines {
            invoice: inv.id.clone(),
            count: inv.lines.len(),
            max: MAX_LINES_PER_INVOICE,
        });
    }
    Ok(())
}

/// An agreement credit's lot terms (R-COVER's default when it names no `covers`).
fn credit_terms(credit: &CreditTerms, rb: &rulebook::Rulebook) -> LotTerms {
    LotTerms {
        id: credit.id.clone(),
        kind: credit.kind,
        amount: credit.amount,
        start: credit.start,
        expires: credit.expires,
        covers: credit
            .covers
            .unwrap_or_else(|| rb.default_cover(credit.kind)),
    }
}

fn credit_opened(credit: &CreditTerms, rb: &rulebook::Rulebook) -> Event {
    Event::CreditLotOpened {
        lot: credit_terms(credit, rb),
        origin: LotOrigin::Agreement,
        date: credit.start,
        invoice: None,
    }
}

fn refused(field: String, message: String) -> CoreError {
    CoreError::AmendmentRefused { field, message }
}

/// A changed agreement for an existing account: new items open, missing ones are canceled
/// (milestones removed), changed ones are amended when the change is still possible. Every
/// change is checked before anything is emitted, so a refused amendment changes nothing.
fn amend(
    acct: &mut AccountState,
    agreement: &Agreement,
    content_hash: [u8; 32],
    rb: &rulebook::Rulebook,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    if agreement.currency != acct.currency {
        return Err(refused(
            "currency".into(),
            format!(
                "cannot change from {} to {}",
                acct.currency, agreement.currency
            ),
        ));
    }
    check_macc_changes(acct, agreement)?;
    check_caco_changes(acct, agreement)?;
    check_credit_changes(acct, agreement, rb)?;

    if agreement.terms != acct.terms {
        emit(
            acct,
            out,
            Event::AccountTermsChanged {
                terms: agreement.terms.clone(),
            },
        )?;
    }
    amend_maccs(acct, agreement, out)?;
    amend_cacos(acct, agreement, out)?;
    amend_credits(acct, agreement, rb, out)?;
    let version = acct.agreement_version + 1;
    emit(
        acct,
        out,
        Event::AgreementRecorded {
            version,
            content_hash,
        },
    )
}

fn other_lot(what: &str, id: &str) -> CoreError {
    refused(
        format!("{what} \"{id}\""),
        "that id already names another lot".into(),
    )
}

fn closed(what: &str, id: &str) -> CoreError {
    refused(
        format!("{what} \"{id}\""),
        "is closed; its terms can no longer change".into(),
    )
}

/// A changed MACC must be open and keep an amount above what it already consumed.
fn check_macc_changes(acct: &AccountState, agreement: &Agreement) -> Result<(), CoreError> {
    for macc in &agreement.maccs {
        let current = match acct.lot_ref(&macc.id) {
            None => continue,
            Some(LotRef::Macc(i)) => &acct.maccs[i as usize],
            Some(_) => return Err(other_lot("macc", &macc.id)),
        };
        if current.terms == *macc {
            continue;
        }
        if current.state != MaccState::Open {
            return Err(closed("macc", &macc.id));
        }
        let consumed = current.amounts.consumed()?;
        if macc.amount <= consumed {
            return Err(refused(
                format!("macc \"{}\" amount", macc.id),
                format!(
                    "{} is not above the {} already decremented; a MACC cannot complete without an invoice (remove it to cancel it)",
                    macc.amount, consumed
                ),
            ));
        }
    }
    Ok(())
}

/// A changed CACO must be open, keep its basis and a commitment not below what it counted.
fn check_caco_changes(acct: &AccountState, agreement: &Agreement) -> Result<(), CoreError> {
    for caco in &agreement.cacos {
        let current = match acct.lot_ref(&caco.id) {
            None => continue,
            Some(LotRef::Caco(i)) => &acct.cacos[i as usize],
            Some(_) => return Err(other_lot("caco", &caco.id)),
        };
        if current.terms == *caco {
            continue;
        }
        if current.state != CacoState::Open {
            return Err(closed("caco", &caco.id));
        }
        let consumed = current.amounts.consumed()?;
        if caco.commitment_amount() < consumed {
            return Err(refused(
                format!("caco \"{}\"", caco.id),
                format!(
                    "its commitment {} is below the {} already counted",
                    caco.commitment_amount(),
                    consumed
                ),
            ));
        }
        if caco.basis != current.terms.basis {
            return Err(refused(
                format!("caco \"{}\" basis", caco.id),
                "cannot change once recorded".into(),
            ));
        }
    }
    Ok(())
}

/// A changed agreement credit must be one the agreement opened, open, of the same kind, and
/// not below what it already paid.
fn check_credit_changes(
    acct: &AccountState,
    agreement: &Agreement,
    rb: &rulebook::Rulebook,
) -> Result<(), CoreError> {
    for credit in &agreement.credits {
        let current = match acct.lot_ref(&credit.id) {
            None => continue,
            Some(LotRef::Credit(i)) => &acct.lots[i as usize],
            Some(_) => return Err(other_lot("credit", &credit.id)),
        };
        if current.origin != LotOrigin::Agreement {
            return Err(refused(
                format!("credit \"{}\"", credit.id),
                "that id names a lot the ledger opened itself".into(),
            ));
        }
        let desired = credit_terms(credit, rb);
        if current.terms == desired {
            continue;
        }
        if current.state != LotState::Open {
            return Err(closed("credit", &credit.id));
        }
        if current.terms.kind != desired.kind {
            return Err(refused(
                format!("credit \"{}\" kind", credit.id),
                "cannot change once recorded".into(),
            ));
        }
        let used = current.amounts.consumed()?;
        if desired.amount < used {
            return Err(refused(
                format!("credit \"{}\" amount", credit.id),
                format!("{} is below the {} already used", desired.amount, used),
            ));
        }
    }
    Ok(())
}

/// New MACCs open, changed ones are amended, missing ones are canceled.
fn amend_maccs(
    acct: &mut AccountState,
    agreement: &Agreement,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    for macc in &agreement.maccs {
        let event = match acct.macc_index(&macc.id) {
            None => Event::MaccOpened {
                terms: macc.clone(),
            },
            Some(i) if acct.maccs[i].terms != *macc => Event::MaccAmended {
                terms: macc.clone(),
                balance_after: acct.maccs[i].amounts.balance_for(macc.amount)?,
            },
            Some(_) => continue,
        };
        emit(acct, out, event)?;
    }
    let gone: Vec<String> = acct
        .maccs
        .iter()
        .filter(|m| {
            m.state != MaccState::Canceled && !agreement.maccs.iter().any(|a| a.id == m.terms.id)
        })
        .map(|m| m.terms.id.clone())
        .collect();
    for macc in gone {
        emit(acct, out, Event::MaccCanceled { macc })?;
    }
    Ok(())
}

/// New CACOs open, changed ones are amended (milestones they no longer name are removed),
/// missing ones are canceled.
fn amend_cacos(
    acct: &mut AccountState,
    agreement: &Agreement,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    for caco in &agreement.cacos {
        let event = match acct.caco_index(&caco.id) {
            None => Event::CacoOpened {
                terms: caco.clone(),
            },
            Some(i) if acct.cacos[i].terms != *caco => {
                let current = &acct.cacos[i];
                let removed: Vec<String> = current
                    .milestones
                    .iter()
                    .filter(|m| m.accrues() && !caco.milestones.iter().any(|n| n.id == m.terms.id))
                    .map(|m| m.terms.id.clone())
                    .collect();
                Event::CacoAmended {
                    terms: caco.clone(),
                    removed,
                    remaining_after: current.amounts.balance_for(caco.commitment_amount())?,
                }
            }
            Some(_) => continue,
        };
        emit(acct, out, event)?;
    }
    let gone: Vec<String> = acct
        .cacos
        .iter()
        .filter(|c| {
            c.state != CacoState::Canceled && !agreement.cacos.iter().any(|a| a.id == c.terms.id)
        })
        .map(|c| c.terms.id.clone())
        .collect();
    for caco in gone {
        emit(acct, out, Event::CacoCanceled { caco })?;
    }
    Ok(())
}

/// New agreement credits open, changed ones are amended, missing ones are canceled.
fn amend_credits(
    acct: &mut AccountState,
    agreement: &Agreement,
    rb: &rulebook::Rulebook,
    out: &mut Vec<Event>,
) -> Result<(), CoreError> {
    for credit in &agreement.credits {
        let event = match acct.credit_index(&credit.id) {
            None => credit_opened(credit, rb),
            Some(i) => {
                let lot = credit_terms(credit, rb);
                let current = &acct.lots[i];
                if current.terms == lot {
                    continue;
                }
                let balance_after = current.amounts.balance_for(lot.amount)?;
                Event::CreditLotAmended { lot, balance_after }
            }
        };
        emit(acct, out, event)?;
    }
    let gone: Vec<String> = acct
        .lots
        .iter()
        .filter(|l| {
            l.origin == LotOrigin::Agreement
                && l.state != LotState::Canceled
                && !agreement.credits.iter().any(|c| c.id == l.terms.id)
        })
        .map(|l| l.terms.id.clone())
        .collect();
    for lot in gone {
        emit(acct, out, Event::CreditLotCanceled { lot })?;
    }
    Ok(())
}
