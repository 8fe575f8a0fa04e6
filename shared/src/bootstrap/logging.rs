//! Tracing set-up, the same for both functions: JSON lines under Lambda (CloudWatch Logs
//! Insights parses them), human-readable text elsewhere. `RUST_LOG` filters (default `info`).

use tracing_subscriber::EnvFilter;

use super::env::Env;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, without timestamps (Lambda adds its own).
    Json,
    /// Human-readable text with timestamps.
    Text,
}

impl LogFormat {
    /// JSON when running in Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set), text otherwise.
    pub fn detect(env: &Env<'_>) -> LogFormat {
        if env.raw("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            LogFormat::Json
        } else {
            LogFormat::Text
        }
    }
}

/// Installs the global subscriber in `format`; a second call changes nothing.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // `try_init` fails only when a subscriber is already installed: keep that one.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_only_under_lambda() {
        let lambda = |k: &str| (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "f".to_string());
        assert_eq!(LogFormat::detect(&Env::new(&lambda)), LogFormat::Json);
        assert_eq!(LogFormat::detect(&Env::new(&|_| None)), LogFormat::Text);
    }
}
