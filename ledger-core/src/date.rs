//! Calendar dates as a day number: small, `Copy`, ordered by one integer compare.
//!
//! The ledger has no notion of time of day; every date is a civil date in the billing
//! account's calendar. chrono does the calendar arithmetic at the edges.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// Days from 1970-01-01 (day 0) to this civil date. Always within [`Date::MIN`]..=[`Date::MAX`]:
/// decoding checks the range, so a damaged record gives an error, never a bad date.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Date(i32);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let days = i32::deserialize(deserializer)?;
        Date::from_day_number(days).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "day number {days} is outside 0001-01-01..9999-12-31"
            ))
        })
    }
}

/// Why a text is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a date (expected YYYY-MM-DD, a real calendar day from 0001-01-01 to 9999-12-31)"
)]
pub struct DateError(pub String);

/// A date computed from another (an expiry months on, the day after a deadline) that falls
/// outside [`Date::MIN`]..=[`Date::MAX`], the dates the log can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{from} {step} falls outside 0001-01-01..9999-12-31, the dates the ledger keeps")]
pub struct DateRangeError {
    /// The date computed from.
    pub from: Date,
    /// What was added, e.g. `+ 12 months` or `+ 1 day`.
    pub step: String,
}

const UNIX_EPOCH_FROM_CE: i32 = 719_163;

impl Date {
    /// The earliest and latest dates the ledger accepts.
    pub const MIN: Date = Date(-719_162); // 0001-01-01
    pub const MAX: Date = Date(2_932_896); // 9999-12-31

    /// The civil date `year-month-day`; `None` unless it is a real calendar day from
    /// 0001-01-01 to 9999-12-31 (year 0 and year 10000 are calendar days to chrono, not here).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        NaiveDate::from_ymd_opt(year, month, day).and_then(Date::from_naive)
    }

    /// `d` as a ledger date; `None` outside [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_naive(d: NaiveDate) -> Option<Date> {
        Date::from_day_number(d.num_days_from_ce() - UNIX_EPOCH_FROM_CE)
    }

    /// This date as chrono's.
    pub fn to_naive(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0 + UNIX_EPOCH_FROM_CE).expect("date in range")
    }

    /// Days since 1970-01-01.
    pub const fn day_number(self) -> i32 {
        self.0
    }

    /// The date `days` after 1970-01-01; `None` outside [`Date::MIN`]..=[`Date::MAX`].
    #[inline]
    pub fn from_day_number(days: i32) -> Option<Date> {
        if !(Date::MIN.0..=Date::MAX.0).contains(&days) {
            None
        } else {
            Some(Date(days))
        }
    }

    /// Parse `YYYY-MM-DD` (exactly ten characters, a real calendar day).
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let b = text.as_bytes();
        let fail = || DateError(text.chars().take(40).collect());
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(fail());
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let mut v = 0u32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + (c - b'0') as u32;
            }
            Some(v)
        };
        let (y, m, d) = match (num(0..4), num(5..7), num(8..10)) {
            (Some(y), Some(m), Some(d)) => (y, m, d),
            _ => return Err(fail()),
        };
        Date::from_ymd(y as i32, m, d).ok_or_else(fail)
    }

    pub fn year(self) -> i32 {
        self.to_naive().year()
    }
    pub fn month(self) -> u32 {
        self.to_naive().month()
    }
    pub fn day(self) -> u32 {
        self.to_naive().day()
    }

    /// `self + n` days, saturating at [`Date::MIN`] and [`Date::MAX`]: for what is only shown
    /// (a chart's span). A date that is decided or recorded uses [`Date::checked_add_days`].
    pub fn add_days(self, n: i32) -> Date {
        Date(self.0.saturating_add(n).clamp(Date::MIN.0, Date::MAX.0))
    }

    /// `self + n` days, or why it falls outside the dates the ledger keeps.
    pub fn checked_add_days(self, n: i32) -> Result<Date, DateRangeError> {
        self.0
            .checked_add(n)
            .and_then(Date::from_day_number)
            .ok_or_else(|| {
                let step = match n {
                    1 => "+ 1 day".to_string(),
                    -1 => "- 1 day".to_string(),
                    n if n < 0 => format!("- {} days", n.unsigned_abs()),
                    n => format!("+ {n} days"),
                };
                DateRangeError { from: self, step }
            })
    }

    /// Days from `self` to `other` (positive when `other` is later).
    pub fn days_until(self, other: Date) -> i32 {
        other.0 - self.0
    }

    /// `self + n` calendar months, saturating at [`Date::MAX`]: for what is only shown. A day
    /// past the end of the target month becomes its last day (2024-01-31 + 1 month =
    /// 2024-02-29). A date that is decided or recorded uses [`Date::checked_add_months`].
    pub fn add_months(self, n: u32) -> Date {
        self.checked_add_months(n).unwrap_or(Date::MAX)
    }

    /// `self + n` calendar months (clamped to the target month's last day like
    /// [`Date::add_months`]), or why it falls after [`Date::MAX`].
    pub fn checked_add_months(self, n: u32) -> Result<Date, DateRangeError> {
        self.to_naive()
            .checked_add_months(Months::new(n))
            .and_then(Date::from_naive)
            .ok_or_else(|| DateRangeError {
                from: self,
                step: months_step(n),
            })
    }

    /// `self - n` calendar months, clamped like [`Date::add_months`], saturating at
    /// [`Date::MIN`].
    pub fn sub_months(self, n: u32) -> Date {
        self.to_naive()
            .checked_sub_months(Months::new(n))
            .and_then(Date::from_naive)
            .unwrap_or(Date::MIN)
    }

    /// The first day of this date's month.
    pub fn month_start(self) -> Date {
        Date::from_ymd(self.year(), self.month(), 1).expect("first of month exists")
    }

    /// The last day of this date's month (9999-12-31 included).
    pub fn month_end(self) -> Date {
        let (year, month) = (self.year(), self.month());
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        let last = next
            .and_then(|d| d.pred_opt())
            .expect("a month has a last day");
        Date::from_naive(last).expect("the last day of a month in range is in range")
    }

    /// `2021-05-05T00:00:00.0000000Z`, the way Azure's APIs write datetimes.
    pub fn to_azure_datetime(self) -> String {
        format!("{}T00:00:00.0000000Z", self)
    }
}

fn months_step(n: u32) -> String {
    if n == 1 {
        "+ 1 month".to_string()
    } else {
        format!("+ {n} months")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_naive();
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

/// `2024-04-05`, so decisions printed with `{:?}` read like dates.
impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Date, DateError> {
        Date::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(d("2021-05-05").to_string(), "2021-05-05");
        assert_eq!(d("1970-01-01").day_number(), 0);
        assert_eq!(
            d("2021-05-05").to_azure_datetime(),
            "2021-05-05T00:00:00.0000000Z"
        );
        assert!(Date::parse("2021-02-29").is_err());
        assert!(Date::parse("2021-5-5").is_err());
        assert!(Date::parse("05/05/2021").is_err());
        assert!(Date::parse("").is_err());
    }

    #[test]
    fn calendar_months_clamp_to_month_end() {
        assert_eq!(d("2024-01-31").add_months(1), d("2024-02-29"));
        assert_eq!(d("2025-06-01").add_months(12), d("2026-06-01"));
        assert_eq!(d("2028-04-30").add_months(12), d("2029-04-30"));
        assert_eq!(d("2024-03-31").sub_months(1), d("2024-02-29"));
        assert_eq!(d("2024-02-10").month_end(), d("2024-02-29"));
        assert_eq!(d("2024-02-10").month_start(), d("2024-02-01"));
    }

    #[test]
    fn dates_outside_0001_to_9999_are_not_dates() {
        assert!(Date::parse("0000-09-05").is_err());
        assert!(Date::parse("0000-01-01").is_err());
        assert_eq!(Date::parse("0001-01-01"), Ok(Date::MIN));
        assert_eq!(Date::parse("9999-12-31"), Ok(Date::MAX));
        assert!(Date::from_ymd(0, 9, 5).is_none());
        assert!(Date::from_ymd(10000, 1, 1).is_none());
        let e = Date::parse("0000-09-05").unwrap_err().to_string();
        assert!(e.contains("0001-01-01 to 9999-12-31"), "{e}");
    }

    #[test]
    fn checked_arithmetic_refuses_to_leave_the_range() {
        let e = d("9999-12-31").checked_add_days(1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "9999-12-31 + 1 day falls outside 0001-01-01..9999-12-31, the dates the ledger keeps"
        );
        assert_eq!(d("9999-12-30").checked_add_days(1), Ok(Date::MAX));
        assert!(Date::MIN.checked_add_days(-1).is_err());
        assert!(Date::MAX.checked_add_days(i32::MAX).is_err());
        let e = d("9999-01-15").checked_add_months(12).unwrap_err();
        assert_eq!(
            e.to_string(),
            "9999-01-15 + 12 months falls outside 0001-01-01..9999-12-31, the dates the ledger keeps"
        );
        assert_eq!(d("9998-12-31").checked_add_months(12), Ok(Date::MAX));
        assert!(d("2025-01-01").checked_add_months(u32::MAX).is_err());
    }

    #[test]
    fn saturating_arithmetic_stays_in_range() {
        // Before: 9999-12-31 + 12 months gave a day number past Date::MAX, which the log
        // could not read back.
        assert_eq!(d("9999-12-31").add_months(12), Date::MAX);
        assert_eq!(d("0001-06-30").sub_months(12), Date::MIN);
        assert_eq!(Date::MAX.add_days(i32::MAX), Date::MAX);
        assert_eq!(Date::MIN.add_days(i32::MIN), Date::MIN);
        assert_eq!(d("9999-12-10").month_end(), Date::MAX);
        assert_eq!(d("9999-12-10").month_start(), d("9999-12-01"));
    }

    #[test]
    fn orders_by_day() {
        assert!(d("2024-12-31") < d("2025-01-01"));
        assert_eq!(d("2024-12-31").days_until(d("2025-01-01")), 1);
        assert_eq!(d("2024-12-31").add_days(1), d("2025-01-01"));
    }
}
