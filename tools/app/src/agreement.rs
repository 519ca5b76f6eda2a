//! `ledger agreement FILE...` and `POST /ledger/agreements`: record agreements (first versions
//! and amendments) through the decide path every writer shares.

use std::path::{Path, PathBuf};

use ledger_core::event::Event;
use ledger_core::{Agreement, Fact};
use ledger_input::agreement::read_agreement;
use ledger_replay::write::stage;
use ledger_store::{agreement_content_hash, Appender, Head};

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

/// Read and validate every file, then record them in order. Only a valid set of files opens
/// (or creates) the ledger.
pub fn record_files(data: &Path, files: &[PathBuf]) -> Result<Vec<Recorded>, AppError> {
    // Read and validate every file before the ledger is opened (or created).
    let mut agreements = Vec::with_capacity(files.len());
    for file in files {
        agreements.push(read_agreement(file)?);
    }
    let mut session = Session::open_for_write(data, "agreement")?;
    let mut out = Vec::with_capacity(files.len());
    for (file, agreement) in files.iter().zip(agreements) {
        out.push(record(&mut session, file, agreement)?);
    }
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
    let account = agreement.account.clone();
    let content_hash = agreement_content_hash(&agreement);
    let fact = Fact::Agreement {
        agreement,
        content_hash,
    };
    let mut appender = Appender::new(session.store.head());
    let staged = stage(&mut session.projections, &mut appender, &fact).map_err(|source| {
        AppError::AgreementRefused {
            file: file.to_path_buf(),
            source: Box::new(source),
        }
    })?;
    let events = match staged {
        None => None,
        Some(staged) => {
            session.store.append(&staged.records)?;
            session.finish_writes()?;
            Some(staged.applied.events)
        }
    };
    let version = session
        .projections
        .ledger
        .account(&account)
        .map(|a| a.agreement_version)
        .unwrap_or(0);
    Ok(Recorded {
        file: file.to_path_buf(),
        account,
        version,
        events,
        head: session.store.head(),
    })
}
