//! AWS wiring against moto on 127.0.0.1: the SDK configuration with an endpoint override, and
//! the tenants configuration read from Secrets Manager (errors that never show the secret).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use o365_activity::aws::{load_tenants_from_secret, s3_client, sdk_config, SecretConfigError};
use o365_activity::store::{ObjectMeta, ObjectStore, PutCondition, S3Store};
use o365_activity::testing::{unique_name, MotoServer};

const TENANT: &str = "00000000-0000-0000-0000-000000000001";
const CLIENT: &str = "00000000-0000-0000-0000-000000000c01";

#[tokio::test]
async fn sdk_config_with_endpoint_override_reaches_moto() {
    let moto = MotoServer::start().await.unwrap();
    let cfg = sdk_config(Some(moto.endpoint())).await;
    assert!(cfg.region().is_some());
    let client = s3_client(&cfg, true);
    let bucket = unique_name("wiring", 63);
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let store = S3Store::new(client, bucket);
    let meta = ObjectMeta {
        content_type: "text/plain".into(),
        content_encoding: None,
    };
    store
        .put(
            "k",
            Bytes::from_static(b"v"),
            &meta,
            PutCondition::IfNoneMatch,
        )
        .await
        .unwrap();
    assert_eq!(store.list("").await.unwrap(), vec!["k"]);
}

async fn secret(moto: &MotoServer, text: &str) -> String {
    let name = unique_name("tenants", 60);
    moto.secrets()
        .create_secret()
        .name(&name)
        .secret_string(text)
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn tenants_from_secrets_manager() {
    let moto = MotoServer::start().await.unwrap();
    let sm = moto.secrets();
    let no_env = |_: &str| None;

    let good = format!(
        r#"{{"tenants":[{{"tenant_id":"{TENANT}","client_id":"{CLIENT}","client_secret":"hunter2-very-secret","content_types":["Audit.Exchange"]}}]}}"#
    );
    let id = secret(&moto, &good).await;
    let tenants = load_tenants_from_secret(&sm, &id, &no_env).await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].tenant_id.to_string(), TENANT);
    assert_eq!(tenants[0].content_types.len(), 1);

    // The secret's value may be a client secret: no error may show it.
    let bad_json = r#"{"tenants":[{"tenant_id":"x","client_id":"y","client_secret":["hunter2-very-secret"]}]}"#;
    let id = secret(&moto, bad_json).await;
    let err = load_tenants_from_secret(&sm, &id, &no_env)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SecretConfigError::Malformed { .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    assert!(err.to_string().contains(&id), "{err}");

    let bad_tenant = format!(
        r#"{{"tenants":[{{"tenant_id":"{TENANT}","client_id":"not-a-guid","client_secret":"hunter2-very-secret"}}]}}"#
    );
    let id = secret(&moto, &bad_tenant).await;
    let err = load_tenants_from_secret(&sm, &id, &no_env)
        .await
        .unwrap_err();
    assert!(matches!(err, SecretConfigError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("client_id"), "{err}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");

    let id = unique_name("binary", 60);
    sm.create_secret()
        .name(&id)
        .secret_binary(aws_smithy_types::Blob::new(b"hunter2".to_vec()))
        .send()
        .await
        .unwrap();
    let err = load_tenants_from_secret(&sm, &id, &no_env)
        .await
        .unwrap_err();
    assert!(matches!(err, SecretConfigError::NotText { .. }), "{err:?}");

    let err = load_tenants_from_secret(&sm, "no-such-secret-o365", &no_env)
        .await
        .unwrap_err();
    assert!(matches!(err, SecretConfigError::Fetch { .. }), "{err:?}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("no-such-secret-o365"), "{err}");
}
