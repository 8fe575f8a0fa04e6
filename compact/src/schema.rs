//! The Parquet schema of the compacted rows (the contract the Glue table and the named queries
//! read), and the conversion of rows to Arrow record batches.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::ArrowError;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};

use crate::row::Row;

/// Columns in file order. `tenant_id`, `content_type` and `event_date` are not in the files:
/// they are the Hive partition columns of the path.
pub const COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("event_time", Kind::Time),
    ("record_type_id", Kind::Long),
    ("record_type", Kind::Text),
    ("operation", Kind::Text),
    ("user_id", Kind::Text),
    ("user_type_id", Kind::Long),
    ("user_type", Kind::Text),
    ("workload", Kind::Text),
    ("client_ip", Kind::Text),
    ("client_port", Kind::Int),
    ("result_status", Kind::Text),
    ("outcome", Kind::Text),
    ("object_id", Kind::Text),
    ("organization_id", Kind::Text),
    ("content_id", Kind::Text),
    ("content_created", Kind::Time),
    ("fetched_at", Kind::Time),
    ("collector_version", Kind::Text),
    ("o365", Kind::Text),
    ("record", Kind::Text),
];

/// The index of `id` in [`COLUMNS`] (read alone to find what a part already holds).
pub const ID_COLUMN: usize = 0;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 string.
    Text,
    /// Timestamp, microseconds, UTC.
    Time,
    /// 64-bit integer.
    Long,
    /// 32-bit integer.
    Int,
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Long => DataType::Int64,
            Kind::Int => DataType::Int32,
        }
    }
}

/// The Arrow schema of a part (`id` and `record` are never null).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|(name, kind)| {
                let required = matches!(*name, "id" | "record" | "content_id");
                Field::new(*name, kind.data_type(), !required)
            })
            .collect::<Vec<_>>(),
    ))
}

fn micros(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_micros())
}

/// Rows as one record batch of [`schema`].
pub fn to_batch(rows: &[&Row]) -> Result<RecordBatch, ArrowError> {
    let text = |f: fn(&Row) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<StringArray>())
    };
    let time = |f: fn(&Row) -> Option<DateTime<Utc>>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|r| micros(f(r)))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        )
    };
    let long = |f: fn(&Row) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<Int64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        text(|r| Some(&r.id)),
        time(|r| r.event_time),
        long(|r| r.record_type_id),
        text(|r| r.record_type.as_deref()),
        text(|r| r.operation.as_deref()),
        text(|r| r.user_id.as_deref()),
        long(|r| r.user_type_id),
        text(|r| r.user_type.as_deref()),
        text(|r| r.workload.as_deref()),
        text(|r| r.client_ip.as_deref()),
        Arc::new(rows.iter().map(|r| r.client_port).collect::<Int32Array>()),
        text(|r| r.result_status.as_deref()),
        text(|r| r.outcome.as_deref()),
        text(|r| r.object_id.as_deref()),
        text(|r| r.organization_id.as_deref()),
        text(|r| Some(&r.content_id)),
        time(|r| r.content_created),
        time(|r| r.fetched_at),
        text(|r| r.collector_version.as_deref()),
        text(|r| r.o365.as_deref()),
        text(|r| Some(&r.record)),
    ];
    RecordBatch::try_new(schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_follows_the_column_list() {
        let row = Row {
            id: "a".into(),
            client_port: Some(443),
            record: "{}".into(),
            content_id: "b".into(),
            ..Row::default()
        };
        let batch = to_batch(&[&row]).unwrap();
        assert_eq!(batch.num_columns(), COLUMNS.len());
        for (i, (name, _)) in COLUMNS.iter().enumerate() {
            assert_eq!(batch.schema().field(i).name(), name);
        }
        assert_eq!(batch.num_rows(), 1);
    }
}
