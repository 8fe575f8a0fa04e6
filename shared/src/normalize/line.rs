//! The output line: a record's exact text with the `_o365` member spliced in before its
//! closing `}`, staged and handed to the compressor.

use std::io::Write;

use chrono::{DateTime, Utc};
use memchr::memchr2;

use super::encode::Encoder;
use super::fields::{self, RecordFields, Scalar};
use super::{values, NormalizeError, NormalizeStats, STAGING_BYTES};
use crate::record_type::record_type_name;
use crate::user_type::user_type_name;

/// Writes output lines: splices `_o365` into each record and feeds the compressor.
#[derive(Debug)]
pub(super) struct LineWriter {
    pub(super) prefix: Vec<u8>,
    /// The blob's `contentCreated`, for per-record latency.
    pub(super) content_created: Option<DateTime<Utc>>,
    pub(super) staging: Vec<u8>,
    pub(super) encoder: Encoder,
    pub(super) stats: NormalizeStats,
    pub(super) seen: u64,
    /// Salvage mode: bad records are counted and left out instead of failing the input.
    pub(super) salvage: bool,
    /// Salvage mode: records this writer left out (the splitter counts its own).
    pub(super) rejected: u64,
    /// Salvage mode: why this writer left out its first record.
    pub(super) first_rejection: Option<String>,
}

/// Appends an integer in decimal (the hot path avoids `fmt` machinery).
pub(super) fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `,"<name>":"<text>"`; `text` must need no JSON escaping.
fn push_str_member(out: &mut Vec<u8>, name: &str, text: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Appends `,"<name>":<n>`.
fn push_int_member(out: &mut Vec<u8>, name: &str, n: i64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_int(out, n);
}

fn write_name_and_id(
    out: &mut Vec<u8>,
    member: &str,
    id_member: &str,
    value: Option<&Scalar<'_>>,
    name_of: fn(i64) -> Option<&'static str>,
) {
    if let Some(n) = value.and_then(Scalar::lenient_int) {
        if let Some(name) = name_of(n) {
            // Table names are plain text (a unit test checks no escaping is needed).
            push_str_member(out, member, name);
        }
        push_int_member(out, id_member, n);
    }
}

impl LineWriter {
    pub(super) fn write_normalized(&mut self, f: &RecordFields<'_>) -> std::io::Result<()> {
        let out = &mut self.staging;
        if let Some(ct) = f.creation_time.as_ref().and_then(Scalar::as_str) {
            if let Some(at) = values::parse_wire_form(ct) {
                // The zone-less wire form: RFC 3339 UTC is the same text plus `Z`.
                out.extend_from_slice(b",\"event_time\":\"");
                out.extend_from_slice(ct.as_bytes());
                out.extend_from_slice(b"Z\"");
                self.stats.add_event(at, self.content_created);
            } else if let Some(t) = values::event_time(ct) {
                push_str_member(out, "event_time", &t.text);
                self.stats.add_event(t.at, self.content_created);
            }
        }
        write_name_and_id(
            out,
            "record_type",
            "record_type_id",
            f.record_type.as_ref(),
            record_type_name,
        );
        write_name_and_id(
            out,
            "user_type",
            "user_type_id",
            f.user_type.as_ref(),
            user_type_name,
        );
        if let Some(addr) = f.client_addr() {
            match addr.ip {
                std::net::IpAddr::V4(v4) => {
                    out.extend_from_slice(b",\"client_ip\":\"");
                    for (i, octet) in v4.octets().into_iter().enumerate() {
                        if i > 0 {
                            out.push(b'.');
                        }
                        push_int(out, i64::from(octet));
                    }
                    out.push(b'"');
                }
                v6 => write!(out, ",\"client_ip\":\"{v6}\"")?,
            }
            if let Some(p) = addr.port {
                push_int_member(out, "client_port", i64::from(p));
            }
        }
        if let Some(o) = f.outcome() {
            push_str_member(out, "outcome", o.as_str());
        }
        Ok(())
    }

    /// In salvage mode, a bad record is counted and left out; other errors pass through.
    pub(super) fn salvaged(
        &mut self,
        res: Result<(), NormalizeError>,
    ) -> Result<(), NormalizeError> {
        match res {
            Err(e) if self.salvage && e.is_bad_record() => {
                self.rejected += 1;
                if self.first_rejection.is_none() {
                    self.first_rejection = Some(e.to_string());
                }
                Ok(())
            }
            other => other,
        }
    }

    /// A record the splitter delimited: validate, read and write it.
    pub(super) fn record(&mut self, rec: &[u8]) -> Result<(), NormalizeError> {
        let res = self.record_strict(rec);
        self.salvaged(res)
    }

    pub(super) fn record_strict(&mut self, rec: &[u8]) -> Result<(), NormalizeError> {
        self.seen += 1;
        let record = self.seen;
        let text = std::str::from_utf8(rec).map_err(|e| NormalizeError::InvalidUtf8 {
            record,
            offset: e.valid_up_to(),
        })?;
        let f = fields::read_fields(text).map_err(|e| NormalizeError::InvalidRecord {
            record,
            message: e.to_string(),
        })?;
        self.write_line(rec, &f)
    }

    /// A record at the start of `text` (which runs on to the end of the chunk): read and
    /// write it and return its length, or `None` to let the splitter delimit it (incomplete
    /// here, or invalid: the exact path then reports it).
    pub(super) fn record_at_start(&mut self, text: &str) -> Result<Option<usize>, NormalizeError> {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<RecordFields<'_>>();
        let Some(Ok(f)) = stream.next() else {
            return Ok(None);
        };
        let n = stream.byte_offset();
        self.seen += 1;
        let res = self.write_line(&text.as_bytes()[..n], &f);
        self.salvaged(res)?;
        Ok(Some(n))
    }

    pub(super) fn write_line(
        &mut self,
        rec: &[u8],
        f: &RecordFields<'_>,
    ) -> Result<(), NormalizeError> {
        if f.has_reserved {
            return Err(NormalizeError::ReservedMember { record: self.seen });
        }
        let line_start = self.staging.len();
        // The splitter hands over `{...}`: everything but the closing brace stays as it is.
        let body = &rec[..rec.len().saturating_sub(1)];
        self.staging.extend_from_slice(body);
        if memchr2(b'\n', b'\r', body).is_some() {
            // Only insignificant whitespace can hold a raw line break in valid JSON.
            for b in &mut self.staging[line_start..] {
                if *b == b'\n' || *b == b'\r' {
                    *b = b' ';
                }
            }
        }
        if f.members > 0 {
            self.staging.push(b',');
        }
        self.staging.extend_from_slice(&self.prefix);
        self.write_normalized(f)?;
        self.staging.extend_from_slice(b"}}\n");
        self.stats.records += 1;
        self.stats.bytes_lines += (self.staging.len() - line_start) as u64;
        if self.staging.len() >= STAGING_BYTES {
            self.flush_staging()?;
        }
        Ok(())
    }

    pub(super) fn flush_staging(&mut self) -> std::io::Result<()> {
        if !self.staging.is_empty() {
            self.encoder.write_all(&self.staging)?;
            self.staging.clear();
        }
        Ok(())
    }
}
