//! What an input is: a charge file, the parts of one export run (listed, a run folder, or a
//! `manifest.json`), or an export root folder holding many runs; and the parts of each run as
//! an ordered list of local files with their encoding, told by content ([`Encoding`]).
//!
//! - A **file** is one part; its encoding comes from its magic bytes (gzip `1f 8b`, Parquet
//!   `PAR1`, else CSV), whatever its name. Export files (FOCUS, Azure cost details) named as
//!   Azure names parts (`part_*`) and listed together from one folder are the parts of one run;
//!   any other file is its own input (two deliveries of one month in one folder stay two inputs:
//!   a repeat is skipped, a difference refused, never added up).
//! - A **manifest** (`manifest.json`, or any `.json` file given by name) lists the run's blobs;
//!   each is the file of the blob's name in the manifest's folder ([`crate::manifest`]).
//! - A **folder** holding a `manifest.json` is the run that manifest describes; in a folder
//!   without one, its `part_*` files (`*.csv`, `*.gz`, `*.parquet`) are one run, in name order,
//!   and its other data files one input each; folders below are searched too (not through symbolic links), so an export root
//!   gives every run in it, oldest first (by the manifest's `submittedTime`, then path).
//!
//! Reading a run is [`crate::run::stage_run`]; a Parquet part is read by [`crate::parquet::read_parquet_part`].

use std::fs;
use std::path::{Path, PathBuf};

use super::encoding::{detect_encoding, Encoding};
use super::error::InputError;
use super::format::{detect_format, InputFormat};
use super::manifest::{read_manifest, Manifest, MANIFEST_NAME};

/// Folders searched below a root, at most (symbolic links are not followed).
pub const MAX_DEPTH: usize = 16;

/// One file of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub path: PathBuf,
    pub encoding: Encoding,
    /// The data rows the manifest says the part holds.
    pub expected_rows: Option<u64>,
}

/// How a run was named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// One file, or export files listed from one folder.
    Files,
    /// A folder of part files without a manifest.
    Folder,
    /// A `manifest.json` (given, or found in a folder).
    Manifest,
}

/// One input: read, validated and decided as one unit (an invoice may span its parts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// What names it: the file, the folder, or the manifest.
    pub source: PathBuf,
    pub origin: Origin,
    /// `runInfo.runId` for a manifest run; else none.
    pub id: Option<String>,
    /// `runInfo.submittedTime` for a manifest run (orders runs, oldest first).
    pub submitted: Option<String>,
    pub format: InputFormat,
    /// The parts in reading order.
    pub parts: Vec<Part>,
    /// The run's rows are pending charges (a month-to-date run ending before its billing
    /// period does, [`Manifest::pending`]). Carried to the ingest use case, which decides
    /// what pending rows do.
    pub pending: bool,
}

impl Run {
    /// The run's name for people: its id, else its source.
    pub fn name(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => self.source.display().to_string(),
        }
    }
}

/// The runs the command-line inputs name, in order: each file, folder or manifest in the order
/// given; the runs under a folder oldest first. Every part is found and its encoding and format
/// told before anything is read; `format` (from `--format`) overrides the header.
pub fn plan_inputs(
    inputs: &[PathBuf],
    format: Option<InputFormat>,
) -> Result<Vec<Run>, InputError> {
    let mut runs: Vec<Run> = Vec::new();
    for input in inputs {
        let meta = fs::metadata(input).map_err(|e| InputError::io(input, "cannot read", &e))?;
        if meta.is_dir() {
            let found = runs_under(input, format)?;
            if found.is_empty() {
                return Err(InputError::new(
                    input,
                    "is a folder without an export run: no manifest.json and no part files (*.csv, *.csv.gz, *.gz, *.parquet)",
                ));
            }
            runs.extend(found);
        } else if is_manifest(input) {
            runs.push(manifest_run(input, format)?);
        } else {
            add_listed_file(&mut runs, input, format)?;
        }
    }
    Ok(runs)
}

/// One file as its own input, whatever its name (a server upload): never a manifest or a part
/// of a run with other files.
pub fn file_run(file: &Path, format: Option<InputFormat>) -> Result<Run, InputError> {
    let part = part_of(file, None)?;
    Ok(Run {
        source: file.to_path_buf(),
        origin: Origin::Files,
        id: None,
        submitted: None,
        format: part_format(&part, format)?,
        parts: vec![part],
        pending: false,
    })
}

/// A listed file: its own run, or (an export file) one more part of the run listed from the
/// same folder.
fn add_listed_file(
    runs: &mut Vec<Run>,
    file: &Path,
    format: Option<InputFormat>,
) -> Result<(), InputError> {
    let part = part_of(file, None)?;
    let part_format = part_format(&part, format)?;
    let folder = file.parent();
    if part_format != InputFormat::Native && is_azure_part(file) {
        if let Some(run) = runs.iter_mut().find(|r| {
            r.origin == Origin::Files
                && r.format == part_format
                && r.source.parent() == folder
                && is_azure_part(&r.source)
        }) {
            if !run.parts.iter().any(|p| p.path == part.path) {
                run.parts.push(part);
            }
            return Ok(());
        }
    }
    runs.push(Run {
        source: file.to_path_buf(),
        origin: Origin::Files,
        id: None,
        submitted: None,
        format: part_format,
        parts: vec![part],
        pending: false,
    });
    Ok(())
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A part with its encoding told by its magic bytes.
fn part_of(path: &Path, expected_rows: Option<u64>) -> Result<Part, InputError> {
    Ok(Part {
        path: path.to_path_buf(),
        encoding: detect_encoding(path)?,
        expected_rows,
    })
}

/// The format of a part: `given`, else told by its header.
fn part_format(part: &Part, given: Option<InputFormat>) -> Result<InputFormat, InputError> {
    match part.encoding {
        Encoding::Csv | Encoding::GzipCsv => match given {
            Some(format) => Ok(format),
            None => detect_format(&part.path),
        },
        // A Parquet part's schema is its header: `detect_format` reads it.
        Encoding::Parquet => match given {
            Some(format) => Ok(format),
            None => detect_format(&part.path),
        },
    }
}

/// The format every part of a run shares (a run mixing formats is refused naming the part).
fn run_format(parts: &[Part], given: Option<InputFormat>) -> Result<InputFormat, InputError> {
    let mut format = None;
    for part in parts {
        let this = part_format(part, given)?;
        match format {
            None => format = Some(this),
            Some(f) if f == this => {}
            Some(f) => {
                return Err(InputError::new(
                    &part.path,
                    format!(
                    "is {} but the parts before it in the same run are {}; one run has one format",
                    this.label(),
                    f.label()
                ),
                ))
            }
        }
    }
    format.ok_or_else(|| {
        InputError::new(
            parts
                .first()
                .map(|p| p.path.as_path())
                .unwrap_or(Path::new(".")),
            "has no parts",
        )
    })
}

/// The run a manifest describes.
fn manifest_run(path: &Path, given: Option<InputFormat>) -> Result<Run, InputError> {
    let manifest: Manifest = read_manifest(path)?;
    let mut parts = Vec::with_capacity(manifest.blobs.len());
    for blob in &manifest.blobs {
        parts.push(part_of(&blob.file, blob.data_row_count)?);
    }
    if parts.is_empty() {
        return Err(InputError::new(path, "lists no blobs; nothing to read").in_field("blobs"));
    }
    let format = run_format(&parts, given)?;
    Ok(Run {
        source: path.to_path_buf(),
        origin: Origin::Manifest,
        id: manifest.run_id.clone(),
        submitted: manifest.submitted.clone(),
        format,
        parts,
        pending: manifest.pending(),
    })
}

/// Every run in `root` and the folders below it, oldest first.
pub fn runs_under(root: &Path, given: Option<InputFormat>) -> Result<Vec<Run>, InputError> {
    let mut runs = Vec::new();
    walk(root, 0, given, &mut runs)?;
    runs.sort_by(|a, b| {
        (a.submitted.as_deref().unwrap_or(""), &a.source)
            .cmp(&(b.submitted.as_deref().unwrap_or(""), &b.source))
    });
    Ok(runs)
}

fn walk(
    dir: &Path,
    depth: usize,
    given: Option<InputFormat>,
    runs: &mut Vec<Run>,
) -> Result<(), InputError> {
    let mut entries: Vec<(PathBuf, fs::FileType)> = Vec::new();
    let listing = fs::read_dir(dir).map_err(|e| InputError::io(dir, "cannot list", &e))?;
    for entry in listing {
        let entry = entry.map_err(|e| InputError::io(dir, "cannot list", &e))?;
        let kind = entry
            .file_type()
            .map_err(|e| InputError::io(&entry.path(), "cannot read", &e))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden {
            entries.push((entry.path(), kind));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((manifest, _)) = entries.iter().find(|(p, k)| {
        k.is_file()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.eq_ignore_ascii_case(MANIFEST_NAME))
    }) {
        runs.push(manifest_run(manifest, given)?);
        return Ok(());
    }
    let parts: Vec<PathBuf> = entries
        .iter()
        .filter(|(p, k)| k.is_file() && is_part_name(p))
        .map(|(p, _)| p.clone())
        .collect();
    if !parts.is_empty() {
        folder_runs(dir, &parts, given, runs)?;
    }
    if depth < MAX_DEPTH {
        for (sub, _) in entries.iter().filter(|(_, k)| k.is_dir()) {
            walk(sub, depth + 1, given, runs)?;
        }
    }
    Ok(())
}

/// The run of a folder's `part_*` files; its other data files, and native files, stay one input
/// each.
fn folder_runs(
    dir: &Path,
    files: &[PathBuf],
    given: Option<InputFormat>,
    runs: &mut Vec<Run>,
) -> Result<(), InputError> {
    let (azure_parts, others): (Vec<&PathBuf>, Vec<&PathBuf>) =
        files.iter().partition(|f| is_azure_part(f));
    for file in others {
        runs.push(file_run(file, given)?);
    }
    if azure_parts.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::with_capacity(azure_parts.len());
    for file in azure_parts {
        parts.push(part_of(file, None)?);
    }
    let format = run_format(&parts, given)?;
    if format == InputFormat::Native {
        for part in parts {
            runs.push(Run {
                source: part.path.clone(),
                origin: Origin::Files,
                id: None,
                submitted: None,
                format,
                parts: vec![part],
                pending: false,
            });
        }
        return Ok(());
    }
    runs.push(Run {
        source: dir.to_path_buf(),
        origin: Origin::Folder,
        id: None,
        submitted: None,
        format,
        parts,
        pending: false,
    });
    Ok(())
}

/// Azure's name for the parts of a partitioned export: `part_0_0001.csv`, `part_1_0002.csv.gz`, …
fn is_azure_part(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.len() > 5 && n.as_bytes()[..5].eq_ignore_ascii_case(b"part_"))
}

/// The names a part file of an export has: `*.csv`, `*.gz` (`*.csv.gz`), `*.parquet`.
fn is_part_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    [".csv", ".gz", ".parquet"]
        .iter()
        .any(|s| name.ends_with(s))
}
