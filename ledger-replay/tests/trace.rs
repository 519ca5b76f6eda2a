//! `audit trace`: every movement of a lot with the line portions behind it, and JSON that
//! follows INTERFACE.md (exact numbers, YYYY-MM-DD dates, kinds by name).

use ledger_core::agreement::{AccountTerms, Agreement, MaccTerms};
use ledger_core::fact::Fact;
use ledger_core::{ChargeKind, Ledger, Money};
use ledger_replay::trace::trace_lot;
use ledger_store::{agreement_content_hash, Appender, Store};

mod common;
use common::{d, invoice, line, m};

/// A ledger on disk: a MACC, an invoice of usage, an invoice with a refund.
fn ledger() -> (tempfile::TempDir, Store) {
    let agreement = Agreement {
        account: "acme".into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs: vec![MaccTerms {
            id: "m".into(),
            amount: m("1000"),
            start: d("2025-01-01"),
            end: d("2025-12-31"),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![],
        }],
        cacos: vec![],
        credits: vec![],
    };
    let facts = vec![
        Fact::Agreement {
            content_hash: agreement_content_hash(&agreement),
            agreement,
        },
        invoice(
            "INV-1",
            "2025-02-05",
            vec![
                line("2025-01-10", ChargeKind::Usage, "100.25"),
                line("2025-01-11", ChargeKind::Support, "9"),
            ],
        ),
        invoice(
            "INV-2",
            "2025-03-05",
            vec![
                line("2025-02-10", ChargeKind::Usage, "5"),
                line("2025-02-12", ChargeKind::Refund, "-30.25"),
            ],
        ),
        invoice(
            "INV-3",
            "2025-04-05",
            vec![
                line("2025-03-10", ChargeKind::Usage, "7"),
                line("2025-03-11", ChargeKind::Refund, "-2"),
                line("2025-03-12", ChargeKind::Usage, "11"),
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let mut ledger = Ledger::new();
    let mut appender = Appender::new(store.head());
    for fact in &facts {
        let applied = ledger.apply(fact).unwrap();
        let mut records = Vec::new();
        let seq = appender.fact(fact, &mut records).unwrap();
        appender
            .decisions(&applied.account, 1, seq, &applied.events, &mut records)
            .unwrap();
        store.append(&records).unwrap();
    }
    (dir, store)
}

#[test]
fn every_decrement_shows_the_line_portions_and_rules_behind_it() {
    let (_dir, store) = ledger();
    let trace = trace_lot(&store, "m").unwrap();
    let events: Vec<(&str, Money)> = trace
        .events
        .iter()
        .map(|e| (e.event.as_str(), e.amount))
        .collect();
    // Within an invoice, in decision order (issue 11 pt 2): INV-2's decrement of 5 (line 1)
    // comes before the adjustment of its refund (line 2).
    assert_eq!(
        events,
        vec![
            ("Decremented", m("100.25")),
            ("Decremented", m("5")),
            ("Adjusted", m("30.25")),
            ("Decremented", m("7")),
            ("Adjusted", m("2")),
            ("Decremented", m("11")),
        ]
    );
    // A refund splits INV-3 in two runs: each decrement shows only its own line.
    let inv3: Vec<(u32, Money)> = trace.events[3..]
        .iter()
        .map(|e| (e.portions[0].line_position, e.portions[0].counted))
        .collect();
    assert_eq!(inv3, vec![(1, m("7")), (2, m("2")), (3, m("11"))]);
    assert!(trace.events[3..].iter().all(|e| e.portions.len() == 1));
    let first = &trace.events[0];
    assert_eq!(
        first.portions.len(),
        1,
        "the support line counts toward nothing"
    );
    assert_eq!(
        (first.portions[0].line_position, first.portions[0].counted),
        (1, m("100.25"))
    );
    assert_eq!(first.portions[0].elig_rule, "R-ELIG usage/paid");
}

#[test]
fn a_refund_adjustment_shows_its_refund_line() {
    let (_dir, store) = ledger();
    let trace = trace_lot(&store, "m").unwrap();
    let adjusted = trace.events.iter().find(|e| e.event == "Adjusted").unwrap();
    assert_eq!(adjusted.portions.len(), 1);
    let p = &adjusted.portions[0];
    assert_eq!(
        (p.line_position, p.kind, p.line_amount, p.counted),
        (2, ChargeKind::Refund, m("-30.25"), m("30.25"))
    );
    assert_eq!(p.elig_rule, "R-ADJ refund of usage");
    assert_eq!(
        adjusted.balance_after,
        Some(m("925")),
        "899.75 − 5 + 30.25: after INV-2's decrement of 5, decided first"
    );
}
