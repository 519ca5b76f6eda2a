//! Shared pieces of the benchmark binaries: locating the `ledger` binary, running a step as a
//! child process and reading its wall time and peak resident memory.

// Benchmarks read their own resource usage (getrusage, wait4) and print their figures.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
    let run = run_limited(program, args, None);
    assert!(
        run.end == End::Exited(0),
        "{} {:?} failed ({:?}):\n{}",
        program.display(),
        args,
        run.end,
        run.stderr
    );
    run.measured
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// It exited with this status.
    Exited(i32),
    /// A signal ended it (not ours).
    Signaled(i32),
    /// It ran past the time limit and was killed.
    TimedOut,
}

/// A step run with [`run_limited`]: what it cost, how it ended, and its stderr.
#[derive(Clone, Debug)]
pub struct Run {
    pub measured: Measured,
    pub end: End,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.end == End::Exited(0)
    }
}

/// Run `program args` (killed with SIGKILL after `limit`, if given), reap it with `wait4`, and
/// return its time, peak RSS and how it ended. Never panics on the child's failure.
pub fn run_limited(program: &Path, args: &[&str], limit: Option<Duration>) -> Run {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    let out_thread = read_on_thread(child.stdout.take().expect("stdout"));
    let err_thread = read_on_thread(child.stderr.take().expect("stderr"));
    let (status, usage, timed_out) = reap(pid, started, limit);
    let seconds = started.elapsed().as_secs_f64();
    // The child is reaped; make std forget it without waiting again.
    std::mem::forget(child);
    let end = if timed_out {
        End::TimedOut
    } else if libc::WIFEXITED(status) {
        End::Exited(libc::WEXITSTATUS(status))
    } else {
        End::Signaled(libc::WTERMSIG(status))
    };
    Run {
        measured: Measured {
            seconds,
            peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
            stdout: out_thread.join().unwrap_or_default(),
        },
        end,
        stderr: err_thread.join().unwrap_or_default(),
    }
}

fn read_on_thread<R: std::io::Read + Send + 'static>(
    mut pipe: R,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).ok();
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Wait for child `pid` (polling, when there is a time limit), killing it past `limit`.
fn reap(
    pid: libc::pid_t,
    started: Instant,
    limit: Option<Duration>,
) -> (libc::c_int, libc::rusage, bool) {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        let flags = if limit.is_some() && !timed_out {
            libc::WNOHANG
        } else {
            0
        };
        // SAFETY: pid is our child; status and usage are valid out-pointers.
        let waited = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if waited == pid {
            return (status, usage, timed_out);
        }
        assert!(
            waited == 0,
            "wait4 failed: {}",
            std::io::Error::last_os_error()
        );
        if limit.is_some_and(|l| started.elapsed() > l) {
            // SAFETY: pid is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            timed_out = true;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The 1-minute load average (`/proc/loadavg`), or 0 where there is none.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0.0)
}

/// Bytes free for an unprivileged user on the file system holding `path` (`statvfs`).
pub fn free_bytes(path: &Path) -> u64 {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    // SAFETY: statvfs is plain data; c is a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_bavail as u64 * st.f_frsize as u64
}

/// Disk space the files under `dir` take (`du`: allocated blocks), in bytes.
pub fn dir_allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => total += dir_allocated_bytes(&entry.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
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

/// Start `program args`, time it until a line of its stdout contains `needle` (a server saying
/// it listens), then stop it with SIGTERM and reap it (peak RSS from `wait4`). Returns the run
/// (timed out when the line never came within `limit`) and the seconds until the line.
pub fn until_line(
    program: &Path,
    args: &[&str],
    needle: &str,
    limit: Duration,
) -> (Run, Option<f64>) {
    use std::io::BufRead;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let needle = needle.to_string();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
        {
            if line.contains(&needle) {
                let _ = tx.send(());
            }
        }
    });
    let ready = rx
        .recv_timeout(limit)
        .ok()
        .map(|()| started.elapsed().as_secs_f64());
    // SAFETY: pid is our child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let (status, usage, _) = reap(pid, started, None);
    std::mem::forget(child);
    // Stopped as asked (by its handler, or by SIGTERM itself before the handler was set up).
    let stopped = (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
        || (libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM);
    let end = match ready {
        Some(_) if stopped => End::Exited(0),
        Some(_) if libc::WIFEXITED(status) => End::Exited(libc::WEXITSTATUS(status)),
        Some(_) => End::Signaled(libc::WTERMSIG(status)),
        None => End::TimedOut,
    };
    let run = Run {
        measured: Measured {
            seconds: started.elapsed().as_secs_f64(),
            peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
            stdout: String::new(),
        },
        end,
        stderr: String::new(),
    };
    (run, ready)
}
