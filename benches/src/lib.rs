//! Shared pieces of the benchmark binaries: locating the `ledger` binary, running a step as a
//! child process and reading its wall time and peak resident memory.

// Benchmarks read their own resource usage (getrusage, wait4) and print their figures.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What one step cost.
#[derive(Clone, Debug)]
pub struct Measured {
    pub seconds: f64,
    /// Peak resident set size of the child, in bytes (from `wait4`'s rusage).
    pub peak_rss_bytes: u64,
    pub stdout: String,
}

/// The release `ledger` binary beside this benchmark binary (`target/release/`), built with
/// `cargo build --release -p tools` first if it is missing.
pub fn ledger_binary() -> PathBuf {
    if let Ok(path) = std::env::var("LEDGER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir").to_path_buf();
    let candidate = dir.join("ledger");
    if !candidate.exists() {
        eprintln!("building the ledger binary: cargo build --release -p tools --bin ledger");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "-p", "tools", "--bin", "ledger"])
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build of the ledger binary failed");
    }
    assert!(
        candidate.exists(),
        "no ledger binary at {}",
        candidate.display()
    );
    candidate
}

/// Run `program args`, wait for it with `wait4`, and return its time and peak RSS. Panics with
/// the child's stderr if it fails.
pub fn measure(program: &Path, args: &[&str]) -> Measured {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    let mut child = child;
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out_pipe, &mut s).ok();
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err_pipe, &mut s).ok();
        s
    });
    let mut status: libc::c_int = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid out-pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        waited,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    // The child is reaped; make std forget it without waiting again.
    std::mem::forget(child);
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(
        exited_ok,
        "{} {:?} failed (status {status}):\n{stderr}",
        program.display(),
        args
    );
    Measured {
        seconds,
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        stdout,
    }
}

/// Total size of the files under `dir`, in bytes.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&path),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// `12345678.9` → `12.3 M`.
pub fn per_second(count: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    };
    if rate >= 1e6 {
        format!("{:.1} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Bytes to MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// The cargo target directory the `ledger` binary lives in (`target/`).
pub fn target_dir(ledger: &Path) -> PathBuf {
    ledger
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf()
}

/// A benchmark's working directory: `dir` when given (created if needed), else a temporary
/// one under `target/` named `prefix…`, removed when the returned guard drops.
pub fn work_dir(
    dir: Option<&Path>,
    target: &Path,
    prefix: &str,
) -> (PathBuf, Option<tempfile::TempDir>) {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).expect("create --dir");
            (d.to_path_buf(), None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir_in(target)
                .expect("temp dir");
            (temp.path().to_path_buf(), Some(temp))
        }
    }
}
