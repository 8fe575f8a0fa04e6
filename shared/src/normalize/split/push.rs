//! Feeding chunks to the [`Splitter`]: the byte loop between and inside records, and the
//! fast path that offers a record to a parser before scanning it.

use super::{is_ws, InputFormat, NoParse, SplitError, Splitter, State, BOM};

impl Splitter {
    /// Offers the record starting at `buf[i]` to `parse` (see [`Splitter::push_parsing`]);
    /// on success the record is done and its length returned.
    fn parse_whole<'b, E, P: FnMut(&str) -> Result<Option<usize>, E>>(
        &mut self,
        buf: &'b [u8],
        i: usize,
        valid: &mut Option<&'b str>,
        parse: &mut Option<&mut P>,
    ) -> Result<Option<usize>, E> {
        let Some(parse) = parse else {
            return Ok(None);
        };
        if self.discard || self.state != State::InRecord {
            return Ok(None);
        }
        // The chunk's valid UTF-8 prefix, checked once per chunk.
        let text = *valid.get_or_insert_with(|| match std::str::from_utf8(buf) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default(),
        });
        let mut end = text.len().min(i.saturating_add(self.max_record));
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let Some(rest) = text.get(i..end) else {
            return Ok(None);
        };
        let done = parse(rest)?;
        if done.is_some() {
            self.records += 1;
            self.state = State::After;
        }
        Ok(done)
    }

    fn too_large(&self) -> SplitError {
        SplitError::RecordTooLarge {
            record: self.records + 1,
            limit: self.max_record,
        }
    }

    /// Feeds the next chunk; `on_record` gets each complete record (`{...}`, exact bytes).
    pub fn push<E: From<SplitError>>(
        &mut self,
        buf: &[u8],
        on_record: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.push_parsing(buf, None::<&mut NoParse<E>>, on_record)
    }

    /// Like [`Splitter::push`], but a record that starts in this chunk is first offered to
    /// `parse` as text running from its `{` to the end of the chunk's valid UTF-8 (at most the
    /// record size limit). `parse` reads one object from the start of that text and returns
    /// its length, or `None` when it cannot (incomplete or invalid: anything); the record is
    /// then split by scanning and handed to `on_record` as usual, which gives the same result.
    /// This saves scanning most records twice.
    pub fn push_parsing<E: From<SplitError>, P: FnMut(&str) -> Result<Option<usize>, E>>(
        &mut self,
        buf: &[u8],
        mut parse: Option<&mut P>,
        on_record: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut valid: Option<&str> = None;
        let len = buf.len();
        let mut i = 0;
        // Start of the current record in `buf`, when it began in this chunk.
        let mut start: Option<usize> = None;
        while i < len {
            match self.state {
                State::Start => {
                    let b = buf[i];
                    if self.base + (i as u64) == self.bom_seen as u64
                        && self.bom_seen < BOM.len()
                        && b == BOM[self.bom_seen]
                    {
                        self.bom_seen += 1;
                        i += 1;
                        continue;
                    }
                    if self.bom_seen != 0 && self.bom_seen < BOM.len() {
                        return Err(self
                            .unexpected(i, "a complete UTF-8 byte order mark", b)
                            .into());
                    }
                    if is_ws(b) {
                        i += 1;
                        continue;
                    }
                    match (self.format, b) {
                        (InputFormat::JsonArray | InputFormat::Auto, b'[') => {
                            self.format = InputFormat::JsonArray;
                            self.state = State::FirstOrClose;
                            i += 1;
                        }
                        (InputFormat::Ndjson | InputFormat::Auto, b'{') => {
                            self.format = InputFormat::Ndjson;
                            self.open_record(buf, i)?;
                            start = Some(i);
                            if let Some(n) = self.parse_whole(buf, i, &mut valid, &mut parse)? {
                                start = None;
                                i += n;
                            }
                        }
                        (InputFormat::Ndjson, _) => {
                            self.open_record(buf, i)?;
                        }
                        (InputFormat::JsonArray, _) => {
                            return Err(self.unexpected(i, "'['", b).into());
                        }
                        (InputFormat::Auto, _) => {
                            return Err(self.unexpected(i, "'[' or '{'", b).into());
                        }
                    }
                }
                State::FirstOrClose | State::Value => {
                    let b = buf[i];
                    if is_ws(b) {
                        i += 1;
                    } else if b == b']' && self.state == State::FirstOrClose {
                        self.state = State::Done;
                        i += 1;
                    } else if b == b']' {
                        return Err(self.unexpected(i, "an object after ','", b).into());
                    } else {
                        self.open_record(buf, i)?;
                        start = Some(i);
                        if let Some(n) = self.parse_whole(buf, i, &mut valid, &mut parse)? {
                            start = None;
                            i += n;
                        }
                    }
                }
                State::InRecord => {
                    let from = start.unwrap_or(0);
                    match self.scan(buf, i) {
                        Some(end) => {
                            let whole = self.pending.len() + (end - from);
                            if whole > self.max_record && self.salvage && !self.discard {
                                self.note_skipped(self.too_large());
                                self.discard = true;
                            }
                            if self.discard {
                                self.discard = false;
                                self.pending.clear();
                                self.records += 1;
                                self.state = State::After;
                                start = None;
                                i = end;
                                continue;
                            }
                            if whole > self.max_record {
                                return Err(self.too_large().into());
                            }
                            self.records += 1;
                            self.state = State::After;
                            if self.pending.is_empty() {
                                on_record(&buf[from..end])?;
                            } else {
                                self.pending.extend_from_slice(&buf[from..end]);
                                let rec = std::mem::take(&mut self.pending);
                                let res = on_record(&rec);
                                // Keep the allocation for the next long record.
                                self.pending = rec;
                                self.pending.clear();
                                res?;
                            }
                            start = None;
                            i = end;
                        }
                        None => {
                            if !self.discard
                                && self.salvage
                                && self.pending.len() + (len - from) > self.max_record
                            {
                                self.note_skipped(self.too_large());
                                self.discard = true;
                                self.pending.clear();
                            }
                            if self.discard {
                                i = len;
                                continue;
                            }
                            if self.pending.len() + (len - from) > self.max_record {
                                return Err(self.too_large().into());
                            }
                            self.pending.extend_from_slice(&buf[from..]);
                            i = len;
                        }
                    }
                }
                State::After => {
                    let b = buf[i];
                    if is_ws(b) {
                        i += 1;
                        continue;
                    }
                    match (self.format, b) {
                        (InputFormat::JsonArray, b',') => {
                            self.state = State::Value;
                            i += 1;
                        }
                        (InputFormat::JsonArray, b']') => {
                            self.state = State::Done;
                            i += 1;
                        }
                        (InputFormat::JsonArray, _) => {
                            return Err(self.unexpected(i, "',' or ']' after a record", b).into());
                        }
                        _ => {
                            self.open_record(buf, i)?;
                            start = Some(i);
                            if let Some(n) = self.parse_whole(buf, i, &mut valid, &mut parse)? {
                                start = None;
                                i += n;
                            }
                        }
                    }
                }
                State::SkipScalar => {
                    let b = buf[i];
                    if self.in_string {
                        if self.escape {
                            self.escape = false;
                        } else if b == b'\\' {
                            self.escape = true;
                        } else if b == b'"' {
                            self.in_string = false;
                        }
                        i += 1;
                    } else if b == b'"' {
                        self.in_string = true;
                        i += 1;
                    } else if b == b',' || b == b']' {
                        // The element ends here; `After` reads the separator.
                        self.records += 1;
                        self.state = State::After;
                    } else {
                        i += 1;
                    }
                }
                State::Done => {
                    let b = buf[i];
                    if !is_ws(b) {
                        return Err(self
                            .unexpected(i, "nothing but whitespace after the closing ']'", b)
                            .into());
                    }
                    i += 1;
                }
            }
        }
        self.base += len as u64;
        Ok(())
    }
}
