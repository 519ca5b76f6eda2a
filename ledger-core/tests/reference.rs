//! The fixed-point hot path against a Decimal reference (issue 6, acceptance 2).
//!
//! `reference_settle` is a second, deliberately naive implementation of R-SETTLE in
//! `rust_decimal::Decimal`, written from docs/RULES.md alone (its own eligibility table, its own
//! credit order, a MACC queue and a period-basis CACO). On random agreements and invoices,
//! every total, balance and milestone progress of the core (i128 fixed point) must equal the
//! reference's exactly.

mod common;

use common::*;
use ledger_core::agreement::CacoBasis;
use ledger_core::kind::{ChargeKind, CreditKind};
use ledger_core::Money;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// docs/RULES.md's R-ELIG table, transcribed independently: (kind, payer) → (MACC, CACO).
fn reference_elig(kind: ChargeKind, payer: Option<CreditKind>) -> (bool, bool) {
    use ChargeKind::*;
    match (kind, payer) {
        (Usage | ReservationPurchase, None) => (true, true),
        (
            Usage | ReservationPurchase,
            Some(CreditKind::Prepayment | CreditKind::MilestoneShortfallCredit),
        ) => (false, true),
        (
            PrepaymentPurchase
            | MarketplaceEligible
            | MaccShortfallPurchase
            | MilestoneShortfallPurchase,
            None,
        ) => (true, false),
        _ => (false, false),
    }
}

/// R-COVER default coverage.
fn reference_covers(credit: CreditKind, kind: ChargeKind) -> bool {
    match credit {
        CreditKind::Aco | CreditKind::Goodwill | CreditKind::Outage => kind == ChargeKind::Usage,
        _ => matches!(kind, ChargeKind::Usage | ChargeKind::ReservationPurchase),
    }
}

#[derive(Debug, Clone)]
struct RefLot {
    id: String,
    kind: CreditKind,
    start: ledger_core::Date,
    expires: ledger_core::Date,
    balance: Decimal,
}

#[derive(Debug, Clone)]
struct RefMacc {
    start: ledger_core::Date,
    end: ledger_core::Date,
    balance: Decimal,
}

#[derive(Debug, Clone)]
struct Line {
    day: u32,
    kind: ChargeKind,
    cents: i64,
    micro: u32,
}

#[derive(Debug, Clone)]
struct Spec {
    maccs: Vec<(i64, u32)>,            // amount, start month (all end 2026-12-31)
    milestones: Vec<(i64, u32)>,       // CACO period milestones: target, length in months
    credits: Vec<(u8, i64, u32, u32)>, // kind, amount, start month, months
    invoices: Vec<Vec<Line>>,
}

fn line() -> impl Strategy<Value = Line> {
    let kind = prop_oneof![
        6 => Just(ChargeKind::Usage),
        2 => Just(ChargeKind::ReservationPurchase),
        1 => Just(ChargeKind::ReservationUsage),
        1 => Just(ChargeKind::MarketplaceEligible),
        1 => Just(ChargeKind::Marketplace),
        1 => Just(ChargeKind::Support),
        1 => Just(ChargeKind::Tax),
        1 => Just(ChargeKind::MaccShortfallPurchase),
    ];
    (1u32..=28, kind, 0i64..2_000_000, 0u32..1_000_000).prop_map(|(day, kind, cents, micro)| Line {
        day,
        kind,
        cents,
        micro,
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((1i64..200_000, 0u32..4), 0..3),
        prop::collection::vec((1i64..100_000, 1u32..4), 0..4),
        prop::collection::vec((0u8..6, 1i64..50_000, 0u32..6, 1u32..24), 0..4),
        prop::collection::vec(prop::collection::vec(line(), 1..40), 1..8),
    )
        .prop_map(|(maccs, milestones, credits, invoices)| Spec {
            maccs,
            milestones,
            credits,
            invoices,
        })
}

fn month(k: u32) -> ledger_core::Date {
    d("2025-01-01").add_months(k)
}

fn amount(l: &Line) -> Money {
    // Up to 8 decimal places, like real meters.
    Money::from_mantissa_scale(l.cents as i128 * 1_000_000 + l.micro as i128, 8).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn fixed_point_settlement_equals_the_decimal_reference(spec in spec()) {
        // ---- the core
        let mut a = agreement();
        for (i, (amount, start)) in spec.maccs.iter().enumerate() {
            a = a.macc(&format!("m{i}"), &amount.to_string(), &month(*start).to_string(), "2026-12-31");
        }
        let mut ms_windows = vec![];
        if !spec.milestones.is_empty() {
            a = a.caco("c", "2025-01-01", CacoBasis::Period);
            let mut start = month(0);
            for (k, (target, len)) in spec.milestones.iter().enumerate() {
                let end = start.add_months(*len).add_days(-1);
                a = a.caco_milestone(&format!("M{k}"), &start.to_string(), &end.to_string(), &target.to_string(), "0");
                ms_windows.push((start, end, Decimal::from(*target)));
                start = end.add_days(1);
            }
        }
        let mut ref_lots = vec![];
        for (i, (kind, amount, start, months)) in spec.credits.iter().enumerate() {
            let kind = CreditKind::ALL[*kind as usize];
            let id = format!("lot{i}");
            let (start, expires) = (month(*start), month(*start).add_months(*months));
            a = a.credit(&id, kind, &amount.to_string(), &start.to_string(), &expires.to_string());
            ref_lots.push(RefLot { id, kind, start, expires, balance: Decimal::from(*amount) });
        }
        let mut w = World::new(&a);
        for (m, lines) in spec.invoices.iter().enumerate() {
            let period = month(m as u32);
            let mut b = invoice(&format!("INV-{m}"), &period.add_months(1).add_days(4).to_string());
            for l in lines {
                b = b.line(&period.add_days(l.day as i32 - 1).to_string(), l.kind, &amount(l).to_string());
            }
            w.apply(b.fact());
        }

        // ---- the Decimal reference
        let mut maccs: Vec<RefMacc> = spec.maccs.iter().map(|(amount, start)| RefMacc { start: month(*start), end: d("2026-12-31"), balance: Decimal::from(*amount) }).collect();
        // Queue order: start, then id (ids m0, m1, m2 sort like their indexes).
        let mut queue: Vec<usize> = (0..maccs.len()).collect();
        queue.sort_by_key(|&i| (maccs[i].start, i));
        let commitment: Decimal = ms_windows.iter().map(|w| w.2).sum();
        let mut caco_remaining = commitment;
        let mut progress = vec![Decimal::ZERO; ms_windows.len()];
        // Credit order: expiring first, then start, then id.
        let mut order: Vec<usize> = (0..ref_lots.len()).collect();
        order.sort_by(|&x, &y| (ref_lots[x].expires, ref_lots[x].start, &ref_lots[x].id).cmp(&(ref_lots[y].expires, ref_lots[y].start, &ref_lots[y].id)));
        for (m, lines) in spec.invoices.iter().enumerate() {
            let period = month(m as u32);
            let mut sorted: Vec<(ledger_core::Date, usize, &Line)> = lines.iter().enumerate().map(|(i, l)| (period.add_days(l.day as i32 - 1), i, l)).collect();
            sorted.sort_by_key(|(date, i, _)| (*date, *i));
            let (mut charges, mut credits) = (Decimal::ZERO, Decimal::ZERO);
            for (date, _, l) in sorted {
                let value = amount(l).to_decimal();
                charges += value;
                let mut rest = value;
                let mut portions: Vec<(Decimal, Option<CreditKind>)> = vec![];
                for &k in &order {
                    let lot = &mut ref_lots[k];
                    if rest > Decimal::ZERO && reference_covers(lot.kind, l.kind) && lot.start <= date && date <= lot.expires && lot.balance > Decimal::ZERO {
                        let take = rest.min(lot.balance);
                        lot.balance -= take;
                        rest -= take;
                        credits += take;
                        portions.push((take, Some(lot.kind)));
                    }
                }
                if rest > Decimal::ZERO || value.is_zero() {
                    portions.push((rest, None));
                }
                for (portion, payer) in portions {
                    let (to_macc, to_caco) = reference_elig(l.kind, payer);
                    if to_macc {
                        let mut left = portion;
                        for &q in &queue {
                            let macc = &mut maccs[q];
                            if left > Decimal::ZERO && macc.balance > Decimal::ZERO && macc.start <= date && date <= macc.end {
                                let take = left.min(macc.balance);
                                macc.balance -= take;
                                left -= take;
                            }
                        }
                    }
                    if to_caco && !ms_windows.is_empty() && date <= ms_windows.last().unwrap().1 {
                        if let Some(k) = ms_windows.iter().position(|(s, e, _)| *s <= date && date <= *e) {
                            progress[k] += portion;
                        }
                        caco_remaining -= portion.min(caco_remaining);
                    }
                }
            }
            let inv = w.invoice(&format!("INV-{m}"));
            prop_assert_eq!(inv.charges.to_decimal(), charges);
            prop_assert_eq!(inv.credits_applied.to_decimal(), credits);
            prop_assert_eq!(inv.billed.to_decimal(), charges - credits);
        }
        for lot in &ref_lots {
            prop_assert_eq!(w.lot_balance(&lot.id).to_decimal(), lot.balance, "lot {}", lot.id);
        }
        for (i, macc) in maccs.iter().enumerate() {
            prop_assert_eq!(w.macc_balance(&format!("m{i}")).to_decimal(), macc.balance, "MACC m{}", i);
        }
        if !ms_windows.is_empty() {
            prop_assert_eq!(w.caco_remaining("c").to_decimal(), caco_remaining);
            for (k, p) in progress.iter().enumerate() {
                prop_assert_eq!(w.milestone_progress("c", &format!("M{k}")).to_decimal(), *p, "milestone M{}", k);
            }
        }
    }
}
