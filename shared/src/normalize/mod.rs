//! Normalization of audit records: a content blob (or an NDJSON file) in, compressed NDJSON
//! lines out, one line per record, streaming with bounded memory. The same code serves the
//! fetcher and `o365ctl normalize`.
//!
//! Each output line is the source record's exact text (every member kept, in order, byte for
//! byte) with one change: each raw CR or LF byte (valid JSON holds them only as whitespace
//! between tokens; NDJSON forbids them inside a line) becomes one space, so the line keeps the
//! record's length and offsets. One member is spliced in before its closing `}`:
//!
//! ```text
//! "_o365":{"tenant_id":…,"content_type":…,"content_id":…,"content_created":…,"fetched_at":…,
//!          "collector_version":…,"event_time":…,"record_type":…,"record_type_id":…,
//!          "user_type":…,"user_type_id":…,"client_ip":…,"client_port":…,"outcome":…}
//! ```
//!
//! Provenance members come first (a provenance member is left out when the caller does not
//! know it, e.g. a local file); normalized members follow and are written only when they
//! can be read, never invented:
//! - `event_time`: `CreationTime` as RFC 3339 UTC with `Z` (zone-less means UTC).
//! - `record_type` / `user_type`: the documented names; `record_type_id` / `user_type_id`:
//!   the integers (also from numeric strings). An unknown number keeps its `_id` and gets no
//!   name; a value that is not an integer gives neither.
//! - `client_ip` / `client_port`: from `ClientIP`, `ClientIp`, `ClientIPAddress`,
//!   `ActorIpAddress` or an Entra `ExtendedProperties` entry, in that order; see
//!   [`fields::RecordFields::client_addr`] and [`values::client_addr`]. Host names and
//!   garbage give neither; the raw value stays in the record.
//! - `outcome`: from `Operation` (`UserLoginFailed`), `LogonError` and `ResultStatus`; see
//!   [`fields::RecordFields::outcome`] (the workload table is in the README).
//!
//! A record that already has a top-level `_o365` member is an error (the output would carry
//! the member twice): normalizing an already normalized file is refused, not silently doubled.
//! A blob that is not an array of objects, a record that is not valid JSON or not UTF-8, a
//! record over the size limit, a truncated blob or trailing bytes are errors too.

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};

use crate::compression::Compression;
use crate::content_type::ContentType;
use crate::message::QueueMessage;
use crate::tenant_id::TenantId;
use crate::time::format_listing_time;

pub mod encode;
pub mod fields;
mod line;
pub mod o365;
pub mod split;
pub mod values;

pub use split::{InputFormat, SplitError};

use encode::Encoder;
use line::LineWriter;
use split::Splitter;

/// The member added to every output line.
pub const O365_MEMBER: &str = "_o365";

/// Default largest record accepted, in bytes.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 32 << 20;

/// Uncompressed lines are handed to the compressor in blocks of about this size.
pub(crate) const STAGING_BYTES: usize = 128 << 10;

/// Limits that keep bad input from using unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record, in bytes of JSON text.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Where the records came from: written at the start of every `_o365` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Customer tenant (unknown for some local files).
    pub tenant_id: Option<TenantId>,
    /// Content type of the blob.
    pub content_type: Option<ContentType>,
    /// The blob's content id.
    pub content_id: Option<String>,
    /// The blob's `contentCreated`.
    pub content_created: Option<DateTime<Utc>>,
    /// When the collector downloaded (or read) the records.
    pub fetched_at: DateTime<Utc>,
}

impl Provenance {
    /// The provenance of the blob a queue message names, fetched at `fetched_at`.
    pub fn for_message(msg: &QueueMessage, fetched_at: DateTime<Utc>) -> Provenance {
        Provenance {
            tenant_id: Some(msg.tenant_id.clone()),
            content_type: Some(msg.content_type),
            content_id: Some(msg.content_id.clone()),
            content_created: Some(msg.content_created),
            fetched_at,
        }
    }

    /// `"_o365":{` and the provenance members, without the closing brace.
    fn member_prefix(&self) -> Vec<u8> {
        let mut members: Vec<(&str, String)> = Vec::new();
        if let Some(t) = &self.tenant_id {
            members.push(("tenant_id", t.as_str().to_owned()));
        }
        if let Some(c) = self.content_type {
            members.push(("content_type", c.as_str().to_owned()));
        }
        if let Some(id) = &self.content_id {
            members.push(("content_id", id.clone()));
        }
        if let Some(c) = self.content_created {
            members.push(("content_created", format_listing_time(c)));
        }
        members.push(("fetched_at", format_listing_time(self.fetched_at)));
        members.push(("collector_version", crate::COLLECTOR_VERSION.to_owned()));
        let mut out = format!("\"{O365_MEMBER}\":{{").into_bytes();
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("\"{k}\":").as_bytes());
            out.extend_from_slice(serde_json::Value::from(v.as_str()).to_string().as_bytes());
        }
        out
    }
}

/// Why a blob (or file) could not be normalized. All but `Compress` mean the input is bad and
/// retrying cannot help.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The bytes are not an array (or sequence) of objects, or are cut short.
    #[error(transparent)]
    Structure(#[from] SplitError),
    /// A record that is not UTF-8 (JSON text must be).
    #[error("record {record} is not valid UTF-8 (bad byte {offset} bytes into the record); JSON text must be UTF-8")]
    InvalidUtf8 {
        /// 1-based record number.
        record: u64,
        /// Offset of the first bad byte within the record.
        offset: usize,
    },
    /// A record that is not valid JSON.
    #[error("record {record} is not valid JSON: {message}")]
    InvalidRecord {
        /// 1-based record number.
        record: u64,
        /// serde_json's description, with line and column inside the record.
        message: String,
    },
    /// A record that already has a top-level `_o365` member.
    #[error("record {record} already has a top-level \"_o365\" member; it looks already normalized (normalize the original records instead)")]
    ReservedMember {
        /// 1-based record number.
        record: u64,
    },
    /// The compressor failed (out of memory or a codec error).
    #[error("compressing the output failed: {0}")]
    Compress(#[from] std::io::Error),
    /// `push` or `finish` was called after an earlier error.
    #[error("the normalizer already failed on this input; start again with a new one")]
    AfterError,
}

impl NormalizeError {
    /// Whether one record is bad while the input around it is fine (salvage leaves it out).
    pub fn is_bad_record(&self) -> bool {
        matches!(
            self,
            NormalizeError::InvalidUtf8 { .. }
                | NormalizeError::InvalidRecord { .. }
                | NormalizeError::ReservedMember { .. }
        )
    }

    /// Whether the input itself is bad (permanent), as opposed to a failure of ours.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, NormalizeError::Compress(_))
    }
}

/// What one normalization produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizeStats {
    /// Records written.
    pub records: u64,
    /// Salvage mode: records left out (not UTF-8, not valid JSON, not an object, over the
    /// size limit, already normalized); the caller keeps the raw input.
    pub records_rejected: u64,
    /// Salvage mode: why the first record was left out.
    pub first_rejection: Option<String>,
    /// Input bytes read.
    pub bytes_in: u64,
    /// Uncompressed output bytes (the NDJSON lines).
    pub bytes_lines: u64,
    /// Compressed output bytes.
    pub bytes_out: u64,
    /// Records whose `CreationTime` could be read.
    pub event_times: u64,
    /// Earliest event time, milliseconds since the epoch.
    pub event_time_min_ms: Option<i64>,
    /// Latest event time, milliseconds since the epoch.
    pub event_time_max_ms: Option<i64>,
    /// Sum of event times in milliseconds (for the mean).
    pub event_time_sum_ms: i128,
    /// Per record with an event time: `CreationTime` → the blob's `contentCreated`, in
    /// seconds (empty when the provenance has no `contentCreated`).
    pub event_to_available: crate::latency::LatencyHistogram,
}

impl NormalizeStats {
    /// The earliest event time.
    pub fn earliest_event(&self) -> Option<DateTime<Utc>> {
        self.event_time_min_ms
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    }

    /// The mean event time.
    pub fn mean_event(&self) -> Option<DateTime<Utc>> {
        if self.event_times == 0 {
            return None;
        }
        let mean = i64::try_from(self.event_time_sum_ms / i128::from(self.event_times)).ok()?;
        Utc.timestamp_millis_opt(mean).single()
    }

    fn add_event(&mut self, at: DateTime<Utc>, available: Option<DateTime<Utc>>) {
        if let Some(available) = available {
            self.event_to_available
                .add(crate::latency::seconds_between(at, available), 1);
        }
        let ms = at.timestamp_millis();
        self.event_times += 1;
        self.event_time_sum_ms += i128::from(ms);
        self.event_time_min_ms = Some(self.event_time_min_ms.map_or(ms, |m| m.min(ms)));
        self.event_time_max_ms = Some(self.event_time_max_ms.map_or(ms, |m| m.max(ms)));
    }
}

/// Streaming normalizer for one blob or file: push input chunks of any size, drain compressed
/// output as it is produced, then finish.
///
/// ```
/// use o365_activity::compression::Compression;
/// use o365_activity::normalize::{BlobNormalizer, InputFormat, Limits, Provenance};
///
/// let prov = Provenance { tenant_id: None, content_type: None, content_id: None,
///     content_created: None, fetched_at: chrono::Utc::now() };
/// let mut n = BlobNormalizer::new(&prov, Compression::Zstd { level: 1 },
///     InputFormat::JsonArray, Limits::default())?;
/// n.push(br#"[{"Id":"a","CreationTime":"2026-03-01T04:41:07"}]"#)?;
/// let mut out = n.take_output().to_vec();
/// let (rest, stats) = n.finish()?;
/// out.extend_from_slice(&rest);
/// assert_eq!(stats.records, 1);
/// let lines = String::from_utf8(zstd::stream::decode_all(&out[..])?)?;
/// assert!(lines.starts_with(r#"{"Id":"a","CreationTime":"2026-03-01T04:41:07","_o365":{"#));
/// assert!(lines.contains(r#""event_time":"2026-03-01T04:41:07Z""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct BlobNormalizer {
    splitter: Splitter,
    writer: LineWriter,
    failed: bool,
}

impl BlobNormalizer {
    /// A normalizer writing `compression`-compressed lines for input in `format`.
    pub fn new(
        provenance: &Provenance,
        compression: Compression,
        format: InputFormat,
        limits: Limits,
    ) -> Result<BlobNormalizer, NormalizeError> {
        Ok(BlobNormalizer::with_encoder(
            provenance,
            Encoder::new(compression)?,
            format,
            limits,
        ))
    }

    /// A normalizer writing plain, uncompressed NDJSON lines (`o365ctl normalize` to a
    /// terminal or a pipe); otherwise the same code path as [`BlobNormalizer::new`].
    pub fn uncompressed(
        provenance: &Provenance,
        format: InputFormat,
        limits: Limits,
    ) -> BlobNormalizer {
        BlobNormalizer::with_encoder(provenance, Encoder::plain(), format, limits)
    }

    fn with_encoder(
        provenance: &Provenance,
        encoder: Encoder,
        format: InputFormat,
        limits: Limits,
    ) -> BlobNormalizer {
        BlobNormalizer {
            splitter: Splitter::new(format, limits.max_record_bytes),
            writer: LineWriter {
                prefix: provenance.member_prefix(),
                content_created: provenance.content_created,
                staging: Vec::with_capacity(STAGING_BYTES + 4096),
                encoder,
                stats: NormalizeStats::default(),
                seen: 0,
                salvage: false,
                rejected: 0,
                first_rejection: None,
            },
            failed: false,
        }
    }

    /// Salvage mode: a record that is not UTF-8, not valid JSON, not an object, over the size
    /// limit or already normalized is counted ([`NormalizeStats::records_rejected`]) and left
    /// out, and the rest is written; an input that is not an array of records at all, or is
    /// cut short, still fails. The caller keeps the raw input when anything was left out.
    pub fn salvage(mut self) -> BlobNormalizer {
        self.splitter = self.splitter.salvage();
        self.writer.salvage = true;
        self
    }

    /// Feeds the next input chunk. After an error the normalizer refuses further input.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), NormalizeError> {
        if self.failed {
            return Err(NormalizeError::AfterError);
        }
        let writer = std::cell::RefCell::new(&mut self.writer);
        let res = self.splitter.push_parsing(
            chunk,
            Some(&mut |text: &str| writer.borrow_mut().record_at_start(text)),
            &mut |rec: &[u8]| writer.borrow_mut().record(rec),
        );
        self.writer.stats.bytes_in = self.splitter.bytes();
        self.writer.stats.records_rejected = self.writer.rejected + self.splitter.skipped();
        if self.writer.stats.first_rejection.is_none() {
            self.writer.stats.first_rejection = self
                .writer
                .first_rejection
                .clone()
                .or_else(|| self.splitter.first_skipped().map(str::to_owned));
        }
        if res.is_err() {
            self.failed = true;
        }
        res
    }

    /// Takes the compressed bytes produced so far (possibly none); write them out as you go.
    pub fn take_output(&mut self) -> Bytes {
        let out = self.writer.encoder.take_output();
        self.writer.stats.bytes_out += out.len() as u64;
        Bytes::from(out)
    }

    /// Memory held between pushes: a record cut by a chunk boundary, lines waiting for the
    /// compressor and compressed bytes not yet taken. Stays bounded whatever the blob size
    /// (about the largest record plus a few hundred KiB) when output is taken as it comes.
    pub fn buffered_bytes(&self) -> usize {
        self.splitter.held_bytes()
            + self.writer.staging.capacity()
            + self.writer.encoder.pending_output()
    }

    /// Counters so far.
    pub fn stats(&self) -> &NormalizeStats {
        &self.writer.stats
    }

    /// Ends the input: checks it was complete and returns the last compressed bytes and totals.
    pub fn finish(self) -> Result<(Bytes, NormalizeStats), NormalizeError> {
        if self.failed {
            return Err(NormalizeError::AfterError);
        }
        self.splitter.finish()?;
        let mut writer = self.writer;
        writer.flush_staging()?;
        // The encoder's buffer holds what `take_output` has not taken yet, plus the trailer.
        let out = writer.encoder.finish()?;
        let mut stats = writer.stats;
        stats.bytes_out += out.len() as u64;
        Ok((Bytes::from(out), stats))
    }
}

/// Normalizes a whole input held in memory (tests, small files); returns the compressed
/// output and the totals.
pub fn normalize_bytes(
    input: &[u8],
    provenance: &Provenance,
    compression: Compression,
    format: InputFormat,
    limits: Limits,
) -> Result<(Vec<u8>, NormalizeStats), NormalizeError> {
    let mut n = BlobNormalizer::new(provenance, compression, format, limits)?;
    n.push(input)?;
    let mut out = n.take_output().to_vec();
    let (rest, stats) = n.finish()?;
    out.extend_from_slice(&rest);
    Ok((out, stats))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod uncompressed_tests;
