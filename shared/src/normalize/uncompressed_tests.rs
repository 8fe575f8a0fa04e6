use super::*;

#[test]
fn uncompressed_output_equals_the_decompressed_gzip_output() {
    let prov = Provenance {
        tenant_id: None,
        content_type: Some(ContentType::General),
        content_id: Some("c1".into()),
        content_created: None,
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
    };
    let input = br#"[{"Id":"a","CreationTime":"2026-03-01T04:41:07","RecordType":8},{"Id":"b"}]"#;
    let mut plain = BlobNormalizer::uncompressed(&prov, InputFormat::Auto, Limits::default());
    plain.push(&input[..10]).unwrap();
    let mut out = plain.take_output().to_vec();
    plain.push(&input[10..]).unwrap();
    let (rest, stats) = plain.finish().unwrap();
    out.extend_from_slice(&rest);
    assert_eq!(stats.records, 2);
    assert_eq!(stats.bytes_out, out.len() as u64);
    let (gz, _) = normalize_bytes(
        input,
        &prov,
        Compression::default(),
        InputFormat::Auto,
        Limits::default(),
    )
    .unwrap();
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
    assert_eq!(out, back);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
}
