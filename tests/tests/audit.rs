//! Audit (issue 3): a ledger whose log was altered after the fact fails `ledger audit`, which
//! names the altered record; and `ledger audit trace` explains every decrement by line
//! portions that add up to it.
//!
//! The tampering goes through the store's test hooks (`Store::raw_get` / `Store::raw_put`) on
//! the closed ledger, as an attacker with the files would: by re-encoding a record with the
//! store's own encoder (so it decodes fine and only the chain betrays it), by flipping a byte
//! of any record, and by rewriting the whole chain around a forged decision (so the chain is
//! whole and only re-deriving the decisions from the facts catches it).

use std::collections::BTreeMap;

use ledger_core::event::CommitmentKind;
use ledger_core::{Event, Fact, Money};
use ledger_replay::publish::AccountSnapshot;
use ledger_store::published::{self, PublishedAccount};
use ledger_store::{Appender, LogEntry, ReadOptions, RecordKind, Store};
use serde_json::Value;
use tests::{assert_mentions, copy_dir, csv_rows, generate, text, Dec, Ledger, SplitMix64};

/// A ledger with `ledger gen --lines 20000` (one account, contoso) recorded and ingested.
fn generated() -> Ledger {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 20_000, 1);
    ledger.ok(&["agreement".to_string(), agreements[0].display().to_string()]);
    ledger.ok(&["ingest".to_string(), charges.display().to_string()]);
    ledger
}

/// Every entry of the (closed) ledger's log, chain verified.
fn entries(store: &Store) -> Vec<LogEntry> {
    store
        .reader(ReadOptions {
            from_seq: 0,
            verify_chain: true,
        })
        .collect::<Result<Vec<_>, _>>()
        .expect("the untampered log reads back with its chain verified")
}

fn open(ledger: &Ledger) -> Store {
    Store::open_existing(ledger.data(), "tamper test").expect("open the closed ledger")
}

/// A copy of `pristine`'s ledger in a fresh temporary directory.
fn copy_of(pristine: &Ledger) -> Ledger {
    let copy = Ledger::new();
    copy_dir(pristine.data(), copy.data());
    copy
}

/// `ledger audit --json` on a ledger that must fail it: the finding (seq, kind) and stderr.
fn audit_finding(ledger: &Ledger) -> (u64, String, String) {
    let out = ledger.run(&["audit", "--json"]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "`ledger audit --json` should exit 1 on a tampered log; stderr:\n{stderr}\nstdout:\n{}",
        text(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`ledger audit --json` printed no JSON report ({e}): {}",
            text(&out.stdout)
        )
    });
    let finding = &report["finding"];
    let seq = finding["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no finding.seq in {report}"));
    let kind = finding["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("no finding.kind in {report}"))
        .to_string();
    (seq, kind, stderr)
}

#[test]
fn audit_passes_on_an_untouched_ledger() {
    let ledger = generated();
    let said = ledger.ok(&["audit"]);
    assert_mentions(
        &said,
        &["Audit passed", "20,000 lines", "hash chain is whole"],
    );
    let report = ledger.json(&["audit"]);
    assert_eq!(report["lines"], 20_000, "{report}");
    assert!(report["finding"].is_null(), "{report}");
}

#[test]
fn changing_a_recorded_line_amount_makes_audit_fail_naming_the_record() {
    let ledger = generated();
    let mut rng = SplitMix64::new(0xA0D17);
    let (seq, invoice_id) = {
        let store = open(&ledger);
        let log = entries(&store);
        let invoices: Vec<&LogEntry> = log
            .iter()
            .filter(|e| matches!(e.fact, Fact::Invoice(_)))
            .collect();
        assert!(
            invoices.len() >= 3,
            "the generated file should give several invoices"
        );
        let entry = invoices[invoices.len() / 2];
        let Fact::Invoice(original) = &entry.fact else {
            unreachable!()
        };
        // Change one line's amount by one currency unit, re-encode the invoice with the store's
        // own encoder from the head and segment place it was appended at (so every other
        // record, the header with the original content hash included, comes out byte for
        // byte as stored), and write back the one line chunk (reference and segment frame)
        // that changed.
        let first_chunk = store
            .raw_get(entry.first_seq + 1)
            .expect("the invoice's first chunk reference");
        let (first_location, _) = ledger_store::parse_chunk_ref(entry.first_seq + 1, &first_chunk)
            .expect("chunks are in segment files");
        let cursor = ledger_store::SegmentCursor {
            segment: first_location.segment,
            end: first_location.offset,
        };
        let mut tampered = None;
        for _attempt in 0..20 {
            let line = rng.below(original.lines.len() as u64) as usize;
            let mut forged = original.clone();
            forged.lines[line].amount = forged.lines[line]
                .amount
                .checked_add(Money::from_whole(1))
                .expect("no overflow");
            let mut records = Vec::new();
            Appender::new(
                store
                    .head_before(entry.first_seq)
                    .expect("the head before the invoice"),
            )
            .with_segments(cursor)
            .fact(&Fact::Invoice(forged), &mut records)
            .expect("the forged invoice encodes");
            let changed: Vec<_> = records
                .iter()
                .filter(|r| store.raw_get(r.seq).as_deref() != Some(r.bytes.as_slice()))
                .collect();
            assert_eq!(
                store.raw_get(entry.first_seq).as_deref(),
                Some(records[0].bytes.as_slice()),
                "the re-encoded header should equal the stored one"
            );
            if let [one] = changed.as_slice() {
                let stored = store.raw_get(one.seq).expect("the stored chunk");
                assert_eq!(
                    ledger_store::parse_envelope(one.seq, &stored)
                        .expect("an envelope")
                        .kind,
                    RecordKind::ChunkRef
                );
                assert_eq!(
                    stored[..ledger_store::ENVELOPE_BYTES],
                    one.bytes[..ledger_store::ENVELOPE_BYTES],
                    "same envelope (seq, prev hash)"
                );
                tampered = Some((*one).clone());
                break;
            }
        }
        let record = tampered.expect("a line whose new amount changes exactly one chunk");
        store.raw_put(record.seq, &record.bytes).expect("raw_put");
        let (location, _) =
            ledger_store::parse_chunk_ref(record.seq, &record.bytes).expect("a reference");
        let segment = ledger_store::segment_path(ledger.data(), location.segment);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .expect("the segment file");
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(location.offset)).expect("seek");
        std::io::Write::write_all(&mut file, &record.body).expect("write the forged frame");
        (record.seq, original.id.clone())
    };

    let message = ledger.fails(&["audit"]);
    assert_mentions(
        &message,
        &[
            &format!("audit failed at record {seq} (chain)"),
            &format!("record {seq} was altered"),
        ],
    );
    let (found_seq, kind, _) = audit_finding(&ledger);
    assert_eq!((found_seq, kind.as_str()), (seq, "chain"));
    // The rebuild decodes the changed chunk and finds the invoice no longer adds up.
    let replay = ledger.fails(&["replay"]);
    assert_mentions(&replay, &[&invoice_id]);
}

#[test]
fn flipping_a_byte_of_any_record_makes_audit_fail_naming_that_record() {
    let pristine = generated();
    let (targets, last) = {
        let store = open(&pristine);
        let log = entries(&store);
        let mut by_kind: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
        for seq in 0..store.head().next_seq {
            let value = store.raw_get(seq).expect("every record is stored");
            let kind = ledger_store::parse_envelope(seq, &value)
                .expect("an envelope")
                .kind;
            by_kind.entry(kind as u8).or_default().push(seq);
        }
        assert!(log.len() > 3);
        let mut targets: Vec<(String, u64)> = Vec::new();
        for (kind, name) in [
            (RecordKind::Agreement, "agreement"),
            (RecordKind::InvoiceHeader, "invoice header"),
            (RecordKind::ChunkRef, "line chunk reference"),
            (RecordKind::Decisions, "decisions"),
        ] {
            let seqs = &by_kind[&(kind as u8)];
            targets.push((name.to_string(), seqs[seqs.len() / 2]));
        }
        let last = store.head().next_seq - 1;
        targets.push(("the last record".to_string(), last));
        (targets, last)
    };
    assert!(last > 10);
    let mut rng = SplitMix64::new(0xF11B);
    for (what, seq) in targets {
        let copy = copy_of(&pristine);
        let position = {
            let store = open(&copy);
            let mut value = store.raw_get(seq).expect("the record");
            let position = rng.below(value.len() as u64) as usize;
            value[position] ^= 0x01;
            store.raw_put(seq, &value).expect("raw_put");
            position
        };
        let message = copy.fails(&["audit"]);
        assert!(
            message.contains(&format!("audit failed at record {seq} (chain)")),
            "flipping byte {position} of record {seq} ({what}) should fail the audit at record {seq}; it says:\n{message}"
        );
        let (found_seq, kind, _) = audit_finding(&copy);
        assert_eq!(
            (found_seq, kind.as_str()),
            (seq, "chain"),
            "record {seq} ({what}), byte {position}"
        );
    }
}

/// Rewrite `pristine`'s whole log into `target`'s data directory through the store's own
/// appender, passing each entry's decisions through `forge`. Returns the new head hash.
fn rewrite(
    pristine: &Ledger,
    target: &Ledger,
    mut forge: impl FnMut(&LogEntry, Vec<Event>) -> Vec<Event>,
) -> [u8; 32] {
    let source = open(pristine);
    let store = Store::open(target.data(), "forgery").expect("a new ledger");
    for entry in entries(&source) {
        let recorded = entry.decisions.clone().expect("decisions");
        let events = forge(&entry, recorded.events.clone());
        let mut appender = store.appender();
        let mut records = Vec::new();
        let fact_seq = appender
            .fact(&entry.fact, &mut records)
            .expect("the fact re-encodes");
        appender
            .decisions(
                &recorded.account,
                recorded.rulebook_version,
                fact_seq,
                &events,
                &mut records,
            )
            .expect("the decisions encode");
        store.append(&records).expect("append");
    }
    store.flush().expect("flush");
    store.head().last_hash
}

#[test]
fn a_forged_decision_in_a_rehashed_chain_is_caught_by_rederivation() {
    let pristine = generated();
    let original_head = open(&pristine).head().last_hash;

    // The rewriting tool is faithful: without a forgery it reproduces the log byte for byte.
    let faithful = Ledger::new();
    assert_eq!(
        rewrite(&pristine, &faithful, |_, events| events),
        original_head,
        "an unforged rewrite must give the same head"
    );

    // The forgery: in one invoice, move a cent of MACC decrement from one billing profile to
    // the next, keeping every balance consistent, so that the projections fold without
    // complaint and the chain is whole; only re-deriving the decisions from the lines shows
    // them wrong.
    let cent = Money::parse("0.01").unwrap();
    let mut forged_at = None;
    let forged = Ledger::new();
    rewrite(&pristine, &forged, |entry, mut events| {
        if forged_at.is_some() || !matches!(entry.fact, Fact::Invoice(_)) || entry.first_seq < 6 {
            return events;
        }
        let decrements: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Event::Decremented {
                        kind: CommitmentKind::Macc,
                        ..
                    } | Event::Adjusted { .. }
                )
            })
            .map(|(i, _)| i)
            .collect();
        for pair in decrements.windows(2) {
            let (i, j) = (pair[0], pair[1]);
            let (
                Event::Decremented {
                    commitment: c1,
                    amount: a1,
                    ..
                },
                Event::Decremented {
                    commitment: c2,
                    amount: a2,
                    ..
                },
            ) = (&events[i], &events[j])
            else {
                continue;
            };
            if c1 != c2 || *a1 <= cent || *a2 <= cent {
                continue;
            }
            if let Event::Decremented {
                amount,
                balance_after,
                ..
            } = &mut events[i]
            {
                *amount = amount.checked_add(cent).unwrap();
                *balance_after = balance_after.checked_sub(cent).unwrap();
            }
            if let Event::Decremented { amount, .. } = &mut events[j] {
                *amount = amount.checked_sub(cent).unwrap();
            }
            forged_at = Some(entry.decisions.as_ref().unwrap().seq);
            break;
        }
        events
    });
    let seq = forged_at.expect("an invoice with two MACC decrements to forge");

    let message = forged.fails(&["audit"]);
    assert_mentions(
        &message,
        &[
            &format!("audit failed at record {seq} (decisions)"),
            "differ from what the rules derive",
        ],
    );
    let (found_seq, kind, _) = audit_finding(&forged);
    assert_eq!((found_seq, kind.as_str()), (seq, "decisions"));
}

/// An amount of `ledger audit trace --json`: `[mantissa, scale]`, a JSON number or a string.
fn trace_amount(v: &Value) -> Dec {
    match v {
        Value::Array(parts) if parts.len() == 2 => {
            let mantissa = parts[0]
                .as_i64()
                .map(i128::from)
                .or_else(|| parts[0].as_str().and_then(|s| s.parse().ok()))
                .expect("a mantissa");
            let scale = parts[1].as_u64().expect("a scale") as u32;
            Dec(mantissa * 10i128.pow(Dec::SCALE - scale))
        }
        other => Dec::from_json(other).unwrap_or_else(|| panic!("not an amount: {other}")),
    }
}

#[test]
fn audit_trace_portions_add_up_to_every_decrement_and_credit_application() {
    let ledger = generated();
    // CSV: one row per portion, the event's amount repeated on each.
    for lot in ["macc-2024", "aco-2024"] {
        let csv = ledger.ok(&["audit", "trace", "--lot", lot, "--csv"]);
        let rows = csv_rows(&csv);
        let header = &rows[0];
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
        };
        let (seq, event, invoice, profile, amount, counted, portion) = (
            col("seq"),
            col("event"),
            col("invoice"),
            col("billing_profile"),
            col("amount"),
            col("counted"),
            col("portion_amount"),
        );
        let after = col("balance_after");
        // One event per (invoice, profile) and run of lines: a refund ends a run (rulebook
        // 2, issue 11 pt 2), so the balance after tells two events of one profile apart.
        let mut sums: BTreeMap<(u64, String, String, String), (Dec, Dec)> = BTreeMap::new();
        for row in &rows[1..] {
            let added = match row[event].as_str() {
                "Decremented" => &row[counted],
                "CreditApplied" => &row[portion],
                _ => continue,
            };
            let key = (
                row[seq].parse().expect("a seq"),
                row[invoice].clone(),
                row[profile].clone(),
                row[after].clone(),
            );
            let entry = sums
                .entry(key)
                .or_insert((Dec::parse(&row[amount]).expect("an amount"), Dec::ZERO));
            entry.1 += Dec::parse(added).unwrap_or_else(|| panic!("portion {added:?} of {row:?}"));
        }
        assert!(
            sums.len() >= 5,
            "lot {lot}: too few decrements or credit applications traced: {}",
            sums.len()
        );
        for ((seq, invoice, profile, _), (amount, total)) in &sums {
            assert_eq!(total, amount, "lot {lot}, record {seq}, invoice {invoice}, profile {profile}: the portions add up to {total}, the event says {amount}");
        }
        // The same events as the Events API shows for the lot.
        let events = ledger.json(&["events", "--lot", lot]);
        let settled: Vec<f64> = events["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["properties"]["eventType"] == "SettledCharges"
                    && e["properties"]["invoiceNumber"].is_string()
            })
            .map(|e| {
                e["properties"]["charges"]["value"]
                    .as_f64()
                    .unwrap_or_else(|| e["properties"]["charges"].as_f64().unwrap())
            })
            .filter(|c| *c < 0.0)
            .collect();
        let mut traced: Vec<f64> = sums.values().map(|(a, _)| -a.as_f64()).collect();
        let mut shown = settled.clone();
        traced.sort_by(f64::total_cmp);
        shown.sort_by(f64::total_cmp);
        assert_eq!(
            traced.len(),
            shown.len(),
            "lot {lot}: {} events traced, {} in `ledger events`",
            traced.len(),
            shown.len()
        );
        for (t, s) in traced.iter().zip(&shown) {
            assert!(
                (t - s).abs() < 0.005,
                "lot {lot}: traced {t}, events API {s}"
            );
        }
    }

    // JSON: every decrement's portions add up to it exactly.
    let trace = ledger.json(&["audit", "trace", "--lot", "macc-2024"]);
    let events = trace["events"].as_array().expect("trace events");
    let mut decrements = 0;
    for e in events.iter().filter(|e| e["event"] == "Decremented") {
        decrements += 1;
        let amount = trace_amount(&e["amount"]);
        let portions = e["portions"].as_array().expect("portions");
        assert!(!portions.is_empty(), "a decrement without portions: {e}");
        let total = portions
            .iter()
            .fold(Dec::ZERO, |sum, p| sum + trace_amount(&p["counted"]));
        assert_eq!(
            total, amount,
            "record {}: portions add up to {total}, the decrement is {amount}",
            e["seq"]
        );
        for p in portions {
            assert!(
                p["eligRule"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("R-ELIG")),
                "a portion without its R-ELIG rule: {p}"
            );
        }
    }
    assert!(decrements >= 5, "too few decrements traced: {decrements}");
}

/// The published snapshot file of the ledger's first account: its path and content.
fn published_snapshot(ledger: &Ledger) -> (std::path::PathBuf, PublishedAccount) {
    let index = published::read_index(ledger.data())
        .expect("the index reads")
        .expect("an ingest publishes its projections");
    let entry = index.accounts.first().expect("an account");
    let path = published::published_dir(ledger.data())
        .join(published::account_file_name(&entry.account, entry.position));
    let read = published::decode_account(&std::fs::read(&path).expect("the file"))
        .expect("an intact snapshot");
    (path, read)
}

/// Alter the figures a read shows: the first MACC's balance, in an account snapshot.
fn altered_snapshot(payload: &[u8]) -> Vec<u8> {
    let mut snapshot: AccountSnapshot =
        ledger_store::decode_blob(payload).expect("the snapshot decodes");
    let account = snapshot.state.as_mut().expect("an account state");
    let macc = account.maccs.first_mut().expect("a MACC");
    macc.amounts.balance = Money::parse("123.45").unwrap();
    ledger_store::encode_blob(&snapshot)
}

/// `ledger audit` on a ledger whose stored projections were altered: exit 1, a
/// `projections` finding naming the account, and `projections.checked` false in the JSON.
fn assert_audit_catches_projections(ledger: &Ledger, what: &str) {
    let (_, kind, stderr) = audit_finding(ledger);
    assert_eq!(kind, "projections", "{what}: {stderr}");
    assert_mentions(
        &stderr,
        &["audit failed", "projection snapshot", "account contoso"],
    );
}

#[test]
fn an_edited_projection_snapshot_fails_audit_and_reads_rebuild_from_the_log() {
    let pristine = generated();
    let honest_lots = pristine.ok(&["lots", "--json"]);
    let report = pristine.json(&["audit"]);
    assert_eq!(report["projections"]["checked"], true, "{report}");
    assert_eq!(
        report["projections"]["head"], report["headHash"],
        "{report}"
    );
    let (path, read) = published_snapshot(&pristine);
    let name = path.file_name().unwrap().to_owned();
    let forged = altered_snapshot(&read.bytes);

    // 1. The attacker keeps the layout and recomputes a plain (unkeyed) checksum of the edit.
    let unkeyed = copy_of(&pristine);
    {
        let mut v = published::encode_account(&read.entry, &forged);
        let plain = *blake3::hash(&v[70..]).as_bytes();
        v[6..38].copy_from_slice(&plain);
        let at = published::published_dir(unkeyed.data()).join(&name);
        std::fs::write(at, v).unwrap();
    }
    assert_audit_catches_projections(&unkeyed, "an unkeyed checksum");
    assert_eq!(
        unkeyed.ok(&["lots", "--json"]),
        honest_lots,
        "a read must not show the edited snapshot's figures"
    );

    // 2. The attacker moves an honest snapshot to another position (bound to another record).
    let moved = copy_of(&pristine);
    {
        let mut entry = read.entry.clone();
        entry.position = ledger_store::AccountPosition(entry.position.0 - 2);
        let folder = published::published_dir(moved.data());
        std::fs::remove_file(folder.join(&name)).unwrap();
        std::fs::write(
            folder.join(published::account_file_name(&entry.account, entry.position)),
            published::encode_account(&entry, &read.bytes),
        )
        .unwrap();
    }
    assert_audit_catches_projections(&moved, "a snapshot moved to another position");
    assert_eq!(moved.ok(&["lots", "--json"]), honest_lots);
}

#[test]
fn a_forged_snapshot_with_a_recomputed_binding_still_fails_audit() {
    let pristine = generated();
    let (path, read) = published_snapshot(&pristine);
    let forged = altered_snapshot(&read.bytes);
    std::fs::write(&path, published::encode_account(&read.entry, &forged)).unwrap();
    // Whoever knows the binding can make reads use the edit; audit compares the figures.
    let (seq, kind, stderr) = audit_finding(&pristine);
    assert_eq!(
        (seq, kind.as_str()),
        (read.entry.position.0, "projections"),
        "{stderr}"
    );
    assert_mentions(
        &stderr,
        &[
            "differs from the fold of the log",
            "123.45",
            "account contoso",
        ],
    );
}

/// The head a writing command printed: `Log head: 1,234 records, hash 3f1c…`.
fn printed_head(said: &str) -> (u64, String) {
    let line = said
        .lines()
        .find_map(|l| l.strip_prefix("Log head: "))
        .unwrap_or_else(|| panic!("no `Log head:` line in:\n{said}"));
    let (records, hash) = line
        .split_once(" records, hash ")
        .unwrap_or_else(|| panic!("a head line of another shape: {line}"));
    (
        records.replace(',', "").parse().expect("a record count"),
        hash.to_string(),
    )
}

#[test]
fn writers_print_the_head_and_audit_expect_head_catches_a_dropped_tail() {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 20_000, 1);
    let agreement = agreements[0].display().to_string();
    let (agreement_records, agreement_head) =
        printed_head(&ledger.ok(&["agreement", agreement.as_str()]));
    let ingested = ledger.json(&["ingest", &charges.display().to_string()]);
    let records = ingested["head"]["records"].as_u64().expect("head.records");
    let head = ingested["head"]["hash"]
        .as_str()
        .expect("head.hash")
        .to_string();
    assert!(records > agreement_records, "{ingested}");
    let report = ledger.json(&["audit"]);
    assert_eq!(
        (report["records"].as_u64(), report["headHash"].as_str()),
        (Some(records), Some(head.as_str()))
    );

    // The head printed now, and an earlier one: both are in the log.
    let passed = ledger.json(&["audit", "--expect-head", &head]);
    assert_eq!(passed["expectedHead"]["records"], records, "{passed}");
    let passed = ledger.ok(&["audit", "--expect-head", &agreement_head]);
    assert_mentions(&passed, &["expected head", &agreement_head]);
    ledger.usage_error(&["audit", "--expect-head", "not-a-hash"]);

    // Drop the last invoices and rewrite the head: the log is whole again, audit alone passes,
    // the kept anchor does not.
    let cut = copy_of(&ledger);
    let cut_at = {
        let store = open(&cut);
        let keep = entries(&store)
            .iter()
            .rev()
            .nth(2)
            .expect("several invoices")
            .last_seq
            + 1;
        store.raw_truncate(keep).unwrap();
        keep
    };
    assert!(cut_at < records);
    cut.ok(&["audit"]);
    let out = cut.run(&["audit", "--json", "--expect-head", &head]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["finding"]["kind"], "head", "{report}");
    assert_mentions(
        &text(&out.stderr),
        &["does not contain the expected head", &head],
    );
    // The anchor from before the cut still holds.
    cut.ok(&["audit", "--expect-head", &agreement_head]);
}
