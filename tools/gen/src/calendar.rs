//! The little civil-calendar arithmetic the generator needs: months, their lengths, and dates
//! written as `YYYY-MM-DD`. Hand-written (no chrono) so the output cannot change with a
//! dependency, and so dates are formatted once per invoice, not once per line.

use std::fmt;

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1..=12.
    pub month: u32,
}

/// A civil date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl Month {
    pub const fn new(year: i32, month: u32) -> Month {
        Month { year, month }
    }

    /// `self + n` months (`n` may be negative).
    pub fn add(self, n: i64) -> Month {
        let index = self.year as i64 * 12 + (self.month as i64 - 1) + n;
        Month {
            year: index.div_euclid(12) as i32,
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    pub fn days(self) -> u32 {
        match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if is_leap(self.year) => 29,
            _ => 28,
        }
    }

    /// Day `day` of this month, clamped to its last day.
    pub fn day(self, day: u32) -> Day {
        Day {
            year: self.year,
            month: self.month,
            day: day.clamp(1, self.days()),
        }
    }

    pub fn first(self) -> Day {
        self.day(1)
    }

    pub fn last(self) -> Day {
        self.day(31)
    }

    /// `YYYY-MM`.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

impl Day {
    /// `YYYY-MM-DD` as bytes (years 0..=9999).
    pub fn bytes(self) -> [u8; 10] {
        let y = self.year.clamp(0, 9999) as u32;
        let d = |n: u32| b'0' + n as u8;
        [
            d(y / 1000),
            d(y / 100 % 10),
            d(y / 10 % 10),
            d(y % 10),
            b'-',
            d(self.month / 10),
            d(self.month % 10),
            b'-',
            d(self.day / 10),
            d(self.day % 10),
        ]
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes();
        f.write_str(std::str::from_utf8(&b).expect("ascii"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_calendar_months_and_days() {
        let jan = Month::new(2024, 1);
        assert_eq!(jan.add(1).days(), 29);
        assert_eq!(jan.add(13).days(), 28);
        assert_eq!(jan.add(-1), Month::new(2023, 12));
        assert_eq!(jan.add(11), Month::new(2024, 12));
        assert_eq!(jan.add(12), Month::new(2025, 1));
        assert_eq!(Month::new(2100, 2).days(), 28);
        assert_eq!(Month::new(2000, 2).days(), 29);
        assert_eq!(jan.last().to_string(), "2024-01-31");
        assert_eq!(Month::new(2024, 3).day(5).to_string(), "2024-03-05");
        assert_eq!(jan.label(), "2024-01");
    }
}
