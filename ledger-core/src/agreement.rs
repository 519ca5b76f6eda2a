//! Agreements: the terms of MACCs, CACOs and credit lots of one billing account (R-MACC-1,
//! R-CACO-1, R-COVER), and their validation. Reading files is the shell's job; this module
//! receives plain values and says precisely which field is wrong.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::kind::{CreditKind, KindSet};
use crate::money::{Factor, Money};
use crate::rulebook;

/// Everything agreed for one billing account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub account: String,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    pub terms: AccountTerms,
    pub maccs: Vec<MaccTerms>,
    pub cacos: Vec<CacoTerms>,
    pub credits: Vec<CreditTerms>,
}

/// Account-wide settings of an agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTerms {
    /// The rulebook version the account settles under (R-ELIG, R-COVER).
    pub rulebook_version: u16,
    /// R-CREDIT-ORDER.
    pub credit_order: CreditOrder,
    /// Months a purchased prepayment lot stays valid (R-SETTLE step 4). Default 12.
    pub prepayment_term_months: u32,
    /// R-CSP: the partner earned credit rate, e.g. 0.15.
    pub partner_earned_credit_rate: Option<Factor>,
    /// Marketplace publishers whose offers are "Azure benefit eligible" (used when importing
    /// exports that do not carry the badge).
    pub eligible_publishers: Vec<String>,
    /// Marketplace offers (plan or offer names) that are "Azure benefit eligible".
    pub eligible_offers: Vec<String>,
}

impl Default for AccountTerms {
    fn default() -> Self {
        AccountTerms {
            rulebook_version: rulebook::CURRENT_VERSION,
            credit_order: CreditOrder::ExpiringFirst,
            prepayment_term_months: 12,
            partner_earned_credit_rate: None,
            eligible_publishers: Vec::new(),
            eligible_offers: Vec::new(),
        }
    }
}

/// In which order credit lots pay a charge line (R-CREDIT-ORDER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreditOrder {
    /// Earliest `expires` first, ties by earlier `start`, then by lot id (the default).
    ExpiringFirst,
    /// Earliest `start` first, ties by earlier `expires`, then by lot id.
    OldestFirst,
}

impl CreditOrder {
    pub fn name(self) -> &'static str {
        match self {
            CreditOrder::ExpiringFirst => "expiring-first",
            CreditOrder::OldestFirst => "oldest-first",
        }
    }
    pub fn parse(text: &str) -> Option<CreditOrder> {
        match text {
            "expiring-first" => Some(CreditOrder::ExpiringFirst),
            "oldest-first" => Some(CreditOrder::OldestFirst),
            _ => None,
        }
    }
}

/// A Microsoft Azure Consumption Commitment (R-MACC-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaccTerms {
    pub id: String,
    pub amount: Money,
    pub start: Date,
    pub end: Date,
    pub purchased: Option<Date>,
    /// R-SHORT: when the enrollment under which the MACC was signed ends.
    pub enrollment_end: Option<Date>,
    /// R-SHORT-2: whether the enrollment was renewed. `None` means "not said".
    pub renewed: Option<bool>,
    /// R-MACC-5: months a milestone shortfall credit stays valid. Default 12.
    pub shortfall_credit_months: u32,
    pub milestones: Vec<MaccMilestoneTerms>,
}

/// A MACC milestone: a cumulative target due on a date (R-MACC-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaccMilestoneTerms {
    pub id: String,
    pub due: Date,
    pub target: Money,
}

/// How CACO spend counts toward milestones (R-CACO-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacoBasis {
    /// A portion counts toward the milestone whose window holds its charge date.
    Period,
    /// Targets are cumulative from the CACO start.
    Cumulative,
}

impl CacoBasis {
    pub fn name(self) -> &'static str {
        match self {
            CacoBasis::Period => "period",
            CacoBasis::Cumulative => "cumulative",
        }
    }
    pub fn parse(text: &str) -> Option<CacoBasis> {
        match text {
            "period" => Some(CacoBasis::Period),
            "cumulative" => Some(CacoBasis::Cumulative),
            _ => None,
        }
    }
}

/// A Conditional Azure Credit Offer (R-CACO-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacoTerms {
    pub id: String,
    pub start: Date,
    pub basis: CacoBasis,
    /// R-CACO-5: months an ACO award stays valid. Default 12.
    pub award_months: u32,
    /// In order of their end dates.
    pub milestones: Vec<CacoMilestoneTerms>,
}

impl CacoTerms {
    /// The CACO ends with its last milestone (R-CACO-1).
    pub fn end(&self) -> Date {
        self.milestones
            .iter()
            .map(|m| m.end)
            .max()
            .unwrap_or(self.start)
    }

    /// R-CACO-2: the sum of targets (`period`) or the last milestone's target (`cumulative`).
    /// Validation guarantees the sum fits (see `CacoTerms::validate`); an agreement that was
    /// not validated and overflows gets the largest amount, never a silently smaller one.
    pub fn commitment_amount(&self) -> Money {
        match self.basis {
            CacoBasis::Period => self
                .milestones
                .iter()
                .try_fold(Money::ZERO, |acc, m| acc.checked_add(m.target))
                .unwrap_or(Money::from_units(i128::MAX)),
            CacoBasis::Cumulative => self
                .milestones
                .iter()
                .max_by_key(|m| m.end)
                .map(|m| m.target)
                .unwrap_or(Money::ZERO),
        }
    }
}

/// One CACO milestone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacoMilestoneTerms {
    pub id: String,
    pub start: Date,
    pub end: Date,
    pub target: Money,
    pub award: Money,
}

/// A credit lot granted by the agreement (an ACO, goodwill or outage credit, a prepayment...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditTerms {
    pub id: String,
    pub kind: CreditKind,
    pub amount: Money,
    pub start: Date,
    pub expires: Date,
    /// Narrows or widens R-COVER for this lot.
    pub covers: Option<KindSet>,
}

/// A field of an agreement that is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AgreementError {
    /// Where, e.g. `macc "macc-2025" end` or `caco "caco-1" milestone "M2" target`.
    pub field: String,
    /// What was expected.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> AgreementError {
    AgreementError {
        field: field.into(),
        message: message.into(),
    }
}

/// Longest id the ledger accepts (ids appear in keys, URLs and file names).
pub const MAX_ID_LEN: usize = 200;
/// Most months a term may have.
pub const MAX_TERM_MONTHS: u32 = 1200;

fn check_id(field: &str, id: &str) -> Result<(), AgreementError> {
    if id.is_empty() {
        return Err(err(
            field,
            "is empty; every id needs at least one character",
        ));
    }
    if id.len() > MAX_ID_LEN {
        return Err(err(
            field,
            format!("is {} characters long; at most {MAX_ID_LEN}", id.len()),
        ));
    }
    if id.chars().any(|c| c.is_control()) {
        return Err(err(field, "contains a control character"));
    }
    Ok(())
}

fn check_months(field: &str, months: u32) -> Result<(), AgreementError> {
    if months == 0 || months > MAX_TERM_MONTHS {
        return Err(err(
            field,
            format!("is {months}; expected a whole number of months from 1 to {MAX_TERM_MONTHS}"),
        ));
    }
    Ok(())
}

fn check_positive(field: &str, amount: Money) -> Result<(), AgreementError> {
    if !amount.is_positive() {
        return Err(err(
            field,
            format!("is {amount}; expected an amount greater than zero"),
        ));
    }
    Ok(())
}

impl Agreement {
    /// Check every rule an agreement must satisfy; the first violation is returned.
    pub fn validate(&self) -> Result<(), AgreementError> {
        check_id("account", &self.account)?;
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(err(
                "currency",
                format!(
                    "is '{}'; expected a three-letter ISO 4217 code such as USD",
                    self.currency
                ),
            ));
        }
        if rulebook::rulebook(self.terms.rulebook_version).is_none() {
            return Err(err(
                "rulebook",
                format!(
                    "version {} is unknown; known versions: {:?}",
                    self.terms.rulebook_version,
                    rulebook::KNOWN_VERSIONS
                ),
            ));
        }
        check_months("prepayment_term_months", self.terms.prepayment_term_months)?;
        if let Some(rate) = self.terms.partner_earned_credit_rate {
            let r = rate.as_money();
            if r.is_negative() || r > Money::from_whole(1) {
                return Err(err(
                    "partner_earned_credit_rate",
                    format!("is {r}; expected a rate from 0 to 1, like 0.15"),
                ));
            }
        }
        let mut ids = BTreeSet::new();
        let mut unique = |field: String, id: &str| -> Result<(), AgreementError> {
            if !ids.insert(id.to_string()) {
                return Err(err(field, format!("'{id}' is used twice; MACC, CACO and credit ids share one namespace per account")));
            }
            Ok(())
        };
        for (i, macc) in self.maccs.iter().enumerate() {
            check_id(&format!("macc[{i}] id"), &macc.id)?;
            unique(format!("macc[{i}] id"), &macc.id)?;
            macc.validate()?;
        }
        for (i, caco) in self.cacos.iter().enumerate() {
            check_id(&format!("caco[{i}] id"), &caco.id)?;
            unique(format!("caco[{i}] id"), &caco.id)?;
            caco.validate()?;
        }
        for (i, credit) in self.credits.iter().enumerate() {
            check_id(&format!("credit[{i}] id"), &credit.id)?;
            unique(format!("credit[{i}] id"), &credit.id)?;
            credit.validate()?;
        }
        Ok(())
    }
}

impl MaccTerms {
    fn validate(&self) -> Result<(), AgreementError> {
        let at = |f: &str| format!("macc \"{}\" {f}", self.id);
        check_positive(&at("amount"), self.amount)?;
        if self.end < self.start {
            return Err(err(
                at("end"),
                format!("{} is before its start {}", self.end, self.start),
            ));
        }
        check_months(&at("shortfall_credit_months"), self.shortfall_credit_months)?;
        let mut seen = BTreeSet::new();
        let mut previous: Option<&MaccMilestoneTerms> = None;
        for m in &self.milestones {
            let mat = |f: &str| format!("macc \"{}\" milestone \"{}\" {f}", self.id, m.id);
            check_id(&mat("id"), &m.id)?;
            if !seen.insert(m.id.as_str()) {
                return Err(err(mat("id"), "is used twice in this MACC"));
            }
            check_positive(&mat("target"), m.target)?;
            if m.target > self.amount {
                return Err(err(
                    mat("target"),
                    format!("{} exceeds the MACC amount {}", m.target, self.amount),
                ));
            }
            if m.due < self.start || m.due > self.end {
                return Err(err(
                    mat("due"),
                    format!(
                        "{} is outside the MACC's {}..{}",
                        m.due, self.start, self.end
                    ),
                ));
            }
            if let Some(p) = previous {
                if m.due <= p.due {
                    return Err(err(mat("due"), format!("{} is not after the previous milestone's {}; list milestones in due order", m.due, p.due)));
                }
                if m.target < p.target {
                    return Err(err(mat("target"), format!("{} is below the previous milestone's {}; MACC milestone targets are cumulative", m.target, p.target)));
                }
            }
            previous = Some(m);
        }
        Ok(())
    }
}

impl CacoTerms {
    fn validate(&self) -> Result<(), AgreementError> {
        let at = |f: &str| format!("caco \"{}\" {f}", self.id);
        check_months(&at("award_months"), self.award_months)?;
        if self.milestones.is_empty() {
            return Err(err(
                at("milestones"),
                "is empty; a CACO needs at least one milestone",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut previous: Option<&CacoMilestoneTerms> = None;
        for m in &self.milestones {
            let mat = |f: &str| format!("caco \"{}\" milestone \"{}\" {f}", self.id, m.id);
            check_id(&mat("id"), &m.id)?;
            if !seen.insert(m.id.as_str()) {
                return Err(err(mat("id"), "is used twice in this CACO"));
            }
            if m.end < m.start {
                return Err(err(
                    mat("end"),
                    format!("{} is before its start {}", m.end, m.start),
                ));
            }
            if m.start < self.start {
                return Err(err(
                    mat("start"),
                    format!("{} is before the CACO's start {}", m.start, self.start),
                ));
            }
            check_positive(&mat("target"), m.target)?;
            if m.award.is_negative() {
                return Err(err(
                    mat("award"),
                    format!("is {}; expected zero or more", m.award),
                ));
            }
            if let Some(p) = previous {
                if m.end <= p.end {
                    return Err(err(mat("end"), format!("{} is not after the previous milestone's end {}; list milestones in order", m.end, p.end)));
                }
                if self.basis == CacoBasis::Period && m.start <= p.end {
                    return Err(err(mat("start"), format!("{} overlaps the previous milestone (ends {}); period milestones may not overlap", m.start, p.end)));
                }
                if self.basis == CacoBasis::Cumulative && m.target < p.target {
                    return Err(err(mat("target"), format!("{} is below the previous milestone's {}; cumulative targets may not decrease", m.target, p.target)));
                }
            }
            previous = Some(m);
        }
        let sum = self
            .milestones
            .iter()
            .try_fold(Money::ZERO, |acc, m| acc.checked_add(m.target));
        if sum.is_err() {
            return Err(err(
                at("milestones"),
                "targets add up beyond the range the ledger keeps (10^14)",
            ));
        }
        Ok(())
    }
}

impl CreditTerms {
    fn validate(&self) -> Result<(), AgreementError> {
        let at = |f: &str| format!("credit \"{}\" {f}", self.id);
        check_positive(&at("amount"), self.amount)?;
        if self.expires < self.start {
            return Err(err(
                at("expires"),
                format!("{} is before its start {}", self.expires, self.start),
            ));
        }
        if let Some(covers) = self.covers {
            if covers.is_empty() {
                return Err(err(
                    at("covers"),
                    "is empty; omit it to use the R-COVER default",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn sample() -> Agreement {
        Agreement {
            account: "contoso".into(),
            currency: "USD".into(),
            terms: AccountTerms::default(),
            maccs: vec![MaccTerms {
                id: "macc-1".into(),
                amount: m("1000"),
                start: d("2025-01-01"),
                end: d("2025-12-31"),
                purchased: None,
                enrollment_end: None,
                renewed: None,
                shortfall_credit_months: 12,
                milestones: vec![],
            }],
            cacos: vec![CacoTerms {
                id: "caco-1".into(),
                start: d("2025-01-01"),
                basis: CacoBasis::Period,
                award_months: 12,
                milestones: vec![
                    CacoMilestoneTerms {
                        id: "M1".into(),
                        start: d("2025-01-01"),
                        end: d("2025-03-31"),
                        target: m("100"),
                        award: m("10"),
                    },
                    CacoMilestoneTerms {
                        id: "M2".into(),
                        start: d("2025-04-01"),
                        end: d("2025-06-30"),
                        target: m("100"),
                        award: m("10"),
                    },
                ],
            }],
            credits: vec![],
        }
    }

    #[test]
    fn r_macc_1_a_valid_agreement_passes() {
        sample().validate().unwrap();
    }

    #[test]
    fn r_macc_1_end_before_start_names_the_field() {
        let mut a = sample();
        a.maccs[0].end = d("2024-12-31");
        let e = a.validate().unwrap_err();
        assert_eq!(e.field, "macc \"macc-1\" end");
        assert!(e.message.contains("before its start"), "{e}");
    }

    #[test]
    fn r_macc_1_amount_must_be_positive() {
        let mut a = sample();
        a.maccs[0].amount = Money::ZERO;
        assert_eq!(a.validate().unwrap_err().field, "macc \"macc-1\" amount");
    }

    #[test]
    fn currency_must_be_an_iso_code() {
        let mut a = sample();
        a.currency = "usd".into();
        assert_eq!(a.validate().unwrap_err().field, "currency");
    }

    #[test]
    fn ids_are_unique_across_lots() {
        let mut a = sample();
        a.cacos[0].id = "macc-1".into();
        assert!(a.validate().unwrap_err().message.contains("used twice"));
    }

    #[test]
    fn r_caco_1_period_milestones_may_not_overlap() {
        let mut a = sample();
        a.cacos[0].milestones[1].start = d("2025-03-15");
        assert_eq!(
            a.validate().unwrap_err().field,
            "caco \"caco-1\" milestone \"M2\" start"
        );
    }

    #[test]
    fn r_caco_1_end_is_the_last_milestone_end_and_commitment_follows_basis() {
        let mut a = sample();
        assert_eq!(a.cacos[0].end(), d("2025-06-30"));
        assert_eq!(a.cacos[0].commitment_amount(), m("200"));
        a.cacos[0].basis = CacoBasis::Cumulative;
        a.cacos[0].milestones[1].target = m("250");
        assert_eq!(a.cacos[0].commitment_amount(), m("250"));
    }

    #[test]
    fn r_macc_5_milestones_must_be_due_within_the_macc_and_cumulative() {
        let mut a = sample();
        a.maccs[0].milestones = vec![
            MaccMilestoneTerms {
                id: "A".into(),
                due: d("2025-06-30"),
                target: m("500"),
            },
            MaccMilestoneTerms {
                id: "B".into(),
                due: d("2025-09-30"),
                target: m("400"),
            },
        ];
        assert!(a.validate().unwrap_err().message.contains("cumulative"));
        a.maccs[0].milestones[1].due = d("2026-01-31");
        a.maccs[0].milestones[1].target = m("600");
        assert!(a.validate().unwrap_err().message.contains("outside"));
    }

    #[test]
    fn r_csp_rate_is_between_zero_and_one() {
        let mut a = sample();
        a.terms.partner_earned_credit_rate = Some(Factor::parse("1.5").unwrap());
        assert_eq!(
            a.validate().unwrap_err().field,
            "partner_earned_credit_rate"
        );
    }

    #[test]
    fn r_caco_1_targets_that_overflow_are_refused_not_dropped() {
        let mut a = sample();
        a.cacos[0].milestones[0].target = m("90000000000000");
        a.cacos[0].milestones[1].target = m("90000000000000");
        assert_eq!(
            a.validate().unwrap_err().field,
            "caco \"caco-1\" milestones"
        );
    }

    #[test]
    fn unknown_rulebook_version_is_refused() {
        let mut a = sample();
        a.terms.rulebook_version = 9;
        assert_eq!(a.validate().unwrap_err().field, "rulebook");
    }
}
