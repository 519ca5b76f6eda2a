//! One writer thread for every sled write, with a watchdog.
//!
//! sled 0.34 can deadlock inside `apply_batch` under load (sled issue 1412: the writing
//! thread waits on a one-shot while holding the segment accountant every IO thread needs),
//! and the process then sleeps forever. Every sled write of a [`crate::Store`] therefore runs
//! on one writer thread, and the caller waits for it at most the stall limit
//! (`LEDGER_STALL_SECONDS`, default 60). A write that makes no progress for that long stops the
//! command with [`crate::StoreError::Stalled`]; the store then refuses every further write and
//! is closed without the final flush (which would wait on the same lock). A batch is atomic,
//! so the log holds whole invoices only, and running the same command again completes it.
//!
//! Fault injection for tests: `LEDGER_FAULT_STALL=N` (or [`crate::Store::inject_stall`])
//! blocks the N-th write of the store forever, as the deadlock does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Mutex;
use std::time::Duration;

/// The default stall limit.
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);
/// Environment variable: the stall limit in seconds.
pub const STALL_VAR: &str = "LEDGER_STALL_SECONDS";
/// Environment variable: block the N-th write forever (fault injection for tests).
pub const FAULT_VAR: &str = "LEDGER_FAULT_STALL";

type Job = Box<dyn FnOnce() -> Result<(), sled::Error> + Send>;
/// The caller's ends: jobs in, results out.
type Channel = (SyncSender<Job>, Receiver<Result<(), sled::Error>>);

/// The writer thread's end of the channels, and the watchdog's state.
pub(crate) struct Writer {
    channel: Mutex<Option<Channel>>,
    stall_millis: AtomicU64,
    /// 0: no fault; else the write (counted from 1) that blocks forever.
    fault_at: std::sync::Arc<AtomicU64>,
    stalled: AtomicBool,
}

/// A write made no progress within the stall limit.
#[derive(Debug)]
pub(crate) struct Stalled {
    pub limit: Duration,
}

impl Writer {
    /// A writer with the limit and fault from the environment.
    pub(crate) fn from_env() -> Writer {
        let stall = std::env::var(STALL_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_STALL);
        let fault = std::env::var(FAULT_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        Writer {
            channel: Mutex::new(None),
            stall_millis: AtomicU64::new(stall.as_millis().max(1) as u64),
            fault_at: std::sync::Arc::new(AtomicU64::new(fault)),
            stalled: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_limit(&self, limit: Duration) {
        self.stall_millis
            .store(limit.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    pub(crate) fn inject_stall(&self, nth_write: u64) {
        self.fault_at.store(nth_write, Ordering::Relaxed);
    }

    /// Whether a write stalled: the store must not touch sled again.
    pub(crate) fn stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    fn limit(&self) -> Duration {
        Duration::from_millis(self.stall_millis.load(Ordering::Relaxed))
    }

    /// Run `job` on the writer thread and wait for it at most the stall limit.
    pub(crate) fn run(
        &self,
        job: impl FnOnce() -> Result<(), sled::Error> + Send + 'static,
    ) -> Result<Result<(), sled::Error>, Stalled> {
        let limit = self.limit();
        if self.stalled() {
            return Err(Stalled { limit });
        }
        let mut channel = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        let (jobs, results) = channel.get_or_insert_with(|| spawn(self.fault_at.clone()));
        if jobs.send(Box::new(job)).is_err() {
            self.stalled.store(true, Ordering::Relaxed);
            return Err(Stalled { limit });
        }
        match results.recv_timeout(limit) {
            Ok(result) => Ok(result),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.stalled.store(true, Ordering::Relaxed);
                Err(Stalled { limit })
            }
        }
    }
}

/// The writer thread: runs jobs in order and hands back each result.
fn spawn(fault_at: std::sync::Arc<AtomicU64>) -> Channel {
    let (jobs, to_run) = sync_channel::<Job>(0);
    let (done, results) = sync_channel(1);
    std::thread::Builder::new()
        .name("ledger-store-writer".into())
        .spawn(move || {
            let mut count = 0u64;
            for job in to_run {
                count += 1;
                if fault_at.load(Ordering::Relaxed) == count {
                    // Fault injection: a write that never returns, as sled's deadlock.
                    loop {
                        std::thread::park();
                    }
                }
                if done.send(job()).is_err() {
                    break;
                }
            }
        })
        .expect("spawn the store's writer thread");
    (jobs, results)
}
