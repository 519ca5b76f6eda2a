//! The write endpoints of `ledger serve --allow-writes`:
//!
//! - `POST /ledger/agreements`: an agreement file as the body (TOML, or JSON by
//!   `Content-Type: application/json` or a body starting with `{`), recorded as
//!   `ledger agreement FILE` records it.
//! - `POST /ledger/charges`: a native charge-line CSV as the body, settled as
//!   `ledger ingest FILE` settles it (validated whole first: a refused file changes nothing).
//!
//! `?name=FILE` names the upload in messages (default `agreement.toml` / `charges.csv`). The
//! body is streamed to a file in the ledger's own staging folder (`DATA/staging/upload-…/`,
//! never the system's temporary folder; at most `--max-upload-bytes`, else 413; at most
//! `--max-uploads` at once, else 503; a body that stalls for `--idle-timeout` gets 408), then
//! staged by the CLI's own code while the writer mutex is held, on the ledger opened for that
//! write only (waiting up to [`WRITE_WAIT`] while another process holds it, then 503
//! `LedgerBusy`); the new projections are published only after the append and flush succeed.
//!
//! Two kinds of refusal, so that the OpenAPI document can be exactly as strict as the server:
//! 400 `InvalidRequestBody` for a body that breaks the documented request schema (empty or
//! blank; for a JSON agreement: not a JSON object, or without `account` and `currency` as
//! non-empty strings), and 422 (`InvalidAgreement`, `InvalidChargeFile`) for a well-formed body
//! whose content the ledger refuses (a column it cannot read, a MACC ending before it starts,
//! an invoice settled before with other content), with the message the CLI prints, the
//! upload's folder left out of the file's name. Neither changes anything. The
//! folder is removed when the request ends, and any left by a killed server when the next one
//! starts: the staging folder holds at most `--max-uploads` × `--max-upload-bytes` of uploads.

use std::path::{Path, PathBuf, MAIN_SEPARATOR};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use ledger_app::agreement::record;
use ledger_app::ingest::ingest_file_visible;
use ledger_app::input::agreement::read_agreement;
use ledger_app::replay::load::{load, save_snapshot};
use ledger_app::session::Session;
use ledger_app::store::StoreError;
use ledger_app::AppError;
use ledger_render::ingest::describe;
use ledger_render::json::FileOutcomeJson;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;
use super::notify::{self, CloudEvent};
use super::params::{shorten, Query};
use super::respond::Context;
use super::state::AppState;
use ledger_app::replay::crossings::{crossings, touched};
use ledger_app::replay::Projections;

/// Agreements are small; a body over this is refused whatever `--max-upload-bytes` says.
const MAX_AGREEMENT_BYTES: u64 = 16 << 20;

fn ensure_writes(cx: &Context<'_>) -> Result<(), ApiError> {
    if !cx.state.allow_writes {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "WritesDisabled",
            "this server is read-only: start it with `ledger serve --allow-writes` to accept agreements and charge files over HTTP",
        ));
    }
    if !cx.caller.writes() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "WritesNotAllowed",
            "this token may read but not write (writes = true in the --tokens file allows it)",
        ));
    }
    Ok(())
}

/// An agreement for an account the token may not write is answered as for an account the
/// ledger does not have (whether it has it or not).
fn not_writable(account: &str) -> ApiError {
    ApiError::not_found(
        "BillingAccountNotFound",
        format!(
            "billing account '{}' is not one this token may write",
            shorten(account)
        ),
    )
}

/// The prefix of an upload's folder in the ledger's staging folder.
const UPLOAD_PREFIX: &str = "upload-";

/// An uploaded body in its own folder under the ledger's staging folder, and the permit that
/// counts it among the uploads received at once.
struct Upload {
    dir: tempfile::TempDir,
    path: PathBuf,
    name: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The ledger's staging folder (where ingest also spills).
fn staging_dir(data: &Path) -> PathBuf {
    data.join(ledger_app::store::STAGING_DIR)
}

/// Remove upload folders left in the staging folder by a server that was killed: the ledger
/// is open by one process at a time, so none of them is in use.
pub fn remove_stale_uploads(data: &Path) {
    let Ok(entries) = std::fs::read_dir(staging_dir(data)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(UPLOAD_PREFIX)
        {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(target: "ledger::serve", "cannot remove the stale upload {}: {e}", entry.path().display());
            }
        }
    }
}

impl Upload {
    /// Remove the temporary directory from a message, so it names the upload as the user did.
    fn unprefix(&self, message: &str) -> String {
        message.replace(
            &format!("{}{MAIN_SEPARATOR}", self.dir.path().display()),
            "",
        )
    }
}

/// `?name=`: a plain file name (letters, digits, `.`, `_`, `-`; not starting with `.`).
fn upload_name(query: &Query, default: &str) -> Result<String, ApiError> {
    match query.get("name")? {
        None => Ok(default.to_string()),
        Some(name)
            if (1..=100).contains(&name.len())
                && !name.starts_with('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            Ok(name.to_string())
        }
        Some(name) => Err(ApiError::bad_request(
            "InvalidParameter",
            format!(
                "name '{}' is not a plain file name (letters, digits, '.', '_', '-'; at most 100)",
                shorten(name)
            ),
        )),
    }
}

/// The bytes that do not make a body non-blank ([`BLANK_PATTERN`] spells the same set).
const BLANK_BYTES: &[u8] = b" \t\r\n";

/// The OpenAPI `pattern` of a text body: at least one character that is not blank.
pub const BLANK_PATTERN: &str = "[^ \\t\\r\\n]";

fn invalid_body(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidRequestBody", message)
}

/// 400 unless the file holds a byte other than [`BLANK_BYTES`] (read until the first one).
fn check_not_blank(path: &Path, what: &str) -> Result<(), ApiError> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| ApiError::internal(format!("cannot read the upload back: {e}")))?;
    let mut reader = std::io::BufReader::new(file);
    let mut buf = [0u8; 8192];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| ApiError::internal(format!("cannot read the upload back: {e}")))?;
        if n == 0 {
            return Err(invalid_body(format!(
                "the request body is empty or blank; send {what}"
            )));
        }
        if buf[..n].iter().any(|b| !BLANK_BYTES.contains(b)) {
            return Ok(());
        }
    }
}

/// A JSON agreement must be an object with `account` and `currency` as non-empty strings
/// (the documented schema); what else it holds is for the agreement reader to judge.
fn check_json_agreement(path: &Path) -> Result<(), ApiError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ApiError::internal(format!("cannot read the upload back: {e}")))?;
    // Values stay raw: a number beyond a float's range is the reader's to judge, not a
    // reason to call the body malformed.
    type Members<'a> = std::collections::BTreeMap<String, &'a serde_json::value::RawValue>;
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(invalid_body(format!("the body is not JSON ({e}); send an agreement as a JSON object, or TOML with Content-Type: application/toml")));
    }
    let Ok(object) = serde_json::from_slice::<Members>(&bytes) else {
        return Err(invalid_body("the body is JSON but not an object; an agreement is an object with at least account and currency"));
    };
    for key in ["account", "currency"] {
        let text = object
            .get(key)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
        if text.is_none_or(|t| t.is_empty()) {
            return Err(invalid_body(format!(
                "the agreement has no '{key}' (a non-empty string)"
            )));
        }
    }
    Ok(())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", format!("the request body is larger than {limit} bytes, the most this server accepts (--max-upload-bytes)"))
}

fn busy(max_uploads: usize) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServerBusy",
        format!("{max_uploads} uploads are being received, the most this server takes at once (--max-uploads); retry in a moment"),
    )
}

/// Stream the request body to `DATA/staging/upload-…/name`, refusing more than `limit`
/// bytes, more uploads at once than `--max-uploads`, and a body that stalls.
async fn receive(
    state: &AppState,
    request: Request,
    name: String,
    limit: u64,
) -> Result<Upload, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let permit = state
        .uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| busy(state.max_uploads))?;
    let server_error = |what: &str, e: std::io::Error| {
        ApiError::internal(format!("cannot store the upload ({what}): {e}"))
    };
    let staging = staging_dir(&state.data_dir);
    std::fs::create_dir_all(&staging).map_err(|e| server_error("staging folder", e))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{UPLOAD_PREFIX}{}-", std::process::id()))
        .tempdir_in(&staging)
        .map_err(|e| server_error("upload folder", e))?;
    let path = dir.path().join(&name);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| server_error("create", e))?;
    let mut body = request.into_body();
    let mut received = 0u64;
    loop {
        let frame = match tokio::time::timeout(state.idle_timeout, body.frame()).await {
            Err(_) => return Err(stalled(state.idle_timeout, received)),
            Ok(None) => break,
            Ok(Some(frame)) => frame,
        };
        let frame = frame.map_err(|e| {
            ApiError::bad_request(
                "InvalidRequestBody",
                format!("cannot read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            received += data.len() as u64;
            if received > limit {
                return Err(too_large(limit));
            }
            file.write_all(&data)
                .await
                .map_err(|e| server_error("write", e))?;
        }
    }
    file.flush().await.map_err(|e| server_error("write", e))?;
    drop(file);
    Ok(Upload {
        dir,
        path,
        name,
        _permit: permit,
    })
}

fn stalled(idle: std::time::Duration, received: u64) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "RequestTimeout",
        format!(
            "the request body stalled: nothing arrived for {} ms after {received} bytes (--idle-timeout); nothing was recorded",
            idle.as_millis()
        ),
    )
}

/// How long a write waits for another process (an ingest, a close) to release the ledger.
pub const WRITE_WAIT: Duration = Duration::from_secs(60);

/// What a write's thread hands back: the projections to answer from now (if they moved), the
/// use case's result, and the push alerts it made worth sending.
type Written<T> = (Option<Projections>, Result<T, AppError>, Vec<CloudEvent>);

/// Run `work` on the ledger, one write at a time, off the async threads: the ledger is opened
/// (sled's lock taken, waiting up to [`WRITE_WAIT`] while another process holds it) and
/// folded, `work` records, and the ledger is closed again. On success the new projections are
/// published; on failure they are dropped, and rebuilt from the log if anything was appended
/// before the failure.
async fn write<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&mut Session) -> Result<T, AppError> + Send + 'static,
) -> Result<Result<T, AppError>, ApiError> {
    let mut usable = state.writing.lock().await;
    if !*usable {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "StoreUnavailable",
            "an earlier write failed unexpectedly; restart `ledger serve` to write again",
        ));
    }
    let dir = state.data_dir.clone();
    let notifying = state.notifying();
    let joined = tokio::task::spawn_blocking(move || -> Result<Written<T>, ApiError> {
        let mut session = open_waiting(&dir)?;
        Ok(write_on(&mut session, notifying, work))
    })
    .await;
    let Ok(outcome) = joined else {
        *usable = false;
        tracing::error!(target: "ledger::serve", "a write failed unexpectedly; later writes are refused");
        return Err(ApiError::internal("the write failed unexpectedly (a bug: please report it); nothing more will be written until the server restarts"));
    };
    let (now, result, events) = outcome?;
    if let Some(projections) = now {
        state.publish(projections);
    }
    state.notify(&events);
    Ok(result)
}

/// The write itself, on an open session.
fn write_on<T>(
    session: &mut Session,
    notifying: bool,
    work: impl FnOnce(&mut Session) -> Result<T, AppError>,
) -> Written<T> {
    let head_before = session.store.head().next_seq;
    let before = notifying.then(|| session.projections.clone());
    let result = work(session);
    // What the write made worth telling, judged on its own thread, never failing it.
    let events = match (&result, &before) {
        (Ok(_), Some(before)) => alert_events(before, &session.projections),
        _ => Vec::new(),
    };
    let now = match &result {
        Ok(_) => Some(std::mem::take(&mut session.projections)),
        Err(_) if session.store.head().next_seq != head_before => match load(&session.store) {
            Ok(projections) => {
                if let Err(e) = session.store.flush().map_err(AppError::from).and_then(|_| {
                    save_snapshot(&session.store, &projections).map_err(AppError::from)
                }) {
                    tracing::error!(target: "ledger::serve", "cannot publish the projections after a failed write: {e}");
                }
                Some(projections)
            }
            Err(e) => {
                tracing::error!(target: "ledger::serve", "cannot reload the projections after a failed write: {e}");
                None
            }
        },
        Err(_) => None,
    };
    (now, result, events)
}

/// Open the ledger for a write, waiting while another process holds it.
fn open_waiting(dir: &Path) -> Result<Session, ApiError> {
    let deadline = Instant::now() + WRITE_WAIT;
    loop {
        match Session::open_for_write(dir, "serve") {
            Ok(session) => return Ok(session),
            Err(AppError::Store(StoreError::Busy { .. })) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e @ AppError::Store(StoreError::Busy { .. })) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "LedgerBusy",
                    format!("{e} (waited {} s; retry later)", WRITE_WAIT.as_secs()),
                ))
            }
            Err(e) => return Err(ApiError::internal(format!("cannot open the ledger: {e}"))),
        }
    }
}

/// The CloudEvents of what crossed, account by account, between two projections.
fn alert_events(before: &Projections, after: &Projections) -> Vec<CloudEvent> {
    let mut events = Vec::new();
    for account in touched(before, after) {
        let Some(acct) = after.ledger.account(account) else {
            continue;
        };
        let Some(as_of) = acct.clock else {
            continue;
        };
        for crossing in crossings(before, after, account) {
            events.push(notify::event(account, &acct.currency, as_of, &crossing));
        }
    }
    events
}

fn json_ok(body: &serde_json::Value) -> Response {
    let mut response =
        axum::response::IntoResponse::into_response((StatusCode::OK, body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// `POST /ledger/agreements`.
pub async fn agreement(cx: &Context<'_>, request: Request) -> Result<Response, ApiError> {
    ensure_writes(cx)?;
    let (state, query) = (cx.state, &cx.query);
    // read_agreement reads JSON by the `.json` extension or a body starting with `{`, else
    // TOML; `Content-Type: application/json` gives the upload the extension.
    let json_declared = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let name = upload_name(
        query,
        if json_declared {
            "agreement.json"
        } else {
            "agreement.toml"
        },
    )?;
    let mut upload = receive(
        state,
        request,
        name,
        MAX_AGREEMENT_BYTES.min(state.max_upload_bytes),
    )
    .await?;
    if json_declared && !upload.name.to_ascii_lowercase().ends_with(".json") {
        let renamed = format!("{}.json", upload.name);
        let target = upload.dir.path().join(&renamed);
        std::fs::rename(&upload.path, &target)
            .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
        upload.path = target;
        upload.name = renamed;
    }
    check_not_blank(
        &upload.path,
        "an agreement (TOML, or JSON with Content-Type: application/json)",
    )?;
    if json_declared {
        check_json_agreement(&upload.path)?;
    }
    let refused = |message: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidAgreement",
            upload.unprefix(message),
        )
    };
    // Read (and validated) before the writer is taken: what the token may write is known
    // before anything is staged.
    let path = upload.path.clone();
    let read = tokio::task::spawn_blocking(move || read_agreement(&path))
        .await
        .map_err(|_| {
            ApiError::internal(
                "reading the agreement failed unexpectedly (a bug: please report it)",
            )
        })?;
    let agreement = read.map_err(|e| refused(&e.to_string()))?;
    if !cx.caller.may_write(&agreement.account) {
        return Err(not_writable(&agreement.account));
    }
    let path = upload.path.clone();
    let result = write(state, move |session| record(session, &path, agreement)).await?;
    match result {
        Ok(outcome) => Ok(json_ok(&serde_json::json!({
            "file": upload.name,
            "account": outcome.account,
            "version": outcome.version,
            "recorded": outcome.events.is_some(),
            "events": outcome.events.as_ref().map_or(0, Vec::len),
            "message": if outcome.events.is_some() {
                format!("{}: recorded the agreement of account {} (version {})", upload.name, outcome.account, outcome.version)
            } else {
                format!("{}: the agreement of account {} is unchanged (version {}); nothing recorded", upload.name, outcome.account, outcome.version)
            },
        }))),
        Err(failure) => Err(refused(&failure.to_string())),
    }
}

/// `POST /ledger/charges`.
pub async fn charges(cx: &Context<'_>, request: Request) -> Result<Response, ApiError> {
    ensure_writes(cx)?;
    let (state, query) = (cx.state, &cx.query);
    let name = upload_name(query, "charges.csv")?;
    let upload = receive(state, request, name, state.max_upload_bytes).await?;
    check_not_blank(
        &upload.path,
        "a charge file (native CSV, FOCUS or Azure cost details)",
    )?;
    let path = upload.path.clone();
    // Native, FOCUS or Azure cost details: the format is detected from the header, as
    // `ledger ingest` does.
    // The accounts the token may not write read as unknown: the file is refused as if the
    // ledger did not have them.
    let caller = cx.caller.clone();
    let result = write(state, move |session| {
        ingest_file_visible(session, &path, None, true, &|a| caller.may_write(a))
    })
    .await?;
    match result {
        Ok(mut outcome) => {
            outcome.file = PathBuf::from(&upload.name);
            // Serialized from the typed outcome: a serde_json::Value would turn the exact
            // amounts into binary floats.
            #[derive(serde::Serialize)]
            struct Body<'a> {
                files: [FileOutcomeJson<'a>; 1],
                message: String,
            }
            let body = Body {
                message: describe(&outcome),
                files: [FileOutcomeJson(&outcome)],
            };
            let text = serde_json::to_string_pretty(&body).expect("serializes");
            let mut response = axum::response::IntoResponse::into_response((StatusCode::OK, text));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
        Err(failure) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidChargeFile",
            upload.unprefix(&failure.to_string()),
        )),
    }
}
