//! Log capture for a whole test run (in-process `tracing` output and the output of every child
//! process), and the scan that proves no client secret or bearer token was ever logged.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Everything logged so far by this test binary.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Appends raw bytes (a child process's stdout/stderr).
    pub fn append(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
    }

    /// Whether both handles share one buffer.
    pub fn same_as(&self, other: &LogBuffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A copy of everything captured so far, as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// A `tracing` writer that appends to the buffer and echoes to the test's output.
#[derive(Debug, Clone)]
pub struct BufferWriter(LogBuffer);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.append(buf);
        if std::env::var_os("O365_E2E_ECHO_LOGS").is_some() {
            eprint!("{}", String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferWriter {
    type Writer = BufferWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static LOGS: OnceLock<LogBuffer> = OnceLock::new();

/// The filter of captured logs: everything our crates log, down to `trace`, so a secret logged
/// at any level is caught; the simulator and the AWS SDK at `warn`.
pub const LOG_FILTER: &str = "info,o365_activity=trace,o365_lister=trace,o365_fetcher=trace,o365ctl=trace,o365_e2e=debug,o365_sim=warn,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,h2=warn,rustls=warn";

/// Installs the capturing subscriber (once per test binary) and returns the shared buffer.
pub fn capture() -> LogBuffer {
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(LOG_FILTER))
            .with_writer(BufferWriter(buf.clone()))
            .with_ansi(false)
            .try_init();
        buf
    })
    .clone()
}

/// Bearer-token-looking strings (JWTs: `eyJ…` header, two dots) found in the text.
pub fn find_jwts(text: &str) -> Vec<String> {
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("eyJ") {
        let tail = &rest[pos..];
        let candidate: String = tail.chars().take_while(|c| b64(*c) || *c == '.').collect();
        let parts: Vec<&str> = candidate.split('.').collect();
        if parts.len() >= 3 && parts[0].len() >= 10 && parts[1].len() >= 10 && !parts[2].is_empty()
        {
            out.push(candidate.clone());
        }
        rest = &tail[candidate.len().max(3)..];
    }
    out
}

/// Every leak in `text`: occurrences of any of `secrets`, of any of `tokens`, and any JWT.
pub fn leaks(text: &str, secrets: &[&str], tokens: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(s) {
            out.push(format!(
                "client secret {:?}… appears in the logs",
                &s[..s.len().min(4)]
            ));
        }
    }
    for t in tokens.iter().filter(|t| !t.is_empty()) {
        if text.contains(t.as_str()) {
            out.push("an issued bearer token appears in the logs".to_string());
        }
    }
    for jwt in find_jwts(text) {
        out.push(format!(
            "a JWT appears in the logs: {}…",
            &jwt[..jwt.len().min(16)]
        ));
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("bearer ey") || lower.contains("authorization: bearer") {
        out.push("an Authorization header appears in the logs".to_string());
    }
    out
}

/// Scans everything captured so far; `Err` lists each leak.
pub fn assert_no_leaks(secrets: &[&str], tokens: &[String]) -> Result<(), String> {
    let text = capture().text();
    let found = leaks(&text, secrets, tokens);
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_jwts_and_secrets() {
        let jwt =
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJodHRwOi8vMTI3LjAuMC4xIn0.c2lnbmF0dXJl";
        let text = format!("INFO got token {jwt} ok\nsecret=s3cr3t-value\n");
        assert_eq!(find_jwts(&text), vec![jwt.to_string()]);
        let l = leaks(&text, &["s3cr3t-value"], &[]);
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(leaks("INFO listed 3 blobs, eyJ alone", &["x-secret"], &[]).is_empty());
    }
}
