//! o365-compact: the stored NDJSON objects turned into Parquet by event date, one row per
//! record Id, so that people query the audit trail instead of reading blobs.
//!
//! Layout (built and parsed in `o365_activity::keys`):
//! `<prefix>/parquet/tenant_id=<t>/content_type=<ct>/event_date=<YYYY-MM-DD>/part-<NNNNN>.parquet`,
//! with the columns of [`schema::COLUMNS`] (typed filters, the `_o365` provenance, and the
//! source record as JSON text: lossless), and per pair a state object
//! `<prefix>/_compact/tenant_id=<t>/content_type=<ct>/state.json` ([`state`]).
//!
//! How a run works, per tenant × content type:
//! 1. List the stored blobs the state does not have (only the unsealed dates once some are).
//! 2. Read them one at a time, streaming their lines into rows, until the batch holds
//!    [`CompactOptions::batch_bytes`] of rows: that, one blob and one Parquet part (about
//!    [`CompactOptions::part_bytes`], or one batch's rows) are the memory bound, whatever
//!    the volume.
//! 3. For each event date in the batch, read the `id` column of every part of the date, one
//!    part at a time, and drop the rows whose id is already there (one row per Id, across
//!    runs, duplicates and late blobs); append the rest to the last part while it has fewer
//!    than [`CompactOptions::rows_per_part`] rows and is stored in fewer than
//!    [`CompactOptions::part_bytes`] bytes (rewritten with `If-Match`), then to new parts
//!    (`If-None-Match`). A full part is never rewritten again, only fetched (one at a time)
//!    to scan its `id` column, so neither a day's volume nor the size of its records grows
//!    the memory.
//! 4. Save the state with the batch's blobs marked (`If-Match`). A crash before this repeats
//!    the batch next run, which step 3 makes harmless; a second compactor is refused by the
//!    conditional writes.
//!
//! Identity is the record `Id` within a tenant and content type; a record's event date comes
//! from its `CreationTime`, which every copy of a record shares.

pub mod compactor;
pub mod error;
pub mod part;
pub mod row;
pub mod schema;
pub mod source;
pub mod state;

pub use compactor::Compactor;
pub use error::CompactError;

/// The knobs of a compaction run (the defaults suit a 1 GB Lambda).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactOptions {
    /// Rows (in bytes of record text, roughly) gathered before they are merged and the state
    /// saved.
    pub batch_bytes: usize,
    /// Rows per Parquet part at most.
    pub rows_per_part: usize,
    /// Stored size (bytes of Parquet) from which a part is no longer appended to: the rows
    /// that do not fit (at the part's bytes per row) go to a new part. This bounds the part
    /// read back and rewritten whole to append, whatever the volume or the size of records.
    pub part_bytes: usize,
    /// Rows per row group.
    pub row_group_rows: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            batch_bytes: 64 << 20,
            rows_per_part: 200_000,
            part_bytes: 8 << 20,
            row_group_rows: 32_768,
        }
    }
}

/// What a run did (summed over pairs), for logs, metrics and `o365ctl compact`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactReport {
    /// Pairs compacted.
    pub pairs: u64,
    /// Pairs that failed (logged; retried next run).
    pub failed_pairs: u64,
    /// Stored objects read.
    pub objects: u64,
    /// Stored objects that could not be read (logged; they stay pending).
    pub failed_objects: u64,
    /// Objects left for the next run (the deadline came first).
    pub pending_objects: u64,
    /// Lines read.
    pub records: u64,
    /// Rows added to the Parquet output.
    pub rows_written: u64,
    /// Lines whose id was already compacted or seen in the batch.
    pub duplicates: u64,
    /// Bytes of NDJSON read (decompressed).
    pub ndjson_bytes: u64,
    /// Bytes of the stored (compressed) objects read.
    pub stored_bytes: u64,
    /// Bytes of Parquet written (parts rewritten count in full).
    pub parquet_bytes: u64,
    /// Parts written.
    pub parts_written: u64,
}

impl CompactReport {
    /// Adds another pair's counts.
    pub fn add(&mut self, o: &CompactReport) {
        let pairs: [(&mut u64, u64); 12] = [
            (&mut self.pairs, o.pairs),
            (&mut self.failed_pairs, o.failed_pairs),
            (&mut self.objects, o.objects),
            (&mut self.failed_objects, o.failed_objects),
            (&mut self.pending_objects, o.pending_objects),
            (&mut self.records, o.records),
            (&mut self.rows_written, o.rows_written),
            (&mut self.duplicates, o.duplicates),
            (&mut self.ndjson_bytes, o.ndjson_bytes),
            (&mut self.stored_bytes, o.stored_bytes),
            (&mut self.parquet_bytes, o.parquet_bytes),
            (&mut self.parts_written, o.parts_written),
        ];
        for (mine, theirs) in pairs {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// Failures to alarm on: pairs and objects that could not be compacted.
    pub fn failures(&self) -> u64 {
        self.failed_pairs.saturating_add(self.failed_objects)
    }
}
