//! `ledger plan` (issue 16): for every open MACC, MACC milestone and CACO milestone, what it
//! takes to meet it.
//!
//! Each answer comes from replaying projected invoices on a fork of the account through the
//! same fold as everything else (`Ledger::apply`: credits first, the MACC queue, every rule),
//! then closing the fork through the deadline as `ledger close --through` does (R-EVAL). A fork
//! at a monthly amount `M` holds, for every month from the as-of month through the deadline's
//! month that no recorded invoice covers, the engine-made invoice of the account's run-rate
//! mix ([`crate::project`]) with the entries counting toward the commitment re-split to total
//! `M` ([`resplit`]); the other entries stay at their run-rate amounts.
//!
//! - `required_monthly` is the smallest `M`, to the cent, such that every larger `M` meets
//!   the commitment. Meeting is not monotone in `M` (more spend can complete a CACO milestone
//!   whose ACO award then pays usage that would have counted, and more spend still can reach
//!   it a month earlier, so that the award pays a month more of usage before the deadline), so
//!   the search first finds, for every open CACO milestone with an award ending by the
//!   deadline and every projected month, the smallest `M` that reaches it within that month
//!   and completes it, and tries that amount and one cent less; from the largest of those (and
//!   zero) that fails, it doubles to an `M` that meets, probes sixteen even steps between,
//!   and bisects from the largest that fails. The answer meets, and one cent less fails (on
//!   the same fork). `None` when no amount up to [`MAX_MONTHLY`] meets it (no month left to
//!   spend in).
//! - `projected_shortfall` and `projected_completion` are the fork at the run rate (R-ALERT-2,
//!   to the cent): the shortfall the deadline's evaluation leaves, and the date of the first
//!   projected invoice after which the target is reached (the as-of date when it already is).

use std::collections::BTreeMap;

use ledger_core::rulebook::Rulebook;
use ledger_core::state::{CacoMilestoneState, CacoState, MaccState};
use ledger_core::{AccountState, ApplyOptions, CoreError, Date, Fact, Ledger, Money, NoTrace};
use ledger_store::{Store, StoreError};

use crate::alerts::{caco_subjects, macc_subjects, Subject};
use crate::project::{
    account_rulebook, cents, from_cents, per_month, read_mixes, resplit, Mix, MixQuery,
};
use crate::projection::Projections;
use crate::run_rate::{run_rate, settled_months, Counts, RateQuery};
use crate::simulate::{month_mixes, summarize, Draws, Paths, Simulation};
use crate::whatif::projected_invoice;

/// The largest monthly amount the search tries (in the commitment's currency).
pub const MAX_MONTHLY: i64 = 1_000_000_000_000;

/// Even steps probed below the first amount that meets.
const PROBES: i128 = 16;

const OPTIONS: ApplyOptions = ApplyOptions {
    allow_whatif_ids: true,
};

/// What `ledger plan` looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanQuery<'a> {
    /// "Today": projection starts in this date's month; the run rate's window ends before it.
    pub as_of: Date,
    /// One account, or every account.
    pub account: Option<&'a str>,
    /// Months of the run-rate window.
    pub window: u32,
    /// `--simulate N --seed S`: N futures per row drawn from the window's months.
    pub simulate: Option<(u32, u64)>,
}

/// What a plan row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanKind {
    Macc,
    MaccMilestone,
    CacoMilestone,
}

impl PlanKind {
    /// The JSON `kind`.
    pub fn name(self) -> &'static str {
        match self {
            PlanKind::Macc => "macc",
            PlanKind::MaccMilestone => "macc_milestone",
            PlanKind::CacoMilestone => "caco_milestone",
        }
    }
}

/// One commitment's plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRow {
    pub account: String,
    pub currency: String,
    /// The bare id: `m1`, a milestone as `parent/id` (`caco-1/Milestone2`).
    pub id: String,
    pub kind: PlanKind,
    /// The MACC's end, the MACC milestone's due date, the CACO milestone's end.
    pub deadline: Date,
    /// What is left to count toward it.
    pub remaining: Money,
    /// Months from the as-of month through the deadline's month.
    pub months_left: u32,
    /// R-ALERT-2's run rate, to the cent.
    pub run_rate: Money,
    /// Months the run rate measured.
    pub rate_months: usize,
    /// The smallest monthly amount (to the cent) such that every larger one meets it; `None`
    /// when none up to [`MAX_MONTHLY`] does.
    pub required_monthly: Option<Money>,
    /// `required_monthly − run_rate`, at least zero.
    pub gap_monthly: Option<Money>,
    /// The shortfall at the deadline at the run rate.
    pub projected_shortfall: Money,
    /// When the target is reached at the run rate, if by the deadline.
    pub projected_completion: Option<Date>,
    /// CACO milestones: the award forfeited at the run rate (zero when it is met).
    pub award_at_risk: Option<Money>,
    /// With `--simulate`: what the futures drawn from the window's variation show.
    pub simulation: Option<Simulation>,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "planning {subject} of account {account}: the core refuses a projected month: {error}"
    )]
    Fold {
        account: String,
        subject: String,
        error: Box<CoreError>,
    },
}

/// The plan of every open MACC, MACC milestone and CACO milestone whose deadline is on or
/// after the as-of date, by deadline, kind, id. Reads the log once (the mixes).
pub fn plan(store: &Store, p: &Projections, q: &PlanQuery<'_>) -> Result<Vec<PlanRow>, PlanError> {
    let accounts: Vec<&AccountState> = p
        .ledger
        .accounts
        .values()
        .filter(|a| q.account.is_none_or(|name| name == a.account))
        .collect();
    let queries: Vec<MixQuery> = accounts
        .iter()
        .map(|a| MixQuery {
            account: a.account.clone(),
            as_of: q.as_of.month_start(),
            window: q.window,
        })
        .collect();
    let mixes = read_mixes(store, &p.ledger.accounts, &queries)?;
    let mut rows = Vec::new();
    for (acct, mix) in accounts.into_iter().zip(&mixes) {
        let views = p.views.get(&acct.account);
        for s in macc_subjects(acct).into_iter().chain(caco_subjects(acct)) {
            if s.kind == "caco" || q.as_of > s.end {
                continue;
            }
            let rate = run_rate(
                acct,
                views,
                &RateQuery {
                    counts: s.counts,
                    start: s.start,
                    end: s.end,
                    as_of: q.as_of,
                    window: q.window,
                },
            );
            let run_rate = per_month(rate.spend, rate.months.len() as u64);
            let fork = Fork::new(acct, mix, &s, q.as_of);
            let row =
                plan_row(&fork, &s, run_rate, rate.months.len(), q.simulate).map_err(|error| {
                    PlanError::Fold {
                        account: acct.account.clone(),
                        subject: fork.target.id(),
                        error: Box::new(error),
                    }
                })?;
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| {
        (a.deadline, a.kind as u8, &a.account, &a.id).cmp(&(
            b.deadline,
            b.kind as u8,
            &b.account,
            &b.id,
        ))
    });
    Ok(rows)
}

fn plan_row(
    fork: &Fork<'_>,
    s: &Subject,
    run_rate: Money,
    rate_months: usize,
    simulate: Option<(u32, u64)>,
) -> Result<PlanRow, CoreError> {
    let mut search = Search::new(fork);
    let required = search.required()?;
    let at_rate = fork.run(run_rate)?;
    let award_at_risk = match &fork.target {
        Target::CacoMilestone { award, .. } if !at_rate.meets => Some(*award),
        Target::CacoMilestone { .. } => Some(Money::ZERO),
        _ => None,
    };
    Ok(PlanRow {
        account: fork.acct.account.clone(),
        currency: fork.acct.currency.clone(),
        id: fork.target.id(),
        kind: fork.target.kind(),
        deadline: s.end,
        remaining: s.remaining,
        months_left: months_between(fork.as_of, s.end),
        run_rate,
        rate_months,
        required_monthly: required,
        gap_monthly: required.map(|r| r.checked_sub(run_rate).unwrap_or(r).max(Money::ZERO)),
        projected_shortfall: at_rate.shortfall,
        projected_completion: at_rate.completion,
        award_at_risk,
        simulation: match simulate {
            Some((runs, seed)) => Some(simulate_row(fork, run_rate, runs, seed)?),
            None => None,
        },
    })
}

/// `runs` futures of the fork's commitment around its run rate (the fork at the run rate, as
/// `projected_shortfall`), each projected month at the level of a window month drawn from
/// `seed` (`crate::simulate`).
fn simulate_row(
    fork: &Fork<'_>,
    run_rate: Money,
    runs: u32,
    seed: u64,
) -> Result<Simulation, CoreError> {
    let base = resplit(fork.mix, fork.rb, fork.counts, run_rate, &fork.acct.account);
    let mixes = month_mixes(&base);
    let mut draws = Draws::new(seed, &fork.target.id(), mixes.len());
    let mut met = 0;
    let mut shortfalls = Vec::with_capacity(runs as usize);
    let mut paths = Paths::new(runs);
    for _ in 0..runs {
        let future = draws.future(fork.months.len());
        let forked = fork.run_months(|i| &mixes[future[i]])?;
        met += u32::from(forked.meets);
        shortfalls.push(forked.shortfall);
        paths.push(&forked.path);
    }
    Ok(summarize(seed, met, shortfalls, paths))
}

/// Months from `from`'s month through `to`'s month (zero when `to` is in an earlier month).
pub fn months_between(from: Date, to: Date) -> u32 {
    let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
    months.max(0) as u32
}

/// Which commitment a fork is judged on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Macc {
        id: String,
    },
    MaccMilestone {
        macc: String,
        id: String,
    },
    CacoMilestone {
        caco: String,
        id: String,
        award: Money,
    },
}

impl Target {
    fn of(acct: &AccountState, s: &Subject) -> Target {
        match (&s.parent, s.counts) {
            (None, _) => Target::Macc { id: s.id.clone() },
            (Some(macc), Counts::Macc) => Target::MaccMilestone {
                macc: macc.clone(),
                id: s.id.clone(),
            },
            (Some(caco), Counts::Caco) => Target::CacoMilestone {
                caco: caco.clone(),
                id: s.id.clone(),
                award: caco_milestone(acct, caco, &s.id).map_or(Money::ZERO, |m| m.terms.award),
            },
        }
    }

    fn id(&self) -> String {
        match self {
            Target::Macc { id } => id.clone(),
            Target::MaccMilestone { macc, id } => format!("{macc}/{id}"),
            Target::CacoMilestone { caco, id, .. } => format!("{caco}/{id}"),
        }
    }

    fn kind(&self) -> PlanKind {
        match self {
            Target::Macc { .. } => PlanKind::Macc,
            Target::MaccMilestone { .. } => PlanKind::MaccMilestone,
            Target::CacoMilestone { .. } => PlanKind::CacoMilestone,
        }
    }

    /// Whether the target is reached in `acct` (before its deadline is evaluated).
    fn reached(&self, acct: &AccountState) -> bool {
        match self {
            Target::Macc { id } => acct
                .maccs
                .iter()
                .find(|m| m.terms.id == *id)
                .is_some_and(|m| m.amounts.balance.is_zero()),
            Target::MaccMilestone { macc, id } => acct
                .maccs
                .iter()
                .find(|m| m.terms.id == *macc)
                .and_then(|m| {
                    let t = m.terms.milestones.iter().find(|t| t.id == *id)?;
                    let cumulative = m.terms.amount.checked_sub(m.amounts.balance).ok()?;
                    Some(cumulative >= t.target)
                })
                .unwrap_or(false),
            Target::CacoMilestone { caco, id, .. } => {
                caco_milestone(acct, caco, id).is_some_and(|m| {
                    matches!(m.state, CacoMilestoneState::Completed { .. })
                        || m.progress >= m.terms.target
                })
            }
        }
    }

    /// Whether the deadline's evaluation met it, and the shortfall it left.
    fn judged(&self, acct: &AccountState) -> (bool, Money) {
        match self {
            Target::Macc { id } => match acct.maccs.iter().find(|m| m.terms.id == *id) {
                Some(m) => match m.state {
                    MaccState::Completed { .. } => (true, Money::ZERO),
                    MaccState::Expired { .. } => (false, m.amounts.balance),
                    _ => (m.amounts.balance.is_zero(), m.amounts.balance),
                },
                None => (false, Money::ZERO),
            },
            Target::MaccMilestone { macc, id } => {
                let Some(m) = acct.maccs.iter().find(|m| m.terms.id == *macc) else {
                    return (false, Money::ZERO);
                };
                let Some(k) = m.terms.milestones.iter().position(|t| t.id == *id) else {
                    return (false, Money::ZERO);
                };
                match m.milestone_outcomes.get(k).and_then(|o| o.as_ref()) {
                    Some(o) => (o.shortfall.is_zero(), o.shortfall),
                    None => {
                        let cumulative = m
                            .terms
                            .amount
                            .checked_sub(m.amounts.balance)
                            .unwrap_or(Money::ZERO);
                        let left = m.terms.milestones[k]
                            .target
                            .checked_sub(cumulative)
                            .unwrap_or(Money::ZERO)
                            .max(Money::ZERO);
                        (left.is_zero(), left)
                    }
                }
            }
            Target::CacoMilestone { caco, id, .. } => match caco_milestone(acct, caco, id) {
                Some(m) => {
                    let left = m
                        .terms
                        .target
                        .checked_sub(m.progress)
                        .unwrap_or(Money::ZERO)
                        .max(Money::ZERO);
                    let met = matches!(m.state, CacoMilestoneState::Completed { .. });
                    (met, if met { Money::ZERO } else { left })
                }
                None => (false, Money::ZERO),
            },
        }
    }
}

fn caco_milestone<'a>(
    acct: &'a AccountState,
    caco: &str,
    id: &str,
) -> Option<&'a ledger_core::state::CacoMilestone> {
    acct.cacos
        .iter()
        .find(|c| c.terms.id == caco)?
        .milestones
        .iter()
        .find(|m| m.terms.id == id)
}

/// What a fork at one monthly amount shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Forked {
    pub(crate) meets: bool,
    pub(crate) shortfall: Money,
    completion: Option<Date>,
    /// Per award milestone of the fork (see [`Fork::awards`]): `Some(k)` when it is reached
    /// after the first `k` projected months (0: before any) and completed by the deadline,
    /// `None` when it is not completed.
    awards: Vec<Option<usize>>,
    /// Per projected month: its invoice date and what is left of the target after it.
    pub(crate) path: Vec<(Date, Money)>,
}

/// One commitment's forks: the account as recorded, projected months at a chosen amount.
pub(crate) struct Fork<'a> {
    acct: &'a AccountState,
    rb: &'static Rulebook,
    mix: &'a Mix,
    target: Target,
    counts: Counts,
    as_of: Date,
    deadline: Date,
    /// The projected months: from the as-of month through the deadline's month, but those a
    /// recorded invoice covers.
    pub(crate) months: Vec<Date>,
    /// Open CACO milestones with an award ending by the deadline (other than the target): the
    /// ones whose award may pay usage before the deadline.
    awards: Vec<Target>,
}

impl<'a> Fork<'a> {
    fn new(acct: &'a AccountState, mix: &'a Mix, s: &Subject, as_of: Date) -> Fork<'a> {
        let settled = settled_months(acct);
        let first = as_of.month_start();
        let months = (0..months_between(as_of, s.end))
            .map(|i| first.add_months(i))
            .filter(|m| !settled.contains(m))
            .collect();
        let target = Target::of(acct, s);
        let awards = acct
            .cacos
            .iter()
            .filter(|c| c.state == CacoState::Open)
            .flat_map(|c| {
                c.milestones.iter().filter_map(|m| {
                    let t = Target::CacoMilestone {
                        caco: c.terms.id.clone(),
                        id: m.terms.id.clone(),
                        award: m.terms.award,
                    };
                    let counts = m.state == CacoMilestoneState::Open
                        && m.terms.award.is_positive()
                        && m.terms.end <= s.end
                        && t != target;
                    counts.then_some(t)
                })
            })
            .collect();
        Fork {
            acct,
            rb: account_rulebook(acct),
            mix,
            target,
            counts: s.counts,
            as_of,
            deadline: s.end,
            months,
            awards,
        }
    }

    /// Settle the projected months at `monthly` on a copy of the account, then close through
    /// the deadline.
    fn run(&self, monthly: Money) -> Result<Forked, CoreError> {
        let mix = resplit(self.mix, self.rb, self.counts, monthly, &self.acct.account);
        self.run_months(|_| &mix)
    }

    /// Settle projected month `i` with `mix_of(i)` on a copy of the account, then close
    /// through the deadline.
    pub(crate) fn run_months<'m>(
        &self,
        mix_of: impl Fn(usize) -> &'m Mix,
    ) -> Result<Forked, CoreError> {
        let account = self.acct.account.clone();
        let mut ledger = Ledger::new();
        ledger.accounts.insert(account.clone(), self.acct.clone());
        let state = |l: &Ledger| l.accounts.get(&account).cloned();
        let mut completion = self.target.reached(self.acct).then_some(self.as_of);
        let mut path = Vec::with_capacity(self.months.len());
        let mut award_reached: Vec<Option<usize>> = self
            .awards
            .iter()
            .map(|a| a.reached(self.acct).then_some(0))
            .collect();
        for (i, &month) in self.months.iter().enumerate() {
            let invoice = projected_invoice(self.acct, month, mix_of(i));
            let date = invoice.date;
            ledger.apply_traced(&Fact::Invoice(invoice), OPTIONS, &mut NoTrace)?;
            let acct = ledger.account(&account).expect("the fork's account");
            if completion.is_none() && self.target.reached(acct) {
                completion = Some(date);
            }
            for (reached, award) in award_reached.iter_mut().zip(&self.awards) {
                if reached.is_none() && award.reached(acct) {
                    *reached = Some(i + 1);
                }
            }
            path.push((date, self.target.judged(acct).1));
        }
        ledger.apply(&Fact::Close {
            account: account.clone(),
            through: self.deadline,
        })?;
        let acct = state(&ledger).expect("the fork's account");
        let (meets, shortfall) = self.target.judged(&acct);
        Ok(Forked {
            meets,
            shortfall,
            completion: if meets { completion } else { None },
            awards: self
                .awards
                .iter()
                .zip(award_reached)
                .map(|(a, reached)| {
                    a.judged(&acct)
                        .0
                        .then(|| reached.unwrap_or(self.months.len()))
                })
                .collect(),
            path,
        })
    }
}

/// The search for the required monthly amount, in cents, with every fork remembered.
struct Search<'f, 'a> {
    fork: &'f Fork<'a>,
    seen: BTreeMap<i128, Forked>,
}

impl<'f, 'a> Search<'f, 'a> {
    fn new(fork: &'f Fork<'a>) -> Search<'f, 'a> {
        Search {
            fork,
            seen: BTreeMap::new(),
        }
    }

    fn at(&mut self, cents: i128) -> Result<&Forked, CoreError> {
        if !self.seen.contains_key(&cents) {
            let forked = self.fork.run(from_cents(cents))?;
            self.seen.insert(cents, forked);
        }
        Ok(&self.seen[&cents])
    }

    fn meets(&mut self, cents: i128) -> Result<bool, CoreError> {
        Ok(self.at(cents)?.meets)
    }

    /// The smallest amount such that every larger one meets the target (see the module's
    /// documentation).
    fn required(&mut self) -> Result<Option<Money>, CoreError> {
        let months = self.fork.months.len() as i128;
        // Amounts that may fail: none, and the edges of every award's thresholds. An award
        // reached a month earlier pays a month more of usage before the deadline, so each
        // month by which it can be reached has its own threshold.
        let mut candidates = vec![0];
        for award in 0..self.fork.awards.len() {
            let mut from = 0;
            for by in (0..=self.fork.months.len()).rev() {
                let Some(t) = self.award_threshold(award, by, from)? else {
                    break;
                };
                candidates.extend([t, t - 1]);
                from = t;
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut lo: Option<i128> = None;
        for c in candidates.into_iter().filter(|&c| c >= 0) {
            if !self.meets(c)? && lo.is_none_or(|l| c > l) {
                lo = Some(c);
            }
        }
        let guess = if months == 0 {
            1
        } else {
            (cents(self.fork.remaining()) + months - 1) / months
        };
        let Some(mut hi) = self.first_meeting(guess.max(lo.map_or(1, |l| l + 1)))? else {
            return Ok(None);
        };
        let base = lo.unwrap_or(0);
        for k in 1..PROBES {
            let p = base + (hi - base) * k / PROBES;
            if !self.meets(p)? && lo.is_none_or(|l| p > l) {
                lo = Some(p);
            }
        }
        let Some(mut lo) = lo else {
            return Ok(Some(Money::ZERO));
        };
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.meets(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(Some(from_cents(hi)))
    }

    /// The first amount from `start` on, doubling, that meets the target; `None` when none up
    /// to [`MAX_MONTHLY`] does.
    fn first_meeting(&mut self, start: i128) -> Result<Option<i128>, CoreError> {
        let cap = i128::from(MAX_MONTHLY) * 100;
        let mut at = start.max(1);
        while !self.meets(at)? {
            if at >= cap || self.fork.months.is_empty() {
                return Ok(None);
            }
            at = (at * 2).min(cap);
        }
        Ok(Some(at))
    }

    /// The smallest amount, from `from` on, at which award milestone `award` is reached
    /// within the first `by` projected months and completed by the deadline (a doubling, then
    /// a bisection: more spend toward a milestone reaches it no later), if any up to
    /// [`MAX_MONTHLY`].
    fn award_threshold(
        &mut self,
        award: usize,
        by: usize,
        from: i128,
    ) -> Result<Option<i128>, CoreError> {
        let cap = i128::from(MAX_MONTHLY) * 100;
        let reached = |s: &mut Self, cents: i128| -> Result<bool, CoreError> {
            Ok(s.at(cents)?.awards[award].is_some_and(|k| k <= by))
        };
        if reached(self, from)? {
            return Ok(Some(from));
        }
        let (mut lo, mut hi) = (from, (from * 2).max(from + 1).min(cap));
        while !reached(self, hi)? {
            if hi >= cap || self.fork.months.is_empty() {
                return Ok(None);
            }
            lo = hi;
            hi = (hi * 2).min(cap);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if reached(self, mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(Some(hi))
    }
}

impl Fork<'_> {
    /// What is left of the target now (the first guess of the search: spread over the months).
    fn remaining(&self) -> Money {
        let acct = self.acct;
        match &self.target {
            Target::Macc { id } => acct
                .maccs
                .iter()
                .find(|m| m.terms.id == *id)
                .map_or(Money::ZERO, |m| m.amounts.balance),
            Target::MaccMilestone { .. } | Target::CacoMilestone { .. } => {
                self.target.judged(acct).1
            }
        }
    }
}

/// Whether `monthly` meets the plan row's target on its fork, and the shortfall it leaves (for
/// tests and property checks: the same fork the search uses).
pub fn meets_at(
    p: &Projections,
    store: &Store,
    q: &PlanQuery<'_>,
    id: &str,
    monthly: Money,
) -> Result<Option<(bool, Money)>, PlanError> {
    for (name, acct) in &p.ledger.accounts {
        if q.account.is_some_and(|a| a != name) {
            continue;
        }
        let query = MixQuery {
            account: name.clone(),
            as_of: q.as_of.month_start(),
            window: q.window,
        };
        let mix = read_mixes(store, &p.ledger.accounts, std::slice::from_ref(&query))?
            .pop()
            .unwrap_or_default();
        for s in macc_subjects(acct).into_iter().chain(caco_subjects(acct)) {
            if s.kind == "caco" {
                continue;
            }
            let fork = Fork::new(acct, &mix, &s, q.as_of);
            if fork.target.id() != id {
                continue;
            }
            let forked = fork.run(monthly).map_err(|error| PlanError::Fold {
                account: name.clone(),
                subject: id.to_string(),
                error: Box::new(error),
            })?;
            return Ok(Some((forked.meets, forked.shortfall)));
        }
    }
    Ok(None)
}
