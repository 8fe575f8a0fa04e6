//! Reading and writing one Parquet part in memory. A part is appended to only while it holds
//! fewer than [`crate::CompactOptions::rows_per_part`] rows and fewer than
//! [`crate::CompactOptions::part_bytes`] stored bytes, so whatever a day's volume or the size
//! of its records, one part (its compressed bytes in, its compressed bytes out, and one row
//! group being encoded) is all that is held at a time. Finding ids decodes a part's `id`
//! column only.

use std::collections::HashSet;

use arrow_array::{Array, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::row::Row;
use crate::schema::{schema, to_batch, ID_COLUMN};

/// Rows per record batch when reading a part back.
const READ_BATCH: usize = 8192;

/// What a part holds, as far as merging needs: its row count and which of the wanted ids.
#[derive(Debug, Default)]
pub struct PartIds {
    /// Rows in the part.
    pub rows: usize,
    /// The wanted ids the part already has.
    pub present: HashSet<String>,
}

/// Reads only the `id` column of a part and reports which of `wanted` it holds.
pub fn ids_in(body: Bytes, wanted: &HashSet<&str>) -> Result<PartIds, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(body)?;
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [ID_COLUMN]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(READ_BATCH)
        .build()?;
    let mut out = PartIds::default();
    for batch in reader {
        let batch = batch?;
        out.rows = out.rows.saturating_add(batch.num_rows());
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| ParquetError::General("the id column is not a string".into()))?;
        for id in ids.iter().flatten() {
            if wanted.contains(id) {
                out.present.insert(id.to_owned());
            }
        }
    }
    Ok(out)
}

/// A part's bytes: the rows of `existing` (streamed batch by batch), then `rows`.
pub fn write(
    existing: Option<Bytes>,
    rows: &[&Row],
    row_group_rows: usize,
) -> Result<Vec<u8>, ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema(), Some(props))?;
    if let Some(body) = existing {
        let reader = ParquetRecordBatchReaderBuilder::try_new(body)?
            .with_batch_size(READ_BATCH)
            .build()?;
        for batch in reader {
            writer.write(&conform(batch?)?)?;
        }
    }
    for chunk in rows.chunks(READ_BATCH) {
        writer.write(&to_batch(chunk)?)?;
    }
    writer.into_inner()
}

/// A batch read back, under the schema of this build (same columns, same order).
fn conform(batch: RecordBatch) -> Result<RecordBatch, ParquetError> {
    let columns: Vec<_> = batch.columns().to_vec();
    RecordBatch::try_new(schema(), columns).map_err(|e| {
        ParquetError::General(format!(
            "a stored part does not have this build's columns ({e}); compact into a new prefix"
        ))
    })
}

/// Rows in a part (from its footer).
pub fn row_count(body: Bytes) -> Result<usize, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(body)?;
    Ok(usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// Every row of a part's chosen string column (tests and tools).
pub fn strings(body: Bytes, column: usize) -> Result<Vec<Option<String>>, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(body)?;
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [column]);
    let mut out = Vec::new();
    for batch in builder.with_projection(mask).build()? {
        let batch = batch?;
        let col = batch.column(0);
        let s = col
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| ParquetError::General("not a string column".into()))?;
        out.extend((0..s.len()).map(|i| s.is_valid(i).then(|| s.value(i).to_owned())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> Row {
        Row {
            id: id.into(),
            content_id: "b".into(),
            record: format!(r#"{{"Id":"{id}"}}"#),
            ..Row::default()
        }
    }

    #[test]
    fn appends_to_an_existing_part_and_finds_ids() {
        let (a, b, c) = (row("a"), row("b"), row("c"));
        let first = Bytes::from(write(None, &[&a, &b], 1).unwrap());
        let merged = Bytes::from(write(Some(first), &[&c], 1).unwrap());
        assert_eq!(row_count(merged.clone()).unwrap(), 3);
        let wanted: HashSet<&str> = ["b", "z"].into_iter().collect();
        let ids = ids_in(merged.clone(), &wanted).unwrap();
        assert_eq!(ids.rows, 3);
        assert_eq!(ids.present, ["b".to_owned()].into_iter().collect());
        let records = strings(merged, crate::schema::COLUMNS.len() - 1).unwrap();
        assert_eq!(records[2].as_deref(), Some(r#"{"Id":"c"}"#));
    }
}
