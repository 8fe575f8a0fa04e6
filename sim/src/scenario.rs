//! Fault scenarios: which misbehaviour of the real service a run reproduces, and how often.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// How a scenario's argument is read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ArgKind {
    /// `NAME` alone is 100 %; `NAME=0.1`, `NAME=10%` or `NAME=every:5` set how often.
    Rate(f64),
    /// `NAME=N` is a number (page size, requests per minute).
    Value(u64),
    /// `NAME` is an on/off switch.
    Switch,
}

macro_rules! scenarios {
    ($( $variant:ident => $name:literal, $arg:expr, $help:literal; )*) => {
        /// One kind of fault or variant behaviour (see `o365-sim --help`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ScenarioKind { $(
            #[doc = $help]
            $variant,
        )* }

        impl ScenarioKind {
            /// Every scenario kind, in help order.
            pub const ALL: &'static [ScenarioKind] = &[$(ScenarioKind::$variant),*];

            /// The command-line name.
            pub fn name(self) -> &'static str {
                match self { $(ScenarioKind::$variant => $name,)* }
            }

            /// One-line description for `--help`.
            pub fn help(self) -> &'static str {
                match self { $(ScenarioKind::$variant => $help,)* }
            }

            fn arg(self) -> ArgKind {
                match self { $(ScenarioKind::$variant => $arg,)* }
            }
        }
    };
}

scenarios! {
    Throttle => "throttle", ArgKind::Rate(0.05), "AF429 with HTTP 403 (the documented throttle), no Retry-After, on API calls at RATE (default 0.05)";
    Throttle429 => "throttle-429", ArgKind::Rate(0.05), "plain HTTP 429 with an AF429 body and `Retry-After: 1` at RATE (default 0.05)";
    Throttle429Bare => "throttle-429-bare", ArgKind::Rate(0.05), "plain HTTP 429 without Retry-After at RATE (default 0.05)";
    ServerError => "server-error", ArgKind::Rate(0.05), "5xx at RATE (default 0.05): AF50000/500, AF50005/500, 503 with a non-JSON body, 408";
    Slow => "slow", ArgKind::Rate(0.05), "answer after 0.5-2 s of real time at RATE (default 0.05)";
    DropConnection => "drop-connection", ArgKind::Rate(0.02), "send the status line and headers, then part of the body, then close the connection at RATE (default 0.02)";
    DuplicateInPage => "duplicate-in-page", ArgKind::Rate(0.05), "list a blob twice in the same page at RATE per listed blob (default 0.05)";
    DuplicateAcrossWindows => "duplicate-across-windows", ArgKind::Rate(0.05), "list a blob again 1-3 h later (same id, later contentCreated) at RATE per blob (default 0.05)";
    ShufflePages => "shuffle-pages", ArgKind::Rate(1.0), "return a page's entries out of availability order at RATE per page (default 1)";
    LateBlobs => "late-blobs", ArgKind::Rate(0.05), "make a blob listable 1-6 h (see late-blobs-max-hours) after its (older) contentCreated at RATE per blob (default 0.05)";
    LateBlobsMaxHours => "late-blobs-max-hours", ArgKind::Value(6), "with late-blobs: a late blob becomes listable 1 to N h after its contentCreated (default 6)";
    EarlyExpiry => "early-expiry", ArgKind::Rate(0.05), "give a blob a contentExpiration only 20 min after it becomes available at RATE per blob (default 0.05)";
    TruncatedBlobs => "truncated-blobs", ArgKind::Rate(0.02), "cut a blob's body in the middle at RATE per blob (default 0.02)";
    MalformedBlobs => "malformed-blobs", ArgKind::Rate(0.02), "corrupt a blob's body (not JSON) at RATE per blob (default 0.02)";
    DuplicateRecords => "duplicate-records", ArgKind::Rate(0.05), "repeat records (same Id) inside a blob at RATE per record (default 0.05)";
    AlreadyEnabled => "already-enabled", ArgKind::Switch, "every subscription exists and is enabled at start-up, so `start` answers 400 AF20024";
    StartCooldownPerTenant => "start-cooldown-tenant", ArgKind::Switch, "the 15-minute start cool-down applies per tenant instead of per tenant and content type";
    LowercaseNextPage => "lowercase-next-page", ArgKind::Rate(1.0), "lower-case the parameter names in NextPageUri (contenttype, starttime, endtime, nextpage) at RATE (default 1)";
    NextPageV1Path => "next-page-v1-path", ArgKind::Switch, "NextPageUri uses /api/v1/ like the documentation's sample, instead of /api/v1.0/";
    NextPageUrlHeader => "next-page-url-header", ArgKind::Switch, "send the paging header as the old spelling NextPageUrl";
    SmallPages => "small-pages", ArgKind::Value(3), "listing pages of N entries (default 3)";
    RateLimit => "rate-limit", ArgKind::Value(120), "per-tenant request budget of N per minute before AF429 (default 120): a token bucket refilled at N/60 per second";
    RateBurst => "rate-burst", ArgKind::Value(10), "size of that token bucket: N requests may go at once after an idle spell (default 10; without it the bucket holds one minute's worth)";
    RejectExact24h => "reject-exact-24h", ArgKind::Switch, "reject a listing window of exactly 24 h (seen for one tenant)";
    Af20030 => "af20030", ArgKind::Switch, "report bad windows with the older AF20030 code instead of AF20055";
    TokenErrors => "token-errors", ArgKind::Rate(0.05), "the token endpoints answer 503 temporarily_unavailable (AADSTS90033) at RATE (default 0.05)";
    BadListingEntries => "bad-listing-entries", ArgKind::Rate(0.05), "spoil a blob's listing entries at RATE per blob (default 0.05), the same way on every listing: content type in lower case, no contentExpiration, zone-less dates, US-format dates, not an object, or no contentUri";
    PublisherBuckets => "publisher-buckets", ArgKind::Switch, "legacy throttling: one request budget per PublisherIdentifier, shared by every caller that sends none";
    WithholdRate => "withhold-rate", ArgKind::Rate(0.005), "Graph view: leave RATE of the records (default 0.005) out of the Management feed's blobs; they are listed later in a late blob (see withhold-delay-hours) and are in Purview all along";
    WithholdDelayHours => "withhold-delay-hours", ArgKind::Value(24), "with withhold-rate: the late blob holding a slot's withheld records becomes listable N h after the slot's first blob (default 24), under that blob's contentCreated";
    NeverPublished => "never-published", ArgKind::Rate(0.001), "Graph view: RATE of the records (default 0.001) are never published by the Management API, only by Purview";
    PurviewOnly => "purview-only", ArgKind::Rate(0.01), "Graph view: Purview holds RATE (default 0.01) extra records of a type the Management API never sends (syntheticProbe)";
    UnstablePaging => "unstable-paging", ArgKind::Rate(1.0), "Graph view: the first read of a completed query skips or repeats a page at RATE per query (default 1); re-reads are stable";
    PurviewDuplicates => "purview-duplicates", ArgKind::Rate(0.01), "Graph view: Purview returns RATE of the records (default 0.01) twice, same auditData.Id, another record id";
    RecordCountLimit => "record-count-limit", ArgKind::Value(1000), "Graph view: a query returns at most N records (default 1000) and says isRecordCountLimitExceeded beyond";
    GraphPageSize => "graph-page-size", ArgKind::Value(10), "Graph view: N records per page of a query's records (default 10)";
    GraphConcurrentQueries => "graph-concurrent-queries", ArgKind::Value(1), "Graph view: at most N queries per tenant not yet succeeded; more are refused with 429 (default 1)";
    GraphQueryFailures => "graph-query-failures", ArgKind::Rate(0.1), "Graph view: a query ends failed instead of succeeded at RATE per query (default 0.1)";
    GraphDailyQueries => "graph-daily-queries", ArgKind::Value(100), "Graph view: at most N query submissions per tenant in any 24 simulated hours; more are refused with 429 (default 100)";
    GraphBetaOnly => "graph-beta-only", ArgKind::Switch, "Graph view: only /beta/ serves the audit log query API; /v1.0/ answers 400 \"Resource not found for the segment 'auditLog'.\" (as during its 2025 move back to beta)";
    GraphQuerySeconds => "graph-query-seconds", ArgKind::Value(600), "Graph view: a query takes N simulated seconds from submission to succeeded, the first fifth notStarted (default 600)";
}

/// How often or how much a scenario applies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Rate {
    /// Each opportunity fires with this probability (0..=1), drawn from the seeded RNG.
    Probability(f64),
    /// Every N-th opportunity fires (1 = always).
    EveryNth(u64),
    /// A number (page size, requests per minute).
    Value(u64),
    /// The switch is on.
    On,
}

/// A scenario switched on for a run: `NAME[=RATE]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Which behaviour.
    pub kind: ScenarioKind,
    /// How often / how much.
    pub rate: Rate,
}

impl Scenario {
    /// Parses `NAME`, `NAME=0.1`, `NAME=10%`, `NAME=every:5` or `NAME=N` (for value scenarios).
    pub fn parse(s: &str) -> Result<Scenario, SimError> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let bad = |why: &str| SimError::Scenario(s.to_string(), why.to_string());
        let kind = ScenarioKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| bad("no scenario has this name"))?;
        let rate = match (kind.arg(), arg) {
            (ArgKind::Switch, None) => Rate::On,
            (ArgKind::Switch, Some(_)) => {
                return Err(bad("this scenario is a switch and takes no value"))
            }
            (ArgKind::Value(d), None) => Rate::Value(d),
            (ArgKind::Value(_), Some(a)) => {
                let n: u64 = a.parse().map_err(|_| bad("expected a whole number"))?;
                if n == 0 {
                    return Err(bad("the value must be at least 1"));
                }
                Rate::Value(n)
            }
            (ArgKind::Rate(d), None) => Rate::Probability(d),
            (ArgKind::Rate(_), Some(a)) => {
                parse_rate(a).ok_or_else(|| bad("expected a rate such as 0.1, 10% or every:5"))?
            }
        };
        Ok(Scenario { kind, rate })
    }

    /// Multi-line description of every scenario, for `--help`.
    pub fn help_text() -> String {
        let mut out = String::from(
            "Scenarios (--scenario NAME[=RATE], repeatable, combinable; RATE is a probability such as 0.1 or 10%, or every:N):\n",
        );
        for k in ScenarioKind::ALL {
            let arg = match k.arg() {
                ArgKind::Rate(_) => "[=RATE]",
                ArgKind::Value(_) => "[=N]",
                ArgKind::Switch => "",
            };
            out.push_str(&format!("  {}{}\n", k.name(), arg));
            let mut line = String::new();
            for word in k.help().split_whitespace() {
                if !line.is_empty() && line.len() + word.len() + 1 > 74 {
                    out.push_str(&format!("        {line}\n"));
                    line.clear();
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
            }
            out.push_str(&format!("        {line}\n"));
        }
        out
    }
}

fn parse_rate(a: &str) -> Option<Rate> {
    if let Some(n) = a.strip_prefix("every:") {
        let n: u64 = n.parse().ok()?;
        return (n >= 1).then_some(Rate::EveryNth(n));
    }
    let p = match a.strip_suffix('%') {
        Some(pct) => pct.parse::<f64>().ok()? / 100.0,
        None => a.parse::<f64>().ok()?,
    };
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some(Rate::Probability(p))
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rate {
            Rate::On => write!(f, "{}", self.kind.name()),
            Rate::Probability(p) => write!(f, "{}={}", self.kind.name(), p),
            Rate::EveryNth(n) => write!(f, "{}=every:{}", self.kind.name(), n),
            Rate::Value(n) => write!(f, "{}={}", self.kind.name(), n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        for (text, rate) in [
            ("throttle", Rate::Probability(0.05)),
            ("throttle=0.5", Rate::Probability(0.5)),
            ("throttle=25%", Rate::Probability(0.25)),
            ("throttle=every:3", Rate::EveryNth(3)),
            ("small-pages=7", Rate::Value(7)),
            ("already-enabled", Rate::On),
        ] {
            assert_eq!(Scenario::parse(text).unwrap().rate, rate, "{text}");
        }
        for text in [
            "throttle=2",
            "small-pages=0",
            "already-enabled=1",
            "no-such-thing",
        ] {
            assert!(Scenario::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "throttle=0.5",
            "throttle=every:3",
            "small-pages=7",
            "already-enabled",
        ] {
            assert_eq!(Scenario::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn help_lists_every_scenario() {
        let h = Scenario::help_text();
        for k in ScenarioKind::ALL {
            assert!(h.contains(k.name()));
        }
    }
}
