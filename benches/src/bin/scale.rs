//! The scale benchmark (issues 6 and 13): generate charge lines with `ledger gen`, run every
//! heavy command of the real `ledger` binary, each in its own process, and print a markdown
//! table per shape (wall time, the load average when the step started, lines/s, peak RSS from
//! `wait4`), bytes per line on disk, the DuckDB baseline from the same CSV, and how many ingests
//! hung: killed at the time limit, or stopped by the store's watchdog (a stall).
//!
//! ```sh
//! cargo run --release -p benches --bin scale -- --lines 10000000
//! cargo run --release -p benches --bin scale -- --lines 1000000 --accounts 4 --no-duckdb
//! # issue 13's axes (each shape generated, measured and deleted in turn):
//! cargo run --release -p benches --bin scale -- --axis accounts            # 4, 200, 2,000, 10,000 accounts × 12 × 84 lines
//! cargo run --release -p benches --bin scale -- --axis history             # 3M..50M lines, one account, 1M-line invoices
//! cargo run --release -p benches --bin scale -- --axis invoice             # 12 invoices of 1k..1M lines
//! cargo run --release -p benches --bin scale -- --axis accounts --sizes 2000 --ingest-runs 6
//! ```
//!
//! A shape whose data would not fit on the disk (CSV + store + DuckDB, estimated from the
//! free space) is skipped, and the output says so. Figures are wall-clock on whatever else the
//! machine is doing: the load average stands beside each step; peak RSS and bytes per line do
//! not depend on it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use benches::{
    dir_allocated_bytes, dir_bytes, free_bytes, ledger_binary, load_average, measure, mib,
    per_second, run_limited, target_dir, until_line, work_dir, End, Measured, Run,
};

/// Lines per account on the accounts axis: 12 monthly invoices of 84 lines (issue 13).
const ACCOUNT_LINES: u64 = 12 * 84;
/// Disk a shape may take per charge line (CSV ≈ 120, store up to ≈ 330 at many accounts,
/// DuckDB ≈ 40), with a margin.
const DISK_PER_LINE: u64 = 600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Accounts,
    History,
    Invoice,
}

struct Options {
    lines: u64,
    accounts: u32,
    months: Option<u32>,
    lines_per_invoice: Option<u64>,
    axis: Option<Axis>,
    sizes: Option<Vec<u64>>,
    scenarios: u32,
    dir: Option<PathBuf>,
    duckdb: bool,
    serve: bool,
    ingest_runs: u32,
    timeout: Duration,
}

const USAGE: &str = "scale [--lines N] [--accounts A] [--months M | --lines-per-invoice K]
      [--axis accounts|history|invoice [--sizes S,S,...]] [--ingest-runs R] [--timeout SECONDS]
      [--scenarios K] [--dir DIR] [--no-duckdb] [--no-serve]

--axis accounts: sizes are account counts (default 4,200,2000,10000), 12 invoices × 84 lines each
--axis history:  sizes are lines for one account (default 3M,6M,12M,24M,50M), 1M-line invoices
--axis invoice:  sizes are lines per invoice (default 1k,10k,100k,1M), one account, 12 invoices
--ingest-runs R: ingest R times, each on a fresh copy of the ledger with the agreements, and
                 count the runs that hung (killed after --timeout, default 1800 s) or stalled";

fn number(text: &str) -> u64 {
    let t = text.replace(['_', ','], "");
    let (digits, factor) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000),
        Some('M') => (&t[..t.len() - 1], 1_000_000),
        _ => (&t[..], 1),
    };
    digits
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("not a number: {text}"))
        * factor
}

fn parse_options() -> Options {
    let mut o = Options {
        lines: 1_000_000,
        accounts: 4,
        months: None,
        lines_per_invoice: None,
        axis: None,
        sizes: None,
        scenarios: 4,
        dir: None,
        duckdb: true,
        serve: true,
        ingest_runs: 1,
        timeout: Duration::from_secs(1800),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--lines" => o.lines = number(&value()),
            "--accounts" => o.accounts = number(&value()) as u32,
            "--months" => o.months = Some(number(&value()) as u32),
            "--lines-per-invoice" => o.lines_per_invoice = Some(number(&value())),
            "--axis" => {
                o.axis = Some(match value().as_str() {
                    "accounts" => Axis::Accounts,
                    "history" => Axis::History,
                    "invoice" => Axis::Invoice,
                    other => panic!("--axis accounts|history|invoice, not {other}"),
                })
            }
            "--sizes" => {
                o.sizes = Some(
                    value()
                        .split(' ')
                        .flat_map(|s| s.split(','))
                        .filter(|s| !s.is_empty())
                        .map(number)
                        .collect(),
                )
            }
            "--ingest-runs" => o.ingest_runs = number(&value()).max(1) as u32,
            "--timeout" => o.timeout = Duration::from_secs(number(&value())),
            "--scenarios" => o.scenarios = number(&value()) as u32,
            "--dir" => o.dir = Some(PathBuf::from(value())),
            "--no-duckdb" => o.duckdb = false,
            "--no-serve" => o.serve = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => panic!("unknown option {other}; see --help"),
        }
    }
    o
}

/// One shape of data: what `ledger gen` is asked for.
#[derive(Clone, Debug)]
struct Shape {
    label: String,
    lines: u64,
    accounts: u32,
    months: Option<u32>,
    lines_per_invoice: Option<u64>,
}

fn shapes(o: &Options) -> Vec<Shape> {
    let Some(axis) = o.axis else {
        return vec![Shape {
            label: format!("{} lines, {} accounts", count(o.lines), o.accounts),
            lines: o.lines,
            accounts: o.accounts,
            months: o.months,
            lines_per_invoice: o.lines_per_invoice,
        }];
    };
    let defaults: Vec<u64> = match axis {
        Axis::Accounts => vec![4, 200, 2_000, 10_000],
        Axis::History => vec![3, 6, 12, 24, 50]
            .into_iter()
            .map(|m| m * 1_000_000)
            .collect(),
        Axis::Invoice => vec![1_000, 10_000, 100_000, 1_000_000],
    };
    let sizes = o.sizes.clone().unwrap_or(defaults);
    sizes
        .into_iter()
        .map(|size| match axis {
            Axis::Accounts => Shape {
                label: format!("{} accounts × 12 × 84 lines", count(size)),
                lines: size * ACCOUNT_LINES,
                accounts: size as u32,
                months: Some(12),
                lines_per_invoice: None,
            },
            Axis::History => Shape {
                label: format!("{} lines, one account, 1M-line invoices", count(size)),
                lines: size,
                accounts: 1,
                months: None,
                lines_per_invoice: Some(1_000_000),
            },
            Axis::Invoice => Shape {
                label: format!("12 invoices × {} lines, one account", count(size)),
                lines: 12 * size,
                accounts: 1,
                months: Some(12),
                lines_per_invoice: None,
            },
        })
        .collect()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    format!(
        "{cores} cores, {cpu}, {:.0} GiB RAM",
        mem as f64 / 1024.0 / 1024.0
    )
}

/// A venv with DuckDB under target/, created on first use.
fn duckdb_python(target: &Path) -> Option<PathBuf> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import duckdb"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ready {
        return Some(python);
    }
    eprintln!("setting up {} with duckdb (pip)", venv.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "duckdb==2.0.0"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        eprintln!("could not install duckdb; skipping the baseline");
        None
    }
}

/// One measured step of a shape.
struct Row {
    step: String,
    /// What the step's rate counts (charge lines, or agreement files).
    items: u64,
    /// The load average when the step started.
    load: f64,
    m: Measured,
    end: End,
}

impl Row {
    fn from_run(step: impl Into<String>, items: u64, load: f64, run: &Run) -> Row {
        Row {
            step: step.into(),
            items,
            load,
            m: run.measured.clone(),
            end: run.end,
        }
    }

    fn status(&self) -> String {
        match self.end {
            End::Exited(0) => "ok".into(),
            End::Exited(code) => format!("exit {code}"),
            End::Signaled(sig) => format!("signal {sig}"),
            End::TimedOut => "timed out".into(),
        }
    }
}

/// What one shape measured, for the axis summary.
struct ShapeResult {
    shape: Shape,
    rows: Vec<Row>,
    ingests: Vec<Row>,
    hangs: usize,
    disk: u64,
    disk_allocated: u64,
    skipped: Option<String>,
}

impl ShapeResult {
    fn step(&self, prefix: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.step.starts_with(prefix))
    }
}

/// Everything a shape's steps need.
struct Bench {
    ledger: PathBuf,
    target: PathBuf,
    o: Options,
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn main() {
    let o = parse_options();
    let ledger = ledger_binary();
    let target = target_dir(&ledger);
    let (work, _temp) = work_dir(o.dir.as_deref(), &target, "ledger-scale-");
    let bench = Bench { ledger, target, o };
    println!("Machine: {}.", machine());
    let mut results = Vec::new();
    for shape in shapes(&bench.o) {
        let dir = work.join(format!("shape-{}-{}", shape.lines, shape.accounts));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("shape dir");
        let result = bench.shape(&shape, &dir);
        print_shape(&result);
        let _ = std::fs::remove_dir_all(&dir);
        results.push(result);
    }
    if results.len() > 1 {
        print_summary(&results);
    }
}

impl Bench {
    /// Generate, record, ingest (`--ingest-runs` times) and read one shape in `dir`.
    fn shape(&self, shape: &Shape, dir: &Path) -> ShapeResult {
        let mut result = ShapeResult {
            shape: shape.clone(),
            rows: Vec::new(),
            ingests: Vec::new(),
            hangs: 0,
            disk: 0,
            disk_allocated: 0,
            skipped: None,
        };
        let need = shape.lines * DISK_PER_LINE;
        let free = free_bytes(dir);
        if need > free {
            result.skipped = Some(format!(
                "skipped: needs about {} GiB, {} GiB free",
                need >> 30,
                free >> 30
            ));
            return result;
        }
        let csv = dir.join("charges.csv");
        eprintln!("{}: generating in {}", shape.label, dir.display());
        let mut gen = vec![
            "gen".to_string(),
            "--lines".into(),
            shape.lines.to_string(),
            "--accounts".into(),
            shape.accounts.to_string(),
            "--out".into(),
            s(&csv),
        ];
        if let Some(m) = shape.months {
            gen.extend(["--months".into(), m.to_string()]);
        }
        if let Some(k) = shape.lines_per_invoice {
            gen.extend(["--lines-per-invoice".into(), k.to_string()]);
        }
        let load = load_average();
        let gen = measure(&self.ledger, &strs(&gen));
        result.rows.push(Row {
            step: "gen (write the CSV and agreements)".into(),
            items: shape.lines,
            load,
            m: gen,
            end: End::Exited(0),
        });
        let agreements = agreement_files(dir);
        let base = dir.join("data-agreements");
        eprintln!("{}: {} agreements", shape.label, agreements.len());
        let mut args = vec!["--data".to_string(), s(&base), "agreement".to_string()];
        args.extend(agreements.iter().cloned());
        let load = load_average();
        let run = run_limited(&self.ledger, &strs(&args), Some(self.o.timeout));
        result.rows.push(Row::from_run(
            format!(
                "agreement ({} files in one call; rate: files/s)",
                agreements.len()
            ),
            agreements.len() as u64,
            load,
            &run,
        ));
        if !run.ok() {
            eprintln!("agreement failed: {}", run.stderr);
            return result;
        }
        let Some(data) = self.ingests(shape, dir, &base, &csv, &mut result) else {
            return result;
        };
        result.disk = dir_bytes(&data);
        result.disk_allocated = dir_allocated_bytes(&data);
        self.reads(shape, dir, &data, &mut result);
        if self.o.duckdb {
            self.duckdb(shape, dir, &csv, &agreements, &mut result);
        }
        result
    }

    /// Ingest `--ingest-runs` times, each on a fresh copy of `base`; keep the first ledger an
    /// ingest completed (for the read steps) and count the runs that hung or stalled.
    fn ingests(
        &self,
        shape: &Shape,
        dir: &Path,
        base: &Path,
        csv: &Path,
        result: &mut ShapeResult,
    ) -> Option<PathBuf> {
        let data = dir.join("data");
        let mut kept = false;
        for run in 0..self.o.ingest_runs {
            let attempt = dir.join(format!("data-run-{run}"));
            let _ = std::fs::remove_dir_all(&attempt);
            let copied = Command::new("cp")
                .arg("-a")
                .arg(base)
                .arg(&attempt)
                .status()
                .is_ok_and(|s| s.success());
            assert!(copied, "cp -a {} {}", base.display(), attempt.display());
            eprintln!("{}: ingest {}/{}", shape.label, run + 1, self.o.ingest_runs);
            let load = load_average();
            let ran = run_limited(
                &self.ledger,
                &["--data", &s(&attempt), "ingest", &s(csv)],
                Some(self.o.timeout),
            );
            let stalled = ran.stderr.contains("made no progress");
            if ran.end == End::TimedOut || stalled {
                result.hangs += 1;
            }
            if !ran.ok() {
                eprintln!("ingest run {} ended {:?}: {}", run + 1, ran.end, ran.stderr);
            }
            let step = if stalled {
                "ingest (native CSV → settled, flushed; stalled: watchdog)".to_string()
            } else {
                "ingest (native CSV → settled, flushed)".to_string()
            };
            result
                .ingests
                .push(Row::from_run(step, shape.lines, load, &ran));
            if ran.ok() && !kept {
                std::fs::rename(&attempt, &data).expect("keep the ingested ledger");
                kept = true;
            } else {
                let _ = std::fs::remove_dir_all(&attempt);
            }
        }
        let _ = std::fs::remove_dir_all(base);
        kept.then_some(data)
    }

    /// The read steps on an ingested ledger, each in a fresh process.
    fn reads(&self, shape: &Shape, dir: &Path, data: &Path, result: &mut ShapeResult) {
        let d = s(data);
        let limit = Some(self.o.timeout);
        let mut step = |label: &str, args: Vec<String>| {
            eprintln!("{}: {label}", shape.label);
            let load = load_average();
            let run = run_limited(&self.ledger, &strs(&args), limit);
            if !run.ok() {
                eprintln!("{label} ended {:?}: {}", run.end, run.stderr);
            }
            result
                .rows
                .push(Row::from_run(label, shape.lines, load, &run));
        };
        let read = |verb: &[&str]| {
            let mut args = vec!["--data".to_string(), d.clone()];
            args.extend(verb.iter().map(|v| v.to_string()));
            args
        };
        step("replay (cold: full rebuild)", read(&["replay"]));
        step("audit (chain + re-derive every decision)", read(&["audit"]));
        step(
            "lots --json (snapshot, no replay)",
            read(&["lots", "--json"]),
        );
        if self.o.scenarios > 0 {
            let mut args = read(&["whatif"]);
            args.extend(scenario_files(dir, self.o.scenarios));
            step(
                &format!("what-if, {} scenarios in one run", self.o.scenarios),
                args,
            );
        }
        let html = s(&dir.join("report.html"));
        step("report --html", read(&["report", "--html", &html]));
        if self.o.serve {
            eprintln!("{}: serve start-up", shape.label);
            let load = load_average();
            let args = ["--data", &d, "serve", "--addr", "127.0.0.1:0"];
            let (run, ready) = until_line(&self.ledger, &args, "listening on", self.o.timeout);
            let mut row = Row::from_run("serve start-up (until listening)", 0, load, &run);
            if let Some(ready) = ready {
                row.m.seconds = ready;
            }
            result.rows.push(row);
        }
    }

    /// DuckDB: load the CSV into a table (vs ingest); per-invoice totals (vs replay).
    fn duckdb(
        &self,
        shape: &Shape,
        dir: &Path,
        csv: &Path,
        agreements: &[String],
        result: &mut ShapeResult,
    ) {
        let Some(python) = duckdb_python(&self.target) else {
            return;
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline/duckdb_baseline.py");
        let db = dir.join("baseline.duckdb");
        eprintln!("{}: duckdb load", shape.label);
        let load = load_average();
        let run = run_limited(
            &python,
            &[&s(&script), "load", &s(csv), &s(&db)],
            Some(self.o.timeout),
        );
        result.rows.push(Row::from_run(
            "DuckDB: load the CSV into a table (vs ingest)",
            shape.lines,
            load,
            &run,
        ));
        eprintln!("{}: duckdb query", shape.label);
        let mut args = vec![s(&script), "query".into(), s(&db)];
        args.extend(agreements.iter().cloned());
        let load = load_average();
        let run = run_limited(&python, &strs(&args), Some(self.o.timeout));
        result.rows.push(Row::from_run(
            "DuckDB: per-invoice eligible totals + balance (vs replay)",
            shape.lines,
            load,
            &run,
        ));
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(|a| a.as_str()).collect()
}

/// The agreement files `ledger gen` wrote beside `charges.csv`, sorted.
fn agreement_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("shape dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("charges-agreement-"))
        })
        .map(|p| s(&p))
        .collect();
    files.sort();
    files
}

/// `k` what-if scenarios scaling usage by 0.9, 0.8...
fn scenario_files(dir: &Path, k: u32) -> Vec<String> {
    (0..k)
        .map(|i| {
            let path = dir.join(format!("scenario-{i}.toml"));
            let factor = format!("0.{}", 9 - (i % 9));
            std::fs::write(&path, format!("[[change]]\nop = \"scale\"\nfactor = \"{factor}\"\n[change.where]\nkind = \"usage\"\n")).expect("scenario");
            s(&path)
        })
        .collect()
}

fn print_shape(r: &ShapeResult) {
    println!("\n### {}\n", r.shape.label);
    if let Some(why) = &r.skipped {
        println!("{why}");
        return;
    }
    println!("| step | wall s | load | rate/s | peak RSS MiB | end |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    let gen_and_agreements = r.rows.iter().take(2);
    let reads = r.rows.iter().skip(2);
    for row in gen_and_agreements.chain(&r.ingests).chain(reads) {
        let rate = if row.items == 0 {
            "—".to_string()
        } else {
            per_second(row.items, row.m.seconds)
        };
        println!(
            "| {} | {:.2} | {:.1} | {} | {} | {} |",
            row.step,
            row.m.seconds,
            row.load,
            rate,
            mib(row.m.peak_rss_bytes),
            row.status()
        );
    }
    let lines = r.shape.lines.max(1) as f64;
    println!(
        "\n{} lines. On disk: {} MiB, {:.1} bytes per charge line (apparent size), {:.1} (du, allocated). Hangs: {} of {} ingests (killed at the time limit or stopped by the watchdog).",
        r.shape.lines,
        mib(r.disk),
        r.disk as f64 / lines,
        r.disk_allocated as f64 / lines,
        r.hangs,
        r.ingests.len()
    );
    let ingest = r.ingests.iter().find(|i| i.end == End::Exited(0));
    let duck_load = r.step("DuckDB: load");
    let replay = r.step("replay");
    let duck_query = r.step("DuckDB: per-invoice");
    if let (Some(i), Some(dl), Some(rp), Some(dq)) = (ingest, duck_load, replay, duck_query) {
        println!(
            "Ledger / DuckDB time: ingest {:.2}×, replay {:.2}× (below 1 means the ledger is faster).",
            i.m.seconds / dl.m.seconds,
            rp.m.seconds / dq.m.seconds
        );
    }
}

fn print_summary(results: &[ShapeResult]) {
    println!("\n### Summary\n");
    println!("| shape | agreements s | ingest lines/s (load) | bytes/line (du) | hangs | peak RSS MiB: ingest / replay / audit / what-if / lots / report / serve | DuckDB load, query s |");
    println!("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
    for r in results {
        if let Some(why) = &r.skipped {
            println!("| {} | {why} | | | | | |", r.shape.label);
            continue;
        }
        let secs =
            |row: Option<&Row>| row.map_or("—".to_string(), |r| format!("{:.2}", r.m.seconds));
        let rss = |row: Option<&Row>| {
            row.map_or("—".to_string(), |r| {
                format!("{:.0}", r.m.peak_rss_bytes as f64 / 1048576.0)
            })
        };
        let ingest = r.ingests.iter().find(|i| i.end == End::Exited(0));
        let ingest_rss = r
            .ingests
            .iter()
            .map(|i| i.m.peak_rss_bytes)
            .max()
            .unwrap_or(0);
        println!(
            "| {} | {} | {} | {:.1} | {} of {} | {:.0} / {} / {} / {} / {} / {} / {} | {}, {} |",
            r.shape.label,
            secs(r.step("agreement")),
            ingest.map_or("—".to_string(), |i| format!(
                "{} ({:.1})",
                per_second(r.shape.lines, i.m.seconds),
                i.load
            )),
            r.disk_allocated as f64 / r.shape.lines.max(1) as f64,
            r.hangs,
            r.ingests.len(),
            ingest_rss as f64 / 1048576.0,
            rss(r.step("replay")),
            rss(r.step("audit")),
            rss(r.step("what-if")),
            rss(r.step("lots")),
            rss(r.step("report")),
            rss(r.step("serve")),
            secs(r.step("DuckDB: load")),
            secs(r.step("DuckDB: per-invoice")),
        );
    }
}

fn count(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}
