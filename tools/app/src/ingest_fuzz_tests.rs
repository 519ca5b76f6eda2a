//! Property tests (moved here from the input crate, since the last needs the whole ingest):
//! mutated FOCUS and Azure files (cut rows, replaced and inserted bytes,
//! invalid UTF-8, missing columns, wrong types, random bytes) never panic the readers or the
//! ingest; a refusal names the file and, past the header, the line; and a refused ingest
//! appends nothing to the ledger.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use ledger_input::assemble::Accounts;
use ledger_input::error::InputError;
use ledger_input::format::{stage_file, InputFormat};

/// A small FOCUS file with every kind of row the mapping treats specially.
const FOCUS: &str = "\
BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargeClass,ChargePeriodStart,CommitmentDiscountId,CommitmentDiscountStatus,PricingCategory,ProviderName,PublisherName,ServiceName,x_PublisherCategory,InvoiceId
10.5,/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Usage,,2025-01-15T08:00:00Z,,,Standard,Microsoft,Microsoft,Virtual Machines,Cloud Provider,INV-1
0,/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Usage,,2025-01-15T08:00:00Z,ri-1,Used,Committed,Microsoft,Microsoft,Virtual Machines,Cloud Provider,INV-1
0,/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Usage,,2025-01-15T08:00:00Z,ri-1,Unused,Committed,Microsoft,Microsoft,Virtual Machines,Cloud Provider,INV-1
120,/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Purchase,,2025-01-01T00:00:00Z,ri-1,,Standard,Microsoft,Microsoft,Virtual Machines,Cloud Provider,INV-1
-4,/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Usage,Correction,2025-01-20T00:00:00Z,,,Standard,Microsoft,Microsoft,Storage,Cloud Provider,INV-1
7,/providers/Microsoft.Billing/billingAccounts/contoso,Contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Tax,,2025-01-31T00:00:00Z,,,,Microsoft,,,,INV-1
\"33.3\",\"/providers/Microsoft.Billing/billingAccounts/contoso\",\"Contoso\",\"USD\",\"2025-02-01 00:00:00\",\"2025-03-01 00:00:00\",\"Usage\",\"NULL\",\"2025-02-03 00:00:00\",\"NULL\",\"NULL\",\"Standard\",\"Microsoft\",\"Datadog\",\"Datadog\",\"Vendor\",\"NULL\"
5,123456789012,AWS,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,Credit,,2025-01-01T00:00:00Z,,,Other,AWS,AWS,EC2,,
";

/// A small EA cost-details file (MM/DD/YYYY, a reservation purchase, covered usage at 0).
const AZURE: &str = "\u{feff}\
BillingAccountId,BillingPeriodStartDate,BillingPeriodEndDate,BillingProfileId,BillingProfileName,Date,Cost,BillingCurrency,ChargeType,PricingModel,PublisherType,PublisherName,ReservationId,benefitId,MeterCategory,ProductName
contoso,01/01/2025,01/31/2025,contoso,Contoso Ltd,01/15/2025,10,USD,Usage,OnDemand,Azure,Microsoft,,,Virtual Machines,D2 v3
contoso,01/01/2025,01/31/2025,contoso,Contoso Ltd,01/15/2025,0,USD,Usage,Reservation,Azure,Microsoft,ri-1,,Virtual Machines,D2 v3
contoso,01/01/2025,01/31/2025,contoso,Contoso Ltd,01/02/2025,300,USD,Purchase,Reservation,Azure,,ri-1,/providers/Microsoft.Capacity/reservationOrders/x,Virtual Machines,\"Reserved VM Instance, D2 v3\"
contoso,01/01/2025,01/31/2025,contoso,Contoso Ltd,01/20/2025,20,USD,Usage,On Demand,Marketplace,Elastic,,,,Elastic Cloud
contoso,02/01/2025,02/28/2025,contoso,Contoso Ltd,2/3/25,-1.5,USD,Refund,OnDemand,Azure,Microsoft,,,Storage,Blob
";

fn contoso() -> Accounts {
    Accounts::new(BTreeMap::from([("contoso".to_string(), "USD".to_string())]))
}

/// How to damage a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Cut the file at a fraction of its length.
    Cut(f64),
    /// Replace the byte at a fraction of the length.
    Replace(f64, u8),
    /// Insert bytes at a fraction of the length.
    Insert(f64, Vec<u8>),
    /// Drop header column `n` (mod the number of columns).
    DropColumn(usize),
    /// Set cell (row, column) (mod the sizes) to a bad value.
    Cell(usize, usize, &'static str),
    /// Duplicate line `n` (mod the number of lines).
    Duplicate(usize),
    /// Random bytes in place of the file.
    Random(Vec<u8>),
}

const BAD_VALUES: [&str; 12] = [
    "abc",
    "",
    "NULL",
    "1e999",
    "-5",
    "99999999999999999999",
    "2024-13-45",
    "13/45/2024",
    "\u{fffd}\u{0}",
    "\"",
    "Credit",
    "UnusedReservation",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Cut),
        (0.0..1.0f64, any::<u8>()).prop_map(|(p, b)| Mutation::Replace(p, b)),
        (0.0..1.0f64, proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (0..40usize).prop_map(Mutation::DropColumn),
        (
            0..10usize,
            0..40usize,
            proptest::sample::select(BAD_VALUES.to_vec())
        )
            .prop_map(|(r, c, v)| Mutation::Cell(r, c, v)),
        (0..10usize).prop_map(Mutation::Duplicate),
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(Mutation::Random),
    ]
}

fn at(len: usize, fraction: f64) -> usize {
    ((len as f64) * fraction) as usize
}

/// Split a CSV line at commas outside quotes.
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                out.last_mut().unwrap().push(c);
            }
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn apply(base: &str, mutation: &Mutation) -> Vec<u8> {
    let bytes = base.as_bytes();
    match mutation {
        Mutation::Cut(p) => bytes[..at(bytes.len(), *p)].to_vec(),
        Mutation::Replace(p, b) => {
            let mut out = bytes.to_vec();
            let i = at(out.len(), *p).min(out.len() - 1);
            out[i] = *b;
            out
        }
        Mutation::Insert(p, inserted) => {
            let mut out = bytes.to_vec();
            let i = at(out.len(), *p);
            out.splice(i..i, inserted.iter().copied());
            out
        }
        Mutation::DropColumn(n) => {
            let (header, rest) = base.split_once('\n').unwrap();
            let mut columns = cells(header);
            let n = n % columns.len();
            columns.remove(n);
            format!("{}\n{rest}", columns.join(",")).into_bytes()
        }
        Mutation::Cell(row, column, value) => {
            let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
            let row = 1 + row % (lines.len() - 1);
            let mut row_cells = cells(&lines[row]);
            let column = column % row_cells.len();
            row_cells[column] = value.to_string();
            lines[row] = row_cells.join(",");
            (lines.join("\n") + "\n").into_bytes()
        }
        Mutation::Duplicate(n) => {
            let mut lines: Vec<&str> = base.lines().collect();
            let n = n % lines.len();
            lines.insert(n, lines[n]);
            (lines.join("\n") + "\n").into_bytes()
        }
        Mutation::Random(random) => random.clone(),
    }
}

/// A refusal is clear: it names the file, and a line unless the file has none.
fn assert_clear(e: &InputError, path: &Path, bytes: &[u8]) {
    assert_eq!(e.file, path, "{e}");
    let text = e.to_string();
    assert!(
        e.line.is_some() || text.contains("is empty"),
        "no line in: {text} (input {:?})",
        String::from_utf8_lossy(bytes)
    );
    assert!(!e.message.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The readers and the assembler: any damage gives lines or a clear refusal.
    #[test]
    fn damaged_exports_are_read_or_refused_clearly(azure in any::<bool>(), mutation in mutation()) {
        let (base, format) = if azure { (AZURE, InputFormat::Azure) } else { (FOCUS, InputFormat::Focus) };
        let bytes = apply(base, &mutation);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        std::fs::write(&path, &bytes).unwrap();
        match stage_file(&path, format, &contoso(), dir.path(), |_, _| {}) {
            Ok((mut staged, stats)) => {
                prop_assert!(stats.lines + stats.skipped_total() <= stats.rows);
                for invoice in staged.iter() {
                    let invoice = invoice.unwrap();
                    prop_assert!(invoice.period_start <= invoice.period_end);
                    prop_assert!(invoice.lines.iter().all(|l| l.amount.is_negative() == (l.kind == ledger_core::ChargeKind::Refund) || l.amount.is_zero()));
                }
            }
            Err(e) => assert_clear(&e, &path, &bytes),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The whole ingest: a refused file leaves the log as it was (same head, on disk too).
    #[test]
    fn a_refused_export_appends_nothing(azure in any::<bool>(), mutation in mutation()) {
        use crate::session::Session;
        let (base, format) = if azure { (AZURE, InputFormat::Azure) } else { (FOCUS, InputFormat::Focus) };
        let bytes = apply(base, &mutation);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let agreement = dir.path().join("agreement.toml");
        std::fs::write(&agreement, "account = \"contoso\"\ncurrency = \"USD\"\n[[macc]]\nid = \"m\"\namount = \"1000\"\nstart = \"2024-01-01\"\nend = \"2026-12-31\"\n").unwrap();
        crate::agreement::record_files(&data, &[agreement]).unwrap();
        let path = dir.path().join("charges.csv");
        std::fs::write(&path, &bytes).unwrap();
        let mut session = Session::open_for_write(&data, "test").unwrap();
        let before = session.store.head();
        let result = crate::ingest::ingest_file_as(&mut session, &path, Some(format), true);
        let after = session.store.head();
        drop(session);
        let reopened = Session::open_for_write(&data, "test").unwrap().store.head();
        match result {
            Ok(outcome) => {
                prop_assert_eq!(after, reopened);
                prop_assert!(outcome.settled == 0 || after != before);
            }
            Err(failure) => {
                let message = failure.to_string();
                prop_assert!(message.contains("charges.csv"), "{}", message);
                prop_assert_eq!(after, before, "a refused file appended records: {}", message);
                prop_assert_eq!(reopened, before);
            }
        }
    }
}

#[test]
fn the_undamaged_bases_read_whole() {
    for (base, format, lines) in [
        (FOCUS, InputFormat::Focus, 6),
        (AZURE, InputFormat::Azure, 5),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charges.csv");
        std::fs::write(&path, base).unwrap();
        let (_, stats) = stage_file(&path, format, &contoso(), dir.path(), |_, _| {}).unwrap();
        assert_eq!(stats.lines, lines, "{format:?}");
    }
}
