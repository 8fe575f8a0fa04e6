//! OCSF events of one class to one Parquet file: decoded from JSON into the class's explicit
//! Arrow schema (unknown members are an error, never dropped), sorted by time, Snappy.

use arrow_json::ReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::class::OcsfClass;
use crate::columns::schema;
use crate::event::OcsfEvent;

/// Rows per Arrow batch (and at most per row group write).
const BATCH_ROWS: usize = 8192;

/// Events that could not be written as Parquet.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// An event of another class was given.
    #[error("a {found:?} event in a {expected:?} file: one class per file")]
    MixedClasses {
        /// The file's class.
        expected: OcsfClass,
        /// The event's.
        found: OcsfClass,
    },
    /// The event does not fit the class's Arrow schema (a mapping bug).
    #[error("an event does not fit the {class:?} schema: {source}")]
    Arrow {
        /// The class.
        class: OcsfClass,
        /// The decoder's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The Parquet encoder failed.
    #[error("cannot encode Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// Encodes `events` (all of `class`) as one Parquet file, rows in time order.
pub fn write_parquet(class: OcsfClass, events: &mut [OcsfEvent]) -> Result<Vec<u8>, ParquetError> {
    if let Some(e) = events.iter().find(|e| e.class != class) {
        return Err(ParquetError::MixedClasses {
            expected: class,
            found: e.class,
        });
    }
    events.sort_by_key(|e| e.time);
    let arrow = |source| ParquetError::Arrow { class, source };
    let sc = schema(class);
    let mut decoder = ReaderBuilder::new(sc.clone())
        .with_strict_mode(true)
        .with_batch_size(BATCH_ROWS)
        .build_decoder()
        .map_err(arrow)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), sc, Some(props))?;
    for chunk in events.chunks(BATCH_ROWS) {
        let rows: Vec<&serde_json::Value> = chunk.iter().map(|e| &e.event).collect();
        decoder.serialize(&rows).map_err(arrow)?;
        if let Some(batch) = decoder.flush().map_err(arrow)? {
            writer.write(&batch)?;
        }
    }
    Ok(writer.into_inner()?)
}
