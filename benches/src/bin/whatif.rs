//! Scale benchmark of `ledger whatif` (issue 4): K scenarios over a ledger of N generated
//! lines, folded in parallel over facts decoded once. Prints one markdown row:
//! lines, scenarios, best wall time, lines/s per scenario (every scenario folds every line, so
//! this is lines / wall time), and the peak resident set of the measuring process.
//!
//! ```text
//! cargo run --release -p benches --bin whatif -- --lines 1000000 --scenarios 4
//! cargo run --release -p benches --bin whatif -- --lines 1000000 --scenarios 1 --data /tmp/wi-1m
//! ```
//!
//! Without `--data`, a child process generates the lines (`ledger gen`'s generator, seed 42),
//! records the agreement and ingests them into a temporary ledger, so the peak RSS reported
//! is that of the what-if run alone (opening the ledger, loading the baseline, the fold). With
//! `--data DIR`, an existing ledger is used, or one is made there when DIR does not exist.

// Benchmarks read their own resource usage (getrusage, wait4) and print their figures.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ledger_core::{ChargeKind, Date, Factor, KindSet, Money};
use ledger_replay::load::load;
use ledger_replay::whatif::{self, Change, LineFilter, Scenario};
use ledger_store::Store;

struct Options {
    lines: u64,
    scenarios: usize,
    repeat: usize,
    data: Option<PathBuf>,
    prepare: Option<PathBuf>,
    /// Use only this scenario template (0..4) for every scenario.
    only: Option<usize>,
}

fn usage(message: &str) -> ! {
    eprintln!("whatif bench: {message}\nusage: whatif [--lines N] [--scenarios K] [--repeat R] [--data DIR] [--only 0..3]");
    std::process::exit(2)
}

fn options() -> Options {
    let mut o = Options {
        lines: 1_000_000,
        scenarios: 4,
        repeat: 3,
        data: None,
        prepare: None,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--lines" => o.lines = value().parse().unwrap_or_else(|_| usage("--lines N")),
            "--scenarios" => {
                o.scenarios = value().parse().unwrap_or_else(|_| usage("--scenarios K"))
            }
            "--repeat" => o.repeat = value().parse().unwrap_or_else(|_| usage("--repeat R")),
            "--data" => o.data = Some(PathBuf::from(value())),
            "--prepare" => o.prepare = Some(PathBuf::from(value())),
            "--only" => o.only = Some(value().parse().unwrap_or_else(|_| usage("--only 0..3"))),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if o.scenarios == 0 || o.repeat == 0 {
        usage("--scenarios and --repeat must be at least 1");
    }
    o
}

/// Generate `lines` charge lines and settle them into a new ledger at `data`.
fn prepare(data: &Path, lines: u64) {
    let inputs = tempfile::tempdir().expect("a temporary directory");
    let csv_path = inputs.path().join("charges.csv");
    let mut csv = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&csv_path).expect("create the CSV"),
    );
    let options = ledger_gen::GenOptions {
        lines,
        accounts: 1,
        seed: 42,
        months: None,
    };
    let generated = ledger_gen::generate(&options, &mut csv).expect("generate");
    std::io::Write::flush(&mut csv).expect("write the CSV");
    drop(csv);
    let mut files = Vec::new();
    for account in &generated.accounts {
        let path = inputs
            .path()
            .join(format!("agreement-{}.toml", account.account));
        std::fs::write(&path, &account.agreement_toml).expect("write the agreement");
        files.push(path);
    }
    ledger_app::agreement::record_files(data, &files).unwrap_or_else(|e| panic!("agreement: {e}"));
    let outcomes = ledger_app::ingest::ingest_files(data, &[csv_path], None, true)
        .unwrap_or_else(|e| panic!("ingest: {e}"));
    for outcome in &outcomes {
        eprintln!("{}", ledger_render::ingest::describe(outcome));
    }
}

/// Four kinds of scenario, cycled: a cut from mid-term, dropped kinds, monthly adds running
/// past the last invoice (WHATIF- months), and harder terms with a blanket scale.
fn scenarios(count: usize, only: Option<usize>, first: Date, last: Date) -> Vec<Scenario> {
    let middle =
        Date::from_day_number((first.day_number() + last.day_number()) / 2).expect("a date");
    let templates: Vec<Scenario> = vec![
        Scenario {
            name: "cut usage 20% from mid-term".into(),
            changes: vec![Change::Scale {
                filter: LineFilter {
                    kinds: Some(KindSet::of(&[ChargeKind::Usage])),
                    from: Some(middle),
                    ..LineFilter::default()
                },
                factor: Factor::parse("0.8").expect("factor"),
            }],
            agreement_override: None,
            through: None,
        },
        Scenario {
            name: "no marketplace or support".into(),
            changes: vec![Change::Drop {
                filter: LineFilter {
                    kinds: Some(KindSet::of(&[ChargeKind::Marketplace, ChargeKind::Support])),
                    ..LineFilter::default()
                },
            }],
            agreement_override: None,
            through: None,
        },
        Scenario {
            name: "add 50,000 a month".into(),
            changes: vec![Change::Add {
                monthly: Money::from_whole(50_000),
                kind: ChargeKind::Usage,
                billing_profile: "Engineering".into(),
                account: None,
                service: Some("Azure OpenAI".into()),
                from_month: middle,
                to_month: last.add_months(6),
            }],
            agreement_override: None,
            through: None,
        },
        Scenario {
            name: "harder terms, 10% more spend".into(),
            changes: vec![Change::Scale {
                filter: LineFilter::default(),
                factor: Factor::parse("1.1").expect("factor"),
            }],
            agreement_override: Some(Arc::new(|a: &ledger_core::Agreement| {
                let mut a = a.clone();
                for macc in &mut a.maccs {
                    macc.amount = macc
                        .amount
                        .mul_factor_rounded(Factor::parse("1.25").expect("factor"))
                        .map_err(|e| e.to_string())?;
                }
                Ok(a)
            })),
            through: None,
        },
    ];
    (0..count)
        .map(|i| {
            let mut s = templates[only.unwrap_or(i) % templates.len()].clone();
            if i >= templates.len() {
                s.name = format!("{} #{}", s.name, i / templates.len() + 1);
            }
            s
        })
        .collect()
}

/// CPU time (user + system, all threads) this process has used so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Peak resident set of this process in KiB (Linux `VmHWM`, else getrusage).
fn peak_rss_kib() -> u64 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            if let Some(kib) = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()) {
                return kib;
            }
        }
    }
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss as u64
}

fn group(n: u64) -> String {
    ledger_core::money::group_thousands(&n.to_string())
}

fn main() {
    let o = options();
    if let Some(dir) = &o.prepare {
        prepare(dir, o.lines);
        return;
    }
    let temp = tempfile::tempdir().expect("a temporary directory");
    let data = o
        .data
        .clone()
        .unwrap_or_else(|| temp.path().join("ledger-data"));
    if !data.exists() {
        // In a child, so that this process's peak RSS is the what-if run's alone.
        let status = Command::new(std::env::current_exe().expect("this executable"))
            .arg("--prepare")
            .arg(&data)
            .arg("--lines")
            .arg(o.lines.to_string())
            .status()
            .expect("run the preparing child");
        assert!(status.success(), "preparing the ledger failed");
    }
    let store = Store::open_existing(&data, "bench whatif").unwrap_or_else(|e| panic!("{e}"));
    let baseline = load(&store).unwrap_or_else(|e| panic!("{e}"));
    let lines = baseline.counters.lines;
    let dates: Vec<(Date, Date)> = baseline
        .ledger
        .accounts
        .values()
        .flat_map(|a| {
            a.invoices
                .iter()
                .filter(|s| !s.synthetic)
                .map(|s| (s.period_start, s.period_end))
        })
        .collect();
    let first = dates.iter().map(|d| d.0).min().expect("invoices");
    let last = dates.iter().map(|d| d.1).max().expect("invoices");
    let scenarios = scenarios(o.scenarios, o.only, first, last);
    let mut best = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut consequences = 0;
    for _ in 0..o.repeat {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let results = whatif::run(&store, &baseline, &scenarios).unwrap_or_else(|e| panic!("{e}"));
        best = best.min(started.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - cpu);
        consequences = results
            .iter()
            .map(|p| {
                ledger_render::whatif::report("s", &baseline, p)
                    .changes
                    .len()
            })
            .sum();
    }
    let rate = lines as f64 / best;
    // CPU time per line and scenario is the steadier figure on a shared machine.
    let cpu_ns = best_cpu * 1e9 / (lines as f64 * scenarios.len() as f64);
    eprintln!(
        "scenarios: {}; {} consequence lines in all",
        scenarios
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        consequences
    );
    println!(
        "| lines | scenarios | best of {} (s) | lines/s per scenario | CPU ns per line and scenario | peak RSS |",
        o.repeat
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {:.3} | {} | {:.1} | {} MiB |",
        group(lines),
        scenarios.len(),
        best,
        group(rate as u64),
        cpu_ns,
        peak_rss_kib() / 1024
    );
}
