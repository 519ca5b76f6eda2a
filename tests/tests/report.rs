//! The burn-down report (`ledger report --html`, and `ledger serve` at `/`) checked in a real
//! browser: headless Chromium (Debian's `chromium`, which `scripts/setup-chromium.sh`
//! installs) opens the report of each worked example and of generated ledgers, with every host
//! name unresolvable and a network log, and:
//! - the DOM after render holds one point per invoice that moved each MACC, CACO and credit
//!   lot (the invoices `ledger events --json` and `ledger caco --json` list, in order) and one
//!   marker per milestone whose visible text names its status (the status `ledger caco --json`
//!   gives, or for MACC milestones the one the spec's R-MACC-5 implies from the invoices);
//! - the page asked for nothing: no request on the page's behalf in Chromium's network log, no
//!   Content-Security-Policy refusal on its console, and no URL in the file (checked
//!   statically too); two control pages show that both detectors do see a request;
//! - a screenshot is taken, light and dark (under `target/tmp/report/`).
//!
//! Without Chromium these tests fail, naming `scripts/setup-chromium.sh`; they skip only with
//! `LEDGER_SKIP_BROWSER_TESTS=1`. The size bound (under 2 MB however many charge lines) and the
//! served page (byte-identical to the file) need no browser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;
use tests::{fixtures_dir, generate, is_release, show_args, text, wait_with_timeout, Ledger};

const EXAMPLES: &[&str] = &["aco-csp", "contoso-prepayment", "macc-events"];

/// The longest one Chromium run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Chromium.

struct Browser {
    bin: PathBuf,
}

/// The browser, or `None` when the browser tests are explicitly skipped. Fails loudly when
/// Chromium is missing.
fn browser() -> Option<Browser> {
    if std::env::var("LEDGER_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!("LEDGER_SKIP_BROWSER_TESTS=1: skipping the browser checks");
        return None;
    }
    let bin = std::env::var_os("LEDGER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        bin.is_file(),
        "Chromium is not at {}: run scripts/setup-chromium.sh (scripts/test does), point \
         LEDGER_CHROMIUM at a Chromium, or set LEDGER_SKIP_BROWSER_TESTS=1 to skip the browser tests",
        bin.display()
    );
    Some(Browser { bin })
}

/// What Chromium saw loading a page.
struct Loaded {
    /// The DOM after the load, serialized.
    dom: String,
    /// URLs requested on the page's behalf (from the network log).
    requests: Vec<String>,
    /// Console lines about a Content-Security-Policy refusal.
    refusals: Vec<String>,
}

impl Browser {
    /// Chromium as the brief starts it, with a fresh profile under `work`.
    fn command(&self, work: &Path, extra: &[String], url: &str) -> Command {
        let profile = tempfile::Builder::new()
            .prefix("chromium-profile-")
            .tempdir_in(work)
            .expect("a profile directory")
            .keep();
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--hide-scrollbars",
            // No host name resolves: a page that tried the network could not reach it.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, cmd: &mut Command, what: &str) -> std::process::Output {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let out = wait_with_timeout(&mut child, what, BROWSER_TIMEOUT);
        assert!(
            out.status.success(),
            "{what} exited {:?}:\n{}",
            out.status.code(),
            tests::truncate(&text(&out.stderr), 3000)
        );
        out
    }

    /// Load `html` from disk; the DOM after render, the page's requests and CSP refusals.
    fn load(&self, html: &Path, work: &Path) -> Loaded {
        let netlog = work.join(format!(
            "netlog-{}.json",
            html.file_stem().unwrap().to_string_lossy()
        ));
        let url = file_url(html);
        let mut cmd = self.command(
            work,
            &[
                "--dump-dom".into(),
                "--enable-logging=stderr".into(),
                "--v=0".into(),
                format!("--log-net-log={}", netlog.display()),
            ],
            &url,
        );
        let out = self.run(&mut cmd, &format!("chromium --dump-dom {url}"));
        let log = std::fs::read_to_string(&netlog)
            .unwrap_or_else(|e| panic!("Chromium wrote no network log {}: {e}", netlog.display()));
        let log: Value = serde_json::from_str(&log)
            .unwrap_or_else(|e| panic!("the network log {} is not JSON: {e}", netlog.display()));
        let stderr = text(&out.stderr);
        Loaded {
            dom: text(&out.stdout),
            requests: page_requests(&log),
            refusals: stderr
                .lines()
                .filter(|l| l.contains("CONSOLE") && l.contains("Content Security Policy"))
                .map(str::to_string)
                .collect(),
        }
    }

    /// A screenshot of the top `size` of the page, in the light or dark scheme.
    fn screenshot(&self, html: &Path, png: &Path, size: (u32, u32), dark: bool, work: &Path) {
        let mut extra = vec![
            format!("--screenshot={}", png.display()),
            format!("--window-size={},{}", size.0, size.1),
        ];
        if dark {
            extra.push("--force-dark-mode".into());
        }
        let url = file_url(html);
        let mut cmd = self.command(work, &extra, &url);
        self.run(&mut cmd, &format!("chromium --screenshot {url}"));
        let bytes = std::fs::read(png)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
            "{} is not a screenshot of a rendered page ({} bytes)",
            png.display(),
            bytes.len()
        );
    }
}

fn file_url(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).expect("the page exists");
    format!("file://{}", absolute.display())
}

/// Every URL the network log shows requested on behalf of a `file://` page (Chromium's own
/// background requests have other network isolation keys).
fn page_requests(log: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for event in log["events"].as_array().expect("netlog events") {
        let params = &event["params"];
        let for_page = params["network_isolation_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("file://"));
        if let (true, Some(url)) = (for_page, params["url"].as_str()) {
            if !out.iter().any(|u| u == url) {
                out.push(url.to_string());
            }
        }
    }
    out
}

/// Where screenshots go: `target/tmp/report/` (kept after the run, to look at).
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

// ---------------------------------------------------------------------------------------------
// The page, statically.

/// No URL and nothing that fetches: no script, link, image, frame, `url()`, `@import`, and no
/// `src`/`href`/... attribute but `#fragment` links; the CSP that forbids fetching is there.
fn assert_self_contained(html: &str, what: &str) {
    let lower = html.to_ascii_lowercase();
    for needle in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "<base", "<audio", "<video",
        "<source", "url(", "@import", "://",
    ] {
        assert!(
            !lower.contains(needle),
            "{what}: the page contains {needle:?}, which could fetch something"
        );
    }
    let attrs = Regex::new(
        r#"(?i)\s(src|srcset|href|xlink:href|action|formaction|poster|background|ping|data)\s*=\s*"([^"]*)""#,
    )
    .unwrap();
    for cap in attrs.captures_iter(html) {
        assert!(
            cap[1].eq_ignore_ascii_case("href") && cap[2].starts_with('#'),
            "{what}: attribute {}=\"{}\" could fetch something",
            &cap[1],
            &cap[2]
        );
    }
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"),
        "{what}: the page lacks its Content-Security-Policy"
    );
}

// ---------------------------------------------------------------------------------------------
// The DOM.

/// One element's start tag: its name and attributes (values unescaped).
#[derive(Debug)]
struct Element {
    tag: String,
    attrs: BTreeMap<String, String>,
    /// The start of the element's start tag in the DOM text.
    at: usize,
}

impl Element {
    fn has(&self, name: &str) -> bool {
        self.attrs.contains_key(name)
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn elements(dom: &str) -> Vec<Element> {
    let tag =
        Regex::new(r#"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*/?>"#).unwrap();
    let attr = Regex::new(r#"([^\s=>/]+)(?:="([^"]*)")?"#).unwrap();
    tag.captures_iter(dom)
        .map(|c| Element {
            tag: c[1].to_ascii_lowercase(),
            attrs: attr
                .captures_iter(&c[2])
                .map(|a| {
                    (
                        a[1].to_string(),
                        a.get(2).map(|v| unescape(v.as_str())).unwrap_or_default(),
                    )
                })
                .collect(),
            at: c.get(0).unwrap().start(),
        })
        .collect()
}

/// The DOM text of the panel of a MACC or CACO: from its `<section>` to the next `</section>`.
fn panel<'d>(dom: &'d str, kind: &str, lot: &str) -> &'d str {
    let start_tag = format!(
        "<section class=\"panel\" data-kind=\"{kind}\" data-lot=\"{}\"",
        lot.replace('&', "&amp;").replace('"', "&quot;")
    );
    let start = dom
        .find(&start_tag)
        .unwrap_or_else(|| panic!("no {kind} panel for {lot} in the DOM"));
    let end = dom[start..]
        .find("</section>")
        .map(|e| start + e)
        .expect("the panel ends");
    &dom[start..end]
}

/// The invoices of the baseline points of `series` (in DOM order) among `class` circles.
fn points(scope: &str, series: &str, class: &str) -> Vec<String> {
    elements(scope)
        .into_iter()
        .filter(|e| {
            e.tag == "circle"
                && e.has("data-point")
                && !e.has("data-scenario")
                && e.get("data-series") == Some(series)
                && e.get("class") == Some(class)
        })
        .map(|e| e.get("data-invoice").unwrap_or("").to_string())
        .collect()
}

/// Each milestone marker: (id, data-status, its visible label text).
fn markers(scope: &str) -> Vec<(String, String, String)> {
    let label = Regex::new(r#"<text class="label"[^>]*>([^<]*)</text>"#).unwrap();
    elements(scope)
        .into_iter()
        .filter(|e| e.tag == "g" && e.has("data-milestone"))
        .map(|e| {
            let inner = &scope[e.at..];
            let inner = &inner[..inner.find("</g>").expect("the marker ends")];
            let text = label
                .captures(inner)
                .map(|c| unescape(&c[1]))
                .unwrap_or_default();
            (
                e.get("data-milestone").unwrap().to_string(),
                e.get("data-status").unwrap_or("").to_string(),
                text,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What the ledger's own views say the charts must hold.

/// Consecutive repeats removed: one entry per invoice.
fn dedup(invoices: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in invoices {
        if out.last() != Some(&i) {
            out.push(i);
        }
    }
    out
}

/// `%2F` and the like back to their bytes (resource ids percent-encode names).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 names")
}

fn lot_name(event: &Value) -> String {
    let id = event["properties"]["lotId"].as_str().unwrap_or("");
    percent_decode(id.rsplit_once("/lots/").map_or(id, |(_, name)| name))
}

/// The invoices that moved a lot (decrements, credit applications, refunds), in order.
fn lot_invoices(events: &Value, lot: &str) -> Vec<String> {
    dedup(
        events["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| lot_name(e) == lot && e["properties"]["eventType"] == "SettledCharges")
            .map(|e| {
                e["properties"]["invoiceNumber"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            }),
    )
}

/// The invoices of a CACO's transactions ("Balance after invoice X", "Refund on invoice X").
fn caco_invoices(caco: &Value) -> Vec<String> {
    dedup(caco["transactions"].as_array().unwrap().iter().map(|t| {
        let d = t["description"].as_str().unwrap_or("");
        d.rsplit_once("invoice ")
            .map(|(_, i)| i.to_string())
            .unwrap_or_default()
    }))
}

/// A MACC milestone's status by the spec (R-MACC-5, R-EVAL): evaluated once an invoice whose
/// period starts after the due date is settled; missed when that produced a shortfall invoice.
fn macc_milestone_status(invoices: &Value, macc: &str, milestone: &str, due: &str) -> &'static str {
    let list = invoices["value"].as_array().unwrap();
    let shortfall = format!("SHORTFALL-{macc}-{milestone}");
    if list
        .iter()
        .any(|i| i["invoiceNumber"] == shortfall.as_str())
    {
        return "Missed";
    }
    let evaluated = list
        .iter()
        .any(|i| i["periodStart"].as_str().is_some_and(|p| &p[..10] > due));
    let past = list
        .iter()
        .any(|i| i["invoiceDate"].as_str().is_some_and(|d| &d[..10] > due));
    match (evaluated, past) {
        (true, _) => "Met",
        (false, true) => "Pending",
        _ => "Open",
    }
}

/// The MACC milestones of an agreement file: (macc, id, due).
fn macc_milestones(agreement_toml: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut macc = String::new();
    let mut in_milestone = false;
    let mut id = String::new();
    let value = |line: &str| line.split('"').nth(1).unwrap_or("").to_string();
    for line in agreement_toml.lines().map(str::trim) {
        if line.starts_with("[[") {
            in_milestone = line.starts_with("[[macc.milestones]]");
            continue;
        }
        if line.starts_with("id =") {
            if in_milestone {
                id = value(line);
            } else {
                macc = value(line);
            }
        }
        if in_milestone && line.starts_with("due =") {
            out.push((macc.clone(), id.clone(), value(line)));
        }
    }
    out
}

/// The DOM text of one account's section.
fn account_scope<'d>(dom: &'d str, account: &str) -> &'d str {
    let marker = format!(
        "data-account=\"{}\"",
        account.replace('&', "&amp;").replace('"', "&quot;")
    );
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no section for account {account}"));
    let end = dom[start..]
        .find("<section class=\"account\"")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// Everything the charts must hold, checked against the DOM, account by account. Returns how
/// many points and markers were checked.
fn check_dom(ledger: &Ledger, dom: &str, agreements: &[String], what: &str) -> (usize, usize) {
    assert!(
        dom.contains("This file makes no network requests."),
        "{what}: the page did not render to its end"
    );
    let lots = ledger.json(&["lots"]);
    let mut accounts: Vec<String> = lots["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["id"].as_str())
        .filter_map(|id| id.split("/billingAccounts/").nth(1))
        .filter_map(|rest| rest.split('/').next())
        .map(percent_decode)
        .collect();
    accounts.dedup();
    assert_eq!(
        dom.matches("<section class=\"account\"").count(),
        accounts.len(),
        "{what}: one section per account"
    );
    let mut counts = (0, 0);
    for account in &accounts {
        let agreement: Vec<String> = agreements
            .iter()
            .filter(|a| a.contains(&format!("account = \"{account}\"")))
            .cloned()
            .collect();
        let (p, m) = check_account(
            ledger,
            account_scope(dom, account),
            account,
            &agreement,
            &format!("{what}: {account}"),
        );
        counts.0 += p;
        counts.1 += m;
    }
    counts
}

fn check_account(
    ledger: &Ledger,
    dom: &str,
    account: &str,
    agreements: &[String],
    what: &str,
) -> (usize, usize) {
    let only = ["--account", account];
    let lots = ledger.json(&[&["lots"][..], &only].concat());
    let events = ledger.json(&[&["events"][..], &only].concat());
    let cacos = ledger.json(&[&["caco"][..], &only].concat());
    let invoices = ledger.json(&[&["invoices"][..], &only].concat());
    let mut points_checked = 0;
    let mut markers_checked = 0;
    for lot in lots["value"].as_array().unwrap() {
        let name = lot["name"].as_str().unwrap();
        let expected = lot_invoices(&events, name);
        if lot["properties"]["source"] == "ConsumptionCommitment" {
            let scope = panel(dom, "macc", name);
            let got = points(scope, name, "actual-point");
            assert_eq!(got, expected, "{what}: MACC {name}: one point per invoice");
            points_checked += got.len();
            for days in ["90", "60", "30"] {
                assert!(
                    scope.contains(&format!("data-mark=\"{days}\" data-deadline=\"{name}\"")),
                    "{what}: MACC {name}: no {days}-day mark before its end"
                );
            }
            assert!(
                scope.contains("data-today"),
                "{what}: MACC {name}: no as-of line"
            );
            // Milestones: one marker each, its status in words.
            let expected: Vec<(String, &str)> = agreements
                .iter()
                .flat_map(|a| macc_milestones(a))
                .filter(|(macc, _, _)| macc == name)
                .map(|(macc, id, due)| {
                    let status = macc_milestone_status(&invoices, &macc, &id, &due);
                    (id, status)
                })
                .collect();
            let got = markers(scope);
            assert_eq!(
                got.len(),
                expected.len(),
                "{what}: MACC {name}: markers {got:?}"
            );
            for ((id, status), (got_id, got_status, label)) in expected.iter().zip(&got) {
                assert_eq!(
                    (got_id, got_status.as_str()),
                    (id, *status),
                    "{what}: {name}"
                );
                assert!(
                    label.contains(id.as_str()) && label.contains(status),
                    "{what}: MACC {name} {id}: the marker says {label:?}, not its status {status}"
                );
            }
            markers_checked += got.len();
        } else {
            // A credit lot: its small chart.
            let got = points(dom, name, "credit-point");
            assert_eq!(
                got, expected,
                "{what}: credit {name}: one point per invoice"
            );
            points_checked += got.len();
            assert!(
                dom.contains(&format!("data-lot=\"{name}\"")),
                "{what}: no card for credit {name}"
            );
        }
    }
    for caco in cacos["value"].as_array().unwrap() {
        let id = caco["id"].as_str().unwrap();
        let scope = panel(dom, "caco", id);
        let got = points(scope, id, "actual-point");
        assert_eq!(
            got,
            caco_invoices(caco),
            "{what}: CACO {id}: one point per invoice"
        );
        points_checked += got.len();
        let milestones = caco["milestones"].as_array().unwrap();
        let got = markers(scope);
        assert_eq!(
            got.len(),
            milestones.len(),
            "{what}: CACO {id}: markers {got:?}"
        );
        for (m, (got_id, got_status, label)) in milestones.iter().zip(&got) {
            let (mid, status) = (m["id"].as_str().unwrap(), m["status"].as_str().unwrap());
            let percent = format!("{:.2}%", m["progressPercent"].as_f64().unwrap());
            assert_eq!(
                (got_id.as_str(), got_status.as_str()),
                (mid, status),
                "{what}: CACO {id}"
            );
            assert!(
                label.contains(mid) && label.contains(status) && label.contains(&percent),
                "{what}: CACO {id} {mid}: the marker says {label:?}, not {status} {percent}"
            );
        }
        markers_checked += got.len();
    }
    (points_checked, markers_checked)
}

/// Open `html` in Chromium: nothing requested, the DOM checked, screenshots light and dark.
fn check_in_browser(
    browser: &Browser,
    ledger: &Ledger,
    html: &Path,
    agreements: &[String],
    name: &str,
) -> (usize, usize) {
    let loaded = browser.load(html, ledger.root());
    assert!(
        loaded.requests.is_empty(),
        "{name}: the page requested {:?}",
        loaded.requests
    );
    assert!(
        loaded.refusals.is_empty(),
        "{name}: the page tried to fetch: {:?}",
        loaded.refusals
    );
    let counts = check_dom(ledger, &loaded.dom, agreements, name);
    let dir = screenshot_dir();
    let mut shots = Vec::new();
    for (scheme, dark) in [("light", false), ("dark", true)] {
        let png = dir.join(format!("{name}-{scheme}.png"));
        browser.screenshot(html, &png, (1280, 1600), dark, ledger.root());
        eprintln!("{name}: screenshot {}", png.display());
        shots.push(std::fs::read(&png).unwrap());
    }
    assert_ne!(
        shots[0], shots[1],
        "{name}: the dark scheme (prefers-color-scheme: dark) looks exactly like the light one"
    );
    counts
}

// ---------------------------------------------------------------------------------------------
// Ledgers.

/// A ledger with the example's agreement and charges.
fn example_ledger(name: &str) -> (Ledger, Vec<String>) {
    let folder = fixtures_dir().join("examples").join(name);
    let ledger = Ledger::new();
    let agreement = ledger.copy_in(&folder.join("agreement.toml"), "agreement.toml");
    ledger.copy_in(&folder.join("charges.csv"), "charges.csv");
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger.ok(&["ingest", "charges.csv"]);
    let text = std::fs::read_to_string(agreement).unwrap();
    (ledger, vec![text])
}

/// A ledger of generated charge lines over `accounts` accounts.
fn generated_ledger(lines: u64, accounts: u32) -> (Ledger, Vec<String>) {
    let ledger = Ledger::new();
    let (csv, agreement_files) = generate(&ledger, "charges.csv", lines, accounts);
    let mut args = vec!["agreement".to_string()];
    let mut texts = Vec::new();
    for a in &agreement_files {
        args.push(a.display().to_string());
        texts.push(std::fs::read_to_string(a).unwrap());
    }
    ledger.ok(&args);
    ledger.ok(&["ingest".to_string(), csv.display().to_string()]);
    (ledger, texts)
}

fn report(ledger: &Ledger, file: &str, extra: &[&str]) -> (PathBuf, String) {
    let path = ledger.path(file);
    let mut args = vec!["report", "--html", file];
    args.extend_from_slice(extra);
    let stdout = ledger.ok(&args);
    assert!(
        stdout.contains(&format!("wrote {file}")),
        "`{}` says: {stdout}",
        show_args(&args)
    );
    let html = std::fs::read_to_string(&path).expect("the report file");
    assert_self_contained(&html, file);
    (path, html)
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_example_folder_is_rendered() {
    let mut folders: Vec<String> = std::fs::read_dir(fixtures_dir().join("examples"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, EXAMPLES, "add new example folders to EXAMPLES");
}

#[test]
fn every_example_renders_one_point_per_invoice_in_chromium() {
    let browser = browser();
    for name in EXAMPLES {
        let (ledger, agreements) = example_ledger(name);
        let (path, html) = report(&ledger, "report.html", &[]);
        // The default as-of date is the ledger clock: the newest settled invoice date.
        let newest = ledger.json(&["invoices"])["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["invoiceDate"].as_str().map(|d| d[..10].to_string()))
            .max()
            .unwrap();
        assert!(
            html.contains(&format!("As of <time datetime=\"{newest}\">")),
            "{name}: the report is not as of the ledger clock {newest}"
        );
        if let Some(browser) = &browser {
            let (points, markers) = check_in_browser(browser, &ledger, &path, &agreements, name);
            assert!(points > 0, "{name}: no chart points at all");
            eprintln!(
                "{name}: {points} points and {markers} milestone markers checked in Chromium"
            );
        }
    }
}

#[test]
fn a_generated_ledger_renders_its_milestones_with_their_status_in_chromium() {
    let (ledger, agreements) = generated_ledger(20_000, 2);
    let (path, _) = report(&ledger, "generated.html", &[]);
    if let Some(browser) = browser() {
        let (points, markers) =
            check_in_browser(&browser, &ledger, &path, &agreements, "generated");
        // Two accounts, each a MACC with milestones and a CACO with three or four.
        assert!(markers >= 6, "only {markers} milestone markers checked");
        assert!(points >= 24, "only {points} points checked");
        eprintln!("generated: {points} points and {markers} milestone markers checked in Chromium");
    }
}

#[test]
fn the_network_detectors_see_a_request_when_there_is_one() {
    let Some(browser) = browser() else { return };
    let ledger = Ledger::new();
    // No CSP: the browser tries the network, and the network log shows it.
    let open = ledger.write(
        "open.html",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><p>x</p>\
         <img src=\"https://report-test.invalid/pixel.png\" alt=\"\"></body></html>",
    );
    let loaded = browser.load(&open, ledger.root());
    assert!(
        loaded
            .requests
            .iter()
            .any(|u| u.contains("report-test.invalid")),
        "the network log missed the control page's request: {:?}",
        loaded.requests
    );
    // The report's CSP: the browser refuses before the network, and says so on the console.
    let guarded = ledger.write(
        "guarded.html",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         </head><body><p>x</p><img src=\"https://report-test.invalid/pixel.png\" alt=\"\"></body></html>",
    );
    let loaded = browser.load(&guarded, ledger.root());
    assert!(
        !loaded.refusals.is_empty(),
        "the console showed no CSP refusal for the guarded control page"
    );
    assert!(loaded.requests.is_empty(), "{:?}", loaded.requests);
}

#[test]
fn whatif_lines_and_consequences_sit_beside_the_baseline() {
    let (ledger, _) = generated_ledger(20_000, 1);
    ledger.write(
        "cut.toml",
        "name = \"cut usage\"\n[[change]]\nop = \"scale\"\nfactor = \"0.6\"\n[change.where]\nkind = \"usage\"\nfrom = \"2024-06-01\"\n",
    );
    let changes = ledger.json(&["whatif", "cut.toml"])["changes"].clone();
    let (_, html) = report(&ledger, "whatif.html", &["--whatif", "cut.toml"]);
    let listed: Vec<String> = Regex::new(r"<li data-consequence>([^<]*)</li>")
        .unwrap()
        .captures_iter(&html)
        .map(|c| unescape(&c[1]))
        .collect();
    let expected: Vec<String> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty(), "the scenario should change something");
    assert_eq!(listed, expected, "the consequences are `ledger whatif`'s");
    // The scenario's points, one per invoice of its fork, dashed beside the baseline's.
    let scenario_points = elements(&html)
        .into_iter()
        .filter(|e| e.get("data-scenario") == Some("cut usage") && e.has("data-point"))
        .count();
    assert!(scenario_points >= 12, "{scenario_points} scenario points");
    assert!(
        html.contains("class=\"scenario s1\""),
        "no dashed scenario line"
    );
}

#[test]
fn the_report_of_a_large_ledger_stays_small_and_quick() {
    // Points are per invoice, not per line: the file does not grow with charge lines.
    let lines: u64 = if is_release() { 1_000_000 } else { 100_000 };
    let (ledger, _) = generated_ledger(lines, 4);
    let started = Instant::now();
    let (path, html) = report(&ledger, "large.html", &[]);
    let elapsed = started.elapsed();
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "report of a {lines}-line ledger over 4 accounts: {size} bytes in {:.0} ms (the whole `ledger report` process)",
        elapsed.as_secs_f64() * 1e3
    );
    assert!(
        size < 2 * 1024 * 1024,
        "the report is {size} bytes, over 2 MB"
    );
    assert_eq!(html.matches("<section class=\"account\"").count(), 4);
    if is_release() {
        assert!(
            elapsed < Duration::from_secs(2),
            "`ledger report` of {lines} lines took {elapsed:?}, over 2 s"
        );
    }
}

#[test]
fn serve_answers_the_same_page_at_root_and_per_account_behind_the_token() {
    let (ledger, _) = generated_ledger(5_000, 2);
    let (_, whole) = report(&ledger, "all.html", &[]);
    let account = Regex::new(r#"data-account="([^"]+)""#)
        .unwrap()
        .captures(&whole)
        .unwrap()[1]
        .to_string();
    let (_, one) = report(&ledger, "one.html", &["--account", &account]);
    let (_, dated) = report(&ledger, "dated.html", &["--as-of", "2024-07-15"]);
    assert!(dated.contains("As of <time datetime=\"2024-07-15\">"));

    let mut child = ledger
        .command(&["serve", "--addr", "127.0.0.1:0", "--token", "s3cret"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ledger serve");
    let mut first = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.as_mut().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
    }
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve said: {first}"))
        .to_string();
    let get = |target: &str, token: Option<&str>| -> (u16, String, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_string())
    };
    let (status, _, _) = get("/", None);
    assert_eq!(status, 401, "the token rules of serve apply to the report");
    let (status, head, body) = get("/", Some("s3cret"));
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert_eq!(body, whole, "GET / is `ledger report`'s page");
    let (status, _, body) = get(&format!("/accounts/{account}"), Some("s3cret"));
    assert_eq!(status, 200);
    assert_eq!(
        body, one,
        "GET /accounts/{account} is `ledger report --account`'s page"
    );
    let (_, _, body) = get("/?asOf=2024-07-15", Some("s3cret"));
    assert_eq!(body, dated, "asOf is --as-of");
    let (status, _, body) = get("/accounts/no-such-account", Some("s3cret"));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("BillingAccountNotFound"), "{body}");
    let (status, _, body) = get("/api", Some("s3cret"));
    assert_eq!(status, 200);
    assert!(body.contains("\"accounts\""), "{body}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn report_refuses_what_it_cannot_do() {
    let (ledger, _) = example_ledger("contoso-prepayment");
    let stderr = ledger.fails(&["report", "--html", "x.html", "--account", "nobody"]);
    assert!(stderr.contains("nobody"), "{stderr}");
    assert!(
        !ledger.path("x.html").exists(),
        "nothing is written on a refusal"
    );
    let stderr = ledger.usage_error(&["report", "--html", "x.html", "--as-of", "2024-13-01"]);
    assert!(stderr.contains("2024-13-01"), "{stderr}");
    let empty = Ledger::new();
    let stderr = empty.fails(&["report", "--html", "x.html"]);
    assert!(stderr.contains("no ledger"), "{stderr}");
}

/// Issue 16 ("Uncertainty"): `report --simulate N --seed S` draws, on the MACC's chart, the
/// band of the futures `plan --simulate N --seed S` draws (the same fold): its figures in the
/// HTML are the plan's, month by month, and the same seed draws the same page. Without the
/// option the page has no band (the goldens hold the page unchanged).
#[test]
fn the_report_draws_the_band_of_plan_simulate() {
    let l = Ledger::new();
    l.write(
        "agreement.toml",
        "account = \"contoso\"\ncurrency = \"USD\"\n[[macc]]\nid = \"m1\"\namount = \"12000\"\nstart = \"2025-01-01\"\nend = \"2025-12-31\"\n  [[macc.milestones]]\n  id = \"M1\"\n  due = \"2025-09-30\"\n  target = \"8000\"\n",
    );
    // January to June: 700, 1,300, 900, 1,100, 800, 1,200 (months that vary).
    let mut csv = String::from(
        "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n",
    );
    for (m, amount) in (1..=6).zip([700, 1300, 900, 1100, 800, 1200]) {
        csv.push_str(&format!(
            "V-{m:02},2025-{:02}-05,2025-{m:02}-01,2025-{m:02}-28,Eng,2025-{m:02}-15,usage,{amount},USD\n",
            m + 1
        ));
    }
    l.write("charges.csv", csv);
    l.ok(&["agreement", "agreement.toml"]);
    l.ok(&["ingest", "charges.csv"]);
    let as_of = ["--as-of", "2025-07-10"];
    let sim = ["--simulate", "300", "--seed", "11"];
    let mut plan_args = vec!["plan"];
    plan_args.extend(as_of);
    plan_args.extend(sim);
    let plan = l.json(&plan_args);
    let rows = plan["value"].as_array().unwrap();
    let m1 = rows.iter().find(|r| r["id"] == "m1").unwrap();
    let band = m1["simulation"]["band"].as_array().unwrap();
    assert_eq!(band.len(), 6, "July to December: {m1:#}");

    let mut extra = as_of.to_vec();
    extra.extend(sim);
    let (_, html) = report(&l, "band.html", &extra);
    let (_, again) = report(&l, "again.html", &extra);
    assert_eq!(
        html.replace("band.html", ""),
        again.replace("again.html", ""),
        "a seed draws the same page"
    );
    let found = elements(&html);
    let drawn = found
        .iter()
        .filter(|e| e.get("data-band") == Some("m1") && e.has("data-runs"))
        .count();
    assert_eq!(drawn, 1, "one band on m1's chart");
    let dec = |v: &Value| tests::Dec::from_json(v).unwrap_or_else(|| panic!("{v}"));
    let attr = |e: &Element, name: &str| {
        tests::Dec::parse(e.get(name).unwrap()).unwrap_or_else(|| panic!("{name}"))
    };
    let months: Vec<&Element> = found.iter().filter(|e| e.has("data-p50")).collect();
    assert_eq!(months.len(), band.len(), "one table row per month");
    for (row, b) in months.iter().zip(band) {
        assert_eq!(row.get("data-date"), b["date"].as_str());
        for p in ["p10", "p50", "p90"] {
            assert_eq!(attr(row, &format!("data-{p}")), dec(&b[p]), "{p} of {b}");
        }
    }
    // Every simulated row's figures: the MACC and its milestone.
    for id in ["m1", "m1/M1"] {
        let r = rows.iter().find(|r| r["id"] == id).unwrap();
        let s = &r["simulation"];
        let e = found
            .iter()
            .find(|e| e.get("data-simulation") == Some(id))
            .unwrap_or_else(|| panic!("no figures of {id}"));
        assert_eq!(
            attr(e, "data-probability"),
            dec(&s["probabilityMet"]),
            "{id}"
        );
        for p in ["P10", "P50", "P90"] {
            let name = format!("data-shortfall-{}", p.to_lowercase());
            assert_eq!(attr(e, &name), dec(&s[format!("shortfall{p}")]), "{id} {p}");
        }
    }
    // A P10 below a P90 somewhere: the band has a width.
    assert!(
        band.iter().any(|b| dec(&b["p10"]) != dec(&b["p90"])),
        "{m1:#}"
    );

    // Without --simulate: no band, no figures.
    let mut plain = vec![];
    plain.extend(as_of);
    let (_, without) = report(&l, "plain.html", &plain);
    assert!(!without.contains("data-band") && !without.contains("data-simulation"));
    l.usage_error(&["report", "--html", "x.html", "--seed", "3"]);
}
