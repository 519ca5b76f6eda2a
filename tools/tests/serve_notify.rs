//! `ledger serve --notify`: CloudEvents 1.0 push alerts, received by a local receiver, signed,
//! retried, judged as of the ledger clock, and kept in a dead-letter file when they cannot be
//! delivered; a write never waits for them nor fails because of them.

mod serve_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use serve_common::*;
use sha2::Sha256;

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A local HTTP receiver answering the n-th request (from 0) with `status(n)`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(status: impl Fn(usize) -> u16 + Send + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/ledger", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let Some(received) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(received);
                let code = status(n);
                let _ = stream.write_all(
                    format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Receiver { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait (at most 30 s) until `n` requests arrived.
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&buf[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let headers: Vec<(String, String)> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some(Received { headers, body })
}

const AGREEMENT: &str = "account = \"alert-co\"\ncurrency = \"USD\"\n\n\
[[macc]]\nid = \"macc-2025\"\namount = \"100000\"\nstart = \"2025-01-01\"\nend = \"2025-06-30\"\n\
  [[macc.milestones]]\n  id = \"M1\"\n  due = \"2025-03-31\"\n  target = \"50000\"\n\n\
[[credit]]\nid = \"goodwill-1\"\nkind = \"goodwill\"\namount = \"5000\"\nstart = \"2025-01-01\"\nexpires = \"2025-05-31\"\n";

fn invoice(id: &str, date: &str, period: (&str, &str), charge: &str, amount: &str) -> String {
    format!(
        "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n\
         {id},{date},{},{},Ops,{charge},usage,{amount},USD\n",
        period.0, period.1
    )
}

/// An event expected: its type, its subject, its alert level.
type Expected = (&'static str, &'static str, Option<u64>);

/// The three invoices of the scenario and, stated by hand, what each makes worth telling
/// (judged at its invoice date, the ledger clock):
/// - A (2025-02-05): M1 is due 2025-03-31, 54 days away: level 60; nothing burned yet in the
///   months before February, so the MACC and M1 burn too slowly: risk High (both).
/// - B (2025-03-05): M1 26 days away: level 30; the goodwill credit (3,500 left) expires
///   2025-05-31, 87 days away: level 90.
/// - C (2025-05-05, period April): M1 is evaluated first and missed (nothing counted: the
///   goodwill paid everything): shortfall 50,000; the MACC ends 2025-06-30, 56 days away:
///   level 60; the goodwill expires in 26 days: level 30.
fn scenario() -> Vec<(String, Vec<Expected>)> {
    vec![
        (
            invoice(
                "INV-A",
                "2025-02-05",
                ("2025-01-01", "2025-01-31"),
                "2025-01-15",
                "1000",
            ),
            vec![
                (
                    "ledger.commitment.deadline",
                    "commitments/macc-2025/milestones/M1",
                    Some(60),
                ),
                ("ledger.commitment.risk", "maccs/macc-2025", None),
                (
                    "ledger.commitment.risk",
                    "commitments/macc-2025/milestones/M1",
                    None,
                ),
            ],
        ),
        (
            invoice(
                "INV-B",
                "2025-03-05",
                ("2025-02-01", "2025-02-28"),
                "2025-02-15",
                "500",
            ),
            vec![
                (
                    "ledger.commitment.deadline",
                    "commitments/macc-2025/milestones/M1",
                    Some(30),
                ),
                ("ledger.credit.expiring", "credits/goodwill-1", Some(90)),
            ],
        ),
        (
            invoice(
                "INV-C",
                "2025-05-05",
                ("2025-04-01", "2025-04-30"),
                "2025-04-15",
                "200",
            ),
            vec![
                (
                    "ledger.milestone.missed",
                    "maccs/macc-2025/milestones/M1",
                    None,
                ),
                ("ledger.commitment.deadline", "maccs/macc-2025", Some(60)),
                ("ledger.credit.expiring", "credits/goodwill-1", Some(30)),
            ],
        ),
    ]
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn post(server: &Server, path: &str, body: &str) -> serve_common::Response {
    let response = server.request(
        "POST",
        path,
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
    );
    assert_eq!(response.status, 200, "POST {path}: {}", response.text());
    response
}

#[test]
fn alerts_are_pushed_signed_retried_and_judged_by_the_ledger_clock() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The first request is refused with 503: it must come again.
    let receiver = Receiver::start(|n| if n == 0 { 503 } else { 204 });
    let server = Server::start(
        &data,
        &[
            "--allow-writes",
            "--notify",
            &receiver.url,
            "--notify-secret",
            "hook-secret",
            "--notify-retry",
            "50ms",
        ],
    );
    post(&server, "/ledger/agreements", AGREEMENT);
    let mut expected_total = 1; // the retried first event
    let mut seen_ids = std::collections::BTreeSet::new();
    for (charges, expected) in scenario() {
        post(&server, "/ledger/charges", &charges);
        expected_total += expected.len();
        let got = receiver.wait_for(expected_total);
        assert_eq!(
            got.len(),
            expected_total,
            "{:#?}",
            got.iter().map(Received::json).collect::<Vec<_>>()
        );
        let clock = &charges
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .to_string();
        let batch: Vec<Value> = got[got.len() - expected.len()..]
            .iter()
            .map(Received::json)
            .collect();
        let mut got_kinds: Vec<(String, String, Option<u64>)> = batch
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_string(),
                    e["subject"].as_str().unwrap().to_string(),
                    e["data"]["alert"].as_u64(),
                )
            })
            .collect();
        let mut want: Vec<(String, String, Option<u64>)> = expected
            .iter()
            .map(|(t, s, l)| (t.to_string(), s.to_string(), *l))
            .collect();
        got_kinds.sort();
        want.sort();
        assert_eq!(got_kinds, want, "after the invoice of {clock}");
        for event in &batch {
            // CloudEvents 1.0, as of the ledger clock (never the wall clock).
            assert_eq!(event["specversion"], "1.0");
            assert_eq!(
                event["source"],
                "/providers/Microsoft.Billing/billingAccounts/alert-co"
            );
            assert_eq!(event["datacontenttype"], "application/json");
            assert_eq!(event["time"], format!("{clock}T00:00:00Z"));
            assert_eq!(event["data"]["asOf"], clock.as_str());
            assert!(
                seen_ids.insert(event["id"].as_str().unwrap().to_string()),
                "{event}"
            );
        }
    }
    // The missed milestone's shortfall and the amounts are exact.
    let all: Vec<Value> = receiver.received().iter().map(Received::json).collect();
    let missed = all
        .iter()
        .find(|e| e["type"] == "ledger.milestone.missed")
        .unwrap();
    assert_eq!(missed["data"]["amount"], serde_json::json!(50000.0));
    let expiring = all
        .iter()
        .filter(|e| e["type"] == "ledger.credit.expiring")
        .map(|e| e["data"]["amount"].clone())
        .collect::<Vec<_>>();
    assert_eq!(
        expiring,
        [serde_json::json!(3500.0), serde_json::json!(3300.0)]
    );
    // Every request is structured CloudEvents JSON, signed over its exact body.
    let received = receiver.received();
    for r in &received {
        assert_eq!(
            r.header("content-type"),
            Some("application/cloudevents+json; charset=UTF-8")
        );
        assert_eq!(
            r.header("x-ledger-signature-256").unwrap(),
            format!("sha256={}", hmac_hex("hook-secret", &r.body))
        );
    }
    // The refused first delivery came again, the same event.
    assert_eq!(received[0].body, received[1].body);
    // The same file again records nothing, so tells nothing.
    post(&server, "/ledger/charges", &scenario()[2].0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.received().len(), expected_total);
    assert!(!data.join("notify-dead-letter.jsonl").exists());
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn what_cannot_be_delivered_is_kept_and_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dead_letter = dir.path().join("lost.jsonl");
    // A receiver that refuses every signature (401: not retried), and an address nobody
    // listens on (retried, then given up).
    let refusing = Receiver::start(|_| 401);
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/nobody", listener.local_addr().unwrap())
    };
    let mut server = Server::start(
        &data,
        &[
            "--allow-writes",
            "--notify",
            &refusing.url,
            "--notify",
            &closed,
            "--notify-secret",
            "s",
            "--notify-attempts",
            "3",
            "--notify-retry",
            "20ms",
            "--notify-dead-letter",
            dead_letter.to_str().unwrap(),
        ],
    );
    post(&server, "/ledger/agreements", AGREEMENT);
    let (charges, expected) = &scenario()[0];
    let response = post(&server, "/ledger/charges", charges);
    assert_eq!(
        response.json()["files"][0]["settled"],
        1,
        "the write is recorded"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let lines: Vec<Value> = std::fs::read_to_string(&dead_letter)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 2 * expected.len() || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(lines.len(), 2 * expected.len(), "{lines:#?}");
    for line in &lines {
        let (attempts, error) = (
            line["attempts"].as_u64().unwrap(),
            line["error"].as_str().unwrap(),
        );
        if line["url"] == refusing.url.as_str() {
            assert_eq!((attempts, error), (1, "HTTP 401"));
        } else {
            assert_eq!(line["url"], closed.as_str());
            assert_eq!(attempts, 3, "{line}");
        }
        assert_eq!(line["event"]["specversion"], "1.0");
    }
    assert_eq!(refusing.received().len(), expected.len());
    // The server still answers and stops cleanly.
    assert_eq!(server.get("/api", None).status, 200);
    assert!(server.terminate(Duration::from_secs(30)).success());
}

#[test]
fn notify_options_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (args, expected) in [
        (
            vec!["--notify", "http://127.0.0.1:9/x"],
            "needs --allow-writes",
        ),
        (
            vec![
                "--allow-writes",
                "--notify",
                "https://127.0.0.1:9/x",
                "--notify-ca-file",
                "/nonexistent/ca.pem",
            ],
            "--notify-ca-file /nonexistent/ca.pem: cannot read",
        ),
        (
            vec![
                "--allow-writes",
                "--notify",
                "http://127.0.0.1:9/x",
                "--notify-ca-file",
                "ca.pem",
            ],
            "without an https://",
        ),
        (vec!["--allow-writes", "--notify", "127.0.0.1:9"], "http://"),
        (vec!["--notify-secret", "s"], "without --notify"),
    ] {
        let mut all = vec!["--addr", "127.0.0.1:0"];
        all.extend(args.iter().copied());
        let out = serve_refused(&data, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
