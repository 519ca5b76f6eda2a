//! Errors of the core. Each says what was wrong in words a user can act on; the shell adds the
//! file, line and column.

use crate::agreement::AgreementError;
use crate::date::DateRangeError;

/// Why the core refused a fact, or could not fold a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("no agreement has been recorded for account '{account}'; record one with `ledger agreement FILE` first")]
    UnknownAccount { account: String },
    #[error("invoice {invoice} is in {found}, but account '{account}' is in {expected}")]
    CurrencyMismatch {
        account: String,
        invoice: String,
        expected: String,
        found: String,
    },
    #[error("invoice {invoice} was settled before with different content (R-IDEM-2): {detail}")]
    InvoiceConflict { invoice: String, detail: String },
    #[error("invoice id {invoice} is reserved: ids starting with SHORTFALL- or WHATIF- are made by the ledger itself")]
    ReservedInvoiceId { invoice: String },
    #[error("invoice {invoice} has {count} lines; at most {max} are accepted per invoice")]
    TooManyLines {
        invoice: String,
        count: usize,
        max: usize,
    },
    #[error("invoice {invoice} line {line_position}: {message}")]
    InvalidLine {
        invoice: String,
        line_position: u32,
        message: String,
    },
    #[error("invoice {invoice} line {line_position} opens lot '{lot}', but that lot id is already in use")]
    DuplicateLotId {
        invoice: String,
        line_position: u32,
        lot: String,
    },
    #[error("agreement: {0}")]
    InvalidAgreement(#[from] AgreementError),
    #[error("agreement amendment refused: {field}: {message}")]
    AmendmentRefused { field: String, message: String },
    #[error("amount overflow in {context}: a total left the range the ledger keeps (±10^14)")]
    Overflow { context: String },
    #[error("{context}: {source}")]
    DateOutOfRange {
        /// The date being derived, e.g. `lot 'p1' expiry`.
        context: String,
        source: DateRangeError,
    },
    #[error("the recorded decisions do not fold: {message}")]
    Corrupt { message: String },
    #[error("invariant broken: {message}")]
    Invariant { message: String },
    #[error("account '{account}' cannot be resettled: {message}; nothing was recorded")]
    ResettleRefused { account: String, message: String },
}
