//! What one account's data will be: its spend month by month, its special lines, and the
//! agreement designed around that spend.
//!
//! The agreement is designed before any line is written, from the planned spend and a small
//! month-granular simulation of R-SETTLE (credits in R-CREDIT-ORDER, R-ELIG counting, CACO
//! awards, MACC milestone shortfalls). Targets are then set with margins well above the noise
//! of the generated lines, so that each account shows the intended outcomes: CACO milestones
//! completed and one missed, MACC milestones met or missed, the MACC completed early or missed.
//! All arithmetic is on integer cents (no floats), so the plan is identical on every machine.

use std::fmt::Write as _;

use ledger_core::Date;

use super::catalog;
use super::month::Month;
use super::rng::Rng;

/// The first month of generated data.
pub fn data_start() -> Month {
    Month::new(2024, 1)
}

/// A bulk-line share, in 1024ths: `usage` below this...
pub const USAGE_BELOW: u64 = 880;
/// ...then `reservation_usage`...
pub const RESERVATION_USAGE_BELOW: u64 = 936;
/// ...then `marketplace_eligible`, then `marketplace` up to 1024.
pub const MARKETPLACE_ELIGIBLE_BELOW: u64 = 984;

/// An invoice gets its special lines (support, reservations, taxes...) only if at least this
/// many ordinary lines remain beside them; smaller invoices hold ordinary lines only.
pub const MIN_BULK: u64 = 8;

const USD: i64 = 100; // cents

/// A monthly-billed reservation or savings plan.
#[derive(Clone, Debug)]
pub struct Reservation {
    /// Index into [`catalog::RESERVATION_PURCHASES`].
    pub service: usize,
    pub day: u32,
    pub profile: u8,
    pub cents: i64,
}

/// The one Azure Prepayment purchase.
#[derive(Clone, Debug)]
pub struct Prepay {
    pub month: u32,
    pub day: u32,
    pub cents: i64,
    pub profile: u8,
    pub line_id: String,
}

/// Everything about one account's data and agreement.
#[derive(Clone, Debug)]
pub struct AccountPlan {
    pub account: String,
    pub profiles: Vec<&'static str>,
    /// A random byte → a profile index, by weight.
    pub profile_table: [u8; 256],
    pub start: Month,
    pub months: u32,
    /// Lines of each monthly invoice.
    pub lines: Vec<u64>,
    /// Whether each invoice has its special lines.
    pub full: Vec<bool>,
    /// Planned `usage` spend per month, in cents.
    pub usage: Vec<i64>,
    /// Planned `marketplace_eligible` spend per month, in cents.
    pub marketplace_eligible: Vec<i64>,
    /// Planned `marketplace` spend per month, in cents.
    pub marketplace: Vec<i64>,
    pub reservations: Vec<Reservation>,
    pub support_cents: i64,
    pub support_profile: u8,
    pub prepay: Option<Prepay>,
    /// Refund per month in cents (0: none).
    pub refunds: Vec<i64>,
    pub refund_profile: u8,
    /// Tax rate in thousandths.
    pub tax_permille: u32,
    pub macc_id: String,
    pub agreement_toml: String,
    /// The outcomes the agreement is designed for (checked by the tests).
    pub design: Design,
}

/// The outcomes an account's agreement is designed for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Design {
    /// Per CACO milestone: designed to complete.
    pub caco_completes: Vec<bool>,
    /// Per MACC milestone: designed to be met.
    pub macc_milestones_met: Vec<bool>,
    /// The MACC is designed to complete before its end.
    pub macc_completes: bool,
}

impl AccountPlan {
    /// Special lines (not counting taxes) on invoice `m` when it is full.
    fn specials(&self, m: u32) -> u64 {
        1 + self.reservations.len() as u64
            + self.prepay.as_ref().is_some_and(|p| p.month == m) as u64
            + (self.refunds[m as usize] > 0) as u64
    }

    /// Special lines including one tax line per profile.
    pub fn special_lines(&self, m: u32) -> u64 {
        self.specials(m) + self.profiles.len() as u64
    }

    pub fn invoices(&self) -> u64 {
        self.lines.iter().filter(|&&n| n > 0).count() as u64
    }
}

/// How many monthly invoices each account gets, from its line count.
pub fn months_for(lines_per_account: u64) -> u32 {
    let base: u64 = match lines_per_account {
        0..=99_999 => 12,
        100_000..=999_999 => 24,
        _ => 36,
    };
    // Keep invoices under about a million lines (the core holds one invoice in memory).
    let base = base.max(lines_per_account.div_ceil(1_000_000)).min(1200);
    base.min(lines_per_account).max(1) as u32
}

fn round_to(cents: i64, unit: i64) -> i64 {
    (cents.max(0) + unit / 2) / unit * unit
}

fn scale(cents: i64, permille: u64) -> i64 {
    (cents as i128 * permille as i128 / 1000) as i64
}

/// `12345.60` from cents.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

// ----- the month-granular simulation -----

#[derive(Clone, Debug)]
struct SimLot {
    balance: i64,
    /// First and last month index it covers.
    from: u32,
    to: u32,
    /// `month index × 32 + day`, for R-CREDIT-ORDER.
    start_key: i64,
    expires_key: i64,
    order: u32,
    /// An awarded credit (ACO, goodwill): what it covers counts nowhere.
    awarded: bool,
    /// Covers `reservation_purchase` too (prepayment, milestone shortfall credit).
    covers_reservations: bool,
}

struct Spend<'a> {
    usage: &'a [i64],
    reservations: Vec<i64>,
    marketplace_eligible: &'a [i64],
    prepay: Vec<i64>,
    refunds: Vec<i64>,
}

/// MACC- and CACO-eligible spend per month under the given lots (R-ELIG, R-COVER).
struct Sim {
    caco: Vec<i64>,
    macc: Vec<i64>,
}

fn simulate(spend: &Spend, lots: &[SimLot], extra_macc: &[i64], oldest_first: bool) -> Sim {
    let mut lots = lots.to_vec();
    if oldest_first {
        lots.sort_by_key(|l| (l.start_key, l.expires_key, l.order));
    } else {
        lots.sort_by_key(|l| (l.expires_key, l.start_key, l.order));
    }
    let mut sim = Sim {
        caco: Vec::with_capacity(spend.usage.len()),
        macc: Vec::with_capacity(spend.usage.len()),
    };
    for (m, &planned) in spend.usage.iter().enumerate() {
        let (mut usage, mut reservations) = (planned, spend.reservations[m]);
        let mut awarded = 0;
        for lot in lots
            .iter_mut()
            .filter(|l| l.from as usize <= m && m <= l.to as usize)
        {
            let take = usage.min(lot.balance);
            usage -= take;
            lot.balance -= take;
            if lot.awarded {
                awarded += take;
            }
            if lot.covers_reservations {
                let take = reservations.min(lot.balance);
                reservations -= take;
                lot.balance -= take;
            }
        }
        sim.caco.push(planned - awarded + spend.reservations[m]);
        sim.macc.push(
            usage + reservations + spend.marketplace_eligible[m] + spend.prepay[m] + extra_macc[m]
                - spend.refunds[m],
        );
    }
    sim
}

// ----- the design -----

struct CacoMilestone {
    start: Date,
    end: Date,
    target: i64,
    award: i64,
    complete: bool,
}

struct MaccMilestone {
    due: Date,
    target: i64,
    met: bool,
}

struct Credit {
    id: String,
    kind: &'static str,
    cents: i64,
    start: Date,
    expires: Date,
    covers: Option<&'static str>,
}

/// Plan account `index` of a run: `lines` lines over `months` monthly invoices.
///
/// Every random draw happens in a fixed order (the steps below, in turn), so the plan is a
/// pure function of (seed, index, lines, months).
pub fn plan_account(seed: u64, index: u32, lines: u64, months: u32) -> AccountPlan {
    let mut rng = Rng::new(seed, 2 * index as u64);
    let rng = &mut rng;
    let start = data_start();
    let (profiles, profile_table) = choose_profiles(rng);
    let base = rng.range(40_000, 400_000) as i64 * USD;
    let usage = monthly_usage(rng, base, start, months);
    let mut plan = spend_plan(rng, index, base, &profiles, usage, start, months);
    plan.profiles = profiles;
    plan.profile_table = profile_table;
    plan.lines = (0..months as u64)
        .map(|m| lines / months as u64 + (m < lines % months as u64) as u64)
        .collect();
    plan.full = (0..months)
        .map(|m| plan.lines[m as usize] >= plan.special_lines(m) + MIN_BULK)
        .collect();
    if plan
        .prepay
        .as_ref()
        .is_some_and(|p| !plan.full[p.month as usize])
    {
        plan.prepay = None;
    }
    let design = design_agreement(rng, &plan, index);
    plan.agreement_toml = agreement_toml(&plan, &design, seed);
    plan.design = Design {
        caco_completes: design.caco.iter().map(|m| m.complete).collect(),
        macc_milestones_met: design.macc_milestones.iter().map(|m| m.met).collect(),
        macc_completes: design.macc_factor < 1000,
    };
    plan
}

/// Billing profiles (Engineering and 2 to 5 others), and a table from a random byte to a
/// profile index by weight.
fn choose_profiles(rng: &mut Rng) -> (Vec<&'static str>, [u8; 256]) {
    let count = rng.range(3, 6) as usize;
    let mut others: Vec<&'static str> = catalog::PROFILES[1..].to_vec();
    shuffle(rng, &mut others);
    let mut profiles = vec![catalog::PROFILES[0]];
    profiles.extend_from_slice(&others[..count - 1]);
    let weights = &catalog::PROFILE_WEIGHTS[..count];
    let total: u32 = weights.iter().sum();
    let mut profile_table = [0u8; 256];
    for (b, slot) in profile_table.iter_mut().enumerate() {
        let x = (b as u32 * total + total / 2) / 256;
        let mut acc = 0;
        for (p, w) in weights.iter().enumerate() {
            acc += w;
            if x < acc {
                *slot = p as u8;
                break;
            }
        }
    }
    (profiles, profile_table)
}

/// Fisher-Yates, from the last element down.
fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// Usage spend per month: `base`, a monthly growth for up to three years, a little
/// seasonality and noise.
fn monthly_usage(rng: &mut Rng, base: i64, start: Month, months: u32) -> Vec<i64> {
    let growth = rng.range(0, 25);
    let mut trend = base;
    let mut usage = Vec::with_capacity(months as usize);
    for m in 0..months as usize {
        if m > 0 && m < 36 {
            trend = scale(trend, 1000 + growth);
        }
        let seasonal = match start.add(m as i64).month() {
            12 => 1050,
            8 => 970,
            _ => 1000,
        };
        let noise = rng.range(960, 1040);
        usage.push(scale(scale(trend, seasonal), noise));
    }
    usage
}

/// Everything the data holds besides usage: Marketplace shares, reservations, support, the
/// prepayment, refunds and tax. Lines per invoice and the agreement come later.
fn spend_plan(
    rng: &mut Rng,
    index: u32,
    base: i64,
    profiles: &[&'static str],
    usage: Vec<i64>,
    start: Month,
    months: u32,
) -> AccountPlan {
    let account = catalog::account_name(index);
    let count = profiles.len();
    let find = |name: &str, default: usize| {
        profiles.iter().position(|p| *p == name).unwrap_or(default) as u8
    };
    let (me_share, mp_share) = (rng.range(20, 50), rng.range(10, 30));
    let marketplace_eligible: Vec<i64> = usage.iter().map(|&u| scale(u, me_share)).collect();
    let marketplace: Vec<i64> = usage.iter().map(|&u| scale(u, mp_share)).collect();
    let reservations = choose_reservations(rng, base, count);
    let reservation_total: i64 = reservations.iter().map(|r| r.cents).sum();
    let support_cents = round_to(scale(base, rng.range(10, 30)), USD);
    let prepay_month = if months >= 2 { 1 } else { 0 };
    let prepay_cents = round_to(
        scale(
            usage[prepay_month as usize] + reservation_total,
            rng.range(500, 800),
        ),
        1000 * USD,
    )
    .max(1000 * USD);
    let prepay = Prepay {
        month: prepay_month,
        day: 2,
        cents: prepay_cents,
        profile: find("Finance", 0),
        line_id: format!(
            "prepay-{account}-{}",
            start.add(prepay_month as i64).label()
        ),
    };
    let refunds: Vec<i64> = (0..months as usize)
        .map(|m| {
            if m % 4 == 2 {
                round_to(scale(usage[m], rng.range(2, 8)), 1)
            } else {
                0
            }
        })
        .collect();
    let tax_permille = rng.range(60, 95) as u32;
    AccountPlan {
        account,
        profiles: Vec::new(),
        profile_table: [0; 256],
        start,
        months,
        lines: Vec::new(),
        full: Vec::new(),
        usage,
        marketplace_eligible,
        marketplace,
        reservations,
        support_cents,
        support_profile: find("Operations", count - 1),
        prepay: Some(prepay),
        refunds,
        refund_profile: 0,
        tax_permille,
        macc_id: format!("macc-{}", start.first().year()),
        agreement_toml: String::new(),
        design: Design::default(),
    }
}

/// Two or three monthly reservations or savings plans of distinct services.
fn choose_reservations(rng: &mut Rng, base: i64, profiles: usize) -> Vec<Reservation> {
    let mut services: Vec<usize> = (0..catalog::RESERVATION_PURCHASES.len()).collect();
    shuffle(rng, &mut services);
    let reservation_count = rng.range(2, 3) as usize;
    services[..reservation_count]
        .iter()
        .map(|&service| Reservation {
            service,
            day: rng.range(1, 28) as u32,
            profile: rng.below(profiles as u64) as u8,
            cents: round_to(scale(base, rng.range(20, 60)), 1),
        })
        .collect()
}

/// The agreement designed around the planned spend.
struct AgreementDesign {
    credits: Vec<Credit>,
    caco: Vec<CacoMilestone>,
    macc_milestones: Vec<MaccMilestone>,
    /// MACC-eligible spend the data brings, and the MACC sized against it.
    eligible: i64,
    macc_amount: i64,
    /// The MACC amount in thousandths of `eligible` (below 1000: it completes).
    macc_factor: u64,
    outcome: &'static str,
    oldest_first: bool,
    /// 0: no enrollment end; 1: a year after the MACC; else the MACC's end (and `renewed`).
    enrollment: u64,
    renewed: bool,
    pec: bool,
}

/// Credits, CACO milestones, MACC milestones and the MACC amount, each sized by simulating
/// what settlement will see.
fn design_agreement(rng: &mut Rng, plan: &AccountPlan, index: u32) -> AgreementDesign {
    let spend = settled_spend(plan);
    let oldest_first = index % 5 == 3;
    let (credits, mut lots) = agreement_credits(rng, plan);
    let mut extra_macc = vec![0i64; plan.months as usize];
    let caco = caco_milestones(rng, plan, &spend, &mut lots, &extra_macc, oldest_first);
    let macc_milestones =
        macc_milestones(rng, plan, &spend, &mut lots, &mut extra_macc, oldest_first);
    // The MACC: sized against the eligible spend the data will bring, so that it completes a
    // little early or falls a little short.
    let sim = simulate(&spend, &lots, &extra_macc, oldest_first);
    let eligible: i64 = sim.macc.iter().sum();
    let (outcome, macc_factor) = match rng.below(4) {
        0 => ("complete early", rng.range(850, 900)),
        1 => ("complete near the end", rng.range(920, 970)),
        2 => ("fall a little short", rng.range(1040, 1080)),
        _ => ("fall short", rng.range(1100, 1200)),
    };
    let macc_amount = round_to(scale(eligible, macc_factor), 1000 * USD).max(1000 * USD);
    let mut macc_milestones = macc_milestones;
    for m in &mut macc_milestones {
        m.target = m.target.min(macc_amount);
    }
    let enrollment = rng.below(3);
    let renewed = enrollment >= 2 && rng.chance(1, 2);
    AgreementDesign {
        credits,
        caco,
        macc_milestones,
        eligible,
        macc_amount,
        macc_factor,
        outcome,
        oldest_first,
        enrollment,
        renewed,
        pec: index % 4 == 1,
    }
}

/// What settlement will see, month by month.
fn settled_spend(plan: &AccountPlan) -> Spend<'_> {
    let reservation_total: i64 = plan.reservations.iter().map(|r| r.cents).sum();
    Spend {
        usage: &plan.usage,
        reservations: plan
            .full
            .iter()
            .map(|&f| if f { reservation_total } else { 0 })
            .collect(),
        marketplace_eligible: &plan.marketplace_eligible,
        prepay: (0..plan.months)
            .map(|m| {
                plan.prepay
                    .as_ref()
                    .filter(|p| p.month == m)
                    .map_or(0, |p| p.cents)
            })
            .collect(),
        refunds: (0..plan.months as usize)
            .map(|m| if plan.full[m] { plan.refunds[m] } else { 0 })
            .collect(),
    }
}

/// A day as the simulation orders them.
fn day_key(m: u32, day: u32) -> i64 {
    m as i64 * 32 + day as i64
}

/// The agreement's credits (an ACO lot for the first year, a goodwill credit mid-way) and
/// the lots the simulation starts with (those two and the prepayment).
fn agreement_credits(rng: &mut Rng, plan: &AccountPlan) -> (Vec<Credit>, Vec<SimLot>) {
    let start = plan.start;
    let year = start.first().year();
    let mut credits = Vec::new();
    let mut lots = Vec::new();
    let aco = round_to(scale(plan.usage[0], rng.range(200, 400)), 100 * USD).max(100 * USD);
    credits.push(Credit {
        id: format!("aco-{year}"),
        kind: "aco",
        cents: aco,
        start: start.first(),
        expires: start.add(11).last(),
        covers: Some("usage"),
    });
    lots.push(SimLot {
        balance: aco,
        from: 0,
        to: 11,
        start_key: day_key(0, 1),
        expires_key: day_key(11, 31),
        order: 0,
        awarded: true,
        covers_reservations: false,
    });
    let gm = plan.months / 2;
    let goodwill =
        round_to(scale(plan.usage[gm as usize], rng.range(40, 90)), 100 * USD).max(100 * USD);
    credits.push(Credit {
        id: format!("goodwill-{}", start.add(gm as i64).label()),
        kind: "goodwill",
        cents: goodwill,
        start: start.add(gm as i64).first(),
        expires: start.add(gm as i64 + 5).last(),
        covers: None,
    });
    lots.push(SimLot {
        balance: goodwill,
        from: gm,
        to: gm + 5,
        start_key: day_key(gm, 1),
        expires_key: day_key(gm + 5, start.add(gm as i64 + 5).days()),
        order: 1,
        awarded: true,
        covers_reservations: false,
    });
    if let Some(p) = &plan.prepay {
        lots.push(SimLot {
            balance: p.cents,
            from: p.month,
            to: p.month + 12,
            start_key: day_key(p.month, p.day),
            expires_key: day_key(p.month + 12, p.day),
            order: 2,
            awarded: false,
            covers_reservations: true,
        });
    }
    (credits, lots)
}

/// CACO: 3 or 4 period milestones of up to 6 months; all but one designed to complete. A
/// completed milestone's award lot joins `lots`.
fn caco_milestones(
    rng: &mut Rng,
    plan: &AccountPlan,
    spend: &Spend,
    lots: &mut Vec<SimLot>,
    extra_macc: &[i64],
    oldest_first: bool,
) -> Vec<CacoMilestone> {
    let months = plan.months;
    let (caco_count, window) = if months >= 4 {
        (rng.range(3, 4) as u32, (months / 4).clamp(1, 6))
    } else {
        (months, 1)
    };
    let caco_start = rng.below((months - caco_count * window) as u64 + 1) as u32;
    let missed = rng.below(caco_count as u64) as u32;
    let single_completes = rng.chance(1, 2);
    let mut milestones = Vec::new();
    for i in 0..caco_count {
        let sim = simulate(spend, lots, extra_macc, oldest_first);
        let (w0, w1) = (caco_start + i * window, caco_start + (i + 1) * window - 1);
        let spent: i64 = sim.caco[w0 as usize..=w1 as usize].iter().sum();
        let complete = if caco_count == 1 {
            single_completes
        } else {
            i != missed
        };
        let factor = if complete {
            rng.range(800, 900)
        } else {
            rng.range(1150, 1300)
        };
        let target = round_to(scale(spent, factor), 100 * USD).max(100 * USD);
        let award = round_to(scale(target, rng.range(40, 80)), 100 * USD).max(100 * USD);
        if complete {
            lots.push(award_lot(&sim.caco, w0, w1, target, award, i));
        }
        milestones.push(CacoMilestone {
            start: plan.start.add(w0 as i64).first(),
            end: plan.start.add(w1 as i64).last(),
            target,
            award,
            complete,
        });
    }
    milestones
}

/// The award of CACO milestone `i` (months `w0..=w1`): it opens on the invoice completing
/// the milestone (dated the 5th of the next month) and covers usage from then on.
fn award_lot(caco: &[i64], w0: u32, w1: u32, target: i64, award: i64, i: u32) -> SimLot {
    let mut progress = 0;
    let mut done = w1;
    for m in w0..=w1 {
        progress += caco[m as usize];
        if progress >= target {
            done = m;
            break;
        }
    }
    SimLot {
        balance: award,
        from: done + 1,
        to: done + 12,
        start_key: day_key(done + 1, 5),
        expires_key: day_key(done + 13, 5),
        order: 10 + i,
        awarded: true,
        covers_reservations: false,
    }
}

/// MACC milestones: one or two cumulative targets, each met or (one time in three) missed.
/// A missed one's shortfall adds to the MACC's decrements and opens a shortfall credit.
fn macc_milestones(
    rng: &mut Rng,
    plan: &AccountPlan,
    spend: &Spend,
    lots: &mut Vec<SimLot>,
    extra_macc: &mut [i64],
    oldest_first: bool,
) -> Vec<MaccMilestone> {
    let months = plan.months;
    let dues: Vec<u32> = if months >= 3 && rng.chance(1, 2) {
        vec![(months / 3).max(1) - 1, (2 * months / 3).max(2) - 1]
    } else {
        vec![(months / 2).max(1) - 1]
    };
    let mut milestones: Vec<MaccMilestone> = Vec::new();
    for (i, &k) in dues.iter().enumerate() {
        let sim = simulate(spend, lots, extra_macc, oldest_first);
        let cumulative: i64 = sim.macc[..=k as usize].iter().sum();
        let met = !rng.chance(1, 3);
        let factor = if met {
            rng.range(850, 950)
        } else {
            rng.range(1080, 1150)
        };
        let previous = milestones.last().map_or(0, |m| m.target);
        let target = round_to(scale(cumulative, factor), 100 * USD)
            .max(100 * USD)
            .max(previous);
        if target > cumulative && k + 1 < months {
            // R-MACC-5: the shortfall is invoiced the day after the due date (decrementing the
            // MACC) and opens a milestone shortfall credit for 12 months.
            let shortfall = target - cumulative;
            extra_macc[k as usize + 1] += shortfall;
            lots.push(SimLot {
                balance: shortfall,
                from: k + 1,
                to: k + 12,
                start_key: day_key(k + 1, 1),
                expires_key: day_key(k + 13, 1),
                order: 20 + i as u32,
                awarded: false,
                covers_reservations: true,
            });
        }
        milestones.push(MaccMilestone {
            due: plan.start.add(k as i64).last(),
            target,
            met,
        });
    }
    milestones
}

/// The agreement file, with INTERFACE.md's keys.
fn agreement_toml(plan: &AccountPlan, d: &AgreementDesign, seed: u64) -> String {
    let mut t = String::new();
    let months = plan.months;
    let _ = writeln!(
        t,
        "# Synthetic agreement for billing account {} (ledger gen, seed {seed}).",
        plan.account
    );
    let _ = writeln!(
        t,
        "# Designed from the planned spend: MACC-eligible spend about {} over {months} months, so the MACC should {};",
        money(d.eligible),
        d.outcome
    );
    let _ = writeln!(
        t,
        "# CACO milestones expected: {}.",
        d.caco
            .iter()
            .map(|m| if m.complete { "completed" } else { "missed" })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(t, "account = \"{}\"", plan.account);
    let _ = writeln!(t, "currency = \"USD\"");
    let order = if d.oldest_first {
        "oldest-first"
    } else {
        "expiring-first"
    };
    let _ = writeln!(t, "credit_order = \"{order}\"");
    let _ = writeln!(t, "prepayment_term_months = 12");
    if d.pec {
        let _ = writeln!(t, "partner_earned_credit_rate = \"0.15\"");
    }
    let _ = writeln!(t);
    write_macc(&mut t, plan, d);
    let _ = writeln!(t);
    write_caco(&mut t, &d.caco);
    for c in &d.credits {
        write_credit(&mut t, c);
    }
    t
}

fn write_macc(t: &mut String, plan: &AccountPlan, d: &AgreementDesign) {
    let start = plan.start;
    let macc_end = start.add(plan.months as i64 - 1).last();
    let _ = writeln!(t, "[[macc]]");
    let _ = writeln!(t, "id = \"{}\"", plan.macc_id);
    let _ = writeln!(t, "amount = \"{}\"", money(d.macc_amount));
    let _ = writeln!(t, "start = \"{}\"", start.first());
    let _ = writeln!(t, "end = \"{macc_end}\"");
    let _ = writeln!(t, "purchased = \"{}\"", start.add(-1).day(20));
    match d.enrollment {
        0 => {}
        1 => {
            let _ = writeln!(
                t,
                "enrollment_end = \"{}\"",
                start.add(plan.months as i64 + 11).last()
            );
        }
        _ => {
            let _ = writeln!(t, "enrollment_end = \"{macc_end}\"");
            let _ = writeln!(t, "renewed = {}", d.renewed);
        }
    }
    let _ = writeln!(t, "shortfall_credit_months = 12");
    for (i, m) in d.macc_milestones.iter().enumerate() {
        let _ = writeln!(
            t,
            "  [[macc.milestones]]  # expected {}",
            if m.met { "met" } else { "missed" }
        );
        let _ = writeln!(t, "  id = \"M{}\"", i + 1);
        let _ = writeln!(t, "  due = \"{}\"", m.due);
        let _ = writeln!(t, "  target = \"{}\"", money(m.target));
    }
}

fn write_caco(t: &mut String, milestones: &[CacoMilestone]) {
    let _ = writeln!(t, "[[caco]]");
    let _ = writeln!(t, "id = \"caco-{}\"", milestones[0].start.year());
    let _ = writeln!(t, "start = \"{}\"", milestones[0].start);
    let _ = writeln!(t, "basis = \"period\"");
    let _ = writeln!(t, "award_months = 12");
    for (i, m) in milestones.iter().enumerate() {
        let _ = writeln!(
            t,
            "  [[caco.milestones]]  # expected {}",
            if m.complete { "completed" } else { "missed" }
        );
        let _ = writeln!(t, "  id = \"Milestone{}\"", i + 1);
        let _ = writeln!(t, "  start = \"{}\"", m.start);
        let _ = writeln!(t, "  end = \"{}\"", m.end);
        let _ = writeln!(t, "  target = \"{}\"", money(m.target));
        let _ = writeln!(t, "  award = \"{}\"", money(m.award));
    }
}

fn write_credit(t: &mut String, c: &Credit) {
    let _ = writeln!(t);
    let _ = writeln!(t, "[[credit]]");
    let _ = writeln!(t, "id = \"{}\"", c.id);
    let _ = writeln!(t, "kind = \"{}\"", c.kind);
    let _ = writeln!(t, "amount = \"{}\"", money(c.cents));
    let _ = writeln!(t, "start = \"{}\"", c.start);
    let _ = writeln!(t, "expires = \"{}\"", c.expires);
    if let Some(covers) = c.covers {
        let _ = writeln!(t, "covers = [\"{covers}\"]");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_months_follow_the_line_count() {
        assert_eq!(months_for(0), 1);
        assert_eq!(months_for(1), 1);
        assert_eq!(months_for(5), 5);
        assert_eq!(months_for(20_000), 12);
        assert_eq!(months_for(500_000), 24);
        assert_eq!(months_for(1_000_000), 36);
        assert_eq!(months_for(10_000_000), 36);
        assert_eq!(months_for(100_000_000), 100);
    }

    #[test]
    fn gen_money_is_written_with_two_places() {
        assert_eq!(money(0), "0.00");
        assert_eq!(money(123456), "1234.56");
        assert_eq!(money(-5), "-0.05");
    }

    #[test]
    fn gen_profile_table_covers_every_profile() {
        for seed in 0..20 {
            let plan = plan_account(seed, 0, 20_000, 12);
            for p in 0..plan.profiles.len() as u8 {
                assert!(plan.profile_table.contains(&p), "seed {seed} profile {p}");
            }
            assert_eq!(plan.lines.iter().sum::<u64>(), 20_000);
        }
    }
}
