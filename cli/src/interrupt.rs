//! Ctrl-C (SIGINT) and SIGTERM for `o365ctl run`: the first signal asks the run to stop
//! cleanly (no new window, leases released, summary printed, exit 130 / 143); a second one
//! exits at once.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use crate::exit::Code;

/// The process's stop request, shared by everything that must stop on a signal.
#[derive(Debug, Clone)]
pub struct Interrupts {
    cancel: watch::Receiver<bool>,
    signal: Arc<OnceLock<Code>>,
}

impl Interrupts {
    /// Starts listening for SIGINT and SIGTERM (Ctrl-C only where there are no Unix signals).
    pub fn listen() -> Interrupts {
        let (tx, cancel) = watch::channel(false);
        let signal = Arc::new(OnceLock::new());
        let got = Arc::clone(&signal);
        tokio::spawn(async move {
            let Some(first) = next_signal().await else {
                return;
            };
            let _ = got.set(first);
            let _ = tx.send(true);
            eprintln!(
                "stopping: no new window is started, leases are released and the summary printed; press Ctrl-C again to exit at once"
            );
            if let Some(second) = next_signal().await {
                eprintln!("exiting at once: leases still held expire at the end of --timeout; blobs listed but not yet fetched in this run are not in the output (o365ctl backfill --last <the run's lag> fetches them)");
                std::process::exit(second.as_i32());
            }
        });
        Interrupts { cancel, signal }
    }

    /// A receiver that turns `true` at the first signal (for [`o365_lister::Lister::run_until`]).
    pub fn cancel(&self) -> watch::Receiver<bool> {
        self.cancel.clone()
    }

    /// The exit code the first signal calls for, once one arrived.
    pub fn code(&self) -> Option<Code> {
        self.signal.get().copied()
    }

    /// Resolves at the first signal (never if listening failed).
    pub async fn wait(&self) {
        let mut rx = self.cancel.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The next SIGINT or SIGTERM, as the exit code it calls for; `None` when signals cannot be
/// received (the default disposition, ending the process, then stays).
#[cfg(unix)]
async fn next_signal() -> Option<Code> {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C/SIGTERM; a signal ends the run without releasing its leases");
            return None;
        }
    };
    tokio::select! {
        _ = int.recv() => Some(Code::Interrupted),
        _ = term.recv() => Some(Code::Terminated),
    }
}

/// The next Ctrl-C, as the exit code it calls for.
#[cfg(not(unix))]
async fn next_signal() -> Option<Code> {
    tokio::signal::ctrl_c()
        .await
        .ok()
        .map(|()| Code::Interrupted)
}
