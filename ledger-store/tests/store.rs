//! The store end to end: every record kind through Appender → Store::append → LogReader, the
//! hash chain against tampering, refused appends, the lock, snapshots, the spill file and the
//! content digests.

use std::path::Path;

use ledger_core::event::CommitmentKind;
use ledger_core::{
    AccountTerms, Agreement, ChargeKind, ChargeLine, CreditKind, CreditTerms, Date, Event, Fact,
    Invoice, MaccTerms, Money, StrRef,
};
use ledger_store::{
    agreement_content_hash, decode_blob, encode_blob, encode_events, invoice_content_hash,
    Appender, EncodedRecord, Head, LogEntry, ReadOptions, SnapshotState, Spill, Store, StoreError,
    CHUNK_LINES,
};
use proptest::prelude::*;

fn day(text: &str) -> Date {
    Date::parse(text).unwrap()
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn agreement() -> Agreement {
    Agreement {
        account: "contoso".into(),
        currency: "USD".into(),
        // Rulebook 1, as when the frozen digests below were taken.
        terms: AccountTerms {
            rulebook_version: 1,
            ..AccountTerms::default()
        },
        maccs: vec![MaccTerms {
            id: "macc-2025".into(),
            amount: money("100000"),
            start: day("2025-01-01"),
            end: day("2027-12-31"),
            purchased: Some(day("2024-12-15")),
            enrollment_end: None,
            renewed: Some(true),
            shortfall_credit_months: 12,
            milestones: vec![],
        }],
        cacos: vec![],
        credits: vec![CreditTerms {
            id: "aco-1".into(),
            kind: CreditKind::Aco,
            amount: money("5000.50"),
            start: day("2025-01-01"),
            expires: day("2025-12-31"),
            covers: None,
        }],
    }
}

/// An invoice of `count` lines: amounts with varied scales, dates in the period, several
/// profiles and kinds, strings interned in line order (a unique line id every 7th line).
fn invoice(id: &str, count: usize) -> Invoice {
    let mut strings: Vec<String> = Vec::new();
    let mut intern = |text: String| -> StrRef {
        match strings.iter().position(|s| *s == text) {
            Some(i) => StrRef::new(i as u32),
            None => {
                strings.push(text);
                StrRef::new(strings.len() as u32 - 1)
            }
        }
    };
    let period_start = day("2025-03-01");
    let mut lines = Vec::with_capacity(count);
    for i in 0..count {
        let kind = ChargeKind::ALL[i % 8];
        let amount =
            Money::from_mantissa_scale((i as i128 * 7919) % 1_000_000 + 1, (i % 7) as u32).unwrap();
        let line_id = if i % 7 == 0 {
            intern(format!("line-{i}"))
        } else {
            StrRef::NONE
        };
        let service = if i % 3 == 0 {
            intern(format!("service-{}", i % 11))
        } else {
            StrRef::NONE
        };
        lines.push(ChargeLine {
            amount,
            charge_date: period_start.add_days((i % 31) as i32),
            kind,
            profile: (i % 3) as u16,
            corrects_kind: None,
            line_id,
            service,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        });
    }
    // One refund line with every optional field.
    let refund = ChargeLine {
        amount: money("-12.34"),
        charge_date: day("2025-02-27"),
        kind: ChargeKind::Refund,
        profile: 2,
        corrects_kind: Some(ChargeKind::Usage),
        line_id: intern("refund-1".into()),
        service: intern("Virtual Machines".into()),
        publisher: intern("Microsoft".into()),
        description: intern("correction of an earlier charge".into()),
        corrects: intern("macc-2025".into()),
    };
    lines.push(refund);
    let mut inv = Invoice {
        account: "contoso".into(),
        id: id.into(),
        date: day("2025-04-05"),
        period_start,
        period_end: day("2025-03-31"),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: vec!["Engineering".into(), "Finance".into(), "Research".into()],
        strings,
        lines,
    };
    inv.content_hash = invoice_content_hash(&inv);
    inv
}

fn events_for(fact: &Fact) -> Vec<Event> {
    match fact {
        Fact::Invoice(inv) => vec![
            Event::Decremented {
                commitment: "macc-2025".into(),
                kind: CommitmentKind::Macc,
                invoice: inv.id.clone(),
                profile: "Engineering".into(),
                date: inv.date,
                amount: money("1234.5678"),
                balance_after: money("98765.4322"),
            },
            Event::Closed {
                through: inv.period_end,
            },
        ],
        Fact::Agreement { content_hash, .. } => vec![Event::AgreementRecorded {
            version: 1,
            content_hash: *content_hash,
        }],
        Fact::Close { through, .. } => vec![Event::Closed { through: *through }],
        Fact::Resettle { .. } | Fact::Pending(_) => vec![],
    }
}

/// Encode `fact` with its decisions at the store's head and append it as one entry.
fn record(store: &Store, fact: &Fact) -> Vec<EncodedRecord> {
    let mut appender = Appender::new(store.head());
    let mut out = Vec::new();
    let seq = appender.fact(fact, &mut out).unwrap();
    appender
        .decisions(fact.account(), 1, seq, &events_for(fact), &mut out)
        .unwrap();
    store.append(&out).unwrap();
    assert_eq!(store.head(), appender.head());
    out
}

fn read_all(store: &Store, verify_chain: bool) -> Result<Vec<LogEntry>, StoreError> {
    store
        .reader(ReadOptions {
            from_seq: 0,
            verify_chain,
        })
        .collect()
}

fn all_facts() -> Vec<Fact> {
    let agreement = agreement();
    let content_hash = agreement_content_hash(&agreement);
    vec![
        Fact::Agreement {
            agreement,
            content_hash,
        },
        Fact::Invoice(invoice("INV-1", 2 * CHUNK_LINES + 100)),
        Fact::Invoice(invoice("INV-2", 3)),
        Fact::Close {
            account: "contoso".into(),
            through: day("2025-12-31"),
        },
    ]
}

/// A store holding one entry per fact of [`all_facts`]; returns the records of each entry.
fn filled(dir: &Path) -> (Store, Vec<Vec<EncodedRecord>>) {
    let store = Store::open(dir, "test").unwrap();
    let groups = all_facts().iter().map(|f| record(&store, f)).collect();
    store.flush().unwrap();
    (store, groups)
}

#[test]
fn every_record_kind_round_trips_with_a_verified_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let facts = all_facts();
    for verify_chain in [false, true] {
        let entries = read_all(&store, verify_chain).unwrap();
        assert_eq!(entries.len(), facts.len());
        for ((entry, fact), group) in entries.iter().zip(&facts).zip(&groups) {
            assert_eq!(&entry.fact, fact);
            assert_eq!(entry.first_seq, group[0].seq);
            assert_eq!(entry.last_seq, group.last().unwrap().seq);
            assert_eq!(entry.record_count, group.len() as u64);
            assert_eq!(
                entry.bytes,
                group.iter().map(|r| r.bytes.len() as u64).sum::<u64>()
            );
            let decisions = entry.decisions.as_ref().unwrap();
            assert_eq!(decisions.events, events_for(fact));
            assert_eq!(decisions.events_bytes, encode_events(&events_for(fact)));
            assert_eq!(decisions.fact_seq, entry.first_seq);
            assert_eq!(decisions.seq, entry.last_seq);
            assert_eq!(decisions.rulebook_version, 1);
            assert_eq!(decisions.account, "contoso");
        }
    }
    // The big invoice: header, three chunks (2048 + 2048 + 101 lines), decisions.
    assert_eq!(groups[1].len(), 5);
    let entries = read_all(&store, true).unwrap();
    assert_eq!(entries[1].line_count, 2 * CHUNK_LINES as u64 + 101);
    // Every fact re-encodes byte for byte from the head before it (what audit does).
    for (entry, group) in entries.iter().zip(&groups) {
        let mut appender = Appender::new(store.head_before(entry.first_seq).unwrap());
        let mut again = Vec::new();
        let seq = appender.fact(&entry.fact, &mut again).unwrap();
        let decisions = entry.decisions.as_ref().unwrap();
        appender
            .decisions(
                &decisions.account,
                decisions.rulebook_version,
                seq,
                &decisions.events,
                &mut again,
            )
            .unwrap();
        assert_eq!(&again, group);
        for record in group {
            assert_eq!(store.raw_get(record.seq).unwrap(), record.bytes);
        }
    }
    assert_eq!(
        store.head_before(store.head().next_seq).unwrap(),
        store.head()
    );
    assert!(store.head_before(store.head().next_seq + 1).is_err());
    // Reading from an entry boundary gives the rest.
    let rest: Vec<LogEntry> = store
        .reader(ReadOptions {
            from_seq: entries[2].first_seq,
            verify_chain: true,
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rest, entries[2..].to_vec());
    // Reading from the middle of an entry is an error naming the record.
    let err = store
        .reader(ReadOptions {
            from_seq: entries[1].first_seq + 1,
            verify_chain: false,
        })
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Decode { seq, .. } if seq == entries[1].first_seq + 1),
        "{err}"
    );
}

#[test]
fn reopening_keeps_the_log_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let head = {
        let (store, _) = filled(dir.path());
        store.head()
    };
    let store = Store::open_existing(dir.path(), "audit").unwrap();
    assert_eq!(store.head(), head);
    assert_eq!(read_all(&store, true).unwrap().len(), 4);
    assert!(store.disk_bytes() > 0);
}

/// Where in a stored line chunk the first line's amount mantissa is. The first line of
/// [`invoice`] encodes as flags (line id + service), kind usage, mantissa 1 (zigzag 2),
/// scale 0, day offset 0, line id string 0, service string 1.
fn first_amount_offset(chunk: &[u8]) -> usize {
    let pattern = [0b0000_0110u8, 0, 2, 0, 0, 0, 1];
    let at = chunk
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("first line found");
    assert!(at > 42, "the pattern is in the payload");
    at + 2
}

#[test]
fn a_changed_line_amount_breaks_the_chain_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let chunk_seq = groups[1][1].seq;
    let mut value = store.raw_get(chunk_seq).unwrap();
    let at = first_amount_offset(&value);
    value[at] = 4; // the first line's amount: 1 → 2
    store.raw_put(chunk_seq, &value).unwrap();

    // Without verification the altered amount reads back: that is what audit is for.
    let entries = read_all(&store, false).unwrap();
    let Fact::Invoice(inv) = &entries[1].fact else {
        panic!("not an invoice")
    };
    assert_eq!(inv.lines[0].amount, money("2"));

    // With verification the record is named: its hash no longer matches the prev hash the
    // next record holds for it, and that next record is intact.
    let err = read_all(&store, true).unwrap_err();
    match &err {
        StoreError::Chain { seq, message } => {
            assert_eq!(*seq, chunk_seq, "{err}");
            assert!(message.contains("was altered"), "{message}");
        }
        other => panic!("expected a chain error, got {other}"),
    }
    assert!(
        err.to_string().contains(&format!("record {chunk_seq}")),
        "{err}"
    );
}

#[test]
fn a_changed_last_record_is_caught_by_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let last = groups.last().unwrap().last().unwrap();
    let mut value = last.bytes.clone();
    *value.last_mut().unwrap() ^= 1;
    store.raw_put(last.seq, &value).unwrap();
    let err = read_all(&store, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::Chain { seq, message } if *seq == last.seq && message.contains("head")),
        "{err}"
    );
}

#[test]
fn a_changed_prev_hash_names_the_record_that_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let target = groups[2][0].seq; // INV-2's header
    let mut value = store.raw_get(target).unwrap();
    value[20] ^= 0x80; // inside the prev hash field
    store.raw_put(target, &value).unwrap();
    let err = read_all(&store, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::Chain { seq, .. } if *seq == target),
        "{err}"
    );
    // Reading from that record on names it too (its link to the record before is checked).
    let err = store
        .reader(ReadOptions {
            from_seq: target,
            verify_chain: true,
        })
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Chain { seq, .. } if *seq == target),
        "{err}"
    );
}

#[test]
fn a_record_beyond_the_head_or_a_missing_one_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let head = store.head();
    store.raw_put(head.next_seq, &groups[0][0].bytes).unwrap();
    assert!(
        read_all(&store, false).is_ok(),
        "records beyond the head are not read"
    );
    let err = read_all(&store, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::Chain { seq, .. } if *seq == head.next_seq),
        "{err}"
    );
}

#[test]
fn random_byte_flips_give_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let records: Vec<&EncodedRecord> = groups.iter().flatten().collect();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..300 {
        let record = records[(next() % records.len() as u64) as usize];
        let mut value = record.bytes.clone();
        let flips = 1 + next() % 3;
        for _ in 0..flips {
            let at = (next() % value.len() as u64) as usize;
            value[at] ^= 1 << (next() % 8);
        }
        if value == record.bytes {
            continue;
        }
        store.raw_put(record.seq, &value).unwrap();
        assert!(
            read_all(&store, true).is_err(),
            "a flip in record {} went unnoticed",
            record.seq
        );
        let _ = read_all(&store, false); // Ok or Err, never a panic
                                         // Truncations too.
        let cut = (next() % value.len() as u64) as usize;
        store.raw_put(record.seq, &value[..cut]).unwrap();
        assert!(read_all(&store, true).is_err());
        let _ = read_all(&store, false);
        store.raw_put(record.seq, &record.bytes).unwrap();
    }
    assert_eq!(read_all(&store, true).unwrap().len(), 4);
}

#[test]
fn appends_that_do_not_continue_the_head_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let head = store.head();
    let before = read_all(&store, true).unwrap();
    let fact = Fact::Close {
        account: "contoso".into(),
        through: day("2026-01-31"),
    };
    let encode = |start: Head| {
        let mut appender = Appender::new(start);
        let mut out = Vec::new();
        let seq = appender.fact(&fact, &mut out).unwrap();
        appender
            .decisions("contoso", 1, seq, &events_for(&fact), &mut out)
            .unwrap();
        out
    };
    let wrong_seq = encode(Head {
        next_seq: head.next_seq + 1,
        last_hash: head.last_hash,
    });
    let wrong_prev = encode(Head {
        next_seq: head.next_seq,
        last_hash: [7; 32],
    });
    let mut wrong_hash = encode(head);
    wrong_hash[1].hash[0] ^= 1;
    let mut fact_only = encode(head);
    fact_only.pop();
    let decisions_only = encode(head).split_off(1);
    for (name, records) in [
        ("wrong seq", wrong_seq),
        ("wrong prev hash", wrong_prev),
        ("wrong hash", wrong_hash),
        ("fact without decisions", fact_only),
        ("decisions without fact", decisions_only),
    ] {
        let err = store.append(&records).unwrap_err();
        assert!(
            matches!(&err, StoreError::Continuity { expected_seq, .. } if *expected_seq == head.next_seq),
            "{name}: {err}"
        );
        assert_eq!(store.head(), head, "{name}");
        assert_eq!(read_all(&store, true).unwrap(), before, "{name}");
    }
    // The right one goes through.
    store.append(&encode(head)).unwrap();
    assert_eq!(read_all(&store, true).unwrap().len(), before.len() + 1);
}

#[test]
fn a_second_open_in_the_same_process_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "ingest").unwrap();
    let err = Store::open(dir.path(), "lots")
        .err()
        .expect("second open must fail");
    match &err {
        StoreError::Busy { dir: d, holder } => {
            assert_eq!(d, dir.path());
            assert!(
                holder.contains(&format!("pid {}", std::process::id())),
                "{holder}"
            );
            assert!(holder.contains("ingest"), "{holder}");
        }
        other => panic!("expected Busy, got {other}"),
    }
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    assert!(matches!(
        Store::open_existing(dir.path(), "lots"),
        Err(StoreError::Busy { .. })
    ));
    drop(store);
    assert!(
        !dir.path().join("owner.txt").exists(),
        "the owner file goes with the store"
    );
    Store::open_existing(dir.path(), "lots").unwrap();
}

const BUSY_CHILD_ENV: &str = "LEDGER_STORE_BUSY_CHILD_DIR";

#[test]
fn a_second_process_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path(), "ingest").unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "busy_child", "--nocapture", "--test-threads=1"])
        .env(BUSY_CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("BUSY-AS-EXPECTED"), "{stdout}");
}

/// Run by [`a_second_process_is_busy`] in a child process; does nothing otherwise.
#[test]
fn busy_child() {
    let Some(dir) = std::env::var_os(BUSY_CHILD_ENV) else {
        return;
    };
    match Store::open(Path::new(&dir), "lots") {
        Err(StoreError::Busy { holder, .. }) => {
            let parent = std::os::unix::process::parent_id();
            assert!(
                holder.contains(&format!("pid {parent}")) && holder.contains("ingest"),
                "{holder}"
            );
            println!("BUSY-AS-EXPECTED");
        }
        Err(other) => panic!("expected Busy, got {other}"),
        Ok(_) => panic!("a second process opened a ledger held by another"),
    }
}

#[test]
fn open_existing_does_not_create_and_open_refuses_foreign_directories() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    assert!(matches!(
        Store::open_existing(&missing, "lots"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(!missing.exists());
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = Store::open(dir.path(), "ingest").err().unwrap();
    assert!(
        matches!(&err, StoreError::NotALedger { found, .. } if found.contains("notes.txt")),
        "{err}"
    );
    let fresh = dir.path().join("ledger");
    let store = Store::open(&fresh, "ingest").unwrap();
    assert_eq!(store.head(), Head::EMPTY);
    assert_eq!(read_all(&store, true).unwrap(), vec![]);
}

#[test]
fn snapshots_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    assert_eq!(store.latest_snapshot().unwrap(), None);
    let at = |i: usize| groups[i].last().unwrap().seq + 1;
    store
        .put_snapshot(at(0), &encode_blob(&("state", 0u32)))
        .unwrap();
    store
        .put_snapshot(at(1), &encode_blob(&("state", 1u32)))
        .unwrap();
    let big = vec![7u8; 300 << 10]; // over sled's inline threshold: goes to a blob file
    store.put_snapshot(at(2), &big).unwrap();
    let (covered, bytes) = store.latest_snapshot().unwrap().unwrap();
    assert_eq!((covered, bytes), (at(2), big));
    store
        .put_snapshot(at(3), &encode_blob(&("state", 3u32)))
        .unwrap();
    let (covered, bytes) = store.latest_snapshot().unwrap().unwrap();
    assert_eq!(covered, at(3));
    assert_eq!(
        decode_blob::<(String, u32)>(&bytes).unwrap(),
        ("state".to_string(), 3)
    );
    let err = store
        .put_snapshot(store.head().next_seq + 1, b"x")
        .unwrap_err();
    assert!(matches!(err, StoreError::Encode { .. }), "{err}");
    drop(store);
    let store = Store::open_existing(dir.path(), "replay").unwrap();
    assert_eq!(store.latest_snapshot().unwrap().unwrap().0, at(3));
}

#[test]
fn a_snapshot_is_bound_to_the_head_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let (store, groups) = filled(dir.path());
    let at = |i: usize| groups[i].last().unwrap().seq + 1;
    store.put_snapshot(at(0), b"older").unwrap();
    store.put_snapshot(at(1), b"newer").unwrap();
    let value = store.raw_snapshot_get(at(1)).unwrap();
    // Binding: the head of the log at that position is in the value.
    assert_eq!(&value[33..65], &store.head_before(at(1)).unwrap().last_hash);
    assert_eq!(store.snapshots().unwrap()[1].state, SnapshotState::Bound);

    // Edited, with the checksum recomputed without the key: skipped for the older one.
    let mut edited = value[..65].to_vec();
    edited[1..33].copy_from_slice(blake3::hash(b"forged").as_bytes());
    edited.extend_from_slice(b"forged");
    store.raw_snapshot_put(at(1), &edited).unwrap();
    assert_eq!(
        store.latest_snapshot().unwrap(),
        Some((at(0), b"older".to_vec()))
    );
    assert!(matches!(
        store.snapshots().unwrap()[1].state,
        SnapshotState::Damaged(_)
    ));

    // The unbound first format is ignored by reads.
    let mut unbound = vec![1u8];
    unbound.extend_from_slice(blake3::hash(b"forged").as_bytes());
    unbound.extend_from_slice(b"forged");
    store.raw_snapshot_put(at(1), &unbound).unwrap();
    assert_eq!(store.latest_snapshot().unwrap().unwrap().0, at(0));
    assert_eq!(store.snapshots().unwrap()[1].state, SnapshotState::Unbound);

    // An intact snapshot moved to another position names another head.
    store.raw_snapshot_put(at(1), &value).unwrap();
    store.raw_snapshot_put(at(2), &value).unwrap();
    assert_eq!(store.latest_snapshot().unwrap().unwrap().0, at(1));
    assert!(matches!(
        store.snapshots().unwrap()[2].state,
        SnapshotState::Damaged(_)
    ));
}

#[test]
fn a_write_that_makes_no_progress_stops_with_a_clear_error_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let facts = all_facts();
    record(&store, &facts[0]);
    let recorded = store.head();
    // The next sled write blocks forever, as sled 0.34's deadlock does.
    store.set_stall_limit(std::time::Duration::from_millis(300));
    store.inject_stall(2);
    let mut appender = Appender::new(store.head());
    let mut records = Vec::new();
    appender.fact(&facts[1], &mut records).unwrap();
    appender
        .decisions(facts[1].account(), 1, records[0].seq, &[], &mut records)
        .unwrap();
    let err = store.append(&records).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, StoreError::Stalled { records, .. } if records == recorded.next_seq),
        "{message}"
    );
    for needed in [
        "made no progress",
        "Run the same command again",
        &recorded.hash_hex(),
    ] {
        assert!(message.contains(needed), "{message}");
    }
    // The head is what was recorded; later writes refuse at once, and closing does not hang.
    assert_eq!(store.head(), recorded);
    assert!(matches!(store.flush(), Err(StoreError::Stalled { .. })));
    drop(store);
}

#[test]
fn spill_groups_round_trip_and_the_file_goes_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let mut appender = Appender::new(Head::EMPTY);
    let mut spill = Spill::create(dir.path()).unwrap();
    let mut expected = Vec::new();
    for fact in all_facts() {
        let mut group = Vec::new();
        let seq = appender.fact(&fact, &mut group).unwrap();
        appender
            .decisions(fact.account(), 1, seq, &events_for(&fact), &mut group)
            .unwrap();
        spill.push_group(&group).unwrap();
        expected.push(group);
    }
    spill.push_group(&[]).unwrap();
    expected.push(vec![]);
    assert_eq!(spill.group_count(), 5);
    let path = spill.path().to_path_buf();
    assert!(path.starts_with(dir.path().join("staging")));
    for _ in 0..2 {
        let groups: Vec<Vec<EncodedRecord>> =
            spill.groups().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(groups, expected);
    }
    // Staged groups append as they are.
    let store = Store::open(&dir.path().join("ledger"), "ingest").unwrap();
    for group in spill.groups().unwrap() {
        store.append(&group.unwrap()).unwrap();
    }
    assert_eq!(store.head(), appender.head());
    assert_eq!(read_all(&store, true).unwrap().len(), 4);
    drop(spill);
    assert!(!path.exists());
    // Given the staging directory itself, the file goes there.
    let spill = Spill::create(&dir.path().join("staging")).unwrap();
    assert_eq!(spill.path().parent().unwrap(), dir.path().join("staging"));
}

#[test]
fn a_spill_file_left_by_a_dead_process_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), "ingest").unwrap());
    let staging = dir.path().join("staging");
    // pid 0 never names a process of ours; /proc/0 does not exist.
    let live = Spill::create(dir.path()).unwrap();
    let stale = staging.join("spill-0-7.tmp");
    std::fs::write(&stale, b"left over").unwrap();
    let _store = Store::open(dir.path(), "ingest").unwrap();
    assert!(!stale.exists());
    assert!(live.path().exists(), "this process's spill stays");
}

#[test]
fn content_hashes_follow_content() {
    let a = invoice("INV-1", 500);
    let b = invoice("INV-1", 500);
    assert_eq!(invoice_content_hash(&a), invoice_content_hash(&b));
    assert_eq!(
        a.content_hash,
        invoice_content_hash(&a),
        "the digest ignores the content_hash field"
    );
    let mut changed = a.clone();
    changed.lines[250].amount = changed.lines[250]
        .amount
        .checked_add(Money::from_units(1))
        .unwrap();
    assert_ne!(invoice_content_hash(&a), invoice_content_hash(&changed));
    // Equal amounts are equal whatever their spelling.
    let mut spelled = a.clone();
    spelled.lines[0].amount = money("1.000");
    let mut plain = a.clone();
    plain.lines[0].amount = money("1");
    assert_eq!(invoice_content_hash(&spelled), invoice_content_hash(&plain));
    let mut other_id = a.clone();
    other_id.id = "INV-2".into();
    assert_ne!(invoice_content_hash(&a), invoice_content_hash(&other_id));

    let x = agreement();
    assert_eq!(
        agreement_content_hash(&x),
        agreement_content_hash(&agreement())
    );
    let mut y = agreement();
    y.maccs[0].amount = money("100000.01");
    assert_ne!(agreement_content_hash(&x), agreement_content_hash(&y));
}

/// The digests are frozen (R-IDEM-1 compares new facts with digests recorded long ago).
#[test]
fn content_digest_v1_is_frozen() {
    let inv = invoice("INV-PINNED", 40);
    assert_eq!(hex(&invoice_content_hash(&inv)), PINNED_INVOICE_DIGEST);
    assert_eq!(
        hex(&agreement_content_hash(&agreement())),
        PINNED_AGREEMENT_DIGEST
    );
}

const PINNED_INVOICE_DIGEST: &str =
    "bb8ef4d4ed44c307a46b9c55066cdda120329b827bb11ef0effb0a2c02564f98";
const PINNED_AGREEMENT_DIGEST: &str =
    "dddaf4cd4461bf318e971b0811e143e80e87f7c77723732ed4a795a56e8e9715";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn appender_refuses_what_it_cannot_record_and_stays_put() {
    let mut appender = Appender::new(Head::EMPTY);
    let mut out = Vec::new();
    let mut bad = invoice("INV-BAD", 10);
    bad.lines[3].service = StrRef::new(bad.strings.len() as u32);
    let err = appender.fact(&Fact::Invoice(bad), &mut out).unwrap_err();
    assert!(
        matches!(&err, StoreError::Encode { message, .. } if message.contains("line 4")),
        "{err}"
    );
    let mut bad = invoice("INV-BAD", 10);
    bad.lines[5].profile = 9;
    assert!(appender.fact(&Fact::Invoice(bad), &mut out).is_err());
    let mut bad = invoice("INV-BAD", 10);
    bad.strings[0] = "x".repeat(ledger_store::MAX_STRING_BYTES + 1);
    assert!(appender.fact(&Fact::Invoice(bad), &mut out).is_err());
    assert!(out.is_empty());
    assert_eq!(appender.head(), Head::EMPTY);
    // Decisions must follow the fact just encoded.
    let seq = appender
        .fact(&Fact::Invoice(invoice("INV-OK", 2)), &mut out)
        .unwrap();
    assert!(appender
        .decisions("contoso", 1, seq + 5, &[], &mut out)
        .is_err());
    assert!(appender
        .decisions("fabrikam", 1, seq, &[], &mut out)
        .is_err());
    appender
        .decisions("contoso", 1, seq, &[], &mut out)
        .unwrap();
}

#[test]
fn strings_in_any_table_order_round_trip() {
    // A table not in line order (line 0 refers to the last string) still reassembles.
    let mut inv = invoice("INV-ORDER", 3 * CHUNK_LINES);
    let last = inv.strings.len() as u32 - 1;
    inv.lines[0].description = StrRef::new(last);
    inv.strings.push("never referenced".into());
    inv.content_hash = invoice_content_hash(&inv);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let fact = Fact::Invoice(inv);
    record(&store, &fact);
    assert_eq!(read_all(&store, true).unwrap()[0].fact, fact);
    // An invoice without lines keeps its (unused) strings too.
    let mut empty = invoice("INV-EMPTY", 0);
    empty.lines.clear();
    let fact = Fact::Invoice(empty);
    record(&store, &fact);
    assert_eq!(read_all(&store, true).unwrap()[1].fact, fact);
}

#[test]
fn string_heavy_chunks_stay_under_the_inline_threshold() {
    let mut inv = invoice("INV-WIDE", CHUNK_LINES);
    for (i, line) in inv.lines.iter_mut().enumerate() {
        inv.strings.push(format!("{i:0>200}"));
        line.description = StrRef::new(inv.strings.len() as u32 - 1);
    }
    let mut appender = Appender::new(Head::EMPTY);
    let mut out = Vec::new();
    appender
        .fact(&Fact::Invoice(inv.clone()), &mut out)
        .unwrap();
    assert!(out.len() > 3, "the chunk was split by size");
    for r in &out {
        assert!(
            r.bytes.len() <= ledger_store::CHUNK_SOFT_BYTES + 1024,
            "record {} is {} bytes",
            r.seq,
            r.bytes.len()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let fact = Fact::Invoice(inv);
    record(&store, &fact);
    assert_eq!(read_all(&store, true).unwrap()[0].fact, fact);
}

fn arb_line(strings: usize, profiles: usize) -> impl Strategy<Value = ChargeLine> {
    let str_ref = move || {
        prop_oneof![
            Just(StrRef::NONE),
            (0..strings.max(1) as u32).prop_map(StrRef::new)
        ]
    };
    (
        (any::<i64>(), 0u32..=24, any::<bool>()),
        -400i32..400,
        0..ChargeKind::COUNT as u8,
        0..profiles as u16,
        proptest::option::of(0..ChargeKind::COUNT as u8),
        (str_ref(), str_ref(), str_ref(), str_ref(), str_ref()),
    )
        .prop_map(
            move |((mantissa, scale, wide), offset, kind, profile, corrects_kind, refs)| {
                let mantissa = if wide {
                    mantissa as i128 * 1_000_000_007
                } else {
                    mantissa as i128
                };
                let amount = Money::from_mantissa_scale(mantissa, scale)
                    .or_else(|| Money::from_mantissa_scale(mantissa % 1_000_000_000_000, scale))
                    .unwrap_or(Money::ZERO);
                let strip = |r: StrRef| if strings == 0 { StrRef::NONE } else { r };
                ChargeLine {
                    amount,
                    charge_date: Date::from_day_number(20_000 + offset).unwrap(),
                    kind: ChargeKind::from_index(kind).unwrap(),
                    profile,
                    corrects_kind: corrects_kind.map(|k| ChargeKind::from_index(k).unwrap()),
                    line_id: strip(refs.0),
                    service: strip(refs.1),
                    publisher: strip(refs.2),
                    description: strip(refs.3),
                    corrects: strip(refs.4),
                }
            },
        )
}

fn arb_invoice() -> impl Strategy<Value = Invoice> {
    (0usize..40, 1usize..5, 0usize..5000).prop_flat_map(|(strings, profiles, lines)| {
        (
            proptest::collection::vec("[a-zA-Z0-9 éü-]{0,12}", strings),
            proptest::collection::vec("[A-Za-z]{1,8}", profiles),
            proptest::collection::vec(arb_line(strings, profiles), lines),
            -10i32..10,
        )
            .prop_map(|(strings, profiles, lines, shift)| {
                let mut inv = Invoice {
                    account: "acct".into(),
                    id: "INV-P".into(),
                    date: Date::from_day_number(20_040).unwrap(),
                    period_start: Date::from_day_number(20_000 + shift).unwrap(),
                    period_end: Date::from_day_number(20_030).unwrap(),
                    currency: "EUR".into(),
                    content_hash: [0; 32],
                    profiles,
                    strings,
                    lines,
                };
                inv.content_hash = invoice_content_hash(&inv);
                inv
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_invoices_round_trip_exactly(inv in arb_invoice()) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "proptest").unwrap();
        let fact = Fact::Invoice(inv);
        record(&store, &fact);
        let entries = read_all(&store, true).unwrap();
        prop_assert_eq!(entries.len(), 1);
        prop_assert_eq!(&entries[0].fact, &fact);
        let Fact::Invoice(back) = &entries[0].fact else { unreachable!() };
        prop_assert_eq!(invoice_content_hash(back), back.content_hash);
    }
}

/// The resettle record (kind 6) reads back as the fact it was written from, chain verified.
#[test]
fn a_resettle_record_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let facts = vec![
        all_facts().remove(0),
        Fact::Resettle {
            account: "contoso".into(),
            version: 2,
            corrections: vec![ledger_core::resettle::Correction {
                target: "macc-2025".into(),
                target_kind: ledger_core::event::AdjustmentTarget::Macc,
                decremented: money("100"),
                adjusted: money("1.5"),
                balance: money("99901.5"),
                completed: Some((day("2025-06-05"), "INV-2".into())),
            }],
        },
    ];
    for fact in &facts {
        record(&store, fact);
    }
    let entries = read_all(&store, true).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].fact, facts[1]);
    assert_eq!(entries[1].record_count, 2, "the fact and its decisions");
}

#[test]
fn a_pending_run_round_trips_as_its_own_record_kind_with_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let pending = Fact::Pending(invoice("INV-MTD", CHUNK_LINES + 7));
    let records = record(&store, &pending);
    let kind = ledger_store::parse_envelope(records[0].seq, &records[0].bytes)
        .unwrap()
        .kind;
    assert_eq!(kind, ledger_store::RecordKind::PendingHeader);
    let entries = read_all(&store, true).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].fact, pending);
    let Fact::Pending(inv) = &pending else {
        unreachable!()
    };
    assert_eq!(entries[0].line_count, inv.lines.len() as u64);
    assert!(entries[0].record_count > 2, "header, chunks, decisions");
}

/// Encode `facts` with their decisions through `appender` as one batch of whole entries.
fn encode_entries(appender: &mut Appender, facts: &[Fact]) -> Vec<EncodedRecord> {
    let mut out = Vec::new();
    for fact in facts {
        let seq = appender.fact(fact, &mut out).unwrap();
        appender
            .decisions(fact.account(), 1, seq, &events_for(fact), &mut out)
            .unwrap();
    }
    out
}

#[test]
fn line_chunks_in_segment_files_read_back_as_inline_ones_and_several_invoices_share_a_batch() {
    let inline_dir = tempfile::tempdir().unwrap();
    let (inline, _) = filled(inline_dir.path());
    let expected: Vec<Fact> = read_all(&inline, true)
        .unwrap()
        .into_iter()
        .map(|e| e.fact)
        .collect();
    drop(inline);

    let dir = tempfile::tempdir().unwrap();
    let facts = all_facts();
    {
        let store = Store::open(dir.path(), "test").unwrap();
        let mut appender = store.appender();
        // The agreement alone, then every other fact in one group commit.
        let first = encode_entries(&mut appender, &facts[..1]);
        store.append(&first).unwrap();
        let rest = encode_entries(&mut appender, &facts[1..]);
        assert!(rest.iter().any(
            |r| ledger_store::parse_envelope(r.seq, &r.bytes).unwrap().kind
                == ledger_store::RecordKind::ChunkRef
        ));
        assert!(rest.iter().all(
            |r| ledger_store::parse_envelope(r.seq, &r.bytes).unwrap().kind
                != ledger_store::RecordKind::LineChunk
        ));
        store.append(&rest).unwrap();
        assert_eq!(store.head(), appender.head());
        assert_eq!(Some(store.segment_cursor()), appender.segment_cursor());
        store.flush().unwrap();
    }
    let store = Store::open(dir.path(), "test").unwrap();
    let facts_read: Vec<Fact> = read_all(&store, true)
        .unwrap()
        .into_iter()
        .map(|e| e.fact)
        .collect();
    assert_eq!(facts_read, expected);
    // Small records only: every chunk reference is under 100 bytes.
    for seq in 0..store.head().next_seq {
        let value = store.raw_get(seq).unwrap();
        if ledger_store::parse_envelope(seq, &value).unwrap().kind
            == ledger_store::RecordKind::ChunkRef
        {
            assert!(value.len() < 100, "record {seq}: {} bytes", value.len());
        }
    }
}

#[test]
fn a_refused_batch_leaves_no_segment_bytes_and_a_wrong_frame_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let facts = all_facts();
    let mut appender = store.appender();
    let mut records = encode_entries(&mut appender, &facts[..2]);
    // A frame that is not the body its record names.
    let chunk = records
        .iter()
        .position(|r| !r.body.is_empty())
        .expect("a chunk reference");
    let last = records[chunk].body.len() - 1;
    records[chunk].body[last] ^= 1;
    let err = store.append(&records).unwrap_err();
    assert!(
        err.to_string().contains("segment frame does not hold"),
        "{err}"
    );
    assert_eq!(store.head(), Head::EMPTY);
    records[chunk].body[last] ^= 1;
    // A batch whose last record is not a decision is refused before anything is written.
    let without_decisions = &records[..records.len() - 1];
    assert!(store.append(without_decisions).is_err());
    let segment = ledger_store::segment_path(dir.path(), 0);
    let len = std::fs::metadata(&segment).map(|m| m.len()).unwrap_or(0);
    assert!(len <= ledger_store::SEGMENT_HEADER_BYTES, "{len} bytes");
    store.append(&records).unwrap();
    assert_eq!(read_all(&store, true).unwrap().len(), 2);
}
