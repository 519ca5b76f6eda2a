//! The verbs of `ledger`: each runs a use case of `ledger-app` (or the generator), has
//! `ledger-render` word the result, and writes it to `out`. A verb that fails returns a
//! [`Failure`]; `main` prints what was written only on success, unless the failure says to
//! keep it (a report that lists what differs, then fails).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ledger_app::replay::pending::estimates;
use ledger_app::replay::views::{
    caco_rows, event_rows_with_pending, invoice_rows, lot_rows, EventFilter, LotFilter,
};
use ledger_app::replay::{alerts, audit, replay, trace, why_not};
use ledger_app::session::read_projections;
use ledger_app::{
    agreement, close, ingest, plan as plans, reconcile, resettle, timeline, whatif, Failure,
    Session,
};
use ledger_render::head::head_line;
use ledger_render::ingest::{describe, group};
use ledger_render::json::{self, to_text};
use ledger_render::report::{ScenarioResult, MAX_SCENARIOS};
use ledger_render::{events, text};

use crate::cli::{
    AgreementArgs, AlertsArgs, AuditArgs, AuditCommand, CloseArgs, DemoArgs, EventsArgs, GenArgs,
    GenFormat, IngestArgs, JsonArgs, LotsArgs, PlanArgs, ReadArgs, ReconcileArgs, ReportArgs,
    ResettleArgs, TraceArgs, WhatifArgs,
};

/// Whether progress bars may be drawn (stderr is a terminal and not in tests).
fn quiet() -> bool {
    use std::io::IsTerminal;
    !std::io::stderr().is_terminal()
}

/// `ledger agreement FILE...`.
pub fn agreement(data: &Path, args: &AgreementArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let recorded = agreement::record_files(data, &args.files)?;
    for r in &recorded {
        writeln!(out, "{}", events::agreement_line(r))?;
    }
    if let Some(last) = recorded.last() {
        writeln!(out, "{}", head_line(&last.head))?;
    }
    Ok(())
}

/// `ledger ingest FILE... [--format F] [--json]`.
pub fn ingest(data: &Path, args: &IngestArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let format = args.format.map(Into::into);
    let (files, copies) = crate::remote::local_inputs(data, &args.files)?;
    let settlement = if args.pending {
        ingest::Settlement::Pending
    } else {
        ingest::Settlement::Settled
    };
    let mut outcomes =
        ingest::ingest_files_as(data, &files, format, settlement, quiet()).map_err(|e| {
            let failure = Failure::from(e);
            Failure {
                message: copies.rename_in(failure.message.clone()),
                ..failure
            }
        })?;
    for outcome in &mut outcomes {
        outcome.file = copies.name(&outcome.file);
    }
    if args.json {
        let text =
            serde_json::to_string_pretty(&json::ingest_document(&outcomes)).expect("serializes");
        writeln!(out, "{text}")?;
    } else {
        for outcome in &outcomes {
            writeln!(out, "{}", describe(outcome))?;
        }
        if let Some(last) = outcomes.last() {
            writeln!(out, "{}", head_line(&last.head))?;
        }
    }
    Ok(())
}

/// `ledger close --through DATE [--account A]`.
pub fn close(data: &Path, args: &CloseArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let closed = close::close(data, args.through, args.account.as_deref())?;
    out.write_all(events::close_text(args.through, &closed.accounts).as_bytes())?;
    writeln!(out, "{}", head_line(&closed.head))?;
    Ok(())
}

/// `ledger resettle [--account A]`.
pub fn resettle(data: &Path, args: &ResettleArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let done = resettle::resettle(data, args.account.as_deref())?;
    out.write_all(events::resettle_text(&done).as_bytes())?;
    Ok(())
}

/// `ledger lots`.
pub fn lots(data: &Path, args: &LotsArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let projections = read_projections(data, "lots", args.read.account.as_deref())?;
    let filter = LotFilter {
        account: args.read.account.clone(),
        source: args.source.clone(),
        ..LotFilter::default()
    };
    let rows = lot_rows(&projections, &filter);
    let text = if args.read.json {
        to_text(&json::lots_document(&rows))
    } else {
        text::lots_table(&rows) + &text::macc_milestones_table(&rows)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger events`.
pub fn events(data: &Path, args: &EventsArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let projections = read_projections(data, "events", args.read.account.as_deref())?;
    let filter = EventFilter {
        account: args.read.account.clone(),
        lot: args.lot.clone(),
        from: args.from,
        to: args.to,
        ..EventFilter::default()
    };
    let pending = estimates(&projections);
    let rows = event_rows_with_pending(&projections, &pending, &filter);
    let text = if args.read.json {
        to_text(&json::events_document(&rows))
    } else {
        text::events_table(&rows)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger caco`.
pub fn caco(data: &Path, args: &ReadArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let projections = read_projections(data, "caco", args.account.as_deref())?;
    let rows = caco_rows(&projections, args.account.as_deref());
    let text = if args.json {
        to_text(&json::caco_document(&rows))
    } else {
        text::caco_text(&rows)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger invoices`.
pub fn invoices(data: &Path, args: &ReadArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let projections = read_projections(data, "invoices", args.account.as_deref())?;
    let rows = invoice_rows(&projections, args.account.as_deref());
    let text = if args.json {
        to_text(&json::invoices_document(&rows))
    } else {
        text::invoices_table(&rows)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger alerts --as-of DATE`.
pub fn alerts(data: &Path, args: &AlertsArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let projections = read_projections(data, "alerts", args.read.account.as_deref())?;
    let rows = alerts::alerts_with(
        &projections,
        &alerts::AlertQuery {
            as_of: args.as_of,
            account: args.read.account.as_deref(),
            window: args.window,
        },
    );
    let credits = alerts::expiring_credits(&projections, args.as_of, args.read.account.as_deref());
    let text = if args.read.json {
        to_text(&json::alerts_document(&rows, &credits))
    } else {
        format!(
            "{}\n{}",
            text::alerts_table(&rows, args.as_of),
            text::expiring_credits_table(&credits, args.as_of)
        )
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger plan --as-of DATE`: what meeting each open commitment takes.
pub fn plan(data: &Path, args: &PlanArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let a = &args.alerts;
    let simulate = args.simulate.map(|runs| (runs, args.seed));
    let plan = plans::plan(data, a.as_of, a.read.account.as_deref(), a.window, simulate)?;
    let text = if a.read.json {
        to_text(&json::plan_document(&plan.rows))
    } else {
        text::plan_table(&plan.rows, plan.as_of)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger demo`: generate, record, ingest and report, in a fresh ledger.
pub fn demo(args: &DemoArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let temp = tempfile::tempdir()?;
    let (dir, keep): (PathBuf, bool) = match &args.keep {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                return Err(Failure::new(format!(
                    "{}: not empty; --keep needs a new or empty directory",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir)?;
            (dir.clone(), true)
        }
        None => (temp.path().join("ledger-data"), false),
    };
    let started = Instant::now();
    let (generated, agreement_files, csv_path) = demo_inputs(&temp.path().join("inputs"), args)?;
    agreement::record_files(&dir, &agreement_files)?;
    ingest::ingest_files(&dir, &[csv_path], None, quiet())?;
    let elapsed = started.elapsed().as_secs_f64();

    let session = Session::open_for_read(&dir, "demo")?;
    writeln!(
        out,
        "Demo: one billing account with a MACC, a CACO and credits; {} generated charge lines in {} monthly invoices,\nrecorded, settled and hash-chained in a fresh ledger in {elapsed:.2} s.\n",
        group(generated.lines),
        group(generated.invoices)
    )?;
    demo_tour(&session, out)?;
    drop(session);
    if keep {
        let d = dir.display();
        writeln!(out, "\nThe ledger is kept in {d}. Explore it:\n  ledger --data {d} events --lot macc-2024\n  ledger --data {d} audit trace --lot macc-2024\n  ledger --data {d} alerts --as-of 2024-07-15")?;
    } else {
        writeln!(
            out,
            "\nThe demo ledger was temporary. Keep one to explore: ledger demo --keep demo-ledger"
        )?;
    }
    Ok(())
}

/// The demo's generated charge file and agreements, in `inputs`.
fn demo_inputs(
    inputs: &Path,
    args: &DemoArgs,
) -> Result<(ledger_gen::GenOutput, Vec<PathBuf>, PathBuf), Failure> {
    std::fs::create_dir_all(inputs)?;
    let options = ledger_gen::GenOptions {
        lines: args.lines,
        accounts: 1,
        seed: 42,
        months: None,
    };
    let csv_path = inputs.join("charges.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    let generated = ledger_gen::generate(&options, &mut csv)?;
    csv.flush()?;
    drop(csv);
    let mut agreement_files = Vec::new();
    for account in &generated.accounts {
        let path = inputs.join(format!("agreement-{}.toml", account.account));
        std::fs::write(&path, &account.agreement_toml)?;
        agreement_files.push(path);
    }
    Ok((generated, agreement_files, csv_path))
}

/// What happened, the lots, the CACO milestones, the invoices and the audit of the demo ledger.
fn demo_tour(session: &Session, out: &mut dyn Write) -> Result<(), Failure> {
    let p = &session.projections;
    writeln!(out, "== What happened ==")?;
    for (date, event) in timeline::timeline(&session.store)? {
        if let Some(line) = events::timeline_line(&event) {
            writeln!(out, "  {date}  {line}")?;
        }
    }
    writeln!(out, "\n== Lots: MACC and credits ==")?;
    out.write_all(text::lots_table(&lot_rows(p, &LotFilter::default())).as_bytes())?;
    writeln!(out, "\n== CACO milestones ==")?;
    out.write_all(text::caco_milestones(&caco_rows(p, None)).as_bytes())?;
    writeln!(out, "\n== Invoices ==")?;
    out.write_all(text::invoices_table(&invoice_rows(p, None)).as_bytes())?;
    let audit = audit::audit(&session.store)?;
    match &audit.finding {
        None => writeln!(
            out,
            "\nAudit: {} records re-derived from the facts byte for byte; the hash chain is whole (head {}…).",
            group(audit.records),
            &audit.head_hash[..16]
        )?,
        Some(f) => writeln!(out, "\nAudit FAILED at record {}: {}", f.seq, f.message)?,
    }
    Ok(())
}

/// `ledger replay [--json]`.
pub fn replay(data: &Path, args: &JsonArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let session = Session::open_for_read(data, "replay")?;
    let report = replay::replay_read(&session.store, &session.projections)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&json::replay_document(&report)).expect("serializes");
        writeln!(out, "{text}")?;
    } else {
        writeln!(
            out,
            "Replayed {} records ({} facts, {} invoices, {} lines, {} decisions) in {:.3} s: {} lines/s.",
            group(report.records),
            group(report.facts),
            group(report.invoices),
            group(report.lines),
            group(report.events),
            report.seconds,
            group(report.lines_per_second as u64)
        )?;
        if report.snapshot_seq > 0 {
            writeln!(
                out,
                "Stored projections: snapshot at record {} plus the {} records after it.",
                report.snapshot_seq,
                group(report.records.saturating_sub(report.snapshot_seq))
            )?;
        }
        if report.differences.is_empty() {
            writeln!(
                out,
                "The rebuild from the log equals the stored projections."
            )?;
        }
    }
    if report.differences.is_empty() {
        return Ok(());
    }
    let mut message =
        String::from("replay: the rebuild from the log differs from the stored projections:");
    for d in &report.differences {
        message.push_str("\n  ");
        message.push_str(d);
    }
    let failure = Failure::new(message);
    // The JSON report is printed before the failure; the text one is not.
    Err(if args.json {
        failure.keeping_output()
    } else {
        failure
    })
}

/// `ledger audit [--json]` and `ledger audit trace --lot ID`.
pub fn audit(data: &Path, args: &AuditArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if let Some(AuditCommand::Trace(trace)) = &args.what {
        return audit_trace(data, trace, out);
    }
    let session = Session::open_for_read(data, "audit")?;
    let report = audit::audit_read(&session.store, args.expect_head, &session.projections)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&json::audit_document(&report)).expect("serializes");
        writeln!(out, "{text}")?;
    } else if report.passed() {
        writeln!(
            out,
            "Audit passed: {} records, {} facts, {} lines, {} decisions re-derived byte for byte in {:.3} s ({} lines/s).\nThe hash chain is whole; head {}.\n{}",
            group(report.records),
            group(report.facts),
            group(report.lines),
            group(report.events),
            report.seconds,
            group(report.lines_per_second as u64),
            report.head_hash,
            projections_sentence(&report.projections)
        )?;
        if let Some(anchor) = &report.expected_head {
            writeln!(
                out,
                "The expected head {} is the log's head at record {}: nothing before it changed.",
                anchor.hash,
                group(anchor.records.unwrap_or(0))
            )?;
        }
    }
    match &report.finding {
        None => Ok(()),
        Some(finding) => Err(Failure::new(format!(
            "audit failed at record {} ({}): {}",
            finding.seq, finding.kind, finding.message
        ))
        .keeping_output()),
    }
}

/// What audit proved of the stored projections, in a sentence.
fn projections_sentence(p: &ledger_app::replay::stored::ProjectionsAudit) -> String {
    let snapshots = match p.snapshots.as_slice() {
        [] => "no stored snapshot".to_string(),
        [one] => format!("the snapshot at record {one}"),
        many => format!(
            "the snapshots at records {}",
            many.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    };
    format!(
        "The stored projections ({snapshots}, and what a read shows) equal the fold of the log."
    )
}

fn audit_trace(data: &Path, args: &TraceArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let session = Session::open_for_read(data, "audit trace")?;
    if args.why_not {
        let why =
            why_not::why_not(&session.store, &args.lot).map_err(|e| Failure::new(e.to_string()))?;
        let text = if args.json {
            serde_json::to_string_pretty(&json::why_not_document(&why)).expect("serializes") + "\n"
        } else {
            ledger_render::trace::why_not_text(&why)
        };
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    let trace =
        trace::trace_lot(&session.store, &args.lot).map_err(|e| Failure::new(e.to_string()))?;
    let text = if args.json {
        serde_json::to_string_pretty(&json::trace_document(&trace)).expect("serializes") + "\n"
    } else if args.csv {
        ledger_render::trace::csv(&trace)
    } else {
        ledger_render::trace::text(&trace)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Where `ledger gen` writes the agreement of `account` for charge file `out`.
pub fn agreement_path_for(out: &Path, account: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "charges".into());
    out.with_file_name(format!("{stem}-agreement-{account}.toml"))
}

/// `ledger gen --lines N --out FILE`.
pub fn gen(args: &GenArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if args.accounts == 0 {
        return Err(Failure::usage("--accounts must be at least 1"));
    }
    let started = Instant::now();
    // Parquet is written from the FOCUS CSV, staged beside the output and removed after.
    let staged = match args.format {
        GenFormat::FocusParquet => Some(staging_file(&args.out)?),
        GenFormat::Native | GenFormat::Focus => None,
    };
    let csv_path = staged.as_ref().map_or(args.out.as_path(), |s| s.path());
    let in_file = |e: std::io::Error| Failure::new(format!("{}: {e}", csv_path.display()));
    let file = std::fs::File::create(csv_path)
        .map_err(|e| Failure::new(format!("{}: cannot create: {e}", csv_path.display())))?;
    let mut csv = std::io::BufWriter::with_capacity(1 << 20, file);
    let months = match (args.months, args.lines_per_invoice) {
        (Some(months), _) => Some(months),
        (None, Some(per_invoice)) => {
            let months =
                ledger_gen::months_for_invoice_lines(args.lines, args.accounts, per_invoice);
            Some(u32::try_from(months).unwrap_or(u32::MAX))
        }
        (None, None) => None,
    };
    let options = ledger_gen::GenOptions {
        lines: args.lines,
        accounts: args.accounts,
        seed: args.seed,
        months,
    };
    let mut output = match args.format {
        GenFormat::Native => ledger_gen::generate(&options, &mut csv),
        GenFormat::Focus | GenFormat::FocusParquet => {
            ledger_gen::focus::generate_focus(&options, &mut csv)
        }
    }
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => Failure::usage(e.to_string()),
        _ => in_file(e),
    })?;
    csv.flush().map_err(in_file)?;
    drop(csv);
    if staged.is_some() {
        let parquet = ledger_gen::parquet::focus_export_options();
        ledger_gen::parquet::csv_to_parquet(csv_path, &args.out, &parquet)
            .map_err(|e| Failure::new(format!("{}: {e}", args.out.display())))?;
        output.bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    }
    writeln!(
        out,
        "{}: {} lines in {} invoices, {} bytes, in {:.2} s",
        args.out.display(),
        group(output.lines),
        group(output.invoices),
        group(output.bytes),
        started.elapsed().as_secs_f64()
    )?;
    for account in &output.accounts {
        let path = agreement_path_for(&args.out, &account.account);
        std::fs::write(&path, &account.agreement_toml)
            .map_err(|e| Failure::new(format!("{}: cannot write: {e}", path.display())))?;
        writeln!(
            out,
            "{}: agreement of account {} ({} lines)",
            path.display(),
            account.account,
            group(account.lines)
        )?;
    }
    Ok(())
}

/// A temporary file in `out`'s folder (removed when dropped).
fn staging_file(out: &Path) -> Result<tempfile::NamedTempFile, Failure> {
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".gen-")
        .suffix(".csv")
        .tempfile_in(folder)
        .map_err(|e| Failure::new(format!("{}: cannot stage the CSV: {e}", folder.display())))
}

/// `ledger whatif SCENARIO... [--json]`.
pub fn whatif(data: &Path, args: &WhatifArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let run = whatif::run(data, &args.scenarios)?;
    let baseline = &run.session.projections;
    let reports: Vec<_> = run
        .files
        .iter()
        .zip(&run.results)
        .map(|(f, p)| ledger_render::whatif::report(&f.name, baseline, p))
        .collect();
    let text = if args.json {
        ledger_render::whatif::json_text(&reports)
    } else {
        ledger_render::whatif::text(&run.files, &reports)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `ledger reconcile EVENTS.json [LOTS.json] [--json]`: exits 1 when anything differs, after
/// printing every difference.
pub fn reconcile(data: &Path, args: &ReconcileArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let found = reconcile::reconcile(data, &args.events, args.lots.as_deref())?;
    let text = if args.json {
        serde_json::to_string_pretty(&ledger_render::reconcile::ReconciliationJson(&found))
            .expect("serializes")
            + "\n"
    } else {
        ledger_render::reconcile::text(&found)
    };
    out.write_all(text.as_bytes())?;
    if found.differs() {
        return Err(Failure::new(format!(
            "reconcile: {} difference(s) over 0.01 between Azure's figures and the ledger's (listed on stdout)",
            found.difference_count()
        ))
        .keeping_output());
    }
    Ok(())
}

/// `ledger report --html FILE [--as-of DATE] [--whatif SCENARIO...] [--account A]`.
pub fn report(data: &Path, args: &ReportArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let started = Instant::now();
    if args.whatif.len() > MAX_SCENARIOS {
        return Err(Failure::usage(format!(
            "--whatif takes at most {MAX_SCENARIOS} scenarios (a chart stays readable); got {}",
            args.whatif.len()
        )));
    }
    // Scenario files are read before the ledger, so a bad one fails at once.
    let files = whatif::read_scenarios(&args.whatif)?;
    // Without scenarios or simulations the report needs only the projections (the published
    // ones while another process writes); what-if and --simulate read the log itself.
    let session = match files.is_empty() && args.simulate.is_none() {
        true => None,
        false => Some(Session::open_for_read(data, "report")?),
    };
    let read;
    let p = match &session {
        Some(session) => &session.projections,
        None => {
            read = read_projections(data, "report", None)?;
            &read
        }
    };
    if let Some(account) = &args.account {
        check_account(p, account)?;
    }
    let results = match &session {
        Some(session) => {
            whatif::fold(session, &files).map_err(|e| Failure::new(format!("what-if: {e}")))?
        }
        None => Vec::new(),
    };
    let scenarios: Vec<ScenarioResult> = files
        .iter()
        .zip(&results)
        .map(|(file, projections)| ScenarioResult {
            name: file.name.clone(),
            projections,
        })
        .collect();
    let simulations = match &session {
        Some(session) => report_futures(session, args)?,
        None => Vec::new(),
    };
    let page = ledger_render::report::page_with_futures(
        p,
        args.as_of,
        args.account.as_deref(),
        &scenarios,
        &simulations,
    );
    write_atomically(&args.html, page.as_bytes())?;
    let accounts = match &args.account {
        Some(_) => 1,
        None => p.ledger.accounts.len(),
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let what_if = match scenarios.len() {
        0 => String::new(),
        n => format!(", {n} what-if scenario{}", plural(n)),
    };
    writeln!(
        out,
        "ledger report: wrote {} ({} bytes; {accounts} account{}{what_if}) in {:.0} ms",
        args.html.display(),
        page.len(),
        plural(accounts),
        started.elapsed().as_secs_f64() * 1e3
    )?;
    Ok(())
}

/// `report --simulate N --seed S`: the plan rows with their futures, as of the report's date
/// (the same fold as `ledger plan --simulate`).
fn report_futures(
    session: &Session,
    args: &ReportArgs,
) -> Result<Vec<ledger_app::replay::plan::PlanRow>, Failure> {
    let Some(runs) = args.simulate else {
        return Ok(Vec::new());
    };
    let p = &session.projections;
    let account = args.account.as_deref();
    let as_of = ledger_render::report::report_date(p, args.as_of, account);
    let rows = plans::rows(
        session,
        as_of,
        account,
        args.window,
        Some((runs, args.seed)),
    )?;
    Ok(rows)
}

/// `--account A` must name an account of the ledger.
fn check_account(p: &ledger_app::replay::Projections, account: &str) -> Result<(), Failure> {
    if p.ledger.account(account).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = p
        .ledger
        .accounts
        .keys()
        .map(String::as_str)
        .take(10)
        .collect();
    Err(Failure::new(format!(
        "--account {account}: no such billing account in this ledger (it has: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// Write beside the target and rename over it, so a reader never sees half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fail = |e: std::io::Error| {
        Failure::new(format!("{}: cannot write the report: {e}", path.display()))
    };
    let mut temp = tempfile::NamedTempFile::new_in(&parent).map_err(fail)?;
    temp.write_all(bytes).map_err(fail)?;
    // A report is a document to share, not a secret: the usual permissions, not the temporary
    // file's private ones.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
