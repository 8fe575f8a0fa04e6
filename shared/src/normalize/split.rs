//! A streaming splitter: cuts a JSON array of objects (a content blob) or a whitespace-separated
//! sequence of objects (NDJSON) into raw record slices, from chunks of any size.
//!
//! It tracks only what is needed to find record boundaries (string state, escapes and nesting
//! depth) and checks the structure *between* records (`[`, `,`, `]`, whitespace, trailing bytes).
//! Each record slice is validated as JSON later by the record reader, so a record is never
//! trusted just because its brackets balance.

use memchr::memchr2;

/// The input shapes the splitter understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// A JSON array of objects: the body of a content blob.
    JsonArray,
    /// Objects separated by whitespace, usually one per line (NDJSON).
    Ndjson,
    /// Decide from the first byte that is not whitespace: `[` is an array, `{` is NDJSON.
    /// Empty input is zero records.
    Auto,
}

/// Why the byte stream is not a usable array (or sequence) of objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// The input does not start with `[` (array) or `{` (NDJSON).
    #[error("{expected} expected at byte {offset}, found {found}; the input must be {what}")]
    Unexpected {
        /// Absolute byte offset in the input.
        offset: u64,
        /// What was expected there.
        expected: &'static str,
        /// A description of what was found.
        found: String,
        /// What the whole input must be.
        what: &'static str,
    },
    /// An element of the array (or a line) is not a JSON object.
    #[error("record {record} (at byte {offset}) is not a JSON object: it starts with {found}; every audit record must be an object")]
    NotAnObject {
        /// 1-based record number.
        record: u64,
        /// Absolute byte offset in the input.
        offset: u64,
        /// A description of its first byte.
        found: String,
    },
    /// A record longer than the configured limit.
    #[error("record {record} is larger than the limit of {limit} bytes; raise the record size limit if such records are expected")]
    RecordTooLarge {
        /// 1-based record number.
        record: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The input ended inside a record or before the closing `]`.
    #[error("input is truncated after {records} complete records ({bytes} bytes): {detail}")]
    Truncated {
        /// Records completed before the end.
        records: u64,
        /// Bytes read.
        bytes: u64,
        /// Where it ended.
        detail: &'static str,
    },
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The type of "no parser" for [`Splitter::push`].
type NoParse<E> = fn(&str) -> Result<Option<usize>, E>;

/// Where the splitter is between (or inside) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first byte that is not whitespace (and an optional BOM).
    Start,
    /// After `[`: an object or `]`.
    FirstOrClose,
    /// After `,`: an object.
    Value,
    /// Inside a record.
    InRecord,
    /// After a record: `,` or `]` (array), whitespace or `{` (sequence).
    After,
    /// After the closing `]`: only whitespace may follow.
    Done,
    /// Salvage: inside an array element that is not an object (a string, number or literal),
    /// skipped up to the `,` or `]` after it.
    SkipScalar,
}

/// The streaming splitter. Push chunks; each complete record is handed to a callback.
#[derive(Debug)]
pub struct Splitter {
    format: InputFormat,
    state: State,
    /// Bytes of a record that started in an earlier chunk.
    pending: Vec<u8>,
    depth: u32,
    in_string: bool,
    escape: bool,
    bom_seen: usize,
    /// Absolute offset of the start of the current chunk.
    base: u64,
    records: u64,
    max_record: usize,
    /// Salvage: skip records that are not objects or over the limit instead of failing.
    salvage: bool,
    /// Salvage: the current record is skipped (scanned to its end, not kept).
    discard: bool,
    /// Salvage: records skipped so far.
    skipped: u64,
    /// Salvage: why the first record was skipped.
    first_skipped: Option<String>,
}

/// Describes a byte for an error message.
fn describe(b: u8) -> String {
    match b {
        b'[' | b']' | b'{' | b'}' | b',' | b':' | b'"' => format!("'{}'", b as char),
        b'0'..=b'9' | b'-' => "a number".to_owned(),
        b't' | b'f' => "a boolean".to_owned(),
        b'n' => "null".to_owned(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("byte 0x{b:02x}"),
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Splitter {
    /// A splitter for `format`, refusing records over `max_record` bytes.
    pub fn new(format: InputFormat, max_record: usize) -> Splitter {
        Splitter {
            format,
            state: State::Start,
            pending: Vec::new(),
            depth: 0,
            in_string: false,
            escape: false,
            bom_seen: 0,
            base: 0,
            records: 0,
            max_record,
            salvage: false,
            discard: false,
            skipped: 0,
            first_skipped: None,
        }
    }

    /// Salvage mode: an array element that is not an object, or a record over the size limit,
    /// is skipped and counted ([`Splitter::skipped`]) instead of failing the whole input.
    /// The input's structure (array, commas, brackets, completeness) is still checked.
    pub fn salvage(mut self) -> Splitter {
        self.salvage = true;
        self
    }

    /// Records skipped in salvage mode.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Why the first record was skipped in salvage mode.
    pub fn first_skipped(&self) -> Option<&str> {
        self.first_skipped.as_deref()
    }

    fn note_skipped(&mut self, why: SplitError) {
        self.skipped += 1;
        if self.first_skipped.is_none() {
            self.first_skipped = Some(why.to_string());
        }
    }

    /// Records completed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes held for a record that continues in the next chunk (its allocation).
    pub fn held_bytes(&self) -> usize {
        self.pending.capacity()
    }

    /// Bytes pushed so far.
    pub fn bytes(&self) -> u64 {
        self.base
    }

    fn what(&self) -> &'static str {
        match self.format {
            InputFormat::JsonArray => "a JSON array of objects",
            InputFormat::Ndjson => "JSON objects, one per line",
            InputFormat::Auto => "a JSON array of objects or JSON objects one per line",
        }
    }

    fn unexpected(&self, at: usize, expected: &'static str, b: u8) -> SplitError {
        SplitError::Unexpected {
            offset: self.base + at as u64,
            expected,
            found: describe(b),
            what: self.what(),
        }
    }

    /// Starts a record at `buf[i]`, which must be `{` (in salvage mode, another array
    /// element is skipped instead).
    fn open_record(&mut self, buf: &[u8], i: usize) -> Result<(), SplitError> {
        if buf[i] != b'{' {
            let err = SplitError::NotAnObject {
                record: self.records + 1,
                offset: self.base + i as u64,
                found: describe(buf[i]),
            };
            if !(self.salvage && self.format == InputFormat::JsonArray) {
                return Err(err);
            }
            self.note_skipped(err);
            self.in_string = false;
            self.escape = false;
            self.depth = 0;
            if buf[i] == b'[' {
                // Scanned like a record (brackets nest), then dropped.
                self.state = State::InRecord;
                self.discard = true;
            } else {
                self.state = State::SkipScalar;
            }
            return Ok(());
        }
        self.state = State::InRecord;
        self.depth = 0;
        self.in_string = false;
        self.escape = false;
        Ok(())
    }

    /// Scans a record from `buf[i..]`; returns the index just past its closing `}` if it ends
    /// in this buffer. Only string state and nesting depth matter here.
    fn scan(&mut self, buf: &[u8], mut i: usize) -> Option<usize> {
        let len = buf.len();
        while i < len {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    i += 1;
                    continue;
                }
                // Most strings in audit records are short: look at a few bytes directly
                // before paying for a vectorized search.
                let near = (i + 16).min(len);
                let hit = buf[i..near]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .or_else(|| memchr2(b'"', b'\\', &buf[near..]).map(|p| p + (near - i)));
                match hit {
                    None => return None,
                    Some(p) => {
                        i += p;
                        if buf[i] == b'"' {
                            self.in_string = false;
                        } else {
                            self.escape = true;
                        }
                        i += 1;
                    }
                }
            } else {
                while i < len {
                    match buf[i] {
                        b'"' => {
                            self.in_string = true;
                            i += 1;
                            break;
                        }
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' => {
                            self.depth = self.depth.saturating_sub(1);
                            if self.depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
        }
        None
    }

    /// Declares the end of input: fails if it stopped inside a record or before `]`.
    pub fn finish(&self) -> Result<(), SplitError> {
        let truncated = |detail| SplitError::Truncated {
            records: self.records,
            bytes: self.base,
            detail,
        };
        match (self.state, self.format) {
            (State::InRecord, _) => Err(truncated("the input ends inside a record")),
            (State::SkipScalar, _) => Err(truncated("the input ends inside an array element")),
            (State::Done, _) | (State::Start | State::After, InputFormat::Ndjson) => Ok(()),
            (State::Start, InputFormat::Auto) if self.bom_seen == 0 => Ok(()),
            (State::Start, _) => Err(truncated("the input is empty; expected a JSON array")),
            _ => Err(truncated("the closing ']' of the array is missing")),
        }
    }
}

mod push;

#[cfg(test)]
mod tests;
