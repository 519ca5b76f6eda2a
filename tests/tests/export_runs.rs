//! Exports as Azure delivers them (issue 15): the parts of one run (listed, a run folder, a
//! `manifest.json`), gzip by content, an export root of several runs, and the refusals of a
//! part that does not decompress, a manifest whose counts disagree and a missing blob.
//!
//! Every layout is built here from the public FOCUS sample (`tests/fixtures/data/focus-sample-data`,
//! 1,000 rows: one Microsoft invoice of 51 lines among 949 rows of other providers), split into
//! four parts, two of them gzip, with the rows shuffled; each must settle byte for byte as the
//! same rows in one plain CSV do (lots, events, invoices, CACO and the log's head).

mod export_layout;

use export_layout::{gzip, manifest, sample, shuffled, write_manifest, write_parts, Written};
use serde_json::{json, Value};
use tests::{assert_same_state, fixtures_dir, Ledger, State};

const AGREEMENT: &str = "account = \"8611537\"\ncurrency = \"USD\"\n[[macc]]\nid = \"macc-1\"\namount = \"100000\"\nstart = \"2020-01-01\"\nend = \"2026-12-31\"\n";

/// A ledger with the sample's account recorded.
fn new_ledger() -> Ledger {
    let ledger = Ledger::new();
    ledger.write("agreement.toml", AGREEMENT);
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger
}

/// The views and head after ingesting the sample as one plain CSV.
fn reference() -> (State, String) {
    let (header, rows) = sample();
    let ledger = new_ledger();
    ledger.write("all.csv", header + &rows.concat());
    ledger.ok(&["ingest", "all.csv"]);
    ledger.fingerprint()
}

#[track_caller]
fn assert_same(expected: &(State, String), ledger: &Ledger, context: &str) {
    let (state, head) = ledger.fingerprint();
    assert_same_state(&expected.0, &state, context);
    assert_eq!(expected.1, head, "{context}: the log's head differs");
}

fn paths(parts: &[Written]) -> Vec<String> {
    parts
        .iter()
        .map(|p| p.path.to_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_run_split_over_four_parts_half_gzip_settles_as_the_same_rows_in_one_csv() {
    let expected = reference();
    let (header, rows) = sample();
    let rows = shuffled(rows, 0x9e37_79b9_7f4a_7c15);

    // By run folder (no manifest): the invoice spans all four parts.
    let ledger = new_ledger();
    write_parts(&ledger, "run", &header, &rows, true);
    let said = ledger.ok(&["ingest", "run"]);
    assert!(
        said.starts_with("run (FOCUS, 4 parts): 1,000 rows, 51 lines in 1 invoices: 1 settled"),
        "{said}"
    );
    assert_same(&expected, &ledger, "a run folder of four parts");

    // By manifest, the gzip parts without a .gz suffix (told by their magic bytes).
    let ledger = new_ledger();
    let parts = write_parts(&ledger, "run", &header, &rows, false);
    let m = manifest(
        "run-1",
        "2024-10-01T00:10:00Z",
        "TheLastMonth",
        "2024-09-30T00:00:00",
        &parts,
    );
    let manifest_path = write_manifest(&ledger, "run", &m);
    ledger.ok(&["ingest", manifest_path.to_str().unwrap()]);
    assert_same(&expected, &ledger, "a manifest of four parts");

    // By listing the parts, in another order.
    let ledger = new_ledger();
    let parts = write_parts(&ledger, "run", &header, &rows, true);
    let mut listed = paths(&parts);
    listed.reverse();
    let mut args = vec!["ingest".to_string()];
    args.extend(listed);
    ledger.ok(&args);
    assert_same(&expected, &ledger, "the four parts listed");

    // One plain CSV with its rows in another order.
    let ledger = new_ledger();
    let (header, rows) = sample();
    ledger.write("shuffled.csv", header + &shuffled(rows, 7).concat());
    ledger.ok(&["ingest", "shuffled.csv"]);
    assert_same(&expected, &ledger, "the rows shuffled in one file");
    ledger.assert_audit_and_replay_pass();
}

#[test]
fn an_export_root_ingests_every_run_oldest_first_and_then_says_which_it_skipped() {
    let (header, rows) = sample();
    let ledger = new_ledger();
    // Two runs of the same closed month (a re-delivery): the older one settles, the newer
    // one is a repeat with the same content. A third folder is an earlier month-to-date run.
    let old = write_parts(&ledger, "root/a/run-old", &header, &rows, true);
    let m = manifest(
        "run-old",
        "2024-10-01T00:10:00Z",
        "TheLastMonth",
        "2024-09-30T00:00:00",
        &old,
    );
    write_manifest(&ledger, "root/a/run-old", &m);
    let new = write_parts(
        &ledger,
        "root/b/run-new",
        &header,
        &shuffled(rows.clone(), 3),
        false,
    );
    let m = manifest(
        "run-new",
        "2024-10-02T00:10:00Z",
        "TheLastMonth",
        "2024-09-30T00:00:00",
        &new,
    );
    write_manifest(&ledger, "root/b/run-new", &m);
    // Named so that it sorts first by path: order is the manifest's submittedTime.
    // Its rows are other providers' only: pending settlement is not this test's subject.
    let others: Vec<String> = rows
        .iter()
        .filter(|r| !r.contains("Microsoft"))
        .take(40)
        .cloned()
        .collect();
    let mtd = write_parts(&ledger, "root/0/run-mtd", &header, &others, true);
    let m = manifest(
        "run-mtd",
        "2024-09-21T00:10:00Z",
        "MonthToDate",
        "2024-09-20T00:00:00Z",
        &mtd,
    );
    write_manifest(&ledger, "root/0/run-mtd", &m);

    let first: Value = serde_json::from_str(&ledger.ok(&["ingest", "root", "--json"])).unwrap();
    let files = first["files"].as_array().unwrap();
    let ids: Vec<&str> = files
        .iter()
        .map(|f| f["run"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["run-mtd", "run-old", "run-new"], "{first}");
    assert_eq!(
        files[0]["run"]["pending"], true,
        "a month-to-date run ending 2024-09-20"
    );
    assert_eq!(files[1]["run"]["pending"], false);
    assert_eq!(
        (
            files[1]["settled"].as_u64(),
            files[2]["alreadySettled"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // The same rows in another split and order have the same content digest.
    assert_eq!(files[1]["run"]["digest"], files[2]["run"]["digest"]);
    assert_eq!(files[1]["run"]["parts"], 4);
    let head = ledger.head_hash();

    let again = ledger.ok(&["ingest", "root"]);
    let digest = files[1]["run"]["digest"].as_str().unwrap();
    for id in ["run-old", "run-new"] {
        let needle = format!("skipped run {id} (content digest {})", &digest[..16]);
        assert!(again.contains(&needle), "{needle} not in:\n{again}");
    }
    assert_eq!(
        ledger.head_hash(),
        head,
        "a second ingest of the root appends nothing"
    );
    ledger.assert_audit_and_replay_pass();
}

/// Ingesting `args` is refused with a message containing every needle, and records nothing.
#[track_caller]
fn refused(ledger: &Ledger, args: &[&str], needles: &[&str]) {
    let before = ledger.head_hash();
    let mut all = vec!["ingest"];
    all.extend_from_slice(args);
    let said = ledger.fails(&all);
    for needle in needles {
        assert!(said.contains(needle), "{needle:?} not in:\n{said}");
    }
    assert_eq!(
        ledger.head_hash(),
        before,
        "a refused ingest appended records"
    );
}

#[test]
fn a_part_that_does_not_decompress_is_refused_naming_it_and_nothing_is_recorded() {
    let (header, rows) = sample();
    let ledger = new_ledger();
    let parts = write_parts(&ledger, "run", &header, &rows, true);
    // Cut the second (gzip) part short.
    let cut = std::fs::read(&parts[1].path).unwrap();
    std::fs::write(&parts[1].path, &cut[..cut.len() / 2]).unwrap();
    refused(&ledger, &["run"], &["part_0_0002.csv.gz", "gzip"]);
    // Its bytes are not gzip past the header: corrupt in the middle.
    let mut bad = cut.clone();
    for b in &mut bad[20..60] {
        *b = 0xff;
    }
    std::fs::write(&parts[1].path, &bad).unwrap();
    refused(&ledger, &["run"], &["part_0_0002.csv.gz", "gzip"]);
}

#[test]
fn a_manifest_whose_counts_disagree_or_whose_blob_is_missing_is_refused_naming_it() {
    let (header, rows) = sample();
    let ledger = new_ledger();
    let parts = write_parts(&ledger, "run", &header, &rows, true);
    let good = manifest(
        "run-1",
        "2024-10-01T00:10:00Z",
        "TheLastMonth",
        "2024-09-30T00:00:00",
        &parts,
    );

    let mut m = good.clone();
    m["dataRowCount"] = json!(999);
    write_manifest(&ledger, "run", &m);
    refused(&ledger, &["run"], &["manifest.json", "dataRowCount", "999"]);

    let mut m = good.clone();
    m["blobs"][2]["dataRowCount"] = json!(251);
    m["dataRowCount"] = json!(1001);
    write_manifest(&ledger, "run", &m);
    refused(
        &ledger,
        &["run"],
        &["part_0_0003.csv", "250 data rows", "251"],
    );

    let mut m = good.clone();
    m["blobs"][0]["byteCount"] = json!(parts[0].bytes + 1);
    m["byteCount"] = json!(m["byteCount"].as_u64().unwrap() + 1);
    write_manifest(&ledger, "run", &m);
    refused(&ledger, &["run"], &["part_0_0001.csv", "byteCount"]);

    write_manifest(&ledger, "run", &good);
    std::fs::remove_file(&parts[3].path).unwrap();
    refused(
        &ledger,
        &["run/manifest.json"],
        &["manifest.json", "part_0_0004.csv.gz", "is missing"],
    );
}

#[test]
fn a_gzip_file_is_read_by_its_content_whatever_its_name() {
    let expected = reference();
    let (header, rows) = sample();
    let ledger = new_ledger();
    let file = ledger.write(
        "part_0_0001.csv",
        gzip((header + &rows.concat()).as_bytes()),
    );
    ledger.ok(&["ingest", file.to_str().unwrap()]);
    assert_same(&expected, &ledger, "one gzip file named .csv");
    let other = Ledger::new();
    other.write("agreement.toml", AGREEMENT);
    other.ok(&["agreement", "agreement.toml"]);
    let (header, rows) = sample();
    let gz = other.write(
        "part_0_0001.csv.gz",
        gzip((header + &rows.concat()).as_bytes()),
    );
    other.ok(&["ingest", gz.to_str().unwrap()]);
    assert_same(&expected, &other, "one gzip file named .csv.gz");
}

#[test]
fn a_part_with_the_parquet_magic_that_is_not_parquet_is_refused_naming_it() {
    let ledger = new_ledger();
    let file = ledger.write(
        "run/part_0_0001.parquet",
        b"PAR1\x15\x04not really parquet PAR1",
    );
    refused(&ledger, &["run"], &["part_0_0001.parquet"]);
    refused(
        &ledger,
        &[file.to_str().unwrap()],
        &["part_0_0001.parquet", "Parquet"],
    );
}

#[test]
fn a_gzip_native_csv_settles_as_the_plain_one() {
    let example = fixtures_dir().join("examples/contoso-prepayment");
    let charges = std::fs::read(example.join("charges.csv")).unwrap();
    let agreement = example.join("agreement.toml");
    let run = |name: &str, bytes: &[u8]| {
        let ledger = Ledger::new();
        ledger.ok(&["agreement", agreement.to_str().unwrap()]);
        ledger.write(name, bytes);
        ledger.ok(&["ingest", name]);
        ledger.fingerprint()
    };
    let plain = run("charges.csv", &charges);
    let (state, head) = run("charges.csv.gz", &gzip(&charges));
    assert_same_state(&plain.0, &state, "native CSV, gzip");
    assert_eq!(plain.1, head);
}

/// The sample's rows charged before `day` (`ChargePeriodStart`, `YYYY-MM-DD`).
fn charged_before(rows: &[String], day: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| {
            let cells = tests::csv_rows(r);
            cells[0][12].as_str() < day
        })
        .cloned()
        .collect()
}

fn pending_charges(ledger: &Ledger) -> Vec<Value> {
    ledger.json(&["events"])["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["properties"]["eventType"] == "PendingCharges")
        .cloned()
        .collect()
}

#[test]
fn a_month_to_date_run_by_its_manifest_is_pending_until_the_closed_months_run_replaces_it() {
    let expected = reference();
    let (header, rows) = sample();
    let ledger = new_ledger();
    // The run of 2024-09-10: the month's rows so far, its manifest saying month-to-date and
    // ending before September does. Read without --pending.
    let early = charged_before(&rows, "2024-09-10");
    assert!(early.len() < rows.len() && early.iter().any(|r| r.contains("Microsoft")));
    let mtd = write_parts(&ledger, "root/mtd", &header, &shuffled(early, 5), true);
    let m = manifest(
        "run-mtd",
        "2024-09-10T06:00:00Z",
        "MonthToDate",
        "2024-09-10T00:00:00Z",
        &mtd,
    );
    write_manifest(&ledger, "root/mtd", &m);
    let said = ledger.ok(&["ingest", "root/mtd"]);
    assert!(said.contains("recorded as pending"), "{said}");
    let pending = pending_charges(&ledger);
    assert!(
        !pending.is_empty(),
        "PendingCharges while the month is open"
    );
    for p in &pending {
        assert_eq!(p["properties"]["invoiceNumber"], "EA-8611537-2024-09");
        assert_eq!(p["properties"]["isEstimatedBalance"], true);
    }
    let expected_lots = &expected.0.lots;
    assert_eq!(
        ledger.json(&["invoices"])["value"].as_array().map(Vec::len),
        Some(0),
        "nothing settled yet"
    );
    assert_ne!(&ledger.json(&["lots"]), expected_lots);
    ledger.assert_audit_and_replay_pass();

    // The closed month's run: the views equal the closed month alone, no PendingCharges left.
    let closed = write_parts(&ledger, "root/closed", &header, &shuffled(rows, 9), true);
    let m = manifest(
        "run-closed",
        "2024-10-01T00:10:00Z",
        "TheLastMonth",
        "2024-09-30T00:00:00",
        &closed,
    );
    write_manifest(&ledger, "root/closed", &m);
    let said = ledger.ok(&["ingest", "root/closed"]);
    assert!(said.contains("1 settled"), "{said}");
    assert_same_state(&expected.0, &ledger.state(), "month-to-date then closed");
    assert!(pending_charges(&ledger).is_empty());
    ledger.assert_audit_and_replay_pass();

    // The export root in one command, with an earlier month-to-date run too: oldest first,
    // the newer pending run replacing the older, the closed run replacing both.
    let first = charged_before(&sample().1, "2024-09-05");
    let mtd = write_parts(&ledger, "root/earlier", &header, &first, false);
    let m = manifest(
        "run-mtd-0",
        "2024-09-05T06:00:00Z",
        "MonthToDate",
        "2024-09-05T00:00:00Z",
        &mtd,
    );
    write_manifest(&ledger, "root/earlier", &m);
    let once = new_ledger();
    std::fs::rename(ledger.path("root"), once.path("root")).unwrap();
    let said = once.ok(&["ingest", "root"]);
    assert_eq!(said.matches("recorded as pending").count(), 2, "{said}");
    assert_same_state(&expected.0, &once.state(), "the root in one command");
    assert!(pending_charges(&once).is_empty());
    once.assert_audit_and_replay_pass();
}
