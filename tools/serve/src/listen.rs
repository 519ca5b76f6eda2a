//! Connections: the accept loop with a cap on open connections, a watchdog per connection
//! (header-read and idle timeouts), and the graceful stop.
//!
//! - `--max-connections N`: past N open connections, a new one is answered `503 ServerBusy`
//!   (with `Retry-After`) and closed, so a flood of idle sockets cannot starve the server of
//!   file descriptors.
//! - `--header-timeout`: once the first byte of a request arrives, its request line and
//!   headers must arrive in full within this time, else the connection is closed (a client
//!   that sends half a header and waits is cut).
//! - `--idle-timeout`: a connection on which no byte moves in either direction for this long,
//!   while no request is being answered, is closed (a client that connects and sends nothing,
//!   a keep-alive connection left open, a response nobody reads). A request body that stalls
//!   for this long is answered 408 by the write endpoints ([`crate::writes`]).
//!
//! A request being answered is never cut by the watchdog: a write runs to its end.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// The limits of `ledger serve` on connections (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// How long requests under way may take to finish after SIGINT/SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Refusals of connections over the cap being written at once; more are simply closed.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// What a connection is doing, for its watchdog.
const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// Shared by a connection's stream (bytes moved), its service (requests begun and answered)
/// and its watchdog.
struct Activity {
    opened: Instant,
    phase: AtomicU8,
    /// Milliseconds since `opened` when the phase last began (or, when idle, when a byte last
    /// moved).
    mark_ms: AtomicU64,
    /// Requests being answered.
    busy: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            phase: AtomicU8::new(IDLE),
            mark_ms: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// Bytes arrived (at `now_ms`): the first of a request starts its header clock.
    fn read(&self, now_ms: u64) {
        if self
            .phase
            .compare_exchange(IDLE, HEAD, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.mark_ms.store(now_ms, Ordering::Release);
        }
    }

    /// Bytes left (at `now_ms`): while idle (a response being written after its handler
    /// returned) that is activity.
    fn wrote(&self, now_ms: u64) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.mark_ms.store(now_ms, Ordering::Release);
        }
    }

    fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.phase.store(BUSY, Ordering::Release);
        RequestGuard(self.clone())
    }

    /// The last request was answered (at `now_ms`).
    fn end_request(&self, now_ms: u64) {
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.mark_ms.store(now_ms, Ordering::Release);
            self.phase.store(IDLE, Ordering::Release);
        }
    }

    /// Why the connection should be closed at `now_ms`, if it should.
    fn expired(&self, now_ms: u64, limits: &ConnectionLimits) -> Option<&'static str> {
        let since =
            Duration::from_millis(now_ms.saturating_sub(self.mark_ms.load(Ordering::Acquire)));
        match self.phase.load(Ordering::Acquire) {
            IDLE if since > limits.idle_timeout => Some("idle"),
            HEAD if since > limits.header_timeout => Some("request headers too slow"),
            _ => None,
        }
    }
}

/// Held while a request is being answered.
struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.end_request(self.0.now_ms());
    }
}

/// A TCP stream that tells its [`Activity`] when bytes move.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read(self.activity.now_ms());
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote(self.activity.now_ms());
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote(self.activity.now_ms());
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accept and answer connections until `stop` resolves; then let the requests under way
/// finish (at most [`SHUTDOWN_GRACE`]) and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let (stopping, stop_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let app = app.clone();
                        let stop_seen = stop_seen.clone();
                        connections.spawn(async move {
                            connection(stream, app, limits, stop_seen).await;
                            drop(permit);
                        });
                    }
                    Err(_) => refuse_busy(stream, &refusals, limits.max_connections),
                },
                Err(e) => {
                    // Out of file descriptors and the like: say so, breathe, go on.
                    tracing::warn!(target: "ledger::serve", "cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(target: "ledger::serve", "connections still open {} s after the signal: closing them", SHUTDOWN_GRACE.as_secs());
        connections.abort_all();
    }
}

/// Answer one connection, closing it when its watchdog says so or when the server stops
/// (gracefully: a request under way is answered first).
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    mut stop_seen: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let guard = activity.begin_request();
            let app = app.clone();
            async move {
                let response =
                    tower::ServiceExt::oneshot(app, request.map(axum::body::Body::new)).await;
                drop(guard);
                response
            }
        })
    };
    let conn = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let tick = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut watchdog = tokio::time::interval(tick);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(target: "ledger::serve", "connection closed: {e}");
                }
                return;
            }
            changed = stop_seen.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = watchdog.tick() => {
                if let Some(why) = activity.expired(activity.now_ms(), &limits) {
                    tracing::debug!(target: "ledger::serve", "closing a connection: {why}");
                    return;
                }
            }
        }
    }
}

/// The whole answer to a connection over the cap.
fn busy_response(max_connections: usize) -> Vec<u8> {
    let body = format!(
        "{{\"error\":{{\"code\":\"ServerBusy\",\"message\":\"the server has {max_connections} connections open, the most it accepts (--max-connections); retry in a moment\"}}}}"
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Tell a connection over the cap that the server is busy, then close it. At most
/// [`MAX_REFUSALS_IN_FLIGHT`] are told at once (each for at most a second); beyond that a
/// connection is closed without a word.
fn refuse_busy(stream: TcpStream, refusals: &Arc<Semaphore>, max_connections: usize) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let mut stream = stream;
        let answer = async {
            stream.write_all(&busy_response(max_connections)).await?;
            stream.shutdown().await?;
            // Read what the client sent, so that closing does not reset the connection
            // before it has read the answer.
            let mut sink = [0u8; 4096];
            loop {
                match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
                    Ok(0) | Err(_) => return Ok::<(), io::Error>(()),
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
        drop(permit);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_millis(50),
            idle_timeout: Duration::from_millis(200),
            max_connections: 1,
        }
    }

    #[test]
    fn phases_and_their_clocks() {
        let limits = limits();
        let a = Arc::new(Activity::new());
        assert_eq!(a.expired(199, &limits), None);
        assert_eq!(
            a.expired(201, &limits),
            Some("idle"),
            "connected, sent nothing"
        );
        a.read(300);
        assert_eq!(a.expired(340, &limits), None);
        assert_eq!(a.expired(351, &limits), Some("request headers too slow"));
        // More bytes of the same head do not restart its clock.
        a.read(345);
        assert_eq!(a.expired(351, &limits), Some("request headers too slow"));
        // A request being answered is never expired.
        let guard = a.begin_request();
        assert_eq!(a.expired(10_000, &limits), None);
        std::mem::forget(guard);
        a.end_request(10_000);
        assert_eq!(a.expired(10_150, &limits), None, "idle from the answer on");
        a.wrote(10_150);
        assert_eq!(
            a.expired(10_300, &limits),
            None,
            "bytes written count as activity"
        );
        assert_eq!(a.expired(10_351, &limits), Some("idle"));
        // The next request's first bytes start its header clock.
        a.read(10_360);
        assert_eq!(a.expired(10_400, &limits), None);
        assert_eq!(a.expired(10_411, &limits), Some("request headers too slow"));
    }

    #[test]
    fn the_busy_answer_is_an_azure_error() {
        let text = String::from_utf8(busy_response(7)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "ServerBusy");
    }
}
