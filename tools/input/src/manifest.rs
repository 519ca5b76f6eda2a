//! Azure Cost Management's `manifest.json`: the blobs of one export run, their byte and row
//! counts, the export's configuration and the run's information.
//!
//! The shape (Microsoft's "Tutorial: Improved exports", manifest version `2024-04-01`):
//!
//! ```json
//! { "manifestVersion": "2024-04-01", "byteCount": 160769, "blobCount": 2, "dataRowCount": 136,
//!   "exportConfig": { "exportName": "…", "resourceId": "…", "dataVersion": "1.0",
//!                     "apiVersion": "2023-07-01-preview", "type": "FocusCost",
//!                     "timeFrame": "MonthToDate", "granularity": "Daily" },
//!   "deliveryConfig": { "partitionData": true, "dataOverwriteBehavior": "OverwritePreviousReport",
//!                       "fileFormat": "Csv", "compressionMode": "Gzip", "containerUri": "…",
//!                       "rootFolderPath": "…" },
//!   "runInfo": { "executionType": "Scheduled", "submittedTime": "2025-03-21T21:04:06.52Z",
//!                "runId": "bbac73f1-…", "startDate": "2025-03-01T00:00:00",
//!                "endDate": "2025-03-21T00:00:00Z" },
//!   "blobs": [ { "blobName": "root/export/20250301-20250331/…/part_0_0001.csv.gz",
//!                "byteCount": 80412, "dataRowCount": 68 }, … ] }
//! ```
//!
//! Read locally, a blob is the file of its name (the last segment of `blobName`; the path
//! before it is the container's) in the manifest's folder. Checked here: the manifest's
//! `blobCount`, `byteCount` and `dataRowCount` against its blobs, every blob present, its
//! size against its `byteCount`. Each blob's `dataRowCount` is checked against the rows read
//! from it (`stage_run`). Unknown keys are ignored; every key is optional but `blobs`.

use std::path::{Path, PathBuf};

use ledger_core::Date;
use serde::Deserialize;

use super::error::InputError;

/// The file name Azure gives a run's manifest.
pub const MANIFEST_NAME: &str = "manifest.json";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    byte_count: Option<u64>,
    blob_count: Option<u64>,
    data_row_count: Option<u64>,
    export_config: Option<RawExportConfig>,
    run_info: Option<RawRunInfo>,
    blobs: Option<Vec<RawBlob>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawExportConfig {
    export_name: Option<String>,
    time_frame: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRunInfo {
    run_id: Option<String>,
    submitted_time: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlob {
    blob_name: String,
    byte_count: Option<u64>,
    data_row_count: Option<u64>,
}

/// A manifest, checked against the files beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    pub export_name: Option<String>,
    /// `runInfo.runId`.
    pub run_id: Option<String>,
    /// `runInfo.submittedTime`, as written (ISO 8601, so it sorts by time).
    pub submitted: Option<String>,
    /// `exportConfig.timeFrame`: `MonthToDate`, `TheLastMonth`, `Custom`, …
    pub time_frame: Option<String>,
    /// The date parts of `runInfo.startDate` and `runInfo.endDate`.
    pub start: Option<Date>,
    pub end: Option<Date>,
    /// The blobs, in the manifest's order.
    pub blobs: Vec<Blob>,
}

/// One blob of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// `blobName` as written.
    pub name: String,
    /// The local file: the blob name's last segment in the manifest's folder.
    pub file: PathBuf,
    pub byte_count: Option<u64>,
    pub data_row_count: Option<u64>,
}

impl Manifest {
    /// Whether the run's rows are pending charges: its time frame is month-to-date and it
    /// ends before the billing period (the calendar month it starts in) does. Unknown dates
    /// make nothing pending.
    pub fn pending(&self) -> bool {
        let month_to_date = self
            .time_frame
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("MonthToDate"));
        match (self.start, self.end) {
            (Some(start), Some(end)) => month_to_date && end < start.month_end(),
            _ => false,
        }
    }
}

/// Read and check the manifest at `path`.
pub fn read_manifest(path: &Path) -> Result<Manifest, InputError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| InputError::io(path, "cannot read", &e))?;
    let raw: RawManifest = serde_json::from_str(&text).map_err(|e| {
        InputError::new(path, format!("is not an export manifest: {e}")).at_line(e.line() as u64)
    })?;
    let Some(raw_blobs) = raw.blobs else {
        return Err(
            InputError::new(path, "is not an export manifest: it has no \"blobs\" list")
                .in_field("blobs"),
        );
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut blobs = Vec::with_capacity(raw_blobs.len());
    for blob in raw_blobs {
        blobs.push(local_blob(path, folder, blob)?);
    }
    check_counts(
        path,
        &raw.blob_count,
        &raw.byte_count,
        &raw.data_row_count,
        &blobs,
    )?;
    let (run_id, submitted, start, end) = match raw.run_info {
        Some(r) => (
            r.run_id,
            r.submitted_time,
            r.start_date.as_deref().and_then(date_part),
            r.end_date.as_deref().and_then(date_part),
        ),
        None => (None, None, None, None),
    };
    let (export_name, time_frame) = match raw.export_config {
        Some(c) => (c.export_name, c.time_frame),
        None => (None, None),
    };
    Ok(Manifest {
        path: path.to_path_buf(),
        export_name,
        run_id,
        submitted,
        time_frame,
        start,
        end,
        blobs,
    })
}

/// The blob's file beside the manifest, present and of the size the manifest says.
fn local_blob(manifest: &Path, folder: &Path, blob: RawBlob) -> Result<Blob, InputError> {
    let name = blob
        .blob_name
        .rsplit('/')
        .next()
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| {
            InputError::new(
                manifest,
                format!("blob '{}' has no file name", blob.blob_name),
            )
            .in_field("blobs")
        })?;
    let file = folder.join(name);
    let size = match std::fs::metadata(&file) {
        Ok(m) if m.is_file() => m.len(),
        _ => {
            return Err(InputError::new(
                manifest,
                format!(
                    "blob '{}' is missing: no file {name} in {}",
                    blob.blob_name,
                    folder.display()
                ),
            )
            .in_field("blobs"))
        }
    };
    if let Some(expected) = blob.byte_count {
        if size != expected {
            return Err(InputError::new(
                &file,
                format!(
                    "has {size} bytes but {} says {expected} (byteCount of blob '{}'): the part is cut short or is not the one the export wrote",
                    manifest.display(),
                    blob.blob_name
                ),
            ));
        }
    }
    Ok(Blob {
        name: blob.blob_name,
        file,
        byte_count: blob.byte_count,
        data_row_count: blob.data_row_count,
    })
}

/// The manifest's totals agree with its blobs.
fn check_counts(
    path: &Path,
    blob_count: &Option<u64>,
    byte_count: &Option<u64>,
    data_row_count: &Option<u64>,
    blobs: &[Blob],
) -> Result<(), InputError> {
    let disagree = |field: &str, said: u64, found: u64, what: &str| {
        Err(InputError::new(
            path,
            format!("says {said} but {what} {found}; the manifest's counts disagree"),
        )
        .in_field(field.to_string()))
    };
    if let Some(said) = *blob_count {
        if said != blobs.len() as u64 {
            return disagree("blobCount", said, blobs.len() as u64, "its blobs list has");
        }
    }
    let sum =
        |f: fn(&Blob) -> Option<u64>| -> Option<u64> { blobs.iter().map(f).sum::<Option<u64>>() };
    if let (Some(said), Some(found)) = (*byte_count, sum(|b| b.byte_count)) {
        if said != found {
            return disagree(
                "byteCount",
                said,
                found,
                "the byteCounts of its blobs add up to",
            );
        }
    }
    if let (Some(said), Some(found)) = (*data_row_count, sum(|b| b.data_row_count)) {
        if said != found {
            return disagree(
                "dataRowCount",
                said,
                found,
                "the dataRowCounts of its blobs add up to",
            );
        }
    }
    Ok(())
}

/// `2025-03-01T00:00:00Z` → 2025-03-01.
fn date_part(text: &str) -> Option<Date> {
    Date::parse(text.get(..10)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(time_frame: &str, start: &str, end: &str) -> Manifest {
        Manifest {
            path: PathBuf::from("manifest.json"),
            export_name: None,
            run_id: None,
            submitted: None,
            time_frame: Some(time_frame.into()),
            start: date_part(start),
            end: date_part(end),
            blobs: Vec::new(),
        }
    }

    #[test]
    fn a_month_to_date_run_ending_before_its_month_is_pending() {
        assert!(manifest("MonthToDate", "2025-03-01T00:00:00", "2025-03-21T00:00:00Z").pending());
        assert!(!manifest("MonthToDate", "2025-03-01T00:00:00", "2025-03-31T00:00:00Z").pending());
        assert!(!manifest("TheLastMonth", "2025-02-01T00:00:00", "2025-02-28T00:00:00").pending());
        assert!(!manifest("monthtodate", "2025-03-01", "garbage").pending());
        assert!(manifest("monthtodate", "2025-03-01", "2025-03-02").pending());
    }
}
