//! The FOCUS sample laid out as Azure delivers an export run (shared by export_runs.rs and
//! ingest_blob.rs): its rows shuffled, split into four `part_*` files (half gzip) with the
//! header, and the run's `manifest.json` (manifest version 2024-04-01).

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use tests::{fixtures_dir, Ledger};

/// The sample's header line and its data lines (each with its line break).
pub fn sample() -> (String, Vec<String>) {
    let path = fixtures_dir().join("data/focus-sample-data/focus_sample.csv");
    let text = std::fs::read_to_string(&path).expect("the FOCUS sample");
    let mut lines = text.split_inclusive('\n').map(|l| {
        let mut l = l.to_string();
        if !l.ends_with('\n') {
            l.push('\n');
        }
        l
    });
    let header = lines.next().expect("a header");
    (header, lines.collect())
}

/// The rows in a fixed pseudo-random order (xorshift; the same every run).
pub fn shuffled(mut rows: Vec<String>, seed: u64) -> Vec<String> {
    let mut x = seed;
    for i in (1..rows.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rows.swap(i, (x % (i as u64 + 1)) as usize);
    }
    rows
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// One part written: its path, its bytes on disk and its data rows.
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub rows: usize,
}

/// `rows` split into four parts under `folder` (`part_0_000N.csv`, the 2nd and 4th gzip;
/// `gz_suffix` decides whether their names say so), each with the header.
pub fn write_parts(
    ledger: &Ledger,
    folder: &str,
    header: &str,
    rows: &[String],
    gz_suffix: bool,
) -> Vec<Written> {
    let per_part = rows.len().div_ceil(4);
    rows.chunks(per_part)
        .enumerate()
        .map(|(i, chunk)| {
            let text = format!("{header}{}", chunk.concat());
            let compressed = i % 2 == 1;
            let name = match (compressed, gz_suffix) {
                (true, true) => format!("{folder}/part_0_000{}.csv.gz", i + 1),
                _ => format!("{folder}/part_0_000{}.csv", i + 1),
            };
            let bytes = if compressed {
                gzip(text.as_bytes())
            } else {
                text.into_bytes()
            };
            let path = ledger.write(&name, &bytes);
            Written {
                path,
                bytes: bytes.len() as u64,
                rows: chunk.len(),
            }
        })
        .collect()
}

/// A `manifest.json` for `parts` in the shape Azure writes (manifest version 2024-04-01).
pub fn manifest(
    run_id: &str,
    submitted: &str,
    time_frame: &str,
    end: &str,
    parts: &[Written],
) -> Value {
    let blobs: Vec<Value> = parts
        .iter()
        .map(|p| {
            let name = p.path.file_name().unwrap().to_str().unwrap();
            json!({
                "blobName": format!("costs/focus-daily/20240901-20240930/202410010000/{run_id}/{name}"),
                "byteCount": p.bytes,
                "dataRowCount": p.rows,
            })
        })
        .collect();
    json!({
        "manifestVersion": "2024-04-01",
        "byteCount": parts.iter().map(|p| p.bytes).sum::<u64>(),
        "blobCount": parts.len(),
        "dataRowCount": parts.iter().map(|p| p.rows).sum::<usize>(),
        "exportConfig": {
            "exportName": "focus-daily",
            "resourceId": "/providers/Microsoft.Billing/billingAccounts/8611537/providers/Microsoft.CostManagement/exports/focus-daily",
            "dataVersion": "1.0",
            "apiVersion": "2023-07-01-preview",
            "type": "FocusCost",
            "timeFrame": time_frame,
            "granularity": "Daily"
        },
        "deliveryConfig": {
            "partitionData": true,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": "Csv",
            "compressionMode": "Gzip",
            "containerUri": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/costs",
            "rootFolderPath": "focus-daily"
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted,
            "runId": run_id,
            "startDate": "2024-09-01T00:00:00",
            "endDate": end
        },
        "blobs": blobs
    })
}

pub fn write_manifest(ledger: &Ledger, folder: &str, manifest: &Value) -> PathBuf {
    ledger.write(
        &format!("{folder}/manifest.json"),
        serde_json::to_string_pretty(manifest).unwrap(),
    )
}
