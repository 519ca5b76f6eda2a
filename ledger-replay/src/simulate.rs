//! `ledger plan --simulate N [--seed S]` (issue 16): N futures of one commitment, each
//! projected month drawn from the run-rate window's month-to-month variation, settled on a
//! fork like every plan (R-PLAN-2) and closed through the deadline.
//!
//! A future's month `i` is the run-rate mix scaled by `t_j / mean`, where `t_j` is the
//! projected kinds' spend of a window month `j` drawn uniformly (a bootstrap of the window's
//! months) and `mean` their average: each entry becomes `entry × t_j × n / Σt`, rounded half to
//! even to the cent (exact integer arithmetic). The draws come from SplitMix64 seeded with the
//! seed and the row's id, so a seed gives the same figures on every machine and for every
//! selection of rows (R-DET-1: the seed is an input, not a clock).
//!
//! Besides the shortfall at the deadline, each future's path is kept: what is left of the
//! target after each projected month's invoice. The band ([`Simulation::band`], drawn by the
//! report) is, month by month, the 10th, 50th and 90th percentile of what is left.

use ledger_core::{Date, Money};
use rust_decimal::Decimal;

use crate::project::{cents, from_cents, Mix};

/// Most futures one row may draw.
pub const MAX_RUNS: u32 = 100_000;

/// What N futures of one commitment show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    pub runs: u32,
    pub seed: u64,
    /// Futures that met the commitment.
    pub met: u32,
    /// Nearest-rank percentiles of the shortfall at the deadline.
    pub shortfall_p10: Money,
    pub shortfall_p50: Money,
    pub shortfall_p90: Money,
    /// Per projected month, by its invoice date: what is left of the target at three
    /// nearest-rank percentiles of the futures.
    pub band: Vec<BandPoint>,
}

/// One month of the band of futures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BandPoint {
    /// The projected month's invoice date.
    pub date: Date,
    /// What is left of the target after that invoice, at the 10th, 50th and 90th percentile.
    pub p10: Money,
    pub p50: Money,
    pub p90: Money,
}

impl Simulation {
    /// The share of futures that met it.
    pub fn probability(&self) -> Decimal {
        if self.runs == 0 {
            Decimal::ZERO
        } else {
            Decimal::from(self.met) / Decimal::from(self.runs)
        }
    }
}

/// SplitMix64: small, fast, and the same sequence everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is below 2^-40 for any window).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// FNV-1a of the row's id: each row draws its own sequence.
fn id_hash(id: &str) -> u64 {
    id.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// `a × num / den` rounded half to even (`den > 0`, all in cents).
fn scaled(a: i128, num: i128, den: i128) -> i128 {
    let p = a.saturating_mul(num);
    let q = p.div_euclid(den);
    let r = p.rem_euclid(den);
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

/// The mix of each window month: the run-rate mix at that month's level.
pub(crate) fn month_mixes(mix: &Mix) -> Vec<Mix> {
    let n = mix.totals.len() as i128;
    let sum: i128 = mix.totals.iter().map(|t| cents(*t)).sum();
    if n == 0 || sum <= 0 {
        return vec![mix.clone()];
    }
    mix.totals
        .iter()
        .map(|t| {
            let mut m = mix.clone();
            for e in &mut m.entries {
                e.monthly = from_cents(scaled(cents(e.monthly), cents(*t) * n, sum));
            }
            m
        })
        .collect()
}

/// The draws of one row: for each future, the window month each projected month takes.
pub(crate) struct Draws {
    rng: SplitMix64,
    /// Window months to draw from.
    choices: usize,
}

impl Draws {
    /// The draws of the row `id` from `seed`, over `choices` window months.
    pub(crate) fn new(seed: u64, id: &str, choices: usize) -> Draws {
        Draws {
            rng: SplitMix64(seed ^ id_hash(id)),
            choices: choices.max(1),
        }
    }

    /// One future of `months` projected months.
    pub(crate) fn future(&mut self, months: usize) -> Vec<usize> {
        (0..months).map(|_| self.rng.below(self.choices)).collect()
    }
}

/// The nearest-rank `p`th percentile of `sorted` (zero when empty).
fn rank(sorted: &[Money], p: usize) -> Money {
    let i = (p * sorted.len()).div_ceil(100).max(1) - 1;
    sorted.get(i).copied().unwrap_or(Money::ZERO)
}

/// What each future left of the target after each projected month, gathered month by month.
pub(crate) struct Paths {
    runs: usize,
    dates: Vec<Date>,
    /// `left[i]`: what each future left after month `i`.
    left: Vec<Vec<Money>>,
}

impl Paths {
    pub(crate) fn new(runs: u32) -> Paths {
        Paths {
            runs: runs as usize,
            dates: Vec::new(),
            left: Vec::new(),
        }
    }

    /// One future's path: (invoice date, what is left after it) per projected month.
    pub(crate) fn push(&mut self, path: &[(Date, Money)]) {
        if self.dates.is_empty() {
            self.dates = path.iter().map(|p| p.0).collect();
            self.left = (0..path.len())
                .map(|_| Vec::with_capacity(self.runs))
                .collect();
        }
        for (column, (_, left)) in self.left.iter_mut().zip(path) {
            column.push(*left);
        }
    }

    fn band(self) -> Vec<BandPoint> {
        self.dates
            .into_iter()
            .zip(self.left)
            .map(|(date, mut left)| {
                left.sort();
                BandPoint {
                    date,
                    p10: rank(&left, 10),
                    p50: rank(&left, 50),
                    p90: rank(&left, 90),
                }
            })
            .collect()
    }
}

/// The figures of `runs` futures: how many met, the shortfall percentiles and the band.
pub(crate) fn summarize(
    seed: u64,
    met: u32,
    mut shortfalls: Vec<Money>,
    paths: Paths,
) -> Simulation {
    shortfalls.sort();
    Simulation {
        runs: shortfalls.len() as u32,
        seed,
        met,
        shortfall_p10: rank(&shortfalls, 10),
        shortfall_p50: rank(&shortfalls, 50),
        shortfall_p90: rank(&shortfalls, 90),
        band: paths.band(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_rounds_half_to_even_and_splitmix_is_fixed() {
        assert_eq!(scaled(100, 3, 2), 150);
        assert_eq!(scaled(1, 1, 2), 0);
        assert_eq!(scaled(3, 1, 2), 2);
        assert_eq!(scaled(5, 1, 4), 1);
        let mut r = SplitMix64(0);
        // The published first output of SplitMix64 seeded with 0.
        assert_eq!(r.next(), 0xE220_A839_7B1D_CDAF);
        let mut paths = Paths::new(10);
        let day = Date::from_ymd(2027, 1, 1).unwrap();
        for k in (1..=10).rev() {
            paths.push(&[(day, Money::from_whole(k * 2))]);
        }
        let s = summarize(7, 3, (1..=10).rev().map(Money::from_whole).collect(), paths);
        assert_eq!(
            s.band,
            vec![BandPoint {
                date: day,
                p10: Money::from_whole(2),
                p50: Money::from_whole(10),
                p90: Money::from_whole(18),
            }]
        );
        assert_eq!(
            (s.runs, s.shortfall_p10, s.shortfall_p50, s.shortfall_p90),
            (
                10,
                Money::from_whole(1),
                Money::from_whole(5),
                Money::from_whole(9)
            )
        );
    }
}
