//! The verbs of `ledger`. Each returns the text for stdout, or a [`Failure`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ledger_core::event::Event;
use ledger_core::Fact;
use ledger_replay::json;
use ledger_replay::views::{caco_rows, event_rows, invoice_rows, lot_rows, EventFilter, LotFilter};
use ledger_replay::write::stage;
use ledger_store::{agreement_content_hash, Appender};

use crate::cli::{
    AgreementArgs, AlertsArgs, AuditArgs, AuditCommand, CloseArgs, DemoArgs, EventsArgs, GenArgs,
    IngestArgs, JsonArgs, LotsArgs, ReadArgs, TraceArgs,
};
use crate::ingest::{describe, group};
use crate::input::agreement::read_agreement;
use crate::render;
use crate::session::{Failure, Session};

/// Whether progress bars may be drawn (stderr is a terminal and not in tests).
fn quiet() -> bool {
    use std::io::IsTerminal;
    !std::io::stderr().is_terminal()
}

pub fn agreement(data: &Path, args: &AgreementArgs) -> Result<String, Failure> {
    // Read and validate every file before the ledger is opened (or created).
    let mut agreements = Vec::with_capacity(args.files.len());
    for file in &args.files {
        agreements.push(read_agreement(file)?);
    }
    let mut session = Session::open_for_write(data, "agreement")?;
    let mut out = String::new();
    for (file, agreement) in args.files.iter().zip(agreements) {
        let account = agreement.account.clone();
        let content_hash = agreement_content_hash(&agreement);
        let fact = Fact::Agreement {
            agreement,
            content_hash,
        };
        let mut appender = Appender::new(session.store.head());
        match stage(&mut session.projections, &mut appender, &fact)
            .map_err(|e| Failure::new(e.to_string()).context(file.display()))?
        {
            None => {
                let version = session
                    .projections
                    .ledger
                    .account(&account)
                    .map(|a| a.agreement_version)
                    .unwrap_or(0);
                writeln!(out, "{}: the agreement of account {account} is unchanged (version {version}); nothing recorded", file.display()).unwrap();
            }
            Some(staged) => {
                session.store.append(&staged.records)?;
                session.finish_writes()?;
                writeln!(
                    out,
                    "{}",
                    describe_agreement(
                        &file.display().to_string(),
                        &account,
                        &staged.applied.events
                    )
                )
                .unwrap();
            }
        }
    }
    Ok(out)
}

fn describe_agreement(file: &str, account: &str, events: &[Event]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut version = 0;
    for e in events {
        match e {
            Event::AgreementRecorded { version: v, .. } => version = *v,
            Event::MaccOpened { terms } => parts.push(format!(
                "opened MACC {} ({})",
                terms.id,
                render::money(terms.amount)
            )),
            Event::CacoOpened { terms } => parts.push(format!(
                "opened CACO {} ({} milestones)",
                terms.id,
                terms.milestones.len()
            )),
            Event::CreditLotOpened { lot, .. } => parts.push(format!(
                "opened {} credit {} ({})",
                lot.kind,
                lot.id,
                render::money(lot.amount)
            )),
            Event::MaccAmended { terms, .. } => parts.push(format!("amended MACC {}", terms.id)),
            Event::CacoAmended { terms, removed, .. } if removed.is_empty() => {
                parts.push(format!("amended CACO {}", terms.id))
            }
            Event::CacoAmended { terms, removed, .. } => parts.push(format!(
                "amended CACO {} (removed {})",
                terms.id,
                removed.join(", ")
            )),
            Event::MaccCanceled { macc } => parts.push(format!("canceled MACC {macc}")),
            Event::CacoCanceled { caco } => parts.push(format!("canceled CACO {caco}")),
            Event::CreditLotAmended { lot, .. } => parts.push(format!("amended credit {}", lot.id)),
            Event::CreditLotCanceled { lot } => parts.push(format!("canceled credit {lot}")),
            Event::AccountTermsChanged { .. } => parts.push("changed account terms".into()),
            _ => {}
        }
    }
    let what = if version == 1 {
        "recorded the agreement"
    } else {
        "recorded amendment"
    };
    format!(
        "{file}: {what} of account {account} (version {version}): {}",
        parts.join("; ")
    )
}

pub fn ingest(data: &Path, args: &IngestArgs) -> Result<String, Failure> {
    let mut formats = Vec::with_capacity(args.files.len());
    for file in &args.files {
        formats.push(detect_format(file, args.format)?);
    }
    let mut session = Session::open_for_write(data, "ingest")?;
    let mut out = String::new();
    let mut outcomes = Vec::new();
    for (file, format) in args.files.iter().zip(formats) {
        let outcome =
            crate::ingest::ingest_file_as(&mut session, file, Some(format.into()), quiet())
                .map_err(|e| {
                    if outcomes.is_empty() {
                        e
                    } else {
                        let done: Vec<String> = outcomes.iter().map(describe).collect();
                        Failure::new(format!(
                            "{}\n(before this, these files were ingested: {})",
                            e.message,
                            done.join("; ")
                        ))
                    }
                })?;
        if !args.json {
            writeln!(out, "{}", describe(&outcome)).unwrap();
        }
        outcomes.push(outcome);
    }
    if args.json {
        out = crate::ingest::outcomes_json(&outcomes);
    }
    Ok(out)
}

/// Check that the file exists and is in a format we read: the given one, else the one its
/// header shows (native, FOCUS or Azure cost details, see `input::format::sniff`).
fn detect_format(
    file: &Path,
    given: Option<crate::cli::Format>,
) -> Result<crate::cli::Format, Failure> {
    std::fs::File::open(file).map_err(|e| crate::input::InputError::io(file, "cannot read", &e))?;
    match given {
        Some(format) => Ok(format),
        None => Ok(crate::input::detect_format(file)?.into()),
    }
}

pub fn close(data: &Path, args: &CloseArgs) -> Result<String, Failure> {
    let mut session = Session::open_for_write(data, "close")?;
    let accounts: Vec<String> = match &args.account {
        Some(a) if session.projections.ledger.account(a).is_none() => {
            return Err(Failure::new(format!("no account '{a}' in this ledger")));
        }
        Some(a) => vec![a.clone()],
        None => session
            .projections
            .ledger
            .accounts
            .keys()
            .cloned()
            .collect(),
    };
    if accounts.is_empty() {
        return Err(Failure::new(
            "nothing to close: no agreement has been recorded",
        ));
    }
    let mut out = String::new();
    for account in accounts {
        let fact = Fact::Close {
            account: account.clone(),
            through: args.through,
        };
        let mut appender = Appender::new(session.store.head());
        let staged = stage(&mut session.projections, &mut appender, &fact)?
            .expect("a close is never a repeat");
        session.store.append(&staged.records)?;
        let evaluations: Vec<String> = staged
            .applied
            .events
            .iter()
            .filter_map(describe_evaluation)
            .collect();
        if evaluations.is_empty() {
            writeln!(
                out,
                "{account}: closed through {}; no deadline was due",
                args.through
            )
            .unwrap();
        } else {
            writeln!(out, "{account}: closed through {}:", args.through).unwrap();
            for line in evaluations {
                writeln!(out, "  {line}").unwrap();
            }
        }
    }
    session.finish_writes()?;
    Ok(out)
}

/// A sentence for an evaluation decision (R-EVAL), if the event is one.
pub fn describe_evaluation(event: &Event) -> Option<String> {
    Some(match event {
        Event::MaccMilestoneEvaluated {
            macc,
            milestone,
            due,
            cumulative,
            target,
            shortfall,
        } if shortfall.is_zero() => {
            format!(
                "MACC {macc} milestone {milestone} (due {due}) met: {} of {}",
                render::money(*cumulative),
                render::money(*target)
            )
        }
        Event::MaccMilestoneEvaluated {
            macc,
            milestone,
            due,
            shortfall,
            ..
        } => {
            format!("MACC {macc} milestone {milestone} (due {due}) missed: shortfall {} invoiced (R-MACC-5)", render::money(*shortfall))
        }
        Event::MaccExpired {
            macc,
            end,
            balance,
            conversion,
        } => format!(
            "MACC {macc} expired {end} with {} left: shortfall invoiced, {} ({})",
            render::money(*balance),
            match conversion {
                ledger_core::event::ShortfallConversion::NotConverted =>
                    "not converted to credit".to_string(),
                ledger_core::event::ShortfallConversion::ActiveEnrollment { expires }
                | ledger_core::event::ShortfallConversion::Renewed { expires } =>
                    format!("converted to credit until {expires}"),
            },
            conversion.rule()
        ),
        Event::CacoMilestoneMissed {
            caco,
            milestone,
            forfeited_award,
            ..
        } => {
            format!(
                "CACO {caco} milestone {milestone} missed: ACO award {} forfeited (R-CACO-4)",
                render::money(*forfeited_award)
            )
        }
        Event::CacoExpired {
            caco, remaining, ..
        } => format!(
            "CACO {caco} expired with {} remaining (R-CACO-7)",
            render::money(*remaining)
        ),
        Event::CreditLotExpired { lot, balance, .. } => format!(
            "credit {lot} expired with {} unused (R-EVAL)",
            render::money(*balance)
        ),
        _ => return None,
    })
}

pub fn lots(data: &Path, args: &LotsArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "lots")?;
    let filter = LotFilter {
        account: args.read.account.clone(),
        source: args.source.clone(),
        ..LotFilter::default()
    };
    let rows = lot_rows(&session.projections, &filter);
    Ok(if args.read.json {
        json::to_text(&json::lots_document(&rows))
    } else {
        render::lots_table(&rows)
    })
}

pub fn events(data: &Path, args: &EventsArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "events")?;
    let filter = EventFilter {
        account: args.read.account.clone(),
        lot: args.lot.clone(),
        from: args.from,
        to: args.to,
        ..EventFilter::default()
    };
    let rows = event_rows(&session.projections, &filter);
    Ok(if args.read.json {
        json::to_text(&json::events_document(&rows))
    } else {
        render::events_table(&rows)
    })
}

pub fn caco(data: &Path, args: &ReadArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "caco")?;
    let rows = caco_rows(&session.projections, args.account.as_deref());
    Ok(if args.json {
        json::to_text(&json::caco_document(&rows))
    } else {
        render::caco_text(&rows)
    })
}

pub fn invoices(data: &Path, args: &ReadArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "invoices")?;
    let rows = invoice_rows(&session.projections, args.account.as_deref());
    Ok(if args.json {
        json::to_text(&json::invoices_document(&rows))
    } else {
        render::invoices_table(&rows)
    })
}

/// `ledger demo`: generate, record, ingest and report, in a fresh ledger.
pub fn demo(args: &DemoArgs) -> Result<String, Failure> {
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
    let inputs = temp.path().join("inputs");
    std::fs::create_dir_all(&inputs)?;
    let started = Instant::now();
    let options = crate::gen::GenOptions {
        lines: args.lines,
        accounts: 1,
        seed: 42,
    };
    let csv_path = inputs.join("charges.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    let generated = crate::gen::generate(&options, &mut csv)?;
    std::io::Write::flush(&mut csv)?;
    drop(csv);
    let mut agreement_files = Vec::new();
    for account in &generated.accounts {
        let path = inputs.join(format!("agreement-{}.toml", account.account));
        std::fs::write(&path, &account.agreement_toml)?;
        agreement_files.push(path);
    }
    agreement(
        &dir,
        &AgreementArgs {
            files: agreement_files,
        },
    )?;
    ingest(
        &dir,
        &IngestArgs {
            files: vec![csv_path],
            format: None,
            json: false,
        },
    )?;
    let elapsed = started.elapsed().as_secs_f64();

    let session = Session::open_for_read(&dir, "demo")?;
    let p = &session.projections;
    let mut out = String::new();
    writeln!(
        out,
        "Demo: one billing account with a MACC, a CACO and credits; {} generated charge lines in {} monthly invoices,\nrecorded, settled and hash-chained in a fresh ledger in {elapsed:.2} s.\n",
        group(generated.lines),
        group(generated.invoices)
    )
    .unwrap();
    writeln!(out, "== What happened ==").unwrap();
    for (date, line) in timeline(&session)? {
        writeln!(out, "  {date}  {line}").unwrap();
    }
    writeln!(out, "\n== Lots: MACC and credits ==").unwrap();
    out.push_str(&render::lots_table(&lot_rows(p, &LotFilter::default())));
    writeln!(out, "\n== CACO milestones ==").unwrap();
    out.push_str(&render::caco_milestones(&caco_rows(p, None)));
    writeln!(out, "\n== Invoices ==").unwrap();
    out.push_str(&render::invoices_table(&invoice_rows(p, None)));
    let audit = ledger_replay::audit::audit(&session.store)?;
    match &audit.finding {
        None => writeln!(
            out,
            "\nAudit: {} records re-derived from the facts byte for byte; the hash chain is whole (head {}…).",
            group(audit.records),
            &audit.head_hash[..16]
        )
        .unwrap(),
        Some(f) => writeln!(out, "\nAudit FAILED at record {}: {}", f.seq, f.message).unwrap(),
    }
    drop(session);
    if keep {
        let d = dir.display();
        writeln!(out, "\nThe ledger is kept in {d}. Explore it:\n  ledger --data {d} events --lot macc-2024\n  ledger --data {d} audit trace --lot macc-2024\n  ledger --data {d} alerts --as-of 2024-07-15").unwrap();
    } else {
        writeln!(
            out,
            "\nThe demo ledger was temporary. Keep one to explore: ledger demo --keep demo-ledger"
        )
        .unwrap();
    }
    Ok(out)
}

/// The decisions worth telling, in date order: evaluations, completions, awards, expiries.
fn timeline(session: &Session) -> Result<Vec<(ledger_core::Date, String)>, Failure> {
    let mut lines = Vec::new();
    for entry in session.store.reader(ledger_store::ReadOptions::default()) {
        let entry = entry?;
        let Some(decisions) = entry.decisions else {
            continue;
        };
        for event in &decisions.events {
            let dated = match event {
                Event::MaccMilestoneEvaluated { due, .. } => {
                    describe_evaluation(event).map(|t| (*due, t))
                }
                Event::MaccExpired { end, .. } => describe_evaluation(event).map(|t| (*end, t)),
                Event::CacoMilestoneMissed { end, .. } => {
                    describe_evaluation(event).map(|t| (*end, t))
                }
                Event::CacoExpired { end, .. } => describe_evaluation(event).map(|t| (*end, t)),
                Event::CreditLotExpired { expires, .. } => {
                    describe_evaluation(event).map(|t| (*expires, t))
                }
                Event::MaccCompleted {
                    macc,
                    date,
                    invoice,
                } => Some((
                    *date,
                    format!("MACC {macc} completed by invoice {invoice} (R-MACC-4)"),
                )),
                Event::CacoMilestoneCompleted {
                    caco,
                    milestone,
                    date,
                    award,
                    ..
                } => Some((
                    *date,
                    format!(
                        "CACO {caco} milestone {milestone} met: ACO award {} granted (R-CACO-5)",
                        render::money(*award)
                    ),
                )),
                Event::CacoCompleted { caco, date, .. } => Some((
                    *date,
                    format!("CACO {caco} commitment completed (R-CACO-7)"),
                )),
                Event::PecStarted { invoice } => Some((
                    decisions
                        .events
                        .iter()
                        .find_map(|e| match e {
                            Event::InvoiceSettled { summary } if &summary.id == invoice => {
                                Some(summary.date)
                            }
                            _ => None,
                        })
                        .unwrap_or(ledger_core::Date::MIN),
                    format!(
                        "ACO credits used up: partner earned credit from invoice {invoice} (R-CSP)"
                    ),
                )),
                _ => None,
            };
            lines.extend(dated);
        }
    }
    lines.sort_by_key(|(date, _)| *date);
    Ok(lines)
}

pub fn replay(data: &Path, args: &JsonArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "replay")?;
    let report = ledger_replay::replay::replay(&session.store)?;
    let text = if args.json {
        serde_json::to_string_pretty(&report).expect("serializes") + "\n"
    } else {
        let mut out = format!(
            "Replayed {} records ({} facts, {} invoices, {} lines, {} decisions) in {:.3} s: {} lines/s.\n",
            group(report.records),
            group(report.facts),
            group(report.invoices),
            group(report.lines),
            group(report.events),
            report.seconds,
            group(report.lines_per_second as u64)
        );
        if report.snapshot_seq > 0 {
            writeln!(
                out,
                "Stored projections: snapshot at record {} plus the {} records after it.",
                report.snapshot_seq,
                group(report.records.saturating_sub(report.snapshot_seq))
            )
            .unwrap();
        }
        if report.differences.is_empty() {
            out.push_str("The rebuild from the log equals the stored projections.\n");
        }
        out
    };
    if !report.differences.is_empty() {
        let mut message =
            String::from("replay: the rebuild from the log differs from the stored projections:");
        for d in &report.differences {
            message.push_str("\n  ");
            message.push_str(d);
        }
        if args.json {
            print!("{text}");
        }
        return Err(Failure::new(message));
    }
    Ok(text)
}

pub fn audit(data: &Path, args: &AuditArgs) -> Result<String, Failure> {
    if let Some(AuditCommand::Trace(trace)) = &args.what {
        return audit_trace(data, trace);
    }
    let session = Session::open_for_read(data, "audit")?;
    let report = ledger_replay::audit::audit(&session.store)?;
    let text = if args.json {
        serde_json::to_string_pretty(&report).expect("serializes") + "\n"
    } else if report.passed() {
        format!(
            "Audit passed: {} records, {} facts, {} lines, {} decisions re-derived byte for byte in {:.3} s ({} lines/s).\nThe hash chain is whole; head {}.\n",
            group(report.records),
            group(report.facts),
            group(report.lines),
            group(report.events),
            report.seconds,
            group(report.lines_per_second as u64),
            report.head_hash
        )
    } else {
        String::new()
    };
    match &report.finding {
        None => Ok(text),
        Some(finding) => {
            if args.json {
                print!("{text}");
            }
            Err(Failure::new(format!(
                "audit failed at record {} ({}): {}",
                finding.seq, finding.kind, finding.message
            )))
        }
    }
}

fn audit_trace(data: &Path, args: &TraceArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "audit trace")?;
    let trace = ledger_replay::trace::trace_lot(&session.store, &args.lot)
        .map_err(|e| Failure::new(e.to_string()))?;
    if args.json {
        return Ok(serde_json::to_string_pretty(&trace).expect("serializes") + "\n");
    }
    if args.csv {
        return Ok(ledger_replay::trace::to_csv(&trace));
    }
    Ok(render::trace_text(&trace))
}

/// Where `ledger gen` writes the agreement of `account` for charge file `out`.
pub fn agreement_path_for(out: &Path, account: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "charges".into());
    out.with_file_name(format!("{stem}-agreement-{account}.toml"))
}

pub fn gen(args: &GenArgs) -> Result<String, Failure> {
    if args.accounts == 0 {
        return Err(Failure::usage("--accounts must be at least 1"));
    }
    let started = Instant::now();
    let file = std::fs::File::create(&args.out)
        .map_err(|e| Failure::new(format!("{}: cannot create: {e}", args.out.display())))?;
    let mut csv = std::io::BufWriter::with_capacity(1 << 20, file);
    let options = crate::gen::GenOptions {
        lines: args.lines,
        accounts: args.accounts,
        seed: args.seed,
    };
    let output = match args.format {
        crate::cli::GenFormat::Native => crate::gen::generate(&options, &mut csv),
        crate::cli::GenFormat::Focus => crate::gen::focus::generate_focus(&options, &mut csv),
    }
    .map_err(|e| Failure::new(format!("{}: {e}", args.out.display())))?;
    std::io::Write::flush(&mut csv)
        .map_err(|e| Failure::new(format!("{}: {e}", args.out.display())))?;
    let mut out = format!(
        "{}: {} lines in {} invoices, {} bytes, in {:.2} s\n",
        args.out.display(),
        group(output.lines),
        group(output.invoices),
        group(output.bytes),
        started.elapsed().as_secs_f64()
    );
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
        )
        .unwrap();
    }
    Ok(out)
}

pub fn alerts(data: &Path, args: &AlertsArgs) -> Result<String, Failure> {
    let session = Session::open_for_read(data, "alerts")?;
    let rows = ledger_replay::alerts::alerts(
        &session.projections,
        args.as_of,
        args.read.account.as_deref(),
    );
    Ok(if args.read.json {
        json::to_text(&ledger_replay::alerts::alerts_document(&rows))
    } else {
        render::alerts_table(&rows, args.as_of)
    })
}
