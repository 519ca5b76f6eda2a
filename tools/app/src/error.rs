//! [`AppError`]: why a use case failed, as a type. The binary and the server decide what it
//! means for the user (the exit status, the HTTP status, what is printed around it); the
//! message of each variant is the sentence a person reads.

use std::path::PathBuf;

use ledger_input::InputError;
use ledger_replay::load::ReplayError;
use ledger_replay::plan::PlanError;
use ledger_replay::resettle::ResettleError;
use ledger_replay::trace::TraceError;
use ledger_replay::whatif::WhatIfError;
use ledger_replay::write::StageError;
use ledger_store::StoreError;

/// Why a use case of `ledger-app` failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A file was refused (it names the file, line and column).
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    WhatIf(#[from] WhatIfError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A resettle was refused (the core names what a correction cannot express).
    #[error(transparent)]
    Resettle(#[from] ResettleError),
    /// `--data` names no ledger (only `agreement` and `serve` create one).
    #[error("no ledger at {}: record an agreement first (`ledger agreement FILE`), or point --data / LEDGER_DATA at one", .dir.display())]
    NoLedger { dir: PathBuf },
    /// `--account` names an account the ledger does not have.
    #[error("no account '{0}' in this ledger")]
    UnknownAccount(String),
    /// `close` on a ledger with no agreement.
    #[error("nothing to close: no agreement has been recorded")]
    NothingToClose,
    /// `resettle` on a ledger with no agreement.
    #[error("nothing to resettle: no agreement has been recorded")]
    NothingToResettle,
    /// The core refused an agreement file's agreement.
    #[error("{}: {source}", .file.display())]
    AgreementRefused {
        file: PathBuf,
        source: Box<StageError>,
    },
    /// The core refused an invoice of a charge file; nothing of that file was appended.
    #[error("{}:{line}: invoice {invoice}: {source}; nothing from this file was recorded", .file.display())]
    InvoiceRefused {
        file: PathBuf,
        /// The invoice's first line in the file.
        line: u64,
        invoice: String,
        source: Box<StageError>,
    },
    /// A command of several files refused one of them: none was recorded.
    #[error("{source}\n(none of the {count} files of this command was recorded: they are recorded all or none)")]
    NoneRecorded { count: usize, source: Box<AppError> },
    /// R-IDEM-2 with the first difference named (`detail`); nothing of the file was recorded.
    #[error("{}:{line}: invoice {invoice} was settled before with different content (R-IDEM-2): {detail}; nothing from this file was recorded", .file.display())]
    InvoiceConflict {
        file: PathBuf,
        /// The file line of the first differing line, else the invoice's first line.
        line: u64,
        invoice: String,
        detail: String,
    },
    /// The core refused the close of one account; nothing was recorded for any.
    #[error("close of account {account} through {through}: {source}; nothing was recorded")]
    CloseRefused {
        account: String,
        through: ledger_core::Date,
        source: Box<StageError>,
    },
    /// A scenario's replaced terms do not make an agreement (the message names the scenario
    /// file, line and key).
    #[error("{message}")]
    ScenarioAgreement { message: String },
    /// A scenario's change cannot apply.
    #[error("{}{}: change[{index}]: {message}", .path.display(), at_line(.line))]
    ScenarioChange {
        path: PathBuf,
        line: Option<u64>,
        /// 0-based, as the file's `change[i]` keys are named.
        index: usize,
        message: String,
    },
    /// A scenario's altered facts were refused by the core.
    #[error("{}: {source}", .path.display())]
    ScenarioFold {
        path: PathBuf,
        source: Box<WhatIfError>,
    },
}

/// `:12` after a path when the line is known.
fn at_line(line: &Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}
