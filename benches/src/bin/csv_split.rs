//! The CSV splitter against the `csv` crate (issue 12: keep the hand-written splitter only if
//! it earns its place). Both read the same generated native charge file from the page cache
//! and touch every field (count fields, sum their lengths), best of `--runs`:
//!
//! - `ledger_input::records::RecordReader`: unquoted lines split eight bytes at a time, quoted
//!   ones handed to `csv_core` (what every charge-file reader uses);
//! - `csv::ReaderBuilder` with a reused `ByteRecord` (the fastest way to use the `csv` crate,
//!   no UTF-8 check, no allocation per record).
//!
//! ```sh
//! cargo run --release -p benches --bin csv_split -- --lines 1000000 --runs 5
//! ```

use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

use ledger_input::records::RecordReader;

fn main() {
    let mut lines: u64 = 1_000_000;
    let mut runs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--lines" => lines = value().replace('_', "").parse().expect("--lines N"),
            "--runs" => runs = value().parse().expect("--runs R"),
            other => panic!("unknown option {other}; use --lines N --runs R"),
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("charges.csv");
    let file = std::fs::File::create(&path).expect("create the CSV");
    let options = ledger_gen::GenOptions {
        lines,
        accounts: 1,
        seed: 42,
        months: None,
    };
    let generated =
        ledger_gen::generate(&options, &mut BufWriter::new(file)).expect("generate the CSV");
    let bytes = generated.bytes as f64;
    let hand = best(runs, || split_by_hand(&path));
    let crate_csv = best(runs, || split_with_csv(&path));
    assert_eq!(hand.1, crate_csv.1, "both see the same fields and bytes");
    println!(
        "{lines} lines, {:.0} MB: hand-written splitter {:.3} s ({:.1} M lines/s, {:.0} MB/s); \
         csv crate (ByteRecord) {:.3} s ({:.1} M lines/s, {:.0} MB/s); the splitter is {:.2}x",
        bytes / 1e6,
        hand.0,
        lines as f64 / hand.0 / 1e6,
        bytes / hand.0 / 1e6,
        crate_csv.0,
        lines as f64 / crate_csv.0 / 1e6,
        bytes / crate_csv.0 / 1e6,
        crate_csv.0 / hand.0
    );
}

/// The fastest of `runs` timings of `f`, with what it returned.
fn best(runs: u32, f: impl Fn() -> (u64, u64)) -> (f64, (u64, u64)) {
    let mut fastest = f64::INFINITY;
    let mut seen = (0, 0);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        seen = f();
        fastest = fastest.min(started.elapsed().as_secs_f64());
    }
    (fastest, seen)
}

/// (fields, field bytes) through the ledger's reader.
fn split_by_hand(path: &Path) -> (u64, u64) {
    let file = std::fs::File::open(path).expect("open the CSV");
    let mut reader = RecordReader::new(file);
    let (mut fields, mut field_bytes) = (0u64, 0u64);
    while reader.advance().expect("read") {
        let record = reader.record();
        fields += record.len() as u64;
        for &(from, to) in record.ranges {
            field_bytes += (to - from) as u64;
        }
    }
    (fields, field_bytes)
}

/// (fields, field bytes) through the `csv` crate.
fn split_with_csv(path: &Path) -> (u64, u64) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .expect("open the CSV");
    let mut record = csv::ByteRecord::new();
    let (mut fields, mut field_bytes) = (0u64, 0u64);
    while reader.read_byte_record(&mut record).expect("read") {
        fields += record.len() as u64;
        field_bytes += record.iter().map(|f| f.len() as u64).sum::<u64>();
    }
    (fields, field_bytes)
}
