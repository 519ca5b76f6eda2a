//! `ledger ingest az://...`: blobs copied to a local folder first (`ledger-fetch`), then
//! ingested as the same folder on disk would be (`ledger_input::layout`): a prefix becomes the
//! folder of its blobs (a run folder, a folder of parts, an export root), a named blob its copy
//! (a manifest with its parts beside it). Every blob is downloaded before anything is read, so
//! a failed download appends nothing. What the ingest says names the blobs, not the copies.

use std::path::{Path, PathBuf};

use ledger_app::Failure;
use ledger_fetch::{fetch, is_remote, Fetched, Progress};
use tempfile::TempDir;

/// Bytes between two progress lines of one blob.
const PROGRESS_EVERY_BYTES: u64 = 64 << 20;

/// The local copies of remote inputs, kept until dropped (their folders are then removed).
#[derive(Default)]
pub struct Copies {
    fetched: Vec<(Fetched, TempDir)>,
}

impl Copies {
    /// The blob's URL for a local copy (or a folder of copies); other paths as they are.
    pub fn name(&self, local: &Path) -> PathBuf {
        self.fetched
            .iter()
            .find_map(|(f, _)| f.remote_name(local))
            .map(PathBuf::from)
            .unwrap_or_else(|| local.to_path_buf())
    }

    /// `message` with every copy's folder replaced by the URL it stands for.
    pub fn rename_in(&self, message: String) -> String {
        self.fetched.iter().fold(message, |text, (f, _)| {
            text.replace(&f.into.display().to_string(), &f.remote)
        })
    }
}

/// The local inputs to ingest for `args`: local paths as given, each remote URL replaced by
/// its copy (a folder for a prefix, a file for a named blob) in a temporary folder inside
/// `data`, removed when the returned [`Copies`] are dropped.
pub fn local_inputs(data: &Path, args: &[PathBuf]) -> Result<(Vec<PathBuf>, Copies), Failure> {
    let mut inputs = Vec::with_capacity(args.len());
    let mut copies = Copies::default();
    for arg in args {
        let Some(url) = arg.to_str().filter(|s| is_remote(s)) else {
            inputs.push(arg.clone());
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
        let fetched = fetch(url, folder.path(), &mut progress_lines())
            .map_err(|e| Failure::new(format!("{e}; nothing was ingested")))?;
        inputs.push(fetched.local.clone());
        copies.fetched.push((fetched, folder));
    }
    Ok((inputs, copies))
}

/// A progress line on stderr when a blob starts, every 64 MiB, and when it is done.
fn progress_lines() -> impl FnMut(&Progress) {
    let mut last_line = 0u64;
    move |p: &Progress| {
        if p.done || p.bytes == 0 || p.bytes >= last_line + PROGRESS_EVERY_BYTES {
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
    }
}
