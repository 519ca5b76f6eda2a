//! # ledger-serve
//!
//! `ledger serve`: the Azure Consumption lots and events APIs, Microsoft.BillingBenefits
//! (MACCs, conditional credits, credits), and the ledger's CACO, invoices and alerts views over
//! HTTP, on tokio, hyper and axum.
//!
//! ## The store and the lock
//!
//! sled lets one process open a ledger (an exclusive lock on `DATA/db`; a second open gets
//! `StoreError::Busy`). So `serve` **does not hold the ledger**: it reads the published
//! projection snapshots (`DATA/published/`, one immutable file per account and an index,
//! written by every writing command; `ledger_store::published`) without sled and without its
//! lock, so `ledger ingest`, `ledger close` and the read verbs run while it serves. The
//! projections are published to the handlers as an `Arc<Projections>` behind an `RwLock`; a
//! request clones the `Arc` (the lock is held for that clone only) and answers from that
//! snapshot, so every response is consistent with one log position. Every 250 ms the server
//! looks at the published index; when another process published a later position it loads
//! the new set and answers from it (no restart): a reader sees every account as of the last
//! publication, whole invoices only.
//!
//! With `--allow-writes`, agreements (`POST /ledger/agreements`, TOML or JSON) and charge files
//! (`POST /ledger/charges`, native CSV) are accepted over HTTP. A write takes the writer mutex
//! (one write at a time), then opens the ledger, **taking sled's lock for the write only**:
//! while another process holds it (an ingest), the write waits for it, up to 60 s, then
//! answers 503 `LedgerBusy` naming the holder. It stages the input exactly as
//! `ledger agreement` / `ledger ingest` do (the same code: `ledger_app::agreement`,
//! `ledger_app::ingest::ingest_file`), appends, flushes and publishes, closes the ledger, and
//! then swaps the new projections in. A refused input changes nothing (400 with the message the
//! CLI would print); readers keep being served from the previous snapshot while a write runs.
//! Without `--allow-writes` the write endpoints answer 403.
//!
//! ## Code map
//!
//! - `listen`: the accept loop (connection cap, header-read and idle timeouts, graceful stop).
//! - `routes`: the one dispatcher (limits, token, paths, methods). `access`: `--token` and
//!   `--tokens FILE`, who may read and write which accounts. `respond`: what handlers share
//!   (the request's context, the account a path names, JSON, paged lists).
//! - `consumption`: Azure's lots, events and credits balance summary. `benefits`:
//!   Microsoft.BillingBenefits (MACCs, conditional credits, credits). `views`: the ledger's
//!   CACO, invoices and alerts, the billing accounts, `/api`, and the burn-down report pages
//!   (`/`, `/accounts/{account}`, `ledger_render::report`).
//! - `params`, `filter`, `paging`: query parameters, `$filter`, `$top`/`$skiptoken`/`nextLink`
//!   (continuation tokens pinned to the log position a listing began at; see `state`).
//! - `writes`: the two write endpoints. `openapi` (with `openapi_parts`, `openapi_benefits`):
//!   `/openapi.json`. `error`: Azure error bodies.
//!
//! The JSON documents are the read models' own (`ledger_render::json`,
//! `ledger_render::benefits`), byte-compatible with `ledger lots --json` and `ledger events
//! --json` apart from whitespace and `nextLink`.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]
// The OpenAPI document is written with `json!`, whose nesting passes the default limit.
#![recursion_limit = "256"]

pub mod access;
pub mod benefits;
pub mod consumption;
pub mod error;
pub mod filter;
pub mod listen;
pub mod notify;
pub mod openapi;
pub mod openapi_benefits;
pub mod openapi_parts;
pub mod paging;
pub mod params;
pub mod respond;
pub mod routes;
pub mod state;
pub mod views;
pub mod writes;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ledger_app::replay::Projections;
use ledger_app::session::{read_projections, Failure, Session};
use ledger_app::store::StoreError;
use ledger_app::AppError;

use error::ApiError;
pub use state::{parse_bytes, parse_duration, AppState, ServeOptions, DEFAULT_MAX_UPLOAD_BYTES};

/// The HTTP application: the dispatcher behind the request log and the panic guard.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(routes::dispatch)
        .with_state(state)
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn(log_request))
}

/// Last line of defense: a handler that panics (a bug) answers 500 with an Azure error body
/// instead of dropping the connection, and the server goes on.
async fn catch_panic(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(target: "ledger::serve", "a request handler failed: {e}");
            ApiError::internal("the server failed while answering this request (a bug: please report it with the request)").into_response()
        }
    }
}

/// One `info` line per request: method, path, status, latency.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = params::shorten_to(request.uri().path(), 300);
    let response = next.run(request).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    tracing::info!(target: "ledger::serve", method = %method, path = %path, status = response.status().as_u16(), latency_ms = format_args!("{latency_ms:.3}"), "request");
    response
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!(target: "ledger::serve", "shutting down: finishing the requests under way");
}

/// Said on stderr whatever RUST_LOG is: it is about who can read the ledger.
#[allow(clippy::print_stderr)]
fn warn_unprotected(local: SocketAddr) {
    eprintln!("ledger serve: warning: listening on {local}, beyond loopback, without --token: anyone who can reach it can read the ledger");
}

/// Said on stderr whatever RUST_LOG is: receivers cannot tell a forged notification.
#[allow(clippy::print_stderr)]
fn warn_unsigned() {
    eprintln!("ledger serve: warning: --notify without --notify-secret: notifications are not signed, so a receiver cannot tell them from forged ones");
}

/// `--notify` URLs, checked before anything is opened.
fn notify_targets(args: &ServeOptions) -> Result<Vec<notify::Target>, Failure> {
    let n = &args.notify;
    if n.urls.is_empty() {
        if n.secret.is_some() {
            return Err(Failure::usage(
                "--notify-secret is given without --notify URL: there is nothing to sign",
            ));
        }
        return Ok(Vec::new());
    }
    if !args.allow_writes {
        return Err(Failure::usage("--notify needs --allow-writes: alerts are judged when a write over HTTP changes the ledger (while serve runs, nothing else can)"));
    }
    if let Some(secret) = &n.secret {
        if secret.trim().is_empty() {
            return Err(Failure::usage(
                "--notify-secret (or LEDGER_NOTIFY_SECRET) is empty or only whitespace",
            ));
        }
    }
    let targets = n
        .urls
        .iter()
        .map(|url| notify::parse_target(url).map_err(Failure::usage))
        .collect::<Result<Vec<_>, _>>()?;
    if targets.iter().any(|t| t.tls) {
        notify::connector(n.ca_file.as_deref()).map_err(Failure::usage)?;
    } else if n.ca_file.is_some() {
        return Err(Failure::usage(
            "--notify-ca-file is given without an https:// --notify URL: there is nothing to trust it for",
        ));
    }
    if n.secret.is_none() {
        warn_unsigned();
    }
    Ok(targets)
}

/// Limits that would make the server useless are refused.
fn check_limits(args: &ServeOptions) -> Result<(), Failure> {
    if args.max_connections == 0 || args.max_uploads == 0 {
        return Err(Failure::usage(
            "--max-connections and --max-uploads must be at least 1",
        ));
    }
    if args.max_uploads > args.max_connections {
        return Err(Failure::usage(format!(
            "--max-uploads ({}) is more than --max-connections ({}): an upload needs a connection",
            args.max_uploads, args.max_connections
        )));
    }
    Ok(())
}

fn writes_unprotected(addr: &str) -> Failure {
    Failure::usage(format!(
        "--allow-writes on {addr}, beyond loopback, needs --token (or --tokens FILE): anyone who can reach that address could change the ledger. Give --token (or LEDGER_TOKEN), or listen on 127.0.0.1"
    ))
}

/// `--allow-writes` beyond loopback without a token refuses to start (before the ledger is
/// opened). Every address the name resolves to counts; an address that does not resolve is
/// left to the bind, which says why.
fn check_writes_protected(args: &ServeOptions) -> Result<(), Failure> {
    if !args.allow_writes || args.token.is_some() || args.tokens_file.is_some() {
        return Ok(());
    }
    use std::net::ToSocketAddrs;
    let beyond_loopback = args
        .addr
        .to_socket_addrs()
        .map(|mut addrs| addrs.any(|a| !a.ip().is_loopback()))
        .unwrap_or(false);
    if beyond_loopback {
        return Err(writes_unprotected(&args.addr));
    }
    Ok(())
}

/// How often the server looks for a newer published set (another process wrote).
const REFRESH_EVERY: Duration = Duration::from_millis(250);

/// Pick up what other processes publish, for the life of the server.
async fn refresh_loop(state: Arc<AppState>) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || state.refresh()).await;
    }
}

/// The projections the server starts with. With `--allow-writes` the ledger may be created
/// (as `ledger agreement` would); while another process writes it, the published snapshots.
/// The server keeps no lock: reads answer from the published snapshots, writes open the
/// ledger for their own duration.
fn start_projections(data: &Path, allow_writes: bool) -> Result<Projections, Failure> {
    if !allow_writes {
        return Ok(read_projections(data, "serve", None)?);
    }
    match Session::open_for_write(data, "serve") {
        Ok(session) => {
            session.finish_writes()?;
            Ok(session.projections)
        }
        Err(AppError::Store(StoreError::Busy { .. })) => Ok(read_projections(data, "serve", None)?),
        Err(e) => Err(e.into()),
    }
}

/// `ledger serve`: open the ledger, listen, answer until SIGINT/SIGTERM. The address it
/// listens on is written (and flushed) to `out` as soon as it is known, `stopped` at the end.
pub fn run(data: &Path, args: &ServeOptions, out: &mut (dyn Write + Send)) -> Result<(), Failure> {
    if !(1..=paging::MAX_TOP).contains(&args.page_size) {
        return Err(Failure::usage(format!(
            "--page-size must be from 1 to {}",
            paging::MAX_TOP
        )));
    }
    let access = access::Access::new(args.token.as_deref(), args.tokens_file.as_deref())
        .map_err(Failure::usage)?;
    check_writes_protected(args)?;
    check_limits(args)?;
    let targets = notify_targets(args)?;
    let projections = start_projections(data, args.allow_writes)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ledger-serve")
        .build()
        .map_err(|e| Failure::new(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.addr).await.map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.addr)))?;
        let local = listener.local_addr().map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.addr)))?;
        if !local.ip().is_loopback() && !access.required() {
            if args.allow_writes {
                return Err(writes_unprotected(&local.to_string()));
            }
            warn_unprotected(local);
        }
        writes::remove_stale_uploads(data);
        let accounts = projections.ledger.accounts.len();
        let data_dir = data.to_path_buf();
        let state = Arc::new(AppState::new(data_dir.clone(), projections, args, access, local));
        let refresher = tokio::spawn(refresh_loop(state.clone()));
        let workers = (!targets.is_empty()).then(|| {
            let (queues, workers) = notify::start(targets, &args.notify, &data_dir);
            state.notify_to(queues);
            workers
        });
        {
            let _ = writeln!(
                out,
                "ledger serve: listening on http://{local} ({accounts} account{}, {}{}); stop with Ctrl-C",
                if accounts == 1 { "" } else { "s" },
                if args.allow_writes { "writes allowed" } else { "read-only" },
                if state.access.required() { ", token required" } else { "" },
            );
            let _ = out.flush();
        }
        let limits = listen::ConnectionLimits {
            header_timeout: args.header_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections,
        };
        listen::serve(listener, app(state.clone()), limits, shutdown_signal()).await;
        // No more alerts are queued; what is queued is delivered (or dead-lettered).
        state.stop_notifying();
        if let Some(workers) = workers {
            workers.stop(listen::SHUTDOWN_GRACE).await;
        }
        refresher.abort();
        // A write under way holds the ledger: wait for it to finish (and release sled's lock)
        // before the process reports that it stopped.
        let _ = state.writing.lock().await;
        Ok::<(), Failure>(())
    })?;
    let _ = out.write_all(b"ledger serve: stopped\n");
    Ok(())
}
