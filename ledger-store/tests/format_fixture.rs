//! Schema evolution guard: a small log written by format (envelope) version 1, committed as
//! `tests/fixtures/log-v1/log.hex`, must keep reading back with the current code: the chain
//! verifies, every record decodes to the facts and decisions it was written from, the current
//! encoder reproduces every record byte for byte, the rules re-derive the recorded decisions,
//! and folding the decisions gives the balances known below.
//!
//! The log holds an agreement (a MACC with a milestone, a CACO with two milestones, an ACO
//! credit), an invoice with a prepayment purchase that pays part of the same invoice, an
//! invoice with a refund, and a close that evaluates the deadlines.
//!
//! # Why a dump and not a sled directory
//!
//! The fixture is the log tree's (key, value) pairs in key order, in hex, one pair a line
//! (records under their 8-byte big-endian seq, then the head and format-marker keys). It pins
//! exactly what this crate owns: keys, envelopes, payloads, the chain and the head. A sled
//! directory would also pin sled's own page and segment layout, which is not ours to migrate,
//! would be rewritten in place by merely opening it (so the test would have to copy it first),
//! and is opaque to review. The test loads the dump back through [`Store::append`] (which
//! re-checks every seq, prev hash and hash), then compares the whole tree with the dump.
//!
//! # Regenerating
//!
//! Only together with a migration: a new envelope version gets a new fixture
//! (`log-v2/`) and a reader for it; this one stays, and the test keeps reading it (if the
//! current encoder writes v2, drop only the byte-for-byte re-encoding check for v1). To write
//! the fixture (it refuses to overwrite one unless asked):
//!
//! ```text
//! LEDGER_WRITE_LOG_FIXTURE=1 cargo test -p ledger-store --test format_fixture -- --ignored write_log_v1_fixture
//! ```

use std::path::{Path, PathBuf};

use ledger_core::{
    AccountTerms, Agreement, CacoBasis, CacoMilestoneTerms, CacoTerms, ChargeKind, ChargeLine,
    CreditKind, CreditTerms, Date, Fact, Invoice, Ledger, MaccMilestoneTerms, MaccTerms, Money,
    StrRef,
};
use ledger_store::{
    agreement_content_hash, encode_events, invoice_content_hash, parse_envelope, record_hash,
    Appender, EncodedRecord, LogEntry, ReadOptions, RecordKind, Store, ENVELOPE_VERSION,
};

/// The format version the fixture was written with.
const FIXTURE_VERSION: u8 = 1;
// This build must read it.
const _: () = assert!(FIXTURE_VERSION <= ENVELOPE_VERSION);

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-v1/log.hex")
}

fn day(text: &str) -> Date {
    Date::parse(text).unwrap()
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

/// The facts of the fixture, in log order.
fn facts() -> Vec<Fact> {
    let agreement = Agreement {
        account: "contoso".into(),
        currency: "USD".into(),
        // Written under rulebook 1 (the version new agreements got then); pinned, since the
        // default has moved on and the fixture must not.
        terms: AccountTerms {
            rulebook_version: 1,
            ..AccountTerms::default()
        },
        maccs: vec![MaccTerms {
            id: "macc-2025".into(),
            amount: money("50000"),
            start: day("2025-01-01"),
            end: day("2027-12-31"),
            purchased: Some(day("2024-12-20")),
            enrollment_end: None,
            renewed: Some(true),
            shortfall_credit_months: 12,
            milestones: vec![MaccMilestoneTerms {
                id: "M1".into(),
                due: day("2025-06-30"),
                target: money("20000"),
            }],
        }],
        cacos: vec![CacoTerms {
            id: "caco-1".into(),
            start: day("2025-01-01"),
            basis: CacoBasis::Period,
            award_months: 12,
            milestones: vec![
                CacoMilestoneTerms {
                    id: "Milestone1".into(),
                    start: day("2025-01-01"),
                    end: day("2025-01-31"),
                    target: money("3000"),
                    award: money("300"),
                },
                CacoMilestoneTerms {
                    id: "Milestone2".into(),
                    start: day("2025-02-01"),
                    end: day("2025-03-31"),
                    target: money("9000"),
                    award: money("900"),
                },
            ],
        }],
        credits: vec![CreditTerms {
            id: "aco-1".into(),
            kind: CreditKind::Aco,
            amount: money("250.50"),
            start: day("2025-01-01"),
            expires: day("2025-12-31"),
            covers: None,
        }],
    };
    let content_hash = agreement_content_hash(&agreement);
    let line = |amount: &str, date: &str, kind: ChargeKind, profile: u16| ChargeLine {
        amount: money(amount),
        charge_date: day(date),
        kind,
        profile,
        corrects_kind: None,
        line_id: StrRef::NONE,
        service: StrRef::NONE,
        publisher: StrRef::NONE,
        description: StrRef::NONE,
        corrects: StrRef::NONE,
    };
    // January: usage on two profiles, a prepayment purchase (line id "prepay-1", string 0)
    // that opens a lot paying the later usage of the same invoice, and a support charge.
    let mut january = Invoice {
        account: "contoso".into(),
        id: "INV-2025-01".into(),
        date: day("2025-02-05"),
        period_start: day("2025-01-01"),
        period_end: day("2025-01-31"),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: vec!["Engineering".into(), "Finance".into()],
        strings: vec!["prepay-1".into(), "Virtual Machines".into()],
        lines: vec![
            ChargeLine {
                service: StrRef::new(1),
                ..line("1234.56", "2025-01-03", ChargeKind::Usage, 0)
            },
            ChargeLine {
                line_id: StrRef::new(0),
                ..line("5000", "2025-01-10", ChargeKind::PrepaymentPurchase, 1)
            },
            ChargeLine {
                service: StrRef::new(1),
                ..line("2100.25", "2025-01-20", ChargeKind::Usage, 0)
            },
            line("99.99", "2025-01-31", ChargeKind::Support, 1),
        ],
    };
    january.content_hash = invoice_content_hash(&january);
    // February: usage, and a refund of usage restoring the MACC.
    let mut february = Invoice {
        account: "contoso".into(),
        id: "INV-2025-02".into(),
        date: day("2025-03-05"),
        period_start: day("2025-02-01"),
        period_end: day("2025-02-28"),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: vec!["Engineering".into()],
        strings: vec!["macc-2025".into()],
        lines: vec![
            line("7000.10", "2025-02-14", ChargeKind::Usage, 0),
            ChargeLine {
                corrects_kind: Some(ChargeKind::Usage),
                corrects: StrRef::new(0),
                ..line("-100.10", "2025-02-20", ChargeKind::Refund, 0)
            },
        ],
    };
    february.content_hash = invoice_content_hash(&february);
    vec![
        Fact::Agreement {
            agreement,
            content_hash,
        },
        Fact::Invoice(january),
        Fact::Invoice(february),
        Fact::Close {
            account: "contoso".into(),
            through: day("2025-12-31"),
        },
    ]
}

/// Write the fixture's log into a new ledger at `dir` with the current code.
fn write_log(dir: &Path) {
    let store = Store::open(dir, "format fixture").expect("a new ledger");
    let mut ledger = Ledger::new();
    for fact in facts() {
        let applied = ledger
            .apply(&fact)
            .expect("the rules accept the fixture's facts");
        assert!(!applied.duplicate);
        let version = ledger
            .account(&applied.account)
            .unwrap()
            .terms
            .rulebook_version;
        let mut appender = Appender::new(store.head());
        let mut records = Vec::new();
        let fact_seq = appender.fact(&fact, &mut records).unwrap();
        appender
            .decisions(
                &applied.account,
                version,
                fact_seq,
                &applied.events,
                &mut records,
            )
            .unwrap();
        store.append(&records).unwrap();
    }
    store.flush().unwrap();
}

/// Every (key, value) of the log tree of the ledger at `dir`, in key order.
fn log_tree(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = sled::open(dir).expect("open the closed ledger's database");
    let tree = db.open_tree("log").expect("the log tree");
    tree.iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .expect("read the log tree")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0, "odd-length hex");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn read_fixture() -> Vec<(Vec<u8>, Vec<u8>)> {
    let text = std::fs::read_to_string(fixture_path()).expect("the committed log fixture");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("`key value` per line");
            (unhex(k), unhex(v))
        })
        .collect()
}

/// Load the fixture's records into a new ledger at `dir` through [`Store::append`], one entry
/// (a fact's records and its decisions) per batch.
fn load_fixture(pairs: &[(Vec<u8>, Vec<u8>)], dir: &Path) {
    let store = Store::open(dir, "format fixture").expect("a new ledger");
    let mut batch: Vec<EncodedRecord> = Vec::new();
    for (key, value) in pairs.iter().filter(|(k, _)| k.len() == 8) {
        let seq = u64::from_be_bytes(key.as_slice().try_into().unwrap());
        let kind = parse_envelope(seq, value)
            .unwrap_or_else(|e| panic!("record {seq}: {e}"))
            .kind;
        batch.push(EncodedRecord {
            seq,
            bytes: value.clone(),
            hash: record_hash(value),
            body: Vec::new(),
        });
        if kind == RecordKind::Decisions {
            store
                .append(&batch)
                .unwrap_or_else(|e| panic!("the fixture does not chain at record {seq}: {e}"));
            batch.clear();
        }
    }
    assert!(
        batch.is_empty(),
        "the fixture ends with a fact without decisions"
    );
    store.flush().unwrap();
}

#[test]
fn log_v1_fixture_reads_back_with_the_current_code() {
    let pairs = read_fixture();
    for (key, value) in pairs.iter().filter(|(k, _)| k.len() == 8) {
        assert_eq!(
            value[0],
            FIXTURE_VERSION,
            "record {} envelope version",
            hex(key)
        );
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("ledger");
    load_fixture(&pairs, &dir);

    // The whole tree, head and format marker included, is the fixture byte for byte.
    let tree = log_tree(&dir);
    assert_eq!(tree.len(), pairs.len(), "keys in the tree vs the fixture");
    for ((k, v), (fk, fv)) in tree.iter().zip(&pairs) {
        assert_eq!(hex(k), hex(fk), "keys differ");
        assert_eq!(hex(v), hex(fv), "the value under key {} differs", hex(k));
    }

    let store = Store::open_existing(&dir, "format fixture").unwrap();
    let entries: Vec<LogEntry> = store
        .reader(ReadOptions {
            from_seq: 0,
            verify_chain: true,
        })
        .collect::<Result<_, _>>()
        .expect("the fixture's chain verifies and every record decodes");

    // The facts it was written from, exactly.
    let expected = facts();
    assert_eq!(entries.len(), expected.len());
    for (entry, fact) in entries.iter().zip(&expected) {
        assert_eq!(&entry.fact, fact, "the fact at record {}", entry.first_seq);
    }
    assert_eq!(
        entries.iter().map(|e| e.first_seq).collect::<Vec<_>>(),
        [0, 2, 5, 8],
        "record positions"
    );
    assert_eq!(store.head().next_seq, 10);

    // The current encoder writes every record of it byte for byte.
    for entry in &entries {
        let decisions = entry.decisions.as_ref().expect("decisions");
        let mut appender = Appender::new(store.head_before(entry.first_seq).unwrap());
        let mut records = Vec::new();
        let fact_seq = appender.fact(&entry.fact, &mut records).unwrap();
        appender
            .decisions(
                &decisions.account,
                decisions.rulebook_version,
                fact_seq,
                &decisions.events,
                &mut records,
            )
            .unwrap();
        for record in records {
            assert_eq!(
                Some(hex(&record.bytes)),
                store.raw_get(record.seq).map(|b| hex(&b)),
                "record {} re-encodes differently",
                record.seq
            );
        }
    }

    // The rules re-derive the recorded decisions, and folding them gives the known balances.
    let mut derived = Ledger::new();
    let mut folded = Ledger::new();
    for entry in &entries {
        let decisions = entry.decisions.as_ref().unwrap();
        let applied = derived.apply(&entry.fact).unwrap();
        assert_eq!(
            encode_events(&applied.events),
            decisions.events_bytes,
            "decisions on record {}",
            entry.first_seq
        );
        for event in &decisions.events {
            folded.evolve(&decisions.account, event).unwrap();
        }
    }
    folded.check_invariants().unwrap();
    assert_eq!(
        folded, derived,
        "folding the decisions reaches the deciding state"
    );
    let account = folded.account("contoso").unwrap();
    let balances: Vec<(String, String)> = account
        .maccs
        .iter()
        .map(|m| (m.terms.id.clone(), m.amounts.balance.to_string()))
        .chain(
            account
                .cacos
                .iter()
                .map(|c| (c.terms.id.clone(), c.amounts.balance.to_string())),
        )
        .chain(
            account
                .lots
                .iter()
                .map(|l| (l.terms.id.clone(), l.amounts.balance.to_string())),
        )
        .collect();
    let invoices: Vec<(String, String, String, String)> = account
        .invoices
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.charges.to_string(),
                i.credits_applied.to_string(),
                i.billed.to_string(),
            )
        })
        .collect();
    assert_eq!(balances, known_balances(), "balances after replay");
    assert_eq!(invoices, known_invoices(), "invoices after replay");
}

fn pairs_of(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Lot balances after the fixture's log (MACCs, CACOs, credit lots in opening order).
fn known_balances() -> Vec<(String, String)> {
    pairs_of(KNOWN_BALANCES)
}

const KNOWN_BALANCES: &[(&str, &str)] = &[
    // 50,000 − (984.06 paid usage + 5,000 prepayment purchase) − 3,800.35 paid usage
    // + 100.10 refund − 10,315.69 milestone M1 shortfall purchase.
    ("macc-2025", "30000"),
    // 12,000 − 3,084.31 (January: paid and prepayment-covered usage) − 6,700.10 (February).
    ("caco-1", "2215.59"),
    ("aco-1", "0"),
    ("prepay-1", "0"),
    ("caco-1/Milestone1/award", "0"),
    // M1's target 20,000 less the net decrements 9,684.31 by its due date.
    ("macc-2025/M1/shortfall", "10315.69"),
];

/// Per invoice: id, charges, credits applied, billed.
fn known_invoices() -> Vec<(String, String, String, String)> {
    KNOWN_INVOICES
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect()
}

const KNOWN_INVOICES: &[(&str, &str, &str, &str)] = &[
    ("INV-2025-01", "8434.8", "2350.75", "6084.05"),
    ("INV-2025-02", "6900", "3199.75", "3700.25"),
    ("SHORTFALL-macc-2025-M1", "10315.69", "0", "10315.69"),
];

/// Writes `tests/fixtures/log-v1/log.hex` with the current code. Run only with a migration
/// (see the module doc); refuses to overwrite without `LEDGER_WRITE_LOG_FIXTURE=1`.
#[test]
#[ignore = "writes the committed fixture; run by hand, only together with a migration"]
fn write_log_v1_fixture() {
    let path = fixture_path();
    if path.exists() && std::env::var_os("LEDGER_WRITE_LOG_FIXTURE").is_none() {
        panic!(
            "{} exists; set LEDGER_WRITE_LOG_FIXTURE=1 to overwrite it (only with a migration)",
            path.display()
        );
    }
    assert_eq!(
        ENVELOPE_VERSION, FIXTURE_VERSION,
        "this build writes format {ENVELOPE_VERSION}: write a log-v{ENVELOPE_VERSION} fixture instead"
    );
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("ledger");
    write_log(&dir);
    let mut text = String::from(
        "# ledger-store log fixture, envelope version 1: the (key, value) pairs of the sled tree \"log\",\n\
         # in key order, as hex. Written by format_fixture.rs::write_log_v1_fixture; regenerate only\n\
         # together with a migration (see the doc of tests/format_fixture.rs).\n",
    );
    for (key, value) in log_tree(&dir) {
        text.push_str(&hex(&key));
        text.push(' ');
        text.push_str(&hex(&value));
        text.push('\n');
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    // Show the balances to pin in KNOWN_BALANCES / KNOWN_INVOICES.
    let mut ledger = Ledger::new();
    for fact in facts() {
        ledger.apply(&fact).unwrap();
    }
    let account = ledger.account("contoso").unwrap();
    for m in &account.maccs {
        println!("(\"{}\", \"{}\"),", m.terms.id, m.amounts.balance);
    }
    for c in &account.cacos {
        println!("(\"{}\", \"{}\"),", c.terms.id, c.amounts.balance);
    }
    for l in &account.lots {
        println!("(\"{}\", \"{}\"),", l.terms.id, l.amounts.balance);
    }
    for i in &account.invoices {
        println!(
            "(\"{}\", \"{}\", \"{}\", \"{}\"),",
            i.id, i.charges, i.credits_applied, i.billed
        );
    }
}
