//! `ledger agreement FILE...` and `POST /ledger/agreements`: record agreements (first versions
//! and amendments) through the decide path every writer shares.
//!
//! Many files are one batch (issue 13): every file is read, validated and decided first, then
//! all of their records are appended in one atomic `Store::append` with one flush and one
//! snapshot, so a file refused anywhere among them records none, and 2,000 accounts cost one
//! write instead of 2,000.

use std::path::{Path, PathBuf};

use ledger_core::event::Event;
use ledger_core::{Agreement, Fact};
use ledger_input::agreement::read_agreement;
use ledger_replay::write::stage;
use ledger_store::{agreement_content_hash, Appender, EncodedRecord, Head};

use crate::error::AppError;
use crate::session::Session;

/// What recording one agreement file did.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub file: PathBuf,
    pub account: String,
    /// The account's agreement version after the file (unchanged: the recorded one).
    pub version: u32,
    /// The events the agreement decided; `None` when its content was already recorded
    /// (R-IDEM: nothing appended).
    pub events: Option<Vec<Event>>,
    /// The log's head after this file.
    pub head: Head,
}

/// Read and validate every file, decide them in order, then append them all as one batch.
/// Only a valid set of files opens (or creates) the ledger; a file the core refuses (an
/// amendment that cannot be made) records none of them.
pub fn record_files(data: &Path, files: &[PathBuf]) -> Result<Vec<Recorded>, AppError> {
    // Read and validate every file before the ledger is opened (or created).
    let mut agreements = Vec::with_capacity(files.len());
    for file in files {
        agreements.push(read_agreement(file)?);
    }
    let mut session = Session::open_for_write(data, "agreement")?;
    let mut appender = Appender::new(session.store.head());
    let mut records = Vec::new();
    let mut out = Vec::with_capacity(files.len());
    for (file, agreement) in files.iter().zip(agreements) {
        let (recorded, staged) = stage_agreement(&mut session, &mut appender, file, agreement)?;
        records.extend(staged);
        out.push(recorded);
    }
    append_and_finish(&session, &records)?;
    Ok(out)
}

/// Read one file and record it on an open session (`ledger serve --allow-writes`).
pub fn record_file(session: &mut Session, file: &Path) -> Result<Recorded, AppError> {
    let agreement = read_agreement(file)?;
    record(session, file, agreement)
}

/// Record one agreement: stage it, append and flush (nothing when its content is recorded).
pub fn record(
    session: &mut Session,
    file: &Path,
    agreement: Agreement,
) -> Result<Recorded, AppError> {
    let mut appender = Appender::new(session.store.head());
    let (recorded, records) = stage_agreement(session, &mut appender, file, agreement)?;
    append_and_finish(session, &records)?;
    Ok(recorded)
}

/// Decide one agreement on the session's projections and encode it on `appender`, without
/// appending: its records (none when its content is recorded) and what it did. On error the
/// session's projections must be discarded.
fn stage_agreement(
    session: &mut Session,
    appender: &mut Appender,
    file: &Path,
    agreement: Agreement,
) -> Result<(Recorded, Vec<EncodedRecord>), AppError> {
    let account = agreement.account.clone();
    let content_hash = agreement_content_hash(&agreement);
    let fact = Fact::Agreement {
        agreement,
        content_hash,
    };
    let staged = stage(&mut session.projections, appender, &fact).map_err(|source| {
        AppError::AgreementRefused {
            file: file.to_path_buf(),
            source: Box::new(source),
        }
    })?;
    let (events, records) = match staged {
        None => (None, Vec::new()),
        Some(staged) => (Some(staged.applied.events), staged.records),
    };
    let version = session
        .projections
        .ledger
        .account(&account)
        .map(|a| a.agreement_version)
        .unwrap_or(0);
    let recorded = Recorded {
        file: file.to_path_buf(),
        account,
        version,
        events,
        head: appender.head(),
    };
    Ok((recorded, records))
}

/// Append `records` as one atomic batch, then flush and store a snapshot (nothing when there
/// are none).
fn append_and_finish(session: &Session, records: &[EncodedRecord]) -> Result<(), AppError> {
    if records.is_empty() {
        return Ok(());
    }
    session.store.append(records)?;
    session.finish_writes()
}
