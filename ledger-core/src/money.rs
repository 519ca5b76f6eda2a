//! Exact money: a signed fixed-point integer in units of 10^-24 of a currency unit.
//!
//! Why fixed-point and why 24 places: every amount the ledger sees is a finite decimal; the
//! public Azure exports carry up to 24 significant decimal places (after trailing zeros are
//! dropped). An `i128` at 10^-24 keeps every such amount exact, adds and compares in one or two
//! machine instructions, and still spans ±1.7 × 10^14 currency units, far beyond any billing
//! account. Every operation is checked: an overflow is an error, never a wrap.
//!
//! Multiplication (partner earned credit rates, what-if factors) is the only place a result may
//! need more than 24 places; it rounds half to even at 10^-24 and says so in its name.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of decimal places kept by [`Money`].
pub const MONEY_SCALE: u32 = 24;
const ONE: i128 = 10i128.pow(MONEY_SCALE);
/// The largest magnitude a parsed amount may have, in whole currency units (exclusive).
pub const MONEY_MAX_UNITS: i128 = 100_000_000_000_000; // 10^14

const POW10: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// (5^k)^-1 modulo 2^128 for k = 0..=24 (5^k is odd, so the inverse exists).
const INVERSE_POW5: [u128; 25] = {
    let mut table = [1u128; 25];
    // The inverse of 5 mod 2^128 by Newton's iteration x <- x(2 - 5x), doubling correct bits.
    let mut inv5: u128 = 1;
    let mut i = 0;
    while i < 7 {
        inv5 = inv5.wrapping_mul(2u128.wrapping_sub(5u128.wrapping_mul(inv5)));
        i += 1;
    }
    let mut k = 1;
    while k < 25 {
        table[k] = table[k - 1].wrapping_mul(inv5);
        k += 1;
    }
    table
};

/// floor((2^128 - 1) / 5^k) for k = 0..=24.
const MAX_QUOTIENT_POW5: [u128; 25] = {
    let mut table = [u128::MAX; 25];
    let mut p: u128 = 1;
    let mut k = 1;
    while k < 25 {
        p *= 5;
        table[k] = u128::MAX / p;
        k += 1;
    }
    table
};

/// An exact amount of money in units of 10^-24 of the currency unit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i128);

/// Why a text could not be read as an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("an empty value where an amount was expected")]
    Empty,
    #[error("'{0}' is not a decimal amount (expected digits with an optional '.' and sign, like 1234.56)")]
    Syntax(String),
    #[error("'{0}' has {1} decimal places; the ledger keeps at most 24")]
    TooPrecise(String, u32),
    #[error("'{0}' is out of range (the ledger keeps amounts below 10^14 in magnitude)")]
    OutOfRange(String),
    #[error("'{0}' has {1} significant digits; a rate or factor has at most {MAX_FACTOR_DIGITS} (like 0.12345678901234)")]
    TooManyDigits(String, u32),
}

/// Most significant digits a [`Factor`] (a PEC rate, a what-if factor) may have.
pub const MAX_FACTOR_DIGITS: u32 = 14;

/// An arithmetic result that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount overflow")]
pub struct Overflow;

impl Money {
    pub const ZERO: Money = Money(0);

    /// The raw count of 10^-24 units.
    pub const fn units(self) -> i128 {
        self.0
    }

    /// Build from a raw count of 10^-24 units.
    pub const fn from_units(units: i128) -> Money {
        Money(units)
    }

    /// A whole number of currency units.
    pub fn from_whole(whole: i64) -> Money {
        Money(whole as i128 * ONE)
    }

    /// `mantissa × 10^-scale`, exactly; `None` if it does not fit or needs more than 24 places.
    pub fn from_mantissa_scale(mantissa: i128, scale: u32) -> Option<Money> {
        if scale > MONEY_SCALE {
            // Accept only if the extra places are zeros.
            let extra = scale - MONEY_SCALE;
            if extra as usize >= POW10.len() {
                return if mantissa == 0 {
                    Some(Money::ZERO)
                } else {
                    None
                };
            }
            let p = POW10[extra as usize];
            if mantissa % p != 0 {
                return None;
            }
            return Some(Money(mantissa / p));
        }
        mantissa
            .checked_mul(POW10[(MONEY_SCALE - scale) as usize])
            .map(Money)
    }

    /// The shortest exact `(mantissa, scale)` spelling: no trailing zeros in the mantissa.
    pub fn to_mantissa_scale(self) -> (i128, u32) {
        if self.0 == 0 {
            return (0, 0);
        }
        // The largest k <= 24 with 10^k | units, without a 128-bit division (a slow library
        // call): 10^k = 2^k · 5^k, so k is bounded by the binary trailing zeros, and because 5^k
        // is odd, y is divisible by 5^k exactly when y · (5^k)^-1 (mod 2^128) <= (2^128-1) / 5^k,
        // in which case that product is the quotient (Granlund & Montgomery, 1994).
        let magnitude = self.0.unsigned_abs();
        let mut k = magnitude.trailing_zeros().min(MONEY_SCALE);
        loop {
            let y = magnitude >> k;
            let q = y.wrapping_mul(INVERSE_POW5[k as usize]);
            if q <= MAX_QUOTIENT_POW5[k as usize] {
                let mantissa = if self.0 < 0 {
                    (q as i128).wrapping_neg()
                } else {
                    q as i128
                };
                return (mantissa, MONEY_SCALE - k);
            }
            k -= 1; // k = 0 always succeeds (5^0 = 1)
        }
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
    pub fn abs(self) -> Money {
        Money(self.0.abs())
    }
    pub fn min(self, other: Money) -> Money {
        if self <= other {
            self
        } else {
            other
        }
    }
    pub fn max(self, other: Money) -> Money {
        if self >= other {
            self
        } else {
            other
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, Overflow> {
        self.0.checked_add(other.0).map(Money).ok_or(Overflow)
    }
    pub fn checked_sub(self, other: Money) -> Result<Money, Overflow> {
        self.0.checked_sub(other.0).map(Money).ok_or(Overflow)
    }
    pub fn checked_neg(self) -> Result<Money, Overflow> {
        self.0.checked_neg().map(Money).ok_or(Overflow)
    }

    /// Parse a decimal such as `1234.56`, `-0.29`, `+7`, `1.5E-3`. Exact or refused.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        parse_decimal(text.as_bytes()).map_err(|kind| kind.into_error(text))
    }

    /// Multiply by a factor, rounding half to even at 10^-24 when the exact product needs more
    /// places (only possible when both operands use many places).
    pub fn mul_factor_rounded(self, factor: Factor) -> Result<Money, Overflow> {
        // self × m / 10^k, computed as q×m + (r×m)/10^k with self = q×10^k + r, so that no
        // intermediate exceeds i128 while |m| <= 10^14 and k <= 24.
        let p = POW10[factor.scale as usize];
        let m = factor.mantissa;
        let q = self.0 / p;
        let r = self.0 % p;
        let whole = q.checked_mul(m).ok_or(Overflow)?;
        let rm = r.checked_mul(m).ok_or(Overflow)?;
        let frac_q = rm / p;
        let frac_r = rm % p;
        let mut result = whole.checked_add(frac_q).ok_or(Overflow)?;
        // Round half to even on the remainder frac_r / p (sign follows rm).
        let twice = frac_r.abs().checked_mul(2).ok_or(Overflow)?;
        let round_away = match twice.cmp(&p) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => result % 2 != 0,
        };
        if round_away && frac_r != 0 {
            result = if rm < 0 {
                result.checked_sub(1).ok_or(Overflow)?
            } else {
                result.checked_add(1).ok_or(Overflow)?
            };
        }
        Ok(Money(result))
    }

    /// A `rust_decimal::Decimal` of the same value, rounded half to even to the 28 significant
    /// digits a Decimal holds when the exact value does not fit. For analytics and display only.
    pub fn to_decimal(self) -> Decimal {
        let (mut m, mut s) = self.to_mantissa_scale();
        const LIMIT: i128 = 79_228_162_514_264_337_593_543_950_335; // 2^96 - 1
        while m.abs() > LIMIT {
            let rem = m % 10;
            m /= 10;
            s -= 1;
            if rem.abs() > 5 || (rem.abs() == 5 && m % 2 != 0) {
                m += rem.signum();
            }
        }
        Decimal::from_i128_with_scale(m, s)
    }

    /// The exact value of a Decimal, rounded half to even at 10^-24 if it has more places.
    pub fn from_decimal(d: Decimal) -> Result<Money, Overflow> {
        let d = d.round_dp_with_strategy(
            MONEY_SCALE,
            rust_decimal::RoundingStrategy::MidpointNearestEven,
        );
        Money::from_mantissa_scale(d.mantissa(), d.scale()).ok_or(Overflow)
    }

    /// The exact value as text, shortest spelling: `9899.71`, `-0.29`, `50000`, `0`.
    pub fn to_plain_string(self) -> String {
        let mut out = String::with_capacity(24);
        self.write_plain(&mut out, false);
        out
    }

    /// The exact value as a JSON number the way Azure writes amounts: at least one decimal
    /// place (`50000.0`, `9899.71`, `-100.0`, `0.0`).
    pub fn to_json_number(self) -> String {
        let mut out = String::with_capacity(24);
        self.write_plain(&mut out, true);
        out
    }

    fn write_plain(self, out: &mut String, force_fraction: bool) {
        let (m, s) = self.to_mantissa_scale();
        if m < 0 {
            out.push('-');
        }
        let digits = m.unsigned_abs().to_string();
        let s = s as usize;
        if s == 0 {
            out.push_str(&digits);
            if force_fraction {
                out.push_str(".0");
            }
        } else if digits.len() > s {
            let (int, frac) = digits.split_at(digits.len() - s);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            for _ in 0..(s - digits.len()) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    }

    /// Rounded half to even to `places` decimals, with thousands separators: `1,234.50`.
    pub fn to_display(self, places: u32) -> String {
        let d = self
            .to_decimal()
            .round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointNearestEven);
        let text = format!("{:.*}", places as usize, d);
        group_thousands(&text)
    }
}

/// Insert `,` between groups of three integer digits of a plain decimal text.
pub fn group_thousands(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut grouped = String::with_capacity(text.len() + int.len() / 3);
    grouped.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    grouped.push_str(frac);
    grouped
}

/// The plain decimal, so decisions printed with `{:?}` (audit findings, test failures) read
/// like amounts: `10635.34`, not a count of 10^-24 units.
impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_plain_string())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_plain_string())
    }
}

/// Encoded as the canonical `(mantissa, scale)` pair, so equal values encode to equal bytes
/// whatever spelling they were read from (`100`, `100.00`, `1E2`).
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (m, s) = self.to_mantissa_scale();
        (m, s as u8).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (m, s): (i128, u8) = Deserialize::deserialize(deserializer)?;
        if m != 0 && (s as u32 > MONEY_SCALE || (s > 0 && m % 10 == 0)) {
            return Err(serde::de::Error::custom("non-canonical amount encoding"));
        }
        Money::from_mantissa_scale(m, s as u32)
            .ok_or_else(|| serde::de::Error::custom("amount out of range"))
    }
}

/// A decimal multiplier (a PEC rate, a what-if factor): at most 14 significant digits and 24
/// decimal places, kept as `mantissa × 10^-scale` in lowest terms.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Factor {
    mantissa: i128,
    scale: u32,
}

/// Decoding checks what `Factor::parse` guarantees, so a damaged record cannot make a factor
/// that panics later.
impl<'de> Deserialize<'de> for Factor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            mantissa: i128,
            scale: u32,
        }
        let raw = Raw::deserialize(deserializer)?;
        // Lowest terms: no trailing zero in the mantissa unless the scale is already zero.
        let canonical = raw.scale == 0 || raw.mantissa % 10 != 0;
        if raw.scale > MONEY_SCALE
            || raw.mantissa.unsigned_abs() > 100_000_000_000_000
            || !canonical
        {
            return Err(serde::de::Error::custom(
                "factor out of range or not in lowest terms",
            ));
        }
        Ok(Factor {
            mantissa: raw.mantissa,
            scale: raw.scale,
        })
    }
}

impl Factor {
    pub const ONE: Factor = Factor {
        mantissa: 1,
        scale: 0,
    };

    /// A factor from its decimal text: at most [`MAX_FACTOR_DIGITS`] significant digits
    /// (after dropping trailing zeros) and 24 decimal places.
    pub fn parse(text: &str) -> Result<Factor, MoneyError> {
        let money = Money::parse(text)?;
        let (m, s) = money.to_mantissa_scale();
        let digits = m.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
        if digits > MAX_FACTOR_DIGITS {
            return Err(MoneyError::TooManyDigits(text.to_string(), digits));
        }
        Ok(Factor {
            mantissa: m,
            scale: s,
        })
    }

    pub fn as_money(self) -> Money {
        Money::from_mantissa_scale(self.mantissa, self.scale).expect("factor fits money")
    }

    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }
}

impl fmt::Debug for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Factor({})", self.as_money())
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_money(), f)
    }
}

enum ParseFail {
    Empty,
    Syntax,
    TooPrecise(u32),
    OutOfRange,
}

impl ParseFail {
    fn into_error(self, text: &str) -> MoneyError {
        let shown: String = text.chars().take(40).collect();
        match self {
            ParseFail::Empty => MoneyError::Empty,
            ParseFail::Syntax => MoneyError::Syntax(shown),
            ParseFail::TooPrecise(n) => MoneyError::TooPrecise(shown, n),
            ParseFail::OutOfRange => MoneyError::OutOfRange(shown),
        }
    }
}

/// The hot parser: bytes to 10^-24 units with no allocation.
fn parse_decimal(bytes: &[u8]) -> Result<Money, ParseFail> {
    if bytes.is_empty() {
        return Err(ParseFail::Empty);
    }
    let mut i = 0;
    let negative = match bytes[0] {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    // Significant digits accumulate into `mantissa`; leading zeros are skipped, and at most 38
    // digits are kept before we know the result is out of range.
    let mut mantissa: i128 = 0;
    let mut digits_seen = 0u32;
    let mut significant = 0u32;
    let mut frac_places: i64 = 0;
    let mut seen_dot = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'0'..=b'9' => {
                digits_seen += 1;
                if seen_dot {
                    frac_places += 1;
                }
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                    if significant > 38 {
                        return Err(ParseFail::OutOfRange);
                    }
                    mantissa = mantissa * 10 + (b - b'0') as i128;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return Err(ParseFail::Syntax),
        }
        i += 1;
    }
    if digits_seen == 0 {
        return Err(ParseFail::Syntax);
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() {
        // exponent part
        i += 1;
        let mut exp_negative = false;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            exp_negative = bytes[i] == b'-';
            i += 1;
        }
        if i >= bytes.len() {
            return Err(ParseFail::Syntax);
        }
        while i < bytes.len() {
            let b = bytes[i];
            if !b.is_ascii_digit() {
                return Err(ParseFail::Syntax);
            }
            exponent = exponent * 10 + (b - b'0') as i64;
            if exponent > 1000 {
                return Err(ParseFail::OutOfRange);
            }
            i += 1;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    // value = mantissa × 10^(exponent - frac_places); drop trailing zeros of the mantissa.
    let mut scale = frac_places - exponent;
    while mantissa != 0 && mantissa % 10 == 0 && scale > 0 {
        mantissa /= 10;
        scale -= 1;
    }
    if mantissa == 0 {
        return Ok(Money::ZERO);
    }
    if scale > MONEY_SCALE as i64 {
        return Err(ParseFail::TooPrecise(scale as u32));
    }
    let shift = MONEY_SCALE as i64 - scale;
    if shift > 38 {
        return Err(ParseFail::OutOfRange);
    }
    let units = mantissa
        .checked_mul(POW10[shift as usize])
        .ok_or(ParseFail::OutOfRange)?;
    if units >= MONEY_MAX_UNITS * ONE {
        return Err(ParseFail::OutOfRange);
    }
    Ok(Money(if negative { -units } else { units }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_exactly() {
        assert_eq!(m("9899.71").to_plain_string(), "9899.71");
        assert_eq!(m("-0.29").to_plain_string(), "-0.29");
        assert_eq!(m("100.00").to_plain_string(), "100");
        assert_eq!(m("+7").to_plain_string(), "7");
        assert_eq!(m("1.5E-3").to_plain_string(), "0.0015");
        assert_eq!(m("2e3").to_plain_string(), "2000");
        assert_eq!(m(".5").to_plain_string(), "0.5");
        assert_eq!(
            m("0.0000000072922557592391990000").to_plain_string(),
            "0.000000007292255759239199"
        );
        assert_eq!(m("50000").to_json_number(), "50000.0");
        assert_eq!(m("0").to_json_number(), "0.0");
        assert_eq!(m("-100").to_json_number(), "-100.0");
        assert_eq!(m("0.05").to_json_number(), "0.05");
    }

    #[test]
    fn equal_values_are_equal_whatever_the_spelling() {
        assert_eq!(m("100"), m("100.000"));
        assert_eq!(m("1E2"), m("100"));
        assert_eq!(m("-0"), Money::ZERO);
    }

    #[test]
    fn refuses_what_it_cannot_keep_exactly() {
        assert!(matches!(Money::parse(""), Err(MoneyError::Empty)));
        assert!(matches!(Money::parse("12,50"), Err(MoneyError::Syntax(_))));
        assert!(matches!(Money::parse("1.2.3"), Err(MoneyError::Syntax(_))));
        assert!(matches!(Money::parse("abc"), Err(MoneyError::Syntax(_))));
        assert!(matches!(Money::parse("-"), Err(MoneyError::Syntax(_))));
        assert!(matches!(Money::parse("1e"), Err(MoneyError::Syntax(_))));
        assert!(matches!(Money::parse(" 1"), Err(MoneyError::Syntax(_))));
        assert!(matches!(
            Money::parse("0.0000000000000000000000001"),
            Err(MoneyError::TooPrecise(_, 25))
        ));
        assert!(matches!(
            Money::parse("100000000000000"),
            Err(MoneyError::OutOfRange(_))
        ));
        assert!(Money::parse("99999999999999.999999").is_ok());
    }

    #[test]
    fn display_groups_thousands_and_rounds_half_even() {
        assert_eq!(m("1234567.891").to_display(2), "1,234,567.89");
        assert_eq!(m("-1234.5").to_display(2), "-1,234.50");
        assert_eq!(m("0.125").to_display(2), "0.12");
        assert_eq!(m("999").to_display(2), "999.00");
    }

    #[test]
    fn a_factor_with_too_many_digits_names_the_real_limit() {
        // Before: "is out of range (the ledger keeps amounts below 10^14 in magnitude)".
        assert_eq!(
            Factor::parse("0.150000000000001").unwrap_err().to_string(),
            "'0.150000000000001' has 15 significant digits; a rate or factor has at most 14 (like 0.12345678901234)"
        );
        assert!(Factor::parse("0.12345678901234").is_ok());
        assert!(Factor::parse("0.15000000000000000000").is_ok());
        assert!(Factor::parse("0").is_ok());
        assert!(matches!(
            Factor::parse("0.1500000000000000000000001"),
            Err(MoneyError::TooPrecise(..))
        ));
    }

    #[test]
    fn factor_multiplication_is_exact_when_possible_and_half_even_otherwise() {
        let rate = Factor::parse("0.15").unwrap();
        assert_eq!(m("47").mul_factor_rounded(rate).unwrap(), m("7.05"));
        let f = Factor::parse("1.5").unwrap();
        assert_eq!(m("-10.01").mul_factor_rounded(f).unwrap(), m("-15.015"));
        // 0.000000000000000000000001 × 0.5 = 5e-25: half, rounds to even (0).
        let half = Factor::parse("0.5").unwrap();
        assert_eq!(
            Money::from_units(1).mul_factor_rounded(half).unwrap(),
            Money::ZERO
        );
        assert_eq!(
            Money::from_units(3).mul_factor_rounded(half).unwrap(),
            Money::from_units(2)
        );
        assert_eq!(
            Money::from_units(-3).mul_factor_rounded(half).unwrap(),
            Money::from_units(-2)
        );
    }

    #[test]
    fn mantissa_scale_is_lowest_terms() {
        for (text, m, s) in [
            ("0.29", 29, 2),
            ("100", 100, 0),
            ("120", 120, 0),
            ("0.000000000000000000000001", 1, 24),
            ("-7.5", -75, 1),
            ("1000000000000", 1_000_000_000_000, 0),
            ("0.10", 1, 1),
        ] {
            let (mm, ss) = Money::parse(text).unwrap().to_mantissa_scale();
            assert_eq!((mm, ss), (m, s), "{text}");
        }
    }

    #[test]
    fn damaged_dates_and_factors_do_not_decode() {
        let bad_date: Result<crate::Date, _> = serde_json::from_str("2147483647");
        assert!(bad_date.is_err());
        let bad_factor: Result<Factor, _> =
            serde_json::from_str(r#"{"mantissa": 1000000000000000000, "scale": 0}"#);
        assert!(bad_factor.is_err());
        let good: Factor = serde_json::from_str(r#"{"mantissa": 15, "scale": 2}"#).unwrap();
        assert_eq!(good, Factor::parse("0.15").unwrap());
    }

    #[test]
    fn serde_encoding_is_canonical() {
        let a = bincode_like(m("100.00"));
        let b = bincode_like(m("1E2"));
        assert_eq!(a, b);
    }

    fn bincode_like(x: Money) -> (i128, u32) {
        x.to_mantissa_scale()
    }

    fn naive_mantissa_scale(x: Money) -> (i128, u32) {
        if x.units() == 0 {
            return (0, 0);
        }
        let (mut m, mut s) = (x.units(), MONEY_SCALE);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        (m, s)
    }

    proptest! {
        #[test]
        fn mantissa_scale_equals_the_naive_division_loop(units in any::<i128>(), shift in 0u32..=24, small in -10_000_000_000i64..10_000_000_000, scale in 0u32..=24) {
            let x = Money::from_units(units / 10i128.pow(shift).max(1) * 10i128.pow(shift).max(1));
            prop_assert_eq!(x.to_mantissa_scale(), naive_mantissa_scale(x));
            let y = Money::from_mantissa_scale(small as i128, scale).unwrap();
            prop_assert_eq!(y.to_mantissa_scale(), naive_mantissa_scale(y));
            let z = Money::from_units(units);
            prop_assert_eq!(z.to_mantissa_scale(), naive_mantissa_scale(z));
        }

        #[test]
        fn text_round_trips(mantissa in -10_000_000_000_000i128..10_000_000_000_000i128, scale in 0u32..=10) {
            let x = Money::from_mantissa_scale(mantissa, scale).unwrap();
            prop_assert_eq!(Money::parse(&x.to_plain_string()).unwrap(), x);
            prop_assert_eq!(Money::parse(&x.to_json_number()).unwrap(), x);
        }

        #[test]
        fn decimal_round_trips_when_it_fits(mantissa in -10_000_000_000_000i64..10_000_000_000_000i64, scale in 0u32..=12) {
            let x = Money::from_mantissa_scale(mantissa as i128, scale).unwrap();
            prop_assert_eq!(Money::from_decimal(x.to_decimal()).unwrap(), x);
            prop_assert_eq!(x.to_decimal().to_string().parse::<Decimal>().unwrap().normalize(), Decimal::new(mantissa, scale).normalize());
        }

        #[test]
        fn factor_product_matches_decimal(a in -1_000_000_000i64..1_000_000_000, a_scale in 0u32..=4, f in -100_000i64..100_000, f_scale in 0u32..=4) {
            let x = Money::from_mantissa_scale(a as i128, a_scale).unwrap();
            let factor = Factor::parse(&Decimal::new(f, f_scale).to_string()).unwrap();
            let exact = Decimal::new(a, a_scale) * Decimal::new(f, f_scale);
            prop_assert_eq!(x.mul_factor_rounded(factor).unwrap(), Money::from_decimal(exact).unwrap());
        }
    }
}
