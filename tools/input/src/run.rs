//! Reading one run ([`Run`]): every part into one [`Assembler`], so an invoice may span parts
//! and the whole run is validated before anything is decided.

use std::path::Path;

use super::assemble::{Accounts, Assembler, StagedInvoices};
use super::encoding::Encoding;
use super::error::InputError;
use super::export::{read_export_part, ExportFormat, ReadStats};
use super::format::{stage_file, InputFormat};
use super::layout::{Part, Run};
use super::parquet::read_parquet_part;

/// Read, validate and group a whole run into invoices, with what reading found (counts summed
/// over its parts). `progress(bytes_read, rows)` counts the bytes of all parts read so far.
/// Each part's rows are checked against the manifest's `dataRowCount` for it.
pub fn stage_run(
    run: &Run,
    accounts: &Accounts,
    spill_dir: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<(StagedInvoices, ReadStats), InputError> {
    let export = match run.format {
        InputFormat::Native => return stage_native_run(run, accounts, spill_dir, progress),
        InputFormat::Focus => ExportFormat::Focus,
        InputFormat::Azure => ExportFormat::Azure,
    };
    let first = run
        .parts
        .first()
        .ok_or_else(|| InputError::new(&run.source, "has no parts"))?;
    let mut assembler = Assembler::new(&first.path, accounts, spill_dir)?;
    assembler.set_canonical();
    let mut total = ReadStats::default();
    let (mut bytes_before, mut rows_before) = (0u64, 0u64);
    for (i, part) in run.parts.iter().enumerate() {
        if i > 0 {
            assembler.next_part(&part.path)?;
        }
        let stats = match part.encoding {
            Encoding::Csv | Encoding::GzipCsv => read_export_part(
                &part.path,
                export,
                accounts,
                &mut assembler,
                |bytes, rows| progress(bytes_before + bytes, rows_before + rows),
            )?,
            Encoding::Parquet => read_parquet_part(
                &part.path,
                export,
                accounts,
                &mut assembler,
                |bytes, rows| progress(bytes_before + bytes, rows_before + rows),
            )?,
        };
        check_rows(part, &stats)?;
        bytes_before += std::fs::metadata(&part.path).map(|m| m.len()).unwrap_or(0);
        rows_before += stats.rows;
        total.absorb(&stats);
    }
    Ok((assembler.finish()?, total))
}

/// A native run is one file (the layout never groups native files).
fn stage_native_run(
    run: &Run,
    accounts: &Accounts,
    spill_dir: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<(StagedInvoices, ReadStats), InputError> {
    match run.parts.as_slice() {
        [part] => stage_file(
            &part.path,
            InputFormat::Native,
            accounts,
            spill_dir,
            progress,
        ),
        _ => Err(InputError::new(
            &run.source,
            "native CSV files are read one at a time; list them one by one",
        )),
    }
}

/// The rows read from a part agree with the manifest's `dataRowCount` for it.
fn check_rows(part: &Part, stats: &ReadStats) -> Result<(), InputError> {
    match part.expected_rows {
        Some(expected) if expected != stats.rows => Err(InputError::new(
            &part.path,
            format!(
                "has {} data rows but the manifest says {expected} (dataRowCount): the part is cut short or is not the one the export wrote",
                stats.rows
            ),
        )),
        _ => Ok(()),
    }
}
