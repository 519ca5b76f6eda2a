//! # ledger-gen
//!
//! `ledger gen` and `ledger demo`: synthetic native charge lines and a matching agreement per
//! billing account, for benchmarks and the demo.
//!
//! # What is generated
//!
//! For each account, one invoice per calendar month (`{account}-{YYYY-MM}`, dated the 5th of the
//! next month, billing period = the month), from January 2024 on: 12 months below 100k lines per
//! account, 24 below 1M, 36 from 1M (more if an invoice would exceed about a million lines), or
//! exactly [`GenOptions::months`] when it is set (see [`months_for_invoice_lines`] for a given
//! invoice size).
//! Lines are written in ascending charge date within each invoice, so settlement needs no sort.
//! Files are month-major: every account's January invoice, then every account's February...
//!
//! Kinds: `usage` (about 86%, services weighted like a typical estate, one line in eight
//! metered with 6 to 10 decimal places), `reservation_usage` (about 5%), `marketplace_eligible`
//! and `marketplace` (with publishers), 2 or 3 monthly `reservation_purchase` lines, one
//! `support` line a month, one `tax` line per billing profile on the last day (rate × the
//! profile's charges), one `prepayment_purchase` (with a `line_id`) in the second month, and a
//! `refund` every fourth month (`corrects` = the MACC). Amounts stay far inside ±10^9.
//!
//! The agreement of each account (see `plan.rs`) is designed around its planned spend: a MACC
//! over all the months sized to complete early or fall short, one or two MACC milestones, a CACO
//! with 3 or 4 period milestones of which one is designed to be missed, an ACO lot, a goodwill
//! credit, and on one account in four (the second, sixth...) a partner earned credit rate.
//!
//! # Determinism
//!
//! The output is a pure function of ([`GenOptions::lines`], [`GenOptions::accounts`],
//! [`GenOptions::seed`], [`GenOptions::months`]). Random numbers come from SplitMix64 and xoshiro256** written out in
//! `rng.rs`, not from a crate, and every computation is on integers: the same options give the
//! same bytes on every machine and across dependency upgrades. Each account draws from its own
//! streams. Tests pin the bytes of the default output.
//!
//! # Speed
//!
//! Lines are assembled from pre-formatted byte slices (dates once per invoice, names once per
//! run) and hand-formatted amounts into one reused 64 KiB buffer: no allocation per line. About
//! 25M lines/s (2.9 GB/s) into a `BufWriter` over `io::sink()` on the 2-core reference machine;
//! to a file the disk sets the pace. Measure with
//! `cargo test -p ledger-gen --release gen_speed -- --ignored --nocapture`.
//!
//! [`parquet::csv_to_parquet`] writes a CSV export as Parquet (typed costs and dates, strings
//! dictionary-encoded), for the tests and the ingest benchmark.
//!
//! Very small runs (under about 30 lines per invoice) have no special lines and their random
//! amounts dominate the planned spend, so their agreements' outcomes are not as designed.

// A library writes to the stream it is given, never to the process's stdout or stderr.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

mod catalog;
pub mod focus;
mod month;
pub mod parquet;
mod plan;
mod rng;
mod write;

#[cfg(test)]
mod tests;

use std::io;

pub use write::HEADER;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Charge lines in total, exactly (the header not counted).
    pub lines: u64,
    /// Billing accounts; lines are spread evenly over them.
    pub accounts: u32,
    pub seed: u64,
    /// Monthly invoices per account; `None` chooses from the lines per account (12, 24 or 36,
    /// more for invoices over about a million lines).
    pub months: Option<u32>,
}

/// The most monthly invoices an account may have (a hundred years).
pub const MAX_MONTHS: u32 = 1200;

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            lines: 20_000,
            accounts: 1,
            seed: 42,
            months: None,
        }
    }
}

/// One generated billing account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenAccount {
    /// The billing account id (the CSV's `account` column).
    pub account: String,
    /// The agreement file (TOML, INTERFACE.md's keys).
    pub agreement_toml: String,
    pub invoices: u64,
    pub lines: u64,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOutput {
    pub accounts: Vec<GenAccount>,
    pub lines: u64,
    pub invoices: u64,
    /// Bytes written to the CSV, header included.
    pub bytes: u64,
}

/// Every account's plan (at least one account).
fn plans(options: &GenOptions) -> Vec<plan::AccountPlan> {
    let accounts = options.accounts.max(1) as u64;
    let months = options
        .months
        .unwrap_or_else(|| plan::months_for(options.lines / accounts));
    (0..accounts)
        .map(|a| {
            let lines = options.lines / accounts + (a < options.lines % accounts) as u64;
            plan::plan_account(options.seed, a as u32, lines, months)
        })
        .collect()
}

/// How many monthly invoices give each of `accounts` accounts invoices of about
/// `lines_per_invoice` lines when `lines` are spread over them (at least one; more than
/// [`MAX_MONTHS`] is refused by [`generate`]).
pub fn months_for_invoice_lines(lines: u64, accounts: u32, lines_per_invoice: u64) -> u64 {
    let per_account = lines / u64::from(accounts.max(1));
    per_account.div_ceil(lines_per_invoice.max(1)).max(1)
}

/// Write native CSV (header + lines) to `csv`; return the agreements (TOML text, one per
/// account) and counts. `csv` receives large chunks; wrap a file in a `BufWriter` anyway.
pub fn generate(options: &GenOptions, csv: &mut dyn io::Write) -> io::Result<GenOutput> {
    if options.accounts == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "gen: --accounts must be at least 1",
        ));
    }
    if let Some(months) = options.months {
        if months == 0 || months > MAX_MONTHS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gen: --months must be from 1 to {MAX_MONTHS}, not {months}"),
            ));
        }
        if options.lines / u64::from(options.accounts) < u64::from(months) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gen: {months} months need at least {months} lines per account"),
            ));
        }
    }
    let plans = plans(options);
    let months = plans[0].months;

    let cat = write::Catalog::new();
    let bytes: Vec<write::AccountBytes> = plans.iter().map(write::AccountBytes::new).collect();
    let mut rngs: Vec<rng::Rng> = (0..options.accounts)
        .map(|a| rng::Rng::new(options.seed, 2 * a as u64 + 1))
        .collect();
    let mut written = vec![0u64; plans.len()];
    let mut out = write::Out::new(csv);
    out.buf.extend_from_slice(HEADER.as_bytes());
    let mut prefix = Vec::with_capacity(128);
    for m in 0..months {
        for (a, plan) in plans.iter().enumerate() {
            written[a] += write::write_invoice(
                &mut out,
                plan,
                &bytes[a],
                &cat,
                m,
                &mut rngs[a],
                &mut prefix,
            )?;
        }
    }
    out.flush()?;

    let mut result = GenOutput {
        accounts: Vec::with_capacity(plans.len()),
        lines: 0,
        invoices: 0,
        bytes: out.bytes,
    };
    for (plan, lines) in plans.into_iter().zip(written) {
        let planned: u64 = plan.lines.iter().sum();
        if lines != planned {
            return Err(io::Error::other(format!(
                "gen: wrote {lines} lines for {}, planned {planned}",
                plan.account
            )));
        }
        let invoices = plan.invoices();
        result.lines += lines;
        result.invoices += invoices;
        result.accounts.push(GenAccount {
            account: plan.account,
            agreement_toml: plan.agreement_toml,
            invoices,
            lines,
        });
    }
    debug_assert_eq!(result.lines, options.lines);
    Ok(result)
}
