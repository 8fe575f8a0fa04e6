//! AWS wiring shared by every binary: SDK configuration (with an endpoint override for moto),
//! S3/SQS clients, tenant configuration from Secrets Manager, and one way to classify SDK
//! errors as retryable or not.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::tenants::{ConfigError, TenantConfig, TenantsFile};

/// The region used with an endpoint override when none is configured (moto accepts any).
pub const LOCAL_REGION: &str = "us-east-1";

/// Loads the default AWS configuration chain. With an endpoint override (moto, LocalStack, a
/// VPC endpoint), every client talks to that endpoint; region `us-east-1` is filled in when none
/// is configured, and for a loopback endpoint dummy static credentials too, when none are set
/// in the environment.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader
            .endpoint_url(endpoint)
            .region(RegionProviderChain::default_provider().or_else(Region::new(LOCAL_REGION)));
        let env_credentials = [
            "AWS_ACCESS_KEY_ID",
            "AWS_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
        if is_loopback(endpoint) && !env_credentials {
            loader = loader.credentials_provider(dummy_credentials());
        }
    }
    loader.load().await
}

/// Whether an endpoint URL points at this machine (where a local stand-in accepts any key).
fn is_loopback(endpoint: &str) -> bool {
    url::Url::parse(endpoint)
        .ok()
        .is_some_and(|u| crate::cloud::is_loopback(&u))
}

/// A configuration for a local endpoint only: static dummy credentials, region `us-east-1`,
/// nothing read from the environment or `~/.aws` (used by the test harness).
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(dummy_credentials())
        .load()
        .await
}

fn dummy_credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "o365-collector-local")
}

/// An S3 client; `path_style` (needed with an endpoint override such as moto) addresses
/// buckets as `http://host/bucket/key` instead of `http://bucket.host/key`.
pub fn s3_client(cfg: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(cfg)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An SQS client.
pub fn sqs_client(cfg: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(cfg)
}

/// A Secrets Manager client.
pub fn secrets_client(cfg: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(cfg)
}

/// The AWS clients of a function, all pointed at `AWS_ENDPOINT_URL` when it is set (S3 then
/// addresses buckets path-style, as moto and LocalStack need).
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// S3: data, checkpoints and reports.
    pub s3: aws_sdk_s3::Client,
    /// SQS: the fetch queue.
    pub sqs: aws_sdk_sqs::Client,
    /// Secrets Manager: the tenants secret.
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    /// Builds every client from the default configuration chain and `endpoint`.
    pub async fn new(endpoint: Option<&str>) -> AwsClients {
        let sdk = sdk_config(endpoint).await;
        AwsClients {
            s3: s3_client(&sdk, endpoint.is_some()),
            sqs: sqs_client(&sdk),
            secrets: secrets_client(&sdk),
        }
    }
}

/// Why the tenant configuration could not be loaded from Secrets Manager. Never carries the
/// secret's text.
#[derive(Debug, thiserror::Error)]
pub enum SecretConfigError {
    /// The GetSecretValue call failed.
    #[error("cannot read secret {secret_id} from Secrets Manager: {message}; check the secret name/ARN, the function's secretsmanager:GetSecretValue permission and kms:Decrypt on its key")]
    Fetch {
        /// The secret's name or ARN.
        secret_id: String,
        /// The service's message.
        message: String,
        /// Whether a retry can help (throttling, 5xx, timeouts).
        retryable: bool,
    },
    /// The secret holds binary data, not a string.
    #[error("secret {secret_id} has no SecretString: store the tenants configuration as JSON text ({{\"tenants\":[...]}})")]
    NotText {
        /// The secret's name or ARN.
        secret_id: String,
    },
    /// The secret's text is not the JSON tenants configuration.
    #[error("secret {secret_id} is not a valid tenants configuration: {problem}")]
    Malformed {
        /// The secret's name or ARN.
        secret_id: String,
        /// What is wrong, without any of the secret's values.
        problem: String,
    },
    /// The configuration parsed but a tenant is unusable.
    #[error("secret {secret_id}: {source}")]
    Invalid {
        /// The secret's name or ARN.
        secret_id: String,
        /// What to fix.
        #[source]
        source: ConfigError,
    },
}

impl SecretConfigError {
    /// Whether retrying later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SecretConfigError::Fetch {
                retryable: true,
                ..
            }
        )
    }
}

/// Reads the tenants configuration (the JSON form of [`TenantsFile`]) from a Secrets Manager
/// secret and resolves it; `env` looks up environment variables named by `client_secret_env`.
pub async fn load_tenants_from_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Vec<TenantConfig>, SecretConfigError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            let f = SdkFailure::from_sdk(&e);
            SecretConfigError::Fetch {
                secret_id: secret_id.to_owned(),
                message: f.message,
                retryable: f.retryable,
            }
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| SecretConfigError::NotText {
            secret_id: secret_id.to_owned(),
        })?;
    tenants_from_secret_text(secret_id, text)?
        .resolve(env)
        .map_err(|source| SecretConfigError::Invalid {
            secret_id: secret_id.to_owned(),
            source,
        })
}

/// Parses the secret's JSON without ever echoing its values: serde's messages quote the
/// offending value ("invalid type: string \"...\""), so only field names and positions are kept.
fn tenants_from_secret_text(secret_id: &str, text: &str) -> Result<TenantsFile, SecretConfigError> {
    serde_json::from_str::<TenantsFile>(text).map_err(|e| {
        let msg = e.to_string();
        let problem = if msg.starts_with("missing field") || msg.starts_with("unknown field") {
            msg
        } else {
            let kind = match e.classify() {
                serde_json::error::Category::Syntax => "it is not valid JSON",
                serde_json::error::Category::Eof => "the JSON ends early",
                serde_json::error::Category::Data => {
                    "a value has the wrong type (expected {\"tenants\":[{\"tenant_id\":\"<guid>\",\"client_id\":\"<guid>\",\"client_secret\":\"...\"}]})"
                }
                serde_json::error::Category::Io => "it could not be read",
            };
            format!("{kind} at line {} column {}", e.line(), e.column())
        };
        SecretConfigError::Malformed {
            secret_id: secret_id.to_owned(),
            problem,
        }
    })
}

/// One short line for people from any AWS SDK error: the likely cause (no such bucket or
/// queue, access denied, refused credentials, wrong region or endpoint) with the service's
/// error code; the SDK's full debug form is logged at debug level (`-vv`) by [`SdkFailure`].
pub fn readable_cause<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("");
            let cause = match code {
                "NoSuchBucket" => "no such bucket",
                // HeadBucket answers a bare 404.
                "NotFound" => "not found: no such bucket",
                "AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist" => "no such queue",
                "AccessDenied" | "AccessDeniedException" | "AuthorizationError" => {
                    "access denied: the AWS identity lacks the permission"
                }
                "InvalidAccessKeyId"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "UnrecognizedClientException" => "the AWS credentials were refused",
                "PermanentRedirect"
                | "AuthorizationHeaderMalformed"
                | "IllegalLocationConstraintException" => {
                    "wrong region or endpoint for this resource"
                }
                _ => "",
            };
            let cause = if cause.is_empty() {
                match (code, e.message(), ctx.raw().status().as_u16()) {
                    ("", _, 404) => "not found (HTTP 404): no such bucket or queue".to_owned(),
                    ("", _, 403) => {
                        "access denied (HTTP 403): the AWS identity lacks the permission".to_owned()
                    }
                    ("", _, 301) => "wrong region or endpoint (HTTP 301)".to_owned(),
                    ("", Some(m), status) => format!("{m} (HTTP {status})"),
                    ("", None, status) => {
                        format!("the service refused the request (HTTP {status})")
                    }
                    (c, Some(m), _) => format!("{m} ({c})"),
                    (c, None, _) => c.to_owned(),
                }
            } else if code.is_empty() {
                cause.to_owned()
            } else {
                format!("{cause} ({code})")
            };
            cause.chars().take(300).collect()
        }
        SdkError::DispatchFailure(_) => {
            let full = DisplayErrorContext(err).to_string();
            if full.contains("credentials") {
                "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_owned()
            } else {
                "cannot connect to the AWS endpoint: check --endpoint-url / AWS_ENDPOINT_URL, the region and the network".to_owned()
            }
        }
        SdkError::TimeoutError(_) => "the AWS endpoint did not answer in time".to_owned(),
        SdkError::ResponseError(_) => {
            "the AWS endpoint's answer could not be read: is --endpoint-url an S3/SQS endpoint?"
                .to_owned()
        }
        SdkError::ConstructionFailure(_) => {
            let full = DisplayErrorContext(err).to_string();
            if full.contains("credentials") {
                "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_owned()
            } else {
                "the request could not be built: check the region and the resource name".to_owned()
            }
        }
        _ => DisplayErrorContext(err)
            .to_string()
            .chars()
            .take(300)
            .collect(),
    }
}

/// An AWS SDK failure reduced to what callers decide on: status, message, retryable.
#[derive(Debug, Clone)]
pub(crate) struct SdkFailure {
    /// HTTP status, when the service answered.
    pub status: Option<u16>,
    /// A one-line description with the whole cause chain.
    pub message: String,
    /// Throttling, 5xx, timeouts, dispatch failures and conflicting writes.
    pub retryable: bool,
}

/// Error codes that mean "slow down / try again" whatever the status.
const RETRYABLE_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ConditionalRequestConflict",
    "OperationAborted",
    "KMS.ThrottlingException",
];

impl SdkFailure {
    /// Classifies any SDK error (S3, SQS, Secrets Manager share the type).
    pub fn from_sdk<E>(err: &SdkError<E>) -> SdkFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        tracing::debug!("AWS SDK error: {}", DisplayErrorContext(err));
        let message = readable_cause(err);
        match err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                let retryable = status >= 500
                    || status == 429
                    || ctx
                        .err()
                        .code()
                        .is_some_and(|c| RETRYABLE_CODES.contains(&c));
                SdkFailure {
                    status: Some(status),
                    message,
                    retryable,
                }
            }
            SdkError::ConstructionFailure(_) => SdkFailure {
                status: None,
                message,
                retryable: false,
            },
            // Timeouts, connection failures and broken responses: the service may be fine
            // on the next attempt.
            _ => SdkFailure {
                status: err.raw_response().map(|r| r.status().as_u16()),
                message,
                retryable: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service(status: u16, code: &str) -> SdkFailure {
        let err = GetObjectError::generic(ErrorMetadata::builder().code(code).build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkFailure::from_sdk(&SdkError::service_error(err, raw))
    }

    #[test]
    fn classifies_sdk_errors() {
        for (status, code, retryable) in [
            (503, "SlowDown", true),
            (500, "InternalError", true),
            (429, "TooManyRequests", true),
            (400, "ThrottlingException", true),
            (400, "RequestTimeout", true),
            (409, "ConditionalRequestConflict", true),
            (412, "PreconditionFailed", false),
            (403, "AccessDenied", false),
            (404, "NoSuchBucket", false),
            (400, "InvalidParameterValue", false),
        ] {
            let f = service(status, code);
            assert_eq!(f.status, Some(status));
            assert_eq!(f.retryable, retryable, "{status} {code}");
            assert!(f.message.contains(code), "{}", f.message);
        }
        assert!(service(404, "NoSuchBucket")
            .message
            .starts_with("no such bucket"));
        assert!(service(403, "AccessDenied")
            .message
            .starts_with("access denied"));
        let timeout: SdkError<GetObjectError> = SdkError::timeout_error("slow");
        assert!(SdkFailure::from_sdk(&timeout).retryable);
        let bad: SdkError<GetObjectError> = SdkError::construction_failure("bad input");
        assert!(!SdkFailure::from_sdk(&bad).retryable);
    }

    #[test]
    fn loopback_endpoints() {
        assert!(is_loopback("http://127.0.0.1:5000"));
        assert!(is_loopback("http://localhost:4566/"));
        assert!(is_loopback("http://[::1]:9000"));
        assert!(!is_loopback("https://s3.eu-west-1.amazonaws.com"));
        assert!(!is_loopback("https://10.0.0.5"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn malformed_secret_never_echoes_values() {
        for text in [
            r#""my-super-secret""#,
            r#"{"tenants":[{"tenant_id":"x","client_id":"y","client_secret":12345678}]}"#,
            r#"{"tenants":"my-super-secret"}"#,
            "my-super-secret",
            r#"{"tenants":[{"tenant_id":"x","client_id":"y","client_secret":"my-super-secret""#,
        ] {
            let err = tenants_from_secret_text("arn:x", text).unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("my-super-secret"), "{shown}");
            assert!(!shown.contains("12345678"), "{shown}");
            assert!(shown.contains("arn:x"), "{shown}");
        }
    }

    #[test]
    fn malformed_secret_names_the_field() {
        let err = tenants_from_secret_text("s", r#"{"tenants":[{"tenant_id":"x"}]}"#).unwrap_err();
        assert!(err.to_string().contains("client_id"), "{err}");
        let err = tenants_from_secret_text("s", r#"{"tenantz":[]}"#).unwrap_err();
        assert!(err.to_string().contains("tenantz"), "{err}");
    }

    #[test]
    fn valid_secret_resolves_and_bad_tenant_says_what_to_fix() {
        let text = r#"{"tenants":[{"tenant_id":"00000000-0000-0000-0000-000000000001","client_id":"00000000-0000-0000-0000-000000000c01","client_secret":"my-super-secret"}]}"#;
        let file = tenants_from_secret_text("s", text).unwrap();
        let tenants = file.resolve(&|_| None).unwrap();
        assert_eq!(tenants.len(), 1);
        let text = r#"{"tenants":[{"tenant_id":"00000000-0000-0000-0000-000000000001","client_id":"nope","client_secret":"my-super-secret"}]}"#;
        let err = tenants_from_secret_text("s", text)
            .unwrap()
            .resolve(&|_| None)
            .map_err(|source| SecretConfigError::Invalid {
                secret_id: "s".into(),
                source,
            })
            .unwrap_err();
        assert!(err.to_string().contains("client_id"), "{err}");
        assert!(!err.to_string().contains("my-super-secret"), "{err}");
    }
}
