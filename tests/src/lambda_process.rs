//! Runs a real Lambda binary (`o365-fetcher`, `o365-lister`) against the in-test Runtime API:
//! builds it if needed, starts it with the environment Lambda gives, captures its output into
//! the run's logs, measures its cold start and can kill it mid-invocation.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::logs::LogBuffer;
use crate::runtime_api::RuntimeApi;

/// Why a binary could not be built or started.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// `cargo build` failed.
    #[error("building {bin} failed: {detail}")]
    Build {
        /// The binary.
        bin: String,
        /// cargo's output.
        detail: String,
    },
    /// The process could not be spawned.
    #[error("starting {path}: {source}")]
    Spawn {
        /// The binary path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process exited before it polled the Runtime API.
    #[error("{bin} exited during init with {status}")]
    Exited {
        /// The binary.
        bin: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The process never polled the Runtime API.
    #[error("{bin} did not become ready within {waited:?} (init errors: {init_errors})")]
    NotReady {
        /// The binary.
        bin: String,
        /// How long it was given.
        waited: Duration,
        /// What it posted to `/runtime/init/error`.
        init_errors: String,
    },
}

/// The directory holding this build's binaries (`target/<profile>`), from the test's own path.
pub fn bin_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()?
    } else {
        deps
    };
    Some(dir.to_path_buf())
}

/// Whether this test binary was built with the release profile.
pub fn is_release() -> bool {
    bin_dir().is_some_and(|d| d.file_name().is_some_and(|n| n == "release"))
}

/// Builds (if stale) and returns the path of a workspace binary of the same profile; with
/// `O365_E2E_BIN_DIR` set (by `make bench`), takes the prebuilt binary from there instead.
pub async fn binary(package: &str, bin: &str) -> Result<PathBuf, ProcessError> {
    if let Some(dir) = std::env::var_os("O365_E2E_BIN_DIR") {
        let path = PathBuf::from(dir).join(bin);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ProcessError::Build {
                bin: bin.to_string(),
                detail: format!("{} does not exist (O365_E2E_BIN_DIR)", path.display()),
            })
        };
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", bin]);
    if is_release() {
        cmd.arg("--release");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ProcessError::Build {
            bin: bin.to_string(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(ProcessError::Build {
            bin: bin.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let dir = bin_dir().ok_or_else(|| ProcessError::Build {
        bin: bin.to_string(),
        detail: "cannot tell the target directory from the test's path".into(),
    })?;
    Ok(dir.join(bin))
}

/// A running Lambda binary.
#[derive(Debug)]
pub struct LambdaProcess {
    /// Binary name, for messages.
    pub bin: String,
    child: Child,
    started: Instant,
    /// Time from spawn to the first `invocation/next` poll.
    pub cold_start: Duration,
}

/// Copies a child's output into its buffer and into the run's logs (for the secret scan).
async fn pump(mut from: impl tokio::io::AsyncRead + Unpin, logs: LogBuffer) {
    let run = crate::logs::capture();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                logs.append(&buf[..n]);
                if !logs.same_as(&run) {
                    run.append(&buf[..n]);
                }
            }
        }
    }
}

impl LambdaProcess {
    /// Starts `path` as function `name` polling `api`, with `env` on top of Lambda's own
    /// variables, and waits until it polls for its first invocation.
    pub async fn start(
        path: &Path,
        name: &str,
        api: &RuntimeApi,
        env: &[(String, String)],
        logs: &LogBuffer,
    ) -> Result<LambdaProcess, ProcessError> {
        let mut cmd = Command::new(path);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RUST_LOG", crate::logs::LOG_FILTER)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, logs.clone()));
        }
        let wait = Duration::from_secs(30);
        let until = Instant::now() + wait;
        let mut ready = None;
        while Instant::now() < until {
            if let Some(at) = api.wait_ready(Duration::from_millis(20)).await {
                ready = Some(at);
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Let the output pumps catch the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(ProcessError::Exited {
                    bin: name.to_string(),
                    status,
                });
            }
            if !api.init_errors().is_empty() {
                break;
            }
        }
        match ready {
            Some(at) => Ok(LambdaProcess {
                bin: name.to_string(),
                child,
                started,
                cold_start: at.saturating_duration_since(started),
            }),
            None => {
                let _ = child.start_kill();
                Err(ProcessError::NotReady {
                    bin: name.to_string(),
                    waited: wait,
                    init_errors: format!("{:?}", api.init_errors()),
                })
            }
        }
    }

    /// How long it has been running.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The OS process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills it at once (SIGKILL), as Lambda does at a timeout or a crash.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Whether it has exited, and with what status.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

/// Peak resident set size of a process in KiB (`VmHWM` of `/proc/PID/status`), on Linux.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
