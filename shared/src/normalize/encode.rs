//! Streaming compressors for the output lines (gzip via flate2/zlib-rs, zstd), writing into
//! an in-memory buffer the caller drains as it goes, so memory stays bounded.

use std::io::Write;

use crate::compression::Compression;

/// A compressor for one output object.
pub enum Encoder {
    /// gzip.
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    /// No compression: plain NDJSON (`o365ctl normalize` without `--gzip`).
    Plain(Vec<u8>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encoder::Gzip(_) => f.write_str("Encoder::Gzip"),
            Encoder::Zstd(_) => f.write_str("Encoder::Zstd"),
            Encoder::Plain(_) => f.write_str("Encoder::Plain"),
        }
    }
}

impl Encoder {
    /// A compressor for `compression`.
    pub fn new(compression: Compression) -> std::io::Result<Encoder> {
        Ok(match compression {
            Compression::Gzip { level } => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(level.min(9)),
            )),
            Compression::Zstd { level } => {
                Encoder::Zstd(zstd::stream::write::Encoder::new(Vec::new(), level)?)
            }
        })
    }

    /// A pass-through "encoder" for uncompressed output.
    pub fn plain() -> Encoder {
        Encoder::Plain(Vec::new())
    }

    /// Compresses `data`.
    pub fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
            Encoder::Plain(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// Takes the compressed bytes produced so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        match self {
            Encoder::Gzip(e) => std::mem::take(e.get_mut()),
            Encoder::Zstd(e) => std::mem::take(e.get_mut()),
            Encoder::Plain(v) => std::mem::take(v),
        }
    }

    /// Compressed bytes produced and not yet taken.
    pub fn pending_output(&self) -> usize {
        match self {
            Encoder::Gzip(e) => e.get_ref().len(),
            Encoder::Zstd(e) => e.get_ref().len(),
            Encoder::Plain(v) => v.len(),
        }
    }

    /// Ends the stream and returns the remaining compressed bytes.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Plain(v) => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn both_codecs_round_trip_when_drained_midway() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for c in [
            Compression::Gzip { level: 6 },
            Compression::Zstd { level: 1 },
        ] {
            let mut e = Encoder::new(c).unwrap();
            let mut out = Vec::new();
            for part in data.chunks(7777) {
                e.write_all(part).unwrap();
                out.extend(e.take_output());
            }
            out.extend(e.finish().unwrap());
            let mut back = Vec::new();
            match c {
                Compression::Gzip { .. } => {
                    flate2::read::GzDecoder::new(&out[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                Compression::Zstd { .. } => {
                    back = zstd::stream::decode_all(&out[..]).unwrap();
                }
            }
            assert_eq!(back, data, "{c}");
        }
    }

    #[test]
    fn plain_passes_bytes_through_when_drained_midway() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut e = Encoder::plain();
        let mut out = Vec::new();
        for part in data.chunks(7777) {
            e.write_all(part).unwrap();
            out.extend(e.take_output());
        }
        out.extend(e.finish().unwrap());
        assert_eq!(out, data);
    }
}
