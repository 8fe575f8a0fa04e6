//! Test support (the `testing` feature), one place for what every crate's tests need:
//! - [`sim`]: an in-process `o365-sim` with tenants and fast-retry clients pointed at it;
//! - [`env`]: the functions' configuration tests' environments;
//! - [`records`]: the repository's own audit records, and the real public ones when present;
//! - here: a moto server (S3, SQS, Secrets Manager) on 127.0.0.1 and helpers that create
//!   uniquely named buckets and queues on it, so tests can run in parallel against one server.
//!
//! `MOTO_ENDPOINT` (set by `make test`) points at a shared server; otherwise each
//! [`MotoServer`] spawns `<workspace>/.venv/bin/moto_server` (`MOTO_SERVER_BIN` overrides) on a
//! free loopback port and kills it when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::aws::{local_sdk_config, s3_client, sqs_client};
use crate::queue::SqsQueue;
use crate::store::S3Store;

pub mod env;
pub mod records;
pub mod sim;

/// How long a spawned moto server may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the moto harness could not be used; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// The Python venv with moto is not there.
    #[error("moto server not found at {0}: run `scripts/venv.sh` (make test does) or set MOTO_SERVER_BIN / MOTO_ENDPOINT")]
    VenvMissing(PathBuf),
    /// The process could not be started.
    #[error("cannot start {bin}: {source}")]
    Spawn {
        /// The program.
        bin: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server did not answer in time or exited.
    #[error("moto server at {endpoint} is not ready: {detail}")]
    NotReady {
        /// Its endpoint.
        endpoint: String,
        /// What happened (exit status, last log lines).
        detail: String,
    },
    /// `MOTO_ENDPOINT` names something other than 127.0.0.1.
    #[error("MOTO_ENDPOINT {0:?} is not http://127.0.0.1:<port>: tests only talk to 127.0.0.1")]
    NotLoopback(String),
    /// A setup call (create bucket/queue) failed.
    #[error("{op} on the local AWS stand-in (moto or the queue server) failed: {message}")]
    Call {
        /// Which call.
        op: &'static str,
        /// The cause.
        message: String,
    },
}

/// A moto server on 127.0.0.1: spawned (and killed on drop) or shared via `MOTO_ENDPOINT`.
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    child: Option<Child>,
    config: SdkConfig,
}

impl MotoServer {
    /// Uses `MOTO_ENDPOINT` if set, else spawns a private server and waits until it answers.
    pub async fn start() -> Result<MotoServer, MotoError> {
        MotoServer::start_with(
            std::env::var("MOTO_ENDPOINT").ok(),
            std::env::var_os("MOTO_SERVER_BIN").map(PathBuf::from),
        )
        .await
    }

    /// `start` with the environment passed in.
    async fn start_with(
        shared_endpoint: Option<String>,
        bin: Option<PathBuf>,
    ) -> Result<MotoServer, MotoError> {
        if let Some(endpoint) = shared_endpoint.filter(|e| !e.is_empty()) {
            let endpoint = endpoint.trim_end_matches('/').to_owned();
            let loopback = url::Url::parse(&endpoint)
                .ok()
                .is_some_and(|u| u.host_str() == Some("127.0.0.1") && u.scheme() == "http");
            if !loopback {
                return Err(MotoError::NotLoopback(endpoint));
            }
            wait_ready(&endpoint, None).await?;
            return Ok(MotoServer::with_endpoint(endpoint, None).await);
        }
        let bin = bin.unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server")
        });
        if !bin.exists() {
            return Err(MotoError::VenvMissing(bin));
        }
        // A port picked free can be taken before moto binds it: try a few.
        let mut last = None;
        for _ in 0..3 {
            let port = free_port().map_err(|source| MotoError::Spawn {
                bin: bin.clone(),
                source,
            })?;
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|source| MotoError::Spawn {
                    bin: bin.clone(),
                    source,
                })?;
            match wait_ready(&endpoint, Some(&mut child)).await {
                Ok(()) => return Ok(MotoServer::with_endpoint(endpoint, Some(child)).await),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| MotoError::NotReady {
            endpoint: "127.0.0.1".into(),
            detail: "no attempt was made".into(),
        }))
    }

    async fn with_endpoint(endpoint: String, child: Option<Child>) -> MotoServer {
        let config = local_sdk_config(&endpoint).await;
        MotoServer {
            endpoint,
            child,
            config,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration for this server (dummy credentials, `us-east-1`).
    pub fn sdk_config(&self) -> SdkConfig {
        self.config.clone()
    }

    /// A path-style S3 client for this server.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.config, true)
    }

    /// An SQS client for this server.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        sqs_client(&self.config)
    }

    /// A Secrets Manager client for this server.
    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        crate::aws::secrets_client(&self.config)
    }

    /// Creates a bucket named `<prefix>-<random>` and returns a store over it.
    pub async fn create_bucket(&self, prefix: &str) -> Result<S3Store, MotoError> {
        let name = unique_name(prefix, 63);
        self.s3()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .map_err(|e| call_err("CreateBucket", &e))?;
        Ok(S3Store::new(self.s3(), name))
    }

    /// Creates a queue named `<prefix>-<random>` with the given visibility timeout.
    pub async fn create_queue(
        &self,
        prefix: &str,
        visibility_timeout: Duration,
    ) -> Result<SqsQueue, MotoError> {
        let name = unique_name(prefix, 80);
        create_named_queue(&self.sqs(), &name, visibility_timeout, None).await
    }

    /// Creates a queue and its dead-letter queue ([`create_queue_with_dlq`]) on moto.
    pub async fn create_queue_with_dlq(
        &self,
        prefix: &str,
        max_receive_count: u32,
        visibility_timeout: Duration,
    ) -> Result<(SqsQueue, SqsQueue), MotoError> {
        create_queue_with_dlq(&self.sqs(), prefix, max_receive_count, visibility_timeout).await
    }
}

/// Creates, on the SQS `sqs` talks to (moto, or another local stand-in), a queue and its
/// dead-letter queue (`<prefix>-<random>` and `...-dlq`): a message received
/// `max_receive_count` times without being deleted moves to the DLQ.
pub async fn create_queue_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    max_receive_count: u32,
    visibility_timeout: Duration,
) -> Result<(SqsQueue, SqsQueue), MotoError> {
    let name = unique_name(prefix, 76);
    let dlq = create_named_queue(sqs, &format!("{name}-dlq"), visibility_timeout, None).await?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(dlq.url())
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| call_err("GetQueueAttributes", &e))?;
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| MotoError::Call {
            op: "GetQueueAttributes",
            message: "no QueueArn in the answer".into(),
        })?;
    let policy = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": max_receive_count,
    })
    .to_string();
    let main = create_named_queue(sqs, &name, visibility_timeout, Some(policy)).await?;
    Ok((main, dlq))
}

async fn create_named_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: Duration,
    redrive_policy: Option<String>,
) -> Result<SqsQueue, MotoError> {
    let mut req = sqs.create_queue().queue_name(name).attributes(
        QueueAttributeName::VisibilityTimeout,
        visibility_timeout.as_secs().to_string(),
    );
    if let Some(policy) = redrive_policy {
        req = req.attributes(QueueAttributeName::RedrivePolicy, policy);
    }
    let out = req.send().await.map_err(|e| call_err("CreateQueue", &e))?;
    let url = out.queue_url.ok_or_else(|| MotoError::Call {
        op: "CreateQueue",
        message: "no QueueUrl in the answer".into(),
    })?;
    Ok(SqsQueue::new(sqs.clone(), url))
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn call_err<E: std::error::Error + 'static>(op: &'static str, e: &E) -> MotoError {
    MotoError::Call {
        op,
        message: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
    }
}

/// `<prefix>-<12 random hex>`, lower-case letters, digits and `-` only, at most `max` long.
pub fn unique_name(prefix: &str, max: usize) -> String {
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    clean.truncate(max.saturating_sub(13).max(1));
    format!("{}-{}", clean.trim_matches('-'), &suffix[..12])
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Polls the endpoint until it answers HTTP, the child exits, or the timeout passes.
async fn wait_ready(endpoint: &str, mut child: Option<&mut Child>) -> Result<(), MotoError> {
    let not_ready = |detail: String| MotoError::NotReady {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| not_ready(e.to_string()))?;
    let started = tokio::time::Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < START_TIMEOUT {
        if let Some(child) = child.as_deref_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(not_ready(format!(
                    "moto_server exited with {status} (port taken?)"
                )));
            }
        }
        match http.get(format!("{endpoint}/moto-api/")).send().await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(not_ready(format!(
        "no answer within {START_TIMEOUT:?}: {last}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_anything_but_loopback_and_says_how_to_get_moto() {
        for endpoint in [
            "http://10.0.0.1:5000",
            "http://localhost:5000",
            "https://127.0.0.1:1",
        ] {
            let err = MotoServer::start_with(Some(endpoint.into()), None)
                .await
                .unwrap_err();
            assert!(
                matches!(err, MotoError::NotLoopback(_)),
                "{endpoint}: {err}"
            );
        }
        let err = MotoServer::start_with(None, Some("/nonexistent/moto_server".into()))
            .await
            .unwrap_err();
        assert!(matches!(err, MotoError::VenvMissing(_)), "{err}");
        assert!(err.to_string().contains("scripts/venv.sh"), "{err}");
    }

    #[test]
    fn unique_names_are_valid_and_distinct() {
        let a = unique_name("My_Test.Bucket", 63);
        let b = unique_name("My_Test.Bucket", 63);
        assert_ne!(a, b);
        assert!(a.starts_with("my-test-bucket-"), "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        let long = unique_name(&"x".repeat(200), 63);
        assert!(long.len() <= 63, "{}", long.len());
    }
}
