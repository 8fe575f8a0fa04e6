//! Certificate credentials: the certificate's `x5t` thumbprint, the check that the private key
//! belongs to the certificate, and the signed client assertion (Entra's JWT bearer).

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha1::{Digest, Sha1};

use super::ClientError;

/// Lifetime of a client assertion (Entra wants a few minutes).
const ASSERTION_LIFETIME_SECS: i64 = 600;

/// The `x5t` header value: base64url (no padding) of the SHA-1 of the certificate's DER.
pub(crate) fn certificate_x5t(certificate_pem: &str) -> Result<String, ClientError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let bad = |why: &str| {
        ClientError::Credential(format!(
            "the certificate is not a PEM certificate ({why}); give the public certificate in PEM form (-----BEGIN CERTIFICATE-----)"
        ))
    };
    let start = certificate_pem
        .find(BEGIN)
        .ok_or_else(|| bad("no BEGIN CERTIFICATE line"))?
        + BEGIN.len();
    let len = certificate_pem[start..]
        .find(END)
        .ok_or_else(|| bad("no END CERTIFICATE line"))?;
    let b64: String = certificate_pem[start..start + len]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad("the body is not base64"))?;
    if der.is_empty() {
        return Err(bad("the body is empty"));
    }
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(&der)))
}

/// Checks that the private key belongs to the certificate (signs a probe with the key and
/// verifies it with the certificate's public key), so a mismatched pair fails before the
/// first request instead of as a refusal from the token endpoint.
pub(crate) fn check_key_matches_certificate(
    certificate_pem: &str,
    key: &EncodingKey,
) -> Result<(), ClientError> {
    const PROBE: &[u8] = b"o365-collector certificate and key check";
    let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).map_err(|e| {
        ClientError::Credential(format!("the certificate is not a PEM certificate: {e}"))
    })?;
    let cert = pem.parse_x509().map_err(|e| {
        ClientError::Credential(format!("the certificate is not an X.509 certificate: {e}"))
    })?;
    let spki = cert.public_key();
    if !matches!(
        spki.parsed(),
        Ok(x509_parser::public_key::PublicKey::RSA(_))
    ) {
        return Err(ClientError::Credential(
            "the certificate's public key is not an RSA key: use an RSA certificate".into(),
        ));
    }
    // The SPKI bit string of an RSA key is the PKCS#1 RSAPublicKey DER the verifier wants.
    let public = jsonwebtoken::DecodingKey::from_rsa_der(&spki.subject_public_key.data);
    let signature = jsonwebtoken::crypto::sign(PROBE, key, Algorithm::RS256).map_err(|e| {
        ClientError::Credential(format!(
            "cannot sign with the private key ({e}); give an RSA key of at least 2048 bits"
        ))
    })?;
    match jsonwebtoken::crypto::verify(&signature, PROBE, &public, Algorithm::RS256) {
        Ok(true) => Ok(()),
        _ => Err(ClientError::Credential(
            "the private key does not belong to the certificate: give the key the certificate was made with".into(),
        )),
    }
}

/// The claims of a client assertion (Entra certificate credentials).
#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// Signs a client assertion for `aud` (the token endpoint being called), valid from `now`.
pub(crate) fn sign_assertion(
    x5t: &str,
    key: &EncodingKey,
    client_id: &str,
    aud: &str,
    now: DateTime<Utc>,
) -> Result<String, ClientError> {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.x5t = Some(x5t.to_owned());
    let iat = now.timestamp();
    let claims = AssertionClaims {
        aud,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: iat,
        iat,
        exp: iat + ASSERTION_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
        ClientError::Credential(format!(
            "cannot sign the client assertion with the private key ({e}); give an RSA key of at least 2048 bits"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sim/tests/fixtures")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    fn decode_part(part: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn assertion_has_the_documented_header_and_claims() {
        let cert = fixture("test-only-cert.pem");
        let x5t = certificate_x5t(&cert).unwrap();
        // The thumbprint recorded next to the fixture (sim/tests/fixtures/README.md).
        assert_eq!(x5t, "_MlLqHcCIj0xDS-epf8CwX7eeGA");
        let key = EncodingKey::from_rsa_pem(fixture("test-only-key.pem").as_bytes()).unwrap();
        let aud = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/oauth2/v2.0/token";
        let client = "00000000-0000-0000-0000-000000000c01";
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let jwt = sign_assertion(&x5t, &key, client, aud, now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t"], x5t.as_str());
        let claims = decode_part(parts[1]);
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], client);
        assert_eq!(claims["sub"], client);
        assert_eq!(claims["nbf"], 1_767_225_600);
        assert_eq!(claims["iat"], 1_767_225_600);
        assert_eq!(claims["exp"], 1_767_225_600 + 600);
        let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
        assert_eq!(jti.get_version_num(), 4);
        let again = sign_assertion(&x5t, &key, client, aud, now).unwrap();
        assert_ne!(
            decode_part(again.split('.').nth(1).unwrap())["jti"],
            claims["jti"]
        );
    }

    #[test]
    fn x5t_is_sha1_of_der_base64url() {
        // A PEM body of the bytes "hello" (not a real certificate: the thumbprint only
        // depends on the DER bytes).
        let pem = "-----BEGIN CERTIFICATE-----\naGVs\nbG8=\n-----END CERTIFICATE-----\n";
        // SHA-1("hello") = aaf4c61d dcc5e8a2 dabede0f 3b482cd9 aea9434d
        assert_eq!(certificate_x5t(pem).unwrap(), "qvTGHdzF6KLavt4PO0gs2a6pQ00");
        assert!(matches!(
            certificate_x5t("no pem here"),
            Err(ClientError::Credential(_))
        ));
        assert!(
            certificate_x5t("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err()
        );
    }
}
