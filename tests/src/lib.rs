//! The harness of the end-to-end tests: the `ledger` binary run as a user runs it, one fresh
//! data directory per test, and the ledger's state read back through its own JSON views.
//!
//! - [`ledger_bin`]: the binary under test (`$LEDGER_BIN`, else `target/<profile>/ledger`).
//! - [`Ledger`]: a temporary directory holding a data directory (`data/`) and the test's input
//!   files; [`Ledger::run`], [`Ledger::ok`], [`Ledger::fails`], [`Ledger::json`].
//! - [`State`]: the four views (`lots`, `events`, `caco`, `invoices` as JSON) to compare
//!   "nothing changed" and "the same as an uninterrupted run".
//! - [`Dec`]: exact decimal sums of amounts in the tests' own arithmetic.
//! - [`csv_rows`], [`SplitMix64`], [`copy_dir`]: small tools for fixtures.
//!
//! Nothing here needs the network or a file outside the repository and the temp directory.
//!
//! `cargo test --workspace` builds the binary before any test runs (tools/tests/cli_help.rs
//! depends on it). `cargo test -p tests` alone does not: it runs whatever binary is in
//! `target/<profile>/`, so run `cargo build -p tools` (with `--release` for a release run)
//! first. Other builds in the same target directory replace the binary; to run the suite
//! against a fixed one, copy it and point `LEDGER_BIN` at the copy.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest any single `ledger` command may take in these tests before it is killed and
/// the test fails (the largest inputs here settle in about a second in release).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The `ledger` binary under test: `$LEDGER_BIN` if set, else `ledger` in the target directory
/// of the running test executable (`target/<profile>/deps/<test>` → `target/<profile>/ledger`).
pub fn ledger_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("LEDGER_BIN") {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "LEDGER_BIN={} is not a file", path.display());
            return path;
        }
        let exe = std::env::current_exe().expect("the path of the running test executable");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lives in target/<profile>/deps/");
        let bin = profile_dir.join(format!("ledger{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.is_file(),
            "the ledger binary is not at {}: build it with `cargo build -p tools` (add --release for a \
             release test run) or run the whole suite with `cargo test --workspace`, or point LEDGER_BIN at it",
            bin.display()
        );
        bin
    })
}

/// Whether the binary under test is an optimized build (so large inputs are affordable).
/// Judged by the test executable's own profile, which `cargo test` builds alike.
pub fn is_release() -> bool {
    !cfg!(debug_assertions)
}

/// The directory of the committed fixtures (`tests/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A command line shown in messages: `ledger ingest charges.csv`.
pub fn show_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    let mut text = String::from("ledger");
    for a in args {
        text.push(' ');
        text.push_str(&a.as_ref().to_string_lossy());
    }
    text
}

/// The `ledger` command with `--data DIR`, run in `cwd`, with no `LEDGER_DATA` or `RUST_LOG`
/// from the environment of the test run.
pub fn command<S: AsRef<OsStr>>(data: &Path, cwd: &Path, args: &[S]) -> Command {
    let mut cmd = Command::new(ledger_bin());
    cmd.arg("--data").arg(data).args(args).current_dir(cwd);
    cmd.env_remove("LEDGER_DATA").env_remove("RUST_LOG");
    cmd.stdin(Stdio::null());
    cmd
}

/// Run a command to completion within [`COMMAND_TIMEOUT`], capturing its output.
pub fn run_command(mut cmd: Command, what: &str) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    wait_with_timeout(&mut child, what, COMMAND_TIMEOUT)
}

/// Wait for a child whose stdout and stderr are piped, killing it (and failing the test) if it
/// runs longer than `limit`.
pub fn wait_with_timeout(child: &mut Child, what: &str, limit: Duration) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + limit;
    let status: ExitStatus = loop {
        match child.try_wait().expect("waiting for a ledger process") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{what}` ran longer than {limit:?} and was killed");
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    Output {
        status,
        stdout: out_thread.join().expect("stdout reader"),
        stderr: err_thread.join().expect("stderr reader"),
    }
}

/// The text of a process's output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh ledger for one test: a temporary directory with `data/` (the ledger, created by the
/// first writing command) and room for the test's input files. Commands run with the
/// temporary directory as their working directory, so inputs are named relative to it, as a
/// user would name them.
pub struct Ledger {
    root: tempfile::TempDir,
    data: PathBuf,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new()
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        let root = tempfile::Builder::new()
            .prefix("ledger-e2e-")
            .tempdir()
            .expect("a temporary directory");
        let data = root.path().join("data");
        Ledger { root, data }
    }

    /// The temporary directory (the commands' working directory).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The data directory given as `--data`.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Write an input file into the temporary directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the fixture's directory");
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Copy a file into the temporary directory under `name`.
    pub fn copy_in(&self, from: &Path, name: &str) -> PathBuf {
        let to = self.path(name);
        std::fs::copy(from, &to)
            .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
        to
    }

    /// The command, not started (for tests that start and kill it themselves).
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        command(&self.data, self.root.path(), args)
    }

    /// Run `ledger --data DATA ARGS...` to completion.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run_command(self.command(args), &show_args(args))
    }

    /// Run and require exit 0; returns stdout. On failure the message shows stderr.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "`{}` should succeed but exited {:?}\nstderr:\n{}\nstdout:\n{}",
            show_args(args),
            out.status.code(),
            text(&out.stderr),
            truncate(&text(&out.stdout), 2000)
        );
        text(&out.stdout)
    }

    /// Run and require exit 1 (a refused input or failed check); returns stderr.
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.fails_with(1, args)
    }

    /// Run and require exit 2 (wrong usage); returns stderr.
    pub fn usage_error<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.fails_with(2, args)
    }

    fn fails_with<S: AsRef<OsStr>>(&self, code: i32, args: &[S]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "`{}` should exit {code}\nstderr:\n{}\nstdout:\n{}",
            show_args(args),
            text(&out.stderr),
            truncate(&text(&out.stdout), 2000)
        );
        text(&out.stderr)
    }

    /// Run with `--json` appended, require exit 0, and parse stdout.
    pub fn json<S: AsRef<OsStr>>(&self, args: &[S]) -> Value {
        let mut all: Vec<OsString> = args.iter().map(|a| a.as_ref().to_os_string()).collect();
        all.push("--json".into());
        let stdout = self.ok(&all);
        serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "`{}` printed no JSON ({e}):\n{}",
                show_args(&all),
                truncate(&stdout, 2000)
            )
        })
    }

    /// The ledger as its four read views show it.
    pub fn state(&self) -> State {
        State {
            lots: self.json(&["lots"]),
            events: self.json(&["events"]),
            caco: self.json(&["caco"]),
            invoices: self.json(&["invoices"]),
        }
    }

    /// The hash the log's chain ends in, from `ledger audit --json` (which must pass).
    pub fn head_hash(&self) -> String {
        let report = self.json(&["audit"]);
        let head = report["headHash"]
            .as_str()
            .unwrap_or_else(|| panic!("`ledger audit --json` has no headHash: {report}"));
        assert!(
            !head.is_empty(),
            "`ledger audit --json` reports an empty headHash: {report}"
        );
        head.to_string()
    }

    /// Everything a user could compare: the four views and the log's head.
    pub fn fingerprint(&self) -> (State, String) {
        (self.state(), self.head_hash())
    }

    /// `ledger audit` and `ledger replay` both pass.
    pub fn assert_audit_and_replay_pass(&self) {
        let audit = self.ok(&["audit"]);
        assert!(
            audit.contains("Audit passed"),
            "`ledger audit` exited 0 but says:\n{audit}"
        );
        self.ok(&["replay"]);
    }
}

/// The ledger's state as its read commands show it.
#[derive(Clone, PartialEq)]
pub struct State {
    pub lots: Value,
    pub events: Value,
    pub caco: Value,
    pub invoices: Value,
}

impl State {
    /// Where two states differ, in words, or `None` when they are equal.
    pub fn difference(&self, other: &State) -> Option<String> {
        let views = [
            ("lots", &self.lots, &other.lots),
            ("events", &self.events, &other.events),
            ("caco", &self.caco, &other.caco),
            ("invoices", &self.invoices, &other.invoices),
        ];
        let found: Vec<String> = views
            .iter()
            .filter_map(|(name, a, b)| json_difference(a, b, name))
            .collect();
        if found.is_empty() {
            None
        } else {
            Some(found.join("\n"))
        }
    }

    /// The number of entries of each view, for messages.
    pub fn counts(&self) -> String {
        let n = |v: &Value| v["value"].as_array().map(|a| a.len()).unwrap_or(0);
        format!(
            "{} lots, {} events, {} CACOs, {} invoices",
            n(&self.lots),
            n(&self.events),
            n(&self.caco),
            n(&self.invoices)
        )
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "State({})", self.counts())
    }
}

/// Assert two states are equal, naming the first differences of each view.
#[track_caller]
pub fn assert_same_state(expected: &State, actual: &State, context: &str) {
    if let Some(diff) = expected.difference(actual) {
        panic!("{context}: the ledger's views differ:\n{diff}");
    }
}

/// The first place two JSON values differ, as `path: expected X, found Y`.
pub fn json_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    None => return Some(format!("{path}.{k}: present before, missing after")),
                    Some(w) => {
                        if let Some(d) = json_difference(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}.{k}: missing before, present after"))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if let Some(d) = json_difference(v, w, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (x.len() != y.len())
                .then(|| format!("{path}: {} entries before, {} after", x.len(), y.len()))
        }
        _ if a == b => None,
        _ => Some(format!(
            "{path}: {} before, {} after",
            truncate(&a.to_string(), 200),
            truncate(&b.to_string(), 200)
        )),
    }
}

/// At most `max` characters of `s`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push_str("...");
    out
}

/// Assert `haystack` contains every one of `needles`, showing it whole if not.
#[track_caller]
pub fn assert_mentions(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected the message to mention {needle:?}, but it says:\n{haystack}"
        );
    }
}

/// An exact decimal amount (24 decimal places, like the ledger's own money), for sums the
/// tests compute themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec(pub i128);

impl Dec {
    pub const SCALE: u32 = 24;
    pub const ZERO: Dec = Dec(0);

    /// Parse `-1234.5678`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Dec> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty() || frac.len() > Self::SCALE as usize {
            return None;
        }
        if !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut units: i128 = 0;
        for b in whole.bytes().chain(frac.bytes()) {
            units = units.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        units = units.checked_mul(10i128.pow(Self::SCALE - frac.len() as u32))?;
        Some(Dec(if negative { -units } else { units }))
    }

    /// A JSON amount: a number (read from its decimal spelling) or a string.
    pub fn from_json(value: &Value) -> Option<Dec> {
        match value {
            Value::Number(n) => Dec::parse(&n.to_string()),
            Value::String(s) => Dec::parse(s),
            _ => None,
        }
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1e24
    }
}

impl std::ops::Add for Dec {
    type Output = Dec;
    fn add(self, other: Dec) -> Dec {
        Dec(self
            .0
            .checked_add(other.0)
            .expect("test sums stay far below 10^14"))
    }
}

impl std::ops::AddAssign for Dec {
    fn add_assign(&mut self, other: Dec) {
        *self = *self + other;
    }
}

impl std::ops::Sub for Dec {
    type Output = Dec;
    fn sub(self, other: Dec) -> Dec {
        Dec(self
            .0
            .checked_sub(other.0)
            .expect("test sums stay far below 10^14"))
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let units = self.0.unsigned_abs();
        let scale = 10u128.pow(Self::SCALE);
        let frac = format!("{:024}", units % scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{sign}{}", units / scale)
        } else {
            write!(f, "{sign}{}.{frac}", units / scale)
        }
    }
}

/// The records of a CSV text (RFC 4180 quoting), header included, without line ends.
pub fn csv_rows(data: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = data.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Per invoice of a native charge file, in first-appearance order: (id, line count, sum of
/// amounts).
pub fn invoice_totals(csv: &str) -> Vec<(String, u64, Dec)> {
    let rows = csv_rows(csv);
    let header = &rows[0];
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (id_col, amount_col) = (col("invoice_id"), col("amount"));
    let mut order: Vec<(String, u64, Dec)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for row in &rows[1..] {
        let id = &row[id_col];
        let amount = Dec::parse(&row[amount_col])
            .unwrap_or_else(|| panic!("amount {:?} of invoice {id}", row[amount_col]));
        let i = *index.entry(id.clone()).or_insert_with(|| {
            order.push((id.clone(), 0, Dec::ZERO));
            order.len() - 1
        });
        order[i].1 += 1;
        order[i].2 += amount;
    }
    order
}

/// A small deterministic random number generator (SplitMix64), so that "random" kill times
/// and tamper positions are the same on every run.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Copy a directory tree (a closed ledger, for example).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()))
    {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", entry.path().display()));
        }
    }
}

/// `ledger gen` into `ledger`'s temporary directory: the charge file and its agreement files
/// (sorted by account).
pub fn generate(ledger: &Ledger, name: &str, lines: u64, accounts: u32) -> (PathBuf, Vec<PathBuf>) {
    let out = ledger.path(name);
    let stdout = ledger.ok(&[
        "gen".to_string(),
        "--lines".into(),
        lines.to_string(),
        "--accounts".into(),
        accounts.to_string(),
        "--out".into(),
        out.display().to_string(),
    ]);
    let stem = out
        .file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    let mut agreements: Vec<PathBuf> = std::fs::read_dir(ledger.root())
        .expect("the temporary directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| {
            p.file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .starts_with(&format!("{stem}-agreement-"))
                })
                .unwrap_or(false)
        })
        .collect();
    agreements.sort();
    assert_eq!(
        agreements.len(),
        accounts as usize,
        "`ledger gen` should write one agreement per account; it said:\n{stdout}"
    );
    (out, agreements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_and_print_back() {
        assert_eq!(Dec::parse("12.50").unwrap(), Dec::parse("12.5").unwrap());
        assert_eq!(
            (Dec::parse("0.1").unwrap() + Dec::parse("0.2").unwrap()).to_string(),
            "0.3"
        );
        assert_eq!(Dec::parse("-7.05").unwrap().to_string(), "-7.05");
        assert_eq!(Dec::parse("100").unwrap().to_string(), "100");
        for bad in ["", ".", "1,5", "1.2.3", "12;50", "abc", "1e5"] {
            assert_eq!(Dec::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn csv_rows_handle_quotes_and_crlf() {
        let rows = csv_rows("a,b,c\r\n1,\"x, \"\"y\"\"\",3\n4,,6");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x, \"y\"", "3"],
                vec!["4", "", "6"]
            ]
        );
    }

    #[test]
    fn invoice_totals_count_lines_per_invoice_in_first_appearance_order() {
        let csv = "invoice_id,amount\nB,1.10\nA,2\nB,-0.10\n";
        assert_eq!(
            invoice_totals(csv),
            vec![
                ("B".to_string(), 2, Dec::parse("1").unwrap()),
                ("A".to_string(), 1, Dec::parse("2").unwrap())
            ]
        );
    }

    #[test]
    fn json_difference_names_the_path() {
        let a: Value = serde_json::json!({"value": [{"x": 1}, {"x": 2}]});
        let b: Value = serde_json::json!({"value": [{"x": 1}, {"x": 3}]});
        assert_eq!(json_difference(&a, &a, "v"), None);
        assert_eq!(
            json_difference(&a, &b, "v").unwrap(),
            "v.value[1].x: 2 before, 3 after"
        );
    }

    #[test]
    fn splitmix_is_deterministic() {
        let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert!(xs.windows(2).all(|w| w[0] != w[1]));
        assert!((0..1000)
            .map(|_| a.next_f64())
            .all(|f| (0.0..1.0).contains(&f)));
    }
}
