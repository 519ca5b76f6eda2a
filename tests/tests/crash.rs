//! Crash safety (issue 3, "Faults and bad input"): `ledger ingest` killed with SIGKILL at
//! random moments, dozens of times. After every kill the ledger opens, `ledger audit` passes,
//! no invoice is half-applied (the log holds a prefix of the file's invoices, each with every
//! one of its lines, and `ledger invoices` shows exactly those, with the file's totals), and
//! ingesting the same file again ends in exactly the state of an uninterrupted run: the same
//! `lots`, `events`, `caco` and `invoices` JSON and the same log head hash.
//!
//! Two patterns: a fresh copy of the agreements-only ledger for every kill, and the same
//! ledger killed several times in a row before the ingest is allowed to finish.
//!
//! Kill times are drawn from a seeded generator, stratified over 0 .. 1.2 × the duration of an
//! uninterrupted ingest measured first (so they cover reading, deciding, appending and the
//! snapshot at the end, and some land after the process finished). The file is sized so that
//! an ingest takes a few hundred milliseconds in release (smaller in a debug build).

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ledger_core::Fact;
use ledger_store::{ReadOptions, Store};
use tests::{
    assert_same_state, copy_dir, generate, invoice_totals, is_release, Dec, Ledger, SplitMix64,
    State,
};

/// The two tests measure durations and kill at chosen moments: they must not share the CPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Kills that must interrupt a running ingest in the fresh-ledger pattern.
const KILLS_REQUIRED: usize = 50;
/// Runs, after the stratified ones, aimed at the moments invoices are being appended.
const TARGETED_KILLS: u32 = 15;

/// Charge lines of the file: a few hundred milliseconds of ingest in release.
fn lines() -> u64 {
    if is_release() {
        600_000
    } else {
        100_000
    }
}

/// Everything the kills are compared with.
struct Setup {
    /// Holds the charge file, the agreements, `base/` and the reference run (`data/`); kept
    /// only so that they live as long as the test.
    _scratch: Ledger,
    charges: String,
    /// Per invoice in file order: (id, lines, total).
    invoices: Vec<(String, u64, Dec)>,
    /// A ledger with only the agreements recorded, copied for every run.
    base: std::path::PathBuf,
    reference: State,
    reference_head: String,
    /// Duration of an uninterrupted ingest (the median of three).
    duration: Duration,
}

fn setup() -> Setup {
    let scratch = Ledger::new();
    let started = Instant::now();
    let (charges, agreements) = generate(&scratch, "charges.csv", lines(), 2);
    let invoices = invoice_totals(&std::fs::read_to_string(&charges).expect("the charge file"));
    let base = scratch.path("base");
    let mut args = vec!["agreement".to_string()];
    args.extend(agreements.iter().map(|p| p.display().to_string()));
    let out = tests::run_command(
        tests::command(&base, scratch.root(), &args),
        "ledger agreement",
    );
    assert!(
        out.status.success(),
        "recording the generated agreements: {}",
        tests::text(&out.stderr)
    );

    let charges = charges.display().to_string();
    let mut durations = Vec::new();
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(scratch.data());
        copy_dir(&base, scratch.data());
        let t = Instant::now();
        scratch.ok(&["ingest", &charges]);
        durations.push(t.elapsed());
    }
    durations.sort();
    let (reference, reference_head) = scratch.fingerprint();
    assert_eq!(
        from_files(&reference.invoices).len(),
        invoices.len(),
        "the uninterrupted run should settle every invoice of the file"
    );
    println!(
        "crash setup: {} lines in {} invoices, uninterrupted ingest {:?} (runs {:?}), setup {:.1} s",
        lines(),
        invoices.len(),
        durations[1],
        durations,
        started.elapsed().as_secs_f64()
    );
    Setup {
        _scratch: scratch,
        charges,
        invoices,
        base,
        reference,
        reference_head,
        duration: durations[1],
    }
}

/// The invoices of `ledger invoices --json` that came from files: without those the ledger
/// makes itself (ids starting with `SHORTFALL-` or `WHATIF-`, reserved to it).
fn from_files(invoices: &serde_json::Value) -> Vec<&serde_json::Value> {
    invoices["value"]
        .as_array()
        .expect("invoices")
        .iter()
        .filter(|i| {
            let id = i["invoiceNumber"].as_str().unwrap_or_default();
            !id.starts_with("SHORTFALL-") && !id.starts_with("WHATIF-")
        })
        .collect()
}

/// How one killed run ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Killed,
    Finished,
}

/// Start `ledger ingest FILE` on `ledger` and SIGKILL it `after` its start.
fn ingest_killed_after(ledger: &Ledger, charges: &str, after: Duration) -> Ending {
    let stderr_path = ledger.path("ingest.stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("a stderr file");
    let mut child = ledger
        .command(&["ingest", charges])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start ledger ingest");
    let started = Instant::now();
    let deadline = started + after;
    // Sleep most of the way, then poll, so the kill lands close to the chosen moment.
    while Instant::now() < deadline {
        if child.try_wait().expect("poll the child").is_some() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(5)));
    }
    let _ = child.kill(); // SIGKILL; a no-op if it already exited
    let status = child.wait().expect("reap the child");
    match (status.signal(), status.code()) {
        (Some(9), _) => Ending::Killed,
        (None, Some(0)) => Ending::Finished,
        _ => panic!(
            "`ledger ingest` ended with {status:?} on its own (not killed, not successful): {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        ),
    }
}

/// The invoices recorded in the log, in log order, with their line counts.
fn logged_invoices(data: &Path) -> Vec<(String, u64)> {
    let store = Store::open_existing(data, "crash test").expect("the ledger opens after a kill");
    let reader = store.reader(ReadOptions {
        from_seq: 0,
        verify_chain: true,
    });
    let mut out = Vec::new();
    for entry in reader {
        let entry =
            entry.unwrap_or_else(|e| panic!("the log does not read back after a kill: {e}"));
        assert!(
            entry.decisions.is_some(),
            "a fact without its decisions at record {}",
            entry.first_seq
        );
        if let Fact::Invoice(invoice) = &entry.fact {
            out.push((invoice.id.clone(), invoice.lines.len() as u64));
        }
    }
    out
}

/// After a kill: the ledger opens, audit passes, and it holds whole invoices only, a prefix of
/// the file. Returns how many invoices were settled.
fn check_after_kill(ledger: &Ledger, setup: &Setup, what: &str) -> usize {
    let audit = ledger.run(&["audit"]);
    assert!(
        audit.status.success(),
        "{what}: `ledger audit` fails after the kill: {}",
        tests::text(&audit.stderr)
    );
    let logged = logged_invoices(ledger.data());
    let settled = logged.len();
    assert!(
        settled <= setup.invoices.len(),
        "{what}: more invoices than the file has"
    );
    for (i, (id, lines)) in logged.iter().enumerate() {
        let (want_id, want_lines, _) = &setup.invoices[i];
        assert_eq!(
            id, want_id,
            "{what}: the log's invoice {i} is not the file's invoice {i} (not a prefix)"
        );
        assert_eq!(
            lines, want_lines,
            "{what}: invoice {id} is half-applied: {lines} of its {want_lines} lines in the log"
        );
    }
    let shown = ledger.json(&["invoices"]);
    let shown = from_files(&shown);
    assert_eq!(
        shown.len(),
        settled,
        "{what}: `ledger invoices` shows {} invoices, the log holds {settled}",
        shown.len()
    );
    let totals: HashMap<&str, Dec> = setup
        .invoices
        .iter()
        .map(|(id, _, total)| (id.as_str(), *total))
        .collect();
    for invoice in shown {
        let id = invoice["invoiceNumber"].as_str().expect("invoiceNumber");
        let want = totals
            .get(id)
            .unwrap_or_else(|| panic!("{what}: invoice {id} is not in the file"));
        let charges = invoice["charges"].as_f64().expect("charges");
        assert!(
            (charges - want.as_f64()).abs() < 0.005,
            "{what}: invoice {id} shows charges {charges}, its lines add up to {want}"
        );
    }
    settled
}

/// Ingest the file again to completion: the state of an uninterrupted run, and no staging
/// files left behind by the killed processes. Returns how long the ingest took.
fn complete_and_compare(ledger: &Ledger, setup: &Setup, what: &str) -> Duration {
    let started = Instant::now();
    ledger.ok(&["ingest", &setup.charges]);
    let took = started.elapsed();
    let (state, head) = ledger.fingerprint();
    assert_same_state(
        &setup.reference,
        &state,
        &format!("{what}: after ingesting again"),
    );
    assert_eq!(
        head, setup.reference_head,
        "{what}: the log differs from an uninterrupted run's (head hash)"
    );
    let staging = ledger.data().join(ledger_store::STAGING_DIR);
    let left: Vec<String> = std::fs::read_dir(&staging)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "{what}: staging files left behind in {}: {left:?}",
        staging.display()
    );
    took
}

fn fresh_copy(setup: &Setup) -> Ledger {
    let ledger = Ledger::new();
    copy_dir(&setup.base, ledger.data());
    ledger
}

#[test]
fn an_ingest_killed_at_any_moment_leaves_whole_invoices_and_resumes_to_the_same_state() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let setup = setup();
    let started = Instant::now();
    let mut rng = SplitMix64::new(0xC2A5);
    let slots = (KILLS_REQUIRED as f64 * 1.2).ceil() as u32;
    let (mut kills, mut finished, mut runs) = (0usize, 0usize, 0u32);
    // How many invoices a kill left settled: none, some, all.
    let mut settled_after_kill = [0usize; 3];
    // Kill moments are fractions of the current duration of an uninterrupted ingest, which
    // follows the machine's load: every re-ingest after a kill that left nothing settled is a
    // whole ingest and updates it.
    let mut duration = setup.duration;
    // Where appending starts, as a fraction of the duration: the latest kill that found
    // nothing settled and the earliest that found something (or a finished process). Run
    // times are noisy, so the two may overlap; the targeted kills aim at both.
    let (mut last_nothing, mut first_progress) = (0.0f64, 1.2f64);
    while runs < slots + TARGETED_KILLS || kills < KILLS_REQUIRED {
        assert!(
            runs < slots * 3,
            "only {kills} of {runs} runs were killed before finishing"
        );
        let fraction = if runs < slots {
            // Stratified over 0 .. 1.2 × the duration.
            1.2 * (runs as f64 + rng.next_f64()) / slots as f64
        } else {
            // Then aimed at where appending was seen to start, widened by 10%.
            let lo = last_nothing.min(first_progress) * 0.9;
            let hi = last_nothing.max(first_progress) * 1.1;
            lo + (hi - lo) * rng.next_f64()
        };
        let at = duration.mul_f64(fraction);
        runs += 1;
        let ledger = fresh_copy(&setup);
        let what = format!(
            "run {runs} killed at {:.0} ms ({:.0}% of {:.0} ms)",
            at.as_secs_f64() * 1e3,
            fraction * 100.0,
            duration.as_secs_f64() * 1e3
        );
        let mut settled = None;
        match ingest_killed_after(&ledger, &setup.charges, at) {
            Ending::Finished => {
                finished += 1;
                first_progress = first_progress.min(fraction);
            }
            Ending::Killed => {
                kills += 1;
                let n = check_after_kill(&ledger, &setup, &what);
                let bucket = if n == 0 {
                    last_nothing = last_nothing.max(fraction);
                    0
                } else if n < setup.invoices.len() {
                    1
                } else {
                    2
                };
                if n > 0 {
                    first_progress = first_progress.min(fraction);
                }
                settled_after_kill[bucket] += 1;
                settled = Some(n);
            }
        }
        let took = complete_and_compare(&ledger, &setup, &what);
        if settled == Some(0) {
            // Nothing was settled, so that was a whole ingest: a sample of the current duration.
            duration = duration.mul_f64(0.7) + took.mul_f64(0.3);
        }
    }
    println!(
        "fresh ledger per kill: {runs} runs, {kills} killed ({} before any invoice was appended, {} mid-append, {} after the last invoice), {finished} finished before the kill; appending seen to start between {:.0}% and {:.0}% of an uninterrupted ingest; in {:.1} s",
        settled_after_kill[0],
        settled_after_kill[1],
        settled_after_kill[2],
        last_nothing.min(first_progress) * 100.0,
        last_nothing.max(first_progress) * 100.0,
        started.elapsed().as_secs_f64()
    );
    assert!(
        settled_after_kill[1] > 0,
        "no kill landed while invoices were being appended: the test did not exercise the interesting window ({settled_after_kill:?})"
    );
}

#[test]
fn an_ingest_killed_repeatedly_in_the_same_ledger_resumes_to_the_same_state() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let setup = setup();
    let started = Instant::now();
    let mut rng = SplitMix64::new(0x5A3E);
    let window = setup.duration.mul_f64(1.2);
    let (mut kills, mut progressed) = (0usize, 0usize);
    for round in 1..=10 {
        let ledger = fresh_copy(&setup);
        let mut settled_before = 0;
        for attempt in 1..=3 {
            let at = window.mul_f64(rng.next_f64());
            let what = format!(
                "round {round}, kill {attempt} at {:.0} ms",
                at.as_secs_f64() * 1e3
            );
            if ingest_killed_after(&ledger, &setup.charges, at) == Ending::Killed {
                kills += 1;
            }
            let settled = check_after_kill(&ledger, &setup, &what);
            assert!(
                settled >= settled_before,
                "{what}: invoices were lost ({settled_before} before, {settled} now)"
            );
            if settled > settled_before {
                progressed += 1;
            }
            settled_before = settled;
        }
        complete_and_compare(&ledger, &setup, &format!("round {round}"));
    }
    println!("same ledger killed three times per round: {kills} kills in 10 rounds, {progressed} kills kept earlier progress and added to it, in {:.1} s", started.elapsed().as_secs_f64());
    assert!(kills >= 15, "too few runs were actually killed: {kills}");
}
