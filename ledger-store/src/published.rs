//! Published projection snapshots: one immutable file per account, and an index naming the
//! set, in `DIR/published/`. Readers load them without sled and without its lock, so they can
//! run while another process writes the ledger.
//!
//! - `ACCOUNT_HEX.POSITION_HEX.acct`: one account's projections as of its position (the log
//!   record of its last decisions), bound to that record's hash: `[magic "LACCT"][1]
//!   [checksum 32][record hash 32][position u64 BE][account length u16 BE][account][payload]`,
//!   the checksum being blake3 keyed with the record hash over everything after the record
//!   hash. A file is written once under a temporary name, fsynced, renamed, and never changed.
//! - `INDEX`: the published set: `[magic "LINDX"][1][checksum 32][head hash 32][next_seq u64
//!   BE][count u32 BE][count × (account length u16, account, position u64, record hash 32)]
//!   [globals payload]`, the checksum being blake3 keyed with the head hash over everything
//!   after it. It is written after every file it names (temporary name, fsync, rename, fsync
//!   of the directory), so a reader that reads `INDEX` then the files it names sees every
//!   account as of one log position (`next_seq`), each account's last committed invoice whole.
//!   Files named by the previous index are kept, so a reader that read it can still open them;
//!   older ones are removed.
//! - `UNPUBLISHED`: `pid` of a process that appended records not yet published. While that
//!   process runs, readers use the published set (the last published state); once it is gone
//!   (killed before it published), the published set is behind the log and readers open the
//!   log instead.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The folder of published snapshots inside the ledger's directory.
pub const PUBLISHED_DIR: &str = "published";
/// The index of the published set.
pub const INDEX_FILE: &str = "INDEX";
/// Present while records appended by a process are not yet published (see the module).
pub const UNPUBLISHED_FILE: &str = "UNPUBLISHED";
const ACCOUNT_MAGIC: &[u8; 5] = b"LACCT";
const INDEX_MAGIC: &[u8; 5] = b"LINDX";
const FORMAT: u8 = 1;
/// Bytes before the body of both file kinds: magic, format, checksum, hash.
const HEADER: usize = 5 + 1 + 32 + 32;
/// Extension of an account's snapshot file.
const ACCOUNT_EXT: &str = "acct";
/// Files being written start with this (then the writer's pid).
const TMP_PREFIX: &str = ".tmp-";

/// Where an account stands in the log: the position of the account's last decisions record.
/// Today that is the record's global seq; with one chain per account it becomes the index in
/// the account's own stream (this type, and [`crate::Store::position_hash`], are what changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountPosition(pub u64);

/// One account of the published set: its position and the hash of the record there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedEntry {
    pub account: String,
    pub position: AccountPosition,
    pub record_hash: [u8; 32],
}

/// The published set as `INDEX` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedIndex {
    /// The log position the set reflects: every record before it.
    pub next_seq: u64,
    /// The hash of record `next_seq - 1` (zero for none).
    pub head_hash: [u8; 32],
    pub accounts: Vec<PublishedEntry>,
    /// What the set holds beyond the accounts (the projections' counters), as the caller wrote it.
    pub globals: Vec<u8>,
}

/// One account's snapshot file, read back and its checksum checked.
#[derive(Clone, Debug)]
pub struct PublishedAccount {
    pub entry: PublishedEntry,
    pub bytes: Vec<u8>,
}

/// A snapshot file as found in the folder (for `audit`, which checks every one).
#[derive(Clone, Debug)]
pub struct PublishedFile {
    pub name: String,
    /// The file read back, or why it cannot be (bad checksum, name that does not match).
    pub content: Result<PublishedAccount, String>,
}

/// Whether the published set stands for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// No process left records unpublished: the set is the log's state (if the set exists).
    Current,
    /// A running process (pid) is appending: the set is the last published state.
    Writing(u32),
    /// A process that no longer runs appended records it did not publish.
    Behind,
}

/// `DIR/published`.
pub fn published_dir(dir: &Path) -> PathBuf {
    dir.join(PUBLISHED_DIR)
}

/// The published set's freshness, from `UNPUBLISHED`.
pub fn freshness(dir: &Path) -> Freshness {
    let Ok(text) = fs::read_to_string(published_dir(dir).join(UNPUBLISHED_FILE)) else {
        return Freshness::Current;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) if pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists() => {
            Freshness::Writing(pid)
        }
        _ => Freshness::Behind,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The file name of an account's snapshot at `position`.
pub fn account_file_name(account: &str, position: AccountPosition) -> String {
    format!(
        "{}.{:016x}.{ACCOUNT_EXT}",
        hex(account.as_bytes()),
        position.0
    )
}

fn keyed(key: &[u8; 32], body: &[u8]) -> [u8; 32] {
    *blake3::keyed_hash(key, body).as_bytes()
}

/// The bytes of an account's snapshot file.
pub fn encode_account(entry: &PublishedEntry, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(payload.len() + entry.account.len() + 10);
    body.extend_from_slice(&entry.position.0.to_be_bytes());
    body.extend_from_slice(&(entry.account.len() as u16).to_be_bytes());
    body.extend_from_slice(entry.account.as_bytes());
    body.extend_from_slice(payload);
    framed(ACCOUNT_MAGIC, &entry.record_hash, &body)
}

fn framed(magic: &[u8; 5], key: &[u8; 32], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(magic);
    out.push(FORMAT);
    out.extend_from_slice(&keyed(key, body));
    out.extend_from_slice(key);
    out.extend_from_slice(body);
    out
}

/// The key and body of a framed file, its checksum checked.
fn unframe<'a>(magic: &[u8; 5], bytes: &'a [u8]) -> Result<([u8; 32], &'a [u8]), String> {
    if bytes.len() < HEADER || &bytes[..5] != magic || bytes[5] != FORMAT {
        return Err("its header is not a published snapshot's".into());
    }
    let key: [u8; 32] = bytes[38..HEADER].try_into().expect("32 bytes");
    let body = &bytes[HEADER..];
    if keyed(&key, body)[..] != bytes[6..38] {
        return Err("its checksum does not match its contents".into());
    }
    Ok((key, body))
}

/// Read `n` bytes from the front of `body`.
fn take<'a>(body: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if body.len() < n {
        return Err("it is cut short".into());
    }
    let (front, rest) = body.split_at(n);
    *body = rest;
    Ok(front)
}

fn take_u64(body: &mut &[u8]) -> Result<u64, String> {
    Ok(u64::from_be_bytes(take(body, 8)?.try_into().expect("8")))
}

fn take_account(body: &mut &[u8]) -> Result<String, String> {
    let len = u16::from_be_bytes(take(body, 2)?.try_into().expect("2")) as usize;
    String::from_utf8(take(body, len)?.to_vec()).map_err(|_| "its account is not UTF-8".into())
}

/// Decode an account's snapshot file.
pub fn decode_account(bytes: &[u8]) -> Result<PublishedAccount, String> {
    let (record_hash, mut body) = unframe(ACCOUNT_MAGIC, bytes)?;
    let position = AccountPosition(take_u64(&mut body)?);
    let account = take_account(&mut body)?;
    Ok(PublishedAccount {
        entry: PublishedEntry {
            account,
            position,
            record_hash,
        },
        bytes: body.to_vec(),
    })
}

fn encode_index(index: &PublishedIndex) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&index.next_seq.to_be_bytes());
    body.extend_from_slice(&(index.accounts.len() as u32).to_be_bytes());
    for e in &index.accounts {
        body.extend_from_slice(&(e.account.len() as u16).to_be_bytes());
        body.extend_from_slice(e.account.as_bytes());
        body.extend_from_slice(&e.position.0.to_be_bytes());
        body.extend_from_slice(&e.record_hash);
    }
    body.extend_from_slice(&index.globals);
    framed(INDEX_MAGIC, &index.head_hash, &body)
}

fn decode_index(bytes: &[u8]) -> Result<PublishedIndex, String> {
    let (head_hash, mut body) = unframe(INDEX_MAGIC, bytes)?;
    let next_seq = take_u64(&mut body)?;
    let count = u32::from_be_bytes(take(&mut body, 4)?.try_into().expect("4"));
    let mut accounts = Vec::new();
    for _ in 0..count {
        let account = take_account(&mut body)?;
        let position = AccountPosition(take_u64(&mut body)?);
        let record_hash = take(&mut body, 32)?.try_into().expect("32");
        accounts.push(PublishedEntry {
            account,
            position,
            record_hash,
        });
    }
    Ok(PublishedIndex {
        next_seq,
        head_hash,
        accounts,
        globals: body.to_vec(),
    })
}

fn corrupt(dir: &Path, what: &str, why: String) -> StoreError {
    StoreError::Corrupt {
        dir: dir.to_path_buf(),
        message: format!("the published {what} cannot be read: {why}"),
    }
}

/// The published index of the ledger at `dir`; `None` if nothing was published.
pub fn read_index(dir: &Path) -> Result<Option<PublishedIndex>, StoreError> {
    let path = published_dir(dir).join(INDEX_FILE);
    match fs::read(&path) {
        Ok(bytes) => decode_index(&bytes)
            .map(Some)
            .map_err(|why| corrupt(dir, "index", why)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

/// The snapshot file of one entry of the index, checked against the entry. A file that is
/// gone (a newer set replaced it meanwhile) is an I/O error of kind `NotFound`.
pub fn read_account(dir: &Path, entry: &PublishedEntry) -> Result<PublishedAccount, StoreError> {
    let path = published_dir(dir).join(account_file_name(&entry.account, entry.position));
    let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    let read = decode_account(&bytes).map_err(|why| corrupt(dir, "snapshot", why))?;
    if read.entry != *entry {
        return Err(corrupt(
            dir,
            "snapshot",
            format!("{} is not the snapshot the index names", path.display()),
        ));
    }
    Ok(read)
}

/// Every account snapshot file in the folder, each read back (for `audit`).
pub fn published_files(dir: &Path) -> Result<Vec<PublishedFile>, StoreError> {
    let folder = published_dir(dir);
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&folder, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(&folder, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(&format!(".{ACCOUNT_EXT}")) || name.starts_with(TMP_PREFIX) {
            continue;
        }
        let content = match fs::read(entry.path()) {
            Ok(bytes) => decode_account(&bytes).and_then(|read| named_as(&name, read)),
            Err(e) => Err(e.to_string()),
        };
        out.push(PublishedFile { name, content });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A file's name must be the one its content would be written under.
fn named_as(name: &str, read: PublishedAccount) -> Result<PublishedAccount, String> {
    let expected = account_file_name(&read.entry.account, read.entry.position);
    if name == expected {
        Ok(read)
    } else {
        Err(format!(
            "its content is account {} at position {}, which is not what its name says",
            read.entry.account, read.entry.position.0
        ))
    }
}

/// The account a snapshot file name names, if it is one.
pub fn account_of_file_name(name: &str) -> Option<String> {
    let hex_part = name.split('.').next()?;
    String::from_utf8(unhex(hex_part)?).ok()
}

/// Write `bytes` to `folder/name` atomically: a temporary file, fsynced, renamed over.
/// The caller fsyncs the folder.
pub(crate) fn write_file(folder: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = folder.join(format!("{TMP_PREFIX}{}-{name}", std::process::id()));
    let path = folder.join(name);
    let mut file = fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| StoreError::io(&tmp, e))?;
    file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))
}

/// fsync a directory (its entries: the renames into it).
pub(crate) fn sync_dir(folder: &Path) -> Result<(), StoreError> {
    fs::File::open(folder)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(folder, e))
}

/// Mark the published set as behind the log (this process is appending).
pub(crate) fn mark_unpublished(dir: &Path) -> Result<(), StoreError> {
    let folder = published_dir(dir);
    fs::create_dir_all(&folder).map_err(|e| StoreError::io(&folder, e))?;
    write_file(
        &folder,
        UNPUBLISHED_FILE,
        format!("{}\n", std::process::id()).as_bytes(),
    )?;
    sync_dir(&folder)
}

/// Write a new published set: the files of `fresh` accounts, then the index naming them and
/// `kept` (already written), then remove the files neither this index nor `previous` names.
pub(crate) fn write_set(
    dir: &Path,
    index: &PublishedIndex,
    fresh: &[(PublishedEntry, Vec<u8>)],
    previous: Option<&PublishedIndex>,
) -> Result<(), StoreError> {
    let folder = published_dir(dir);
    fs::create_dir_all(&folder).map_err(|e| StoreError::io(&folder, e))?;
    for (entry, payload) in fresh {
        let name = account_file_name(&entry.account, entry.position);
        write_file(&folder, &name, &encode_account(entry, payload))?;
    }
    sync_dir(&folder)?;
    write_file(&folder, INDEX_FILE, &encode_index(index))?;
    sync_dir(&folder)?;
    prune(&folder, index, previous);
    Ok(())
}

/// Remove account files neither index names, and temporary files (the caller holds the
/// ledger: any temporary file left is a killed writer's).
fn prune(folder: &Path, index: &PublishedIndex, previous: Option<&PublishedIndex>) {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for e in index
        .accounts
        .iter()
        .chain(previous.into_iter().flat_map(|p| &p.accounts))
    {
        named.insert(account_file_name(&e.account, e.position));
    }
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let temporary = name.starts_with(TMP_PREFIX);
        let stale_account =
            !temporary && name.ends_with(&format!(".{ACCOUNT_EXT}")) && !named.contains(&name);
        if stale_account || temporary {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Remove the `UNPUBLISHED` mark (everything appended is published).
pub(crate) fn clear_unpublished(dir: &Path) -> Result<(), StoreError> {
    let folder = published_dir(dir);
    match fs::remove_file(folder.join(UNPUBLISHED_FILE)) {
        Ok(()) => sync_dir(&folder),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(&folder, e)),
    }
}

/// Remove what was published beyond a log cut to `next_seq` records: the index if it covers
/// more, and account files at or after it. For tamper tests (`Store::raw_truncate`).
pub(crate) fn drop_beyond(dir: &Path, next_seq: u64) {
    let folder = published_dir(dir);
    if let Ok(Some(index)) = read_index(dir) {
        if index.next_seq > next_seq {
            let _ = fs::remove_file(folder.join(INDEX_FILE));
        }
    }
    for file in published_files(dir).unwrap_or_default() {
        if let Ok(read) = &file.content {
            if read.entry.position.0 >= next_seq {
                let _ = fs::remove_file(folder.join(&file.name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_read_back_and_an_edit_is_caught() {
        let entry = PublishedEntry {
            account: "acct:1".into(),
            position: AccountPosition(42),
            record_hash: [7; 32],
        };
        let bytes = encode_account(&entry, b"payload");
        let read = decode_account(&bytes).unwrap();
        assert_eq!(
            (read.entry, read.bytes),
            (entry.clone(), b"payload".to_vec())
        );
        let mut edited = bytes.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert!(decode_account(&edited).is_err());
        let index = PublishedIndex {
            next_seq: 43,
            head_hash: [9; 32],
            accounts: vec![entry.clone()],
            globals: b"g".to_vec(),
        };
        assert_eq!(decode_index(&encode_index(&index)).unwrap(), index);
        let name = account_file_name(&entry.account, entry.position);
        assert_eq!(account_of_file_name(&name).as_deref(), Some("acct:1"));
    }
}
