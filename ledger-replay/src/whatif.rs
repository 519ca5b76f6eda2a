//! What-if replays: the recorded facts, altered by a scenario, folded on a fork that never
//! writes to the log.
//!
//! A [`Scenario`] scales or drops recorded charge lines, adds monthly lines, and may replace
//! agreement terms. [`run`] reads and decodes the log once; a reader thread hands every
//! recorded fact to a few workers (one per core at most) without queueing, so at most two
//! decoded facts are alive whatever the log's size; each worker folds the fact into each of its
//! scenarios in turn: alters it (into one scratch buffer the worker's scenarios share, so the
//! altered copies alive at once are one per worker, not one per scenario) and folds it into the
//! scenario's own [`Projections`], starting from an empty ledger, with the same decide path as
//! ingest (`Ledger::apply`, then `Projections::record`). The baseline is the stored
//! projections. Scenarios share nothing but the decoded facts, so running several scenarios
//! together gives exactly what running them one by one gives (R-DET-2).
//!
//! [`figures`] then reads what a comparison of baseline and scenario shows from either side's
//! projections, as typed [`Figures`] (`ledger-render` puts them side by side and words the
//! consequences).
//!
//! How the changes apply (the decisions where INTERFACE.md is silent):
//! - `scale` and `drop` apply to recorded lines in change order (a dropped line stays dropped;
//!   scales compound); lines added by `add` are not scaled or dropped.
//! - `scale` multiplies with [`Money::mul_factor_rounded`]: exact unless the exact product
//!   needs more than 24 decimal places, then rounded half to even at 10^-24.
//! - A purchase line that opens a lot keeps its recorded lot id (`{invoice}/{n}`) even when
//!   lines before it are dropped, so the scenario's lots line up with the baseline's.
//! - `add` puts one line per month, dated the 15th, in the first recorded invoice of the
//!   account (settlement order) whose billing period holds that day. A month without one gets
//!   an engine-made invoice `WHATIF-YYYY-MM`, dated the 5th of the next month, period = the
//!   month, settled just before the first recorded fact of that account that comes after it:
//!   an invoice dated after it, or a `close` through a date on or after the month's end (a
//!   close says the month's charges are in); else at the end of the log.
//! - Agreement facts pass through [`Scenario::agreement_override`] when it is given.
//! - Event ids of recorded facts use the recorded decision seq (an event the scenario does not
//!   change keeps its id); events of `WHATIF-` invoices use seqs from [`WHATIF_SEQ_BASE`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use crate::project::{read_mixes, to_cent, Mix, MixQuery};
use crate::projection::Projections;
use crate::run_rate::settled_months;
use ledger_core::state::{AccountState, CacoMilestoneState, LotStatus, MaccState};
use ledger_core::{
    Agreement, ApplyOptions, ChargeKind, ChargeLine, CoreError, Date, Fact, Factor, Invoice,
    KindSet, Money, NoTrace, StrRef,
};
use ledger_store::{ReadOptions, Store, StoreError};

/// Which recorded charge lines a change applies to. A line matches when every given field
/// matches; a filter with no field matches every line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFilter {
    pub kinds: Option<KindSet>,
    pub service: Option<String>,
    pub billing_profile: Option<String>,
    pub account: Option<String>,
    /// `charge_date >= from`.
    pub from: Option<Date>,
    /// `charge_date <= to`.
    pub to: Option<Date>,
}

/// One alteration of the recorded spend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Multiply the amount of every matching line by `factor` (not negative).
    Scale { filter: LineFilter, factor: Factor },
    /// Remove every matching line.
    Drop { filter: LineFilter },
    /// One line of `monthly` per month from `from_month` to `to_month` (any day of those
    /// months; only year and month count), dated the 15th.
    Add {
        monthly: Money,
        kind: ChargeKind,
        billing_profile: String,
        /// Default: the ledger's only account.
        account: Option<String>,
        service: Option<String>,
        from_month: Date,
        to_month: Date,
    },
    /// Future months at the run rate ([`crate::project`]): one engine-made invoice per month
    /// from `from_month` to `to_month` that no recorded invoice covers, holding the account's
    /// mix (measured over the `window` months before `from_month`) times `scale`, times
    /// `(1 + growth)^i` in the `i`-th month after `from_month`, each line to the cent.
    Project {
        /// Default: the ledger's only account.
        account: Option<String>,
        from_month: Date,
        to_month: Date,
        /// Monthly, compounding (`-1` or more).
        growth: Option<Factor>,
        scale: Option<Factor>,
        window: u32,
    },
}

/// Replaces a recorded agreement by the scenario's terms (an `Err` names what is wrong).
pub type AgreementOverride = Arc<dyn Fn(&Agreement) -> Result<Agreement, String> + Send + Sync>;

/// A named set of changes.
#[derive(Clone)]
pub struct Scenario {
    pub name: String,
    pub changes: Vec<Change>,
    /// Applied to every recorded agreement fact (first version and amendments).
    pub agreement_override: Option<AgreementOverride>,
    /// When given, every deadline up to this date is evaluated on the fork once every
    /// recorded fact and engine-made invoice is settled, as `ledger close --through` would.
    pub through: Option<Date>,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("changes", &self.changes)
            .field(
                "agreement_override",
                &self.agreement_override.as_ref().map(|_| "Fn"),
            )
            .field("through", &self.through)
            .finish()
    }
}

/// Why a scenario could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum WhatIfError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("record {seq}: {message}")]
    Damaged { seq: u64, message: String },
    #[error("scenario {scenario}: change {change}: {message}")]
    Change {
        scenario: String,
        /// 1-based position of the change in the scenario.
        change: usize,
        message: String,
    },
    #[error("scenario {scenario}: the agreement of account {account}: {message}")]
    Agreement {
        scenario: String,
        account: String,
        message: String,
    },
    #[error("scenario {scenario}: {fact}: the core refuses the altered fact: {error}")]
    Fold {
        scenario: String,
        /// What was being applied, e.g. `invoice INV-2025-06 (record 12)`.
        fact: String,
        error: Box<CoreError>,
    },
}

/// Facts queued per worker between the reader and the worker: none (a hand-over), so at most
/// two decoded facts are alive whatever the log's size (one fact may be an invoice of up to
/// `MAX_LINES_PER_INVOICE` lines): the one the slowest worker folds and the one read next.
pub const FACTS_IN_FLIGHT: usize = 0;
/// The first seq given to the decisions of engine-made `WHATIF-` invoices (beyond any log).
pub const WHATIF_SEQ_BASE: u64 = 1 << 63;
/// Most months one `add` may span.
pub const MAX_ADD_MONTHS: u32 = 1200;

const OPTIONS: ApplyOptions = ApplyOptions {
    allow_whatif_ids: true,
};

/// A recorded fact as the reader hands it to the workers.
struct Recorded {
    fact: Fact,
    /// Seq of its decisions record (event ids derive from it).
    decision_seq: u64,
    /// The log position after it.
    next_seq: u64,
}

/// What the scenarios' projections keep besides the ledger state and the lot and CACO views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Views {
    /// Every view, the spend view the run rates read included (alerts: `ledger report`).
    All,
    /// All but the spend view. The comparison `ledger whatif` prints (lots, CACOs, invoices,
    /// [`Figures`]) reads no run rate, and summing every line of every scenario by charge date
    /// costs each scenario a pass over the lines and a map of (day, kind) sums.
    WithoutSpend,
}

/// Fold every scenario over the recorded facts of `store`, reading the log once. `baseline`
/// is the stored projections (the placement of added lines is planned from its invoices).
/// The results are in the order of `scenarios`; on failure, the error of the first failing
/// scenario in that order.
pub fn run(
    store: &Store,
    baseline: &Projections,
    scenarios: &[Scenario],
) -> Result<Vec<Projections>, WhatIfError> {
    run_keeping(store, baseline, scenarios, Views::All)
}

/// [`run`], the scenarios' projections keeping `views`.
pub fn run_keeping(
    store: &Store,
    baseline: &Projections,
    scenarios: &[Scenario],
    views: Views,
) -> Result<Vec<Projections>, WhatIfError> {
    let mixes = project_mixes(store, baseline, scenarios)?;
    let plans = scenarios
        .iter()
        .map(|s| plan(baseline, s, &mixes))
        .collect::<Result<Vec<Plan>, WhatIfError>>()?;
    if scenarios.is_empty() {
        return Ok(Vec::new());
    }
    let workers = workers_for(scenarios.len());
    let mut shares: Vec<Vec<(usize, ScenarioFold)>> = (0..workers).map(|_| Vec::new()).collect();
    for (index, (scenario, plan)) in scenarios.iter().zip(plans).enumerate() {
        shares[index % workers].push((index, ScenarioFold::new(scenario, plan, views)));
    }
    let mut results: Vec<Option<Result<Projections, WhatIfError>>> =
        (0..scenarios.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let mut senders: Vec<Option<SyncSender<Arc<Recorded>>>> = Vec::new();
        let mut handles = Vec::new();
        for share in shares {
            let (tx, rx) = sync_channel::<Arc<Recorded>>(FACTS_IN_FLIGHT);
            senders.push(Some(tx));
            handles.push(scope.spawn(move || work(share, rx)));
        }
        let read = read_log(store, &mut senders);
        // Closing the channels ends every worker's loop.
        drop(senders);
        for handle in handles {
            let done = match handle.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            for (index, result) in done {
                results[index] = Some(result);
            }
        }
        read?;
        results
            .into_iter()
            .map(|r| r.expect("every scenario is folded by one worker"))
            .collect()
    })
}

/// Worker threads for `scenarios`: one per core at most. A worker folds its scenarios one
/// after the other on each fact and shares one scratch buffer among them, so the altered
/// copies of an invoice alive at once are one per worker, not one per scenario.
fn workers_for(scenarios: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    scenarios.clamp(1, cores.max(1))
}

/// One worker: every fact folded into each of its scenarios (their indexes in the run) that
/// has not failed; stops reading when all have failed.
fn work(
    share: Vec<(usize, ScenarioFold)>,
    facts: Receiver<Arc<Recorded>>,
) -> Vec<(usize, Result<Projections, WhatIfError>)> {
    let mut folds: Vec<(usize, Result<ScenarioFold, WhatIfError>)> =
        share.into_iter().map(|(i, f)| (i, Ok(f))).collect();
    let mut scratch = Scratch::default();
    for recorded in facts {
        for (_, slot) in folds.iter_mut() {
            if let Ok(fold) = slot {
                if let Err(e) = fold.step(&recorded, &mut scratch) {
                    *slot = Err(e);
                }
            }
        }
        if folds.iter().all(|(_, f)| f.is_err()) {
            break;
        }
    }
    folds
        .into_iter()
        .map(|(i, f)| (i, f.and_then(ScenarioFold::finish)))
        .collect()
}

/// Decode the log once, handing each fact to every worker still running.
fn read_log(
    store: &Store,
    senders: &mut [Option<SyncSender<Arc<Recorded>>>],
) -> Result<(), WhatIfError> {
    let reader = store.reader(ReadOptions {
        from_seq: 0,
        verify_chain: false,
    });
    for entry in reader {
        let entry = entry?;
        let Some(decisions) = entry.decisions else {
            return Err(WhatIfError::Damaged {
                seq: entry.first_seq,
                message: "a fact without its decisions".into(),
            });
        };
        let recorded = Arc::new(Recorded {
            fact: entry.fact,
            decision_seq: decisions.seq,
            next_seq: entry.last_seq + 1,
        });
        for slot in senders.iter_mut() {
            // A worker that stopped (its scenario failed) has dropped its receiver.
            if slot
                .as_ref()
                .is_some_and(|tx| tx.send(Arc::clone(&recorded)).is_err())
            {
                *slot = None;
            }
        }
        if senders.iter().all(Option::is_none) {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Planning the added lines.

/// A line an `add` or a `project` puts into an invoice.
#[derive(Clone, Debug)]
pub(crate) struct AddedLine {
    amount: Money,
    kind: ChargeKind,
    charge_date: Date,
    billing_profile: String,
    service: Option<String>,
}

/// Where every added line goes, decided before the fold from the baseline's invoices.
#[derive(Default)]
struct Plan {
    /// account → recorded invoice id → lines to append.
    into_recorded: BTreeMap<String, BTreeMap<String, Vec<AddedLine>>>,
    /// account → engine-made invoices in date order, waiting for their turn.
    whatif: BTreeMap<String, VecDeque<Invoice>>,
}

/// Engine-made invoices being filled, by (account, id).
type WhatIfInvoices = BTreeMap<(String, String), Invoice>;

fn change_error(scenario: &Scenario, index: usize, message: impl Into<String>) -> WhatIfError {
    WhatIfError::Change {
        scenario: scenario.name.clone(),
        change: index + 1,
        message: message.into(),
    }
}

/// The account a change names, else the ledger's only account.
fn change_account(baseline: &Projections, account: Option<&String>) -> Result<String, String> {
    if let Some(a) = account {
        return match baseline.ledger.account(a) {
            Some(_) => Ok(a.clone()),
            None => Err(format!("no account '{a}' in this ledger")),
        };
    }
    let mut names = baseline.ledger.accounts.keys();
    match (names.next(), names.next()) {
        (Some(only), None) => Ok(only.clone()),
        (None, _) => Err("the ledger has no account yet; record an agreement first".into()),
        (Some(_), Some(_)) => {
            let all: Vec<&str> = baseline
                .ledger
                .accounts
                .keys()
                .map(|s| s.as_str())
                .collect();
            Err(format!(
                "the ledger has several accounts ({}); say which with account = \"...\"",
                all.join(", ")
            ))
        }
    }
}

/// The months `from..=to` (first days), refused beyond [`MAX_ADD_MONTHS`].
fn change_months(from_month: Date, to_month: Date) -> Result<Vec<Date>, String> {
    let first = from_month.month_start();
    let last = to_month.month_start();
    if last < first {
        return Err(format!(
            "to {} is before from {}",
            month_text(last),
            month_text(first)
        ));
    }
    let months = (last.year() - first.year()) * 12 + last.month() as i32 - first.month() as i32 + 1;
    if months as u32 > MAX_ADD_MONTHS {
        return Err(format!("spans {months} months; at most {MAX_ADD_MONTHS}"));
    }
    Ok((0..months as u32).map(|i| first.add_months(i)).collect())
}

/// The mixes the `project` changes of `scenarios` need, read from the log at once.
fn project_mixes(
    store: &Store,
    baseline: &Projections,
    scenarios: &[Scenario],
) -> Result<BTreeMap<MixQuery, Mix>, WhatIfError> {
    let mut queries = std::collections::BTreeSet::new();
    for change in scenarios.iter().flat_map(|s| &s.changes) {
        if let Change::Project {
            account,
            from_month,
            window,
            ..
        } = change
        {
            // A change naming no usable account is refused when the scenario is planned.
            if let Ok(account) = change_account(baseline, account.as_ref()) {
                queries.insert(MixQuery {
                    account,
                    as_of: from_month.month_start(),
                    window: *window,
                });
            }
        }
    }
    let queries: Vec<MixQuery> = queries.into_iter().collect();
    let mixes = read_mixes(store, &baseline.ledger.accounts, &queries)?;
    Ok(queries.into_iter().zip(mixes).collect())
}

fn plan(
    baseline: &Projections,
    scenario: &Scenario,
    mixes: &BTreeMap<MixQuery, Mix>,
) -> Result<Plan, WhatIfError> {
    let mut plan = Plan::default();
    let mut whatif: WhatIfInvoices = BTreeMap::new();
    for (index, change) in scenario.changes.iter().enumerate() {
        let planned = match change {
            Change::Add { .. } => plan_add(baseline, change, &mut plan, &mut whatif),
            Change::Project { .. } => plan_project(baseline, change, mixes, &mut whatif),
            Change::Scale { factor, .. } if factor.is_negative() => Err(format!(
                "factor {factor} is negative; a scale factor is 0 or more"
            )),
            Change::Scale { .. } | Change::Drop { .. } => Ok(()),
        };
        planned.map_err(|message| change_error(scenario, index, message))?;
    }
    for ((account, _), invoice) in whatif {
        // BTreeMap order of `WHATIF-YYYY-MM` ids is date order.
        plan.whatif.entry(account).or_default().push_back(invoice);
    }
    Ok(plan)
}

/// An `add`: one line a month, into the recorded invoice whose period holds its day, else
/// into the month's engine-made invoice.
fn plan_add(
    baseline: &Projections,
    change: &Change,
    plan: &mut Plan,
    whatif: &mut WhatIfInvoices,
) -> Result<(), String> {
    let Change::Add {
        monthly,
        kind,
        billing_profile,
        account,
        service,
        from_month,
        to_month,
    } = change
    else {
        return Ok(());
    };
    if *kind == ChargeKind::Refund && !monthly.is_negative() {
        return Err(format!("monthly {monthly}: a refund line must be negative"));
    }
    if *kind != ChargeKind::Refund && monthly.is_negative() {
        return Err(format!(
            "monthly {monthly}: only refund lines may be negative"
        ));
    }
    let months = change_months(*from_month, *to_month)?;
    let account = change_account(baseline, account.as_ref())?;
    let acct = baseline.ledger.account(&account).expect("checked above");
    for month in months {
        let day = month.add_days(14);
        let line = AddedLine {
            amount: *monthly,
            kind: *kind,
            charge_date: day,
            billing_profile: billing_profile.clone(),
            service: service.clone(),
        };
        let recorded = acct
            .invoices
            .iter()
            .find(|s| !s.synthetic && s.period_start <= day && day <= s.period_end);
        match recorded {
            Some(summary) => plan
                .into_recorded
                .entry(account.clone())
                .or_default()
                .entry(summary.id.clone())
                .or_default()
                .push(line),
            None => add_to_whatif(whatif, acct, month, std::slice::from_ref(&line)),
        }
    }
    Ok(())
}

/// A `project`: the account's mix, scaled and grown, in an engine-made invoice for every month
/// no recorded invoice covers.
fn plan_project(
    baseline: &Projections,
    change: &Change,
    mixes: &BTreeMap<MixQuery, Mix>,
    whatif: &mut WhatIfInvoices,
) -> Result<(), String> {
    let Change::Project {
        account,
        from_month,
        to_month,
        growth,
        scale,
        window,
    } = change
    else {
        return Ok(());
    };
    let months = change_months(*from_month, *to_month)?;
    let account = change_account(baseline, account.as_ref())?;
    let acct = baseline.ledger.account(&account).expect("checked above");
    if scale.is_some_and(|f| f.is_negative()) {
        return Err("scale is negative; a scale factor is 0 or more".into());
    }
    let step = match growth {
        None => None,
        Some(g) => Some(growth_step(*g)?),
    };
    let query = MixQuery {
        account: account.clone(),
        as_of: from_month.month_start(),
        window: *window,
    };
    let mix = mixes.get(&query).cloned().unwrap_or_default();
    // The unrounded amounts of the month being planned.
    let mut level: Vec<Money> = mix
        .entries
        .iter()
        .map(|e| match scale {
            Some(f) => e.monthly.mul_factor_rounded(*f),
            None => Ok(e.monthly),
        })
        .collect::<Result<_, _>>()
        .map_err(|_| "scaling overflows an amount".to_string())?;
    let settled = settled_months(acct);
    for month in months {
        if !settled.contains(&month) {
            let lines: Vec<AddedLine> = mix
                .entries
                .iter()
                .zip(&level)
                .map(|(e, amount)| AddedLine {
                    amount: to_cent(*amount),
                    kind: e.kind,
                    charge_date: month.add_days(14),
                    billing_profile: e.profile.clone(),
                    service: None,
                })
                .filter(|l| l.amount.is_positive())
                .collect();
            add_to_whatif(whatif, acct, month, &lines);
        }
        if let Some(step) = step {
            for amount in &mut level {
                *amount = amount
                    .mul_factor_rounded(step)
                    .map_err(|_| "growth overflows an amount".to_string())?;
            }
        }
    }
    Ok(())
}

/// `1 + growth` as a factor, refused when negative.
fn growth_step(growth: Factor) -> Result<Factor, String> {
    let step = Money::from_whole(1)
        .checked_add(growth.as_money())
        .map_err(|_| format!("growth {growth} is out of range"))?;
    if step.is_negative() {
        return Err(format!(
            "growth {growth} is below -1; a month cannot shrink by more than all of it"
        ));
    }
    Factor::parse(&step.to_plain_string()).map_err(|e| format!("growth {growth}: {e}"))
}

/// Append `lines` to the engine-made invoice of `month` of `acct`, made when first needed.
fn add_to_whatif(
    whatif: &mut WhatIfInvoices,
    acct: &AccountState,
    month: Date,
    lines: &[AddedLine],
) {
    let id = format!("WHATIF-{}", month_text(month));
    let invoice = whatif
        .entry((acct.account.clone(), id))
        .or_insert_with(|| whatif_invoice(acct, month));
    let mut builder = LineBuilder::extend(invoice);
    for line in lines {
        builder.push_added(line);
    }
    builder.finish_into(invoice);
}

/// The empty engine-made invoice `WHATIF-YYYY-MM` of `month`: dated the 5th of the next month,
/// period = the month.
fn whatif_invoice(acct: &AccountState, month: Date) -> Invoice {
    Invoice {
        account: acct.account.clone(),
        id: format!("WHATIF-{}", month_text(month)),
        date: month.add_months(1).add_days(4),
        period_start: month,
        period_end: month.month_end(),
        currency: acct.currency.clone(),
        // Engine-made: there is no file content to digest. A what-if starts from an empty
        // ledger, so no idempotency check compares it.
        content_hash: [0; 32],
        profiles: Vec::new(),
        strings: Vec::new(),
        lines: Vec::new(),
    }
}

/// The engine-made invoice of `month` holding one line per entry of `mix` (a `project`'s
/// month, as `ledger plan` settles it on its forks).
pub(crate) fn projected_invoice(acct: &AccountState, month: Date, mix: &Mix) -> Invoice {
    let lines: Vec<AddedLine> = mix
        .entries
        .iter()
        .filter(|e| e.monthly.is_positive())
        .map(|e| AddedLine {
            amount: e.monthly,
            kind: e.kind,
            charge_date: month.add_days(14),
            billing_profile: e.profile.clone(),
            service: None,
        })
        .collect();
    let mut whatif = WhatIfInvoices::new();
    add_to_whatif(&mut whatif, acct, month, &lines);
    whatif
        .into_values()
        .next()
        .expect("one invoice was just made")
}

fn month_text(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

// ---------------------------------------------------------------------------------------------
// The fold of one scenario.

/// One scenario's fold in progress: its own projections, from an empty ledger.
struct ScenarioFold<'s> {
    scenario: &'s Scenario,
    plan: Plan,
    projections: Projections,
    whatif_seq: u64,
    /// What the projections keep besides the ledger state (see [`Views`]).
    views: Views,
}

impl<'s> ScenarioFold<'s> {
    fn new(scenario: &'s Scenario, plan: Plan, views: Views) -> ScenarioFold<'s> {
        ScenarioFold {
            scenario,
            plan,
            projections: Projections::new(),
            whatif_seq: WHATIF_SEQ_BASE,
            views,
        }
    }

    /// Fold one recorded fact, altered by the scenario; engine-made invoices whose turn has
    /// come go first.
    fn step(&mut self, recorded: &Recorded, scratch: &mut Scratch) -> Result<(), WhatIfError> {
        let scenario = self.scenario;
        let due = match &recorded.fact {
            Fact::Invoice(inv) => Some((&inv.account, Due::DatedBefore(inv.date))),
            Fact::Close { account, through } => Some((account, Due::EndingBy(*through))),
            Fact::Agreement { .. } | Fact::Resettle { .. } | Fact::Pending(_) => None,
        };
        if let Some((account, due)) = due {
            if let Some(queue) = self.plan.whatif.get_mut(account.as_str()) {
                while queue.front().is_some_and(|w| due.includes(w)) {
                    let invoice = queue.pop_front().expect("front exists");
                    apply_whatif(
                        scenario,
                        &mut self.projections,
                        invoice,
                        &mut self.whatif_seq,
                        self.views,
                    )?;
                }
            }
        }
        let altered = alter(scenario, &self.plan, &recorded.fact, scratch)?;
        let fact = altered.as_ref().unwrap_or(&recorded.fact);
        apply(
            &mut self.projections,
            fact,
            (recorded.decision_seq, recorded.next_seq),
            self.views,
        )
        .map_err(|error| WhatIfError::Fold {
            scenario: scenario.name.clone(),
            fact: describe(fact, Some(recorded.decision_seq)),
            error: Box::new(error),
        })?;
        if let Some(Fact::Invoice(invoice)) = altered {
            // Reuse the buffer: a fresh one per invoice costs a page fault per 4 KiB written.
            scratch.lines = invoice.lines;
        }
        Ok(())
    }

    /// After the log: the engine-made invoices still waiting, then `through`.
    fn finish(mut self) -> Result<Projections, WhatIfError> {
        let scenario = self.scenario;
        for (_, queue) in std::mem::take(&mut self.plan.whatif) {
            for invoice in queue {
                apply_whatif(
                    scenario,
                    &mut self.projections,
                    invoice,
                    &mut self.whatif_seq,
                    self.views,
                )?;
            }
        }
        if let Some(through) = scenario.through {
            close_through(
                scenario,
                &mut self.projections,
                through,
                &mut self.whatif_seq,
            )?;
        }
        Ok(self.projections)
    }
}

/// `through`: every deadline up to the date evaluated on the fork, account by account, by the
/// fact `ledger close --through` records (R-EVAL).
fn close_through(
    scenario: &Scenario,
    projections: &mut Projections,
    through: Date,
    seq: &mut u64,
) -> Result<(), WhatIfError> {
    let accounts: Vec<String> = projections.ledger.accounts.keys().cloned().collect();
    for account in accounts {
        let fact = Fact::Close { account, through };
        let next_seq = projections.next_seq;
        apply(projections, &fact, (*seq, next_seq), Views::All).map_err(|error| {
            WhatIfError::Fold {
                scenario: scenario.name.clone(),
                fact: describe(&fact, None),
                error: Box::new(error),
            }
        })?;
        *seq += 1;
    }
    Ok(())
}

/// When a waiting `WHATIF-` invoice must be settled, before a recorded fact.
enum Due {
    /// Before a recorded invoice dated after it.
    DatedBefore(Date),
    /// Before a close through its period's end or later.
    EndingBy(Date),
}

impl Due {
    fn includes(&self, invoice: &Invoice) -> bool {
        match *self {
            Due::DatedBefore(date) => invoice.date < date,
            Due::EndingBy(through) => invoice.period_end <= through,
        }
    }
}

fn apply_whatif(
    scenario: &Scenario,
    projections: &mut Projections,
    invoice: Invoice,
    seq: &mut u64,
    views: Views,
) -> Result<(), WhatIfError> {
    let fact = Fact::Invoice(invoice);
    let next_seq = projections.next_seq;
    apply(projections, &fact, (*seq, next_seq), views).map_err(|error| WhatIfError::Fold {
        scenario: scenario.name.clone(),
        fact: describe(&fact, None),
        error: Box::new(error),
    })?;
    *seq += 1;
    Ok(())
}

/// The decide path of ingest, without the store: apply, then record `views`. `seqs` are the
/// fact's decision record's position and the log position after it.
fn apply(
    projections: &mut Projections,
    fact: &Fact,
    (seq, next_seq): (u64, u64),
    views: Views,
) -> Result<(), CoreError> {
    let applied = projections
        .ledger
        .apply_traced(fact, OPTIONS, &mut NoTrace)?;
    if !applied.duplicate {
        projections.record(&applied.account, seq, &applied.events);
        let spend_only = matches!(fact, Fact::Invoice(_));
        if views == Views::All || !spend_only {
            projections.note_fact(&applied.account, fact);
        }
    }
    projections.advance(next_seq);
    Ok(())
}

fn describe(fact: &Fact, seq: Option<u64>) -> String {
    let what = match fact {
        Fact::Agreement { agreement, .. } => {
            format!("the agreement of account {}", agreement.account)
        }
        Fact::Invoice(inv) => format!("invoice {}", inv.id),
        Fact::Pending(inv) => format!("pending run of invoice {}", inv.id),
        Fact::Close { account, through } => format!("close of account {account} through {through}"),
        Fact::Resettle {
            account, version, ..
        } => format!("resettle of account {account} under rulebook {version}"),
    };
    match seq {
        Some(seq) => format!("{what} (record {seq})"),
        None => what,
    }
}

/// The fact as the scenario sees it; `None` when it passes through unchanged.
fn alter(
    scenario: &Scenario,
    plan: &Plan,
    fact: &Fact,
    scratch: &mut Scratch,
) -> Result<Option<Fact>, WhatIfError> {
    match fact {
        Fact::Agreement {
            agreement,
            content_hash,
        } => {
            let Some(replace) = &scenario.agreement_override else {
                return Ok(None);
            };
            let agreement = replace(agreement).map_err(|message| WhatIfError::Agreement {
                scenario: scenario.name.clone(),
                account: agreement.account.clone(),
                message,
            })?;
            if agreement.account != fact.account() {
                return Err(WhatIfError::Agreement {
                    scenario: scenario.name.clone(),
                    account: fact.account().to_string(),
                    message: format!(
                        "the replaced terms name account {}; terms cannot move to another account",
                        agreement.account
                    ),
                });
            }
            // The recorded digest is kept: the fork starts from an empty ledger, so the only
            // comparison it takes part in is against the fork's own previous agreement version,
            // and the recorded versions' digests differ from each other as they did when recorded.
            Ok(Some(Fact::Agreement {
                agreement,
                content_hash: *content_hash,
            }))
        }
        Fact::Invoice(inv) => {
            let adds = plan
                .into_recorded
                .get(inv.account.as_str())
                .and_then(|m| m.get(inv.id.as_str()))
                .map(|v| v.as_slice());
            Ok(alter_invoice(scenario, inv, adds, scratch)?.map(Fact::Invoice))
        }
        // A recorded resettle applies its recorded corrections to the scenario too.
        Fact::Close { .. } | Fact::Resettle { .. } | Fact::Pending(_) => Ok(None),
    }
}

/// Buffers a worker reuses from invoice to invoice.
#[derive(Default)]
struct Scratch {
    resolved: Vec<Resolved>,
    lines: Vec<ChargeLine>,
}

/// A scale or drop resolved against one invoice's tables.
struct Resolved {
    /// `None`: drop.
    factor: Option<Scale>,
    kinds: KindSet,
    from: Date,
    to: Date,
    profile: Option<u16>,
    /// The string indices spelling the filter's service (one, unless a table repeats it).
    service: Option<Vec<StrRef>>,
}

impl Resolved {
    #[inline]
    fn matches(&self, line: &ChargeLine) -> bool {
        self.kinds.contains(line.kind)
            && self.from <= line.charge_date
            && line.charge_date <= self.to
            && self.profile.is_none_or(|p| p == line.profile)
            && self
                .service
                .as_ref()
                .is_none_or(|refs| refs.contains(&line.service))
    }
}

const ALL_KINDS: KindSet = KindSet::of(&ChargeKind::ALL);

/// [`Money::mul_factor_rounded`] with one division instead of up to four. When the exact
/// product `units × mantissa` fits in an `i128` (a 10^6 amount is 10^30 units, so factors with
/// mantissas up to about 10^8 always do), its quotient and remainder by `10^scale` give the
/// same half-even rounding (a property test checks it); otherwise the general method runs.
#[derive(Clone, Copy, Debug)]
struct Scale {
    factor: Factor,
    mantissa: i128,
    divisor: i128,
    /// The divisor when below 2^32 (a factor with at most 9 decimals): divided in 64-bit steps.
    small: Option<u32>,
}

impl Scale {
    fn new(factor: Factor) -> Scale {
        // A factor is kept in lowest terms, so its money spelling gives back its mantissa and
        // scale exactly.
        let (mantissa, scale) = factor.as_money().to_mantissa_scale();
        Scale {
            factor,
            mantissa,
            divisor: 10i128.pow(scale),
            small: 10u32.checked_pow(scale),
        }
    }

    #[inline]
    fn apply(self, amount: Money) -> Result<Money, ledger_core::money::Overflow> {
        let Some(product) = amount.units().checked_mul(self.mantissa) else {
            return amount.mul_factor_rounded(self.factor);
        };
        if self.divisor == 1 {
            return Ok(Money::from_units(product));
        }
        let (quotient, remainder) = match self.small {
            Some(small) => div_rem_small(product, small),
            None => (product / self.divisor, product % self.divisor),
        };
        if remainder == 0 {
            return Ok(Money::from_units(quotient));
        }
        // |remainder| < divisor <= 10^24, so twice it cannot overflow.
        let twice = remainder.abs() * 2;
        let away = twice > self.divisor || (twice == self.divisor && quotient % 2 != 0);
        Ok(Money::from_units(if !away {
            quotient
        } else if product < 0 {
            quotient - 1
        } else {
            quotient + 1
        }))
    }
}

/// `n / d` and `n % d` as `i128`'s operators give them (the quotient truncated toward zero,
/// the remainder with the sign of `n`), for `d` ≥ 2, in three 64-bit divisions: a 128-bit
/// division is a call that costs several times as much, once per scaled line.
#[inline]
fn div_rem_small(n: i128, d: u32) -> (i128, i128) {
    debug_assert!(d >= 2);
    let d = u64::from(d);
    let m = n.unsigned_abs();
    let (hi, lo) = ((m >> 64) as u64, m as u64);
    // Long division by 32-bit digits: each partial remainder is below d < 2^32, so each
    // partial dividend fits 64 bits and each quotient digit 32 bits.
    let (q2, r) = (hi / d, hi % d);
    let mid = (r << 32) | (lo >> 32);
    let (q1, r) = (mid / d, mid % d);
    let low = (r << 32) | (lo & 0xffff_ffff);
    let (q0, r) = (low / d, low % d);
    let q = (u128::from(q2) << 64) | (u128::from(q1) << 32) | u128::from(q0);
    // |n| <= 2^127 and d >= 2, so q < 2^127; r < d.
    let (q, r) = (q as i128, i128::from(r));
    if n < 0 {
        (-q, -r)
    } else {
        (q, r)
    }
}

/// The scales and drops that may touch `inv` (a filter naming a profile or service the invoice
/// does not have cannot match any of its lines).
fn resolve(changes: &[Change], inv: &Invoice, out: &mut Vec<Resolved>) {
    out.clear();
    for change in changes {
        let (filter, factor) = match change {
            Change::Scale { filter, factor } => (filter, Some(Scale::new(*factor))),
            Change::Drop { filter } => (filter, None),
            Change::Add { .. } | Change::Project { .. } => continue,
        };
        if filter.account.as_ref().is_some_and(|a| *a != inv.account) {
            continue;
        }
        let profile = match &filter.billing_profile {
            None => None,
            Some(name) => match inv.profiles.iter().position(|p| p == name) {
                Some(i) => Some(i as u16),
                None => continue,
            },
        };
        let service = match &filter.service {
            None => None,
            Some(name) => {
                let refs: Vec<StrRef> = inv
                    .strings
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| *s == name)
                    .map(|(i, _)| StrRef::new(i as u32))
                    .collect();
                if refs.is_empty() {
                    continue;
                }
                Some(refs)
            }
        };
        out.push(Resolved {
            factor,
            kinds: filter.kinds.unwrap_or(ALL_KINDS),
            from: filter.from.unwrap_or(Date::MIN),
            to: filter.to.unwrap_or(Date::MAX),
            profile,
            service,
        });
    }
}

/// Scale, drop and append in one pass over the lines. Nothing is copied until the first line
/// that changes; an invoice no change touches is passed through as recorded.
fn alter_invoice(
    scenario: &Scenario,
    inv: &Invoice,
    adds: Option<&[AddedLine]>,
    scratch: &mut Scratch,
) -> Result<Option<Invoice>, WhatIfError> {
    let resolved = &mut scratch.resolved;
    resolve(&scenario.changes, inv, resolved);
    if resolved.is_empty() && adds.is_none() {
        return Ok(None);
    }
    let mut builder: Option<LineBuilder> = None;
    // Added lines go after every recorded line dated on or before them. Settlement orders
    // lines by (charge date, position), so for recorded lines already in date order this is
    // the order appending them would give, without making settlement sort the invoice.
    let mut adds_sorted: Vec<&AddedLine> = Vec::new();
    let mut sorted_lines = false;
    if let Some(adds) = adds {
        builder = Some(LineBuilder::new(inv, std::mem::take(&mut scratch.lines)));
        adds_sorted.extend(adds);
        sorted_lines = inv
            .lines
            .windows(2)
            .all(|w| w[0].charge_date <= w[1].charge_date);
        if sorted_lines {
            adds_sorted.sort_by_key(|a| a.charge_date);
        }
    }
    let mut next_add = 0;
    for (i, line) in inv.lines.iter().enumerate() {
        if sorted_lines {
            let b = builder.as_mut().expect("made for the adds");
            while next_add < adds_sorted.len()
                && adds_sorted[next_add].charge_date < line.charge_date
            {
                b.push_added(adds_sorted[next_add]);
                next_add += 1;
            }
        }
        let mut amount = line.amount;
        let mut keep = true;
        for r in resolved.iter() {
            if !r.matches(line) {
                continue;
            }
            match r.factor {
                None => {
                    keep = false;
                    break;
                }
                Some(scale) => {
                    amount = scale.apply(amount).map_err(|_| {
                        change_error_for_line(scenario, inv, i, "scaling overflows the amount")
                    })?;
                }
            }
        }
        let b = match builder.as_mut() {
            Some(b) => b,
            None if keep && amount == line.amount => continue,
            None => {
                let mut b = LineBuilder::new(inv, std::mem::take(&mut scratch.lines));
                for (j, earlier) in inv.lines[..i].iter().enumerate() {
                    b.push_recorded(inv, earlier, earlier.amount, j);
                }
                builder.insert(b)
            }
        };
        if keep {
            b.push_recorded(inv, line, amount, i);
        }
    }
    if let Some(b) = builder.as_mut() {
        for add in &adds_sorted[next_add..] {
            b.push_added(add);
        }
    }
    Ok(builder.map(|b| b.finish(inv)))
}

fn change_error_for_line(
    scenario: &Scenario,
    inv: &Invoice,
    index: usize,
    message: &str,
) -> WhatIfError {
    WhatIfError::Fold {
        scenario: scenario.name.clone(),
        fact: format!("invoice {} line {}", inv.id, index + 1),
        error: Box::new(CoreError::Overflow {
            context: message.to_string(),
        }),
    }
}

/// The lines, profiles and strings of an altered invoice.
///
/// Settlement reads only two kinds of strings: the `line_id` of a purchase line (the id of the
/// lot it opens) and the `corrects` of refund and milestone shortfall lines. An altered invoice
/// keeps just those, so altering an invoice allocates per invoice, not per line (its services,
/// publishers and descriptions are not needed by the fold).
struct LineBuilder {
    profiles: Vec<String>,
    strings: Vec<String>,
    lines: Vec<ChargeLine>,
}

impl LineBuilder {
    /// Start from `spare` (emptied), a line buffer recycled from an earlier invoice.
    fn new(inv: &Invoice, mut spare: Vec<ChargeLine>) -> LineBuilder {
        spare.clear();
        spare.reserve(inv.lines.len());
        LineBuilder {
            profiles: inv.profiles.clone(),
            strings: Vec::new(),
            lines: spare,
        }
    }

    /// Continue building an engine-made invoice.
    fn extend(inv: &mut Invoice) -> LineBuilder {
        LineBuilder {
            profiles: std::mem::take(&mut inv.profiles),
            strings: std::mem::take(&mut inv.strings),
            lines: std::mem::take(&mut inv.lines),
        }
    }

    fn finish_into(self, inv: &mut Invoice) {
        inv.profiles = self.profiles;
        inv.strings = self.strings;
        inv.lines = self.lines;
    }

    fn intern(&mut self, text: &str) -> StrRef {
        match self.strings.iter().position(|s| s == text) {
            Some(i) => StrRef::new(i as u32),
            None => {
                self.strings.push(text.to_string());
                StrRef::new(self.strings.len() as u32 - 1)
            }
        }
    }

    /// Recorded line `index` (0-based) of `inv`, with `amount`.
    #[inline]
    fn push_recorded(&mut self, inv: &Invoice, line: &ChargeLine, amount: Money, index: usize) {
        // Copied whole, then patched in place: building the line on the stack first made the
        // copy wait on a store-to-load forwarding stall, the hottest spot of the fold.
        let at = self.lines.len();
        self.lines.push(*line);
        let out = &mut self.lines[at];
        out.amount = amount;
        out.line_id = StrRef::NONE;
        out.service = StrRef::NONE;
        out.publisher = StrRef::NONE;
        out.description = StrRef::NONE;
        out.corrects = StrRef::NONE;
        if matches!(
            line.kind,
            ChargeKind::PrepaymentPurchase
                | ChargeKind::MilestoneShortfallPurchase
                | ChargeKind::Refund
        ) {
            self.keep_strings(inv, line, at, index);
        }
    }

    /// The strings settlement reads from line `at` (recorded line `index`, 0-based).
    #[cold]
    fn keep_strings(&mut self, inv: &Invoice, line: &ChargeLine, at: usize, index: usize) {
        if line.kind != ChargeKind::Refund {
            // R-LOTID: keep the lot id the recorded position gave it.
            let recorded_position = index + 1;
            let line_id = match inv.str(line.line_id) {
                Some(id) => self.intern(id),
                None if recorded_position != at + 1 => {
                    self.intern(&format!("{}/{}", inv.id, recorded_position))
                }
                None => StrRef::NONE,
            };
            self.lines[at].line_id = line_id;
        }
        if line.kind != ChargeKind::PrepaymentPurchase {
            if let Some(target) = inv.str(line.corrects) {
                self.lines[at].corrects = self.intern(target);
            }
        }
    }

    fn push_added(&mut self, add: &AddedLine) {
        let profile = match self.profiles.iter().position(|p| *p == add.billing_profile) {
            Some(i) => i,
            None => {
                self.profiles.push(add.billing_profile.clone());
                self.profiles.len() - 1
            }
        };
        let service = match &add.service {
            Some(s) => self.intern(s),
            None => StrRef::NONE,
        };
        self.lines.push(ChargeLine {
            amount: add.amount,
            charge_date: add.charge_date,
            kind: add.kind,
            // The core refuses an invoice whose profile index is out of range; more than
            // u16::MAX profiles cannot be recorded in the first place.
            profile: u16::try_from(profile).unwrap_or(u16::MAX),
            corrects_kind: None,
            line_id: StrRef::NONE,
            service,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        });
    }

    fn finish(self, inv: &Invoice) -> Invoice {
        Invoice {
            account: inv.account.clone(),
            id: inv.id.clone(),
            date: inv.date,
            period_start: inv.period_start,
            period_end: inv.period_end,
            currency: inv.currency.clone(),
            // Kept as recorded: the fork starts from an empty ledger and settles each invoice
            // id once, so no idempotency check (R-IDEM) ever compares this digest.
            content_hash: inv.content_hash,
            profiles: self.profiles,
            strings: self.strings,
            lines: self.lines,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison.

/// The figures the comparison shows, per account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub accounts: Vec<AccountFigures>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountFigures {
    pub account: String,
    pub currency: String,
    /// Queue order.
    pub maccs: Vec<MaccFigures>,
    pub macc_milestones: Vec<MaccMilestoneFigures>,
    pub cacos: Vec<CacoFigures>,
    pub caco_milestones: Vec<CacoMilestoneFigures>,
    /// Opening order.
    pub credits: Vec<CreditFigures>,
    pub billed: BilledFigures,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaccFigures {
    pub id: String,
    /// The commitment (replaced terms may change it).
    pub amount: Money,
    pub remaining: Money,
    /// R-MACC-4: Inactive, Active, Completed, Expired, Canceled.
    pub status: &'static str,
    pub completed: Option<Date>,
    /// R-SHORT: the balance left at expiry (zero unless expired).
    pub shortfall: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaccMilestoneFigures {
    pub macc: String,
    pub id: String,
    pub due: Date,
    pub target: Money,
    /// Met, Missed (evaluated), Pending (due passed, not evaluated), Open.
    pub status: &'static str,
    /// R-MACC-5: the shortfall invoiced at evaluation (zero until evaluated).
    pub shortfall: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacoFigures {
    pub id: String,
    pub remaining: Money,
    /// R-CACO-7.
    pub status: &'static str,
    /// ACO awards of completed milestones.
    pub awards_granted: Money,
    /// ACO awards of missed milestones.
    pub awards_forfeited: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacoMilestoneFigures {
    pub caco: String,
    pub id: String,
    pub target: Money,
    pub progress: Money,
    pub award: Money,
    /// R-CACO-4.
    pub status: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditFigures {
    pub id: String,
    pub kind: &'static str,
    pub original: Money,
    pub balance: Money,
    /// Lots API status.
    pub status: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BilledFigures {
    pub invoices: usize,
    pub charges: Money,
    pub credits_applied: Money,
    pub billed: Money,
    pub partner_earned_credit: Money,
    pub invoice_amount: Money,
}

/// Sums for display: an overflow (impossible below 10^14 per amount and 2^22 lines per
/// invoice over any realistic number of invoices) saturates instead of failing the report.
fn plus(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or(if b.is_negative() {
        Money::from_units(i128::MIN)
    } else {
        Money::from_units(i128::MAX)
    })
}

fn macc_status_name(status: LotStatus) -> &'static str {
    match status {
        LotStatus::Complete => "Completed",
        other => other.name(),
    }
}

pub fn figures(p: &Projections) -> Figures {
    let accounts = p.ledger.accounts.values().map(account_figures).collect();
    Figures { accounts }
}

fn account_figures(acct: &AccountState) -> AccountFigures {
    let mut maccs = Vec::new();
    let mut macc_milestones = Vec::new();
    for (i, m) in acct.maccs.iter().enumerate() {
        maccs.push(MaccFigures {
            id: m.terms.id.clone(),
            amount: m.terms.amount,
            remaining: m.amounts.balance,
            status: macc_status_name(acct.macc_status(i)),
            completed: match &m.state {
                MaccState::Completed { date, .. } => Some(*date),
                _ => None,
            },
            shortfall: match m.state {
                MaccState::Expired { .. } => m.amounts.balance,
                _ => Money::ZERO,
            },
        });
        for (k, t) in m.terms.milestones.iter().enumerate() {
            let outcome = m.milestone_outcomes.get(k).and_then(|o| o.as_ref());
            let status = match outcome {
                Some(o) if o.shortfall.is_zero() => "Met",
                Some(_) => "Missed",
                None if acct.clock.is_some_and(|c| c > t.due) => "Pending",
                None => "Open",
            };
            macc_milestones.push(MaccMilestoneFigures {
                macc: m.terms.id.clone(),
                id: t.id.clone(),
                due: t.due,
                target: t.target,
                status,
                shortfall: outcome.map_or(Money::ZERO, |o| o.shortfall),
            });
        }
    }
    let mut cacos = Vec::new();
    let mut caco_milestones = Vec::new();
    for (i, c) in acct.cacos.iter().enumerate() {
        let mut granted = Money::ZERO;
        let mut forfeited = Money::ZERO;
        for (k, m) in c.milestones.iter().enumerate() {
            match m.state {
                CacoMilestoneState::Completed { .. } => granted = plus(granted, m.terms.award),
                CacoMilestoneState::Missed { .. } => forfeited = plus(forfeited, m.terms.award),
                _ => {}
            }
            caco_milestones.push(CacoMilestoneFigures {
                caco: c.terms.id.clone(),
                id: m.terms.id.clone(),
                target: m.terms.target,
                progress: m.progress,
                award: m.terms.award,
                status: acct.caco_milestone_status(i, k).name(),
            });
        }
        cacos.push(CacoFigures {
            id: c.terms.id.clone(),
            remaining: c.amounts.balance,
            status: acct.caco_status(i).name(),
            awards_granted: granted,
            awards_forfeited: forfeited,
        });
    }
    let credits = acct
        .lots
        .iter()
        .enumerate()
        .map(|(i, l)| CreditFigures {
            id: l.terms.id.clone(),
            kind: l.terms.kind.name(),
            original: l.terms.amount,
            balance: l.amounts.balance,
            status: acct.credit_status(i).name(),
        })
        .collect();
    let mut billed = BilledFigures::default();
    for s in &acct.invoices {
        billed.invoices += 1;
        billed.charges = plus(billed.charges, s.charges);
        billed.credits_applied = plus(billed.credits_applied, s.credits_applied);
        billed.billed = plus(billed.billed, s.billed);
        billed.partner_earned_credit = plus(billed.partner_earned_credit, s.partner_earned_credit);
        billed.invoice_amount = plus(billed.invoice_amount, s.invoice_amount);
    }
    AccountFigures {
        account: acct.account.clone(),
        currency: acct.currency.clone(),
        maccs,
        macc_milestones,
        cacos,
        caco_milestones,
        credits,
        billed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn factor(mantissa: i128, scale: u32) -> Factor {
        Factor::parse(
            &Money::from_mantissa_scale(mantissa, scale)
                .unwrap()
                .to_plain_string(),
        )
        .unwrap()
    }

    #[test]
    fn scale_rounds_like_mul_factor_rounded_at_the_edges() {
        let unit = Money::from_units(1);
        for (amount, f) in [
            (unit, factor(5, 1)),                   // 0.5 units: half, to even 0
            (Money::from_units(3), factor(5, 1)),   // 1.5 units: to even 2
            (Money::from_units(-3), factor(5, 1)),  // -1.5 units: to even -2
            (Money::from_units(-5), factor(3, 1)),  // -1.5 units
            (Money::from_units(7), factor(-25, 2)), // negative factors round alike
            (m("1234.56"), factor(11, 1)),
            (Money::from_units(i128::MAX), factor(2, 0)), // overflow either way
            (Money::from_units(i128::MAX / 3), factor(25, 1)),
        ] {
            assert_eq!(
                Scale::new(f).apply(amount),
                amount.mul_factor_rounded(f),
                "{amount:?} × {f}"
            );
        }
    }

    #[test]
    fn dividing_in_64_bit_steps_gives_what_i128_division_gives() {
        let divisors = [2u32, 3, 7, 10, 1_000, 999_999_937, 1_000_000_000, u32::MAX];
        let near = |x: i128| [x, x.wrapping_add(1), x.wrapping_sub(1)];
        let mut values = Vec::new();
        for x in [
            0,
            1,
            1 << 32,
            1 << 64,
            1 << 96,
            i128::MAX,
            i128::MIN,
            10i128.pow(38),
        ] {
            values.extend(near(x));
            values.extend(near(x.wrapping_neg()));
        }
        for d in divisors {
            for &n in &values {
                let wide = i128::from(d);
                assert_eq!(div_rem_small(n, d), (n / wide, n % wide), "{n} / {d}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn division_in_64_bit_steps_equals_i128_division(
            n in proptest::prelude::any::<i128>(),
            d in 2u32..,
        ) {
            let wide = i128::from(d);
            proptest::prop_assert_eq!(div_rem_small(n, d), (n / wide, n % wide));
        }

        #[test]
        fn scale_equals_mul_factor_rounded(
            units in proptest::prelude::any::<i128>(),
            small in -10i128.pow(30)..10i128.pow(30),
            mantissa in -99_999_999_999_999i128..99_999_999_999_999,
            scale in 0u32..=24,
        ) {
            let f = factor(mantissa, scale);
            for amount in [Money::from_units(units), Money::from_units(small)] {
                proptest::prop_assert_eq!(Scale::new(f).apply(amount), amount.mul_factor_rounded(f));
            }
        }
    }
}
