//! Bounded load test of `ledger serve`: C concurrent keep-alive clients × R requests each
//! against a ledger of N generated charge lines, on loopback only. Reports p50/p90/p99/max
//! latency, requests/s and errors; exits 1 on any error (a non-200, a body that is not the
//! expected JSON, a connection failure) or when the run exceeds its time bound.
//!
//! ```text
//! cargo build --release -p tools --bin ledger --example loadtest
//! target/release/examples/loadtest                      # 1M lines, 4 accounts, 32 × 500
//! target/release/examples/loadtest --lines 100000 --clients 8 --requests 200
//! target/release/examples/loadtest --data DIR           # an existing ledger, as it is
//! ```
//!
//! The request mix cycles through every read endpoint: lots (plain and filtered), pages of
//! events (`$top=100` at every `$skiptoken`, and date windows), CACO, invoices and alerts, for
//! every account. The client is a minimal HTTP/1.1 keep-alive client on tokio (requests carry
//! `Connection: keep-alive`; responses are read by Content-Length), so what is measured is the
//! server, not a client library.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Options {
    lines: u64,
    accounts: u32,
    clients: usize,
    requests: usize,
    data: Option<PathBuf>,
    ledger: PathBuf,
    time_limit: Duration,
}

fn usage() -> ! {
    eprintln!("usage: loadtest [--lines N] [--accounts A] [--clients C] [--requests R] [--data DIR] [--ledger BIN] [--time-limit SECONDS]");
    std::process::exit(2)
}

fn options() -> Options {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/examples/loadtest -> target/<profile>/ledger
    let default_ledger = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("ledger"))
        .unwrap_or_else(|| PathBuf::from("ledger"));
    let mut o = Options {
        lines: 1_000_000,
        accounts: 4,
        clients: 32,
        requests: 500,
        data: None,
        ledger: default_ledger,
        time_limit: Duration::from_secs(600),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--lines" => o.lines = value().parse().unwrap_or_else(|_| usage()),
            "--accounts" => o.accounts = value().parse().unwrap_or_else(|_| usage()),
            "--clients" => o.clients = value().parse().unwrap_or_else(|_| usage()),
            "--requests" => o.requests = value().parse().unwrap_or_else(|_| usage()),
            "--data" => o.data = Some(PathBuf::from(value())),
            "--ledger" => o.ledger = PathBuf::from(value()),
            "--time-limit" => {
                o.time_limit = Duration::from_secs(value().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    if o.clients == 0 || o.requests == 0 || o.clients > 1024 || o.requests > 1_000_000 {
        usage();
    }
    o
}

fn run(ledger: &Path, data: &Path, args: &[&str]) -> String {
    let started = Instant::now();
    let out = Command::new(ledger)
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LEDGER_TOKEN")
        .output()
        .expect("run ledger");
    if !out.status.success() {
        eprintln!(
            "loadtest: `ledger {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    eprintln!(
        "loadtest: ledger {} ({:.1} s)",
        args.join(" "),
        started.elapsed().as_secs_f64()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Build a ledger of `lines` generated lines in `dir`.
fn build_ledger(o: &Options, dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let csv = dir.join("charges.csv");
    let csv_text = csv.to_str().unwrap();
    run(
        &o.ledger,
        &data,
        &[
            "gen",
            "--lines",
            &o.lines.to_string(),
            "--accounts",
            &o.accounts.to_string(),
            "--out",
            csv_text,
        ],
    );
    let mut agreement_args = vec!["agreement".to_string()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("charges-agreement-")
        {
            agreement_args.push(path.to_string_lossy().into_owned());
        }
    }
    let agreement_args: Vec<&str> = agreement_args.iter().map(String::as_str).collect();
    run(&o.ledger, &data, &agreement_args);
    run(&o.ledger, &data, &["ingest", csv_text]);
    std::fs::remove_file(&csv).ok();
    data
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(ledger: &Path, data: &Path, token: &str) -> Server {
    use std::io::BufRead;
    let mut child = Command::new(ledger)
        .arg("--data")
        .arg(data)
        .args(["serve", "--addr", "127.0.0.1:0", "--token", token])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ledger serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("serve output");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string);
    match addr {
        Some(addr) => Server { child, addr },
        None => {
            let _ = child.kill();
            eprintln!("loadtest: ledger serve did not start: {line}");
            std::process::exit(1);
        }
    }
}

/// Peak resident memory of a process, from /proc (Linux), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    reader: BufReader<TcpStream>,
    host: String,
    token: String,
}

impl Client {
    async fn connect(addr: &str, token: &str) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::new(stream),
            host: addr.to_string(),
            token: token.to_string(),
        })
    }

    /// GET `target`: the status and the body.
    async fn get(&mut self, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: keep-alive\r\n\r\n", self.host, self.token);
        self.reader.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(bad("connection closed in the headers".into()));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| bad("no Content-Length".into()))?;
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

fn bad(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// The request mix: every read endpoint of every account.
async fn targets(addr: &str, token: &str) -> Vec<String> {
    let mut client = Client::connect(addr, token).await.expect("connect");
    // The JSON index of the API (`/` is the HTML report).
    let (status, body) = client.get("/api").await.expect("GET /api");
    assert_eq!(status, 200);
    let index: Value = serde_json::from_slice(&body).expect("index JSON");
    let api = "api-version=2024-08-01";
    let mut targets = Vec::new();
    for account in index["accounts"].as_array().expect("accounts") {
        let base = format!(
            "/providers/Microsoft.Billing/billingAccounts/{}",
            account.as_str().unwrap().replace(':', "%3A")
        );
        let lots = format!("{base}/providers/Microsoft.Consumption/lots?{api}");
        let events = format!("{base}/providers/Microsoft.Consumption/events?{api}");
        targets.push(lots.clone());
        targets.push(format!("{lots}&$filter=source%20eq%20%27ConsumptionCommitment%27%20and%20status%20eq%20%27active%27"));
        let (_, body) = client
            .get(&format!("{events}&$top=1000"))
            .await
            .expect("events");
        let first: Value = serde_json::from_slice(&body).expect("events JSON");
        let mut count = first["value"].as_array().map(Vec::len).unwrap_or(0);
        let mut next = first["nextLink"].as_str().map(str::to_string);
        while let Some(link) = next.take() {
            let path = &link[link.find("/providers").unwrap()..];
            let (_, body) = client.get(path).await.expect("events page");
            let page: Value = serde_json::from_slice(&body).expect("events JSON");
            count += page["value"].as_array().map(Vec::len).unwrap_or(0);
            next = page["nextLink"].as_str().map(str::to_string);
        }
        for skip in (0..count.max(1)).step_by(100) {
            targets.push(format!("{events}&$top=100&$skiptoken={skip}"));
        }
        targets.push(format!("{events}&startDate=2024-03-01&endDate=2024-06-30"));
        targets.push(format!(
            "{events}&$filter=lotSource%20eq%20%27PromotionalCredit%27"
        ));
        targets.push(format!("{base}/caco"));
        targets.push(format!("{base}/invoices"));
        targets.push(format!("{base}/alerts?asOf=2024-10-01"));
    }
    targets
}

#[derive(Default)]
struct ClientResult {
    latencies_us: Vec<u64>,
    errors: Vec<String>,
    bytes: u64,
}

async fn client_run(
    addr: Arc<str>,
    token: Arc<str>,
    targets: Arc<Vec<String>>,
    index: usize,
    requests: usize,
) -> ClientResult {
    let mut result = ClientResult {
        latencies_us: Vec::with_capacity(requests),
        ..Default::default()
    };
    let mut client = match Client::connect(&addr, &token).await {
        Ok(c) => c,
        Err(e) => {
            result.errors.push(format!("client {index}: connect: {e}"));
            return result;
        }
    };
    for k in 0..requests {
        let target = &targets[(index * 7919 + k) % targets.len()];
        let started = Instant::now();
        match client.get(target).await {
            Ok((200, body)) => {
                result
                    .latencies_us
                    .push(started.elapsed().as_micros() as u64);
                result.bytes += body.len() as u64;
                if body.first() != Some(&b'{') || body.last() != Some(&b'}') {
                    result
                        .errors
                        .push(format!("GET {target}: not a JSON object"));
                }
            }
            Ok((status, body)) => {
                result.errors.push(format!(
                    "GET {target}: {status} {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            Err(e) => {
                result.errors.push(format!("GET {target}: {e}"));
                match Client::connect(&addr, &token).await {
                    Ok(c) => client = c,
                    Err(_) => return result,
                }
            }
        }
    }
    result
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let o = options();
    let temp = tempfile::tempdir().expect("temp dir");
    let data = match &o.data {
        Some(d) => d.clone(),
        None => build_ledger(&o, temp.path()),
    };
    let token = "loadtest-token";
    let server = start_server(&o.ledger, &data, token);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr: Arc<str> = Arc::from(server.addr.as_str());
    let token: Arc<str> = Arc::from(token);
    let targets = Arc::new(runtime.block_on(targets(&addr, &token)));
    eprintln!(
        "loadtest: {} clients x {} requests against {} ({} distinct requests); time limit {} s",
        o.clients,
        o.requests,
        addr,
        targets.len(),
        o.time_limit.as_secs()
    );
    let started = Instant::now();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..o.clients)
            .map(|i| {
                tokio::spawn(client_run(
                    addr.clone(),
                    token.clone(),
                    targets.clone(),
                    i,
                    o.requests,
                ))
            })
            .collect();
        let all = async {
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap_or_default());
            }
            results
        };
        tokio::time::timeout(o.time_limit, all).await
    });
    let elapsed = started.elapsed().as_secs_f64();
    let Ok(results) = results else {
        eprintln!(
            "loadtest: FAILED: the run exceeded its time limit of {} s",
            o.time_limit.as_secs()
        );
        std::process::exit(1);
    };
    let rss = peak_rss_mib(server.child.id());
    drop(server);

    let mut latencies: Vec<u64> = results
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let errors: Vec<&String> = results.iter().flat_map(|r| r.errors.iter()).collect();
    let bytes: u64 = results.iter().map(|r| r.bytes).sum();
    let total = o.clients * o.requests;
    let ok = latencies.len();
    println!(
        "ledger serve load test: {} lines, {} accounts; {} clients x {} requests = {total}",
        if o.data.is_some() {
            "existing ledger".to_string()
        } else {
            o.lines.to_string()
        },
        o.accounts,
        o.clients,
        o.requests
    );
    println!(
        "ok {ok}, errors {}; {:.0} requests/s; latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}; {:.1} MB received; server peak RSS {}",
        errors.len(),
        ok as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        bytes as f64 / 1e6,
        rss.map(|r| format!("{r:.0} MiB")).unwrap_or_else(|| "unknown".into())
    );
    println!(
        "| {} lines, {} accounts | {} x {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
        o.lines,
        o.accounts,
        o.clients,
        o.requests,
        ok as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        errors.len()
    );
    for e in errors.iter().take(10) {
        eprintln!("loadtest: {e}");
    }
    if !errors.is_empty() || ok != total {
        eprintln!(
            "loadtest: FAILED: {} errors, {ok} of {total} requests answered 200",
            errors.len()
        );
        std::process::exit(1);
    }
}
