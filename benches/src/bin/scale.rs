//! The scale benchmark (issue 6): one command that generates N charge lines and measures every
//! heavy command of the real `ledger` binary, each in a fresh process, then prints a markdown
//! table (lines/s, wall time, peak RSS, bytes per line on disk) and the ratios to a DuckDB
//! baseline computing per-invoice MACC-eligible totals from the same CSV.
//!
//! ```sh
//! cargo run --release -p benches --bin scale -- --lines 10000000
//! cargo run --release -p benches --bin scale -- --lines 1000000 --accounts 4 --no-duckdb
//! ```
//!
//! Figures are wall-clock on whatever else the machine is doing; run it twice.

use std::path::{Path, PathBuf};
use std::process::Command;

use benches::{dir_bytes, ledger_binary, measure, mib, per_second, target_dir, work_dir, Measured};

struct Options {
    lines: u64,
    accounts: u32,
    scenarios: u32,
    dir: Option<PathBuf>,
    duckdb: bool,
}

fn parse_options() -> Options {
    let mut o = Options {
        lines: 1_000_000,
        accounts: 4,
        scenarios: 4,
        dir: None,
        duckdb: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--lines" => o.lines = value().replace('_', "").parse().expect("--lines N"),
            "--accounts" => o.accounts = value().parse().expect("--accounts A"),
            "--scenarios" => o.scenarios = value().parse().expect("--scenarios K"),
            "--dir" => o.dir = Some(PathBuf::from(value())),
            "--no-duckdb" => o.duckdb = false,
            "--help" | "-h" => {
                println!(
                    "scale [--lines N] [--accounts A] [--scenarios K] [--dir DIR] [--no-duckdb]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown option {other}; see --help"),
        }
    }
    o
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

struct Row {
    step: String,
    lines: u64,
    m: Measured,
}

fn main() {
    let o = parse_options();
    let ledger = ledger_binary();
    let target = target_dir(&ledger);
    let (work, _temp) = work_dir(o.dir.as_deref(), &target, "ledger-scale-");
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let csv = work.join("charges.csv");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let lines = o.lines.to_string();
    let accounts = o.accounts.to_string();

    eprintln!(
        "generating {} lines for {} accounts in {}",
        o.lines,
        o.accounts,
        work.display()
    );
    let gen = measure(
        &ledger,
        &[
            "gen",
            "--lines",
            &lines,
            "--accounts",
            &accounts,
            "--out",
            &s(&csv),
        ],
    );
    let mut agreements: Vec<String> = std::fs::read_dir(&work)
        .expect("work dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("charges-agreement-"))
        })
        .map(|p| s(&p))
        .collect();
    agreements.sort();
    let csv_bytes = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    let mut args = vec!["--data".to_string(), s(&data), "agreement".to_string()];
    args.extend(agreements.iter().cloned());
    measure(
        &ledger,
        &args.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    );

    let mut rows = Vec::new();
    let d = s(&data);
    eprintln!("ingest");
    rows.push(Row {
        step: "ingest (native CSV → settled, flushed)".into(),
        lines: o.lines,
        m: measure(&ledger, &["--data", &d, "ingest", &s(&csv)]),
    });
    let disk = dir_bytes(&data);
    eprintln!("replay");
    rows.push(Row {
        step: "replay (cold: fresh process, full rebuild)".into(),
        lines: o.lines,
        m: measure(&ledger, &["--data", &d, "replay"]),
    });
    eprintln!("audit");
    rows.push(Row {
        step: "audit (chain + re-derive every decision)".into(),
        lines: o.lines,
        m: measure(&ledger, &["--data", &d, "audit"]),
    });
    eprintln!("lots (open: snapshot + tail)");
    rows.push(Row {
        step: "open + lots (snapshot, no replay)".into(),
        lines: o.lines,
        m: measure(&ledger, &["--data", &d, "lots", "--json"]),
    });

    let has_whatif = Command::new(&ledger)
        .args(["whatif", "--help"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if has_whatif && o.scenarios > 0 {
        let mut files = Vec::new();
        for k in 0..o.scenarios {
            let path = work.join(format!("scenario-{k}.toml"));
            let factor = format!("0.{}", 9 - (k % 9));
            std::fs::write(&path, format!("[[change]]\nop = \"scale\"\nfactor = \"{factor}\"\n[change.where]\nkind = \"usage\"\n")).expect("scenario");
            files.push(s(&path));
        }
        let mut args = vec!["--data".to_string(), d.clone(), "whatif".to_string()];
        args.extend(files.iter().cloned());
        eprintln!("whatif ({} scenarios)", o.scenarios);
        let m = measure(
            &ledger,
            &args.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        );
        rows.push(Row {
            step: format!(
                "what-if, {} scenarios in one run (per scenario)",
                o.scenarios
            ),
            lines: o.lines,
            m,
        });
    }

    let mut duck = Vec::new();
    if o.duckdb {
        if let Some(python) = duckdb_python(&target) {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline/duckdb_baseline.py");
            let db = work.join("baseline.duckdb");
            let _ = std::fs::remove_file(&db);
            eprintln!("duckdb load");
            let load = measure(&python, &[&s(&script), "load", &s(&csv), &s(&db)]);
            eprintln!("duckdb query");
            let mut args = vec![s(&script), "query".into(), s(&db)];
            args.extend(agreements.iter().cloned());
            let query = measure(
                &python,
                &args.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            );
            duck.push(Row {
                step: "DuckDB: load the CSV into a table (vs ingest)".into(),
                lines: o.lines,
                m: load,
            });
            duck.push(Row {
                step: "DuckDB: per-invoice eligible totals + balance (vs replay)".into(),
                lines: o.lines,
                m: query,
            });
        }
    }

    println!(
        "\n### {} lines, {} accounts ({:.0} MB of CSV)\n",
        per_count(o.lines),
        o.accounts,
        csv_bytes as f64 / 1e6
    );
    println!(
        "Machine: {}. Generation: {:.2} s.\n",
        machine(),
        gen.seconds
    );
    println!("| step | wall s | lines/s | peak RSS MiB |");
    println!("| --- | ---: | ---: | ---: |");
    for r in rows.iter().chain(&duck) {
        println!(
            "| {} | {:.2} | {} | {} |",
            r.step,
            r.m.seconds,
            per_second(r.lines, r.m.seconds),
            mib(r.m.peak_rss_bytes)
        );
    }
    println!(
        "\nOn disk: {} MiB, {:.1} bytes per charge line.",
        mib(disk),
        disk as f64 / o.lines as f64
    );
    if duck.len() == 2 {
        let ingest = rows[0].m.seconds / duck[0].m.seconds;
        let replay = rows[1].m.seconds / duck[1].m.seconds;
        println!("Ledger / DuckDB time: ingest {ingest:.2}×, replay {replay:.2}× (below 1 means the ledger is faster).");
    }
}

fn per_count(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        n.to_string()
    }
}
