//! Charge-file formats: telling them apart by the header, and staging a file of any of them.

use std::path::Path;

use super::assemble::{stage_native, Accounts, StagedInvoices};
use super::error::InputError;
use super::export::{key_of, open_records, stage_export, ExportFormat, ReadStats};
use super::parquet::{self, is_parquet};

/// The formats `ledger ingest` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// The ledger's own CSV (INTERFACE.md).
    Native,
    /// FOCUS 1.0 to 1.2.
    Focus,
    /// Azure cost details (EA, MCA), actual cost.
    Azure,
}

impl InputFormat {
    /// The `--format` spelling.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Native => "native",
            InputFormat::Focus => "focus",
            InputFormat::Azure => "azure",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            InputFormat::Native => "native CSV",
            InputFormat::Focus => "FOCUS",
            InputFormat::Azure => "Azure cost details",
        }
    }
}

/// The format a header belongs to, if any: native (`invoice_id`, `kind`, `amount`), FOCUS
/// (`BilledCost`, `ChargeCategory`), Azure cost details (a cost column such as `Cost`,
/// `CostInBillingCurrency` or `PreTaxCost`, a date column such as `Date` or `UsageDateTime`,
/// and a currency column). Names match ignoring case, spaces and a localized `Name (English)` form.
pub fn sniff(names: &[String]) -> Option<InputFormat> {
    let keys: Vec<String> = names.iter().map(|n| key_of(n)).collect();
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("invoice_id") && has("kind") && has("amount") {
        Some(InputFormat::Native)
    } else if has("billedcost") && has("chargecategory") {
        Some(InputFormat::Focus)
    } else if ["costinbillingcurrency", "cost", "pretaxcost"]
        .iter()
        .any(|k| has(k))
        && ["date", "usagedatetime", "usagedate"]
            .iter()
            .any(|k| has(k))
        && ["billingcurrency", "billingcurrencycode", "currency"]
            .iter()
            .any(|k| has(k))
    {
        Some(InputFormat::Azure)
    } else {
        None
    }
}

/// Read the header of `path` (a Parquet file's schema) and tell its format.
pub fn detect_format(path: &Path) -> Result<InputFormat, InputError> {
    if is_parquet(path)? {
        let names = parquet::column_names(path)?;
        return match sniff(&names) {
            Some(InputFormat::Focus) => Ok(InputFormat::Focus),
            Some(InputFormat::Azure) => Ok(InputFormat::Azure),
            _ => Err(InputError::new(
                path,
                "is a Parquet file whose columns are not a FOCUS export (BilledCost, ChargeCategory, ...) \
                 or an Azure cost-details export (Cost or CostInBillingCurrency, Date, ...); \
                 use --format to say which export it is",
            )),
        };
    }
    let (_, _, line, names) = open_records(path)?;
    let format = sniff(&names).ok_or_else(|| {
        InputError::new(
            path,
            "the header is not one the ledger reads: expected the native columns (invoice_id, invoice_date, billing_profile, charge_date, kind, amount, currency), \
             a FOCUS export (BilledCost, ChargeCategory, ...) or an Azure cost-details export (Cost or CostInBillingCurrency, Date, ...); \
             use --format to say which format the file is in",
        )
        .at_line(line)
    })?;
    tracing::debug!(file = %path.display(), format = format.name(), "format detected from the header");
    Ok(format)
}

/// Read, validate and group a whole file of `format` into invoices, with what reading found.
/// A Parquet file (told by its content) is read by [`parquet::stage_parquet`].
pub fn stage_file(
    path: &Path,
    format: InputFormat,
    accounts: &Accounts,
    spill_dir: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<(StagedInvoices, ReadStats), InputError> {
    if is_parquet(path)? {
        let format = match format {
            InputFormat::Focus => ExportFormat::Focus,
            InputFormat::Azure => ExportFormat::Azure,
            InputFormat::Native => {
                return Err(InputError::new(
                    path,
                    "is a Parquet file; the ledger reads FOCUS and Azure cost-details exports in Parquet, its native format only as CSV",
                ))
            }
        };
        return parquet::stage_parquet(path, format, accounts, spill_dir, progress);
    }
    match format {
        InputFormat::Native => {
            let staged = stage_native(path, accounts, spill_dir, progress)?;
            let rows = staged.summary().rows;
            let stats = ReadStats {
                rows,
                lines: rows,
                ..ReadStats::default()
            };
            Ok((staged, stats))
        }
        InputFormat::Focus => {
            stage_export(path, ExportFormat::Focus, accounts, spill_dir, progress)
        }
        InputFormat::Azure => {
            stage_export(path, ExportFormat::Azure, accounts, spill_dir, progress)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(header: &str) -> Vec<String> {
        header
            .split(',')
            .map(|s| s.trim_matches('"').to_string())
            .collect()
    }

    #[test]
    fn headers_tell_the_format() {
        assert_eq!(
            sniff(&names(
                "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency"
            )),
            Some(InputFormat::Native)
        );
        assert_eq!(
            sniff(&names(
                "\"AvailabilityZone\",\"BilledCost\",\"ChargeCategory\""
            )),
            Some(InputFormat::Focus)
        );
        assert_eq!(
            sniff(&names("\u{feff}BilledCost,BillingAccountId,chargecategory")),
            Some(InputFormat::Focus)
        );
        assert_eq!(
            sniff(&names("BillingAccountId,Date,Cost,BillingCurrency")),
            Some(InputFormat::Azure)
        );
        assert_eq!(
            sniff(&names(
                "billingAccountName,date,costInBillingCurrency,billingCurrency"
            )),
            Some(InputFormat::Azure)
        );
        assert_eq!(
            sniff(&names(
                "UsageDateTime (UsageDateTime),PreTaxCost (PreTaxCost),Currency"
            )),
            Some(InputFormat::Azure)
        );
        assert_eq!(sniff(&names("date,cost")), None);
        assert_eq!(sniff(&names("a,b,c")), None);
    }
}
