//! `ledger`: the command-line shell. Parses arguments, runs one verb, prints its output, and
//! maps failures to exit status 1 (refused input, failed check) or 2 (wrong usage).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tools::cli::{Cli, Command};
use tools::commands;

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
    let data = cli.data.as_path();
    let result = match &cli.command {
        Command::Demo(args) => commands::demo(args),
        Command::Agreement(args) => commands::agreement(data, args),
        Command::Ingest(args) => commands::ingest(data, args),
        Command::Close(args) => commands::close(data, args),
        Command::Lots(args) => commands::lots(data, args),
        Command::Events(args) => commands::events(data, args),
        Command::Caco(args) => commands::caco(data, args),
        Command::Invoices(args) => commands::invoices(data, args),
        Command::Alerts(args) => commands::alerts(data, args),
        Command::Replay(args) => commands::replay(data, args),
        Command::Audit(args) => commands::audit(data, args),
        Command::Gen(args) => commands::gen(args),
        Command::Serve(args) => tools::serve::run(data, args),
        Command::Whatif(args) => tools::whatif::run(data, args),
        Command::Reconcile(args) => tools::reconcile::run(data, args),
        Command::Report(args) => tools::report::run(data, args),
    };
    match result {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`ledger events | head`) is not an error worth reporting.
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("ledger: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}
