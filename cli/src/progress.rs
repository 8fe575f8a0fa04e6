//! Progress bars on stderr (indicatif) for windows listed, blobs fetched and records written;
//! drawn only on a terminal and never with `-q`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one command; every method is a no-op when they are hidden.
#[derive(Debug, Clone)]
pub struct Progress {
    windows: ProgressBar,
    blobs: ProgressBar,
    records: ProgressBar,
}

/// A bar style; `{rate}` is a whole number per second (indicatif's `{per_sec}` prints four
/// decimals).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
}

impl Progress {
    /// Bars on stderr, or hidden ones with `quiet`; the windows bar only with `windows`.
    pub fn new(quiet: bool, windows: bool) -> Progress {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let bar = |template: &str| {
            let b = multi.add(ProgressBar::new(0));
            b.set_style(style(template));
            b
        };
        Progress {
            windows: if windows {
                bar("{prefix:>8} [{bar:30}] {pos}/{len} windows  {msg}")
            } else {
                ProgressBar::hidden()
            },
            blobs: bar("{prefix:>8} [{bar:30}] {pos}/{len} blobs"),
            records: bar("{prefix:>8} {human_pos} records ({rate})"),
        }
        .prefixed()
    }

    fn prefixed(self) -> Progress {
        self.windows.set_prefix("list");
        self.blobs.set_prefix("fetch");
        self.records.set_prefix("write");
        self
    }

    /// More windows to list.
    pub fn add_windows(&self, n: u64) {
        self.windows.inc_length(n);
    }

    /// One window listed (with what it was, e.g. tenant and type).
    pub fn window_done(&self, what: &str) {
        self.windows.set_message(what.to_owned());
        self.windows.inc(1);
    }

    /// More blobs to fetch.
    pub fn add_blobs(&self, n: u64) {
        self.blobs.inc_length(n);
    }

    /// One blob handled.
    pub fn blob_done(&self) {
        self.blobs.inc(1);
    }

    /// Records written.
    pub fn records(&self, n: u64) {
        self.records.inc(n);
    }

    /// Removes the bars (before the summary is printed).
    pub fn finish(&self) {
        for b in [&self.windows, &self.blobs, &self.records] {
            b.finish_and_clear();
        }
    }
}
