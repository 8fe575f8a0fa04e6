//! Contract tests of certificate (client assertion) authentication at both token endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use o365_sim::DEFAULT_CLIENT_ID;

const CERT: &str = include_str!("fixtures/test-only-cert.pem");
const KEY: &str = include_str!("fixtures/test-only-key.pem");
/// base64url of the certificate's SHA-1 fingerprint, as printed by `openssl x509 -fingerprint -sha1`.
const X5T: &str = "_MlLqHcCIj0xDS-epf8CwX7eeGA";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn assertion(aud: &str, iss: &str, exp_offset: i64, x5t: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(x5t.to_string());
    let claims = serde_json::json!({
        "aud": aud, "iss": iss, "sub": iss, "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now - 10, "iat": now - 10, "exp": now + exp_offset,
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn with_cert() -> Ctx {
    let mut cfg = config();
    cfg.certificate_pem = Some(CERT.to_string());
    start(cfg).await
}

async fn assert_call(c: &Ctx, v2: bool, assertion: &str) -> (u16, serde_json::Value) {
    let scope = format!("{}/.default", c.base);
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if v2 {
        form.push(("scope", &scope));
    } else {
        form.push(("resource", &c.base));
    }
    let r = c.token_response(T, &form, v2).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn thumbprint_matches_openssl() {
    let c = with_cert().await;
    assert_eq!(c.sim.certificate_thumbprint().as_deref(), Some(X5T));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn valid_assertions_get_tokens_at_both_endpoints() {
    let c = with_cert().await;
    let v2_aud = format!("{}/{T}/oauth2/v2.0/token", c.base);
    let (status, body) =
        assert_call(&c, true, &assertion(&v2_aud, DEFAULT_CLIENT_ID, 600, X5T)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        c.get(token, &c.feed(T, "subscriptions/list"))
            .await
            .status(),
        200
    );

    let v1_aud = format!("{}/{T}/oauth2/token", c.base);
    let (status, body) =
        assert_call(&c, false, &assertion(&v1_aud, DEFAULT_CLIENT_ID, 600, X5T)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "3599");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn bad_assertions_are_refused_with_entra_codes() {
    let c = with_cert().await;
    let aud = format!("{}/{T}/oauth2/v2.0/token", c.base);
    let cases = [
        (
            assertion(&aud, DEFAULT_CLIENT_ID, 600, "AAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            700027,
        ),
        (
            assertion(
                &format!("{}/{T}/oauth2/token", c.base),
                DEFAULT_CLIENT_ID,
                600,
                X5T,
            ),
            70021,
        ),
        (
            assertion(&aud, "00000000-0000-0000-0000-00000000beef", 600, X5T),
            700021,
        ),
        (assertion(&aud, DEFAULT_CLIENT_ID, -3600, X5T), 700024),
        ("not-a-jwt".to_string(), 50027),
    ];
    for (a, code) in cases {
        let (status, body) = assert_call(&c, true, &a).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"][0], code, "{body}");
    }
    // A signature that does not match the key.
    let good = assertion(&aud, DEFAULT_CLIENT_ID, 600, X5T);
    let (head, sig) = good.rsplit_once('.').unwrap();
    let flipped = match sig.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &sig[1..]),
    };
    let (status, body) = assert_call(&c, true, &format!("{head}.{flipped}")).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700027))
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn assertions_are_refused_when_no_certificate_is_configured() {
    let c = start(config()).await;
    let aud = format!("{}/{T}/oauth2/v2.0/token", c.base);
    let (status, body) = assert_call(&c, true, &assertion(&aud, DEFAULT_CLIENT_ID, 600, X5T)).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700027))
    );
    c.sim.shutdown().await;
}
