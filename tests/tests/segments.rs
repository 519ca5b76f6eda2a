//! Segment files (issue 13, "Log format v2"): line bodies live in `DATA/segments/`, the log
//! holds small chunk references whose hashes are chained; a byte flipped in a segment file
//! makes `ledger audit` fail naming the segment file, the offset and the referencing record.

use std::fs;

use ledger_store::{parse_envelope, segment_path, RecordKind, Store, SEGMENTS_DIR};
use serde_json::Value;
use tests::{generate, text, Ledger};

/// A ledger with `ledger gen --lines 20000 --accounts 2` recorded and ingested, and the
/// charge file.
fn generated() -> (Ledger, String) {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 20_000, 2);
    for agreement in &agreements {
        ledger.ok(&["agreement".to_string(), agreement.display().to_string()]);
    }
    let charges = charges.display().to_string();
    ledger.ok(&["ingest".to_string(), charges.clone()]);
    (ledger, charges)
}

/// The (seq, segment, offset, len) of every chunk reference in the log.
fn chunk_refs(ledger: &Ledger) -> Vec<(u64, Vec<u8>)> {
    let store = Store::open_existing(ledger.data(), "segment test").expect("open the ledger");
    (0..store.head().next_seq)
        .filter_map(|seq| {
            let value = store.raw_get(seq).expect("every record is stored");
            let kind = parse_envelope(seq, &value).expect("an envelope").kind;
            (kind == RecordKind::ChunkRef).then_some((seq, value))
        })
        .collect()
}

#[test]
fn line_bodies_are_in_segment_files_and_the_log_holds_only_references() {
    let (ledger, _) = generated();
    let refs = chunk_refs(&ledger);
    assert!(
        refs.len() >= 10,
        "20,000 lines should make at least ten chunks"
    );
    for (seq, value) in &refs {
        assert!(
            value.len() < 128,
            "chunk reference {seq} takes {} bytes; it should be small",
            value.len()
        );
    }
    let segment = segment_path(ledger.data(), 0);
    let size = fs::metadata(&segment).expect("segment 0 exists").len();
    assert!(
        size > 20_000 * 4,
        "20,000 lines should take more than {size} bytes"
    );
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn a_byte_flipped_in_a_segment_file_fails_audit_naming_the_segment_offset_and_record() {
    let (ledger, _) = generated();
    let segment = segment_path(ledger.data(), 0);
    let mut bytes = fs::read(&segment).expect("segment 0");
    let position = bytes.len() / 2;
    bytes[position] ^= 0x04;
    fs::write(&segment, &bytes).expect("write the segment back");

    let out = ledger.run(&["audit", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "audit should fail; stderr:\n{}",
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let finding = &report["finding"];
    assert_eq!(finding["kind"], "segment", "{report}");
    let message = finding["message"].as_str().expect("a message");
    let seq = finding["seq"].as_u64().expect("a seq");
    // The finding names the record whose chunk holds the flipped byte, and its frame's offset.
    let store = Store::open_existing(ledger.data(), "segment test").expect("open");
    let value = store.raw_get(seq).expect("the named record");
    assert_eq!(
        parse_envelope(seq, &value).unwrap().kind,
        RecordKind::ChunkRef,
        "{message}"
    );
    drop(store);
    let offset: u64 = message
        .split("at offset ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in: {message}"));
    assert!(
        offset <= position as u64,
        "the frame at {offset} should hold byte {position}: {message}"
    );
    assert!(
        message.contains(&format!("{SEGMENTS_DIR}/00000000.seg"))
            && message.contains(&format!("log record {seq}")),
        "{message}"
    );
    let said = ledger.fails(&["audit"]);
    assert!(said.contains("00000000.seg"), "{said}");
}

#[test]
fn a_torn_segment_tail_is_cut_off_and_the_same_ingest_completes() {
    let (ledger, charges) = generated();
    let segment = segment_path(ledger.data(), 0);
    let before = fs::metadata(&segment).unwrap().len();
    let head = ledger.head_hash();
    // Bytes of a batch that never reached the log.
    let mut file = fs::OpenOptions::new().append(true).open(&segment).unwrap();
    std::io::Write::write_all(&mut file, &[0xAB; 1000]).unwrap();
    drop(file);
    let said = ledger.ok(&["ingest", charges.as_str()]);
    assert!(said.contains("already"), "{said}");
    assert_eq!(fs::metadata(&segment).unwrap().len(), before);
    assert_eq!(ledger.head_hash(), head);
    ledger.assert_audit_and_replay_pass();
}
