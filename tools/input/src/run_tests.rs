//! One input over several parts, in any order: the canonical order (canonical.rs), the
//! multi-part assembler (run.rs), gzip parts (records.rs) and the layout (layout.rs).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ledger_core::{ChargeKind, Invoice};

use super::assemble::{Accounts, Assembler};
use super::canonical::same_content_in_another_order;
use super::encoding::Encoding;
use super::export::{read_export_part, ExportFormat};
use super::format::InputFormat;
use super::layout::{plan_inputs, Origin};
use super::run::stage_run;

const HEADER: &str = "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ProviderName,ServiceName,InvoiceId,x_BillingProfileName\n";

/// (cost, category, charge day, service, invoice, profile)
fn row(
    cost: &str,
    category: &str,
    day: u32,
    service: &str,
    invoice: &str,
    profile: &str,
) -> String {
    format!(
        "{cost},/providers/Microsoft.Billing/billingAccounts/contoso,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,{category},2025-01-{day:02}T00:00:00Z,Microsoft,{service},{invoice},{profile}\n"
    )
}

fn rows() -> Vec<String> {
    vec![
        row("10", "Usage", 3, "Virtual Machines", "INV-2", "Research"),
        row("2.5", "Usage", 1, "Storage", "INV-1", "Engineering"),
        row(
            "5000",
            "Purchase",
            2,
            "Azure Prepayment",
            "INV-1",
            "Engineering",
        ),
        row(
            "5000",
            "Purchase",
            2,
            "Azure Prepayment",
            "INV-1",
            "Engineering",
        ),
        row("1", "Usage", 1, "Storage", "INV-1", "Research"),
        row("-1", "Usage", 4, "Storage", "INV-2", "Engineering"),
        row("3", "Usage", 1, "Bandwidth", "INV-1", "Engineering"),
        row("7", "Tax", 5, "Tax", "INV-2", "Research"),
    ]
}

fn contoso() -> Accounts {
    Accounts::new(BTreeMap::from([("contoso".to_string(), "USD".to_string())]))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Write `parts` (each a list of rows) under `dir`, odd ones gzip without a `.gz` name.
fn write_parts(dir: &Path, parts: &[Vec<String>]) -> Vec<PathBuf> {
    parts
        .iter()
        .enumerate()
        .map(|(i, rows)| {
            let path = dir.join(format!("part_0_{:04}.csv", i + 1));
            let text = format!("{HEADER}{}", rows.concat());
            let bytes = if i % 2 == 1 {
                gzip(text.as_bytes())
            } else {
                text.into_bytes()
            };
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

/// Every invoice of the run the `inputs` name.
fn invoices(inputs: &[PathBuf], spill: &Path) -> Vec<Invoice> {
    let runs = plan_inputs(inputs, None).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let (mut staged, stats) = stage_run(&runs[0], &contoso(), spill, |_, _| {}).unwrap();
    assert_eq!(stats.rows, rows().len() as u64);
    staged.iter().collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn the_same_rows_in_any_order_or_split_build_the_same_invoices() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    std::fs::create_dir(&one).unwrap();
    let expected = invoices(&write_parts(&one, &[rows()]), dir.path());
    assert_eq!(
        expected.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["INV-1", "INV-2"]
    );
    let mut reversed = rows();
    reversed.reverse();
    for (name, split) in [
        ("reversed", vec![reversed.clone()]),
        (
            "three",
            vec![
                reversed[..2].to_vec(),
                reversed[2..5].to_vec(),
                reversed[5..].to_vec(),
            ],
        ),
        (
            "four",
            vec![
                rows()[6..].to_vec(),
                rows()[..1].to_vec(),
                rows()[3..6].to_vec(),
                rows()[1..3].to_vec(),
            ],
        ),
    ] {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        let parts = write_parts(&folder, &split);
        assert_eq!(
            invoices(std::slice::from_ref(&folder), dir.path()),
            expected,
            "{name}: by folder"
        );
        let mut listed = parts.clone();
        listed.reverse();
        assert_eq!(
            invoices(&listed, dir.path()),
            expected,
            "{name}: parts listed"
        );
    }
    // Lines by charge date first, profiles by name.
    let inv1 = &expected[0];
    assert_eq!(inv1.profiles, ["Engineering", "Research"]);
    let days: Vec<u32> = inv1.lines.iter().map(|l| l.charge_date.day()).collect();
    assert_eq!(days, [1, 1, 1, 2, 2]);
}

#[test]
fn a_purchase_without_a_line_id_gets_a_lot_id_from_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let invoices = invoices(&write_parts(dir.path(), &[rows()]), dir.path());
    let inv1 = &invoices[0];
    let ids: Vec<&str> = inv1
        .lines
        .iter()
        .filter(|l| l.kind == ChargeKind::PrepaymentPurchase)
        .map(|l| inv1.str(l.line_id).unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let (first, second) = (ids[0], ids[1]);
    assert!(
        first.starts_with("INV-1/") && first.len() == "INV-1/".len() + 16,
        "{first}"
    );
    assert_eq!(second, format!("{first}-2"), "an identical purchase");
}

#[test]
fn errors_name_the_part_and_the_line_where_the_invoice_first_appears() {
    let dir = tempfile::tempdir().unwrap();
    let mut other = rows()[0].replace("2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z");
    other = other.replace("Virtual Machines", "Other");
    let parts = write_parts(dir.path(), &[rows(), vec![other]]);
    let runs = plan_inputs(&parts, None).unwrap();
    let e = stage_run(&runs[0], &contoso(), dir.path(), |_, _| {})
        .err()
        .unwrap();
    assert_eq!(e.file, parts[1]);
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.contains(&format!("of {}", parts[0].display())),
        "{e}"
    );
}

#[test]
fn a_folder_of_parts_is_one_run_and_native_files_stay_one_input_each() {
    let dir = tempfile::tempdir().unwrap();
    let parts = write_parts(dir.path(), &[rows()[..4].to_vec(), rows()[4..].to_vec()]);
    std::fs::write(dir.path().join("notes.txt"), "not a part").unwrap();
    let runs = plan_inputs(&[dir.path().to_path_buf()], None).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].origin, runs[0].format),
        (Origin::Folder, InputFormat::Focus)
    );
    let encodings: Vec<Encoding> = runs[0].parts.iter().map(|p| p.encoding).collect();
    assert_eq!(encodings, [Encoding::Csv, Encoding::GzipCsv]);
    assert_eq!(runs[0].parts[1].path, parts[1]);

    let native = tempfile::tempdir().unwrap();
    let header = "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";
    for name in ["a.csv", "b.csv"] {
        std::fs::write(
            native.path().join(name),
            format!("{header}I-{name},2025-02-01,P,2025-01-05,usage,1,USD\n"),
        )
        .unwrap();
    }
    let runs = plan_inputs(&[native.path().to_path_buf()], None).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .all(|r| r.parts.len() == 1 && r.format == InputFormat::Native));
}

#[test]
fn only_files_named_as_azure_parts_are_grouped_into_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}{}", rows().concat());
    let (a, b) = (dir.path().join("jan.csv"), dir.path().join("jan-again.csv"));
    std::fs::write(&a, &text).unwrap();
    std::fs::write(&b, &text).unwrap();
    // Two deliveries of one month: two inputs (a repeat is skipped later), never one invoice
    // with every line twice.
    let runs = plan_inputs(&[a.clone(), b.clone()], None).unwrap();
    assert_eq!(runs.len(), 2);
    let runs = plan_inputs(&[dir.path().to_path_buf()], None).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .all(|r| r.parts.len() == 1 && r.origin == Origin::Files));
}

#[test]
fn an_invoice_recorded_in_file_order_is_the_same_content_in_another_order() {
    let dir = tempfile::tempdir().unwrap();
    let file_order = |rows: &[String]| {
        let path = write_parts(dir.path(), &[rows.to_vec()]).remove(0);
        let mut assembler = Assembler::new(&path, &contoso(), dir.path()).unwrap();
        read_export_part(
            &path,
            ExportFormat::Focus,
            &contoso(),
            &mut assembler,
            |_, _| {},
        )
        .unwrap();
        let mut staged = assembler.finish().unwrap();
        staged.iter().collect::<Result<Vec<_>, _>>().unwrap()
    };
    let canonical = invoices(&write_parts(dir.path(), &[rows()]), dir.path());
    let mut recorded = file_order(&rows());
    recorded.sort_by(|a, b| a.id.cmp(&b.id));
    assert_ne!(recorded[0].lines, canonical[0].lines, "file order differs");
    for (was, now) in recorded.iter().zip(&canonical) {
        assert!(same_content_in_another_order(was, now), "{}", now.id);
    }
    let mut changed = rows();
    changed[1] = changed[1].replacen("2.5", "2.6", 1);
    let recorded = file_order(&changed);
    let inv1 = recorded.iter().find(|i| i.id == "INV-1").unwrap();
    assert!(!same_content_in_another_order(inv1, &canonical[0]));
}
