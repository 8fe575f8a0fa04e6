use super::*;

fn split_chunks(
    format: InputFormat,
    input: &[u8],
    chunk: usize,
) -> Result<Vec<String>, SplitError> {
    let mut s = Splitter::new(format, 1 << 20);
    let mut out = Vec::new();
    for c in input.chunks(chunk.max(1)) {
        s.push(c, &mut |r: &[u8]| -> Result<(), SplitError> {
            out.push(String::from_utf8_lossy(r).into_owned());
            Ok(())
        })?;
    }
    s.finish()?;
    Ok(out)
}

#[test]
fn splits_arrays_at_any_chunk_size() {
    let input = br#" [ {"a":"x}\"]{","b":[1,{"c":2}]} , {}
,{"d":"\\"} ] "#;
    for n in 1..input.len() + 1 {
        let recs = split_chunks(InputFormat::JsonArray, input, n).unwrap();
        assert_eq!(
            recs,
            vec![
                r#"{"a":"x}\"]{","b":[1,{"c":2}]}"#.to_owned(),
                "{}".to_owned(),
                r#"{"d":"\\"}"#.to_owned()
            ],
            "chunk {n}"
        );
    }
}

#[test]
fn ndjson_and_auto() {
    let input = b"{\"a\":1}\r\n\n{\"b\":\"\\n\"}\n";
    for f in [InputFormat::Ndjson, InputFormat::Auto] {
        for n in 1..5 {
            assert_eq!(split_chunks(f, input, n).unwrap().len(), 2);
        }
    }
    assert_eq!(split_chunks(InputFormat::Auto, b"  ", 1).unwrap().len(), 0);
    assert_eq!(split_chunks(InputFormat::Auto, b"[]", 1).unwrap().len(), 0);
    assert_eq!(split_chunks(InputFormat::Ndjson, b"", 1).unwrap().len(), 0);
}

#[test]
fn bom_is_accepted_once() {
    let mut input = BOM.to_vec();
    input.extend_from_slice(b"[{}]");
    for n in 1..4 {
        assert_eq!(
            split_chunks(InputFormat::JsonArray, &input, n)
                .unwrap()
                .len(),
            1
        );
    }
    assert!(split_chunks(InputFormat::JsonArray, &[0xEF, 0xBB, b'['], 1).is_err());
}

#[test]
fn clear_errors() {
    let err = |i: &[u8]| split_chunks(InputFormat::JsonArray, i, 3).unwrap_err();
    assert!(matches!(
        err(b"{}"),
        SplitError::Unexpected { offset: 0, .. }
    ));
    assert!(matches!(err(b""), SplitError::Truncated { .. }));
    assert!(matches!(
        err(b"[{}"),
        SplitError::Truncated { records: 1, .. }
    ));
    assert!(matches!(
        err(b"[{\"a\":\"}"),
        SplitError::Truncated { records: 0, .. }
    ));
    assert!(matches!(err(b"[{},]"), SplitError::Unexpected { .. }));
    assert!(matches!(err(b"[{} {}]"), SplitError::Unexpected { .. }));
    assert!(matches!(
        err(b"[{}] x"),
        SplitError::Unexpected { offset: 5, .. }
    ));
    assert!(matches!(
        err(b"[{},1]"),
        SplitError::NotAnObject { record: 2, .. }
    ));
    assert!(matches!(
        err(b"[\"x\"]"),
        SplitError::NotAnObject { record: 1, .. }
    ));
    assert!(matches!(
        split_chunks(InputFormat::Ndjson, b"{}\n[1]\n", 2).unwrap_err(),
        SplitError::NotAnObject { record: 2, .. }
    ));
    let e = err(b"nope").to_string();
    assert!(e.contains("a JSON array of objects"), "{e}");
}

#[test]
fn record_size_limit_applies_across_chunks() {
    let mut s = Splitter::new(InputFormat::JsonArray, 10);
    let mut sink = |_: &[u8]| -> Result<(), SplitError> { Ok(()) };
    s.push(b"[{\"a\":1},{\"bb", &mut sink).unwrap();
    assert!(matches!(
        s.push(b"bbbbbbbbbbbbbbb\":1}]", &mut sink),
        Err(SplitError::RecordTooLarge { record: 2, .. })
    ));
    let mut one = Splitter::new(InputFormat::JsonArray, 10);
    assert!(one.push(b"[{\"abcdefghijkl\":1}]", &mut sink).is_err());
}

#[test]
fn salvage_skips_bad_elements_at_any_chunk_size() {
    let input = br#"[{"a":1}, 7 ,"s,]\"",[1,[2,"]"]],{"big":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},true,{"b":2}]"#;
    for n in 1..input.len() + 1 {
        let mut s = Splitter::new(InputFormat::JsonArray, 24).salvage();
        let mut out = Vec::new();
        for c in input.chunks(n) {
            s.push(c, &mut |r: &[u8]| -> Result<(), SplitError> {
                out.push(String::from_utf8_lossy(r).into_owned());
                Ok(())
            })
            .unwrap();
        }
        s.finish().unwrap();
        assert_eq!(out, vec![r#"{"a":1}"#, r#"{"b":2}"#], "chunk {n}");
        assert_eq!(s.skipped(), 5, "chunk {n}");
        assert_eq!(s.records(), 7, "chunk {n}");
        assert!(s.first_skipped().unwrap().contains("record 2"));
    }
}

#[test]
fn salvage_still_refuses_a_broken_structure() {
    for bad in [
        &b"not json"[..],
        b"{\"a\":1}",
        b"[{\"a\":1},7",
        b"[{\"a\":1} {\"b\":2}]",
        b"[1,2,",
        b"",
    ] {
        let mut s = Splitter::new(InputFormat::JsonArray, 1 << 10).salvage();
        let res = s
            .push(bad, &mut |_: &[u8]| -> Result<(), SplitError> { Ok(()) })
            .and_then(|()| s.finish());
        assert!(res.is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn salvage_through_the_normalizer_counts_every_bad_record() {
    use crate::compression::Compression;
    use crate::normalize::{BlobNormalizer, Limits, Provenance};
    let prov = Provenance {
        tenant_id: None,
        content_type: None,
        content_id: None,
        content_created: None,
        fetched_at: chrono::Utc::now(),
    };
    let input = b"[{\"Id\":\"a\"},{\"Id\":\"\xff\"},{\"Id\":tru},{\"Id\":\"b\",\"_o365\":1},[],{\"Id\":\"c\"}]";
    for n in [1, 3, input.len()] {
        let mut norm = BlobNormalizer::new(
            &prov,
            Compression::Gzip { level: 1 },
            InputFormat::JsonArray,
            Limits::default(),
        )
        .unwrap()
        .salvage();
        for c in input.chunks(n) {
            norm.push(c).unwrap();
        }
        let (_, stats) = norm.finish().unwrap();
        assert_eq!((stats.records, stats.records_rejected), (2, 4), "chunk {n}");
        assert!(stats.first_rejection.unwrap().contains("record 2"));
    }
}
