//! The Parquet ingest benchmark (issue 15): the same generated FOCUS lines as CSV and as
//! snappy Parquet, read per line as fast?
//!
//! ```sh
//! cargo run --release -p benches --bin ingest_parquet -- --lines 1000000 --runs 3
//! ```
//!
//! 1. `ledger gen --lines N --format focus` writes FOCUS CSV (and its agreement);
//!    `ledger_gen::parquet::csv_to_parquet` writes the same rows as snappy Parquet (costs
//!    `DECIMAL(38, 10)`, dates `TIMESTAMP(MILLIS, UTC)`, strings dictionary-encoded, row
//!    groups of 1M rows, as Azure's exports hold them).
//! 2. End to end: a fresh ledger, `ledger agreement`, then `ledger ingest` of each file as a
//!    child process of the release binary, timed, peak RSS from `wait4`.
//! 3. Reading alone, in this process: `ledger_input::stage_file` over each file.
//!
//! Prints a Markdown table with lines/s; `--runs` keeps the fastest of R runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use benches::{ledger_binary, measure, per_second, target_dir, work_dir};
use ledger_gen::parquet::{csv_to_parquet, focus_export_options};
use ledger_input::assemble::Accounts;
use ledger_input::{stage_file, InputFormat};

struct Options {
    lines: u64,
    runs: u32,
    dir: Option<PathBuf>,
    /// Keep the files a previous run left in `--dir` (for profiling the reading alone).
    reuse: bool,
    /// Skip the end-to-end runs.
    read_only: bool,
}

fn parse_options() -> Options {
    let mut o = Options {
        lines: 1_000_000,
        runs: 1,
        dir: None,
        reuse: false,
        read_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--lines" => o.lines = value().replace('_', "").parse().expect("--lines N"),
            "--runs" => o.runs = value().parse().expect("--runs R"),
            "--dir" => o.dir = Some(PathBuf::from(value())),
            "--reuse" => o.reuse = true,
            "--read-only" => o.read_only = true,
            "--help" | "-h" => {
                println!(
                    "ingest_parquet [--lines N] [--runs R] [--dir DIR] [--reuse] [--read-only]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown option {other}; see --help"),
        }
    }
    o.runs = o.runs.max(1);
    o
}

struct Row {
    what: String,
    seconds: f64,
    bytes: u64,
}

fn main() {
    let o = parse_options();
    let ledger = ledger_binary();
    let target = target_dir(&ledger);
    let (work, _temp) = work_dir(o.dir.as_deref(), &target, "ledger-parquet-bench-");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let csv = work.join("focus.csv");
    let parquet = work.join("focus.parquet");
    let reuse = o.reuse && csv.exists() && parquet.exists();
    if !reuse {
        generate(&ledger, &csv, &parquet, o.lines);
    }
    let agreement = work.join("focus-agreement-contoso.toml");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut table = Vec::new();
    for (name, file) in [("FOCUS CSV", &csv), ("FOCUS Parquet (snappy)", &parquet)] {
        if o.read_only {
            break;
        }
        let mut best: Option<Row> = None;
        for _ in 0..o.runs {
            let data = work.join("data");
            let _ = std::fs::remove_dir_all(&data);
            measure(&ledger, &["--data", &s(&data), "agreement", &s(&agreement)]);
            eprintln!("ingest {name}");
            let m = measure(&ledger, &["--data", &s(&data), "ingest", &s(file)]);
            if best.as_ref().is_none_or(|b| m.seconds < b.seconds) {
                best = Some(Row {
                    what: format!("`ledger ingest` {name} (read, decide, append, flush)"),
                    seconds: m.seconds,
                    bytes: size(file),
                });
            }
        }
        table.push(best.expect("a run"));
    }
    let accounts = Accounts::new(BTreeMap::from([("contoso".to_string(), "USD".to_string())]));
    for (name, file) in [("FOCUS CSV", &csv), ("FOCUS Parquet (snappy)", &parquet)] {
        let mut best = f64::MAX;
        for _ in 0..o.runs {
            let spill = tempfile::tempdir_in(&work).expect("spill dir");
            let started = Instant::now();
            let (staged, stats) =
                stage_file(file, InputFormat::Focus, &accounts, spill.path(), |_, _| {})
                    .expect("stages");
            best = best.min(started.elapsed().as_secs_f64());
            assert_eq!(stats.lines, o.lines, "{name}: every line staged");
            drop(staged);
        }
        table.push(Row {
            what: format!("read + map + assemble {name} (in process)"),
            seconds: best,
            bytes: size(file),
        });
    }
    println!("\n### Parquet ingest: {} generated FOCUS lines\n", o.lines);
    println!("| step | file MB | wall s | lines/s |");
    println!("| --- | ---: | ---: | ---: |");
    for row in &table {
        println!(
            "| {} | {:.0} | {:.2} | {} |",
            row.what,
            row.bytes as f64 / 1e6,
            row.seconds,
            per_second(o.lines, row.seconds),
        );
    }
}

/// Generate `lines` FOCUS lines as CSV, then the same rows as snappy Parquet.
fn generate(ledger: &Path, csv: &Path, parquet: &Path, lines: u64) {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    eprintln!("gen --format focus: {lines} lines");
    measure(
        ledger,
        &[
            "gen",
            "--lines",
            &lines.to_string(),
            "--format",
            "focus",
            "--out",
            &s(csv),
        ],
    );
    eprintln!("writing Parquet");
    let options = focus_export_options();
    let rows = csv_to_parquet(csv, parquet, &options).expect("writes Parquet");
    assert_eq!(rows, lines);
}
