//! `ledger serve --notify https://…` (issue 17): push alerts go over TLS, the receiver's
//! certificate checked against Mozilla's roots plus `--notify-ca-file`; a receiver whose
//! certificate is not trusted gets nothing and the event is dead-lettered with the reason.
//! The receiver is local, with a certificate signed by a test CA (`fixtures/tls/`).

mod serve_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use serve_common::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A local https receiver answering 204; keeps the bodies it got.
struct TlsReceiver {
    url: String,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TlsReceiver {
    fn start() -> TlsReceiver {
        let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/hooks/ledger", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let Some(body) = read_body(&mut tls) else {
                    continue;
                };
                log.lock().unwrap().push(body);
                let _ = tls.write_all(
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        TlsReceiver { url, got }
    }

    fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The body of one HTTP request (Content-Length framed); `None` if the handshake or the read
/// failed (a client that does not trust the certificate hangs up).
fn read_body(stream: &mut impl Read) -> Option<Vec<u8>> {
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
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some(body)
}

/// A MACC milestone 54 days after the invoice: one alert at level 60.
const AGREEMENT: &str = "account = \"alert-co\"\ncurrency = \"USD\"\n\n\
[[macc]]\nid = \"macc-2025\"\namount = \"100000\"\nstart = \"2025-01-01\"\nend = \"2025-06-30\"\n\
  [[macc.milestones]]\n  id = \"M1\"\n  due = \"2025-03-31\"\n  target = \"50000\"\n";

const CHARGES: &str = "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n\
INV-A,2025-02-05,2025-01-01,2025-01-31,Ops,2025-01-15,usage,1000,USD\n";

fn post(server: &Server, path: &str, body: &str) {
    let response = server.request(
        "POST",
        path,
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
    );
    assert_eq!(response.status, 200, "POST {path}: {}", response.text());
}

#[test]
fn alerts_are_pushed_over_https_to_a_receiver_the_ca_file_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let receiver = TlsReceiver::start();
    let ca = fixture("ca.pem");
    let server = Server::start(
        &data,
        &[
            "--allow-writes",
            "--notify",
            &receiver.url,
            "--notify-secret",
            "s",
            "--notify-ca-file",
            ca.to_str().unwrap(),
        ],
    );
    post(&server, "/ledger/agreements", AGREEMENT);
    post(&server, "/ledger/charges", CHARGES);
    let got = receiver.wait_for(1);
    assert!(
        !got.is_empty(),
        "nothing arrived over https: {}",
        server.stderr()
    );
    let event: Value = serde_json::from_slice(&got[0]).expect("a JSON body");
    assert_eq!(event["specversion"], "1.0", "{event:#}");
    assert_eq!(event["data"]["account"], "alert-co", "{event:#}");
}

#[test]
fn an_untrusted_certificate_gets_nothing_and_the_event_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dead_letter = dir.path().join("lost.jsonl");
    let receiver = TlsReceiver::start();
    let server = Server::start(
        &data,
        &[
            "--allow-writes",
            "--notify",
            &receiver.url,
            "--notify-secret",
            "s",
            "--notify-attempts",
            "1",
            "--notify-dead-letter",
            dead_letter.to_str().unwrap(),
        ],
    );
    post(&server, "/ledger/agreements", AGREEMENT);
    post(&server, "/ledger/charges", CHARGES);
    let deadline = Instant::now() + Duration::from_secs(30);
    let line: Value = loop {
        let text = std::fs::read_to_string(&dead_letter).unwrap_or_default();
        if let Some(first) = text.lines().next() {
            break serde_json::from_str(first).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "nothing dead-lettered: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let error = line["error"].as_str().unwrap().to_ascii_lowercase();
    assert!(error.contains("certificate"), "{line:#}");
    assert!(receiver.got.lock().unwrap().is_empty());
}
