//! What the `ledger serve` tests share: a ledger built by the real binary from generated charge
//! lines, a server started on a free loopback port (port 0, the chosen port read from its first
//! line of output) and stopped with SIGTERM, and a minimal HTTP/1.1 client over a TCP stream
//! that can also send what a well-behaved client never would (huge headers, raw paths).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The billing account with Azure's MCA id shape, `:` included (clients send it as `%3A`).
pub const COLON_ACCOUNT: &str =
    "7ca289b9-c32d-5f7d-a4b3-4f6d5e1b3a2c:0f5b8b3c-1e2d-4c5b-9a6f-2b3c4d5e6f70_2019-05-31";

pub fn ledger_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ledger")
}

/// Run `ledger --data DATA ARGS`; panics unless it exits 0.
pub fn ledger_ok(data: &Path, args: &[&str]) -> String {
    let out = ledger(data, args);
    assert!(
        out.status.success(),
        "`ledger {}` exited {:?}: {}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

pub fn ledger(data: &Path, args: &[&str]) -> Output {
    Command::new(ledger_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LEDGER_DATA")
        .env_remove("LEDGER_TOKEN")
        .output()
        .expect("run the ledger binary")
}

/// A temporary directory with a ledger (`data/`) built from `ledger gen` output.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// `lines` generated charge lines over `accounts` accounts; the second account (if any)
    /// is renamed to [`COLON_ACCOUNT`].
    pub fn generated(lines: u64, accounts: u32) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let fixture = Fixture { dir };
        let csv = fixture.path("charges.csv");
        let lines_text = lines.to_string();
        let accounts_text = accounts.to_string();
        ledger_ok(
            &fixture.data(),
            &[
                "gen",
                "--lines",
                &lines_text,
                "--accounts",
                &accounts_text,
                "--out",
                csv.to_str().unwrap(),
            ],
        );
        let mut agreements: Vec<PathBuf> = std::fs::read_dir(fixture.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("charges-agreement-")
            })
            .collect();
        agreements.sort();
        if accounts >= 2 {
            // Rename one account everywhere it appears (agreement, account column, invoice ids).
            let victim = agreements
                .iter()
                .map(|p| {
                    p.file_stem()
                        .unwrap()
                        .to_string_lossy()
                        .trim_start_matches("charges-agreement-")
                        .to_string()
                })
                .nth(1)
                .unwrap();
            for file in agreements.iter().chain(std::iter::once(&csv)) {
                let text = std::fs::read_to_string(file).unwrap();
                std::fs::write(file, text.replace(&victim, COLON_ACCOUNT)).unwrap();
            }
        }
        let mut args = vec!["agreement".to_string()];
        args.extend(agreements.iter().map(|p| p.to_string_lossy().into_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ledger_ok(&fixture.data(), &args);
        ledger_ok(&fixture.data(), &["ingest", csv.to_str().unwrap()]);
        fixture
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `ledger lots --json` / `ledger events --json` / ... as JSON.
    pub fn cli_json(&self, verb: &str) -> Value {
        serde_json::from_str(&ledger_ok(&self.data(), &[verb, "--json"])).expect("CLI JSON")
    }
}

/// Run `ledger --data DATA serve ARGS` expecting it to refuse to start: its output once it
/// exits. Panics if it is still running after 30 s (it started).
pub fn serve_refused(data: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(ledger_bin())
        .arg("--data")
        .arg(data)
        .arg("serve")
        .args(args)
        .env_remove("LEDGER_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ledger serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`ledger serve {}` started instead of refusing: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A running `ledger serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr_path: PathBuf,
    _stderr_dir: tempfile::TempDir,
}

impl Server {
    /// Start `ledger --data DATA serve --addr 127.0.0.1:0 EXTRA...`, wait for its address.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data, extra, &[])
    }

    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_at(data, "127.0.0.1:0", extra, env)
    }

    /// Start `ledger --data DATA serve --addr ADDR EXTRA...` (ADDR with port 0).
    pub fn start_at(data: &Path, addr: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let stderr_dir = tempfile::tempdir().unwrap();
        let stderr_path = stderr_dir.path().join("serve.err");
        let mut child = Command::new(ledger_bin())
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", addr])
            .args(extra)
            .env_remove("LEDGER_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("start ledger serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                panic!(
                    "ledger serve did not say where it listens ({other:?}): {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
        };
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server {
            child,
            addr,
            stderr_path,
            _stderr_dir: stderr_dir,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGTERM, then wait (at most `limit`) for the exit; the exit status and stdout's rest.
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "ledger serve did not stop within {limit:?} of SIGTERM: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, target: &str, token: Option<&str>) -> Response {
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        self.raw(
            format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
                self.addr
            )
            .as_bytes(),
        )
    }

    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    /// Send raw bytes, read the whole response (the server closes: `Connection: close`).
    pub fn raw(&self, request: &[u8]) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        // A server may answer and close before reading all of a huge request: keep what it said.
        let _ = stream.write_all(request);
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        Response::parse(&bytes)
    }

    /// Every page of a list, following `nextLink` (absolute URLs on this server).
    pub fn get_all(&self, target: &str, token: Option<&str>) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut next = Some(target.to_string());
        let mut pages = 0;
        while let Some(target) = next.take() {
            let response = self.get(&target, token);
            assert_eq!(response.status, 200, "GET {target}: {}", response.text());
            let page = response.json();
            items.extend(page["value"].as_array().expect("value").iter().cloned());
            if let Some(link) = page.get("nextLink").and_then(Value::as_str) {
                let origin = format!("http://{}", self.addr);
                assert!(
                    link.starts_with(&origin),
                    "nextLink {link} is not an absolute URL on {origin}"
                );
                next = Some(link[origin.len()..].to_string());
            }
            pages += 1;
            assert!(pages < 100_000, "too many pages");
        }
        (items, pages)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(bytes: &[u8]) -> Response {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = bytes[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Assert an Azure error: this status, this code, a JSON content type, a message.
    pub fn assert_azure_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "expected {status} {code}, got: {} {}",
            self.status,
            self.text()
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"]
            .as_str()
            .expect("error.message")
            .to_string();
        assert!(!message.is_empty());
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "only `error` at the top: {body}"
        );
        message
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 2 + size + 2..];
    }
}

/// `/providers/Microsoft.Billing/billingAccounts/{account}` with `:` as `%3A`.
pub fn account_base(account: &str) -> String {
    format!(
        "/providers/Microsoft.Billing/billingAccounts/{}",
        account.replace(':', "%3A")
    )
}

/// The billing account of a resource id.
pub fn account_of(id: &str) -> String {
    let rest = id
        .strip_prefix("/providers/Microsoft.Billing/billingAccounts/")
        .expect("account id");
    rest.split('/').next().unwrap().replace("%3A", ":")
}

/// The CLI's list for one account.
pub fn for_account(list: &Value, account: &str) -> Vec<Value> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| account_of(v["id"].as_str().unwrap()) == account)
        .cloned()
        .collect()
}
