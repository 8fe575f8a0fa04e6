//! The time window of the re-listing subcommands and `verify`.

use std::time::Duration;

use clap::Args;

use super::values::parse_duration;
use crate::window::Window;

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
