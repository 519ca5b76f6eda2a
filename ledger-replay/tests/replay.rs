//! `replay` reads the log on two threads when it is long enough (each over one half, split at
//! a fact boundary) and must rebuild exactly the projections the decisions made.

use ledger_core::agreement::{AccountTerms, Agreement, CreditTerms, MaccTerms};
use ledger_core::fact::{ChargeLine, Fact, Invoice, StrRef};
use ledger_core::{ChargeKind, CreditKind, Date, Money};
use ledger_replay::replay::{differences, rebuild};
use ledger_replay::write::stage;
use ledger_replay::Projections;
use ledger_store::{agreement_content_hash, invoice_content_hash, Appender, RecordKind, Store};

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn agreement() -> Fact {
    let agreement = Agreement {
        account: "acme".into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs: vec![MaccTerms {
            id: "m".into(),
            amount: Money::from_whole(10_000_000),
            start: d("2025-01-01"),
            end: d("2035-12-31"),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![],
        }],
        cacos: vec![],
        credits: vec![CreditTerms {
            id: "aco".into(),
            kind: CreditKind::Aco,
            amount: Money::from_whole(5_000),
            start: d("2025-01-01"),
            expires: d("2030-12-31"),
            covers: None,
        }],
    };
    Fact::Agreement {
        content_hash: agreement_content_hash(&agreement),
        agreement,
    }
}

/// Invoice `n` of month `n`, with 3,000 lines (two line chunks).
fn invoice(n: u32) -> Fact {
    let start = d("2025-01-01").add_months(n);
    let lines = (0..3_000)
        .map(|i| ChargeLine {
            amount: Money::from_mantissa_scale(100 + (i as i128 * 37) % 5_000, 2).unwrap(),
            charge_date: start.add_days(i % 28),
            kind: if i % 7 == 0 {
                ChargeKind::Marketplace
            } else {
                ChargeKind::Usage
            },
            profile: (i % 2) as u16,
            corrects_kind: None,
            line_id: StrRef::NONE,
            service: StrRef::NONE,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        })
        .collect();
    let mut inv = Invoice {
        account: "acme".into(),
        id: format!("INV-{n:03}"),
        date: start.add_months(1).add_days(4),
        period_start: start,
        period_end: start.month_end(),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: vec!["A".into(), "B".into()],
        strings: vec![],
        lines,
    };
    inv.content_hash = invoice_content_hash(&inv);
    Fact::Invoice(inv)
}

#[test]
fn a_two_thread_rebuild_equals_the_decided_projections() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let mut decided = Projections::new();
    let mut appender = Appender::new(store.head());
    let facts: Vec<Fact> = std::iter::once(agreement())
        .chain((0..60).map(invoice))
        .collect();
    for fact in &facts {
        let staged = stage(&mut decided, &mut appender, fact).unwrap().unwrap();
        store.append(&staged.records).unwrap();
    }
    // Long enough to split, and the split starts a fact.
    let head = store.head().next_seq;
    assert!(head > 200, "{head} records");
    let split = store
        .fact_start_at_or_after(head / 2, 1 << 14)
        .expect("a fact starts after the middle");
    let kind = ledger_store::parse_envelope(split, &store.raw_get(split).unwrap())
        .unwrap()
        .kind;
    assert!(matches!(kind, RecordKind::InvoiceHeader), "{kind:?}");

    let (rebuilt, report) = rebuild(&store).unwrap();
    assert_eq!(report.lines, 60 * 3_000);
    assert_eq!(
        (report.facts, report.invoices, report.records),
        (61, 60, head)
    );
    assert_eq!(differences(&decided, &rebuilt), Vec::<String>::new());
    assert_eq!(rebuilt, decided);
}
