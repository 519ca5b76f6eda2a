//! Amounts for people: the one place that decides how money looks in text and HTML. Every
//! table, sentence and page uses these four: [`amount`], [`amount_in`], [`signed`] and
//! [`decimal`] (rates and forecasts, which are quotients).

use ledger_app::core::Money;
use rust_decimal::Decimal;

/// Two decimals and thousands separators (`40,000.00`), rounded for display only.
pub fn amount(m: Money) -> String {
    m.to_display(2)
}

/// With its currency (`USD 40,000.00`).
pub fn amount_in(currency: &str, m: Money) -> String {
    format!("{currency} {}", amount(m))
}

/// A signed difference: `+1,200.00`, `−63,131.60` (a true minus sign).
pub fn signed(m: Money) -> String {
    let text = m.abs().to_display(2);
    if m.is_negative() {
        format!("\u{2212}{text}")
    } else {
        format!("+{text}")
    }
}

/// A decimal (rates, forecasts) rounded half to even at two places: `1,234.50`.
pub fn decimal(d: Decimal) -> String {
    let r = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven);
    ledger_app::core::money::group_thousands(&format!("{r:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn signed_differences_use_a_true_minus() {
        assert_eq!(signed(m("-63131.6")), "−63,131.60");
        assert_eq!(signed(m("4000")), "+4,000.00");
        assert_eq!(signed(Money::ZERO), "+0.00");
    }

    #[test]
    fn amounts_have_two_places_and_groups() {
        assert_eq!(amount(m("40000")), "40,000.00");
        assert_eq!(amount_in("USD", m("1234.5")), "USD 1,234.50");
    }
}
