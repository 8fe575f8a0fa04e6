//! `o365-sim`: run the Management Activity API simulator from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser};
use o365_sim::{
    ContentType, Scenario, SimConfig, TenantSpec, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
};

const AFTER_HELP: &str = "\
Endpoints (all on the --listen address; it is both the API root and the login root):
  POST /{tenant}/oauth2/v2.0/token        scope=<BASE>/.default, client_secret or client_assertion
  POST /{tenant}/oauth2/token             resource=<BASE>
  POST /api/v1.0/{tenant}/activity/feed/subscriptions/start?contentType=CT
  POST /api/v1.0/{tenant}/activity/feed/subscriptions/stop?contentType=CT
  GET  /api/v1.0/{tenant}/activity/feed/subscriptions/list
  GET  /api/v1.0/{tenant}/activity/feed/subscriptions/content?contentType=CT[&startTime=..&endTime=..]
  GET  /api/v1.0/{tenant}/activity/feed/subscriptions/notifications?contentType=CT
  GET  /api/v1.0/{tenant}/activity/feed/audit/{contentId}
  GET  /api/v1.0/{tenant}/activity/feed/resources/dlpSensitiveTypes
Control:
  GET  /_sim/ledger  GET /_sim/ledger/summary  GET /_sim/info  GET /_sim/clock
  POST /_sim/clock/advance?seconds=N   POST /_sim/clock/set?time=RFC3339
  POST /_sim/subscriptions/disable?tenant=GUID&contentType=CT   (an admin disables it: AF20023)
";

/// A local stand-in for the Office 365 Management Activity API and its token endpoints.
#[derive(Debug, Parser)]
#[command(name = "o365-sim", version, about)]
struct Args {
    /// Loopback address to listen on (port 0 picks a free port; the chosen URL is printed).
    #[arg(long, default_value = o365_sim::DEFAULT_CLI_LISTEN)]
    listen: SocketAddr,
    /// Tenant GUID to serve (repeatable). Default: the single tenant 00000000-0000-0000-0000-000000000001.
    #[arg(long = "tenant", value_name = "ID")]
    tenants: Vec<String>,
    /// Tenant (one of --tenant) whose app lacks ActivityFeed.ReadDlp, so DLP.All answers AF10001 (repeatable).
    #[arg(long = "no-dlp", value_name = "ID")]
    no_dlp: Vec<String>,
    /// Application (client) id the token endpoints accept.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Client secret the token endpoints accept (a test value by default; never a real secret).
    #[arg(long, env = "O365_SIM_CLIENT_SECRET", hide_env_values = true, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// PEM certificate whose RSA key verifies client_assertion JWTs (RS256, x5t = SHA-1 thumbprint).
    #[arg(long, value_name = "FILE")]
    certificate: Option<PathBuf>,
    /// Fault scenario NAME[=RATE] (repeatable, combinable); see the list below.
    #[arg(long = "scenario", value_name = "NAME[=RATE]", value_parser = parse_scenario)]
    scenarios: Vec<Scenario>,
    /// Seed of every random choice: the same seed and requests give the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated start time (RFC 3339). Default: now.
    #[arg(long, value_name = "RFC3339")]
    clock_start: Option<String>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Content already published before the start time (e.g. 1d, 7d, 6h).
    #[arg(long, default_value = "1d", value_parser = humantime_duration)]
    history: Duration,
    /// Records per tenant per content type per simulated hour.
    #[arg(long, default_value_t = 120)]
    records_per_hour: u32,
    /// Largest number of records in one blob.
    #[arg(long, default_value_t = 2000)]
    max_records_per_blob: usize,
    /// Entries per listing page before NextPageUri.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Lifetime of access tokens, in simulated time (e.g. 3599s, 5m).
    #[arg(long, default_value = "3599s", value_parser = humantime_duration)]
    token_lifetime: Duration,
    /// Requests per minute per tenant before AF429.
    #[arg(long, default_value_t = 2000)]
    throttle_per_minute: u32,
    /// Directory of *.ndjson records to splice in. Default: ../shared/fixtures/real when found,
    /// else the repository's own records (shared/tests/data/records).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Generate records only, without splicing in fixture records.
    #[arg(long)]
    no_fixtures: bool,
    /// Every subscription of every tenant starts enabled (otherwise none exists until `start`).
    #[arg(long)]
    subscribed: bool,
    /// contentExpiration after the blob's window start (7d documented; 14d and 21d observed).
    #[arg(long, default_value = "7d", value_parser = humantime_duration)]
    content_expiration: Duration,
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    Scenario::parse(s).map_err(|e| e.to_string())
}

fn humantime_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number followed by s, m, h or d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cmd = Args::command().after_help(format!("{}\n{}", Scenario::help_text(), AFTER_HELP));
    let args = Args::from_arg_matches(&cmd.get_matches())?;
    let ids = if args.tenants.is_empty() {
        vec![DEFAULT_TENANT_ID.to_string()]
    } else {
        args.tenants.clone()
    };
    let tenants = ids
        .iter()
        .map(|id| {
            let mut t = TenantSpec::new(id.clone());
            t.dlp_permission = !args.no_dlp.iter().any(|n| n.eq_ignore_ascii_case(id));
            if args.subscribed {
                t.enabled_types = ContentType::ALL.to_vec();
            }
            t
        })
        .collect();
    let certificate_pem = match &args.certificate {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading certificate {}", path.display()))?,
        ),
        None => None,
    };
    let clock_start = match &args.clock_start {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--clock-start {t:?} is not RFC 3339"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let defaults = SimConfig::default();
    let fixtures_dir = if args.no_fixtures {
        None
    } else {
        args.fixtures.or(defaults.fixtures_dir.clone())
    };
    let config = SimConfig {
        listen: args.listen,
        tenants,
        client_id: args.client_id,
        client_secret: args.client_secret,
        certificate_pem,
        seed: args.seed,
        scenarios: args.scenarios,
        clock_start,
        clock_speed: args.speed,
        history: args.history,
        records_per_hour: args.records_per_hour,
        page_size: args.page_size,
        token_lifetime: args.token_lifetime,
        fixtures_dir,
        content_expiration: args.content_expiration,
        max_records_per_blob: args.max_records_per_blob,
        throttle_per_minute: args.throttle_per_minute,
        ..defaults
    };
    let handle = o365_sim::start(config).await.context("starting o365-sim")?;
    let base = handle.base_url();
    println!("o365-sim listening on {base}");
    println!("  API root:   {base}   login root: {base}   scope: {base}/.default");
    println!("  tenants:    {}", ids.join(", "));
    println!("  ledger:     curl -s {base}/_sim/ledger/summary");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown().await;
    Ok(())
}
