//! What an audit reports when it finds something wrong (shared by the audit's checks).

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFinding {
    /// Sequence number of the first broken or differing record.
    pub seq: u64,
    /// `chain`, `decode`, `refused` (the core refused a recorded fact) or `decisions`.
    pub kind: String,
    pub message: String,
}
