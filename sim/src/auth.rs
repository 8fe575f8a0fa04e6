//! The fake Entra ID token endpoints (v1 and v2, secret and certificate assertion) and the
//! access tokens they issue (HS256 JWTs signed with a key of the run).

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::config::SimConfig;
use crate::error::SimError;

/// Claims of an issued access token (app-only, v1 format as in §3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Audience: the simulated API host.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at (simulated epoch seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry (simulated epoch seconds).
    pub exp: i64,
    /// Token version.
    pub ver: String,
    /// Tenant id.
    pub tid: String,
    /// Granted application roles.
    pub roles: Vec<String>,
    /// Client id.
    pub appid: String,
    /// `1` for a secret, `2` for a certificate.
    pub appidacr: String,
    /// Service principal object id.
    pub oid: String,
    /// Subject.
    pub sub: String,
}

/// A token-endpoint failure in Entra's error shape.
#[derive(Debug, Clone)]
pub struct TokenError {
    /// HTTP status.
    pub status: u16,
    /// OAuth error (`invalid_client`, `invalid_scope`, …).
    pub error: &'static str,
    /// AADSTS number.
    pub code: u32,
    /// Description after `AADSTSnnn: `.
    pub description: String,
}

impl TokenError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    /// The JSON body Entra sends.
    pub fn body(&self, now: DateTime<Utc>, trace: &str) -> serde_json::Value {
        let ts = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        serde_json::json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace} Correlation ID: {trace} Timestamp: {ts}", self.code, self.description),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": trace,
        })
    }
}

#[derive(Debug)]
struct CertKey {
    key: DecodingKey,
    x5t: String,
}

/// Issues and checks tokens.
#[derive(Debug)]
pub struct Auth {
    enc: EncodingKey,
    dec: DecodingKey,
    client_id: String,
    client_secret: String,
    cert: Option<CertKey>,
    lifetime_secs: i64,
}

/// The token of an `Authorization: Bearer …` header (either capitalisation of the scheme),
/// trimmed; `None` when the header is missing or has another scheme.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Which token endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/{tenant}/oauth2/token` with `resource`.
    V1,
    /// `/{tenant}/oauth2/v2.0/token` with `scope`.
    V2,
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    aud: serde_json::Value,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const CLOCK_SKEW_SECS: i64 = 300;

/// A validation of the signature alone: audience and lifetime are checked by the caller, against
/// simulated time rather than the wall clock.
fn signature_only(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v
}

/// Reads a PEM certificate: its RSA key for RS256 checks and its base64url SHA-1 thumbprint.
fn read_certificate(pem: &str) -> Result<CertKey, SimError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| SimError::Certificate(format!("not PEM: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| SimError::Certificate(format!("not an X.509 certificate: {e}")))?;
    let spki = cert.public_key();
    let key = match spki.parsed() {
        // The SPKI bit string of an RSA key is the PKCS#1 RSAPublicKey DER the verifier wants.
        Ok(x509_parser::public_key::PublicKey::RSA(_)) => {
            DecodingKey::from_rsa_der(&spki.subject_public_key.data)
        }
        Ok(_) => {
            return Err(SimError::Certificate(
                "the certificate's key is not RSA".into(),
            ))
        }
        Err(e) => return Err(SimError::Certificate(format!("unreadable public key: {e}"))),
    };
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(&pem.contents));
    Ok(CertKey { key, x5t })
}

impl Auth {
    /// Builds the token issuer of a run (signing key derived from the seed).
    pub fn new(config: &SimConfig) -> Result<Auth, SimError> {
        let secret = Sha1::digest(format!("o365-sim access token key {}", config.seed).as_bytes());
        let cert = config
            .certificate_pem
            .as_deref()
            .map(read_certificate)
            .transpose()?;
        Ok(Auth {
            enc: EncodingKey::from_secret(&secret),
            dec: DecodingKey::from_secret(&secret),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            cert,
            lifetime_secs: config.token_lifetime.as_secs() as i64,
        })
    }

    /// Base64url SHA-1 thumbprint of the configured certificate.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.cert.as_ref().map(|c| c.x5t.as_str())
    }

    /// Handles a client-credentials token request; on success returns the JSON response body
    /// (v1 with string numbers, v2 with numbers).
    #[allow(clippy::too_many_arguments)]
    pub fn token(
        &self,
        endpoint: Endpoint,
        base_url: &str,
        tenant_id: &str,
        dlp_permission: bool,
        form: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, TokenError> {
        let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let missing = |name: &str| {
            TokenError::new(
                400,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        };
        let grant = param("grant_type").ok_or_else(|| missing("grant_type"))?;
        if grant != "client_credentials" {
            return Err(TokenError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        let client_id = param("client_id").ok_or_else(|| missing("client_id"))?;
        if client_id != self.client_id {
            return Err(TokenError::new(400, "unauthorized_client", 700016, format!("Application with identifier '{client_id}' was not found in the directory '{tenant_id}'.")));
        }
        let target = match endpoint {
            Endpoint::V2 => {
                let scope = param("scope").ok_or_else(|| missing("scope"))?;
                let Some(resource) = scope.strip_suffix("/.default") else {
                    return Err(TokenError::new(400, "invalid_scope", 1002012, format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")));
                };
                resource.to_string()
            }
            Endpoint::V1 => param("resource")
                .ok_or_else(|| missing("resource"))?
                .to_string(),
        };
        // Graph (the audit log query API) is a resource of its own: its tokens carry Graph's
        // audience and role, and only Graph routes accept them.
        let graph = crate::graph::is_graph_resource(&target);
        if !graph && target.trim_end_matches('/') != base_url {
            return Err(TokenError::new(400, "invalid_resource", 500011, format!("The resource principal named {target} was not found in the tenant named {tenant_id}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.")));
        }
        let acr = match (param("client_secret"), param("client_assertion")) {
            (Some(secret), _) => {
                if secret != self.client_secret {
                    return Err(TokenError::new(401, "invalid_client", 7000215, format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.")));
                }
                "1"
            }
            (None, Some(assertion)) => {
                if param("client_assertion_type") != Some(ASSERTION_TYPE) {
                    return Err(TokenError::new(400, "invalid_request", 50027, "Invalid client_assertion_type; expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer."));
                }
                let path = match endpoint {
                    Endpoint::V1 => "oauth2/token",
                    Endpoint::V2 => "oauth2/v2.0/token",
                };
                self.check_assertion(
                    assertion,
                    &format!("{base_url}/{tenant_id}/{path}"),
                    client_id,
                )?;
                "2"
            }
            (None, None) => {
                return Err(TokenError::new(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."));
            }
        };
        let token = if graph {
            self.issue_to(
                crate::graph::GRAPH_AUDIENCE,
                tenant_id,
                vec![crate::graph::GRAPH_ROLE.to_string()],
                acr,
                now,
            )
        } else {
            self.issue(base_url, tenant_id, dlp_permission, acr, now)
        };
        let iat = now.timestamp();
        Ok(match endpoint {
            Endpoint::V2 => serde_json::json!({
                "token_type": "Bearer",
                "expires_in": self.lifetime_secs,
                "ext_expires_in": self.lifetime_secs,
                "access_token": token,
            }),
            Endpoint::V1 => serde_json::json!({
                "token_type": "Bearer",
                "expires_in": self.lifetime_secs.to_string(),
                "ext_expires_in": self.lifetime_secs.to_string(),
                "expires_on": (iat + self.lifetime_secs).to_string(),
                "not_before": iat.to_string(),
                "resource": target,
                "access_token": token,
            }),
        })
    }

    fn check_assertion(
        &self,
        assertion: &str,
        token_url: &str,
        client_id: &str,
    ) -> Result<(), TokenError> {
        let sig = |why: &str| {
            TokenError::new(
                401,
                "invalid_client",
                700027,
                format!("Client assertion failed signature validation. [Reason - {why}]"),
            )
        };
        let cert = self.cert.as_ref().ok_or_else(|| sig("The key was not found., Thumbprint of key used by client: no certificate is registered for the app"))?;
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
            TokenError::new(
                401,
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            )
        })?;
        if header.alg != Algorithm::RS256 {
            return Err(sig("The assertion must be signed with RS256."));
        }
        if header.x5t.as_deref() != Some(cert.x5t.as_str()) {
            return Err(sig(&format!(
                "The key was not found., Thumbprint of key used by client: '{}'",
                header.x5t.unwrap_or_default()
            )));
        }
        let v = signature_only(Algorithm::RS256);
        let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &v)
            .map_err(|_| {
                sig("The provided signature value did not match the expected signature value.")
            })?
            .claims;
        let aud_ok = match &claims.aud {
            serde_json::Value::String(s) => s == token_url,
            serde_json::Value::Array(a) => a.iter().any(|s| s.as_str() == Some(token_url)),
            _ => false,
        };
        if !aud_ok {
            return Err(TokenError::new(401, "invalid_client", 70021, format!("The audience claim of the client assertion must be the token endpoint {token_url}.")));
        }
        if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
            return Err(TokenError::new(401, "invalid_client", 700021, format!("Client assertion application identifier doesn't match 'client_id' parameter ('{client_id}'); iss and sub must both be the client id.")));
        }
        // Assertions are made with the client's real clock, so they are checked against real time.
        let real_now = Utc::now().timestamp();
        let in_range = claims
            .exp
            .is_some_and(|exp| exp + CLOCK_SKEW_SECS > real_now)
            && claims
                .nbf
                .is_none_or(|nbf| nbf - CLOCK_SKEW_SECS <= real_now);
        if !in_range {
            return Err(TokenError::new(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            ));
        }
        Ok(())
    }

    /// Mints an access token for a tenant (also used by tests that need one directly).
    pub fn issue(
        &self,
        base_url: &str,
        tenant_id: &str,
        dlp_permission: bool,
        acr: &str,
        now: DateTime<Utc>,
    ) -> String {
        let mut roles = vec!["ActivityFeed.Read".to_string()];
        if dlp_permission {
            roles.push("ActivityFeed.ReadDlp".to_string());
        }
        self.issue_to(base_url, tenant_id, roles, acr, now)
    }

    /// Mints an access token for any audience and roles (Graph tokens use this).
    pub fn issue_to(
        &self,
        audience: &str,
        tenant_id: &str,
        roles: Vec<String>,
        acr: &str,
        now: DateTime<Utc>,
    ) -> String {
        let iat = now.timestamp();
        let digest = Sha1::digest(format!("oid {}", self.client_id).as_bytes());
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&digest[..16]);
        let oid = uuid::Builder::from_random_bytes(raw)
            .into_uuid()
            .to_string();
        let claims = AccessClaims {
            aud: audience.to_string(),
            iss: format!("https://sts.windows.net/{tenant_id}/"),
            iat,
            nbf: iat,
            exp: iat + self.lifetime_secs,
            ver: "1.0".into(),
            tid: tenant_id.to_string(),
            roles,
            appid: self.client_id.clone(),
            appidacr: acr.to_string(),
            oid: oid.clone(),
            sub: oid,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc).unwrap_or_default()
    }

    /// Verifies a bearer token: signature, audience (the simulated host for the Management API,
    /// [`crate::graph::GRAPH_AUDIENCE`] for Graph) and expiry (simulated time).
    pub fn verify(&self, token: &str, audience: &str, now: DateTime<Utc>) -> Option<AccessClaims> {
        let v = signature_only(Algorithm::HS256);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.dec, &v)
            .ok()?
            .claims;
        (claims.aud == audience
            && claims.exp > now.timestamp()
            && claims.nbf <= now.timestamp() + CLOCK_SKEW_SECS)
            .then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../tests/fixtures/test-only-cert.pem");
    const KEY: &str = include_str!("../tests/fixtures/test-only-key.pem");

    #[test]
    fn certificate_key_verifies_what_the_private_key_signs() {
        let cert = read_certificate(CERT).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(cert.x5t.clone());
        let claims = serde_json::json!({"aud": "a", "iss": "i", "sub": "i", "exp": 1});
        let jwt = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
        )
        .unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let got = jsonwebtoken::decode::<AssertionClaims>(&jwt, &cert.key, &v);
        assert!(got.is_ok(), "{got:?}");
    }
}
