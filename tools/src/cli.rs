//! The command line: every verb, option and help text of `ledger` (every clap type lives
//! here). Each verb's help ends with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ledger_app::core::Date;
use ledger_app::input::InputFormat;
use ledger_serve::ServeOptions;

/// An event-sourced ledger for Azure commitments: MACC, CACO milestones and credits.
///
/// Record an agreement, ingest invoices, and read back every balance, decrement, milestone and
/// credit, right to the cent. Every decision is an immutable, hash-chained event in a sled log
/// under --data.
#[derive(Parser, Debug)]
#[command(
    name = "ledger",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "Start with `ledger demo`. Typical use:\n  \
    ledger agreement contoso.toml\n  \
    ledger ingest invoices-2025.csv\n  \
    ledger lots\n  \
    ledger caco --json")]
pub struct Cli {
    /// The ledger's data directory (a sled database).
    #[arg(
        long,
        global = true,
        env = "LEDGER_DATA",
        default_value = "ledger-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the whole job on sample data: a fresh temporary ledger, a sample agreement,
    /// generated charge lines, then the report.
    #[command(
        after_help = "Example:\n  ledger demo\n  ledger demo --lines 100000 --keep demo-ledger"
    )]
    Demo(DemoArgs),

    /// Record an agreement (TOML or JSON): opens MACCs, CACOs and credit lots. Recording a
    /// changed version of an account's agreement appends amendment events; recording the same
    /// content again changes nothing.
    #[command(after_help = "Example:\n  ledger agreement contoso.toml\n\n\
        The file's keys are in docs/INTERFACE.md: account, currency, [[macc]], [[caco]] with\n\
        [[caco.milestones]], [[credit]]. Amounts may be strings or numbers; dates are YYYY-MM-DD.")]
    Agreement(AgreementArgs),

    /// Settle invoices from charge-line files. Each file is validated whole before anything
    /// is appended; invoices already settled with the same content are skipped.
    #[command(
        after_help = "Example:\n  ledger ingest invoices-2025-01.csv invoices-2025-02.csv\n\n\
        Native CSV columns: invoice_id, invoice_date, billing_profile, charge_date, kind, amount,\n\
        currency (required); period_start, period_end, account, line_id, service, publisher,\n\
        description, corrects, corrects_kind (optional).\n\n\
        FOCUS 1.0-1.2 and Azure cost-details exports (EA, MCA, actual cost) are read too, their\n\
        format told by the header or --format; the mapping to charge kinds: docs/INGEST.md.\n  \
        ledger ingest --format focus focus-export-2025-01.csv\n\n\
        Exports as Azure delivers them: a run folder, its manifest.json, its parts (plain or gzip,\n\
        told by content) listed together, or an export root (every run not yet ingested, oldest\n\
        first). All parts of a run are one input: an invoice may span them.\n  \
        ledger ingest exports/focus-daily/20250301-20250331/"
    )]
    Ingest(IngestArgs),

    /// Evaluate every deadline up to and including a date: MACC and CACO milestones and ends,
    /// credit expiries (R-EVAL).
    #[command(after_help = "Example:\n  ledger close --through 2025-12-31")]
    Close(CloseArgs),

    /// Correct accounts decided under an older rulebook to what the current one derives from
    /// every recorded fact. Earlier decisions stay in the log; the corrections are appended
    /// (and shown by `events` and `audit trace`). A second run appends nothing.
    #[command(after_help = "Example:\n  ledger resettle\n  ledger resettle --account contoso")]
    Resettle(ResettleArgs),

    /// MACC and credit lots in the Azure Lots API shape.
    #[command(
        after_help = "Example:\n  ledger lots\n  ledger lots --json --source ConsumptionCommitment"
    )]
    Lots(LotsArgs),

    /// Decrements and credit movements in the Azure Events API shape.
    #[command(
        after_help = "Example:\n  ledger events --lot macc-2025 --from 2025-01-01 --to 2025-06-30"
    )]
    Events(EventsArgs),

    /// CACOs with their milestones and transactions.
    #[command(after_help = "Example:\n  ledger caco\n  ledger caco --json")]
    Caco(ReadArgs),

    /// Per invoice: charges, credits applied, billed, partner earned credit, invoice amount.
    #[command(after_help = "Example:\n  ledger invoices --json")]
    Invoices(ReadArgs),

    /// Deadline alerts (90/60/30 days), burn-rate risk and forecasts for every MACC, CACO and
    /// milestone not yet met and not ended, as of a date (R-ALERT).
    #[command(after_help = "Example:\n  ledger alerts --as-of 2025-10-01\n\n\
        Risk compares the run rate (eligible spend by charge month, before credits and without\n\
        one-off purchases, over the settled months of the --window complete months before the\n\
        as-of month) with the rate needed to finish on time: Low above 1.1x, High below 0.9x.")]
    Alerts(AlertsArgs),

    /// What meeting every open MACC, MACC milestone and CACO milestone takes, as of a date.
    ///
    /// The smallest monthly spend that meets each, the gap to the run rate, and the shortfall
    /// and completion at the run rate, found by replaying projected months on a fork (credits,
    /// the MACC queue and every rule included). The log is never written.
    #[command(
        after_help = "Examples:\n  ledger plan --as-of 2025-07-10\n  ledger plan --as-of 2025-07-10 --json\n\n\
        Each month from the as-of month through the deadline's month that no recorded invoice\n\
        covers is projected at the run rate's mix of counting kinds and billing profiles; the\n\
        required monthly amount is the smallest, to the cent, such that every larger one meets\n\
        the commitment when the fork is closed through its deadline."
    )]
    Plan(PlanArgs),

    /// Rebuild every projection from the log alone and compare it with the stored
    /// projections; report counts and lines/s. Exits 1 on any difference.
    #[command(after_help = "Example:\n  ledger replay\n  ledger replay --json")]
    Replay(JsonArgs),

    /// Verify the hash chain, re-derive every decision from the recorded facts, byte for
    /// byte, and compare the stored projections (what reads show) with their fold. Exits 1
    /// naming the first broken or differing record.
    #[command(
        after_help = "Examples:\n  ledger audit\n  ledger audit --expect-head 3f1c…(the 64-digit hash `ledger ingest` printed)\n  ledger audit trace --lot macc-2025\n  ledger audit trace --lot aco-1 --csv > aco-1.csv"
    )]
    Audit(AuditArgs),

    /// Write synthetic native charge lines and matching agreements, for benchmarks and
    /// experiments (deterministic for a given seed).
    #[command(
        after_help = "Example:\n  ledger gen --lines 1000000 --accounts 4 --out /tmp/charges.csv\n  \
        ledger agreement /tmp/charges-agreement-*.toml\n  ledger ingest /tmp/charges.csv"
    )]
    Gen(GenArgs),

    /// Replay the ledger with altered spend or terms on a fork that never writes to the log,
    /// and print the recorded ledger (baseline) against each scenario: MACC remaining, status,
    /// completion and shortfall; milestones; awards; credit balances; billed totals; and one
    /// line per consequence. Several scenario files replay in parallel over one read of the log.
    #[command(
        after_help = "Example:\n  ledger whatif cut-compute.toml\n  ledger whatif cut-compute.toml grow.toml --json\n\n\
        A scenario file (TOML):\n  \
        [[change]]\n  op = \"scale\"           # scale | drop | add\n  factor = \"0.8\"\n  \
        [change.where]         # kind or kinds, service, billing_profile, account, from, to\n  \
        kind = \"usage\"\n  from = \"2025-04-01\"\n\n  \
        [[change]]\n  op = \"add\"             # one line a month, dated the 15th\n  monthly = \"15000\"\n  \
        kind = \"usage\"\n  billing_profile = \"Engineering\"\n  from = \"2025-04\"\n  to = \"2025-12\"\n\n  \
        [agreement]            # agreement-file keys replacing the recorded terms\n  \
        [[agreement.caco]]\n  id = \"caco-1\"          # entries are matched by id"
    )]
    Whatif(WhatifArgs),

    /// Compare Azure's reported events (and lots) with the ledger's, matched by invoice number
    /// and lot; list each invoice whose decrement or closed balance differs by more than 0.01,
    /// with the difference and the ledger's trace for it, and lots or invoices only one side
    /// has. Exits 1 when anything differs.
    #[command(
        after_help = "Example:\n  ledger reconcile azure-events.json azure-lots.json\n  ledger reconcile azure-events.json --json\n\n\
        The files are what the Consumption APIs return ({\"value\": [...]} or a bare array):\n  \
        GET .../billingAccounts/{account}/providers/Microsoft.Consumption/events?startDate=..&endDate=..\n  \
        GET .../billingAccounts/{account}/providers/Microsoft.Consumption/lots\n\
        Unknown fields and event types are ignored; charges may be negative or positive."
    )]
    Reconcile(ReconcileArgs),

    /// Serve the Azure Consumption (lots, events, credits) and Microsoft.BillingBenefits (MACCs,
    /// conditional credits, credits) APIs, and the CACO, invoices and alerts, over HTTP, on
    /// loopback by default. `serve` holds the ledger open while it runs (sled allows one
    /// process), so the other verbs cannot read or write it meanwhile: stop the server first,
    /// or start it with --allow-writes and POST agreements and charge files to it instead.
    #[command(
        after_help = "Example:\n  ledger serve --addr 127.0.0.1:8080 --token s3cret\n  \
        curl -H 'Authorization: Bearer s3cret' \\\n    \
        'http://127.0.0.1:8080/providers/Microsoft.Billing/billingAccounts/contoso/providers/Microsoft.Consumption/lots?api-version=2024-08-01'\n\n\
        Endpoints (GET /openapi.json describes them all; GET /api lists the accounts):\n  \
        / and /accounts/{account}: the burn-down report (HTML, as `ledger report`)\n  \
        /providers/Microsoft.Billing/billingAccounts/{account}/providers/Microsoft.Consumption/lots\n  \
        /providers/Microsoft.Billing/billingAccounts/{account}/providers/Microsoft.Consumption/events\n  \
        /providers/Microsoft.Billing/billingAccounts/{account}/caco | /invoices | /alerts?asOf=DATE\n  \
        .../billingAccounts/{account}/providers/Microsoft.BillingBenefits/applicableMaccs (and\n  \
        applicableConditionalCredits, applicableCredits); /subscriptions/{any}/resourceGroups/{account}/\n  \
        providers/Microsoft.BillingBenefits/maccs/{id} (and conditionalCredits, credits)\n  \
        POST /ledger/agreements, POST /ledger/charges (with --allow-writes)\n\n\
        While serve runs, `ledger ingest` and the other verbs refuse: the ledger is \"in use by\n\
        another process (`ledger serve`)\"; stop the server (or POST to it) to change the ledger.\n\
        Request logs: RUST_LOG=info. Stop with Ctrl-C or SIGTERM (requests under way finish)."
    )]
    Serve(ServeArgs),

    /// Write the burn-down report: one self-contained HTML file (inline CSS and SVG, no
    /// network requests) with, per account, a burn-down chart per MACC and CACO (remaining
    /// after each invoice, the straight line to zero, the forecast at the actual rate, the
    /// as-of date, the 90/60/30-day marks), milestones with their status, credit balances
    /// until expiry, the transactions and the alerts. `ledger serve` serves the same page at /.
    #[command(after_help = "Example:\n  ledger report --html report.html\n  \
        ledger report --html q3.html --as-of 2024-09-30 --whatif cut-compute.toml\n\n\
        The as-of date defaults to the ledger clock (the newest settled invoice). With --whatif,\n\
        each scenario's lines are drawn dashed beside the recorded ones and its consequences listed.")]
    Report(ReportArgs),
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// "Today" for days left and for the rate window (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Date,
    /// Complete months before the as-of month that the run rate measures (R-ALERT-2).
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub window: u32,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub alerts: AlertsArgs,
    /// Also draw N futures per commitment from the window's month-to-month variation: the
    /// share that meets it and the 10th, 50th and 90th percentile shortfall.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub simulate: Option<u32>,
    /// The seed of --simulate's draws: the same seed gives the same figures.
    #[arg(long, value_name = "S", default_value_t = 0, requires = "simulate")]
    pub seed: u64,
}

/// What `ledger gen` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GenFormat {
    /// The ledger's own CSV (docs/INTERFACE.md).
    Native,
    /// The same lines as FOCUS 1.2 rows, Microsoft's `x_` columns included.
    Focus,
    /// The same FOCUS rows as a snappy Parquet file, the way Azure's Parquet exports type
    /// them (costs DECIMAL(38, 10), dates UTC timestamps).
    FocusParquet,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// How many charge lines to write.
    #[arg(long)]
    pub lines: u64,
    /// How many billing accounts (each with its own agreement file).
    #[arg(long, default_value_t = 1)]
    pub accounts: u32,
    /// Seed of the generator: the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The charge-line CSV to write; agreements are written beside it as
    /// `<name>-agreement-<account>.toml`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Write native CSV, or the same lines as FOCUS 1.2 rows (`focus`, or `focus-parquet` as
    /// Parquet; the agreements then list the eligible Marketplace publishers).
    #[arg(long, value_enum, default_value = "native")]
    pub format: GenFormat,
    /// Monthly invoices per account (1 to 1200; default: 12, 24 or 36 by the lines per
    /// account, more when an invoice would pass about a million lines).
    #[arg(long, value_name = "N", conflicts_with = "lines_per_invoice")]
    pub months: Option<u32>,
    /// Choose the months so that each invoice has about this many lines.
    #[arg(long, value_name = "N")]
    pub lines_per_invoice: Option<u64>,
}

#[derive(Args, Debug)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub what: Option<AuditCommand>,
    /// Print the audit report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fail unless the log still contains this head (the hash `agreement`, `ingest` and
    /// `close` print after appending), with nothing before it changed.
    #[arg(long, value_name = "HASH", value_parser = parse_head_hash)]
    pub expect_head: Option<[u8; 32]>,
}

/// A head hash as the writing commands print it: 64 hex digits.
fn parse_head_hash(text: &str) -> Result<[u8; 32], String> {
    ledger_app::store::Head::parse_hash(text)
        .ok_or_else(|| "expected a head hash: 64 hex digits, as `ledger ingest` prints it".into())
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Every decrement and credit movement of one lot, with the charge-line portions behind
    /// it and the R-ELIG / R-COVER rule that decided each portion.
    #[command(
        after_help = "Examples:\n  ledger audit trace --lot macc-2025 --csv\n  ledger audit trace --lot macc-2025 --why-not"
    )]
    Trace(TraceArgs),
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The lot: a MACC, CACO or credit lot id.
    #[arg(long, value_name = "ID")]
    pub lot: String,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV, one row per line portion.
    #[arg(long)]
    pub csv: bool,
    /// List instead every charge-line portion of the MACC's account that did not count toward
    /// it, with the reason settlement had (R-ELIG cell, credit that paid it, out of the MACC's
    /// dates, queued behind another MACC, after completion).
    #[arg(long, conflicts_with = "csv")]
    pub why_not: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// How many charge lines to generate.
    #[arg(long, default_value_t = 20_000)]
    pub lines: u64,
    /// Keep the demo ledger in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AgreementArgs {
    /// Agreement files (TOML, or JSON by extension).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Charge-file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The ledger's own CSV (docs/INTERFACE.md).
    Native,
    /// FOCUS 1.0 to 1.2 exports, Microsoft's `x_` columns included (docs/INGEST.md).
    Focus,
    /// Azure Cost Management cost details, EA or MCA, actual cost (docs/INGEST.md).
    Azure,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Charge-line files (CSV, gzip CSV or Parquet), export run folders, manifest.json files
    /// or export roots, decided in the order given and recorded all or none;
    /// `az://CONTAINER/PATH` or `https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH` copies
    /// the blob, or every blob below the path, from Azure Blob Storage first (credentials from
    /// AZURE_STORAGE_* variables; docs/INGEST.md).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The files' format; detected from the header when not given.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The files hold month-to-date (pending) charges: record them as pending runs, shown as
    /// estimates beside the settled balances and replaced by a newer run of the same billing
    /// period or by its closed invoice; they never settle, move the ledger clock or trigger a
    /// deadline.
    #[arg(long)]
    pub pending: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CloseArgs {
    /// Evaluate deadlines on or before this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub through: Date,
    /// Only this billing account (default: every account).
    #[arg(long)]
    pub account: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResettleArgs {
    /// Only this billing account (default: every account).
    #[arg(long)]
    pub account: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Print JSON (the shapes of docs/INTERFACE.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only this billing account.
    #[arg(long)]
    pub account: Option<String>,
}

#[derive(Args, Debug)]
pub struct LotsArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Only lots of this Lots API source (ConsumptionCommitment, PurchasedCredit, PromotionalCredit).
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Only events of this lot (MACC or credit lot id).
    #[arg(long, value_name = "ID")]
    pub lot: Option<String>,
    /// Only events on or after this date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<Date>,
    /// Only events on or before this date.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<Date>,
}

impl From<Format> for InputFormat {
    fn from(format: Format) -> InputFormat {
        match format {
            Format::Native => InputFormat::Native,
            Format::Focus => InputFormat::Focus,
            Format::Azure => InputFormat::Azure,
        }
    }
}

/// `ledger whatif SCENARIO... [--json]`.
#[derive(Args, Debug)]
pub struct WhatifArgs {
    /// Scenario files (TOML): `[[change]]` tables (op = scale, drop or add) and an optional
    /// `[agreement]` table of replaced terms. Several files replay in parallel.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Print `{"baseline", "scenario", "changes"}` as JSON (an array of them, each with its
    /// "name", for several files).
    #[arg(long)]
    pub json: bool,
}

/// `ledger reconcile EVENTS.json [LOTS.json] [--json]`.
#[derive(Args, Debug)]
pub struct ReconcileArgs {
    /// Azure's events: a Consumption Events API response (`{"value": [...]}`) or its array.
    #[arg(value_name = "EVENTS.json")]
    pub events: PathBuf,
    /// Azure's lots: a Consumption Lots API response, compared lot by lot.
    #[arg(value_name = "LOTS.json")]
    pub lots: Option<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ledger serve` options.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,
    /// Require `Authorization: Bearer TOKEN` on every request (else 401); it reads and writes
    /// every account. Visible ASCII, not blank. Required (or --tokens) with --allow-writes on
    /// an address beyond loopback.
    #[arg(
        long,
        env = "LEDGER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Tokens per customer: a TOML file of [[token]] tables, each with `token`, the `accounts`
    /// it may read (["*"]: every one), and optionally `name` (for the request log) and
    /// `writes = true` (with --allow-writes, POST agreements and charges for those accounts).
    /// Any other account is answered 404, as one the ledger does not have. Read once, at start.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Accept agreements and charge files over HTTP (POST /ledger/agreements, /ledger/charges).
    #[arg(long)]
    pub allow_writes: bool,
    /// Items per page of lots and events when the request gives no $top (1 to 1000).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub page_size: usize,
    /// The largest request body a write accepts (larger: 413): bytes, or with KiB, MiB, GiB.
    /// Uploads are spooled in the ledger's own staging folder (DATA/staging), never the
    /// system's temporary folder.
    #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = ledger_serve::parse_bytes)]
    pub max_upload_bytes: u64,
    /// Uploads received at once (more: 503 ServerBusy, retry later).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub max_uploads: usize,
    /// Connections open at once (more: 503 ServerBusy, and the connection is closed).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// From its first byte, a request's line and headers must arrive within this, else the
    /// connection is closed (10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = ledger_serve::parse_duration)]
    pub header_timeout: std::time::Duration,
    /// A connection on which nothing moves for this long between requests is closed; an
    /// upload whose body stalls for this long is answered 408.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = ledger_serve::parse_duration)]
    pub idle_timeout: std::time::Duration,
    /// POST a CloudEvents 1.0 JSON event to URL (http:// or https://; repeatable) when a write over HTTP
    /// crosses an alert level: a deadline at 90/60/30 days, a burn-rate risk turning High, a
    /// milestone missed, a credit with a balance 90/60/30 days before it expires; judged as of
    /// the ledger clock. Needs --allow-writes. Delivery never blocks or fails the write.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Vec<String>,
    /// Sign each notification: X-Ledger-Signature-256: sha256=<hex HMAC-SHA256 of the body>.
    #[arg(
        long,
        env = "LEDGER_NOTIFY_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub notify_secret: Option<String>,
    /// Where notifications that could not be delivered are kept (JSON Lines; default
    /// DATA/notify-dead-letter.jsonl).
    #[arg(long, value_name = "FILE")]
    pub notify_dead_letter: Option<PathBuf>,
    /// Attempts per notification and URL (connection failures, timeouts, 408, 429, 5xx are
    /// tried again; any other answer is final).
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub notify_attempts: u32,
    /// The wait before the second attempt; it doubles after each (at most 5 minutes).
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = ledger_serve::parse_duration)]
    pub notify_retry: std::time::Duration,
    /// Trust the CA certificates in this PEM file too for https:// --notify URLs (an internal
    /// CA, a test receiver's own CA); Mozilla's root certificates are always trusted.
    #[arg(long, value_name = "FILE")]
    pub notify_ca_file: Option<PathBuf>,
}

impl From<&ServeArgs> for ServeOptions {
    fn from(a: &ServeArgs) -> ServeOptions {
        ServeOptions {
            addr: a.addr.clone(),
            token: a.token.clone(),
            tokens_file: a.tokens.clone(),
            allow_writes: a.allow_writes,
            page_size: a.page_size,
            max_upload_bytes: a.max_upload_bytes,
            max_uploads: a.max_uploads,
            max_connections: a.max_connections,
            header_timeout: a.header_timeout,
            idle_timeout: a.idle_timeout,
            notify: ledger_serve::notify::NotifyOptions {
                urls: a.notify.clone(),
                secret: a.notify_secret.clone(),
                dead_letter: a.notify_dead_letter.clone(),
                attempts: a.notify_attempts,
                first_retry: a.notify_retry,
                ca_file: a.notify_ca_file.clone(),
            },
        }
    }
}

/// `ledger report` options.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The HTML file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// "Today" for the as-of line, the alerts and the forecasts (YYYY-MM-DD); default: the
    /// ledger clock (the newest settled invoice date, or the latest close).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// What-if scenario files (as for `ledger whatif`), drawn dashed beside the recorded
    /// ledger, with their consequences listed (at most 4).
    #[arg(long, value_name = "SCENARIO", num_args = 1..)]
    pub whatif: Vec<PathBuf>,
    /// Only this billing account.
    #[arg(long)]
    pub account: Option<String>,
    /// Draw N futures per commitment as `ledger plan --simulate N` does (as of the report's
    /// date): each MACC's chart shows the band from the 10th to the 90th percentile of what is
    /// left after each projected month and the 50th as a line; a table lists every MACC and
    /// milestone's chance of being met and its P10/P50/P90 shortfall.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub simulate: Option<u32>,
    /// The seed of --simulate's draws: the same seed draws the same band.
    #[arg(long, value_name = "S", default_value_t = 0, requires = "simulate")]
    pub seed: u64,
    /// Complete months before the as-of month that --simulate's run rate measures.
    #[arg(long, value_name = "N", default_value_t = 6, requires = "simulate", value_parser = clap::value_parser!(u32).range(1..=120))]
    pub window: u32,
}

/// clap value parser for YYYY-MM-DD.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text).map_err(|e| e.to_string())
}
