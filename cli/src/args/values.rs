//! Parsers of flag values: durations, compression, the key prefix.

use std::time::Duration;

use o365_activity::compression::Compression;

/// The longest duration any flag accepts: the API's 7-day reach bounds every window, and
/// no run, pause or overlap needs longer (it also keeps time arithmetic far from overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The lister's `DEFAULT_OVERLAP` (`o365_lister::settings`) as `--overlap` shows and parses
/// it; a unit test keeps the two equal.
pub const DEFAULT_OVERLAP_TEXT: &str = "1h";

/// A duration from 1 second to [`MAX_DURATION`]; anything else is a usage error (exit 2).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    const ALLOWED: &str = "write a duration from 1s to 7d, such as 30s, 5m, 6h or 2d";
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("{e}: {ALLOWED}"))?;
    if d < Duration::from_secs(1) || d > MAX_DURATION {
        return Err(format!("{s} is out of range: {ALLOWED}"));
    }
    Ok(d)
}

pub(super) fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse::<Compression>().map_err(|e| e.to_string())
}

/// `--prefix` / `O365_PREFIX` under the same rule as the functions' `PREFIX`, so the CLI
/// reads and writes the keys the deployed functions do.
pub(super) fn parse_prefix(s: &str) -> Result<String, String> {
    o365_activity::bootstrap::settings::prefix_rule(Some(s))
}
