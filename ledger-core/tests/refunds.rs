//! Refund lines inside an invoice (issue 11, points 1–3): settlement in decision order.
//!
//! - pt 1: a refund after the line that completes a MACC does not reopen it (fine point 7);
//! - pt 2: each lot's events are listed in the order they were decided;
//! - pt 3: no event shows a balance above the lot's original amount (R-ADJ).
//!
//! Ledgers recorded under rulebook version 1 keep deciding as they were recorded (the audit
//! re-derives them), which the last tests pin.

mod common;

use common::*;
use ledger_core::event::{CommitmentKind, Event};
use ledger_core::kind::ChargeKind::{Refund, Usage};
use ledger_core::rulebook::CURRENT_VERSION as CURRENT;
use ledger_core::state::{LotStatus, MaccState};
use ledger_core::Money;

/// A MACC of 5,000.00 with 1,689.39 left after a first invoice.
fn macc_with_1689_39_left(next: bool, rulebook: u16) -> World {
    let mut a = agreement().macc("m", "5000.00", "2025-01-01", "2025-12-31");
    if next {
        a = a.macc("n", "5000.00", "2025-02-01", "2026-12-31");
    }
    a.0.terms.rulebook_version = rulebook;
    let mut w = World::new(&a);
    w.apply(
        invoice("INV-4", "2025-05-05")
            .line("2025-04-10", Usage, "3310.61")
            .fact(),
    );
    assert_eq!(w.macc_balance("m"), m("1689.39"));
    w
}

/// The issue's invoice: 05-13 and 05-30 (profile Fin) exceed what is left; a refund of
/// −398.38 dated 05-31 (profile Eng).
fn the_issue_invoice() -> ledger_core::Fact {
    invoice("INV-5", "2025-06-05")
        .profile("Fin")
        .line("2025-05-13", Usage, "1200.00")
        .line("2025-05-30", Usage, "700.00")
        .profile("Eng")
        .line("2025-05-31", Refund, "-398.38")
        .fact()
}

/// The events of `lot` in `events`, as (name, amount signed as charges, balance after).
fn trail(events: &[Event], lot: &str) -> Vec<(&'static str, Money, Money)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Decremented {
                commitment,
                amount,
                balance_after,
                ..
            } if commitment == lot => {
                Some((e.name(), amount.checked_neg().unwrap(), *balance_after))
            }
            Event::Adjusted {
                target,
                applied,
                balance_after,
                ..
            } if target == lot => Some((e.name(), *applied, *balance_after)),
            _ => None,
        })
        .collect()
}

#[test]
fn pt1_a_refund_after_the_line_that_completes_a_macc_does_not_reopen_it() {
    let mut w = macc_with_1689_39_left(false, CURRENT);
    let events = w.apply(the_issue_invoice());
    assert_eq!(w.macc_balance("m"), Money::ZERO, "0.00 left");
    assert_eq!(w.macc_status("m"), LotStatus::Complete);
    assert!(matches!(
        &w.acct().maccs[0].state,
        MaccState::Completed { invoice, .. } if invoice == "INV-5"
    ));
    assert_eq!(
        trail(&events, "m"),
        vec![("Decremented", m("-1689.39"), Money::ZERO)],
        "no adjustment raises the completed MACC"
    );
    check_trail(&w.events).unwrap();
}

#[test]
fn pt1_what_the_completed_head_cannot_take_passes_to_the_next_macc_and_the_refund_corrects_it() {
    let mut w = macc_with_1689_39_left(true, CURRENT);
    let events = w.apply(the_issue_invoice());
    assert_eq!(w.macc_balance("m"), Money::ZERO);
    assert_eq!(w.macc_status("m"), LotStatus::Complete);
    // 1,900.00 − 1,689.39 = 210.61 passes to n (R-MACC-3); the refund dated after the head
    // completed corrects the new head, n, never above its original.
    assert_eq!(
        trail(&events, "n"),
        vec![
            ("Decremented", m("-210.61"), m("4789.39")),
            ("Adjusted", m("210.61"), m("5000.00")),
        ]
    );
    assert_eq!(w.macc_status("n"), LotStatus::Active);
    check_trail(&w.events).unwrap();
}

#[test]
fn pt2_a_lots_events_are_listed_in_decision_order() {
    let mut w = macc_with_1689_39_left(false, CURRENT);
    let events = w.apply(
        invoice("INV-5", "2025-06-05")
            .profile("Fin")
            .line("2025-05-13", Usage, "1000.00")
            .profile("Eng")
            .line("2025-05-20", Refund, "-300.00")
            .profile("Fin")
            .line("2025-05-30", Usage, "900.00")
            .fact(),
    );
    assert_eq!(
        trail(&events, "m"),
        vec![
            ("Decremented", m("-1000.00"), m("689.39")),
            ("Adjusted", m("300.00"), m("989.39")),
            ("Decremented", m("-900.00"), m("89.39")),
        ]
    );
    assert_eq!(w.macc_balance("m"), m("89.39"));
    check_trail(&w.events).unwrap();
}

#[test]
fn pt2_one_decrement_per_profile_and_commitment_when_no_refund_splits_the_invoice() {
    let mut w = macc_with_1689_39_left(false, CURRENT);
    let events = w.apply(
        invoice("INV-5", "2025-06-05")
            .profile("Fin")
            .line("2025-05-13", Usage, "10.00")
            .profile("Eng")
            .line("2025-05-14", Usage, "20.00")
            .profile("Fin")
            .line("2025-05-30", Usage, "30.00")
            .fact(),
    );
    let decrements: Vec<(String, Money)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Decremented {
                kind: CommitmentKind::Macc,
                profile,
                amount,
                ..
            } => Some((profile.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        decrements,
        vec![("Fin".to_string(), m("40")), ("Eng".to_string(), m("20"))]
    );
}

#[test]
fn pt3_a_small_refund_between_decrements_never_shows_a_balance_above_the_original() {
    let mut w = World::new(&agreement().macc("m", "1000.00", "2025-01-01", "2025-12-31"));
    let events = w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "0.02")
            .line("2025-01-11", Refund, "-0.01")
            .line("2025-01-12", Usage, "5.00")
            .fact(),
    );
    for (name, _, after) in trail(&events, "m") {
        assert!(after <= m("1000.00"), "{name} shows {after}");
    }
    assert_eq!(
        trail(&events, "m"),
        vec![
            ("Decremented", m("-0.02"), m("999.98")),
            ("Adjusted", m("0.01"), m("999.99")),
            ("Decremented", m("-5.00"), m("994.99")),
        ]
    );
    check_trail(&w.events).unwrap();
}

#[test]
fn pt1_a_refund_cannot_raise_a_caco_that_reached_zero_earlier_in_the_invoice() {
    let mut w = World::new(
        &agreement()
            .caco("c", "2025-01-01", ledger_core::CacoBasis::Period)
            .caco_milestone("M1", "2025-01-01", "2025-12-31", "100", "0"),
    );
    w.apply(
        invoice("INV-1", "2025-02-05")
            .line("2025-01-10", Usage, "150")
            .line("2025-01-20", Refund, "-40")
            .corrects(Some("c"), None)
            .fact(),
    );
    assert_eq!(w.caco_remaining("c"), Money::ZERO);
    assert_eq!(w.caco_status("c"), "Completed");
    check_trail(&w.events).unwrap();
}

// ------------------------------------------------------------------ version 1, as recorded

#[test]
fn rulebook_1_still_decides_as_it_was_recorded() {
    // The defect of version 1, kept so that ledgers recorded under it re-derive byte for
    // byte: the refund reopens the MACC and the adjustment is listed first.
    let mut w = macc_with_1689_39_left(false, 1);
    let events = w.apply(the_issue_invoice());
    assert_eq!(w.macc_balance("m"), m("398.38"));
    assert_eq!(w.macc_status("m"), LotStatus::Active);
    assert_eq!(
        trail(&events, "m"),
        vec![
            ("Adjusted", m("398.38"), m("2087.77")),
            ("Decremented", m("-1689.39"), m("398.38")),
        ]
    );
}

#[test]
fn new_agreements_get_the_current_rulebook() {
    assert_eq!(ledger_core::rulebook::CURRENT_VERSION, 2);
    assert_eq!(
        ledger_core::AccountTerms::default().rulebook_version,
        ledger_core::rulebook::CURRENT_VERSION
    );
}

// ------------------------------------------------------------------ resettle

/// Every fact `w` applied, re-derived under `version`, and the corrections it calls for.
fn resettle_fact(w: &World, facts: &[ledger_core::Fact], version: u16) -> ledger_core::Fact {
    let mut re = ledger_core::resettle::Rederivation::new(ACCOUNT, version).unwrap();
    for f in facts {
        re.apply(f).unwrap();
    }
    let rederived = re.finish().unwrap();
    let corrections = ledger_core::resettle::corrections(w.acct(), &rederived).unwrap();
    ledger_core::Fact::Resettle {
        account: ACCOUNT.into(),
        version,
        corrections,
    }
}

#[test]
fn resettle_corrects_a_ledger_recorded_under_rulebook_1_and_a_second_run_changes_nothing() {
    let mut a = agreement()
        .macc("m", "5000.00", "2025-01-01", "2025-12-31")
        .macc("n", "5000.00", "2025-02-01", "2026-12-31");
    a.0.terms.rulebook_version = 1;
    let mut facts = vec![a.fact()];
    let mut w = World::new(&a);
    for f in [
        invoice("INV-4", "2025-05-05")
            .line("2025-04-10", Usage, "3310.61")
            .fact(),
        the_issue_invoice(),
    ] {
        w.apply(f.clone());
        facts.push(f);
    }
    assert_eq!(w.macc_balance("m"), m("398.38"), "version 1 as recorded");
    let recorded = w.events.len();

    let fact = resettle_fact(&w, &facts, 2);
    let events = w.apply(fact.clone());
    facts.push(fact);
    assert_eq!(w.acct().terms.rulebook_version, 2);
    assert_eq!(w.macc_balance("m"), Money::ZERO);
    assert_eq!(w.macc_status("m"), LotStatus::Complete);
    assert_eq!(w.macc_balance("n"), m("5000.00"));
    let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        vec![
            "AccountTermsChanged",
            "Resettled",
            "MaccCompleted",
            "Resettled"
        ]
    );
    assert!(
        matches!(&events[1], Event::Resettled { target, change, balance_after, .. }
        if target == "m" && *change == m("-398.38") && balance_after.is_zero())
    );
    // History is kept: the version 1 decisions are still there, before the corrections.
    assert_eq!(w.events.len(), recorded + events.len());
    check_trail(&w.events).unwrap_or_else(|e| panic!("{e}"));

    // Idempotent: a second resettle finds nothing to correct and decides nothing.
    let again = resettle_fact(&w, &facts, 2);
    assert!(
        matches!(&again, ledger_core::Fact::Resettle { corrections, .. } if corrections.is_empty())
    );
    assert!(w.apply(again).is_empty());
    // Later invoices settle under version 2.
    w.apply(
        invoice("INV-6", "2025-07-05")
            .line("2025-06-10", Usage, "10")
            .line("2025-06-11", Refund, "-4")
            .line("2025-06-12", Usage, "1")
            .fact(),
    );
    assert_eq!(w.macc_balance("n"), m("4993"));
}

#[test]
fn resettle_refuses_what_a_correction_cannot_express() {
    // Under version 1 the MACC stays open with 398.38 and then expires with a shortfall;
    // under version 2 it completed: an expiry cannot be corrected into a completion.
    let mut a = agreement().macc("m", "5000.00", "2025-01-01", "2025-06-30");
    a.0.terms.rulebook_version = 1;
    let mut facts = vec![a.fact()];
    let mut w = World::new(&a);
    for f in [
        invoice("INV-4", "2025-05-05")
            .line("2025-04-10", Usage, "3310.61")
            .fact(),
        the_issue_invoice(),
        ledger_core::Fact::Close {
            account: ACCOUNT.into(),
            through: d("2025-12-31"),
        },
    ] {
        w.apply(f.clone());
        facts.push(f);
    }
    let mut re = ledger_core::resettle::Rederivation::new(ACCOUNT, 2).unwrap();
    for f in &facts {
        re.apply(f).unwrap();
    }
    let err = ledger_core::resettle::corrections(w.acct(), &re.finish().unwrap()).unwrap_err();
    assert!(
        matches!(err, ledger_core::CoreError::ResettleRefused { .. }),
        "{err}"
    );
}
