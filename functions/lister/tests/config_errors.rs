//! The Lambda binary refuses a bad configuration before doing anything else, with a message
//! that names what to fix (no AWS call, no network).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const T: &str = "00000000-0000-0000-0000-000000000001";
const C: &str = "00000000-0000-0000-0000-000000000c01";

/// Runs the binary with only these variables set; returns (success, stdout + stderr).
fn run(vars: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_o365-lister"))
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn tenants(entry: &str) -> String {
    format!(r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}",{entry}}}]}}"#)
}

#[test]
fn configuration_mistakes_fail_fast_and_say_what_to_fix() {
    let ok_tenants = tenants(r#""client_secret":"x""#);
    let bad_tenant = format!(
        r#"{{"tenants":[{{"tenant_id":"contoso.onmicrosoft.com","client_id":"{C}","client_secret":"x"}}]}}"#
    );
    let missing_secret = tenants(r#""client_secret_env":"O365_TEST_SECRET_UNSET""#);
    let no_credential = format!(r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}"}}]}}"#);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("QUEUE_URL", "http://127.0.0.1:1/q"),
                ("TENANTS_JSON", &ok_tenants),
            ],
            "BUCKET is not set",
        ),
        (
            vec![
                ("BUCKET", "b"),
                ("QUEUE_URL", "http://127.0.0.1:1/q"),
                ("TENANTS_JSON", &ok_tenants),
                ("CONTENT_TYPES", "Audit.Exchange,Audit.Teams"),
            ],
            "unknown content type \\\"Audit.Teams\\\"",
        ),
        (
            vec![
                ("BUCKET", "b"),
                ("QUEUE_URL", "http://127.0.0.1:1/q"),
                ("TENANTS_JSON", &bad_tenant),
            ],
            "bad tenant id",
        ),
        (
            vec![
                ("BUCKET", "b"),
                ("QUEUE_URL", "http://127.0.0.1:1/q"),
                ("TENANTS_JSON", &missing_secret),
            ],
            "O365_TEST_SECRET_UNSET (client_secret_env) is not set",
        ),
        (
            vec![
                ("BUCKET", "b"),
                ("QUEUE_URL", "http://127.0.0.1:1/q"),
                ("TENANTS_JSON", &no_credential),
            ],
            "no credential",
        ),
        (
            vec![("BUCKET", "b"), ("QUEUE_URL", "http://127.0.0.1:1/q")],
            "TENANTS_SECRET_ARN is not set",
        ),
    ];
    for (vars, want) in cases {
        let (ok, text) = run(&vars);
        assert!(!ok, "{vars:?} was accepted");
        assert!(text.contains(want), "{vars:?}: wanted {want:?} in\n{text}");
        assert!(!text.contains("panicked"), "{text}");
    }
}
