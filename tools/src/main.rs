//! `ledger`: the command-line shell. Parses arguments, runs one verb, prints what it wrote,
//! and maps failures to exit status 1 (refused input, failed check) or 2 (wrong usage).
//!
//! The binary is glue: every clap type is in [`cli`], every verb in [`commands`] runs a use
//! case of `ledger-app` and writes `ledger-render`'s words to a stream.

mod cli;
mod commands;
mod remote;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};
use ledger_app::Failure;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        // RUST_LOG chooses what is logged; without it, warnings and errors.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // `serve` writes as it goes (the address it listens on, at once); every other verb's
    // output is printed when it has finished, so a refused command prints nothing on stdout.
    let mut written = Vec::new();
    let result = match &cli.command {
        Command::Serve(args) => ledger_serve::run(&cli.data, &args.into(), &mut std::io::stdout()),
        command => run(&cli.data, command, &mut written),
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`ledger events | head`) is not an error worth reporting.
    match result {
        Ok(()) => {
            let _ = stdout.write_all(&written);
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(failure) => {
            if failure.keep_output {
                let _ = stdout.write_all(&written);
                let _ = stdout.flush();
            }
            eprintln!("ledger: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}

/// Run one verb (other than `serve`), writing its output to `out`.
fn run(data: &std::path::Path, command: &Command, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        Command::Demo(args) => commands::demo(args, out),
        Command::Agreement(args) => commands::agreement(data, args, out),
        Command::Ingest(args) => commands::ingest(data, args, out),
        Command::Close(args) => commands::close(data, args, out),
        Command::Resettle(args) => commands::resettle(data, args, out),
        Command::Lots(args) => commands::lots(data, args, out),
        Command::Events(args) => commands::events(data, args, out),
        Command::Caco(args) => commands::caco(data, args, out),
        Command::Invoices(args) => commands::invoices(data, args, out),
        Command::Alerts(args) => commands::alerts(data, args, out),
        Command::Plan(args) => commands::plan(data, args, out),
        Command::Replay(args) => commands::replay(data, args, out),
        Command::Audit(args) => commands::audit(data, args, out),
        Command::Gen(args) => commands::gen(args, out),
        Command::Whatif(args) => commands::whatif(data, args, out),
        Command::Reconcile(args) => commands::reconcile(data, args, out),
        Command::Report(args) => commands::report(data, args, out),
        Command::Serve(args) => ledger_serve::run(data, &args.into(), &mut std::io::stdout()),
    }
}
