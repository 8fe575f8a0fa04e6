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
    let given: Option<ContentType> = args
        .content_type
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(Failure::usage)?;
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
        let (head, input) = match open_and_peek(file) {
            Ok(x) => x,
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e:#}", file.display());
                continue;
            }
        };
        let content_type = match given.map_or_else(|| infer_content_type(&head), Ok) {
            Ok(ct) => ct,
            Err(why) => {
                tracing::warn!("{}: {why}; labelled Audit.General", file.display());
                ContentType::General
            }
        };
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
        match normalize_one(input, normalizer, &mut out) {
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

/// Opens a file (`-`: stdin) and reads its first chunk, which is returned with a reader that
/// yields the whole input again (the chunk, then the rest).
fn open_and_peek(path: &Path) -> anyhow::Result<(Vec<u8>, Box<dyn Read>)> {
    let mut input: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| anyhow::anyhow!("cannot open the file: {e}"))?)
    };
    let mut head = Vec::with_capacity(CHUNK);
    (&mut input)
        .take(CHUNK as u64)
        .read_to_end(&mut head)
        .map_err(|e| anyhow::anyhow!("cannot read the file: {e}"))?;
    if let Some(first) = head.iter().find(|b| !b.is_ascii_whitespace()) {
        if !matches!(first, b'[' | b'{') {
            anyhow::bail!(
                "not JSON: a blob is a JSON array of records and NDJSON is one JSON object per line, but this input starts with {:?}",
                char::from(*first)
            );
        }
    }
    let replay: Box<dyn Read> = Box::new(std::io::Cursor::new(head.clone()).chain(input));
    Ok((head, replay))
}

/// The content type of a blob, from the `RecordType` of its first record (the way the API
/// sorts records into feeds); an error saying to give `--content-type` when it cannot tell.
fn infer_content_type(head: &[u8]) -> Result<ContentType, String> {
    const ASK: &str = "give --content-type";
    let text = String::from_utf8_lossy(head);
    let body = text.trim_start();
    let body = body.strip_prefix('[').unwrap_or(body).trim_start();
    if body.is_empty() || body.starts_with(']') {
        // No record: nothing gets labelled, any type will do.
        return Ok(ContentType::General);
    }
    let first = serde_json::Deserializer::from_str(body)
        .into_iter::<serde_json::Value>()
        .next();
    let record = match first {
        Some(Ok(v)) => v,
        None => return Ok(ContentType::General),
        Some(Err(_)) => {
            return Err(format!(
                "the first record could not be read to infer the content type: {ASK}"
            ))
        }
    };
    let record_type = match &record["RecordType"] {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let Some(n) = record_type else {
        return Err(format!(
            "the first record has no RecordType, so its content type cannot be inferred: {ASK}"
        ));
    };
    Ok(content_type_of_record_type(n))
}

/// The feed a record type is served in: the Exchange, SharePoint, Azure AD and DLP record
/// types have their own; every other type is `Audit.General`.
fn content_type_of_record_type(n: i64) -> ContentType {
    match n {
        11 | 13 | 33 | 63 | 99 | 100 | 107 => ContentType::DlpAll,
        1 | 2 | 3 | 19 | 50 => ContentType::Exchange,
        4 | 6 | 14 | 36 | 37 | 54 | 55 | 56 => ContentType::SharePoint,
        8 | 9 | 15 => ContentType::AzureActiveDirectory,
        _ => ContentType::General,
    }
}

/// Streams one input through the normalizer into `out`; returns the record count.
fn normalize_one(
    mut input: Box<dyn Read>,
    mut normalizer: BlobNormalizer,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
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

    #[test]
    fn content_types_from_record_types() {
        let infer = |s: &str| infer_content_type(s.as_bytes());
        assert_eq!(
            infer(r#"[{"RecordType":2,"Workload":"Exchange"},{"RecordType":8}]"#),
            Ok(ContentType::Exchange)
        );
        assert_eq!(infer(r#"{"RecordType":6}"#), Ok(ContentType::SharePoint));
        assert_eq!(
            infer(r#"{"RecordType":"15"}"#),
            Ok(ContentType::AzureActiveDirectory)
        );
        assert_eq!(infer(r#"{"RecordType":13}"#), Ok(ContentType::DlpAll));
        assert_eq!(infer(r#"{"RecordType":25}"#), Ok(ContentType::General));
        assert_eq!(infer(" [ ] "), Ok(ContentType::General));
        for cannot in [r#"[{"Id":"x"}]"#, r#"[{"RecordType":2"#] {
            assert!(
                infer(cannot).unwrap_err().contains("--content-type"),
                "{cannot}"
            );
        }
    }
}
