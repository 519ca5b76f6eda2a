//! Readers during a write (issue 13): while `ledger ingest` writes a large file, `lots --json`,
//! `events --json` and `invoices --json` (and a `ledger serve` started before the ingest)
//! keep answering from the published snapshots, without the ledger's lock: no read fails,
//! every invoice a read lists is whole (its line count and charges are the file's for that
//! invoice), the set of invoices only grows, and once the ingest is done the reads equal those
//! of a ledger where the same file was ingested alone.
//!
//! Size: 2M charge lines in release (the figure; an ingest of a few seconds, with
//! publications at its 1M-line flushes and at its end), 200k lines in a debug build.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{copy_dir, generate, is_release, text, wait_with_timeout, Dec, Ledger};

fn lines() -> u64 {
    if is_release() {
        2_000_000
    } else {
        200_000
    }
}

/// (account, invoice) → (line count, charges) of a native charge file, read as a stream.
type Totals = BTreeMap<(String, String), (u64, Dec)>;

fn file_totals(path: &Path) -> Totals {
    let file = std::fs::File::open(path).expect("the charge file");
    let mut rows = BufReader::new(file).lines();
    let header: Vec<String> = rows
        .next()
        .expect("a header")
        .expect("a line")
        .split(',')
        .map(str::to_string)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (id, account, amount) = (col("invoice_id"), col("account"), col("amount"));
    let mut totals = Totals::new();
    for row in rows {
        let row = row.expect("a line");
        assert!(!row.contains('"'), "a generated line is unquoted: {row}");
        let cells: Vec<&str> = row.split(',').collect();
        let entry = totals
            .entry((cells[account].to_string(), cells[id].to_string()))
            .or_insert((0, Dec::ZERO));
        entry.0 += 1;
        entry.1 += Dec::parse(cells[amount]).expect("an amount");
    }
    totals
}

/// The invoices a JSON document lists, each checked whole against the file; returns their keys.
fn whole_invoices(doc: &Value, totals: &Totals, what: &str) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    for invoice in doc["value"].as_array().expect("a value list") {
        let key = (
            invoice["account"].as_str().expect("account").to_string(),
            invoice["invoiceNumber"].as_str().expect("id").to_string(),
        );
        let (count, charges) = totals
            .get(&key)
            .unwrap_or_else(|| panic!("{what}: invoice {key:?} is not in the file"));
        assert_eq!(
            invoice["lineCount"].as_u64(),
            Some(*count),
            "{what}: invoice {key:?} lists part of its lines"
        );
        assert_eq!(
            Dec::from_json(&invoice["charges"]),
            Some(*charges),
            "{what}: invoice {key:?} shows part of its charges"
        );
        seen.insert(key);
    }
    seen
}

/// Start `ledger ingest FILE` and wait until it holds the ledger (its pid in `owner.txt`).
fn start_ingest(ledger: &Ledger, charges: &str) -> Child {
    let owner = ledger.data().join(ledger_store::OWNER_FILE);
    let mut child = ledger
        .command(&["ingest", charges])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ledger ingest");
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let holder = std::fs::read_to_string(&owner).unwrap_or_default();
        if holder.split_whitespace().next() == Some(pid.as_str()) {
            return child;
        }
        assert!(
            child.try_wait().expect("poll the ingest").is_none(),
            "the ingest ended before it was seen holding the ledger"
        );
        assert!(
            Instant::now() < deadline,
            "the ingest never held the ledger"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `ledger serve` on the ledger (read-only), and the address it listens on.
fn start_serve(ledger: &Ledger) -> (Child, String) {
    let mut child = ledger
        .command(&["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ledger serve");
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut first)
        .expect("serve says where it listens");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve said: {first}"))
        .to_string();
    (child, addr)
}

/// GET `target` from the server: (status, body).
fn get(addr: &str, target: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let raw = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_string())
}

fn invoices_path(account: &str) -> String {
    format!("/providers/Microsoft.Billing/billingAccounts/{account}/invoices")
}

/// The server's invoices of every account, as one `{"value": [...]}` document.
fn served_invoices(addr: &str, accounts: &[String]) -> Value {
    let mut all = Vec::new();
    for account in accounts {
        let (status, body) = get(addr, &invoices_path(account));
        assert_eq!(
            status, 200,
            "GET invoices of {account} during the ingest: {body}"
        );
        let doc: Value = serde_json::from_str(&body).expect("JSON");
        all.extend(
            doc["value"]
                .as_array()
                .expect("a value list")
                .iter()
                .cloned(),
        );
    }
    serde_json::json!({ "value": all })
}

/// Reads the server during the ingest: every answer 200 and whole, the set only growing.
fn serve_loop(
    addr: String,
    accounts: Vec<String>,
    totals: Arc<Totals>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, BTreeSet<usize>)> {
    std::thread::spawn(move || {
        let mut last = BTreeSet::new();
        let (mut reads, mut sizes) = (0, BTreeSet::new());
        while !done.load(Ordering::Acquire) {
            let doc = served_invoices(&addr, &accounts);
            let now = whole_invoices(&doc, &totals, "serve");
            assert!(now.is_superset(&last), "serve: an invoice disappeared");
            sizes.insert(now.len());
            last = now;
            reads += 1;
        }
        (reads, sizes)
    })
}

/// One round of the CLI reads; the invoices they list, checked whole.
fn cli_round(ledger: &Ledger, totals: &Totals) -> BTreeSet<(String, String)> {
    for verb in ["lots", "events"] {
        let out = ledger.run(&[verb, "--json"]);
        assert!(
            out.status.success(),
            "`ledger {verb} --json` failed during the ingest: {}",
            text(&out.stderr)
        );
        let _: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    }
    let out = ledger.run(&["invoices", "--json"]);
    assert!(
        out.status.success(),
        "`ledger invoices --json` failed during the ingest: {}",
        text(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    whole_invoices(&doc, totals, "invoices --json")
}

#[test]
fn reads_during_a_large_ingest_see_whole_invoices_and_end_as_a_sequential_run() {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", lines(), 4);
    let mut args = vec!["agreement".to_string()];
    args.extend(agreements.iter().map(|p| p.display().to_string()));
    ledger.ok(&args);
    let totals = Arc::new(file_totals(&charges));
    let accounts: Vec<String> = totals
        .keys()
        .map(|(a, _)| a.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let charges = charges.display().to_string();
    // The same file ingested alone: what the reads must end as.
    let alone = Ledger::new();
    copy_dir(ledger.data(), alone.data());
    alone.ok(&["ingest", &charges]);
    let expected: Vec<String> = ["lots", "events", "invoices"]
        .iter()
        .map(|verb| alone.ok(&[verb, "--json"]))
        .collect();

    let (mut server, addr) = start_serve(&ledger);
    let mut ingest = start_ingest(&ledger, &charges);
    let done = Arc::new(AtomicBool::new(false));
    let served = serve_loop(addr.clone(), accounts.clone(), totals.clone(), done.clone());
    let mut last = BTreeSet::new();
    let (mut rounds, mut sizes) = (0, BTreeSet::new());
    while ingest.try_wait().expect("poll the ingest").is_none() {
        let now = cli_round(&ledger, &totals);
        assert!(
            now.is_superset(&last),
            "invoices --json: an invoice disappeared"
        );
        sizes.insert(now.len());
        last = now;
        rounds += 1;
    }
    done.store(true, Ordering::Release);
    let out = wait_with_timeout(&mut ingest, "the ingest", Duration::from_secs(600));
    assert!(
        out.status.success(),
        "the ingest failed: {}",
        text(&out.stderr)
    );
    let (serve_reads, serve_sizes) = served.join().expect("the serve loop");
    assert!(rounds > 0, "no read ran during the ingest");

    // After the ingest: the reads equal the sequential run's.
    for (verb, expected) in ["lots", "events", "invoices"].iter().zip(&expected) {
        assert_eq!(
            &ledger.ok(&[verb, "--json"]),
            expected,
            "`ledger {verb} --json` after the ingest differs from the file ingested alone"
        );
    }
    // The server picks up the final publication without a restart.
    let final_doc: Value = serde_json::from_str(&expected[2]).expect("JSON");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let served = served_invoices(&addr, &accounts);
        let mut got = served["value"].as_array().expect("a list").clone();
        let mut want = final_doc["value"].as_array().expect("a list").clone();
        let key = |v: &Value| format!("{}/{}", v["account"], v["invoiceNumber"]);
        got.sort_by_key(key);
        want.sort_by_key(key);
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve never showed the ingest's invoices"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    ledger.assert_audit_and_replay_pass();
    println!(
        "{} lines: {rounds} rounds of lots/events/invoices during the ingest saw {} distinct invoice counts {:?}; serve answered {serve_reads} reads with {} distinct counts",
        lines(),
        sizes.len(),
        sizes,
        serve_sizes.len()
    );
}

/// The account snapshot files in the ledger's `published/` folder.
fn published_names(ledger: &Ledger) -> BTreeSet<String> {
    std::fs::read_dir(ledger_store::published::published_dir(ledger.data()))
        .expect("the published folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".acct"))
        .collect()
}

/// The account a snapshot file name names.
fn account_of(name: &str) -> String {
    ledger_store::published::account_of_file_name(name).expect("an account file name")
}

#[test]
fn a_write_publishes_only_the_accounts_it_changed_and_one_account_reads_alone() {
    let ledger = Ledger::new();
    let (charges, agreements) = generate(&ledger, "charges.csv", 4_000, 2);
    let mut args = vec!["agreement".to_string()];
    args.extend(agreements.iter().map(|p| p.display().to_string()));
    ledger.ok(&args);
    let before = published_names(&ledger);
    let accounts: BTreeSet<String> = before.iter().map(|n| account_of(n)).collect();
    assert_eq!(accounts.len(), 2, "one snapshot per account: {before:?}");
    let changed = accounts.iter().next().expect("an account").clone();
    // Charge lines of one account only.
    let csv = std::fs::read_to_string(&charges).expect("the charges");
    let mut rows = csv.lines();
    let header = rows.next().expect("a header");
    let account_col = header
        .split(',')
        .position(|h| h == "account")
        .expect("an account column");
    let mut one = format!("{header}\n");
    for row in rows.filter(|r| r.split(',').nth(account_col) == Some(changed.as_str())) {
        one.push_str(row);
        one.push('\n');
    }
    let file = ledger.write("one.csv", one);
    ledger.ok(&["ingest", &file.display().to_string()]);
    let after = published_names(&ledger);
    let fresh: BTreeSet<String> = after.difference(&before).map(|n| account_of(n)).collect();
    assert_eq!(
        fresh,
        BTreeSet::from([changed.clone()]),
        "only the account the ingest changed gets a new snapshot"
    );
    let index = ledger_store::published::read_index(ledger.data())
        .expect("the index")
        .expect("published");
    for entry in &index.accounts {
        let name = ledger_store::published::account_file_name(&entry.account, entry.position);
        assert_eq!(
            before.contains(&name),
            entry.account != changed,
            "account {}: its snapshot is kept unless the ingest changed it",
            entry.account
        );
    }
    ledger.assert_audit_and_replay_pass();

    // Reading one account reads the index and its own snapshot only: the other's may be gone.
    let lots = ledger.ok(&["lots", "--json", "--account", &changed]);
    let other = index
        .accounts
        .iter()
        .find(|e| e.account != changed)
        .expect("the other account");
    std::fs::remove_file(ledger_store::published::published_dir(ledger.data()).join(
        ledger_store::published::account_file_name(&other.account, other.position),
    ))
    .expect("remove the other account's snapshot");
    // The log held by another process: the read can only come from the published snapshots.
    let _held = ledger_store::Store::open_existing(ledger.data(), "test").expect("the ledger");
    assert_eq!(
        ledger.ok(&["lots", "--json", "--account", &changed]),
        lots,
        "one account's read needs no other account's snapshot"
    );
}
