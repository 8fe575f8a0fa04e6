//! OCSF 1.1.0 for Amazon Security Lake: maps the collector's stored audit records (output
//! lines: the source record plus `_o365`) to OCSF events, one class per record, and writes
//! them as Parquet in Security Lake's custom-source layout. The mapping table is
//! `docs/ocsf.md`; the required attributes it is checked against are derived from the OCSF
//! schema in `schema/required-1.1.0.json`.

pub mod class;
mod classes;
pub mod classify;
pub mod columns;
pub mod event;
pub mod export;
mod fields;
pub mod lake;
pub mod parquet_file;

pub use class::{OcsfClass, OCSF_VERSION};
pub use event::{map_line, map_record, MapError, OcsfEvent};
pub use export::{export, ExportError, ExportReport};
pub use lake::{LakeTarget, LakeTargetError};
pub use parquet_file::{write_parquet, ParquetError};
