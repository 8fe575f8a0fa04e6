//! Measures how many records a minute the simulator serves: lists every blob of every content
//! type over a window and downloads each one with a few concurrent connections, in-process
//! (so the figure includes the client's own work and is a lower bound).
//!
//! `cargo run --release -p o365-sim --example throughput -- [records_per_hour_per_type] [hours] [concurrency]`

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use o365_sim::{ContentType, Scenario, SimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (rph, hours, concurrency) = (arg(0, 200_000), arg(1, 2).clamp(1, 23), arg(2, 8) as usize);
    let clock_start =
        chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")?.with_timezone(&chrono::Utc);
    let config = SimConfig {
        clock_start,
        clock_speed: 0.0,
        // A day more than the window, so every blob created in the window has been generated.
        history: Duration::from_secs(hours * 3600 + 86_400),
        records_per_hour: u32::try_from(rph)?,
        throttle_per_minute: u32::MAX,
        scenarios: vec![Scenario::parse("already-enabled")?],
        ..SimConfig::default()
    };
    let t = Instant::now();
    let sim = o365_sim::start(config).await?;
    println!(
        "start-up (planning {} h of history): {:.2?}",
        hours + 24,
        t.elapsed()
    );
    let base = sim.base_url();
    let tenant = o365_sim::DEFAULT_TENANT_ID;
    let http = reqwest::Client::new();
    let token = sim.access_token(tenant);
    let start = (clock_start - chrono::Duration::hours(hours as i64)).format("%Y-%m-%dT%H:%M:%S");
    let end = clock_start.format("%Y-%m-%dT%H:%M:%S");

    let t = Instant::now();
    let mut uris = Vec::new();
    for ct in ContentType::ALL {
        let mut url = format!("{base}/api/v1.0/{tenant}/activity/feed/subscriptions/content?contentType={ct}&startTime={start}&endTime={end}");
        loop {
            let r = http.get(&url).bearer_auth(&token).send().await?;
            if !r.status().is_success() {
                bail!("listing answered {}", r.status());
            }
            let next = r
                .headers()
                .get("NextPageUri")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let page: Vec<serde_json::Value> = r.json().await?;
            uris.extend(
                page.iter()
                    .filter_map(|e| e["contentUri"].as_str().map(str::to_string)),
            );
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
    }
    let listing = t.elapsed();
    let ledger = sim.ledger();
    let records: usize = ledger
        .published
        .iter()
        .filter(|b| uris.iter().any(|u| u.ends_with(&b.content_id)))
        .map(|b| b.record_count)
        .sum();

    for pass in [
        "first download (renders bodies)",
        "second download (cached bodies)",
    ] {
        let t = Instant::now();
        let bytes: usize = futures::stream::iter(uris.iter())
            .map(|u| {
                let (http, token) = (http.clone(), token.clone());
                async move {
                    let r = http
                        .get(u)
                        .bearer_auth(token)
                        .send()
                        .await
                        .context("download")?;
                    anyhow::Ok(r.bytes().await?.len())
                }
            })
            .buffer_unordered(concurrency)
            .fold(0usize, |acc, n| async move { acc + n.unwrap_or(0) })
            .await;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{pass}: {} blobs, {records} records, {:.1} MB in {secs:.2} s = {:.0} records/min, {:.1} MB/s",
            uris.len(),
            bytes as f64 / 1e6,
            records as f64 / secs * 60.0,
            bytes as f64 / 1e6 / secs
        );
    }
    println!("listing {} blobs took {listing:.2?}", uris.len());
    sim.shutdown().await;
    Ok(())
}
