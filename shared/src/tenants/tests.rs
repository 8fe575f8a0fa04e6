use super::*;

const T: &str = "00000000-0000-0000-0000-000000000001";
const C: &str = "00000000-0000-0000-0000-000000000c01";

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn toml_errors_name_the_line_and_key_never_the_value() {
    for (text, key) in [
        ("[[tenants]]\ntenant_id = \"x\"\nclient_secret = \"hunter2\n", "client_secret"),
        ("[[tenants]]\nclient_secret = [\"hunter2\"]\n", "client_secret"),
        ("[[tenants]]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"hunter2\"\ntoken_endpoint = \"hunter2\"\n", "token_endpoint"),
    ] {
        let e = TenantsFile::from_toml(text).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("line ") && e.contains(key), "{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenants.toml");
    std::fs::write(&path, "[[tenants]]\nclient_secret = \"hunter2\n").unwrap();
    let e = TenantsFile::from_path(&path).unwrap_err().to_string();
    assert!(e.contains("tenants.toml") && !e.contains("hunter2"), "{e}");
}

#[test]
fn json_with_inline_secret_and_defaults() {
    let f = TenantsFile::from_json(&format!(
        r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"s3cr3t"}}]}}"#
    ))
    .unwrap();
    let t = f.resolve(&no_env).unwrap();
    assert_eq!(t[0].content_types, ContentType::ALL.to_vec());
    assert_eq!(t[0].publisher_id, T);
    assert_eq!(
        t[0].endpoints.api_root.as_str(),
        "https://manage.office.com/"
    );
    assert!(matches!(&t[0].credential, Credential::Secret(s) if s.expose() == "s3cr3t"));
    assert!(!format!("{:?}", t[0]).contains("s3cr3t"));
}

#[test]
fn toml_with_env_secret_cloud_and_types() {
    let f = TenantsFile::from_toml(&format!(
        "publisher_id = \"{C}\"\n[[tenants]]\ntenant_id = \"{T}\"\nclient_id = \"{C}\"\nclient_secret_env = \"MY_SECRET\"\ncloud = \"gcc-high\"\ncontent_types = [\"Audit.Exchange\", \"DLP.All\"]\ntoken_endpoint = \"v1\"\n"
    ))
    .unwrap();
    let env = |k: &str| (k == "MY_SECRET").then(|| "x".to_string());
    let t = f.resolve(&env).unwrap();
    assert_eq!(
        t[0].endpoints.api_root.host_str(),
        Some("manage.office365.us")
    );
    assert_eq!(
        t[0].content_types,
        vec![ContentType::Exchange, ContentType::DlpAll]
    );
    assert_eq!(t[0].publisher_id, C);
    assert_eq!(t[0].token_endpoint, TokenEndpoint::V1);
}

#[test]
fn publisher_default_fills_only_tenants_without_their_own() {
    let f = TenantsFile::from_json(&format!(
        r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x"}},{{"tenant_id":"00000000-0000-0000-0000-000000000002","client_id":"{C}","client_secret":"x","publisher_id":"{C}"}}]}}"#
    ))
    .unwrap();
    let mut t = f.resolve(&no_env).unwrap();
    apply_publisher_default(&mut t, None);
    assert_eq!(t[0].publisher_id, T);
    apply_publisher_default(&mut t, Some("00000000-0000-0000-0000-0000000000A1"));
    assert_eq!(t[0].publisher_id, "00000000-0000-0000-0000-0000000000a1");
    assert_eq!(t[1].publisher_id, C);
}

#[test]
fn errors_say_what_to_fix() {
    let cases = [
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"contoso","client_id":"{C}","client_secret":"x"}}]}}"#
            ),
            "bad tenant id",
        ),
        (
            format!(r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}"}}]}}"#),
            "no credential",
        ),
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret_env":"NOPE"}}]}}"#
            ),
            "NOPE",
        ),
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x","content_types":["Audit.Teams"]}}]}}"#
            ),
            "unknown content type",
        ),
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x","cloud":"mars"}}]}}"#
            ),
            "unknown cloud",
        ),
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x","api_root":"http://127.0.0.1:1"}}]}}"#
            ),
            "login_root",
        ),
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"app","client_secret":"x"}}]}}"#
            ),
            "client_id",
        ),
        (
            format!(
                r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x","certificate_pem":"y"}}]}}"#
            ),
            "not both",
        ),
        (r#"{"tenants":[]}"#.to_string(), "no tenant"),
        (r#"{"tenant":[]}"#.to_string(), "malformed"),
    ];
    for (json, want) in cases {
        let e = TenantsFile::from_json(&json)
            .and_then(|f| f.resolve(&no_env))
            .unwrap_err();
        assert!(e.to_string().contains(want), "{json}: {e}");
    }
    let leaky = format!(
        r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":987654321}}]}}"#
    );
    let e = TenantsFile::from_json(&leaky).unwrap_err().to_string();
    assert!(e.contains("wrong type") && !e.contains("987654321"), "{e}");
    let leaky = r#"{"tenants":[{"tenant_id":"x","client_id":"y","client_secret":"hunter2","bogus":"hunter2"}]}"#;
    let e = TenantsFile::from_json(leaky).unwrap_err().to_string();
    assert!(!e.contains("hunter2") && !e.contains("bogus"), "{e}");
    let dup = format!(
        r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x"}},{{"tenant_id":"{}","client_id":"{C}","client_secret":"x"}}]}}"#,
        T.to_uppercase()
    );
    assert!(matches!(
        TenantsFile::from_json(&dup).unwrap().resolve(&no_env),
        Err(ConfigError::Duplicate(_))
    ));
}
