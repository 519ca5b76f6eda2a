//! What the handlers share: the options the server was started with, the write mutex (one
//! write at a time) and the projections every read answers from (the published snapshots,
//! picked up again when another process publishes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ledger_app::replay::publish::load_published;
use ledger_app::replay::Projections;
use ledger_app::store::published::read_index;

use super::access::Access;
use super::notify::{CloudEvent, NotifyOptions, Queues};

/// `ledger serve` options (the command line's `--addr`, `--token`, ...).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    pub addr: String,
    /// Require `Authorization: Bearer TOKEN` on every request (else 401).
    pub token: Option<String>,
    /// Tokens per customer, each with the accounts it may read (and write).
    pub tokens_file: Option<PathBuf>,
    /// Accept agreements and charge files over HTTP (POST /ledger/agreements, /ledger/charges).
    pub allow_writes: bool,
    /// Items per page of lots and events when the request gives no $top (1 to 1000).
    pub page_size: usize,
    /// The largest request body a write accepts, in bytes (larger: 413).
    pub max_upload_bytes: u64,
    /// Uploads received at once (more: 503).
    pub max_uploads: usize,
    /// Connections open at once (more: 503 and closed).
    pub max_connections: usize,
    /// From its first byte, a request's line and headers must arrive within this.
    pub header_timeout: Duration,
    /// A connection with no bytes moving for this long (no request being answered) is closed;
    /// an upload that stalls for this long is answered 408.
    pub idle_timeout: Duration,
    /// Push alerts (`--notify URL`...).
    pub notify: NotifyOptions,
}

impl ServeOptions {
    /// The options of `ledger serve` with no flags, listening on `addr`.
    pub fn new(addr: &str) -> ServeOptions {
        ServeOptions {
            addr: addr.to_string(),
            token: None,
            tokens_file: None,
            allow_writes: false,
            page_size: 100,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_uploads: 2,
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            notify: NotifyOptions {
                attempts: 6,
                first_retry: Duration::from_secs(1),
                ..NotifyOptions::default()
            },
        }
    }
}

/// The default `--max-upload-bytes`: 256 MiB, a month of a large account's cost export.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 256 << 20;

/// A duration as the command line spells it: `10s`, `500ms`, `2m`, or a plain number of
/// seconds; more than zero and at most a day.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        (text, 1_000)
    };
    let value: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: expected e.g. 10s, 500ms or 2m"))?;
    let ms = value.saturating_mul(unit_ms);
    if ms == 0 || ms > 86_400_000 {
        return Err(format!(
            "'{text}' is out of range: more than zero and at most a day (24h = 1440m)"
        ));
    }
    Ok(Duration::from_millis(ms))
}

/// A size in bytes as the command line spells it: `1048576`, `512KiB`, `256MiB`, `1GiB`
/// (also `K`, `M`, `G`, powers of 1024); more than zero.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(format!(
                "'{text}' is not a size: expected bytes, or a number with KiB, MiB or GiB"
            ))
        }
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size: expected e.g. 256MiB"))?;
    match value.checked_mul(1 << shift) {
        Some(0) => Err(format!("'{text}' is zero: give a size above zero")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("'{text}' is too large")),
    }
}

/// How long a continuation token stays valid after the page that handed it out: its listing
/// keeps answering from the log position it began at, whatever was written since.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The most superseded log positions kept for listings in progress at once (each can be a
/// whole copy of the projections).
pub const MAX_PINNED: usize = 4;

/// Projections kept for a listing that is paging through them.
struct Pinned {
    snapshot: Arc<Projections>,
    last_used: Instant,
}

/// What the handlers share.
pub struct AppState {
    /// The projections every read answers from; swapped whole after a write.
    published: RwLock<Arc<Projections>>,
    /// One write at a time: a write holds it while it opens the ledger (taking sled's lock),
    /// records and publishes, and closes it. `false` only after a write failed so badly (a
    /// panic) that the server stops writing; writes then answer 503.
    pub(crate) writing: tokio::sync::Mutex<bool>,
    /// Superseded projections that a listing is still paging through (see [`TOKEN_LIFETIME`]).
    pinned: Mutex<Vec<Pinned>>,
    /// The tokens accepted and what each may read and write.
    pub access: Access,
    /// Where the push alerts of a write go (`None`: no `--notify`, or the server is stopping).
    notify: Mutex<Option<Queues>>,
    pub allow_writes: bool,
    pub page_size: usize,
    pub max_upload_bytes: u64,
    /// One permit per upload being received (`--max-uploads`).
    pub(crate) uploads: Arc<tokio::sync::Semaphore>,
    pub max_uploads: usize,
    pub idle_timeout: Duration,
    /// `host:port` to put in `nextLink` when a request has no usable Host header.
    pub local_authority: String,
    pub data_dir: PathBuf,
}

impl AppState {
    /// State over the projections of the ledger at `data_dir` (the server does not hold the
    /// ledger: it reads the published snapshots, and a write opens the ledger for itself).
    pub fn new(
        data_dir: PathBuf,
        projections: Projections,
        args: &ServeOptions,
        access: Access,
        local_addr: SocketAddr,
    ) -> AppState {
        AppState {
            published: RwLock::new(Arc::new(projections)),
            writing: tokio::sync::Mutex::new(true),
            pinned: Mutex::new(Vec::new()),
            access,
            notify: Mutex::new(None),
            allow_writes: args.allow_writes,
            page_size: args.page_size,
            max_upload_bytes: args.max_upload_bytes,
            uploads: Arc::new(tokio::sync::Semaphore::new(args.max_uploads)),
            max_uploads: args.max_uploads,
            idle_timeout: args.idle_timeout,
            local_authority: local_addr.to_string(),
            data_dir,
        }
    }

    /// The projections as of now (a cheap `Arc` clone).
    pub fn current(&self) -> Arc<Projections> {
        self.published
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The projections at log position `position` for the next page of a listing that began
    /// there: the current ones, or superseded ones kept for it. `None`: they are no longer
    /// kept (the continuation token expired).
    pub fn at_position(&self, position: u64) -> Option<Arc<Projections>> {
        let current = self.current();
        if current.next_seq == position {
            return Some(current);
        }
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        pinned.retain(|p| now.duration_since(p.last_used) <= TOKEN_LIFETIME);
        let found = pinned
            .iter_mut()
            .find(|p| p.snapshot.next_seq == position)?;
        found.last_used = now;
        Some(found.snapshot.clone())
    }

    /// Keep `snapshot` for the pages after one that handed out a continuation token, for
    /// [`TOKEN_LIFETIME`] after the last of them (at most [`MAX_PINNED`] log positions; the
    /// least recently paged is dropped first).
    pub fn pin(&self, snapshot: &Arc<Projections>) {
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        pinned.retain(|p| now.duration_since(p.last_used) <= TOKEN_LIFETIME);
        match pinned
            .iter_mut()
            .find(|p| p.snapshot.next_seq == snapshot.next_seq)
        {
            Some(p) => p.last_used = now,
            None => {
                if pinned.len() >= MAX_PINNED {
                    let oldest = (0..pinned.len())
                        .min_by_key(|&i| pinned[i].last_used)
                        .unwrap_or(0);
                    pinned.swap_remove(oldest);
                }
                pinned.push(Pinned {
                    snapshot: snapshot.clone(),
                    last_used: now,
                });
            }
        }
    }

    /// Send the push alerts of writes to `queues` from now on.
    pub(crate) fn notify_to(&self, queues: Queues) {
        *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(queues);
    }

    /// Stop queueing push alerts (the server is stopping): the workers then drain.
    pub(crate) fn stop_notifying(&self) {
        self.notify.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Whether writes are watched for push alerts.
    pub(crate) fn notifying(&self) -> bool {
        self.notify
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Queue push alerts (never waits).
    pub(crate) fn notify(&self, events: &[CloudEvent]) {
        if events.is_empty() {
            return;
        }
        if let Some(queues) = self
            .notify
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            queues.send(events);
        }
    }

    /// Pick up what another process (an ingest, a close) published since: when the published
    /// index stands at a later log position than the projections reads answer from, load the
    /// published set and answer from it. A set that cannot be read is skipped (the next look
    /// tries again).
    pub fn refresh(&self) {
        let Ok(Some(index)) = read_index(&self.data_dir) else {
            return;
        };
        if index.next_seq <= self.current().next_seq {
            return;
        }
        match load_published(&self.data_dir, None) {
            Ok(Some(projections)) => self.publish_newer(projections),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "ledger::serve", "cannot read the published snapshots yet: {e}")
            }
        }
    }

    /// [`AppState::publish`] unless the projections reads answer from are already as new.
    fn publish_newer(&self, projections: Projections) {
        let mut published = self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if projections.next_seq > published.next_seq {
            *published = Arc::new(projections);
        }
    }

    /// Make `projections` what every later read sees.
    pub(crate) fn publish(&self, projections: Projections) {
        *self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(projections);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "0s", "-1s", "1.5s", "1h", "ten", "1441m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_bytes("10"), Ok(10));
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        for bad in ["", "0", "1.5MiB", "12TB", "MiB", "99999999999999GiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
