//! Realistic blobs for benchmarks, made by the simulator's own record generator (generated and
//! real fixture records of all five content types, interleaved), cut to a target size.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use o365_sim::{ContentType, SimConfig, TenantSpec, DEFAULT_TENANT_ID};
use serde_json::value::RawValue;

/// Why a blob could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The simulator did not start.
    #[error("starting o365-sim: {0}")]
    Sim(#[from] o365_sim::SimError),
    /// A download from the simulator failed.
    #[error("downloading a blob from o365-sim: {0}")]
    Http(#[from] reqwest::Error),
    /// The simulator served something that is not a JSON array.
    #[error("o365-sim served a blob that is not a JSON array: {0}")]
    Json(#[from] serde_json::Error),
    /// The simulator produced fewer bytes than asked for.
    #[error("o365-sim produced only {got} bytes of records, {want} were asked for")]
    TooSmall {
        /// Bytes produced.
        got: usize,
        /// Bytes asked for.
        want: usize,
    },
}

/// A JSON array of about `target` bytes of records from every content type, interleaved.
pub async fn generate(target: usize, seed: u64) -> Result<Vec<u8>, BlobError> {
    // Average record size is about 1 KB; ask for more until the simulator made enough.
    let mut per_hour = ((target / 1000) as u64 / 5).max(50) as u32;
    let mut last = 0;
    for _ in 0..5 {
        match generate_with(target, seed, per_hour).await {
            Err(BlobError::TooSmall { got, .. }) => {
                last = got;
                let scale = (target as f64 / got.max(1) as f64 * 1.3).clamp(1.5, 20.0);
                per_hour = (f64::from(per_hour) * scale) as u32;
            }
            other => return other,
        }
    }
    Err(BlobError::TooSmall {
        got: last,
        want: target,
    })
}

async fn generate_with(target: usize, seed: u64, per_hour: u32) -> Result<Vec<u8>, BlobError> {
    let hours = 3u64;
    let mut tenant = TenantSpec::new(DEFAULT_TENANT_ID);
    tenant.enabled_types = ContentType::ALL.to_vec();
    let config = SimConfig {
        tenants: vec![tenant],
        seed,
        clock_start: Utc
            .with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
            .single()
            .unwrap_or_default(),
        clock_speed: 0.0,
        history: Duration::from_secs(hours * 3600),
        records_per_hour: per_hour,
        blob_window: Duration::from_secs(3600),
        max_records_per_blob: 10_000_000,
        throttle_per_minute: 1_000_000,
        ..SimConfig::default()
    };
    let sim = o365_sim::start(config).await?;
    let token = sim.access_token(DEFAULT_TENANT_ID);
    let http = reqwest::Client::new();
    let mut per_type: Vec<Vec<Box<RawValue>>> = Vec::new();
    let ledger = sim.ledger();
    for ct in ContentType::ALL {
        let mut records = Vec::new();
        for blob in ledger.published_for(DEFAULT_TENANT_ID, ct.as_str()) {
            let body = http
                .get(&blob.content_uri)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            let recs: Vec<Box<RawValue>> = serde_json::from_slice(&body)?;
            records.extend(recs);
        }
        per_type.push(records);
    }
    sim.shutdown().await;
    let mut out = Vec::with_capacity(target + 4096);
    out.push(b'[');
    let mut i = 0usize;
    let longest = per_type.iter().map(Vec::len).max().unwrap_or(0);
    'fill: while i < longest {
        for recs in &per_type {
            if let Some(r) = recs.get(i) {
                if out.len() > 1 {
                    out.push(b',');
                }
                out.extend_from_slice(r.get().as_bytes());
                if out.len() + 1 >= target {
                    break 'fill;
                }
            }
        }
        i += 1;
    }
    out.push(b']');
    if out.len() < target {
        return Err(BlobError::TooSmall {
            got: out.len(),
            want: target,
        });
    }
    Ok(out)
}
