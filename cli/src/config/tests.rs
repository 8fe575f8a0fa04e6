use super::*;
use o365_activity::tenants::Credential;
use std::io::Write;

const T: &str = "00000000-0000-0000-0000-000000000001";
const C: &str = "00000000-0000-0000-0000-000000000c01";

fn env_with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

fn args() -> TenantArgs {
    TenantArgs::default()
}

#[test]
fn nothing_configured_means_the_embedded_simulator() {
    let t = args().resolve(&env_with(&[])).unwrap();
    assert_eq!(
        t,
        Tenants::Embedded {
            content_types: ContentType::ALL.to_vec()
        }
    );
    let mut a = args();
    a.content_types = vec!["DLP.All".into()];
    assert_eq!(
        a.resolve(&env_with(&[])).unwrap(),
        Tenants::Embedded {
            content_types: vec![ContentType::DlpAll]
        }
    );
}

#[test]
fn one_tenant_from_flags_and_environment() {
    let mut a = args();
    a.tenant_id = Some(T.to_uppercase());
    a.client_id = Some(C.into());
    a.cloud = Some("gcc".into());
    a.content_types = vec!["Audit.Exchange".into()];
    let Tenants::Configured(Configured { tenants: t, .. }) = a
        .resolve(&env_with(&[("O365_CLIENT_SECRET", "s3cr3t")]))
        .unwrap()
    else {
        panic!("not configured")
    };
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].config.tenant_id.as_str(), T);
    assert_eq!(t[0].config.content_types, vec![ContentType::Exchange]);
    assert_eq!(
        t[0].config.endpoints.api_root.host_str(),
        Some("manage-gcc.office.com")
    );
    assert!(matches!(&t[0].config.credential, Credential::Secret(s) if s.expose() == "s3cr3t"));
}

#[test]
fn the_secret_alone_names_a_tenant_and_asks_for_the_rest() {
    let e = args()
        .resolve(&env_with(&[("O365_CLIENT_SECRET", "x")]))
        .unwrap_err();
    assert!(e.to_string().contains("O365_TENANT_ID"), "{e}");
    let mut a = args();
    a.tenant_id = Some(T.into());
    let e = a.resolve(&env_with(&[])).unwrap_err();
    assert!(e.to_string().contains("O365_CLIENT_ID"), "{e}");
    a.client_id = Some(C.into());
    let e = a.resolve(&env_with(&[])).unwrap_err();
    assert!(e.to_string().contains("O365_CLIENT_SECRET"), "{e}");
    a.tenant_id = Some("contoso.onmicrosoft.com".into());
    let e = a
        .resolve(&env_with(&[("O365_CLIENT_SECRET", "x")]))
        .unwrap_err();
    assert!(e.to_string().contains("bad tenant id"), "{e}");
}

#[test]
fn endpoints_without_a_tenant_are_refused() {
    let mut a = args();
    a.api_root = Some("http://127.0.0.1:9".into());
    let e = a.resolve(&env_with(&[])).unwrap_err();
    assert!(e.to_string().contains("--api-root"), "{e}");
    a.sim = true;
    assert!(matches!(
        a.resolve(&env_with(&[])).unwrap(),
        Tenants::Embedded { .. }
    ));
}

#[test]
fn certificate_needs_its_key_and_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    let key = dir.path().join("k.pem");
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let mut a = args();
    a.tenant_id = Some(T.into());
    a.client_id = Some(C.into());
    a.client_certificate = Some(cert.clone());
    let e = a.resolve(&env_with(&[])).unwrap_err();
    assert!(e.to_string().contains("--key-file"), "{e}");
    a.key_file = Some(key);
    // A secret in the environment does not conflict with an explicit certificate.
    let Tenants::Configured(Configured { tenants: t, .. }) = a
        .resolve(&env_with(&[("O365_CLIENT_SECRET", "x")]))
        .unwrap()
    else {
        panic!("not configured")
    };
    assert!(matches!(
        &t[0].config.credential,
        Credential::Certificate { .. }
    ));
    // PEM text in the variables instead of paths.
    a.client_certificate = Some(std::fs::read_to_string(&cert).unwrap().into());
    a.key_file = Some("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----".into());
    assert!(a.resolve(&env_with(&[])).is_ok());
}

#[test]
fn many_tenants_from_toml_narrowed_by_flags() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        f,
        "[[tenants]]\ntenant_id = \"{T}\"\nclient_id = \"{C}\"\nclient_secret_env = \"A_SECRET\"\n\
         [[tenants]]\ntenant_id = \"00000000-0000-0000-0000-000000000002\"\nclient_id = \"{C}\"\nclient_secret = \"b\"\ncontent_types = [\"Audit.General\"]\n"
    )
    .unwrap();
    let env = env_with(&[("A_SECRET", "a")]);
    let mut a = args();
    a.config = Some(f.path().to_owned());
    // One-tenant environment settings do not interfere with --config.
    a.client_id = Some("ignored".into());
    let Tenants::Configured(Configured { tenants: t, .. }) = a.resolve(&env).unwrap() else {
        panic!("not configured")
    };
    assert_eq!(t.len(), 2);
    a.content_types = vec!["Audit.Exchange".into()];
    let Tenants::Configured(Configured { tenants: t, .. }) = a.resolve(&env).unwrap() else {
        panic!("not configured")
    };
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].config.content_types, vec![ContentType::Exchange]);
    a.content_types.clear();
    a.tenant_id = Some("00000000-0000-0000-0000-000000000002".into());
    let Tenants::Configured(Configured { tenants: t, .. }) = a.resolve(&env).unwrap() else {
        panic!("not configured")
    };
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].config.content_types, vec![ContentType::General]);
    a.tenant_id = Some("00000000-0000-0000-0000-000000000009".into());
    assert!(matches!(
        a.resolve(&env),
        Err(CliConfigError::NotInFile { .. })
    ));
    a.tenant_id = None;
    let Tenants::Configured(c) = a.resolve(&env_with(&[])).unwrap() else {
        panic!("not configured")
    };
    assert!(c.rejected[0].reason.contains("A_SECRET"), "{c:?}");
}

#[test]
fn a_tenant_with_a_missing_variable_fails_alone() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        f,
        "[[tenants]]\ntenant_id = \"{T}\"\nclient_id = \"{C}\"\nclient_secret_env = \"UNSET_SECRET\"\ncontent_types = [\"DLP.All\"]\n\
         [[tenants]]\ntenant_id = \"00000000-0000-0000-0000-000000000002\"\nclient_id = \"{C}\"\nclient_secret_env = \"A_SECRET\"\n"
    )
    .unwrap();
    let env = env_with(&[("A_SECRET", "a")]);
    let mut a = args();
    a.config = Some(f.path().to_owned());
    let Tenants::Configured(c) = a.resolve(&env).unwrap() else {
        panic!("not configured")
    };
    assert_eq!(c.tenants.len(), 1);
    assert_eq!(c.rejected.len(), 1);
    assert_eq!(c.rejected[0].tenant_id.as_str(), T);
    assert_eq!(c.rejected[0].content_types, vec![ContentType::DlpAll]);
    assert!(
        c.rejected[0].reason.contains("UNSET_SECRET"),
        "{}",
        c.rejected[0]
    );
    assert!(c.tenants[0].credential_source.contains("A_SECRET"));
    // Narrowing to the healthy tenant never looks at the other one.
    a.tenant_id = Some("00000000-0000-0000-0000-000000000002".into());
    let Tenants::Configured(c) = a.resolve(&env).unwrap() else {
        panic!("not configured")
    };
    assert_eq!((c.tenants.len(), c.rejected.len()), (1, 0));
}

#[test]
fn simulator_entry_resolves() {
    let e = simulator_entry("http://127.0.0.1:4567", T, C, "pw", &[ContentType::General]);
    let c = e.resolve(1, None, &|_| None).unwrap();
    assert_eq!(c.endpoints.api_root.as_str(), "http://127.0.0.1:4567/");
    assert_eq!(c.endpoints.login_root.as_str(), "http://127.0.0.1:4567/");
    assert_eq!(c.content_types, vec![ContentType::General]);
}

#[test]
fn the_request_budget_is_read_as_the_functions_read_it() {
    let b = client_budget(&env_with(&[])).unwrap();
    assert_eq!(b, BudgetOptions::default());
    let b = client_budget(&env_with(&[
        ("API_RATE_PER_MINUTE", "600"),
        ("API_BURST", "3"),
    ]))
    .unwrap();
    assert_eq!((b.rate_per_minute, b.burst, b.starts_full), (600, 3, true));
    let e = client_budget(&env_with(&[("API_RATE_PER_MINUTE", "fast")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"API_RATE_PER_MINUTE="fast" is invalid: expected a whole number from 1 to 1000000 (default 1800)"#
    );
}
