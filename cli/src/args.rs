//! The command line: subcommands, flags and environment variables, with help that teaches by
//! example. Parsing only; what each subcommand does lives in `commands/`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use o365_activity::compression::Compression;

use crate::window::Window;

const TOP_HELP: &str = "\
Examples:
  # Collect once from the embedded simulator (no tenant configured) into ./data
  o365ctl run --once

  # Collect from a real tenant every 5 minutes
  export O365_TENANT_ID=<tenant guid> O365_CLIENT_ID=<app guid> O365_CLIENT_SECRET=<secret>
  o365ctl run --every 5m --out ./data

  # Many tenants from a TOML file, straight into S3 and SQS
  o365ctl run --once --config tenants.toml --bucket my-audit-bucket --queue-url https://sqs...

  # What is collected, how far behind, any gaps
  o365ctl status --out ./data

  # Normalize a downloaded blob the way the fetcher does
  o365ctl normalize blob.json --tenant-id <guid> --content-type Audit.Exchange --content-id <id>

Exit codes:
  0  success
  1  the run completed with errors (a tenant/content type failed, blobs failed permanently)
  2  usage or configuration error (bad flag, missing credentials, bad tenant id, bad config file)
  3  an endpoint was unreachable or authentication failed (token endpoint, API, S3/SQS)
  130, 143  `run` stopped by Ctrl-C (SIGINT) or SIGTERM, its leases released

Environment:
  O365_TENANT_ID, O365_CLIENT_ID, O365_CLIENT_SECRET (the secret is read only from the
  environment or --client-secret-file, never from the command line), O365_CLIENT_CERTIFICATE,
  O365_CLIENT_KEY, O365_CLOUD, O365_API_ROOT, O365_LOGIN_ROOT, O365_CONTENT_TYPES,
  O365_PUBLISHER_ID, O365_CONFIG; RUST_LOG overrides -v/-q.";

const RUN_HELP: &str = "\
With no tenant configured, `run` starts the o365-sim simulator in-process on a free port of
127.0.0.1 and collects from it, so the first run shows real output. Configure a tenant with
flags/environment (one tenant) or --config (many) to collect from Microsoft 365.

Examples:
  o365ctl run --once                                    # simulator -> ./data
  o365ctl run --once --out /tmp/audit --compression zstd
  O365_TENANT_ID=... O365_CLIENT_ID=... O365_CLIENT_SECRET=... o365ctl run --once
  o365ctl run --every 5m --config tenants.toml          # repeat until Ctrl-C
  o365ctl run --once --bucket audit --queue-url http://127.0.0.1:5000/123456789012/q \\
      --endpoint-url http://127.0.0.1:5000              # S3/SQS (here: moto)

Running again adds only what is new: checkpoints live under <out>/<prefix>/_state/ and every
blob is written once, create-only. Exit codes: 0 ok, 1 completed with errors, 2 usage or
configuration error, 3 endpoint unreachable or authentication failed, 130/143 stopped by
Ctrl-C/SIGTERM: no new window is started, what was listed is fetched, leases are released and
the summary printed (a second Ctrl-C exits at once).";

const REPLAY_HELP: &str = "\
Replay sends content-blob messages again; the fetcher writes each blob once, so replaying
something already stored is a no-op (idempotent by construction).

Examples:
  # one blob by id: the id's embedded timestamps pick the window that is re-listed
  o365ctl replay --content-id '20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001'
  # one blob by URI (tenant and id are read from it)
  o365ctl replay --content-uri 'https://manage.office.com/api/v1.0/<tenant>/activity/feed/audit/<id>'
  # everything listed in a window (within the API's 7-day reach), two types only
  o365ctl replay --window 2026-03-01T00:00:00Z..2026-03-01T06:00:00Z --content-types Audit.Exchange,DLP.All
  o365ctl replay --last 6h --dry-run                   # print the messages, send nothing
  # move messages from the dead-letter queue back to the main queue
  o365ctl replay --from-dlq https://sqs.../o365-fetch-dlq --queue-url https://sqs.../o365-fetch

Without --queue-url the messages go through the local pipeline into --out.
A bare content id whose timestamps cannot be read needs --window.";

const BACKFILL_HELP: &str = "\
Backfill lists a past window (at most 7 days back, the API's reach) without moving any
checkpoint, and sends every blob into the queue (--queue-url) or straight through the local
pipeline into --out, with progress bars for windows, blobs and records.

Examples:
  o365ctl backfill --last 2d                            # local pipeline -> ./data
  o365ctl backfill --window 2026-03-01..2026-03-03 --content-types Audit.SharePoint
  o365ctl backfill --last 7d --queue-url https://sqs.../o365-fetch --config tenants.toml";

const SWEEP_HELP: &str = "\
Sweep re-lists each tenant and content type's last 7 days (the API's reach, up to the
checkpoint less the overlap) and sends every blob that is listed but not stored: blobs that
became listable later than the overlap. Costs listing requests only; a blob sent again is a
no-op for the fetcher. The Lambda lister does this on its own schedule (SweepSchedule).

Examples:
  o365ctl sweep                                        # local pipeline -> ./data
  o365ctl sweep --queue-url https://sqs.../o365-fetch --config tenants.toml";

const NORMALIZE_HELP: &str = "\
Reads a content blob (a JSON array, as the API serves it) or an NDJSON file and writes
normalized NDJSON: each record unchanged plus an `_o365` member (provenance, event time,
record/user type names, client IP and port, outcome). It is the code path the fetcher uses.

Examples:
  o365ctl normalize blob.json --tenant-id <guid> --content-type Audit.Exchange --content-id <id>
  o365ctl normalize a.ndjson b.ndjson --out normalized.ndjson.gz --gzip
  cat blob.json | o365ctl normalize - --content-type Audit.General

Without --content-type, each file's content type is inferred from its first record's RecordType
(Exchange, SharePoint, Azure AD and DLP record types; any other known type is Audit.General);
a file whose first record has no RecordType is labelled Audit.General, with a warning.";

const STATUS_HELP: &str = "\
Shows, per tenant and content type (every configured one, also those a run skipped):
checkpoint, lag, last run result and last error (kind, reason, when), gap reports; the error
reports under <prefix>/_errors/ by kind and, with --dlq-url, the dead-letter queue depth.
Exit 0 when all is well, 1 when anything needs attention (a failing pair, a gap, an error
report, messages in the dead-letter queue), 2 usage error, 3 storage unreachable.

Examples:
  o365ctl status                                        # ./data
  o365ctl status --out /tmp/audit --json
  o365ctl status --bucket audit --dlq-url https://sqs.../o365-fetch-dlq";

const VERIFY_HELP: &str = "\
Checks the stored objects against the manifest of writes (one entry per stored blob under
<prefix>/_manifest/, written by the fetcher right after the object) and lists every object
that is missing, altered (size or SHA-256 differ from the entry) or extra (stored, but no
entry records it). The window selects hour partitions (dt=/hour=) and may reach back any time.

Examples:
  o365ctl verify                                        # everything in ./data
  o365ctl verify --out /tmp/audit --last 2d --json
  o365ctl verify --bucket audit --window 2026-03-01..2026-03-02

Exit codes: 0 nothing to report, 1 problems found, 2 usage error, 3 storage unreachable.";

/// `o365ctl`: the operator's tool of o365-collector.
#[derive(Debug, Parser)]
#[command(
    name = "o365ctl",
    version,
    about = "Collect Microsoft 365 audit logs locally or into S3: run, replay, backfill, normalize, status",
    after_help = TOP_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr, no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pipeline on this machine: list, queue, fetch, normalize, store.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Send blobs again: by content id or URI, by window, or from the dead-letter queue.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// List a past window (at most 7 days back) into the queue or the local pipeline.
    #[command(after_help = BACKFILL_HELP)]
    Backfill(BackfillArgs),
    /// Re-list the last 7 days and send every blob listed but not stored (the reach sweep).
    #[command(after_help = SWEEP_HELP)]
    Sweep(SweepArgs),
    /// Normalize blob or NDJSON files to NDJSON, exactly as the fetcher does.
    #[command(after_help = NORMALIZE_HELP)]
    Normalize(NormalizeArgs),
    /// Checkpoints, lag, last run, gaps and DLQ depth per tenant and content type.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Check stored objects against the manifest of writes: missing, altered or extra.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Compact the stored NDJSON into Parquet by event date, one row per record Id.
    Compact(crate::commands::compact::CompactArgs),
}

/// Which tenants to collect and how to authenticate: one tenant by flags/environment, many
/// with `--config`, or none (the embedded simulator).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Tenant")]
pub struct TenantArgs {
    /// TOML file of tenants (`[[tenants]]` tables); takes precedence over the one-tenant flags,
    /// except that --tenant-id and --content-types then narrow the selection.
    #[arg(long, env = "O365_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Tenant (directory) GUID.
    #[arg(long, env = "O365_TENANT_ID", value_name = "GUID")]
    pub tenant_id: Option<String>,
    /// Application (client) id of the app registration.
    #[arg(long, env = "O365_CLIENT_ID", value_name = "GUID")]
    pub client_id: Option<String>,
    /// File holding the client secret (or set O365_CLIENT_SECRET).
    #[arg(
        long,
        env = "O365_CLIENT_SECRET_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub client_secret_file: Option<PathBuf>,
    /// Certificate (PEM file, or the PEM itself) for certificate authentication; needs --key-file.
    #[arg(
        long,
        env = "O365_CLIENT_CERTIFICATE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub client_certificate: Option<PathBuf>,
    /// The certificate's private key (PEM file, or the PEM itself; its value is never shown).
    #[arg(
        long,
        env = "O365_CLIENT_KEY",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub key_file: Option<PathBuf>,
    /// Microsoft 365 cloud.
    #[arg(long, env = "O365_CLOUD", value_name = "CLOUD",
          value_parser = ["enterprise", "gcc", "gcc-high", "dod"])]
    pub cloud: Option<String>,
    /// Explicit API root (another cloud, or a simulator); needs --login-root.
    #[arg(long, env = "O365_API_ROOT", value_name = "URL")]
    pub api_root: Option<String>,
    /// Explicit token authority root; needs --api-root.
    #[arg(long, env = "O365_LOGIN_ROOT", value_name = "URL")]
    pub login_root: Option<String>,
    /// Content types, comma-separated (default: all five).
    #[arg(
        long,
        env = "O365_CONTENT_TYPES",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub content_types: Vec<String>,
    /// PublisherIdentifier sent with every request (default: the tenant id).
    #[arg(long, env = "O365_PUBLISHER_ID", value_name = "GUID")]
    pub publisher_id: Option<String>,
    /// Token endpoint generation: v2 (default) or v1.
    #[arg(long, env = "O365_TOKEN_ENDPOINT", value_name = "V",
          value_parser = ["v1", "v2"])]
    pub token_endpoint: Option<String>,
    /// Use the embedded simulator even when a tenant is configured in the environment.
    #[arg(long)]
    pub sim: bool,
}

/// Where objects, checkpoints and messages live: a local directory, or S3/SQS.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Storage")]
pub struct StorageArgs {
    /// Local output directory (objects and checkpoints, same layout as in S3).
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub out: PathBuf,
    /// S3 bucket instead of --out.
    #[arg(long, env = "O365_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,
    /// SQS queue URL instead of the in-process queue.
    #[arg(long, env = "O365_QUEUE_URL", value_name = "URL")]
    pub queue_url: Option<String>,
    /// S3/SQS endpoint (e.g. moto on http://127.0.0.1:5000).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Key prefix inside the directory or bucket (the functions' PREFIX rule: trimmed of
    /// spaces and slashes, empty means o365, no empty, '.' or '..' segment).
    #[arg(
        long,
        env = "O365_PREFIX",
        value_name = "PREFIX",
        default_value = o365_activity::bootstrap::DEFAULT_PREFIX,
        value_parser = parse_prefix
    )]
    pub prefix: String,
    /// Output compression: gzip, gzip:1..9, zstd, zstd:1..19.
    #[arg(long, env = "O365_COMPRESSION", value_name = "CODEC", default_value = "gzip",
          value_parser = parse_compression)]
    pub compression: Compression,
}

/// `o365ctl run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Run once and exit (the default).
    #[arg(long, conflicts_with = "every")]
    pub once: bool,
    /// Run again every DURATION (e.g. 5m) until interrupted.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    /// With --every, stop after this many runs.
    #[arg(long, value_name = "N", requires = "every")]
    pub max_runs: Option<u64>,
    /// How far behind the checkpoint each listing starts, for blobs that appear late
    /// (default: 1h, the lister's OVERLAP_MINUTES default).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub overlap: Option<Duration>,
    /// Time budget of one run (listing and fetching).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// A time window: `--window START..END` or `--last DURATION`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Window")]
pub struct WindowArgs {
    /// Window START..END (RFC 3339 or YYYY-MM-DD, UTC), at most 7 days back.
    #[arg(long, value_name = "START..END", conflicts_with = "last")]
    pub window: Option<Window>,
    /// The window ending now and this long (e.g. 6h, 2d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub last: Option<Duration>,
}

impl WindowArgs {
    /// The window asked for (`None`: neither flag given), clipped to what the API can list at
    /// `now`; a clipped window is stated with a warning, never silently.
    pub fn clipped(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<Window, crate::window::WindowError>> {
        if self.window.is_none() && self.last.is_none() {
            return None;
        }
        Some(
            Window::from_args(self.window, self.last, now).and_then(|asked| {
                let window = asked.clip_to_reach(now)?;
                if window != asked {
                    tracing::warn!(
                        "the window {asked} is clipped to {window}: the API lists at most 7 days back (less a 16-minute margin) and nothing after now"
                    );
                }
                Ok(window)
            }),
        )
    }
}

/// `o365ctl replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Content id to replay (repeatable).
    #[arg(long, value_name = "ID")]
    pub content_id: Vec<String>,
    /// Content URI to replay (repeatable).
    #[arg(long, value_name = "URI")]
    pub content_uri: Vec<String>,
    /// Move messages from this dead-letter queue back to --queue-url.
    #[arg(long, value_name = "DLQ_URL", requires = "queue_url",
          conflicts_with_all = ["content_id", "content_uri", "window", "last"])]
    pub from_dlq: Option<String>,
    /// With --from-dlq, move at most this many messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<usize>,
    /// Print the messages as JSON lines; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Time budget.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl backfill`.
#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// Print the messages as JSON lines; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Time budget.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Print the messages as JSON lines; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Time budget.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl normalize`.
#[derive(Debug, Clone, Args)]
pub struct NormalizeArgs {
    /// Blob (JSON array) or NDJSON files; `-` reads stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Write here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Gzip the output.
    #[arg(long)]
    pub gzip: bool,
    /// Tenant id for the provenance.
    #[arg(
        long,
        env = "O365_TENANT_ID",
        value_name = "GUID",
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    pub tenant_id: String,
    /// Content type for the provenance (default: inferred from the first record's
    /// `RecordType`; Audit.General, with a warning, when it cannot be).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Content id for the provenance (default: the file name without extension).
    #[arg(long, value_name = "ID")]
    pub content_id: Option<String>,
    /// Input format: auto (default), json-array or ndjson.
    #[arg(long, value_name = "FORMAT", default_value = "auto",
          value_parser = ["auto", "json-array", "ndjson"])]
    pub format: String,
}

/// `o365ctl status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Dead-letter queue whose depth to show.
    #[arg(long, env = "O365_DLQ_URL", value_name = "URL")]
    pub dlq_url: Option<String>,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// The longest duration any flag accepts: the API's 7-day reach bounds every window, and
/// no run, pause or overlap needs longer (it also keeps time arithmetic far from overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A duration from 1 second to [`MAX_DURATION`]; anything else is a usage error (exit 2).
fn parse_duration(s: &str) -> Result<Duration, String> {
    const ALLOWED: &str = "write a duration from 1s to 7d, such as 30s, 5m, 6h or 2d";
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("{e}: {ALLOWED}"))?;
    if d < Duration::from_secs(1) || d > MAX_DURATION {
        return Err(format!("{s} is out of range: {ALLOWED}"));
    }
    Ok(d)
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse::<Compression>().map_err(|e| e.to_string())
}

/// `--prefix` / `O365_PREFIX` under the same rule as the functions' `PREFIX`, so the CLI
/// reads and writes the keys the deployed functions do.
fn parse_prefix(s: &str) -> Result<String, String> {
    o365_activity::bootstrap::settings::prefix_rule(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "o365ctl",
            "run",
            "--every",
            "5m",
            "--out",
            "/tmp/x",
            "--compression",
            "zstd:3",
            "--content-types",
            "Audit.Exchange,DLP.All",
            "-vv",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.every, Some(Duration::from_secs(300)));
        assert_eq!(run.storage.compression, Compression::Zstd { level: 3 });
        assert_eq!(run.storage.prefix, "o365");
        assert_eq!(
            run.tenants.content_types,
            vec!["Audit.Exchange".to_string(), "DLP.All".to_string()]
        );
        assert_eq!(cli.verbose, 2);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for argv in [
            vec!["o365ctl", "run", "--once", "--every", "5m"],
            vec!["o365ctl", "run", "--every", "soon"],
            vec!["o365ctl", "run", "--compression", "brotli"],
            vec!["o365ctl", "run", "--cloud", "mars"],
            vec!["o365ctl", "replay", "--from-dlq", "http://127.0.0.1/q"],
            vec!["o365ctl", "normalize"],
            vec!["o365ctl", "backfill", "--last", "100000000000d"],
            vec!["o365ctl", "backfill", "--last", "8d"],
            vec!["o365ctl", "run", "--timeout", "500000000000y"],
            vec!["o365ctl", "run", "--every", "0s"],
            vec!["o365ctl", "run", "--prefix", "../x"],
            vec!["o365ctl", "status", "--prefix", "a//b"],
            vec!["o365ctl", "run", "--prefix", "a\\b"],
        ] {
            let e = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{argv:?}");
        }
    }

    #[test]
    fn prefix_follows_the_functions_rule() {
        for (given, want) in [
            (" /audit/o365/ ", "audit/o365"),
            ("", "o365"),
            ("  ", "o365"),
            ("custom", "custom"),
        ] {
            let cli = Cli::try_parse_from(["o365ctl", "run", "--prefix", given]).unwrap();
            let Command::Run(run) = cli.command else {
                panic!("not run")
            };
            assert_eq!(run.storage.prefix, want, "{given:?}");
        }
    }
}
