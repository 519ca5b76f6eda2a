//! Months of generated data, on `ledger_core::Date` (the generator has no calendar of its
//! own): a [`Month`] is the date of its first day, and dates are written once per invoice.

use ledger_core::Date;

/// A calendar month: the date of its first day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month(Date);

impl Month {
    /// `year`-`month` (1..=12).
    pub fn new(year: i32, month: u32) -> Month {
        Month(Date::from_ymd(year, month, 1).expect("a month of the generator's range"))
    }

    /// `self + n` months (`n` may be negative).
    pub fn add(self, n: i64) -> Month {
        let by = u32::try_from(n.unsigned_abs()).expect("a few hundred months at most");
        Month(if n < 0 {
            self.0.sub_months(by)
        } else {
            self.0.add_months(by)
        })
    }

    /// 1..=12.
    pub fn month(self) -> u32 {
        self.0.month()
    }

    /// How many days the month has.
    pub fn days(self) -> u32 {
        self.0.month_end().day()
    }

    /// Day `day` of this month, clamped to its last day.
    pub fn day(self, day: u32) -> Date {
        self.0.add_days(day.clamp(1, self.days()) as i32 - 1)
    }

    pub fn first(self) -> Date {
        self.0
    }

    pub fn last(self) -> Date {
        self.0.month_end()
    }

    /// `YYYY-MM`.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.0.year(), self.0.month())
    }
}

/// `YYYY-MM-DD` as bytes.
pub fn date_bytes(date: Date) -> [u8; 10] {
    let text = date.to_string();
    text.as_bytes().try_into().expect("a four-digit year")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_across_years_and_clamp_days() {
        let jan = Month::new(2024, 1);
        assert_eq!(jan.add(13).label(), "2025-02");
        assert_eq!(jan.add(-1).label(), "2023-12");
        assert_eq!(jan.add(1).days(), 29, "2024 is a leap year");
        assert_eq!(jan.add(1).day(31).to_string(), "2024-02-29");
        assert_eq!(&date_bytes(jan.last()), b"2024-01-31");
    }
}
