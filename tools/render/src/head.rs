//! The head a write leaves: the hash of the log's last record and the record count. A user
//! keeps it outside the ledger; `ledger audit --expect-head HASH` later proves the log still
//! contains it, with nothing before it changed.

use ledger_app::store::Head;
use serde::Serialize;

use crate::ingest::group;

/// `Log head: 1,234 records, hash 3f1c…` (the whole hash: it is the anchor to keep).
pub fn head_line(head: &Head) -> String {
    format!(
        "Log head: {} records, hash {}",
        group(head.next_seq),
        head.hash_hex()
    )
}

/// `{"hash": "3f1c…", "records": 1234}`.
#[derive(Clone, Debug, Serialize)]
pub struct HeadJson {
    pub hash: String,
    pub records: u64,
}

impl From<&Head> for HeadJson {
    fn from(head: &Head) -> HeadJson {
        HeadJson {
            hash: head.hash_hex(),
            records: head.next_seq,
        }
    }
}
