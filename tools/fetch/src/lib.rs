//! # ledger-fetch: exports straight from Azure Blob Storage
//!
//! `ledger ingest az://container/path` (or `https://ACCOUNT.blob.core.windows.net/container/path`)
//! copies the blob, or every blob under the path, to a local folder, then the binary ingests
//! the local copies through the normal path: a folder of parts or a manifest in the container
//! reads the same as locally, and since every blob is downloaded before anything is read,
//! a failed download appends nothing.
//!
//! - Blobs are streamed chunk by chunk to their file (memory bounded by one chunk, whatever
//!   the blob's size); the caller is told each blob's progress ([`Progress`]).
//! - The local layout keeps each blob's path below the URL's path (`exports/run1/part_0.csv`
//!   under `az://c/exports` becomes `run1/part_0.csv` in the folder), and [`Fetched::local`]
//!   is what the binary ingests: the folder itself for a prefix (so a run folder, a folder of
//!   parts or an export root read exactly as the same folder on disk), the blob's copy for a
//!   URL naming one blob. A URL naming a manifest (`*.json`) also fetches the blobs beside it
//!   (its run's parts), so the manifest is read with its parts as it would be locally.
//! - Credentials are Azure's usual environment variables, read by `object_store`'s
//!   `MicrosoftAzureBuilder::from_env`: `AZURE_STORAGE_ACCOUNT_NAME` with
//!   `AZURE_STORAGE_ACCOUNT_KEY` (account key), `AZURE_STORAGE_SAS_TOKEN` (SAS token),
//!   `AZURE_STORAGE_CLIENT_ID`/`AZURE_STORAGE_CLIENT_SECRET`/`AZURE_STORAGE_TENANT_ID`
//!   (service principal), `AZURE_FEDERATED_TOKEN_FILE` (workload identity), otherwise a
//!   managed identity (`IDENTITY_ENDPOINT`/`MSI_ENDPOINT` on Azure hosts).
//!   `AZURE_STORAGE_USE_EMULATOR=true` points at Azurite (`AZURITE_BLOB_STORAGE_URL`, default
//!   `http://127.0.0.1:10000`, account `devstoreaccount1` and its well-known key);
//!   `AZURE_STORAGE_ENDPOINT` at any other endpoint.
//!
//! Invariants: tokio and `object_store` stay inside this crate (a current-thread runtime per
//! call); nothing here reads or appends to the ledger; the library never prints.

#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt as _;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path as BlobPath;
use object_store::{ObjectStore, ObjectStoreExt as _};

/// Why a fetch failed: the URL or blob, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct FetchError {
    /// The URL or the blob (`az://container/path/blob`).
    pub what: String,
    pub message: String,
}

impl FetchError {
    fn new(what: impl Into<String>, message: impl ToString) -> FetchError {
        FetchError {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// One blob's download, as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The blob, as a URL (`az://container/path`).
    pub blob: String,
    /// Its 1-based position among the blobs fetched, and their count.
    pub index: usize,
    pub count: usize,
    pub bytes: u64,
    pub size: u64,
    pub done: bool,
}

/// Whether `arg` names blobs rather than a local file: `az://`, `azure://`, `abfs[s]://`,
/// `adl://`, or `https://ACCOUNT.blob.core.windows.net/...` (and `.dfs.`).
pub fn is_remote(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    ["az://", "azure://", "abfs://", "abfss://", "adl://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        || (lower.starts_with("https://")
            && lower
                .split('/')
                .nth(2)
                .is_some_and(|host| host.ends_with(".core.windows.net")))
}

/// The container URL (what `object_store` parses) and the path inside the container.
fn split_url(url: &str) -> Result<(String, String), FetchError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| FetchError::new(url, "is not a URL"))?;
    let mut parts = rest.splitn(2, '/');
    let host = parts.next().unwrap_or_default();
    let after = parts.next().unwrap_or_default();
    if scheme.eq_ignore_ascii_case("https") {
        // https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH
        let (container, path) = after.split_once('/').unwrap_or((after, ""));
        if container.is_empty() {
            return Err(FetchError::new(url, "names no container (expected https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH)"));
        }
        Ok((format!("https://{host}/{container}"), path.to_string()))
    } else {
        if host.is_empty() {
            return Err(FetchError::new(
                url,
                format!("names no container (expected {scheme}://CONTAINER/PATH)"),
            ));
        }
        Ok((format!("{scheme}://{host}"), after.to_string()))
    }
}

/// What a fetch copied, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// What to read: the folder the blobs were copied to when the URL is a prefix, else the
    /// copy of the blob it names (a manifest's copy, with its parts beside it).
    pub local: PathBuf,
    /// The URL of the folder the copies are in (the prefix, or the named blob's folder):
    /// a local path `into/R` is the blob `{remote}/R` ([`Fetched::remote_name`]).
    pub remote: String,
    /// The folder the blobs were copied to.
    pub into: PathBuf,
    /// Every local copy, in the blobs' name order.
    pub files: Vec<PathBuf>,
}

impl Fetched {
    /// The blob a local copy (or the folder) stands for, as a URL; `None` for a path outside
    /// the folder.
    pub fn remote_name(&self, local: &Path) -> Option<String> {
        let below = local.strip_prefix(&self.into).ok()?;
        let mut name = self.remote.trim_end_matches('/').to_string();
        for segment in below.iter() {
            name.push('/');
            name.push_str(&segment.to_string_lossy());
        }
        Some(name)
    }
}

/// Copy the blob `url` names, or every blob under it, into `into` (a folder that exists);
/// a URL naming a manifest (`*.json`) brings the blobs beside it too. `progress` is told
/// about each chunk.
pub fn fetch(
    url: &str,
    into: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Fetched, FetchError> {
    let (container, prefix) = split_url(url)?;
    let store = MicrosoftAzureBuilder::from_env()
        .with_url(container.clone())
        .build()
        .map_err(|e| FetchError::new(url, format!("cannot open the container: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::new(url, format!("cannot start the I/O runtime: {e}")))?;
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    runtime.block_on(fetch_all(store, url, &container, &prefix, into, progress))
}

async fn fetch_all(
    store: Arc<dyn ObjectStore>,
    url: &str,
    container: &str,
    prefix: &str,
    into: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Fetched, FetchError> {
    let (named, blobs) = blobs_under(&store, url, prefix).await?;
    // A named manifest's copy lands beside its parts: the folder is the manifest's.
    let folder = match &named {
        Some(blob) if is_manifest(blob) => parent_of(blob),
        _ => prefix.trim_matches('/').to_string(),
    };
    let mut files = Vec::with_capacity(blobs.len());
    let count = blobs.len();
    for (i, (blob, size)) in blobs.into_iter().enumerate() {
        let name = format!("{container}/{blob}");
        let relative = relative_path(&blob, &folder);
        let local = into.join(&relative);
        let mut p = Progress {
            blob: name.clone(),
            index: i + 1,
            count,
            bytes: 0,
            size,
            done: false,
        };
        download(&store, &blob, &local, &mut p, progress)
            .await
            .map_err(|message| FetchError::new(&name, message))?;
        files.push(local);
    }
    let (local, remote) = match &named {
        Some(blob) => (
            into.join(relative_path(blob, &folder)),
            format!("{container}/{}", parent_of(blob)),
        ),
        None => (into.to_path_buf(), format!("{container}/{folder}")),
    };
    Ok(Fetched {
        local,
        remote: remote.trim_end_matches('/').to_string(),
        into: into.to_path_buf(),
        files,
    })
}

/// Whether a blob is an export manifest (read with the blobs beside it).
fn is_manifest(blob: &BlobPath) -> bool {
    blob.as_ref().to_ascii_lowercase().ends_with(".json")
}

/// The folder of a blob (`a/b` for `a/b/c.csv`; empty at the container's top).
fn parent_of(blob: &BlobPath) -> String {
    blob.as_ref()
        .rsplit_once('/')
        .map(|(folder, _)| folder.to_string())
        .unwrap_or_default()
}

/// The blob `prefix` names, when it is one, and the blobs to fetch sorted by name with their
/// sizes: the named blob (with the blobs beside it when it is a manifest), else every blob
/// below the prefix.
async fn blobs_under(
    store: &Arc<dyn ObjectStore>,
    url: &str,
    prefix: &str,
) -> Result<(Option<BlobPath>, Vec<(BlobPath, u64)>), FetchError> {
    let trimmed = prefix.trim_matches('/');
    if !trimmed.is_empty() && !prefix.ends_with('/') {
        let path = BlobPath::from(trimmed);
        match store.head(&path).await {
            Ok(meta) if is_manifest(&meta.location) => {
                let beside = blobs_beside(store, url, &meta.location).await?;
                return Ok((Some(meta.location), beside));
            }
            Ok(meta) => {
                return Ok((
                    Some(meta.location.clone()),
                    vec![(meta.location, meta.size)],
                ))
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(FetchError::new(url, format!("cannot read: {e}"))),
        }
    }
    let under = (!trimmed.is_empty()).then(|| BlobPath::from(trimmed));
    let mut listing = store.list(under.as_ref());
    let mut blobs = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| FetchError::new(url, format!("cannot list the blobs: {e}")))?;
        blobs.push((meta.location, meta.size));
    }
    if blobs.is_empty() {
        return Err(FetchError::new(
            url,
            "no blob has this name or lies below it",
        ));
    }
    blobs.sort();
    Ok((None, blobs))
}

/// The blobs in the same folder as `manifest` (not below it), the manifest included, sorted.
async fn blobs_beside(
    store: &Arc<dyn ObjectStore>,
    url: &str,
    manifest: &BlobPath,
) -> Result<Vec<(BlobPath, u64)>, FetchError> {
    let folder = parent_of(manifest);
    let under = (!folder.is_empty()).then(|| BlobPath::from(folder.as_str()));
    let listed = store
        .list_with_delimiter(under.as_ref())
        .await
        .map_err(|e| FetchError::new(url, format!("cannot list the blobs beside it: {e}")))?;
    let mut blobs: Vec<(BlobPath, u64)> = listed
        .objects
        .into_iter()
        .map(|meta| (meta.location, meta.size))
        .collect();
    blobs.sort();
    Ok(blobs)
}

/// Where a blob goes below the local folder: its path below `prefix` (its file name when the
/// URL names the blob itself).
fn relative_path(blob: &BlobPath, prefix: &str) -> PathBuf {
    let trimmed = prefix.trim_matches('/');
    let full = blob.as_ref();
    let below = if trimmed.is_empty() {
        full
    } else {
        full.strip_prefix(trimmed)
            .and_then(|r| r.strip_prefix('/'))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| full.rsplit('/').next().unwrap_or(full))
    };
    // Only plain segments: never `..` or an absolute path out of the folder.
    below
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect()
}

/// Stream one blob to `local`, chunk by chunk.
async fn download(
    store: &Arc<dyn ObjectStore>,
    blob: &BlobPath,
    local: &Path,
    p: &mut Progress,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(), String> {
    if let Some(parent) = local.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let file =
        File::create(local).map_err(|e| format!("cannot create {}: {e}", local.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut stream = store
        .get(blob)
        .await
        .map_err(|e| format!("cannot download: {e}"))?
        .into_stream();
    progress(p);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("cannot download: {e}"))?;
        out.write_all(&chunk)
            .map_err(|e| format!("cannot write {}: {e}", local.display()))?;
        p.bytes += chunk.len() as u64;
        progress(p);
    }
    out.flush()
        .map_err(|e| format!("cannot write {}: {e}", local.display()))?;
    if p.bytes != p.size {
        return Err(format!(
            "downloaded {} bytes of {}; the blob changed or the connection was cut",
            p.bytes, p.size
        ));
    }
    p.done = true;
    progress(p);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_and_their_containers() {
        assert!(is_remote("az://exports/focus/run1"));
        assert!(is_remote(
            "https://acct.blob.core.windows.net/exports/a.parquet"
        ));
        assert!(!is_remote("https://example.com/a.csv"));
        assert!(!is_remote("exports/a.csv"));
        assert_eq!(
            split_url("az://exports/focus/run1").unwrap(),
            ("az://exports".to_string(), "focus/run1".to_string())
        );
        assert_eq!(
            split_url("https://acct.blob.core.windows.net/exports/focus/a.csv").unwrap(),
            (
                "https://acct.blob.core.windows.net/exports".to_string(),
                "focus/a.csv".to_string()
            )
        );
        assert!(split_url("az:///x").is_err());
    }

    #[test]
    fn local_copies_name_their_blobs() {
        let fetched = Fetched {
            local: PathBuf::from("/tmp/f/manifest.json"),
            remote: "az://exports/focus/run1".into(),
            into: PathBuf::from("/tmp/f"),
            files: Vec::new(),
        };
        assert_eq!(
            fetched.remote_name(Path::new("/tmp/f/part_0_0001.csv")),
            Some("az://exports/focus/run1/part_0_0001.csv".into())
        );
        assert_eq!(
            fetched.remote_name(Path::new("/tmp/f")),
            Some("az://exports/focus/run1".into())
        );
        assert_eq!(fetched.remote_name(Path::new("/elsewhere/a.csv")), None);
        assert!(is_manifest(&BlobPath::from("focus/run1/manifest.json")));
        assert_eq!(
            parent_of(&BlobPath::from("focus/run1/manifest.json")),
            "focus/run1"
        );
        assert_eq!(parent_of(&BlobPath::from("manifest.json")), "");
    }

    #[test]
    fn local_paths_stay_below_the_folder() {
        let blob = BlobPath::from("focus/run1/part_0.csv");
        assert_eq!(
            relative_path(&blob, "focus"),
            PathBuf::from("run1/part_0.csv")
        );
        assert_eq!(
            relative_path(&blob, "focus/run1/part_0.csv"),
            PathBuf::from("part_0.csv")
        );
        assert_eq!(
            relative_path(&blob, ""),
            PathBuf::from("focus/run1/part_0.csv")
        );
    }
}
