//! Where a command reads and writes: a local directory or an S3 bucket for objects and
//! checkpoints, the in-process queue or an SQS queue for messages.

use std::path::PathBuf;

use o365_activity::aws::{s3_client, sdk_config, sqs_client};
use o365_activity::queue::SqsQueue;
use o365_activity::store::{LocalStore, S3Store};

use crate::args::StorageArgs;
use crate::exit::Failure;

/// The object store of a command.
#[derive(Debug, Clone)]
pub enum StoreTarget {
    /// A local directory (same layout as the bucket).
    Local(LocalStore),
    /// An S3 bucket.
    S3(S3Store),
}

impl StoreTarget {
    /// Where the objects are, for people: an absolute directory or `s3://bucket/prefix`.
    pub fn describe(&self, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        match self {
            StoreTarget::Local(s) => {
                let dir = if prefix.is_empty() {
                    s.root().to_path_buf()
                } else {
                    s.root().join(prefix)
                };
                dir.display().to_string()
            }
            StoreTarget::S3(s) => format!("s3://{}/{prefix}", s.bucket()),
        }
    }
}

/// Calls a generic async function with the concrete store of a [`StoreTarget`].
macro_rules! with_store {
    ($target:expr, |$s:ident| $body:expr) => {
        match $target {
            $crate::target::StoreTarget::Local($s) => $body,
            $crate::target::StoreTarget::S3($s) => $body,
        }
    };
}
pub(crate) use with_store;

/// AWS clients, built once per command when a bucket or queue is used.
#[derive(Debug, Clone)]
pub struct Aws {
    config: aws_config::SdkConfig,
    path_style: bool,
}

impl Aws {
    /// Loads the AWS configuration (credentials chain, region; `--endpoint-url` for moto).
    pub async fn load(storage: &StorageArgs) -> Aws {
        Aws {
            config: sdk_config(storage.endpoint_url.as_deref()).await,
            path_style: storage.endpoint_url.is_some(),
        }
    }

    /// An SQS queue by URL.
    pub fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(sqs_client(&self.config), url)
    }

    /// An SQS queue by URL, checked with one cheap call before any work, so a wrong URL,
    /// endpoint, region or credentials fail now (exit 3) rather than after state is written.
    pub async fn checked_queue(&self, url: &str) -> Result<SqsQueue, Failure> {
        let queue = self.queue(url);
        queue.approximate_depth().await.map_err(|e| {
            Failure::unreachable(anyhow::anyhow!(
                "{e}; check --queue-url, --endpoint-url, the region and your AWS credentials"
            ))
        })?;
        Ok(queue)
    }
}

impl StorageArgs {
    /// The object store: `--bucket` or the `--out` directory (created if missing).
    pub async fn store(&self, aws: Option<&Aws>) -> Result<StoreTarget, Failure> {
        match (&self.bucket, aws) {
            (Some(bucket), Some(aws)) => {
                let client = s3_client(&aws.config, aws.path_style);
                // One cheap call, so a wrong bucket or endpoint fails now with a clear message.
                client.head_bucket().bucket(bucket).send().await.map_err(|e| {
                    tracing::debug!(
                        "HeadBucket {bucket}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    );
                    Failure::unreachable(anyhow::anyhow!(
                        "cannot use bucket {bucket}: {}; check --bucket, --endpoint-url, the region and your AWS credentials",
                        o365_activity::aws::readable_cause(&e)
                    ))
                })?;
                Ok(StoreTarget::S3(S3Store::new(client, bucket.clone())))
            }
            _ => {
                std::fs::create_dir_all(&self.out).map_err(|e| {
                    Failure::usage(anyhow::anyhow!(
                        "cannot create the output directory {}: {e}; pick another with --out",
                        self.out.display()
                    ))
                })?;
                let root: PathBuf = std::fs::canonicalize(&self.out).unwrap_or(self.out.clone());
                Ok(StoreTarget::Local(LocalStore::new(root)))
            }
        }
    }

    /// Checks `--queue-url` (unless nothing will be sent) before any work starts.
    pub async fn check_queue(&self, aws: Option<&Aws>, dry_run: bool) -> Result<(), Failure> {
        match (&self.queue_url, aws) {
            (Some(url), Some(aws)) if !dry_run => aws.checked_queue(url).await.map(drop),
            _ => Ok(()),
        }
    }

    /// Whether any AWS service is addressed.
    pub fn uses_aws(&self) -> bool {
        self.bucket.is_some() || self.queue_url.is_some()
    }

    /// AWS clients when a bucket or queue is addressed.
    pub async fn aws(&self) -> Option<Aws> {
        if self.uses_aws() {
            Some(Aws::load(self).await)
        } else {
            None
        }
    }
}
