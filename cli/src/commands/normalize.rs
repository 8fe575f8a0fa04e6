//! `o365ctl normalize FILE...`: blob or NDJSON files in, normalized NDJSON out, through the
//! fetcher's own normalizer (`o365_activity::normalize::BlobNormalizer`).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use o365_activity::compression::Compression;
use o365_activity::message::is_valid_content_id;
use o365_activity::normalize::{BlobNormalizer, InputFormat, Limits, Provenance};
use o365_activity::{ContentType, TenantId};

use crate::args::NormalizeArgs;
use crate::exit::{CmdResult, Code, Failure};

/// Input is read in chunks of this size, so memory stays bounded whatever the file size.
const CHUNK: usize = 256 << 10;

/// Runs `o365ctl normalize`.
pub async fn run(args: NormalizeArgs) -> CmdResult {
    // Blocking file I/O and CPU work: keep it off the async workers.
    tokio::task::spawn_blocking(move || normalize_files(&args))
        .await
        .map_err(|e| Failure::from(anyhow::anyhow!("normalize task failed: {e}")))?
}

fn normalize_files(args: &NormalizeArgs) -> CmdResult {
    let tenant_id: TenantId = args.tenant_id.parse().map_err(Failure::usage)?;
    let content_type: ContentType = args.content_type.parse().map_err(Failure::usage)?;
    if let Some(id) = &args.content_id {
        if !is_valid_content_id(id) {
            return Err(Failure::usage(anyhow::anyhow!(
                "--content-id {id:?} is not a content id: 1..=512 letters, digits and $ _ . -"
            )));
        }
    }
    let format = match args.format.as_str() {
        "json-array" => InputFormat::JsonArray,
        "ndjson" => InputFormat::Ndjson,
        _ => InputFormat::Auto,
    };
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(File::create(path).map_err(
            |e| Failure::usage(anyhow::anyhow!("cannot create {}: {e}", path.display())),
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut failed = 0usize;
    let mut records = 0u64;
    for file in &args.files {
        let provenance = Provenance {
            tenant_id: Some(tenant_id.clone()),
            content_type: Some(content_type),
            content_id: Some(
                args.content_id
                    .clone()
                    .unwrap_or_else(|| content_id_from_path(file)),
            ),
            content_created: None,
            fetched_at: chrono::Utc::now(),
        };
        // Each file is its own gzip member; concatenated members are one valid gzip stream.
        let normalizer = if args.gzip {
            BlobNormalizer::new(
                &provenance,
                Compression::default(),
                format,
                Limits::default(),
            )
            .map_err(|e| anyhow::anyhow!("cannot start the compressor: {e}"))?
        } else {
            BlobNormalizer::uncompressed(&provenance, format, Limits::default())
        };
        match normalize_one(file, normalizer, &mut out) {
            Ok(n) => {
                records += n;
                tracing::info!(file = %file.display(), records = n, "normalized");
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e:#}", file.display());
            }
        }
    }
    out.flush().context("writing the output")?;
    tracing::info!(records, files = args.files.len(), failed, "done");
    if failed == 0 {
        Ok(Code::Ok)
    } else {
        Ok(Code::Partial)
    }
}

/// Streams one file through the normalizer into `out`; returns the record count.
fn normalize_one(
    path: &Path,
    mut normalizer: BlobNormalizer,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut input: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(path).with_context(|| "cannot open the file")?)
    };
    let mut buf = vec![0u8; CHUNK];
    // Output is buffered per file so a file that fails halfway writes nothing partial.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = input.read(&mut buf).context("reading")?;
        if n == 0 {
            break;
        }
        normalizer.push(&buf[..n])?;
        pending.extend_from_slice(&normalizer.take_output());
    }
    let (rest, stats) = normalizer.finish()?;
    pending.extend_from_slice(&rest);
    out.write_all(&pending).context("writing the output")?;
    Ok(stats.records)
}

/// The file name without its extensions, as a content id (`blob.json` gives `blob`).
fn content_id_from_path(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default().to_owned();
    if path != Path::new("-") && is_valid_content_id(&stem) {
        stem
    } else {
        "stdin".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ids_from_file_names() {
        assert_eq!(content_id_from_path(Path::new("/x/blob.json")), "blob");
        assert_eq!(
            content_id_from_path(Path::new("a$b$audit_general.ndjson.gz")),
            "a$b$audit_general"
        );
        assert_eq!(content_id_from_path(Path::new("-")), "stdin");
        assert_eq!(content_id_from_path(Path::new("with space.json")), "stdin");
    }
}
