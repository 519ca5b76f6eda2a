//! The ingest benchmark (issue 5): native and FOCUS ingest of the same generated lines.
//!
//! ```sh
//! cargo run --release -p benches --bin ingest -- --lines 1000000
//! cargo run --release -p benches --bin ingest -- --lines 1000000 --runs 3 --dir /tmp/ingest-bench
//! ```
//!
//! 1. `ledger gen --lines N` and `ledger gen --lines N --format focus` write the same
//!    synthetic lines as native CSV and as FOCUS 1.2 rows (with their agreements).
//! 2. End to end: for each format, a fresh ledger, `ledger agreement`, then `ledger ingest`
//!    run as a child process of the release binary (read, validate, decide, append, flush),
//!    timed, with its peak RSS from `wait4`.
//! 3. Reading alone, in this process: `ledger_input::stage_file` (reader, mapping, assembler,
//!    spill) over each file, its peak RSS from `/proc/self/status` VmHWM after resetting it
//!    (`/proc/self/clear_refs`).
//!
//! Figures are wall-clock on whatever else the machine is doing; `--runs` repeats and keeps
//! the fastest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use benches::{ledger_binary, measure, mib, per_second, target_dir, work_dir, Measured};
use ledger_input::assemble::Accounts;
use ledger_input::{stage_file, InputFormat};

struct Options {
    lines: u64,
    runs: u32,
    dir: Option<PathBuf>,
}

fn parse_options() -> Options {
    let mut o = Options {
        lines: 1_000_000,
        runs: 1,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--lines" => o.lines = value().replace('_', "").parse().expect("--lines N"),
            "--runs" => o.runs = value().parse().expect("--runs R"),
            "--dir" => o.dir = Some(PathBuf::from(value())),
            "--help" | "-h" => {
                println!("ingest [--lines N] [--runs R] [--dir DIR]");
                std::process::exit(0);
            }
            other => panic!("unknown option {other}; see --help"),
        }
    }
    o.runs = o.runs.max(1);
    o
}

/// Peak resident set of this process so far, in bytes (VmHWM).
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Reset VmHWM to the current RSS (Linux: `echo 5 > /proc/self/clear_refs`).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct Step {
    what: String,
    seconds: f64,
    peak_rss_bytes: u64,
}

fn fastest(runs: u32, mut run: impl FnMut() -> Measured) -> Measured {
    let mut best: Option<Measured> = None;
    for _ in 0..runs {
        let m = run();
        if best.as_ref().is_none_or(|b| m.seconds < b.seconds) {
            best = Some(m);
        }
    }
    best.expect("at least one run")
}

fn main() {
    let o = parse_options();
    let ledger = ledger_binary();
    let target = target_dir(&ledger);
    let (work, _temp) = work_dir(o.dir.as_deref(), &target, "ledger-ingest-bench-");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let lines = o.lines.to_string();
    let mut end_to_end = Vec::new();
    let mut reading = Vec::new();
    let mut sizes = Vec::new();
    for format in ["native", "focus"] {
        let csv = work.join(format!("{format}.csv"));
        eprintln!("gen --format {format}: {} lines", o.lines);
        measure(
            &ledger,
            &[
                "gen",
                "--lines",
                &lines,
                "--format",
                format,
                "--out",
                &s(&csv),
            ],
        );
        let agreement = work.join(format!("{format}-agreement-contoso.toml"));
        sizes.push((
            format,
            std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0),
        ));

        // End to end, in a child process.
        let m = fastest(o.runs, || {
            let data = work.join(format!("data-{format}"));
            let _ = std::fs::remove_dir_all(&data);
            measure(&ledger, &["--data", &s(&data), "agreement", &s(&agreement)]);
            eprintln!("ingest {format}");
            measure(&ledger, &["--data", &s(&data), "ingest", &s(&csv)])
        });
        end_to_end.push(Step {
            what: format!("`ledger ingest` {format} (read, decide, append, flush)"),
            seconds: m.seconds,
            peak_rss_bytes: m.peak_rss_bytes,
        });

        // Reading alone, in this process.
        let accounts = Accounts::new(BTreeMap::from([("contoso".to_string(), "USD".to_string())]));
        let input = if format == "native" {
            InputFormat::Native
        } else {
            InputFormat::Focus
        };
        let mut best: Option<Step> = None;
        for _ in 0..o.runs {
            let spill = tempfile::tempdir_in(&work).expect("spill dir");
            let reset = reset_peak_rss();
            let started = Instant::now();
            let (staged, stats) =
                stage_file(&csv, input, &accounts, spill.path(), |_, _| {}).expect("stages");
            let seconds = started.elapsed().as_secs_f64();
            assert_eq!(stats.lines, o.lines, "{format}: every line staged");
            drop(staged);
            let step = Step {
                what: format!(
                    "read + map + assemble {format} (in process{})",
                    if reset { "" } else { "; VmHWM not reset" }
                ),
                seconds,
                peak_rss_bytes: peak_rss_bytes(),
            };
            if best.as_ref().is_none_or(|b| step.seconds < b.seconds) {
                best = Some(step);
            }
        }
        reading.push(best.expect("a run"));
    }

    println!(
        "\n### Ingest: {} generated lines, native vs FOCUS\n",
        group(o.lines)
    );
    for (format, bytes) in &sizes {
        println!(
            "- {format}: {:.0} MB ({:.0} bytes per line)",
            *bytes as f64 / 1e6,
            *bytes as f64 / o.lines as f64
        );
    }
    println!("\n| step | wall s | lines/s | MB/s | peak RSS MiB |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (i, step) in end_to_end.iter().chain(&reading).enumerate() {
        let bytes = sizes[i % 2].1;
        println!(
            "| {} | {:.2} | {} | {:.0} | {} |",
            step.what,
            step.seconds,
            per_second(o.lines, step.seconds),
            bytes as f64 / 1e6 / step.seconds,
            mib(step.peak_rss_bytes)
        );
    }
}

/// `1000000` → `1,000,000`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
