//! What the handlers share: the options the server was started with, the open store (one
//! write at a time) and the projections every read answers from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use ledger_app::replay::Projections;
use ledger_app::session::Session;
use ledger_app::store::Store;

/// `ledger serve` options (the command line's `--addr`, `--token`, ...).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    pub addr: String,
    /// Require `Authorization: Bearer TOKEN` on every request (else 401).
    pub token: Option<String>,
    /// Accept agreements and charge files over HTTP (POST /ledger/agreements, /ledger/charges).
    pub allow_writes: bool,
    /// Items per page of lots and events when the request gives no $top (1 to 1000).
    pub page_size: usize,
    /// The largest request body a write accepts, in bytes (larger: 413).
    pub max_upload_bytes: u64,
}

/// What the handlers share.
pub struct AppState {
    /// The projections every read answers from; swapped whole after a write.
    published: RwLock<Arc<Projections>>,
    /// The open store, taken by one write at a time. `None` only after a write failed so
    /// badly (a panic) that the store was lost; writes then answer 503.
    pub(crate) store: tokio::sync::Mutex<Option<Store>>,
    pub token: Option<String>,
    pub allow_writes: bool,
    pub page_size: usize,
    pub max_upload_bytes: u64,
    /// `host:port` to put in `nextLink` when a request has no usable Host header.
    pub local_authority: String,
    pub data_dir: PathBuf,
}

impl AppState {
    /// State over an open session.
    pub fn new(session: Session, args: &ServeOptions, local_addr: SocketAddr) -> AppState {
        let data_dir = session.dir();
        AppState {
            published: RwLock::new(Arc::new(session.projections)),
            store: tokio::sync::Mutex::new(Some(session.store)),
            token: args.token.clone().filter(|t| !t.is_empty()),
            allow_writes: args.allow_writes,
            page_size: args.page_size,
            max_upload_bytes: args.max_upload_bytes,
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

    /// Make `projections` what every later read sees.
    pub(crate) fn publish(&self, projections: Projections) {
        *self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(projections);
    }
}
