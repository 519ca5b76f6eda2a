//! Bounded memory (issue 13): replay never holds a settled invoice's lines whole, and audit
//! and what-if hold at most two decoded facts (plus one altered copy per what-if worker),
//! whatever the number of invoices. Measured with a counting allocator: the heap's peak above
//! what was live when the command started, against the size of one invoice's decoded lines.
#![allow(unsafe_code)] // a global allocator that counts: GlobalAlloc is an unsafe trait

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

mod common;

use common::d;
use ledger_core::agreement::{AccountTerms, Agreement, MaccTerms};
use ledger_core::fact::{ChargeLine, Fact, StrRef};
use ledger_core::{ChargeKind, KindSet, Money};
use ledger_replay::audit::audit;
use ledger_replay::load::load;
use ledger_replay::replay::rebuild;
use ledger_replay::whatif::{self, Change, LineFilter, Scenario};
use ledger_replay::write::stage;
use ledger_replay::Projections;
use ledger_store::{agreement_content_hash, Appender, Store};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                + (new_size - layout.size());
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests measure one at a time (the counter is process-wide).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The heap's peak above what was live when `f` started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

const LINES: u32 = 200_000;
const INVOICES: u32 = 6;

/// The decoded lines of one invoice.
fn invoice_bytes() -> usize {
    LINES as usize * std::mem::size_of::<ChargeLine>()
}

fn agreement() -> Fact {
    let agreement = Agreement {
        account: "acme".into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs: vec![MaccTerms {
            id: "m".into(),
            amount: Money::from_whole(1_000_000_000),
            start: d("2025-01-01"),
            end: d("2035-12-31"),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![],
        }],
        cacos: vec![],
        credits: vec![],
    };
    Fact::Agreement {
        content_hash: agreement_content_hash(&agreement),
        agreement,
    }
}

fn invoice(n: u32) -> Fact {
    let start = d("2025-01-01").add_months(n);
    let lines = (0..LINES)
        .map(|i| ChargeLine {
            amount: Money::from_mantissa_scale(100 + (i as i128 * 37) % 5_000, 2).unwrap(),
            charge_date: start.add_days((i % 28) as i32),
            kind: ChargeKind::Usage,
            profile: 0,
            corrects_kind: None,
            line_id: StrRef::NONE,
            service: StrRef::NONE,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        })
        .collect();
    common::invoice(
        &format!("INV-{n}"),
        &start.add_months(1).add_days(4).to_string(),
        lines,
    )
}

/// A ledger of [`INVOICES`] invoices of [`LINES`] lines, read once (sled keeps what it read).
fn ledger() -> (tempfile::TempDir, Store, Projections) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data"), "memory test").unwrap();
    let mut projections = Projections::new();
    let facts = std::iter::once(agreement()).chain((0..INVOICES).map(invoice));
    for fact in facts {
        let mut appender = Appender::new(store.head());
        let staged = stage(&mut projections, &mut appender, &fact)
            .unwrap()
            .expect("not a repeat");
        store.append(&staged.records).unwrap();
    }
    store.flush().unwrap();
    let baseline = load(&store).unwrap();
    rebuild(&store).unwrap();
    (dir, store, baseline)
}

#[test]
fn replay_streams_every_invoice_s_lines() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_dir, store, baseline) = ledger();
    let ((rebuilt, report), peak) = peak_during(|| rebuild(&store).unwrap());
    assert_eq!(rebuilt, baseline);
    assert_eq!(report.lines, (LINES * INVOICES) as u64);
    assert!(
        peak < invoice_bytes() / 2,
        "replay's heap peaked {peak} bytes above its start; one invoice's lines are {}",
        invoice_bytes()
    );
}

#[test]
fn audit_holds_at_most_two_invoices() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_dir, store, _) = ledger();
    let (report, peak) = peak_during(|| audit(&store).unwrap());
    assert!(report.passed(), "{:?}", report.finding);
    assert!(
        peak < 3 * invoice_bytes(),
        "audit's heap peaked {peak} bytes above its start; one invoice's lines are {}",
        invoice_bytes()
    );
}

#[test]
fn whatif_holds_two_facts_and_one_altered_copy_per_worker() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_dir, store, baseline) = ledger();
    let scenarios: Vec<Scenario> = (0..4)
        .map(|k| Scenario {
            name: format!("s{k}"),
            changes: vec![Change::Scale {
                filter: LineFilter {
                    kinds: Some(KindSet::of(&[ChargeKind::Usage])),
                    ..LineFilter::default()
                },
                factor: ledger_core::Factor::parse(&format!("0.{}", 9 - k)).unwrap(),
            }],
            agreement_override: None,
            through: None,
        })
        .collect();
    let (results, peak) = peak_during(|| whatif::run(&store, &baseline, &scenarios).unwrap());
    assert_eq!(results.len(), 4);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = scenarios.len().min(cores);
    assert!(
        peak < (3 + workers) * invoice_bytes(),
        "what-if's heap peaked {peak} bytes above its start with {workers} workers; one invoice's lines are {}",
        invoice_bytes()
    );
}
