//! # ledger-core: the pure domain of the commitment ledger
//!
//! A deterministic function from (state, fact) to (state, decisions). It knows the rules of
//! `docs/RULES.md` (each cited by its id, R-…) and nothing about files, sled, bincode, tokio,
//! threads or the wall clock.
//!
//! - [`money::Money`]: exact fixed-point amounts (10^-24 units in an `i128`).
//! - [`rulebook`]: R-ELIG and R-COVER as versioned data, every cell with its rule id.
//! - [`agreement`]: MACC, CACO and credit terms, validated.
//! - [`fact`]: agreements, invoices with charge lines, close dates.
//! - [`event`]: the decisions the core emits.
//! - [`ledger::Ledger::apply`]: the one entry point (R-SETTLE, R-EVAL, R-ADJ, R-CSP...).
//! - [`state`]: balances and statuses, and `evolve`, the fold that replays decisions.
//!
//! Start reading at [`ledger::Ledger::apply`], then `settle.rs`.

pub mod agreement;
pub mod amounts;
mod correction;
pub mod date;
pub mod error;
mod evaluate;
pub mod event;
mod evolve;
pub mod fact;
pub mod ident;
pub mod kind;
pub mod ledger;
pub mod money;
pub mod pending;
pub mod resettle;
pub mod rulebook;
mod settle;
pub mod state;
pub mod trace;

pub use agreement::{
    AccountTerms, Agreement, CacoBasis, CacoMilestoneTerms, CacoTerms, CreditOrder, CreditTerms,
    MaccMilestoneTerms, MaccTerms,
};
pub use amounts::Amounts;
pub use date::{Date, DateRangeError};
pub use error::CoreError;
pub use evaluate::shortfall_conversion;
pub use event::{Event, InvoiceSummary, LotOrigin, LotTerms};
pub use fact::{ChargeLine, Fact, Invoice, StrRef};
pub use kind::{ChargeKind, CreditKind, KindSet, Payer};
pub use ledger::{Applied, ApplyOptions, Ledger};
pub use money::{Factor, Money};
pub use state::AccountState;
pub use trace::{MaccSkip, NoTrace, Portion, TraceSink};
