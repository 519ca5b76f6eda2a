//! `ledger plan` (issue 16 pt 3), property tests on random agreements with credits, queued
//! MACCs, MACC milestones and CACO awards, six recorded months of usage, as of July:
//! - `required_monthly` is minimal: it meets the commitment on the replayed fork and one cent
//!   less does not;
//! - plan agrees with what-if: a scenario adding the required amount (and one cent less) for
//!   the projected months, with `through` the deadline, meets (misses) the MACC as the plan
//!   says; a scenario projecting the run rate shows the plan's projected shortfall.

use ledger_core::agreement::{
    AccountTerms, CacoBasis, CacoMilestoneTerms, CacoTerms, CreditTerms, MaccMilestoneTerms,
    MaccTerms,
};
use ledger_core::state::MaccState;
use ledger_core::{
    Agreement, ChargeKind, ChargeLine, CreditKind, Date, Fact, Invoice, Money, StrRef,
};
use ledger_replay::load::load;
use ledger_replay::plan::{meets_at, plan, PlanKind, PlanQuery, PlanRow};
use ledger_replay::whatif::{self, Change, Scenario};
use ledger_replay::write::stage;
use ledger_replay::Projections;
use ledger_store::{agreement_content_hash, invoice_content_hash, Appender, Store};
use proptest::prelude::*;

const ACCOUNT: &str = "acme";

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn month(m: u32) -> Date {
    Date::from_ymd(2025, m, 1).unwrap()
}

fn cents(c: i64) -> Money {
    Money::from_mantissa_scale(i128::from(c), 2).unwrap()
}

/// What a random case holds.
#[derive(Clone, Debug)]
struct Case {
    /// Whole currency units.
    macc: i64,
    /// A second MACC queued behind the first, over the same year.
    queued: Option<i64>,
    /// A milestone of the first MACC due at the end of September.
    milestone: Option<i64>,
    /// ACO credits: (amount, start month 1..=12).
    credits: Vec<(i64, u32)>,
    /// A CACO milestone over July..September: (target, award).
    caco: Option<(i64, i64)>,
    /// Usage per month, January to June, per profile (cents).
    usage: Vec<[i64; 2]>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        100i64..400,
        proptest::option::of(10i64..80),
        proptest::option::of(10i64..120),
        proptest::collection::vec((1i64..30, 1u32..=12), 0..3),
        // The CACO milestone's target as a share of what m1 needs over its three months
        // (100..130 %: just above the amount that meets m1 without the award, where meeting
        // stops being monotone), and the award as a share of what m1 needs.
        proptest::option::of((100i64..130, 5i64..50)),
        proptest::collection::vec([0i64..150_000, 0i64..100_000], 6),
    )
        .prop_map(|(macc, queued, milestone, credits, caco, usage)| {
            let macc = macc * 100;
            let spent: i64 = usage.iter().map(|u| u[0] + u[1]).sum::<i64>() / 100;
            let needs = (macc - spent).max(600);
            Case {
                macc,
                queued: queued.map(|q| q * 100),
                milestone: milestone.map(|t| (t * 100).min(macc)),
                credits: credits.into_iter().map(|(a, m)| (a * 100, m)).collect(),
                caco: caco.map(|(share, award)| (needs / 2 * share / 100, needs * award / 100)),
                usage,
            }
        })
}

fn agreement(c: &Case) -> Agreement {
    let macc = |id: &str, amount: i64, milestones| MaccTerms {
        id: id.into(),
        amount: Money::from_whole(amount),
        start: d("2025-01-01"),
        end: d("2025-12-31"),
        purchased: None,
        enrollment_end: None,
        renewed: None,
        shortfall_credit_months: 12,
        milestones,
    };
    let mut maccs = vec![macc(
        "m1",
        c.macc,
        c.milestone
            .map(|t| MaccMilestoneTerms {
                id: "M1".into(),
                due: d("2025-09-30"),
                target: Money::from_whole(t),
            })
            .into_iter()
            .collect(),
    )];
    if let Some(q) = c.queued {
        maccs.push(macc("m2", q, vec![]));
    }
    Agreement {
        account: ACCOUNT.into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs,
        cacos: c
            .caco
            .map(|(target, award)| CacoTerms {
                id: "caco-1".into(),
                start: d("2025-07-01"),
                basis: CacoBasis::Period,
                award_months: 12,
                milestones: vec![CacoMilestoneTerms {
                    id: "Q3".into(),
                    start: d("2025-07-01"),
                    end: d("2025-09-30"),
                    target: Money::from_whole(target),
                    award: Money::from_whole(award),
                }],
            })
            .into_iter()
            .collect(),
        credits: c
            .credits
            .iter()
            .enumerate()
            .map(|(i, &(amount, m))| CreditTerms {
                id: format!("aco-{i}"),
                kind: CreditKind::Aco,
                amount: Money::from_whole(amount),
                start: month(m),
                expires: d("2025-12-31"),
                covers: None,
            })
            .collect(),
    }
}

fn invoice(m: u32, usage: [i64; 2], profiles: &[&str]) -> Fact {
    let start = month(m);
    let lines = usage
        .iter()
        .take(profiles.len())
        .enumerate()
        .map(|(p, &amount)| ChargeLine {
            amount: cents(amount),
            charge_date: start.add_days(14),
            kind: ChargeKind::Usage,
            profile: p as u16,
            corrects_kind: None,
            line_id: StrRef::NONE,
            service: StrRef::NONE,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        })
        .collect();
    let mut inv = Invoice {
        account: ACCOUNT.into(),
        id: format!("INV-{m:02}"),
        date: start.add_months(1).add_days(4),
        period_start: start,
        period_end: start.month_end(),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        strings: vec![],
        lines,
    };
    inv.content_hash = invoice_content_hash(&inv);
    Fact::Invoice(inv)
}

/// A store holding the case, and its projections. `profiles`: one or two billing profiles.
fn record(c: &Case, profiles: &[&str]) -> (tempfile::TempDir, Store, Projections) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data"), "plan test").unwrap();
    let a = agreement(c);
    let mut facts = vec![Fact::Agreement {
        content_hash: agreement_content_hash(&a),
        agreement: a,
    }];
    for (i, usage) in c.usage.iter().enumerate() {
        facts.push(invoice(i as u32 + 1, *usage, profiles));
    }
    let mut projections = Projections::new();
    for fact in facts {
        let mut appender = Appender::new(store.head());
        let staged = stage(&mut projections, &mut appender, &fact)
            .unwrap()
            .expect("not a repeat");
        store.append(&staged.records).unwrap();
    }
    store.flush().unwrap();
    let baseline = load(&store).unwrap();
    (dir, store, baseline)
}

fn query() -> PlanQuery<'static> {
    PlanQuery {
        as_of: d("2025-07-10"),
        account: None,
        window: 6,
        simulate: None,
    }
}

fn one_cent() -> Money {
    cents(1)
}

/// The first MACC's state after a what-if scenario of `changes`, closed through 2025-12-31.
fn m1_after(store: &Store, baseline: &Projections, changes: Vec<Change>) -> (bool, Money) {
    let scenario = Scenario {
        name: "s".into(),
        changes,
        agreement_override: None,
        through: Some(d("2025-12-31")),
    };
    let fork = whatif::run(store, baseline, &[scenario])
        .unwrap()
        .pop()
        .unwrap();
    let m1 = &fork.ledger.account(ACCOUNT).unwrap().maccs[0];
    match m1.state {
        MaccState::Completed { .. } => (true, Money::ZERO),
        MaccState::Expired { .. } => (false, m1.amounts.balance),
        ref other => panic!("m1 is {other:?} after a close through its end"),
    }
}

fn add(monthly: Money) -> Vec<Change> {
    vec![Change::Add {
        monthly,
        kind: ChargeKind::Usage,
        billing_profile: "Eng".into(),
        account: None,
        service: None,
        from_month: month(7),
        to_month: month(12),
    }]
}

fn m1_row(rows: &[PlanRow]) -> Option<&PlanRow> {
    rows.iter()
        .find(|r| r.id == "m1" && r.kind == PlanKind::Macc)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every row's required amount meets its target on the replayed fork and one cent less
    /// does not; for m1, a what-if adding that amount a month (with `through`) agrees.
    #[test]
    fn required_monthly_is_minimal_and_whatif_agrees(c in case()) {
        let (_dir, store, baseline) = record(&c, &["Eng"]);
        let rows = plan(&store, &baseline, &query()).unwrap();
        for row in &rows {
            let Some(r) = row.required_monthly else {
                continue;
            };
            let (meets, _) = meets_at(&baseline, &store, &query(), &row.id, r).unwrap().unwrap();
            prop_assert!(meets, "{} does not meet at its required {r}: {row:?}", row.id);
            // Every larger amount meets too (sampled: a cent more, then up to twice as much).
            for k in [1i64, 101, 110, 125, 150, 200] {
                let more = if k == 1 {
                    r.checked_add(one_cent()).unwrap()
                } else {
                    r.mul_factor_rounded(ledger_core::Factor::parse(&format!("{}.{:02}", k / 100, k % 100)).unwrap())
                        .unwrap()
                };
                let (meets, _) = meets_at(&baseline, &store, &query(), &row.id, more).unwrap().unwrap();
                prop_assert!(meets, "{} misses at {more}, above its required {r}: {row:?}", row.id);
            }
            if r.is_positive() {
                let less = r.checked_sub(one_cent()).unwrap();
                let (meets, _) =
                    meets_at(&baseline, &store, &query(), &row.id, less).unwrap().unwrap();
                prop_assert!(!meets, "{} meets one cent below {r}: {row:?}", row.id);
            }
        }
        let Some(m1) = m1_row(&rows) else {
            return Ok(());
        };
        if let Some(r) = m1.required_monthly {
            prop_assert!(m1_after(&store, &baseline, add(r)).0, "what-if at {r} misses m1");
            if r.is_positive() {
                let less = r.checked_sub(one_cent()).unwrap();
                prop_assert!(!m1_after(&store, &baseline, add(less)).0, "what-if at {less} meets m1");
            }
        }
    }

    /// With two billing profiles, what-if `project` at the run rate (through the deadline)
    /// leaves m1 the shortfall the plan projects. June is trimmed so that each profile's
    /// six-month spend divides by six: the run rate is then exactly the mix's total.
    #[test]
    fn plan_at_the_run_rate_agrees_with_whatif_project(mut c in case()) {
        for p in 0..2 {
            let sum: i64 = c.usage.iter().map(|u| u[p]).sum();
            c.usage[5][p] -= sum % 600;
            c.usage[5][p] = c.usage[5][p].max(0);
            let sum: i64 = c.usage.iter().map(|u| u[p]).sum();
            prop_assume!(sum % 600 == 0);
        }
        let (_dir, store, baseline) = record(&c, &["Eng", "Ops"]);
        let rows = plan(&store, &baseline, &query()).unwrap();
        let m1 = m1_row(&rows);
        prop_assume!(m1.is_some(), "m1 completed in the first half");
        let m1 = m1.unwrap();
        let project = vec![Change::Project {
            account: None,
            from_month: month(7),
            to_month: month(12),
            growth: None,
            scale: None,
            window: 6,
        }];
        let (met, shortfall) = m1_after(&store, &baseline, project);
        prop_assert_eq!(shortfall, m1.projected_shortfall, "{:?}", m1);
        prop_assert_eq!(met, m1.projected_completion.is_some(), "{:?}", m1);
    }
}
