//! The stored NDJSON objects of a pair that are not compacted yet, and their lines.

use std::io::{BufRead, BufReader, Read};

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use o365_activity::keys::{Codec, DataKey, KeyLayout, ObjectKey, PairKey};
use o365_activity::store::{ObjectStore, StoreError};

use crate::state::CompactState;

/// A stored blob waiting to be compacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Its full key.
    pub key: String,
    /// The key, parsed.
    pub data: DataKey,
}

/// Days past the run's date still listed once dates are sealed (a clock a little behind the
/// fetcher's); later dates are listed by the runs whose clock reaches them.
const LIST_AHEAD_DAYS: i64 = 2;

/// The pair's stored blobs not in `state`, sorted by key. Until a date is sealed, the whole
/// pair is listed; afterwards only the dates from `sealed_before` to the run's date.
pub async fn pending<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
    pair: &PairKey,
    state: &CompactState,
    now: DateTime<Utc>,
) -> Result<Vec<Pending>, StoreError> {
    let keys = match state.sealed_before {
        None => {
            store
                .list(&layout.data_prefix(&pair.tenant_id, pair.content_type))
                .await?
        }
        Some(from) => {
            let mut keys = Vec::new();
            let until = now
                .date_naive()
                .checked_add_signed(TimeDelta::days(LIST_AHEAD_DAYS))
                .unwrap_or(from);
            let mut day = from;
            while day <= until {
                keys.extend(store.list(&layout.data_date_prefix(pair, day)).await?);
                let Some(next) = day.succ_opt() else { break };
                day = next;
            }
            keys
        }
    };
    let mut out: Vec<Pending> = keys
        .into_iter()
        .filter_map(|key| match layout.parse(&key) {
            Some(ObjectKey::Data(data)) if !state.is_done(data.date, &data.content_id) => {
                Some(Pending { key, data })
            }
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The non-empty lines of a stored object, decompressed as its key says. Streaming: one line
/// is held at a time beside the compressed body.
pub fn lines(
    body: Bytes,
    codec: Codec,
) -> std::io::Result<impl Iterator<Item = std::io::Result<Vec<u8>>>> {
    let reader: Box<dyn Read> = match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(std::io::Cursor::new(
            body,
        ))),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(std::io::Cursor::new(
            body,
        ))?),
    };
    Ok(BufReader::with_capacity(64 * 1024, reader)
        .split(b'\n')
        .filter(|l| !matches!(l, Ok(l) if l.iter().all(u8::is_ascii_whitespace))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_of_both_codecs() {
        let text = b"{\"a\":1}\n\n{\"b\":2}\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        let gz = Bytes::from(gz.finish().unwrap());
        let zs = Bytes::from(zstd::encode_all(&text[..], 1).unwrap());
        for (body, codec) in [(gz, Codec::Gzip), (zs, Codec::Zstd)] {
            let got: Vec<Vec<u8>> = lines(body, codec).unwrap().map(|l| l.unwrap()).collect();
            assert_eq!(got, [b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
        }
        let broken = Bytes::from_static(b"\x1f\x8b\x08\x00garbage");
        assert!(lines(broken, Codec::Gzip).unwrap().any(|l| l.is_err()));
    }
}
