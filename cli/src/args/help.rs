//! The long help of each subcommand: what it does, by example, with its exit codes.

pub(super) const TOP_HELP: &str = "\
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
  O365_PUBLISHER_ID, O365_CONFIG; RUST_LOG overrides -v/-q. API_RATE_PER_MINUTE and API_BURST
  set each tenant's request budget, as for the Lambda functions (see `o365ctl run --help`).";

/// `run`'s help: [`RUN_HELP`], then the defaults the Lambda functions share with it that have no
/// flag here, read from the constants that define them (so `make help`, the SAM parameters
/// and this help say the same values; `tests/tests/e2e/defaults.rs` checks the three).
pub(super) fn run_help() -> String {
    let downloads = o365_fetcher::config::DEFAULT_MAX_CONCURRENCY;
    let reload = o365_activity::bootstrap::settings::DEFAULT_TENANTS_RELOAD.as_secs();
    let rate = o365_activity::client::budget::DEFAULT_RATE_PER_MINUTE;
    let most = o365_activity::client::budget::MAX_RATE_PER_MINUTE;
    format!(
        "{RUN_HELP}

Defaults shared with the Lambda functions, without a flag here (as `make help` lists them):
  FetcherParallelDownloads / MAX_CONCURRENCY (o365ctl's fetch too)   {downloads}
  TenantsReloadSeconds / TENANTS_RELOAD_SECONDS (functions only)     {reload} (seconds)
  ApiRatePerMinute / API_RATE_PER_MINUTE (read by o365ctl too)       {rate} (requests/min/tenant)

API_RATE_PER_MINUTE and API_BURST (requests that may go at once; default one second's worth
of the rate), both whole numbers from 1 to {most}, are read from the environment as the
functions read them: each tenant's request budget, spent whole by o365ctl like a lister run.
A bad value is a configuration error (exit 2)."
    )
}

pub(super) const RUN_HELP: &str = "\
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

pub(super) const REPLAY_HELP: &str = "\
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

pub(super) const BACKFILL_HELP: &str = "\
Backfill lists a past window (at most 7 days back, the API's reach) without moving any
checkpoint, and sends every blob into the queue (--queue-url) or straight through the local
pipeline into --out, with progress bars for windows, blobs and records.

Examples:
  o365ctl backfill --last 2d                            # local pipeline -> ./data
  o365ctl backfill --window 2026-03-01..2026-03-03 --content-types Audit.SharePoint
  o365ctl backfill --last 7d --queue-url https://sqs.../o365-fetch --config tenants.toml";

pub(super) const SWEEP_HELP: &str = "\
Sweep re-lists each tenant and content type's last 7 days (the API's reach, up to the
checkpoint less the overlap) and sends every blob that is listed but not stored: blobs that
became listable later than the overlap. Costs listing requests only; a blob sent again is a
no-op for the fetcher. The Lambda lister does this on its own schedule (SweepSchedule).

Examples:
  o365ctl sweep                                        # local pipeline -> ./data
  o365ctl sweep --queue-url https://sqs.../o365-fetch --config tenants.toml";

pub(super) const NORMALIZE_HELP: &str = "\
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

pub(super) const STATUS_HELP: &str = "\
Shows, per tenant and content type (every configured one, also those a run skipped):
checkpoint, lag, last run result and last error (kind, reason, when), gap reports; the error
reports under <prefix>/_errors/ by kind and, with --dlq-url, the dead-letter queue depth.
Exit 0 when all is well, 1 when anything needs attention (a failing pair, a gap, an error
report, messages in the dead-letter queue), 2 usage error, 3 storage unreachable.

Examples:
  o365ctl status                                        # ./data
  o365ctl status --out /tmp/audit --json
  o365ctl status --bucket audit --dlq-url https://sqs.../o365-fetch-dlq";

pub(super) const VERIFY_HELP: &str = "\
Checks the stored objects against the manifest of writes (one entry per stored blob under
<prefix>/_manifest/, written by the fetcher right after the object) and lists every object
that is missing, altered (size or SHA-256 differ from the entry) or extra (stored, but no
entry records it). The window selects hour partitions (dt=/hour=) and may reach back any time.

Examples:
  o365ctl verify                                        # everything in ./data
  o365ctl verify --out /tmp/audit --last 2d --json
  o365ctl verify --bucket audit --window 2026-03-01..2026-03-02

Exit codes: 0 nothing to report, 1 problems found, 2 usage error, 3 storage unreachable.";
