//! `o365-e2e-bench`: the parts of `make bench` that are not criterion benches. Each subcommand
//! prints one JSON object on stdout for `scripts/bench.sh` to collect.
//!
//! - `gen-blob BYTES FILE [SEED]`: a realistic blob from the simulator's record generator.
//! - `cold-start PACKAGE BIN [RUNS]`: process start to the first Runtime API poll of a Lambda binary.
//! - `e2e RECORDS [OUT]`: sim + moto + lister + fetcher harness, throughput and resources.
//! - `fetch-blob FILE`: peak RSS of the real `o365-fetcher` handling one (big) blob.
//! - `fetch-batch BLOBS MIB [MEMORY_MB [CONCURRENCY]]`: peak RSS of the real `o365-fetcher` handling one batch
//!   of BLOBS blobs, each holding one record of MIB MiB (the bounded-memory check of issue 13).

use std::time::Duration;

use anyhow::{bail, Context};
use o365_e2e::lambda_process::{peak_rss_kib, LambdaProcess};
use o365_e2e::runtime_api::RuntimeApi;

async fn gen_blob(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let (Some(bytes), Some(file)) = (args.first(), args.get(1)) else {
        bail!("usage: gen-blob BYTES FILE [SEED]");
    };
    let bytes: usize = bytes.parse().context("BYTES must be a whole number")?;
    let seed: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(7);
    let blob = o365_e2e::blobs::generate(bytes, seed).await?;
    std::fs::write(file, &blob).with_context(|| format!("writing {file}"))?;
    let records = serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&blob)?.len();
    Ok(serde_json::json!({ "file": file, "bytes": blob.len(), "records": records }))
}

async fn cold_start(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let (Some(package), Some(bin)) = (args.first(), args.get(1)) else {
        bail!("usage: cold-start PACKAGE BIN [RUNS]");
    };
    let runs: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let path = o365_e2e::lambda_process::binary(package, bin).await?;
    let logs = o365_e2e::logs::LogBuffer::default();
    let moto = o365_activity::testing::MotoServer::start().await?;
    let sim = o365_e2e::world::start_sim(o365_sim::SimConfig::default()).await?;
    let queue = moto
        .create_queue("bench-cold-start", Duration::from_secs(30))
        .await?;
    let env = o365_e2e::world::lambda_env(&moto, &sim, "bench-cold-start", Some(queue.url()));
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let api = RuntimeApi::start(bin).await?;
        let p = LambdaProcess::start(&path, bin, &api, &env, &logs).await?;
        times.push(p.cold_start.as_secs_f64() * 1000.0);
        if let Some(kib) = p.pid().and_then(peak_rss_kib) {
            rss.push(kib);
        }
        p.kill().await;
    }
    sim.shutdown().await;
    times.sort_by(f64::total_cmp);
    let size = std::fs::metadata(&path)?.len();
    Ok(serde_json::json!({
        "bin": bin,
        "path": path,
        "runs": runs,
        "cold_start_ms_median": times.get(times.len() / 2),
        "cold_start_ms_min": times.first(),
        "cold_start_ms_max": times.last(),
        "idle_rss_kib": rss.iter().max(),
        "binary_bytes": size,
    }))
}

async fn e2e(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let records: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let report = o365_e2e::world::throughput(records, Duration::from_secs(1800)).await?;
    let value = serde_json::to_value(report)?;
    if let Some(out) = args.get(1) {
        std::fs::write(out, value.to_string()).with_context(|| format!("writing {out}"))?;
    }
    Ok(value)
}

/// The real `o365-fetcher` handling one big blob end to end; its peak RSS and CPU time.
async fn fetch_blob(args: &[String]) -> anyhow::Result<serde_json::Value> {
    use o365_e2e::runtime_api::InvocationResult;
    let Some(file) = args.first() else {
        bail!("usage: fetch-blob FILE");
    };
    let body = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let mut config = o365_e2e::world::WorldConfig::default();
    config.sim.clock_start = chrono::Utc::now();
    config.sim.clock_speed = 1.0;
    config.sim.history = Duration::from_secs(0);
    let world = o365_e2e::world::World::start(config).await?;
    let blob = world.sim.try_publish_blob(
        o365_sim::DEFAULT_TENANT_ID,
        "Audit.General",
        body.clone(),
        Vec::new(),
    )?;
    let message = o365_e2e::world::message_for(&blob)?;
    world.source.send_raw(&[message.to_json()]).await?;
    let delivery = world
        .source
        .receive()
        .await?
        .context("the message did not arrive")?;
    let path = o365_e2e::lambda_process::binary("o365-fetcher", "o365-fetcher").await?;
    let api = RuntimeApi::start("o365-fetcher").await?;
    let env = o365_e2e::world::lambda_env(&world.moto, &world.sim, world.store.bucket(), None);
    let p = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &world.logs).await?;
    let idle = p.pid().and_then(peak_rss_kib);
    let t = std::time::Instant::now();
    let res = api
        .invoke(&delivery.event, Duration::from_secs(600))
        .await?;
    let seconds = t.elapsed().as_secs_f64();
    let peak = p.pid().and_then(peak_rss_kib);
    let cpu = p.pid().and_then(o365_e2e::world::cpu_seconds);
    p.kill().await;
    let ok = matches!(&res, InvocationResult::Response(v) if o365_e2e::event_source::failed_ids(v).is_ok_and(|f| f.is_empty()));
    Ok(serde_json::json!({
        "input_bytes": body.len(),
        "ok": ok,
        "response": format!("{res:?}").chars().take(300).collect::<String>(),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "idle_rss_kib": idle,
        "peak_rss_kib": peak,
    }))
}

/// The real `o365-fetcher` handling one batch of blobs that each hold one big record.
async fn fetch_batch(args: &[String]) -> anyhow::Result<serde_json::Value> {
    use o365_e2e::runtime_api::InvocationResult;
    let (Some(blobs), Some(mib)) = (args.first(), args.get(1)) else {
        bail!("usage: fetch-batch BLOBS MIB [MEMORY_MB [CONCURRENCY]]");
    };
    let blobs: usize = blobs.parse().context("BLOBS must be a whole number")?;
    let mib: usize = mib.parse().context("MIB must be a whole number")?;
    let memory_mb = args.get(2).cloned();
    let concurrency = args.get(3).cloned();
    let sample = o365_e2e::blobs::generate(4096, 11).await?;
    let mut records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&sample)?;
    let mut record = records.pop().context("the generator made no record")?;
    let pad = mib
        .checked_mul(1 << 20)
        .context("MIB is too large")?
        .saturating_sub(4096);
    record.insert("Padding".to_owned(), "x".repeat(pad).into());
    let body = serde_json::to_vec(&[record])?;
    let mut config = o365_e2e::world::WorldConfig::default();
    config.sim.clock_start = chrono::Utc::now();
    config.sim.clock_speed = 1.0;
    config.sim.history = Duration::from_secs(0);
    let world = o365_e2e::world::World::start(config).await?;
    let mut messages = Vec::new();
    for _ in 0..blobs {
        let blob = world.sim.try_publish_blob(
            o365_sim::DEFAULT_TENANT_ID,
            "Audit.General",
            body.clone(),
            Vec::new(),
        )?;
        messages.push(o365_e2e::world::message_for(&blob)?.to_json());
    }
    world.source.send_raw(&messages).await?;
    let mut records = Vec::new();
    while records.len() < blobs {
        let delivery = world
            .source
            .receive()
            .await?
            .context("the messages did not arrive")?;
        if let Some(r) = delivery.event["Records"].as_array() {
            records.extend(r.iter().cloned());
        }
    }
    let event = serde_json::json!({ "Records": records });
    let path = o365_e2e::lambda_process::binary("o365-fetcher", "o365-fetcher").await?;
    let api = RuntimeApi::start("o365-fetcher").await?;
    let mut env = o365_e2e::world::lambda_env(&world.moto, &world.sim, world.store.bucket(), None);
    if let Some(mb) = memory_mb {
        env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(), mb));
    }
    if let Some(n) = concurrency {
        env.push(("MAX_CONCURRENCY".to_owned(), n));
    }
    let p = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &world.logs).await?;
    let idle = p.pid().and_then(peak_rss_kib);
    let t = std::time::Instant::now();
    let res = api.invoke(&event, Duration::from_secs(600)).await?;
    let seconds = t.elapsed().as_secs_f64();
    let peak = p.pid().and_then(peak_rss_kib);
    p.kill().await;
    let ok = matches!(&res, InvocationResult::Response(v) if o365_e2e::event_source::failed_ids(v).is_ok_and(|f| f.is_empty()));
    Ok(serde_json::json!({
        "blobs": blobs,
        "blob_bytes": body.len(),
        "ok": ok,
        "response": format!("{res:?}").chars().take(300).collect::<String>(),
        "seconds": seconds,
        "idle_rss_kib": idle,
        "peak_rss_kib": peak,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        bail!("usage: o365-e2e-bench gen-blob|cold-start|e2e|fetch-blob|fetch-batch ...");
    };
    let rest = &args[1..];
    let out = match cmd.as_str() {
        "gen-blob" => gen_blob(rest).await?,
        "cold-start" => cold_start(rest).await?,
        "e2e" => e2e(rest).await?,
        "fetch-blob" => fetch_blob(rest).await?,
        "fetch-batch" => fetch_batch(rest).await?,
        other => bail!("unknown subcommand {other:?}: use gen-blob, cold-start, e2e, fetch-blob or fetch-batch"),
    };
    println!("{out}");
    Ok(())
}
