//! Push alerts: `--notify URL` (repeatable) posts a CloudEvents 1.0 event (structured JSON)
//! for each thing a write made newly worth telling ([`ledger_app::replay::crossings`]): a
//! deadline reaching 90, 60 or 30 days, a burn-rate risk turning High, a milestone missed, a
//! credit about to expire with a balance. Judged as of the ledger clock: `time` is the ledger
//! clock, and `id` is derived from the account, the thing, the level and that date, so a
//! retry, or the same alert told again, carries the same id.
//!
//! An `https://` URL is posted over TLS ([`connector`]: rustls with Mozilla's roots, plus the
//! CA certificates of `--notify-ca-file`).
//!
//! Delivery never blocks nor fails a write: events are queued (one bounded queue and one
//! worker per URL) after the write is recorded. A worker POSTs with
//! `Content-Type: application/cloudevents+json; charset=UTF-8` and, with `--notify-secret`,
//! `X-Ledger-Signature-256: sha256=<hex HMAC-SHA256 of the body>`; any 2xx is delivered.
//! A connection failure, a timeout, 408, 429 or 5xx is retried after `--notify-retry`, doubling
//! up to [`MAX_RETRY_DELAY`], `--notify-attempts` times in all; any other answer (a 401 for a
//! bad signature) is not retried. What could not be delivered, or was still queued when the
//! server stopped, is appended to the dead-letter file (JSON Lines: url, attempts, error,
//! failedAt, event).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use hmac::{Hmac, Mac};
use ledger_app::core::Date;
use ledger_app::replay::crossings::Crossing;
use ledger_render::json::{account_path, Amount};
use serde::Serialize;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

/// Events waiting per URL; more are dead-lettered at once (the receiver is far behind).
const QUEUE: usize = 1024;
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// One attempt: connect, send, read the status line.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// `--notify` and its companions.
#[derive(Clone, Debug, Default)]
pub struct NotifyOptions {
    pub urls: Vec<String>,
    pub secret: Option<String>,
    /// Default: `DATA/notify-dead-letter.jsonl`.
    pub dead_letter: Option<PathBuf>,
    pub attempts: u32,
    pub first_retry: Duration,
    /// `--notify-ca-file`: CA certificates (PEM) trusted for https URLs besides Mozilla's roots.
    pub ca_file: Option<PathBuf>,
}

/// Where to POST: `http[s]://host[:port]/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    host: String,
    port: u16,
    path: String,
    /// `https`: the POST goes over TLS, the receiver's certificate checked for `host`.
    pub tls: bool,
}

/// An `http://` or `https://` URL.
pub fn parse_target(url: &str) -> Result<Target, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("--notify {url}: not a URL ({e})"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(format!(
                "--notify {url}: expected an http:// or https:// URL"
            ))
        }
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("--notify {url}: the URL has no host"))?;
    Ok(Target {
        url: url.to_string(),
        host: host.to_string(),
        port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        path: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into()),
        tls,
    })
}

/// The TLS client of https targets: Mozilla's root certificates (webpki-roots, compiled in)
/// and the CA certificates of `ca_file` (PEM), TLS 1.2 and 1.3 with rustls' safe defaults.
pub fn connector(ca_file: Option<&Path>) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--notify-ca-file {shown}: cannot read PEM certificates ({e})"))?;
        if certs.is_empty() {
            return Err(format!(
                "--notify-ca-file {shown}: no CERTIFICATE block in the file"
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                format!("--notify-ca-file {shown}: not a usable CA certificate ({e})")
            })?;
        }
    }
    // ring, not rustls' default aws-lc-rs (which needs cmake and a C toolchain to build):
    // rustls 0.23.48 deprecates ring's provider only because it lacks post-quantum key
    // exchange, which a webhook's short-lived POST does not need (ARCHITECTURE.md).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS for --notify: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A CloudEvents 1.0 event (structured mode).
#[derive(Clone, Debug, Serialize)]
pub struct CloudEvent {
    pub specversion: &'static str,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub subject: String,
    pub time: String,
    pub datacontenttype: &'static str,
    pub data: AlertData,
}

/// What an event says (`data`); amounts are exact.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertData {
    pub account: String,
    pub currency: String,
    /// `macc`, `caco`, `milestone` (of a MACC or CACO: see `parent`), `credit`.
    pub kind: &'static str,
    pub id: String,
    pub parent: Option<String>,
    /// 90, 60 or 30 (deadlines and expiring credits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<&'static str>,
    /// The deadline: an end, a due date, an expiry.
    pub end_date: String,
    /// What is left to consume; for a missed milestone, the shortfall invoiced (MACC) or the
    /// award forfeited (CACO); for a credit, its balance.
    pub amount: Amount,
    /// The ledger clock the crossing was judged at.
    pub as_of: String,
}

/// The event of one crossing of `account` (currency `currency`) judged at `as_of`.
pub fn event(account: &str, currency: &str, as_of: Date, crossing: &Crossing) -> CloudEvent {
    let data = |kind, id: &str, parent: Option<&String>, end: Date, amount| AlertData {
        account: account.to_string(),
        currency: currency.to_string(),
        kind,
        id: id.to_string(),
        parent: parent.cloned(),
        alert: None,
        days_left: None,
        risk: None,
        end_date: end.to_string(),
        amount: Amount(amount),
        as_of: as_of.to_string(),
    };
    let subject = |kind: &str, id: &str, parent: Option<&String>| match (kind, parent) {
        ("macc", _) => format!("maccs/{id}"),
        ("caco", _) => format!("conditionalCredits/{id}"),
        (_, Some(p)) => format!("commitments/{p}/milestones/{id}"),
        _ => format!("milestones/{id}"),
    };
    let (kind, what, subject, data) = match crossing {
        Crossing::Deadline {
            kind,
            id,
            parent,
            level,
            days_left,
            end,
            remaining,
        } => {
            let mut d = data(kind, id, parent.as_ref(), *end, *remaining);
            d.alert = Some(*level);
            d.days_left = Some(*days_left);
            (
                "ledger.commitment.deadline",
                format!("deadline-{level}"),
                subject(kind, id, parent.as_ref()),
                d,
            )
        }
        Crossing::RiskHigh {
            kind,
            id,
            parent,
            end,
            remaining,
        } => {
            let mut d = data(kind, id, parent.as_ref(), *end, *remaining);
            d.risk = Some("High");
            (
                "ledger.commitment.risk",
                "risk-high".to_string(),
                subject(kind, id, parent.as_ref()),
                d,
            )
        }
        Crossing::MilestoneMissed {
            kind,
            parent,
            milestone,
            due,
            amount,
        } => {
            let d = data("milestone", milestone, Some(parent), *due, *amount);
            let subject = match *kind {
                "macc" => format!("maccs/{parent}/milestones/{milestone}"),
                _ => format!("conditionalCredits/{parent}/milestones/{milestone}"),
            };
            ("ledger.milestone.missed", "missed".to_string(), subject, d)
        }
        Crossing::CreditExpiring {
            lot,
            level,
            days_left,
            expires,
            balance,
        } => {
            let mut d = data("credit", lot, None, *expires, *balance);
            d.alert = Some(*level);
            d.days_left = Some(*days_left);
            (
                "ledger.credit.expiring",
                format!("expiring-{level}"),
                format!("credits/{lot}"),
                d,
            )
        }
    };
    CloudEvent {
        specversion: "1.0",
        id: format!("{account}/{subject}/{what}/{as_of}"),
        source: account_path(account),
        kind,
        subject,
        time: format!("{as_of}T00:00:00Z"),
        datacontenttype: "application/json",
        data,
    }
}

/// The hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the events of a write go: one queue per URL (the handlers' side).
#[derive(Clone)]
pub struct Queues {
    queues: Vec<(String, mpsc::Sender<CloudEvent>)>,
    dead_letter: PathBuf,
}

impl Queues {
    /// Queue `events` for every URL; never waits (a full queue dead-letters the event).
    pub fn send(&self, events: &[CloudEvent]) {
        for (url, queue) in &self.queues {
            for event in events {
                if queue.try_send(event.clone()).is_err() {
                    dead_letter(
                        &self.dead_letter,
                        url,
                        0,
                        "the delivery queue was full",
                        event,
                    );
                }
            }
        }
    }
}

/// The workers that deliver (the server's side).
pub struct Workers {
    stop: watch::Sender<bool>,
    workers: tokio::task::JoinSet<()>,
}

/// Start a worker per target (on the current runtime): the queues to send to, and the workers.
pub fn start(targets: Vec<Target>, options: &NotifyOptions, data: &Path) -> (Queues, Workers) {
    let dead_letter = options
        .dead_letter
        .clone()
        .unwrap_or_else(|| data.join("notify-dead-letter.jsonl"));
    // Checked before the server started (`notify_targets`); a failure here cannot happen, and
    // would only make https deliveries fail (and be dead-lettered).
    let tls = targets
        .iter()
        .any(|t| t.tls)
        .then(|| connector(options.ca_file.as_deref()).ok())
        .flatten();
    let (stop, stopping) = watch::channel(false);
    let mut workers = tokio::task::JoinSet::new();
    let mut queues = Vec::new();
    for target in targets {
        let (tx, rx) = mpsc::channel(QUEUE);
        queues.push((target.url.clone(), tx));
        let worker = Worker {
            tls: tls.clone().filter(|_| target.tls),
            target,
            secret: options.secret.clone(),
            attempts: options.attempts.max(1),
            first_retry: options.first_retry,
            dead_letter: dead_letter.clone(),
        };
        workers.spawn(worker.run(rx, stopping.clone()));
    }
    (
        Queues {
            queues,
            dead_letter,
        },
        Workers { stop, workers },
    )
}

impl Workers {
    /// Once every [`Queues`] is dropped: deliver what is queued for at most `grace`; what is
    /// left then goes to the dead-letter file.
    pub async fn stop(mut self, grace: Duration) {
        let drained = tokio::time::timeout(grace, async {
            while self.workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            let _ = self.stop.send(true);
            while self.workers.join_next().await.is_some() {}
        }
    }
}

struct Worker {
    target: Target,
    /// For an https target.
    tls: Option<TlsConnector>,
    secret: Option<String>,
    attempts: u32,
    first_retry: Duration,
    dead_letter: PathBuf,
}

/// How an attempt ended.
enum Outcome {
    Delivered,
    /// Worth trying again.
    Retry(String),
    /// Not worth trying again.
    Refused(String),
}

impl Worker {
    async fn run(self, mut queue: mpsc::Receiver<CloudEvent>, mut stopping: watch::Receiver<bool>) {
        while let Some(event) = queue.recv().await {
            if *stopping.borrow() {
                self.lost(0, "the server stopped before delivering it", &event);
                continue;
            }
            self.deliver(&event, &mut stopping).await;
        }
    }

    async fn deliver(&self, event: &CloudEvent, stopping: &mut watch::Receiver<bool>) {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => return self.lost(0, &format!("cannot write the event: {e}"), event),
        };
        let mut delay = self.first_retry;
        for attempt in 1..=self.attempts {
            match self.post(&body).await {
                Outcome::Delivered => return,
                Outcome::Refused(why) => return self.lost(attempt, &why, event),
                Outcome::Retry(why) if attempt == self.attempts => {
                    return self.lost(attempt, &why, event)
                }
                Outcome::Retry(why) => {
                    tracing::debug!(target: "ledger::serve", url = %self.target.url, attempt, "notification not delivered: {why}; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopping.changed() => {
                            return self.lost(attempt, &format!("{why}; the server stopped before the next attempt"), event);
                        }
                    }
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
            }
        }
    }

    fn lost(&self, attempts: u32, why: &str, event: &CloudEvent) {
        tracing::warn!(target: "ledger::serve", url = %self.target.url, attempts, "notification {} not delivered: {why}", event.id);
        dead_letter(&self.dead_letter, &self.target.url, attempts, why, event);
    }

    async fn post(&self, body: &[u8]) -> Outcome {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, self.exchange(body)).await {
            Err(_) => Outcome::Retry(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
            Ok(Err(e)) => Outcome::Retry(e.to_string()),
            Ok(Ok(status)) => match status {
                200..=299 => Outcome::Delivered,
                408 | 429 | 500..=599 => Outcome::Retry(format!("HTTP {status}")),
                _ => Outcome::Refused(format!("HTTP {status}")),
            },
        }
    }

    /// One HTTP/1.1 POST: the status code of the answer.
    async fn exchange(&self, body: &[u8]) -> std::io::Result<u16> {
        let t = &self.target;
        let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port)).await?;
        if !t.tls {
            return self.post_on(stream, body).await;
        }
        let connector = self
            .tls
            .as_ref()
            .ok_or_else(|| std::io::Error::other("TLS is not set up (see --notify-ca-file)"))?;
        let host = t.host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let stream = connector.connect(name, stream).await?;
        self.post_on(stream, body).await
    }

    /// The POST on a connected stream (plain or TLS).
    async fn post_on<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        body: &[u8],
    ) -> std::io::Result<u16> {
        let t = &self.target;
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: ledger-serve/{}\r\nContent-Type: application/cloudevents+json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            t.path,
            t.host,
            t.port,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        if let Some(secret) = &self.secret {
            head.push_str(&format!(
                "X-Ledger-Signature-256: sha256={}\r\n",
                signature(secret, body)
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await?;
        // The status line is all that matters: `HTTP/1.1 204 No Content`.
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < 4096 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&answer);
        line.split_whitespace()
            .nth(1)
            .filter(|_| line.starts_with("HTTP/"))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the receiver did not answer HTTP",
                )
            })
    }
}

/// Append a lost event to the dead-letter file (one JSON object per line).
fn dead_letter(path: &Path, url: &str, attempts: u32, why: &str, event: &CloudEvent) {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Lost<'a> {
        url: &'a str,
        attempts: u32,
        error: &'a str,
        /// Wall-clock time of the failure (the event itself carries the ledger clock).
        failed_at: String,
        event: &'a CloudEvent,
    }
    let line = Lost {
        url,
        attempts,
        error: why,
        failed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        event,
    };
    let written = serde_json::to_vec(&line)
        .map_err(std::io::Error::other)
        .and_then(|mut bytes| {
            bytes.push(b'\n');
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            file.write_all(&bytes)?;
            file.sync_data()
        });
    if let Err(e) = written {
        tracing::error!(target: "ledger::serve", "cannot write the undelivered notification {} to {}: {e}", event.id, path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_plain_http() {
        let t = parse_target("http://127.0.0.1:9000/hook?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/hook?x=1")
        );
        let t = parse_target("http://example.com").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t = parse_target("https://example.com/x").unwrap();
        assert_eq!((t.port, t.tls), (443, true));
        assert!(parse_target("ftp://x").is_err());
        assert!(parse_target("not a url").is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn ids_are_the_same_for_the_same_crossing_and_clock() {
        let as_of = Date::parse("2025-02-05").unwrap();
        let crossing = Crossing::Deadline {
            kind: "milestone",
            id: "M1".into(),
            parent: Some("macc-2025".into()),
            level: 60,
            days_left: 54,
            end: Date::parse("2025-03-31").unwrap(),
            remaining: ledger_app::core::Money::parse("2000").unwrap(),
        };
        let a = event("contoso", "USD", as_of, &crossing);
        let b = event("contoso", "USD", as_of, &crossing);
        assert_eq!(a.id, b.id);
        assert_eq!(
            a.id,
            "contoso/commitments/macc-2025/milestones/M1/deadline-60/2025-02-05"
        );
        assert_eq!(a.time, "2025-02-05T00:00:00Z");
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""amount":2000.0"#), "{text}");
        assert!(
            text.contains(r#""type":"ledger.commitment.deadline""#),
            "{text}"
        );
    }
}
