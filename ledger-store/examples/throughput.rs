//! Encode, append and read-back speed of the log, and bytes per line.
//!
//! `cargo run --release -p ledger-store --example throughput -- [LINES] [--line-ids]`
//!
//! Lines are "typical": mostly usage, amounts with 2 to 8 decimals, four billing profiles, a
//! charge date in the billing month, a service name from a small set; `--line-ids` gives every
//! line a unique line id as well (one interned string per line).

use std::time::Instant;

use ledger_core::{ChargeKind, ChargeLine, Date, Event, Fact, Invoice, Money, StrRef};
use ledger_store::{invoice_content_hash, Appender, ReadOptions, Store};

const LINES_PER_INVOICE: usize = 20_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let line_ids = args.iter().any(|a| a == "--line-ids");
    let invoices = generate(total, line_ids);
    let lines: usize = invoices.iter().map(|i| i.lines.len()).sum();
    println!(
        "{lines} lines in {} invoices{}",
        invoices.len(),
        if line_ids { ", unique line ids" } else { "" }
    );

    let t = Instant::now();
    let mut digest = 0u8;
    for inv in &invoices {
        digest ^= invoice_content_hash(inv)[0];
    }
    report("content digest", lines, t, digest);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "throughput").unwrap();
    let t = Instant::now();
    let mut appender = Appender::new(store.head());
    let mut groups = Vec::with_capacity(invoices.len());
    for inv in invoices {
        let mut out = Vec::new();
        let fact = Fact::Invoice(inv);
        let seq = appender.fact(&fact, &mut out).unwrap();
        let events = [Event::Closed {
            through: Date::from_ymd(2025, 3, 31).unwrap(),
        }];
        appender
            .decisions("acct", 1, seq, &events, &mut out)
            .unwrap();
        groups.push(out);
    }
    report("encode (Appender)", lines, t, 0);
    let stored: usize = groups.iter().flatten().map(|r| r.bytes.len()).sum();
    let records: usize = groups.iter().map(|g| g.len()).sum();
    println!(
        "  {records} records, {:.1} stored bytes per line (values)",
        stored as f64 / lines as f64
    );

    let t = Instant::now();
    for group in &groups {
        store.append(group).unwrap();
        store.flush().unwrap();
    }
    report("append + flush per invoice", lines, t, 0);
    drop(groups);
    drop(store);
    let store = Store::open_existing(dir.path(), "throughput").unwrap();
    println!(
        "  {:.1} bytes per line on disk (sled directory)",
        store.disk_bytes() as f64 / lines as f64
    );
    let blobs: Vec<u64> = std::fs::read_dir(dir.path().join("blobs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "  {} sled blob files, {} bytes",
        blobs.len(),
        blobs.iter().sum::<u64>()
    );

    for verify_chain in [false, true, false, true] {
        let t = Instant::now();
        let mut read = 0u64;
        for entry in store.reader(ReadOptions {
            from_seq: 0,
            verify_chain,
        }) {
            read += entry.unwrap().line_count;
        }
        assert_eq!(read as usize, lines);
        report(
            if verify_chain {
                "read, chain verified"
            } else {
                "read"
            },
            lines,
            t,
            0,
        );
    }
}

fn report(step: &str, lines: usize, start: Instant, _sink: u8) {
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{step:<28} {:>8.3} s  {:>7.2} M lines/s",
        seconds,
        lines as f64 / seconds / 1e6
    );
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn generate(total: usize, line_ids: bool) -> Vec<Invoice> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let period_start = Date::from_ymd(2025, 3, 1).unwrap();
    let services: Vec<String> = (0..40).map(|i| format!("Service {i}")).collect();
    let mut invoices = Vec::new();
    let mut made = 0;
    while made < total {
        let count = LINES_PER_INVOICE.min(total - made);
        let mut strings: Vec<String> = Vec::new();
        let mut service_index = vec![u32::MAX; services.len()];
        let mut lines = Vec::with_capacity(count);
        for i in 0..count {
            let line_id = if line_ids {
                strings.push(format!("L{:010}", made + i));
                StrRef::new(strings.len() as u32 - 1)
            } else {
                StrRef::NONE
            };
            let s = rng.below(services.len() as u64) as usize;
            if service_index[s] == u32::MAX {
                strings.push(services[s].clone());
                service_index[s] = strings.len() as u32 - 1;
            }
            let kind = match rng.below(20) {
                0 => ChargeKind::Marketplace,
                1 => ChargeKind::Tax,
                2 => ChargeKind::Support,
                _ => ChargeKind::Usage,
            };
            let scale = 2 + rng.below(7) as u32;
            let amount =
                Money::from_mantissa_scale(rng.below(50_000_000) as i128 + 1, scale).unwrap();
            lines.push(ChargeLine {
                amount,
                charge_date: period_start.add_days(rng.below(31) as i32),
                kind,
                profile: rng.below(4) as u16,
                corrects_kind: None,
                line_id,
                service: StrRef::new(service_index[s]),
                publisher: StrRef::NONE,
                description: StrRef::NONE,
                corrects: StrRef::NONE,
            });
        }
        let mut inv = Invoice {
            account: "acct".into(),
            id: format!("INV-{}", invoices.len()),
            date: Date::from_ymd(2025, 4, 5).unwrap(),
            period_start,
            period_end: Date::from_ymd(2025, 3, 31).unwrap(),
            currency: "USD".into(),
            content_hash: [0; 32],
            profiles: vec![
                "Engineering".into(),
                "Finance".into(),
                "Research".into(),
                "Sales".into(),
            ],
            strings,
            lines,
        };
        inv.content_hash = invoice_content_hash(&inv);
        invoices.push(inv);
        made += count;
    }
    invoices
}
