//! Projected spend (issue 16): the run rate's mix of an account, and the future monthly
//! invoices made from it, shared by the what-if `project` change and `ledger plan`.
//!
//! The **mix** of an account as of a month is its eligible spend over the run-rate window
//! (R-ALERT-2: the settled months among the `window` complete months before that month), by
//! charge kind and billing profile, divided by the months measured and rounded to the cent
//! (half to even): what one more month at the run rate would bill. Like the run rate it is
//! taken before credits, a refund under the kind it corrects, without one-off purchases
//! ([`is_one_off`]), and only kinds that count toward a MACC or a CACO when paid (R-ELIG's
//! "paid" column of the account's rulebook): support, which counts nowhere, is not projected.
//! A kind and profile whose net spend is not positive is left out.
//!
//! A projected month is an engine-made `WHATIF-YYYY-MM` invoice (dated the 5th of the next
//! month, period = the month, one line per mix entry dated the 15th), settled by the same
//! `Ledger::apply` as every other invoice.

use std::collections::{BTreeMap, BTreeSet};

use ledger_core::rulebook::{rulebook, Rulebook, CURRENT_VERSION};
use ledger_core::{AccountState, ChargeKind, Date, Fact, Money};
use ledger_store::{ReadOptions, Store, StoreError};

use crate::projection::spend_kind;
use crate::run_rate::{counts_when_paid, is_one_off, settled_months, window_months, Counts};

/// Units of 10^-24 in one cent.
const CENT_UNITS: i128 = 10_000_000_000_000_000_000_000;

/// One cent.
pub const CENT: Money = Money::from_units(CENT_UNITS);

/// `numerator / denominator` units, rounded half to even to the cent (`denominator > 0`).
fn cents_of_quotient(numerator: i128, denominator: i128) -> i128 {
    let d = denominator.checked_mul(CENT_UNITS).unwrap_or(i128::MAX);
    let q = numerator.div_euclid(d);
    let r = numerator.rem_euclid(d);
    // 2r may overflow only when d is near i128::MAX; compare r with d − r instead.
    match r.cmp(&(d - r)) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 == 0 => q,
        std::cmp::Ordering::Equal => q + 1,
    }
}

/// `amount` rounded half to even to the cent.
pub fn to_cent(amount: Money) -> Money {
    Money::from_units(cents_of_quotient(amount.units(), 1) * CENT_UNITS)
}

/// `total / n` rounded half to even to the cent (`n > 0`).
pub fn per_month(total: Money, n: u64) -> Money {
    Money::from_units(cents_of_quotient(total.units(), i128::from(n.max(1))) * CENT_UNITS)
}

/// `amount` in whole cents, rounded half to even.
pub fn cents(amount: Money) -> i128 {
    cents_of_quotient(amount.units(), 1)
}

/// A count of cents as money.
pub fn from_cents(cents: i128) -> Money {
    Money::from_units(cents.saturating_mul(CENT_UNITS))
}

/// One kind and billing profile of a mix, with its monthly amount (to the cent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixEntry {
    pub kind: ChargeKind,
    pub profile: String,
    pub monthly: Money,
}

/// What one month at the run rate bills an account, by kind and profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mix {
    /// By kind, then profile.
    pub entries: Vec<MixEntry>,
    /// First days of the months measured (settled months of the window), oldest first.
    pub months: Vec<Date>,
    /// The projected kinds' spend of each month measured, in `months` order (the month-to-month
    /// variation `plan --simulate` draws from).
    pub totals: Vec<Money>,
}

impl Mix {
    /// The monthly amount of the entries whose kind counts toward `counts` under `rb`.
    pub fn counting(&self, rb: &Rulebook, counts: Counts) -> Money {
        self.entries
            .iter()
            .filter(|e| counts_when_paid(rb, e.kind, counts))
            .fold(Money::ZERO, |sum, e| {
                sum.checked_add(e.monthly).unwrap_or(sum)
            })
    }
}

/// Whose mix to measure: an account, the first projected month, the window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MixQuery {
    pub account: String,
    /// The window ends before this date's month.
    pub as_of: Date,
    pub window: u32,
}

/// The rulebook an account settles under (the current one if its version is unknown).
pub fn account_rulebook(acct: &AccountState) -> &'static Rulebook {
    rulebook(acct.terms.rulebook_version)
        .or_else(|| rulebook(CURRENT_VERSION))
        .expect("the current rulebook exists")
}

/// Whether a line of `kind` (its spend kind) is projected: recurring, and counting toward a
/// MACC or a CACO when paid.
pub fn projected_kind(rb: &Rulebook, kind: ChargeKind) -> bool {
    !is_one_off(kind)
        && (counts_when_paid(rb, kind, Counts::Macc) || counts_when_paid(rb, kind, Counts::Caco))
}

/// What one query sums while the log is read.
struct Tally<'a> {
    acct: &'a AccountState,
    rb: &'static Rulebook,
    months: BTreeSet<Date>,
    sums: BTreeMap<(ChargeKind, String), Money>,
    by_month: BTreeMap<Date, Money>,
}

/// The mix of every query, reading the recorded invoices of `store` once. `accounts` gives
/// each account's state (its settled months and rulebook); a query for an account it does not
/// hold gets an empty mix.
pub fn read_mixes(
    store: &Store,
    accounts: &BTreeMap<String, AccountState>,
    queries: &[MixQuery],
) -> Result<Vec<Mix>, StoreError> {
    let mut tallies: Vec<Option<Tally>> = queries
        .iter()
        .map(|q| {
            let acct = accounts.get(&q.account)?;
            let settled = settled_months(acct);
            let months = window_months(q.as_of, Date::MIN, q.window)
                .into_iter()
                .filter(|m| settled.contains(m))
                .collect();
            Some(Tally {
                acct,
                rb: account_rulebook(acct),
                months,
                sums: BTreeMap::new(),
                by_month: BTreeMap::new(),
            })
        })
        .collect();
    if tallies.iter().flatten().any(|t| !t.months.is_empty()) {
        let reader = store.reader(ReadOptions {
            from_seq: 0,
            verify_chain: false,
        });
        for entry in reader {
            let entry = entry?;
            let Fact::Invoice(inv) = &entry.fact else {
                continue;
            };
            for t in tallies.iter_mut().flatten() {
                if t.acct.account != inv.account {
                    continue;
                }
                for line in &inv.lines {
                    let kind = spend_kind(line.kind, line.corrects_kind);
                    if !t.months.contains(&line.charge_date.month_start())
                        || !projected_kind(t.rb, kind)
                    {
                        continue;
                    }
                    let profile = inv.profiles.get(line.profile as usize);
                    let key = (kind, profile.cloned().unwrap_or_default());
                    let sum = t.sums.entry(key).or_insert(Money::ZERO);
                    *sum = sum.checked_add(line.amount).unwrap_or(*sum);
                    let month = t.by_month.entry(line.charge_date.month_start());
                    let sum = month.or_insert(Money::ZERO);
                    *sum = sum.checked_add(line.amount).unwrap_or(*sum);
                }
            }
        }
    }
    Ok(tallies
        .into_iter()
        .map(|t| t.map(Tally::mix).unwrap_or_default())
        .collect())
}

impl Tally<'_> {
    fn mix(self) -> Mix {
        let n = self.months.len() as u64;
        let entries = self
            .sums
            .into_iter()
            .map(|((kind, profile), sum)| MixEntry {
                kind,
                profile,
                monthly: per_month(sum, n),
            })
            .filter(|e| e.monthly.is_positive())
            .collect();
        let totals = self
            .months
            .iter()
            .map(|m| self.by_month.get(m).copied().unwrap_or(Money::ZERO))
            .collect();
        Mix {
            entries,
            months: self.months.into_iter().collect(),
            totals,
        }
    }
}

/// The mix with the entries counting toward `counts` re-split to total exactly `monthly`
/// (each in proportion to its run-rate amount, to the cent: every entry but the last rounded
/// down, the last taking the rest), the other entries kept at their run-rate amounts. When no
/// entry counts toward it, `monthly` is one `usage` entry on the mix's first profile (the
/// account id when the mix is empty). When `monthly` equals the counting entries' total, the
/// mix comes back unchanged.
pub fn resplit(mix: &Mix, rb: &Rulebook, counts: Counts, monthly: Money, account: &str) -> Mix {
    let counting: Vec<usize> = (0..mix.entries.len())
        .filter(|&i| counts_when_paid(rb, mix.entries[i].kind, counts))
        .collect();
    let mut out = mix.clone();
    let Some(&last) = counting.last() else {
        let profile = mix
            .entries
            .first()
            .map_or_else(|| account.to_string(), |e| e.profile.clone());
        out.entries.push(MixEntry {
            kind: ChargeKind::Usage,
            profile,
            monthly,
        });
        return out;
    };
    let total: i128 = counting
        .iter()
        .map(|&i| cents(mix.entries[i].monthly))
        .sum();
    let want = cents(monthly);
    let mut given = 0i128;
    for &i in &counting {
        let part = if i == last {
            want - given
        } else {
            // total > 0: every entry of a mix is positive.
            want.saturating_mul(cents(mix.entries[i].monthly)) / total
        };
        given += part;
        out.entries[i].monthly = from_cents(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn amounts_round_half_to_even_at_the_cent() {
        assert_eq!(to_cent(m("1.005")), m("1.00"));
        assert_eq!(to_cent(m("1.015")), m("1.02"));
        assert_eq!(to_cent(m("-1.015")), m("-1.02"));
        assert_eq!(to_cent(m("2.0049")), m("2.00"));
        assert_eq!(per_month(m("100"), 3), m("33.33"));
        assert_eq!(per_month(m("200"), 3), m("66.67"));
        assert_eq!(per_month(m("5100"), 5), m("1020"));
    }

    #[test]
    fn a_resplit_keeps_the_proportions_and_totals_exactly() {
        let rb = rulebook(CURRENT_VERSION).unwrap();
        let mix = Mix {
            entries: vec![
                MixEntry {
                    kind: ChargeKind::Usage,
                    profile: "A".into(),
                    monthly: m("100"),
                },
                MixEntry {
                    kind: ChargeKind::Usage,
                    profile: "B".into(),
                    monthly: m("200"),
                },
                MixEntry {
                    kind: ChargeKind::MarketplaceEligible,
                    profile: "A".into(),
                    monthly: m("50"),
                },
            ],
            months: vec![],
            totals: vec![],
        };
        // CACO: Marketplace counts toward no CACO, so it stays at 50.
        let r = resplit(&mix, rb, Counts::Caco, m("1000"), "x");
        let amounts: Vec<Money> = r.entries.iter().map(|e| e.monthly).collect();
        assert_eq!(amounts, [m("333.33"), m("666.67"), m("50")]);
        assert_eq!(resplit(&mix, rb, Counts::Caco, m("300"), "x"), mix);
        let none = resplit(&Mix::default(), rb, Counts::Macc, m("7"), "acct");
        assert_eq!(
            none.entries,
            [MixEntry {
                kind: ChargeKind::Usage,
                profile: "acct".into(),
                monthly: m("7")
            }]
        );
    }
}
