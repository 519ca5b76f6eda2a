//! Criterion benches of the hot paths (issue 6): settling one invoice, credit application,
//! decoding a batch of lines, the hash chain, content digests, amount parsing.
//!
//! `cargo bench -p benches --bench hot_paths` (add `-- settle` to run one group).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_core::agreement::*;
use ledger_core::fact::{ChargeLine, Fact, Invoice, StrRef};
use ledger_core::kind::{ChargeKind, CreditKind};
use ledger_core::{Date, Ledger, Money};
use ledger_store::{invoice_content_hash, Appender, Head, ReadOptions, Store};

const LINES: usize = 10_000;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}
fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

fn agreement(credits: bool) -> Fact {
    let mut credit_lots = vec![];
    if credits {
        for (i, kind) in [
            CreditKind::Aco,
            CreditKind::Prepayment,
            CreditKind::Goodwill,
        ]
        .into_iter()
        .enumerate()
        {
            credit_lots.push(CreditTerms {
                id: format!("lot-{i}"),
                kind,
                amount: m("90000000"),
                start: d("2024-01-01"),
                expires: d("2026-12-31"),
                covers: None,
            });
        }
    }
    let agreement = Agreement {
        account: "bench".into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs: vec![MaccTerms {
            id: "macc".into(),
            amount: m("900000000"),
            start: d("2024-01-01"),
            end: d("2026-12-31"),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![],
        }],
        cacos: vec![CacoTerms {
            id: "caco".into(),
            start: d("2024-01-01"),
            basis: CacoBasis::Period,
            award_months: 12,
            milestones: (0..3)
                .map(|k| CacoMilestoneTerms {
                    id: format!("M{k}"),
                    start: d("2024-01-01").add_months(4 * k),
                    end: d("2024-01-01").add_months(4 * (k + 1)).add_days(-1),
                    target: m("900000000"),
                    award: m("1000"),
                })
                .collect(),
        }],
        credits: credit_lots,
    };
    Fact::Agreement {
        agreement,
        content_hash: [1; 32],
    }
}

/// A month's invoice of `LINES` lines over 5 billing profiles, mostly usage.
fn invoice(id: &str) -> Invoice {
    let kinds = [
        ChargeKind::Usage,
        ChargeKind::Usage,
        ChargeKind::Usage,
        ChargeKind::Usage,
        ChargeKind::ReservationPurchase,
        ChargeKind::MarketplaceEligible,
        ChargeKind::ReservationUsage,
        ChargeKind::Tax,
    ];
    let lines = (0..LINES)
        .map(|i| ChargeLine {
            amount: Money::from_mantissa_scale(1_000 + (i as i128 * 7919) % 90_000, 2).unwrap(),
            charge_date: d("2024-03-01").add_days((i * 30 / LINES) as i32),
            kind: kinds[i % kinds.len()],
            profile: (i % 5) as u16,
            corrects_kind: None,
            line_id: StrRef::NONE,
            service: StrRef::NONE,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        })
        .collect();
    let mut invoice = Invoice {
        account: "bench".into(),
        id: id.into(),
        date: d("2024-04-05"),
        period_start: d("2024-03-01"),
        period_end: d("2024-03-31"),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: [
            "Engineering",
            "Finance",
            "Marketing",
            "Research",
            "Operations",
        ]
        .map(String::from)
        .to_vec(),
        strings: vec![],
        lines,
    };
    invoice.content_hash = invoice_content_hash(&invoice);
    invoice
}

fn ledger_with(credits: bool) -> Ledger {
    let mut ledger = Ledger::new();
    ledger.apply(&agreement(credits)).unwrap();
    ledger
}

fn settle(c: &mut Criterion) {
    let mut group = c.benchmark_group("settle");
    group.throughput(Throughput::Elements(LINES as u64));
    let fact = Fact::Invoice(invoice("INV-1"));
    for (name, credits) in [
        ("invoice_no_credits", false),
        ("invoice_with_credit_application", true),
    ] {
        let base = ledger_with(credits);
        group.bench_function(name, |b| {
            b.iter_batched(
                || base.clone(),
                |mut ledger| black_box(ledger.apply(&fact).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn encode_and_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(LINES as u64));
    let fact = Fact::Invoice(invoice("INV-1"));
    group.bench_function("encode_and_hash_chain", |b| {
        b.iter(|| {
            let mut appender = Appender::new(Head {
                next_seq: 0,
                last_hash: [0; 32],
            });
            let mut out = Vec::new();
            appender.fact(&fact, &mut out).unwrap();
            black_box(out)
        })
    });
    let Fact::Invoice(inv) = &fact else {
        unreachable!()
    };
    group.bench_function("content_digest", |b| {
        b.iter(|| black_box(invoice_content_hash(inv)))
    });

    // Decode: a small ledger on disk, read back entry by entry.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "bench").unwrap();
    let mut ledger = Ledger::new();
    let mut appender = Appender::new(store.head());
    for f in [agreement(true), Fact::Invoice(invoice("INV-1"))] {
        let applied = ledger.apply(&f).unwrap();
        let mut records = Vec::new();
        let seq = appender.fact(&f, &mut records).unwrap();
        appender
            .decisions(&applied.account, 1, seq, &applied.events, &mut records)
            .unwrap();
        store.append(&records).unwrap();
    }
    store.flush().unwrap();
    group.bench_function("decode_batch", |b| {
        b.iter(|| {
            let lines: usize = store
                .reader(ReadOptions::default())
                .map(|e| match e.unwrap().fact {
                    Fact::Invoice(inv) => inv.lines.len(),
                    _ => 0,
                })
                .sum();
            black_box(lines)
        })
    });
    group.bench_function("decode_batch_verifying_chain", |b| {
        b.iter(|| {
            black_box(
                store
                    .reader(ReadOptions {
                        from_seq: 0,
                        verify_chain: true,
                    })
                    .count(),
            )
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let amounts = [
        "1234.56",
        "0.00012345",
        "98765.4321",
        "7",
        "-12.5",
        "0.0051632876",
    ];
    group.throughput(Throughput::Elements(amounts.len() as u64));
    group.bench_function("money", |b| {
        b.iter(|| {
            amounts.iter().fold(Money::ZERO, |acc, a| {
                acc.max(Money::parse(black_box(a)).unwrap())
            })
        })
    });
    group.bench_function("date", |b| {
        b.iter(|| Date::parse(black_box("2024-03-15")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, settle, encode_and_chain, parse);
criterion_main!(benches);
