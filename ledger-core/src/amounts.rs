//! What every lot with a balance shares: a MACC's and a CACO's remaining commitment, a credit
//! lot's balance. One type, one set of names, one place where the invariant is kept:
//!
//! ```text
//! original − decremented + adjusted = balance,   0 <= balance <= original
//! ```
//!
//! The original (a MACC's amount, a CACO's commitment, a credit lot's amount) lives in the
//! lot's terms and is passed in, so the serialized state keeps its shape.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::money::Money;

/// The running amounts of one lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amounts {
    /// What is left: the Lots API `closedBalance`, a commitment's remaining amount.
    pub balance: Money,
    /// Sum of decrements (for a credit lot, of the credit it applied).
    pub decremented: Money,
    /// Sum of refund adjustments (R-ADJ).
    pub adjusted: Money,
}

fn overflow(what: &str) -> CoreError {
    CoreError::Overflow {
        context: what.to_string(),
    }
}

impl Amounts {
    /// A lot as opened: the whole original is left.
    pub fn new(original: Money) -> Amounts {
        Amounts {
            balance: original,
            decremented: Money::ZERO,
            adjusted: Money::ZERO,
        }
    }

    /// What decrements took net of adjustments: `decremented − adjusted`.
    pub fn consumed(&self) -> Result<Money, CoreError> {
        self.decremented
            .checked_sub(self.adjusted)
            .map_err(|_| overflow("consumed"))
    }

    /// The balance the same history leaves under another original (an amendment):
    /// `original − decremented + adjusted`.
    pub fn balance_for(&self, original: Money) -> Result<Money, CoreError> {
        original
            .checked_sub(self.decremented)
            .and_then(|b| b.checked_add(self.adjusted))
            .map_err(|_| overflow("amendment"))
    }

    /// Lower the balance by `amount` (a decrement or a credit application).
    pub fn decrement(&mut self, amount: Money) -> Result<(), CoreError> {
        self.balance = self
            .balance
            .checked_sub(amount)
            .map_err(|_| overflow("decrement"))?;
        self.decremented = self
            .decremented
            .checked_add(amount)
            .map_err(|_| overflow("decrement"))?;
        Ok(())
    }

    /// Raise the balance by `amount` (a refund adjustment, R-ADJ).
    pub fn adjust(&mut self, amount: Money) -> Result<(), CoreError> {
        self.balance = self
            .balance
            .checked_add(amount)
            .map_err(|_| overflow("adjustment"))?;
        self.adjusted = self
            .adjusted
            .checked_add(amount)
            .map_err(|_| overflow("adjustment"))?;
        Ok(())
    }

    /// How far a refund may raise the balance: up to the original, never below zero.
    pub fn room(&self, original: Money) -> Result<Money, CoreError> {
        Ok(original
            .checked_sub(self.balance)
            .map_err(|_| overflow("refund"))?
            .max(Money::ZERO))
    }

    /// The invariant, or a sentence saying how it fails.
    pub fn check(&self, original: Money) -> Result<(), String> {
        let expected = self.balance_for(original).map_err(|e| e.to_string())?;
        if expected != self.balance || self.balance.is_negative() || self.balance > original {
            return Err(format!(
                "original {original} − decrements {} + adjustments {} ≠ balance {} (or out of 0..=original)",
                self.decremented, self.adjusted, self.balance
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn decrements_and_adjustments_keep_the_invariant() {
        let mut a = Amounts::new(m("100"));
        a.decrement(m("30")).unwrap();
        a.adjust(m("5")).unwrap();
        assert_eq!(a.balance, m("75"));
        assert_eq!(a.consumed().unwrap(), m("25"));
        assert_eq!(a.room(m("100")).unwrap(), m("25"));
        assert!(a.check(m("100")).is_ok());
        assert_eq!(a.balance_for(m("200")).unwrap(), m("175"));
    }

    #[test]
    fn a_balance_above_the_original_breaks_the_invariant() {
        let mut a = Amounts::new(m("100"));
        a.adjust(m("1")).unwrap();
        assert!(a.check(m("100")).is_err());
    }
}
