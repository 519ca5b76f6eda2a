//! One or more tests per rule of docs/RULES.md, named after the rule id. Each drives the core
//! through `Ledger::apply` with small facts and asserts the decision the rule prescribes.

mod common;

use common::*;
use ledger_core::agreement::{CacoBasis, CreditOrder};
use ledger_core::event::{CommitmentKind, Event, LotOrigin, ShortfallConversion};
use ledger_core::kind::ChargeKind::*;
use ledger_core::kind::CreditKind;
use ledger_core::state::LotStatus;
use ledger_core::{CoreError, Fact, Money};

// ---------------------------------------------------------------- R-SETTLE, R-LOTID

/// The Contoso example of 001_…: a prepayment purchase decrements the MACC, consumption paid
/// with the prepayment does not; once it is used up, consumption decrements again.
#[test]
fn r_settle_contoso_prepayment_example() {
    let mut w = World::new(&agreement().macc("contoso-macc", "50000", "2025-05-01", "2028-04-30"));
    w.apply(
        invoice("INV-2025-06", "2025-07-05")
            .line("2025-06-01", PrepaymentPurchase, "10000.00")
            .line("2025-06-10", Usage, "4000.00")
            .line("2025-06-20", Usage, "6000.00")
            .fact(),
    );
    assert_eq!(w.macc_balance("contoso-macc"), m("40000"));
    assert_eq!(w.lot_balance("INV-2025-06/1"), Money::ZERO);
    assert_eq!(w.lot_status("INV-2025-06/1"), LotStatus::Complete);
    let inv = w.invoice("INV-2025-06");
    assert_eq!(
        (inv.charges, inv.credits_applied, inv.billed),
        (m("20000"), m("10000"), m("10000"))
    );
    w.apply(
        invoice("INV-2025-07", "2025-08-05")
            .line("2025-07-15", Usage, "2500")
            .fact(),
    );
    assert_eq!(w.macc_balance("contoso-macc"), m("37500"));
    assert_eq!(w.invoice("INV-2025-07").billed, m("2500"));
}

#[test]
fn r_settle_step_4_purchase_lot_opens_before_lines_dated_earlier_but_covers_only_from_its_start() {
    // The prepayment is bought on the 15th; usage on the 10th of the same invoice is not covered.
    let mut w = World::new(&agreement().macc("m", "50000", "2025-01-01", "2025-12-31"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "100")
            .line("2025-01-15", PrepaymentPurchase, "500")
            .line("2025-01-20", Usage, "200")
            .fact(),
    );
    assert_eq!(w.applied("INV-1/2", "INV-1"), m("200"));
    assert_eq!(w.lot_balance("INV-1/2"), m("300"));
    // MACC: 100 paid usage + 500 purchase.
    assert_eq!(w.decrement("m", "INV-1"), m("600"));
    let lot = &w.acct().lots[0].terms;
    assert_eq!((lot.start, lot.expires), (d("2025-01-15"), d("2026-01-15")));
}

#[test]
fn r_lotid_purchase_lot_takes_the_line_id_else_invoice_and_position() {
    let mut w = World::new(&agreement());
    w.apply(
        invoice("INV-9", "2025-02-05")
            .line("2025-01-01", Usage, "1")
            .line("2025-01-02", PrepaymentPurchase, "100")
            .line("2025-01-03", PrepaymentPurchase, "50")
            .line_id("PP-77")
            .fact(),
    );
    assert!(w.acct().credit_index("INV-9/2").is_some());
    assert!(w.acct().credit_index("PP-77").is_some());
    assert!(w.acct().credit_index("INV-9/3").is_none());
}

#[test]
fn r_lotid_a_purchase_line_id_already_in_use_is_refused() {
    let mut w =
        World::new(&agreement().credit("PP-1", CreditKind::Aco, "10", "2025-01-01", "2025-12-31"));
    let fact = invoice("INV-1", "2025-02-05")
        .line("2025-01-02", PrepaymentPurchase, "100")
        .line_id("PP-1")
        .fact();
    let err = w.ledger.apply(&fact).unwrap_err();
    assert!(
        matches!(err, CoreError::DuplicateLotId { ref lot, line_position: 1, .. } if lot == "PP-1"),
        "{err}"
    );
}

#[test]
fn r_settle_step_6_one_decrement_event_per_invoice_profile_and_commitment_with_running_balance() {
    let mut w = World::new(&agreement().macc("m", "1000", "2025-01-01", "2025-12-31"));
    let events = w.apply(
        invoice("INV-1", "2025-02-05")
            .profile("Engineering")
            .line("2025-01-01", Usage, "10")
            .profile("Finance")
            .line("2025-01-02", Usage, "20")
            .profile("Engineering")
            .line("2025-01-03", Usage, "5")
            .fact(),
    );
    let decrements: Vec<(String, Money, Money, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Decremented {
                profile,
                amount,
                balance_after,
                date,
                ..
            } => Some((profile.clone(), *amount, *balance_after, date.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        decrements,
        vec![
            (
                "Engineering".to_string(),
                m("15"),
                m("985"),
                "2025-02-05".to_string()
            ),
            (
                "Finance".to_string(),
                m("20"),
                m("965"),
                "2025-02-05".to_string()
            ),
        ]
    );
}

#[test]
fn r_settle_step_7_billed_is_charges_minus_credits() {
    let mut w =
        World::new(&agreement().credit("aco", CreditKind::Aco, "30", "2025-01-01", "2025-12-31"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-01", Usage, "50")
            .line("2025-01-02", Support, "7")
            .line("2025-01-03", Tax, "3.5")
            .fact(),
    );
    let inv = w.invoice("INV-1");
    assert_eq!(inv.charges, m("60.5"));
    assert_eq!(inv.credits_applied, m("30"));
    assert_eq!(inv.billed, m("30.5"));
    assert_eq!(inv.invoice_amount, m("30.5"));
}

// ---------------------------------------------------------------- R-ELIG, end to end

/// Every cell of the R-ELIG table, through settlement: a single 100 line paid by `payer`
/// (a lot of that kind widened to cover the line's kind), and what it decremented.
#[test]
fn r_elig_every_cell_through_settlement() {
    use ledger_core::kind::{ChargeKind, Payer};
    let payers: [(Payer, Option<CreditKind>); 5] = [
        (Payer::Paid, None),
        (Payer::Prepayment, Some(CreditKind::Prepayment)),
        (
            Payer::MilestoneShortfallCredit,
            Some(CreditKind::MilestoneShortfallCredit),
        ),
        (
            Payer::MaccShortfallCredit,
            Some(CreditKind::MaccShortfallCredit),
        ),
        (Payer::AwardedCredit, Some(CreditKind::Aco)),
    ];
    // (kind, expected (MACC, CACO) per payer column), from docs/RULES.md; "—" cells count nowhere.
    let table: [(ChargeKind, [(bool, bool); 5]); 10] = [
        (
            Usage,
            [
                (true, true),
                (false, true),
                (false, true),
                (false, false),
                (false, false),
            ],
        ),
        (
            ReservationPurchase,
            [
                (true, true),
                (false, true),
                (false, true),
                (false, false),
                (false, false),
            ],
        ),
        (ReservationUsage, [(false, false); 5]),
        (
            PrepaymentPurchase,
            [
                (true, false),
                (false, false),
                (false, false),
                (false, false),
                (false, false),
            ],
        ),
        (
            MarketplaceEligible,
            [
                (true, false),
                (false, false),
                (false, false),
                (false, false),
                (false, false),
            ],
        ),
        (Marketplace, [(false, false); 5]),
        (Support, [(false, false); 5]),
        (Tax, [(false, false); 5]),
        (
            MaccShortfallPurchase,
            [
                (true, false),
                (false, false),
                (false, false),
                (false, false),
                (false, false),
            ],
        ),
        (
            MilestoneShortfallPurchase,
            [
                (true, false),
                (false, false),
                (false, false),
                (false, false),
                (false, false),
            ],
        ),
    ];
    for (kind, expected) in table {
        for (column, (payer, credit)) in payers.iter().enumerate() {
            let mut a = agreement()
                .macc("m", "100000", "2025-01-01", "2025-12-31")
                .caco("c", "2025-01-01", CacoBasis::Period)
                .caco_milestone("M1", "2025-01-01", "2025-12-31", "100000", "0");
            if let Some(credit) = credit {
                a = a
                    .credit("lot", *credit, "1000", "2025-01-01", "2025-12-31")
                    .covers(&[kind]);
            }
            let mut w = World::new(&a);
            w.apply(
                invoice("INV-1", "2025-02-05")
                    .line("2025-01-10", kind, "100")
                    .fact(),
            );
            if credit.is_some() {
                // Lot-opening purchases open their own lot too; ours is "lot".
                assert_eq!(
                    w.applied("lot", "INV-1"),
                    m("100"),
                    "{kind} should be covered by {payer:?}"
                );
            }
            let got = (
                w.decrement("m", "INV-1") == m("100"),
                w.decrement("c", "INV-1") == m("100"),
            );
            let nothing = (
                w.decrement("m", "INV-1").is_zero(),
                w.decrement("c", "INV-1").is_zero(),
            );
            let (want_macc, want_caco) = expected[column];
            assert_eq!(
                got,
                (want_macc, want_caco),
                "R-ELIG {kind}/{}",
                payer.name()
            );
            assert_eq!(
                nothing,
                (!want_macc, !want_caco),
                "R-ELIG {kind}/{} partial count",
                payer.name()
            );
        }
    }
}

// ---------------------------------------------------------------- R-COVER

#[test]
fn r_cover_default_coverage_by_lot_kind() {
    let mut w = World::new(
        &agreement()
            .credit("aco", CreditKind::Aco, "1000", "2025-01-01", "2025-12-31")
            .credit(
                "pre",
                CreditKind::Prepayment,
                "1000",
                "2025-01-01",
                "2025-12-31",
            ),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", ReservationPurchase, "100")
            .line("2025-01-11", Marketplace, "40")
            .line("2025-01-12", Support, "30")
            .fact(),
    );
    // Awarded credits cover usage only; prepayment covers reservation purchases; nothing covers marketplace or support.
    assert_eq!(w.applied("aco", "INV-1"), Money::ZERO);
    assert_eq!(w.applied("pre", "INV-1"), m("100"));
    assert_eq!(w.invoice("INV-1").billed, m("70"));
}

#[test]
fn r_cover_lot_covers_only_between_its_start_and_expiry() {
    let mut w =
        World::new(&agreement().credit("aco", CreditKind::Aco, "1000", "2025-01-10", "2025-01-20"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-09", Usage, "1")
            .line("2025-01-10", Usage, "2")
            .line("2025-01-20", Usage, "4")
            .line("2025-01-21", Usage, "8")
            .fact(),
    );
    assert_eq!(w.applied("aco", "INV-1"), m("6"));
}

#[test]
fn r_cover_a_lot_may_narrow_or_widen_coverage() {
    let mut w = World::new(
        &agreement()
            .credit(
                "narrow",
                CreditKind::Prepayment,
                "1000",
                "2025-01-01",
                "2025-12-31",
            )
            .covers(&[Usage])
            .credit(
                "wide",
                CreditKind::Goodwill,
                "1000",
                "2025-01-01",
                "2025-12-31",
            )
            .covers(&[Usage, Marketplace]),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", ReservationPurchase, "100")
            .line("2025-01-11", Marketplace, "40")
            .fact(),
    );
    assert_eq!(w.applied("narrow", "INV-1"), Money::ZERO);
    assert_eq!(w.applied("wide", "INV-1"), m("40"));
}

// ---------------------------------------------------------------- R-CREDIT-ORDER

#[test]
fn r_credit_order_earliest_expiry_first() {
    let mut w = World::new(
        &agreement()
            .credit("late", CreditKind::Aco, "100", "2025-01-01", "2025-12-31")
            .credit("early", CreditKind::Aco, "100", "2025-01-01", "2025-06-30"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .fact(),
    );
    assert_eq!(w.applied("early", "INV-1"), m("100"));
    assert_eq!(w.applied("late", "INV-1"), m("50"));
}

#[test]
fn r_credit_order_ties_by_earlier_start_then_by_lot_id() {
    let mut w = World::new(
        &agreement()
            .credit(
                "b-later-start",
                CreditKind::Aco,
                "100",
                "2025-01-05",
                "2025-06-30",
            )
            .credit(
                "z-early-start",
                CreditKind::Aco,
                "100",
                "2025-01-01",
                "2025-06-30",
            )
            .credit("c-same", CreditKind::Aco, "100", "2025-01-05", "2025-06-30"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "250")
            .fact(),
    );
    // Same expiry: earlier start first (z), then by id among equal starts (b before c).
    assert_eq!(w.applied("z-early-start", "INV-1"), m("100"));
    assert_eq!(w.applied("b-later-start", "INV-1"), m("100"));
    assert_eq!(w.applied("c-same", "INV-1"), m("50"));
}

#[test]
fn r_credit_order_is_configurable_oldest_first() {
    let mut w = World::new(
        &agreement()
            .credit(
                "old-long",
                CreditKind::Aco,
                "100",
                "2024-01-01",
                "2026-12-31",
            )
            .credit(
                "new-short",
                CreditKind::Aco,
                "100",
                "2025-01-01",
                "2025-06-30",
            )
            .credit_order(CreditOrder::OldestFirst),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .fact(),
    );
    assert_eq!(w.applied("old-long", "INV-1"), m("100"));
    assert_eq!(w.applied("new-short", "INV-1"), m("50"));
}

#[test]
fn r_settle_step_5_one_line_split_across_two_lots_and_a_paid_remainder() {
    let mut w = World::new(
        &agreement()
            .macc("m", "10000", "2025-01-01", "2025-12-31")
            .caco("c", "2025-01-01", CacoBasis::Period)
            .caco_milestone("M1", "2025-01-01", "2025-12-31", "10000", "0")
            .credit(
                "pre",
                CreditKind::Prepayment,
                "30",
                "2025-01-01",
                "2025-03-31",
            )
            .credit("aco", CreditKind::Aco, "50", "2025-01-01", "2025-06-30"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "100")
            .fact(),
    );
    assert_eq!(w.applied("pre", "INV-1"), m("30"));
    assert_eq!(w.applied("aco", "INV-1"), m("50"));
    let inv = w.invoice("INV-1");
    assert_eq!((inv.credits_applied, inv.billed), (m("80"), m("20")));
    // MACC: only the paid 20. CACO: paid 20 + prepayment-covered 30 (awarded credit counts nowhere).
    assert_eq!(w.decrement("m", "INV-1"), m("20"));
    assert_eq!(w.decrement("c", "INV-1"), m("50"));
}

// ---------------------------------------------------------------- R-MACC

#[test]
fn r_macc_1_a_macc_opens_with_its_amount_and_dates() {
    let w = World::new(&agreement().macc("m", "50000.00", "2025-05-01", "2028-04-30"));
    let macc = &w.acct().maccs[0];
    assert_eq!(
        (macc.amounts.balance, macc.terms.start, macc.terms.end),
        (m("50000"), d("2025-05-01"), d("2028-04-30"))
    );
    assert_eq!(w.macc_status("m"), LotStatus::Active);
}

#[test]
fn r_macc_2_only_eligible_portions_dated_within_the_macc_decrement_it() {
    let mut w = World::new(&agreement().macc("m", "1000", "2025-01-15", "2025-01-31"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-14", Usage, "10")
            .line("2025-01-15", Usage, "20")
            .line("2025-01-31", Usage, "40")
            .line("2025-01-20", Marketplace, "80")
            .fact(),
    );
    assert_eq!(w.macc_balance("m"), m("940"));
}

#[test]
fn r_macc_2_the_balance_never_goes_below_zero() {
    let mut w = World::new(&agreement().macc("m", "100", "2025-01-01", "2025-12-31"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-14", Usage, "250")
            .fact(),
    );
    assert_eq!(w.macc_balance("m"), Money::ZERO);
    assert_eq!(w.decrement("m", "INV-1"), m("100"));
}

#[test]
fn r_macc_3_queue_overflow_passes_to_the_next_macc() {
    let mut w = World::new(
        &agreement()
            .macc("first", "100", "2025-01-01", "2025-12-31")
            .macc("second", "1000", "2025-01-01", "2026-12-31"),
    );
    assert_eq!(w.macc_status("second"), LotStatus::Inactive, "not yet head");
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .fact(),
    );
    assert_eq!(w.decrement("first", "INV-1"), m("100"));
    assert_eq!(w.decrement("second", "INV-1"), m("50"));
    assert_eq!(w.macc_status("first"), LotStatus::Complete);
    assert_eq!(w.macc_status("second"), LotStatus::Active);
    assert!(w.has_event(|e| matches!(e, Event::MaccCompleted { macc, invoice, date } if macc == "first" && invoice == "INV-1" && *date == d("2025-02-05"))));
}

#[test]
fn r_macc_3_overflow_to_a_macc_not_yet_started_is_not_counted() {
    let mut w = World::new(
        &agreement()
            .macc("first", "100", "2025-01-01", "2025-12-31")
            .macc("second", "1000", "2025-03-01", "2027-12-31"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .fact(),
    );
    assert_eq!(w.macc_balance("first"), Money::ZERO);
    assert_eq!(
        w.macc_balance("second"),
        m("1000"),
        "January spend is outside second's coverage"
    );
    // Head now, but before its start: Inactive (R-MACC-4).
    assert_eq!(w.macc_status("second"), LotStatus::Inactive);
    w.apply(
        invoice("INV-3", "2025-04-05")
            .line("2025-03-10", Usage, "70")
            .fact(),
    );
    assert_eq!(w.macc_balance("second"), m("930"));
    assert_eq!(w.macc_status("second"), LotStatus::Active);
}

#[test]
fn r_macc_3_queue_is_ordered_by_start_then_id() {
    let w = World::new(
        &agreement()
            .macc("b", "100", "2025-01-01", "2025-12-31")
            .macc("z", "100", "2024-06-01", "2025-12-31")
            .macc("a", "100", "2025-01-01", "2025-12-31"),
    );
    let ids: Vec<&str> = w.acct().maccs.iter().map(|m| m.terms.id.as_str()).collect();
    assert_eq!(ids, ["z", "a", "b"]);
}

#[test]
fn r_macc_4_statuses_inactive_active_completed_expired_canceled() {
    let mut w = World::new(
        &agreement()
            .macc("done", "10", "2025-01-01", "2025-12-31")
            .macc("late", "10", "2025-06-01", "2025-12-31")
            .macc("gone", "10", "2025-01-01", "2026-12-31"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "10")
            .fact(),
    );
    assert_eq!(w.macc_status("done"), LotStatus::Complete);
    assert_eq!(w.macc_status("gone"), LotStatus::Active, "next head");
    assert_eq!(w.macc_status("late"), LotStatus::Inactive);
    // Amend: drop "gone" from the agreement → Canceled; later spend does not count.
    let amended = agreement()
        .macc("done", "10", "2025-01-01", "2025-12-31")
        .macc("late", "10", "2025-06-01", "2025-12-31");
    w.apply(amended.fact());
    assert_eq!(w.macc_status("gone"), LotStatus::Canceled);
    w.apply(
        invoice("INV-2", "2025-03-05")
            .line("2025-02-10", Usage, "5")
            .fact(),
    );
    assert_eq!(w.decrement("gone", "INV-2"), Money::ZERO);
    // "late" expires when evaluated after its end with a balance.
    w.close("2025-12-31");
    assert_eq!(w.macc_status("late"), LotStatus::Expired);
}

#[test]
fn r_macc_5_missed_milestone_invoices_the_shortfall_and_opens_a_credit() {
    let mut w = World::new(
        &agreement()
            .macc("m", "10000", "2025-01-01", "2026-12-31")
            .macc_milestone("M1", "2025-03-31", "3000")
            .caco("c", "2025-01-01", CacoBasis::Period)
            .caco_milestone("C1", "2025-01-01", "2025-12-31", "100000", "0"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "1000")
            .fact(),
    );
    w.apply(
        invoice("INV-3", "2025-04-05")
            .line("2025-03-10", Usage, "500")
            .fact(),
    );
    // The April invoice (period from 2025-04-01 > due) triggers the evaluation first.
    w.apply(
        invoice("INV-4", "2025-05-05")
            .line("2025-04-10", Usage, "300")
            .fact(),
    );
    assert!(w.has_event(
        |e| matches!(e, Event::MaccMilestoneEvaluated { milestone, cumulative, shortfall, .. }
        if milestone == "M1" && *cumulative == m("1500") && *shortfall == m("1500"))
    ));
    let shortfall = w.invoice("SHORTFALL-m-M1");
    assert_eq!(
        (shortfall.date, shortfall.charges, shortfall.billed),
        (d("2025-04-01"), m("1500"), m("1500"))
    );
    // The shortfall purchase decrements the MACC (R-ELIG milestone_shortfall_purchase/paid).
    assert_eq!(w.decrement("m", "SHORTFALL-m-M1"), m("1500"));
    // It opened a milestone shortfall credit, which paid April's usage: CACO counts it, MACC does not.
    let lot = &w.acct().lots[w.acct().credit_index("m/M1/shortfall").unwrap()];
    assert_eq!(
        (lot.terms.start, lot.terms.expires),
        (d("2025-04-01"), d("2026-04-01"))
    );
    assert_eq!(w.applied("m/M1/shortfall", "INV-4"), m("300"));
    assert_eq!(w.decrement("m", "INV-4"), Money::ZERO);
    assert_eq!(w.decrement("c", "INV-4"), m("300"));
    assert_eq!(w.macc_balance("m"), m("7000"));
}

#[test]
fn r_macc_5_met_milestone_makes_no_invoice() {
    let mut w = World::new(
        &agreement()
            .macc("m", "10000", "2025-01-01", "2026-12-31")
            .macc_milestone("M1", "2025-03-31", "1000"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "1200")
            .fact(),
    );
    w.close("2025-03-31");
    assert!(w.has_event(
        |e| matches!(e, Event::MaccMilestoneEvaluated { shortfall, .. } if shortfall.is_zero())
    ));
    assert!(w.acct().invoice("SHORTFALL-m-M1").is_none());
    assert!(w.acct().lots.is_empty());
}

// ---------------------------------------------------------------- R-SHORT

fn missed_macc(enrollment_end: Option<&str>, renewed: Option<bool>) -> World {
    let mut w = World::new(
        &agreement()
            .macc("m", "1000", "2025-01-01", "2025-12-31")
            .enrollment(enrollment_end, renewed),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "400")
            .fact(),
    );
    w.apply(
        invoice("INV-2026-01", "2026-02-05")
            .line("2026-01-10", Usage, "50")
            .fact(),
    );
    w
}

#[test]
fn r_short_missed_macc_expires_keeps_its_balance_and_is_invoiced() {
    let w = missed_macc(None, None);
    assert_eq!(w.macc_status("m"), LotStatus::Expired);
    assert_eq!(w.macc_balance("m"), m("600"));
    let inv = w.invoice("SHORTFALL-m");
    assert_eq!((inv.date, inv.charges), (d("2026-01-01"), m("600")));
}

#[test]
fn r_short_1_active_enrollment_converts_until_enrollment_end() {
    let w = missed_macc(Some("2026-06-30"), None);
    let lot = &w.acct().lots[w.acct().credit_index("m/shortfall").unwrap()];
    assert_eq!(lot.terms.kind, CreditKind::MaccShortfallCredit);
    assert_eq!(
        (lot.terms.amount, lot.terms.start, lot.terms.expires),
        (m("600"), d("2026-01-01"), d("2026-06-30"))
    );
    assert!(w.has_event(|e| matches!(
        e,
        Event::MaccExpired {
            conversion: ShortfallConversion::ActiveEnrollment { .. },
            ..
        }
    )));
}

#[test]
fn r_short_2_renewed_enrollment_converts_for_twelve_months() {
    let w = missed_macc(Some("2025-12-31"), Some(true));
    let lot = &w.acct().lots[w.acct().credit_index("m/shortfall").unwrap()];
    assert_eq!(lot.terms.expires, d("2026-12-31"));
    assert!(w.has_event(|e| e.rule() == "R-SHORT-2"));
}

#[test]
fn r_short_3_ended_unrenewed_enrollment_does_not_convert() {
    let w = missed_macc(Some("2025-12-31"), Some(false));
    assert!(w.acct().credit_index("m/shortfall").is_none());
    assert!(w.has_event(|e| matches!(
        e,
        Event::MaccExpired {
            conversion: ShortfallConversion::NotConverted,
            ..
        }
    )));
    assert_eq!(
        w.invoice("SHORTFALL-m").charges,
        m("600"),
        "the shortfall is still invoiced"
    );
}

#[test]
fn r_short_the_shortfall_trap_consumption_covered_by_the_credit_counts_nowhere() {
    let mut w = World::new(
        &agreement()
            .macc("old", "1000", "2025-01-01", "2025-12-31")
            .macc("new", "5000", "2026-01-01", "2027-12-31")
            .caco("c", "2026-01-01", CacoBasis::Period)
            .caco_milestone("C1", "2026-01-01", "2026-12-31", "100000", "0"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "400")
            .fact(),
    );
    w.apply(
        invoice("INV-2026-01", "2026-02-05")
            .line("2026-01-10", Usage, "250")
            .fact(),
    );
    // Fine point 4: the shortfall purchase (dated 2026-01-01) counts toward the next MACC.
    assert_eq!(w.decrement("new", "SHORTFALL-old"), m("600"));
    // January's usage is paid by the shortfall credit: it counts toward nothing.
    assert_eq!(w.applied("old/shortfall", "INV-2026-01"), m("250"));
    assert_eq!(w.decrement("new", "INV-2026-01"), Money::ZERO);
    assert_eq!(w.decrement("c", "INV-2026-01"), Money::ZERO);
    assert_eq!(w.macc_balance("new"), m("4400"));
}

// ---------------------------------------------------------------- R-CACO

fn two_milestone_caco(basis: CacoBasis) -> AgreementBuilder {
    let (t1, t2) = match basis {
        CacoBasis::Period => ("1000", "1000"),
        CacoBasis::Cumulative => ("1000", "2000"),
    };
    agreement()
        .caco("c", "2025-01-01", basis)
        .caco_milestone("M1", "2025-01-01", "2025-03-31", t1, "100")
        .caco_milestone("M2", "2025-04-01", "2025-06-30", t2, "200")
}

#[test]
fn r_caco_1_end_is_the_last_milestone_end() {
    let w = World::new(&two_milestone_caco(CacoBasis::Period));
    let c = &w.acct().cacos[0];
    assert_eq!(
        (c.terms.start, c.terms.end()),
        (d("2025-01-01"), d("2025-06-30"))
    );
}

#[test]
fn r_caco_2_period_basis_counts_toward_the_milestone_holding_the_date() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period));
    assert_eq!(
        w.caco_remaining("c"),
        m("2000"),
        "commitment = sum of targets"
    );
    w.apply(
        invoice("INV-1", "2025-04-05")
            .period("2025-03-01", "2025-04-30")
            .line("2025-03-20", Usage, "300")
            .line("2025-04-10", Usage, "500")
            .fact(),
    );
    assert_eq!(w.milestone_progress("c", "M1"), m("300"));
    assert_eq!(w.milestone_progress("c", "M2"), m("500"));
    assert_eq!(w.caco_remaining("c"), m("1200"));
}

#[test]
fn r_caco_2_cumulative_basis_counts_toward_every_later_milestone() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Cumulative));
    assert_eq!(w.caco_remaining("c"), m("2000"), "commitment = last target");
    w.apply(
        invoice("INV-1", "2025-04-05")
            .period("2025-03-01", "2025-04-30")
            .line("2025-03-20", Usage, "300")
            .line("2025-04-10", Usage, "500")
            .fact(),
    );
    assert_eq!(w.milestone_progress("c", "M1"), m("300"));
    assert_eq!(w.milestone_progress("c", "M2"), m("800"));
    assert_eq!(w.caco_remaining("c"), m("1200"));
}

#[test]
fn r_caco_3_remaining_never_goes_below_zero_and_decrements_per_profile() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period));
    let events = w.apply(
        invoice("INV-1", "2025-02-05")
            .profile("A")
            .line("2025-01-10", Usage, "1500")
            .profile("B")
            .line("2025-01-11", Usage, "900")
            .fact(),
    );
    assert_eq!(w.caco_remaining("c"), Money::ZERO);
    let caco_decrements: Vec<(String, Money, Money)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Decremented {
                kind: CommitmentKind::Caco,
                profile,
                amount,
                balance_after,
                ..
            } => Some((profile.clone(), *amount, *balance_after)),
            _ => None,
        })
        .collect();
    assert_eq!(
        caco_decrements,
        vec![
            ("A".into(), m("1500"), m("500")),
            ("B".into(), m("500"), Money::ZERO)
        ]
    );
    // Progress is not capped: all 2400 counted toward M1.
    assert_eq!(w.milestone_progress("c", "M1"), m("2400"));
    assert_eq!(w.caco_status("c"), "Completed");
}

#[test]
fn r_caco_4_milestone_statuses_scheduled_active_pending_missed_completed() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "100")
            .fact(),
    );
    assert_eq!(w.milestone_status("c", "M1"), "Active");
    assert_eq!(w.milestone_status("c", "M2"), "Scheduled");
    // March invoice dated in April: M1's end has passed but its charges may not all be in.
    w.apply(
        invoice("INV-3", "2025-04-05")
            .line("2025-03-10", Usage, "100")
            .fact(),
    );
    assert_eq!(w.milestone_status("c", "M1"), "Pending");
    // April invoice (period starts after M1's end) evaluates it: missed, award forfeited.
    w.apply(
        invoice("INV-4", "2025-05-05")
            .line("2025-04-10", Usage, "1000")
            .fact(),
    );
    assert_eq!(w.milestone_status("c", "M1"), "Missed");
    assert!(w.has_event(|e| matches!(e, Event::CacoMilestoneMissed { milestone, forfeited_award, .. } if milestone == "M1" && *forfeited_award == m("100"))));
    assert_eq!(w.milestone_status("c", "M2"), "Completed");
}

#[test]
fn r_caco_5_award_opens_on_the_invoice_that_reaches_the_target_even_early() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Cumulative));
    // Met early: M2's cumulative target (2000) reached in February.
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "2100")
            .fact(),
    );
    assert_eq!(w.milestone_status("c", "M1"), "Completed");
    assert_eq!(w.milestone_status("c", "M2"), "Completed");
    let lot = &w.acct().lots[w.acct().credit_index("c/M2/award").unwrap()];
    assert_eq!(
        (lot.terms.kind, lot.terms.amount),
        (CreditKind::Aco, m("200"))
    );
    assert_eq!(
        (lot.terms.start, lot.terms.expires),
        (d("2025-02-05"), d("2026-02-05"))
    );
    assert!(matches!(lot.origin, LotOrigin::Award { .. }));
    // The award pays later usage (dated on or after its start), not the invoice that earned it.
    assert_eq!(w.applied("c/M1/award", "INV-1"), Money::ZERO);
    w.apply(
        invoice("INV-2", "2025-03-05")
            .line("2025-02-10", Usage, "250")
            .fact(),
    );
    assert_eq!(w.applied("c/M1/award", "INV-2"), m("100"));
    assert_eq!(w.applied("c/M2/award", "INV-2"), m("150"));
}

#[test]
fn r_caco_6_progress_percent_is_not_capped() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "1200")
            .fact(),
    );
    let ms = &w.acct().cacos[0].milestones[0];
    assert_eq!(
        ledger_core::AccountState::milestone_progress_percent(ms).to_string(),
        "120"
    );
}

#[test]
fn r_caco_7_statuses_completed_expired_canceled() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period));
    assert_eq!(w.caco_status("c"), "Active");
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "100")
            .fact(),
    );
    w.close("2025-06-30");
    assert_eq!(w.caco_status("c"), "Expired");
    assert!(w.has_event(
        |e| matches!(e, Event::CacoExpired { remaining, .. } if *remaining == m("1900"))
    ));

    let mut w = World::new(&two_milestone_caco(CacoBasis::Period).macc(
        "m",
        "10",
        "2025-01-01",
        "2025-12-31",
    ));
    w.apply(
        agreement()
            .macc("m", "10", "2025-01-01", "2025-12-31")
            .fact(),
    );
    assert_eq!(w.caco_status("c"), "Canceled");
    assert_eq!(w.milestone_status("c", "M1"), "Canceled");
}

#[test]
fn r_caco_4_amendment_removes_a_milestone() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period));
    let amended = agreement()
        .caco("c", "2025-01-01", CacoBasis::Period)
        .caco_milestone("M1", "2025-01-01", "2025-03-31", "1000", "100");
    w.apply(amended.fact());
    assert_eq!(w.milestone_status("c", "M2"), "Removed");
    assert_eq!(w.caco_remaining("c"), m("1000"));
}

// ---------------------------------------------------------------- R-EVAL

#[test]
fn r_eval_a_deadline_is_evaluated_only_after_an_invoice_whose_period_starts_later() {
    let mut w =
        World::new(&agreement().credit("aco", CreditKind::Aco, "100", "2025-01-01", "2025-01-31"));
    // Period starting on the expiry date itself does not trigger it.
    w.apply(
        invoice("INV-A", "2025-02-05")
            .period("2025-01-31", "2025-02-27")
            .line("2025-01-31", Usage, "10")
            .fact(),
    );
    assert_eq!(w.lot_status("aco"), LotStatus::Active);
    w.apply(
        invoice("INV-B", "2025-03-05")
            .period("2025-02-01", "2025-02-28")
            .line("2025-02-10", Usage, "10")
            .fact(),
    );
    assert_eq!(w.lot_status("aco"), LotStatus::Expired);
    assert!(w.has_event(|e| matches!(e, Event::CreditLotExpired { lot, balance, .. } if lot == "aco" && *balance == m("90"))));
    // An expired lot covers nothing more, and keeps its balance as closed balance.
    assert_eq!(w.applied("aco", "INV-B"), Money::ZERO);
    assert_eq!(w.lot_balance("aco"), m("90"));
}

#[test]
fn r_eval_close_evaluates_every_deadline_up_to_its_date() {
    let mut w =
        World::new(&agreement().credit("aco", CreditKind::Aco, "100", "2025-01-01", "2025-01-31"));
    w.close("2025-01-30");
    assert_eq!(w.lot_status("aco"), LotStatus::Active);
    w.close("2025-01-31");
    assert_eq!(w.lot_status("aco"), LotStatus::Expired);
    assert_eq!(w.acct().clock, Some(d("2025-01-31")));
}

#[test]
fn r_eval_same_date_deadlines_in_fine_point_order() {
    let mut w = World::new(
        &agreement()
            .macc("m", "1000", "2025-01-01", "2025-03-31")
            .macc_milestone("M1", "2025-03-31", "500")
            .caco("c", "2025-01-01", CacoBasis::Period)
            .caco_milestone("C1", "2025-01-01", "2025-03-31", "500", "50")
            .credit("aco", CreditKind::Aco, "10", "2025-01-01", "2025-03-31"),
    );
    let events = w.close("2025-03-31");
    let order: Vec<&str> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::MaccMilestoneEvaluated { .. }
                    | Event::MaccExpired { .. }
                    | Event::CacoMilestoneMissed { .. }
                    | Event::CacoExpired { .. }
                    | Event::CreditLotExpired { .. }
            )
        })
        .map(|e| e.name())
        .collect();
    assert_eq!(
        order,
        [
            "MaccMilestoneEvaluated",
            "MaccExpired",
            "CacoMilestoneMissed",
            "CacoExpired",
            "CreditLotExpired"
        ]
    );
}

// ---------------------------------------------------------------- R-IDEM

#[test]
fn r_idem_1_the_same_invoice_again_changes_nothing() {
    let mut w = World::new(&agreement().macc("m", "1000", "2025-01-01", "2025-12-31"));
    let fact = invoice("INV-1", "2025-02-05")
        .line("2025-01-10", Usage, "10")
        .fact();
    w.apply(fact.clone());
    let before = w.ledger.clone();
    let again = w.ledger.apply(&fact).unwrap();
    assert!(again.duplicate);
    assert!(again.events.is_empty());
    assert_eq!(w.ledger, before);
}

#[test]
fn r_idem_2_the_same_invoice_id_with_different_content_is_refused_and_changes_nothing() {
    let mut w = World::new(&agreement().macc("m", "1000", "2025-01-01", "2025-12-31"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "10")
            .fact(),
    );
    let before = w.ledger.clone();
    let changed = invoice("INV-1", "2025-02-05")
        .line("2025-01-10", Usage, "11")
        .fact();
    let err = w.ledger.apply(&changed).unwrap_err();
    assert!(
        matches!(err, CoreError::InvoiceConflict { ref detail, .. } if detail.contains("totalling 10") && detail.contains("totalling 11")),
        "{err}"
    );
    assert_eq!(w.ledger, before);
}

#[test]
fn r_idem_1_recording_the_same_agreement_again_changes_nothing() {
    let a = agreement().macc("m", "1000", "2025-01-01", "2025-12-31");
    let mut w = World::new(&a);
    let again = w.ledger.apply(&a.fact()).unwrap();
    assert!(again.duplicate && again.events.is_empty());
}

#[test]
fn reserved_invoice_ids_are_refused() {
    let mut w = World::new(&agreement());
    for id in ["SHORTFALL-x", "WHATIF-2025-01"] {
        let err = w
            .ledger
            .apply(
                &invoice(id, "2025-02-05")
                    .line("2025-01-10", Usage, "1")
                    .fact(),
            )
            .unwrap_err();
        assert!(matches!(err, CoreError::ReservedInvoiceId { .. }), "{err}");
    }
}

#[test]
fn an_invoice_in_another_currency_is_refused() {
    let mut w = World::new(&agreement());
    let mut b = invoice("INV-1", "2025-02-05").line("2025-01-10", Usage, "1");
    b.invoice.currency = "EUR".into();
    let err = w.ledger.apply(&b.fact()).unwrap_err();
    assert!(matches!(err, CoreError::CurrencyMismatch { .. }), "{err}");
}

// ---------------------------------------------------------------- R-ADJ

#[test]
fn r_adj_refund_raises_the_macc_head_capped_at_its_original_amount() {
    let mut w = World::new(&agreement().macc("m", "1000", "2025-01-01", "2025-12-31"));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "100")
            .fact(),
    );
    w.apply(
        invoice("INV-2", "2025-03-05")
            .line("2025-02-10", Refund, "-30")
            .fact(),
    );
    assert_eq!(w.macc_balance("m"), m("930"));
    // A refund larger than what was decremented stops at the original amount.
    w.apply(
        invoice("INV-3", "2025-04-05")
            .line("2025-03-10", Refund, "-500")
            .fact(),
    );
    assert_eq!(w.macc_balance("m"), m("1000"));
    assert!(w.has_event(|e| matches!(e, Event::Adjusted { invoice, requested, applied, balance_after, .. }
        if invoice == "INV-3" && *requested == m("500") && *applied == m("70") && *balance_after == m("1000"))));
    assert_eq!(w.invoice("INV-3").charges, m("-500"));
}

#[test]
fn r_adj_refund_corrects_a_named_caco_or_credit_lot() {
    let mut w = World::new(&two_milestone_caco(CacoBasis::Period).credit(
        "aco",
        CreditKind::Aco,
        "100",
        "2025-01-01",
        "2025-12-31",
    ));
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "600")
            .fact(),
    );
    assert_eq!(w.lot_balance("aco"), Money::ZERO);
    assert_eq!(w.caco_remaining("c"), m("1500"));
    w.apply(
        invoice("INV-2", "2025-03-05")
            .line("2025-01-10", Refund, "-40")
            .corrects(Some("aco"), None)
            .line("2025-01-12", Refund, "-200")
            .corrects(Some("c"), Some(Usage))
            .fact(),
    );
    assert_eq!(w.lot_balance("aco"), m("40"));
    assert_eq!(w.caco_remaining("c"), m("1700"));
    assert_eq!(w.milestone_progress("c", "M1"), m("300"));
}

#[test]
fn r_adj_a_refund_of_an_ineligible_kind_or_on_a_completed_macc_restores_nothing() {
    let mut w = World::new(
        &agreement()
            .macc("m", "100", "2025-01-01", "2025-12-31")
            .macc("n", "1000", "2025-01-01", "2025-12-31"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .fact(),
    );
    assert_eq!(w.macc_status("m"), LotStatus::Complete);
    w.apply(
        invoice("INV-2", "2025-03-05")
            .line("2025-01-10", Refund, "-20")
            .corrects(Some("m"), None)
            .line("2025-01-11", Refund, "-20")
            .corrects(Some("n"), Some(Marketplace))
            .fact(),
    );
    assert_eq!(
        w.macc_status("m"),
        LotStatus::Complete,
        "a Completed MACC stays completed"
    );
    assert_eq!(w.macc_balance("m"), Money::ZERO);
    assert_eq!(
        w.macc_balance("n"),
        m("950"),
        "marketplace never counted toward MACC"
    );
}

// ---------------------------------------------------------------- R-CSP

/// The six-month worked table of 003_….
#[test]
fn r_csp_partner_earned_credit_from_the_month_the_aco_runs_out() {
    let mut w = World::new(
        &agreement()
            .credit(
                "aco-500",
                CreditKind::Aco,
                "500",
                "2024-01-01",
                "2024-12-31",
            )
            .pec_rate("0.15"),
    );
    let months = [
        ("2024-01-31", "75"),
        ("2024-02-29", "85"),
        ("2024-03-31", "90"),
        ("2024-04-30", "112"),
        ("2024-05-31", "85"),
        ("2024-06-30", "100"),
    ];
    let mut balances = vec![];
    for (i, (day, amount)) in months.iter().enumerate() {
        let date = d(day).add_days(5).to_string();
        w.apply(
            invoice(&format!("INV-{i}"), &date)
                .period(&d(day).month_start().to_string(), day)
                .line(day, Usage, amount)
                .fact(),
        );
        balances.push(w.lot_balance("aco-500").to_string());
    }
    assert_eq!(balances, ["425", "340", "250", "138", "53", "0"]);
    for i in 0..5 {
        let inv = w.invoice(&format!("INV-{i}"));
        assert_eq!(
            (inv.billed, inv.partner_earned_credit),
            (Money::ZERO, Money::ZERO)
        );
    }
    let last = w.invoice("INV-5");
    assert_eq!(
        (last.billed, last.partner_earned_credit, last.invoice_amount),
        (m("47"), m("7.05"), m("39.95"))
    );
}

// ---------------------------------------------------------------- R-DET

#[test]
fn r_det_1_same_facts_same_decisions() {
    let facts = [
        agreement()
            .macc("m", "1000", "2025-01-01", "2025-12-31")
            .credit("aco", CreditKind::Aco, "100", "2025-01-01", "2025-12-31")
            .fact(),
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .line("2025-01-12", PrepaymentPurchase, "70")
            .fact(),
        Fact::Close {
            account: ACCOUNT.into(),
            through: d("2026-01-31"),
        },
    ];
    let run = || {
        let mut ledger = ledger_core::Ledger::new();
        facts
            .iter()
            .flat_map(|f| ledger.apply(f).unwrap().events)
            .collect::<Vec<_>>()
    };
    assert_eq!(format!("{:?}", run()), format!("{:?}", run()));
}

#[test]
fn r_det_2_lines_settle_in_charge_date_order_then_input_order() {
    let a = agreement().credit("aco", CreditKind::Aco, "100", "2025-01-01", "2025-12-31");
    // Input order: the later-dated line first. Credits go to the earlier-dated line first.
    let mut w = World::new(&a);
    w.apply(
        invoice("INV-1", "2025-02-05")
            .profile("Late")
            .line("2025-01-20", Usage, "80")
            .profile("Early")
            .line("2025-01-10", Usage, "80")
            .fact(),
    );
    let by_profile: Vec<(String, Money)> = w
        .events
        .iter()
        .filter_map(|e| match e {
            Event::CreditApplied {
                profile, amount, ..
            } => Some((profile.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        by_profile,
        vec![("Late".into(), m("20")), ("Early".into(), m("80"))]
    );
}

#[test]
fn r_det_3_amounts_are_exact() {
    let mut w = World::new(&agreement().macc("m", "1", "2025-01-01", "2025-12-31"));
    let mut b = invoice("INV-1", "2025-02-05");
    for _ in 0..10 {
        b = b.line("2025-01-10", Usage, "0.1");
    }
    w.apply(
        b.line("2025-01-11", Usage, "0.000000000000000000000001")
            .fact(),
    );
    assert_eq!(w.invoice("INV-1").charges, m("1.000000000000000000000001"));
    assert_eq!(w.macc_balance("m"), Money::ZERO);
    assert_eq!(w.macc_status("m"), LotStatus::Complete);
}
