//! The request log: one JSON object per request, kept in memory and appended to
//! `requests.jsonl` in the data directory.

/// What happened to one request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    /// The request's position in the log, from 1.
    pub seq: u64,
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// What the emulator did, when it was not plain handling: `throttled`, `transient`,
    /// `unauthorized`, or `created` for a write that created an object.
    pub note: Option<String>,
    /// The lowercase id of the object a write touched.
    pub resource: Option<String>,
}
