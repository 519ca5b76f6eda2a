//! `ledger reconcile EVENTS.json [LOTS.json]`: Azure's reported events (and lots), read by
//! `ledger-input`, matched with the ledger's by `ledger_replay::reconcile`, each differing
//! invoice with the ledger's trace for it.

use std::path::Path;

use ledger_input::azure_api::{self as file, read_events, read_lots};
use ledger_replay::reconcile::{
    attach_traces, reconcile as compare, AzureEvent, AzureEvents, AzureLot, AzureLots,
    Reconciliation,
};

use crate::error::AppError;
use crate::session::Session;

/// Read Azure's files (before the ledger), then compare with the ledger at `data`.
pub fn reconcile(
    data: &Path,
    events: &Path,
    lots: Option<&Path>,
) -> Result<Reconciliation, AppError> {
    let events = azure_events(read_events(events)?);
    let lots = match lots {
        Some(path) => Some(azure_lots(read_lots(path)?)),
        None => None,
    };
    let session = Session::open_for_read(data, "reconcile")?;
    let mut found = compare(&session.projections, &events, lots.as_ref());
    attach_traces(&session.store, &mut found)?;
    Ok(found)
}

fn azure_events(f: file::AzureEvents) -> AzureEvents {
    AzureEvents {
        settled: f
            .settled
            .into_iter()
            .map(|e| AzureEvent {
                index: e.index,
                account: e.account,
                lot: e.lot,
                lot_source: e.lot_source,
                invoice: e.invoice,
                billing_profile: e.billing_profile,
                date: e.date,
                charges: e.charges,
                closed_balance: e.closed_balance,
            })
            .collect(),
        ignored: f.ignored,
        unusable: f.unusable,
        next_link: f.next_link,
    }
}

fn azure_lots(f: file::AzureLots) -> AzureLots {
    AzureLots {
        lots: f
            .lots
            .into_iter()
            .map(|l| AzureLot {
                index: l.index,
                account: l.account,
                name: l.name,
                source: l.source,
                status: l.status,
                original: l.original,
                closed_balance: l.closed_balance,
            })
            .collect(),
        next_link: f.next_link,
    }
}
