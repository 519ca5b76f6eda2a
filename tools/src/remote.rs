//! `ledger ingest az://...`: blobs copied to a local folder first (`ledger-fetch`), then
//! ingested as the local files they became. Every blob is downloaded before anything is read,
//! so a failed download appends nothing.

use std::path::{Path, PathBuf};

use ledger_app::Failure;
use ledger_fetch::{fetch, is_remote, Progress};
use tempfile::TempDir;

/// Bytes between two progress lines of one blob.
const PROGRESS_EVERY_BYTES: u64 = 64 << 20;

/// The local files to ingest for `args`: local paths as given, each remote URL replaced by
/// the files its blobs were copied to (in a temporary folder inside `data`, removed when the
/// returned folders are dropped).
pub fn local_inputs(
    data: &Path,
    args: &[PathBuf],
) -> Result<(Vec<PathBuf>, Vec<TempDir>), Failure> {
    let mut files = Vec::with_capacity(args.len());
    let mut folders = Vec::new();
    for arg in args {
        let Some(url) = arg.to_str().filter(|s| is_remote(s)) else {
            files.push(arg.clone());
            continue;
        };
        let folder = tempfile::Builder::new()
            .prefix("fetch-")
            .tempdir_in(data)
            .or_else(|_| tempfile::tempdir())
            .map_err(|e| {
                Failure::new(format!(
                    "{url}: cannot make a folder to copy the blobs to: {e}"
                ))
            })?;
        let mut last_line = 0u64;
        let fetched = fetch(url, folder.path(), &mut |p: &Progress| {
            if p.done || p.bytes >= last_line + PROGRESS_EVERY_BYTES {
                last_line = if p.done { 0 } else { p.bytes };
                eprintln!(
                    "fetching {} ({}/{}): {} of {} bytes{}",
                    p.blob,
                    p.index,
                    p.count,
                    p.bytes,
                    p.size,
                    if p.done { ", done" } else { "" }
                );
            }
        })
        .map_err(|e| Failure::new(format!("{e}; nothing was ingested")))?;
        files.extend(fetched);
        folders.push(folder);
    }
    Ok((files, folders))
}
