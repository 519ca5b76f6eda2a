//! `ledger audit --expect-head HASH`: an anchor kept outside the ledger. Every command that
//! appends prints the head it left (the hash of the last record, and the record count); an
//! audit given that hash passes only if the log still contains it, as the end of a whole
//! entry, with an intact chain up to it, so nothing before it changed and nothing it covered
//! was dropped (a log cut short and its head rewritten no longer contains it).

use crate::finding::AuditFinding;

/// Where the expected head was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorCheck {
    /// The expected head hash (lower-case hex).
    pub hash: String,
    /// The record count at which the log had that head, when found.
    pub records: Option<u64>,
}

/// Looks for the expected head among the heads the audited log passed through.
#[derive(Clone, Debug)]
pub struct Anchor {
    expected: [u8; 32],
    found: Option<u64>,
}

impl Anchor {
    /// Look for `expected`. The empty log's head (all zeros) is found at 0 records.
    pub fn new(expected: [u8; 32]) -> Anchor {
        Anchor {
            expected,
            found: (expected == [0; 32]).then_some(0),
        }
    }

    /// The log's head after `records` records is `hash`.
    pub fn see(&mut self, records: u64, hash: &[u8; 32]) {
        if self.found.is_none() && *hash == self.expected {
            self.found = Some(records);
        }
    }

    fn hex(&self) -> String {
        self.expected.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// After a whole, intact log of `records` records ending in `head` (hex): where the
    /// anchor was, or the finding that it is not in the log.
    pub fn finish(&self, records: u64, head: &str) -> Result<AnchorCheck, AuditFinding> {
        match self.found {
            Some(at) => Ok(AnchorCheck {
                hash: self.hex(),
                records: Some(at),
            }),
            None => Err(AuditFinding {
                seq: records,
                kind: "head".into(),
                message: format!(
                    "the log does not contain the expected head {}: records it covered were removed or rewritten (the log now has {records} records and ends in head {head})",
                    self.hex()
                ),
            }),
        }
    }
}
